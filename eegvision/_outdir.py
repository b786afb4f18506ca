"""Output folders: what eegvision writes there, it owns; what it did not write, it never touches.

The rules (``docs/outputs.md``):

- A run holds a lock (``.eegvision.lock``, ``fcntl.flock``) on its output folder
  for as long as it runs: a second run into the same folder refuses in one line.
- A run's files are written into a staging folder inside ``--out`` and renamed
  into place together (:func:`staged_outputs`); the manifest
  ``.eegvision-outputs.json`` then records the command and, per file, its size
  and SHA-256.
- A file is eegvision's only while it matches its manifest entry, lies inside
  the folder after resolving every symlink and is a regular file (not a link).
  Only such files are ever replaced or deleted; anything else in the folder
  (a user's own ``results.csv``, a link, a subfolder) is left alone, and a run
  that would replace it refuses unless ``overwrite=True`` (``--overwrite``).
- One command never replaces another's outputs: ``train`` then ``analyze``
  into one folder refuses up front unless ``overwrite=True``. Rerunning the
  same command into its own folder replaces its previous outputs.
- Temporaries carry the writer's pid and host (:func:`temp_tag`); only those of
  a writer on this host that no longer runs are swept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ._utils import (
    EEGVisionError,
    WriteError,
    _user_mode,
    atomic_path,
    check_writable_dir,
    logger,
    temp_tag,
)

MANIFEST = ".eegvision-outputs.json"
LOCK = ".eegvision.lock"
STAGING = ".staging-"
#: a manifest larger than this, or listing more files, is not one eegvision wrote
MAX_MANIFEST_BYTES = 4 << 20
MAX_FILES = 10_000
_VERSION = 2
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TMP = re.compile(r"\..+\.eegvision-(\d{1,10})-([a-z0-9]{0,32})\.[A-Za-z0-9_]+\.tmp")
_STAGE = re.compile(re.escape(STAGING) + r"eegvision-(\d{1,10})-([a-z0-9]{0,32})\.[A-Za-z0-9_]+")


class OutputError(EEGVisionError):
    """An output folder cannot be written as asked (locked, or holding files eegvision must keep)."""


@dataclass
class Manifest:
    """What one command committed into a folder: ``files`` maps a relative name to its signature."""

    command: str
    run: str
    files: dict = field(default_factory=dict)


@dataclass
class _Hold:
    fd: int
    command: str
    overwrite: bool
    run: str
    pid: int
    depth: int = 1


_held = {}  # resolved folder -> _Hold of this process


# ------------------------------------------------------------------ the manifest
def read_manifest(out):
    """The folder's manifest, or None when it is absent or not one eegvision wrote.

    Hostile content proves nothing: a manifest that is a link, too large,
    not UTF-8 JSON, of another shape, or lists too many files is ignored as a
    whole; an entry whose name or signature is malformed is dropped.
    """
    path = Path(out) / MANIFEST
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
            return None
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or raw.get("eegvision_outputs") != _VERSION:
        return None
    command, run, files = raw.get("command"), raw.get("run"), raw.get("files")
    if not (isinstance(command, str) and isinstance(run, str) and isinstance(files, dict)) \
            or len(files) > MAX_FILES:
        return None
    return Manifest(command, run, {name: sig for name, sig in files.items()
                                   if _valid_name(name) and _valid_signature(sig)})


def _valid_name(name):
    if not isinstance(name, str) or not name or len(name) > 1024 or "\x00" in name:
        return False
    parts = Path(name).parts  # one spelling only: no "./x", "a//b", "/x", "..", no backslash
    return bool(parts) and Path(name).as_posix() == name and not Path(name).is_absolute() \
        and ".." not in parts and parts[0] not in (MANIFEST, LOCK) and "\\" not in name


def _valid_signature(sig):
    return isinstance(sig, dict) and type(sig.get("size")) is int and sig["size"] >= 0 \
        and isinstance(sig.get("sha256"), str) and _HEX64.fullmatch(sig["sha256"]) is not None


def _signature(path):
    """Size and SHA-256 of a regular file, read without following a link."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"size": size, "sha256": digest.hexdigest()}


def _inside(out, name):
    """``out / name`` when every part of it is a real folder or file inside ``out``, else None.

    No component may be a symbolic link, so nothing resolves outside ``out``.
    """
    if not _valid_name(name):
        return None
    path, root = Path(out), Path(out).resolve()
    for part in Path(name).parts:
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:  # nothing below exists either: nothing to follow
            break
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return None
    try:
        (Path(out) / name).resolve().relative_to(root)
    except (OSError, ValueError, RuntimeError):
        return None
    return Path(out) / name


def owns(out, name, manifest):
    """Whether ``out / name`` is a regular file inside ``out`` that matches ``manifest``."""
    sig = manifest.files.get(name) if manifest is not None else None
    path = _inside(out, name) if sig is not None else None
    if path is None:
        return False
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size != sig["size"]:
            return False
        return _signature(path) == sig
    except OSError:
        return False


