"""A restricted loader for untrusted pickles of numpy arrays and plain containers.

THINGS-EEG2 ships its preprocessed and raw EEG as pickled dicts (``pickle.dump``
or ``np.save`` of a dict). A pickle can run any code on load, so eegvision never
calls :func:`pickle.load` on them: :class:`_RestrictedUnpickler` admits only the
globals that numpy arrays, dtypes and scalars and the builtin containers need.

Before anything is built, :func:`_scan_structure` walks the opcodes (seeking
over payloads) and refuses nesting deeper than :data:`_MAX_DEPTH` or cycles, so
no C recursion (hashing a nested tuple key) or Python recursion can overflow.
No array is laid over file bytes with a dtype or strides the file chooses:
``numpy.ndarray`` is never callable, dtypes are rebuilt from plain numeric,
bool and string specs, object arrays only from lists of unpickled items, and
every array's byte count must equal its shape times its item size.

It also saves memory. ``numpy``'s ``_reconstruct`` is replaced by a small
placeholder that wraps the pickled bytes with :func:`numpy.frombuffer` (no copy),
so a 4 GB training file costs about 4 GB to load, not 8.
"""

from __future__ import annotations

import codecs
import math
import os
import pickle
import pickletools
import re
import struct
from pathlib import Path

import numpy as np

from .._utils import DataError, data_error

_NPY_MAGIC = b"\x93NUMPY"
_CORRUPT_FIX = ("download the file again (THINGS-EEG2 on OSF: https://osf.io/3jk45/) "
                "or re-run the step that wrote it.")


_SIMPLE_DTYPE = re.compile(r"^[<>|=]?(b1|\?|[iu][1248]|f[248]|c(8|16)|[US]\d{1,7})$")
_MAX_ITEMSIZE = 1 << 20  # a string dtype of at most 1 MiB per item


class _DtypeStub:
    """Stands in for ``numpy.dtype(spec, align, copy)`` + ``__setstate__`` while unpickling.

    numpy's own ``dtype.__setstate__`` trusts its state (fields, flags such as
    "holds objects"), so a crafted state could describe raw bytes as object
    pointers. The stub keeps the spec and byte order and builds a fresh dtype
    only from a plain numeric, bool or string spec (:data:`_SIMPLE_DTYPE`);
    ``'O'`` only where an array is rebuilt from a list of unpickled items.
    """

    __slots__ = ("spec", "byteorder")

    def __init__(self, spec=None, align=False, copy=False):
        self.spec, self.byteorder = spec, "="

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 2 or not isinstance(state[1], str):
            raise ValueError("malformed dtype state")
        if any(part is not None for part in state[2:5]):
            raise _Refused("a structured or sub-array numpy dtype")
        self.byteorder = state[1]

    def resolve(self, allow_object=False):
        """The real :class:`numpy.dtype`, or :class:`_Refused` for anything but plain data."""
        spec = self.spec
        if allow_object and spec in ("O", "O8", "O4", "|O"):
            return np.dtype(object)
        if not isinstance(spec, str) or not _SIMPLE_DTYPE.match(spec):
            raise _Refused(f"numpy dtype {str(spec)[:40]!r} (only numeric, bool and string "
                           "dtypes are read)")
        dtype = np.dtype(spec)
        if dtype.itemsize > _MAX_ITEMSIZE:
            raise ValueError(f"dtype {spec!r} of {dtype.itemsize} bytes per item")
        if self.byteorder in "<>" and dtype.byteorder not in "|":
            dtype = dtype.newbyteorder(self.byteorder)
        return dtype


def _as_dtype(obj, allow_object=False):
    if isinstance(obj, _DtypeStub):
        return obj.resolve(allow_object)
    raise ValueError(f"expected a numpy dtype, found {type(obj).__name__}")


def _checked_shape(shape):
    if not isinstance(shape, tuple) or len(shape) > 32:
        raise ValueError("malformed array shape")
    if not all(type(s) is int and 0 <= s < 2**62 for s in shape):
        raise ValueError(f"array shape {shape[:8]} is not a tuple of non-negative ints")
    return shape


