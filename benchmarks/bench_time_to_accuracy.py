"""Time to accuracy: the 'fast' recipe against the NICE recipe.

Trains the same encoder with each recipe on the built-in simulated subject 1
(or a subject of ``--data-dir``),
records test top-1 after every epoch, writes the learning curves to CSV and as a figure (``curves.png``:
test top-1 against training seconds) and reports, per seed, the wall-time
ratio fast/nice to reach the NICE recipe's final top-1 (target <= 0.1). The
ratio depends on the machine (bf16 hardware speeds up only ``fast``), so the
summary records the CPU and torch threads.

Every run trains in its own process, so no allocator or buffer state carries
over from one run to the next. The weights of every epoch are kept (about
12 MB each for ``nice``) and scored after training: scoring between epochs
changes the C allocator's state and slowed the following training epochs by
up to a third, so the curves would not show the time a user's run takes. Three runs per seed:

* ``nice``: the paper's recipe as the paper ran it (float32);
* ``fast``: the default recipe (bf16 mixed precision where the CPU has it);
* ``nice-amp``: the paper's recipe in the same precision as ``fast``, so the
  ratio against it isolates the recipe from the precision
  (``--skip-nice-amp`` leaves it out).

    python benchmarks/bench_time_to_accuracy.py --out bench-out [--seeds 0,1,2]
    python benchmarks/bench_time_to_accuracy.py --out bench-t007 --fast-settings '{"temperature": 0.07}'
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import describe, machine_info  # benchmarks/, beside this script

from eegvision import training as T
from eegvision.evaluate import evaluate

COLORS = {"nice": "#0072B2", "fast": "#D55E00", "nice-amp": "#009E73"}


def load_data(subject, data_dir=None):
    """One subject of ``data_dir`` (a THINGS-EEG2 layout root), or of the built-in simulator."""
    from eegvision.data.builtin import resolve_root
    from eegvision.data.paths import shared_data_dir
    from eegvision.data.things import load_subject

    root, builtin = resolve_root(data_dir, subjects=[subject])
    # the two kinds of features give different curves (docs/training.md), so say which
    features = "real CLIP features" if shared_data_dir() else "synthetic features"
    source = f"built-in simulator, {features}" if builtin else str(root)
    return load_subject(root, subject, average=True), source


def time_to(curve, target):
    """Training seconds at the first epoch whose test top-1 reaches ``target`` (NaN if never)."""
    hit = curve[curve.test_top1 >= target - 1e-12]
    return float(hit.seconds.iloc[0]) if len(hit) else float("nan")


def plot_curves(df, summary, path):
    """Test top-1 against training seconds, every recipe and seed, NICE's finals as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.5, 2.6), dpi=200)
    for (recipe, seed), curve in df.groupby(["recipe", "seed"], sort=False):
        first = seed == df.seed.iloc[0]
        ax.plot(curve.seconds, 100 * curve.test_top1, color=COLORS[recipe], lw=0.9, alpha=0.8,
                label=f"{recipe} recipe" if first else None)
    for i, row in enumerate(summary):
        ax.axhline(100 * row["nice_final_top1"], color="0.4", lw=0.6, ls="--",
                   label="nice final (best-val)" if i == 0 else None)
        ax.axvline(0.1 * row["nice_seconds_total"], color="0.6", lw=0.6, ls=":",
                   label="1/10 of nice's time" if i == 0 else None)
    ax.set(xlabel="training time (s)", ylabel="test top-1, 200-way (%)", ylim=(0, 100))
    ax.legend(fontsize=5.5, frameon=False, loc="lower right")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def train_one(args):
    """Child process: one recipe and seed; writes its curve and final top-1 under ``--child-out``."""
    data, _ = load_data(args.subject, args.data_dir)
    over = json.loads(args.child_settings)
    config = T.TrainConfig.from_recipe(args.child_recipe, model=args.model, device="cpu",
                                       seed=args.child_seed, **over)
    snapshots = []

    def snapshot(epoch, model):
        snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    res = T.fit(data.train, config, progress=False, callback=snapshot)
    probe = copy.deepcopy(res.model)
    top1 = []
    for state in snapshots:
        probe.load_state_dict(state)
        top1.append(evaluate(probe, data.test)["top1"])
    out = Path(args.child_out)
    res.history.assign(test_top1=top1).to_csv(out / "history.csv", index=False)
    (out / "final.json").write_text(json.dumps(
        dict(top1=evaluate(res.model, data.test)["top1"], best_epoch=res.best_epoch,
             seconds=res.train_seconds)))


