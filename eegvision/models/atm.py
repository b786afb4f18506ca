"""ATM-S style encoder (Li et al., NeurIPS 2024): a transformer over channel tokens, then TSConv."""

from __future__ import annotations

from torch import nn

from .._docs import fill_doc
from .modules import Dropout, TSConv
from .nice import TSConvEncoder


@fill_doc
class ATMS(TSConvEncoder):
    """Channels as tokens (iTransformer-style), then TSConv and NICE's projection head.

    Each channel's time series is embedded linearly to ``d_model``; a small
    post-norm transformer encoder mixes the channel tokens; a linear layer
    maps each token back to ``n_times`` samples; then
    :class:`~eegvision.models.modules.TSConv` and
    :class:`~eegvision.models.modules.ProjectionHead` as in NICE. The
    subject-wise layers of the original are left out (one model per subject
    here). Small defaults keep it CPU-friendly.

    Parameters
    ----------
    %(encoder_sizes)s
    %(encoder_sfreq)s
    d_model, n_heads, n_layers, d_ff : int
        Transformer sizes (``d_model`` must be divisible by ``n_heads``).
    attn_dropout : float
        Dropout inside the transformer (0.25 in ATM).
    n_filters, kernel, pool, stride, dropout, proj_dropout, layout
        TSConv and head settings, as in :class:`~eegvision.models.nice.NICE`.

    Attributes
    ----------
    spatial_conv : torch.nn.Conv2d
        TSConv's conv across channels, the layer for Grad-CAM.
    """

    def __init__(self, n_chans, n_times, n_outputs, sfreq=None, *, d_model=128, n_heads=4,
                 n_layers=1, d_ff=256, attn_dropout=0.25, n_filters=40, kernel=25, pool=51,
                 stride=5, dropout=0.5, proj_dropout=0.5, layout="fast"):
        super().__init__()
        self.n_chans, self.n_times, self.n_outputs = int(n_chans), int(n_times), int(n_outputs)
        self.sfreq = sfreq
        self.embed = nn.Sequential(nn.Linear(n_times, d_model), Dropout(attn_dropout))
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, attn_dropout,
                                           activation="gelu", batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model),
                                                 enable_nested_tensor=False)
        self.unembed = nn.Linear(d_model, n_times)
        self.tsconv = TSConv(n_chans, n_times, n_filters, kernel, pool, stride, dropout, layout)
        self._finish(n_chans, n_times, n_outputs, proj_dropout)

    def features(self, x):
        """TSConv feature map ``(batch, n_filters, 1, n_steps)`` before flattening."""
        tokens = self.transformer(self.embed(x))  # (batch, n_chans, d_model)
        return self.tsconv(self.unembed(tokens))