def _write_manifest(out, manifest):
    with atomic_path(Path(out) / MANIFEST) as tmp:
        tmp.write_text(json.dumps({"eegvision_outputs": _VERSION, "command": manifest.command,
                                   "run": manifest.run, "files": manifest.files},
                                  indent=1, sort_keys=True) + "\n")


# ------------------------------------------------------------------ claims and refusals
def _refuse(out, problem, option, fix):
    return OutputError(f"{option} {out}: {problem}\n  Fix: {fix}")


def _overwrite_fix(option, out):
    return (f"choose another {option} (e.g. {option} {Path(out).name or 'out'}-2), or add "
            "--overwrite (overwrite=True in Python) to replace them")


def check_claim(out, command, *, overwrite=False, names=(), option="--out"):
    """Refuse, before any work, a run that would replace files it does not own.

    Parameters
    ----------
    out : path-like
        The output folder.
    command : str
        The command about to write there (``"train"``, ``"analyze temporal"`` ...).
    overwrite : bool
        Replace another command's outputs and files eegvision did not write.
    names : iterable of str
        Files the command will write (its fixed names); any of them present
        and not proven this command's is refused.
    option : str
        The option that named the folder, for the message.
    """
    if overwrite:
        return
    manifest = read_manifest(out)
    if manifest is not None and manifest.command != command:
        theirs = sorted(n for n in manifest.files if owns(out, n, manifest))
        if theirs:
            shown = ", ".join(theirs[:4]) + (" ..." if len(theirs) > 4 else "")
            raise _refuse(out, f"holds the outputs of `eegvision {manifest.command}` ({shown}); "
                               f"`eegvision {command}` would replace or delete them.", option,
                          _overwrite_fix(option, out))
    for name in names:
        _check_replaceable(out, name, manifest, command, option)


def _check_replaceable(out, name, manifest, command, option):
    path = Path(out) / name
    if not (os.path.lexists(path)):
        return
    mine = manifest is not None and manifest.command == command and owns(out, name, manifest)
    if not mine:
        why = ("it is not listed in the folder's .eegvision-outputs.json" if manifest is None or
               name not in manifest.files else "it changed since eegvision wrote it")
        raise _refuse(out, f"{name} is not a file eegvision wrote there ({why}); "
                           f"`eegvision {command}` would replace it.", option,
                      f"move {name} away, " + _overwrite_fix(option, out))


# ------------------------------------------------------------------ the lock
@contextlib.contextmanager
def output_folder(out, command, *, overwrite=False, names=(), option="--out"):
    """Hold ``out`` for one run of ``command``: the lock, then the up-front claim check.

    Re-entrant within a process (the CLI holds the folder, the API inside
    holds it again). A folder below a held one (``sub-01/``, ``preview/``)
    belongs to the same run. Yields the folder as a :class:`~pathlib.Path`.
    """
    out = check_writable_dir(out, option)
    key = str(out.resolve())
    hold = _held.get(key)
    if hold is not None and hold.pid == os.getpid():
        if hold.command != command:
            raise _refuse(out, f"this process is already writing `eegvision {hold.command}` "
                               f"there; `eegvision {command}` cannot share the folder.", option,
                          f"choose another {option}")
        hold.depth += 1
        try:
            yield out
        finally:
            hold.depth -= 1
        return
    parent = _held_above(key)
    run = parent.run if parent else f"{os.getpid()}-{time.time_ns()}"
    fd = _lock(out, command, option)
    _held[key] = _Hold(fd, command, overwrite, run, os.getpid())
    try:
        check_claim(out, command, overwrite=overwrite, names=names, option=option)
        yield out
    finally:
        del _held[key]
        _unlock(out, fd)


def _held_above(key):
    """The hold of a folder above ``key`` in this process (a run's sub-folder shares its run)."""
    above = [k for k, h in _held.items() if h.pid == os.getpid() and
             key.startswith(k.rstrip(os.sep) + os.sep)]
    return _held[max(above, key=len)] if above else None


def _lock(out, command, option):
    """Open and lock ``out/.eegvision.lock`` without waiting; refuse if another run holds it.

    Refusing (not waiting) because the second run would replace the first's
    results anyway, and a wait behind an hours-long training looks like a hang.
    """
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - not POSIX: no lock, say so once
        logger.warning("No file locking on this system: do not run two commands into %s.", out)
        return None
    path = Path(out) / LOCK
    for _ in range(5):  # a lock file removed between open and flock: take the new one
        fd = _open_lock(path, out, option)
        if not _flock(fd, path, out, option) or _same_file(fd, path):
            break
        os.close(fd)
    else:  # pragma: no cover - a folder whose lock file keeps vanishing
        raise _refuse(out, "its lock file keeps being removed.", option, f"choose another {option}")
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}, `eegvision {command}`, since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode("utf-8", "backslashreplace"))
    return fd


def _open_lock(path, out, option):
    try:  # never through a link: O_NOFOLLOW
        return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as err:
        raise _refuse(out, f"cannot open its lock file {LOCK} ({err.strerror or err}).", option,
                      f"remove {path} if it is a link, or choose another {option}") from None


