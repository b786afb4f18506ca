"""Temporal generalisation: train on window A, test on window B.

Two matrices per subject, each with a cluster-corrected test against chance
across subjects (:func:`eegvision.analysis.stats.cluster_mask`):

- the analysis' model (``--model``, any encoder or ridge) retrained per
  window as the temporal analysis does (samples outside the window set to
  zero, the input keeps its length), then tested on the test set zeroed
  outside *every* window: one job per training window scores its row of
  the window x window matrix;
- a time-by-time matrix from a ridge decoder per training time point (all
  channels over ``width_samples`` samples), scored by zero-shot retrieval at
  every test time point: the GeneralizingEstimator of MNE, with retrieval as
  the score. Skipped with ``timebytime = false``.
"""

from __future__ import annotations

import sys

import numpy as np

from . import temporal
from ._base import derive_both, fit_and_score
from .spec import POSITIVE_MS, TIME_MS, AnalysisSpec, Option

NAME = "generalization"


def conditions(options, ref):
    """One condition per training window (sliding ``width``/``step`` or ``windows``)."""
    opts = {k: options[k] for k in ("width", "step", "windows", "tmin_ms", "tmax_ms")
            if options.get(k) is not None}
    wins = [p for label, p in temporal.conditions({"mode": "sliding", **opts}, ref)
            if label != temporal.REFERENCE]
    bounds = [[p["tmin_ms"], p["tmax_ms"]] for p in wins]
    return [(f"{lo:g}-{hi:g}ms", {"tmin_ms": lo, "tmax_ms": hi, "test_windows": bounds})
            for lo, hi in bounds]


def derive(data, params):
    """Both sets zeroed outside the training window."""
    lo, hi = params["tmin_ms"] / 1000, params["tmax_ms"] / 1000
    return derive_both(data, lambda d: d.mask_time(lo, hi, include_tmax=False))


def run_condition(data, job, derived, fitted=None):
    """Train on the job's window; score the test set masked to each window."""
    from ..data.container import SubjectData
    from ..evaluate import evaluate

    # trained on the window, scored on the whole test set (and on each window below)
    row, result = fit_and_score(SubjectData(data.subject, derived.train, data.test,
                                            dict(data.meta)), job, fitted)
    top1, top3, top5 = [], [], []
    for lo, hi in job.params["test_windows"]:
        test = data.test.copy(deep=False).mask_time(lo / 1000, hi / 1000, include_tmax=False)
        m = evaluate(result.model, test, targets=job.data.get("targets", "centers"))
        top1.append(m["top1"])
        top3.append(m["top3"])
        top5.append(m["top5"])
    row.update(train_window=job.condition, tmin_ms=float(job.params["tmin_ms"]),
               tmax_ms=float(job.params["tmax_ms"]))
    arrays = {"test_windows": np.asarray(job.params["test_windows"]), "top1": np.asarray(top1),
              "top3": np.asarray(top3), "top5": np.asarray(top5)}
    return {"row": row, "arrays": arrays}


def expand(df, results):
    """One row per (training window, test window); ``condition`` is ``A->B``."""
    from ._repeated import expand as _expand
    from ._repeated import scores_row

    def rows(row, arrays):
        out = []
        for i, (lo, hi) in enumerate(arrays["test_windows"]):
            test = f"{lo:g}-{hi:g}ms"
            out.append({"condition": f"{row['train_window']}->{test}", "test_window": test,
                        "test_tmin_ms": float(lo), "test_tmax_ms": float(hi),
                        "diagonal": test == row["train_window"], **scores_row(row, arrays, i)})
        return out

    return _expand(df, results, rows)


