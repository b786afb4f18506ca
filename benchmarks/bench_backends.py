"""Wall time of one fixed sweep on each backend: local sequential, --jobs 2, Dask 2 workers.

The sweep is temporal, 10 windows + the full epoch (11 jobs), model ridge, one
subject of a simulated root (17 channels, 100 Hz, 200 training / 50 test
conditions). Each backend starts from an empty cache; the reading cache is
warmed once beforehand so all three read the same memory-mapped arrays.

Run::

    python benchmarks/bench_backends.py [--root DIR] [--repeat 1]

Prints wall seconds per backend, ratios to sequential, and the sum of
in-job seconds (``job_seconds``), so the difference between wall time and
job time is the backend's overhead (process start-up, imports in workers,
scheduling, result transfer).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

WINDOWS = ",".join(f"{lo}-{lo + 70}" for lo in range(0, 700, 70))
BACKENDS = {"local x1": dict(backend="local", jobs=1),
            "local --jobs 2": dict(backend="local", jobs=2),
            "dask 2 workers": dict(backend="dask", jobs=2)}


def sweep(root, out, **kw):
    """Run the fixed sweep into ``out``; return (wall seconds, results table)."""
    from eegvision.pipeline import analyze

    t0 = time.perf_counter()
    df = analyze("temporal", 1, data_dir=root, out=out, model="ridge", windows=WINDOWS,
                 plot=False, progress=False, timecourse=False, **kw)
    return time.perf_counter() - t0, df


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="data root (default: simulate one)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    from eegvision.data.simulate import simulate_root

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            root = Path(tmp) / "root"
            t0 = time.perf_counter()
            simulate_root(root, 1, seed=0, n_train=200, n_test=50, n_train_reps=2,
                          n_test_reps=2, layouts=("official",))
            print(f"simulated root in {time.perf_counter() - t0:.1f} s")
        sweep(root, Path(tmp) / "warm", jobs=1)  # warm imports and the reading cache
        rows = []
        for rep in range(args.repeat):
            for name, kw in BACKENDS.items():
                wall, df = sweep(root, Path(tmp) / f"{name}-{rep}".replace(" ", "_"), **kw)
                rows.append((name, wall, float(df["job_seconds"].sum()),
                             float(df["train_seconds"].sum())))
        base = min(w for n, w, _, _ in rows if n == "local x1")
        print(f"{'backend':16s} {'wall s':>7s} {'ratio':>6s} {'sum job s':>10s} "
              f"{'sum fit s':>10s}")
        for name, wall, job_s, fit_s in rows:
            print(f"{name:16s} {wall:7.2f} {base / wall:6.2f} {job_s:10.2f} {fit_s:10.2f}")
        print("ratio = sequential wall / backend wall (>1 is faster). wall - sum(job s) / "
              "workers ~ per-backend overhead (worker start-up, imports, scheduling).")


if __name__ == "__main__":
    main()
