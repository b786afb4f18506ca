"""The fused CPU TSConv path, its scratch buffers and the fast dropout: the same function."""

from __future__ import annotations

import copy
from unittest import mock

import pytest

torch = pytest.importorskip("torch")

from eegvision import _workspace  # noqa: E402
from eegvision.models import _fused, create_encoder  # noqa: E402
from eegvision.models.modules import Dropout, TSConv  # noqa: E402


def _x(batch, n_chans, n_times, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n_chans, n_times, generator=g, dtype=dtype)


def _pair(n_chans, n_times, dtype=torch.float32, **kw):
    """A reference-layout TSConv and a fast copy with the same weights, dropout off."""
    torch.manual_seed(0)
    ref = TSConv(n_chans, n_times, dropout=0.0, layout="reference", **kw).to(dtype)
    for bn in (ref.bn1, ref.bn2):  # non-trivial affine BatchNorm
        torch.nn.init.normal_(bn.weight, 1.0, 0.3)
        torch.nn.init.normal_(bn.bias, 0.0, 0.3)
    fast = TSConv(n_chans, n_times, dropout=0.0, layout="fast", **kw).to(dtype)
    fast.load_state_dict(ref.state_dict())
    return ref, fast


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of one or two trials, so batches span several chunks with a ragged last one."""
    monkeypatch.setattr(_fused, "CHUNK_ELEMENTS", 2 * 6 * 9 * 40)


def _spy():
    return mock.patch.object(_fused._ConvEluSpatial, "apply",
                             wraps=_fused._ConvEluSpatial.apply)


@pytest.mark.parametrize("n_chans, n_times", [(9, 100), (63, 250), (4, 27), (3, 20)])
def test_fused_train_step_equals_reference_float64(n_chans, n_times, small_chunks):
    ref, fast = _pair(n_chans, n_times, torch.float64)
    x = _x(7, n_chans, n_times, seed=1, dtype=torch.float64) * 2 + 0.5
    with _spy() as spy:
        out_fast = fast(x)
    assert spy.call_count == 1
    out_ref = ref(x)
    assert torch.allclose(out_fast, out_ref, atol=1e-10)
    g = torch.randn_like(out_ref)
    grads_ref = torch.autograd.grad((out_ref * g).sum(), list(ref.parameters()))
    grads_fast = torch.autograd.grad((out_fast * g).sum(), list(fast.parameters()))
    for (name, _), a, b in zip(ref.named_parameters(), grads_ref, grads_fast):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-7), name
    for key, value in ref.state_dict().items():  # running statistics moved the same way
        assert torch.allclose(fast.state_dict()[key].double(), value.double(), atol=1e-10), key


def test_fused_backward_with_frozen_temporal_conv_equals_reference(small_chunks):
    """Temporal conv and its BatchNorm frozen: the short backward gives the same gradients."""
    ref, fast = _pair(9, 100, torch.float64)
    for m in (ref, fast):
        for p in list(m.temporal_conv.parameters()) + list(m.bn1.parameters()):
            p.requires_grad_(False)
    x = _x(7, 9, 100, seed=2, dtype=torch.float64)
    with _spy() as spy:
        out_fast = fast(x)
    assert spy.call_count == 1
    out_ref = ref(x)
    g = torch.randn_like(out_ref)
    trained = [n for n, p in ref.named_parameters() if p.requires_grad]
    assert trained and not any(n.startswith(("temporal_conv", "bn1")) for n in trained)
    grads = [torch.autograd.grad((out * g).sum(), [p for p in m.parameters() if p.requires_grad])
             for m, out in ((ref, out_ref), (fast, out_fast))]
    for name, a, b in zip(trained, *grads, strict=True):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-7), name


def test_fused_float32_precision_under_large_offset(small_chunks):
    """With a 1000x DC offset, float32 fused is about as close to float64 as float32 reference."""
    ref, fast = _pair(9, 100)
    exact = copy.deepcopy(ref).double()
    offset = 1000.0 * torch.randn(1, 9, 1, generator=torch.Generator().manual_seed(5))
    x = _x(5, 9, 100, seed=2) + offset
    for mode in ("train", "eval"):
        for model in (ref, fast, exact):
            model.train(mode == "train")
        truth = exact(x.double())
        err_ref = (ref(x).double() - truth).abs().max().item()
        err_fast = (fast(x).double() - truth).abs().max().item()
        assert err_fast <= 5 * err_ref + 1e-6 * truth.abs().max().item(), mode
        assert err_fast < 1e-3 * truth.abs().max().item(), mode
    assert torch.allclose(fast.bn1.running_var, ref.bn1.running_var, rtol=1e-3)


def test_fused_batchnorm_options(small_chunks):
    """Cumulative running averages (momentum None) and no running statistics at all."""
    for kwargs in ({"momentum": None}, {"track_running_stats": False}):
        ref, fast = _pair(6, 90, torch.float64)
        for model in (ref, fast):
            model.bn1 = torch.nn.BatchNorm2d(40, **kwargs).double()
        x = _x(5, 6, 90, dtype=torch.float64)
        for _ in range(2):
            assert torch.allclose(fast(x), ref(x), atol=1e-10)
        ref.eval(), fast.eval()
        assert torch.allclose(fast(x), ref(x), atol=1e-10)


def test_fused_path_is_skipped_when_it_cannot_apply():
    enc = create_encoder("nice", n_chans=9, n_times=100, n_outputs=8)
    x = _x(3, 9, 100)
    with _spy() as spy:
        handle = enc.spatial_conv.register_forward_hook(lambda *a: None)  # Grad-CAM hooks
        enc(x)
        handle.remove()
        enc.layout = "reference"
        enc(x)
        assert spy.call_count == 0
        enc.layout = "fast"
        enc(x)
        assert spy.call_count == 1


@pytest.mark.parametrize("train", [True, False])
def test_fused_input_gradient_equals_reference(train, small_chunks):
    """An input that needs a gradient (attention in front): same input gradient as the reference."""
    ref, fast = _pair(9, 100, torch.float64)
    ref.train(train), fast.train(train)
    x = _x(7, 9, 100, seed=4, dtype=torch.float64) + 0.3
    grads = []
    for model in (ref, fast):
        xg = x.clone().requires_grad_(True)
        with _spy() as spy:
            out = model(xg)
        assert spy.call_count == (model is fast)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        grads.append((xg.grad, [p.grad for p in model.parameters()]))
    assert torch.allclose(grads[1][0], grads[0][0], atol=1e-10)
    for (name, _), a, b in zip(ref.named_parameters(), grads[0][1], grads[1][1]):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-7), name


def _rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.parametrize("needs_grad", [False, True])
def test_fused_bfloat16_autocast_close_to_float32(needs_grad, small_chunks):
    """Under CPU bf16 autocast the fused products run in bf16; results within bf16 error of float32."""
    ref, fast = _pair(9, 100)
    x = _x(7, 9, 100, seed=3) + 0.3
    results = []
    for model, amp in ((ref, False), (fast, True)):
        xg = x.clone().requires_grad_(needs_grad)
        with _spy() as spy, torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(xg)
        if amp:
            assert spy.call_count == 1 and spy.call_args.args[-1] == torch.bfloat16
        weight = torch.linspace(-1, 1, out.numel()).view_as(out)
        inputs = list(model.parameters()) + ([xg] if needs_grad else [])
        results.append((out, torch.autograd.grad((out.float() * weight).sum(), inputs)))
    (out_ref, grads_ref), (out_bf, grads_bf) = results
    assert _rel(out_bf, out_ref) < 0.03
    names = [n for n, _ in ref.named_parameters()] + (["input"] if needs_grad else [])
    scale = max(g.abs().max().item() for g in grads_ref)
    for name, a, b in zip(names, grads_ref, grads_bf):
        assert b.dtype == a.dtype == torch.float32, name
        if name in ("temporal_conv.bias", "spatial_conv.bias"):  # before a training-mode BN:
            assert max(a.abs().max(), b.abs().max()) < 1e-3 * scale  # zero up to rounding
            continue
        assert _rel(b, a) < 0.05, name
    # running statistics come from the exact (float64) moments, not from bf16
    fresh, _ = _pair(9, 100)
    fresh(x)
    assert torch.allclose(fast.bn1.running_var, fresh.bn1.running_var, rtol=1e-5)


def test_fused_float64_ignores_bfloat16_autocast():
    _, fast = _pair(9, 100, torch.float64)
    with _spy() as spy, torch.autocast("cpu", dtype=torch.bfloat16):
        fast(_x(3, 9, 100, dtype=torch.float64))
    assert spy.call_args.args[-1] is None


def test_elu_matches_torch():
    z = torch.linspace(-30, 30, 100001)
    assert torch.allclose(_fused._elu_(z.clone(), torch.empty_like(z)),
                          torch.nn.functional.elu(z), atol=2e-7, rtol=1e-6)


def test_window_moments_match_unfolded_windows():
    x = _x(4, 5, 80, seed=3, dtype=torch.float64) + torch.randn(4, 5, 1, dtype=torch.float64) * 50
    m, mean, cov = _fused.moving_average(x, 11, 3, n_steps=14, kernel=15, stride=4)
    expect = torch.nn.functional.avg_pool1d(x.reshape(20, 1, 80), 11, stride=1).reshape(4, 5, -1)
    assert torch.allclose(m, expect, atol=1e-12)
    win = expect.unfold(-1, 15, 4)[:, :, :14].reshape(-1, 15)
    assert torch.allclose(mean, win.mean(0), atol=1e-10)
    assert torch.allclose(cov, torch.cov(win.T, correction=0), atol=1e-9)


def test_scratch_reuses_only_free_buffers(monkeypatch):
    monkeypatch.setattr(_workspace, "MIN_BYTES", 0)

    class Owner:
        pass

    owner = Owner()
    a = _workspace.scratch(owner, "buf", (4, 5), torch.float32)
    a.fill_(1.0)
    b = _workspace.scratch(owner, "buf", (4, 5), torch.float32)  # `a` is alive: a new buffer
    assert b.data_ptr() != a.data_ptr()
    ptr = b.data_ptr()
    del a, b
    c = _workspace.scratch(owner, "buf", (2, 3), torch.float32)  # free again, and big enough
    assert c.data_ptr() == ptr and c.shape == (2, 3)
    assert _workspace.scratch(owner, "other", (2, 3), torch.float32).data_ptr() != ptr
    d = _workspace.scratch(owner, "buf", (10, 10), torch.float32)  # too small: replaced
    assert d.shape == (10, 10)


def test_scratch_survives_autograd_graphs():
    """Activations saved for backward are never overwritten by the next forward."""
    enc = create_encoder("nice", n_chans=63, n_times=250, n_outputs=8)
    for m in enc.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    x1, x2 = _x(200, 63, 250, seed=1), _x(200, 63, 250, seed=2)
    out1 = enc(x1)
    enc(x2)  # a second graph before the first backward
    (g1,) = torch.autograd.grad(out1.sum(), [enc.tsconv.spatial_conv.weight])
    enc.zero_grad()
    (g1_again,) = torch.autograd.grad(enc(x1).sum(), [enc.tsconv.spatial_conv.weight])
    # same batch statistics, same weights -> same gradient as without the second graph
    assert torch.allclose(g1, g1_again, atol=1e-6)


def test_dropout_rate_scale_and_eval():
    torch.manual_seed(0)
    drop = Dropout(0.3)
    x = torch.ones(200_000)
    y = drop(x)
    assert abs(float((y == 0).float().mean()) - 0.3) < 0.01
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(drop.eval()(x), x)
    z = torch.ones(10)
    Dropout(0.5, inplace=True).train()(z)
    assert set(z.tolist()) <= {0.0, 2.0}


def test_inference_and_trained_models_hold_no_scratch():
    enc = create_encoder("nice", n_chans=63, n_times=250, n_outputs=8)
    x = _x(200, 63, 250)
    with torch.no_grad():
        enc(x)
    assert enc.tsconv not in _workspace._BUFFERS
    enc(x).sum().backward()
    assert "act" in _workspace._BUFFERS[enc.tsconv]  # 72 MB; the 10 MB average is not kept
    _workspace.release(enc)
    assert enc.tsconv not in _workspace._BUFFERS


@pytest.mark.parametrize("train", [True, False])
def test_window_cache_batches_equal_the_direct_path_float64(train, small_chunks):
    """Cached average and summed per-trial moments: the same outputs, gradients and statistics."""
    ref, fast = _pair(9, 100, torch.float64)
    cached = copy.deepcopy(fast)
    x = _x(11, 9, 100, seed=6, dtype=torch.float64) * 3 + 40.0  # a DC offset
    cache = _fused.WindowCache(fast, x, torch.float64)
    idx = torch.tensor([7, 2, 9, 0, 4])
    for model in (ref, fast, cached):
        model.train(train)
    outs = [ref(x[idx]), fast(x[idx])]
    with _spy() as spy:
        outs.append(cached(cache.batch(idx)))
    assert spy.call_count == 1
    for out in outs[1:]:
        assert torch.allclose(out, outs[0], atol=1e-10)
    g = torch.randn_like(outs[0])
    grads = [torch.autograd.grad((o * g).sum(), list(m.parameters()))
             for o, m in zip(outs, (ref, fast, cached))]
    for (name, _), a, b in zip(ref.named_parameters(), grads[0], grads[2]):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-7), name
    for key, value in ref.state_dict().items():
        assert torch.allclose(cached.state_dict()[key].double(), value.double(), atol=1e-10), key


def test_window_cache_moments_survive_a_large_offset():
    """float64 sums about the data's mean: batch moments match a direct computation."""
    x = _x(6, 5, 80, seed=8, dtype=torch.float64) + torch.randn(6, 5, 1, dtype=torch.float64) * 1e4
    tsconv = TSConv(5, 80, kernel=15, pool=11, stride=4).double()
    batch = _fused.WindowCache(tsconv, x, torch.float32).batch(torch.tensor([5, 1, 3]))
    assert batch.average.dtype == torch.float32 and len(batch) == 3
    avg = torch.nn.functional.avg_pool1d(x[[5, 1, 3]].reshape(15, 1, 80), 11, stride=1)
    win = avg.reshape(3, 5, -1).unfold(-1, 15, 4)[:, :, :tsconv.n_steps].reshape(-1, 15)
    assert torch.allclose(batch.mean, win.mean(0), rtol=1e-12)
    cov = torch.cov(win.T, correction=0)
    assert torch.allclose(batch.cov, cov, rtol=1e-7, atol=1e-9 * cov.abs().max())


def test_window_cache_applies_only_to_tsconv_seeing_the_eeg(monkeypatch):
    x = _x(4, 9, 100)
    plain = create_encoder("nice", n_chans=9, n_times=100, n_outputs=8)
    assert isinstance(_fused.window_cache(plain, x, None), _fused.WindowCache)
    assert _fused.window_cache(plain, x, torch.bfloat16).average.dtype == torch.bfloat16
    assert _fused.window_cache(plain, x[:, :5], None) is None  # other channels
    for name in ("nice-sa", "atm"):  # a trained module in front of TSConv
        enc = create_encoder(name, n_chans=9, n_times=100, n_outputs=8)
        assert _fused.window_cache(enc, x, None) is None
    plain.layout = "reference"
    assert _fused.window_cache(plain, x, None) is None
    plain.layout = "fast"
    monkeypatch.setattr(_fused, "CACHE_MAX_BYTES", 100)
    assert _fused.window_cache(plain, x, None) is None
