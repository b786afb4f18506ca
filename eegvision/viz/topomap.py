"""Scalp maps over time: Grad-CAM, activation patterns and attention (NICE Fig. 5 style)."""

from __future__ import annotations

import numpy as np

from ._style import new_figure, style

#: Row order and labels of the saliency figure.
ROW_ORDER = ("eeg", "cam", "eeg_x_cam", "attention")
ROW_LABELS = {
    "gradcam": {"eeg": "mean EEG", "cam": "Grad-CAM", "eeg_x_cam": "EEG \u00d7 CAM",
                "attention": "attention\nreceived"},
    "haufe": {"eeg": "mean EEG", "cam": "activation\npattern", "eeg_x_cam": "EEG \u00d7\npattern"},
}


def _zscore(values):
    sd = values.std()
    return (values - values.mean()) / (sd if sd > 0 else 1.0)


def saliency_grid(table):
    """Average a tidy saliency table over subjects and seeds.

    Returns ``(maps, bins, ch_names, method)``: ``maps[kind]`` is an array
    ``(n_bins_of_kind, n_chans)`` z-scored per bin across channels, ``bins``
    the ``(start, stop)`` ms pairs of the time-binned maps.
    """
    value = "value_z" if "value_z" in table else "value"
    ch_names = list(dict.fromkeys(table["channel"]))
    method = str(table["method"].iloc[0]) if "method" in table else "gradcam"
    maps, bins = {}, None
    for kind in ROW_ORDER:
        sub = table[table["map"] == kind]
        if sub.empty:
            continue
        wide = (sub.groupby(["bin_start_ms", "bin_stop_ms", "channel"])[value].mean()
                .unstack("channel").reindex(columns=ch_names))
        maps[kind] = np.stack([_zscore(row) for row in wide.to_numpy(dtype=float)])
        if kind != "attention":
            bins = [(float(a), float(b)) for a, b in wide.index]
    return maps, bins, ch_names, method


def plot_saliency(df=None, extras=None, *, table=None, info=None, vlim=(-1, 1), cmap="coolwarm",
                  title=None):
    """Rows of scalp maps (mean EEG, saliency, EEG x saliency, [attention]) over time bins.

    Parameters
    ----------
    df : DataFrame | None
        The results table (used for the title: model and top-1).
    extras : dict | None
        Holds ``'saliency'``, the tidy table of
        :func:`eegvision.analysis.saliency.saliency_table`.
    table : DataFrame | None
        The saliency table directly (instead of ``extras``).
    info : mne.Info | None
        Channel positions; built from the channel names (easycap-M1) if None.
    vlim, cmap
        Colour limits of the per-bin z-scores and the colour map.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import mne

    from ..data.montage import make_info

    table = table if table is not None else (extras or {}).get("saliency")
    if table is None or len(table) == 0:
        raise ValueError("plot_saliency needs the 'saliency' table (run the saliency analysis).")
    maps, bins, ch_names, method = saliency_grid(table)
    if info is None:
        maps, ch_names = _only_positioned(maps, ch_names)
        info = make_info(ch_names, 1000.0)
    rows = [k for k in ROW_ORDER if k in maps]
    n_cols = len(bins)
    labels = ROW_LABELS.get(method, ROW_LABELS["gradcam"])
    fig, axes = new_figure("double", height=0.3 + 0.78 * len(rows) * min(1.0, 10 / n_cols),
                           nrows=len(rows), ncols=n_cols, squeeze=False)
    with style():
        im = None
        for r, kind in enumerate(rows):
            for c in range(n_cols):
                ax = axes[r, c]
                if c >= len(maps[kind]):
                    ax.set_axis_off()
                    continue
                im, _ = mne.viz.plot_topomap(maps[kind][c], info, axes=ax, cmap=cmap,
                                             sensors=False, vlim=vlim, show=False, contours=4)
                if r == 0 or kind == "attention":
                    ax.set_title(_bin_title(bins, c, kind), fontsize=6, pad=2)
            axes[r, 0].text(-0.12, 0.5, labels.get(kind, kind), transform=axes[r, 0].transAxes,
                            rotation=90, ha="right", va="center", fontsize=7)
        cbar = fig.colorbar(im, ax=axes, shrink=0.7, aspect=25, pad=0.01)
        cbar.set_label("z-score across channels (per bin)", fontsize=6)
        cbar.ax.tick_params(labelsize=6)
        fig.suptitle(title or _title(df, method), fontsize=8)
    return fig


def _only_positioned(maps, ch_names):
    """Drop channels without a scalp position (MNE cannot draw them); refuse if < 3 remain."""
    from .._utils import EEGVisionError, logger
    from ..data.montage import positioned_channels

    known, missing = positioned_channels(ch_names)
    if len(known) < 3:
        raise EEGVisionError(
            f"topomap: only {len(known)} of {len(ch_names)} channels have a scalp position in "
            f"the easycap-M1 montage (none for {', '.join(missing[:6])}).\n  Fix: name the "
            "channels by the 10-10 system (e.g. Oz, Pz, C3) to draw scalp maps.")
    if missing:
        logger.warning("topomap: no scalp position for %s; drawn without them.",
                       ", ".join(missing))
    keep = [i for i, c in enumerate(ch_names) if c in set(known)]
    return {k: np.asarray(v)[:, keep] for k, v in maps.items()}, known


def _bin_title(bins, c, kind):
    if kind == "attention":
        return f"all ({bins[0][0]:g}-{bins[-1][1]:g} ms)"
    lo, hi = bins[c]
    return f"{lo:g}-{hi:g} ms"


def _title(df, method):
    what = "Grad-CAM" if method == "gradcam" else "activation pattern (Haufe)"
    if df is None or len(df) == 0 or "top1" not in df:
        return what
    model = df["model"].iloc[0] if "model" in df else ""
    n_sub = df["subject"].nunique() if "subject" in df else 1
    return (f"{what}, {model}: {n_sub} subject{'s' if n_sub > 1 else ''}, "
            f"top-1 {100 * df['top1'].mean():.1f} %")


__all__ = ["plot_saliency", "saliency_grid"]
