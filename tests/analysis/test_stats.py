import numpy as np
import pandas as pd
import pytest

from eegvision.analysis import stats


def test_binomial_pvalue_chance_vs_above():
    assert stats.binomial_pvalue(0.005, 200, 0.005) > 0.2
    assert stats.binomial_pvalue(0.10, 200, 0.005) < 1e-10


def test_permutation_pvalue_detects_diagonal():
    rng = np.random.default_rng(0)
    sim = rng.standard_normal((50, 50))
    assert stats.permutation_pvalue(sim, n_permutations=200, seed=1) > 0.05
    sim[np.arange(50), np.arange(50)] += 3.0
    assert stats.permutation_pvalue(sim, n_permutations=200, seed=1) < 0.01


def test_bootstrap_ci_covers_mean_and_is_seeded():
    x = np.array([0.1, 0.2, 0.15, 0.3, 0.25])
    lo, hi = stats.bootstrap_ci(x, n_boot=2000, seed=3)
    assert lo < x.mean() < hi
    assert (lo, hi) == stats.bootstrap_ci(x, n_boot=2000, seed=3)
    # below MIN_SUBJECTS['bootstrap'] the percentile interval is the values' range: none
    assert np.isnan(stats.bootstrap_ci([0.2])).all()
    assert np.isnan(stats.bootstrap_ci([0.1, 0.2, 0.3])).all()
    assert stats.bootstrap_ci([0.2], min_n=1) == (0.2, 0.2)


def test_fdr_monotone_and_nan_passthrough():
    p = np.array([0.01, 0.02, np.nan, 0.5])
    q = stats.fdr(p)
    assert np.isnan(q[2])
    assert np.all(q[[0, 1, 3]] >= p[[0, 1, 3]])


def test_cluster_test_finds_planted_interval():
    rng = np.random.default_rng(0)
    scores = 0.005 + 0.002 * rng.standard_normal((8, 60))
    scores[:, 20:35] += 0.03
    spans, pvals = stats.cluster_test(scores, 0.005, n_permutations=256, seed=0)
    sig = [s for s, p in zip(spans, pvals) if p < 0.05]
    assert len(sig) == 1
    start, stop = sig[0]
    assert 18 <= start <= 22 and 33 <= stop <= 37


def test_summarize_reference_and_chance():
    rng = np.random.default_rng(1)
    rows = []
    for subject in range(1, 7):
        base = 0.15 + 0.02 * rng.standard_normal()
        for cond, delta in (("all", 0.0), ("drop-occipital", -0.08), ("drop-frontal", 0.0)):
            rows.append({"subject": subject, "condition": cond, "seed": 0, "n_way": 200,
                         "top1": base + delta + 0.002 * rng.standard_normal()})
    df = pd.DataFrame(rows)
    s = stats.summarize(df, reference="all").set_index("condition")
    assert (s["p_chance"] < 0.001).all()
    assert s.loc["drop-occipital", "p_vs_reference_fdr"] < 0.01
    assert s.loc["drop-frontal", "p_vs_reference_fdr"] > 0.05
    assert np.isnan(s.loc["all", "p_vs_reference"])
    assert (s["ci_low"] <= s["mean"]).all() and (s["mean"] <= s["ci_high"]).all()


def test_rng_requires_seed():
    with pytest.raises(ValueError, match="seed"):
        stats.bootstrap_ci([1.0, 2.0], seed=None)
