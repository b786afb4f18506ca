"""The fsaverage5 template head, offline: cortex, lobes, electrodes and sphere forward models.

Everything here ships with the installed packages; nothing is downloaded:

- the cortex: nilearn's fsaverage5 meshes (``nilearn.datasets.load_fsaverage``:
  pial, inflated, 10242 vertices per hemisphere, in mm of FreeSurfer's
  surface RAS). fsaverage5's vertices are the first 10242 of fsaverage's, so
  a map on them is a map on fsaverage (``vertices = [arange(10242)] * 2``);
- the frame: MNE's ``mne/data/fsaverage/fsaverage-trans.fif`` (head <-> MRI)
  and the scalp ``fsaverage-head.fif``;
- the electrodes: MNE's 10-05 template montage, whose positions lie on the
  fsaverage scalp (median 4 mm from it for the 63 THINGS-EEG2 channels).
  easycap-M1's positions, which :func:`eegvision.data.montage.make_info`
  gives the data, are an idealised sphere that sits about 30 mm behind and
  below the template cortex, so the forward models here place the channels
  by name on the template head instead.

Frames: every position here is in MNE's head frame, in metres, and the
forward model is computed with an identity MRI->head transform. MNE's
source-space check for sphere models compares sources taken back to MRI
coordinates with the sphere's centre in head coordinates (mne 1.13,
``_filter_source_spaces``); with fsaverage's transform (31 mm forward,
40 mm up) that drops about a quarter of the cortex as "outside the inner
skull" though it is inside. With sources already in head coordinates both
sides are in one frame, and only the vertices truly outside the sphere's
inner shell remain (see :func:`forward_model`).
"""

from __future__ import annotations

import functools
import os

import numpy as np

from .._utils import data_error, logger

#: Vertices per hemisphere of fsaverage5 (icosahedron order 5).
N_VERTICES = 10242
HEMIS = ("lh", "rh")
#: Lobes of :func:`lobe_of`, in the order tables list them.
LOBES = ("frontal", "parietal", "temporal", "occipital")
#: How far inside the inner sphere a vertex outside it is moved (mm).
MARGIN_MM = 3.0
#: Conductivities (S/m) and relative radii (brain, CSF, skull, scalp) of the
#: inverse's sphere: MNE's defaults.
INVERSE_SPHERE = dict(relative_radii=(0.90, 0.92, 0.97, 1.0), sigmas=(0.33, 1.0, 0.004, 0.33))
#: The simulator's head, deliberately another one: fitted to the template
#: scalp instead of the electrodes, thinner shells and the conductivities of
#: more recent measurements (skull 1:25 of brain instead of 1:80, CSF 1.79 S/m).
TRUTH_SPHERE = dict(relative_radii=(0.87, 0.89, 0.95, 1.0), sigmas=(0.33, 1.79, 0.0132, 0.43))


def _fsaverage_dir():
    import mne

    return os.path.join(os.path.dirname(mne.__file__), "data", "fsaverage")


def _mri_to_head():
    import mne

    trans = mne.read_trans(os.path.join(_fsaverage_dir(), "fsaverage-trans.fif"),
                           verbose="error")
    return mne.transforms._ensure_trans(trans, "mri", "head")


def _vertex_normals(coords, faces):
    """Unit normals of a mesh's vertices: the area-weighted mean of their triangles' normals."""
    tri = np.cross(coords[faces[:, 1]] - coords[faces[:, 0]],
                   coords[faces[:, 2]] - coords[faces[:, 0]])
    normals = np.zeros_like(coords)
    for k in range(3):
        np.add.at(normals, faces[:, k], tri)
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def _vertex_areas(coords, faces):
    """Area (mm^2) of each vertex: a third of each triangle it belongs to."""
    tri = 0.5 * np.linalg.norm(np.cross(coords[faces[:, 1]] - coords[faces[:, 0]],
                                        coords[faces[:, 2]] - coords[faces[:, 0]]), axis=1)
    area = np.zeros(len(coords))
    for k in range(3):
        np.add.at(area, faces[:, k], tri / 3)
    return area


