"""Small shared helpers: input checks, errors, atomic writes, seeding.

Every user-facing error in eegvision is raised through :func:`data_error` or
the ``_check_*`` helpers so that they all read the same way: the file or
option, what was expected, what was found, and how to fix it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger("eegvision")

# ------------------------------------------------------------------ verbosity (as MNE's)
#: The environment variable holding the default level (``DEBUG`` ... ``CRITICAL``).
LOG_ENV = "EEGVISION_LOGGING_LEVEL"
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged.

    Results go to stdout, diagnostics to stderr (``eegvision analyze ... >
    table.txt`` keeps the table clean); the stream is looked up on every line
    because Jupyter and pytest's capture replace ``sys.stderr``.
    """

    @property
    def stream(self):
        import sys

        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns one: the property wins
        pass


class _Formatter(logging.Formatter):
    """INFO and DEBUG lines as they are; warnings and errors say so."""

    def format(self, record):
        text = super().format(record)
        return text if record.levelno < logging.WARNING else f"{record.levelname}: {text}"


def _parse_level(verbose, source="verbose"):
    """``verbose`` (None: ``$EEGVISION_LOGGING_LEVEL``, else INFO) as a ``logging`` level."""
    if verbose is None:
        verbose, source = os.environ.get(LOG_ENV) or "INFO", f"${LOG_ENV}"
    if isinstance(verbose, (bool, np.bool_)):
        return logging.INFO if verbose else logging.WARNING
    if isinstance(verbose, (int, np.integer)) and 0 <= int(verbose) <= logging.CRITICAL:
        return int(verbose)
    if isinstance(verbose, str) and verbose.strip().upper() in _LEVELS:
        return _LEVELS[verbose.strip().upper()]
    raise option_error(source, verbose, "not a logging level",
                       f"use one of {', '.join(_LEVELS)} (or True for INFO, False for WARNING)")


def set_log_level(verbose=None, return_old_level=False):
    """Set how much eegvision says (as :func:`mne.set_log_level`).

    Parameters
    ----------
    verbose : bool | str | int | None
        ``'DEBUG'``, ``'INFO'`` (progress lines and bars: the default),
        ``'WARNING'`` (quiet: only results, warnings and errors), ``'ERROR'``
        or ``'CRITICAL'``; True is ``'INFO'``, False ``'WARNING'``. None reads
        ``$EEGVISION_LOGGING_LEVEL`` (default ``'INFO'``).
    return_old_level : bool
        Return the level that was set before.

    Returns
    -------
    old_level : int
        Only with ``return_old_level``.
    """
    old = logger.level
    logger.setLevel(_parse_level(verbose))
    return old if return_old_level else None


@contextlib.contextmanager
def use_log_level(verbose=None):
    """Context manager: eegvision's log level set to ``verbose`` inside, restored after.

    Parameters
    ----------
    verbose : bool | str | int | None
        As :func:`set_log_level`; None keeps the current level.

    Examples
    --------
    >>> import eegvision as ev
    >>> with ev.use_log_level("WARNING"):  # doctest: +SKIP
    ...     df = ev.analyze("temporal", model="ridge")
    """
    old = logger.level
    if verbose is not None:
        logger.setLevel(_parse_level(verbose))
    try:
        yield
    finally:
        logger.setLevel(old)


def verbose(func):
    """Decorator: ``func``'s keyword-only ``verbose`` argument sets the log level for the call.

    ``verbose=None`` (the default) keeps the level of :func:`set_log_level`;
    anything else applies only while ``func`` runs (as MNE's ``@verbose``).
    """
    import inspect

    param = inspect.signature(func).parameters.get("verbose")
    if param is None or param.kind is not inspect.Parameter.KEYWORD_ONLY:
        raise TypeError(f"@verbose: {func.__qualname__} needs a keyword-only verbose=None.")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if kwargs.get("verbose") is None:
            return func(*args, **kwargs)
        with use_log_level(kwargs["verbose"]):
            return func(*args, **kwargs)

    return wrapper


