"""Typed checks of one setting's value, shared by the CLI, the TOML reader and the API.

An option given on the command line, a key of a ``--config`` recipe and an
argument of :class:`~eegvision.training.TrainConfig` go through the same
check, so every one of them is refused the same way: one
:class:`~eegvision._utils.OptionError` naming the option (for a recipe: the
file and the key), what was found and what is expected. Counts are bounded
here too, so an absurd one (``--subjects 1-10000000000``,
``n_permutations = 1e12``) is refused before anything is allocated.
"""

from __future__ import annotations

import math
import numbers

from ._utils import MAX_SEED, MAX_SEEDS, MAX_SUBJECT, option_error

__all__ = ["MAX_SEED", "MAX_SEEDS", "MAX_SUBJECT", "check_bool", "check_float", "check_int",
           "check_str"]

#: Upper bounds of counts, far above any real use and far below what would exhaust memory.
MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000
MAX_JOBS = 1_024


def _found(value):
    """``"a str ('abc')"``: the type and the value a check found, for the message."""
    return f"{type(value).__name__} {value!r}"


def check_int(value, name, *, low=None, high=None, fix=None):
    """Return ``value`` as an int within ``[low, high]``, else raise an OptionError naming ``name``.

    Integers (Python or numpy) and their decimal strings are accepted; a bool,
    a fractional number (``1.5`` would silently run as 1) or anything else is
    refused.

    Parameters
    ----------
    value : object
        The value given.
    name : str
        What the message names: the option (``--epochs``) or ``file: key``.
    low, high : int | None
        Inclusive bounds.
    fix : str | None
        The fix; by default the bounds.

    Returns
    -------
    int
    """
    expected = _int_range(low, high)
    number = _as_int(value)
    if number is None or (low is not None and number < low) or (high is not None and number > high):
        raise option_error(name, value, f"expected {expected}, found {_found(value)}.",
                           fix or f"give {expected}.")
    return number


def _int_range(low, high):
    if low is not None and high is not None:
        return f"an integer from {low} to {high}"
    if low is not None:
        return f"an integer >= {low}"
    return "an integer" if high is None else f"an integer <= {high}"


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)  # 3.0 is 3; 1.5 is refused
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def check_float(value, name, *, low=None, high=None, low_open=False, fix=None):
    """Return ``value`` as a finite float within its bounds, else raise an OptionError.

    Parameters
    ----------
    value : object
        The value given (a number or its string; a bool, NaN or infinity is refused).
    name : str
        What the message names.
    low, high : float | None
        Bounds (``high`` inclusive; ``low`` inclusive unless ``low_open``).
    low_open : bool
        Whether ``low`` itself is refused (``> low``).
    fix : str | None
        The fix; by default the bounds.

    Returns
    -------
    float
    """
    expected = _float_range(low, high, low_open)
    number = _as_float(value)
    bad = (number is None or (low is not None and (number < low or (low_open and number == low)))
           or (high is not None and number > high))
    if bad:
        raise option_error(name, value, f"expected {expected}, found {_found(value)}.",
                           fix or f"give {expected}.")
    return number


def _float_range(low, high, low_open):
    bounds = ([] if low is None else [f"{'>' if low_open else '>='} {low:g}"]) + (
        [] if high is None else [f"<= {high:g}"])
    return "a finite number" + "".join(f" {b}" for b in [" and ".join(bounds)] if b)


def _as_float(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    return None


def check_bool(value, name):
    """Return ``value`` if it is a bool (``true`` / ``false`` in TOML), else raise an OptionError."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise option_error(name, value, f"expected true or false, found {_found(value)}.",
                       "give true or false.")


def check_str(value, name, allowed=None):
    """Return ``value`` if it is a string (one of ``allowed``), else raise an OptionError."""
    if not isinstance(value, str):
        what = "a string" if allowed is None else "one of " + ", ".join(map(repr, allowed))
        raise option_error(name, value, f"expected {what}, found {_found(value)}.",
                           f"give {what}.")
    if allowed is not None and value not in allowed:
        import difflib

        close = difflib.get_close_matches(value, list(allowed), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise option_error(name, value, f"expected one of {', '.join(map(repr, allowed))}."
                           f"{hint}", f"give one of {', '.join(map(repr, allowed))}.")
    return value


def check_optional(check, value, name, **kwargs):
    """``check(value, name, **kwargs)``, or None when ``value`` is None."""
    return None if value is None else check(value, name, **kwargs)
