"""The prepared GPU check: eegvision's CUDA paths in one command, under 8 minutes on one H100.

What it runs, each step timed, caught and reported in ONE table at the end
(step, status, wall seconds, peak GPU memory, test top-1, ratio):

1. ``cuda tests``: ``pytest -m cuda`` (``tests/test_cuda.py``: ``--device
   cuda`` train and evaluate, bf16 autocast, fp16 autocast with a
   GradScaler, the sweep engine's per-device RNG state against lone fits,
   ``features --device cuda`` with a random tiny CLIP, saliency maps and
   ``topomap`` on the device, the blur recipes and the scikit-learn
   estimator). Without CUDA they skip, and this step checks
   that every one skipped for that reason.
2. A simulated subject made in memory in seconds, nothing downloaded or
   written: ``--size full`` (default) has THINGS-EEG2's dimensions, 16540
   training conditions (averaged) x 63 channels x 250 samples, 768-d
   features, and the 200-way test set. A planted low-rank signal (100-400
   ms, the features through a random projection) makes top-1 mean
   something: chance is 0.5 %.
3. ``train``: one fit with each registered encoder (``fast`` recipe,
   ``--epochs``), in float32 and under autocast (bf16 on GPUs that have it,
   else fp16 with a GradScaler), scored on the test set. Ratio: the encoder's
   float32 wall time / its autocast wall time (none where both ran in
   float32: a CPU without native bf16).
4. ``sweep``: the temporal analysis' 11 models (whole epoch + ten 100-ms
   windows, ``sweep`` recipe, ``--epochs``) batched (the sweep engine) and
   one at a time (``--no-batch``). Ratio: one-at-a-time wall / batched wall
   (the engine's throughput gain; > 1 means the engine is faster).
5. ``topomap`` (the saliency analysis, gradient maps, on the device) and
   ``features`` (a random CLIP built from a config, on JPEGs written to a
   temporary folder, deleted afterwards).

Each step has a time budget (``--step-budget-s``; the test run
``--tests-budget-s``) and the whole check one (``--budget-s``, 450 s): a
step stops at whichever comes first, and steps that would start after it
are not run; either counts as a failure. The exit status is 0 only when every
step passed, else 1 (2 for a bad option, e.g. ``--device cuda`` without
CUDA).

Time on an H100 (estimate, not yet measured: no GPU was lent when this was
written). The ``fast`` recipe's epoch on a full-size subject is about 10 s on
2 CPU cores (docs/training.md, 1720 trials/s fused float32). NICE's
unfused code takes about 1.5 s per epoch on an RTX 4090 (5 min for 200
epochs); the H100 is at least as fast, and these models are small enough
that kernel launches, not arithmetic, set the pace: about 1 s per epoch
(ATM and the attention encoders up to 2 s), plus 2-5 s of set-up, transfer
and scoring per fit. So: 16 fits of 2 epochs about 2 min; the sweep, 22
model-epochs and 11 set-ups in each mode, about 1.5 min for both (each
model holds its own 1 GB copy of the masked EEG on the GPU: about 12 GB at
the batched sweep's peak); topomap, features and the data about 45 s; the
15 cuda tests 1-1.5 min (their simulated roots, CUDA start-up). About 5
minutes in all, inside the 8-minute limit; the budgets stop it at 7.5
minutes whatever happens.

Running it on a GPU machine that has no package index (the device
machines' ``python3`` holds CUDA torch, transformers, scikit-learn, scipy,
pandas, matplotlib, pytest, but not mne and its pure-Python needs).
Here, in the repository root (``.whl/`` is in ``.gitignore``), with the
versions ``pip list`` shows here::

    python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux_2_28_x86_64 \\
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \\
        -d .whl mne==1.13.2 pooch==1.9.0 decorator==5.3.2 platformdirs==4.14.9

(all four are pure Python, 7.6 MB together), then carry ``.whl`` to the
GPU machine (the device tool: ``carry: [".whl"]``) and run there, from the
repository root::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \\
        --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit
    PYTHONPATH=$PWD:$PYTHONPATH PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py \\
        --json $OUT/gpu_check.json 2>&1 | tee $OUT/gpu_check.log

(with a time limit of 9-10 minutes, which leaves room in a 15-minute lease
for a second run after a fix). On a machine with internet, ``pip install -e
.[test]`` replaces the wheels. The CPU-only smoke run (what CI runs, about
20 s)::

    python benchmarks/gpu_check.py --device cpu --size tiny --epochs 1
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: the checkout's eegvision
    sys.path.insert(0, str(REPO))

#: Data sizes: ``full`` is a THINGS-EEG2 subject (training averaged over its 4 repetitions);
#: the sweep's windows are ``window_ms`` wide (tiny: 4 windows + the whole epoch, for CI).
SIZES = {
    "full": dict(n_train=16540, n_test=200, n_chans=63, n_times=250, sfreq=250.0,
                 n_features=768, n_images=(1000, 200), window_ms=100.0),
    "small": dict(n_train=1654, n_test=200, n_chans=63, n_times=250, sfreq=250.0,
                  n_features=768, n_images=(200, 50), window_ms=100.0),
    "tiny": dict(n_train=60, n_test=20, n_chans=17, n_times=100, sfreq=100.0,
                 n_features=32, n_images=(20, 10), window_ms=250.0),
}
#: What a cuda test's skip reason says when CUDA is absent (tests/conftest.py words it).
SKIP_WORDS = "needs CUDA"


class StepTimeout(Exception):
    """A step ran past its time budget."""


@contextlib.contextmanager
def _budget(seconds):
    """Raise :class:`StepTimeout` in this (main) thread after ``seconds`` (where SIGALRM exists)."""
    if not hasattr(signal, "SIGALRM") or seconds is None:
        yield
        return

    def alarm(signum, frame):
        raise StepTimeout(f"stopped after {seconds:.0f} s (its budget, or what was left of "
                          "the check's)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- data
def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_subject(size="full", seed=0, snr=0.3, n_latent=16):
    """A :class:`~eegvision.data.SubjectData` of random EEG with a planted signal, in memory.

    The image features (unit norm) pass through a random ``n_latent``-d
    projection; each latent drives one scalp pattern with one waveform that
    lives between 100 and 400 ms; Gaussian noise on top, with the test set's
    noise that of an 80-repetition average (the training set: 4). Made in
    float32 with one generator, a few seconds at full size.
    """
    from eegvision.data.container import EEGImageData, SubjectData
    from eegvision.data.montage import OFFICIAL_17_CHANNELS, THINGS_EEG2_CHANNELS

    s = SIZES[size]
    names = {63: THINGS_EEG2_CHANNELS, 17: OFFICIAL_17_CHANNELS}[s["n_chans"]]  # a montage
    rng = np.random.default_rng(seed)
    n_ch, n_t, d = s["n_chans"], s["n_times"], s["n_features"]
    times = np.arange(n_t) / s["sfreq"]
    proj = np.linalg.qr(rng.standard_normal((d, n_latent)))[0] * np.sqrt(d / n_latent)
    window = np.sin(np.pi * np.clip((times - 0.1) / 0.3, 0, 1)) ** 2
    waves = np.sin(2 * np.pi * rng.uniform(4, 12, (n_latent, 1)) * times
                   + rng.uniform(0, 2 * np.pi, (n_latent, 1))) * window
    patterns = rng.standard_normal((n_latent, n_ch, 1))
    basis = (patterns * waves[:, None, :]).reshape(n_latent, -1).astype(np.float32)
    basis *= np.float32(np.sqrt(snr * n_ch * n_t / (basis ** 2).sum() * n_latent))

    def container(n, reps, offset, source):
        feats = _unit(rng.standard_normal((n, d))).astype(np.float32)
        eeg = ((feats @ proj).astype(np.float32) @ basis).reshape(n, n_ch, n_t)
        eeg += rng.standard_normal(eeg.shape, dtype=np.float32) / np.float32(np.sqrt(reps))
        ids = np.arange(offset, offset + n)
        return EEGImageData(eeg, feats, np.array([f"c{i}" for i in ids]),
                            list(names), times, sfreq=s["sfreq"],
                            conditions=ids, meta={"source": f"gpu_check {source} ({size})",
                                                  "averaged_per_subject": True}, validate=False)

    return SubjectData(1, container(s["n_train"], 4, 0, "training"),
                       container(s["n_test"], 80, 100000, "test"))


# ---------------------------------------------------------------- steps
def step_tests(args):
    """``pytest -m cuda``: all pass with CUDA; without it all skip, each for that reason."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-rs", "-p", "no:cacheprovider",
               f"--junitxml={xml}", *args.tests]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=args.tests_budget_s)
        except subprocess.TimeoutExpired:
            raise StepTimeout(f"over its {args.tests_budget_s:g}-s budget") from None
        outcomes = parse_junit(xml) if xml.is_file() else {}
    counts = {k: sum(1 for o, _ in outcomes.values() if o == k)
              for k in ("passed", "skipped", "failed")}
    note = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    row = dict(note=note or "no tests ran", outcomes=outcomes, returncode=proc.returncode)
    if not outcomes:
        raise RuntimeError(f"pytest collected no cuda test (exit {proc.returncode}): "
                           + _last_line(proc.stdout + proc.stderr))
    if args.device == "cuda":
        if counts["passed"] != len(outcomes):
            bad = [f"{name}: {msg}" for name, (o, msg) in outcomes.items() if o != "passed"]
            raise RuntimeError(f"{note}; first: {bad[0]}")
    else:
        wrong = [name for name, (o, msg) in outcomes.items()
                 if o != "skipped" or SKIP_WORDS not in msg]
        if wrong:
            raise RuntimeError(f"without CUDA every cuda test must skip ({SKIP_WORDS}); "
                               f"not so: {', '.join(wrong)}")
        row["note"] = f"{counts['skipped']} skipped ({SKIP_WORDS}), as expected without CUDA"
    return row


