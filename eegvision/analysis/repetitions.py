"""How many repetitions: test EEG averaged over 1 ... all repetitions; training over 1 ... 4.

Two parts, after NICE's draw_pic/repetition_test.py and repetition_train.py:

- ``test``: one model per subject and seed, trained on the usual averaged
  training set, scored on test EEG averaged over ``k`` repetitions (drawn at
  random, nested, seeded) for each ``k`` (NICE: 1, 5, 10, ... 80). One job
  scores every ``k``; :func:`expand` makes one row per ``k``.
- ``train``: one model per ``k``, trained on the training EEG averaged over
  ``k`` repetitions (NICE's "all conditions" curve, 25-100 % of the training
  trials), scored on the usual fully averaged test set.
"""

from __future__ import annotations

import sys

import numpy as np

from ._base import fit_and_score
from ._repeated import average_k, unaveraged_for
from .spec import AnalysisSpec, Option

NAME = "repetitions"
PARTS = ("test", "train")
#: NICE's test repetitions (repetition_test.py), capped at what the data hold.
NICE_TEST_REPS = (1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80)


def _counts(spec, n_max, option):
    """``"all"`` / list / ``"1,5,10"`` -> sorted repetition counts <= ``n_max``."""
    from .._utils import parse_int_list

    if spec is None:  # NICE's counts where the data have many repetitions, else every count
        spec = "nice" if n_max > 20 else "all"
    if spec == "all":
        values = list(range(1, n_max + 1))
    elif spec == "nice":
        values = [k for k in NICE_TEST_REPS if k <= n_max]
        values = values if n_max in values else values + [n_max]
    elif isinstance(spec, (list, tuple)):
        values = [int(v) for v in spec]
    else:
        values = parse_int_list(str(spec), option=option)
    bad = [v for v in values if not 1 <= v <= n_max]
    if bad:
        raise ValueError(f"{option} {bad}: the data have 1-{n_max} repetitions per condition. "
                         f"Fix: choose counts in that range (or 'all').")
    return sorted(set(values))


def conditions(options, ref):
    """``test`` (one job scoring every test count) and ``train-k`` for each training count."""
    parts = options.get("parts") or PARTS
    parts = [parts] if isinstance(parts, str) else list(parts)
    for p in parts:
        if p not in PARTS:
            raise ValueError(f"repetitions: parts {p!r}; choose from {list(PARTS)}.")
    n_test = int(ref.meta.get("n_repetitions") or 1)
    n_train = int(ref.meta.get("train_n_repetitions") or 1)
    out = []
    if "test" in parts:
        reps = _counts(options.get("test_reps"), n_test, "test_reps")
        out.append(("test", {"part": "test", "test_reps": reps}))
    if "train" in parts:
        for k in _counts(options.get("train_reps"), n_train, "train_reps"):
            out.append((f"train-{k}", {"part": "train", "n_reps": k}))
    return out


def needs(options):
    """Single repetitions of the splits the asked-for parts draw from (read by the entry layer)."""
    parts = options.get("parts") or PARTS
    parts = [parts] if isinstance(parts, str) else list(parts)
    return {f"repetitions_{p}" for p in parts if p in PARTS}


def derive(data, params):
    """The data as they are (the repetitions are drawn in :func:`derive_job`)."""
    return data


def derive_job(data, job):
    """The job's training data: ``train-k`` averages ``k`` training repetitions (drawn with the
    job's seed); the ``test`` part trains on the usual averaged set."""
    from ..data.container import SubjectData

    p = job.params
    if p["part"] != "train":
        return data
    train = average_k(unaveraged_for(data, job, "train"), p["n_reps"], seed=job.seed)
    return SubjectData(data.subject, train, data.test, dict(data.meta))


def run_condition(data, job, derived, fitted=None):
    """Fit and score; the ``test`` part scores every repetition count with one model."""
    from ..evaluate import evaluate

    p = job.params
    row, result = fit_and_score(derived, job, fitted)
    if p["part"] == "train":
        row.update(part="train", n_reps=int(p["n_reps"]))
        return {"row": row}
    test = unaveraged_for(data, job, "test")
    ks = np.asarray(p["test_reps"], dtype=np.int64)
    top1, top3, top5 = [], [], []
    for k in ks:
        m = evaluate(result.model, average_k(test, int(k), seed=job.seed),
                     targets=job.data.get("targets", "centers"))
        top1.append(m["top1"])
        top3.append(m["top3"])
        top5.append(m["top5"])
    row.update(part="test", n_reps=int(ks.max()))
    arrays = {"n_reps": ks, "top1": np.asarray(top1), "top3": np.asarray(top3),
              "top5": np.asarray(top5)}
    return {"row": row, "arrays": arrays}


def expand(df, results):
    """The ``test`` job's row becomes one row per repetition count (``test-k``)."""
    from ._repeated import expand as _expand
    from ._repeated import scores_row

    def rows(row, arrays):
        if row.get("part") != "test" or "n_reps" not in arrays:
            return [{}]
        return [{"condition": f"test-{int(k)}", "n_reps": int(k), **scores_row(row, arrays, i)}
                for i, k in enumerate(arrays["n_reps"])]

    return _expand(df, results, rows)


def summarize(df):
    """Per part: the summary against that part's all-repetitions condition, plus each
    count against the next smaller one (paired t, FDR within the part)."""
    import pandas as pd

    from .stats import fdr, paired_test
    from .stats import summarize as _summarize

    parts = []
    for part, sub in df.groupby("part", sort=False):
        top = sub.loc[sub["n_reps"].idxmax(), "condition"]
        s = _summarize(sub, reference=top)
        wide = sub.groupby(["condition", "subject"])["top1"].mean().unstack("subject")
        order = sub.drop_duplicates("condition").sort_values("n_reps")["condition"].tolist()
        prev = {c: order[i - 1] for i, c in enumerate(order) if i}
        s["p_vs_previous"] = [paired_test(wide.loc[c], wide.loc[prev[c]])[1] if c in prev
                              else np.nan for c in s["condition"]]
        s["p_vs_previous_fdr"] = fdr(s["p_vs_previous"].to_numpy())
        s.insert(1, "part", part)
        s.insert(2, "n_reps", s["condition"].map(sub.groupby("condition")["n_reps"].first()))
        parts.append(s)
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "repetitions", sys.modules[__name__],
    summary="How accuracy grows with the repetitions averaged (test and training).",
    figure="eegvision.viz.analysis_figures:repetitions",
    options=(
        Option("test_reps", "list", None, "test repetition counts"),
        Option("train_reps", "list", None, "training repetition counts"),
        Option("parts", "list", None, "test, train or both"),
    ))
