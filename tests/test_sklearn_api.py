"""The decoders as scikit-learn citizens: every check of ``check_estimator``, the tags that
declare what they are, input validation, ``decision_function`` / ``top_k_accuracy``,
``random_state`` and training without a validation split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import top_k_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

from eegvision._utils import DataError, OptionError
from eegvision.decoding import ContrastiveDecoder, RidgeDecoder, retrieval_scorer


def _tiny_contrastive(config=None, **params):
    """Small and fast enough for ~60 checks: the flatten-and-project encoder, 10 epochs, no
    validation split (the checks' problems have 2 or 3 classes, too few to hold any out)."""
    return ContrastiveDecoder("mlp", epochs=10, val_conditions=0, device="cpu",
                              config={"lr": 1e-2, **(config or {})}, **params)


#: check name -> why it fails, per decoder. Both pass every check of scikit-learn's suite
#: (legacy checks included); what they are is declared through their tags instead (see
#: test_tags_declare_what_the_decoders_are). A check added here needs its reason.
EXPECTED_FAILED_CHECKS = {"RidgeDecoder": {}, "ContrastiveDecoder": {}}


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks([RidgeDecoder(), _tiny_contrastive()],
                         expected_failed_checks=_expected_failed)
def test_check_estimator(estimator, check):
    check(estimator)


def test_no_check_is_skipped_and_the_suite_is_the_classifier_and_transformer_one():
    """The tags do not dodge checks: the classifier, transformer, NaN and n_features
    checks are all in the suite the decoders pass, and none is declared failing."""
    assert EXPECTED_FAILED_CHECKS == {"RidgeDecoder": {}, "ContrastiveDecoder": {}}
    names = {getattr(check, "func", check).__name__
             for _, check in estimator_checks_generator(RidgeDecoder(), mark=None)}
    for name in ("check_classifiers_train", "check_classifiers_classes",
                 "check_classifiers_one_label", "check_transformer_general",
                 "check_estimators_nan_inf", "check_n_features_in_after_fitting",
                 "check_supervised_y_no_nan", "check_fit_idempotent",
                 "check_supervised_y_2d", "check_requires_y_none"):
        assert name in names


@pytest.mark.parametrize("estimator", [RidgeDecoder(), ContrastiveDecoder()])
def test_tags_declare_what_the_decoders_are(estimator):
    tags = get_tags(estimator)
    # classes are images, scored by decision_function (cosine similarity to each class)
    assert tags.estimator_type == "classifier" and tags.classifier_tags.multi_class
    # transform(X) gives the EEG embeddings, float32 whatever the input's dtype
    assert tags.transformer_tags.preserves_dtype == ["float32"]
    # EEG epochs (n_trials, n_channels, n_times) as well as 2-D slices
    assert tags.input_tags.three_d_array and tags.input_tags.two_d_array
    # refused, never imputed: NaN / inf (one line naming X), sparse input
    assert not tags.input_tags.allow_nan and not tags.input_tags.sparse
    # a 2-D y is each trial's image features (a retrieval target), not one label per column
    assert not tags.target_tags.multi_output and tags.target_tags.required


def _data(n_images=12, reps=5, n_ch=5, n_t=6, d=10, seed=0):
    """EEG that linearly encodes each image's features (samples 2-3), plus noise."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((n_images, d)).astype(np.float32)
    image = np.repeat(np.arange(n_images), reps)
    X = 0.5 * rng.standard_normal((len(image), n_ch, n_t))
    X[:, :, 2:4] += (feats[image] @ rng.standard_normal((d, n_ch)))[:, :, None]
    return X.astype(np.float32), feats, image


# ---------------------------------------------------------------- input validation
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_x_is_refused_in_one_line_naming_x(bad):
    X, feats, image = _data()
    X[3, 1, 2] = bad
    for est in (RidgeDecoder(features=feats), _tiny_contrastive(features=feats)):
        with pytest.raises(DataError, match=r"^X: 1 NaN or infinite values in the EEG") as err:
            est.fit(X, image)
        assert "Fix:" in str(err.value) and len(str(err.value).splitlines()) == 2
    fitted = RidgeDecoder(features=feats).fit(np.nan_to_num(X, posinf=0.0), image)
    for method in (fitted.predict, fitted.decision_function, fitted.transform):
        with pytest.raises(DataError, match="^X: 1 NaN"):
            method(X)
    with pytest.raises(DataError, match="^X: 1 NaN"):
        fitted.score(X, image)


def test_nan_in_y_or_in_the_feature_table_is_refused_naming_it():
    X, feats, image = _data()
    Y = feats[image].copy()
    Y[0, 0] = np.nan
    with pytest.raises(DataError, match="^y: 1 NaN or infinite values in the targets"):
        RidgeDecoder().fit(X, Y)
    table = feats.copy()
    table[2, 1] = np.inf
    with pytest.raises(DataError, match="^features=: 1 NaN or infinite"):
        RidgeDecoder(features=table).fit(X, image)


def test_n_features_in_trial_shape_and_feature_names():
    X, feats, image = _data()
    est = RidgeDecoder(features=feats).fit(X, image)
    assert est.n_features_in_ == 5 * 6 and est.trial_shape_ == (5, 6)
    assert not hasattr(est, "feature_names_in_")
    with pytest.raises(ValueError, match=r"X has trials of shape \(6, 5\).*expecting \(5, 6\)"):
        est.predict(X.transpose(0, 2, 1))
    # a 2-D DataFrame (one time point per trial, channels as columns) keeps its names
    frame = pd.DataFrame(X[:, :, 2], columns=[f"E{i}" for i in range(5)])
    est.fit(frame, image)
    assert list(est.feature_names_in_) == list(frame.columns) and est.n_features_in_ == 5
    with pytest.raises(ValueError, match="X has 4 features, but RidgeDecoder is expecting 5"), \
            pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(X[:, :4, 2])


def test_labels_and_forms_of_y_are_checked():
    X, feats, image = _data()
    est = RidgeDecoder(features=feats)
    with pytest.raises(ValueError, match="y holds 60 labels that are not labels of features="):
        est.fit(X, image + 100)
    est.fit(X, image)
    with pytest.raises(ValueError, match="y holds features but the decoder was fitted on labels"):
        est.score(X, feats[image])
    with pytest.raises(ValueError, match="y has 59 rows for 60 trials"):
        est.score(X, image[1:])
    with pytest.raises(ValueError, match="only 1 class"):
        RidgeDecoder().fit(X, np.zeros(len(X), dtype=int))


# ---------------------------------------------------------------- classes and scores
def test_decision_function_predict_and_classes_in_each_form_of_y():
    X, feats, image = _data()
    # labels indexing a table: every table row is a class, trained on or not (zero-shot)
    est = RidgeDecoder(features=feats).fit(X[image < 8], image[image < 8])
    assert list(est.classes_) == list(range(12))
    scores = est.decision_function(X)
    assert scores.shape == (60, 12) and np.abs(scores).max() <= 1 + 1e-9
    assert (est.predict(X) == est.classes_[scores.argmax(1)]).all()
    assert (est.predict(X) == image).mean() > 0.5  # images 8-11 never trained on
    # labels without a table: a closed-set classifier over the labels seen
    names = np.array([f"concept{i:02d}" for i in range(12)])[image]
    clf = RidgeDecoder().fit(X, names)
    assert list(clf.classes_) == sorted(set(names)) and (clf.predict(X) == names).mean() > 0.9
    # features: the classes are the distinct rows; predict gives the best row's features
    reg = RidgeDecoder().fit(X, feats[image])
    assert reg.decision_function(X).shape == (60, 12)
    np.testing.assert_array_equal(reg.predict(X)[:5], reg.class_features_[
        reg.decision_function(X)[:5].argmax(1)])
    # two classes: one column, the similarity to classes_[1] minus that to classes_[0]
    two = RidgeDecoder().fit(X[image < 2], image[image < 2])
    assert two.decision_function(X).shape == (60,)


def test_ridge_without_a_table_predicts_as_ridge_classifier_cv():
    """One-hot targets: the cosine to each code ranks as the raw prediction does, and
    RidgeClassifierCV's +-1 targets scale every leave-one-out error alike (same penalty)."""
    from sklearn.linear_model import RidgeClassifierCV

    X, feats, image = _data(seed=2)
    flat = X.reshape(len(X), -1)
    ours = RidgeDecoder().fit(X, image)
    ref = RidgeClassifierCV(alphas=ours.alphas).fit((flat - flat.mean(0)) / flat.std(0), image)
    assert ours.alpha_ == ref.alpha_
    np.testing.assert_array_equal(ours.predict(X), ref.predict((flat - flat.mean(0)) /
                                                               flat.std(0)))


def test_concept_labels_from_a_feature_dataframe():
    X, feats, image = _data()
    concepts = np.array([f"c{i:02d}" for i in range(12)])
    table = pd.DataFrame(feats, index=concepts)[::-1]  # any row order: classes_ are sorted
    est = RidgeDecoder(features=table).fit(X, concepts[image])
    assert list(est.classes_) == sorted(concepts)
    by_index = RidgeDecoder(features=feats).fit(X, image)
    np.testing.assert_allclose(est.decision_function(X), by_index.decision_function(X))
    assert est.score(X, concepts[image]) == by_index.score(X, image)


def test_top_k_accuracy_scoring_through_decision_function():
    """scoring='top_k_accuracy' ranks among classes_: with every image in each fold (a
    stratified split of repeated images) it is the package's top-k retrieval, and
    score() is the accuracy of predict()."""
    X, feats, image = _data(seed=1)
    est = RidgeDecoder(features=feats)
    cv = StratifiedKFold(5)
    top2 = cross_val_score(est, X, image, cv=cv, scoring="top_k_accuracy")
    ours = cross_val_score(est, X, image, cv=cv, scoring=retrieval_scorer(2))
    np.testing.assert_allclose(top2, ours)
    assert 0.3 < top2.mean() < 1.0  # informative and not trivially perfect (chance 2/12)
    train, test = next(cv.split(X, image))
    fitted = est.fit(X[train], image[train])
    for k in (1, 3, 5):
        assert top_k_accuracy_score(image[test], fitted.decision_function(X[test]), k=k,
                                    labels=fitted.classes_) == pytest.approx(
            retrieval_scorer(k)(fitted, X[test], image[test]))
    assert fitted.score(X[test], image[test]) == pytest.approx(
        np.mean(fitted.predict(X[test]) == image[test]))
    # cv=5 on a classifier is a StratifiedKFold; a grid search picks by top-k too
    assert cross_val_score(est, X, image, cv=5, scoring="top_k_accuracy").shape == (5,)
    grid = GridSearchCV(est, {"alphas": [(1.0,), (1e4,)]}, cv=3, scoring="top_k_accuracy")
    assert grid.fit(X, image).best_params_["alphas"] in [(1.0,), (1e4,)]


def test_sliding_estimator_decision_function_is_per_time_point():
    from mne.decoding import SlidingEstimator

    X, feats, image = _data()
    sliding = SlidingEstimator(RidgeDecoder(features=feats), verbose=False).fit(X, image)
    assert sliding.decision_function(X).shape == (60, 6, 12)  # MNE: trials, times, classes


# ---------------------------------------------------------------- ContrastiveDecoder
def test_random_state_reproduces_the_model_and_is_the_seed():
    X, feats, image = _data(n_images=8, reps=2, n_t=12)
    emb = [_tiny_contrastive(random_state=s, features=feats).fit(X, image).transform(X)
           for s in (3, 3, 4)]
    np.testing.assert_array_equal(emb[0], emb[1])
    assert not np.allclose(emb[0], emb[2])
    est = _tiny_contrastive(random_state=3, features=feats).fit(X, image)
    assert est.config_.seed == 3
    with pytest.raises(ValueError, match="random_state must be an int >= 0"):
        _tiny_contrastive(random_state=None).fit(X, image)
    with pytest.raises(ValueError, match=r"config=\{'seed': \.\.\.\}.*give random_state="):
        ContrastiveDecoder("mlp", config={"seed": 1}).fit(X, image)
    with pytest.raises(ValueError, match=r"config=\{'epochs'.*give epochs="):
        ContrastiveDecoder("mlp", epochs=2, config={"epochs": 3}).fit(X, image)


def test_training_without_a_validation_split():
    """val_conditions=0 trains on every image (4 here: too few to hold any out) and
    records no validation loss; early stopping has nothing to stop on, so it is refused."""
    from eegvision.training import split_rows

    X, feats, image = _data(n_images=4, reps=3, n_t=12)
    with pytest.raises(DataError, match="too few to hold out"):
        ContrastiveDecoder("mlp", epochs=2, device="cpu", features=feats).fit(X, image)
    est = _tiny_contrastive(features=feats).fit(X, image)
    history = est.history_
    assert len(history) == 10 and history["val_loss"].isna().all()
    assert np.isfinite(history["train_loss"]).all() and est.config_.val_conditions == 0
    assert est.score(X, image) > 0.5  # chance 0.25
    train, val = split_rows(est._container(X, feats[image], image), 0, seed=0)
    assert list(train) == list(range(len(X))) and len(val) == 0
    with pytest.raises(OptionError, match="val_conditions 0: no validation split"):
        _tiny_contrastive(config={"patience": 3}).fit(X, image)


def test_val_conditions_zero_in_the_training_engine():
    """The training side of val_conditions=0 (ContrastiveDecoder's only needs): the lone fit
    and the sweep engine train on every condition alike; keep='best' is refused."""
    import eegvision as ev
    from eegvision.data.container import EEGImageData
    from eegvision.sweep import fit_many

    X, feats, image = _data(n_images=6, reps=2, n_ch=4, n_t=12)
    data = EEGImageData(X, feats[image], image.astype(str), [f"E{i}" for i in range(4)],
                        np.arange(12) / 250, 250.0, conditions=image)
    configs = [ev.TrainConfig.from_recipe("fast", model="mlp", epochs=2, val_conditions=0,
                                          seed=s, device="cpu") for s in (0, 1)]
    many = fit_many([data, data], configs, progress=False)
    lone = ev.fit(data, configs[0], progress=False)
    np.testing.assert_allclose(many[0].history["train_loss"], lone.history["train_loss"],
                               rtol=1e-6)
    assert lone.history["val_loss"].isna().all() and lone.best_epoch == 2
    with pytest.raises(OptionError, match="keep='best'"):
        ev.TrainConfig.from_recipe("nice", val_conditions=0)
