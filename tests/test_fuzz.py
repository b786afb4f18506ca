"""Hostile input: every malformed file or absurd option ends in one clear error.

Readers must raise :class:`eegvision.DataError` naming the file (or succeed
with well-formed output); the CLI must exit with status 2 and a message
naming the option, never a raw traceback, and write no results.
"""

from __future__ import annotations

import pickle
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eegvision._utils import DataError
from eegvision.data._pickle import load_dict_file
from eegvision.data.things import read_features, read_preprocessed

FAST = settings(max_examples=40, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _write(tmp_path, payload, how, name="preprocessed_eeg_test.npy"):
    path = tmp_path / name
    if how == "np.save":
        np.save(path, np.array(payload, dtype=object), allow_pickle=True)
    elif how == "pickle":
        with open(path, "wb") as fh:
            pickle.dump(payload, fh, protocol=4)
    else:
        path.write_bytes(payload)
    return path


def _check_reader_output(out):
    eeg = out["eeg"]
    assert eeg.dtype == np.float32 and eeg.ndim == 3
    assert eeg.shape[1:] == (len(out["ch_names"]), len(out["times"]))
    assert np.isfinite(eeg).all()
    assert eeg.size, "empty EEG accepted"


def _expect_clear_error(fn, path):
    """Call ``fn``; return its output, or check it raised DataError naming ``path``."""
    try:
        return fn()
    except DataError as err:
        assert str(path) in str(err), f"error does not name the file: {err}"
        return None


# ------------------------------------------------------------ strategies
arrays = st.one_of(
    hnp.arrays(st.sampled_from([np.float32, np.float64, np.int16, np.bool_, np.complex64]),
               hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
               elements=None),
    st.just(np.array([np.nan, np.inf])),
    st.just(np.empty((0, 2, 3, 4))),
    st.just(np.empty((2, 0, 3, 4))),
    st.just(np.array(["a", "b"])),
    st.just(np.array([{"x": 1}], dtype=object)),
)
values = st.one_of(arrays, st.none(), st.integers(), st.text(max_size=5),
                   st.lists(st.text(max_size=3), max_size=4), st.floats(),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def preprocessed_dicts(draw):
    """Mostly plausible dicts with one or more things wrong."""
    n_cond, n_rep = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    n_ch, n_t = draw(st.integers(0, 4)), draw(st.integers(0, 5))
    eeg = draw(hnp.arrays(st.sampled_from([np.float32, np.float64]),
                          (n_cond, n_rep, n_ch, n_t),
                          elements=st.floats(-1e3, 1e3, width=32) | st.just(np.nan)))
    d = {"preprocessed_eeg_data": eeg,
         "ch_names": [f"C{i}" for i in range(draw(st.integers(0, 5)))],
         "times": np.linspace(-0.2, 0.8, draw(st.integers(0, 6)))}
    for key in draw(st.lists(st.sampled_from(sorted(d)), max_size=2, unique=True)):
        if draw(st.booleans()):
            del d[key]
        else:
            d[key] = draw(values)
    return d


# ------------------------------------------------------------ readers
@FAST
@given(d=preprocessed_dicts(), how=st.sampled_from(["np.save", "pickle"]),
       cache=st.booleans())
def test_read_preprocessed_malformed_dicts(tmp_path, d, how, cache):
    path = _write(tmp_path, d, how)
    out = _expect_clear_error(lambda: read_preprocessed(path, cache=cache), path)
    if out is not None:
        _check_reader_output(out)


@FAST
@given(payload=st.one_of(values, st.lists(st.integers(), max_size=3)),
       how=st.sampled_from(["np.save", "pickle"]))
def test_load_dict_file_rejects_non_dicts(tmp_path, payload, how):
    path = _write(tmp_path, payload, how)
    out = _expect_clear_error(lambda: load_dict_file(path), path)
    assert out is None or isinstance(out, dict)


@FAST
@given(cut=st.floats(0, 0.999), how=st.sampled_from(["np.save", "pickle"]))
def test_truncated_files(tmp_path, cut, how):
    good = {"preprocessed_eeg_data": np.ones((2, 2, 3, 4), np.float32),
            "ch_names": ["a", "b", "c"], "times": np.arange(4) / 100}
    full = _write(tmp_path, good, how, name="full.npy").read_bytes()
    path = _write(tmp_path, full[:int(len(full) * cut)], "bytes")
    with pytest.raises(DataError, match=str(path).replace("\\", "\\\\")):
        read_preprocessed(path, cache=False)


@FAST
@given(blob=st.binary(max_size=200), prefix=st.sampled_from([b"", b"\x80\x04", b"\x80\x02",
                                                               b"\x93NUMPY\x01\x00"]))
def test_random_bytes(tmp_path, blob, prefix):
    path = _write(tmp_path, prefix + blob, "bytes")
    with pytest.raises(DataError, match="preprocessed_eeg_test.npy"):
        read_preprocessed(path, cache=False)


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return self.target


HOSTILE = {
    "os.system": (__import__("os").system, ("echo pwned",)),
    "eval": (eval, ("1+1",)),
    "getattr": (getattr, ("abc", "upper")),
    "subprocess": (__import__("subprocess").call, (["true"],)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("how", ["np.save", "pickle"])
def test_hostile_pickles_refused(tmp_path, name, how):
    path = _write(tmp_path, {"preprocessed_eeg_data": _Evil(HOSTILE[name])}, how)
    with pytest.raises(DataError, match="refused to load"):
        read_preprocessed(path, cache=False)


@pytest.mark.parametrize("blob", [
    b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.",  # BINBYTES8 of 2**63 bytes
    b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.",  # BINUNICODE8 of 2**63 bytes
    b"\x80\x04\x8a\xff\xff\xff\x7f.",  # LONG4 of 2 GiB
    b"\x80\x02cnumpy\nndarray\n(J\x00\x00\x00\x7f\x85\x85R.",  # np.ndarray((2**31*..,))
    b"\x80\x02c__builtin__\nbytearray\n(\x8a\x06\x00\x00\x00\x00\x00\x01\x85R.",  # 1 TiB
])
def test_resource_bombs_end_in_data_error(tmp_path, blob):
    path = _write(tmp_path, blob, "bytes")
    with pytest.raises(DataError, match="preprocessed_eeg_test.npy"):
        read_preprocessed(path, cache=False)


@FAST
@given(arr=arrays, n_expected=st.none() | st.integers(0, 4))
def test_read_features_hostile_arrays(tmp_path, arr, n_expected):
    path = tmp_path / "clip_feature_maps_test.npy"
    np.save(path, arr, allow_pickle=arr.dtype.hasobject)
    out = _expect_clear_error(lambda: read_features(path, n_expected), path)
    assert out is None or not np.iscomplexobj(arr), "complex features were cast silently"
    if out is not None:
        assert out.dtype == np.float32 and out.ndim == 2 and np.isfinite(out).all()
        assert out.size, "empty features accepted"
        assert n_expected is None or out.shape[0] == n_expected


def test_read_features_pickle_and_truncated(tmp_path):
    path = _write(tmp_path, {"a": 1}, "np.save", name="center_clip.npy")
    with pytest.raises(DataError, match="center_clip.npy"):
        read_features(path)
    np.save(path, np.ones((3, 4), np.float32))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="center_clip.npy"):
        read_features(path)


# ------------------------------------------------------------ CLI
BAD_OPTIONS = [
    (["--epochs", "-3"], None), (["--epochs", "0"], None), (["--epochs", "many"], None),
    (["--subjects", "0"], "--subjects"), (["--subjects", "5-2"], "--subjects"),
    (["--subjects", "-1"], "--subjects"), (["--subjects", ""], "--subjects"),
    (["--subject", "0"], None), (["--seeds", "3-1"], "--seeds"), (["--seeds", "x"], "--seeds"),
    (["--seed", "-1"], None), (["--jobs", "0"], None), (["--backend", "spark"], None),
    (["--windows", "100-50"], "--windows"), (["--windows", "a-b"], "--windows"),
    (["--windows", "50-50"], "--windows"), (["--width", "-5", "--windows", None], "--width"),
    (["--step", "0", "--windows", None], "--step"), (["--mode", "zigzag", "--windows", None],
                                                     "--mode"),
    (["--model", "definitely-not-a-model"], "model"), (["--device", "tpu"], None),
    (["--recipe", "slow"], None), (["--config", "/nonexistent/recipe.toml"], "--config"),
]


def _analyze_argv(root, out, extra, analysis="temporal"):
    argv = ["analyze", analysis, "--data-dir", str(root), "--model", "ridge", "--out", str(out)]
    extra = list(extra)
    if None in extra:  # "--windows", None: leave --windows out so --width/--step/--mode apply
        i = extra.index(None)
        del extra[i - 1:i + 1]
    elif "--windows" not in extra:
        argv += ["--windows", "0-100"]
    return argv + extra


@pytest.mark.parametrize("extra,option", BAD_OPTIONS, ids=lambda v: str(v))
def test_cli_absurd_options(tiny_root, tmp_path, capsys, extra, option):
    from eegvision.cli import main

    out = tmp_path / "out"
    argv = _analyze_argv(tiny_root, out, extra)
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse: usage error
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if option is not None:
        assert option in err, err
    assert not (out / "results.csv").exists()


@settings(max_examples=25, deadline=timedelta(seconds=10),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(analysis=st.text(st.characters(codec="ascii"), min_size=1, max_size=8),
       bands=st.text(st.characters(codec="ascii", exclude_characters=","), min_size=1,
                     max_size=8))
def test_cli_unknown_analysis_and_band(tiny_root, tmp_path, capsys, analysis, bands):
    from eegvision.analysis.registry import names as analysis_names
    from eegvision.cli import main

    if analysis in analysis_names() or analysis.startswith("-"):
        return
    with pytest.raises(SystemExit) as exc:
        main(["analyze", analysis, "--data-dir", str(tiny_root)])
    assert exc.value.code == 2
    out = tmp_path / "bands"
    spec = f"nonsense{bands}".replace("=", "")
    status = main(["analyze", "spectral", "--data-dir", str(tiny_root), "--model", "ridge",
                   "--bands", spec, "--out", str(out)])
    assert status == 2
    assert "--bands" in capsys.readouterr().err
    assert not (out / "results.csv").exists()


def test_cache_entry_that_is_valid_json_but_not_a_record(tmp_path):
    """A hand-edited or foreign ``<key>.json`` in jobs/ is ignored, not read as a result."""
    from eegvision.runner import Job, load_cached

    job = Job("temporal", 1, "full", 0)
    for text in ("{}", "[]", "null", '{"row": 3}'):
        (tmp_path / f"{job.key}.json").write_text(text)
        assert load_cached(tmp_path, job) is None, text


def test_unreadable_stream_does_not_leak(tmp_path):
    """``load_dict_file`` on a directory or a FIFO-like path names the path."""
    with pytest.raises(DataError, match=str(tmp_path)):
        load_dict_file(tmp_path)


@pytest.mark.parametrize("blob", [b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x01",  # 72 PB frame
                                  b"\x80\x04\x8e" + b"\xff" * 8 + b"x",  # BINBYTES8, huge
                                  b"\x80\x02B\xff\xff\xff\x7fabc",  # BINBYTES, 2 GB
                                  # BYTEARRAY8 of 72 PB: allocated before any read
                                  b"\x80\x04\x96\x00\x00\x00\x00\x00\x00\x00\x01"])
def test_huge_length_fields_are_corrupt_not_memory_errors(tmp_path, blob):
    """Found by test_random_bytes: a length field larger than the file is a clear error."""
    path = _write(tmp_path, blob, "bytes")
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_preprocessed(path, cache=False)


# ------------------------------------------- pickle streams from admitted globals
# Issue 15: the fuzzing above pickles real Python objects, so it never calls an
# admitted constructor with arguments a real object would not produce. These
# strategies assemble opcode streams that call every admitted global with
# hostile arguments (object and structured dtypes, huge or negative sizes,
# zero strides, nested calls, BUILD states on anything).
from tests import _hostile as H  # noqa: E402

ADMITTED = [("numpy", "ndarray"), ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
            ("numpy._core.numeric", "_frombuffer"), ("collections", "OrderedDict"),
            ("_codecs", "encode")] + [("builtins", n) for n in (
                "dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int",
                "float", "complex", "bool", "slice", "range")]
DTYPE_SPECS = ["f4", "<f8", ">i2", "u1", "b1", "?", "c8", "U3", "S2", "O8", "O", "V8", "V0",
               "U0", "U2000000000", "f3", "M8", "(2,)f4", "i8,i8", "object", "", "S0"]
leaf_ops = st.one_of(
    st.integers(-2**70, 2**70).map(H.integer),
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**40, 10**12]).map(H.integer),
    st.sampled_from(DTYPE_SPECS + ["C", "F", "K", "latin1", "utf-8", "rot13", "x" * 5000])
    .map(H.text),
    st.text(max_size=4).map(H.text),
    st.binary(max_size=24).map(H.raw_bytes),
    st.sampled_from([H.NONE, H.TRUE, H.FALSE, H.EMPTY_DICT, H.EMPTY_LIST]),
    st.sampled_from(DTYPE_SPECS).map(H.dtype),
)


def _stream_children(children):
    globals_ = st.sampled_from(ADMITTED).map(lambda mn: H.glob(*mn))
    return st.one_of(
        st.lists(children, max_size=5).map(lambda xs: H.tup(*xs)),
        st.lists(children, max_size=4).map(
            lambda xs: H.EMPTY_LIST + b"".join(x + H.APPEND for x in xs)),
        st.tuples(globals_, st.lists(children, max_size=5)).map(
            lambda t: H.call(t[0], *t[1])),
        st.tuples(children, children).map(lambda t: t[0] + t[1] + H.BUILD),
        st.tuples(st.sampled_from(DTYPE_SPECS), children).map(
            lambda t: H.dtype(t[0], t[1])),
        st.tuples(children, children, st.lists(st.integers(-1, 8), max_size=4)).map(
            lambda t: H.reconstruct(t[0], t[1], dims=tuple(t[2]))),
    )


pickle_streams = st.recursive(leaf_ops, _stream_children, max_leaves=12)


@settings(max_examples=150, deadline=timedelta(seconds=5),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=pickle_streams, how=st.sampled_from(["pickle", "npy"]),
       key=st.sampled_from(["preprocessed_eeg_data", "ch_names", "times", "extra"]))
def test_admitted_constructors_with_hostile_arguments(tmp_path, value, how, key):
    """Whatever the admitted globals are called with: a valid result or one DataError."""
    path = H.write(tmp_path / "preprocessed_eeg_test.npy", H.eeg_dict(value, key=key), how)
    out = _expect_clear_error(lambda: read_preprocessed(path, cache=False), path)
    if out is not None:
        _check_reader_output(out)
    obj = _expect_clear_error(lambda: load_dict_file(path), path)
    assert obj is None or isinstance(obj, dict)
