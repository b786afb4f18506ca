"""A split-half noise ceiling for zero-shot retrieval accuracy.

Question: how well could *any* read-out of this subject's test EEG tell the
200 test concepts apart, given how noisy its repetitions are? The test
repetitions of each concept are split at random into two halves; a decoder
fitted on the (averaged) training set embeds each half's average; each
concept's embedding from half A must then be identified among the 200
embeddings of half B (cosine similarity, top-k, both directions, averaged
over ``n_splits`` random splits). A decoder that reproduces its own output
from independent repetitions at rate X cannot be expected to find the
correct *image* much more reliably than that from data this noisy.

Also reported: the split-half reliability of the embeddings (Pearson r of
the two halves' concept-centred embeddings, averaged over concepts) and its
Spearman-Brown correction to the full number of repetitions,
``2 r / (1 + r)``.

Limits (also in docs/analyses.md): the identification uses half the
repetitions on each side, so it is a conservative (low) estimate of what the
full average allows; it is an estimate of separability, not a strict upper
bound on EEG-to-image accuracy (the image targets carry no EEG noise); and
it is computed with the ridge decoder, a fast linear read-out, whatever
encoder the analysis trains.
"""

from __future__ import annotations

import sys

import numpy as np

from .spec import AnalysisSpec

#: Random split-halves averaged per subject.
N_SPLITS = 10


def split_half_ceiling(model, test, *, n_splits=N_SPLITS, seed=0, ks=(1, 5)):
    """Split-half identification accuracy and reliability of ``model`` on unaveraged ``test``.

    Parameters
    ----------
    model : object with ``encode_eeg``
        A fitted decoder (e.g. :class:`~eegvision.models.ridge.RidgeDecoder`).
    test : EEGImageData
        Test data with every repetition as its own trial (at least 2 each).

    Returns
    -------
    dict
        ``nc_top1, nc_top5`` (fractions), ``reliability_half``,
        ``reliability_sb`` (Spearman-Brown), ``n_splits``, ``n_reps_half``.
    """
    from ..evaluate import concept_ranks, cosine_similarity, embed, topk_from_ranks
    from ._repeated import n_repetitions, split_halves

    accs, rels = {f"top{k}": [] for k in ks}, []
    for split in range(int(n_splits)):
        a, b = split_halves(test, seed=int(seed) * 1000 + split)
        ea, _ = embed(model, a.eeg, a.features)
        eb, _ = embed(model, b.eeg, b.features)
        sim = cosine_similarity(ea, eb)
        for ranks in (concept_ranks(sim), concept_ranks(sim.T)):
            for key, v in topk_from_ranks(ranks, ks).items():
                accs[key].append(v)
        ca, cb = ea - ea.mean(0), eb - eb.mean(0)
        rels.append(np.mean([np.corrcoef(x, y)[0, 1] for x, y in zip(ca, cb, strict=True)]))
    r = float(np.mean(rels))
    out = {f"nc_{k}": float(np.mean(v)) for k, v in accs.items()}
    out.update(reliability_half=r, reliability_sb=2 * r / (1 + r) if r > -1 else np.nan,
               n_splits=int(n_splits), n_reps_half=n_repetitions(test) // 2)
    return out


NAME = "ceiling"
COLUMNS = ["subject", "decoder", "nc_top1", "nc_top5", "reliability_half", "reliability_sb",
           "n_splits", "n_reps_half"]


def run_condition(data, job, derived=None, fitted=None):
    """Job body: ridge on the averaged training set, split halves of the unaveraged test set
    (handed over with the data: ``data.repetitions['test']``).

    A subject with a single test repetition gets a row of NaN (a split needs two).
    """
    from .._utils import logger
    from ..models.ridge import RidgeDecoder
    from ._repeated import unaveraged_for

    train = data.train
    if len(np.unique(train.conditions)) != train.n_trials:  # data in memory, as given
        train = train.average_repetitions()
    model = RidgeDecoder().fit(train.eeg, train.features)
    try:
        values = split_half_ceiling(model, unaveraged_for(data, job, "test"),
                                    n_splits=job.params["n_splits"], seed=job.seed)
    except ValueError as err:
        logger.warning("No noise ceiling for subject %s: %s", job.subject, err)
        values = {c: np.nan for c in COLUMNS[2:]}
    return {"row": {"decoder": "ridge", **values}}


def ceiling_table(results):
    """The ``noise_ceiling`` table (one row per subject) from the ceiling jobs' results."""
    import pandas as pd

    df = pd.DataFrame([r["row"] for r in results])
    return df.reindex(columns=COLUMNS).dropna(subset=["nc_top1"]).reset_index(drop=True)


SPEC = AnalysisSpec("ceiling", sys.modules[__name__], internal=True,
                             summary="Split-half noise ceiling of a subject (run with the "
                                     "analyses that score top-1).")
