"""Scalp maps and patterns onto the cortex; cortical maps summarised by lobe and peak.

A signed scalp map (gradient x input, Grad-CAM, occlusion: one value per
channel and time bin) is projected linearly, ``K @ m`` (signed: the source
orientation is the surface normal). A ridge decoder's Haufe pattern has one
scalp map per feature dimension; its cortical map is the norm over the
dimensions of their projections, ``||K A_b||`` per source, computed as
``sqrt(rowsum((K C_b) * K))`` with ``C_b = A_b A_b^T``, so the
``(20484, d)`` projections are never formed. Both are what the scalp maps
of :mod:`eegvision.analysis.saliency` are, on the cortex.
"""

from __future__ import annotations

import numpy as np


def project_maps(kernel, maps):
    """Project scalp maps ``(n_bins, n_channels)`` -> cortical maps ``(n_sources, n_bins)``."""
    maps = np.atleast_2d(np.asarray(maps, np.float64))
    if maps.shape[-1] != kernel.shape[1]:
        raise ValueError(f"maps have {maps.shape[-1]} channels; the inverse has "
                         f"{kernel.shape[1]}.")
    return kernel @ maps.T


def project_pattern(kernel, pattern, times, edges_ms):
    """Cortical map of a multi-output pattern ``(n_channels, n_times, d)``, per time bin.

    The pattern is averaged in the bins ``edges_ms`` (ms, ``[lo, hi)``) and
    each bin's cortical value is the norm over the ``d`` outputs of their
    projections. Returns ``(n_sources, n_bins)``, non-negative.
    """
    pattern = np.asarray(pattern, np.float64)
    t_ms = np.asarray(times) * 1000
    out = []
    for lo, hi in zip(edges_ms[:-1], edges_ms[1:], strict=True):
        mask = (t_ms >= lo - 1e-6) & (t_ms < hi - 1e-6)
        a = pattern[:, mask].mean(1)  # (n_channels, d)
        gram = a @ a.T
        out.append(np.sqrt(np.maximum(((kernel @ gram) * kernel).sum(1), 0.0)))
    return np.stack(out, axis=1)


def peak(values):
    """Vertex of the largest ``|value|`` over sources (and bins): ``(vertex, bin)``."""
    values = np.abs(np.asarray(values, np.float64))
    if values.ndim == 1:
        values = values[:, None]
    vertex, b = np.unravel_index(np.argmax(values), values.shape)
    return int(vertex), int(b)


def vertex_info(vertex):
    """``vertex``, ``hemi``, ``lobe`` and ``x_mm``, ``y_mm``, ``z_mm`` (fsaverage surface RAS)."""
    from ..data.fsaverage import HEMIS, template_cortex

    cortex = template_cortex()
    x, y, z = (round(float(v), 1) for v in cortex["mri_mm"][vertex])
    return {"vertex": int(vertex), "hemi": HEMIS[int(cortex["hemi"][vertex])],
            "lobe": str(cortex["lobe"][vertex]), "x_mm": x, "y_mm": y, "z_mm": z}


def distance_mm(vertex, vertices):
    """Distance (mm, pial surface RAS) from ``vertex`` to the nearest of ``vertices``."""
    from ..data.fsaverage import template_cortex

    xyz = template_cortex()["mri_mm"]
    return float(np.linalg.norm(xyz[np.atleast_1d(vertices)] - xyz[vertex], axis=1).min())


