"""The scikit-learn estimators: conventions, and life inside MNE's decoding tools."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from eegvision.decoding import ContrastiveDecoder, RidgeDecoder, retrieval_scorer  # noqa: E402
from eegvision.evaluate import zero_shot_scores  # noqa: E402
from eegvision.models.ridge import RidgeDecoder as BaseRidge  # noqa: E402


def _data(n_images=30, reps=2, n_ch=6, n_t=8, d=12, seed=0):
    """EEG that linearly encodes each image's features in samples 3-5 (0 elsewhere + noise)."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((n_images, d)).astype(np.float32)
    mix = rng.standard_normal((d, n_ch))
    image = np.repeat(np.arange(n_images), reps)
    X = 0.3 * rng.standard_normal((len(image), n_ch, n_t))
    X[:, :, 3:6] += (feats[image] @ mix)[:, :, None]
    return X.astype(np.float32), feats, image


def test_clone_and_params_of_both_decoders():
    for est, change in ((RidgeDecoder(alphas=(1.0, 10.0)), {"alphas": (2.0,)}),
                        (ContrastiveDecoder("nice-sa", epochs=3), {"random_state": 5})):
        twin = clone(est)
        assert twin is not est and twin.get_params() == est.get_params()
        assert twin.set_params(**change) is twin and twin.get_params() != est.get_params()
    assert ContrastiveDecoder().get_params()["encoder"] == "nice"


def test_not_fitted_error_before_fit():
    X, feats, image = _data()
    for est in (RidgeDecoder(), ContrastiveDecoder()):
        with pytest.raises(NotFittedError):
            est.transform(X)
        with pytest.raises(NotFittedError):
            est.score(X, feats[image])


def test_ridge_fit_transform_score_match_the_package_ridge_and_top_k():
    X, feats, image = _data()
    est = RidgeDecoder().fit(X, feats[image])
    base = BaseRidge().fit(X, feats[image])
    np.testing.assert_allclose(est.transform(X), base.predict(X))
    assert est.alpha_ == base.alpha_
    # the score is top-1 among the distinct images, the package's zero-shot top-k
    expected = zero_shot_scores(base.predict(X), feats, true_index=image, ks=(1,))["top1"]
    assert est.score(X, feats[image]) == pytest.approx(expected)
    assert est.score(X, feats[image]) > 0.5  # 30 images: chance is 0.033
    # 1-D targets index a feature table; the same fit
    by_index = RidgeDecoder(features=feats).fit(X, image)
    np.testing.assert_allclose(by_index.coef_, est.coef_)
    assert by_index.score(X, image) == pytest.approx(est.score(X, feats[image]))
    assert retrieval_scorer(5)(est, X, feats[image]) >= est.score(X, feats[image])
    # without a table each label is its own one-hot image: new labels cannot be scored
    closed = RidgeDecoder().fit(X[image < 20], image[image < 20])
    assert list(closed.classes_) == list(range(20))
    with pytest.raises(ValueError, match="never seen in fit.*give features="):
        closed.score(X, image)
    with pytest.raises(ValueError, match="drop features="):
        RidgeDecoder(features=feats).fit(X, feats[image])


def test_sliding_and_generalizing_estimators_find_the_informative_samples():
    from mne.decoding import GeneralizingEstimator, SlidingEstimator, cross_val_multiscore

    X, feats, image = _data(reps=3)
    train, test = np.arange(len(image)) % 3 != 0, np.arange(len(image)) % 3 == 0
    sliding = SlidingEstimator(RidgeDecoder(features=feats), verbose=False)
    curve = sliding.fit(X[train], image[train]).score(X[test], image[test])
    assert curve.shape == (8,)
    assert curve[3:6].min() > 0.5 and curve[[0, 1, 7]].max() < 0.3
    top5 = SlidingEstimator(RidgeDecoder(features=feats), scoring=retrieval_scorer(5),
                            verbose=False).fit(X[train], image[train]).score(X[test], image[test])
    assert (top5 >= curve).all()
    gen = GeneralizingEstimator(RidgeDecoder(features=feats), verbose=False)
    matrix = gen.fit(X[train], image[train]).score(X[test], image[test])
    assert matrix.shape == (8, 8) and matrix[4, 3] > 0.5 and matrix[0, 7] < 0.3
    cv = cross_val_multiscore(sliding, X, image, cv=3)
    assert cv.shape == (3, 8) and cv[:, 4].mean() > 0.5


