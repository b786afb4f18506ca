"""Table: per-subject accuracy of every analysis condition and trained model (.md, .tex, .csv).

Usage: ``python figures/table_accuracy.py RESULTS_DIR OUT_DIR``
"""

import sys
from pathlib import Path

import pandas as pd

from eegvision.figures import find_results, training_results, write_tables


def main(results_dir, out_dir):
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    analyses, trainings = find_results(results_dir)
    tables = {f"{name}": pd.read_csv(folder / "results.csv") for folder, name in analyses}
    # analyses without a top-1 per subject (timefreq's band power) have no column here
    tables = {n: t for n, t in tables.items() if "top1" in t and "subject" in t}
    train = training_results(trainings)
    if len(train):
        tables["train"] = train
    return write_tables(tables, out_dir)


if __name__ == "__main__":
    print(*main(*sys.argv[1:3]), sep="\n")
