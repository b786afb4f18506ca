"""Cortical maps on the inflated fsaverage5 surface (nilearn), one colour scale for all views.

The maps are drawn as magnitudes (``|value|``): with sources oriented along
the surface normal, the sign of a projected map flips between the two
walls of a sulcus and says nothing about where the information is.
"""

from __future__ import annotations

import numpy as np

#: How the figure names each map.
METHOD_NAMES = {"haufe": "Haufe pattern", "gradient": "gradient \u00d7 input",
                "gradcam": "Grad-CAM", "occlusion": "occlusion"}
#: (hemisphere, view) of each panel, in the order drawn.
VIEWS = (("left", "lateral"), ("right", "lateral"), ("left", "medial"), ("right", "medial"),
         ("left", "posterior"), ("right", "posterior"))


def _meshes():
    from ..data.fsaverage import template_cortex

    cortex = template_cortex()
    return ({h: list(m) for h, m in zip(("left", "right"), cortex["inflated"], strict=True)},
            dict(zip(("left", "right"), cortex["sulc"], strict=True)))


def plot_cortex(values, *, title=None, label="% of the map's peak", mask=None, axes=None,
                vmax=None, show=False):
    """Draw one cortical map (20484 values, left hemisphere first) in six views.

    Parameters
    ----------
    values : array, shape (20484,)
        The map; its magnitude is drawn, as a percentage of ``vmax``.
    title : str | None
        Figure title.
    label : str
        Colour-bar label (the unit of the scale).
    mask : array of bool, shape (20484,) | None
        Sources to draw (e.g. significant ones); the rest stay grey.
    axes : list of 6 matplotlib 3D Axes | None
        Where to draw (``subplot_kw={'projection': '3d'}``); None: a new figure.
    vmax : float | None
        The value drawn as 100 %; None: the map's largest magnitude.
    show : bool
        Show the figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    mag = np.abs(np.asarray(values, np.float64))
    top = float(vmax if vmax is not None else mag.max()) or 1.0
    pct = 100 * mag / top
    if mask is not None:
        pct = np.where(np.asarray(mask, bool), pct, 0.0)
    if axes is None:
        fig, axes = plt.subplots(2, 3, figsize=(9, 5.2), subplot_kw={"projection": "3d"})
        axes = axes.T.ravel()  # columns: lateral, medial, posterior; rows: left, right
    fig = axes[0].figure
    meshes, sulc = _meshes()
    for ax, (hemi, view) in zip(axes, VIEWS, strict=True):
        _draw(ax, meshes[hemi], _half(pct, hemi), sulc[hemi], hemi, view)
        ax.set_title(f"{hemi} {view}", fontsize=8)
    _colorbar(fig, axes, label)
    if title:
        fig.suptitle(title, fontsize=10)
    if show:
        plt.show()
    return fig


def _half(values, hemi):
    n = len(values) // 2
    return values[:n] if hemi == "left" else values[n:]


def _draw(ax, mesh, values, sulc, hemi, view):
    from nilearn import plotting

    plotting.plot_surf_stat_map(mesh, values, hemi=hemi, view=view, bg_map=sulc, axes=ax,
                                cmap="inferno", vmin=0, vmax=100, symmetric_cbar=False,
                                colorbar=False, threshold=1e-6, bg_on_data=True,
                                engine="matplotlib")
    for artist in ax.collections:  # 20k triangles per view: a bitmap in the PDF, text stays vector
        artist.set_rasterized(True)


def _colorbar(fig, axes, label):
    import matplotlib as mpl

    mappable = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 100), cmap="inferno")
    bar = fig.colorbar(mappable, ax=list(axes), shrink=0.6, pad=0.02)
    bar.set_label(label)


def sources_figure(df, summary, extras):
    """The ``sources`` analysis' figure: the subjects' mean map in its peak bin, six views.

    Thresholded by ``cortex_p`` (p < 0.05, corrected) when the test across
    subjects was run; otherwise the title says why it is unthresholded.
    """
    values = np.asarray(extras["cortex_mean"], np.float64)
    edges = np.asarray(extras["cortex_bin_edges_ms"], float)
    b = int(np.argmax(np.abs(values).max(0)))
    mask, note = None, _why_unthresholded(df, extras)
    if extras.get("cortex_p") is not None:
        mask = np.asarray(extras["cortex_p"])[:, b] < 0.05
        note = f"sources p < 0.05 (sign flips across {df['subject'].nunique()} subjects, " \
               "max-statistic corrected)"
    method = ", ".join(METHOD_NAMES.get(m, m) for m in sorted(set(df["method"].astype(str))))
    inverse = ", ".join(sorted(set(df["inverse"].astype(str))))
    n = df["subject"].nunique()
    title = (f"{method} on the cortex ({inverse}, fsaverage template; mean of {n} subject"
             f"{'s' if n != 1 else ''}), {edges[b]:g}-{edges[b + 1]:g} ms\n{note}")
    return plot_cortex(values[:, b], title=title, label=f"|{inverse}| of the map, % of peak",
                       mask=mask)


def _why_unthresholded(df, extras):
    n = df["subject"].nunique()
    if set(df["method"].astype(str)) == {"haufe"}:
        return "unthresholded (pattern norms have no sign to flip)"
    return f"unthresholded ({n} subject{'s' if n != 1 else ''}; the test needs 5)"
