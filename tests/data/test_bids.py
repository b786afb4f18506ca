"""BIDS input (NEMAR nm000232's layout): the BDF + events.tsv route equals the raw .npy route."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mne_bids")
pytest.importorskip("edfio")  # mne-bids writes BDF through it (reading needs only MNE)

from eegvision.data import bids  # noqa: E402
from eegvision.data.montage import THINGS_EEG2_CHANNELS  # noqa: E402
from eegvision.data.simulate import simulate_raw_session, write_raw_session  # noqa: E402


def _signal(rng, codes, n_samples=1000):
    """Per-trial EEG (volts) with a condition-specific pattern: the code decides the map."""
    patterns = np.random.default_rng(7).normal(0, 4e-6, (codes.max() + 1, 63, 1))
    envelope = np.hanning(n_samples)[None, None]
    return patterns[codes] * envelope + rng.normal(0, 0.5e-6, (len(codes), 63, n_samples))


def write_subject(tmp_path, *, n_sessions=2, n_train=6, n_test=3, train_runs=2, seed=0):
    """One subject written both ways: ``(bids_root, npy_root)``.

    Per session every training condition is shown twice and every test
    condition 20 times (what both published pipelines keep), with catch
    trials, in ``train_runs`` BIDS runs of the training task. The ``.npy``
    recordings hold exactly the values the BDF files give back (the runs
    joined in run order): BDF stores 24-bit integers scaled to each file's
    range, and writing those values on both routes makes the comparison exact.
    """
    rng = np.random.default_rng(seed)
    bids_root, npy_root = tmp_path / "bids", tmp_path / "npy"
    names = {"training": [f"{i // 2 + 1:05d}_concept{i // 2}" for i in range(n_train)],
             "test": [f"{i + 1:05d}_testconcept{i}" for i in range(n_test)]}
    for ses in range(1, n_sessions + 1):
        for split, n_cond, reps, runs in (("training", n_train, 2, train_runs),
                                          ("test", n_test, 20, 1)):
            order = rng.permutation(np.repeat(np.arange(1, n_cond + 1), reps))
            written = []
            for run, part in enumerate(np.array_split(order, runs), start=1):
                raw = simulate_raw_session(_signal(rng, part), part, THINGS_EEG2_CHANNELS,
                                           seed=rng, n_targets=2, noise_std=2e-6)
                written.append(bids.write_bids_run(raw, bids_root, 1, ses, split,
                                                   run if split == "training" else None,
                                                   concepts=names[split]))
            back = bids.read_bids_session(bids.BIDSRecording(tuple(written)))
            write_raw_session(npy_root / "Raw_data" / "sub-01" / f"ses-{ses:02d}" /
                              f"raw_eeg_{split}.npy",
                              {"raw_eeg_data": back.get_data(), "ch_names": back.ch_names,
                               "ch_types": ["eeg"] * 63 + ["stim"], "sfreq": 1000.0,
                               "highpass": 0.01, "lowpass": 100.0})
    return bids_root, npy_root


@pytest.fixture(scope="module")
def both_routes(tmp_path_factory):
    return write_subject(tmp_path_factory.mktemp("bids_vs_npy"), n_train=4, n_test=2)


def test_layout_is_found_like_nemar(both_routes):
    bids_root, _ = both_routes
    assert bids.is_bids_root(bids_root)
    sessions = bids.find_bids_sessions(bids_root, 1)
    assert [s for s, _ in sessions] == [1, 2]
    runs = sessions[0][1]["training"].runs
    assert [r.name for r in runs] == ["sub-01_ses-01_task-train_run-01_eeg.bdf",
                                      "sub-01_ses-01_task-train_run-02_eeg.bdf"]
    assert sessions[0][1]["test"].runs[0].name == "sub-01_ses-01_task-test_eeg.bdf"
    head = bids.events_path(runs[0]).read_text().splitlines()[0].split("\t")
    for column in ("onset", "sample", "trial_type", "tot_img_number", "category_name"):
        assert column in head


def test_bdf_keeps_the_eeg_within_its_resolution(tmp_path):
    rng = np.random.default_rng(3)
    codes = np.array([1, 2, 1, 2])
    raw = simulate_raw_session(_signal(rng, codes), codes, THINGS_EEG2_CHANNELS, seed=1,
                               n_targets=1)
    path = bids.write_bids_run(raw, tmp_path, 1, 1, "test")
    back = bids.read_bids_session(bids.BIDSRecording((path,)))
    eeg, n = raw["raw_eeg_data"][:63], raw["raw_eeg_data"].shape[1]
    step = (eeg.max() - eeg.min()) / 2 ** 24  # one 24-bit step over the data's range
    assert np.abs(back.get_data()[:63, :n] - eeg).max() <= step
    # BDF pads the last 1-s data record; the stim channel rebuilt from events.tsv holds the
    # image codes and 99999 at the catch trial
    np.testing.assert_array_equal(back.get_data()[63, :n], raw["raw_eeg_data"][63])
    assert not back.get_data()[63, n:].any()


@pytest.mark.parametrize("preset", [None, "official", "nice"])
def test_bids_and_npy_routes_give_equal_arrays(both_routes, tmp_path, preset):
    from eegvision.data._pickle import load_dict_file
    from eegvision.data.presets import preprocess_preset
    from eegvision.data.raw import preprocess_subject

    bids_root, npy_root = both_routes
    out = {}
    for name, root in (("bids", bids_root), ("npy", npy_root)):
        if preset is None:
            out[name] = preprocess_subject(root, 1, tmp_path / name)
        else:
            out[name] = preprocess_preset(root, 1, preset, tmp_path / name)
    assert [p.relative_to(tmp_path / "bids") for p in out["bids"]] == \
        [p.relative_to(tmp_path / "npy") for p in out["npy"]]
    for a, b in zip(out["bids"], out["npy"], strict=True):
        da, db = load_dict_file(a), load_dict_file(b)
        assert da["ch_names"] == db["ch_names"]
        np.testing.assert_array_equal(da["times"], db["times"])
        np.testing.assert_array_equal(da["preprocessed_eeg_data"], db["preprocessed_eeg_data"])
    # 4 training conditions x 2 repetitions x 2 sessions; 2 test conditions x 20 x 2
    shapes = [load_dict_file(p)["preprocessed_eeg_data"].shape[:2] for p in out["bids"]]
    assert shapes == [(4, 4), (2, 40)]


def test_preprocess_cli_writes_into_derivatives_by_default(both_routes, tmp_path, capsys):
    import shutil

    from eegvision.cli import main
    from eegvision.data.presets import PRESETS

    root = tmp_path / "bids"
    shutil.copytree(both_routes[0], root)
    before = {p for p in root.rglob("*") if p.is_file()}
    assert main(["preprocess", "--data-dir", str(root), "--subject", "1",
                 "--preset", "official"]) == 0
    new = {p for p in root.rglob("*") if p.is_file()} - before
    folder = root / "derivatives" / "eegvision" / PRESETS["official"]["folder"] / "sub-01"
    assert new == {folder / "preprocessed_eeg_training.npy", folder / "preprocessed_eeg_test.npy"}
    assert str(folder) in capsys.readouterr().out


def test_nemar_sidecars_read_quietly(both_routes, tmp_path, caplog):
    """nm000232 has no channels.tsv and an electrodes.tsv without coordsystem.json."""
    import shutil

    root = tmp_path / "bids"
    shutil.copytree(both_routes[0], root)
    for path in root.rglob("*_channels.tsv"):
        path.unlink()
    (root / "sub-01" / "ses-01" / "eeg" / "sub-01_ses-01_space-CapTrak_electrodes.tsv"
     ).write_text("name\tx\ty\tz\nO1\t-0.03\t-0.1\t0.0\n")
    rec = bids.find_bids_sessions(root, 1)[0][1]["training"]
    with caplog.at_level("WARNING"):
        raw = bids.read_bids_session(rec)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert raw.ch_names == list(THINGS_EEG2_CHANNELS) + ["STI"]


def test_bad_channels_from_channels_tsv(both_routes, tmp_path):
    import shutil

    import pandas as pd

    from eegvision.data.raw import preprocess_subject

    root = tmp_path / "bids"
    shutil.copytree(both_routes[0], root)
    for path in root.rglob("*_channels.tsv"):  # Oz marked bad in every run
        table = pd.read_csv(path, sep="\t", keep_default_na=False)
        table.loc[table["name"] == "Oz", "status"] = "bad"
        table.to_csv(path, sep="\t", index=False)
    rec = bids.find_bids_sessions(root, 1)[0][1]["test"]
    assert bids.read_bids_session(rec).info["bads"] == ["Oz"]
    from eegvision.data._pickle import load_dict_file

    paths = preprocess_subject(root, 1, tmp_path / "out")  # the default route leaves it out
    assert "Oz" not in load_dict_file(paths[0])["ch_names"]
    assert len(load_dict_file(paths[0])["ch_names"]) == 62


def test_events_errors_name_the_file(tmp_path):
    from eegvision._utils import DataError

    path = tmp_path / "sub-01_task-test_events.tsv"
    path.write_text("onset\tduration\ttrial_type\tvalue\n1.0\t0.1\timage\t3\n")
    with pytest.raises(DataError, match="tot_img_number"):
        bids.read_events_tsv(path, 1000.0)
    path.write_text("onset\tduration\ttrial_type\ttot_img_number\n1.0\t0.1\timage\tn/a\n")
    with pytest.raises(DataError, match="row 2"):
        bids.read_events_tsv(path, 1000.0)
    path.write_text("onset\tduration\ttrial_type\ttot_img_number\n9.0\t0.1\timage\t2\n"
                    "1.0\t0.1\ttarget\tn/a\n")
    events, _ = bids.read_events_tsv(path, 1000.0)
    np.testing.assert_array_equal(events, [[1000, 0, 99999], [9000, 0, 2]])
    with pytest.raises(DataError, match="outside the recording"):
        bids.read_events_tsv(path, 1000.0, n_times=5000)


def test_missing_subject_and_task(both_routes, tmp_path):
    from eegvision._utils import DataError

    with pytest.raises(DataError, match="subject 3 is not in this BIDS root"):
        bids.find_bids_sessions(both_routes[0], 3)
    (tmp_path / "dataset_description.json").write_text("{}")
    (tmp_path / "sub-01" / "ses-01" / "eeg").mkdir(parents=True)
    with pytest.raises(DataError, match="task-train"):
        bids.find_bids_sessions(tmp_path, 1)


def test_analysis_runs_on_a_bids_root(tmp_path):
    """``analyze(data_dir=BIDS root)``: preprocessed once into the cache, named by the events."""
    from eegvision.data.things import load_subject
    from eegvision.pipeline import analyze

    bids_root, _ = write_subject(tmp_path, n_sessions=1, n_train=12, n_test=4, train_runs=1)
    rng = np.random.default_rng(1)
    (bids_root / "dnn_feature").mkdir()
    np.save(bids_root / "dnn_feature" / "clip_feature_maps_training.npy",
            rng.normal(size=(12, 8)).astype(np.float32))
    np.save(bids_root / "dnn_feature" / "center_clip.npy",
            rng.normal(size=(4, 8)).astype(np.float32))
    data = load_subject(bids_root, 1)
    assert data.meta["layout"] == "bids"
    assert data.train.eeg.shape == (12, 63, 250) and data.test.eeg.shape == (4, 63, 250)
    assert data.train.concepts[0] == "concept0" and data.test.concepts[3] == "testconcept3"
    df = analyze("temporal", 1, data_dir=bids_root, model="ridge", windows="0-500",
                 noise_ceiling=False, progress=False, plot=False)
    assert set(df["condition"]) == {"full", "0-500ms"}
    assert df["top1"].between(0, 1).all()
