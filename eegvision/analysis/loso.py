"""Across subjects: leave-one-subject-out, against the within-subject model.

For each held-out subject, a freshly initialised model (built from the job's
seed, nothing carried over between folds) is trained on the other subjects'
training sets, each averaged over repetitions and concatenated
(:func:`eegvision.training.concat_train`), and tested on the held-out subject's
test set. The validation conditions are drawn from that concatenated
training set, by image condition, so they are training images of the
training subjects only, and an image's trials from every training subject
fall on the same side. The ``within`` condition (train and test on the
subject itself) is the reference of the paired comparison.
"""

from __future__ import annotations

from ._base import fit_and_score

NAME = "loso"
REFERENCE = "within"


def conditions(options, ref):
    """``within`` (unless ``within=False``) and ``loso``."""
    within = options.get("within", True)
    return ([(REFERENCE, {"scheme": "within"})] if within else []) + [("loso", {"scheme": "loso"})]


def pool_params(subjects, *, root, layout, targets):
    """The subject pool and each subject's data fingerprint: part of a loso job's hash."""
    from .._provenance import data_fingerprints

    subjects = sorted(int(s) for s in subjects)
    if len(subjects) < 2:
        raise ValueError("loso needs at least two subjects, e.g. --subjects 1-10.")
    return {"pool": subjects,
            "pool_fingerprints": {str(s): data_fingerprints(root, s, layout, targets)
                                  for s in subjects}}


def with_pool(conds, subjects, *, root, layout, targets):
    """Add :func:`pool_params` to the ``loso`` condition (``within`` does not depend on it)."""
    pool = pool_params(subjects, root=root, layout=layout, targets=targets)
    return [(label, {**params, **pool} if params["scheme"] == "loso" else params)
            for label, params in conds]


def derive(data, params, others=None):
    """Within: the subject's data; loso: ``others``' training sets with this test set."""
    from ..data.container import SubjectData
    from ..training.runs import concat_train

    if params["scheme"] == "within":
        return data
    train = concat_train([o.train for o in others], [str(o.subject) for o in others])
    return SubjectData(data.subject, train, data.test,
                       dict(data.meta, loso=True, train_subjects=[o.subject for o in others]))


def _others(job):
    from ..data.things import load_subject

    d = job.data
    if d.get("root") is None:
        from .._utils import EEGVisionError

        raise EEGVisionError("loso reads the other subjects from a data root; with data in "
                             "memory give analyze() data_dir= instead.")
    return [load_subject(d["root"], s, layout=d.get("layout", "auto"),
                         targets=d.get("targets", "centers"))
            for s in job.params["pool"] if s != job.subject]


def run_condition(data, job):
    others = _others(job) if job.params["scheme"] == "loso" else None
    derived = derive(data, job.params, others)
    row, _ = fit_and_score(derived, job)
    row.update(scheme=job.params["scheme"],
               n_train_subjects=1 if others is None else len(others),
               n_train_trials=int(derived.train.n_trials))
    return {"row": row}
