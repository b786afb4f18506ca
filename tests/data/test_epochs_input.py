"""Epochs already made: ``from_epochs`` follows MNE; ``-epo.fif`` files run an analysis."""

from __future__ import annotations

import numpy as np
import pytest

from eegvision.data.container import EEGImageData
from eegvision.data.montage import OFFICIAL_17_CHANNELS

N_IMAGES, N_REPS, SFREQ = 16, 2, 100.0


def _epochs(event_id=None, *, split=False, seed=0, montage="easycap-M1"):
    """Epochs of 16 images x 2 repetitions, -0.2 to 0.79 s at 100 Hz, image-specific patterns."""
    import mne
    import pandas as pd

    rng = np.random.default_rng(seed)
    codes = np.tile(np.arange(1, N_IMAGES + 1), N_REPS)
    patterns = rng.normal(0, 5e-6, (N_IMAGES + 1, len(OFFICIAL_17_CHANNELS), 1))
    x = patterns[codes] * np.hanning(100)[None, None] + rng.normal(0, 1e-6, (len(codes), 17, 100))
    info = mne.create_info(list(OFFICIAL_17_CHANNELS), SFREQ, "eeg")
    if montage:
        info.set_montage(montage)
    events = np.column_stack([np.arange(len(codes)) * 200, np.zeros(len(codes), int), codes])
    event_id = event_id or {f"img{c:02d}": c for c in range(1, N_IMAGES + 1)}
    meta = None
    if split:  # the last 4 images are the test set
        meta = pd.DataFrame({"split": np.where(codes > N_IMAGES - 4, "test", "train")})
    return mne.EpochsArray(x, info, events=events, event_id=event_id, tmin=-0.2,
                           metadata=meta, verbose="error")


def _features(seed=1):
    return np.random.default_rng(seed).normal(size=(N_IMAGES, 8)).astype(np.float32)


def test_bad_channels_are_left_out():
    epochs = _epochs()
    epochs.info["bads"] = ["Oz", "P3"]
    data = EEGImageData.from_epochs(epochs, _features()[epochs.events[:, 2] - 1])
    assert data.ch_names == [c for c in OFFICIAL_17_CHANNELS if c not in ("Oz", "P3")]
    np.testing.assert_allclose(data.eeg, epochs.get_data(picks="eeg", exclude="bads"),
                               rtol=1e-6)


def test_own_montage_is_kept():
    import mne

    rng = np.random.default_rng(5)
    positions = {c: rng.normal(0, 0.05, 3) for c in OFFICIAL_17_CHANNELS}  # not a template
    epochs = _epochs(montage=None)
    epochs.set_montage(mne.channels.make_dig_montage(positions, coord_frame="head"))
    data = EEGImageData.from_epochs(epochs, _features()[epochs.events[:, 2] - 1])
    got = data.info.get_montage().get_positions()["ch_pos"]
    for name in ("O1", "Pz", "PO8"):
        np.testing.assert_allclose(got[name], positions[name])
    data.pick(["O1", "O2"])  # a selection keeps the positions of what is left
    np.testing.assert_allclose(data.info.get_montage().get_positions()["ch_pos"]["O1"],
                               positions["O1"])


def test_epochs_not_preloaded(tmp_path):
    import mne

    epochs = _epochs()
    epochs.info["bads"] = ["Pz"]
    path = tmp_path / "sub-01-epo.fif"
    epochs.save(path, verbose="error")
    lazy = mne.read_epochs(path, preload=False, verbose="error")
    assert not lazy.preload
    data = EEGImageData.from_epochs(lazy, _features()[lazy.events[:, 2] - 1])
    assert "Pz" not in data.ch_names and data.eeg.shape == (32, 16, 100)
    np.testing.assert_allclose(data.eeg, epochs.get_data(picks="eeg", exclude="bads"),
                               rtol=1e-6)
    assert not lazy.preload  # read for the picked channels, the epochs object untouched


def test_split_column_decides_the_split():
    from eegvision.data.inputs import as_subjects

    data = EEGImageData.from_epochs(_epochs(split=True), _features()[np.tile(np.arange(16), 2)])
    subject = as_subjects(data, seed=123)[1]
    assert sorted(set(subject.test.concepts)) == ["img13", "img14", "img15", "img16"]
    assert subject.train.n_trials == 24 and subject.test.n_trials == 8
    assert subject.meta["split"] == "metadata"


def test_split_column_must_not_share_images():
    import pandas as pd

    from eegvision._utils import DataError
    from eegvision.data.inputs import as_subjects

    epochs = _epochs()
    epochs.metadata = pd.DataFrame({"split": ["train"] * 30 + ["test"] * 2})  # img15/16 both
    data = EEGImageData.from_epochs(epochs, _features()[epochs.events[:, 2] - 1])
    with pytest.raises(DataError, match="in both train and test"):
        as_subjects(data)
    epochs.metadata = pd.DataFrame({"split": ["train"] * 31 + ["validation"]})
    with pytest.raises(DataError, match="neither 'train' nor 'test'"):
        EEGImageData.from_epochs(epochs, _features()[epochs.events[:, 2] - 1])


