"""EEGImageData follows MNE's convention: methods in place returning self, .copy() to keep."""

from __future__ import annotations

import numpy as np
import pytest

from eegvision.data.container import EEGImageData, SubjectData
from eegvision.data.montage import OFFICIAL_17_CHANNELS, channel_regions


def _container(n_images=4, reps=3, n_t=50, seed=0):
    rng = np.random.default_rng(seed)
    concepts = np.repeat([f"{i + 1:05d}_thing{i}" for i in range(n_images)], reps)
    eeg = rng.standard_normal((len(concepts), len(OFFICIAL_17_CHANNELS), n_t))
    return EEGImageData(eeg, rng.standard_normal((len(concepts), 8)), concepts,
                        OFFICIAL_17_CHANNELS, -0.1 + np.arange(n_t) / 100.0, meta={"split": "test"})


def test_crop_without_assignment_crops_and_returns_self():
    data = _container()
    assert data.crop(0, 0.2) is data
    assert data.n_times == 21 and data.times[0] == pytest.approx(0) and data.times[-1] == \
        pytest.approx(0.2)


def test_every_modifying_method_works_in_place_and_chains():
    data = _container()
    eeg = data.eeg
    out = data.filter(1.0, 20.0).mask_time(0.0, 0.1).pick(["O1", "O2", "Oz", "Pz"])
    assert out is data and data.ch_names == ["Pz", "O1", "Oz", "O2"]
    assert data.drop_channels(["Pz"]) is data and data.n_channels == 3
    assert data.pick_channels(region="occipital") is data
    # the original array was never written into (methods bind new arrays)
    np.testing.assert_array_equal(eeg, _container().eeg)


def test_mask_time_is_lazy_and_equals_the_written_mask():
    data = _container()
    base = data.eeg
    masked = data.copy(deep=False).mask_time(0.0, 0.1, include_tmax=False)
    # nothing copied yet: the window is recorded and its samples are a view of the original
    assert masked.zero_outside == (10, 20)
    assert np.shares_memory(masked.window_samples(), base) and masked.unmasked_eeg() is base
    assert masked.n_trials == 12 and masked.n_times == 50 and masked.zero_outside == (10, 20)
    # a shallow copy carries the pending mask; a second mask narrows it
    narrowed = masked.copy(deep=False).mask_time(0.05, 0.3)
    assert narrowed.zero_outside == (15, 20) and masked.zero_outside == (10, 20)
    expected = np.zeros_like(base)
    expected[:, :, 10:20] = base[:, :, 10:20]
    np.testing.assert_array_equal(masked.eeg, expected)  # written on first read
    assert masked.zero_outside is None and masked.unmasked_eeg() is masked.eeg
    expected[:, :, 10:15] = 0
    np.testing.assert_array_equal(narrowed.copy(deep=False).eeg, expected)
    np.testing.assert_array_equal(data.eeg, base)  # the original is unchanged
    # methods that make new arrays see the masked EEG
    assert masked.copy(deep=False).mask_time(0.0, 0.1).average().data.shape == (17, 50)
    pending = data.copy(deep=False).mask_time(0.0, 0.1, include_tmax=False)
    np.testing.assert_array_equal(pending.subset([0, 1]).eeg, masked.eeg[:2])
    np.testing.assert_array_equal(pending.copy().eeg, masked.eeg)


def test_disjoint_masks_leave_only_zeros():
    data = _container().mask_time(0.0, 0.05).mask_time(0.2, 0.3)
    assert data.zero_outside[0] == data.zero_outside[1]
    assert not data.eeg.any()


def test_copy_keeps_the_original():
    data = _container()
    for deep in (True, False):
        copy = data.copy(deep=deep)
        copy.crop(0, 0.1).pick("occipital").filter(None, 20.0)
        assert data.n_times == 50 and data.n_channels == 17
    assert not np.shares_memory(data.copy().eeg, data.eeg)


def test_analyses_derive_from_copies(tiny_root):
    from eegvision.analysis import spatial, spectral, temporal
    from eegvision.data.things import load_subject

    subject = load_subject(tiny_root, 1)
    before = subject.train.eeg.copy(), list(subject.test.ch_names)
    temporal.derive(subject, {"tmin_ms": 0.0, "tmax_ms": 100.0})
    spatial.derive(subject, {"region": "occipital", "mode": "only"})
    spectral.derive(subject, {"band": "alpha", "l_freq": 8.0, "h_freq": 12.0, "mode": "pass"})
    np.testing.assert_array_equal(subject.train.eeg, before[0])
    assert subject.test.ch_names == before[1]


def test_indexing_by_concept_list_mask_and_index():
    data = _container()
    one = data["00002_thing1"]
    assert one.n_trials == 3 and set(one.concepts) == {"00002_thing1"}
    assert data[["00001_thing0", "00004_thing3"]].n_trials == 6
    assert data[data.conditions == 0].n_trials == 3
    assert data[0].n_trials == 1 and data[2:5].n_trials == 3
    with pytest.raises(KeyError, match="not in the data"):
        data["nope"]


def test_pick_by_name_index_and_region():
    data = _container()
    occipital = channel_regions(data.ch_names)["occipital"]
    assert data.copy().pick("occipital").ch_names == occipital
    assert data.copy().pick([0, "Oz"]).ch_names == [data.ch_names[0], "Oz"]
    with pytest.raises(ValueError, match="out of range"):
        data.pick(40)


def test_get_data_and_average():
    data = _container()
    arr = data.get_data()
    assert arr.shape == (12, 17, 50) and not np.shares_memory(arr, data.eeg)
    assert data.get_data(copy=False) is data.eeg
    assert data.get_data(picks="Oz", tmin=0, tmax=0.1).shape == (12, 1, 11)
    assert data.n_channels == 17 and data.n_times == 50
    evoked = data.average()
    assert evoked.nave == 12 and evoked.ch_names == data.ch_names
    np.testing.assert_allclose(evoked.data, data.eeg.mean(0, dtype=np.float64))
    assert evoked.times[0] == pytest.approx(-0.1)


def test_plot_methods_return_figures():
    import matplotlib.figure

    data = _container()
    assert isinstance(data.plot_topomap([0.0, 0.1], colorbar=False), matplotlib.figure.Figure)
    assert isinstance(data.plot(), matplotlib.figure.Figure)


def test_subject_data_unchanged_type():
    data = _container()
    assert SubjectData(1, data, data.copy()).train is data


@pytest.mark.parametrize("block_bytes", [1 << 28, 4000])  # one block, or a group or two at a time
def test_average_repetitions_equals_np_add_at_to_the_bit(block_bytes, monkeypatch):
    from eegvision.data import container as C

    rng = np.random.default_rng(2)
    groups = rng.integers(0, 9, 60)  # unequal counts, shuffled
    eeg = rng.standard_normal((60, 3, 7)).astype(np.float32)
    ids, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    ref = np.zeros((len(ids), 3, 7))
    np.add.at(ref, inverse, eeg)
    ref = (ref / counts[:, None, None]).astype(np.float32)
    np.testing.assert_array_equal(C._group_means(eeg, inverse, counts, block_bytes), ref)
    ordered = np.argsort(inverse, kind="stable")  # already grouped: read without a gather
    np.testing.assert_array_equal(
        C._group_means(eeg[ordered], inverse[ordered], counts, block_bytes), ref)