class _NdarrayMarker:
    """``numpy.ndarray`` as the argument of ``_reconstruct``; never callable from a file.

    ``numpy.ndarray(shape, dtype, buffer, offset, strides)`` would let a file
    lay any dtype (object pointers) or zero strides (a huge array over four
    bytes) over its own bytes.
    """

    def __call__(self, *args, **kwargs):
        raise _Refused("numpy.ndarray called directly (arrays are only rebuilt from their "
                       "pickled data)")


class _ArrayStub:
    """Stands in for ``numpy.core.multiarray._reconstruct(ndarray, ...)`` during unpickling."""

    __slots__ = ("state",)

    def __init__(self, cls=None, *args):
        if not isinstance(cls, _NdarrayMarker):
            raise _Refused("numpy _reconstruct of a class other than numpy.ndarray")
        self.state = None

    def __setstate__(self, state):
        self.state = state

    def build(self, resolve):
        """Return the array described by the pickled state (sharing the pickled bytes)."""
        state = self.state
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise ValueError("array without a valid state")
        if len(state) == 5:
            state = state[1:]
        shape, dtype, fortran, raw = state
        shape, order = _checked_shape(shape), "F" if fortran else "C"
        count = math.prod(shape)
        dtype = _as_dtype(dtype, allow_object=isinstance(raw, list))
        if dtype.hasobject:  # rebuilt from unpickled items: no pointer comes from bytes
            if len(raw) != count:
                raise ValueError(f"object array of shape {shape} with {len(raw)} items")
            out = np.empty(shape, dtype=object, order=order)
            flat = out.reshape(-1, order="A") if out.ndim else out.reshape(1)
            for i, item in enumerate(raw):
                flat[i] = resolve(item)
            return out
        if isinstance(raw, str):  # Python 2 pickles read with encoding='latin1'
            raw = raw.encode("latin1")
        if not isinstance(raw, (bytes, bytearray)):
            raise ValueError(f"array data must be bytes, found {type(raw).__name__}")
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"array data of {len(raw)} bytes for shape {shape} of {dtype}")
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape, order=order)


def _frombuffer(buf, dtype, shape, order, axis_order=None):
    """Protocol-5 array rebuild (``numpy._core.numeric._frombuffer``), without a copy."""
    dtype, shape = _as_dtype(dtype), _checked_shape(shape)
    if order not in ("C", "F", "K"):
        raise ValueError(f"bad array order {order!r}")
    view = memoryview(buf).cast("B")
    if view.nbytes != math.prod(shape) * dtype.itemsize:
        raise ValueError(f"array data of {view.nbytes} bytes for shape {shape} of {dtype}")
    array = np.frombuffer(view, dtype=dtype)
    if order == "K" and axis_order is not None:
        if sorted(axis_order) != list(range(len(shape))):
            raise ValueError("bad axis order")
        return array.reshape(shape, order="C").transpose(axis_order)
    return array.reshape(shape, order="F" if order == "F" else "C")


def _scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar`` for plain dtypes only, from exactly one item's bytes."""
    dtype = _as_dtype(dtype)
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise ValueError(f"a numpy {dtype} scalar needs {dtype.itemsize} bytes")
    return np.frombuffer(data, dtype=dtype)[0].copy()


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    """``_codecs.encode`` as protocol 2 uses it for bytes; no other codec is admitted."""
    if (not isinstance(encoding, str) or codecs.lookup(encoding).name != "iso8859-1"
            or not isinstance(text, str) or errors != "strict"):
        raise pickle.UnpicklingError(f"refused to load _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", errors)


_MATERIAL = (list, tuple, dict, set, frozenset, str, bytes, bytearray)