def is_quiet():
    """True when eegvision's level hides INFO (progress lines and bars)."""
    return not logger.isEnabledFor(logging.INFO)


def progress_bar(iterable=None, *, enabled=True, **kwargs):
    """The package's one progress bar: tqdm on stderr, shown only where it helps.

    Off (a silent pass-through with the same methods) when ``enabled`` is
    False, when the level hides INFO (``verbose='WARNING'``, ``--quiet``) or
    when stderr is not a terminal (a log file, a pipe, a notebook's capture).
    ``kwargs`` go to ``tqdm`` (``desc``, ``total``, ``unit`` ...); ``leave``
    defaults to False.
    """
    import sys

    from tqdm.auto import tqdm

    show = enabled and not kwargs.pop("disable", False) and not is_quiet() and sys.stderr.isatty()
    kwargs.setdefault("leave", False)
    return tqdm(iterable, disable=not show, **kwargs)


def _install_handler():
    """eegvision's own stderr handler (once) and the level of ``$EEGVISION_LOGGING_LEVEL``."""
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter("%(message)s"))
        logger.addHandler(handler)
    try:
        set_log_level(None)
    except ValueError as err:  # never fail an import on it; the CLI refuses it in one line
        logger.setLevel(logging.INFO)
        logger.warning("%s", " ".join(str(err).split()))




class EEGVisionError(Exception):
    """Base class of the errors eegvision raises on purpose."""


class DataError(EEGVisionError, ValueError):
    """Bad or missing input data: names the file, the problem and the fix."""


class OptionError(EEGVisionError, ValueError):
    """A malformed command-line option or setting: names the option, the value and the fix."""


def lazy_attributes(module, table):
    """PEP 562 ``(__getattr__, __dir__)`` of package ``module``: name -> module on first use.

    A package whose ``__init__`` imports its own submodules makes every child
    depend on its siblings (Python runs the parent first); a table of lazy
    names keeps the package's namespace without that knot.
    """
    import importlib

    def __getattr__(name):
        if name not in table:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name]), name)
        setattr(importlib.import_module(module), name, value)
        return value

    def __dir__():
        import sys

        return sorted(set(vars(sys.modules[module])) | set(table))

    return __getattr__, __dir__


def option_error(option, value, problem, fix):
    """Build an :class:`OptionError` reading ``OPTION VALUE: problem`` plus ``Fix: ...``."""
    return OptionError(f"{option} {value!r}: {problem}\n  Fix: {fix}")


_install_handler()  # needs option_error: a bad $EEGVISION_LOGGING_LEVEL is named


class WriteError(EEGVisionError, OSError):
    """An output could not be written (disk full, permission denied ...): names the file."""


def os_error_fix(err):
    """The fix for an ``OSError`` by its errno (permission, disk space, missing folder ...)."""
    import errno

    fixes = {errno.EACCES: "check the permissions (ls -l; chmod u+rw), or use a path you own",
             errno.EPERM: "check the permissions (ls -l; chmod u+rw), or use a path you own",
             errno.ENOSPC: "free disk space (or choose another --out / $EEGVISION_CACHE) and "
                           "rerun: finished results are kept",
             errno.EDQUOT: "free space in your quota (or choose another --out) and rerun",
             errno.EROFS: "the file system is read-only: choose another --out",
             errno.ENOENT: "check the path",
             errno.EISDIR: "give a file, not a folder"}
    return fixes.get(err.errno, "check the path, its permissions and the free disk space")


def data_error(path, problem, fix=None):
    """Build a :class:`DataError` that names ``path``, ``problem`` and ``fix``."""
    msg = f"{path}: {problem}" if path is not None else str(problem)
    if fix:
        msg += f"\n  Fix: {fix}"
    return DataError(msg)


