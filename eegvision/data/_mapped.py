"""Load a pickled dict of arrays with the large arrays memory-mapped, not read.

THINGS-EEG2's preprocessed files are pickled dicts (``pickle.dump`` protocol 4
by NICE, ``np.save`` of a dict, i.e. a pickle behind a ``.npy`` header, by the
official code) whose EEG is float64: NICE's 250-Hz training file is 8.3 GB.
Unpickling it reads all 8.3 GB into memory before anything can be averaged or
converted. Here the pickle is parsed with the same allow-list as
:mod:`eegvision.data._pickle` (its ``find_class``), but a byte string longer
than :data:`MAP_THRESHOLD` is not read: the parser skips it and the array built
on it becomes a read-only :class:`numpy.memmap` of the file's bytes. Readers
then convert chunk by chunk (see :func:`release_pages`).
"""

from __future__ import annotations

import io
import math
import mmap
import pickle
from pathlib import Path

import numpy as np

from .._utils import DataError, data_error
from . import _pickle

#: Byte strings at least this long are memory-mapped instead of read.
MAP_THRESHOLD = 1 << 20


class _Span:
    """A byte string of the file left unread: ``n`` bytes from ``offset``."""

    __slots__ = ("offset", "n")

    def __init__(self, offset, n):
        self.offset, self.n = offset, n

    def __len__(self):
        return self.n


class _SkippingReader:
    """A binary file whose long reads return a :class:`_Span` and seek past the bytes."""

    def __init__(self, fh, size):
        self._fh, self._size = fh, size

    def read(self, n=-1):
        if n is not None and n >= MAP_THRESHOLD:
            offset = self._fh.tell()
            if offset + n > self._size:
                raise EOFError(f"a length field asks for {n} bytes, but only "
                               f"{self._size - offset} remain")
            self._fh.seek(n, 1)
            return _Span(offset, n)
        return self._fh.read(n)

    def readinto(self, buf):
        return self._fh.readinto(buf)

    def readline(self, size=-1):
        return self._fh.readline(size)

    def peek(self, n=0):
        return self._fh.peek(n)


class _MappingUnpickler(pickle._Unpickler):  # the pure-Python parser calls read() per opcode
    """Restricted unpickler (the allow-list of :mod:`._pickle`) that maps long byte strings."""

    def __init__(self, fh, **kwargs):
        super().__init__(fh, **kwargs)
        # the allow-list is whatever _pickle's unpickler admits: ask an instance of it
        self._gate = _pickle._RestrictedUnpickler(io.BytesIO(b""), **kwargs)

    def find_class(self, module, name):
        return self._gate.find_class(module, name)


def _build(stub, path, resolve):
    """An :class:`_pickle._ArrayStub` whose bytes are a :class:`_Span` -> memmap; else as usual.

    The same checks as :meth:`_pickle._ArrayStub.build`: a plain numeric, bool
    or string dtype rebuilt from its spec (never an object dtype over bytes),
    a checked shape, and a byte count equal to shape times item size.
    """
    state = stub.state
    if state is not None and len(state) in (4, 5) and isinstance(state[-1], _Span):
        shape, dtype, fortran, span = state[-4:]
        dtype = _pickle._as_dtype(dtype)  # allow_object=False: no pointers from file bytes
        shape = _pickle._checked_shape(shape)
        if math.prod(shape) * dtype.itemsize != span.n:
            raise ValueError("array data of the wrong size")
        return np.memmap(path, dtype=dtype, mode="r", offset=span.offset, shape=shape,
                         order="F" if fortran else "C")
    return stub.build(resolve)