def _read_meshes():
    """fsaverage5's pial and inflated meshes and sulcal depth, from nilearn's files."""
    from nilearn import datasets

    mesh = datasets.load_fsaverage("fsaverage5")
    sulc = datasets.load_fsaverage_data("fsaverage5", mesh_type="inflated", data_type="sulcal")
    out = {}
    for hemi, part in (("lh", "left"), ("rh", "right")):
        out[f"pial_{hemi}"] = np.asarray(mesh["pial"].parts[part].coordinates, float)
        out[f"faces_{hemi}"] = np.asarray(mesh["pial"].parts[part].faces, np.int64)
        out[f"inflated_{hemi}"] = np.asarray(mesh["inflated"].parts[part].coordinates, float)
        out[f"inflated_faces_{hemi}"] = np.asarray(mesh["inflated"].parts[part].faces, np.int64)
        out[f"sulc_{hemi}"] = np.asarray(sulc.data.parts[part], float).ravel()
    return out


def _meshes():
    """The meshes of :func:`_read_meshes`, kept as one ``.npz`` in eegvision's cache.

    Importing nilearn takes seconds; its files are read once per nilearn version.
    """
    from importlib.metadata import version

    from .._utils import atomic_path
    from .paths import cache_base

    path = cache_base() / "cortex" / f"fsaverage5-nilearn-{version('nilearn')}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    arrays = _read_meshes()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return arrays


@functools.lru_cache(maxsize=1)
def template_cortex():
    """The fsaverage5 cortex (both hemispheres, left first), read once per process.

    Returns
    -------
    dict
        ``mri_mm`` (20484, 3): pial positions in fsaverage's surface RAS (mm);
        ``rr`` (20484, 3): the same in MNE's head frame (m); ``nn``: outward
        unit normals (head frame); ``faces``: per hemisphere, triangles of
        its own vertices; ``inflated``: per hemisphere ``(coords, faces)`` of
        the inflated mesh and ``sulc`` its sulcal depth (for figures);
        ``hemi`` (20484,) 0 left / 1 right; ``area_mm2`` per vertex;
        ``lobe`` (20484,) names of :data:`LOBES`.
    """
    import mne

    arrays = _meshes()
    pial = [arrays[f"pial_{h}"] for h in HEMIS]
    faces = [arrays[f"faces_{h}"] for h in HEMIS]
    mri_mm = np.concatenate(pial)
    if len(mri_mm) != 2 * N_VERTICES:
        raise data_error("nilearn fsaverage5", f"{len(mri_mm)} vertices, expected "
                         f"{2 * N_VERTICES}.", "install nilearn >= 0.11.")
    trans = _mri_to_head()
    nn = np.concatenate([_vertex_normals(c, f) for c, f in zip(pial, faces, strict=True)])
    return {"mri_mm": mri_mm,
            "rr": mne.transforms.apply_trans(trans, mri_mm / 1000.0),
            "nn": nn @ trans["trans"][:3, :3].T, "faces": faces,
            "inflated": [(arrays[f"inflated_{h}"], arrays[f"inflated_faces_{h}"]) for h in HEMIS],
            "sulc": [arrays[f"sulc_{h}"] for h in HEMIS],
            "hemi": np.repeat([0, 1], N_VERTICES),
            "area_mm2": np.concatenate([_vertex_areas(c, f)
                                        for c, f in zip(pial, faces, strict=True)]),
            "lobe": lobe_of(mri_mm)}


def lobe_of(mri_mm):
    """Lobe of each fsaverage surface-RAS position (mm), from coordinates.

    No lobe atlas ships offline (nilearn's Destrieux atlas and MNE's
    fsaverage labels are downloads), so the lobes are drawn with planes on
    fsaverage (MNI305) coordinates: occipital behind y = -72 mm (the
    parieto-occipital sulcus and pre-occipital notch); temporal below the
    Sylvian fissure, ``z < -1 - 0.4 y`` for ``y < 20`` mm and ``|x| > 18`` mm
    (this keeps gyrus rectus frontal); frontal in front of the central
    sulcus, ``y > -5 - 0.4 z``; parietal the rest. Borders are good to about
    a centimetre; the insula is split between frontal and temporal, the
    cingulate between frontal and parietal.
    """
    xyz = np.asarray(mri_mm, float)
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    lobe = np.full(len(xyz), "parietal", dtype=object)
    lobe[y > -5 - 0.4 * z] = "frontal"
    lobe[(z < -1 - 0.4 * y) & (y < 20) & (np.abs(x) > 18)] = "temporal"
    lobe[y < -72] = "occipital"
    return lobe.astype(str)


# ------------------------------------------------------------------ electrodes
def _template_montage():
    import mne

    # standard_1005 is called colin27_1005 from mne 1.13 on (same positions)
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() \
        else "standard_1005"
    return mne.channels.make_standard_montage(name)


