"""The restricted unpickler: round trips, hostile pickles, corrupt files."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from eegvision._utils import DataError
from eegvision.data._pickle import load_dict_file, load_npy_object, load_pickle


def _sample():
    rng = np.random.default_rng(0)
    return {"a": rng.standard_normal((3, 2, 4)),
            "f32": np.asfortranarray(rng.standard_normal((5, 3)).astype(np.float32)),
            "names": ["Fp1", "Fp2"], "obj": np.array(["x", "yy"], dtype=object),
            "scalar": np.float64(2.5), "nested": {"t": (1, 2.0, "s"), "i": np.arange(4)}}


def _check(out, ref):
    np.testing.assert_array_equal(out["a"], ref["a"])
    np.testing.assert_array_equal(out["f32"], ref["f32"])
    assert out["f32"].dtype == np.float32
    assert list(out["obj"]) == ["x", "yy"]
    assert out["scalar"] == 2.5 and out["names"] == ["Fp1", "Fp2"]
    np.testing.assert_array_equal(out["nested"]["i"], np.arange(4))
    assert out["nested"]["t"] == (1, 2.0, "s")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_round_trip(tmp_path, protocol):
    ref = _sample()
    path = tmp_path / "d.pkl"
    with open(path, "wb") as fh:
        pickle.dump(ref, fh, protocol=protocol)
    _check(load_pickle(path), ref)
    _check(load_dict_file(path), ref)


def test_npy_object_round_trip(tmp_path):
    ref = _sample()
    np.save(tmp_path / "d.npy", ref)
    _check(load_npy_object(tmp_path / "d.npy"), ref)
    _check(load_dict_file(tmp_path / "d.npy"), ref)


def test_plain_npy_array_is_not_a_dict(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(3))
    with pytest.raises(DataError, match="expected a saved dict"):
        load_dict_file(tmp_path / "x.npy")


class _System:
    def __reduce__(self):
        return (os.system, ("true",))


class _Marker:
    """Writes a marker file when unpickled (were it allowed)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (_write_marker, (self.path,))


def _write_marker(path):
    with open(path, "w") as fh:
        fh.write("pwned")
    return 0


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_hostile_pickle_refused(tmp_path, protocol):
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"preprocessed_eeg_data": _System()}, fh, protocol=protocol)
    with pytest.raises(DataError, match=r"refused to load (posix|os)\.system") as err:
        load_dict_file(path)
    assert str(path) in str(err.value)


def test_hostile_callable_never_runs(tmp_path):
    marker = tmp_path / "marker.txt"
    evil = {"x": np.zeros(2), "y": _Marker(marker)}
    pkl, npy = tmp_path / "evil.pkl", tmp_path / "evil.npy"
    with open(pkl, "wb") as fh:
        pickle.dump(evil, fh, protocol=4)
    np.save(npy, evil, allow_pickle=True)
    for path in (pkl, npy):
        with pytest.raises(DataError, match="_write_marker"):
            load_dict_file(path)
    assert not marker.exists()


def test_getattr_gadget_refused(tmp_path):
    # builtins.getattr is the classic way to reach os from allowed objects.
    path = tmp_path / "g.pkl"
    path.write_bytes(b"\x80\x04cbuiltins\ngetattr\n.")
    with pytest.raises(DataError, match="refused to load builtins.getattr"):
        load_pickle(path)


@pytest.mark.parametrize("kind", ["pkl", "npy"])
def test_truncated_file(tmp_path, kind):
    ref = {"a": np.arange(1000.0)}
    path = tmp_path / f"t.{kind}"
    if kind == "npy":
        np.save(path, ref)
    else:
        with open(path, "wb") as fh:
            pickle.dump(ref, fh, protocol=4)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dict_file(path)


def test_not_a_pickle(tmp_path):
    path = tmp_path / "x.npy"
    path.write_text("hello")
    with pytest.raises(DataError, match="neither a .npy file nor a pickle"):
        load_dict_file(path)


def test_arrays_share_the_pickled_bytes(tmp_path):
    path = tmp_path / "big.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"a": np.ones((64, 1024))}, fh, protocol=4)
    arr = load_pickle(path)["a"]
    assert arr.base is not None and not arr.flags.owndata  # no copy was made
    assert arr.sum() == 64 * 1024
