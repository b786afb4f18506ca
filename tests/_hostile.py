"""Hand-assembled hostile pickles (protocol-2 opcodes), built by the tests, never committed.

Each helper returns the opcode bytes that push one value; :func:`eeg_file`
wraps a value as the ``preprocessed_eeg_data`` of an otherwise valid dict.
"""

from __future__ import annotations

import struct

import numpy as np

PROTO2, STOP, MARK, TUPLE, REDUCE, BUILD = b"\x80\x02", b".", b"(", b"t", b"R", b"b"
EMPTY_DICT, EMPTY_LIST, SETITEM, APPEND = b"}", b"]", b"s", b"a"
NONE, TRUE, FALSE, TUPLE1 = b"N", b"\x88", b"\x89", b"\x85"


def glob(module, name):
    """GLOBAL module.name."""
    return b"c" + f"{module}\n{name}\n".encode()


def text(s):
    """BINUNICODE."""
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def integer(i):
    """BININT (or LONG1 for big ints)."""
    if -2**31 <= i < 2**31:
        return b"J" + struct.pack("<i", i)
    raw = i.to_bytes((i.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def raw_bytes(b):
    """BINBYTES."""
    return b"B" + struct.pack("<I", len(b)) + b


def tup(*items):
    return MARK + b"".join(items) + TUPLE


def call(func, *args):
    """``func(*args)`` through REDUCE."""
    return func + tup(*args) + REDUCE


def dtype(spec, state=None):
    """``numpy.dtype(spec, False, True)``, optionally with a BUILD state."""
    out = call(glob("numpy", "dtype"), text(spec), FALSE, TRUE)
    return out + (state + BUILD if state is not None else b"")


def shape(*dims):
    return tup(*(integer(d) for d in dims))


def nested_tuple(depth):
    """A tuple nested ``depth`` levels: (((...),),) via TUPLE1."""
    return integer(0) + TUPLE1 * depth


def nested_list(depth):
    """[[[...]]] ``depth`` levels deep (EMPTY_LIST ... APPEND)."""
    return EMPTY_LIST * depth + APPEND * (depth - 1)


def pickle_of(value_ops):
    return PROTO2 + value_ops + STOP


def eeg_dict(value_ops, key="preprocessed_eeg_data"):
    """A dict with ch_names and times plus ``key: <value_ops>``."""
    return (EMPTY_DICT + text("ch_names") + EMPTY_LIST + text("C1") + APPEND + SETITEM
            + text("times") + EMPTY_LIST + b"G" + struct.pack(">d", 0.0) + APPEND + SETITEM
            + text(key) + value_ops + SETITEM)


def write(path, value_ops, how="pickle"):
    """Write ``value_ops`` as a pickle file, or as the payload of a .npy object file."""
    payload = pickle_of(value_ops)
    with open(path, "wb") as fh:
        if how == "npy":
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "|O", "fortran_order": False, "shape": ()})
        fh.write(payload)
    return path


# The attacks of issue 15 (section 1), each the opcodes of one value.
def object_array_over_bytes():
    """numpy.ndarray((2,), dtype('O'), buffer): file bytes read as object pointers."""
    return call(glob("numpy", "ndarray"), shape(2), dtype("O8"), raw_bytes(b"\x41" * 16))


def zero_stride_giant():
    """numpy.ndarray(shape, float32, 4 bytes, 0, strides 0): GBs over 4 bytes."""
    return call(glob("numpy", "ndarray"), shape(100000, 4, 63, 40), dtype("f4"),
                raw_bytes(b"\0" * 4), integer(0), shape(0, 0, 0, 0))


def object_scalar():
    """numpy scalar(dtype('O'), 8 bytes): a pointer from the file."""
    return call(glob("numpy.core.multiarray", "scalar"), dtype("O8"), raw_bytes(b"\x41" * 8))


def reconstruct(dtype_ops, raw_ops, dims=(2,)):
    """``_reconstruct(ndarray, (0,), b'b')`` + BUILD (1, shape, dtype, False, raw)."""
    return (call(glob("numpy.core.multiarray", "_reconstruct"), glob("numpy", "ndarray"),
                 shape(0), raw_bytes(b"b"))
            + tup(integer(1), shape(*dims), dtype_ops, FALSE, raw_ops) + BUILD)


def object_flag_dtype():
    """A 'V8' dtype whose BUILD state claims fields of object type."""
    fields = EMPTY_DICT + text("x") + tup(dtype("O8"), integer(0)) + SETITEM
    state = tup(integer(3), text("|"), NONE, tup(text("x")), fields, integer(8), integer(1),
                integer(63))
    return reconstruct(dtype("V8", state), raw_bytes(b"\x41" * 16))


def deep_tuple_key(depth):
    """{nested tuple: 1}: hashing the key recurses ``depth`` levels in C."""
    return EMPTY_DICT + nested_tuple(depth) + integer(1) + SETITEM


def huge_bytearray():
    return call(glob("builtins", "bytearray"), integer(2**40))


def huge_list_from_range():
    return call(glob("builtins", "list"), call(glob("builtins", "range"), integer(10**12)))


def huge_str_of_list(n=2000):
    """str(list of n references to one 1-KB string) repeated: output ~n**2 KB."""
    inner = EMPTY_LIST + text("x" * 1000) + b"q\x01" + APPEND + (b"h\x01" + APPEND) * n
    return call(glob("builtins", "str"), inner)


def huge_object_array():
    """_reconstruct of an object array declaring 10**12 items and holding one."""
    return reconstruct(dtype("O8"), EMPTY_LIST + integer(1) + APPEND, dims=(10**6, 10**6))


ATTACKS = {
    "object_array_over_bytes": object_array_over_bytes,
    "zero_stride_giant": zero_stride_giant,
    "object_scalar": object_scalar,
    "object_flag_dtype": object_flag_dtype,
    "deep_tuple_key": lambda: deep_tuple_key(300_000),
    "deep_list": lambda: nested_list(100_000),
    "huge_bytearray": huge_bytearray,
    "huge_list_from_range": huge_list_from_range,
    "huge_str_of_list": huge_str_of_list,
    "huge_object_array": huge_object_array,
}


def checkpoint_with(path, value_ops):
    """A torch.save zip whose data.pkl is ``{'format': ..., 'bad': <value_ops>}``."""
    import io
    import zipfile

    import torch

    buf = io.BytesIO()
    torch.save({"format": "eegvision-checkpoint-v1"}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    data = pickle_of(EMPTY_DICT + text("format") + text("eegvision-checkpoint-v1") + SETITEM
                     + text("bad") + value_ops + SETITEM)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename.endswith("data.pkl") else src.read(info))
    return path
