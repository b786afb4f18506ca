"""One style for every figure: journal widths, print-size fonts, safe colours."""

from __future__ import annotations

import contextlib
from pathlib import Path

#: Journal column widths in inches (Nature/Cell-like: 89 mm and 183 mm).
SINGLE_COLUMN = 89 / 25.4
DOUBLE_COLUMN = 183 / 25.4

#: Okabe-Ito colour-blind-safe palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
CHANCE_COLOR = "0.45"
#: Marks "correct" (Okabe-Ito bluish green) and "wrong" (vermillion) in retrieval figures.
CORRECT_COLOR = PALETTE[2]
WRONG_COLOR = PALETTE[3]

RC = {
    "font.size": 7,
    "axes.titlesize": 8,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.2,
    "pdf.fonttype": 42,  # editable text in Illustrator
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.dpi": 300,
    "figure.dpi": 150,
    "axes.prop_cycle": None,  # set below
}


def rc_params():
    """The matplotlib rc settings of eegvision figures."""
    from cycler import cycler

    return {**RC, "axes.prop_cycle": cycler(color=PALETTE)}


@contextlib.contextmanager
def style():
    """Context manager applying the eegvision style."""
    import matplotlib as mpl

    with mpl.rc_context(rc_params()):
        yield


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
