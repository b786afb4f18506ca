"""Built-in mlp / EEGNet against their papers, user encoders (register_encoder, entry points)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from eegvision import models  # noqa: E402
from eegvision.models import create_encoder, list_encoders, register_encoder  # noqa: E402


def test_mlp_is_flatten_and_project():
    enc = create_encoder("mlp", n_chans=17, n_times=250, n_outputs=1024)
    assert enc.linear.in_features == 17 * 250 and enc.linear.out_features == 1024
    assert isinstance(enc.norm, torch.nn.LayerNorm)
    assert enc.residual.block[2].p == 0.3
    x = torch.randn(4, 17, 250)
    enc.eval()
    # a channel x sample permutation changes the output: every input is weighted freely
    assert not torch.allclose(enc(x), enc(x.flip(-1)))


def test_eegnet_follows_the_paper():
    enc = create_encoder("eegnet", n_chans=22, n_times=256, n_outputs=4, sfreq=128.0)
    assert enc.temporal_conv.kernel_size == (1, 64) and enc.temporal_conv.out_channels == 8
    assert enc.temporal_conv.bias is None
    assert enc.spatial_conv.groups == 8 and enc.spatial_conv.out_channels == 16
    assert enc.spatial_conv.kernel_size == (22, 1)
    depthwise, pointwise = enc.separable[1], enc.separable[2]
    assert depthwise.kernel_size == (1, 16) and depthwise.groups == 16
    assert pointwise.kernel_size == (1, 1) and pointwise.out_channels == 16
    # 256 samples / 4 / 8 = 8 steps x F2 = 16: the paper's dense input for 2-s trials
    assert enc.head.in_features == 16 * 8
    with torch.no_grad():
        enc.spatial_conv.weight.mul_(100)
        enc.head.weight.mul_(100)
    enc(torch.randn(2, 22, 256))
    assert enc.spatial_conv.weight.flatten(1).norm(dim=1).max() <= 1 + 1e-5
    assert enc.head.weight.norm(dim=1).max() <= 0.25 + 1e-6


class _TinyNet(torch.nn.Module):
    def __init__(self, n_chans, n_times, n_outputs, sfreq=None, width=8):
        super().__init__()
        self.spatial_conv = torch.nn.Conv2d(1, width, (n_chans, 1))
        self.out = torch.nn.Linear(width * n_times, n_outputs)

    def forward(self, x):
        return self.out(torch.relu(self.spatial_conv(x.unsqueeze(1))).flatten(1))


def test_register_encoder(monkeypatch):
    monkeypatch.setattr(models, "_USER", {})
    register_encoder("tiny-net", _TinyNet)
    assert "tiny-net" in list_encoders()
    enc = create_encoder("tiny-net", n_chans=5, n_times=30, n_outputs=6, width=3)
    assert enc(torch.randn(2, 5, 30)).shape == (2, 6)
    with pytest.raises(ValueError, match="taken by a built-in"):
        register_encoder("nice", _TinyNet)
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("tiny-net", lambda *a, **k: None)
    with pytest.raises(TypeError, match="must be callable"):
        register_encoder("other", 3)


def test_entry_point_plugins(monkeypatch):
    from importlib import metadata

    class EP:
        name, value = "plug-net", "somewhere:_TinyNet"

        def load(self):
            return _TinyNet

    class Broken(EP):
        name = "broken-net"

        def load(self):
            raise ImportError("missing dependency")

    monkeypatch.setattr(models, "_USER", {})
    monkeypatch.setattr(models, "_PLUGINS_LOADED", [])
    monkeypatch.setattr(metadata, "entry_points",
                        lambda group: [EP(), Broken()] if group == "eegvision.encoders" else [])
    assert "plug-net" in list_encoders() and "broken-net" not in list_encoders()
    assert create_encoder("plug-net", n_chans=3, n_times=10, n_outputs=4)(
        torch.randn(2, 3, 10)).shape == (2, 4)


def test_user_encoder_runs_train_and_temporal_analysis(tiny_root, monkeypatch, tmp_path):
    """Notebook-style: register your own torch module, then the whole API uses it."""
    from eegvision.data.things import load_subject
    from eegvision.pipeline import analyze
    from eegvision.training import TrainConfig, fit

    monkeypatch.setattr(models, "_USER", {})
    register_encoder("my-net", _TinyNet)
    data = load_subject(tiny_root, 1)
    result = fit(data.train, TrainConfig(model="my-net", epochs=2, val_conditions=0.2,
                                         batch_size=16), progress=False)
    assert isinstance(result.model.encoder, _TinyNet)
    df = analyze("temporal", 1, data_dir=tiny_root, out=tmp_path / "t", model="my-net",
                 epochs=2, windows="0-300,300-600", plot=False, progress=False)
    assert list(df["condition"]) == ["full", "0-300ms", "300-600ms"]
    assert set(df["model"]) == {"my-net"} and df["top1"].between(0, 1).all()