def cuda_test_files(folder=REPO / "tests"):
    """The test files that mark tests ``cuda`` (relative to the repository)."""
    return [str(f.relative_to(REPO)) for f in sorted(Path(folder).rglob("test_*.py"))
            if "mark.cuda" in f.read_text(encoding="utf-8")]


def parse_junit(path):
    """``{test id: (outcome, message)}`` from a pytest JUnit XML file."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for tag in ("skipped", "failure", "error"):
            el = case.find(tag)
            if el is not None:
                outcome = {"failure": "failed", "error": "failed"}.get(tag, tag)
                message = el.get("message") or (el.text or "").strip()
                break
        out[name] = (outcome, message)
    return out


def _last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def step_train(args, data, encoder, amp):
    """One ``fast`` fit of ``encoder`` on the device, scored on the 200-way test set."""
    from eegvision.evaluate import evaluate
    from eegvision.training import TrainConfig, fit

    config = TrainConfig.from_recipe("fast", model=encoder, epochs=args.epochs, amp=amp,
                                     device=args.device, seed=0)
    result = fit(data.train, config, progress=False)
    top1 = evaluate(result.model, data.test)["top1"]
    epoch_s = float(np.diff(np.r_[0.0, result.history["seconds"].to_numpy()])[-1])
    return dict(top1=top1, note=f"{result.precision}, last epoch {epoch_s:.2f} s",
                precision=result.precision, train_seconds=result.train_seconds)


def step_sweep(args, data, batch):
    """The temporal analysis' 11 window models, with the sweep engine or one at a time."""
    from eegvision.pipeline import analyze

    width = SIZES[args.size]["window_ms"]
    df = analyze("temporal", data=data, epochs=args.epochs, device=args.device, batch=batch,
                 plot=False, progress=False, noise_ceiling=False, timecourse=False,
                 width=width, step=width)
    n = len(df)
    from eegvision.analysis.temporal import REFERENCE

    whole = df.loc[df["condition"] == REFERENCE, "top1"]
    best = df.loc[df["condition"] != REFERENCE, ["condition", "top1"]].sort_values("top1").iloc[-1]
    return dict(top1=float(whole.iloc[0]) if len(whole) else math.nan, models=n,
                note=f"{n} models x {args.epochs} epochs; best window {best['condition']} "
                     f"{best['top1']:.1%}")


