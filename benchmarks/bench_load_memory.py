"""Peak memory and time of reading a full-size NICE 250-Hz training file.

Writes a ``preprocessed_eeg_training.npy`` of THINGS-EEG2's real size
(16540 x 4 x 63 x 250 float64, pickle protocol 4, about 8.3 GB) into DIR in
chunks (never two copies in memory), then reads it with
:func:`eegvision.data.things.read_preprocessed` twice, each time in a fresh
subprocess: the first load (memory-mapped parse + chunked float32 averaging +
cache write) and the second (memory-mapped cache). Reports peak RSS, wall time,
peak / file size, and the peak above the process's RSS after its imports
against the target: at most 1.3 x the float32 averaged result plus one
reading chunk (256 conditions of float64 and their float64 mean).

Usage::

    python benchmarks/bench_load_memory.py DIR [--n-conditions 16540] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

_MARK = np.random.default_rng(12345).bytes(1 << 18)  # > pickle frame size: written unframed


class _Stub:
    """Pickles like an ndarray of ``shape`` whose data bytes are a marker, patched later."""

    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, (0,), b"b"),
                (1, self.shape, np.dtype("<f8"), False, _MARK))


def write_file(path, n_cond, n_reps=4, n_ch=63, n_t=250, chunk=256, seed=0):
    """Write the pickle by hand: the array payload is streamed chunk by chunk."""
    shape = (n_cond, n_reps, n_ch, n_t)
    d = {"preprocessed_eeg_data": _Stub(shape), "ch_names": [f"E{i}" for i in range(n_ch)],
         "times": np.arange(n_t + 50) / 250.0 - 0.2}
    stream = bytearray(pickle.dumps(d, protocol=4))
    at = stream.index(_MARK)
    # The marker is pickled as BINBYTES (4-byte length) outside any frame (it is
    # larger than a frame); turn it into BINBYTES8 with the real length.
    assert stream[at - 5:at] == b"B" + struct.pack("<I", len(_MARK))
    frame_ends = {f + 9 + struct.unpack("<Q", stream[f + 1:f + 9])[0]
                  for f in range(at) if stream[f] == 0x95}
    assert at - 5 in frame_ends, "the marker header is inside a frame"
    nbytes = int(np.prod(shape)) * 8
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        fh.write(bytes(stream[:at - 5]) + b"\x8e" + struct.pack("<Q", nbytes))
        for start in range(0, n_cond, chunk):
            n = min(chunk, n_cond - start)
            fh.write(rng.standard_normal((n, n_reps, n_ch, n_t)).tobytes())
        fh.write(stream[at + len(_MARK):])
    return path


_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from eegvision.data.things import read_preprocessed
import gc
gc.collect()
# the current RSS after the imports (the high-water mark may lie above it)
base = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
out = read_preprocessed(sys.argv[1])
s = float(out["eeg"][:, :, ::50].sum())  # touch the data
print(json.dumps(dict(seconds=time.perf_counter() - t0, shape=list(out["eeg"].shape),
                      peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      import_rss_bytes=base,
                      checksum=s)))
"""


def measure(path, cache):
    env = dict(os.environ, EEGVISION_CACHE=str(cache))
    res = subprocess.run([sys.executable, "-c", _CHILD, str(path)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--n-conditions", type=int, default=16540)
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    args = p.parse_args(argv)
    work = Path(args.dir) / "bench_load_memory"
    work.mkdir(parents=True, exist_ok=True)
    path, cache = work / "preprocessed_eeg_training.npy", work / "cache"
    try:
        t0 = time.perf_counter()
        write_file(path, args.n_conditions)
        size = path.stat().st_size
        print(f"wrote {path} ({size / 1e9:.2f} GB) in {time.perf_counter() - t0:.1f} s")
        result = args.n_conditions * 63 * 250 * 4  # float32, averaged over repetitions
        chunk = 256 * 63 * 250 * 8 * 5  # float64: 4 repetitions and their mean
        target = 1.3 * result + chunk
        for label in ("first load", "second load (cached)"):
            r = measure(path, cache)
            used = r["peak_rss_bytes"] - r["import_rss_bytes"]
            print(f"{label}: {r['seconds']:.2f} s, peak RSS {r['peak_rss_bytes'] / 1e9:.3f} GB "
                  f"= {r['peak_rss_bytes'] / size:.3f} x file size; above the imports "
                  f"{used / 1e9:.3f} GB = {used / result:.3f} x the float32 result "
                  f"({result / 1e9:.3f} GB); target <= {target / 1e9:.3f} GB: "
                  f"{'met' if used <= target else 'MISSED'}; eeg {r['shape']}, "
                  f"checksum {r['checksum']:.4f}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
