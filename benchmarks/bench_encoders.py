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

    python benchmarks/bench_encoders.py [--subjects 2] [--seeds 0-2] [--epochs 30]
        [--batch-size 64] [--methods ubp,ubp-sharp,...] [--out DIR]

``ubp-sharp`` and ``blur-bank-sharp`` are ablations: the same recipe with
every bank level replaced by the sharp features, so the difference to
``ubp`` / ``blur-bank`` is what the blur prior itself adds.
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
    # ablations: the same recipe with every bank level replaced by the sharp features
    "ubp-sharp": ("ubp", "mlp", "posterior17"),
    "blur-bank-sharp": ("blur-bank", "mlp", "posterior17"),
}


def _sharp(part, k):
    """The container with every one of its ``k`` bank levels set to level 0 (sharp)."""
    import numpy as np

    bank = part.features.reshape(len(part.features), k, -1)
    return part.with_features(np.tile(bank[:, 0], (1, k)))


def run_one(root, subject, method, seed, epochs=None, batch_size=None):
    """Train and score one (subject, method, seed); returns a result row.

    ``epochs`` / ``batch_size`` None keep the recipe's.
    """
    from eegvision.data.channels import pick
    from eegvision.data.things import load_subject
    from eegvision.evaluate import evaluate
    from eegvision.training import BLUR_FEATURES, BLUR_RECIPES, TrainConfig, fit

    recipe, model, channels = METHODS[method]
    bank = recipe in BLUR_RECIPES
    data = pick(load_subject(root, subject, targets="images", features=BLUR_FEATURES,
                             bank=bank), channels)
    if method.endswith("-sharp"):
        from eegvision.data.container import SubjectData

        k = data.train.meta["blur_levels"]
        data = SubjectData(data.subject, _sharp(data.train, k), _sharp(data.test, k), data.meta)
    overrides = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size))
                 if v is not None}
    config = TrainConfig.from_recipe(recipe, model=model, seed=seed, **overrides)
    result = fit(data.train, config, progress=False)
    scores = evaluate(result.model, data.test, targets="images")
    return dict(method=method, recipe=recipe, encoder=model, channels=data.train.n_channels,
                subject=subject, seed=seed, top1=scores["top1"], top5=scores["top5"],
                n_way=scores["n_way"], best_epoch=int(result.best_epoch),
                epochs=len(result.history), batch_size=config.batch_size,
                s_per_epoch=result.train_seconds / len(result.history))


def summarize(df):
    """One row per method: mean and sd over subjects x seeds."""
    g = df.groupby("method", sort=False)
    out = g.agg(recipe=("recipe", "first"), encoder=("encoder", "first"),
                channels=("channels", "first"), top1=("top1", "mean"), top1_sd=("top1", "std"),
                top5=("top5", "mean"), top5_sd=("top5", "std"),
                epochs=("epochs", "first"), batch=("batch_size", "first"),
                s_per_epoch=("s_per_epoch", "mean"), runs=("top1", "size"))
    return out.reset_index()


def markdown(summary, n_way):
    lines = [f"| method | recipe | encoder | channels | epochs | batch | top-1 % ({n_way}-way, "
             "test images) | top-5 % | s/epoch | runs |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        lines.append(f"| {r.method} | {r.recipe} | {r.encoder} | {r.channels} | {r.epochs} | "
                     f"{r.batch} | "
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
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs of every method (default: each recipe's own)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="batch size of every method (default: each recipe's own)")
    p.add_argument("--eeg-detail", type=float, default=0.2)
    p.add_argument("--methods", default="nice,eegnet,mlp,mlp-17ch,ubp,blur-bank")
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
                    rows.append(run_one(root, subject, method, seed, args.epochs,
                                        args.batch_size))
                    print(f"sub-{subject:02d} {method} seed {seed}: top-1 "
                          f"{rows[-1]['top1']:.1%}", flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out / "results.csv", index=False)
    summary = summarize(df)
    table = markdown(summary, int(df["n_way"].iloc[0]))
    info = describe(machine_info())
    source = args.data_dir or (f"simulated, {len(subjects)} subjects, eeg_detail "
                               f"{args.eeg_detail}, 6 blur levels")
    text = (f"{table}\n\n{len(subjects)} subjects x {len(seeds)} seeds; data: {source}; "
            f"{time.perf_counter() - t0:.0f} s in all\n{info}\n")
    (out / "summary.md").write_text(text)
    print(text)
    return df


if __name__ == "__main__":
    main()
