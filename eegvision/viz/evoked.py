"""Plots of a container's trial average (an ``mne.Evoked``) in the package style.

:meth:`eegvision.data.EEGImageData.plot_topomap` and ``.plot`` call these, as
MNE's ``Evoked.plot_topomap`` calls ``mne.viz``.
"""

from __future__ import annotations

from ._style import style


def plot_topomap(evoked, times="auto", *, axes=None, show=False, **kwargs):
    """Scalp maps of ``evoked`` at ``times``.

    Parameters
    ----------
    evoked : mne.Evoked
        E.g. ``data.average()``.
    times : float | list of float | 'auto'
        Time points in seconds.
    axes : list of matplotlib Axes | None
        Where to draw (one per time point, plus one for the colour bar when
        ``colorbar=True``); None makes a new figure.
    show : bool
        Show the figure.
    **kwargs
        Passed to :meth:`mne.Evoked.plot_topomap` (``ch_type``, ``vlim`` ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    with style():
        return evoked.plot_topomap(times, axes=axes, show=show, **kwargs)


def plot_evoked(evoked, *, axes=None, show=False, **kwargs):
    """Butterfly plot of ``evoked`` (one line per channel).

    Parameters
    ----------
    evoked : mne.Evoked
    axes : matplotlib Axes | None
        Where to draw; None makes a new figure.
    show : bool
        Show the figure.
    **kwargs
        Passed to :meth:`mne.Evoked.plot`.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    with style():
        return evoked.plot(axes=axes, show=show, **kwargs)
