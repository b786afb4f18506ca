"""Memory-mapped reading of pickled / np.save'd float64 files, as both public codes write them."""

import pickle
import tracemalloc

import numpy as np
import pytest

from eegvision._utils import DataError
from eegvision.data import things
from eegvision.data._mapped import MAP_THRESHOLD, load_dict_mapped


def _eeg(shape=(300, 4, 9, 60), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)  # float64, as the real files


def _write(path, d, how):
    with open(path, "wb") as fh:
        if how == "pickle":  # NICE: pickle.dump(..., protocol=4)
            pickle.dump(d, fh, protocol=4)
        else:  # official: np.save of the dict (a pickle behind a .npy header)
            np.save(fh, d, allow_pickle=True)
    return path


@pytest.mark.parametrize("how", ["pickle", "npy"])
def test_large_arrays_are_mapped_small_ones_read(tmp_path, how):
    eeg = _eeg()
    assert eeg.nbytes > MAP_THRESHOLD
    d = {"preprocessed_eeg_data": eeg, "ch_names": [f"C{i}" for i in range(9)],
         "times": np.arange(60) / 100.0}
    out = load_dict_mapped(_write(tmp_path / "f.npy", d, how))
    assert isinstance(out["preprocessed_eeg_data"], np.memmap)
    np.testing.assert_array_equal(out["preprocessed_eeg_data"], eeg)
    assert not isinstance(out["times"], np.memmap)
    np.testing.assert_array_equal(out["times"], d["times"])
    assert out["ch_names"] == d["ch_names"]


def test_code_in_the_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("true",))

    path = tmp_path / "evil.npy"
    path.write_bytes(pickle.dumps({"x": Evil()}, protocol=4))
    with pytest.raises(DataError, match="refused to load"):
        load_dict_mapped(path)


def test_truncated_file_is_a_clear_error(tmp_path):
    path = _write(tmp_path / "f.npy", {"preprocessed_eeg_data": _eeg()}, "pickle")
    path.write_bytes(path.read_bytes()[:-200_000])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dict_mapped(path)


@pytest.mark.parametrize("how", ["pickle", "npy"])
def test_reading_float64_never_holds_the_file(tmp_path, monkeypatch, how):
    """Averaged float32 reading allocates the result plus a chunk, not the 17 MB file."""
    monkeypatch.setattr(things, "_CHUNK", 16)
    eeg = _eeg((900, 4, 9, 60), seed=1)
    d = {"preprocessed_eeg_data": eeg, "ch_names": [f"C{i}" for i in range(9)],
         "times": np.arange(60) / 100.0}
    path = _write(tmp_path / "preprocessed_eeg_training.npy", d, how)
    tracemalloc.start()
    try:
        out = things.read_preprocessed(path, cache=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result = out["eeg"].nbytes  # 900 x 9 x 60 float32 = 1.9 MB
    chunk = 16 * 4 * 9 * 60 * 8 * 2
    assert peak < 1.3 * result + chunk + 200_000, (peak, result, eeg.nbytes)
    np.testing.assert_allclose(out["eeg"], eeg.mean(1).astype(np.float32), rtol=1e-6)


def test_forms_the_mapper_does_not_take_are_read_the_usual_way(tmp_path):
    """Protocol 5 (in-band buffers) and long bytes values still load, unmapped."""
    eeg = _eeg((40, 4, 9, 60))
    for i, d in enumerate(({"preprocessed_eeg_data": eeg},
                           {"preprocessed_eeg_data": eeg[:2], "blob": b"x" * (2 * MAP_THRESHOLD)})):
        path = tmp_path / f"f{i}.npy"
        path.write_bytes(pickle.dumps(d, protocol=5))
        out = load_dict_mapped(path)
        np.testing.assert_array_equal(out["preprocessed_eeg_data"], d["preprocessed_eeg_data"])
