"""Small shared helpers: input checks, errors, atomic writes, seeding.

Every user-facing error in eegvision is raised through :func:`data_error` or
the ``_check_*`` helpers so that they all read the same way: the file or
option, what was expected, what was found, and how to fix it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger("eegvision")


class EEGVisionError(Exception):
    """Base class of the errors eegvision raises on purpose."""


class DataError(EEGVisionError, ValueError):
    """Bad or missing input data: names the file, the problem and the fix."""


class OptionError(EEGVisionError, ValueError):
    """A malformed command-line option or setting: names the option, the value and the fix."""


def option_error(option, value, problem, fix):
    """Build an :class:`OptionError` reading ``OPTION VALUE: problem`` plus ``Fix: ...``."""
    return OptionError(f"{option} {value!r}: {problem}\n  Fix: {fix}")


def data_error(path, problem, fix=None):
    """Build a :class:`DataError` that names ``path``, ``problem`` and ``fix``."""
    msg = f"{path}: {problem}" if path is not None else str(problem)
    if fix:
        msg += f"\n  Fix: {fix}"
    return DataError(msg)


def _check_option(name, value, allowed):
    """Raise a ValueError naming ``name`` unless ``value`` is in ``allowed``."""
    if value not in allowed:
        import difflib

        close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Invalid value for {name}: {value!r}. Allowed: "
            f"{', '.join(repr(a) for a in allowed)}.{hint}"
        )
    return value


def _validate_type(value, types, name):
    """Raise a TypeError naming ``name`` unless ``value`` is an instance of ``types``."""
    if not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise TypeError(f"{name} must be {names}, got {type(value).__name__}.")
    return value


def rng_from_seed(seed):
    """Return a ``np.random.Generator``; ``seed`` must be explicit (int or Generator)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise ValueError("A seed is required: eegvision never draws from an unseeded RNG.")
    return np.random.default_rng(int(seed))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place only on success.

    Readers never see a half-written file: the rename is atomic on POSIX.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path, obj):
    """Write ``obj`` as indented JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")
    return Path(path)


def write_csv(path, df):
    """Write a pandas DataFrame as CSV atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")


def check_writable_dir(path, option="--out"):
    """Create ``path`` if needed and check it is writable, before any work is done."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".eegvision-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise EEGVisionError(
            f"{option} {path}: cannot write there ({err.strerror or err}).\n"
            f"  Fix: choose a directory you can write to, e.g. {option} ./eegvision-out"
        ) from None
    return path


def parse_int_list(spec, option="--subjects", minimum=1):
    """Parse ``"3"``, ``"1-10"`` or ``"1,3,5-7"`` (or ints) into a sorted list of ints."""
    if isinstance(spec, (int, np.integer)):
        items = [int(spec)]
    elif isinstance(spec, (list, tuple, range)):
        items = [int(s) for s in spec]
    else:
        items = []
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                if "-" in part:
                    lo, hi = (int(p) for p in part.split("-", 1))
                    if hi < lo:
                        raise ValueError
                    items.extend(range(lo, hi + 1))
                else:
                    items.append(int(part))
            except ValueError:
                raise ValueError(
                    f"{option} {spec!r}: cannot parse {part!r}. Use e.g. 3, 1-10 or 1,3,5-7."
                ) from None
    if not items:
        raise ValueError(f"{option} {spec!r}: no values given.")
    if min(items) < minimum:
        raise ValueError(f"{option} {spec!r}: values start at {minimum}.")
    return sorted(set(items))


def parse_subjects(spec):
    """Subjects from ``3``, ``"1-10"`` or ``"1,3,5-7"`` (numbered from 1)."""
    return parse_int_list(spec, "--subjects", 1)


def parse_seeds(spec):
    """Seeds from ``0``, ``"0-4"`` or ``"0,1,2"``."""
    return parse_int_list(spec, "--seeds", 0)