def check_finite(arr, where, what, fix=None, *, why="", problem=None):
    """Refuse NaN and infinite values: the package's one NaN check, for every input it reads.

    NaN compares false with everything, so it would silently win rankings,
    poison means and stop training; every reader, the container, training,
    evaluation and the checkpoint loader refuse it here with one kind of
    message.

    Parameters
    ----------
    arr : array-like | torch.Tensor
        The values.
    where : str | Path
        The file or source named in the error.
    what : str
        What the values are, e.g. ``'EEG embeddings'``; the message reads
        ``"<n> NaN or infinite <what><why>."``.
    fix : str | None
        How to fix it.
    why : str
        Appended to the message (why the values cannot be used).
    problem : str | None
        The whole message instead (where a check is more than NaN, e.g. a cast
        out of float32's range).

    Returns
    -------
    arr
        Unchanged, when every value is finite.
    """
    if type(arr).__module__.split(".")[0] == "torch":  # a tensor (any dtype, e.g. bfloat16)
        finite = arr.isfinite()
        n_bad = int(finite.numel() - int(finite.sum()))
    else:
        finite = np.isfinite(arr)
        n_bad = int(np.size(finite) - np.count_nonzero(finite))
    if n_bad:
        raise data_error(where, problem or f"{n_bad} NaN or infinite {what}{why}.", fix)
    return arr


def check_not_constant(arr, where, what, fix=None, *, axis=None):
    """Refuse an array whose values are all equal (``axis=0``: whose rows are all equal).

    All-zero EEG or identical image features carry no information: a model
    trained on them scores chance and nothing would say why. Cheap on real
    data: the first rows decide unless they are constant themselves.

    Parameters
    ----------
    arr : ndarray
        The values (EEG or features).
    where : str | Path
        The file or source named in the error.
    what : str
        What the values are, e.g. ``'EEG'``.
    fix : str | None
        How to fix it.
    axis : None | 0
        None: every value equal; 0: every row equal to the first.

    Returns
    -------
    arr
    """
    if arr.size == 0:
        return arr
    first = arr[:1] if axis == 0 else arr.reshape(-1)[:1]
    head = arr[:8]
    if np.any(head != (first if axis == 0 else first[0])):
        return arr  # the usual case: decided by the first rows
    if np.all(arr == (first if axis == 0 else first[0])):
        same = (f"all {len(arr)} {what} are identical" if axis == 0 else
                f"the {what} are constant (every value is {float(first[0]):g})")
        raise data_error(where, f"{same}: nothing to decode, a model would score chance.", fix)
    return arr


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


