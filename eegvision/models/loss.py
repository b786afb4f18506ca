"""The CLIP loss: symmetric InfoNCE with a learnable temperature."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Initial log logit scale: log(1 / 0.07), as in CLIP and NICE.
LOGIT_SCALE_INIT = math.log(1 / 0.07)
#: Upper bound of the logit scale (CLIP's clamp), so the loss cannot blow up.
LOGIT_SCALE_MAX = 100.0


class ClipLoss(nn.Module):
    """Symmetric InfoNCE over L2-normalised EEG and image embeddings.

    Row ``i`` of the EEG batch and row ``i`` of the image batch are a positive
    pair; every other row is a negative. The temperature is the parameter
    ``logit_scale`` (log of the inverse temperature), which the optimiser
    trains unless ``learn_scale=False`` (the NICE public-code defect).

    Parameters
    ----------
    init : float
        Initial value of ``logit_scale`` (default ``log(1/0.07)``).
    learn_scale : bool
        Whether ``logit_scale`` receives gradients.
    max_scale : float
        The exponentiated scale is clamped to at most this value.
    soft_scale : float | None
        Semantic soft targets: with a value, the target of row ``i`` is
        ``(1 - soft_mix) * onehot(i) + soft_mix * softmax_j(soft_scale *
        cos(f_i, f_j))`` over the batch's raw image features ``f`` (fixed,
        no gradient), so a negative that shows a near-identical image is
        penalised less than an unrelated one. None: one-hot targets (CLIP,
        NICE).
    soft_mix : float
        Weight of the similarity part of the soft targets.
    """

    def __init__(self, init=LOGIT_SCALE_INIT, learn_scale=True, max_scale=LOGIT_SCALE_MAX,
                 soft_scale=None, soft_mix=0.5):
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(float(init)), requires_grad=bool(learn_scale))
        self.max_scale = float(max_scale)
        if soft_scale is not None and not (float(soft_scale) > 0 and 0 <= float(soft_mix) <= 1):
            raise ValueError(f"soft_scale must be > 0 (or None) and soft_mix in [0, 1] "
                             f"(got {soft_scale}, {soft_mix}).")
        self.soft_scale = None if soft_scale is None else float(soft_scale)
        self.soft_mix = float(soft_mix)

    def scale(self):
        """The multiplicative logit scale, ``exp(logit_scale)`` clamped to ``max_scale``."""
        return self.logit_scale.exp().clamp(max=self.max_scale)

    def get_logits(self, eeg_emb, img_emb):
        """Scaled cosine similarities ``(eeg x image)`` and their transpose."""
        eeg_emb = F.normalize(eeg_emb.float(), dim=-1)
        img_emb = F.normalize(img_emb.float(), dim=-1)
        logits = self.scale() * eeg_emb @ img_emb.T
        return logits, logits.T

    def targets(self, features):
        """``(batch, batch)`` target distributions (rows sum to 1) from raw image ``features``.

        One-hot (the identity) without ``soft_scale``.
        """
        n = features.shape[0]
        eye = torch.eye(n, device=features.device)
        if self.soft_scale is None:
            return eye
        with torch.no_grad():
            f = F.normalize(features.detach().float(), dim=-1)
            similar = torch.softmax(self.soft_scale * (f @ f.T), dim=1)
        return (1 - self.soft_mix) * eye + self.soft_mix * similar

    def forward(self, eeg_emb, img_emb, features=None):
        """Mean of the EEG->image and image->EEG cross-entropies (a scalar).

        ``features`` (the raw image features of the batch) set the soft
        targets when ``soft_scale`` is set and the module is in training
        mode. Otherwise the targets are one-hot: like dropout, soft targets
        are a training-time regulariser, and the evaluation-mode loss (the
        validation loss of :func:`eegvision.training.fit`) stays the plain
        InfoNCE, comparable between recipes.
        """
        logits_eeg, logits_img = self.get_logits(eeg_emb, img_emb)
        if self.soft_scale is None or features is None or not self.training:
            labels = torch.arange(logits_eeg.shape[0], device=logits_eeg.device)
        else:  # similarity is symmetric, so both directions share the targets
            labels = self.targets(features)
        return 0.5 * (F.cross_entropy(logits_eeg, labels) + F.cross_entropy(logits_img, labels))
