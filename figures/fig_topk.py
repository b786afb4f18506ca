"""Figure: the topk analysis (see docs/analyses.md), with the noise ceiling where it applies.

Usage: ``python figures/fig_topk.py RESULTS_DIR OUT_DIR``
"""

import sys

from eegvision.figures import figure_from_results
from eegvision.viz import plot_analysis


def plot(df, extras):
    """The figure from the analysis' tables; edit here to restyle it."""
    return plot_analysis("topk", df, df.attrs["summary"], extras)


def main(results_dir, out_dir):
    return figure_from_results("topk", plot, results_dir, out_dir, "fig_topk")


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
