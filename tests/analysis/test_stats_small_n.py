"""Statistics at small n: below what a test needs, NaN with a reason, never a p of 0."""

import numpy as np
import pandas as pd
import pytest

from eegvision.analysis import stats

N_WAY = 200


def _table(accuracies, drop=-0.01, n_seeds=1):
    """Subjects' top-1 for 'all' and 'drop' (``all + drop`` per subject, or per-subject drops)."""
    drops = np.broadcast_to(np.asarray(drop, float), (len(accuracies),))
    return pd.DataFrame([
        {"subject": s, "condition": c, "seed": seed, "n_way": N_WAY, "n_test": N_WAY,
         "top1": a + (d if c == "drop" else 0.0)}
        for s, (a, d) in enumerate(zip(accuracies, drops, strict=True), 1)
        for c in ("all", "drop") for seed in range(n_seeds)])


def test_one_subject_no_t_test_no_interval_binomial_instead():
    s = stats.summarize(_table([0.05]), reference="all").set_index("condition")
    for cond in ("all", "drop"):
        assert np.isnan(s.loc[cond, ["p_chance", "ci_low", "ci_high", "sem"]].astype(float)).all()
        assert s.loc[cond, "reason"].startswith("1 subject: no t-test across subjects (needs 2+")
        assert "no bootstrap interval (needs 4+" in s.loc[cond, "reason"]
    # the trial-level test of the one subject: exact binomial over its 200 test concepts
    assert s.loc["all", "p_binomial"] == pytest.approx(stats.binomial_pvalue(0.05, N_WAY, 0.005))
    assert s.loc["all", "p_binomial"] < 1e-6  # 10 of 200 against 1 expected
    assert np.isnan(s.loc["drop", "p_vs_reference"])
    assert "no paired t-test vs all (needs 2+ subjects)" in s.loc["drop", "reason"]


def test_two_subjects_same_difference_is_not_p_zero():
    """Issue 29: both subjects 1 % below the reference gave p_vs_reference = 0.000."""
    s = stats.summarize(_table([0.05, 0.08]), reference="all").set_index("condition")
    assert np.isnan(s.loc["drop", "p_vs_reference"])
    assert np.isnan(s.loc["drop", "p_vs_reference_fdr"])
    assert "every subject differs from it by the same -0.01" in s.loc["drop", "reason"]
    assert s.loc["drop", "diff_vs_reference"] == pytest.approx(-0.01)
    # two subjects that vary: a t-test across them exists (df = 1), the interval does not
    assert np.isfinite(s.loc["all", "p_chance"]) and 0 < s.loc["all", "p_chance"] < 1
    assert np.isnan(s.loc["all", "ci_low"]) and s.loc["all", "reason"].startswith("2 subjects:")
    assert np.isfinite(s.loc["all", "sem"])


def test_two_subjects_equal_scores_zero_variance():
    s = stats.summarize(_table([0.05, 0.05])).set_index("condition")
    assert np.isnan(s.loc["all", "p_chance"]) and "no spread" in s.loc["all", "reason"]
    # the largest per-subject binomial p: every subject is above chance on its own
    assert s.loc["all", "p_binomial"] == pytest.approx(stats.binomial_pvalue(0.05, N_WAY, 0.005))


def test_binomial_fallback_is_the_largest_subject_p():
    df = _table([0.01, 0.06])  # subject 1 near chance (2 of 200), subject 2 far above
    p = stats.summarize(df).set_index("condition").loc["all", "p_binomial"]
    assert p == pytest.approx(stats.binomial_pvalue(0.01, N_WAY, 0.005)) and p > 0.05


def test_three_subjects_t_tests_but_no_interval_four_have_all():
    rng = np.random.default_rng(0)
    three = stats.summarize(_table([0.05, 0.07, 0.06], drop=[-0.01, -0.03, -0.02]),
                            reference="all").set_index("condition")
    assert np.isfinite(three.loc["drop", "p_vs_reference"])
    assert 0 < three.loc["drop", "p_vs_reference"] < 0.2
    assert np.isnan(three.loc["all", "ci_low"]) and "3 subjects" in three.loc["all", "reason"]
    acc = 0.06 + 0.01 * rng.standard_normal(6)
    six = stats.summarize(_table(acc, drop=-0.02 + 0.005 * rng.standard_normal(6), n_seeds=2),
                          reference="all").set_index("condition")
    assert (six["reason"] == "").all()
    assert (six["ci_low"] < six["mean"]).all() and (six["mean"] < six["ci_high"]).all()
    assert six.loc["drop", "p_vs_reference"] < 0.01 and six.loc["all", "p_chance"] < 0.001
    assert six.loc["drop", "diff_ci_low"] < -0.02 < six.loc["drop", "diff_ci_high"] < 0


def test_paired_test_zero_variance_and_nan_pairs():
    assert np.isnan(stats.paired_test([0.3, 0.4], [0.2, 0.3])).all()  # same +0.1 twice
    assert np.isnan(stats.paired_test([0.3, np.nan, 0.4], [0.2, 0.1, 0.3])).all()
    t, p = stats.paired_test([0.3, 0.45, 0.5], [0.2, 0.3, 0.3])
    assert t > 0 and 0 < p < 0.1
    assert stats.paired_reason([0.3, 0.45, 0.5], [0.2, 0.3, 0.3]) == ""


def test_group_rows_reason_and_binomial():
    rows = [{"subject": 1, "condition": f"k={k}", "k": k, "seed": 0, "n_way": 10, "n_test": 10,
             "chance_k": k / 10, "topk": acc} for k, acc in ((1, 0.6), (5, 0.5))]
    g = stats.group_rows(pd.DataFrame(rows), value="topk", chance_col="chance_k",
                         extra=("k",)).set_index("k")
    assert np.isnan(g["p_chance"]).all() and np.isnan(g["ci_low"]).all()
    assert g.loc[1, "p_binomial"] == pytest.approx(stats.binomial_pvalue(0.6, 10, 0.1))
    assert g.loc[5, "p_binomial"] == pytest.approx(stats.binomial_pvalue(0.5, 10, 0.5))
    assert g["reason"].str.startswith("1 subject: no t-test").all()


def test_cli_summary_says_why(capsys, tmp_path):
    """``eegvision analyze`` prints the trial-level test and each reason once."""
    from eegvision._commands.analysis import _print_summary

    df = _table([0.05, 0.08], drop=-0.02)
    df.attrs["summary"] = stats.summarize(df, reference="all")
    _print_summary("spatial", df, tmp_path)
    out = capsys.readouterr().out
    assert "p_binomial" in out.splitlines()[0]
    assert "  note: 2 subjects: no bootstrap interval (needs 4+" in out
    assert "  note (drop): no paired t-test vs all (every subject differs from it by the " \
           "same -0.02: no spread)" in out
