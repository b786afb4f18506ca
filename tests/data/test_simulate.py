"""The ground-truth simulator: layout, determinism, recorded truth, and information where planted."""

from __future__ import annotations

import argparse
import json
import pickle

import numpy as np
import pytest

from eegvision._commands import data as cmd
from eegvision._utils import DataError
from eegvision.data import simulate as sim
from eegvision.data.montage import OFFICIAL_17_CHANNELS, THINGS_EEG2_CHANNELS, region_channels

TINY = dict(n_train=30, n_test=10, n_train_reps=2, n_test_reps=3)


def _load(path):
    with open(path, "rb") as fh:
        return pickle.load(fh)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim") / "root"
    return sim.simulate_root(root, 2, seed=3, layouts=("nice", "official"), features_dir=False,
                             **TINY)


def test_250hz_layout_and_nice_times_quirk(tiny_root):
    for sub in (1, 2):
        for split, n, reps in (("training", 30, 2), ("test", 10, 3)):
            d = _load(tiny_root / "Preprocessed_data_250Hz" / f"sub-{sub:02d}"
                      / f"preprocessed_eeg_{split}.npy")
            assert set(d) == {"preprocessed_eeg_data", "ch_names", "times"}
            assert d["preprocessed_eeg_data"].shape == (n, reps, 63, 250)
            assert d["preprocessed_eeg_data"].dtype == np.float32
            assert np.isfinite(d["preprocessed_eeg_data"]).all()
            assert d["ch_names"] == THINGS_EEG2_CHANNELS
            # the quirk: 300 uncropped times from -0.2 s, data hold the last 250 (0..1 s)
            assert len(d["times"]) == 300
            assert d["times"][0] == pytest.approx(-0.2)
            assert d["times"][50] == pytest.approx(0.0, abs=1e-9)
            assert d["times"][-1] == pytest.approx(0.996)


def test_official_layout(tiny_root):
    box = np.load(tiny_root / "eeg_dataset" / "preprocessed_data" / "sub-01" /
                  "preprocessed_eeg_test.npy", allow_pickle=True)
    assert box.shape == ()
    d = box.item()
    assert d["preprocessed_eeg_data"].shape == (10, 3, 17, 100)
    assert d["ch_names"] == OFFICIAL_17_CHANNELS
    assert len(d["times"]) == 100
    assert d["times"][0] == pytest.approx(-0.2) and d["times"][-1] == pytest.approx(0.79)


def test_features_and_metadata(tiny_root):
    feat = tiny_root / "dnn_feature"
    train = np.load(feat / "clip_feature_maps_training.npy")
    test = np.load(feat / "clip_feature_maps_test.npy")
    centre = np.load(feat / "center_clip.npy")
    assert train.shape == (30, 1, 768) and test.shape == (10, 1, 768)
    assert centre.shape == (10, 1, 768) and train.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(test[:, 0], axis=1), 1, rtol=1e-5)
    # a test image is closer to its own concept centre than to the others
    sim_mat = test[:, 0] @ centre[:, 0].T
    assert (sim_mat.argmax(1) == np.arange(10)).mean() > 0.8
    meta = np.load(tiny_root / "image_set" / "image_metadata.npy", allow_pickle=True).item()
    for key in ("train_img_concepts", "train_img_files", "train_img_concepts_THINGS",
                "train_img_categories"):
        assert len(meta[key]) == 30, key
    for key in ("test_img_concepts", "test_img_files", "test_img_concepts_THINGS",
                "test_img_categories"):
        assert len(meta[key]) == 10, key
    assert meta["test_img_concepts"][0].startswith("00001_")
    assert meta["train_img_files"][0].endswith("_01b.jpg")


def test_truth_json(tiny_root):
    truth = json.loads((tiny_root / "simulation_truth.json").read_text())
    assert truth["simulator_version"] == sim.SIMULATOR_VERSION
    assert truth["region"] == sim.DEFAULT_REGION and truth["seed"] == 3
    assert truth["window_ms"] == list(sim.DEFAULT_WINDOW_MS)
    assert truth["band_hz"] == list(sim.DEFAULT_BAND_HZ)
    assert truth["channels"] == region_channels(THINGS_EEG2_CHANNELS, sim.DEFAULT_REGION)
    assert truth["dims"]["n_train"] == 30 and truth["dims"]["n_test_reps"] == 3
    assert set(truth["latency_jitter_ms"]) == {"sub-01", "sub-02"}
    assert set(truth["info_sources_region"]) == {sim.DEFAULT_REGION}
    assert truth["features"] == "synthetic"


