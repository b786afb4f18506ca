"""How much training data: train on 25 / 50 / 75 / 100 % of the training concepts.

After NICE's training-data-size experiment (the "all repetitions" curve of
draw_pic/repetition_train.py): whole concepts are subsampled, with every
image and repetition of a kept concept, so fewer *concepts* are seen, not
fewer trials of each. The draw is seeded by the training seed (a different
subset per seed) and nested (the 25 % subset lies inside the 50 % one).
"""

from __future__ import annotations

import sys

import numpy as np

from ._base import derive_both, fit_and_score
from .spec import AnalysisSpec, Option

NAME = "datasize"
REFERENCE = "100%"
DEFAULTS = {"fractions": (0.25, 0.5, 0.75, 1.0)}


def _fractions(spec):
    if isinstance(spec, str):
        try:
            spec = [float(x) for x in spec.split(",")]
        except ValueError:
            raise ValueError(f"datasize: fractions {spec!r}; use e.g. 0.25,0.5,0.75,1") from None
    values = sorted({float(v) for v in spec})
    if not values or values[0] <= 0 or values[-1] > 1:
        raise ValueError(f"datasize: fractions {values} must lie in (0, 1].")
    return values


def conditions(options, ref):
    """One condition per fraction of the training concepts; 100 % is the reference."""
    fracs = _fractions(options.get("fractions") or DEFAULTS["fractions"])
    if 1.0 not in fracs:
        fracs.append(1.0)  # the reference every fraction is compared with
    return [(f"{round(100 * f, 6):g}%", {"fraction": f}) for f in fracs]


def subsample_concepts(container, fraction, seed):
    """Keep a seeded random ``fraction`` of the concepts (all their trials)."""
    concepts = np.unique(container.concepts)
    n = max(2, int(round(fraction * len(concepts))))
    order = np.random.default_rng(int(seed)).permutation(concepts)
    keep = np.isin(container.concepts, order[:n])
    out = container.subset(np.flatnonzero(keep))
    out.meta["concept_fraction"] = float(fraction)
    return out


def derive(data, params):
    """The training set cut to ``params['fraction']`` of its concepts (test unchanged)."""
    if params["fraction"] >= 1.0:
        return data
    out = derive_both(data, lambda d: d)
    out.train = subsample_concepts(data.train, params["fraction"], params.get("sample_seed", 0))
    return out


def derive_job(data, job):
    """The job's data: its concepts drawn with the job's seed."""
    return derive(data, {**job.params, "sample_seed": job.seed})


def run_condition(data, job, derived, fitted=None):
    row, _ = fit_and_score(derived, job, fitted)
    row.update(fraction=float(job.params["fraction"]),
               n_train_concepts=int(len(np.unique(derived.train.concepts))))
    return {"row": row}


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "datasize", sys.modules[__name__],
    summary="How accuracy grows with the training concepts.",
    figure="eegvision.viz.analysis_figures:datasize",
    options=(Option("fractions", "list", DEFAULTS["fractions"], "fractions of the training "
                    "concepts"),))
