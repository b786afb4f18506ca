"""Occlusion plumbing (generic path = ridge shortcut) and the cluster test on known maps."""

from __future__ import annotations

import numpy as np
import pytest

from eegvision.data.montage import THINGS_EEG2_CHANNELS


def _ridge_and_test(n_chans=12, n_times=40, n=60, d=8):
    from eegvision.data.container import EEGImageData
    from eegvision.models.ridge import RidgeDecoder

    rng = np.random.default_rng(3)
    feats = rng.standard_normal((n, d))
    eeg = rng.standard_normal((n, n_chans, n_times))
    eeg[:, 2, 10:20] += feats[:, :1] * 2  # information: channel 2, samples 10-20
    names = list(THINGS_EEG2_CHANNELS[:n_chans])
    data = EEGImageData(eeg, feats, [f"c{i}" for i in range(n)], names, np.arange(n_times) / 40.0)
    return RidgeDecoder().fit(eeg, feats), data


def _opaque(ridge):
    """A user's torch model: encode_eeg / encode_image only, a class eegvision does not know."""
    import torch

    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.coef = torch.nn.Parameter(torch.tensor(ridge.coef_, dtype=torch.float32))
            self.register_buffer("mean", torch.tensor(ridge.mean_, dtype=torch.float32))
            self.register_buffer("std", torch.tensor(ridge.std_, dtype=torch.float32))
            self.register_buffer("bias", torch.tensor(ridge.intercept_, dtype=torch.float32))

        def encode_eeg(self, eeg):
            x = (torch.as_tensor(eeg, dtype=torch.float32).flatten(1) - self.mean) / self.std
            return x @ self.coef.T + self.bias

        def encode_image(self, features):
            return torch.as_tensor(features, dtype=torch.float32)

    return Linear()


def test_occlusion_generic_path_matches_the_ridge_shortcut():
    from eegvision.analysis._occlusion import occlusion_maps

    ridge, data = _ridge_and_test()
    edges = np.array([0.0, 250.0, 500.0, 750.0, 1000.0])
    fast = occlusion_maps(ridge, data, edges)
    slow = occlusion_maps(_opaque(ridge), data, edges)
    for key in ("map", "occlusion_time", "occlusion_channel"):
        np.testing.assert_allclose(fast[key], slow[key], rtol=1e-4, atol=1e-6)
    assert np.unravel_index(np.argmax(fast["map"]), fast["map"].shape) == (1, 2)
    assert fast["per_trial"].shape == (60, 4, 12)


def test_compute_saliency_occlusion_works_for_any_model():
    from eegvision.analysis.saliency import compute_saliency

    ridge, data = _ridge_and_test()
    maps = compute_saliency(_opaque(ridge), data, method="occlusion", bin_ms=250.0)
    assert maps["method"] == "occlusion" and maps["cam"].shape == (4, 12)
    with pytest.raises(ValueError, match="torch model"):
        compute_saliency(ridge, data, method="gradient")
    with pytest.raises(ValueError, match="ridge"):
        compute_saliency(_opaque(ridge), data, method="haufe")


def test_cluster_test_finds_a_planted_patch_and_not_noise():
    from eegvision.analysis._saliency_stats import channel_adjacency, cluster_test

    names = list(THINGS_EEG2_CHANNELS)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((40, 6, 63))
    assert np.nanmin(cluster_test(noise, names, n_permutations=200, seed=1)) > 0.05
    patch = [names.index(c) for c in ("O1", "Oz", "O2", "POz")]
    signal = noise.copy()
    signal[:, 3][:, patch] += 1.0
    p = cluster_test(signal, names, n_permutations=200, seed=1)
    assert (p[3, patch] < 0.05).all() and (p[:3] > 0.05).all()
    adj = channel_adjacency(names)
    assert adj.shape == (63, 63)
    assert np.isnan(cluster_test(noise[:2], names)).all()  # too few observations
