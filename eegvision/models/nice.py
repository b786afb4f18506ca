"""NICE (Song et al., ICLR 2024): TSConv + projection head, optionally with SA or GA in front."""

from __future__ import annotations

import torch
from torch import nn

from .._docs import fill_doc
from .._utils import _check_option
from .modules import ChannelSelfAttention, GraphAttention, ProjectionHead, TSConv, init_nice_weights

#: Spatial modules that can sit in front of TSConv ('*-published': as NICE's code computes).
SPATIAL = (None, "sa", "ga", "sa-published", "ga-published")


def _spatial_module(spatial, n_chans, n_times):
    from .published import PublishedChannelAttention, PublishedGraphAttention

    if spatial is None:
        return nn.Identity()
    if spatial.endswith("-published"):
        cls = PublishedChannelAttention if spatial == "sa-published" else PublishedGraphAttention
        return cls(n_chans, n_times)
    return {"sa": ChannelSelfAttention, "ga": GraphAttention}[spatial](n_times)


class TSConvEncoder(nn.Module):
    """What every TSConv-based encoder shares: the head, the layout, the Grad-CAM layer.

    A subclass builds its modules up to ``self.tsconv``, defines
    ``features(x)`` (the TSConv map ``(batch, F, 1, n_steps)``) and calls
    :meth:`_finish` to size the projection head with a dummy forward pass.
    """

    def _finish(self, n_chans, n_times, n_outputs, proj_dropout):
        n_flat = _dummy_features(self, n_chans, n_times).flatten(1).shape[1]
        self.head = ProjectionHead(n_flat, n_outputs, proj_dropout)
        init_nice_weights(self)

    @property
    def spatial_conv(self):
        """TSConv's Conv2d across channels (the Grad-CAM target layer)."""
        return self.tsconv.spatial_conv

    @property
    def layout(self):
        """TSConv layout, ``'fast'`` or ``'reference'``."""
        return self.tsconv.layout

    @layout.setter
    def layout(self, value):
        self.tsconv.layout = value

    def forward(self, x):
        """``(batch, n_chans, n_times)`` -> ``(batch, n_outputs)``."""
        h = self.features(x)
        return self.head(h.squeeze(2).transpose(1, 2).flatten(1))  # time-major, as NICE


@fill_doc
class NICE(TSConvEncoder):
    """The NICE EEG encoder: ``(batch, n_chans, n_times)`` -> ``(batch, n_outputs)``.

    Optional spatial module (``'sa'`` channel self-attention, ``'ga'`` graph
    attention), then :class:`~eegvision.models.modules.TSConv`, flattened
    time-major as in the NICE code, then
    :class:`~eegvision.models.modules.ProjectionHead`. The flattened size is
    found with a dummy forward pass. Inputs shorter than 75 samples shrink the
    pool (then the kernel), see :func:`~eegvision.models.modules.tsconv_sizes`.

    Parameters
    ----------
    %(encoder_sizes)s
    sfreq : float | None
        Accepted for a uniform signature; kernel sizes are in samples (NICE's
        are for 250 Hz).
    n_filters, kernel, pool, stride : int
        TSConv sizes (40, 25, 51, 5 in NICE).
    dropout, proj_dropout : float
        Dropout after TSConv's spatial block and in the projection head.
    spatial : {None, 'sa', 'ga', 'sa-published', 'ga-published'}
        Spatial module in front of TSConv (the published ones are
        :mod:`eegvision.models.published`).
    layout : {'fast', 'reference'}
        TSConv layout; the same map either way (settable later via ``layout``).

    Attributes
    ----------
    spatial_conv : torch.nn.Conv2d
        TSConv's conv across channels, the layer for Grad-CAM.
    attention_weights : torch.Tensor | None
        ``(batch, n_chans, n_chans)`` from the last forward with SA or GA.
    """

    def __init__(self, n_chans, n_times, n_outputs, sfreq=None, *, n_filters=40, kernel=25,
                 pool=51, stride=5, dropout=0.5, proj_dropout=0.5, spatial=None,
                 layout="fast"):
        super().__init__()
        _check_option("spatial", spatial, SPATIAL)
        self.n_chans, self.n_times, self.n_outputs = int(n_chans), int(n_times), int(n_outputs)
        self.sfreq = sfreq
        self.spatial = _spatial_module(spatial, n_chans, n_times)
        self.tsconv = TSConv(n_chans, n_times, n_filters, kernel, pool, stride, dropout, layout)
        self._finish(n_chans, n_times, n_outputs, proj_dropout)

    @property
    def attention_weights(self):
        """Last attention weights of the spatial module, or None."""
        return getattr(self.spatial, "attention_weights", None)

    def features(self, x):
        """TSConv feature map ``(batch, n_filters, 1, n_steps)`` before flattening."""
        return self.tsconv(self.spatial(x))


def _dummy_features(model, n_chans, n_times):
    """``model.features`` of a zero input, in eval mode so no BatchNorm statistic moves."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model.features(torch.zeros(2, n_chans, n_times))
    finally:
        model.train(was_training)
        for m in model.modules():  # forget the dummy pass's attention
            if isinstance(m, (ChannelSelfAttention, GraphAttention)):
                m.attention_weights = None
