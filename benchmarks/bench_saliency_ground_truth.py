"""How often does each saliency method find the planted window and region?

For each seed a fresh simulated subject gets information in one region, one
100-ms-aligned window and one band (settings the tests do not use, cycled
over seeds); ``nice``, ``nice-sa``, ``nice-ga`` and ``ridge`` are trained,
and every saliency method is asked (a) whether the time bin with the
largest map (mean over channels) lies inside the planted window and (b)
whether, inside the planted window, the planted region has the largest mean
map. ``attention_received`` (the raw column mean of the attention weights)
has no time axis: only (b) is asked, over the whole map.

    PYTHONPATH=$PWD python benchmarks/bench_saliency_ground_truth.py --out bench-saliency
    PYTHONPATH=$PWD python benchmarks/bench_saliency_ground_truth.py --out bench-attention \
        --methods attention,attention_received

Writes ``results.csv`` (one row per seed x method) and ``summary.csv``
(success counts per method) and prints the summary.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REGIONS = ("parietal", "central", "occipital", "temporal", "frontal")
WINDOWS = ((200.0, 400.0), (400.0, 600.0), (300.0, 500.0), (500.0, 700.0))
BANDS = ((6.0, 10.0), (10.0, 14.0), (14.0, 20.0))
#: (model, method) pairs measured (``attention_received``: the raw attention, from the
#: same pass as ``attention``).
RUNS = (("nice", "gradient"), ("nice", "gradcam"), ("nice", "occlusion"),
        ("nice-sa", "gradient"), ("nice-sa", "attention"), ("nice-sa", "attention_received"),
        ("nice-ga", "attention"), ("nice-ga", "attention_received"), ("ridge", "haufe"),
        ("ridge", "occlusion"))


def setting(seed):
    """The planted region, window and band of one seed (11 + seed: no test uses these)."""
    return dict(region=REGIONS[seed % 5], window_ms=WINDOWS[seed % 4], band_hz=BANDS[seed % 3],
                seed=11 + seed)


def judge(cam, edges, regions, region, window_ms):
    """(peak bin inside the window, planted region top inside it) for one map."""
    lo, hi = window_ms
    inside = (edges[:-1] >= lo - 1e-6) & (edges[1:] <= hi + 1e-6)
    peak = int(np.argmax(cam.mean(1)))
    by_region = {r: cam[inside][:, regions == r].mean() for r in REGIONS}
    return bool(inside[peak]), max(by_region, key=by_region.get) == region, edges[peak]


def run_seed(seed, epochs, workdir, runs=RUNS):
    from eegvision.analysis.saliency import compute_saliency
    from eegvision.data.montage import channel_region
    from eegvision.data.simulate import simulate_root
    from eegvision.data.things import load_subject
    from eegvision.evaluate import evaluate
    from eegvision.training import TrainConfig, fit

    truth = setting(seed)
    root = simulate_root(Path(workdir) / f"seed{seed}", 1, n_train=400, n_test=100,
                         n_train_reps=2, n_test_reps=4, snr=1.0, features_dir=False, **truth)
    data = load_subject(root, 1)
    regions = np.array([channel_region(c) or "other" for c in data.test.ch_names])
    rows, models = [], {}
    for model_name, method in runs:
        if model_name not in models:
            cfg = TrainConfig.from_recipe("fast", model=model_name, seed=seed, epochs=epochs)
            models[model_name] = fit(data.train, cfg, progress=False).model
        model = models[model_name]
        t0 = time.perf_counter()
        maps = compute_saliency(model, data.test, train=data.train,
                                method="attention" if method == "attention_received" else method)
        row = dict(seed=seed, model=model_name, method=method, region=truth["region"],
                   window=f"{truth['window_ms'][0]:g}-{truth['window_ms'][1]:g}",
                   top1=evaluate(model, data.test)["top1"],
                   seconds=round(time.perf_counter() - t0, 2))
        if method == "attention_received":
            att = maps["attention_received"]
            by_region = {r: att[regions == r].mean() for r in REGIONS}
            row.update(window_ok=np.nan, region_ok=max(by_region, key=by_region.get)
                       == truth["region"], peak_ms=np.nan)
        else:
            w, r, peak = judge(maps["cam"], maps["bin_edges_ms"], regions, truth["region"],
                               truth["window_ms"])
            row.update(window_ok=w, region_ok=r, peak_ms=peak)
        rows.append(row)
        print(row, flush=True)
    return rows


def select_runs(methods=None, models=None):
    """The (model, method) pairs of :data:`RUNS` named by two comma lists (None: all)."""
    picked = list(RUNS)
    for i, given, names in ((1, methods, "methods"), (0, models, "models")):
        if given is None:
            continue
        wanted = [w.strip() for w in given.split(",") if w.strip()]
        known = sorted({r[i] for r in RUNS})
        unknown = [w for w in wanted if w not in known]
        if unknown or not wanted:
            raise SystemExit(f"--{names} {given!r}: unknown {', '.join(unknown) or 'empty'}; "
                             f"choose from {', '.join(known)}.")
        picked = [r for r in picked if r[i] in wanted]
    if not picked:
        raise SystemExit(f"--methods {methods!r} with --models {models!r} measures nothing.")
    return tuple(picked)


def summarise(df):
    """Successes per (model, method); NaN where a criterion does not apply (no time axis)."""
    import pandas as pd

    def count(v):
        return pd.to_numeric(v, errors="coerce").astype(float).sum(min_count=1)

    return (df.groupby(["model", "method"], sort=False)
            .agg(n=("seed", "size"), window_ok=("window_ok", count),
                 region_ok=("region_ok", count), top1=("top1", "mean")).reset_index())


def main(argv=None):
    import pandas as pd

    from eegvision._utils import write_csv

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--methods", default=None,
                   help="comma list of methods to measure (default all: "
                        f"{', '.join(dict.fromkeys(m for _, m in RUNS))})")
    p.add_argument("--models", default=None,
                   help="comma list of models to measure (default all: "
                        f"{', '.join(dict.fromkeys(m for m, _ in RUNS))})")
    args = p.parse_args(argv)
    runs = select_runs(args.methods, args.models)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for s in range(args.seeds) for r in run_seed(s, args.epochs, tmp, runs)]
    df = pd.DataFrame(rows)
    summary = summarise(df)
    write_csv(out / "results.csv", df)
    write_csv(out / "summary.csv", summary)
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
