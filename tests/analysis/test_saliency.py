"""Saliency: binning, Grad-CAM plumbing, ground truth on simulated data, outputs."""

from __future__ import annotations

import numpy as np
import pytest

from eegvision.analysis import saliency
from eegvision.data.montage import THINGS_EEG2_CHANNELS, make_info

PLANTED_REGION, PLANTED_MS = "occipital", (100.0, 300.0)


@pytest.fixture(scope="module")
def planted_root(tmp_path_factory):
    """One subject, information only over occipital cortex in 100-300 ms (high SNR)."""
    from eegvision.data.simulate import simulate_root

    root = tmp_path_factory.mktemp("saliency-root")
    return simulate_root(root, 1, seed=0, n_train=300, n_test=40, n_train_reps=2, n_test_reps=4,
                         region=PLANTED_REGION, window_ms=PLANTED_MS, snr=1.0)


def _times(n=250, sfreq=250.0):
    return np.arange(n) / sfreq


# ------------------------------------------------------------------ binning
def test_time_bins_and_average():
    times = _times()
    edges = saliency.time_bins(times, 250.0, 100.0, 0.0)
    np.testing.assert_allclose(edges, np.arange(0, 1001, 100))
    ramp = np.tile(np.arange(250.0), (3, 1))  # (3 channels, 250 samples)
    binned = saliency.bin_average(ramp, times, edges)
    assert binned.shape == (10, 3)
    np.testing.assert_allclose(binned[:, 0], np.arange(10) * 25 + 12)  # 25 samples per bin
    with pytest.raises(ValueError, match="No 2000-ms bin"):
        saliency.time_bins(times, 250.0, 2000.0, 0.0)


