"""Image projector (NICE ``Proj_img``) and the contrastive model wrapper."""

from __future__ import annotations

from torch import nn

from .loss import ClipLoss
from .modules import Dropout


class ImageProjector(nn.Module):
    """Linear, then a residual (GELU, Linear, Dropout) block, then LayerNorm.

    Parameters
    ----------
    n_features : int
        Input (image feature) dimension.
    n_outputs : int | None
        Output dimension; defaults to ``n_features``.
    dropout : float
        Dropout in the residual block.
    identity : bool
        Reproduce the NICE public-code defect: ``forward`` returns its input
        unchanged (the layers exist but are never used).
    """

    def __init__(self, n_features, n_outputs=None, dropout=0.3, identity=False):
        super().__init__()
        n_outputs = n_features if n_outputs is None else n_outputs
        if identity and n_outputs != n_features:
            raise ValueError("identity=True needs n_outputs == n_features "
                             f"(got {n_outputs} and {n_features}).")
        self.identity = bool(identity)
        self.linear = nn.Linear(n_features, n_outputs)
        self.block = nn.Sequential(nn.GELU(), nn.Linear(n_outputs, n_outputs), Dropout(dropout))
        self.norm = nn.LayerNorm(n_outputs)
        if self.identity:  # unused layers must not be counted as trainable
            for p in self.parameters():
                p.requires_grad_(False)

    def forward(self, x):
        if self.identity:
            return x
        x = self.linear(x)
        return self.norm(x + self.block(x))


class ContrastiveModel(nn.Module):
    """EEG encoder + image projector + CLIP loss (which holds the temperature).

    Parameters
    ----------
    encoder : nn.Module
        Maps EEG ``(batch, n_chans, n_times)`` to ``(batch, n_outputs)``.
    projector : nn.Module
        Maps image features ``(batch, d)`` to ``(batch, n_outputs)``.
    loss : ClipLoss | None
        Defaults to a fresh :class:`ClipLoss`.
    """

    def __init__(self, encoder, projector, loss=None):
        super().__init__()
        self.encoder = encoder
        self.projector = projector
        self.loss = ClipLoss() if loss is None else loss

    def encode_eeg(self, eeg):
        """EEG ``(batch, n_chans, n_times)`` -> embeddings ``(batch, n_outputs)``."""
        return self.encoder(eeg)

    def encode_image(self, features):
        """Image features ``(batch, d)`` -> embeddings ``(batch, n_outputs)``."""
        return self.projector(features)

    def forward(self, eeg, features):
        """The contrastive loss of a batch of (EEG, image feature) pairs."""
        return self.loss(self.encode_eeg(eeg), self.encode_image(features), features)
