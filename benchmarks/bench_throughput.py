"""Training throughput of the NICE encoder: reference vs fast TSConv layout.

One training step = encoder + image projector + symmetric InfoNCE loss,
backward, Adam step, on a full-size subject (16540 trials, 63 x 250 float32,
768-d features; random data, which costs the same as real data). Modes:

- ``reference+DataLoader``: the paper's way: TSConv as written, a per-item
  ``DataLoader(TensorDataset, shuffle=True)``.
- ``reference``: TSConv as written, whole batches sliced from a shuffled index.
- ``fast``: the fast TSConv layout as training runs it: on the CPU the fused
  path (BatchNorm folded into the conv through the window moments; conv,
  ELU and spatial conv in cache-sized trial chunks; reused scratch buffers
  for the activations and the batch, see ``eegvision/models/_fused.py``).
- ``fast+bf16`` (on CPUs with native bf16): the fast path under bf16 autocast,
  as ``amp`` trains (the fused products in bf16). Mixed precision is not
  the same function to the last bit, so it is reported beside the
  same-function target, not for it.
- ``fast+compile`` (``--compile``): ``torch.compile`` on the encoder (which
  takes the unfused fast layout, as torch.compile cannot trace the fused
  path); the compile time is the first batch.

Each mode is timed on ``--batches`` batches after one warm-up batch and
extrapolated to the epoch (the table says so). A child process then trains a
full epoch with the fast layout and reports its wall time and peak resident
memory (``VmHWM``, data included; ``ru_maxrss`` would carry the parent's
high-water mark over the fork).

    python benchmarks/bench_throughput.py [--batch-size 1000] [--batches 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from _machine import describe, machine_info  # benchmarks/, beside this script

from eegvision._utils import write_json
from eegvision.models import create_encoder
from eegvision.models.projector import ContrastiveModel, ImageProjector
from eegvision.training import cpu_has_native_bf16
from eegvision.training.steps import _gather


def make_data(n_trials, n_chans, n_times, n_features, seed=0):
    """Random float32 EEG ``(n, chans, times)`` and features ``(n, d)`` as tensors."""
    rng = np.random.default_rng(seed)
    eeg = torch.from_numpy(rng.standard_normal((n_trials, n_chans, n_times), dtype=np.float32))
    feats = torch.from_numpy(rng.standard_normal((n_trials, n_features), dtype=np.float32))
    return eeg, feats


def make_model(layout, n_chans, n_times, n_features, seed=0):
    """NICE encoder + image projector + CLIP loss, and its Adam optimiser."""
    torch.manual_seed(seed)
    enc = create_encoder("nice", n_chans=n_chans, n_times=n_times, n_outputs=n_features,
                         layout=layout)
    model = ContrastiveModel(enc, ImageProjector(n_features)).train()
    return model, torch.optim.Adam(model.parameters(), lr=3e-4, betas=(0.5, 0.999))


def step(model, opt, x, y, amp=False):
    """One training step (under CPU bf16 autocast with ``amp``); returns the loss."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def whole_batches(eeg, feats, batch_size, seed=0):
    """Batches sliced from a seeded shuffled index (no per-item collation)."""
    perm = torch.randperm(len(eeg), generator=torch.Generator().manual_seed(seed))
    for start in range(0, len(eeg), batch_size):
        idx = perm[start:start + batch_size]
        yield eeg[idx], feats[idx]


def gathered_batches(model, eeg, feats, batch_size, seed=0):
    """Whole batches gathered as training does (into a reused buffer when it is free)."""
    perm = torch.randperm(len(eeg), generator=torch.Generator().manual_seed(seed))
    for start in range(0, len(eeg), batch_size):
        idx = perm[start:start + batch_size]
        yield _gather(model, eeg, idx), feats[idx]


def loader_batches(eeg, feats, batch_size, seed=0):
    """The paper's per-item DataLoader."""
    from torch.utils.data import DataLoader, TensorDataset

    gen = torch.Generator().manual_seed(seed)
    yield from DataLoader(TensorDataset(eeg, feats), batch_size=batch_size, shuffle=True,
                          generator=gen)


def time_mode(model, opt, batches, n_timed, amp=False):
    """Seconds of the warm-up batch, and trials/s over the next ``n_timed`` batches."""
    t0 = time.perf_counter()
    step(model, opt, *next(batches), amp=amp)
    warmup = time.perf_counter() - t0
    n, t0 = 0, time.perf_counter()
    for _ in range(n_timed):
        x, y = next(batches)
        step(model, opt, x, y, amp=amp)
        n += len(x)
    return warmup, n / (time.perf_counter() - t0)


