"""The documented whole path: ``eegvision simulate DIR --raw``, then ``eegvision preprocess``.

Run from the CLI at small sizes with THINGS-EEG2's structure (four sessions,
2 training repetitions per session in two of them, 20 test repetitions in
each, catch trials coded 99999), with the default pipeline and both
published presets, and read back by the readers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from eegvision.cli import main
from eegvision.data import simulate as sim
from eegvision.data.montage import OFFICIAL_17_CHANNELS, THINGS_EEG2_CHANNELS
from eegvision.data.things import load_subject, subject_layouts

N_TRAIN, N_TEST = 20, 6
#: what each mode writes: folder, layout, channels, samples, training and test repetitions
MODES = {  # the default pipeline keeps the recording's channel order
    "default": ("eegvision_preprocessed_250Hz", "eegvision_250hz", sim.raw_channel_order(), 250),
    "official": ("eeg_dataset/preprocessed_data", "official", OFFICIAL_17_CHANNELS, 100),
    "nice": ("Preprocessed_data_250Hz", "nice", THINGS_EEG2_CHANNELS, 250),
}


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory):
    """``eegvision simulate DIR --raw`` at small sizes (the CLI's default sizes, shrunk)."""
    root = tmp_path_factory.mktemp("whole") / "sim"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sim.SIZES, "default", dict(n_train=N_TRAIN, n_train_reps=2, n_test=N_TEST,
                                              n_test_reps=2, dtype="float32"))
        mp.setenv("EEGVISION_SHARED_DATA", str(tmp_path_factory.mktemp("no-shared")))
        assert main(["simulate", str(root), "--raw"]) == 0
    return root


@pytest.fixture(scope="module")
def outputs(raw_root, tmp_path_factory):
    """Each mode preprocessed from the CLI into its own --out."""
    out = {"raw_root": raw_root}
    for mode in MODES:
        out[mode] = tmp_path_factory.mktemp(f"pre-{mode}")
        preset = [] if mode == "default" else ["--preset", mode]
        assert main(["preprocess", "--data-dir", str(raw_root), "--out", str(out[mode])]
                    + preset) == 0, mode
    return out


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_runs_and_is_read_back(outputs, raw_root, mode):
    folder, layout, chans, n_t = MODES[mode]
    root = outputs[mode]
    assert subject_layouts(root, 1) == [layout]
    for name in ("dnn_feature", "image_set"):  # the readers need the features beside the EEG
        (root / name).symlink_to(raw_root / name)
    data = load_subject(root, 1, average=False, cache=False)
    assert data.meta["layout"] == layout
    for part, n_cond, n_reps in ((data.train, N_TRAIN, 4), (data.test, N_TEST, 80)):
        # every repetition of the recording: 2 x 2 sessions (training), 20 x 4 (test)
        assert part.meta["n_repetitions"] == n_reps and part.n_trials == n_cond * n_reps
        assert list(part.ch_names) == list(chans) and part.n_times == n_t
        assert np.isfinite(part.eeg).all() and 0.2 < part.eeg.std() < 5  # whitened: about 1
    assert data.test.times[0] == pytest.approx(-0.2 if mode == "official" else 0.0)


def test_planted_information_survives_the_raw_path(outputs):
    """Split-half reliability of the test conditions peaks in the planted window."""
    from eegvision.data._pickle import load_dict_file

    truth = json.loads((outputs["raw_root"] / "simulation_truth.json").read_text())
    window = np.array(truth["window_ms"]) / 1000
    d = load_dict_file(outputs["default"] / MODES["default"][0] / "sub-01" /
                       "preprocessed_eeg_test.npy")
    x, times = d["preprocessed_eeg_data"], np.asarray(d["times"])
    assert x.shape == (N_TEST, 80, 63, 250)

    def reliability(mask):
        a, b = (h[..., mask].reshape(N_TEST, -1) for h in (x[:, 0::2].mean(1), x[:, 1::2].mean(1)))
        a, b = a - a.mean(0), b - b.mean(0)  # what differs between images, not the ERP
        r = np.corrcoef(a, b)[:N_TEST, N_TEST:]
        return np.diag(r).mean() - r[~np.eye(N_TEST, dtype=bool)].mean()

    inside = (times >= window[0]) & (times <= window[1])
    late = times >= 0.7
    assert reliability(inside) > 0.3 and abs(reliability(late)) < 0.1


def test_preset_refuses_to_replace_the_simulated_layout(raw_root, capsys):
    """Without --out, --preset nice would write over the simulator's own NICE files: refused."""
    before = (raw_root / "Preprocessed_data_250Hz" / "sub-01" /
              "preprocessed_eeg_test.npy").read_bytes()
    assert main(["preprocess", "--data-dir", str(raw_root), "--preset", "nice"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--overwrite" in err
    assert (raw_root / "Preprocessed_data_250Hz" / "sub-01" /
            "preprocessed_eeg_test.npy").read_bytes() == before


def test_default_output_beside_the_published_layouts(raw_root, tmp_path):
    """Without --out the default pipeline writes eegvision's own folder into the root."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(raw_root, root, symlinks=True)
    assert main(["preprocess", "--data-dir", str(root), "--no-mvnn"]) == 0
    assert subject_layouts(root, 1) == ["nice", "eegvision_250hz"]
    truth = json.loads((root / "simulation_truth.json").read_text())
    assert truth["raw_design"]["reps_per_session"] == {"training": 2, "test": 20}
