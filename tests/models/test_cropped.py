"""The cropped fused TSConv path equals the full one on zero-padded inputs."""

import pytest
import torch

from eegvision.models import create_encoder
from eegvision.models._cropped import active_steps, crop_cache, support
from eegvision.models._fused import WindowCache


def _windowed(n=24, c=5, t=250, lo=100, hi=125, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, t, generator=g)
    x[:, :, :lo] = 0
    x[:, :, hi:] = 0
    return x


def test_support_and_active_steps():
    x = _windowed(lo=40, hi=60)
    assert support(x) == (40, 60)
    enc = create_encoder("nice", n_chans=5, n_times=250, n_outputs=8)
    ts = enc.tsconv
    s0, n = active_steps(ts, 40, 60)
    # a step is active exactly when its moving-average window touches a non-zero sample
    for s in range(ts.n_steps):
        lo_avg, hi_avg = ts.stride * s, ts.stride * s + ts.kernel - 1
        touches = hi_avg >= 40 - ts.pool_width + 1 and lo_avg <= 59
        assert touches == (s0 <= s < s0 + n)
    assert 0 < n < ts.n_steps


@pytest.mark.parametrize("budget", [1 << 30, 0])  # stored average, or recomputed per batch
@pytest.mark.parametrize("train", [True, False])
def test_cropped_equals_full(budget, train):
    torch.manual_seed(0)
    x = _windowed()
    enc_a = create_encoder("nice", n_chans=5, n_times=250, n_outputs=8)
    enc_b = create_encoder("nice", n_chans=5, n_times=250, n_outputs=8)
    enc_b.load_state_dict(enc_a.state_dict())
    full = WindowCache(enc_a.tsconv, x, torch.float32)
    crop = crop_cache(enc_b, x, torch.float32, budget=budget)
    assert crop is not None and (crop.average is None) == (crop.sums is None) == (budget == 0)
    idx = torch.arange(3, 19)
    outs = []
    for enc, cache in ((enc_a, full), (enc_b, crop)):
        enc.train(train)
        torch.manual_seed(1)  # the same dropout masks
        h = enc.tsconv(cache.batch(idx, enc))
        if train:
            h.square().sum().backward()
        outs.append(h.detach())
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(enc_b.tsconv.bn1.running_var, enc_a.tsconv.bn1.running_var)
    if train:
        # float32 rounding, relative to the whole gradient: the spatial bias's own gradient is
        # ~0 and rounding noise (BatchNorm follows it), so it is held to the global scale
        ga = torch.cat([p.grad.flatten() for p in enc_a.tsconv.parameters()])
        gb = torch.cat([p.grad.flatten() for p in enc_b.tsconv.parameters()])
        assert float((gb - ga).norm()) <= 1e-5 * float(ga.norm())
        for (name, pa), pb in zip(enc_a.tsconv.named_parameters(), enc_b.tsconv.parameters()):
            assert float((pb.grad - pa.grad).norm()) <= 1e-5 * float(ga.norm()), name


def test_crop_budget_changes_nothing_but_memory():
    """Stored moments and average, moments only, or nothing: the same batches to the bit."""
    x = _windowed(n=40)
    enc = create_encoder("nice", n_chans=5, n_times=250, n_outputs=8)
    full = crop_cache(enc, x, torch.float32, budget=1 << 30)
    moments = full.stored_bytes() - full.average.numel() * 4
    caches = [full, crop_cache(enc, x, torch.float32, budget=moments),
              crop_cache(enc, x, torch.float32, budget=0)]
    assert [(c.sums is not None, c.average is not None) for c in caches] == [
        (True, True), (True, False), (False, False)]
    assert caches[2].stored_bytes() == 0 < caches[1].stored_bytes() < caches[0].stored_bytes()
    idx = torch.tensor([5, 0, 17, 33, 2, 39])
    ref = full.batch(idx)
    for cache in caches[1:]:
        b = cache.batch(idx)
        for name in ("average", "mean", "cov"):
            assert torch.equal(getattr(b, name), getattr(ref, name)), name


def test_no_crop_without_zero_margins():
    enc = create_encoder("nice", n_chans=5, n_times=250, n_outputs=8)
    assert crop_cache(enc, torch.randn(8, 5, 250), torch.float32) is None


def test_crop_of_a_pending_mask_equals_the_masked_copy():
    """``window=`` crops the unmasked EEG: the same cache as the masked copy's, without a copy."""
    g = torch.Generator().manual_seed(3)
    base = torch.randn(30, 5, 250, generator=g)
    base[:, :, 110] = 0  # a zero column inside the window changes nothing
    masked = torch.zeros_like(base)
    masked[:, :, 100:125] = base[:, :, 100:125]
    enc = create_encoder("nice", n_chans=5, n_times=250, n_outputs=8)
    for budget in (1 << 30, 0):
        ref = crop_cache(enc, masked, torch.float32, budget=budget)
        lazy = crop_cache(enc, base, torch.float32, budget=budget, window=(100, 125))
        assert (lazy.first_step, lazy.n_active) == (ref.first_step, ref.n_active)
        assert torch.equal(lazy.kept, ref.kept)
        assert lazy.kept.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()
        assert ref.kept.untyped_storage().data_ptr() != masked.untyped_storage().data_ptr()
        for name in ("average", "sums", "products"):
            a, b = getattr(lazy, name), getattr(ref, name)
            assert (a is None and b is None) or torch.equal(a, b), name
        idx = torch.tensor([4, 0, 29, 7])
        for name in ("average", "mean", "cov"):
            assert torch.equal(getattr(lazy.batch(idx), name), getattr(ref.batch(idx), name))
    # the window's own zero margins count as in support()
    edge = base.clone()
    edge[:, :, 100:103] = 0
    assert support(edge, (100, 125)) == (103, 125)
    assert support(torch.zeros(3, 5, 250), (10, 40)) == (0, 0)