def test_zscore_bins_per_bin():
    maps = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    z = saliency.zscore_bins(maps)
    np.testing.assert_allclose(z[0], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_allclose(z[1], 0.0)


def test_conditions_is_one_full_condition():
    from eegvision.data.container import EEGImageData

    ref = EEGImageData(np.zeros((2, 3, 250)), np.zeros((2, 4)), ["a", "b"],
                       ["O1", "Oz", "O2"], _times())
    conds = saliency.conditions({"bin_ms": 50}, ref)
    assert [c[0] for c in conds] == ["full"] and conds[0][1]["bin_ms"] == 50.0
    with pytest.raises(ValueError, match="positive"):
        saliency.conditions({"bin_ms": 0}, ref)


def test_saliency_evoked_layout():
    names = THINGS_EEG2_CHANNELS[:5]
    maps = {"cam": np.arange(50.0).reshape(10, 5), "bin_edges_ms": np.arange(0, 1001, 100.0)}
    evoked = saliency.saliency_evoked(maps, make_info(names, 250.0), kind="cam")
    assert evoked.data.shape == (5, 10)
    assert evoked.info["sfreq"] == pytest.approx(10.0)
    assert evoked.times[0] == pytest.approx(0.05) and evoked.comment == "cam"
    np.testing.assert_allclose(evoked.data, maps["cam"].T)
    with pytest.raises(ValueError, match="does not match"):
        saliency.saliency_evoked(maps["cam"][:, :4], make_info(names, 250.0),
                                 bin_edges_ms=maps["bin_edges_ms"])


# ------------------------------------------------------------------ Grad-CAM
def _tiny_model(n_chans, n_times):
    """TSConv-like encoder without biases, so silent input gives zero activations."""
    import torch
    from torch import nn

    from eegvision.models.projector import ContrastiveModel, ImageProjector

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.temporal = nn.Conv2d(1, 4, (1, 5), bias=False)
            self.pool = nn.AvgPool2d((1, 11), (1, 3))
            self.spatial_conv = nn.Conv2d(4, 4, (n_chans, 1), bias=False)
            n_flat = 4 * ((n_times - 5 - 11 + 1) // 3 + 1)
            self.head = nn.Linear(n_flat, 6, bias=False)

        def forward(self, x):
            h = torch.relu(self.pool(self.temporal(x.unsqueeze(1))))
            return self.head(self.spatial_conv(h).flatten(1))

    torch.manual_seed(0)
    return ContrastiveModel(Tiny(), ImageProjector(6, identity=True))


def test_receptive_centres_match_the_architecture():
    model = _tiny_model(4, 80)
    centres = saliency.receptive_centres(model.encoder, 4, 80)
    # conv 5 then pool 11 stride 3: position j sees samples 3j .. 3j + 14
    np.testing.assert_allclose(centres, 3 * np.arange(len(centres)) + 7)


def test_grad_cam_is_zero_where_the_input_is_silent():
    n_chans, n_times = 4, 80
    model = _tiny_model(n_chans, n_times)
    rng = np.random.default_rng(0)
    eeg = np.zeros((8, n_chans, n_times), np.float32)
    eeg[:, 2, 40:50] = rng.standard_normal((8, 10))
    eeg[:, 2, 40:50] += 3.0
    feats = model.encode_eeg(__import__("torch").as_tensor(eeg)).detach().numpy()  # cos = 1
    cam, attn = saliency.grad_cam(model, eeg, feats, batch_size=3)
    assert cam.shape == eeg.shape and attn is None
    assert np.abs(cam[:, [0, 1, 3]]).max() == 0  # no activation, no CAM
    mean = np.abs(cam[:, 2]).mean(0)
    assert mean.max() > 0
    assert 30 <= np.argmax(mean) <= 60  # the CAM sits where the signal was
    # each position's value is divided among the samples it saw: the total is kept
    fields = saliency.receptive_fields(model.encoder, n_chans, n_times)
    np.testing.assert_allclose(fields.sum(1), 1.0)
    assert (fields > 0).sum(1).tolist() == [15] * len(fields)  # conv 5 + pool 11 - 1


def test_attention_maps_for_nice_sa():
    pytest.importorskip("eegvision.models.nice")
    from eegvision.models.nice import NICE
    from eegvision.models.projector import ContrastiveModel, ImageProjector

    names = THINGS_EEG2_CHANNELS[:8]
    from eegvision.data.container import EEGImageData

    rng = np.random.default_rng(0)
    test = EEGImageData(rng.standard_normal((6, 8, 100)), rng.standard_normal((6, 16)),
                        [f"c{i}" for i in range(6)], names, _times(100))
    model = ContrastiveModel(NICE(8, 100, 16, spatial="sa"), ImageProjector(16))
    for method in ("gradient", "gradcam", "attention"):  # 'auto' is 'gradient' for torch models
        maps = saliency.compute_saliency(model, test, bin_ms=100.0,
                                         method="auto" if method == "gradient" else method)
        assert maps["method"] == method
        assert maps["cam"].shape == (4, 8) and maps["eeg_x_cam"].shape == (4, 8)
        # attention keeps only positive edges: not tested against zero, so no per-trial maps
        assert (maps["per_trial"] is None) == (method == "attention")
        if method != "attention":
            assert maps["per_trial"].shape == (6, 4, 8)
        assert maps["attention_received"].shape == (8,)
        # softmax rows: the column means sum to 1
        assert maps["attention_received"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("spatial", ["sa", "ga"])
def test_attention_map_sums_to_chefers_positive_attention_times_gradient(spatial):
    """Summed over time, each trial's map is sum_i (A_ij dMargin/dA_ij)^+ (Chefer et al. 2021)."""
    import torch

    from eegvision.models.nice import NICE
    from eegvision.models.projector import ContrastiveModel, ImageProjector

    torch.manual_seed(0)
    n_chans, n_times, n = 6, 100, 10
    model = ContrastiveModel(NICE(n_chans, n_times, 16, spatial=spatial), ImageProjector(16))
    rng = np.random.default_rng(0)
    half = rng.standard_normal((n // 2, n_chans, n_times)).astype(np.float32)
    eeg = np.concatenate([half, -half])  # the trial mean is zero: the centred input is x
    feats = rng.standard_normal((n, 16)).astype(np.float32)
    maps, received = saliency.attention_x_gradient(model, eeg, feats, batch_size=4)
    assert maps.shape == eeg.shape and received.shape == (n, n_chans)

    # independently: dMargin/dA through a live copy of A put into the layer's output
    model.eval()
    layer, live = saliency.find_attention(model.encoder), {}

    def hook(module, args, output):
        live["A"] = module.attention_weights.clone().requires_grad_(True)
        return args[0] + live["A"] @ module.value(args[0])

    handle = layer.register_forward_hook(hook)
    try:
        emb = model.encode_eeg(torch.from_numpy(eeg))
    finally:
        handle.remove()
    margin = saliency.retrieval_margin(emb, saliency._image_embeddings(model, feats),
                                       torch.arange(n))
    (grad_a,) = torch.autograd.grad(margin.sum(), live["A"])
    edges = (live["A"] * grad_a).detach().double().numpy()
    expected = np.clip(edges, 0, None).sum(1)  # (n, n_chans): over the channels that attend
    assert (edges < 0).any() and (edges > 0).any()  # the positive part does select
    np.testing.assert_allclose(maps.sum(-1), expected, rtol=1e-3, atol=1e-6 * expected.max())
    np.testing.assert_allclose(received, live["A"].detach().double().numpy().mean(1), rtol=1e-5)


def test_attention_table_and_figure_keep_the_raw_attention_apart():
    from eegvision.viz.topomap import plot_saliency

    names = THINGS_EEG2_CHANNELS[:8]
    rng = np.random.default_rng(0)
    arrays = {k: rng.random((4, 8)) for k in ("eeg", "cam", "eeg_x_cam")}
    arrays.update(attention_received=np.full(8, 1 / 8), bin_edges_ms=np.arange(0, 401, 100.0))
    table = saliency.saliency_table(arrays, names, subject=1, seed=0, method="attention")
    raw = table[table["map"] == "attention_received"]
    assert len(raw) == 8 and (raw["bin_start_ms"] == 0).all() and (raw["bin_stop_ms"] == 400).all()
    assert table["p_cluster"].isna().all()  # attention is not tested against zero
    fig = plot_saliency(table=table)
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "attention \u00d7\ngradient" in labels and "raw attention\nreceived" in labels
    assert fig._suptitle.get_text().startswith("gradient-weighted attention")


def test_attention_method_needs_channel_attention():
    from eegvision._utils import EEGVisionError
    from eegvision.data.container import EEGImageData
    from eegvision.models.nice import NICE
    from eegvision.models.projector import ContrastiveModel, ImageProjector

    rng = np.random.default_rng(0)
    test = EEGImageData(rng.standard_normal((4, 8, 100)), rng.standard_normal((4, 16)),
                        [f"c{i}" for i in range(4)], THINGS_EEG2_CHANNELS[:8], _times(100))
    for spatial in (None, "sa-published"):  # no attention, or none that reaches the output
        model = ContrastiveModel(NICE(8, 100, 16, spatial=spatial), ImageProjector(16))
        with pytest.raises(EEGVisionError, match="needs an encoder with channel attention"):
            saliency.compute_saliency(model, test, method="attention")


# ------------------------------------------------------------------ ground truth + outputs
def test_ridge_pattern_finds_the_planted_region_and_writes_outputs(planted_root, tmp_path):
    import pandas as pd

    from eegvision.outputs import load_results
    from eegvision.pipeline import analyze

    out = tmp_path / "out"
    df = analyze("saliency", 1, data_dir=planted_root, out=out, model="ridge", progress=False)
    for name in ("results.csv", "saliency.csv", "saliency_regions.csv", "config.json",
                 "saliency.png", "saliency.pdf"):
        assert (out / name).is_file(), name
    assert df.loc[0, "method"] == "haufe" and df.loc[0, "top1"] > 2 / 40

    table = pd.read_csv(out / "saliency.csv")
    cam = table[table["map"] == "cam"]
    planted = cam["bin_start_ms"].between(PLANTED_MS[0], PLANTED_MS[1] - 1)
    by_region = cam[planted].groupby("region")["value"].mean()
    assert by_region.idxmax() == PLANTED_REGION, by_region
    assert (by_region.drop(PLANTED_REGION) < by_region[PLANTED_REGION]).all()
    # and the planted region is far more salient inside the window than outside it
    occ = cam[cam["region"] == PLANTED_REGION]
    inside = occ[planted[occ.index]]["value"].mean()
    assert inside > 2 * occ[~planted[occ.index]]["value"].mean()

    _, extras, _ = load_results(out)  # the figure can be rebuilt from the saved tables
    from eegvision.viz.topomap import plot_saliency

    fig = plot_saliency(df, extras)
    assert len([ax for ax in fig.axes if ax.get_visible()]) >= 3 * 10


def test_maps_come_out_as_mne_evokeds_equal_to_the_csv(tiny_root, tmp_path):
    import mne
    import pandas as pd

    from eegvision.data.things import load_subject
    from eegvision.outputs import load_results
    from eegvision.pipeline import analyze

    out = tmp_path / "out"
    analyze("saliency", 1, data_dir=tiny_root, out=out, model="ridge", seeds=(0, 1),
            plot=False, progress=False, noise_ceiling=False)
    table = pd.read_csv(out / "saliency.csv")
    info = load_subject(tiny_root, 1).test.info
    maps = sorted(table["map"].unique())
    assert sorted(p.name for p in out.glob("*-ave.fif")) == [f"saliency_{m}-ave.fif"
                                                            for m in maps]
    for kind in maps:
        evokeds = mne.read_evokeds(out / f"saliency_{kind}-ave.fif", verbose="error")
        assert [e.comment for e in evokeds] == [f"map={kind} method=haufe subject=1 seed={s}"
                                                for s in (0, 1)]
        for seed, evoked in zip((0, 1), evokeds, strict=True):
            rows = table[(table["map"] == kind) & (table["seed"] == seed)]
            wide = rows.pivot(index="channel", columns="bin_start_ms", values="value")
            assert evoked.ch_names == info["ch_names"]
            # the FIF file holds Evoked data as float32: equal to its precision
            np.testing.assert_allclose(evoked.data, wide.loc[evoked.ch_names].to_numpy(),
                                       rtol=2e-7, atol=0)
            centres = (rows.drop_duplicates("bin_start_ms")[["bin_start_ms", "bin_stop_ms"]]
                       .mean(axis=1).to_numpy() / 1000)
            np.testing.assert_allclose(evoked.times, centres, atol=1e-9)
            positions = np.array([ch["loc"][:3] for ch in evoked.info["chs"]])
            np.testing.assert_allclose(positions, [ch["loc"][:3] for ch in info["chs"]])
    _, extras, config = load_results(out)
    assert config["evokeds"] == [f"saliency_{m}-ave.fif" for m in maps]
    assert extras["saliency_cam"][1].comment == "map=cam method=haufe subject=1 seed=1"