def template_info(ch_names, sfreq=250.0, *, jitter_mm=0.0, seed=None):
    """An ``mne.Info`` of EEG channels placed by name on the fsaverage scalp.

    Parameters
    ----------
    ch_names : list of str
        10-05 channel names.
    sfreq : float
        Sampling frequency.
    jitter_mm : float
        Move each electrode by this distance (mm) in a random direction
        along the scalp (the simulator's misplaced caps); 0: none.
    seed : int | sequence | None
        Seed of the jitter (required with ``jitter_mm``).

    Returns
    -------
    mne.Info
    """
    import mne

    montage = _template_montage()
    known = {n.lower(): n for n in montage.ch_names}
    missing = [c for c in ch_names if c.lower() not in known]
    if missing:
        raise data_error(f"channels {', '.join(missing[:5])}", "have no position on the "
                         "fsaverage template (not 10-05 names).",
                         "drop them (--channels) or rename them to 10-05 names.")
    info = mne.create_info(list(ch_names), float(sfreq), "eeg")
    info.set_montage(montage, match_case=False, verbose="error")
    if jitter_mm:
        if seed is None:
            raise ValueError("template_info(jitter_mm=...) needs an explicit seed.")
        _jitter(info, jitter_mm, np.random.default_rng(seed))
    return info


def _jitter(info, jitter_mm, rng):
    """Move every electrode of ``info`` by ``jitter_mm`` tangentially (in place)."""
    for ch in info["chs"]:
        pos = ch["loc"][:3]
        step = rng.standard_normal(3)
        radial = pos / np.linalg.norm(pos)
        step -= step @ radial * radial
        # the forward solver reads ``chs``; the dig points are left as they were
        ch["loc"][:3] = pos + jitter_mm / 1000.0 * step / np.linalg.norm(step)


# ------------------------------------------------------------------ head models
def fit_sphere(info=None, *, to="electrodes", **shells):
    """A multi-shell sphere head model in head coordinates.

    Parameters
    ----------
    info : mne.Info | None
        Electrode positions (``to='electrodes'``).
    to : 'electrodes' | 'scalp'
        Fit the sphere to the electrodes (MNE's ``make_sphere_model('auto',
        'auto', info)``) or to fsaverage's scalp above the lowest electrode
        level (the simulator's head).
    **shells
        ``relative_radii`` and ``sigmas`` of ``mne.make_sphere_model``.

    Returns
    -------
    mne.bem.ConductorModel
    """
    import mne

    from .._utils import _check_option

    _check_option("to", to, ("electrodes", "scalp"))
    if to == "electrodes":
        return mne.make_sphere_model("auto", "auto", info, verbose="error", **shells)
    head = mne.read_bem_surfaces(os.path.join(_fsaverage_dir(), "fsaverage-head.fif"),
                                 verbose="error")[0]
    rr = mne.transforms.apply_trans(_mri_to_head(), head["rr"])
    radius, origin = _lsq_sphere(rr[rr[:, 2] > 0.0])
    return mne.make_sphere_model(origin, radius, verbose="error", **shells)


def _lsq_sphere(points):
    """Least-squares sphere through ``points``: (radius, centre)."""
    a = np.c_[2 * points, np.ones(len(points))]
    sol = np.linalg.lstsq(a, (points ** 2).sum(1), rcond=None)[0]
    centre = sol[:3]
    return float(np.sqrt(sol[3] + centre @ centre)), centre


def inside_positions(rr, sphere, margin_mm=MARGIN_MM):
    """Source positions moved inside ``sphere``'s inner shell where they are outside it.

    A vertex farther from the centre than ``inner radius - margin_mm`` is
    moved radially to that distance. Returns ``(positions, moved)``,
    ``moved`` the boolean mask of moved vertices.
    """
    centre = np.asarray(sphere["r0"], float)
    limit = sphere["layers"][0]["rad"] - margin_mm / 1000.0
    offset = rr - centre
    dist = np.linalg.norm(offset, axis=1)
    moved = dist > limit
    out = rr.copy()
    out[moved] = centre + offset[moved] * (limit / dist[moved])[:, None]
    return out, moved


