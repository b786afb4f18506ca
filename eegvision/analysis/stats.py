"""Statistics for decoding results: chance, intervals, paired and cluster tests.

Conventions: accuracies are fractions (0-1); ``chance`` is ``1 / n_way``;
every test is one-sided where the question is "better than chance", two-sided
where it is "different from the reference model".
"""

from __future__ import annotations

import numpy as np

from .._utils import rng_from_seed

#: Subjects (finite values) an across-subject statistic needs. A t-test needs two
#: values that vary. The percentile bootstrap needs four: with two values its 95 %
#: interval is their range (which holds the mean half of the time), with three
#: still their range (three times in four), so it is not reported below four.
MIN_SUBJECTS = {"t-test": 2, "bootstrap": 4}


def _varies(values):
    """True unless all values are equal up to rounding (a t-test needs spread).

    Means of accuracies that are equal on paper can differ in the last bit
    (0.05 vs 0.05000000000000001); a t-test on that spread is meaningless.
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return v.size > 1 and float(np.ptp(v)) > 1e-9 * max(1.0, float(np.abs(v).max()))


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


def bootstrap_ci(values, *, n_boot=10000, ci=0.95, seed=0, min_n=MIN_SUBJECTS["bootstrap"]):
    """Percentile bootstrap interval of the mean of ``values`` (e.g. across subjects).

    Returns (low, high); ``(nan, nan)`` with fewer than ``min_n`` finite
    values (see :data:`MIN_SUBJECTS`: below four, the "95 %" interval of a
    percentile bootstrap is the range of the values).
    """
    rng = rng_from_seed(seed)  # first: a missing seed is an error whatever the values
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0 or values.size < min_n:
        return (np.nan, np.nan)
    if values.size == 1:
        return (float(values[0]), float(values[0]))
    means = values[rng.integers(0, values.size, (n_boot, values.size))].mean(axis=1)
    alpha = (1 - ci) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def paired_test(a, b, *, method="ttest"):
    """Two-sided paired test of ``a`` vs ``b`` (per subject). Returns (statistic, p).

    ``method='wilcoxon'`` for a rank test (needs at least 6 pairs to reach p<.05).
    ``(nan, nan)`` with fewer than two finite pairs or when the differences do
    not vary (:func:`paired_reason` says which).
    """
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    # equal differences (e.g. two subjects each 1 % below) have no spread: t is
    # infinite and p exactly 0, which says nothing; NaN instead (paired_reason says why)
    if a.size < MIN_SUBJECTS["t-test"] or not _varies(a - b):
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
    from scipy import stats

    x = np.asarray(scores, float) - chance
    n = x.shape[0]
    if n < 2:
        return [], np.array([])
    if threshold is None:
        threshold = stats.t.ppf(0.95, n - 1)
    _, clusters, pvals, _ = _cluster_1samp(x, threshold, n_permutations, seed)
    spans = []
    for cluster in clusters:  # a 1-D mask, or a tuple holding one slice
        if isinstance(cluster, tuple):
            spans.append((int(cluster[0].start), int(cluster[0].stop)))
        else:
            idx = np.flatnonzero(cluster)
            spans.append((int(idx[0]), int(idx[-1]) + 1))
    return spans, np.asarray(pvals)


def chance_reason(values):
    """Why across-subject statistics of ``values`` are missing ('' when none is).

    ``'<n> subjects: '`` and one clause per statistic left out: the one-sample
    t-test (fewer than two subjects, or no spread) and the bootstrap interval
    (fewer than four; :data:`MIN_SUBJECTS`).
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    n, need_t, need_boot = v.size, MIN_SUBJECTS["t-test"], MIN_SUBJECTS["bootstrap"]
    out = []
    if n < need_t:
        out.append(f"no t-test across subjects (needs {need_t}+; p_binomial is the "
                   "trial-level test)")
    elif not _varies(v):
        out.append("no t-test across subjects (all score the same: no spread; p_binomial "
                   "is the trial-level test)")
    if n < need_boot:
        out.append(f"no bootstrap interval (needs {need_boot}+: with fewer it is the "
                   "subjects' range, not a 95 % interval)")
    return f"{_subjects(n)}: " + "; ".join(out) if out else ""


