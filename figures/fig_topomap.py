"""Figure: scalp maps over time (mean EEG, saliency or pattern, their product).

Usage: ``python figures/fig_topomap.py RESULTS_DIR OUT_DIR``
(from ``eegvision topomap --out ...`` / ``eegvision analyze saliency``).
"""

import sys

from eegvision.figures import figure_from_results
from eegvision.viz.topomap import plot_saliency


def plot(df, extras):
    """The figure from the analysis' tables; edit here to restyle it."""
    return plot_saliency(df, extras)  # diverging for signed rows, sequential for norms


def main(results_dir, out_dir):
    return figure_from_results("saliency", plot, results_dir, out_dir, "fig_topomap")


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
