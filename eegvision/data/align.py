"""Align two recordings that must agree: channels by name, then rate and times, or refuse.

Training and test files, several subjects' files, a checkpoint and the data
it is evaluated on: each pair must describe the same channels at the same
sampling rate and sample times. Channel order is the one thing that may
legitimately differ (it is a property of the file, not of the recording), so
the second is reordered to the first's order by name; anything else is one
:class:`~eegvision.DataError` naming both sources.
"""

from __future__ import annotations

import numpy as np

from .._utils import data_error, logger


def layout_of(data):
    """``(ch_names, times, sfreq)`` of a container, the thing :func:`align_channels` compares."""
    return list(data.ch_names), np.asarray(data.times, dtype=np.float64), float(data.sfreq)


def align_channels(data, reference, *, reference_name=None, reorder=True,
                   fix="use files preprocessed the same way (same layout and channels)."):
    """Return ``data`` with its channels in ``reference``'s order, or raise.

    Parameters
    ----------
    data : EEGImageData
        The container to check (e.g. the test split).
    reference : EEGImageData | tuple
        A container, or ``(ch_names, times, sfreq)`` (e.g. from a checkpoint).
    reference_name : str | None
        How to name the reference in errors (default: its ``meta['source']``).
    reorder : bool
        Reorder channels that differ only in order (False: refuse them too).
    fix : str
        The fix the error suggests.

    Returns
    -------
    EEGImageData
        ``data`` itself when already aligned, else a reordered copy.
    """
    names, times, sfreq = reference if isinstance(reference, tuple) else layout_of(reference)
    if reference_name is None:
        reference_name = getattr(reference, "meta", {}).get("source", "the reference")
    src = data.meta.get("source", "data")
    if set(data.ch_names) != set(names) or len(data.ch_names) != len(names):
        missing = [c for c in names if c not in data.ch_names]
        extra = [c for c in data.ch_names if c not in names]
        raise data_error(src, f"its {len(data.ch_names)} channels do not match the "
                         f"{len(names)} of {reference_name} (missing {missing[:6]}, extra "
                         f"{extra[:6]}).", fix)
    if not np.isclose(data.sfreq, sfreq, rtol=1e-6):
        raise data_error(src, f"sampled at {data.sfreq:g} Hz, {reference_name} at {sfreq:g} Hz.",
                         fix)
    if len(data.times) != len(times) or not np.allclose(data.times, times, rtol=0,
                                                        atol=0.01 / sfreq):
        raise data_error(src, f"its {len(data.times)} samples ({data.times[0]:.3f} to "
                         f"{data.times[-1]:.3f} s) are not the {len(times)} of {reference_name} "
                         f"({times[0]:.3f} to {times[-1]:.3f} s).", fix)
    if list(data.ch_names) == list(names):
        return data
    if not reorder:
        raise data_error(src, f"lists its channels in another order than {reference_name} "
                         f"(first {data.ch_names[:4]} vs {names[:4]}).", fix)
    logger.warning("%s: channels reordered by name to match %s.", src, reference_name)
    index = [data.ch_names.index(c) for c in names]
    return data._select_channels(index)
