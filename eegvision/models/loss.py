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
    """

    def __init__(self, init=LOGIT_SCALE_INIT, learn_scale=True, max_scale=LOGIT_SCALE_MAX):
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(float(init)), requires_grad=bool(learn_scale))
        self.max_scale = float(max_scale)

    def scale(self):
        """The multiplicative logit scale, ``exp(logit_scale)`` clamped to ``max_scale``."""
        return self.logit_scale.exp().clamp(max=self.max_scale)

    def get_logits(self, eeg_emb, img_emb):
        """Scaled cosine similarities ``(eeg x image)`` and their transpose."""
        eeg_emb = F.normalize(eeg_emb.float(), dim=-1)
        img_emb = F.normalize(img_emb.float(), dim=-1)
        logits = self.scale() * eeg_emb @ img_emb.T
        return logits, logits.T

    def forward(self, eeg_emb, img_emb):
        """Mean of the EEG->image and image->EEG cross-entropies (a scalar)."""
        logits_eeg, logits_img = self.get_logits(eeg_emb, img_emb)
        labels = torch.arange(logits_eeg.shape[0], device=logits_eeg.device)
        return 0.5 * (F.cross_entropy(logits_eeg, labels) + F.cross_entropy(logits_img, labels))
