"""scikit-learn estimators: decode image features from EEG, scored by zero-shot retrieval.

Both decoders take EEG ``X`` of shape ``(n_trials, n_channels, n_times)`` (or
any ``(n_trials, ...)``: a time slice from :class:`mne.decoding.SlidingEstimator`
is ``(n_trials, n_channels)``) and the targets ``Y``: the image features
``(n_trials, d)`` of each trial's image, or, with a feature table
``features=`` ``(n_images, d)``, each trial's image index ``(n_trials,)``.
MNE's ``SlidingEstimator`` and ``GeneralizingEstimator`` accept only 1-D
targets, so there use the index form::

    from mne.decoding import SlidingEstimator, cross_val_multiscore
    import eegvision as ev

    sliding = SlidingEstimator(ev.RidgeDecoder(features=F))   # F: (n_images, d)
    curve = sliding.fit(X_train, image_train).score(X_test, image_test)
    scores = cross_val_multiscore(ev.ContrastiveDecoder(epochs=20), X, Y, cv=5)

``transform(X)`` gives the EEG embeddings, ``score(X, Y)`` the top-1
accuracy of retrieving each trial's image among the distinct rows of ``Y``
(repetitions of one image are one candidate), and :func:`retrieval_scorer`
gives top-k for ``scoring=``. Training is :func:`eegvision.training.fit` and the
scoring :func:`eegvision.evaluate.zero_shot_scores`: the same ridge, loop and
top-k as the rest of the package.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ._docs import fill_doc
from .models import ridge as _ridge


class RetrievalScorer:
    """``scorer(estimator, X, Y)``: top-``k`` zero-shot retrieval accuracy.

    Parameters
    ----------
    k : int
        A trial counts as correct when its image is among the ``k`` candidates
        most similar (cosine) to its embedding.
    """

    def __init__(self, k=1):
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.k = int(k)

    def __call__(self, estimator, X, Y):
        return estimator._topk(X, Y, self.k)

    def __repr__(self):
        return f"retrieval_scorer(k={self.k})"


def retrieval_scorer(k=1):
    """A scorer of top-``k`` retrieval for ``scoring=`` (SlidingEstimator, cross_val_multiscore).

    Parameters
    ----------
    k : int
        Top-k.

    Returns
    -------
    RetrievalScorer
    """
    return RetrievalScorer(k)


class _RetrievalMixin:
    """Targets, ``score`` and top-k for estimators with ``_embed(X, candidates)``."""

    def _images(self, Y, n_trials):
        """``(features per trial (n, d), image index per trial (n,), candidate features)``."""
        Y = np.asarray(Y)
        if Y.ndim == 1:
            if self.features is None:
                raise ValueError("Y is 1-D (an image index per trial): give the decoder "
                                 "features=, the (n_images, d) feature table it indexes.")
            table = np.asarray(self.features, dtype=np.float32)
            ids, image = np.unique(Y.astype(np.int64), return_inverse=True)
            if ids.min() < 0 or ids.max() >= len(table):
                raise ValueError(f"Y holds image indices {ids.min()}..{ids.max()}; features= "
                                 f"has {len(table)} rows.")
            candidates = table[ids]
        elif Y.ndim == 2:
            if self.features is not None:  # a setting that would go unused is an error
                raise ValueError("Y holds features (2-D) but the decoder has features=: give "
                                 "Y as image indices into features=, or drop features=.")
            candidates, image = np.unique(Y.astype(np.float32), axis=0, return_inverse=True)
        else:
            raise ValueError(f"Y must be (n_trials, d) features or (n_trials,) image indices, "
                             f"got shape {Y.shape}.")
        image = np.ravel(image)
        if len(image) != n_trials:
            raise ValueError(f"Y has {len(image)} rows for {n_trials} EEG trials.")
        return candidates[image], image, candidates

    def score(self, X, Y):
        """Top-1 accuracy of retrieving each trial's image among the distinct rows of ``Y``.

        Parameters
        ----------
        X : array, shape (n_trials, ...)
            EEG.
        Y : array, shape (n_trials, d) | (n_trials,)
            Image features of each trial's image, or its index into ``features``.

        Returns
        -------
        top1 : float
            In [0, 1]; chance is one over the number of distinct images. Ties
            count against the model (see :func:`eegvision.evaluate.concept_ranks`).
        """
        return self._topk(X, Y, 1)

    def _topk(self, X, Y, k):
        from .evaluate import zero_shot_scores

        _, true_index, candidates = self._images(Y, len(X))
        eeg_emb, image_emb = self._embed(X, candidates)
        return zero_shot_scores(eeg_emb, image_emb, true_index=true_index, ks=(k,))[f"top{k}"]


@fill_doc
class RidgeDecoder(_RetrievalMixin, _ridge.RidgeDecoder):
    """Ridge regression from EEG to image features (the package's ridge), as an estimator.

    :class:`eegvision.models.ridge.RidgeDecoder` (standardised, flattened EEG;
    penalty by generalised cross-validation over ``alphas``) with
    ``transform`` (predicted features) and a retrieval ``score``.

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties.
    %(decoder_features)s
    """

    def __init__(self, alphas=_ridge.DEFAULT_ALPHAS, features=None):
        super().__init__(alphas=alphas)
        self.features = features

    def fit(self, X, Y):
        """Fit on EEG ``X`` and targets ``Y`` (features, or image indices into ``features``).

        Returns
        -------
        self : RidgeDecoder
        """
        return super().fit(X, self._images(Y, len(X))[0])

    def transform(self, X):
        """Predicted image features, ``(n_trials, d)``: the EEG embeddings."""
        return self.predict(X)

    def _embed(self, X, candidates):
        return self.predict(X), self.encode_image(candidates)


@fill_doc
class ContrastiveDecoder(_RetrievalMixin, BaseEstimator):
    """A contrastive EEG encoder (any registered one) trained by :func:`eegvision.training.fit`.

    Parameters
    ----------
    encoder : str
        Encoder name (:func:`eegvision.models.list_encoders`).
    %(recipe)s
    %(epochs)s
    seed : int
        Training seed.
    %(device)s
    sfreq : float
        Sampling frequency of ``X`` (Hz), passed to the encoder.
    config : dict | None
        Other :class:`~eegvision.training.TrainConfig` fields (``lr``,
        ``batch_size``, ``val_conditions`` ...); a misspelled one is an error.
    %(progress)s
    %(decoder_features)s

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained contrastive model (encoder, image projector, loss).
    history_ : pandas.DataFrame
        One row per epoch (see :class:`~eegvision.training.FitResult`).
    config_ : TrainConfig
        What trained it.
    """

    def __init__(self, encoder="nice", *, recipe="fast", epochs=None, seed=0, device="auto",
                 sfreq=250.0, config=None, progress=False, features=None):
        self.encoder = encoder
        self.recipe = recipe
        self.epochs = epochs
        self.seed = seed
        self.device = device
        self.sfreq = sfreq
        self.config = config
        self.progress = progress
        self.features = features

    def _train_config(self):
        from .training.config import TrainConfig

        overrides = dict(self.config or {})
        if self.epochs is not None:
            overrides["epochs"] = int(self.epochs)
        return TrainConfig.from_recipe(self.recipe, model=self.encoder, seed=int(self.seed),
                                       device=self.device, **overrides)

    def fit(self, X, Y):
        """Train on EEG ``X`` and targets ``Y``; trials with the same image are one condition.

        Returns
        -------
        self : ContrastiveDecoder
        """
        from .training.loop import fit

        config = self._train_config()
        if config.model == "ridge":
            raise ValueError("ContrastiveDecoder(encoder='ridge'): use RidgeDecoder.")
        result = fit(self._container(X, Y), config, progress=self.progress)
        self.model_, self.history_, self.config_ = result.model, result.history, result.config
        self.n_features_in_ = int(np.prod(np.shape(X)[1:]))
        self.n_image_features_ = self.model_.projector.linear.in_features
        return self

    def _container(self, X, Y):
        from .data.container import EEGImageData

        X = self._as_3d(X)
        Y, image, _ = self._images(Y, len(X))
        return EEGImageData(X, Y, image.astype(str), [f"EEG{i:03d}" for i in range(X.shape[1])],
                            np.arange(X.shape[2]) / float(self.sfreq), float(self.sfreq),
                            conditions=image, meta={"source": "ContrastiveDecoder.fit(X, Y)"})

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
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        return self._embed(X, np.zeros((1, self.n_image_features_), dtype=np.float32))[0]

    def _embed(self, X, candidates):
        from sklearn.utils.validation import check_is_fitted

        from .evaluate import embed

        check_is_fitted(self, "model_")
        return embed(self.model_, self._as_3d(X), np.asarray(candidates, dtype=np.float32))
