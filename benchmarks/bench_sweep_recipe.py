"""Recipes for a sweep: test top-1 and training time of each recipe on the built-in subject.

For each recipe (or ``name:key=value,...`` override of one) and each
condition (the whole epoch, or a 100-ms window given by its start in ms,
samples outside it set to zero as the temporal analysis does), one model is
trained with :func:`eegvision.fit` on the built-in subject (or a data root)
and scored by zero-shot 200-way top-1 on its test set. Prints a table and
writes ``results.csv``. This is the comparison behind the ``sweep`` recipe
(docs/training.md, "The sweep recipe").

    python benchmarks/bench_sweep_recipe.py --out bench-recipe --subject 3 \\
        --recipes fast,sweep,sweep:lr=5e-3,sweep:epochs=14 --windows whole,200,100
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from _machine import describe, machine_info  # benchmarks/, beside this script

from eegvision._utils import write_csv, write_json


def parse_recipe(spec):
    """``'sweep:lr=5e-3,epochs=14'`` -> ``('sweep', {'lr': 0.005, 'epochs': 14})``."""
    name, _, rest = spec.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    return name, overrides


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--data-dir", default=None, help="a THINGS-EEG2 root (default: built-in)")
    p.add_argument("--subject", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recipes", default="fast,sweep", help="recipe[:key=value,...] list, ';'-free")
    p.add_argument("--windows", default="whole,200,100", help="whole, or window starts in ms")
    p.add_argument("--amp", action="store_true", help="the recipe's bf16 where native")
    args = p.parse_args(argv)

    import eegvision as ev
    from eegvision.data.builtin import resolve_root

    info = machine_info()
    print(describe(info))
    root, _ = resolve_root(args.data_dir, subjects=(args.subject,))
    data = ev.load_subject(root, args.subject)
    # recipes are split on commas that start a new recipe name (no '=' before the next ':')
    specs = _split_specs(args.recipes)
    rows = []
    for spec in specs:
        name, overrides = parse_recipe(spec)
        for window in args.windows.split(","):
            train, test = data.train.copy(deep=False), data.test.copy(deep=False)
            if window != "whole":
                lo = float(window) / 1000
                for d in (train, test):
                    d.mask_time(lo, lo + 0.1, include_tmax=False)
            config = ev.TrainConfig.from_recipe(name, **{"amp": args.amp, "seed": args.seed,
                                                         "device": "cpu", **overrides})
            t0 = time.perf_counter()
            result = ev.fit(train, config, progress=False)
            seconds = time.perf_counter() - t0
            top1 = ev.evaluate(result.model, test)["top1"]
            rows.append(dict(recipe=spec, window=window, epochs=config.epochs,
                             schedule=config.schedule, lr=config.lr, top1=top1, seconds=seconds))
            print(f"{spec:28s} {window:>6s}  top-1 {top1:6.1%}  {seconds:7.1f} s", flush=True)
    out = Path(args.out)
    write_csv(out / "results.csv", pd.DataFrame(rows))
    write_json(out / "machine.json", dict(machine=info, settings=vars(args)))


def _split_specs(text):
    specs, current = [], ""
    for part in text.split(","):
        if current and ("=" not in part or ":" in part):
            specs.append(current)
            current = part
        else:
            current = f"{current},{part}" if current else part
    return specs + ([current] if current else [])


if __name__ == "__main__":
    main()