def step_topomap(args, data):
    """The saliency analysis (``eegvision topomap``): a ``fast`` fit, then gradient maps."""
    from eegvision.pipeline import analyze

    df = analyze("saliency", data=data, epochs=args.epochs, device=args.device, plot=False,
                 progress=False, noise_ceiling=False, n_permutations=100)
    maps = df.attrs.get("extras", {})
    return dict(top1=float(df["top1"].iloc[0]), note=f"method {df['method'].iloc[0]}"
                + (f", {len(maps)} map tables" if maps else ""))


def step_features(args):
    """``extract_features`` with a random CLIP made from a config, on JPEGs written for it."""
    from eegvision.images import extract_features

    n_train, n_test = SIZES[args.size]["n_images"]
    with tempfile.TemporaryDirectory() as tmp:
        root, clip = _image_root(Path(tmp), n_train, n_test, tiny=args.size == "tiny")
        t0 = time.perf_counter()
        man = extract_features(root, "check", str(clip), device=args.device, batch_size=64,
                               progress=False)
        seconds = time.perf_counter() - t0
        shape = man["files"]["clip_feature_maps_training.npy"]
    n = n_train + n_test
    return dict(note=f"{n} images in {seconds:.1f} s ({n / seconds:.0f} img/s), "
                     f"features {shape[0]} x {shape[1]}")


