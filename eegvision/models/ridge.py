"""Ridge baseline: flattened, standardised EEG -> image features (RidgeCV)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

#: Default grid of ridge penalties.
DEFAULT_ALPHAS = tuple(np.logspace(-1, 6, 8))


class RidgeDecoder(BaseEstimator):
    """Linear map from flattened EEG to image features, penalty chosen by GCV.

    State is real here (training statistics and coefficients), so a class; a
    scikit-learn estimator (``get_params``, ``clone``); the fitted attributes
    end in ``_`` and exist only after :meth:`fit`. The retrieval-scored
    estimator for pipelines and MNE's ``SlidingEstimator`` is
    :class:`eegvision.decoding.RidgeDecoder`.

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties for :class:`sklearn.linear_model.RidgeCV`.
    """

    name = "ridge"

    def __init__(self, alphas=DEFAULT_ALPHAS):
        self.alphas = alphas  # as given: scikit-learn's clone() checks identity

    def _flat(self, eeg):
        eeg = np.asarray(eeg, dtype=np.float64)
        return eeg.reshape(len(eeg), -1)

    def _standardise(self, eeg):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "coef_")  # NotFittedError
        x = self._flat(eeg)
        if x.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"EEG has {x.shape[1]} channel x time values per trial; the decoder "
                             f"was fitted on {self.mean_.shape[0]}.")
        return (x - self.mean_) / self.std_

    def fit(self, eeg, features):
        """Fit on EEG ``(n, n_chans, n_times)`` (or ``(n, n_values)``) and features ``(n, d)``.

        Returns
        -------
        self : RidgeDecoder
        """
        from sklearn.linear_model import RidgeCV

        x = self._flat(eeg)
        self.mean_ = x.mean(0)
        std = x.std(0)
        self.std_ = np.where(std > 0, std, 1.0)
        # Constant columns (e.g. samples zeroed outside a temporal window) carry
        # nothing; leaving them out gives the same fit at a fraction of the cost.
        keep = std > 0
        xs = ((x - self.mean_) / self.std_)[:, keep]
        alphas = tuple(float(a) for a in self.alphas)
        reg = RidgeCV(alphas=alphas).fit(xs, np.asarray(features, np.float64))
        coef = np.zeros((reg.coef_.shape[0], x.shape[1]))
        coef[:, keep] = reg.coef_
        self.coef_ = coef
        self.intercept_ = np.asarray(reg.intercept_, dtype=np.float64)
        self.alpha_ = float(reg.alpha_)
        self.cv_mse_ = float(-reg.best_score_)
        return self

    def predict(self, eeg):
        """Predicted features ``(n, d)`` for EEG ``(n, n_chans, n_times)``."""
        return (self._standardise(eeg) @ self.coef_.T + self.intercept_).astype(np.float32)

    def encode_eeg(self, eeg):
        """Same as :meth:`predict` (the embedding space is the feature space)."""
        if hasattr(eeg, "detach"):
            eeg = eeg.detach().cpu().numpy()
        return self.predict(eeg)

    def encode_image(self, features):
        """Image features are the targets themselves."""
        return np.asarray(features, dtype=np.float32)

    def state_dict(self):
        """Plain tensors for a ``weights_only`` checkpoint."""
        import torch

        return {k: torch.as_tensor(np.asarray(getattr(self, k))) for k in
                ("mean_", "std_", "coef_", "intercept_", "alpha_")}

    @staticmethod
    def state_shapes(n_values, n_features):
        """Shape of each entry of :meth:`state_dict` for ``n_values`` EEG values per trial.

        Parameters
        ----------
        n_values : int
            Channels x samples of a trial.
        n_features : int
            Dimension of the image features.

        Returns
        -------
        dict of str -> tuple
        """
        return {"mean_": (n_values,), "std_": (n_values,), "coef_": (n_features, n_values),
                "intercept_": (n_features,), "alpha_": ()}

    def load_state_dict(self, state):
        """Inverse of :meth:`state_dict`."""
        for k in ("mean_", "std_", "coef_", "intercept_"):
            setattr(self, k, state[k].numpy().astype(np.float64))
        self.alpha_ = float(state["alpha_"])
        return self