def lobe_table(values, *, bin_edges_ms=None):
    """Cortical map summarised per lobe and hemisphere, and ranked.

    Parameters
    ----------
    values : array, shape (n_sources, n_bins)
        A cortical map (signed maps are summarised by their magnitude).
    bin_edges_ms : array | None
        Bin edges (ms), for the ``bin_start_ms`` / ``bin_stop_ms`` columns.

    Returns
    -------
    pandas.DataFrame
        One row per (bin, lobe): ``area_cm2`` (the lobe's), ``mean``
        (area-weighted mean of ``|value|`` over both hemispheres),
        ``mean_lh``, ``mean_rh``, ``max``, ``above_half_cm2`` (the lobe's
        area where ``|value|`` exceeds half the bin's peak), ``mass``
        (the area-weighted excess of ``|value|`` over half the peak, in cm2
        times the peak), ``share`` (of the bin's ``mass``) and ``rank``
        within each bin (1: the largest ``mass``, ties by ``mean``); plus a
        bin ``all`` of the maps' mean over bins.

    Notes
    -----
    The rank is by the mass above half the peak, not by the mean: a
    minimum-norm map has a floor everywhere (the noise's projection; for a
    pattern norm, all positive), so a lobe's mean mostly says how well the
    electrodes see it, while the mass above half the peak follows the blob
    the inverse makes of a source, weighted toward its core: a blob that
    crosses a lobe border counts most for the lobe that holds its peak
    (docs/sources.md).
    """
    import pandas as pd

    from ..data.fsaverage import LOBES, template_cortex

    cortex = template_cortex()
    mag = np.abs(np.atleast_2d(np.asarray(values, np.float64).T).T)
    edges = (np.arange(mag.shape[1] + 1, dtype=float) if bin_edges_ms is None
             else np.asarray(bin_edges_ms, float))
    columns = [(mag[:, b], edges[b], edges[b + 1]) for b in range(mag.shape[1])]
    columns.append((mag.mean(1), edges[0], edges[-1]))
    rows = []
    for i, (col, lo, hi) in enumerate(columns):
        for lobe in LOBES:
            sel = cortex["lobe"] == lobe
            rows.append({"bin": "all" if i == len(columns) - 1 else str(i),
                         "bin_start_ms": lo, "bin_stop_ms": hi, "lobe": lobe,
                         **_lobe_stats(col, sel, cortex)})
    table = pd.DataFrame(rows)
    total = table.groupby("bin")["mass"].transform("sum")
    table["share"] = table["mass"] / total.where(total > 0, 1.0)
    order = table.sort_values(["bin", "mass", "mean"], ascending=[True, False, False])
    table["rank"] = order.groupby("bin").cumcount().reindex(table.index) + 1
    return table


def _lobe_stats(col, sel, cortex):
    area = cortex["area_mm2"]
    out = {"area_cm2": round(float(area[sel].sum() / 100), 2),
           "mean": float(np.average(col[sel], weights=area[sel])),
           "max": float(col[sel].max()),
           "above_half_cm2": float(area[sel & (col >= col.max() / 2)].sum() / 100),
           "mass": float((area[sel] * np.maximum(col[sel] / max(col.max(), 1e-300) - 0.5, 0)
                          ).sum() / 100)}
    for h, name in enumerate(("lh", "rh")):
        part = sel & (cortex["hemi"] == h)
        out[f"mean_{name}"] = float(np.average(col[part], weights=area[part]))
    return out


def to_source_estimate(values, bin_edges_ms, *, subject="fsaverage"):
    """A cortical map as an ``mne.SourceEstimate`` on fsaverage (time = bin centres).

    fsaverage5's vertices are fsaverage's first 10242 per hemisphere, so the
    estimate's ``vertices`` are ``[arange(10242), arange(10242)]`` and it
    morphs and plots on MNE's fsaverage as it is.
    """
    import mne

    from ..data.fsaverage import N_VERTICES

    edges = np.asarray(bin_edges_ms, float)
    width = float(np.median(np.diff(edges))) / 1000 if len(edges) > 1 else 1.0
    values = np.asarray(values, np.float64)
    if values.shape[0] != 2 * N_VERTICES:
        raise ValueError(f"{values.shape[0]} sources; fsaverage5 has {2 * N_VERTICES}.")
    vertices = [np.arange(N_VERTICES), np.arange(N_VERTICES)]
    return mne.SourceEstimate(values, vertices, tmin=edges[0] / 1000 + width / 2, tstep=width,
                              subject=subject)


def point_spread(kernel, gain, vertices):
    """Point-spread of an inverse at cortical ``vertices``, in mm and cm^2.

    The point-spread function of vertex ``v`` is ``|K g_v|``, the cortical
    map the inverse ``K`` makes of a unit source at ``v`` whose scalp
    pattern is ``g_v`` (a column of ``gain``: the inverse's own forward
    model, or another head's to include the model error).

    Returns
    -------
    pandas.DataFrame
        Per vertex: ``peak_error_mm`` (from ``v`` to the map's peak),
        ``sd_mm`` (spatial deviation: the root mean squared distance from
        ``v``, weighted by the squared map) and ``half_max_cm2`` (cortical
        area above half the peak).
    """
    import pandas as pd

    from ..data.fsaverage import template_cortex

    cortex = template_cortex()
    xyz, area = cortex["mri_mm"], cortex["area_mm2"]
    rows = []
    for v, g in zip(vertices, np.asarray(gain).T, strict=True):
        psf = np.abs(kernel @ g)
        dist = np.linalg.norm(xyz - xyz[v], axis=1)
        w = psf ** 2
        rows.append({"vertex": int(v), "lobe": str(cortex["lobe"][v]),
                     "peak_error_mm": round(float(dist[np.argmax(psf)]), 1),
                     "sd_mm": round(float(np.sqrt((w * dist ** 2).sum() / w.sum())), 1),
                     "half_max_cm2": round(float(area[psf >= psf.max() / 2].sum() / 100), 1)})
    return pd.DataFrame(rows)
