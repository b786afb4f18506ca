"""THINGS-EEG2 readers, on tiny files written here (independently of the readers)."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from eegvision._commands.data import describe_root
from eegvision._utils import DataError
from eegvision.data.container import SubjectData
from eegvision.data.things import (
    find_subject_files,
    load_subject,
    read_concept_table,
    read_features,
    read_image_metadata,
    read_preprocessed,
)

DIRS = {"nice": "Preprocessed_data_250Hz", "official": "eeg_dataset/preprocessed_data",
        "legacy": "Preprocessed_data"}


def _eeg(n_cond, n_reps, n_ch, n_t, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal((n_cond, n_reps, n_ch, n_t)).astype(dtype)


def _write(path, d, writer):
    path.parent.mkdir(parents=True, exist_ok=True)
    if writer == "pickle":
        with open(path, "wb") as fh:
            pickle.dump(d, fh, protocol=4)
    else:
        np.save(path, d, allow_pickle=True)
    return path


def _file(tmp_path, *, n_cond=6, n_reps=3, n_ch=5, n_t=20, n_times=None, dtype=np.float64,
          writer="pickle", name="f.npy", **override):
    eeg = _eeg(n_cond, n_reps, n_ch, n_t, dtype)
    n_times = n_t if n_times is None else n_times
    d = {"preprocessed_eeg_data": eeg, "ch_names": [f"C{i}" for i in range(n_ch)],
         "times": np.round(np.arange(n_times) / 100.0 - 0.2, 6)}
    d.update(override)
    return _write(tmp_path / name, d, writer), eeg


@pytest.mark.parametrize("writer", ["pickle", "npsave"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("average", [True, False])
def test_read_preprocessed_formats(tmp_path, writer, dtype, average):
    path, eeg = _file(tmp_path, dtype=dtype, writer=writer)
    out = read_preprocessed(path, average=average, cache=False)
    want = eeg.astype(np.float64).mean(axis=1) if average else eeg
    assert out["eeg"].dtype == np.float32
    np.testing.assert_allclose(out["eeg"], want, rtol=1e-5, atol=1e-6)
    assert out["ch_names"] == ["C0", "C1", "C2", "C3", "C4"]
    assert out["n_repetitions"] == 3 and out["sfreq"] == pytest.approx(100.0)
    assert out["times"][0] == pytest.approx(-0.2)


def test_times_longer_than_data_aligned_to_end(tmp_path, caplog):
    path, _ = _file(tmp_path, n_t=20, n_times=30)
    with caplog.at_level(logging.WARNING, logger="eegvision"):
        out = read_preprocessed(path, cache=False)
    assert len(out["times"]) == 20
    assert out["times"][0] == pytest.approx(-0.2 + 0.10) and out["times"][-1] == pytest.approx(0.09)
    assert sum("aligning the times" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize("change, match", [
    (dict(n_times=10), "10 time points for 20 samples"),
    (dict(ch_names=["A", "B"]), "2 channel names for 5 channels"),
    (dict(preprocessed_eeg_data=np.zeros((4, 5, 20))), "must be 4-D"),
    (dict(times=np.zeros(20)), "strictly increasing"),
])
def test_bad_contents(tmp_path, change, match):
    path, _ = _file(tmp_path, **change)
    with pytest.raises(DataError, match=match) as err:
        read_preprocessed(path, cache=False)
    assert str(path) in str(err.value) and "Fix" in str(err.value)


def test_missing_keys(tmp_path):
    path = _write(tmp_path / "f.npy", {"preprocessed_eeg_data": _eeg(2, 2, 2, 4, "f4")}, "pickle")
    with pytest.raises(DataError, match=r"missing keys \['ch_names', 'times'\]"):
        read_preprocessed(path, cache=False)


def test_nan_refused(tmp_path):
    eeg = _eeg(300, 2, 3, 8, np.float64)
    eeg[290, 1, 2, 3] = np.nan  # in the second chunk
    path = _write(tmp_path / "f.npy", {"preprocessed_eeg_data": eeg, "ch_names": list("abc"),
                                       "times": np.arange(8) / 10}, "npsave")
    with pytest.raises(DataError, match="NaN, infinite or out-of-float32-range values in conditions 256-299"):
        read_preprocessed(path, cache=False)


def test_cache_hit_equal_and_stale_ignored(tmp_path):
    path, eeg = _file(tmp_path, n_t=30, n_times=40)
    first = read_preprocessed(path)
    assert list(Path(os.environ["EEGVISION_CACHE"]).glob("reading/*/eeg.npy"))
    second = read_preprocessed(path)
    assert isinstance(second["eeg"], np.memmap)
    np.testing.assert_array_equal(first["eeg"], second["eeg"])
    np.testing.assert_array_equal(first["times"], second["times"])
    assert second["ch_names"] == first["ch_names"] and second["n_repetitions"] == 3
    # rewrite the file with other data: the old cache must not be used
    path2, eeg2 = _file(tmp_path, n_t=30, n_times=40, preprocessed_eeg_data=_eeg(6, 3, 5, 30,
                                                                                 "f8", seed=5))
    third = read_preprocessed(path2)
    np.testing.assert_allclose(third["eeg"], _eeg(6, 3, 5, 30, "f8", seed=5).mean(1), atol=1e-6)


def test_read_features(tmp_path):
    f = np.random.default_rng(1).standard_normal((7, 1, 4)).astype(np.float64)
    np.save(tmp_path / "f.npy", f)
    out = read_features(tmp_path / "f.npy", n_expected=7)
    assert out.shape == (7, 4) and out.dtype == np.float32
    with pytest.raises(DataError, match="7 feature rows, but the EEG has 9"):
        read_features(tmp_path / "f.npy", n_expected=9)
    f[2, 0, 1] = np.nan
    np.save(tmp_path / "n.npy", f)
    with pytest.raises(DataError, match="NaN"):
        read_features(tmp_path / "n.npy")


def _root(tmp_path, layout="nice", n_train=6, n_test=4, meta=True, center_at_root=False):
    root = tmp_path / "root"
    sub = root / DIRS[layout] / "sub-01"
    n_ch, n_t = (7, 25) if layout == "nice" else (3, 10)
    for split, n, reps in (("training", n_train, 2), ("test", n_test, 5)):
        _write(sub / f"preprocessed_eeg_{split}.npy",
               {"preprocessed_eeg_data": _eeg(n, reps, n_ch, n_t, "f4"),
                "ch_names": [f"E{i}" for i in range(n_ch)],
                "times": np.arange(n_t + 5) / 250.0 - 0.02}, "pickle" if layout == "nice" else "np")
    feat = root / "dnn_feature"
    feat.mkdir(parents=True)
    rng = np.random.default_rng(3)
    np.save(feat / "clip_feature_maps_training.npy", rng.standard_normal((n_train, 1, 8)).astype("f4"))
    np.save(feat / "clip_feature_maps_test.npy", rng.standard_normal((n_test, 1, 8)).astype("f4"))
    np.save((root if center_at_root else feat) / "center_clip.npy",
            rng.standard_normal((n_test, 8)).astype("f4"))
    if meta:
        (root / "image_set").mkdir()
        np.save(root / "image_set" / "image_metadata.npy", {
            "train_img_concepts": [f"{i // 2 + 1:05d}_thing_{i // 2}" for i in range(n_train)],
            "train_img_files": [f"thing_{i}.jpg" for i in range(n_train)],
            "test_img_concepts": [f"{i + 1:05d}_test_{i}" for i in range(n_test)],
            "test_img_files": [f"test_{i}.jpg" for i in range(n_test)],
            "test_img_categories": ["animal", "tool"] * (n_test // 2)})
    return root


def test_metadata_names(tmp_path):
    meta = read_image_metadata(_root(tmp_path))
    assert list(meta["train_concepts"][:3]) == ["thing_0", "thing_0", "thing_1"]
    assert meta["test_img_concepts"][0] == "00001_test_0"
    assert read_image_metadata(tmp_path / "nothing") is None


@pytest.mark.parametrize("layout", ["nice", "official", "legacy"])
def test_load_subject(tmp_path, layout):
    root = _root(tmp_path, layout=layout)
    data = load_subject(root, 1)
    assert isinstance(data, SubjectData) and data.meta["layout"] == layout
    n_ch = 7 if layout == "nice" else 3
    assert data.train.eeg.shape[:2] == (6, n_ch) and data.test.eeg.shape[0] == 4
    assert list(data.test.concepts[:2]) == ["test_0", "test_1"]
    assert list(data.test.categories[:2]) == ["animal", "tool"] and data.train.categories is None
    np.testing.assert_array_equal(data.train.conditions, np.arange(6))
    np.testing.assert_array_equal(data.test.features, np.load(root / "dnn_feature/center_clip.npy"))
    assert data.train.meta["split"] == "train" and data.train.meta["subject"] == 1
    single = load_subject(root, 1, average=False, targets="images")
    assert single.test.n_trials == 4 * 5 and single.test.conditions[:6].tolist() == [0] * 5 + [1]


def test_layouts_are_named_after_their_writers_and_old_names_still_work(tmp_path):
    """nice / official / eegvision_<rate>hz / legacy, in that order; 250hz and eeg_dataset alias."""
    from eegvision.data.things import layout_dirs, subject_layouts

    root = _root(tmp_path)  # nice
    for folder in ("eeg_dataset/preprocessed_data", "eegvision_preprocessed_250Hz",
                   "eegvision_preprocessed_100Hz", "Preprocessed_data", "Preprocessed_data_50Hz"):
        (root / folder / "sub-01").mkdir(parents=True)
    dirs = layout_dirs(root)
    assert list(dirs) == ["nice", "official", "eegvision_100hz", "eegvision_250hz", "legacy",
                          "50hz"]
    assert dirs["nice"] == root / "Preprocessed_data_250Hz"
    assert dirs["official"] == root / "eeg_dataset" / "preprocessed_data"
    assert dirs["eegvision_250hz"] == root / "eegvision_preprocessed_250Hz"
    assert subject_layouts(root, 1) == list(dirs)
    assert find_subject_files(root, 1, layout="250hz")["layout"] == "nice"
    assert find_subject_files(root, 1)["layout"] == "nice"
    with pytest.raises(ValueError, match="'official'"):
        find_subject_files(root, 1, layout="oficial")


def test_fallback_names_and_center_at_root(tmp_path):
    root = _root(tmp_path, meta=False, center_at_root=True)
    data = load_subject(root, 1)
    assert data.train.concepts[0] == "train_00001" and data.test.concepts[3] == "test_00004"


def test_missing_files_all_listed(tmp_path):
    root = _root(tmp_path)
    (root / "dnn_feature" / "center_clip.npy").unlink()
    (root / DIRS["nice"] / "sub-01" / "preprocessed_eeg_test.npy").unlink()
    with pytest.raises(DataError) as err:
        find_subject_files(root, 1)
    msg = str(err.value)
    assert "2 missing" in msg and "center_clip.npy" in msg and "preprocessed_eeg_test.npy" in msg
    assert "osf.io/3jk45" in msg and "eegvision simulate" in msg
    with pytest.raises(DataError, match="sub-02"):
        load_subject(root, 2)


def test_feature_count_mismatch(tmp_path):
    root = _root(tmp_path)
    np.save(root / "dnn_feature" / "clip_feature_maps_training.npy", np.zeros((5, 8), "f4"))
    with pytest.raises(DataError, match="5 feature rows, but the EEG has 6"):
        load_subject(root, 1)


def test_describe_root(tmp_path):
    root = _root(tmp_path)
    (root / "simulation_truth.json").write_text('{"region": "occipital"}')
    text = describe_root(root, 1)
    assert "Layouts found for subject 1: 1\n  nice (" in text and "6 conditions x 2 repetitions" in text
    assert "7 channels: E0" in text and "region: occipital" in text and "250 Hz" in text


def test_concept_table(shared_data):
    df = read_concept_table(shared_data / "things_eeg2_concepts.tsv")
    assert (df["split"] == "test").sum() == 200 and (df["split"] == "training").sum() == 1654
    assert df.loc[0, "concept"] == "aircraft_carrier"


def test_uncropped_times_warn_once_per_subject_folder(tmp_path, caplog):
    sub = tmp_path / "real" / "Preprocessed_data_250Hz" / "sub-01"
    sub.mkdir(parents=True)
    paths = [_file(sub, n_t=20, n_times=30, name=n)[0] for n in ("a.npy", "b.npy")]
    with caplog.at_level(logging.WARNING, logger="eegvision"):
        for path in paths:
            read_preprocessed(path, cache=False)
    assert sum("aligning the times" in r.message for r in caplog.records) == 1


def test_simulated_roots_do_not_warn_about_their_own_times(tmp_path, caplog):
    from eegvision.data.simulate import simulate_root
    from eegvision.data.things import load_subject

    simulate_root(tmp_path, 1, seed=0, n_train=8, n_test=4, n_train_reps=1, n_test_reps=2,
                  layouts=("nice",))
    with caplog.at_level(logging.WARNING, logger="eegvision"):
        data = load_subject(tmp_path, 1, layout="nice", cache=False)
    assert data.train.times[0] == pytest.approx(0.0)  # still aligned to the end
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
