"""Figure: where in time (window sweep + time-resolved decoding with cluster test).

Usage: ``python figures/fig_temporal.py RESULTS_DIR OUT_DIR``
(``RESULTS_DIR`` holds the ``eegvision analyze temporal --out ...`` folder).
"""

import sys

from eegvision.figures import figure_from_results
from eegvision.viz.decoding import plot_temporal


def plot(df, extras):
    """The figure from the analysis' tables; edit here to restyle it."""
    return plot_temporal(df, df.attrs["summary"], timecourse=extras.get("timecourse"),
                         clusters=extras.get("clusters"))


def main(results_dir, out_dir):
    return figure_from_results("temporal", plot, results_dir, out_dir, "fig_temporal")


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
