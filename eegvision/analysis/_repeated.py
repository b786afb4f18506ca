"""Shared by the analyses that need single repetitions or score many conditions per job.

``unaveraged_for`` gives the single repetitions the entry layer handed over
with the job's data (no file is read here); ``average_k`` and
``split_halves`` draw from them; ``expand`` turns one job's result arrays
into several tidy rows.
"""

from __future__ import annotations

import numpy as np

from ..data.container import n_repetitions  # noqa: F401  (used here, and by ceiling)


def unaveraged_for(data, job, split):
    """``split`` of the job's data with every repetition as its own trial (handed over with it).

    The entry layer (:func:`eegvision.analyze`) reads them from a
    data root or takes them from the data in memory
    (:class:`eegvision.data.inputs.WithInputs`).
    """
    reps = data.repetitions or {}
    if split not in reps:
        from .._utils import EEGVisionError

        raise EEGVisionError(f"{job.analysis}: the {split} data with single repetitions were not "
                             "handed to the job.\n  Fix: run it through "
                             "eegvision.analysis.analyze(), which reads them, or give "
                             f"SubjectData(..., repetitions={{{split!r}: container}}).")
    return reps[split]


def repetition_index(conditions):
    """Index of each trial among the trials of its condition (0, 1, ... in trial order)."""
    conditions = np.asarray(conditions)
    order = np.argsort(conditions, kind="stable")
    sorted_c = conditions[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_c)) + 1]
    counts = np.diff(np.r_[starts, len(sorted_c)])
    within = np.arange(len(sorted_c)) - np.repeat(starts, counts)
    out = np.empty(len(conditions), dtype=np.int64)
    out[order] = within
    return out




def average_k(container, k, seed):
    """Average ``k`` repetitions per condition, drawn at random (seeded) without replacement.

    The draws are nested: for one seed, the ``k`` repetitions used include
    those used for every smaller ``k``, as when more sessions are added.
    """
    rng = np.random.default_rng(int(seed))
    rep = repetition_index(container.conditions)
    n_rep = n_repetitions(container)
    if not 1 <= k <= n_rep:
        raise ValueError(f"{k} repetitions asked for, but the data have {n_rep} per condition.")
    ids = np.unique(container.conditions)
    # one random order of the repetitions per condition; keep the first k of it
    rank = np.argsort(rng.random((len(ids), n_rep)), axis=1).argsort(axis=1)
    pos = np.searchsorted(ids, container.conditions)
    keep = (rep < n_rep) & (rank[pos, np.minimum(rep, n_rep - 1)] < k)
    out = container.subset(np.flatnonzero(keep)).average_repetitions()
    out.meta["n_repetitions"] = int(k)
    return out


def split_halves(container, seed):
    """Two averaged halves of each condition's repetitions (random, seeded): ``(a, b)``."""
    rng = np.random.default_rng(int(seed))
    rep = repetition_index(container.conditions)
    n_rep = n_repetitions(container)
    if n_rep < 2:
        raise ValueError("a split-half needs at least 2 test repetitions per condition.")
    ids = np.unique(container.conditions)
    rank = np.argsort(rng.random((len(ids), n_rep)), axis=1).argsort(axis=1)
    pos = np.searchsorted(ids, container.conditions)
    ok = rep < n_rep
    r = rank[pos, np.minimum(rep, n_rep - 1)]
    half = n_rep // 2
    a = container.subset(np.flatnonzero(ok & (r < half))).average_repetitions()
    b = container.subset(np.flatnonzero(ok & (r >= half) & (r < 2 * half))).average_repetitions()
    return a, b


def expand(df, results, rows_of):
    """One tidy row per entry of ``rows_of(row, arrays)`` for every job (order kept).

    ``rows_of`` returns a list of dicts that update the job's row.
    """
    import pandas as pd

    out = []
    for (_, row), result in zip(df.iterrows(), results, strict=True):
        base = row.to_dict()
        out.extend({**base, **extra} for extra in rows_of(base, result.get("arrays", {})))
    return pd.DataFrame(out, columns=None)


def scores_row(row, arrays, i):
    """Entry ``i`` of a job's per-condition score arrays, with its binomial p against chance."""
    from .stats import binomial_pvalue

    out = {k: float(arrays[k][i]) for k in ("top1", "top3", "top5") if k in arrays}
    out["p_binomial"] = binomial_pvalue(out["top1"], int(row["n_test"]), 1.0 / int(row["n_way"]))
    return out
