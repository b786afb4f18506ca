"""A restricted loader for untrusted pickles of numpy arrays and plain containers.

THINGS-EEG2 ships its preprocessed and raw EEG as pickled dicts (``pickle.dump``
or ``np.save`` of a dict). A pickle can run any code on load, so eegvision never
calls :func:`pickle.load` on them: :class:`_RestrictedUnpickler` admits only the
globals that numpy arrays, dtypes and scalars and the builtin containers need.

It also saves memory. ``numpy``'s ``_reconstruct`` is replaced by a small
placeholder that wraps the pickled bytes with :func:`numpy.frombuffer` (no copy),
so a 4 GB training file costs about 4 GB to load, not 8.
"""

from __future__ import annotations

import codecs
import os
import pickle
from pathlib import Path

import numpy as np

from .._utils import DataError, data_error

_NPY_MAGIC = b"\x93NUMPY"
_CORRUPT_FIX = ("download the file again (THINGS-EEG2 on OSF: https://osf.io/3jk45/) "
                "or re-run the step that wrote it.")


class _ArrayStub:
    """Stands in for ``numpy.core.multiarray._reconstruct(ndarray, ...)`` during unpickling."""

    __slots__ = ("state",)

    def __init__(self, *args):
        self.state = None

    def __setstate__(self, state):
        self.state = state

    def build(self, resolve):
        """Return the array described by the pickled state (sharing the pickled bytes)."""
        state = self.state
        if state is None:
            raise ValueError("array without state")
        if len(state) == 5:
            state = state[1:]
        shape, dtype, fortran, raw = state
        if not isinstance(dtype, np.dtype):
            raise ValueError(f"bad dtype {type(dtype).__name__}")
        shape = tuple(int(s) for s in shape)
        order = "F" if fortran else "C"
        if dtype.hasobject:
            out = np.empty(shape, dtype=dtype, order=order)
            items = [resolve(item) for item in raw]
            if len(items) != out.size:
                raise ValueError("object array of the wrong length")
            flat = out.reshape(-1, order="A") if out.ndim else out.reshape(1)
            for i, item in enumerate(items):
                flat[i] = item
            return out
        if isinstance(raw, str):  # Python 2 pickles read with encoding='latin1'
            raw = raw.encode("latin1")
        count = int(np.prod(shape, dtype=np.int64))
        if len(memoryview(raw).cast("B")) != count * dtype.itemsize:
            raise ValueError("array data of the wrong size")
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape, order=order)


def _frombuffer(buf, dtype, shape, order, axis_order=None):
    """Protocol-5 array rebuild (``numpy._core.numeric._frombuffer``), without a copy."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise ValueError("bad dtype in pickled buffer")
    array = np.frombuffer(buf, dtype=dtype)
    if order == "K" and axis_order is not None:
        return array.reshape(shape, order="C").transpose(axis_order)
    return array.reshape(shape, order=order)


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    """``_codecs.encode`` as protocol 2 uses it for bytes; no other codec is admitted."""
    if codecs.lookup(encoding).name != "iso8859-1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused to load _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", errors)


def _build_allowed():
    from numpy._core import multiarray

    allowed = {}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _ArrayStub
        allowed[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    for mod in ("builtins", "__builtin__"):
        for obj in (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float,
                    complex, bool, slice, range):
            allowed[(mod, obj.__name__)] = obj
    allowed[("collections", "OrderedDict")] = dict
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` admits only numpy array parts and builtins."""

    _allowed = None

    def find_class(self, module, name):
        if _RestrictedUnpickler._allowed is None:
            _RestrictedUnpickler._allowed = _build_allowed()
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None


class _Refused(Exception):
    """A global outside the allow-list was requested."""


def _resolve(obj, seen):
    """Replace every :class:`_ArrayStub` in ``obj`` (dicts, lists, tuples, sets) by its array."""
    key = id(obj)
    if key in seen:
        return seen[key]
    if isinstance(obj, _ArrayStub):
        seen[key] = out = obj.build(lambda item: _resolve(item, seen))
        return out
    if isinstance(obj, dict):
        seen[key] = obj
        for k in list(obj):
            obj[k] = _resolve(obj[k], seen)
        return obj
    if isinstance(obj, list):
        seen[key] = obj
        obj[:] = [_resolve(item, seen) for item in obj]
        return obj
    if isinstance(obj, (tuple, set, frozenset)):
        seen[key] = out = type(obj)(_resolve(item, seen) for item in obj)
        return out
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        seen[key] = obj
        flat = obj.reshape(-1) if obj.ndim else obj.reshape(1)
        for i, item in enumerate(flat):
            flat[i] = _resolve(item, seen)
        return obj
    return obj


