"""Sweep throughput: the sweep engine against one-at-a-time fits, for the temporal window sweep.

The sweep is the temporal analysis' default: the whole epoch and ten 100-ms
windows (samples outside a window set to zero, as NICE), 11 models of the
'fast' recipe, on a full-size subject by default (16540 training conditions,
63 channels x 250 samples, 768-d features; random data, which cost the same
as real data). Each mode trains in its own process (its own allocator state
and peak memory), one after the other:

- ``uncropped``: ``train.fit`` for each condition in turn with the
  zero-window crop switched off (``eegvision.models._cropped.ENABLED``):
  how every fit ran before the crop became part of the fused path, the
  baseline the ratios are taken against;
- ``alone``: ``train.fit`` for each condition in turn, as ``--no-batch`` runs
  (a window condition's TSConv trains on the steps that see data only);
- ``batched``: ``sweep.fit_many`` over all 11, as ``analyze`` runs by default.

Throughput is reported per wall second and per CPU second of the process
(``time.process_time``, all its threads): on a machine shared with other
work the second is the steadier measure.

Throughput is models x epochs per second of training (data synthesis and
masking excluded; each model's set-up, e.g. its window cache, included).
Peak memory is the process's resident high-water mark (``VmHWM``), the
subject's data included. ``--epochs 2 --freeze 1`` (default) trains one epoch
with TSConv's temporal conv and one with it frozen; the 'fast' recipe spends
5 of its 50 epochs in the first kind. Precision: float32 (``--amp`` for the
recipe's bf16 where the CPU has it).

    python benchmarks/bench_sweep.py [--n-train 16540] [--epochs 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
from _machine import describe, machine_info  # benchmarks/, beside this script

from eegvision._utils import write_json

MODES = ("uncropped", "alone", "batched")


def make_subject(n_train, n_chans, n_times, n_features, seed=0):
    """A training container of random float32 EEG and features (already averaged)."""
    from eegvision.data.container import EEGImageData

    rng = np.random.default_rng(seed)
    eeg = rng.standard_normal((n_train, n_chans, n_times), dtype=np.float32)
    feats = rng.standard_normal((n_train, n_features), dtype=np.float32)
    return EEGImageData(eeg, feats, np.array([f"c{i}" for i in range(n_train)]),
                        [f"E{i}" for i in range(n_chans)], np.arange(n_times) / 250.0,
                        sfreq=250.0, conditions=np.arange(n_train),
                        meta={"source": "random", "averaged_per_subject": True}, validate=False)


def windows(n_times, sfreq=250.0, width_ms=100.0):
    """The temporal analysis' default conditions: None (whole epoch), then 100-ms windows."""
    end_ms = n_times * 1000.0 / sfreq
    return [None] + [(lo, lo + width_ms) for lo in np.arange(0.0, end_ms - width_ms + 1e-6,
                                                              width_ms)]


def masked(data, window):
    """``data`` zero outside ``window`` (ms), as the temporal analysis derives it."""
    if window is None:
        return data
    return data.copy(deep=False).mask_time(window[0] / 1000, window[1] / 1000, include_tmax=False)


def run_mode(mode, args):
    """Train the sweep in this process; returns its timing and peak memory."""
    import torch

    from eegvision import sweep
    from eegvision.training import TrainConfig, fit

    data = make_subject(args.n_train, args.n_chans, args.n_times, args.n_features)
    wins = windows(args.n_times)
    config = TrainConfig.from_recipe("fast", epochs=args.epochs, freeze_temporal=args.freeze,
                                     amp=args.amp, device="cpu", seed=0)
    t0 = time.perf_counter()
    if mode in ("alone", "uncropped"):
        from eegvision.models import _cropped

        _cropped.ENABLED = mode == "alone"
        seconds = cpu = 0.0
        results = []
        for w in wins:
            d = masked(data, w)
            t, c = time.perf_counter(), time.process_time()
            results.append(fit(d, config, progress=False))
            seconds, cpu = seconds + time.perf_counter() - t, cpu + time.process_time() - c
            del d
    else:
        t, c = time.perf_counter(), time.process_time()
        results = sweep.fit_many([(lambda w=w: masked(data, w)) for w in wins],
                                 [config] * len(wins), progress=False)
        # the batched set-up masks each condition lazily: take the masking out as for 'alone'
        mask_wall, mask_cpu = _masking_seconds(data, wins)
        seconds = time.perf_counter() - t - mask_wall
        cpu = time.process_time() - c - mask_cpu
    # each model's last epoch (the temporal conv frozen when --freeze < --epochs), in seconds
    last_epoch = [float(np.diff(np.r_[0.0, r.history["seconds"].to_numpy()])[-1]) for r in results]
    return dict(mode=mode, models=len(wins), epochs=args.epochs, train_seconds=seconds,
                last_epoch_seconds=dict(zip(_names(wins), last_epoch)),
                cpu_seconds=cpu, wall_seconds=time.perf_counter() - t0,
                models_epochs_per_s=len(wins) * args.epochs / seconds,
                models_epochs_per_cpu_s=len(wins) * args.epochs / cpu,
                peak_rss_gb=_peak_rss_gb(), torch_threads=torch.get_num_threads())


