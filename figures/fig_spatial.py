"""Figure: where on the scalp (region ablation vs the all-channel model).

Usage: ``python figures/fig_spatial.py RESULTS_DIR OUT_DIR``
"""

import sys

from eegvision.figures import figure_from_results
from eegvision.viz.decoding import plot_spatial


def plot(df, extras):
    """The figure from the analysis' tables; edit here to restyle it."""
    return plot_spatial(df, df.attrs["summary"], mark="reference")


def main(results_dir, out_dir):
    return figure_from_results("spatial", plot, results_dir, out_dir, "fig_spatial")


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