def paired_reason(a, b, reference="the reference"):
    """Why the paired test of ``a`` against ``b`` is missing ('' when it is not)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    if d.size < MIN_SUBJECTS["t-test"]:
        return f"no paired t-test vs {reference} (needs {MIN_SUBJECTS['t-test']}+ subjects)"
    if not _varies(d):
        return (f"no paired t-test vs {reference} (every subject differs from it by the same "
                f"{d[0]:+.4g}: no spread)")
    return ""


def _subjects(n):
    return f"{n} subject{'s' if n != 1 else ''}"


def binomial_per_subject(df, *, value="top1", chance=None, chance_col=None):
    """The largest per-subject binomial p of ``value`` against chance (trial level).

    Each subject's seed-averaged accuracy is tested against chance over its
    ``n_test`` test concepts (exact binomial, one-sided). The largest p is
    below alpha only when every subject is above chance on its own: the
    fallback where there are too few subjects for a test across them.
    """
    if chance is None:
        chance = float(df[chance_col].iloc[0]) if chance_col else 1.0 / df["n_way"].iloc[0]
    n_col = "n_test" if "n_test" in df else "n_way"
    per = df.groupby("subject").agg(acc=(value, "mean"), n=(n_col, "first")).dropna()
    if per.empty:
        return np.nan
    return max(binomial_pvalue(a, int(n), chance) for a, n in zip(per["acc"], per["n"]))


def _chance_row(v, chance, seed, n_boot):
    """Across-subject statistics of one condition's per-subject values ``v``."""
    from scipy import stats

    lo, hi = bootstrap_ci(v, n_boot=n_boot, seed=seed)
    p = (float(stats.ttest_1samp(v, chance, alternative="greater").pvalue)
         if v.size >= MIN_SUBJECTS["t-test"] and _varies(v) else np.nan)
    return {"n_subjects": v.size, "mean": v.mean() if v.size else np.nan,
            "sem": v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan,
            "ci_low": lo, "ci_high": hi, "chance": chance, "p_chance": p}


def _add_fdr(out, column, after):
    """Insert ``<column>_fdr`` (Benjamini-Hochberg over conditions) after ``after``."""
    out.insert(out.columns.get_loc(after) + 1, f"{column}_fdr", fdr(out[column].to_numpy()))
def _cluster_1samp(x, threshold, n_permutations, seed):
    """MNE's one-sample cluster test (one-sided), silent whatever eegvision's log level.

    ``seed=`` (not ``rng=``, which older MNE lacks and which draws other
    permutations) makes MNE log "Use rng= ..." outside its ``verbose``; a time
    point where every subject scores the same has zero variance, so its t is
    infinite (all above chance: part of a cluster) or NaN (all at chance: in
    none), as intended, and numpy's divide warnings say nothing new.
    """
    import mne
    from mne.stats import permutation_cluster_1samp_test

    with mne.use_log_level("error"), np.errstate(divide="ignore", invalid="ignore"):
        return permutation_cluster_1samp_test(
            x, threshold=threshold, tail=1, n_permutations=n_permutations, seed=int(seed),
            out_type="mask", verbose="error")


def summarize(df, *, by="condition", value="top1", reference=None, n_boot=10000, seed=0):
    """Mean, SEM, bootstrap CI across subjects per condition, with tests.

    Adds ``p_chance`` (one-sample t-test across subjects vs chance,
    one-sided), ``p_binomial`` (the trial-level test: the largest of the
    subjects' exact binomial p-values, see :func:`binomial_per_subject`),
    and, when ``reference`` names a condition, ``p_vs_reference`` (paired
    t-test, per subject averaged over seeds), each with its ``_fdr``
    (Benjamini-Hochberg); effect sizes ``dz_chance`` and, against the
    reference, ``diff_vs_reference`` with its bootstrap interval and
    ``dz_vs_reference`` (see :func:`add_effect_sizes`).

    A statistic needs enough subjects (:data:`MIN_SUBJECTS`): below that, or
    when the values (or the paired differences) do not vary, it is NaN and
    the ``reason`` column says why.
    """
    import pandas as pd

    per_subject = df.groupby([by, "subject"], sort=False)[value].mean().unstack("subject")
    chance = 1.0 / df["n_way"].iloc[0]
    rows = []
    for cond, vals in per_subject.iterrows():
        v = vals.dropna().to_numpy()
        rows.append({by: cond, **_chance_row(v, chance, seed, n_boot),
                     "p_binomial": binomial_per_subject(df[df[by] == cond], value=value,
                                                        chance=chance),
                     "reason": chance_reason(v)})
    out = pd.DataFrame(rows)
    _add_fdr(out, "p_chance", "p_chance")
    _add_fdr(out, "p_binomial", "p_binomial")
    if reference is not None and reference in per_subject.index:
        ref = per_subject.loc[reference]
        out["p_vs_reference"] = [
            np.nan if c == reference else paired_test(per_subject.loc[c], ref)[1]
            for c in out[by]]
        out["p_vs_reference_fdr"] = fdr(out["p_vs_reference"].to_numpy())
        out["reason"] = [_join(r, "" if c == reference else
                               paired_reason(per_subject.loc[c], ref, reference))
                         for r, c in zip(out["reason"], out[by], strict=True)]
    out = add_effect_sizes(out, per_subject, by=by, chance=chance, reference=reference,
                           n_boot=n_boot, seed=seed)
    return out[[c for c in out.columns if c != "reason"] + ["reason"]]


