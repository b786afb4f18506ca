"""Figure: which frequencies (band-passed retraining, bands with their Hz ranges).

Usage: ``python figures/fig_spectral.py RESULTS_DIR OUT_DIR``
"""

import sys

from eegvision.figures import figure_from_results
from eegvision.viz.decoding import plot_spectral


def plot(df, extras):
    """The figure from the analysis' tables; edit here to restyle it."""
    return plot_spectral(df, df.attrs["summary"], mark="chance")


def main(results_dir, out_dir):
    return figure_from_results("spectral", plot, results_dir, out_dir, "fig_spectral")


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
