"""What every analysis shares: build jobs, fit-and-score one condition, tables.

An analysis module provides

- ``conditions(options, data_info) -> list of (label, params)``: its conditions;
- ``derive(data, params) -> SubjectData``: the data of one condition;
- optionally ``derive_job(data, job) -> SubjectData`` when a condition's data
  depend on more than its params (the seed, the other subjects);
- optionally ``run_condition(data, job, derived, fitted=None)`` when it needs
  more than top-k (semantic, saliency); the default below fits and scores.
  ``derived`` is the condition's data, derived once by the runner
  (:func:`condition_data`); ``fitted`` the model the runner trained for the
  job together with its sweep (None: fit here);
- optionally ``postprocess(df, results, options, context)``: tables across
  jobs; ``context['data'](subject)`` gives a subject's ``SubjectData``;
- optionally ``NEEDS``: what the entry layer reads besides the containers
  (``'test_repetitions'``, ``'categories'``; see :mod:`eegvision.data.inputs`).

Jobs receive their data; no analysis module reads a file or plots.
"""

from __future__ import annotations

import numpy as np

from ..data.container import SubjectData
from .stats import binomial_pvalue


def derive_both(data, fn):
    """Apply ``fn`` (container -> container) to copies of the train and test sets.

    Container methods work in place (as MNE's), so ``fn`` gets a shallow copy
    (:meth:`~eegvision.data.EEGImageData.copy` ``deep=False``): ``data`` is the
    runner's shared, cached subject and must stay as loaded.
    """
    return SubjectData(data.subject, fn(data.train.copy(deep=False)),
                       fn(data.test.copy(deep=False)), dict(data.meta))


def condition_data(spec, data, job):
    """The data of ``job``'s condition (its model trains on ``.train``), derived once per job.

    The analysis' hook ``derive_job(data, job)`` where it has one, else
    ``derive(data, job.params)``; an analysis without either gets ``data``.
    """
    if spec.hook("derive_job"):
        return spec.hook("derive_job")(data, job)
    if spec.hook("derive"):
        return spec.hook("derive")(data, job.params)
    return data


def fit_and_score(data, job, fitted=None):
    """Fit ``job.train`` on ``data.train`` and score zero-shot on ``data.test``.

    ``fitted`` is the job's model when the runner trained it already (with
    its sweep, :func:`eegvision.sweep.fit_many`); None fits it here.
    Returns ``(row, fit_result)``: ``row`` has top1/top3/top5, n_way, n_test,
    train_seconds and epochs.
    """
    from ..evaluate import evaluate
    from ..training import fit

    result = fitted if fitted is not None else fit(data.train, job.config, progress=False)
    metrics = evaluate(result.model, data.test, targets=job.data.get("targets", "centers"))
    row = {k: metrics[k] for k in ("top1", "top3", "top5", "n_way") if k in metrics}
    row["n_test"] = int(metrics.get("n_test", metrics.get("n_way", 0)))
    # per subject: exact binomial test of top-1 against chance (one item per test concept)
    row["p_binomial"] = binomial_pvalue(row["top1"], row["n_test"], 1.0 / row["n_way"])
    row["train_seconds"] = round(float(result.train_seconds), 3)
    row["epochs_run"] = int(len(result.history))
    row["n_channels"] = data.train.n_channels
    return row, result


def run_condition(data, job, derived, fitted=None):
    """Default job body: fit on the condition's data ``derived`` (or take ``fitted``), score."""
    row, _ = fit_and_score(derived, job, fitted)
    row.update({k: v for k, v in job.params.items() if np.isscalar(v)})
    return {"row": row}


def summarize_results(spec, df):
    """Across-subject summary per condition of analysis ``spec`` (see :func:`stats.summarize`).

    Its hook ``summarize(df)`` where it has one, else top-1 per condition
    against its ``REFERENCE``.
    """
    from .stats import summarize

    if spec.hook("summarize") and not df.empty:
        return spec.hook("summarize")(df)
    if "top1" not in df or df.empty:
        return None
    return summarize(df, by="condition", value="top1", reference=spec.reference)
