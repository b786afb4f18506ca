"""Raw THINGS-EEG2 preprocessing: events, epochs, MVNN, written files, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from eegvision._utils import DataError
from eegvision.data import raw as R
from eegvision.data import simulate as SIM
from eegvision.data._pickle import load_dict_file

CH = ["O1", "Oz", "O2", "PO3", "PO4", "Pz", "Cz", "Fz"]
SF = 1000.0


def _waves(n_cond, n_s=400, seed=0):
    """One planted (channels, samples) response per condition, zero after n_s."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_s) / SF
    pattern = rng.normal(size=(n_cond, len(CH), 1))
    freq = 3.0 + np.arange(n_cond)[:, None, None]
    return 5e-6 * pattern * np.sin(2 * np.pi * freq * t) * np.hanning(n_s)


def _session(conds, n_reps, seed, *, waves, isi=0.3, n_targets=2):
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.asarray(conds), n_reps)
    rng.shuffle(codes)
    x = waves[codes - 1]
    return SIM.simulate_raw_session(x, codes, CH, sfreq=SF, isi=isi, seed=seed,
                                  n_targets=n_targets, noise_std=1e-6), codes


def _make_root(root, n_sessions=2, n_test=6, n_train=8, test_reps=3, split_train=False, isi=0.3):
    waves = _waves(max(n_test, n_train))
    for s in range(1, n_sessions + 1):
        ses = root / "Raw_data" / "sub-01" / f"ses-{s:02d}"
        train_conds = np.arange(1, n_train + 1)
        if split_train:  # like THINGS-EEG2: each training image in some sessions only
            train_conds = train_conds[(train_conds - 1) % n_sessions == s - 1]
        d, _ = _session(train_conds, 2, 10 * s, waves=waves, isi=isi)
        SIM.write_raw_session(ses / "raw_eeg_training.npy", d)
        d, _ = _session(np.arange(1, n_test + 1), test_reps, 10 * s + 1, waves=waves, isi=isi)
        SIM.write_raw_session(ses / "raw_eeg_test.npy", d)
    return root


def _read(path, d):
    SIM.write_raw_session(path, d)
    return R.read_raw_session(path)


# ------------------------------------------------------------------ events
def test_events_recovered_exactly_and_targets_dropped(tmp_path):
    d, codes = _session(np.arange(1, 7), 3, 0, waves=_waves(6), n_targets=4)
    stim = d["raw_eeg_data"][-1]
    assert (stim == R.TARGET_CODE).sum() == 4
    raw = _read(tmp_path / "r.npy", d)
    assert raw.get_channel_types()[-1] == "stim" and raw.ch_names[:-1] == CH
    ev = R.find_trial_events(raw)
    assert len(ev) == len(codes) == 18
    np.testing.assert_array_equal(ev[:, 2], codes)  # order and codes exactly
    np.testing.assert_array_equal(ev[:, 0], np.flatnonzero((stim > 0) & (stim != R.TARGET_CODE)))


def test_adjacent_onsets_are_separate_events(tmp_path):
    d, _ = _session([1], 1, 0, waves=_waves(1), n_targets=0)
    stim = d["raw_eeg_data"][-1]
    stim[:] = 0
    stim[[500, 501, 502, 900]] = [3, 5, R.TARGET_CODE, 4]
    ev = R.find_trial_events(_read(tmp_path / "r.npy", d))
    np.testing.assert_array_equal(ev[:, 0], [500, 501, 900])
    np.testing.assert_array_equal(ev[:, 2], [3, 5, 4])


