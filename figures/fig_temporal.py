"""Figure: where in time (window sweep + time-resolved decoding with cluster test).

Usage: ``python figures/fig_temporal.py RESULTS_DIR OUT_DIR``
(``RESULTS_DIR`` holds the ``eegvision analyze temporal --out ...`` folder).
"""

import sys
from pathlib import Path

from eegvision.analysis import load_results
from eegvision.viz import save_figure
from eegvision.viz.decoding import plot_temporal
from eegvision.viz.figures import FORMATS, find_analysis


def main(results_dir, out_dir):
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    df, extras, _ = load_results(find_analysis(results_dir, "temporal"))
    fig = plot_temporal(df, df.attrs["summary"], timecourse=extras.get("timecourse"),
                        clusters=extras.get("clusters"))
    return save_figure(fig, Path(out_dir) / "fig_temporal", formats=FORMATS)


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