def test_hierarchical_event_names():
    names = ["animal/antelope", "animal/bear", "tool/hammer", "tool/saw"] * 4
    event_id = {f"{n}/{i + 1:02d}": i + 1 for i, n in enumerate(names)}
    data = EEGImageData.from_epochs(_epochs(event_id), _features()[np.tile(np.arange(16), 2)])
    assert data.concepts[:4].tolist() == ["antelope", "bear", "hammer", "saw"]
    assert data.categories[:4].tolist() == ["animal", "animal", "tool", "tool"]
    # conditions are the images (event codes), not the concepts: 16 images of 4 concepts
    assert len(np.unique(data.conditions)) == 16


def test_to_epochs_names_events_and_round_trips():
    data = EEGImageData.from_epochs(_epochs(), _features()[np.tile(np.arange(16), 2)])
    epochs = data.to_epochs()
    assert set(epochs.event_id) == {f"img{c:02d}" for c in range(1, 17)}
    assert epochs["img03"].get_data().shape[0] == 2
    data.categories = np.where(data.conditions < 8, "animal", "tool")
    named = data.to_epochs()
    assert "animal/img01" in named.event_id and "tool/img16" in named.event_id
    named.metadata = None  # from the event names alone
    back = EEGImageData.from_epochs(named, data.features)
    assert back.concepts.tolist() == data.concepts.tolist()
    assert back.categories.tolist() == data.categories.tolist()
    np.testing.assert_array_equal(back.conditions, data.conditions)


def test_whole_epoch_reference_starts_at_onset():
    from eegvision.analysis import temporal

    ref = EEGImageData.from_epochs(_epochs(), _features()[np.tile(np.arange(16), 2)])
    full = dict(temporal.conditions({"windows": "0-200"}, ref))["full"]
    assert full["tmin_ms"] == 0.0 and full["tmax_ms"] == pytest.approx(800.0)
    asked = dict(temporal.conditions({"windows": "-200-0", "tmin_ms": -200.0}, ref))["full"]
    assert asked["tmin_ms"] == pytest.approx(-200.0)


def _write_inputs(tmp_path):
    epochs = _epochs(split=True)
    path = tmp_path / "sub-01-epo.fif"
    epochs.save(path, verbose="error")
    np.save(tmp_path / "features.npy", _features())  # one row per image (event code order)
    return path, tmp_path / "features.npy"


def test_analysis_runs_on_an_epochs_file_cli(tmp_path, capsys):
    import json

    import pandas as pd

    from eegvision.cli import main

    path, feats = _write_inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["analyze", "temporal", "--epochs-file", str(path), "--features", str(feats),
                 "--model", "ridge", "--windows", "0-400,400-800", "--no-noise-ceiling",
                 "--out", str(out)]) == 0
    df = pd.read_csv(out / "results.csv")
    assert set(df["condition"]) == {"full", "0-400ms", "400-800ms"}
    config = json.loads((out / "config.json").read_text())
    assert config["epochs_file"] == str(path) and config["data_root"] is None
    capsys.readouterr()  # the first run's progress lines (stderr, level INFO)
    assert main(["analyze", "temporal", "--epochs-file", str(path), "--model", "ridge",
                 "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--features F.npy" in err[0]


def test_analysis_runs_on_an_epochs_file_python(tmp_path):
    from eegvision.pipeline import analyze

    path, feats = _write_inputs(tmp_path)
    df = analyze("temporal", data=str(path), features=str(feats), model="ridge",
                 windows="0-400", noise_ceiling=False, progress=False, plot=False)
    assert set(df["condition"]) == {"full", "0-400ms"} and df["top1"].between(0, 1).all()
    np.save(tmp_path / "bad.npy", np.zeros((5, 8)))
    with pytest.raises(ValueError, match="5 feature rows for 32 epochs of 16 image"):
        analyze("temporal", data=str(path), features=str(tmp_path / "bad.npy"), model="ridge")
    with pytest.raises(ValueError, match="epochs file not found"):
        analyze("temporal", data=str(tmp_path / "nope-epo.fif"), features=str(feats))
    with pytest.raises(ValueError, match="MNE could not read it as epochs"):
        analyze("temporal", data=str(feats), features=str(feats))


def test_train_on_an_epochs_file(tmp_path, capsys):
    from eegvision.cli import main

    path, feats = _write_inputs(tmp_path)
    assert main(["train", "--epochs-file", str(path), "--features", str(feats), "--model",
                 "ridge", "--out", str(tmp_path / "train")]) == 0
    assert (tmp_path / "train" / "metrics.json").is_file()
    assert "4-way" in capsys.readouterr().out  # the metadata's 4 test images
    assert main(["train", "--epochs-file", str(path), "--features", str(feats), "--data-dir",
                 str(tmp_path), "--model", "ridge", "--out", str(tmp_path / "t2")]) == 2
    assert "--epochs-file holds one subject" in capsys.readouterr().err
