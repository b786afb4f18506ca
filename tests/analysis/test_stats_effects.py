"""Effect sizes, per-condition chance and N-D cluster masks against known values."""

import numpy as np
import pandas as pd

from eegvision.analysis import stats


def test_cohens_dz_known_values():
    assert stats.cohens_dz([1.0, 2.0, 3.0]) == 2.0  # mean 2, SD 1
    assert stats.cohens_dz([2.0, 3.0, 4.0], [1.0, 1.0, 1.0]) == 2.0
    assert stats.cohens_dz([1.5, 2.5], mu=1.0) == 1.0 / np.std([1.5, 2.5], ddof=1)
    assert np.isnan(stats.cohens_dz([0.05, 0.05, 0.05000000000000001], mu=0.05))
    assert np.isnan(stats.cohens_dz([1.0]))


def test_paired_difference_mean_interval_and_dz():
    diff, low, high, dz = stats.paired_difference([2.0, 3.0, 4.0, 5.0], [1.0, 1.0, 1.0, 1.0])
    assert diff == 2.5 and low <= 2.5 <= high and 1.0 <= low and high <= 4.0
    assert np.isclose(dz, 2.5 / np.std([1, 2, 3, 4], ddof=1))


def test_summarize_has_effect_sizes_and_no_t_test_on_rounding_noise():
    rows = [{"subject": s, "condition": c, "seed": 0, "n_way": 20, "n_test": 20, "top1": v}
            for s, (a, b) in enumerate([(0.3, 0.1), (0.35, 0.1), (0.4, 0.15)], 1)
            for c, v in (("all", a), ("drop-x", b))]
    s = stats.summarize(pd.DataFrame(rows), reference="all").set_index("condition")
    assert np.isclose(s.loc["drop-x", "diff_vs_reference"], np.mean([-0.2, -0.25, -0.25]))
    assert np.isclose(s.loc["drop-x", "dz_vs_reference"],
                      np.mean([-0.2, -0.25, -0.25]) / np.std([-0.2, -0.25, -0.25], ddof=1))
    assert np.isclose(s.loc["all", "dz_chance"], (0.35 - 0.05) / 0.05)
    assert np.isnan(s.loc["all", "diff_vs_reference"])
    # three subjects at chance whose means differ only in the last bit: no t-test (NaN, the
    # reason says so); the trial-level binomial test stands in
    flat = pd.DataFrame([{"subject": i, "condition": "c", "seed": 0, "n_way": 20, "n_test": 20,
                          "top1": v} for i, v in enumerate([0.05, 0.05, 0.05000000000000001])])
    row = stats.summarize(flat).iloc[0]
    assert np.isnan(row["p_chance"]) and "no spread" in row["reason"]
    assert np.isclose(row["p_binomial"], stats.binomial_pvalue(0.05, 20, 0.05))


def test_group_rows_uses_each_conditions_chance():
    rng = np.random.default_rng(0)
    rows = [{"subject": s, "condition": f"k={k}", "k": k, "seed": 0, "n_way": 10,
             "chance_k": k / 10, "topk": k / 10 + d + 0.01 * rng.standard_normal()}
            for s in range(6) for k, d in ((1, 0.2), (5, 0.0))]
    g = stats.group_rows(pd.DataFrame(rows), value="topk", chance_col="chance_k",
                         extra=("k",)).set_index("k")
    assert list(g["chance"]) == [0.1, 0.5]
    assert g.loc[1, "p_chance_fdr"] < 0.001 < g.loc[5, "p_chance"]


def test_cluster_mask_finds_planted_block_only():
    rng = np.random.default_rng(0)
    x = 0.05 + 0.01 * rng.standard_normal((8, 12, 12))
    x[:, 3:7, 4:9] += 0.05
    mask, p = stats.cluster_mask(x, 0.05, n_permutations=256)
    assert mask[3:7, 4:9].mean() > 0.9 and mask.sum() <= 1.3 * 20
    assert p.min() < 0.05
    none, _ = stats.cluster_mask(x[:1], 0.05)  # one subject: no test, nothing marked
    assert not none.any()