def run_modes(args, eeg, feats):
    """Trials/s of every mode, in this process."""
    shape = (eeg.shape[1], eeg.shape[2], feats.shape[1])
    modes = [("reference+DataLoader", "reference", loader_batches),
             ("reference", "reference", whole_batches), ("fast", "fast", whole_batches)]
    if cpu_has_native_bf16():
        modes.append(("fast+bf16", "fast", whole_batches))
    if args.compile:
        modes.append(("fast+compile", "fast", whole_batches))
    rows = []
    for name, layout, batcher in modes:
        model, opt = make_model(layout, *shape)
        if name.endswith("compile"):
            model.encoder = torch.compile(model.encoder)
        if name.startswith("fast"):
            batches = gathered_batches(model, eeg, feats, args.batch_size)
        else:
            batches = batcher(eeg, feats, args.batch_size)
        warm, rate = time_mode(model, opt, batches, args.batches, amp=name.endswith("bf16"))
        rows.append({"mode": name, "batch_size": args.batch_size, "trials_per_s": rate,
                     "epoch_s_extrapolated": len(eeg) / rate, "first_batch_s": warm})
        print(f"  {name}: {rate:.1f} trials/s (first batch {warm:.1f} s)", flush=True)
    base = rows[1]["trials_per_s"]
    paper = rows[0]["trials_per_s"]
    for row in rows:
        row["vs_reference"] = row["trials_per_s"] / base
        row["vs_paper"] = row["trials_per_s"] / paper
    return rows


def peak_rss_gb():
    """This process's peak resident memory (``VmHWM``; reset by exec, unlike ``ru_maxrss``)."""
    with open("/proc/self/status") as fid:
        for line in fid:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024 ** 2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def full_epoch_child(args):
    """Train one full fast epoch; print JSON with seconds and peak RSS."""
    eeg, feats = make_data(args.n_trials, args.n_chans, args.n_times, args.n_features)
    data_gb = peak_rss_gb()
    model, opt = make_model("fast", args.n_chans, args.n_times, args.n_features)
    t0 = time.perf_counter()
    for x, y in gathered_batches(model, eeg, feats, args.batch_size):
        step(model, opt, x, y)
    seconds = time.perf_counter() - t0
    print(json.dumps({"epoch_s": seconds, "trials_per_s": args.n_trials / seconds,
                      "peak_rss_gb": peak_rss_gb(), "data_rss_gb": data_gb}))


def markdown(rows, child, args):
    """The results as a small Markdown table."""
    lines = [f"NICE training throughput, {args.n_trials} trials x {args.n_chans} x "
             f"{args.n_times}, batch {args.batch_size}, {torch.get_num_threads()} threads; "
             f"rates over {args.batches} batches after 1 warm-up, extrapolated to the epoch.",
             "", "| mode | trials/s | epoch (s, extrapolated) | x reference | x paper way |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['trials_per_s']:.1f} | {r['epoch_s_extrapolated']:.0f}"
                     f" | {r['vs_reference']:.1f} | {r['vs_paper']:.1f} |")
    if child:
        lines.append(f"| fast, full epoch measured | {child['trials_per_s']:.1f} | "
                     f"{child['epoch_s']:.0f} | | |")
        lines += ["", f"Peak RSS of a full fast epoch: {child['peak_rss_gb']:.2f} GB, of which "
                  f"{child['data_rss_gb']:.2f} GB is the process with the data loaded."]
    return "\n".join(lines)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-trials", type=int, default=16540)
    p.add_argument("--n-chans", type=int, default=63)
    p.add_argument("--n-times", type=int, default=250)
    p.add_argument("--n-features", type=int, default=768)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--batches", type=int, default=3, help="timed batches per mode")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--no-full-epoch", action="store_true", help="skip the full-epoch child")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.child:
        return full_epoch_child(args)
    eeg, feats = make_data(args.n_trials, args.n_chans, args.n_times, args.n_features)
    rows = run_modes(args, eeg, feats)
    del eeg, feats
    child = None
    if not args.no_full_epoch:
        cmd = [sys.executable, __file__, "--child"] + [
            f"--{k.replace('_', '-')}={getattr(args, k)}"
            for k in ("n_trials", "n_chans", "n_times", "n_features", "batch_size")]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        child = json.loads(out.strip().splitlines()[-1])
    machine = machine_info()
    print(markdown(rows, child, args) + "\n" + describe(machine))
    if args.json:
        write_json(args.json, {"rows": rows, "full_epoch": child, "args": vars(args),
                               "machine": machine})


if __name__ == "__main__":
    main()
