"""Ridge baseline: flattened, standardised EEG -> image features (RidgeCV)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

#: Default grid of ridge penalties.
DEFAULT_ALPHAS = tuple(np.logspace(-1, 6, 8))


def ridge_gcv(x, y, alphas):
    """Ridge with an intercept, penalty by leave-one-out error (GCV): ``RidgeCV(alphas)``'s result.

    The same fit as :class:`sklearn.linear_model.RidgeCV` with its defaults
    (efficient leave-one-out, the mean squared error over all trials and
    targets, the first of equal errors), computed from one eigendecomposition
    of the centred ``x'x`` for all penalties: with ``q = x v`` (``v`` the
    eigenvectors, ``l`` the eigenvalues), ``d = 1 / (l + alpha)`` and
    ``r = y - q diag(d) q'y`` the residuals, each trial's squared residual
    is ``|y_i|^2 - 2 sum_j q_ij d_j (y q'y')_ij + (q d)_i (q'y y'q) (q d)_i'``,
    so a penalty costs one ``n x p x p`` product instead of scikit-learn's
    ``n x p x (p + targets)``. For ``n_trials > n_values`` (scikit-learn's
    covariance mode); equal to it up to float rounding (``tests/test_decoding.py``).

    Parameters
    ----------
    x : array, shape (n_trials, n_values)
    y : array, shape (n_trials, n_targets)
    alphas : sequence of float

    Returns
    -------
    coef : array, shape (n_targets, n_values)
    intercept : array, shape (n_targets,)
    alpha : float
        The chosen penalty.
    mse : float
        Its mean squared leave-one-out error.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc, yc = x - x_mean, y - y_mean
    eigvals, v = np.linalg.eigh(xc.T @ xc)
    q = xc @ v
    xty = xc.T @ yc
    qty = v.T @ xty                     # q'y, (p, targets)
    cross = yc @ qty.T                  # (n, p): y_i . (q'y)_j
    gram = qty @ qty.T                  # (p, p)
    y_sq = np.einsum("ij,ij->i", yc, yc)
    q_sq = q * q
    n, n_targets = yc.shape
    best = None
    for alpha in alphas:
        d = 1.0 / (eigvals + alpha)
        qd = q * d
        resid_sq = y_sq - 2.0 * np.einsum("ij,ij->i", qd, cross) \
            + np.einsum("ij,ij->i", qd @ gram, qd)
        # leverage of the centred fit plus the intercept's 1/n
        denom = 1.0 - q_sq @ d - 1.0 / n
        mse = float(np.sum(np.maximum(resid_sq, 0.0) / denom ** 2) / (n * n_targets))
        if best is None or mse < best[1]:
            best = (alpha, mse)
    alpha, mse = best
    coef = ((v / (eigvals + alpha)) @ qty).T
    return coef, y_mean - coef @ x_mean, alpha, mse


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
        y = np.asarray(features, np.float64)
        if xs.shape[0] > xs.shape[1] and len(alphas) > 1:  # more trials than values
            w, intercept, alpha, mse = ridge_gcv(xs, y, alphas)
        else:  # scikit-learn's Gram-matrix path
            reg = RidgeCV(alphas=alphas).fit(xs, y)
            w, intercept, alpha, mse = reg.coef_, reg.intercept_, reg.alpha_, -reg.best_score_
        coef = np.zeros((w.shape[0], x.shape[1]))
        coef[:, keep] = w
        self.coef_ = coef
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        self.alpha_ = float(alpha)
        self.cv_mse_ = float(mse)
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
