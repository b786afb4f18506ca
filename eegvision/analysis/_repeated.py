"""Shared by the analyses that need single repetitions or score many conditions per job.

``load_unaveraged`` keeps the last subject's unaveraged data in memory, so
the jobs of one subject (run one after another) read its files once.
``expand`` turns one job's result arrays into several tidy rows.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=2)
def load_unaveraged(root, subject, split, layout="auto", targets="centers"):
    """One subject's ``split`` (``train`` / ``test``) with every repetition as its own trial.

    Only that split's file is read (the real training set unaveraged is about
    4 GB per subject, the test set 1 GB). Cached (the last two): do not
    modify the container; derive copies.
    """
    from ..data.things import _split_data, find_subject_files, read_image_metadata

    files = find_subject_files(root, subject, layout, targets=targets)
    meta = read_image_metadata(root) if files["metadata"] is not None else None
    return _split_data(files, split, meta, average=False, cache=False, targets=targets,
                       subject=subject)


def unaveraged_for(job, split):
    """:func:`load_unaveraged` of ``split`` for the job's subject and data options."""
    d = job.data
    if d.get("root") is None:
        from .._utils import EEGVisionError

        raise EEGVisionError(f"{job.analysis}: single repetitions are read from a data root; "
                             "with data in memory give analyze() data_dir= instead.")
    return load_unaveraged(str(d["root"]), int(job.subject), split, d.get("layout", "auto"),
                           d.get("targets", "centers"))


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


def n_repetitions(container):
    """The smallest number of repetitions of any condition in ``container``."""
    return int(np.unique(container.conditions, return_counts=True)[1].min())


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