def _image_root(tmp, n_train, n_test, tiny):
    """A THINGS-EEG2-shaped image set of random JPEGs, and a random CLIP saved from a config."""
    import torch
    from PIL import Image
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    root = tmp / "root"
    meta = {}
    rng = np.random.default_rng(0)
    for split, key, n in (("training_images", "train", n_train), ("test_images", "test", n_test)):
        concepts = [f"{i + 1:05d}_{key}{i}" for i in range(n)]
        files = [f"{key}{i}_01.jpg" for i in range(n)]
        meta.update({f"{key}_img_concepts": concepts, f"{key}_img_files": files})
        for concept, name in zip(concepts, files, strict=True):
            path = root / "image_set" / split / concept / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    box = np.empty((), dtype=object)  # the published file: a pickled dict in a 0-d array
    box[()] = meta
    np.save(root / "image_set" / "image_metadata.npy", box)
    # ViT-B/32's layout at a quarter of its width and depth (tiny: a few thousand weights)
    hidden, layers, image = (16, 1, 32) if tiny else (192, 3, 224)
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, vocab_size=64, max_position_embeddings=8),
        vision_config=dict(hidden_size=hidden, intermediate_size=4 * hidden,
                           num_hidden_layers=layers, num_attention_heads=4 if not tiny else 2,
                           image_size=image, patch_size=32 if not tiny else 8),
        projection_dim=128 if not tiny else 12)
    clip = tmp / "clip"
    CLIPModel(cfg).save_pretrained(clip)
    CLIPImageProcessor(size={"shortest_edge": image},
                       crop_size={"height": image, "width": image}).save_pretrained(clip)
    return root, clip


# ---------------------------------------------------------------- running
class Check:
    """Runs steps in order, each timed, budgeted and caught; collects the table rows."""

    def __init__(self, args):
        self.args, self.rows, self.t0 = args, [], time.perf_counter()
        self.cuda = args.device == "cuda"

    def run(self, name, fn, *fn_args):
        """Run ``fn(*fn_args)`` as step ``name``; returns its row (``status`` 'ok' or why not)."""
        row = dict(step=name, status="ok", wall_s=math.nan, peak_gpu_mib=math.nan,
                   top1=math.nan, ratio=math.nan, note="")
        spent = time.perf_counter() - self.t0
        if spent > self.args.budget_s:
            row.update(status="not run", note=f"the check's {self.args.budget_s:g}-s budget "
                                              f"was spent ({spent:.0f} s)")
            return self._add(row)
        self._reset_peak()
        t, cpu = time.perf_counter(), time.process_time()
        # a step stops at its own budget or at the check's, whichever comes first
        limit = max(0.01, min(self.args.step_budget_s, self.args.budget_s - spent))
        try:
            with _budget(None if name == "cuda tests" else limit):
                row.update(fn(*fn_args) or {})
        except StepTimeout as err:
            row.update(status="timeout", note=str(err))
        except Exception as err:  # noqa: BLE001 - every failure is reported, the check goes on
            row.update(status="FAILED", note=f"{type(err).__name__}: {err}".splitlines()[0])
        row["wall_s"] = time.perf_counter() - t
        row["cpu_s"] = time.process_time() - cpu  # this process's CPU time (in the JSON only)
        row["peak_gpu_mib"] = self._peak()
        return self._add(row)

    def _add(self, row):
        self.rows.append(row)
        print(f"[{time.perf_counter() - self.t0:6.1f} s] {row['step']}: {row['status']} "
              f"{row['note']}", file=sys.stderr, flush=True)
        return row

    def _reset_peak(self):
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def _peak(self):
        if not self.cuda:
            return math.nan
        import torch

        with contextlib.suppress(Exception):  # a failed step may have left the device unusable
            torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20

    @property
    def ok(self):
        return all(r["status"] == "ok" for r in self.rows)


def run_check(args):
    """All steps; returns the :class:`Check` with its rows."""
    check = Check(args)
    if not args.skip_tests:
        check.run("cuda tests", step_tests, args)
    holder = {}
    check.run(f"data ({args.size})", lambda: holder.update(data=make_subject(args.size)) or
              dict(note=_describe(holder["data"])))
    data = holder.get("data")
    for encoder in args.encoders:
        rows = [check.run(f"train {encoder} {name}", _needs(data, step_train), args, data,
                          encoder, amp) for name, amp in (("float32", False), ("autocast", True))]
        # (a CPU without native bf16 trains both in float32: no ratio to take)
        if all(r["status"] == "ok" for r in rows) and rows[0]["precision"] != rows[1]["precision"]:
            rows[1]["ratio"] = rows[0]["wall_s"] / rows[1]["wall_s"]
    batched = check.run("sweep batched", _needs(data, step_sweep), args, data, True)
    alone = check.run("sweep one at a time", _needs(data, step_sweep), args, data, False)
    if batched["status"] == alone["status"] == "ok":
        batched["ratio"] = alone["wall_s"] / batched["wall_s"]
    check.run("topomap", _needs(data, step_topomap), args, data)
    check.run("features", step_features, args)
    return check


