"""``preprocess --preset official|nice`` against a plain step-by-step reimplementation.

The reference below follows the public codes line by line (mne, sklearn's
``shuffle`` and ``_cov``, scipy's ``fractional_matrix_power``); eegvision's
presets are vectorised and must give the same files.
"""

import pickle

import numpy as np
import pytest

from eegvision.data.montage import OFFICIAL_17_CHANNELS, THINGS_EEG2_CHANNELS
from eegvision.data.presets import OFFICIAL_SEED, preprocess_preset, sklearn_auto_cov
from eegvision.data.raw import TARGET_CODE
from eegvision.data.simulate import simulate_raw_session, write_raw_session

N_SES, N_TRAIN, N_TEST = 2, 5, 2
TRAIN_REPS_PER_SES, TEST_REPS_PER_SES = 3, 21


def _recording_order():
    """63 names in a recording order unlike NICE's, the 17 posterior ones as released."""
    rest = [c for c in THINGS_EEG2_CHANNELS if c not in OFFICIAL_17_CHANNELS]
    order = list(np.random.default_rng(3).permutation(rest))
    for i, name in enumerate(OFFICIAL_17_CHANNELS):  # interleave the posterior channels
        order.insert(3 * i + 1, name)
    return order


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory):
    """A raw tree as the official code writes it (eeg_dataset/raw_data/sub-01/ses-YY)."""
    root = tmp_path_factory.mktemp("rawroot")
    names = _recording_order()
    rng = np.random.default_rng(0)
    a = rng.normal(size=(63, 63)) / 8
    cov = (a @ a.T + np.eye(63)) * 1e-12
    for ses in range(1, N_SES + 1):
        for split, n_cond, n_rep in (("training", N_TRAIN, TRAIN_REPS_PER_SES),
                                     ("test", N_TEST, TEST_REPS_PER_SES)):
            codes = rng.permutation(np.repeat(np.arange(1, n_cond + 1), n_rep))
            signal = rng.normal(0, 2e-6, size=(len(codes), 63, 300))
            d = simulate_raw_session(signal, codes, names, seed=rng, n_targets=3,
                                     noise_cov=cov, isi=0.2)
            path = root / "eeg_dataset" / "raw_data" / "sub-01" / f"ses-{ses:02d}"
            path.mkdir(parents=True, exist_ok=True)
            write_raw_session(path / f"raw_eeg_{split}.npy", d)
    return root


def _reference_epoching(root, split, seed, nice):
    """The public codes' epoching(), written out plainly."""
    import mne
    from sklearn.utils import shuffle

    out, conds = [], []
    for s in range(N_SES):
        d = np.load(root / "eeg_dataset" / "raw_data" / "sub-01" / f"ses-{s + 1:02d}" /
                    f"raw_eeg_{split}.npy", allow_pickle=True).item()
        raw = mne.io.RawArray(d["raw_eeg_data"], mne.create_info(d["ch_names"], d["sfreq"],
                                                                 d["ch_types"]), verbose="error")
        events = mne.find_events(raw, stim_channel="stim", verbose="error")
        if nice:
            raw.pick_channels(THINGS_EEG2_CHANNELS, ordered=True)
        else:
            idx = mne.pick_channels_regexp(raw.info["ch_names"], "^O *|^P *")
            raw.pick_channels([raw.info["ch_names"][c] for c in idx])
        events = np.delete(events, np.where(events[:, 2] == TARGET_CODE)[0], 0)
        epochs = mne.Epochs(raw, events, tmin=-.2, tmax=1.0 if nice else .8,
                            baseline=(None, 0), preload=True, verbose="error")
        epochs.resample(250 if nice else 100, verbose="error")
        ch_names, times = epochs.info["ch_names"], epochs.times
        data, ev = epochs.get_data(), epochs.events[:, 2]
        img_cond = np.unique(ev)
        max_rep = 20 if split == "test" else 2
        sorted_data = np.zeros((len(img_cond), max_rep) + data.shape[1:])
        for i in range(len(img_cond)):
            idx = shuffle(np.where(ev == img_cond[i])[0], random_state=seed, n_samples=max_rep)
            sorted_data[i] = data[idx]
        out.append(sorted_data[:, :, :, 50:] if nice else sorted_data)
        conds.append(img_cond)
    return out, conds, ch_names, times


def _reference_mvnn(test, train, nice):
    import scipy.linalg
    from sklearn.discriminant_analysis import _cov

    wt, wtr = [], []
    for s in range(N_SES):
        sigma_part = []
        for part in (test[s], train[s]):
            sigma_cond = []
            for cond in part:
                if nice:
                    sigma_cond.append(np.mean([_cov(cond[e].T, shrinkage="auto")
                                               for e in range(cond.shape[0])], axis=0))
                else:
                    sigma_cond.append(np.mean([_cov(cond[:, :, t], shrinkage="auto")
                                               for t in range(cond.shape[2])], axis=0))
            sigma_part.append(np.mean(sigma_cond, axis=0))
        sigma = sigma_part[1] if nice else np.mean(sigma_part, axis=0)
        inv = scipy.linalg.fractional_matrix_power(sigma, -0.5).real
        for src, dst in ((test[s], wt), (train[s], wtr)):
            flat = src.reshape((-1,) + src.shape[2:])
            dst.append(((flat.swapaxes(1, 2) @ inv).swapaxes(1, 2)).reshape(src.shape))
    return wt, wtr


