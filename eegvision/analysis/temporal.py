"""Where in time: retrain on time windows; a fast time-resolved linear curve.

Following NICE, samples outside a window are set to zero and the input keeps
its length, so every window trains the same architecture.
"""

from __future__ import annotations

import numpy as np

from ._base import derive_both
from ._base import run_condition as _run_condition

NAME = "temporal"
REFERENCE = "full"
DEFAULTS = {"mode": "sliding", "width": 100.0, "step": 100.0, "windows": None,
            "tmin_ms": 0.0, "tmax_ms": None}


def parse_windows(spec):
    """``"0-100,100-200"`` -> [(0.0, 100.0), (100.0, 200.0)] (milliseconds)."""
    if isinstance(spec, (list, tuple)):
        return [(float(a), float(b)) for a, b in spec]
    out = []
    for part in str(spec).split(","):
        try:
            lo, hi = (float(x) for x in part.strip().split("-"))
        except ValueError:
            raise ValueError(f"--windows: cannot parse {part!r}; use e.g. 0-100,100-200 (ms).") from None
        if hi <= lo:
            raise ValueError(f"--windows: window {part!r} ends before it starts.")
        out.append((lo, hi))
    return out


def conditions(options, ref):
    """Windows (ms): ``sliding`` (width, step), ``cumulative`` ([onset, t]), ``tail``
    ([t, end]) or an explicit ``windows`` list; plus the whole-epoch reference."""
    times = ref.times
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    end_ms = opts["tmax_ms"] if opts["tmax_ms"] is not None else (times[-1] * 1000 + 1e3 / _sfreq(times))
    start_ms = opts["tmin_ms"]
    if opts["windows"]:
        wins = parse_windows(opts["windows"])
    else:
        width, step = float(opts["width"]), float(opts["step"])
        if width <= 0 or step <= 0:
            raise ValueError("--width and --step must be positive (ms).")
        if opts["mode"] == "cumulative":
            ends = np.arange(start_ms + step, end_ms + 1e-6, step)
            wins = [(start_ms, float(e)) for e in ends]
        elif opts["mode"] == "tail":
            starts = np.arange(start_ms, end_ms - step + 1e-6, step)
            wins = [(float(s), float(end_ms)) for s in starts]
        elif opts["mode"] == "sliding":
            starts = np.arange(start_ms, end_ms - width + 1e-6, step)
            wins = [(float(s), float(s + width)) for s in starts]
        else:
            raise ValueError(f"--mode {opts['mode']!r}: temporal takes sliding, cumulative or tail.")
    if not wins:
        raise ValueError(f"No window of {opts['width']} ms fits in {start_ms}-{end_ms:.0f} ms.")
    first_ms = times[0] * 1000
    outside = [f"{lo:g}-{hi:g}" for lo, hi in wins if hi <= first_ms or lo >= end_ms]
    if outside:
        raise ValueError(f"--windows {', '.join(outside)} ms lie outside the data "
                         f"({first_ms:.0f}-{end_ms:.0f} ms). Fix: choose windows inside it.")
    full = (REFERENCE, {"tmin_ms": float(times[0] * 1000), "tmax_ms": float(end_ms)})
    return [full] + [(f"{lo:g}-{hi:g}ms", {"tmin_ms": lo, "tmax_ms": hi}) for lo, hi in wins]


def _sfreq(times):
    return 1.0 / np.median(np.diff(times))


def derive(data, params):
    """Zero everything outside ``[tmin_ms, tmax_ms)``."""
    lo, hi = params["tmin_ms"] / 1000, params["tmax_ms"] / 1000
    return derive_both(data, lambda d: d.mask_time(lo, hi, include_tmax=False))


def run_condition(data, job):
    import sys

    return _run_condition(sys.modules[__name__], data, job)


def time_resolved(data, *, width_samples=5, step_samples=None, ks=(1, 5)):
    """Top-k at every sample from a ridge decoder on a short sliding window.

    Like MNE's ``SlidingEstimator``: one linear model per time point, fitted on
    the training set (channels x ``width_samples`` around the point) and scored
    by zero-shot retrieval on the test set. Seconds per subject, no training
    loop: a fast look before the window sweep.

    Returns
    -------
    DataFrame with columns ``time_ms, top1, top5``.
    """
    import pandas as pd
    from sklearn.linear_model import RidgeCV

    from ..evaluate import zero_shot_scores

    train, test = data.train.average_repetitions(), data.test.average_repetitions()
    if step_samples is None:  # one point every ~8 ms: 125 fits for a 1-s epoch at 250 Hz
        step_samples = max(1, int(round(0.008 * train.sfreq)))
    half = width_samples // 2
    rows = []
    Y = train.features - train.features.mean(0)
    alphas = np.logspace(0, 5, 6)
    for t in range(0, train.n_times, step_samples):
        sl = slice(max(0, t - half), min(train.n_times, t + half + 1))
        Xtr = train.eeg[:, :, sl].reshape(train.n_trials, -1)
        Xte = test.eeg[:, :, sl].reshape(test.n_trials, -1)
        mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-8
        Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
        pred = RidgeCV(alphas=alphas).fit(Xtr, Y).predict(Xte)
        scores = zero_shot_scores(pred, test.features, ks=ks)
        rows.append({"time_ms": float(train.times[t] * 1000),
                     **{f"top{k}": scores[f"top{k}"] for k in ks}})
    return pd.DataFrame(rows)


def timecourse(context):
    """The time-resolved ridge curve of every subject of ``context``, one table."""
    import pandas as pd

    from ..data.things import load_subject

    curves = []
    for subject in context["subjects"]:
        data = load_subject(context["root"], subject, layout=context["layout"],
                            targets=context["targets"])
        curve = time_resolved(data)
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
    return {"timecourse": timecourse(context)}


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