class _BoundedReader:
    """A binary file whose reads may not ask for more bytes than the file has left.

    A corrupt length field (a pickle frame or bytes object that claims
    petabytes) would otherwise make the unpickler allocate that much, and fail
    with MemoryError, before it finds out that the file is short.
    """

    def __init__(self, fh):
        self._fh = fh
        self._size = os.fstat(fh.fileno()).st_size

    def _check(self, n):
        left = self._size - self._fh.tell()
        if n > left:
            raise EOFError(f"a length field asks for {n} bytes, but only {left} remain")

    def read(self, n=-1):
        if n is not None and n >= 0:
            self._check(n)
        return self._fh.read(n)

    def readinto(self, buf):
        self._check(memoryview(buf).nbytes)
        return self._fh.readinto(buf)

    def readline(self, size=-1):
        return self._fh.readline(size)

    def peek(self, n=0):
        return self._fh.peek(n)


def _physical_memory():
    """Bytes of physical memory (a very large number where unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return float("inf")


def _unpickle_stream(fh, path):
    """Unpickle one object from an open binary file with the restricted unpickler."""
    try:
        obj = _RestrictedUnpickler(_BoundedReader(fh), encoding="latin1").load()
        return _resolve(obj, {})
    except _Refused as err:
        raise data_error(path, f"refused to load {err}: the pickle asks for code outside "
                               "numpy arrays and builtin containers.",
                         "only load files from a trusted source; eegvision never runs code "
                         "from a data file.") from None
    except DataError:
        raise
    except MemoryError:
        # A length field is backed by the file's own bytes, so a file much smaller than
        # the machine's memory can only run out of it through a corrupt length (e.g. a
        # BYTEARRAY8 that claims petabytes, allocated before anything is read).
        if os.fstat(fh.fileno()).st_size * 4 < _physical_memory():
            raise data_error(path, "truncated or corrupt pickle (a length field asks for more "
                                   "memory than this machine has).", _CORRUPT_FIX) from None
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, RecursionError, UnicodeError) as err:
        raise data_error(path, f"truncated or corrupt pickle ({type(err).__name__}: {err}).",
                         _CORRUPT_FIX) from None


def load_pickle(path):
    """Load a file written by :func:`pickle.dump` (protocol 2-5), refusing any code.

    Parameters
    ----------
    path : str | Path
        The pickle file.

    Returns
    -------
    obj : object
        The unpickled object. numpy arrays share the bytes read from the file
        and may be read-only.

    Raises
    ------
    DataError
        When the pickle asks for a global outside numpy arrays and builtins
        (``refused to load os.system``), or the file is truncated or corrupt.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        return _unpickle_stream(fh, path)


def _read_npy_header(fh, path):
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            return fmt.read_array_header_1_0(fh)
        if version == (2, 0):
            return fmt.read_array_header_2_0(fh)
        return fmt._read_array_header(fh, version)
    except (ValueError, OSError, SyntaxError) as err:
        raise data_error(path, f"truncated or corrupt .npy header ({err}).", _CORRUPT_FIX) from None


def load_npy_object(path):
    """Load a ``.npy`` written by ``np.save`` of a dict, with the restricted unpickler.

    Parameters
    ----------
    path : str | Path
        A ``.npy`` file holding a 0-d object array.

    Returns
    -------
    obj : dict | object
        The saved object (``arr.item()``).
    """
    path = Path(path)
    with open(path, "rb") as fh:
        shape, _, dtype = _read_npy_header(fh, path)
        if not dtype.hasobject:
            raise data_error(path, f"expected a saved dict (object array), found a {dtype} "
                                   f"array of shape {shape}.",
                             "point eegvision at the file written with np.save(path, dict).")
        arr = _unpickle_stream(fh, path)
    if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
        raise data_error(path, "truncated or corrupt .npy: the payload is not the array "
                               "the header announces.", _CORRUPT_FIX)
    return arr.item() if arr.ndim == 0 else arr


def load_dict_file(path):
    """Load a dict saved by ``pickle.dump`` or ``np.save``, whichever wrote the file.

    Parameters
    ----------
    path : str | Path
        The file; the format is sniffed from its first bytes, not its name.

    Returns
    -------
    obj : dict
        The loaded dict.
    """
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "file not found.", "check the path and the data root.")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head == _NPY_MAGIC:
        obj = load_npy_object(path)
    elif head[:1] == b"\x80":
        obj = load_pickle(path)
    else:
        raise data_error(path, "neither a .npy file nor a pickle (unknown first bytes "
                               f"{head!r}).", _CORRUPT_FIX)
    if not isinstance(obj, dict):
        raise data_error(path, f"expected a dict, found {type(obj).__name__}.",
                         "point eegvision at a THINGS-EEG2 file (a saved dict).")
    return obj