def _reference_merge(test, train, conds, seed):
    from sklearn.utils import shuffle

    merged_test = np.concatenate(test, axis=1)
    merged_test = merged_test[:, shuffle(np.arange(merged_test.shape[1]), random_state=seed)]
    white, img_cond = np.concatenate(train, 0), np.concatenate(conds, 0)
    merged = np.zeros((len(np.unique(img_cond)), white.shape[1] * 2) + white.shape[2:])
    for i in range(len(np.unique(img_cond))):
        merged[i] = np.concatenate([white[j] for j in np.where(img_cond == i + 1)[0]], 0)
    merged = merged[:, shuffle(np.arange(merged.shape[1]), random_state=seed)]
    return merged_test, merged


@pytest.mark.parametrize("preset", ["official", "nice"])
def test_preset_matches_step_by_step_reference(raw_root, tmp_path, preset):
    nice = preset == "nice"
    paths = preprocess_preset(raw_root / "eeg_dataset", 1, preset, out_root=tmp_path)
    test, _, ch_names, times = _reference_epoching(raw_root, "test", OFFICIAL_SEED, nice)
    train, conds, _, _ = _reference_epoching(raw_root, "training", OFFICIAL_SEED, nice)
    test, train = _reference_mvnn(test, train, nice)
    ref_test, ref_train = _reference_merge(test, train, conds, OFFICIAL_SEED)
    if nice:
        assert paths[0] == tmp_path / "Preprocessed_data_250Hz" / "sub-01" / \
            "preprocessed_eeg_training.npy"
        files = [pickle.loads(p.read_bytes()) for p in paths]
    else:
        assert paths[0].parent == tmp_path / "eeg_dataset" / "preprocessed_data" / "sub-01"
        files = [np.load(p, allow_pickle=True).item() for p in paths]
    for got, ref in zip(files, (ref_train, ref_test), strict=True):
        x = got["preprocessed_eeg_data"]
        assert x.dtype == np.float64 and x.shape == ref.shape
        np.testing.assert_allclose(x, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())
        assert list(got["ch_names"]) == list(ch_names)
        np.testing.assert_allclose(got["times"], times)
    from eegvision.data.things import subject_layouts

    assert subject_layouts(tmp_path, 1) == [preset]  # the layout is named after its writer
    n_ch, n_t = (63, 250) if nice else (17, 100)
    assert ref_train.shape == (N_TRAIN, 4, n_ch, n_t) and ref_test.shape == (N_TEST, 40, n_ch, n_t)
    if not nice:
        assert list(ch_names) == OFFICIAL_17_CHANNELS
    else:
        assert len(times) == 300 and list(ch_names) == THINGS_EEG2_CHANNELS


@pytest.mark.parametrize("preset", ["official", "nice"])
def test_epoching_in_chunks_gives_the_same_files(raw_root, tmp_path, monkeypatch, preset):
    """Epochs are made a chunk at a time (memory); the files equal those of one big call."""
    from eegvision.data import presets

    whole = preprocess_preset(raw_root / "eeg_dataset", 1, preset, out_root=tmp_path / "a")
    monkeypatch.setattr(presets, "EPOCH_CHUNK", 7)  # 2 sessions x (15 + 42) epochs: many chunks
    chunked = preprocess_preset(raw_root / "eeg_dataset", 1, preset, out_root=tmp_path / "b")
    for a, b in zip(whole, chunked, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_sklearn_auto_cov_matches_sklearn():
    from sklearn.discriminant_analysis import _cov

    x = np.random.default_rng(1).normal(size=(4, 7, 5)) * np.arange(1, 6)
    x[2, :, 3] = 1.5  # a constant feature: StandardScaler keeps its scale at 1
    got = sklearn_auto_cov(x)
    for i in range(4):
        np.testing.assert_allclose(got[i], _cov(x[i], shrinkage="auto"), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("preset", ["official", "nice"])
def test_preset_never_replaces_a_published_file(raw_root, tmp_path, preset, capsys):
    """A preset writes the published folder, where a download may lie: refused without --overwrite."""
    from eegvision.cli import main
    from eegvision.data.things import LAYOUTS

    target = tmp_path / LAYOUTS[preset] / "sub-01" / "preprocessed_eeg_training.npy"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"downloaded")
    args = ["preprocess", "--data-dir", str(raw_root / "eeg_dataset"), "--out", str(tmp_path),
            "--preset", preset]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{target}: already exists" in err and "--overwrite" in err
    assert target.read_bytes() == b"downloaded"
    assert not target.with_name("preprocessed_eeg_test.npy").exists()
    assert main(args + ["--overwrite"]) == 0
    assert target.stat().st_size > 1000
