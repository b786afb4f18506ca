"""Representational similarity analysis: RDMs, their comparison, tests, ceilings.

Pure numpy/scipy functions, no files and no models. An RDM here is a square,
symmetric ``(n, n)`` array with a zero diagonal; comparisons use its upper
triangle (``k=1``) only.

>>> import numpy as np
>>> x = np.random.default_rng(0).standard_normal((20, 5))
>>> rho = compare_rdms(rdm(x), rdm(x))
>>> round(rho, 6)
1.0
"""

from __future__ import annotations

import numpy as np

from .._utils import _check_option, rng_from_seed

METRICS = ("correlation", "cosine", "euclidean")


def rdm(x, metric="correlation"):
    """Representational dissimilarity matrix of the rows of ``x``.

    Parameters
    ----------
    x : array, shape (n_items, ...)
        One pattern per item; trailing axes are flattened (e.g. channels x time).
    metric : 'correlation' | 'cosine' | 'euclidean'
        ``correlation`` is 1 - Pearson r (the RSA default: insensitive to each
        pattern's mean and scale), ``cosine`` is 1 - cosine similarity.

    Returns
    -------
    array, shape (n_items, n_items)
    """
    from scipy.spatial.distance import pdist, squareform

    _check_option("metric", metric, METRICS)
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if len(x) < 3:
        raise ValueError(f"An RDM needs at least 3 items, got {len(x)}.")
    return squareform(pdist(x, metric=metric), checks=False)


def category_rdm(labels):
    """Model RDM of labels: 0 for a pair in the same category, 1 otherwise."""
    labels = np.asarray(labels)
    return (labels[:, None] != labels[None, :]).astype(np.float64)


def upper(m):
    """Upper triangle (without the diagonal) of a square matrix, as a vector."""
    m = np.asarray(m)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"Expected a square RDM, got shape {m.shape}.")
    return m[np.triu_indices(len(m), k=1)]


def _rank_matrix(m):
    """Square matrix holding the (tie-averaged) ranks of ``m``'s upper triangle."""
    from scipy.stats import rankdata

    iu = np.triu_indices(len(m), k=1)
    out = np.zeros(m.shape, dtype=np.float64)
    out[iu] = rankdata(np.asarray(m)[iu])
    return out + out.T


def compare_rdms(a, b):
    """Spearman correlation of the upper triangles of two RDMs (NaN if one is constant)."""
    ra, rb = upper(_rank_matrix(a)), upper(_rank_matrix(b))
    return _pearson(ra, rb)


def _pearson(x, y):
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / denom) if denom > 0 else np.nan


def mantel_test(a, b, *, n_permutations=1000, seed=0, alternative="greater"):
    """Spearman RDM correlation and its Mantel permutation p-value.

    The null distribution permutes the item labels of ``b``: rows and columns
    together, so each permuted RDM is still a valid RDM of the same items
    (pairs are not independent, so shuffling the vector entries would be
    wrong).

    Parameters
    ----------
    a, b : array, shape (n, n)
    n_permutations : int
    seed : int | numpy.random.Generator
    alternative : 'greater' | 'two-sided'

    Returns
    -------
    rho : float
    p : float
        ``(1 + #{null >= rho}) / (1 + n_permutations)`` (absolute values for
        two-sided): never 0.
    """
    _check_option("alternative", alternative, ("greater", "two-sided"))
    rng = rng_from_seed(seed)
    ra, rb = _rank_matrix(a), _rank_matrix(b)
    iu = np.triu_indices(len(ra), k=1)
    xa = ra[iu] - ra[iu].mean()
    # Permuting b's items permutes its ranks: mean and norm stay the same, so
    # each null correlation is a single dot product.
    mean_b = rb[iu].mean()
    norm = np.sqrt((xa @ xa) * ((rb[iu] - mean_b) @ (rb[iu] - mean_b)))
    if norm == 0:
        return np.nan, np.nan
    rho = float(xa @ (rb[iu] - mean_b) / norm)
    null = np.empty(n_permutations)
    for i in range(n_permutations):
        p = rng.permutation(len(rb))
        null[i] = xa @ (rb[p][:, p][iu] - mean_b) / norm
    if alternative == "two-sided":
        hits = np.sum(np.abs(null) >= abs(rho) - 1e-12)
    else:
        hits = np.sum(null >= rho - 1e-12)
    return rho, float((1 + hits) / (1 + n_permutations))


def spearman_brown(r, factor=2.0):
    """Reliability of a measure ``factor`` times as long, from reliability ``r``."""
    r = np.asarray(r, dtype=np.float64)
    return factor * r / (1 + (factor - 1) * r)