def resolve_device(device="auto"):
    """``torch.device`` for 'auto' | 'cpu' | 'cuda'; 'cuda' without CUDA is an error."""
    import torch

    _check_option("device", device, ("auto", "cpu", "cuda"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EEGVisionError(
            f"--device cuda: CUDA is not available (torch {torch.__version__}).\n"
            "  Fix: use --device cpu (or auto), or install a CUDA build of PyTorch on a GPU machine.")
    return torch.device(device)


def rng_from_seed(seed):
    """Return a ``np.random.Generator``; ``seed`` must be explicit (int or Generator)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise ValueError("A seed is required: eegvision never draws from an unseeded RNG.")
    return np.random.default_rng(int(seed))


@functools.lru_cache(maxsize=1)
def _umask():
    """This process's umask (read once: setting it is the only portable way to read it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _user_mode(path, directory=False):
    """Give ``path`` the mode a plain ``open()``/``mkdir()`` would have (mkstemp makes 0600)."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def temp_tag():
    """``eegvision-PID-HOST``: the mark of this process's temporaries (see ``_outdir``).

    Only a temporary carrying it, of this host and a pid that no longer runs,
    is ever swept: a user's own ``.download.tmp`` is never touched.
    """
    import socket

    host = "".join(c for c in socket.gethostname().lower() if c.isalnum())[:32]
    return f"eegvision-{os.getpid()}-{host}"


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place only on success.

    Readers never see a half-written file: the rename is atomic on POSIX. The
    file gets the user's umask (not mkstemp's 0600); on any failure, including
    KeyboardInterrupt and the SIGTERM the CLI turns into an exception, the
    temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{temp_tag()}.", suffix=".tmp",
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _user_mode(tmp)
        os.replace(tmp, path)
    except WriteError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    except OSError as err:  # disk full, permission ...: one error naming the file
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        error = WriteError(f"{path}: could not write it ({err.strerror or err}); nothing was "
                           f"half-written.\n  Fix: {os_error_fix(err)}.")
        error.errno = err.errno
        raise error from None
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
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:  # results, provenance and messages all hold the path as text
        raise option_error(option, str(path), "the path is not valid UTF-8 (a byte of another "
                           "encoding in a folder name); no result could name it", "choose a "
                           "folder whose name is UTF-8, e.g. --out ./eegvision-out") from None
    try:
        path.mkdir(parents=True, exist_ok=True)
        # a fresh name (O_EXCL): a planted link of a fixed name is never written through
        fd, probe = tempfile.mkstemp(prefix=f".eegvision-write-test.{temp_tag()}.",
                                     suffix=".tmp", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise EEGVisionError(
            f"{option} {path}: cannot write there ({err.strerror or err}).\n"
            f"  Fix: choose a directory you can write to, e.g. {option} ./eegvision-out"
        ) from None
    return path


#: Bounds of --subjects and --seeds (numpy's and torch's generators take any seed below 2**32);
#: a range beyond them is refused before its list is built.
MAX_SUBJECT = 10_000
MAX_SEED = 2**32 - 1
MAX_SEEDS = 1_000


def parse_int_list(spec, option="--subjects", minimum=1, maximum=MAX_SUBJECT, max_count=MAX_SEEDS):
    """Parse ``"3"``, ``"1-10"`` or ``"1,3,5-7"`` (or ints) into a sorted list of ints.

    Values lie in ``[minimum, maximum]`` and there are at most ``max_count`` of
    them; both are checked before a range is expanded, so ``1-10000000000`` is
    refused at once instead of filling the memory.
    """
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        items = [int(spec)]
    elif isinstance(spec, (list, tuple, range)):
        items = [_list_int(s, spec, option) for s in spec]
    else:
        items = []
        for part in str(spec).split(","):
            items.extend(_parse_part(part.strip(), spec, option, maximum, max_count - len(items)))
    if not items:
        raise ValueError(f"{option} {spec!r}: no values given.")
    if min(items) < minimum or max(items) > maximum:
        raise ValueError(f"{option} {spec!r}: values run from {minimum} to {maximum}.")
    if len(set(items)) > max_count:
        raise ValueError(f"{option} {spec!r}: {len(set(items))} values; at most {max_count}.")
    return sorted(set(items))


def _list_int(value, spec, option):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{option} {spec!r}: {value!r} is not an integer.")
    return int(value)


def _parse_part(part, spec, option, maximum, room):
    """The integers of one comma-separated part (``"3"`` or ``"1-10"``), bounded before expanding."""
    if not part:
        return []
    try:
        if "-" not in part:
            return [int(part)]
        lo, hi = (int(p) for p in part.split("-", 1))
        if hi < lo:
            raise ValueError
    except ValueError:
        raise ValueError(f"{option} {spec!r}: cannot parse {part!r}. Use e.g. 3, 1-10 or 1,3,5-7."
                         ) from None
    if hi > maximum or hi - lo + 1 > room:
        raise ValueError(f"{option} {spec!r}: the range {part} is too large (values up to "
                         f"{maximum}, at most {room} of them).")
    return list(range(lo, hi + 1))


def parse_subjects(spec):
    """Subjects from ``3``, ``"1-10"`` or ``"1,3,5-7"`` (numbered from 1)."""
    return parse_int_list(spec, "--subjects", 1, MAX_SUBJECT)


def parse_seeds(spec):
    """Seeds from ``0``, ``"0-4"`` or ``"0,1,2"``."""
    return parse_int_list(spec, "--seeds", 0, MAX_SEED)
