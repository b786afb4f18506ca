"""Searchlight scalp map: accuracy of each channel with its neighbours alone."""

from __future__ import annotations

import numpy as np

from ._style import new_figure, style
from .decoding import CRITERION  # noqa: F401  (re-exported)

#: The criterion, written on every spatial figure (docs/analyses.md explains it).


def plot_searchlight(df, summary=None):
    """Topomap of searchlight top-1 (mean over subjects and seeds), plus the region bars.

    Parameters
    ----------
    df : DataFrame
        Spatial results with ``mode == 'searchlight'`` rows (``channel``, ``top1``).
    summary : DataFrame | None
        The across-subject summary (for the region bars, when drop / only ran too).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import mne

    from ..data.montage import make_info
    from .decoding import plot_spatial

    sl = df[df["mode"] == "searchlight"]
    if sl.empty:
        raise ValueError("plot_searchlight needs searchlight rows (--mode searchlight).")
    acc = sl.groupby("channel", sort=False)["top1"].mean()
    regions = sl.groupby("region")["top1"].mean()
    rest = df[df["mode"] != "searchlight"]
    with_bars = (rest["mode"] != "all").any()
    fig, axes = new_figure("double" if with_bars else "single", height=2.6,
                           ncols=2 if with_bars else 1, squeeze=False)
    with style():
        ax = axes[0, -1]
        values = 100 * acc.to_numpy(dtype=float)
        im, _ = mne.viz.plot_topomap(values, make_info(list(acc.index), 1000.0), axes=ax,
                                     cmap="viridis", vlim=(0, float(np.nanmax(values)) or 1.0),
                                     sensors=True, contours=4, show=False)
        cbar = fig.colorbar(im, ax=ax, shrink=0.8, aspect=15)
        chance = 100.0 / float(sl["n_way"].iloc[0]) if "n_way" in sl else np.nan
        cbar.set_label(f"top-1 (%), chance {chance:.2g} %", fontsize=6)
        cbar.ax.tick_params(labelsize=6)
        ax.set_title(f"Searchlight (channel + neighbours); best region: {regions.idxmax()}",
                     fontsize=7)
        if with_bars:  # its caption states the criterion
            plot_spatial(rest, summary, ax=axes[0, 0])
        else:
            ax.text(0.5, -0.04, CRITERION.replace(": ", ":\n", 1), transform=ax.transAxes,
                    ha="center", va="top", fontsize=4.5, color="0.35")
    return fig


__all__ = ["CRITERION", "plot_searchlight"]