# ------------------------------------------------------------------ epochs
def test_epochs_recover_planted_waveforms(tmp_path):
    waves = _waves(6)
    d, _ = _session(np.arange(1, 7), 5, 3, waves=waves, isi=0.6)
    raw = _read(tmp_path / "r.npy", d)
    data, cond, names, times = R.epoch_session(raw, tmin=-0.1, tmax=0.5, sfreq=250.0)
    assert data.shape == (6, 5, 8, 150) and data.dtype == np.float32
    np.testing.assert_array_equal(cond, np.arange(1, 7))
    assert names == CH
    np.testing.assert_allclose(times[[0, -1]], [-0.1, 0.496])
    post = times >= 0
    idx = np.round(times[post] * SF).astype(int)
    corr = np.array([[np.corrcoef(data[i].mean(0)[:, post].ravel(),
                                  waves[j][:, np.minimum(idx, 399)].ravel())[0, 1]
                      for j in range(6)] for i in range(6)])
    assert np.diag(corr).min() > 0.9
    assert (corr.argmax(1) == np.arange(6)).all()  # each condition lands on its own wave


def test_baseline_zeroes_prestimulus_mean(tmp_path):
    d, _ = _session(np.arange(1, 4), 2, 4, waves=_waves(3), isi=0.5)
    d["raw_eeg_data"][:-1] += 2e-5  # a DC offset on every EEG channel
    raw = _read(tmp_path / "r.npy", d)
    data, _, _, times = R.epoch_session(raw, tmin=-0.1, tmax=0.3, sfreq=None)
    pre = data[..., times <= 0].mean(-1)
    assert np.abs(pre).max() < 1e-3 * 2e-5
    nobl, *_ = R.epoch_session(raw, tmin=-0.1, tmax=0.3, sfreq=None, baseline=None)
    assert np.abs(nobl[..., times <= 0].mean(-1)).min() > 0.5 * 2e-5  # offset kept without it


def test_too_few_repetitions_is_a_clear_error(tmp_path):
    d, _ = _session(np.arange(1, 4), 2, 5, waves=_waves(3))
    raw = _read(tmp_path / "r.npy", d)
    with pytest.raises(DataError, match="fewer than 3 repetitions"):
        R.epoch_session(raw, n_reps=3, source=tmp_path / "r.npy")
    data, *_ = R.epoch_session(raw, n_reps=1)
    assert data.shape[:2] == (3, 1)


def test_inconsistent_channel_names_rejected(tmp_path):
    d, _ = _session([1], 1, 0, waves=_waves(1))
    d["ch_names"] = d["ch_names"][1:]
    SIM.write_raw_session(tmp_path / "bad.npy", d)
    with pytest.raises(DataError, match="inconsistent channels"):
        R.read_raw_session(tmp_path / "bad.npy")
    d["ch_names"] = CH + ["stim"]
    d["ch_types"] = ["eeg"] * 9
    SIM.write_raw_session(tmp_path / "bad.npy", d)
    with pytest.raises(DataError, match="stim"):
        R.read_raw_session(tmp_path / "bad.npy")


# ------------------------------------------------------------------ MVNN
def _noisy(n_cond, n_reps, n_t, seed, scale=1.0):
    """Condition signals plus spatially correlated noise (r = 0.6, unequal variances)."""
    rng = np.random.default_rng(seed)
    sd = np.linspace(1, 2, len(CH)) * 1e-6 * scale
    cov = np.outer(sd, sd) * (0.6 + 0.4 * np.eye(len(CH)))
    noise = np.linalg.cholesky(cov) @ rng.standard_normal((n_cond, n_reps, len(CH), n_t))
    return (3e-6 * rng.normal(size=(n_cond, 1, len(CH), n_t)) + noise).astype(np.float32)


def _residual_corr(x):
    r = x - x.mean(1, keepdims=True)
    c = np.cov(r.transpose(2, 0, 1, 3).reshape(len(CH), -1)) * x.shape[1] / (x.shape[1] - 1)
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d), np.diag(c)


def test_ledoit_wolf_matches_sklearn():
    from sklearn.covariance import ledoit_wolf

    x = np.random.default_rng(0).normal(size=(50, 6)) @ np.diag([1, 2, 3, 1, 1, 5.0])
    ours = R._shrunk_cov_from_stats(x.T @ x, (x ** 2).T @ x ** 2, len(x), "ledoit_wolf")
    np.testing.assert_allclose(ours, ledoit_wolf(x, assume_centered=True)[0], rtol=1e-10)


