"""Provenance of a result: what decided it (settings, data, code) and how to redo it.

A file's fingerprint is the sha256 of its whole content, streamed once and
kept in a small on-disk cache keyed by the file's path, size, mtime, ctime and
inode (:func:`~eegvision.data.things.file_state`; and in memory for this process), so a rewritten middle of a 4 GB file is seen
while unchanged files are never read twice. The code fingerprint hashes the
eegvision package's own ``.py`` sources: a changed recipe value or algorithm
gives new job keys, so cached results are reused only if nothing that
decides them changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shlex
import sys
from pathlib import Path

from ._version import __version__

_BLOCK = 1 << 20
_COMMAND = None


def file_fingerprint(path):
    """``sha256:<16 hex>`` of a file's whole content (cached by path and file state).

    Parameters
    ----------
    path : path-like
        An existing file.

    Returns
    -------
    str
    """
    from .data.things import file_state

    path = Path(path).resolve()
    return _fingerprint(str(path), file_state(path))


def _digest_cache_file(path, state):
    from .data.things import _cache_root

    key = hashlib.sha256(f"{path}|{state}".encode()).hexdigest()[:24]
    return _cache_root().parent / "fingerprints" / f"{key}.txt"


@functools.lru_cache(maxsize=256)
def _fingerprint(path, state):
    cached = _digest_cache_file(path, state)
    try:
        text = cached.read_text().strip()
        if text.startswith("sha256:") and len(text) == 23:
            return text
    except OSError:
        pass
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
    text = "sha256:" + digest.hexdigest()[:16]
    try:
        from ._utils import atomic_path

        with atomic_path(cached) as tmp:
            tmp.write_text(text + "\n")
    except OSError:  # a read-only cache only costs the re-hash
        pass
    return text


@functools.lru_cache(maxsize=1)
def code_fingerprint():
    """``sha256:<16 hex>`` of every ``.py`` file of the eegvision package (path and content)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for source in sorted(package.rglob("*.py")):
        digest.update(str(source.relative_to(package)).encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def config_hash(config):
    """Short sha256 of a JSON-able dict (sorted keys)."""
    blob = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def set_command(argv):
    """Record the command line of this run (``eegvision``'s ``main``; None when it returns)."""
    global _COMMAND
    _COMMAND = None if argv is None else "eegvision " + shlex.join(str(a) for a in argv)


def command_line():
    """The command that produced a result: the ``eegvision`` one, else this process's argv.

    On one line (a newline inside an argument is written ``\\n``), so a CSV row stays a line.
    """
    text = _COMMAND or shlex.join([Path(sys.executable).name] + sys.argv)
    # a byte of another encoding in an argument arrives as a lone surrogate, which no UTF-8
    # table can hold: write it escaped, or results.csv fails after the other files are written
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def software_versions():
    """``eegvision_version``, ``torch_version``, ``code_hash``."""
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:  # pragma: no cover - torch is a dependency
        torch_version = "absent"
    return {"eegvision_version": __version__, "torch_version": torch_version,
            "code_hash": code_fingerprint()}


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


def training_provenance(config, data):
    """Provenance of one ``eegvision train`` result (metrics.json and results.csv rows).

    Parameters
    ----------
    config : TrainConfig
        The resolved training config.
    data : SubjectData
        The data trained and tested on; with ``meta['root']`` its files are
        fingerprinted (held-out subject and, for LOSO, the training subjects).

    Returns
    -------
    dict
        :func:`software_versions`, ``train_config`` (dict, without the device)
        and ``train_config_hash``, ``data_hash``, ``data_files`` and ``command``.
    """
    settings = config.to_dict()
    settings.pop("device", None)
    meta = data.meta
    prints = {}
    if meta.get("root"):
        for subject in [data.subject, *meta.get("train_subjects", [])]:
            for role, value in data_fingerprints(meta["root"], subject, meta.get("layout", "auto"),
                                                 meta.get("targets", "centers")).items():
                prints[f"sub-{int(subject):02d}/{role}"] = value
    else:
        for split in ("train", "test"):
            source = getattr(data, split).meta.get("source", "")
            if source and Path(source).is_file():
                prints[split] = file_fingerprint(source)
    return {**software_versions(), "train_config": settings,
            "train_config_hash": config_hash(settings),
            "data_hash": data_hash(prints) if prints else "unknown (data not from files)",
            "data_files": prints, "command": command_line()}
