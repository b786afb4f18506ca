"""Figure: scalp maps over time (mean EEG, Grad-CAM or pattern, their product).

Usage: ``python figures/fig_topomap.py RESULTS_DIR OUT_DIR``
(from ``eegvision topomap --out ...`` / ``eegvision analyze saliency``).
"""

import sys
from pathlib import Path

from eegvision.analysis import load_results
from eegvision.viz import save_figure
from eegvision.viz.figures import FORMATS, find_analysis
from eegvision.viz.topomap import plot_saliency


def main(results_dir, out_dir):
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    df, extras, _ = load_results(find_analysis(results_dir, "saliency"))
    fig = plot_saliency(df, extras, vlim=(-1, 1), cmap="coolwarm")
    return save_figure(fig, Path(out_dir) / "fig_topomap", formats=FORMATS)


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