def test_same_seed_same_bytes_other_seed_differs(tmp_path, tiny_root):
    again = sim.simulate_root(tmp_path / "a", 2, seed=3, layouts=("nice", "official"),
                              features_dir=False, **TINY)
    other = sim.simulate_root(tmp_path / "b", 1, seed=4, features_dir=False, **TINY)
    rel = "Preprocessed_data_250Hz/sub-02/preprocessed_eeg_training.npy"
    for name in (rel, "eeg_dataset/preprocessed_data/sub-01/preprocessed_eeg_test.npy",
                 "dnn_feature/clip_feature_maps_training.npy"):
        assert (again / name).read_bytes() == (tiny_root / name).read_bytes(), name
    a = _load(tiny_root / rel)["preprocessed_eeg_data"]
    b = _load(other / rel.replace("sub-02", "sub-01"))["preprocessed_eeg_data"]
    assert not np.allclose(a, b)
    # subjects of one root differ too
    a1 = _load(tiny_root / rel.replace("sub-02", "sub-01"))["preprocessed_eeg_data"]
    assert not np.allclose(a, a1)


def test_real_names_and_features_from_shared_folder(tmp_path, shared_data):
    root = sim.simulate_root(tmp_path / "r", 1, seed=0, **TINY)
    meta = np.load(root / "image_set" / "image_metadata.npy", allow_pickle=True).item()
    assert meta["test_img_concepts"][0] == "00001_aircraft_carrier"
    assert meta["train_img_concepts"][0] == "00001_aardvark"
    assert meta["test_img_categories"][1] == "animal"  # antelope
    real = np.load(shared_data / "clip_feature_maps_test.npy")
    test = np.load(root / "dnn_feature" / "clip_feature_maps_test.npy")
    np.testing.assert_array_equal(test, real[:10])
    truth = json.loads((root / "simulation_truth.json").read_text())
    assert truth["features"] == "real" and truth["concept_names"] == "things_eeg2_concepts.tsv"


def _shape_of(stats, n=400, seed=1):
    """Mean-vector norm and top-32 variance share of ``n`` unit-norm draws from ``stats``."""
    rng = np.random.default_rng(seed)
    x = sim._unit(stats["mu"] + sim._draw(stats, n, rng))
    lam = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
    return np.linalg.norm(x.mean(0)), lam[:32].sum() / lam.sum()


def test_synthetic_features_are_shaped_like_real_clip(shared_data):
    """The fallback without real features must not be an easier (lower-dimensional) world."""
    real = np.load(shared_data / "clip_feature_maps_test.npy").reshape(200, -1)
    real_norm, real_share = _shape_of(sim._feature_stats(real))
    syn_norm, syn_share = _shape_of(sim._synthetic_stats(real.shape[1]))
    assert abs(syn_norm - real_norm) < 0.03, (syn_norm, real_norm)
    assert abs(syn_share - real_share) < 0.05, (syn_share, real_share)


def _pairwise_id(x_train, y_train, x_test, y_test, alpha=1e3):
    """Pairwise identification accuracy of a ridge decoder (chance 0.5)."""
    from sklearn.linear_model import Ridge

    mu, sd = x_train.mean(0), x_train.std(0) + 1e-9
    pred = Ridge(alpha=alpha).fit((x_train - mu) / sd, y_train).predict((x_test - mu) / sd)
    z = lambda a: (a - a.mean(1, keepdims=True)) / a.std(1, keepdims=True)  # noqa: E731
    corr = z(pred) @ z(y_test).T / y_test.shape[1]
    return float((np.diag(corr)[:, None] > corr).sum() / (len(corr) * (len(corr) - 1)))


@pytest.fixture(scope="module")
def planted_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted") / "root"
    return sim.simulate_root(root, 1, seed=1, region="frontal", window_ms=(500, 800),
                             band_hz=(4, 12), snr=0.5, n_train=400, n_test=60, n_train_reps=1,
                             n_test_reps=4, features_dir=False)


def _avg(root, split):
    d = _load(root / "Preprocessed_data_250Hz" / "sub-01" / f"preprocessed_eeg_{split}.npy")
    return d["preprocessed_eeg_data"].mean(1), d["times"][-250:]


