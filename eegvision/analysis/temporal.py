"""Where in time: retrain on time windows; a fast time-resolved linear curve.

Following NICE, samples outside a window are set to zero and the input keeps
its length, so every window trains the same architecture.
"""

from __future__ import annotations

import math
import re
import sys

import numpy as np

from .._utils import data_error, option_error
from ._base import derive_both
from ._base import run_condition as _run_condition
from .spec import POSITIVE_MS, TIME_MS, AnalysisSpec, Option

NAME = "temporal"
REFERENCE = "full"
DEFAULTS = {"mode": "sliding", "width": 100.0, "step": 100.0, "windows": None,
            "tmin_ms": 0.0, "tmax_ms": None}


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_WINDOW = re.compile(rf"^\s*({_NUM})\s*-\s*({_NUM})\s*$")
_WINDOWS_FIX = ("give windows as start-end in ms, e.g. --windows 0-100,100-200; "
                "pre-stimulus windows are negative: --windows -100-0")
_MAX_WINDOWS = 2000


def parse_windows(spec):
    """``"0-100,100-200"`` -> [(0.0, 100.0), (100.0, 200.0)] (milliseconds).

    Starts and ends may be negative (``-100-0``, ``-200--100``: before image onset).

    Raises
    ------
    OptionError
        Naming ``--windows``, the offending window and the fix.
    """
    if isinstance(spec, (list, tuple)):
        try:
            parts = [(f"{a}-{b}", float(a), float(b)) for a, b in spec]
        except (TypeError, ValueError):
            raise option_error("--windows", spec, "expected pairs of numbers (ms).",
                               _WINDOWS_FIX) from None
    else:
        parts = []
        for part in str(spec).split(","):
            match = _WINDOW.match(part)
            if not match:
                raise option_error("--windows", part.strip(), "cannot read it as start-end "
                                   "(ms).", _WINDOWS_FIX)
            parts.append((part.strip(), float(match[1]), float(match[2])))
    out = []
    for text, lo, hi in parts:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise option_error("--windows", text, "window edges must be finite.", _WINDOWS_FIX)
        if hi <= lo:
            raise option_error("--windows", text, "the window ends before (or where) it "
                               "starts.", _WINDOWS_FIX)
        out.append((lo, hi))
    if not out or len(out) > _MAX_WINDOWS:
        raise option_error("--windows", spec, f"give 1 to {_MAX_WINDOWS} windows.",
                           _WINDOWS_FIX)
    return out


