"""Provenance of a result row: package version, config hash, data fingerprints, seed, device.

File fingerprints are fast enough for 4 GB EEG files: sha256 of the size, the
first and the last MiB, cached per (path, size, mtime) in this process. They
detect a replaced or re-preprocessed file, not a single flipped byte in the
middle; that is what the size + mtime key of the reading cache is for.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from pathlib import Path

from . import __version__

_BLOCK = 1 << 20


def file_fingerprint(path):
    """``sha256:<16 hex>`` of a file's size, first MiB and last MiB (cached).

    Parameters
    ----------
    path : path-like
        An existing file.

    Returns
    -------
    str
    """
    path = Path(path).resolve()
    st = path.stat()
    return _fingerprint(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _fingerprint(path, size, mtime_ns):
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(_BLOCK))
        if size > _BLOCK:
            fh.seek(max(_BLOCK, size - _BLOCK))
            digest.update(fh.read(_BLOCK))
    return "sha256:" + digest.hexdigest()[:16]


def data_fingerprints(root, subject, layout="auto", targets="centers", features=None,
                      bank=False):
    """Fingerprints of the files one subject's data are read from, by role.

    Returns
    -------
    dict
        ``{"train_eeg": "sha256:...", "test_eeg": ..., "train_features": ...,
        "test_features": ..., "metadata": ...}`` (absent files left out).
    """
    from .data.things import find_subject_files

    files = find_subject_files(root, subject, layout, targets=targets, features=features,
                               bank=bank)
    return {role: file_fingerprint(p) for role, p in files.items()
            if role != "layout" and p is not None}


def data_hash(fingerprints):
    """One short hash of a dict of file fingerprints (a results-table column)."""
    blob = "|".join(f"{k}={v}" for k, v in sorted(fingerprints.items()))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def resolve_device(device):
    """The device ``auto`` means here (``cuda`` when torch sees a GPU, else ``cpu``)."""
    if device not in (None, "auto"):
        return str(device)
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def provenance(job):
    """Provenance columns for ``job``'s result row.

    Parameters
    ----------
    job : eegvision.runner.Job

    Returns
    -------
    dict
        ``eegvision_version``, ``config_hash``, ``seed``, ``device``,
        ``data_hash`` (over the subject's files) and ``host``.
    """
    data = job.data
    prints = data_fingerprints(data["root"], job.subject, data.get("layout", "auto"),
                               data.get("targets", "centers"), data.get("features"),
                               bool(data.get("bank", False)))
    return {"eegvision_version": __version__, "config_hash": job.key, "seed": job.seed,
            "device": resolve_device(job.train.get("device", "auto")),
            "data_hash": data_hash(prints), "host": platform.node() or os.uname().nodename}
