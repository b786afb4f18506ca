"""The flatten-and-project EEG encoder of UBP (Wu et al., CVPR 2025) and NeuroBridge (AAAI 2026).

Read from the UBP code as re-used in makeitperfect/VisualEEGDecoding
(``EEGProjectLayer``) and NeuroBridge (``EEGProject``): the whole epoch
``(n_chans * n_times)`` is flattened and projected linearly to the
embedding, followed by one residual block (GELU, Linear, Dropout 0.3) and a
LayerNorm. No convolution: channels and samples are weighted freely.
"""

from __future__ import annotations

from torch import nn

from .._docs import fill_doc


class _Residual(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)


@fill_doc
class MLPEncoder(nn.Module):
    """``(batch, n_chans, n_times)`` -> flatten -> Linear -> residual (GELU, Linear, Dropout) -> LayerNorm.

    Parameters
    ----------
    %(encoder_sizes)s
    %(encoder_sfreq)s
    dropout : float
        Dropout of the residual block (0.3 in UBP).
    """

    def __init__(self, n_chans, n_times, n_outputs, sfreq=None, *, dropout=0.3):
        super().__init__()
        self.n_chans, self.n_times, self.n_outputs = int(n_chans), int(n_times), int(n_outputs)
        self.sfreq = sfreq
        self.linear = nn.Linear(self.n_chans * self.n_times, self.n_outputs)
        self.residual = _Residual(nn.Sequential(nn.GELU(), nn.Linear(n_outputs, n_outputs),
                                                nn.Dropout(dropout)))
        self.norm = nn.LayerNorm(n_outputs)

    def forward(self, x):
        """``(batch, n_chans, n_times)`` -> ``(batch, n_outputs)``."""
        return self.norm(self.residual(self.linear(x.flatten(1))))
