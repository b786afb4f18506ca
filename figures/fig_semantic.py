"""Figure: semantic structure (sorted similarity, RSA, 2-D map of the concepts).

Usage: ``python figures/fig_semantic.py RESULTS_DIR OUT_DIR``
"""

import sys

from eegvision.figures import figure_from_results
from eegvision.viz.semantic import plot_semantic


def plot(df, extras):
    """The figure from the analysis' tables; edit here to restyle it."""
    return plot_semantic(df, extras)


def main(results_dir, out_dir):
    return figure_from_results("semantic", plot, results_dir, out_dir, "fig_semantic")


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
