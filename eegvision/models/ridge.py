"""Ridge baseline: flattened, standardised EEG -> image features (RidgeCV)."""

from __future__ import annotations

import numpy as np

#: Default grid of ridge penalties.
DEFAULT_ALPHAS = tuple(np.logspace(-1, 6, 8))


class RidgeDecoder:
    """Linear map from flattened EEG to image features, penalty chosen by GCV.

    State is real here (training statistics and coefficients), so a class.

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties for :class:`sklearn.linear_model.RidgeCV`.
    """

    name = "ridge"

    def __init__(self, alphas=DEFAULT_ALPHAS):
        self.alphas = tuple(float(a) for a in alphas)
        self.mean_ = self.std_ = self.coef_ = self.intercept_ = None
        self.alpha_ = None
        self.cv_mse_ = None

    def _flat(self, eeg):
        eeg = np.asarray(eeg, dtype=np.float64)
        return eeg.reshape(len(eeg), -1)

    def _standardise(self, eeg):
        if self.mean_ is None:
            raise RuntimeError("RidgeDecoder is not fitted yet; call fit() first.")
        x = self._flat(eeg)
        if x.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"EEG has {x.shape[1]} channel x time values per trial; the decoder "
                             f"was fitted on {self.mean_.shape[0]}.")
        return (x - self.mean_) / self.std_

    def fit(self, eeg, features):
        """Fit on EEG ``(n, n_chans, n_times)`` and features ``(n, d)``; returns self."""
        from sklearn.linear_model import RidgeCV

        x = self._flat(eeg)
        self.mean_ = x.mean(0)
        std = x.std(0)
        self.std_ = np.where(std > 0, std, 1.0)
        # Constant columns (e.g. samples zeroed outside a temporal window) carry
        # nothing; leaving them out gives the same fit at a fraction of the cost.
        keep = std > 0
        xs = ((x - self.mean_) / self.std_)[:, keep]
        reg = RidgeCV(alphas=self.alphas).fit(xs, np.asarray(features, np.float64))
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

    def load_state_dict(self, state):
        """Inverse of :meth:`state_dict`."""
        for k in ("mean_", "std_", "coef_", "intercept_"):
            setattr(self, k, state[k].numpy().astype(np.float64))
        self.alpha_ = float(state["alpha_"])
        return self
