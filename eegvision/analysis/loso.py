"""Across subjects: leave-one-subject-out, against the within-subject model.

For each held-out subject, a freshly initialised model (built from the job's
seed, nothing carried over between folds) is trained on the other subjects'
training sets, each averaged over repetitions and concatenated
(:func:`eegvision.training.runs.loso_fold`, as ``train --loso``), and tested on the held-out subject's
test set. The validation conditions are drawn from that concatenated
training set, by image condition, so they are training images of the
training subjects only, and an image's trials from every training subject
fall on the same side. The ``within`` condition (train and test on the
subject itself) is the reference of the paired comparison.
"""

from __future__ import annotations

import sys

from ._base import fit_and_score
from .spec import AnalysisSpec, Option

NAME = "loso"
REFERENCE = "within"


def conditions(options, ref):
    """``within`` (unless ``within=False``) and ``loso``."""
    within = options.get("within", True)
    return ([(REFERENCE, {"scheme": "within"})] if within else []) + [("loso", {"scheme": "loso"})]


#: The entry layer hands every job the other subjects' data (``SubjectData.others``).
NEEDS = ("others",)


def pool_params(subjects, *, root, layout, targets, fingerprints=None):
    """The subject pool and each subject's data fingerprint: part of a loso job's hash.

    ``fingerprints`` (subject -> fingerprint, data in memory: their content
    hashes) replaces the data files' fingerprints.
    """
    from .._provenance import data_fingerprints

    subjects = sorted(int(s) for s in subjects)
    if len(subjects) < 2:
        raise ValueError("loso needs at least two subjects, e.g. --subjects 1-10.")
    return {"pool": subjects,
            "pool_fingerprints": {str(s): (data_fingerprints(root, s, layout, targets)
                                           if fingerprints is None else fingerprints[s])
                                  for s in subjects}}


def with_pool(conds, subjects, *, root, layout, targets, fingerprints=None):
    """Add :func:`pool_params` to the ``loso`` condition (``within`` does not depend on it)."""
    pool = pool_params(subjects, root=root, layout=layout, targets=targets,
                       fingerprints=fingerprints)
    return [(label, {**params, **pool} if params["scheme"] == "loso" else params)
            for label, params in conds]


def derive(data, params, others=None):
    """Within: the subject's data; loso: ``others``' training sets with this test set."""
    from ..training.runs import loso_fold

    if params["scheme"] == "within":
        return data
    return loso_fold(data, others)


def _others(data, job):
    """The other subjects of the job's pool, handed over with its data (pool order)."""
    given = data.others or {}
    missing = [s for s in job.params["pool"] if s != job.subject and s not in given]
    if missing:
        from .._utils import EEGVisionError

        raise EEGVisionError(f"loso: the data of subjects {missing} were not handed to the job."
                             "\n  Fix: run it through eegvision.analysis.analyze(), which "
                             "hands over every subject of the pool.")
    return [given[s] for s in job.params["pool"] if s != job.subject]


def derive_job(data, job):
    """The job's fold: the subject itself (``within``) or the others' training sets (``loso``)."""
    others = _others(data, job) if job.params["scheme"] == "loso" else None
    return derive(data, job.params, others)


def run_condition(data, job, derived, fitted=None):
    row, _ = fit_and_score(derived, job, fitted)
    loso = job.params["scheme"] == "loso"
    row.update(scheme=job.params["scheme"],
               n_train_subjects=len(_others(data, job)) if loso else 1,
               n_train_trials=int(derived.train.n_trials))
    return {"row": row}


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "loso", sys.modules[__name__],
    summary="Leave-one-subject-out against the within-subject model.",
    figure="eegvision.viz.analysis_figures:loso",
    options=(Option("within", "bool", True, "also the within-subject reference"),))
