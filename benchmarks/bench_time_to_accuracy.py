"""Time to accuracy: the 'fast' recipe against the NICE recipe.

Trains the same encoder with both recipes on the built-in simulated subject 1,
records test top-1 after every epoch (evaluation time excluded from training
time), writes both learning curves to CSV and as a figure (``curves.png``:
test top-1 against training seconds) and reports the wall-time ratio
fast/nice to reach the NICE recipe's final top-1 (target <= 0.1).

    python benchmarks/bench_time_to_accuracy.py --out bench-out [--nice-epochs 200]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from eegvision import train as T
from eegvision.evaluate import evaluate


def load_data(subject):
    """The built-in simulated subject."""
    from eegvision.data.builtin import resolve_root

    root, _ = resolve_root(None, subjects=[subject])
    from eegvision.data.things import load_subject

    return load_subject(root, subject, average=True), "built-in simulator"


def time_to(curve, target):
    hit = curve[curve.test_top1 >= target - 1e-12]
    return float(hit.seconds.iloc[0]) if len(hit) else float("nan")


def plot_curves(df, target, path):
    """Test top-1 against training seconds for both recipes, with the NICE final as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.5, 2.6), dpi=200)
    for recipe, color in (("nice", "#0072B2"), ("fast", "#D55E00")):
        curve = df[df.recipe == recipe]
        ax.plot(curve.seconds, 100 * curve.test_top1, color=color, lw=1.2, label=f"{recipe} recipe")
    ax.axhline(100 * target, color="0.4", lw=0.8, ls="--", label="nice final (best-val)")
    ax.axvline(0.1 * df[df.recipe == "nice"].seconds.max(), color="0.6", lw=0.8, ls=":",
               label="1/10 of nice's time")
    ax.set(xlabel="training time (s)", ylabel="test top-1, 200-way (%)", ylim=(0, 100))
    ax.legend(fontsize=6, frameon=False, loc="lower right")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args):
    data, source = load_data(args.subject)
    print(f"data: {source}: train {data.train!r}\n      test {data.test!r}")
    n_cond = len(np.unique(data.train.conditions))
    # NICE holds out 740 of 16540 conditions; keep that fraction on smaller data
    nice_val = 740 if n_cond >= 16540 or args.paper_val else round(740 / 16540 * n_cond)
    recipes = {"nice": dict(epochs=args.nice_epochs, val_conditions=nice_val),
               "fast": dict(epochs=args.fast_epochs)}
    curves, finals = [], {}
    for name, over in recipes.items():
        config = T.TrainConfig.from_recipe(name, model=args.model, device="cpu", seed=args.seed,
                                           **over)
        res = T.fit(data.train, config, test=data.test, progress=True)
        finals[name] = evaluate(res.model, data.test)["top1"]
        h = res.history.assign(recipe=name)
        curves.append(h)
        print(f"{name}: {len(h)} epochs, {res.train_seconds:.1f} s, best epoch {res.best_epoch}, "
              f"final (best-val checkpoint) top-1 {finals[name]:.3f}")
    df = pd.concat(curves, ignore_index=True)
    nice, fast = (df[df.recipe == r] for r in ("nice", "fast"))
    target = finals["nice"]
    summary = dict(source=source, model=args.model, nice_final_top1=target,
                   fast_final_top1=finals["fast"],
                   nice_seconds_total=float(nice.seconds.iloc[-1]),
                   nice_seconds_to_target=time_to(nice, target),
                   fast_seconds_to_target=time_to(fast, target),
                   fast_seconds_total=float(fast.seconds.iloc[-1]),
                   nice_epochs=int(len(nice)), fast_epochs=int(len(fast)), nice_val=nice_val)
    summary["ratio_to_target"] = summary["fast_seconds_to_target"] / summary["nice_seconds_to_target"]
    summary["ratio_vs_nice_total"] = summary["fast_seconds_to_target"] / summary["nice_seconds_total"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["recipe", "epoch", "seconds", "test_top1", "train_loss", "val_loss", "lr"]
    df[cols].rename(columns={"test_top1": "top1"}).to_csv(out / "curves.csv", index=False)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_curves(df, target, out / "curves.png")
    print(df[cols].to_string(index=False))
    print(json.dumps(summary, indent=2))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench-out")
    p.add_argument("--model", default="nice")
    p.add_argument("--subject", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nice-epochs", type=int, default=200)
    p.add_argument("--fast-epochs", type=int, default=None)
    p.add_argument("--paper-val", action="store_true", help="hold out 740 conditions as NICE does")
    args = p.parse_args(argv)
    if args.fast_epochs is None:
        args.fast_epochs = T.TrainConfig().epochs
    run(args)


if __name__ == "__main__":
    main()