def _builtin(typ):
    """``typ(*args)`` for a builtin, admitting only arguments that the file itself holds.

    ``bytearray(2**40)``, ``list(range(10**12))`` or ``str(huge_nested_list)`` are tiny
    in a file and enormous in memory: sizes must come from materialised data.
    """
    def call(*args):
        if not args:
            return typ()
        if typ in (int, float, complex, bool):
            ok = all(isinstance(a, (int, float, str)) and not (isinstance(a, str)
                                                               and len(a) > 4300)
                     for a in args)
        elif typ in (slice, range):
            ok = all(a is None or type(a) is int for a in args)
        elif typ in (bytes, bytearray, str):
            ok = (isinstance(args[0], (bytes, bytearray, str, list, tuple))
                  and all(isinstance(a, str) for a in args[1:]) and not (
                      typ is str and not isinstance(args[0], (str, bytes, bytearray))))
        else:
            ok = len(args) == 1 and isinstance(args[0], _MATERIAL)
        if not ok:
            kinds = ", ".join(type(a).__name__ for a in args)
            raise _Refused(f"builtins.{typ.__name__}({kinds})")
        return typ(*args)

    call.__name__ = typ.__name__
    return call


def _build_allowed():
    allowed = {}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _ArrayStub
        allowed[(f"{core}.multiarray", "scalar")] = _scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = _frombuffer
    allowed[("numpy", "ndarray")] = _NdarrayMarker()
    allowed[("numpy", "dtype")] = _DtypeStub
    for mod in ("builtins", "__builtin__"):
        for obj in (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float,
                    complex, bool, slice, range):
            allowed[(mod, obj.__name__)] = _builtin(obj)
    allowed[("collections", "OrderedDict")] = _builtin(dict)
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
    if isinstance(obj, _DtypeStub):
        seen[key] = out = obj.resolve()
        return out
    if isinstance(obj, _NdarrayMarker):
        raise _Refused("a bare numpy.ndarray class")
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


# ------------------------------------------------------------ structure scan
_MAX_DEPTH = 100          # nesting a data file or checkpoint may use (THINGS files: < 12)
_MAX_LINE = 1 << 20       # protocol-0 text arguments (names, decimal numbers)
_LEN_BYTES = {pickletools.TAKEN_FROM_ARGUMENT1: (1, "<B"),
              pickletools.TAKEN_FROM_ARGUMENT4: (4, "<i"),
              pickletools.TAKEN_FROM_ARGUMENT4U: (4, "<I"),
              pickletools.TAKEN_FROM_ARGUMENT8U: (8, "<Q")}
_MUTATE = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"}
_MEMO_INT = {"BINPUT", "LONG_BINPUT", "BINGET", "LONG_BINGET"}


class _TooDeep(Exception):
    """The pickle nests containers deeper than :data:`_MAX_DEPTH` (or in a cycle)."""


def _read_exact(fh, n, left):
    if n > left:
        raise EOFError(f"an argument asks for {n} bytes, but only {left} remain")
    data = fh.read(n)
    if len(data) != n:
        raise EOFError("the file ends inside an opcode argument")
    return data


def _read_arg(fh, op, end):
    """Read (or skip, for payloads) the argument of ``op``; return it when it is small."""
    desc = op.arg
    left = end - fh.tell()
    if desc.n >= 0:
        return _read_exact(fh, desc.n, left)
    if desc.n == pickletools.UP_TO_NEWLINE:
        lines = 2 if desc.name == "stringnl_noescape_pair" else 1
        out = []
        for _ in range(lines):
            line = fh.readline(min(_MAX_LINE, left) + 1)
            if not line.endswith(b"\n"):
                raise EOFError("a text argument has no end of line")
            left -= len(line)
            out.append(line)
        return b"".join(out)
    width, fmt = _LEN_BYTES[desc.n]
    (length,) = struct.unpack(fmt, _read_exact(fh, width, left))
    if length < 0 or length > left - width:
        raise EOFError(f"a length field asks for {length} bytes, but only "
                       f"{max(left - width, 0)} remain")
    fh.seek(length, os.SEEK_CUR)  # payloads are skipped, never read here
    return None