def run_recipe(args, label, recipe, over, seed):
    """Train in a fresh process (no allocator or buffer state carried from the previous run)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--model", args.model, "--subject", str(args.subject),
               *(["--data-dir", str(args.data_dir)] if args.data_dir else []),
               "--child-recipe", recipe, "--child-seed", str(seed),
               "--child-settings", json.dumps(over), "--child-out", tmp]
        subprocess.run(cmd, check=True)
        history = pd.read_csv(Path(tmp) / "history.csv")
        final = json.loads((Path(tmp) / "final.json").read_text())
    print(f"seed {seed} {label}: {len(history)} epochs, {final['seconds']:.1f} s, best epoch "
          f"{final['best_epoch']}, final top-1 (kept weights) {final['top1']:.3f}",
          flush=True)
    return history.assign(recipe=label, seed=seed), final["top1"]


def run_seed(args, seed, nice_val):
    """The recipes' curves for one seed, and the ratios."""
    runs = {"nice": ("nice", dict(epochs=args.nice_epochs, val_conditions=nice_val)),
            "fast": ("fast", dict(args.fast_settings, epochs=args.fast_epochs))}
    if not args.skip_nice_amp:
        runs["nice-amp"] = ("nice", dict(epochs=args.nice_epochs, val_conditions=nice_val,
                                         amp=True))
    curves, finals = {}, {}
    for label, (recipe, over) in runs.items():
        curves[label], finals[label] = run_recipe(args, label, recipe, over, seed)
    fast = curves["fast"]
    row = dict(seed=seed, fast_final_top1=finals["fast"],
               fast_seconds_total=float(fast.seconds.iloc[-1]),
               fast_best_curve_top1=float(fast.test_top1.max()), fast_epochs=int(len(fast)))
    for label, ratio in (("nice", "ratio"), ("nice-amp", "ratio_same_precision")):
        if label in curves:  # fast's time to this run's final top-1, over this run's total time
            key, total = label.replace("-", "_"), float(curves[label].seconds.iloc[-1])
            reached = time_to(fast, finals[label])
            row.update({f"{key}_final_top1": finals[label], f"{key}_seconds_total": total,
                        f"{key}_epochs": int(len(curves[label])),
                        f"fast_seconds_to_{key}_final": reached, ratio: reached / total})
    return list(curves.values()), row


def run(args):
    data, source = load_data(args.subject, args.data_dir)
    machine = machine_info()
    print(f"data: {source}: train {data.train!r}\n      test {data.test!r}\n{describe(machine)}")
    n_cond = len(np.unique(data.train.conditions))
    # NICE holds out 740 of 16540 conditions; keep that fraction on smaller data
    nice_val = 740 if n_cond >= 16540 or args.paper_val else round(740 / 16540 * n_cond)
    curves, summary = [], []
    for seed in args.seeds:
        c, row = run_seed(args, seed, nice_val)
        curves += c
        summary.append(row)
    df = pd.concat(curves, ignore_index=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["recipe", "seed", "epoch", "seconds", "test_top1", "train_loss", "val_loss", "lr"]
    df[cols].rename(columns={"test_top1": "top1"}).to_csv(out / "curves.csv", index=False)
    table = pd.DataFrame(summary)
    table.to_csv(out / "summary.csv", index=False)
    overall = dict(source=source, model=args.model, seeds=list(args.seeds), nice_val=nice_val,
                   fast_settings=args.fast_settings,
                   bf16=machine["native_bf16"], machine=machine,
                   median_ratio=_median_ratio(table.ratio),
                   seeds_reaching_nice_final=int(table.ratio.notna().sum()),
                   seeds_meeting_target=int((table.ratio <= 0.1).sum()),
                   per_seed=summary)
    if "ratio_same_precision" in table:
        overall["median_ratio_same_precision"] = _median_ratio(table.ratio_same_precision)
    (out / "summary.json").write_text(json.dumps(overall, indent=2))
    plot_curves(df, summary, out / "curves.png")
    print(table.to_string(index=False))
    print(json.dumps({k: v for k, v in overall.items() if k != "per_seed"}, indent=2))


def _median_ratio(ratios):
    """Median over seeds, a seed that never reached the target counting as infinitely slow (None if that is the median)."""
    value = float(np.median(ratios.fillna(np.inf)))
    return value if np.isfinite(value) else None


def _settings(text):
    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--fast-settings takes a JSON object")
    try:  # a misspelled field fails here, before any run
        T.TrainConfig.from_recipe("fast", **value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _seeds(text):
    return [int(s) for s in str(text).split(",") if s.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench-out")
    p.add_argument("--model", default="nice")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--data-dir", default=None,
                   help="a THINGS-EEG2 layout root (default: the built-in simulated subject)")
    p.add_argument("--seeds", type=_seeds, default=[0], help="comma-separated, e.g. 0,1,2")
    p.add_argument("--nice-epochs", type=int, default=200)
    p.add_argument("--fast-epochs", type=int, default=None)
    p.add_argument("--fast-settings", type=_settings, default={},
                   help="TrainConfig fields that change the fast runs, as JSON, "
                        "e.g. '{\"temperature\": 0.07}' (an ablation)")
    p.add_argument("--skip-nice-amp", action="store_true",
                   help="leave out the NICE recipe in the fast recipe's precision")
    p.add_argument("--paper-val", action="store_true", help="hold out 740 conditions as NICE does")
    for name in ("recipe", "seed", "settings", "out"):  # internal: one run in a child process
        p.add_argument(f"--child-{name}", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_recipe:
        args.child_seed = int(args.child_seed)
        return train_one(args)
    if args.fast_epochs is None:
        args.fast_epochs = T.TrainConfig().epochs
    run(args)


if __name__ == "__main__":
    main()
