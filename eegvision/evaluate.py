"""Zero-shot scoring: one top-k, k-way accuracy, per-concept ranks.

Ranks are conservative: a candidate that ties with the true one counts as
ranked above it, so a model that outputs constants scores chance, not 100 %.
"""

from __future__ import annotations

import sys
import types
import warnings

import numpy as np

from ._docs import fill_doc
from ._utils import check_finite, data_error, verbose

#: k values of the k-way accuracies reported (those <= the number of candidates).
K_WAYS = (2, 4, 10, 50, 100)


def cosine_similarity(a, b):
    """Cosine similarity matrix ``(len(a), len(b))`` of two embedding arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def model_similarity(model, eeg_emb, cand_emb):
    """Test similarities as ``model.test_similarity`` says (default cosine).

    ``'dot'``: the L2-normalised EEG embeddings times the candidates as they
    are, NICE's test (``tfea / tfea.norm(...) @ all_center.t()``).
    """
    if getattr(model, "test_similarity", "cosine") != "dot":
        return cosine_similarity(eeg_emb, cand_emb)
    a = np.asarray(eeg_emb, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    return a @ np.asarray(cand_emb, dtype=np.float64).T


def _true_index(sim, true_index):
    n = sim.shape[0]
    if true_index is None:
        if sim.shape[1] < n:
            raise ValueError(f"{n} queries but only {sim.shape[1]} candidates: give true_index.")
        return np.arange(n)
    true_index = np.asarray(true_index, dtype=np.int64)
    if true_index.shape != (n,):
        raise ValueError(f"true_index must have {n} entries, got {true_index.shape}.")
    return true_index


@fill_doc
def concept_ranks(sim, true_index=None):
    """Rank (1 = best) of each query's true candidate.

    Parameters
    ----------
    sim : array, shape (n_queries, n_candidates)
        Similarity of each query to each candidate.
    %(true_index)s

    Returns
    -------
    ranks : array of int, shape (n_queries,)
        ``1 +`` the number of *other* candidates at least as similar.
    """
    sim = np.asarray(sim, dtype=np.float64)
    _check_finite(sim, "similarities")
    true_index = _true_index(sim, true_index)
    true_sim = sim[np.arange(len(sim)), true_index][:, None]
    return (sim >= true_sim).sum(1)  # counts the true one itself: that is the +1


def _check_finite(arr, what, source=None):
    """NaN compares false with everything, so it would rank first: refuse it instead."""
    check_finite(arr, source or "evaluation", what,
                 "retrain the model (e.g. with a lower --lr) or use another checkpoint.",
                 why=": a diverged or corrupt model cannot be scored (NaN would tie with, and "
                     "rank above, every candidate)")


def topk_from_ranks(ranks, ks=(1, 3, 5)):
    """``{'top1': ..., 'top3': ...}``: fraction of ranks <= k."""
    ranks = np.asarray(ranks)
    return {f"top{k}": float(np.mean(ranks <= k)) for k in ks}


@fill_doc
def zero_shot_scores(eeg_emb, candidate_feats, true_index=None, ks=(1, 3, 5)):
    """Top-k accuracies of zero-shot retrieval by cosine similarity.

    Parameters
    ----------
    eeg_emb : array, shape (n_queries, d)
        EEG embeddings.
    candidate_feats : array, shape (n_candidates, d)
        Candidate image embeddings.
    %(true_index)s
    ks : sequence of int
        The k values.

    Returns
    -------
    dict
        ``{'top1': float, 'top3': float, ...}`` fractions in [0, 1].
    """
    eeg_emb, candidate_feats = np.asarray(eeg_emb), np.asarray(candidate_feats)
    if eeg_emb.shape[1] != candidate_feats.shape[1]:
        raise ValueError(f"EEG embeddings are {eeg_emb.shape[1]}-d but candidates are "
                         f"{candidate_feats.shape[1]}-d.")
    _check_finite(eeg_emb, "EEG embeddings")
    _check_finite(candidate_feats, "candidate embeddings")
    sim = cosine_similarity(eeg_emb, candidate_feats)
    return topk_from_ranks(concept_ranks(sim, true_index), ks)


def k_way_accuracy(sim, k, n_draws=100, seed=0, true_index=None):
    """Accuracy of picking the true candidate among it and ``k - 1`` random others.

    Parameters
    ----------
    sim : array, shape (n_queries, n_candidates)
        Similarities.
    k : int
        Candidates per trial, ``2 <= k <= n_candidates``.
    n_draws : int
        Random candidate subsets per query.
    seed : int
        Seed of the subset draws.
    true_index : array of int | None
        Column of each query's true candidate.

    Returns
    -------
    float
        Mean over queries and draws of "true candidate strictly most similar".
    """
    from ._utils import rng_from_seed

    sim = np.asarray(sim, dtype=np.float64)
    _check_finite(sim, "similarities")
    n_q, n_c = sim.shape
    if not 2 <= k <= n_c:
        raise ValueError(f"k must be between 2 and the number of candidates ({n_c}), got {k}.")
    true_index = _true_index(sim, true_index)
    rng = rng_from_seed(seed)
    wins = 0
    for i in range(n_q):
        others = np.delete(np.arange(n_c), true_index[i])
        # one random permutation per draw; its first k-1 entries are the distractors
        pick = np.argsort(rng.random((n_draws, n_c - 1)), axis=1)[:, :k - 1]
        best_other = sim[i, others[pick]].max(1)
        wins += int((sim[i, true_index[i]] > best_other).sum())
    return wins / (n_q * n_draws)


def embed(model, eeg, features, *, batch_size=1000):
    """EEG and image embeddings (numpy) from a torch model or a RidgeDecoder."""
    from .models.ridge import RidgeDecoder

    if isinstance(model, RidgeDecoder):
        return model.encode_eeg(eeg), model.encode_image(features)
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    # cached data are read-only memory maps; the model only reads its input, never writes it
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        for start in range(0, len(eeg), batch_size):
            x = torch.as_tensor(eeg[start:start + batch_size], device=device)
            out.append(model.encode_eeg(x).float().cpu().numpy())
        img = model.encode_image(torch.as_tensor(features, device=device)).float().cpu().numpy()
    model.train(was_training)
    return np.concatenate(out), img


@verbose
@fill_doc
def evaluate(model, test, *, targets="centers", ks=(1, 3, 5), n_draws=100, seed=0, verbose=None):
    """Score zero-shot retrieval of a trained model on a test container.

    Parameters
    ----------
    model : ContrastiveModel | RidgeDecoder
        Anything with ``encode_eeg`` and ``encode_image``.
    test : EEGImageData
        Test data; averaged over repetitions here if not yet.
    targets : str
        Label of what the candidate features are (``centers`` or ``images``);
        the candidates are the features of the distinct test conditions.
    ks : sequence of int
        Top-k values.
    n_draws, seed : int
        For the k-way accuracies.
    %(verbose)s

    Returns
    -------
    dict
        ``top1, top3, top5``, ``k2 ... k100`` (those possible), ``n_way``,
        ``targets`` and ``ranks`` (array, one per test condition, in
        condition order) and ``concepts``.
    """
    test = test.average_repetitions()
    n_feat = _n_features(model)
    if n_feat is not None and test.n_features != n_feat:
        raise data_error(test.meta.get("source", "test data"),
                         f"test features are {test.n_features}-d but the model was trained on "
                         f"{n_feat}-d features.",
                         "use the same image features (e.g. CLIP ViT-L/14, 768-d) for training and test.")
    eeg_emb, img_emb = embed(model, test.eeg, test.features)
    _check_finite(eeg_emb, "EEG embeddings")
    _check_finite(img_emb, "image embeddings")
    sim = model_similarity(model, eeg_emb, img_emb)
    ranks = concept_ranks(sim)
    out = topk_from_ranks(ranks, ks)
    for k in K_WAYS:
        if k <= len(sim):
            out[f"k{k}"] = k_way_accuracy(sim, k, n_draws=n_draws, seed=seed)
    out.update(n_way=int(len(sim)), targets=targets, ranks=ranks, concepts=test.concepts.tolist())
    return out


def _n_features(model):
    coef = getattr(model, "coef_", None)
    if coef is not None:
        return coef.shape[0]
    return getattr(model, "n_features", None)


def public_metrics(scores):
    """The JSON-able part of :func:`evaluate`'s output (no per-concept arrays)."""
    return {k: v for k, v in scores.items() if k not in ("ranks", "concepts")}


def ranks_table(scores):
    """DataFrame ``concept, rank`` from :func:`evaluate`'s output."""
    import pandas as pd

    return pd.DataFrame({"concept": scores["concepts"], "rank": np.asarray(scores["ranks"])})


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`evaluate`.

    ``import eegvision as ev; ev.evaluate(model, test)`` must mean the
    function, but importing the submodule ``eegvision.evaluate`` sets the
    package attribute ``evaluate`` to the module; a callable module makes both
    the same object.
    """

    def __call__(self, *args, **kwargs):
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
