"""Shared layers of the EEG encoders: TSConv, the projection head, spatial attention.

Every layer takes its sizes as arguments and derives the rest itself (a dummy
forward pass in the encoders), so windows and channel ablations that change
``n_chans`` or ``n_times`` need no code change.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._docs import fill_doc
from .._utils import _check_option
from ._fused import PooledBatch, can_fuse, fused_tsconv

#: Layouts of :class:`TSConv`: the same function, computed two ways.
LAYOUTS = ("fast", "reference")


def init_nice_weights(module):
    """Initialise ``module`` and its children as NICE does, in place.

    Conv and Linear weights are drawn from N(0, 0.02) with zero bias;
    BatchNorm weights from N(1, 0.02) with zero bias; LayerNorm is left at
    (1, 0). Draws from the global torch RNG, so seed it with
    ``torch.manual_seed`` first.

    Parameters
    ----------
    module : torch.nn.Module
        The module to initialise (recursively).

    Returns
    -------
    module : torch.nn.Module
        The same module.
    """
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class Dropout(nn.Dropout):
    """:class:`torch.nn.Dropout` with a faster mask on the CPU.

    Zeroes each element with probability ``p`` and scales the rest by
    ``1 / (1 - p)``, exactly as ``nn.Dropout``; on the CPU the mask is drawn as
    ``rand >= p`` (one uniform draw per element, from the global torch RNG),
    which is about three times faster there than the Bernoulli sampler
    ``nn.Dropout`` uses. Other devices use ``nn.Dropout`` itself.
    """

    def forward(self, x):
        if not self.training or self.p == 0 or x.device.type != "cpu" or self.p >= 1:
            return super().forward(x)
        keep = torch.rand(x.shape, dtype=x.dtype).ge_(self.p).mul_(1.0 / (1.0 - self.p))
        return x.mul_(keep) if self.inplace else x * keep


def tsconv_sizes(n_times, kernel=25, pool=51, stride=5):
    """Temporal kernel, pool width and pool stride that fit ``n_times`` samples.

    The sizes are NICE's (25, 51, 5) when ``n_times >= kernel + pool - 1``
    (75 samples). Shorter inputs first shrink the pool to what the conv output
    allows (``n_times - kernel + 1``), then the kernel to ``n_times``; the
    stride never exceeds the pool width.

    Returns
    -------
    kernel, pool, stride : int
    """
    n_times = int(n_times)
    if n_times < 1:
        raise ValueError(f"n_times must be >= 1, got {n_times}.")
    kernel = min(int(kernel), n_times)
    pool = min(int(pool), n_times - kernel + 1)
    stride = max(1, min(int(stride), pool))
    return kernel, pool, stride


@fill_doc
class TSConv(nn.Module):
    """NICE's temporal-spatial convolution, with a fast exact layout.

    Maps ``(batch, n_chans, n_times)`` to ``(batch, n_filters, 1, n_steps)``:
    temporal Conv2d(1, F, (1, kernel)), AvgPool2d((1, pool), (1, stride)),
    BatchNorm, ELU, spatial Conv2d(F, F, (n_chans, 1)), BatchNorm, ELU,
    Dropout, then a 1x1 Conv2d(F, F).

    ``layout="reference"`` runs these modules as written. ``layout="fast"``
    (default) uses that the temporal conv and the average pool are both
    linear and shift-invariant, so they commute: it first takes the moving
    average of each channel (width ``pool``, stride 1, a single input plane
    instead of ``F`` conv output planes), then evaluates the temporal conv
    only at the ``n_steps`` strided output positions, as one matrix product
    on the unfolded signal. The result lands directly in channels-last
    memory order, which the BatchNorm and the spatial conv use natively. On
    the CPU, when no hook watches these layers, the fast layout goes further
    (:mod:`eegvision.models._fused`):
    the first BatchNorm folds into the conv weights through the moments of
    the averaged signal, and conv, ELU and spatial conv run in cache-sized
    trial chunks, so the large intermediate tensors are never materialised.
    Both layouts share the same parameters and compute the same map (up to
    float rounding); switch at any time by setting ``layout``.

    Parameters
    ----------
    %(input_size)s
    n_filters : int
        Number of temporal and spatial filters (40 in NICE).
    kernel, pool, stride : int
        Temporal kernel, average-pool width and stride, shrunk by
        :func:`tsconv_sizes` when ``n_times`` is too short for them.
    dropout : float
        Dropout after the spatial block.
    layout : {'fast', 'reference'}

    Attributes
    ----------
    temporal_conv, spatial_conv, pointwise_conv : torch.nn.Conv2d
        ``spatial_conv`` is the conv across channels (the Grad-CAM layer);
        both layouts call it as a module, so its hooks fire in either.
    n_steps : int
        Number of time steps out.
    """

    def __init__(self, n_chans, n_times, n_filters=40, kernel=25, pool=51, stride=5,
                 dropout=0.5, layout="fast"):
        super().__init__()
        self.kernel, self.pool_width, self.stride = tsconv_sizes(n_times, kernel, pool, stride)
        self.n_chans, self.n_times, self.n_filters = int(n_chans), int(n_times), int(n_filters)
        self.temporal_conv = nn.Conv2d(1, n_filters, (1, self.kernel))
        self.pool = nn.AvgPool2d((1, self.pool_width), (1, self.stride))
        self.bn1 = nn.BatchNorm2d(n_filters)
        self.spatial_conv = nn.Conv2d(n_filters, n_filters, (n_chans, 1))
        self.bn2 = nn.BatchNorm2d(n_filters)
        self.dropout = Dropout(dropout)
        self.pointwise_conv = nn.Conv2d(n_filters, n_filters, (1, 1))
        self.layout = layout
        self.n_steps = (self.n_times - self.kernel - self.pool_width + 1) // self.stride + 1

    @property
    def layout(self):
        """``'fast'`` or ``'reference'``; both compute the same map."""
        return self._layout

    @layout.setter
    def layout(self, value):
        self._layout = _check_option("layout", value, LAYOUTS)

    def _temporal_reference(self, x):
        return self.pool(self.temporal_conv(x.unsqueeze(1)))

    def _temporal_fast(self, x):
        b, c, t = x.shape
        ma = F.avg_pool1d(x.reshape(b * c, 1, t), self.pool_width, stride=1)[:, 0]
        patches = ma.unfold(-1, self.kernel, self.stride)  # (b*c, n_steps, kernel)
        w = self.temporal_conv.weight.reshape(self.n_filters, self.kernel)
        out = torch.addmm(self.temporal_conv.bias, patches.reshape(-1, self.kernel), w.T)
        # (b, c, steps, F) viewed as (b, F, c, steps): channels-last, no copy
        return out.reshape(b, c, -1, self.n_filters).permute(0, 3, 1, 2)

    def forward(self, x):
        """``(batch, n_chans, n_times)`` -> ``(batch, n_filters, 1, n_steps)``.

        ``x`` may also be a :class:`~eegvision.models._fused.PooledBatch`
        (training with a precomputed moving average), which takes the fused path.
        """
        if isinstance(x, PooledBatch) or (self.layout == "fast" and can_fuse(self, x)):
            h = fused_tsconv(self, x)
        else:
            if self.layout == "fast":
                h = self._temporal_fast(x)
            else:
                h = self._temporal_reference(x)
            h = self.spatial_conv(F.elu(self.bn1(h), inplace=True))
        h = F.elu(self.bn2(h), inplace=True)
        return self.pointwise_conv(self.dropout(h))


class ProjectionHead(nn.Module):
    """NICE's ``Proj_eeg``: Linear, a residual (GELU, Linear, Dropout) block, LayerNorm.

    Parameters
    ----------
    n_inputs, n_outputs : int
        Input and output sizes.
    dropout : float
        Dropout in the residual block (0.5 in NICE).
    """

    def __init__(self, n_inputs, n_outputs, dropout=0.5):
        super().__init__()
        self.linear = nn.Linear(n_inputs, n_outputs)
        self.block = nn.Sequential(nn.GELU(), nn.Linear(n_outputs, n_outputs), Dropout(dropout))
        self.norm = nn.LayerNorm(n_outputs)

    def forward(self, x):
        x = self.linear(x)
        return self.norm(x + self.block(x))


@fill_doc
class ChannelSelfAttention(nn.Module):
    """Self-attention across channels, with a residual: ``x + softmax(q k^T / sqrt(d)) x``.

    Queries and keys are linear projections of each channel's time series;
    the values are the input itself, so the output keeps ``x``'s shape. After
    a forward, ``attention_weights`` holds the (detached) weights
    ``(batch, n_chans, n_chans)``; rows sum to 1 (row = the channel that
    attends). :meth:`value` is what the weights mix (the saliency method
    ``attention`` uses both).

    Parameters
    ----------
    n_times : int
        Length of each channel's time series.
    d_key : int | None
        Size of queries and keys; defaults to ``min(n_times, 64)``.
    %(attention_dropout)s
    """

    def __init__(self, n_times, d_key=None, dropout=0.0):
        super().__init__()
        d_key = min(int(n_times), 64) if d_key is None else int(d_key)
        self.query = nn.Linear(n_times, d_key)
        self.key = nn.Linear(n_times, d_key)
        self.dropout = Dropout(dropout)
        self.scale = 1.0 / math.sqrt(d_key)
        self.attention_weights = None

    def value(self, x):
        """What the attention mixes: ``x`` itself (the output is ``x + A value(x)``)."""
        return x

    def forward(self, x):
        """``(batch, n_chans, n_times)`` -> same shape."""
        scores = self.query(x) @ self.key(x).transpose(1, 2) * self.scale
        attn = scores.softmax(dim=-1)
        self.attention_weights = attn.detach()
        return x + self.dropout(attn) @ self.value(x)


@fill_doc
class GraphAttention(nn.Module):
    """One graph-attention (GAT) layer over a fully connected channel graph, with a residual.

    Nodes are channels, node features their time series; every pair of
    channels (self loops included) is an edge. With ``h = x W``, the score of
    edge ``i -> j`` is ``LeakyReLU_0.2(a_src . h_i + a_dst . h_j)``, softmax
    over ``j``; the output is ``x + alpha h``. ``attention_weights`` holds the
    last (detached) ``alpha`` ``(batch, n_chans, n_chans)``; rows sum to 1;
    :meth:`value` is ``h``, what the weights mix.

    Parameters
    ----------
    n_times : int
        Length of each channel's time series (node feature size, kept).
    %(attention_dropout)s
    """

    def __init__(self, n_times, dropout=0.0):
        super().__init__()
        self.weight = nn.Linear(n_times, n_times, bias=False)
        self.att_src = nn.Linear(n_times, 1, bias=False)
        self.att_dst = nn.Linear(n_times, 1, bias=False)
        self.dropout = Dropout(dropout)
        self.attention_weights = None

    def value(self, x):
        """What the attention mixes: ``h = x W`` (the output is ``x + A value(x)``)."""
        return self.weight(x)

    def forward(self, x):
        """``(batch, n_chans, n_times)`` -> same shape."""
        h = self.value(x)
        scores = F.leaky_relu(self.att_src(h) + self.att_dst(h).transpose(1, 2), 0.2)
        attn = scores.softmax(dim=-1)
        self.attention_weights = attn.detach()
        return x + self.dropout(attn) @ h
