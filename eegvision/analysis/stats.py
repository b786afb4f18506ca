"""Statistics for decoding results: chance, intervals, paired and cluster tests.

Conventions: accuracies are fractions (0-1); ``chance`` is ``1 / n_way``;
every test is one-sided where the question is "better than chance", two-sided
where it is "different from the reference model".
"""

from __future__ import annotations

import numpy as np

from .._utils import rng_from_seed


def binomial_pvalue(accuracy, n_trials, chance):
    """One-sided binomial p-value of ``accuracy`` over ``n_trials`` against ``chance``.

    Exact when the test items are independent (one per test concept).
    """
    from scipy.stats import binomtest

    k = int(round(float(accuracy) * n_trials))
    return float(binomtest(k, n_trials, chance, alternative="greater").pvalue)


def permutation_pvalue(similarity, *, k=1, n_permutations=1000, seed=0):
    """Permutation p-value of top-k accuracy: shuffle which candidate is correct.

    Parameters
    ----------
    similarity : array, shape (n_items, n_candidates)
        Row i's correct candidate is column i.
    """
    rng = rng_from_seed(seed)
    sim = np.asarray(similarity)
    n = sim.shape[0]
    ranks = (-sim).argsort(axis=1).argsort(axis=1)  # rank of each candidate per row
    observed = np.mean(ranks[np.arange(n), np.arange(n)] < k)
    null = np.empty(n_permutations)
    for i in range(n_permutations):
        perm = rng.permutation(sim.shape[1])[:n]
        null[i] = np.mean(ranks[np.arange(n), perm] < k)
    return float((1 + np.sum(null >= observed)) / (1 + n_permutations))


def bootstrap_ci(values, *, n_boot=10000, ci=0.95, seed=0):
    """Percentile bootstrap interval of the mean of ``values`` (e.g. across subjects).

    Returns (low, high); with one value both are that value.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (np.nan, np.nan)
    if values.size == 1:
        return (float(values[0]), float(values[0]))
    rng = rng_from_seed(seed)
    means = values[rng.integers(0, values.size, (n_boot, values.size))].mean(axis=1)
    alpha = (1 - ci) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def paired_test(a, b, *, method="ttest"):
    """Two-sided paired test of ``a`` vs ``b`` (per subject). Returns (statistic, p).

    ``method='wilcoxon'`` for a rank test (needs at least 6 pairs to reach p<.05).
    """
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 2 or np.allclose(a, b):
        return (np.nan, np.nan)
    if method == "wilcoxon":
        res = stats.wilcoxon(a, b)
    else:
        res = stats.ttest_rel(a, b)
    return (float(res.statistic), float(res.pvalue))


def fdr(pvalues, alpha=0.05):
    """Benjamini-Hochberg corrected p-values (NaN passes through)."""
    from mne.stats import fdr_correction

    p = np.asarray(pvalues, float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = fdr_correction(p[ok], alpha=alpha)[1]
    return out


def cluster_test(scores, chance, *, n_permutations=1024, threshold=None, seed=0):
    """Cluster-based permutation test of time courses against chance (one-sided).

    Parameters
    ----------
    scores : array, shape (n_subjects, n_times)
    chance : float

    Returns
    -------
    clusters : list of (start, stop) sample slices (stop exclusive)
    pvalues : array of cluster p-values
    """
    from mne.stats import permutation_cluster_1samp_test
    from scipy import stats

    x = np.asarray(scores, float) - chance
    n = x.shape[0]
    if n < 2:
        return [], np.array([])
    if threshold is None:
        threshold = stats.t.ppf(0.95, n - 1)
    _, clusters, pvals, _ = permutation_cluster_1samp_test(
        x, threshold=threshold, tail=1, n_permutations=n_permutations, seed=int(seed),
        out_type="mask", verbose="error")
    spans = []
    for cluster in clusters:  # a 1-D mask, or a tuple holding one slice
        if isinstance(cluster, tuple):
            spans.append((int(cluster[0].start), int(cluster[0].stop)))
        else:
            idx = np.flatnonzero(cluster)
            spans.append((int(idx[0]), int(idx[-1]) + 1))
    return spans, np.asarray(pvals)


def summarize(df, *, by="condition", value="top1", reference=None, n_boot=10000, seed=0):
    """Mean, SEM, bootstrap CI across subjects per condition, with tests.

    Adds ``p_chance`` (one-sample t-test across subjects vs chance, one-sided,
    or the binomial test when there is one subject), and, when ``reference``
    names a condition, ``p_vs_reference`` (paired t-test, per subject averaged
    over seeds) with ``p_vs_reference_fdr`` (Benjamini-Hochberg).
    """
    import pandas as pd
    from scipy import stats

    per_subject = df.groupby([by, "subject"], sort=False)[value].mean().unstack("subject")
    chance = 1.0 / df["n_way"].iloc[0]
    rows = []
    for cond, vals in per_subject.iterrows():
        v = vals.dropna().to_numpy()
        lo, hi = bootstrap_ci(v, n_boot=n_boot, seed=seed)
        if v.size > 1 and np.std(v) > 0:
            p = float(stats.ttest_1samp(v, chance, alternative="greater").pvalue)
        else:
            n_test = int(df["n_test"].iloc[0]) if "n_test" in df else int(df["n_way"].iloc[0])
            p = binomial_pvalue(v.mean(), n_test, chance)
        rows.append({by: cond, "n_subjects": v.size, "mean": v.mean(),
                     "sem": v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan,
                     "ci_low": lo, "ci_high": hi, "chance": chance, "p_chance": p})
    out = pd.DataFrame(rows)
    out["p_chance_fdr"] = fdr(out["p_chance"].to_numpy())
    if reference is not None and reference in per_subject.index:
        ref = per_subject.loc[reference]
        out["p_vs_reference"] = [
            np.nan if c == reference else paired_test(per_subject.loc[c], ref)[1]
            for c in out[by]]
        out["p_vs_reference_fdr"] = fdr(out["p_vs_reference"].to_numpy())
    return out