def _decode(root, region=None, tmin=0.0, tmax=1.0, band=None):
    x_tr, times = _avg(root, "training")
    x_te, _ = _avg(root, "test")
    y_tr = np.load(root / "dnn_feature" / "clip_feature_maps_training.npy")[:, 0]
    y_te = np.load(root / "dnn_feature" / "clip_feature_maps_test.npy")[:, 0]
    ch = [THINGS_EEG2_CHANNELS.index(c) for c in
          (region_channels(THINGS_EEG2_CHANNELS, region) if region else THINGS_EEG2_CHANNELS)]
    t = (times >= tmin) & (times < tmax)
    if band is not None:
        from scipy.signal import butter, sosfiltfilt

        sos = butter(4, band, btype="bandpass", fs=250.0, output="sos")
        x_tr, x_te = sosfiltfilt(sos, x_tr, axis=-1), sosfiltfilt(sos, x_te, axis=-1)
    flat = lambda x: x[:, ch][:, :, t].reshape(len(x), -1)  # noqa: E731
    return _pairwise_id(flat(x_tr), y_tr, flat(x_te), y_te)


def test_information_lives_in_planted_window(planted_root):
    inside, outside = _decode(planted_root, tmin=0.5, tmax=0.8), _decode(planted_root, tmax=0.3)
    assert inside > 0.75
    assert outside < 0.6 < inside


def test_information_lives_in_planted_region(planted_root):
    frontal = _decode(planted_root, "frontal", 0.5, 0.8)
    occipital = _decode(planted_root, "occipital", 0.5, 0.8)
    assert frontal > occipital + 0.1


def test_information_lives_in_planted_band(planted_root):
    inside = _decode(planted_root, tmin=0.5, tmax=0.8, band=(4, 12))
    outside = _decode(planted_root, tmin=0.5, tmax=0.8, band=(25, 45))
    assert inside > outside + 0.15


def test_streamed_pickle_matches_plain_pickle(tmp_path):
    arr = np.random.default_rng(0).standard_normal((5, 2, 3, 4))
    for style in ("pickle", "npy"):
        path = tmp_path / f"{style}.npy"
        with sim._stream_epochs(path, arr.shape, "float64", ["a", "b", "c"], np.arange(4.0),
                                style) as write:
            write(arr[:2])
            write(arr[2:])
        d = np.load(path, allow_pickle=True).item() if style == "npy" else _load(path)
        np.testing.assert_array_equal(d["preprocessed_eeg_data"], arr)
    with pytest.raises(RuntimeError, match="wrote 2 of 5"):
        with sim._stream_epochs(tmp_path / "short.npy", arr.shape, "float64", [], [],
                                "pickle") as write:
            write(arr[:2])
    assert not (tmp_path / "short.npy").exists()


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="Did you mean 'occipital'"):
        sim.simulate_root(tmp_path, region="ocipital", **TINY)
    with pytest.raises(ValueError, match="window_ms"):
        sim.simulate_root(tmp_path, window_ms=(300, 100), **TINY)
    with pytest.raises(ValueError, match="layouts"):
        sim.simulate_root(tmp_path, layouts=("1000hz",), **TINY)
    with pytest.raises(ValueError, match="two numbers"):
        cmd._parse_range("abc", "--band")


def test_builtin_root_generated_once(tmp_path):
    path = tmp_path / "builtin"
    sim.ensure_builtin_root(path, subjects=1, features_dir=False, **TINY)
    stamp = (path / "simulation_truth.json").stat().st_mtime_ns
    assert sim.ensure_builtin_root(path) == path
    assert (path / "simulation_truth.json").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["builtin"]  # no temp folder left


def test_a_subject_does_not_depend_on_the_others_simulated(tmp_path):
    """The built-in root starts with the first subject asked for and adds others later:
    sub-03 is the same alone as beside sub-01."""
    sim.simulate_root(tmp_path / "alone", [3], features_dir=False, **TINY)
    sim.simulate_root(tmp_path / "both", [1, 3], features_dir=False, **TINY)
    files = sorted(p.relative_to(tmp_path / "alone")
                   for p in (tmp_path / "alone").rglob("*") if p.is_file())
    assert any("sub-03" in str(f) for f in files)
    for f in files:
        if f.name != "simulation_truth.json":
            assert (tmp_path / "alone" / f).read_bytes() == (tmp_path / "both" / f).read_bytes(), f


