"""scikit-learn estimators: decode images from EEG, scored by retrieval among candidate images.

Both decoders are scikit-learn classifiers whose classes are *images*: each
class has a feature vector (its image's features), the decoder embeds a
trial's EEG in the image space and ranks every class by cosine similarity.
``X`` is EEG ``(n_trials, n_channels, n_times)`` or any ``(n_trials, ...)``
(a time slice from :class:`mne.decoding.SlidingEstimator` is
``(n_trials, n_channels)``). ``y`` takes one of three forms:

- **labels with a feature table**: ``features=`` ``(n_images, d)`` (or a
  :class:`pandas.DataFrame` indexed by label, e.g. concept names) and ``y``
  each trial's row index (or index label). ``classes_`` are *all* the
  table's labels, sorted: images never trained on are candidates too
  (zero-shot retrieval).
- **labels without a table**: each distinct label is its own one-hot
  "image", ``classes_`` the labels seen in :meth:`fit`: a plain closed-set
  classifier (the ridge one predicts as
  :class:`~sklearn.linear_model.RidgeClassifierCV` on standardised EEG). A
  label not seen in fit cannot be scored.
- **features**: ``y`` ``(n_trials, d)``, the features of each trial's image;
  ``classes_`` index the distinct rows seen in fit (``class_features_``).

``decision_function(X)`` is the cosine similarity of each trial to each class
``(n_trials, n_classes)`` (two classes: the difference, as scikit-learn's
binary convention), ``predict(X)`` the best class (in the form of ``y``: a
label, or the image's features), ``transform(X)`` the EEG embeddings, and
``score(X, y)`` the top-1 accuracy of retrieving each trial's image among the
distinct images *of y* (repetitions of one image are one candidate): the
package's zero-shot score. When ``y`` holds every class (a stratified split
of repeated images) it is the accuracy of ``predict``, scikit-learn's
classifier score. :func:`retrieval_scorer` gives top-k among the images of
``y`` for ``scoring=``; ``scoring="top_k_accuracy"`` ranks among all
``classes_`` and so needs every class in each test fold::

    from mne.decoding import SlidingEstimator
    from sklearn.model_selection import cross_val_score
    import eegvision as ev

    sliding = SlidingEstimator(ev.RidgeDecoder(features=F))   # F: (n_images, d)
    curve = sliding.fit(X_train, image_train).score(X_test, image_test)
    top2 = cross_val_score(ev.RidgeDecoder(features=F), X, image, cv=5,
                           scoring="top_k_accuracy")           # every image in each fold

Training is :func:`eegvision.training.fit` and the scoring
:func:`eegvision.evaluate.zero_shot_scores`: the same ridge, loop and top-k as
the rest of the package.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ._docs import fill_doc
from ._utils import check_finite
from .models import ridge as _ridge

_FIX_NAN = "drop or interpolate the bad trials first (e.g. epochs.drop_bad(), or keep the rows " \
           "where np.isfinite(X).all(axis=tuple(range(1, X.ndim))))."


class RetrievalScorer:
    """``scorer(estimator, X, y)``: top-``k`` zero-shot retrieval accuracy.

    Parameters
    ----------
    k : int
        A trial counts as correct when its image is among the ``k`` candidates
        (the distinct images of ``y``) most similar (cosine) to its embedding.
    """

    def __init__(self, k=1):
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.k = int(k)

    def __call__(self, estimator, X, y):
        return estimator._topk(X, y, self.k)

    def __repr__(self):
        return f"retrieval_scorer(k={self.k})"


def retrieval_scorer(k=1):
    """A scorer of top-``k`` retrieval among the images of ``y`` (for ``scoring=``).

    Unlike ``scoring="top_k_accuracy"`` (ranks among all ``classes_``), the
    candidates are the distinct images of the scored trials, so a test fold
    of new images is scored zero-shot among themselves.

    Parameters
    ----------
    k : int
        Top-k.

    Returns
    -------
    RetrievalScorer
    """
    return RetrievalScorer(k)


class _RetrievalMixin(ClassifierMixin):
    """Classes, targets, ``decision_function``, ``predict``, ``score`` and top-k for
    estimators with ``_fit_targets`` and ``_embed(X, candidates)``."""

    _dtype = (np.float64, np.float32)
    #: columns of the one-hot codes of labels without a feature table (at least n_classes)
    _min_code_size = 0

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        # transform(X): the EEG embeddings, float32 whatever the input
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        tags.input_tags.three_d_array = True  # EEG epochs (n_trials, n_channels, n_times)
        # a 2-D y is each trial's image features, a retrieval target: not multi-output
        # classification (one label per column), so target_tags.multi_output stays False
        return tags

    def fit_transform(self, X, y):
        """``fit``, then ``transform`` of the same ``X``: the EEG embeddings."""
        return self.fit(X, y).transform(X)

    # ------------------------------------------------------------------ X
    def _check_X(self, X, *, reset):
        """``X`` as a finite float array; records (``reset``) or checks its shape per trial."""
        from sklearn.utils.validation import check_array, check_is_fitted, validate_data

        if not reset:
            check_is_fitted(self, "classes_")
        trial_shape = getattr(self, "trial_shape_", None)
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        if ndim <= 2 and (reset or len(trial_shape) == 1):
            # the 2-D case exactly as scikit-learn's estimators: n_features_in_, feature names
            X = validate_data(self, X, reset=reset, dtype=self._dtype, ensure_all_finite=False)
        else:
            X = check_array(X, allow_nd=True, dtype=self._dtype, ensure_all_finite=False)
            if reset:
                self.n_features_in_ = int(np.prod(X.shape[1:]))
                self.__dict__.pop("feature_names_in_", None)
            elif X.shape[1:] != trial_shape:
                raise ValueError(f"X has trials of shape {X.shape[1:]}, but {type(self).__name__}"
                                 f" is expecting {trial_shape} (n_features_in_ = "
                                 f"{self.n_features_in_} values per trial) as input.")
        check_finite(X, "X", "values in the EEG", _FIX_NAN)
        if reset:
            self.trial_shape_ = tuple(X.shape[1:])
        return X

    # ------------------------------------------------------------------ y, at fit
    def _fit_targets(self, y, n_trials):
        """Image features per trial ``(n, d)``; sets ``classes_`` and ``class_features_``."""
        y = self._check_y(y, n_trials)
        classes, class_features, index = self._classes_of(y)
        index = np.ravel(index)
        if len(np.unique(index)) < 2:
            raise ValueError(f"y holds only 1 class (one image) for {n_trials} trials: a decoder "
                             "needs at least 2 classes to tell images apart.")
        self.classes_, self.class_features_ = classes, class_features
        self.target_form_ = "features" if y.ndim == 2 else "labels"
        return class_features[index].astype(np.float32, copy=False), index

    def _classes_of(self, y):
        """``(classes, their image features, class of each trial)`` for each form of ``y``."""
        if y.ndim == 2:
            if self.features is not None:  # a setting that would go unused is an error
                raise ValueError("y holds features (2-D) but the decoder has features=: give y "
                                 "as labels (row indices or index labels of features=), or drop "
                                 "features=.")
            class_features, index = np.unique(y, axis=0, return_inverse=True)
            return np.arange(len(class_features)), class_features, index
        if self.features is None:  # each label its own one-hot image
            from sklearn.utils.multiclass import check_classification_targets

            check_classification_targets(y)
            classes, index = np.unique(y, return_inverse=True)
            n = len(classes)
            return classes, np.eye(n, max(n, self._min_code_size), dtype=np.float32), index
        classes, class_features = self._table()
        return classes, class_features, self._label_index(y, classes)

    @staticmethod
    def _check_y(y, n_trials, *, warn=True):
        """``y`` as an array: 1-D labels or 2-D features, one row per trial, finite."""
        import warnings

        from sklearn.exceptions import DataConversionWarning

        if y is None:
            raise ValueError("This decoder requires y to be passed, but the target y is None.")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:  # one feature cannot be ranked by cosine: labels
            if warn:
                warnings.warn("A column-vector y was passed when a 1d array was expected: read "
                              "as labels (features need 2 or more columns).",
                              DataConversionWarning, stacklevel=3)
            y = y.ravel()
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be (n_trials,) labels or (n_trials, d) image features, "
                             f"got shape {y.shape}.")
        if len(y) != n_trials:
            raise ValueError(f"y has {len(y)} rows for {n_trials} trials of X.")
        if y.ndim == 2:
            y = np.asarray(y, dtype=np.float32)
        if y.dtype.kind in "fc":
            check_finite(y, "y", "values in the targets", "drop those trials from X and y.")
        return y

    def _table(self):
        """``(labels, features)`` of the feature table ``features=``, sorted by label."""
        table = self.features
        if hasattr(table, "index") and hasattr(table, "to_numpy"):  # a pandas DataFrame
            labels, values = np.asarray(table.index), table.to_numpy(dtype=np.float32)
        else:
            values = np.asarray(table, dtype=np.float32)
            labels = np.arange(len(values))
        if values.ndim != 2 or len(values) < 2:
            raise ValueError(f"features= must be a table (n_images >= 2, d) of image features, "
                             f"got shape {values.shape}.")
        check_finite(values, "features=", "values in the feature table",
                     "fix or drop those images' features.")
        if not (labels[1:] > labels[:-1]).all():  # a row index is sorted: no copy of the table
            order = np.argsort(labels, kind="stable")
            labels, values = labels[order], values[order]
            if len(np.unique(labels)) != len(labels):
                raise ValueError("features= has duplicate index labels: each image needs one "
                                 "label.")
        return labels, values

    # ------------------------------------------------------------------ y, after fit
    def _label_index(self, y, classes=None):
        """Column of ``classes`` (``classes_``) of each label of ``y``; unknown labels are an
        error."""
        classes = self.classes_ if classes is None else classes
        known = np.isin(y, classes)
        if not known.all():
            missing = np.unique(np.asarray(y)[~known])[:5].tolist()
            where = ("are not labels of features=" if self.features is not None else
                     "were never seen in fit, and the decoder has no features= table to "
                     "describe new images (give features=, each image's features)")
            raise ValueError(f"y holds {int((~known).sum())} labels that {where}: e.g. "
                             f"{missing}.")
        return np.searchsorted(classes, y)

    def _score_targets(self, y, n_trials):
        """``(candidate features, true candidate per trial)``: the distinct images of ``y``."""
        y = self._check_y(y, n_trials, warn=False)
        form = "features" if y.ndim == 2 else "labels"
        if form != self.target_form_:
            raise ValueError(f"y holds {form} but the decoder was fitted on "
                             f"{self.target_form_}: score it with y of the same form.")
        if form == "features":
            return np.unique(y, axis=0, return_inverse=True)
        ids, true_index = np.unique(self._label_index(y), return_inverse=True)
        return self.class_features_[ids], true_index

    # ------------------------------------------------------------------ outputs
    @fill_doc
    def decision_function(self, X):
        """Cosine similarity of each trial to each class's image (scores over candidates).

        Parameters
        ----------
        %(decoder_X)s

        Returns
        -------
        scores : array, shape (n_trials, n_classes) | (n_trials,)
            Columns in the order of ``classes_``; with two classes the
            similarity to ``classes_[1]`` minus that to ``classes_[0]``
            (scikit-learn's binary convention).
        """
        from .evaluate import cosine_similarity

        X = self._check_X(X, reset=False)
        sim = cosine_similarity(*self._embed(X, self.class_features_))
        return sim[:, 1] - sim[:, 0] if sim.shape[1] == 2 else sim

    @fill_doc
    def predict(self, X):
        """The most similar class of each trial: its label, or its image's features.

        Parameters
        ----------
        %(decoder_X)s

        Returns
        -------
        y_pred : array, shape (n_trials,) | (n_trials, d)
            ``classes_[best]``; for a decoder fitted on features, the
            features of the best candidate image (``class_features_[best]``).
        """
        scores = self.decision_function(X)
        best = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(1)
        return self.class_features_[best] if self.target_form_ == "features" \
            else self.classes_[best]

    @fill_doc
    def score(self, X, y):
        """Top-1 accuracy of retrieving each trial's image among the distinct images of ``y``.

        Parameters
        ----------
        %(decoder_X)s
        y : array, shape (n_trials,) | (n_trials, d)
            Each trial's label, or its image's features (the form fitted on).

        Returns
        -------
        top1 : float
            In [0, 1]; chance is one over the number of distinct images in
            ``y``. Ties count against the model (see
            :func:`eegvision.evaluate.concept_ranks`). When ``y`` holds every
            class this is the accuracy of :meth:`predict`.
        """
        return self._topk(X, y, 1)

    def _topk(self, X, y, k):
        from .evaluate import zero_shot_scores

        X = self._check_X(X, reset=False)
        candidates, true_index = self._score_targets(y, len(X))
        eeg_emb, image_emb = self._embed(X, candidates)
        return zero_shot_scores(eeg_emb, image_emb, true_index=true_index, ks=(k,))[f"top{k}"]


@fill_doc
class RidgeDecoder(_RetrievalMixin, _ridge.RidgeDecoder):
    """Ridge regression from EEG to image features (the package's ridge), as a classifier.

    :class:`eegvision.models.ridge.RidgeDecoder` (standardised, flattened EEG;
    penalty by generalised cross-validation over ``alphas``) regresses each
    trial's image features; classes are ranked by the cosine similarity of
    the predicted features to theirs (see :mod:`eegvision.decoding`).
    Deterministic: it takes no ``random_state``.

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties.
    %(decoder_features)s

    Attributes
    ----------
    classes_ : array, shape (n_classes,)
        The candidate images' labels, sorted (see :mod:`eegvision.decoding`).
    class_features_ : array, shape (n_classes, d)
        Each class's image features (the regression targets).
    n_features_in_ : int
        Values per trial (channels x samples).
    trial_shape_ : tuple
        Shape of one trial of ``X``.
    feature_names_in_ : array of str
        Column names of a 2-D ``X`` given as a DataFrame.
    coef_, intercept_, alpha_, cv_mse_
        The fitted ridge (:class:`eegvision.models.ridge.RidgeDecoder`).
    """

    def __init__(self, alphas=_ridge.DEFAULT_ALPHAS, features=None):
        super().__init__(alphas=alphas)
        self.features = features

    @fill_doc
    def fit(self, X, y):
        """Fit on EEG ``X`` and targets ``y`` (labels, or image features).

        Parameters
        ----------
        %(decoder_X)s
        %(decoder_fit_y)s

        Returns
        -------
        self : RidgeDecoder
        """
        X = self._check_X(X, reset=True)
        if len(X) < 2:
            raise ValueError("X has 1 sample (n_samples = 1): the ridge's leave-one-out choice "
                             "of the penalty needs at least 2 trials.")
        targets, _ = self._fit_targets(y, len(X))
        return _ridge.RidgeDecoder.fit(self, X, targets)

    def transform(self, X):
        """Predicted image features, ``(n_trials, d)``: the EEG embeddings."""
        return _ridge.RidgeDecoder.predict(self, self._check_X(X, reset=False))

    def encode_eeg(self, eeg):
        """The predicted image features (:meth:`transform`), as the package's ridge."""
        if hasattr(eeg, "detach"):
            eeg = eeg.detach().cpu().numpy()
        return _ridge.RidgeDecoder.predict(self, eeg)

    def _embed(self, X, candidates):
        return _ridge.RidgeDecoder.predict(self, X), self.encode_image(candidates)


#: ContrastiveDecoder parameter -> the TrainConfig field it sets (config= must not repeat it)
_OWN_SETTINGS = {"encoder": "model", "random_state": "seed", "epochs": "epochs",
                 "device": "device", "val_conditions": "val_conditions"}


@fill_doc
class ContrastiveDecoder(_RetrievalMixin, BaseEstimator):
    """A contrastive EEG encoder (any registered one) trained by :func:`eegvision.training.fit`.

    The encoder embeds EEG in the space of the (projected) image features and
    classes are ranked by cosine similarity (see :mod:`eegvision.decoding`).

    Parameters
    ----------
    encoder : str
        Encoder name (:func:`eegvision.models.list_encoders`).
    %(recipe)s
    %(epochs)s
    random_state : int
        Seed of the initialisation, the validation split, the batch order
        and augmentation: the same seed and data give the same model. Only an
        int (the package takes randomness only from explicit seeds).
    %(device)s
    sfreq : float
        Sampling frequency of ``X`` (Hz), passed to the encoder.
    val_conditions : int | float | None
        Images (conditions) held out of training to compute the validation
        loss: a count, or a fraction when below 1. None: the recipe's.
        ``0``: no validation split, every image is trained on; the history
        then has no validation loss (NaN), so early stopping (``patience``)
        and ``keep='best'`` are refused and the model is that of the last
        epoch (or, with the 'fast' recipe's ``keep='average'``, the mean of
        the last few epochs' weights).
    config : dict | None
        Other :class:`~eegvision.training.TrainConfig` fields (``lr``,
        ``batch_size``, ``patience`` ...); a misspelled one is an error, and
        so is one that a parameter above sets (``seed``, ``epochs`` ...).
    %(progress)s
    features : array, shape (n_images, d) | pandas.DataFrame | None
        Feature table whose row indices (or index labels) a 1-D ``y`` holds.
        None: a 1-D ``y`` holds class labels, each its own one-hot image
        (a code of ``max(n_classes, 32)`` values: the embedding is as wide).

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained contrastive model (encoder, image projector, loss).
    history_ : pandas.DataFrame
        One row per epoch (see :class:`~eegvision.training.FitResult`).
    config_ : TrainConfig
        What trained it.
    classes_ : array, shape (n_classes,)
        The candidate images' labels, sorted (see :mod:`eegvision.decoding`).
    class_features_ : array, shape (n_classes, d)
        Each class's image features (the contrastive targets).
    n_features_in_ : int
        Values per trial (channels x samples).
    trial_shape_ : tuple
        Shape of one trial of ``X``.
    feature_names_in_ : array of str
        Column names of a 2-D ``X`` given as a DataFrame.
    """

    _dtype = np.float32
    # the embedding is as wide as the image features: with 2 or 3 one-hot columns an encoder
    # that ends in a LayerNorm (mlp) has almost no room (2 values normalise to +-1); zero
    # columns up to 32 give it room and change no cosine between the codes
    _min_code_size = 32

    def __init__(self, encoder="nice", *, recipe="fast", epochs=None, random_state=0,
                 device="auto", sfreq=250.0, val_conditions=None, config=None, progress=False,
                 features=None):
        self.encoder = encoder
        self.recipe = recipe
        self.epochs = epochs
        self.random_state = random_state
        self.device = device
        self.sfreq = sfreq
        self.val_conditions = val_conditions
        self.config = config
        self.progress = progress
        self.features = features

    def _train_config(self):
        from .training import TrainConfig

        seed = self.random_state
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) \
                or seed < 0:
            raise ValueError(f"random_state must be an int >= 0 (a seed), got {seed!r}: the "
                             "package takes randomness only from explicit seeds.")
        overrides = dict(self.config or {})
        for param, field in _OWN_SETTINGS.items():
            # epochs and val_conditions may come from config when their parameter is None
            if field in overrides and getattr(self, param) is not None:
                raise ValueError(f"config={{{field!r}: ...}} duplicates a parameter of "
                                 f"ContrastiveDecoder: give {param}= instead.")
        own = dict(epochs=self.epochs, val_conditions=self.val_conditions)
        overrides.update({k: v for k, v in own.items() if v is not None})
        config = TrainConfig.from_recipe(self.recipe, model=self.encoder, seed=int(seed),
                                         device=self.device, **overrides)
        if config.model == "ridge":
            raise ValueError("ContrastiveDecoder(encoder='ridge'): use RidgeDecoder.")
        return config

    @fill_doc
    def fit(self, X, y):
        """Train on EEG ``X`` and targets ``y``; the trials of one image are one condition.

        Parameters
        ----------
        %(decoder_X)s
        %(decoder_fit_y)s

        Returns
        -------
        self : ContrastiveDecoder
        """
        from .training import fit

        X = self._check_X(X, reset=True)
        if len(X) < 2:
            raise ValueError("X has 1 sample (n_samples = 1): contrastive training needs at "
                             "least 2 trials of 2 images.")
        config = self._train_config()
        targets, image = self._fit_targets(y, len(X))
        result = fit(self._container(X, targets, image), config, progress=self.progress)
        self.model_, self.history_, self.config_ = result.model, result.history, result.config
        return self

    def _container(self, X, targets, image):
        from .data.container import EEGImageData

        X = self._as_3d(X)
        return EEGImageData(X, targets, image.astype(str),
                            [f"EEG{i:03d}" for i in range(X.shape[1])],
                            np.arange(X.shape[2]) / float(self.sfreq), float(self.sfreq),
                            conditions=image, meta={"source": "ContrastiveDecoder.fit(X, y)"})

    @staticmethod
    def _as_3d(X):
        X = np.asarray(X, dtype=np.float32)
        if X.ndim == 2:  # one time point (a SlidingEstimator slice): channels x 1 sample
            X = X[:, :, None]
        if X.ndim != 3:
            raise ValueError(f"X must be (n_trials, n_channels[, n_times]), got shape {X.shape}.")
        return X

    def transform(self, X):
        """EEG embeddings ``(n_trials, d)`` of the trained encoder (in the image space)."""
        X = self._check_X(X, reset=False)
        return self._embed(X, self.class_features_[:1])[0]

    def _embed(self, X, candidates):
        from .evaluate import embed

        return embed(self.model_, self._as_3d(X), np.asarray(candidates, dtype=np.float32))