def _grid(opts, start_ms, end_ms):
    """Windows from ``--mode``, ``--width`` and ``--step``, checked before any array is made."""
    width, step = opts["width"], opts["step"]
    for option, value in (("--width", width), ("--step", step)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise option_error(option, value, "must be a positive number of ms.",
                               "e.g. --width 100 --step 50")
    width, step, span = float(width), float(step), end_ms - start_ms
    if opts["mode"] == "sliding" and width > span:
        raise option_error("--width", width, f"is longer than the epoch ({start_ms:g} to "
                           f"{end_ms:g} ms).", f"use a width up to {span:g} ms")
    if span / step > _MAX_WINDOWS:
        raise option_error("--step", step, f"makes {span / step:.0f} windows over "
                           f"{span:g} ms (at most {_MAX_WINDOWS}).",
                           f"use --step {span / _MAX_WINDOWS:g} or more")
    if opts["mode"] == "cumulative":
        ends = np.arange(start_ms + step, end_ms + 1e-6, step)
        return [(start_ms, float(e)) for e in ends]
    if opts["mode"] == "tail":
        starts = np.arange(start_ms, end_ms - step + 1e-6, step)
        return [(float(s), float(end_ms)) for s in starts]
    if opts["mode"] == "sliding":
        starts = np.arange(start_ms, end_ms - width + 1e-6, step)
        return [(float(s), float(s + width)) for s in starts]
    raise option_error("--mode", opts["mode"], "temporal takes sliding, cumulative or tail.",
                       "use --mode sliding (default), cumulative or tail")


def conditions(options, ref):
    """Windows (ms): ``sliding`` (width, step), ``cumulative`` ([onset, t]), ``tail``
    ([t, end]) or an explicit ``windows`` list; plus the whole-epoch reference
    (from ``tmin_ms``, image onset by default, to the end of the epoch)."""
    times = ref.times
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    if len(times) < 2:
        raise data_error(ref.meta.get("source", "data"), f"epochs of {len(times)} sample: "
                         "no time windows to compare.", "use epochs of several samples.")
    end_ms = opts["tmax_ms"] if opts["tmax_ms"] is not None else (times[-1] * 1000 + 1e3 / _sfreq(times))
    start_ms = opts["tmin_ms"]
    wins = parse_windows(opts["windows"]) if opts["windows"] else _grid(opts, start_ms, end_ms)
    if not wins:
        raise option_error("--width", opts["width"], f"no window fits in {start_ms:g}-"
                           f"{end_ms:.0f} ms.", "use a smaller --width")
    times_ms = times * 1000
    empty = [f"{lo:g}-{hi:g}" for lo, hi in wins
             if not ((times_ms >= lo) & (times_ms < hi)).any()]
    if empty:
        raise option_error("--windows", ",".join(empty), f"no sample of the data "
                           f"({times_ms[0]:.0f} to {end_ms:.0f} ms, every "
                           f"{1e3 / _sfreq(times):g} ms) falls in these windows.",
                           "choose windows inside the data's time range")
    # the whole-epoch reference starts at image onset (tmin_ms, 0 by default): a baseline
    # before it is not part of "the whole epoch" unless tmin_ms asks for it
    full = (REFERENCE, {"tmin_ms": float(max(times[0] * 1000, start_ms)), "tmax_ms": float(end_ms)})
    return [full] + [(f"{lo:g}-{hi:g}ms", {"tmin_ms": lo, "tmax_ms": hi}) for lo, hi in wins]


def _sfreq(times):
    return 1.0 / np.median(np.diff(times))


def derive(data, params):
    """Zero everything outside ``[tmin_ms, tmax_ms)``."""
    lo, hi = params["tmin_ms"] / 1000, params["tmax_ms"] / 1000
    return derive_both(data, lambda d: d.mask_time(lo, hi, include_tmax=False))


def run_condition(data, job, derived, fitted=None):

    return _run_condition(data, job, derived, fitted)


def time_resolved(data, *, width_samples=5, step_samples=None, ks=(1, 5), bar=None):
    """Top-k at every sample from a ridge decoder on a short sliding window.

    MNE's :class:`~mne.decoding.SlidingEstimator` over
    :class:`eegvision.decoding.RidgeDecoder` (the package's ridge): one
    decoder per time point, fitted on the training set (channels x
    ``width_samples`` samples around the point; zeros past the epoch's edges,
    which the ridge leaves out) and scored by zero-shot retrieval on the test
    set. Seconds per subject, no training loop: a fast look before the window
    sweep.

    Parameters
    ----------
    data : SubjectData
        Training and test containers (averaged over repetitions here).
    width_samples : int
        Samples per window (odd: centred on the time point).
    step_samples : int | None
        Time points between decoders; None: one every ~8 ms.
    ks : sequence of int
        Top-k values scored.
    bar : tqdm | None
        A progress bar advanced by one per time point scored.

    Returns
    -------
    DataFrame with columns ``time_ms, top1, top5``.
    """
    import pandas as pd
    from mne.decoding import SlidingEstimator

    from ..decoding import RidgeDecoder, retrieval_scorer

    train, test = data.train.average_repetitions(), data.test.average_repetitions()
    if step_samples is None:
        step_samples = _step(train.sfreq)
    points = np.arange(0, train.n_times, step_samples)
    x_train = _windows(train.eeg, width_samples, step_samples)
    x_test = _windows(test.eeg, width_samples, step_samples)
    # MNE's SlidingEstimator takes 1-D targets: each row's index into its feature table
    decoder = RidgeDecoder(features=np.concatenate([train.features, test.features]))
    y_train, y_test = np.arange(train.n_trials), train.n_trials + np.arange(test.n_trials)
    scores = {k: [] for k in ks}
    # SlidingEstimator copies its input to float64: a block of time points at a time
    # bounds that copy to ~256 MB whatever the number of training images
    per_point = x_train[..., 0].size * 8
    n_blocks = max(int(np.ceil(per_point * len(points) / 2**28)),  # and ~8 steps of the bar
                   min(len(points), 8) if bar is not None and not bar.disable else 1)
    for block in np.array_split(np.arange(len(points)), n_blocks):
        sliding = SlidingEstimator(decoder, verbose=False).fit(x_train[..., block], y_train)
        for k in ks:
            sliding.scoring = retrieval_scorer(k)
            scores[k].append(sliding.score(x_test[..., block], y_test))
        if bar is not None:
            bar.update(len(block))
    out = {"time_ms": train.times[points] * 1000}
    out.update({f"top{k}": np.concatenate(scores[k]) for k in ks})
    return pd.DataFrame(out)


def _step(sfreq):
    """One time point every ~8 ms: 125 fits for a 1-s epoch at 250 Hz."""
    return max(1, int(round(0.008 * sfreq)))


def _windows(eeg, width, step):
    """View ``(n, n_channels, width, n_points)``: the window around every ``step``-th sample.

    A strided view of the zero-padded EEG, so memory stays one copy of the data.
    """
    half = width // 2
    padded = np.pad(eeg, ((0, 0), (0, 0), (half, width - 1 - half)))
    view = np.lib.stride_tricks.sliding_window_view(padded, width, axis=2)
    return view[:, :, ::step, :].transpose(0, 1, 3, 2)


def timecourse(context):
    """The time-resolved ridge curve of every subject of ``context``, one table."""
    import pandas as pd

    from .._utils import progress_bar

    curves, subjects = [], context["subjects"]
    with progress_bar(desc="time-resolved curve", unit="point",
                      enabled=context.get("progress", True)) as bar:
        for subject in subjects:
            data = context["data"](subject)
            if bar.total is None:  # every subject's points, counted from the first
                bar.total = len(subjects) * len(range(0, data.train.n_times,
                                                      _step(data.train.sfreq)))
            curve = time_resolved(data, bar=bar)
            curve.insert(0, "subject", subject)
            curves.append(curve)
    return pd.concat(curves, ignore_index=True)


def preview(options, context):
    """First results, before the window sweep: the time-resolved curve (seconds).

    Returns ``{"timecourse": table}`` (``{}`` with ``options['timecourse'] =
    False``); :func:`postprocess` reuses it.
    """
    if options.get("timecourse", True) is False:
        return {}
    tc = timecourse(context)
    # the preview figure's chance line: candidates = the test concepts (as time_resolved scores)
    first = context["data"](context["subjects"][0])
    tc.attrs["n_way"] = first.test.average_repetitions().n_trials
    return {"timecourse": tc}


def postprocess(df, results, options, context):
    """Add the time-resolved ridge curve per subject and its cluster test.

    Skipped with ``options['timecourse'] = False``; the curve is
    :func:`preview`'s when ``context['preview']`` has it.
    """
    import pandas as pd

    from .stats import cluster_test

    if options.get("timecourse", True) is False:
        return {}
    tc = context.get("preview", {}).get("timecourse")
    if tc is None:
        tc = timecourse(context)
    n_way = int(df["n_way"].iloc[0]) if "n_way" in df else 200
    wide = tc.pivot(index="subject", columns="time_ms", values="top1")
    spans, pvals = cluster_test(wide.to_numpy(), 1.0 / n_way)
    times = wide.columns.to_numpy()
    clusters = pd.DataFrame([{"start_ms": times[a], "stop_ms": times[b - 1], "p": p}
                             for (a, b), p in zip(spans, pvals)],
                            columns=["start_ms", "stop_ms", "p"])
    return {"timecourse": tc, "clusters": clusters}


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "temporal", sys.modules[__name__],
    summary="Which time windows carry the information: one model per window (the rest zeroed).",
    figure="eegvision.viz.analysis_figures:temporal",
    options=(
        Option("mode", "str", DEFAULTS["mode"], "sliding|cumulative|tail windows", cli=True),
        Option("width", "float", DEFAULTS["width"], "window width in ms", POSITIVE_MS, cli=True),
        Option("step", "float", DEFAULTS["step"], "window step in ms", POSITIVE_MS, cli=True),
        Option("windows", "str", None, "explicit windows in ms, 0-100,100-200", cli=True),
        Option("tmin_ms", "float", DEFAULTS["tmin_ms"], "start of the window grid (ms)", TIME_MS),
        Option("tmax_ms", "float", DEFAULTS["tmax_ms"], "end of the window grid (ms; None: the "
               "epoch's end)", TIME_MS),
        Option("timecourse", "bool", True, "also the time-resolved curve (shown first)"),
    ))