def time_by_time(data, *, width_samples=5, step_samples=None):
    """Top-1 of a ridge decoder trained at each time point and tested at every one.

    Returns
    -------
    times : array (n,) in seconds; matrix : array (n_train, n_test) of top-1.
    """
    from sklearn.linear_model import RidgeCV

    from ..evaluate import concept_ranks, cosine_similarity

    train, test = data.train.average_repetitions(), data.test.average_repetitions()
    if step_samples is None:  # one point every ~8 ms, as the temporal time course
        step_samples = max(1, int(round(0.008 * train.sfreq)))
    half = width_samples // 2
    points = list(range(0, train.n_times, step_samples))

    def window(x, t):  # edge-padded, so every point has the same number of features
        xp = np.pad(x, ((0, 0), (0, 0), (half, half)), mode="edge")
        return xp[:, :, t:t + 2 * half + 1].reshape(len(x), -1)

    Y = train.features - train.features.mean(0)
    test_x = [window(test.eeg, t) for t in points]
    matrix = np.zeros((len(points), len(points)))
    for i, t in enumerate(points):
        xtr = window(train.eeg, t)
        mu, sd = xtr.mean(0), xtr.std(0) + 1e-8
        reg = RidgeCV(alphas=np.logspace(0, 5, 6)).fit((xtr - mu) / sd, Y)
        for j, xte in enumerate(test_x):
            sim = cosine_similarity(reg.predict((xte - mu) / sd), test.features)
            matrix[i, j] = np.mean(concept_ranks(sim) == 1)
    return train.times[points], matrix


def _window_matrices(df):
    """(subjects, windows, matrix of shape (n_subjects, n_train, n_test)) of top-1."""
    per = df.groupby(["subject", "train_window", "test_window"])["top1"].mean()
    order = list(dict.fromkeys(df["train_window"]))
    subjects = sorted(df["subject"].unique())
    m = np.array([[[per.get((s, a, b), np.nan) for b in order] for a in order] for s in subjects])
    return subjects, order, m


def postprocess(df, results, options, context):
    """Matrices, their cluster masks and long-form tables (``matrix``, ``timebytime``)."""
    import pandas as pd

    from .stats import cluster_mask

    chance = 1.0 / float(df["n_way"].iloc[0])
    subjects, order, m = _window_matrices(df)
    mask, pvals = cluster_mask(m, chance)
    mean = m.mean(axis=0)
    matrix = pd.DataFrame([{"train_window": a, "test_window": b, "top1": mean[i, j],
                            "significant": bool(mask[i, j])}
                           for i, a in enumerate(order) for j, b in enumerate(order)])
    extras = {"matrix": matrix, "window_cluster_p": pd.DataFrame({"p": pvals})}
    if options.get("timebytime", True) is False:
        return extras
    width = int(options.get("width_samples") or 5)
    mats, times = [], None
    for s in context["subjects"]:
        data = context["data"](s)  # loaded (or handed over) by the entry layer
        step = options.get("step_ms")
        step = None if step is None else max(1, int(round(float(step) / 1000 * data.train.sfreq)))
        times, mat = time_by_time(data, width_samples=width, step_samples=step)
        mats.append(mat)
    mats = np.stack(mats)
    tmask, tp = cluster_mask(mats, chance)
    t_ms = times * 1000
    tbt = pd.DataFrame([{"subject": s, "train_ms": a, "test_ms": b, "top1": mats[k, i, j],
                         "significant": bool(tmask[i, j])}
                        for k, s in enumerate(context["subjects"])
                        for i, a in enumerate(t_ms) for j, b in enumerate(t_ms)])
    extras.update(timebytime=tbt, timebytime_cluster_p=pd.DataFrame({"p": tp}))
    return extras


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "generalization", sys.modules[__name__],
    summary="Temporal generalization: train on one window, test on every window.",
    figure="eegvision.viz.analysis_figures:generalization",
    options=(
        Option("width", "float", 100.0, "window width in ms", POSITIVE_MS, cli=True),
        Option("step", "float", 100.0, "window step in ms", POSITIVE_MS, cli=True),
        Option("windows", "str", None, "explicit windows in ms, 0-100,100-200", cli=True),
        Option("tmin_ms", "float", 0.0, "start of the window grid (ms)", TIME_MS),
        Option("tmax_ms", "float", None, "end of the window grid (ms)", TIME_MS),
        Option("timebytime", "bool", True, "also the sample-by-sample matrix"),
        Option("width_samples", "int", 5, "time-by-time window width (samples)",
               {"low": 1, "high": 100_000}),
        Option("step_ms", "float", None, "time-by-time step (ms)", POSITIVE_MS),
    ))
