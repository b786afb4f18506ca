"""Figure: which frequencies (band-passed retraining, bands with their Hz ranges).

Usage: ``python figures/fig_spectral.py RESULTS_DIR OUT_DIR``
"""

import sys
from pathlib import Path

from eegvision.analysis import load_results
from eegvision.viz import save_figure
from eegvision.viz.decoding import plot_spectral
from eegvision.viz.figures import FORMATS, find_analysis


def main(results_dir, out_dir):
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    df, _, _ = load_results(find_analysis(results_dir, "spectral"))
    fig = plot_spectral(df, df.attrs["summary"], mark="chance")
    return save_figure(fig, Path(out_dir) / "fig_spectral", formats=FORMATS)


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