def forward_model(info, sphere, *, vertices=None, margin_mm=MARGIN_MM, fixed=True):
    """EEG forward model of fsaverage5 cortex sources, oriented along the mesh normals.

    Parameters
    ----------
    info : mne.Info
        Channels with positions in head coordinates (:func:`template_info`).
    sphere : mne.bem.ConductorModel
        A sphere model (:func:`fit_sphere`).
    vertices : array of int | None
        Indices into the 20484 cortex vertices (left then right); None: all.
    margin_mm : float
        Vertices outside the sphere's inner shell are moved to ``margin_mm``
        inside it (:func:`inside_positions`) so that none is dropped.
    fixed : bool
        One source per vertex along its normal; False: three per vertex in
        surface orientation (the normal last), as MNE's depth-weighted
        fixed-orientation inverse wants its forward.

    Returns
    -------
    fwd : mne.Forward
    moved : dict
        ``n_moved``, ``by_lobe`` (lobe -> count), ``max_shift_mm``.
    """
    import mne

    cortex = template_cortex()
    idx = np.arange(2 * N_VERTICES) if vertices is None else np.asarray(vertices)
    rr, moved = inside_positions(cortex["rr"][idx], sphere, margin_mm)
    src = mne.setup_volume_source_space(pos=dict(rr=rr, nn=cortex["nn"][idx]), verbose="error")
    fwd = mne.make_forward_solution(info, None, src, sphere, eeg=True, meg=False,
                                    verbose="error")
    if fwd["nsource"] != len(idx):
        raise RuntimeError(f"The forward solver dropped {len(idx) - fwd['nsource']} of "
                           f"{len(idx)} sources although all are inside the sphere.")
    fwd = mne.convert_forward_solution(fwd, surf_ori=True, force_fixed=fixed, use_cps=True,
                                       verbose="error")
    shift = np.linalg.norm(rr[moved] - cortex["rr"][idx][moved], axis=1) * 1000
    lobes, counts = np.unique(cortex["lobe"][idx][moved], return_counts=True)
    report = {"n_moved": int(moved.sum()), "n_sources": int(len(idx)),
              "by_lobe": {str(k): int(v) for k, v in zip(lobes, counts, strict=True)},
              "max_shift_mm": round(float(shift.max()), 1) if len(shift) else 0.0}
    logger.info("forward model: %d of %d vertices outside the inner shell moved inward "
                "(%s; at most %.1f mm)", report["n_moved"], len(idx), report["by_lobe"],
                report["max_shift_mm"])
    return fwd, report


# ------------------------------------------------------------------ patches
def mesh_graph(hemi):
    """Sparse graph of one hemisphere's pial mesh, edges weighted by their length (mm)."""
    from scipy import sparse

    cortex = template_cortex()
    faces = cortex["faces"][hemi]
    xyz = cortex["mri_mm"][hemi * N_VERTICES:(hemi + 1) * N_VERTICES]
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    length = np.linalg.norm(xyz[edges[:, 0]] - xyz[edges[:, 1]], axis=1)
    graph = sparse.coo_matrix((length, (edges[:, 0], edges[:, 1])),
                              shape=(N_VERTICES, N_VERTICES)).tocsr()
    return graph.maximum(graph.T)


def geodesic_patch(centre, radius_mm):
    """Vertices within ``radius_mm`` along the pial mesh of vertex ``centre`` (0..20483)."""
    from scipy.sparse.csgraph import dijkstra

    hemi = int(centre >= N_VERTICES)
    dist = dijkstra(mesh_graph(hemi), indices=int(centre) - hemi * N_VERTICES,
                    limit=float(radius_mm))
    return np.flatnonzero(np.isfinite(dist)) + hemi * N_VERTICES


def patch_centres(lobe, *, max_depth_mm=20.0):
    """Candidate patch centres in ``lobe``: superficial vertices on a gyral crown.

    A crown (its normal within 45 degrees of the direction from the brain's
    centre) at most ``max_depth_mm`` from the fsaverage scalp is where EEG
    sees a patch best; the docs' point-spread table shows what happens deeper.
    """
    import mne
    from scipy.spatial import cKDTree

    from .._utils import _check_option

    _check_option("lobe", lobe, LOBES)
    cortex = template_cortex()
    head = mne.read_bem_surfaces(os.path.join(_fsaverage_dir(), "fsaverage-head.fif"),
                                 verbose="error")[0]
    depth = cKDTree(head["rr"] * 1000).query(cortex["mri_mm"])[0]
    outward = np.einsum("ij,ij->i", cortex["nn"], _unit(cortex["rr"] - cortex["rr"].mean(0)))
    ok = (cortex["lobe"] == lobe) & (depth < max_depth_mm) & (outward > np.cos(np.pi / 4))
    return np.flatnonzero(ok)


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)