@pytest.mark.parametrize("estimator", ["epochs", "time"])
def test_mvnn_whitens_correlated_noise(estimator):
    train, test = _noisy(60, 2, 150, 1), _noisy(20, 4, 150, 2)
    before, _ = _residual_corr(test)
    assert before[~np.eye(8, dtype=bool)].min() > 0.4  # the noise really is correlated
    _, white, w = R.mvnn(train, test, estimator=estimator)
    corr, var = _residual_corr(white)
    assert np.abs(corr - np.eye(8)).max() < 0.1
    assert np.all(np.abs(var - 1) < 0.2)
    np.testing.assert_allclose(white, np.matmul(w.astype(np.float32), test), rtol=1e-4, atol=1e-6)


def test_mvnn_uses_training_covariance_only():
    train, test = _noisy(30, 2, 100, 3), _noisy(10, 4, 100, 4)
    _, _, w1 = R.mvnn(train, test)
    _, _, w2 = R.mvnn(train, 10 * _noisy(10, 4, 100, 5, scale=3.0))
    np.testing.assert_array_equal(w1, w2)
    _, _, w3 = R.mvnn(_noisy(30, 2, 100, 6, scale=3.0), test)
    assert not np.allclose(w1, w3)
    with pytest.raises(ValueError, match="n_reps >= 2"):
        R.mvnn(train[:, :1], test)


# ------------------------------------------------------------------ subject + CLI
def test_preprocess_subject_writes_its_own_layout(tmp_path):
    """NICE's format, in a folder no published layout uses (eegvision_preprocessed_250Hz)."""
    from eegvision.data.things import LAYOUTS, subject_layouts

    root = _make_root(tmp_path / "root")
    paths = R.preprocess_subject(root, 1, tmp_path / "out", n_test_reps=3)
    assert [p.name for p in paths] == ["preprocessed_eeg_training.npy", "preprocessed_eeg_test.npy"]
    assert all(p.parent == tmp_path / "out" / "eegvision_preprocessed_250Hz" / "sub-01"
               for p in paths)
    assert paths[0].parent.parent.name not in {v.split("/")[0] for v in LAYOUTS.values()}
    assert subject_layouts(tmp_path / "out", 1) == ["eegvision_250hz"]
    train, test = (load_dict_file(p) for p in paths)
    assert train["preprocessed_eeg_data"].shape == (8, 4, 8, 250)  # 2 reps x 2 sessions
    assert test["preprocessed_eeg_data"].shape == (6, 6, 8, 250)   # 3 reps x 2 sessions
    assert test["preprocessed_eeg_data"].dtype == np.float32
    assert list(test["ch_names"]) == CH
    np.testing.assert_allclose(test["times"], np.arange(250) / 250.0, atol=1e-9)
    # MVNN: whitened residual noise has about unit variance (volts are ~1e-6)
    assert 0.3 < test["preprocessed_eeg_data"].std() < 30


def test_preprocess_merges_training_images_over_sessions(tmp_path):
    root = _make_root(tmp_path, n_train=6, split_train=True, isi=0.5)
    paths = R.preprocess_subject(root, 1, mvnn=False, drop_baseline=False, n_test_reps=3,
                                 tmin=-0.1, tmax=0.5)
    train = load_dict_file(paths[0])
    x = train["preprocessed_eeg_data"]
    assert x.shape == (6, 2, 8, 150) and train["times"][0] == pytest.approx(-0.1)
    waves, t = _waves(6), train["times"]
    idx = np.minimum(np.round(t[t >= 0] * SF).astype(int), 399)
    corr = np.corrcoef(x.mean(1)[..., t >= 0].reshape(6, -1), waves[:, :, idx].reshape(6, -1))
    # condition c+1 came from session 1 or 2; its row holds its own wave
    assert np.diag(corr[:6, 6:]).min() > 0.8
    assert (corr[:6, 6:].argmax(1) == np.arange(6)).all()


