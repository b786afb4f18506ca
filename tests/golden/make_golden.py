"""Golden tables of every analysis on a tiny simulated root (issue 27: a pure refactor).

``python tests/golden/make_golden.py`` rewrites ``tests/golden/*.csv``;
``tests/test_golden.py`` runs the same cases and compares. Ridge paths are
compared to the bit; the torch cases (CPU, one thread, deterministic) too,
since their path is deterministic on one machine, but with a stated tolerance
across machines (``TORCH_ATOL``).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Columns that change with where/when/which code ran, never with the result.
VOLATILE = ("job_seconds", "train_seconds", "config_hash", "command", "host", "code_hash",
            "eegvision_version", "torch_version", "numpy_version", "device", "wall_seconds",
            "seconds", "python_version", "mne_version", "sklearn_version", "platform")

#: (case name, analysis, options); every analysis once, ridge where it can.
CASES = [
    ("temporal", "temporal", dict(model="ridge", windows="0-200,200-400", timecourse=False)),
    ("cumulative", "temporal", dict(model="ridge", mode="cumulative", width=200, step=200,
                                    timecourse=True, noise_ceiling=False)),
    ("spatial", "spatial", dict(model="ridge", mode="both")),
    ("spectral", "spectral", dict(model="ridge", bands="theta=4-8,alpha=8-12")),
    ("semantic", "semantic", dict(model="ridge", n_permutations=20, n_splits=2)),
    ("saliency", "saliency", dict(model="ridge", n_permutations=20)),
    ("repetitions", "repetitions", dict(model="ridge")),
    ("datasize", "datasize", dict(model="ridge", fractions="0.5,1")),
    ("loso", "loso", dict(model="ridge")),
    ("timefreq", "timefreq", dict(model="ridge", freqs="4:12:4", decim=5)),
    ("topk", "topk", dict(model="ridge", max_k=5)),
    ("generalization", "generalization", dict(model="ridge", windows="0-200,200-400",
                                                timebytime=False)),
    # the torch path: batched sweep (two windows, two seeds) and a lone fit
    ("temporal_torch", "temporal", dict(model="nice", epochs=2, seeds=(0, 1),
                                        windows="0-300,300-600", timecourse=False,
                                        noise_ceiling=False)),
    ("temporal_torch_lone", "temporal", dict(model="nice", epochs=2, windows="0-300",
                                             timecourse=False, noise_ceiling=False,
                                             batch=False)),
]


def make_root(directory):
    """Two subjects (loso needs two), 17 channels at 100 Hz, 60/20 conditions.

    Synthetic features and concept names (``features_dir=False``) whether or not
    ``$EEGVISION_SHARED_DATA`` is set: CI exports it, and real CLIP features would
    make another root than the one the tables were recorded on.
    """
    from eegvision.data.simulate import simulate_root

    simulate_root(directory, 2, seed=0, n_train=60, n_test=20, n_train_reps=2, n_test_reps=4,
                  layouts=("official",), features_dir=False)
    return directory


def run_case(root, name, analysis, options):
    """``{table name: DataFrame}`` of one case, volatile columns dropped."""
    import torch

    from eegvision.pipeline import analyze

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    subjects = [1, 2] if analysis == "loso" else [1]
    try:
        df = analyze(analysis, subjects, data_dir=root, plot=False, progress=False,
                     device="cpu", **options)
    finally:  # the settings of the tests that run next
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    tables = {"results": df, "summary": df.attrs.get("summary")}
    for key, value in (df.attrs.get("extras") or {}).items():
        if hasattr(value, "columns"):
            tables[key] = value
    return {k: _stable(v) for k, v in tables.items() if v is not None and len(v)}


def _stable(df):
    df = df.drop(columns=[c for c in df.columns if c in VOLATILE]).reset_index(drop=True)
    return df


def path_of(name, table):
    return HERE / f"{name}__{table}.csv"


def main(argv=None):
    import tempfile

    names = (argv or sys.argv[1:]) or [c[0] for c in CASES]
    with tempfile.TemporaryDirectory() as tmp:
        root = make_root(Path(tmp) / "root")
        for name, analysis, options in CASES:
            if name not in names:
                continue
            for old in HERE.glob(f"{name}__*.csv"):
                old.unlink()
            for table, df in run_case(root, name, analysis, options).items():
                df.to_csv(path_of(name, table), index=False)
                print(f"wrote {path_of(name, table).name}: {df.shape}")


if __name__ == "__main__":
    main()
