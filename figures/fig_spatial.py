"""Figure: where on the scalp (region ablation vs the all-channel model).

Usage: ``python figures/fig_spatial.py RESULTS_DIR OUT_DIR``
"""

import sys
from pathlib import Path

from eegvision.analysis import load_results
from eegvision.viz import save_figure
from eegvision.viz.decoding import plot_spatial
from eegvision.viz.figures import FORMATS, find_analysis


def main(results_dir, out_dir):
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    df, _, _ = load_results(find_analysis(results_dir, "spatial"))
    fig = plot_spatial(df, df.attrs["summary"], mark="reference")
    return save_figure(fig, Path(out_dir) / "fig_spatial", formats=FORMATS)


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
