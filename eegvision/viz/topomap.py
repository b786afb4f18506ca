"""Scalp maps over time: saliency maps, activation patterns and attention (NICE Fig. 5 style)."""

from __future__ import annotations

import numpy as np

from ._style import new_figure, style

#: Row order and labels of the saliency figure.
ROW_ORDER = ("eeg", "cam", "eeg_x_cam", "attention_received")
_RAW = "raw attention\nreceived"
ROW_LABELS = {
    "gradcam": {"eeg": "mean EEG", "cam": "Grad-CAM", "eeg_x_cam": "EEG \u00d7 CAM",
                "attention_received": _RAW},
    "gradient": {"eeg": "mean EEG", "cam": "gradient \u00d7\ninput", "eeg_x_cam": "EEG \u00d7\nmap",
                 "attention_received": _RAW},
    "attention": {"eeg": "mean EEG", "cam": "attention \u00d7\ngradient",
                  "eeg_x_cam": "EEG \u00d7\nmap", "attention_received": _RAW},
    "occlusion": {"eeg": "mean EEG", "cam": "occlusion", "eeg_x_cam": "EEG \u00d7\nmap"},
    "haufe": {"eeg": "mean EEG", "cam": "activation\npattern", "eeg_x_cam": "EEG \u00d7\npattern"},
}
#: What the colour scale of each row measures (absolute maps); the EEG row's unit is
#: read from the data (:func:`eeg_unit`).
UNITS = {
    "gradient": "margin attribution (cosine)",
    "gradcam": "margin attribution (cosine)",
    "attention": "margin attribution (cosine)",
    "occlusion": "margin drop (cosine)",
    "haufe": "pattern norm (a.u.)",
    "eeg_x_cam": "EEG \u00d7 map (a.u.)",
    "attention_received": "attention weight",
}
#: Colour maps: diverging for signed rows (white at zero), sequential for non-negative ones.
CMAPS = {"signed": "RdBu_r", "positive": "Reds"}
#: Largest |value| read as volts: scalp EEG in volts is ~1e-5; whitened (MVNN) data ~1.
VOLTS_BELOW = 1e-3
#: Cluster-corrected p below which a sensor is marked significant.
ALPHA = 0.05


def _zscore(values):
    sd = values.std()
    return (values - values.mean()) / (sd if sd > 0 else 1.0)


def saliency_grid(table, scale="absolute"):
    """Average a tidy saliency table over subjects and seeds.

    Parameters
    ----------
    table : DataFrame
        From :func:`eegvision.analysis.saliency.saliency_table`.
    scale : 'absolute' | 'z'
        ``absolute``: the maps' own values; ``z``: z-scored per bin across
        channels (shape only: bins without information look as structured
        as bins with it).

    Returns
    -------
    tuple
        ``(maps, bins, ch_names, method, pvals)``: ``maps[kind]`` is an array
        ``(n_bins_of_kind, n_chans)``, ``bins`` the ``(start, stop)`` ms pairs
        of the time-binned maps, ``pvals`` the cam map's cluster-corrected
        p-values ``(n_bins, n_chans)`` or None when untested.
    """
    if scale not in ("absolute", "z"):
        raise ValueError(f"scale={scale!r}: use 'absolute' or 'z'.")
    ch_names = list(dict.fromkeys(table["channel"]))
    method = str(table["method"].iloc[0]) if "method" in table else "gradcam"
    maps, bins, pvals = {}, None, None
    for kind in ROW_ORDER:
        sub = table[table["map"] == kind]
        if sub.empty:
            continue
        wide = (sub.groupby(["bin_start_ms", "bin_stop_ms", "channel"])["value"].mean()
                .unstack("channel").reindex(columns=ch_names))
        values = wide.to_numpy(dtype=float)
        maps[kind] = np.stack([_zscore(row) for row in values]) if scale == "z" else values
        if kind != "attention_received":
            bins = [(float(a), float(b)) for a, b in wide.index]
        if kind == "cam" and "p_cluster" in sub and sub["p_cluster"].notna().any():
            # the largest p over results: marked only where every subject / seed is significant
            pvals = (sub.groupby(["bin_start_ms", "bin_stop_ms", "channel"])["p_cluster"].max()
                     .unstack("channel").reindex(columns=ch_names).to_numpy(dtype=float))
    return maps, bins, ch_names, method, pvals


def eeg_unit(values):
    """``(factor, label)`` of the mean-EEG row: µV for data in volts, else whitened units.

    THINGS-EEG2's preprocessed files are noise-normalised (MVNN): their values
    are in units of the noise SD, not volts. Data whose largest magnitude is
    below :data:`VOLTS_BELOW` are taken as volts and drawn in µV.
    """
    finite = np.abs(np.asarray(values, float))
    finite = finite[np.isfinite(finite)]
    if finite.size and 0 < finite.max() < VOLTS_BELOW:
        return 1e6, "EEG (\u00b5V)"
    return 1.0, "EEG (a.u., normalised)"


