"""Figure: semantic structure (sorted similarity, RSA, 2-D map of the concepts).

Usage: ``python figures/fig_semantic.py RESULTS_DIR OUT_DIR``
"""

import sys
from pathlib import Path

from eegvision.analysis import load_results
from eegvision.viz import save_figure
from eegvision.viz.figures import FORMATS, find_analysis
from eegvision.viz.semantic import plot_semantic


def main(results_dir, out_dir):
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    df, extras, _ = load_results(find_analysis(results_dir, "semantic"))
    fig = plot_semantic(df, extras)
    return save_figure(fig, Path(out_dir) / "fig_semantic", formats=FORMATS)


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