def _names(wins):
    return ["whole" if w is None else f"{w[0]:.0f}-{w[1]:.0f}ms" for w in wins]


def _masking_seconds(data, wins):
    t, c = time.perf_counter(), time.process_time()
    for w in wins:
        masked(data, w)
    return time.perf_counter() - t, time.process_time() - c


def _peak_rss_gb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=16540)
    p.add_argument("--n-chans", type=int, default=63)
    p.add_argument("--n-times", type=int, default=250)
    p.add_argument("--n-features", type=int, default=768)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--freeze", type=int, default=1,
                   help="epochs before TSConv's temporal conv is frozen (fast recipe: 5)")
    p.add_argument("--amp", action="store_true", help="the recipe's bf16 where native")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--json", default=None)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(run_mode(args.child, args)))
        return
    info = machine_info()
    print(describe(info))
    print(f"sweep: {len(windows(args.n_times))} models (whole epoch + 100-ms windows), "
          f"{args.n_train} conditions x {args.n_chans} ch x {args.n_times} samples, "
          f"{args.epochs} epochs (temporal conv frozen after {args.freeze}), "
          f"{'bf16 where native' if args.amp else 'float32'}")
    rows = []
    for mode in args.modes.split(","):
        cmd = [sys.executable, __file__, "--child", mode] + _forward(args)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{mode:15s} {r['train_seconds']:8.1f} s wall, {r['cpu_seconds']:8.1f} s CPU  "
              f"{r['models_epochs_per_s']:.3f} models x epochs / s  peak RSS "
              f"{r['peak_rss_gb']:.2f} GB", flush=True)
    by = {r["mode"]: r for r in rows}
    ratios = {}
    for base in ("uncropped", "alone"):
        for m in by:
            if m == base or base not in by or (base == "alone" and m == "uncropped"):
                continue
            for per in ("models_epochs_per_s", "models_epochs_per_cpu_s"):
                name = f"{m}/{base}" + (" (CPU time)" if "cpu" in per else "")
                ratios[name] = by[m][per] / by[base][per]
    for name, value in ratios.items():
        print(f"throughput {name}: {value:.2f}x")
    for r in rows:
        last = r["last_epoch_seconds"]
        print(f"{r['mode']}: last epoch per model (s): "
              + ", ".join(f"{k} {v:.2f}" for k, v in last.items()))
    if "uncropped" in by and len(by) > 1:
        # what cropping TSConv can give at most: a window model still costs its head, image
        # projector, loss and optimiser; the cheapest window (fewest active steps) is about that
        cropped = next(r for r in rows if r["mode"] != "uncropped")["last_epoch_seconds"]
        whole = by["uncropped"]["last_epoch_seconds"]["whole"]
        floor = min(v for k, v in cropped.items() if k != "whole") / whole
        n = len(cropped)
        ratios["bound_if_windows_cost_the_cheapest"] = n / (1 + (n - 1) * floor)
        print(f"cheapest window's last epoch / uncropped whole epoch: {floor:.2f}; if every "
              "window cost what the cheapest does, the sweep would be "
              f"{ratios['bound_if_windows_cost_the_cheapest']:.2f}x faster than uncropped fits (about the most "
              "a crop of TSConv can give)")
    if args.json:
        write_json(args.json, dict(machine=info, settings=vars(args), runs=rows, ratios=ratios))


def _forward(args):
    out = ["--n-train", str(args.n_train), "--n-chans", str(args.n_chans), "--n-times",
           str(args.n_times), "--n-features", str(args.n_features), "--epochs", str(args.epochs),
           "--freeze", str(args.freeze)]
    return out + (["--amp"] if args.amp else [])


if __name__ == "__main__":
    main()
