"""How often does each saliency method find the planted window and region?

For each seed a fresh simulated subject gets information in one region, one
100-ms-aligned window and one band (settings the tests do not use, cycled
over seeds); ``nice``, ``nice-sa`` and ``ridge`` are trained, and every
saliency method is asked (a) whether the time bin with the largest map
(mean over channels) lies inside the planted window and (b) whether, inside
the planted window, the planted region has the largest mean map.

    PYTHONPATH=$PWD python benchmarks/bench_saliency_ground_truth.py --out bench-saliency

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
#: (model, method) pairs measured.
RUNS = (("nice", "gradient"), ("nice", "gradcam"), ("nice", "occlusion"),
        ("nice-sa", "gradient"), ("nice-sa", "attention"), ("ridge", "haufe"),
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


def run_seed(seed, epochs, workdir):
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
    for model_name, method in RUNS:
        if model_name not in models:
            cfg = TrainConfig.from_recipe("fast", model=model_name, seed=seed, epochs=epochs)
            models[model_name] = fit(data.train, cfg, progress=False).model
        model = models[model_name]
        t0 = time.perf_counter()
        maps = compute_saliency(model, data.test, train=data.train,
                                method="gradient" if method == "attention" else method)
        row = dict(seed=seed, model=model_name, method=method, region=truth["region"],
                   window=f"{truth['window_ms'][0]:g}-{truth['window_ms'][1]:g}",
                   top1=evaluate(model, data.test)["top1"],
                   seconds=round(time.perf_counter() - t0, 2))
        if method == "attention":
            att = maps["attention"]
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


def main(argv=None):
    import pandas as pd

    from eegvision._utils import write_csv

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--epochs", type=int, default=20)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for s in range(args.seeds) for r in run_seed(s, args.epochs, tmp)]
    df = pd.DataFrame(rows)
    summary = (df.groupby(["model", "method"], sort=False)
               .agg(n=("seed", "size"), window_ok=("window_ok", "sum"),
                    region_ok=("region_ok", "sum"), top1=("top1", "mean")).reset_index())
    write_csv(out / "results.csv", df)
    write_csv(out / "summary.csv", summary)
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