def _needs(data, fn):
    def step(*a):
        if data is None:
            raise RuntimeError("no data: the data step failed")
        return fn(*a)
    return step


def _describe(data):
    tr, te = data.train, data.test
    return (f"train {tr.n_trials} x {tr.n_channels} x {tr.n_times}, "
            f"test {te.n_trials} ({te.n_trials}-way), {tr.n_features}-d features, "
            f"{(tr.eeg.nbytes + te.eeg.nbytes) / 2**30:.2f} GiB")


def format_table(rows):
    """The one table: step, status, wall s, peak GPU MiB, top-1, ratio, note."""
    head = ("step", "status", "wall s", "peak GPU MiB", "top-1", "ratio", "note")
    body = [(r["step"], r["status"], _num(r["wall_s"], "{:.1f}"),
             _num(r["peak_gpu_mib"], "{:.0f}"), _num(r["top1"], "{:.1%}"),
             _num(r["ratio"], "{:.2f}x"), r["note"]) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = "| " + " | ".join(f"{{:{w}}}" for w in widths) + " |"
    out = [line.format(*head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line.format(*b) for b in body])


def _num(value, fmt):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else fmt.format(value)


def device_line(device):
    """One line: the GPU (or CPU), torch and CUDA versions."""
    import torch

    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        return (f"device: {props.name}, {props.total_memory / 2**30:.0f} GiB, torch "
                f"{torch.__version__}, CUDA {torch.version.cuda}, bf16 "
                f"{torch.cuda.is_bf16_supported()}")
    return f"device: CPU ({os.cpu_count()} cores), torch {torch.__version__}"


def build_parser():
    from eegvision.models import list_encoders

    p = argparse.ArgumentParser(prog="gpu_check.py", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                   help="cuda (default); cpu runs the same steps as a smoke test")
    p.add_argument("--size", default="full", choices=tuple(SIZES),
                   help="full: 16540 x 63 x 250 (default); small: 1654 conditions; tiny: CI")
    p.add_argument("--epochs", type=int, default=2, help="epochs of every fit (default 2)")
    p.add_argument("--quick", action="store_true",
                   help="one epoch, and only the nice and atm encoders")
    p.add_argument("--encoders", default=",".join(list_encoders()),
                   help="comma list (default: every registered encoder)")
    p.add_argument("--budget-s", type=float, default=450.0,
                   help="the whole check stops after this many seconds (default 450)")
    p.add_argument("--step-budget-s", type=float, default=120.0,
                   help="each step's time budget (default 120)")
    p.add_argument("--tests-budget-s", type=float, default=180.0,
                   help="the cuda tests' time budget (default 180)")
    p.add_argument("--tests", nargs="*", default=None,
                   help="files or folders for pytest (default: the files under tests/ that "
                        "mark tests cuda, so no other test's imports are needed)")
    p.add_argument("--skip-tests", action="store_true", help="leave out the cuda tests")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    return p


def parse_args(argv=None):
    """Parsed options; a bad one exits 2 with one line, as eegvision's commands do."""
    from eegvision.models import list_encoders

    p = build_parser()
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs {args.epochs}: need at least 1.")
    if args.quick:
        args.epochs, args.encoders = 1, "nice,atm"
    args.encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    args.tests = args.tests or cuda_test_files()
    unknown = sorted(set(args.encoders) - set(list_encoders()))
    if unknown:
        p.error(f"--encoders: unknown {', '.join(unknown)}; known: {', '.join(list_encoders())}.")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            p.error(f"--device cuda: CUDA is not available (torch {torch.__version__}); "
                    "run on a GPU machine, or --device cpu for the CPU smoke run.")
    return args


def main(argv=None):
    """Run the check; returns the exit status (0: every step passed)."""
    args = parse_args(argv)
    print(device_line(args.device), flush=True)
    check = run_check(args)
    print(format_table(check.rows))
    total = time.perf_counter() - check.t0
    print(f"ratio: train rows, float32 wall / autocast wall; sweep batched, one-at-a-time wall "
          f"/ batched wall. Total {total:.0f} s. "
          + ("All steps passed." if check.ok else "FAILED: see the status column."))
    if args.json:
        from eegvision._utils import write_json

        write_json(args.json, dict(device=device_line(args.device), settings=vars(args),
                                   total_s=total, ok=check.ok, rows=check.rows))
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
