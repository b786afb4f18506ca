"""Figure: top-k retrieval examples (rows: test concepts; columns: top-k candidates).

Usage: ``python figures/fig_retrieval.py RESULTS_DIR OUT_DIR [IMAGE_DIR]``
(``IMAGE_DIR``: THINGS-EEG2 ``image_set/test_images`` for thumbnails). Uses the
semantic analysis' similarity matrix when present, else a training folder's
``ranks.csv`` (which places only the correct candidate).
"""

import sys
from pathlib import Path

from eegvision.figures import FORMATS, find_results, retrieval_source
from eegvision.viz import save_figure
from eegvision.viz.retrieval import plot_retrieval_examples


def main(results_dir, out_dir, image_dir=None):
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    source, _ = retrieval_source(*find_results(results_dir))
    if source is None:
        raise SystemExit(f"{results_dir}: no semantic analysis or training folder found.")
    fig = plot_retrieval_examples(source, k=5, n_examples=6, image_dir=image_dir, how="spread")
    return save_figure(fig, Path(out_dir) / "fig_retrieval", formats=FORMATS)


if __name__ == "__main__":
    print(*main(*sys.argv[1:4]), sep="\n")
