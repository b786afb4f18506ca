"""Ridge baseline: flattened, standardised EEG -> image features (penalty by GCV, as RidgeCV)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

#: Default grid of ridge penalties.
DEFAULT_ALPHAS = tuple(np.logspace(-1, 6, 8))


def ridge_gcv(x, y, alphas):
    """Ridge with an intercept, penalty by leave-one-out error (GCV): ``RidgeCV(alphas)``'s result.

    The same fit as :class:`sklearn.linear_model.RidgeCV` with its defaults
    (efficient leave-one-out, the mean squared error over all trials and
    targets, the first of equal errors), from one eigendecomposition for all
    penalties: of the centred ``x'x`` when trials outnumber values, else of
    ``x x'``. Either way the fitted values are ``q diag(g) q'y`` (``x'x``:
    ``q = x v``, ``g = 1 / (l + alpha)``; ``x x'``: ``q`` its eigenvectors,
    ``g = l / (l + alpha)``), so each trial's squared residual is
    ``|y_i|^2 - 2 sum_j q_ij g_j (y q'y')_ij + (q g)_i (q'y y'q) (q g)_i'``
    (for ``x x'``, whose ``q`` is a whole orthonormal basis, directly
    ``(q h)_i (q'y y'q) (q h)_i'`` with ``h = 1 - g``, free of cancellation):
    a penalty costs one ``n x k x k`` product (``k = min(n, p)``) instead of
    scikit-learn's ``n x k x (k + targets)``, and the coefficients are
    computed for the chosen penalty only. Equal to scikit-learn up to float
    rounding (``tests/test_decoding.py``).

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
    n, n_targets = yc.shape
    covariance = n > x.shape[1]
    if covariance:
        eigvals, v = np.linalg.eigh(xc.T @ xc)
        q = xc @ v
        qty = v.T @ (xc.T @ yc)         # q'y, (p, targets)
    else:
        eigvals, q = np.linalg.eigh(xc @ xc.T)
        eigvals = np.maximum(eigvals, 0.0)  # x x' is positive semi-definite
        qty = q.T @ yc
    gram = qty @ qty.T                  # (k, k)
    if covariance:
        cross = yc @ qty.T              # (n, p): y_i . (q'y)_j
        y_sq = np.einsum("ij,ij->i", yc, yc)
    q_sq = q * q
    best = None
    for alpha in alphas:
        if covariance:
            g = 1.0 / (eigvals + alpha)
            qg = q * g
            resid_sq = y_sq - 2.0 * np.einsum("ij,ij->i", qg, cross) \
                + np.einsum("ij,ij->i", qg @ gram, qg)
        else:  # q is a whole orthonormal basis: the residuals are q diag(alpha / (l + alpha)) q'y
            g = eigvals / (eigvals + alpha)
            qr = q * (alpha / (eigvals + alpha))
            resid_sq = np.einsum("ij,ij->i", qr @ gram, qr)
        # leverage of the centred fit plus the intercept's 1/n
        denom = 1.0 - q_sq @ g - 1.0 / n
        mse = float(np.sum(np.maximum(resid_sq, 0.0) / denom ** 2) / (n * n_targets))
        if best is None or mse < best[1]:
            best = (alpha, mse)
    alpha, mse = best
    if covariance:
        coef = ((v / (eigvals + alpha)) @ qty).T
    else:
        coef = (xc.T @ (q @ (qty / (eigvals + alpha)[:, None]))).T
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
        Candidate penalties, chosen among by leave-one-out error as
        :class:`sklearn.linear_model.RidgeCV` does (:func:`ridge_gcv`).
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
        x = self._flat(eeg)
        self.mean_ = x.mean(0)
        std = x.std(0)
        self.std_ = np.where(std > 0, std, 1.0)
        # Constant columns (e.g. samples zeroed outside a temporal window) carry
        # nothing; leaving them out gives the same fit at a fraction of the cost.
        keep = std > 0
        xs = ((x - self.mean_) / self.std_)[:, keep]
        alphas = tuple(float(a) for a in self.alphas)
        w, intercept, alpha, mse = ridge_gcv(xs, np.asarray(features, np.float64), alphas)
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