def _scan_structure(fh, end=None):
    """Walk a pickle's opcodes without building anything; refuse deep or cyclic nesting.

    Every value the stream would push gets a node; containers, calls and
    ``BUILD`` link it to what it holds. The longest chain must stay under
    :data:`_MAX_DEPTH`, so neither hashing a nested tuple (C recursion) nor
    any later walk of the result can overflow the stack. Reads only opcodes
    and short arguments: payloads (array bytes) are seeked over. Leaves the
    file where it started.
    """
    start = fh.tell()
    if end is None:
        end = os.fstat(fh.fileno()).st_size
    height, children = [], {}
    stack, marks, memo = [], [], {}

    def new(kids=()):
        h = 1 + max((height[k] for k in kids), default=0)
        if h > _MAX_DEPTH:
            raise _TooDeep(f"containers nested more than {_MAX_DEPTH} deep")
        height.append(h)
        if kids:
            children[len(height) - 1] = list(kids)
        return len(height) - 1

    def pop(n):
        if n > len(stack) - (marks[-1] if marks else 0):
            raise pickle.UnpicklingError("stack underflow")
        items = stack[len(stack) - n:]
        del stack[len(stack) - n:]
        return items

    try:
        while True:
            code = fh.read(1)
            if not code:
                raise EOFError("the pickle has no STOP opcode")
            op = pickletools.code2op.get(code.decode("latin1"))
            if op is None:
                raise pickle.UnpicklingError(f"invalid opcode {code!r}")
            arg = _read_arg(fh, op, end) if op.arg is not None else None
            name = op.name
            if name == "STOP":
                pop(1)
                break
            if name in ("PROTO", "FRAME"):
                continue
            if name == "MARK":
                marks.append(len(stack))
            elif name in ("POP_MARK",):
                if not marks:
                    raise pickle.UnpicklingError("POP_MARK without MARK")
                del stack[marks.pop():]
            elif name == "POP":
                if stack and (not marks or len(stack) > marks[-1]):
                    stack.pop()
                elif marks:
                    marks.pop()
                else:
                    raise pickle.UnpicklingError("stack underflow")
            elif name == "DUP":
                stack.append(pop(1)[0])
                stack.append(stack[-1])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                if not stack:
                    raise pickle.UnpicklingError("memoizing an empty stack")
                key = (len(memo) if name == "MEMOIZE" else
                       int.from_bytes(arg, "little") if name in _MEMO_INT else int(arg))
                memo[key] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                key = int.from_bytes(arg, "little") if name in _MEMO_INT else int(arg)
                if key not in memo:
                    raise pickle.UnpicklingError(f"memo key {key} not found")
                stack.append(memo[key])
            elif name == "READONLY_BUFFER":
                pop(1)
                stack.append(new())
            else:
                _apply(op, name, stack, marks, pop, new, children, height)
    except (struct.error, ValueError, UnicodeError) as err:
        raise pickle.UnpicklingError(str(err)) from None
    _check_acyclic_depth(height, children)
    fh.seek(start)


def _apply(op, name, stack, marks, pop, new, children, height):
    """Stack effect of a building opcode: pop its inputs, push the node it makes."""
    before = op.stack_before
    if pickletools.markobject in before:
        if not marks:
            raise pickle.UnpicklingError(f"{name} without MARK")
        sliced = stack[marks[-1]:]
        del stack[marks.pop():]
        prefix = pop(before.index(pickletools.markobject))
    else:
        prefix, sliced = pop(len(before)), []
    if name in _MUTATE:  # the target stays on the stack and now holds more
        target, items = prefix[0], prefix[1:] + sliced
        if items:
            children.setdefault(target, []).extend(items)
            height[target] = max(height[target], 1 + max(height[i] for i in items))
            if height[target] > _MAX_DEPTH:
                raise _TooDeep(f"containers nested more than {_MAX_DEPTH} deep")
        stack.append(target)
    elif op.stack_after:
        stack.append(new(prefix + sliced))


