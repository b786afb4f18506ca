"""The published NICE-SA / NICE-GA modules against literal transcriptions of the public code."""

import pytest

torch = pytest.importorskip("torch")

from eegvision.models.published import (  # noqa: E402
    PublishedChannelAttention,
    PublishedGraphAttention,
)


def _literal_sa(x, mod, wq, wk):
    """spatial_modules.channel_attention inside NICE's residual, with real queries and keys."""
    import torch.nn.functional as F

    t = mod.time_norm(x)[:, None]  # b o c s, after LayerNorm(250)
    temp = t.transpose(2, 3)  # b o s c
    q = F.layer_norm(temp @ wq.T, (t.shape[2],)).transpose(2, 3)
    k = F.layer_norm(temp @ wk.T, (t.shape[2],)).transpose(2, 3)
    atten = torch.einsum("bocs,boms->bocm", q, k) / (250 / 30) ** 0.5
    score = F.softmax(atten, dim=-1)
    out = torch.einsum("bocs,bocm->bocs", t, score)  # the einsum of the public code
    out = mod.chan_norm(mod.linear(out.transpose(2, 3))).transpose(2, 3)
    return x + out[:, 0]


def test_published_sa_is_the_public_code_with_its_attention_reducing_to_identity():
    torch.manual_seed(0)
    mod = PublishedChannelAttention(7, 30).eval()
    x = torch.randn(4, 7, 30)
    wq, wk = torch.randn(7, 7), torch.randn(7, 7)
    torch.testing.assert_close(mod(x), _literal_sa(x, mod, wq, wk), rtol=1e-5, atol=1e-5)
    # whatever the queries and keys, the output is the same
    torch.testing.assert_close(_literal_sa(x, mod, wq, wk), _literal_sa(x, mod, -3 * wk, wq),
                               rtol=1e-5, atol=1e-5)


def _literal_gat(x, mod, n_graph=64):
    """EEG_GAT: GATConv(heads=1) on edges (i, j), i != j < 64, self loops added for all nodes."""
    b, c, s = x.shape
    nodes = x.reshape(b * c, s)
    h = mod.weight(nodes)
    src = [i for i in range(n_graph) for j in range(n_graph) if i != j]
    dst = [j for i in range(n_graph) for j in range(n_graph) if i != j]
    keep = [(i, j) for i, j in zip(src, dst, strict=True) if i < b * c and j < b * c]
    src = [i for i, _ in keep] + list(range(b * c))  # add_self_loops
    dst = [j for _, j in keep] + list(range(b * c))
    out = torch.zeros_like(h)
    for target in range(b * c):
        sources = [i for i, j in zip(src, dst, strict=True) if j == target]
        e = torch.nn.functional.leaky_relu(
            torch.stack([h[i] @ mod.att_src + h[target] @ mod.att_dst for i in sources]), 0.2)
        alpha = e.softmax(0)
        out[target] = sum(a * h[i] for a, i in zip(alpha, sources, strict=True))
    return x + (out + mod.bias).reshape(b, c, s)


def test_published_ga_is_the_public_code_graph_covering_the_first_64_nodes():
    torch.manual_seed(1)
    mod = PublishedGraphAttention(63, 12).eval()
    x = torch.randn(3, 63, 12)
    got = mod(x)
    torch.testing.assert_close(got, _literal_gat(x, mod), rtol=1e-5, atol=1e-5)
    # beyond node 63 (trial 1's channel 1 on), each channel is W x + b alone
    lone = x[1:].reshape(-1, 12)[1:]
    torch.testing.assert_close(got[1:].reshape(-1, 12)[1:], lone + mod.weight(lone) + mod.bias)
    # the first trial is mixed: changing trial 0's channel 5 changes its channel 0
    y = x.clone()
    y[0, 5] += 1
    assert not torch.allclose(mod(y)[0, 0], got[0, 0])
    assert torch.allclose(mod(y)[2], got[2])
