"""Semantic analysis: RSA functions on hand-made RDMs and the analysis end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eegvision.analysis import rsa
from eegvision.analysis.semantic import GROUPS, semantic_group


def _noisy_copy(x, noise, seed):
    return x + noise * np.random.default_rng(seed).standard_normal(x.shape)


def test_rdm_and_compare_identity():
    x = np.random.default_rng(0).standard_normal((30, 8))
    d = rsa.rdm(x)
    assert d.shape == (30, 30)
    assert np.allclose(d, d.T) and np.allclose(np.diag(d), 0)
    assert rsa.compare_rdms(d, d) == pytest.approx(1.0)
    assert rsa.compare_rdms(d, d.max() - d + np.eye(30) * 0) == pytest.approx(-1.0)


def test_category_rdm_values():
    m = rsa.category_rdm(["a", "a", "b"])
    assert m.tolist() == [[0, 0, 1], [0, 0, 1], [1, 1, 0]]


def test_mantel_detects_related_rdms():
    x = np.random.default_rng(1).standard_normal((40, 10))
    a, b = rsa.rdm(x), rsa.rdm(_noisy_copy(x, 1.0, 2))
    rho, p = rsa.mantel_test(a, b, n_permutations=500, seed=0)
    assert rho > 0.3 and p < 0.01
    assert p >= 1 / 501  # never zero


def test_mantel_null_is_not_significant():
    """Independent RDMs: p-values spread over (0, 1], rarely below 0.05."""
    ps = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        a = rsa.rdm(rng.standard_normal((25, 5)))
        b = rsa.rdm(rng.standard_normal((25, 5)))
        ps.append(rsa.mantel_test(a, b, n_permutations=200, seed=seed)[1])
    ps = np.array(ps)
    assert 0.3 < ps.mean() < 0.7
    assert (ps < 0.05).sum() <= 5


def test_mantel_is_seeded():
    rng = np.random.default_rng(3)
    a, b = rsa.rdm(rng.standard_normal((20, 4))), rsa.rdm(rng.standard_normal((20, 4)))
    assert rsa.mantel_test(a, b, seed=7) == rsa.mantel_test(a, b, seed=7)


def test_split_half_ceiling_is_ordered_and_tracks_noise():
    rng = np.random.default_rng(4)
    truth = rng.standard_normal((30, 12))
    reps = truth[:, None] + 3.0 * rng.standard_normal((30, 8, 12))
    conds = np.repeat(np.arange(30), 8)
    flat = reps.reshape(-1, 12)
    pairs = [(rsa.rdm(np.stack([flat[a][conds[a] == c].mean(0) for c in range(30)])),
              rsa.rdm(np.stack([flat[b][conds[b] == c].mean(0) for c in range(30)])))
             for a, b in rsa.split_half_indices(conds, n_splits=4, seed=0)]
    nc = rsa.split_half_ceiling(pairs)
    assert nc["lower"] <= nc["upper"] <= 1
    assert nc["lower"] > nc["split_half_r"] > 0  # Spearman-Brown raises it
    full = rsa.rdm(reps.mean(1))
    assert rsa.compare_rdms(full, rsa.rdm(truth)) <= nc["upper"] + 0.1


def test_split_half_indices_balanced():
    conds = np.repeat(np.arange(5), 5)
    for a, b in rsa.split_half_indices(conds, n_splits=3, seed=0):
        assert len(a) == len(b) == 10 and not set(a) & set(b)
        assert np.all(np.bincount(conds[a]) == 2)
    with pytest.raises(ValueError, match="2 repetitions"):
        rsa.split_half_indices(np.arange(4))


def test_group_noise_ceiling_ordered():
    rng = np.random.default_rng(5)
    truth = rng.standard_normal((20, 6))
    rdms = [rsa.rdm(_noisy_copy(truth, 1.0, s)) for s in range(4)]
    lower, upper = rsa.group_noise_ceiling(rdms)
    assert 0 < lower <= upper <= 1


def test_within_between_detects_categories():
    labels = np.repeat(["a", "b", "c"], 10)
    sim = np.where(labels[:, None] == labels[None, :], 0.8, 0.2)
    sim = _noisy_copy(sim, 0.05, 6)
    wb = rsa.within_between(sim, labels)
    assert wb["within"] > wb["between"] and wb["p"] < 0.001


@pytest.mark.parametrize("cats, group", [
    ("animal;food", "animal"), ("dessert;food", "food"), ("toy;vehicle", "vehicle"),
    ("kitchen tool;tool;weapon", "tool"), ("musical instrument", "other"), ("", "other"),
    ("clothing", "other"), ("bird", "animal")])
def test_semantic_group(cats, group):
    assert semantic_group(cats) == group


def test_group_counts_on_things_concepts(shared_data):
    table = pd.read_csv(shared_data / "things_eeg2_concepts.tsv", sep="\t", keep_default_na=False)
    test = table[table["split"] == "test"]
    counts = pd.Series([semantic_group(c) for c in test["categories27"]]).value_counts()
    assert counts.sum() == 200 and set(counts.index) == set(GROUPS)
    assert counts.to_dict() == {"animal": 38, "food": 48, "vehicle": 22, "tool": 29, "other": 63}


# ------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    from eegvision.data.simulate import simulate_root

    return simulate_root(tmp_path_factory.mktemp("sem") / "root", subjects=1, seed=0,
                         n_train=300, n_test=40, n_train_reps=2, n_test_reps=6, snr=0.5,
                         features_dir=False)


def test_analyze_semantic_end_to_end(tiny_root, tmp_path):
    from eegvision.pipeline import analyze

    out = tmp_path / "out"
    df = analyze("semantic", 1, data_dir=tiny_root, out=out, model="ridge", progress=False,
                 text=False, n_permutations=300, n_splits=4)
    for name in ("results.csv", "rsa.csv", "config.json", "semantic.png", "semantic.pdf",
                 "similarity_sorted.csv", "concepts.csv"):
        assert (out / name).is_file(), name
    row = df.iloc[0]
    assert row["rsa_image_features_rho"] > 0 and row["rsa_image_features_p"] < 0.05
    assert row["rsa_category_rho"] > 0
    assert row["nc_lower"] <= row["nc_upper"]
    table = pd.read_csv(out / "rsa.csv")
    assert set(table["model"]) == {"image_features", "category"}
    sim = pd.read_csv(out / "similarity_sorted.csv")
    assert sim.shape == (40, 42)
    order = [GROUPS.index(g) for g in sim["group"]]
    assert order == sorted(order)
