"""The encoder registry: shapes, gradients, determinism, attention, fast == reference."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from eegvision.models import create_encoder, list_encoders  # noqa: E402
from eegvision.models.modules import TSConv, tsconv_sizes  # noqa: E402

SHAPES = [(17, 100), (63, 250), (8, 25), (55, 250), (2, 20)]
ATTENTION = ["nice-sa", "nice-ga"]
#: Encoders built on TSConv (layouts, the 40-filter feature map); the others are checked
#: by the generic registry tests below and in test_registry.py.
TSCONV = [n for n in list_encoders() if n.startswith("nice") or n == "atm"]


def _x(n_chans, n_times, batch=3, seed=0):
    return torch.randn(batch, n_chans, n_times, generator=torch.Generator().manual_seed(seed))


def test_registry_names_and_unknown():
    names = list_encoders()
    assert names == sorted(names)
    assert {"nice", "nice-sa", "nice-ga", "atm", "mlp", "eegnet"} <= set(names)
    with pytest.raises(ValueError, match="Unknown encoder name 'nicee'. Available: atm, eegnet, mlp, nice"):
        create_encoder("nicee", n_chans=4, n_times=50, n_outputs=8)
    with pytest.raises(ValueError, match="fixes spatial"):
        create_encoder("nice-sa", n_chans=4, n_times=50, n_outputs=8, spatial="ga")
    with pytest.raises(ValueError, match="layout"):
        create_encoder("nice", n_chans=4, n_times=50, n_outputs=8, layout="quick")


@pytest.mark.parametrize("name", list_encoders())
@pytest.mark.parametrize("n_chans, n_times", SHAPES)
def test_output_shape_and_gradients(name, n_chans, n_times):
    torch.manual_seed(0)
    enc = create_encoder(name, n_chans=n_chans, n_times=n_times, n_outputs=12, sfreq=250.0)
    x = _x(n_chans, n_times).requires_grad_(True)
    out = enc(x)
    assert out.shape == (3, 12) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    no_grad = [n for n, p in enc.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # a bias right before a training-mode BatchNorm has an exactly zero gradient (the fused path
    # gets 0.0; the reference layout only rounding noise)
    assert set(no_grad) <= {"tsconv.temporal_conv.bias"}
    assert all(p.grad is not None for p in enc.parameters())
    if name == "mlp":
        return  # no convolution: nothing spatial to check
    assert isinstance(enc.spatial_conv, torch.nn.Conv2d)
    assert enc.spatial_conv.kernel_size == (n_chans, 1)
    assert enc.features(x).shape[:3] == ((3, 16, 1) if name == "eegnet" else (3, 40, 1))


@pytest.mark.parametrize("name", list_encoders())
def test_deterministic_under_seed(name):
    x = _x(6, 80)
    outs = []
    for seed in (1, 1, 2):
        torch.manual_seed(seed)
        enc = create_encoder(name, n_chans=6, n_times=80, n_outputs=10)
        outs.append(enc(x))  # train mode: dropout draws from the seeded RNG too
    assert torch.equal(outs[0], outs[1])
    assert not torch.allclose(outs[0], outs[2])


def test_init_is_nice():
    torch.manual_seed(0)
    enc = create_encoder("nice", n_chans=63, n_times=250, n_outputs=768)
    w = enc.head.linear.weight
    assert abs(w.std().item() - 0.02) < 1e-3 and abs(w.mean().item()) < 1e-3
    assert enc.head.linear.weight.shape == (768, 40 * 36)  # NICE's 1440, derived
    assert torch.all(enc.tsconv.bn1.bias == 0)
    assert abs(enc.tsconv.bn1.weight.mean().item() - 1) < 0.02


def test_construction_leaves_batchnorm_untouched():
    enc = create_encoder("nice", n_chans=4, n_times=60, n_outputs=8)
    assert enc.training
    assert enc.tsconv.bn1.num_batches_tracked.item() == 0
    assert torch.all(enc.tsconv.bn1.running_mean == 0)


@pytest.mark.parametrize("name", ATTENTION)
def test_attention_weights(name):
    enc = create_encoder(name, n_chans=7, n_times=60, n_outputs=8)
    assert enc.attention_weights is None
    enc(_x(7, 60, batch=4))
    attn = enc.attention_weights
    assert attn.shape == (4, 7, 7)
    assert torch.allclose(attn.sum(-1), torch.ones(4, 7), atol=1e-5)
    assert (attn >= 0).all() and not attn.requires_grad


def test_no_attention_on_plain_nice():
    enc = create_encoder("nice", n_chans=3, n_times=60, n_outputs=8)
    enc(_x(3, 60))
    assert enc.attention_weights is None


def test_tsconv_sizes_shrink():
    assert tsconv_sizes(250) == (25, 51, 5)
    assert tsconv_sizes(75) == (25, 51, 5)
    assert tsconv_sizes(60) == (25, 36, 5)
    assert tsconv_sizes(27) == (25, 3, 3)
    assert tsconv_sizes(20) == (20, 1, 1)
    assert TSConv(63, 250).n_steps == 36


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", TSCONV)
@pytest.mark.parametrize("n_chans, n_times",
                         [(63, 250), (17, 100), (8, 75), (5, 60), (3, 27), (4, 20)])
def test_fast_layout_equals_reference(name, n_chans, n_times):
    torch.manual_seed(0)
    enc = create_encoder(name, n_chans=n_chans, n_times=n_times, n_outputs=16,
                         layout="reference")
    x = _x(n_chans, n_times, batch=4, seed=1) * 3 + 1
    enc.eval()
    ref = enc(x)
    enc.layout = "fast"
    fast = enc(x)
    assert torch.allclose(fast, ref, atol=1e-5, rtol=1e-4)
    # train mode (batch statistics), dropout off: same gradients. In float64,
    # because the temporal-conv gradient is a near-cancelling sum after
    # BatchNorm (its bias gradient is 0 up to rounding).
    enc.double().train()
    for m in enc.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        elif isinstance(m, torch.nn.MultiheadAttention):
            m.dropout = 0.0
    grads = {}
    for layout in ("reference", "fast"):
        enc.layout = layout
        enc.zero_grad()
        enc(x.double()).square().sum().backward()
        grads[layout] = _grads(enc)
    assert grads["fast"].keys() == grads["reference"].keys()
    for key, g in grads["reference"].items():
        assert torch.allclose(grads["fast"][key], g, atol=1e-9, rtol=1e-7), key


@pytest.mark.parametrize("n_chans, n_times", [(63, 250), (5, 60)])
def test_fast_layout_float32_with_large_offset(n_chans, n_times):
    """The fast layout keeps float32 precision under a large DC offset."""
    torch.manual_seed(0)
    enc = create_encoder("nice", n_chans=n_chans, n_times=n_times, n_outputs=16,
                         layout="reference").eval()
    x = _x(n_chans, n_times, batch=4, seed=2) + 1000.0 * torch.randn(1, n_chans, 1)
    ref = enc.tsconv(x)
    enc.layout = "fast"
    assert torch.allclose(enc.tsconv(x), ref, atol=1e-5 * ref.abs().max().item(), rtol=1e-4)


def test_fast_layout_same_running_stats():
    torch.manual_seed(0)
    enc = create_encoder("nice", n_chans=6, n_times=90, n_outputs=8, layout="reference")
    x = _x(6, 90, batch=5)
    stats = {}
    for layout in ("reference", "fast"):
        for bn in (enc.tsconv.bn1, enc.tsconv.bn2):
            bn.reset_running_stats()
        enc.layout = layout
        enc(x)
        stats[layout] = {k: v.clone() for k, v in enc.tsconv.state_dict().items()
                         if "running" in k or "num_batches" in k}
    for key, v in stats["reference"].items():
        assert torch.allclose(stats["fast"][key], v, atol=1e-6), key


def test_fast_differs_from_a_wrong_layout():
    """The equivalence check can fail: a shifted input gives another output."""
    torch.manual_seed(0)
    enc = create_encoder("nice", n_chans=4, n_times=100, n_outputs=8).eval()
    x = _x(4, 100)
    assert not torch.allclose(enc(x), enc(torch.roll(x, 1, dims=-1)), atol=1e-5)


def test_spatial_conv_hook_sees_channels_in_both_layouts():
    enc = create_encoder("nice", n_chans=9, n_times=100, n_outputs=8).eval()
    seen = []
    enc.spatial_conv.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    x = _x(9, 100)
    enc(x)
    enc.layout = "reference"
    enc(x)
    assert seen[0].shape == seen[1].shape == (3, 40, 9, 6)
    assert torch.allclose(seen[0], seen[1], atol=1e-5)