def split_half_indices(conditions, *, n_splits=10, seed=0):
    """Random halves of each condition's repetitions.

    Parameters
    ----------
    conditions : array of int, shape (n_trials,)
        Condition id of each trial; each needs at least 2 repetitions.

    Returns
    -------
    list of (index_a, index_b)
        Trial indices of the two halves, one pair per split (with an odd
        count the spare repetition is left out so the halves are equal).
    """
    rng = rng_from_seed(seed)
    conditions = np.asarray(conditions)
    groups = [np.flatnonzero(conditions == c) for c in np.unique(conditions)]
    n_min = min(len(g) for g in groups)
    if n_min < 2:
        raise ValueError("Split-half reliability needs at least 2 repetitions of every "
                         f"condition; the fewest here is {n_min}.")
    half = n_min // 2
    splits = []
    for _ in range(n_splits):
        a, b = [], []
        for g in groups:
            g = rng.permutation(g)
            a.append(g[:half])
            b.append(g[half:2 * half])
        splits.append((np.concatenate(a), np.concatenate(b)))
    return splits


def split_half_ceiling(rdm_pairs):
    """Noise ceiling of a full-data RDM from split-half RDM pairs.

    Nili et al. (2014) bound the best achievable model correlation across
    subjects: the lower bound correlates each subject's RDM with the mean of
    the *others* (an independent estimate: under-fits the truth), the upper
    bound with the mean of *all* (including itself: over-fits). Within one
    subject the repetitions play the subjects' part. With ``r`` the mean
    Spearman correlation of the two halves' RDMs and ``r_full`` its
    Spearman-Brown correction to the full number of repetitions:

    - ``lower = r_full``: the expected correlation of the full-data RDM with
      an independent replication of itself, i.e. what a perfect model
      estimated from other data would score;
    - ``upper = sqrt(r_full)``: the expected correlation of the full-data RDM
      with the true, noise-free RDM (classical test theory), which no model
      can exceed on average.

    ``lower <= upper`` always (``upper`` is 0 when ``r_full <= 0``).

    Returns
    -------
    dict with ``split_half_r``, ``lower``, ``upper`` and ``n_splits``.
    """
    r = float(np.nanmean([compare_rdms(a, b) for a, b in rdm_pairs]))
    r_full = float(spearman_brown(r)) if r > -1 else -1.0
    upper_bound = float(np.sqrt(r_full)) if r_full > 0 else 0.0
    return {"split_half_r": r, "lower": r_full, "upper": upper_bound,
            "n_splits": len(rdm_pairs)}


def group_noise_ceiling(rdms):
    """Nili et al. (2014) noise ceiling across subjects' RDMs (Spearman).

    Each RDM is rank-transformed first, so the means are the ones a Spearman
    comparison implies. Returns ``(lower, upper)``: the mean correlation of
    each subject's RDM with the mean of the other subjects' (lower) and of
    all subjects' (upper). Needs at least two RDMs.
    """
    ranks = np.stack([_rank_matrix(m) for m in rdms])
    if len(ranks) < 2:
        raise ValueError("A group noise ceiling needs at least two subjects' RDMs.")
    total = ranks.sum(0)
    upper_r = [compare_rdms(r, total) for r in ranks]
    lower_r = [compare_rdms(r, total - r) for r in ranks]
    return float(np.mean(lower_r)), float(np.mean(upper_r))


def within_between(similarity, labels):
    """Mean similarity within vs between categories, per item, with a paired test.

    For every item (row of ``similarity``) the mean similarity to the other
    items of its category (excluding itself) and to items of other
    categories; a one-sided Wilcoxon signed-rank test of within > between
    across items (items without a same-category partner are skipped).

    Returns
    -------
    dict with ``within``, ``between`` (means over items), ``diff``,
    ``statistic``, ``p`` and ``n_items``.
    """
    from scipy.stats import wilcoxon

    sim = np.asarray(similarity, dtype=np.float64)
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    diff_cat = labels[:, None] != labels[None, :]
    ok = same.any(1) & diff_cat.any(1)
    w = np.array([sim[i, same[i]].mean() for i in np.flatnonzero(ok)])
    b = np.array([sim[i, diff_cat[i]].mean() for i in np.flatnonzero(ok)])
    if len(w) < 2 or np.allclose(w, b):
        stat, p = np.nan, np.nan
    else:
        res = wilcoxon(w, b, alternative="greater")
        stat, p = float(res.statistic), float(res.pvalue)
    return {"within": float(np.mean(w)) if len(w) else np.nan,
            "between": float(np.mean(b)) if len(b) else np.nan,
            "diff": float(np.mean(w - b)) if len(w) else np.nan,
            "statistic": stat, "p": p, "n_items": int(len(w))}