def _flock(fd, path, out, option):
    """Lock ``fd``; False where the file system cannot lock (the run goes on, with a warning)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 300).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise _refuse(out, f"another eegvision run is writing there ({holder}).", option,
                      f"wait for it to finish, or choose another {option}") from None
    except OSError as err:  # e.g. ENOLCK on an NFS mount without locking
        logger.warning("Cannot lock %s (%s): do not run two commands into it at once.",
                       path, err.strerror or err)
        return False
    return True


def _same_file(fd, path):
    """Whether ``fd`` is still the file at ``path`` (not one unlinked by a finishing run)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
    except OSError:
        return False


def _unlock(out, fd):
    """Remove the lock file while still holding it (only ours, by inode), then release it."""
    if fd is None:
        return
    with contextlib.suppress(OSError):
        if _same_file(fd, Path(out) / LOCK):
            os.unlink(Path(out) / LOCK)
    os.close(fd)


def held(out):
    """This process's hold on ``out`` or on a folder above it (None when it holds neither)."""
    key = str(Path(out).resolve())
    hold = _held.get(key)
    return hold if hold is not None and hold.pid == os.getpid() else _held_above(key)


# ------------------------------------------------------------------ temporaries
def remove_dead_temporaries(folder):
    """Remove the staging folders and temporary files of eegvision writers that no longer run.

    Only names eegvision gives (``.staging-eegvision-PID-HOST.*``,
    ``.NAME.eegvision-PID-HOST.*.tmp``), only of this host, only when that pid
    is gone; a user's ``.download.tmp`` never matches.
    """
    import shutil

    host = temp_tag().rsplit("-", 1)[1]
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _STAGE.fullmatch(entry.name) or _TMP.fullmatch(entry.name)
            if match is None or match.group(2) != host or not _dead(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                if match.re is _STAGE and entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                elif match.re is _TMP and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)


def _dead(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # alive under another user, or not a pid
        return False
    return False


# ------------------------------------------------------------------ the commit
@contextlib.contextmanager
def staged_outputs(out, command=None, *, overwrite=None, option="--out"):
    """Yield a staging folder inside ``out``; on success, commit its files into ``out`` together.

    A run's outputs (tables, config, figures) are written into the staging
    folder and only then renamed into place, ``config.json`` last, so a kill
    while the figure renders leaves the previous run's files untouched and
    consistent. Files an earlier run of the same command wrote but this one
    does not (a figure of an earlier ``plot=True`` run) are removed, so no old
    output stays beside new ones, but only files the manifest proves eegvision
    wrote. On failure the staging folder is removed and ``out`` is unchanged.

    Parameters
    ----------
    out : path-like
    command : str | None
        The command writing; default: that of the run holding ``out`` (or a
        folder above it), else ``"outputs"``.
    overwrite : bool | None
        Default: that of the holding run, else False.
    option : str
        The option that named ``out``, for messages.
    """
    hold = held(out)
    command = command or (hold.command if hold else "outputs")
    overwrite = bool(hold.overwrite if overwrite is None and hold else overwrite)
    with output_folder(out, command, overwrite=overwrite, option=option) as out:
        yield from _staged(out, command, overwrite, option)


def _staged(out, command, overwrite, option):
    import shutil

    remove_dead_temporaries(out)
    stage = Path(tempfile.mkdtemp(prefix=f"{STAGING}{temp_tag()}.", dir=out))
    try:
        try:
            yield stage
        except WriteError as err:  # name the output the user asked for, not the staging copy
            error = WriteError(str(err).replace(str(stage), str(out)))
            error.errno = err.errno
            raise error from None
        _commit(out, stage, command, overwrite, held(out).run, option)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _commit(out, stage, command, overwrite, run, option):
    new = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*")
                 if p.is_file() and not p.is_symlink())
    old = read_manifest(out)
    if not overwrite:
        check_claim(out, command, names=new, option=option)
    targets = {name: _target(out, name, option) for name in new}
    keep, stale = {}, []
    if old is not None:
        for name in old.files:
            if name in targets or not owns(out, name, old):
                continue
            if old.run == run and old.command == command:  # this run's earlier commit
                keep[name] = old.files[name]
            else:
                stale.append(name)
    for name in stale:
        with contextlib.suppress(OSError):
            os.unlink(out / name)
    files = dict(keep)
    for name in sorted(new, key=lambda n: Path(n).name == "config.json"):
        files[name] = _signature(stage / name)
        targets[name].parent.mkdir(parents=True, exist_ok=True)
        _user_mode(stage / name)
        os.replace(stage / name, targets[name])
    _write_manifest(out, Manifest(command, run, files))


def _target(out, name, option):
    """Where a staged file goes: refuse a link or folder in its way (never written through)."""
    path = _inside(out, name)
    if path is None or (os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode)):
        raise _refuse(out, f"{name} (or a folder above it) is a link or not a regular file; "
                           "eegvision writes only real files inside the folder.", option,
                      f"move {Path(out) / name} away, or choose another {option}")
    return path


__all__ = ["LOCK", "MANIFEST", "Manifest", "OutputError", "check_claim", "held", "output_folder",
           "owns", "read_manifest", "remove_dead_temporaries", "staged_outputs"]
