"""Top-k accuracy curves, k = 1 ... n_way (200), per subject.

One model per subject and seed (the whole data); the rank of each test
concept's correct candidate (:func:`eegvision.evaluate.concept_ranks`)
gives every top-k at once (:func:`eegvision.evaluate.topk_from_ranks`).
The table has one row per (subject, seed, k) with ``topk`` and its chance
``k / n_way``. (NICE's draw_pic/plot_topk.py shows top-5 retrieval
examples; the curve here is the full distribution of ranks behind them.)
"""

from __future__ import annotations

import sys

import numpy as np

from ._base import fit_and_score
from .spec import AnalysisSpec, Option

NAME = "topk"
#: k values given their own rows in summary.csv.
SUMMARY_KS = (1, 2, 5, 10, 20, 50, 100, 200)


def conditions(options, ref):
    """One condition: the whole data."""
    max_k = options.get("max_k")
    if max_k is not None and int(max_k) < 1:
        raise ValueError(f"topk: max_k {max_k} must be at least 1.")
    return [("all", {"max_k": None if max_k is None else int(max_k)})]


def derive(data, params):
    return data


def run_condition(data, job, derived, fitted=None):
    from ..evaluate import evaluate

    row, result = fit_and_score(derived, job, fitted)
    ranks = evaluate(result.model, derived.test, targets=job.data.get("targets", "centers"))["ranks"]
    row["max_k"] = min(int(job.params["max_k"] or row["n_way"]), int(row["n_way"]))
    return {"row": row, "arrays": {"ranks": np.asarray(ranks, dtype=np.int64)}}


def expand(df, results):
    """One row per k = 1 ... ``max_k`` (default n_way)."""
    from ..evaluate import topk_from_ranks
    from ._repeated import expand as _expand

    def rows(row, arrays):
        n_way = int(row["n_way"])
        ks = range(1, int(row["max_k"]) + 1)
        acc = topk_from_ranks(arrays["ranks"], ks)
        return [{"condition": f"k={k}", "k": k, "topk": acc[f"top{k}"], "chance_k": k / n_way}
                for k in ks]

    return _expand(df, results, rows)


def summarize(df):
    """Per k in :data:`SUMMARY_KS`: mean, CI, t-test against ``k / n_way``, d_z, FDR."""
    from .stats import group_rows

    keep = df[df["k"].isin(SUMMARY_KS)]
    return group_rows(keep, value="topk", chance_col="chance_k", extra=("k",))


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "topk", sys.modules[__name__],
    summary="Top-k accuracy curves, k = 1 ... n_way.",
    figure="eegvision.viz.analysis_figures:topk",
    options=(Option("max_k", "int", None, "largest k (default n_way)",
                    {"low": 1, "high": 1_000_000}),))
