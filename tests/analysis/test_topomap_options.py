"""Topomaps: the mean EEG from the training data (NICE's topo.py), and channel order by name."""

import numpy as np
import pytest

from eegvision.analysis import saliency
from eegvision.data.container import EEGImageData
from eegvision.data.montage import OFFICIAL_17_CHANNELS, THINGS_EEG2_CHANNELS, make_info


def _data(n, offset, names, seed):
    rng = np.random.default_rng(seed)
    return EEGImageData(rng.standard_normal((n, len(names), 100)) + offset,
                        rng.standard_normal((n, 16)), [f"c{i}" for i in range(n)], names,
                        np.arange(100) / 250.0)


def test_mean_eeg_from_training_data():
    pytest.importorskip("torch")
    from eegvision.models.nice import NICE
    from eegvision.models.projector import ContrastiveModel, ImageProjector

    names = THINGS_EEG2_CHANNELS[:8]
    train, test = _data(30, 5.0, names, 0), _data(6, -5.0, names, 1)
    model = ContrastiveModel(NICE(8, 100, 16), ImageProjector(16))
    on_test = saliency.compute_saliency(model, test, bin_ms=100.0)
    on_train = saliency.compute_saliency(model, test, train=train, bin_ms=100.0,
                                         mean_eeg="train")
    np.testing.assert_allclose(on_train["eeg"][0], train.eeg[:, :, :25].mean((0, 2)), rtol=1e-5)
    assert on_test["eeg"].mean() < 0 < on_train["eeg"].mean()
    np.testing.assert_allclose(on_train["cam"], on_test["cam"])
    with pytest.raises(ValueError, match="needs the training data"):
        saliency.compute_saliency(model, test, mean_eeg="train")


def test_mean_eeg_option_keys_the_condition_only_when_set():
    ref = _data(4, 0.0, THINGS_EEG2_CHANNELS[:8], 0)
    assert "mean_eeg" not in saliency.conditions({}, ref)[0][1]
    assert saliency.conditions({"mean_eeg": "train"}, ref)[0][1]["mean_eeg"] == "train"
    with pytest.raises(ValueError, match="mean_eeg"):
        saliency.conditions({"mean_eeg": "both"}, ref)


def test_positions_follow_the_names_whatever_the_file_order():
    """The official release stores its 17 channels in recording order, NICE in 10-10 order."""
    nice_order = [c for c in THINGS_EEG2_CHANNELS if c in OFFICIAL_17_CHANNELS]
    assert nice_order != OFFICIAL_17_CHANNELS
    a = make_info(OFFICIAL_17_CHANNELS, 100.0)
    b = make_info(nice_order, 100.0)
    pos_a = {ch["ch_name"]: ch["loc"][:3] for ch in a["chs"]}
    pos_b = {ch["ch_name"]: ch["loc"][:3] for ch in b["chs"]}
    for name in OFFICIAL_17_CHANNELS:
        np.testing.assert_array_equal(pos_a[name], pos_b[name])
        assert np.abs(pos_a[name]).sum() > 0
