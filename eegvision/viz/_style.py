"""One style for every figure: journal widths, print-size fonts, safe colours."""

from __future__ import annotations

from pathlib import Path

from .._style import (  # noqa: F401  (the style, re-exported for the figures)
    CHANCE_COLOR,
    CORRECT_COLOR,
    DOUBLE_COLUMN,
    PALETTE,
    RC,
    SINGLE_COLUMN,
    WRONG_COLOR,
    rc_params,
    style,
)


def new_figure(width="single", height=None, nrows=1, ncols=1, **kwargs):
    """Figure of a journal width (``'single'``, ``'double'`` or inches)."""
    import matplotlib.pyplot as plt

    w = {"single": SINGLE_COLUMN, "double": DOUBLE_COLUMN}.get(width, width)
    h = height if height is not None else w * 0.62 / max(1, ncols) * nrows
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(w, h), layout="constrained", **kwargs)
    return fig, axes


def panel_label(ax, letter):
    """Bold lower-case panel letter at the top left, outside the axes."""
    ax.text(-0.02, 1.02, letter, transform=ax.transAxes, fontsize=9, fontweight="bold",
            va="bottom", ha="right")


def percent_axis(ax, axis="y"):
    """Format an axis holding fractions as percentages with only the decimals needed.

    Ticks read "0.5%", "2.5%", "10%": a 0.5 % chance level is never printed
    as "0%" or "1%", and round ticks carry no ".0".
    """
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{100 * v + 0.0:.6g}%")  # + 0.0 turns -0 into 0
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def save_figure(fig, stem, formats=("png", "pdf")):
    """Save ``fig`` as ``stem.png`` (300 dpi) and ``stem.pdf`` (vector), atomically.

    ``formats`` may add ``"svg"`` (text kept as text). Returns the paths written.
    """
    import matplotlib.pyplot as plt

    from .._utils import atomic_path

    stem = Path(stem)
    paths = []
    with style():
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=300, bbox_inches="tight", pad_inches=0.02)
            paths.append(path)
    plt.close(fig)
    return paths