def _check_acyclic_depth(height, children):
    """Exact longest chain over the final graph (a later mutation deepens earlier parents)."""
    done = {}
    for root in children:
        if root in done:
            continue
        path, todo = set(), [(root, False)]
        while todo:
            node, leaving = todo.pop()
            if leaving:
                path.discard(node)
                done[node] = 1 + max((done[k] for k in children.get(node, ())), default=0)
                if done[node] > _MAX_DEPTH:
                    raise _TooDeep(f"containers nested more than {_MAX_DEPTH} deep")
                continue
            if node in done:
                continue
            if node in path:
                raise _TooDeep("a container holds itself (cyclic data)")
            path.add(node)
            todo.append((node, True))
            todo.extend((k, False) for k in children.get(node, ()) if k not in done)


def _physical_memory():
    """Bytes of physical memory (a very large number where unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return float("inf")


def refusal(path, err):
    """The :class:`DataError` for a pickle refused as too deep or as asking for code."""
    if isinstance(err, _TooDeep):
        return data_error(path, f"refused to load: {err} (a crafted or corrupt file; "
                                "THINGS-EEG2 files nest a few levels).", _CORRUPT_FIX)
    return data_error(path, f"refused to load {err}: the pickle asks for code outside "
                            "numpy arrays and builtin containers.",
                      "only load files from a trusted source; eegvision never runs code "
                      "from a data file.")


def _unpickle_stream(fh, path):
    """Unpickle one object from an open binary file with the restricted unpickler."""
    try:
        _scan_structure(fh)
        obj = _RestrictedUnpickler(_BoundedReader(fh), encoding="latin1").load()
        return _resolve(obj, {})
    except (_TooDeep, _Refused) as err:
        raise refusal(path, err) from None
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
            LookupError, ArithmeticError, BufferError, RecursionError, UnicodeError) as err:
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
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
        if head == _NPY_MAGIC:
            obj = load_npy_object(path)
        elif head[:1] == b"\x80":
            obj = load_pickle(path)
    except OSError as err:  # permission denied, I/O error ...
        from .._utils import os_error_fix

        raise data_error(path, f"cannot read it ({err.strerror or err}).",
                         os_error_fix(err)) from None
    if head != _NPY_MAGIC and head[:1] != b"\x80":
        raise data_error(path, "neither a .npy file nor a pickle (unknown first bytes "
                               f"{head!r}).", _CORRUPT_FIX)
    if not isinstance(obj, dict):
        raise data_error(path, f"expected a dict, found {type(obj).__name__}.",
                         "point eegvision at a THINGS-EEG2 file (a saved dict).")
    return obj


_MAX_CHECKPOINT_PICKLE = 64 << 20  # the pickled part of a checkpoint (weights live apart)


def scan_torch_checkpoint(path):
    """Refuse a ``torch.save`` file whose pickles nest too deep, before ``torch.load``.

    ``torch.load(weights_only=True)`` admits only tensors and containers, but it
    still hashes dict keys (C recursion on a deeply nested tuple) and returns
    whatever nesting the file holds. Each ``*.pkl`` member of the zip archive
    goes through the same structure scan as a data file.

    Parameters
    ----------
    path : str | Path
        The checkpoint (a zip archive written by ``torch.save``).

    Raises
    ------
    DataError
        Not a zip checkpoint, a corrupt pickle, or nesting beyond the limit.
    """
    import io
    import zipfile

    path = Path(path)
    fix = "give a model.pt written by `eegvision train`."
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if m.filename.endswith(".pkl")]
            if not members:
                raise data_error(path, "holds no pickled data (not a torch checkpoint).", fix)
            for member in members:
                if member.file_size > _MAX_CHECKPOINT_PICKLE:
                    raise data_error(path, f"{member.filename} declares {member.file_size} "
                                           "bytes of pickled metadata (weights are stored "
                                           "apart; a real checkpoint needs a few KB).", fix)
                blob = archive.read(member)
                _scan_structure(io.BytesIO(blob), end=len(blob))
    except DataError:
        raise
    except _TooDeep as err:
        raise data_error(path, f"refused to load: {err} (a crafted or corrupt checkpoint).",
                         fix) from None
    except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, OSError, ValueError,
            NotImplementedError, RuntimeError) as err:
        raise data_error(path, f"cannot be read as a checkpoint ({type(err).__name__}: "
                               f"{str(err)[:200]}).", fix) from None
