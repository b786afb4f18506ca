"""Encoders and recipes on the same simulated subjects: top-1 / top-5 and seconds per epoch.

Simulates a root whose EEG carries the image features' coarse part but only a
fraction of their fine detail (``simulate_root(eeg_detail=...)``, what makes
blur priors matter) with a blur-bank feature set, unless ``--data-dir`` names
a root that has one. Every method is trained on the same subjects and seeds
for the same number of epochs, its epoch chosen on held-out training
conditions, and scored on the *test images* (not concept centres): the
candidates are the sharp test-image features, except for ``ubp`` (their
middle blur level, as UBP) and ``blur-bank`` (its learned mix of levels).

Usage::

    python benchmarks/bench_encoders.py [--subjects 2] [--seeds 0-2] [--epochs 30] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

#: name -> (training recipe, encoder, channels)
METHODS = {
    "nice": ("fast", "nice", None),
    "eegnet": ("fast", "eegnet", None),
    "mlp": ("fast", "mlp", None),
    "mlp-17ch": ("fast", "mlp", "posterior17"),
    "ubp": ("ubp", "mlp", "posterior17"),
    "blur-bank": ("blur-bank", "mlp", "posterior17"),
}


def run_one(root, subject, method, seed, epochs):
    """Train and score one (subject, method, seed); returns a result row."""
    from eegvision.data.channels import pick
    from eegvision.data.things import load_subject
    from eegvision.evaluate import evaluate
    from eegvision.train import BLUR_FEATURES, BLUR_RECIPES, TrainConfig, fit

    recipe, model, channels = METHODS[method]
    bank = recipe in BLUR_RECIPES
    data = pick(load_subject(root, subject, targets="images", features=BLUR_FEATURES,
                             bank=bank), channels)
    config = TrainConfig.from_recipe(recipe, model=model, epochs=epochs, seed=seed)
    result = fit(data.train, config, progress=False)
    scores = evaluate(result.model, data.test, targets="images")
    return dict(method=method, recipe=recipe, encoder=model, channels=data.train.n_channels,
                subject=subject, seed=seed, top1=scores["top1"], top5=scores["top5"],
                n_way=scores["n_way"], best_epoch=int(result.best_epoch),
                s_per_epoch=result.train_seconds / len(result.history))


def summarize(df):
    """One row per method: mean and sd over subjects x seeds."""
    g = df.groupby("method", sort=False)
    out = g.agg(recipe=("recipe", "first"), encoder=("encoder", "first"),
                channels=("channels", "first"), top1=("top1", "mean"), top1_sd=("top1", "std"),
                top5=("top5", "mean"), top5_sd=("top5", "std"),
                s_per_epoch=("s_per_epoch", "mean"), runs=("top1", "size"))
    return out.reset_index()


def markdown(summary, n_way):
    lines = [f"| method | recipe | encoder | channels | top-1 % ({n_way}-way, test images) "
             "| top-5 % | s/epoch | runs |", "|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        lines.append(f"| {r.method} | {r.recipe} | {r.encoder} | {r.channels} | "
                     f"{100 * r.top1:.1f} ± {100 * r.top1_sd:.1f} | "
                     f"{100 * r.top5:.1f} ± {100 * r.top5_sd:.1f} | {r.s_per_epoch:.2f} | "
                     f"{r.runs} |")
    return "\n".join(lines)


def main(argv=None):
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _machine import describe, machine_info

    from eegvision._utils import parse_int_list, parse_seeds
    from eegvision.data.simulate import simulate_root

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="a root with a 'blur' feature set")
    p.add_argument("--subjects", default="2", help="simulated subjects (count), or 1,2 with "
                                                    "--data-dir")
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--eeg-detail", type=float, default=0.2)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--sim-size", default=None, help="n_train,n_test for a smaller simulation")
    p.add_argument("--out", default="bench-encoders")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    methods = [m.strip() for m in args.methods.split(",")]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    seeds = parse_seeds(args.seeds)
    with tempfile.TemporaryDirectory() as tmp:
        if args.data_dir:
            root, subjects = Path(args.data_dir), parse_int_list(args.subjects)
        else:
            n = int(args.subjects)
            size = {}
            if args.sim_size:
                n_train, n_test = (int(v) for v in args.sim_size.split(","))
                size = dict(n_train=n_train, n_test=n_test, n_train_reps=2, n_test_reps=4)
            root = simulate_root(tmp, n, seed=0, eeg_detail=args.eeg_detail, blur_levels=6,
                                 **size)
            subjects = list(range(1, n + 1))
        t0, rows = time.perf_counter(), []
        for subject in subjects:
            for method in methods:
                for seed in seeds:
                    rows.append(run_one(root, subject, method, seed, args.epochs))
                    print(f"sub-{subject:02d} {method} seed {seed}: top-1 "
                          f"{rows[-1]['top1']:.1%}", flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out / "results.csv", index=False)
    summary = summarize(df)
    table = markdown(summary, int(df["n_way"].iloc[0]))
    info = describe(machine_info())
    source = args.data_dir or (f"simulated, {len(subjects)} subjects, eeg_detail "
                               f"{args.eeg_detail}, 6 blur levels")
    text = (f"{table}\n\n{len(subjects)} subjects x {len(seeds)} seeds, {args.epochs} epochs "
            f"each; data: {source}; {time.perf_counter() - t0:.0f} s in all\n{info}\n")
    (out / "summary.md").write_text(text)
    print(text)
    return df


if __name__ == "__main__":
    main()