def test_missing_sessions_listed(tmp_path):
    root = _make_root(tmp_path, n_sessions=3)
    (root / "Raw_data/sub-01/ses-02/raw_eeg_test.npy").unlink()
    with pytest.raises(DataError, match="osf.io/crxs4") as err:
        R.preprocess_subject(root, 1, n_test_reps=3)
    assert "ses-02/raw_eeg_test.npy" in str(err.value) and "ses-01" not in str(err.value).split("Fix")[0]
    with pytest.raises(DataError, match="sub-02/ses-01/raw_eeg_training.npy"):
        R.find_raw_sessions(root, 2)


def test_cli_preprocess(tmp_path, capsys):
    from eegvision.cli import main

    root = _make_root(tmp_path / "root", n_sessions=1, test_reps=20)
    out = tmp_path / "out"
    assert main(["preprocess", "--data-dir", str(root), "--out", str(out), "--no-mvnn"]) == 0
    written = sorted((out / "eegvision_preprocessed_250Hz" / "sub-01").glob("*.npy"))
    assert [p.name for p in written] == ["preprocessed_eeg_test.npy", "preprocessed_eeg_training.npy"]
    assert "preprocessed_eeg_test.npy" in capsys.readouterr().out
    assert main(["preprocess", "--data-dir", str(tmp_path / "empty"), "--subject", "3"]) == 2
    assert "osf.io/crxs4" in capsys.readouterr().err


def test_every_preprocess_output_is_read_back(tmp_path):
    """--sfreq 100 writes eegvision_preprocessed_100Hz/, found as layout eegvision_100hz."""
    from eegvision.data.things import find_subject_files, layout_dirs, read_preprocessed

    root = _make_root(tmp_path / "root", n_sessions=1, test_reps=3)
    R.preprocess_subject(root, 1, sfreq=100.0, n_test_reps=3, mvnn=False)
    assert layout_dirs(root)["eegvision_100hz"] == root / "eegvision_preprocessed_100Hz"
    (root / "dnn_feature").mkdir()
    for name, n in (("clip_feature_maps_training.npy", 8), ("center_clip.npy", 6)):
        np.save(root / "dnn_feature" / name, np.ones((n, 4), np.float32))
    files = find_subject_files(root, 1)
    assert files["layout"] == "eegvision_100hz"
    rec = read_preprocessed(files["test_eeg"], cache=False)
    assert rec["sfreq"] == 100.0 and rec["eeg"].shape[0] == 6


def test_cli_preprocess_preset_options(tmp_path, capsys):
    from eegvision.cli import main

    root = _make_root(tmp_path / "root", n_sessions=1, test_reps=20)
    assert main(["preprocess", "--data-dir", str(root), "--preset", "nice", "--sfreq", "100"]) == 2
    assert "--preset nice fixes the rate" in capsys.readouterr().err
    assert main(["preprocess", "--data-dir", str(root), "--seed", "3"]) == 2
    assert "--seed is used by --preset only" in capsys.readouterr().err


def test_preprocess_never_replaces_a_file_without_overwrite(tmp_path, capsys):
    """An existing output (a user's download, an earlier run) is refused before any work."""
    from eegvision.cli import main

    root = _make_root(tmp_path / "root", n_sessions=1, test_reps=20)
    out = tmp_path / "out" / "eegvision_preprocessed_250Hz" / "sub-01"
    out.mkdir(parents=True)
    (out / "preprocessed_eeg_test.npy").write_bytes(b"the user's file")
    args = ["preprocess", "--data-dir", str(root), "--out", str(tmp_path / "out"), "--no-mvnn"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "preprocessed_eeg_test.npy: already exists" in err
    assert "--overwrite" in err
    assert (out / "preprocessed_eeg_test.npy").read_bytes() == b"the user's file"
    assert not (out / "preprocessed_eeg_training.npy").exists()  # nothing half-written
    assert main(args + ["--overwrite"]) == 0
    assert load_dict_file(out / "preprocessed_eeg_test.npy")["preprocessed_eeg_data"].shape[1] == 20
    with pytest.raises(DataError, match="already exists"):
        R.preprocess_subject(root, 1, tmp_path / "out", mvnn=False)