def test_simulate_cli_prints_truth(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sim.SIZES, "default", dict(TINY, dtype="float32"))
    args = argparse.Namespace(directory=str(tmp_path / "cli"), subjects=1, seed=0, full=False,
                              layouts="250hz,official", raw=False, region="parietal",
                              window="150-350", band="8-13", features=None)
    cmd.simulate_cli(args)
    out = capsys.readouterr().out
    assert "parietal" in out and "150-350 ms" in out and "8-13 Hz" in out
    truth = json.loads((tmp_path / "cli" / "simulation_truth.json").read_text())
    # the earlier names 250hz / official still work; the truth records the readers' names
    assert truth["window_ms"] == [150.0, 350.0] and truth["layouts"] == ["nice", "official"]
    assert (tmp_path / "cli" / "eeg_dataset" / "preprocessed_data" / "sub-01").is_dir()
    assert not (tmp_path / "cli" / "Preprocessed_data").exists()


def test_simulate_never_replaces_a_file_without_overwrite(tmp_path, capsys):
    """A second simulation into the same folder is refused in one line, before writing anything."""
    from eegvision.cli import main

    root = tmp_path / "sim"
    args = ["simulate", str(root), "--layouts", "eeg_dataset"]
    sim.simulate_root(root, 1, seed=0, layouts=("eeg_dataset", "official"), features_dir=False,
                      **TINY)  # an old name and its new one: written once
    assert sorted(p.name for p in (root / "eeg_dataset" / "preprocessed_data").iterdir()) == \
        ["sub-01"]
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(DataError, match="already exists") as err:
        sim.simulate_root(root, 1, seed=1, layouts=("official",), features_dir=False, **TINY)
    assert "overwrite" in str(err.value)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    capsys.readouterr()  # the first simulation's progress line (INFO, on stderr)
    assert main(args) == 2
    msg = capsys.readouterr().err
    assert msg.count("\n") == 1 and "already exists" in msg and "--overwrite" in msg
    again = sim.simulate_root(root, 1, seed=1, layouts=("official",), features_dir=False,
                              overwrite=True, **TINY)
    rel = "eeg_dataset/preprocessed_data/sub-01/preprocessed_eeg_test.npy"
    assert (again / rel).read_bytes() != before[root / rel]


def test_raw_sessions_are_built_like_things_eeg2(tmp_path):
    """Four sessions: each training image in two of them twice, each test image 20x in each."""
    from eegvision.data.raw import TARGET_CODE

    root = sim.simulate_root(tmp_path / "raw", 1, seed=0, raw=True, features_dir=False,
                             n_train=6, n_test=3, n_train_reps=2, n_test_reps=8)
    seen = {"training": np.zeros((4, 6), int), "test": np.zeros((4, 3), int)}
    for ses in range(1, 5):
        for split, counts in seen.items():
            d = np.load(root / "Raw_data" / "sub-01" / f"ses-{ses:02d}" / f"raw_eeg_{split}.npy",
                        allow_pickle=True).item()
            assert d["sfreq"] == 1000.0 and d["ch_names"][-1] == "stim"
            assert d["raw_eeg_data"].dtype == np.float32  # the default size's dtype
            stim = d["raw_eeg_data"][-1]
            codes = stim[stim > 0].astype(int)
            n_targets = int((codes == TARGET_CODE).sum())
            assert n_targets == max(1, round(sim.RAW_TARGET_SHARE * (len(codes) - n_targets)))
            counts[ses - 1] = np.bincount(codes[codes != TARGET_CODE] - 1, minlength=counts.shape[1])
    assert (seen["test"] == 20).all()
    train = seen["training"]
    assert set(train.ravel().tolist()) == {0, 2} and ((train > 0).sum(0) == 2).all()
    # one half of the conditions in sessions 1-2, the other in 3-4
    assert (train[0] == train[1]).all() and (train[2] == train[3]).all()
    assert ((train[0] > 0) != (train[2] > 0)).all()
    truth = json.loads((root / "simulation_truth.json").read_text())
    assert truth["raw_design"]["reps_per_session"] == {"training": 2, "test": 20}
    assert len(truth["raw"]) == 8