def _join(*reasons):
    return "; ".join(r for r in reasons if r)


# ------------------------------------------------------------ effect sizes
def cohens_dz(a, b=None, *, mu=0.0):
    """Cohen's d_z: mean of ``a - b`` (or ``a - mu``) over its SD (ddof 1).

    NaN with fewer than two values or no spread.
    """
    d = np.asarray(a, float) - (mu if b is None else np.asarray(b, float))
    d = d[np.isfinite(d)]
    if d.size < 2 or not _varies(d):
        return np.nan
    return float(d.mean() / d.std(ddof=1))


def paired_difference(a, b, *, n_boot=10000, seed=0):
    """Mean of ``a - b`` with its bootstrap 95 % interval and d_z: ``(diff, low, high, dz)``."""
    d = np.asarray(a, float) - np.asarray(b, float)
    low, high = bootstrap_ci(d, n_boot=n_boot, seed=seed)
    mean = float(np.nanmean(d)) if np.isfinite(d).any() else np.nan
    return mean, low, high, cohens_dz(a, b)


def add_effect_sizes(out, per_subject, *, by="condition", chance, reference=None, n_boot=10000,
                     seed=0):
    """Add ``dz_chance`` and, against ``reference``, the paired difference with CI and d_z."""
    out["dz_chance"] = [cohens_dz(per_subject.loc[c].dropna(), mu=chance) for c in out[by]]
    if reference is None or reference not in per_subject.index:
        return out
    ref = per_subject.loc[reference]
    stats_ = [(np.nan,) * 4 if c == reference else
              paired_difference(per_subject.loc[c], ref, n_boot=n_boot, seed=seed)
              for c in out[by]]
    for i, name in enumerate(("diff_vs_reference", "diff_ci_low", "diff_ci_high",
                              "dz_vs_reference")):
        out[name] = [s[i] for s in stats_]
    return out


def cluster_mask(scores, chance, *, n_permutations=1024, threshold=None, seed=0, alpha=0.05):
    """Cells of a (subjects x ...) score array in a cluster above chance (one-sided).

    The N-dimensional version of :func:`cluster_test` (e.g. a train-time x
    test-time generalisation matrix): ``permutation_cluster_1samp_test`` with
    a lattice adjacency, sign-flip permutations of ``scores - chance`` and a
    cluster-forming threshold at the t value of p = .05.

    Returns
    -------
    mask : bool array of shape ``scores.shape[1:]`` (all False with < 2 subjects)
    pvalues : array of cluster p-values (possibly empty)
    """
    from scipy import stats

    x = np.asarray(scores, float) - chance
    mask = np.zeros(x.shape[1:], bool)
    if x.shape[0] < 2 or not _varies(x):
        return mask, np.array([])
    if threshold is None:
        threshold = stats.t.ppf(0.95, x.shape[0] - 1)
    _, clusters, pvals, _ = _cluster_1samp(x, threshold, n_permutations, seed)
    for cluster, p in zip(clusters, pvals):
        if p < alpha:
            mask |= np.asarray(cluster, bool).reshape(mask.shape)
    return mask, np.asarray(pvals)


def group_rows(df, *, by="condition", value="top1", chance_col=None, extra=(), n_boot=10000,
               seed=0):
    """Across-subject summary per condition when chance differs between conditions.

    Like :func:`summarize` without a reference: per condition the mean over
    subjects (each averaged over seeds), SEM, bootstrap CI, chance (from
    ``chance_col``, else ``1 / n_way``), a one-sided t-test against it
    (``p_chance``), the trial-level ``p_binomial``, their FDR over conditions,
    ``dz_chance`` and the ``reason`` for any statistic left out (too few
    subjects, no spread). ``extra`` columns (constant within a condition) are kept.
    """
    import pandas as pd

    rows = []
    for cond, sub in df.groupby(by, sort=False):
        v = sub.groupby("subject")[value].mean().dropna().to_numpy()
        chance = (float(sub[chance_col].iloc[0]) if chance_col else 1.0 / sub["n_way"].iloc[0])
        rows.append({by: cond, **{c: sub[c].iloc[0] for c in extra},
                     **_chance_row(v, chance, seed, n_boot),
                     "p_binomial": binomial_per_subject(sub, value=value, chance=chance),
                     "dz_chance": cohens_dz(v, mu=chance), "reason": chance_reason(v)})
    out = pd.DataFrame(rows)
    if not out.empty:
        _add_fdr(out, "p_chance", "p_chance")
        _add_fdr(out, "p_binomial", "p_binomial")
    return out
