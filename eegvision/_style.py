"""The package's matplotlib style (a leaf: the container's plot methods and viz share it).

Journal widths, print-size fonts, colour-blind-safe colours; matplotlib is
imported only when the style is applied.
"""

from __future__ import annotations

import contextlib

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
