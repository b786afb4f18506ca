"""NICE-SA and NICE-GA as the public code computes them (``nice-sa-published`` / ``-ga-published``).

Read line by line, the public spatial modules (eeyhsong/NICE-EEG,
spatial_modules.py, used inside ``Enc_eeg`` as shown there) do less than
their names say. These classes compute exactly what they compute, in the
reduced form; :class:`~eegvision.models.modules.ChannelSelfAttention` and
:class:`~eegvision.models.modules.GraphAttention` are the corrected modules
(``nice-sa`` / ``nice-ga``).

Self-attention (``channel_attention`` behind ``LayerNorm(250)``, in a
residual with ``Dropout(0.3)``): the attention scores ``softmax(q k^T)`` are
applied as ``einsum('b o c s, b o c m -> b o c s', x, score)``, which sums the
scores over ``m``: each row of a softmax sums to 1, so the "attention" returns
``x`` unchanged and the queries and keys never reach the output (nor receive
a gradient). What remains is the projection: a ``Linear`` across channels,
``LayerNorm`` across channels and ``Dropout(0.3)``, at every time point::

    out = x + Dropout(Dropout(LayerNorm_ch(Linear_ch(LayerNorm_time(x)))))

(The public code sizes that Linear for 64 channels; THINGS-EEG2 has 63, so
here it is sized by ``n_chans``.)

Graph attention (``EEG_GAT``, one ``GATConv(250, 250, heads=1)``, in a
residual with ``Dropout(0.3)``): the batch is flattened to ``batch x
channels`` nodes, but the edge list is the complete graph on nodes 0-63 only,
built once for 64 channels. So the first 64 nodes of a batch (with 63
channels: every channel of the batch's first trial and the first channel of
the second) attend to each other (GAT scores, self loops added); every other
node has only its self loop, so its output is ``W x + b``, a linear map of
its own time series. Which trial gets the graph depends on the batch order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._docs import fill_doc
from .modules import Dropout

#: Nodes covered by the public code's edge list (its ``num_channels = 64``).
GRAPH_NODES = 64


@fill_doc
class PublishedChannelAttention(nn.Module):
    """NICE's channel "self-attention" as it computes: see the module docstring.

    Parameters
    ----------
    %(input_size)s
    dropout : float
        NICE: 0.3, inside the projection and again in the residual branch.
    """

    def __init__(self, n_chans, n_times, dropout=0.3):
        super().__init__()
        self.time_norm = nn.LayerNorm(n_times)
        self.linear = nn.Linear(n_chans, n_chans)
        self.chan_norm = nn.LayerNorm(n_chans)
        self.proj_dropout = Dropout(dropout)
        self.dropout = Dropout(dropout)
        nn.init.xavier_normal_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x):
        """``(batch, n_chans, n_times)`` -> same shape."""
        h = self.time_norm(x).transpose(1, 2)  # (batch, time, channels)
        h = self.proj_dropout(self.chan_norm(self.linear(h))).transpose(1, 2)
        return x + self.dropout(h)


class PublishedGraphAttention(nn.Module):
    """NICE's graph attention as it computes: see the module docstring.

    Parameters
    ----------
    n_chans, n_times : int
        Input size (node features are the time series).
    dropout : float
        Dropout of the residual branch (NICE: 0.3).
    n_graph_nodes : int
        Leading nodes of the flattened batch that the edge list covers.
    """

    def __init__(self, n_chans, n_times, dropout=0.3, n_graph_nodes=GRAPH_NODES):
        super().__init__()
        self.weight = nn.Linear(n_times, n_times, bias=False)
        self.att_src = nn.Parameter(torch.empty(n_times))
        self.att_dst = nn.Parameter(torch.empty(n_times))
        self.bias = nn.Parameter(torch.zeros(n_times))
        self.dropout = Dropout(dropout)
        self.n_graph_nodes = int(n_graph_nodes)
        nn.init.xavier_uniform_(self.weight.weight)
        for p in (self.att_src, self.att_dst):  # glorot, as GATConv's (1, heads, C) vectors
            bound = (6.0 / (1 + n_times)) ** 0.5
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        """``(batch, n_chans, n_times)`` -> same shape."""
        b, c, s = x.shape
        h = self.weight(x.reshape(b * c, s))
        k = min(self.n_graph_nodes, b * c)
        hk = h[:k]
        # edge j -> i scored LeakyReLU(a_src . h_j + a_dst . h_i), softmax over i's sources
        scores = F.leaky_relu((hk @ self.att_dst)[:, None] + (hk @ self.att_src)[None, :], 0.2)
        mixed = scores.softmax(dim=-1) @ hk
        out = torch.cat([mixed, h[k:]]) + self.bias
        return x + self.dropout(out.reshape(b, c, s))