def test_pipeline_and_cross_val_multiscore_with_two_d_targets():
    from mne.decoding import Scaler, cross_val_multiscore
    from sklearn.model_selection import KFold

    X, feats, image = _data()
    pipe = make_pipeline(Scaler(scalings="mean"), RidgeDecoder())
    assert pipe.fit(X, feats[image]).score(X, feats[image]) > 0.5
    scores = cross_val_multiscore(clone(pipe), X, feats[image], cv=KFold(3))
    assert scores.shape == (3,) and scores.mean() > 0.3


def test_contrastive_decoder_trains_through_fit_and_embeds():
    X, feats, image = _data(n_images=24, reps=2, n_ch=4, n_t=40)
    est = ContrastiveDecoder(epochs=2, config={"batch_size": 16, "val_conditions": 4},
                             device="cpu")
    assert est.fit(X, feats[image]) is est
    assert list(est.history_["epoch"]) == [1, 2] and est.config_.model == "nice"
    emb = est.transform(X)
    assert emb.shape[0] == len(X) and np.isfinite(emb).all()
    assert 0.0 <= est.score(X, feats[image]) <= 1.0
    with pytest.raises(ValueError, match="Unknown training setting"):
        ContrastiveDecoder(config={"learning_rate": 1}).fit(X, feats[image])


@pytest.mark.parametrize("n, p, t, snr", [(400, 60, 30, 0.3), (300, 40, 5, 3.0), (500, 60, 20, 30.0),
                                         (60, 200, 5, 3.0), (150, 900, 40, 0.3), (80, 80, 5, 3.0)])
def test_ridge_gcv_equals_scikit_learn_ridgecv(n, p, t, snr):
    """The one-decomposition GCV ridge chooses RidgeCV's penalty and gives its coefficients,
    from x'x (more trials than values) and from x x' (fewer)."""
    from sklearn.linear_model import RidgeCV

    from eegvision.models.ridge import DEFAULT_ALPHAS, ridge_gcv

    rng = np.random.default_rng(n + p)
    x = rng.standard_normal((n, p)) * rng.uniform(0.1, 3, p) + rng.standard_normal(p)
    y = snr * x @ rng.standard_normal((p, t)) / np.sqrt(p) + rng.standard_normal((n, t)) + 2
    reg = RidgeCV(alphas=DEFAULT_ALPHAS).fit(x, y)
    coef, intercept, alpha, mse = ridge_gcv(x, y, DEFAULT_ALPHAS)
    assert alpha == reg.alpha_
    assert mse == pytest.approx(-reg.best_score_, rel=1e-10)
    np.testing.assert_allclose(coef, reg.coef_, rtol=1e-9, atol=1e-12 * np.abs(reg.coef_).max())
    np.testing.assert_allclose(intercept, reg.intercept_, rtol=1e-9, atol=1e-12)
    # the package's ridge takes this path when trials outnumber values, scikit-learn's otherwise
    eeg = x.reshape(n, 4, p // 4)
    for rows in (slice(None), slice(0, n // 3)):
        ours = BaseRidge().fit(eeg[rows], y[rows])
        ref = RidgeCV(alphas=DEFAULT_ALPHAS).fit((x[rows] - x[rows].mean(0)) / x[rows].std(0),
                                                 y[rows])
        assert ours.alpha_ == ref.alpha_
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8,
                                   atol=1e-11 * np.abs(ref.coef_).max())
