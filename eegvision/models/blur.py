"""Image sides of the blur-prior recipes: features at K blur levels in, one embedding out.

Their input rows are a blur bank flattened to ``(batch, K * D)`` (level 0
sharp, then increasing blur; see :func:`eegvision.data.things.read_bank`).

- :class:`UBPImageSide` (UBP, Wu et al., CVPR 2025): no trained layer; a
  training batch arrives already reduced to one level per pair (chosen by
  :class:`UBPBlurState`); for evaluation it takes the 'medium' level, the
  level every pair starts at in UBP.
- :class:`BlurBankProjector` (makeitperfect/VisualEEGDecoding, 2026):
  softmax weights over the levels, learned per feature dimension, then a
  trainable adapter (ELU, Linear 1024, ELU, Dropout 0.85, Linear).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def ubp_levels(n_levels):
    """Bank levels for UBP's (low, medium, high) blur: the middle level and its two neighbours.

    UBP (``base/data_eeg.py``) precomputes three foveated blurs of kernel
    size ``k - c, k, k + c`` (51 and 6 in its configs): three neighbouring
    strengths around a medium blur, the medium one for validation and test.
    """
    if n_levels < 3:
        raise ValueError(f"UBP's blur prior needs a bank of at least 3 levels (got {n_levels}).")
    mid = n_levels // 2
    return mid - 1, mid, mid + 1


class UBPImageSide(nn.Module):
    """Identity on one level; the 'medium' level of a full bank row."""

    def __init__(self, n_levels, n_features):
        super().__init__()
        self.n_levels, self.n_features = int(n_levels), int(n_features)

    def forward(self, x):
        if x.shape[1] == self.n_features:
            return x
        medium = ubp_levels(self.n_levels)[1]
        return x.view(len(x), self.n_levels, self.n_features)[:, medium]


class BlurBankProjector(nn.Module):
    """Learned per-dimension weights over the blur levels, then the adapter.

    Parameters
    ----------
    n_levels, n_features : int
        Levels K and feature dimension D.
    hidden : int
        Adapter width (1024 in the 2026 code).
    dropout : float
        Adapter dropout (0.85 in the 2026 code).
    """

    def __init__(self, n_levels, n_features, hidden=1024, dropout=0.85):
        super().__init__()
        self.n_levels, self.n_features = int(n_levels), int(n_features)
        # uniform [0, 1) start, as the 2026 code's torch.rand (drawn from the seeded torch RNG)
        self.level_logits = nn.Parameter(torch.rand(self.n_levels, self.n_features))
        self.adapter = nn.Sequential(nn.ELU(), nn.Linear(n_features, hidden), nn.ELU(),
                                     nn.Dropout(dropout), nn.Linear(hidden, n_features))

    def level_weights(self):
        """``(K, D)`` softmax weights over the levels, per feature dimension."""
        return torch.softmax(self.level_logits, dim=0)

    def forward(self, x):
        bank = x.view(len(x), self.n_levels, self.n_features)
        return self.adapter((bank * self.level_weights()).sum(1))


class UBPBlurState:
    """UBP's uncertainty-aware choice of each training pair's blur level.

    Every training pair keeps a running similarity ``s`` (start 1, as UBP);
    after each batch, with the batch's scaled EEG-image cosine ``c`` of each
    pair, ``s <- gamma * c + (1 - gamma) * s`` (gamma 0.3), and the pairs
    whose ``c`` lies above the batch's ``mean(s) + z * std(s)`` (z for
    alpha = 0.05, two-sided: 1.96) get 'low' blur next time, those below
    ``mean(s) - z * std(s)`` 'high' blur, the rest 'medium'.

    Parameters
    ----------
    n_pairs, n_levels : int
    gamma, alpha : float
    """

    def __init__(self, n_pairs, n_levels, gamma=0.3, alpha=0.05):
        from statistics import NormalDist

        self.gamma = float(gamma)
        self.z = NormalDist().inv_cdf(1 - float(alpha) / 2)
        self.sim = torch.ones(int(n_pairs), dtype=torch.float64)
        self.label = torch.ones(int(n_pairs), dtype=torch.long)  # 0 low, 1 medium, 2 high
        self.levels = torch.tensor(ubp_levels(n_levels))

    def level(self, idx):
        """Bank level of each pair in ``idx`` (CPU long tensor)."""
        return self.levels[self.label[idx]]

    def update(self, idx, diag):
        """Update from the batch's scaled diagonal similarities ``diag`` (one per pair)."""
        diag = diag.detach().double().cpu()
        batch = self.gamma * diag + (1 - self.gamma) * self.sim[idx]
        std = float(batch.std()) if len(batch) > 1 and math.isfinite(float(batch.std())) else 0.0
        lo, hi = float(batch.mean()) - self.z * std, float(batch.mean()) + self.z * std
        label = torch.ones_like(idx)
        label[diag > hi] = 0
        label[diag < lo] = 2
        self.sim[idx] = batch
        self.label[idx] = label

    def counts(self):
        """``{'low': n, 'medium': n, 'high': n}`` over all pairs."""
        c = torch.bincount(self.label, minlength=3).tolist()
        return dict(zip(("low", "medium", "high"), c, strict=True))