def plot_saliency(df=None, extras=None, *, table=None, info=None, scale="absolute", vlim=None,
                  cmap=None, title=None):
    """Rows of scalp maps (mean EEG, saliency, EEG x saliency, [raw attention]) over time bins.

    Each row has one colour scale shared by its bins and drawn with its
    units, so a bin without information looks flat. Where the saliency map
    was tested (``p_cluster``), sensors in a significant cluster
    (cluster-corrected p < 0.05) are marked and the others are masked.

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
    scale : 'absolute' | 'z'
        The maps' own values (default) or per-bin z-scores across channels.
    vlim : (float, float) | None
        Colour limits for every row (default: per row, symmetric for signed maps).
    cmap : str | None
        One colour map for every row; default :data:`CMAPS`: diverging for
        signed rows, sequential from zero for non-negative ones (pattern
        norms, attention).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import mne

    from ..data.montage import make_info

    table = table if table is not None else (extras or {}).get("saliency")
    if table is None or len(table) == 0:
        raise ValueError("plot_saliency needs the 'saliency' table (run the saliency analysis).")
    maps, bins, ch_names, method, pvals = saliency_grid(table, scale)
    if info is None:
        keep, ch_names = _only_positioned(ch_names)
        maps = {k: np.asarray(v)[:, keep] for k, v in maps.items()}
        pvals = None if pvals is None else np.asarray(pvals)[:, keep]
        info = make_info(ch_names, 1000.0)
    rows = [k for k in ROW_ORDER if k in maps]
    n_cols = len(bins)
    labels = ROW_LABELS.get(method, ROW_LABELS["gradcam"])
    fig, axes = new_figure("double", height=0.45 + 0.78 * len(rows) * min(1.0, 10 / n_cols),
                           nrows=len(rows), ncols=n_cols, squeeze=False)
    with style():
        for r, kind in enumerate(rows):
            factor, unit = _row_unit(kind, method, scale, maps[kind])
            maps[kind] = np.asarray(maps[kind], float) * factor
            lim = vlim if vlim is not None else _row_limits(maps[kind])
            row_cmap = cmap or _row_cmap(maps[kind])
            im = None
            for c in range(n_cols):
                ax = axes[r, c]
                if c >= len(maps[kind]):
                    ax.set_axis_off()
                    continue
                mask = None if kind != "cam" or pvals is None else pvals[c] < ALPHA
                im, _ = mne.viz.plot_topomap(
                    maps[kind][c], info, axes=ax, cmap=row_cmap, sensors=False, vlim=lim,
                    show=False,
                    contours=4, mask=mask,
                    mask_params=dict(marker="o", markerfacecolor="k", markeredgecolor="w",
                                     markersize=2.5, linewidth=0))
                if r == 0 or kind == "attention_received":
                    ax.set_title(_bin_title(bins, c, kind), fontsize=6, pad=2)
            axes[r, 0].text(-0.12, 0.5, labels.get(kind, kind), transform=axes[r, 0].transAxes,
                            rotation=90, ha="right", va="center", fontsize=7)
            cbar = fig.colorbar(im, ax=axes[r, :], shrink=0.8, aspect=8, pad=0.01)
            cbar.set_label(unit, fontsize=5)
            cbar.ax.tick_params(labelsize=5)
        fig.suptitle(title or _title(df, method, pvals, table), fontsize=8)
    return fig


def _only_positioned(ch_names):
    """``(indices, names)`` of the channels with a scalp position; refuse if < 3 have one."""
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
    return keep, [ch_names[i] for i in keep]


def _row_unit(kind, method, scale, values):
    """``(factor, colour-bar label)`` of one row of maps."""
    if scale == "z":
        return 1.0, "z-score across channels"
    if kind == "eeg":
        return eeg_unit(values)
    return 1.0, UNITS.get(kind if kind != "cam" else method, "a.u.")


def _row_cmap(values):
    """Sequential colour map for a row without negative values, diverging otherwise."""
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    return CMAPS["positive"] if finite.size and finite.min() >= 0 else CMAPS["signed"]


def _row_limits(values):
    """Symmetric limits for signed maps, ``(0, max)`` for non-negative ones."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (None, None)
    top = float(np.abs(finite).max()) or 1.0
    return (0.0, top) if finite.min() >= 0 else (-top, top)


def _bin_title(bins, c, kind):
    if kind == "attention_received":
        return f"all ({bins[0][0]:g}-{bins[-1][1]:g} ms)"
    lo, hi = bins[c]
    return f"{lo:g}-{hi:g} ms"


def _title(df, method, pvals=None, table=None):
    what = {"gradcam": "Grad-CAM", "gradient": "gradient \u00d7 input",
            "attention": "gradient-weighted attention",
            "occlusion": "occlusion", "haufe": "activation pattern (Haufe)"}.get(method, method)
    if pvals is not None:
        test = "subjects" if table is not None and "test" in table and (
            table["test"] == "subjects").any() else "test trials"
        what += f" (\u25cf: cluster p < {ALPHA:g}, sign flips across {test})"
    if df is None or len(df) == 0 or "top1" not in df:
        return what
    model = df["model"].iloc[0] if "model" in df else ""
    n_sub = df["subject"].nunique() if "subject" in df else 1
    return (f"{what}, {model}: {n_sub} subject{'s' if n_sub > 1 else ''}, "
            f"top-1 {100 * df['top1'].mean():.1f} %")


__all__ = ["plot_saliency", "saliency_grid"]
