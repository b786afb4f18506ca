"""Zero-shot top-k, k-way accuracy and per-concept ranks on hand-made inputs."""

import numpy as np
import pytest

from eegvision.evaluate import (
    concept_ranks,
    cosine_similarity,
    k_way_accuracy,
    topk_from_ranks,
    zero_shot_scores,
)

# rows: queries; true candidate of row i is column i
SIM = np.array([
    [0.9, 0.1, 0.2, 0.0],   # rank 1
    [0.5, 0.4, 0.3, 0.0],   # rank 2
    [0.8, 0.7, 0.6, 0.1],   # rank 3
    [0.4, 0.3, 0.2, 0.1],   # rank 4
])


def test_ranks_exact():
    assert concept_ranks(SIM).tolist() == [1, 2, 3, 4]


def test_ranks_with_true_index():
    assert concept_ranks(SIM, true_index=[3, 3, 0, 0]).tolist() == [4, 4, 1, 1]


def test_ties_count_against_the_model():
    sim = np.zeros((3, 3))
    assert concept_ranks(sim).tolist() == [3, 3, 3]
    assert topk_from_ranks(concept_ranks(sim), ks=(1,))["top1"] == 0.0


def test_topk_exact():
    out = topk_from_ranks(concept_ranks(SIM), ks=(1, 2, 3, 4))
    assert out == {"top1": 0.25, "top2": 0.5, "top3": 0.75, "top4": 1.0}


def test_zero_shot_scores_cosine():
    cands = np.eye(4)
    emb = np.array([[2, 0, 0, 0], [0, 0, 5, 0], [0, 0, 3, 0.1], [0.1, 0, 0, 1]], float)
    out = zero_shot_scores(emb, cands, ks=(1, 2))
    # rows 0, 2 and 3 are nearest their own candidate; row 1 points at candidate 2
    assert out == {"top1": 0.75, "top2": 0.75}


def test_zero_shot_scores_dim_mismatch():
    with pytest.raises(ValueError, match="8-d"):
        zero_shot_scores(np.ones((2, 4)), np.ones((2, 8)))


def test_cosine_similarity_scale_free():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(cosine_similarity(3 * a, b), cosine_similarity(a, 0.2 * b))
    np.testing.assert_allclose(np.diag(cosine_similarity(a, a)), 1.0)


def test_k_way_with_all_candidates_equals_top1():
    rng = np.random.default_rng(1)
    sim = rng.normal(size=(30, 30))
    sim[np.arange(30), np.arange(30)] += 1.0
    top1 = topk_from_ranks(concept_ranks(sim), ks=(1,))["top1"]
    assert 0 < top1 < 1
    assert k_way_accuracy(sim, 30, n_draws=5, seed=0) == pytest.approx(top1)


def test_k_way_exact_two_way():
    # row 0: true beats 2 of 3 others -> 2-way accuracy 2/3 in expectation
    sim = np.array([[0.5, 0.9, 0.1, 0.2]])
    acc = k_way_accuracy(sim, 2, n_draws=3000, seed=0, true_index=[0])
    assert acc == pytest.approx(2 / 3, abs=0.03)
    assert k_way_accuracy(SIM, 2, n_draws=10, seed=0) == k_way_accuracy(SIM, 2, n_draws=10, seed=0)


def test_k_way_chance_level_and_bad_k():
    rng = np.random.default_rng(2)
    sim = rng.normal(size=(100, 100))
    assert k_way_accuracy(sim, 2, n_draws=50, seed=0) == pytest.approx(0.5, abs=0.03)
    assert k_way_accuracy(sim, 10, n_draws=50, seed=0) == pytest.approx(0.1, abs=0.02)
    with pytest.raises(ValueError, match="between 2"):
        k_way_accuracy(sim, 101)
