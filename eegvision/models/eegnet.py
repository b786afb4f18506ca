"""EEGNet (v4; Lawhern et al., J. Neural Eng. 2018) as an embedding encoder.

The paper's architecture: a temporal convolution (F1 filters, kernel half a
second, 'same' padding, no bias), BatchNorm; a depthwise convolution across
all channels (D filters per temporal filter, max-norm 1 on each kernel),
BatchNorm, ELU, average pooling by 4, dropout; a separable convolution
(depthwise 1 x 16, then pointwise to F2), BatchNorm, ELU, average pooling by
8, dropout; a dense layer with max-norm 0.25, here mapping to the embedding
instead of class scores. Defaults F1=8, D=2, F2=16, dropout 0.5 (the paper's
within-subject value; 0.25 across subjects). Pool sizes shrink for inputs
too short for them, and the dense layer's size comes from a dummy pass.
"""

from __future__ import annotations

import torch
from torch import nn

from .._docs import fill_doc


class _MaxNorm:
    """Mixin: every output kernel is renormalised to an L2 norm <= ``max_norm`` before use."""

    def __init__(self, *args, max_norm, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_norm = float(max_norm)

    def forward(self, x):
        with torch.no_grad():
            self.weight.copy_(torch.renorm(self.weight, 2, 0, self.max_norm))
        return super().forward(x)


class _MaxNormConv2d(_MaxNorm, nn.Conv2d):
    """Conv2d whose every output kernel is renormalised to an L2 norm <= ``max_norm``."""

    def __init__(self, *args, max_norm=1.0, **kwargs):
        super().__init__(*args, max_norm=max_norm, **kwargs)


class _MaxNormLinear(_MaxNorm, nn.Linear):
    """Linear whose every output row is renormalised to an L2 norm <= ``max_norm``."""

    def __init__(self, *args, max_norm=0.25, **kwargs):
        super().__init__(*args, max_norm=max_norm, **kwargs)


def _same(kernel):
    """Keras 'same' padding along time ((k - 1) // 2 before, k // 2 after), even kernels too."""
    return nn.ZeroPad2d(((kernel - 1) // 2, kernel // 2, 0, 0))


@fill_doc
class EEGNet(nn.Module):
    """EEGNet v4: ``(batch, n_chans, n_times)`` -> ``(batch, n_outputs)``.

    Parameters
    ----------
    %(encoder_sizes)s
    sfreq : float | None
        Sampling rate; the temporal kernel is half a second (64 samples at the
        paper's 128 Hz, the default without ``sfreq``), at most ``n_times``.
    F1, D, F2 : int
        Temporal filters, depth multiplier, separable filters.
    dropout : float
        Dropout after each block.

    Attributes
    ----------
    spatial_conv : torch.nn.Conv2d
        The depthwise convolution across channels (kernel ``(n_chans, 1)``),
        the layer for Grad-CAM.
    """

    def __init__(self, n_chans, n_times, n_outputs, sfreq=None, *, F1=8, D=2, F2=16,
                 dropout=0.5):
        super().__init__()
        self.n_chans, self.n_times, self.n_outputs = int(n_chans), int(n_times), int(n_outputs)
        self.sfreq = sfreq
        kern = 64 if sfreq is None else max(1, int(round(float(sfreq) / 2)))
        kern = min(kern, self.n_times)
        pool1 = min(4, self.n_times)
        pool2 = max(1, min(8, self.n_times // pool1))
        self.pad = _same(kern)
        self.temporal_conv = nn.Conv2d(1, F1, (1, kern), bias=False)
        self.bn1 = nn.BatchNorm2d(F1)
        self.spatial_conv = _MaxNormConv2d(F1, F1 * D, (self.n_chans, 1), groups=F1, bias=False,
                                           max_norm=1.0)
        self.block1 = nn.Sequential(nn.BatchNorm2d(F1 * D), nn.ELU(), nn.AvgPool2d((1, pool1)),
                                    nn.Dropout(dropout))
        sep = min(16, max(1, self.n_times // pool1))
        self.separable = nn.Sequential(
            _same(sep), nn.Conv2d(F1 * D, F1 * D, (1, sep), groups=F1 * D, bias=False),
            nn.Conv2d(F1 * D, F2, 1, bias=False),
            nn.BatchNorm2d(F2), nn.ELU(), nn.AvgPool2d((1, pool2)), nn.Dropout(dropout))
        was = self.training
        self.eval()
        with torch.no_grad():
            n_flat = self.features(torch.zeros(2, self.n_chans, self.n_times)).flatten(1).shape[1]
        self.train(was)
        self.head = _MaxNormLinear(n_flat, self.n_outputs, max_norm=0.25)

    def features(self, x):
        """The map after the separable block, ``(batch, F2, 1, n_steps)``."""
        h = self.bn1(self.temporal_conv(self.pad(x.unsqueeze(1))))
        return self.separable(self.block1(self.spatial_conv(h)))

    def forward(self, x):
        """``(batch, n_chans, n_times)`` -> ``(batch, n_outputs)``."""
        return self.head(self.features(x).flatten(1))
