"""Adversarial suite of issue 15: hostile and careless input.

Every file is built by the tests (``tests/_hostile.py`` assembles the pickles
opcode by opcode). Attacks that once crashed the interpreter (a segfault from
object pointers or C recursion) run in a child process, so a regression fails
one test instead of killing the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eegvision._utils import DataError
from tests import _hostile as H

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ 1. data files
_CHILD = r"""
import json, resource, sys, time
import torch  # imported before the baseline: its own memory is not the attack's
from pathlib import Path
from tests import _hostile as H
from eegvision._utils import DataError
from eegvision.data.things import read_preprocessed, read_image_metadata
from eegvision.train import load_checkpoint

tmp = Path(sys.argv[1])
usage = lambda: resource.getrusage(resource.RUSAGE_SELF)
base_rss = usage().ru_maxrss
def attempt(label, path, fn):
    t0 = time.process_time()
    try:
        fn()
        result = "accepted"
    except DataError as err:
        result = "DataError" if str(path) in str(err) else "DataError without the path"
    except BaseException as err:
        result = f"{type(err).__name__}: {str(err)[:200]}"
    print(json.dumps(dict(label=label, result=result, cpu=time.process_time() - t0,
                          rss_growth_kb=usage().ru_maxrss - base_rss)), flush=True)

for name, attack in H.ATTACKS.items():
    for how in ("pickle", "npy"):
        path = H.write(tmp / f"{name}.{how}", H.eeg_dict(attack()), how)
        attempt(f"eeg:{name}:{how}", path, lambda: read_preprocessed(path, cache=False))
    meta = tmp / name / "image_set" / "image_metadata.npy"
    meta.parent.mkdir(parents=True)
    H.write(meta, H.eeg_dict(attack(), key="train_img_concepts"), "npy")
    attempt(f"metadata:{name}", meta, lambda: read_image_metadata(tmp / name))
ckpt = H.checkpoint_with(tmp / "deep.pt", H.deep_tuple_key(300_000))
attempt("checkpoint:deep_tuple_key", ckpt, lambda: load_checkpoint(ckpt))
ckpt = H.checkpoint_with(tmp / "deep_list.pt", H.nested_list(5000))
attempt("checkpoint:deep_list", ckpt, lambda: load_checkpoint(ckpt))
"""


@pytest.fixture(scope="module")
def attack_results(tmp_path_factory):
    """Run every hostile file through the readers in one child process."""
    tmp = tmp_path_factory.mktemp("hostile")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(tmp)], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                               "PATH": "/usr/bin:/bin", "EEGVISION_CACHE": str(tmp / "c")})
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, {r["label"]: r for r in rows}


def _labels():
    out = [f"eeg:{n}:{how}" for n in H.ATTACKS for how in ("pickle", "npy")]
    return out + [f"metadata:{n}" for n in H.ATTACKS] + ["checkpoint:deep_tuple_key",
                                                         "checkpoint:deep_list"]


@pytest.mark.parametrize("label", _labels())
def test_hostile_file_is_one_clear_error(attack_results, label):
    proc, rows = attack_results
    assert label in rows, (f"the reader died on {label} (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    assert rows[label]["result"] == "DataError", rows[label]


def test_hostile_files_are_refused_fast_and_small(attack_results):
    """A tiny hostile file is refused in under 1 s of CPU and under 100 MB of extra memory.

    CPU time, not wall time, so a busy machine does not fail the bound; the
    memory is the growth of the child's peak RSS over its peak after imports.
    """
    _, rows = attack_results
    assert rows
    for label, row in rows.items():
        assert row["cpu"] < 1.0, (label, row)
        assert row["rss_growth_kb"] < 100 * 1024, (label, row)


def test_admitted_plain_arrays_still_load(tmp_path):
    """The guards keep every legitimate numpy array (all plain dtypes, both orders, protocols)."""
    import pickle

    from eegvision.data._pickle import load_dict_file

    arrays = {f"{dt}{order}": np.asarray(np.arange(6).reshape(2, 3), dtype=dt, order=order)
              for dt in ("f4", ">f8", "i2", "u1", "?", "c8", "U3", "S2") for order in "CF"}
    arrays["obj"] = np.array([{"x": 1}, [1, 2]], dtype=object)
    arrays["scalar"] = np.float32(3.5)
    arrays["str_scalar"] = np.str_("abc")
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        out = load_dict_file(path)
        for key, arr in arrays.items():
            if isinstance(arr, np.ndarray) and arr.dtype.hasobject:
                assert list(out[key]) == list(arr)
            else:
                np.testing.assert_array_equal(out[key], arr)
                assert np.asarray(out[key]).dtype == np.asarray(arr).dtype, key


def test_failed_read_writes_no_cache_entry(tmp_path, monkeypatch):
    """A read that fails leaves no cache entry; a cache write that fails leaves nothing."""
    import errno

    from eegvision.data import things

    monkeypatch.setenv("EEGVISION_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "nan.npy"
    eeg = np.ones((3, 2, 2, 4), np.float32)
    eeg[1, 0, 0, 0] = np.nan
    np.save(bad, np.array({"preprocessed_eeg_data": eeg, "ch_names": ["a", "b"],
                           "times": np.arange(4) / 100}, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="NaN"):
        things.read_preprocessed(bad)
    assert not list((tmp_path / "cache").rglob("*.npy"))

    good = tmp_path / "good.npy"
    eeg[1, 0, 0, 0] = 0
    np.save(good, np.array({"preprocessed_eeg_data": eeg, "ch_names": ["a", "b"],
                            "times": np.arange(4) / 100}, dtype=object), allow_pickle=True)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(things, "write_json", full_disk)
    out = things.read_preprocessed(good)  # the read itself succeeds
    assert out["eeg"].shape == (3, 2, 4)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    monkeypatch.undo()
    monkeypatch.setenv("EEGVISION_CACHE", str(tmp_path / "cache"))
    things.read_preprocessed(good)
    hit = things._read_cache(good)
    assert hit is not None and np.array_equal(hit["eeg"], out["eeg"])