def _resolve(obj, path, seen):
    """:func:`_pickle._resolve`, with the arrays over a :class:`_Span` memory-mapped."""
    if isinstance(obj, _pickle._ArrayStub):
        key = id(obj)
        if key not in seen:
            seen[key] = _build(obj, path, lambda item: _resolve(item, path, seen))
        return seen[key]
    if isinstance(obj, _Span):
        raise TypeError("a long byte string outside an array")
    if isinstance(obj, dict):  # containers: walk them here so that nested stubs map too
        seen[id(obj)] = obj
        for k in list(obj):
            obj[k] = _resolve(obj[k], path, seen)
        return obj
    if isinstance(obj, list):
        seen[id(obj)] = obj
        obj[:] = [_resolve(item, path, seen) for item in obj]
        return obj
    if isinstance(obj, tuple):
        seen[id(obj)] = out = tuple(_resolve(item, path, seen) for item in obj)
        return out
    return _pickle._resolve(obj, seen)  # dtypes, sets, object arrays, refusals


def load_dict_mapped(path):
    """Load a dict saved by ``pickle.dump`` or ``np.save``, its large arrays memory-mapped.

    Parameters
    ----------
    path : str | Path
        The file (format sniffed from its first bytes).

    Returns
    -------
    obj : dict
        As :func:`eegvision.data._pickle.load_dict_file` returns it, except
        that arrays of at least :data:`MAP_THRESHOLD` bytes are read-only
        :class:`numpy.memmap` views of the file.
    """
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "file not found.", "check the path and the data root.")
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(0)
        head = fh.read(6)
        fh.seek(0)
        if head == _pickle._NPY_MAGIC:
            shape, _, dtype = _pickle._read_npy_header(fh, path)
            if not dtype.hasobject:
                raise data_error(path, f"expected a saved dict (object array), found a {dtype} "
                                       f"array of shape {shape}.",
                                 "point eegvision at the file written with np.save(path, dict).")
        elif head[:1] != b"\x80":
            raise data_error(path, "neither a .npy file nor a pickle (unknown first bytes "
                                   f"{head!r}).", _pickle._CORRUPT_FIX)
        obj = _unpickle(fh, size, path)
    if obj is _FALLBACK:  # a form the mapping parser does not take: read it the usual way
        return _pickle.load_dict_file(path)
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.ndim == 0:
        obj = obj.item()
    if not isinstance(obj, dict):
        raise data_error(path, f"expected a dict, found {type(obj).__name__}.",
                         "point eegvision at a THINGS-EEG2 file (a saved dict).")
    return obj


_FALLBACK = object()


def _unpickle(fh, size, path):
    """The object, or ``_FALLBACK`` when a long byte string is used other than as array data.

    (E.g. protocol 5's in-band ``BYTEARRAY8`` buffers, or a long ``bytes``
    value: :func:`_pickle.load_dict_file` then reads the file, and reports
    a corrupt one.)
    """
    try:
        _pickle._scan_structure(fh)  # depth and cycles bounded before anything is built
        raw = _MappingUnpickler(_SkippingReader(fh, size), encoding="latin1").load()
        return _resolve(raw, path, {})
    except (_pickle._TooDeep, _pickle._Refused) as err:
        raise _pickle.refusal(path, err) from None
    except DataError:
        raise
    except Exception:  # noqa: BLE001 - never swallowed: the usual loader reads it again
        return _FALLBACK  # and reports a corrupt file (struct.error, EOFError, ...) its way


def release_pages(arr, start, stop):
    """Drop the resident pages of rows ``start:stop`` of a C-ordered memmap (no-op otherwise).

    Reading a memmap keeps the pages it touched resident (and counted in the
    process's memory) until the kernel needs them; a reader that converts a
    file chunk by chunk calls this after each chunk, so the file's pages never
    accumulate.
    """
    base = getattr(arr, "_mmap", None)
    if base is None or not hasattr(base, "madvise") or not arr.flags.c_contiguous:
        return
    row = arr.strides[0]
    # numpy maps from the allocation-granularity boundary below the array's offset
    lo = arr.offset % mmap.ALLOCATIONGRANULARITY + start * row
    hi = lo + (stop - start) * row
    lo = (lo // mmap.PAGESIZE) * mmap.PAGESIZE
    try:
        base.madvise(mmap.MADV_DONTNEED, lo, max(0, min(hi, len(base)) - lo))
    except (OSError, ValueError, AttributeError):
        pass
