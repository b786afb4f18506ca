"""Ground-truth simulator: writes a THINGS-EEG2-shaped data root with planted information.

The EEG is made by physics, not by copying features into channels: a lead
field from MNE's three-shell spherical head model maps dipoles to the 63
easycap-M1 electrodes. Image information lives in a few dipoles of one region
(``region``), inside one time window (``window_ms``) and one frequency band
(``band_hz``): each dipole carries band-limited waveforms whose amplitudes are
a linear projection of the image's features, so EEG -> features is partly
linearly decodable. On top come a shared P1/N1 evoked response (the same for
every image: no information), pink (1/f) background dipoles, sensor noise and
independent noise per repetition. Subjects differ in dipole orientations,
gains and a latency jitter of the window. ``simulation_truth.json`` records
what was planted so analyses can be checked against it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import pickletools
import shutil
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import (
    _check_option,
    atomic_path,
    data_error,
    logger,
    rng_from_seed,
    verbose,
    write_json,
)
from .montage import OFFICIAL_17_CHANNELS, REGIONS, THINGS_EEG2_CHANNELS, channel_region
from .paths import shared_data_dir
from .raw import TARGET_CODE
from .things import LAYOUTS as READER_LAYOUTS

#: Bump when the simulated data change, so cached built-in roots are rebuilt.
SIMULATOR_VERSION = 2

#: The planted truth unless told otherwise.
DEFAULT_REGION = "occipital"
DEFAULT_WINDOW_MS = (100.0, 400.0)
DEFAULT_BAND_HZ = (4.0, 12.0)
#: Single-trial power of the image signal over the noise power, inside the window.
DEFAULT_SNR = 0.05
#: A cortical patch (``cortex=LOBE``): its radius along the pial surface (mm), about
#: 3 cm2, and how far each electrode of the simulated head is off its template place.
PATCH_MM = 12.0
ELECTRODE_JITTER_MM = 5.0

#: Sizes: ``default`` generates in seconds, ``full`` has THINGS-EEG2's real dimensions.
SIZES = {
    "default": dict(n_train=1654, n_train_reps=4, n_test=200, n_test_reps=20, dtype="float32"),
    "full": dict(n_train=16540, n_train_reps=4, n_test=200, n_test_reps=80, dtype="float64"),
}
#: Preprocessed layouts the simulator writes, named as the readers name them
#: (:data:`eegvision.data.things.LAYOUTS`): ``nice`` (63 ch, 250 Hz) and
#: ``official`` (17 ch, 100 Hz, under ``eeg_dataset/preprocessed_data``).
LAYOUTS = ("nice", "official")
#: Earlier names, still accepted: ``250hz`` and ``eeg_dataset`` (``official``
#: once named ``Preprocessed_data/``, which no public code writes; it now
#: writes the same files where THINGS-EEG2's code puts them).
LAYOUT_ALIASES = {"250hz": "nice", "eeg_dataset": "official"}
BUILTIN_SUBJECTS = 2
_LAYOUT_DIRS = {name: READER_LAYOUTS[name] for name in LAYOUTS}

SFREQ = 250.0
_TMIN = -0.2
_N_EPOCH = 300  # -0.2 .. 1.0 s at 250 Hz, as stored in `times`
_N_CROP = 50  # NICE drops the baseline from the data but not from `times`
_N_INFO_SOURCES = 8
_N_WAVES = 4  # band-limited waveforms per information dipole
_N_BG = 40
_N_CONCEPTS_TRAIN = 1654
_GENERIC_CATEGORIES = ("animal", "food", "vehicle", "tool", "clothing", "furniture", "plant")
_PRIMARY_ORDER = ("animal", "food", "vehicle", "tool")
_VAR_SPLIT = dict(category=0.25, concept=0.45, image=0.30)


# ----------------------------------------------------------------------------- names
def _primary_category(cats):
    """One category per concept: animal/food/vehicle/tool first, else the first, else other."""
    parts = [c for c in str(cats or "").split(";") if c and c != "nan"]
    for c in _PRIMARY_ORDER:
        if c in parts:
            return c
    return parts[0] if parts else "other"


def _concept_table(shared):
    """Concept folders, names, THINGS indices and categories for both splits."""
    if shared is not None and (Path(shared) / "things_eeg2_concepts.tsv").is_file():
        import pandas as pd

        df = pd.read_csv(Path(shared) / "things_eeg2_concepts.tsv", sep="\t", keep_default_na=False)
        out = {}
        for split, key in (("training", "train"), ("test", "test")):
            d = df[df["split"] == split].sort_values("condition_index")
            out[key] = dict(folder=list(d["folder"]), concept=list(d["concept"]),
                            things=[int(i) for i in d["things_index"]],
                            category=[_primary_category(c) for c in d["categories27"]])
        return out, "things_eeg2_concepts.tsv"
    rng = np.random.default_rng(1854)  # fixed: generic names do not depend on the seed
    things = rng.permutation(1854) + 1
    out = {}
    for key, n, off in (("train", _N_CONCEPTS_TRAIN, 200), ("test", 200, 0)):
        names = [f"concept{off + i + 1:04d}" for i in range(n)]
        cats = [_GENERIC_CATEGORIES[j] for j in rng.integers(0, len(_GENERIC_CATEGORIES), n)]
        out[key] = dict(folder=[f"{i + 1:05d}_{c}" for i, c in enumerate(names)], concept=names,
                        things=[int(t) for t in things[off:off + n]], category=cats)
    return out, "generic"


def _metadata(table, train_concept_idx, n_test):
    """The ``image_metadata.npy`` dict: one entry per image (condition)."""
    tr, te = table["train"], table["test"]
    per_concept = np.zeros(len(tr["concept"]), int)
    files = []
    for k in train_concept_idx:
        per_concept[k] += 1
        files.append(f"{tr['concept'][k]}_{per_concept[k]:02d}b.jpg")
    return {
        "train_img_concepts": [tr["folder"][k] for k in train_concept_idx],
        "train_img_files": files,
        "train_img_concepts_THINGS": [f"{tr['things'][k]:05d}_{tr['concept'][k]}"
                                      for k in train_concept_idx],
        "train_img_categories": [tr["category"][k] for k in train_concept_idx],
        "test_img_concepts": te["folder"][:n_test],
        "test_img_files": [f"{c}_01s.jpg" for c in te["concept"][:n_test]],
        "test_img_concepts_THINGS": [f"{t:05d}_{c}" for t, c in
                                     zip(te["things"][:n_test], te["concept"][:n_test], strict=True)],
        "test_img_categories": te["category"][:n_test],
    }


# -------------------------------------------------------------------------- features
def _feature_stats(feats, n_pc=64):
    """Mean, top principal axes and variances, and residual variance of real features."""
    x = feats.reshape(len(feats), -1).astype(np.float64)
    mu = x.mean(0)
    _, s, vt = np.linalg.svd(x - mu, full_matrices=False)
    lam = s ** 2 / (len(x) - 1)
    n_pc = min(n_pc, len(lam) - 1)
    resid = lam[n_pc:].sum() / x.shape[1]
    return dict(mu=mu, axes=vt[:n_pc].T, lam=lam[:n_pc], resid=resid)


@functools.lru_cache(maxsize=4)
def _synthetic_stats(dim, seed=768):
    """Feature statistics like CLIP ViT-L/14's when no real features are at hand.

    A mean direction plus a power-law spectrum on 256 random axes and a little
    isotropic spread, estimated from 400 unit-norm draws. Calibrated against
    NICE's real features of the 200 THINGS-EEG2 test images: 200 draws have a
    mean vector of norm about 0.73 (real: 0.74, i.e. a mean cosine of 0.54
    between images) and put about 67 % of their variance in the top 32
    principal components (draws from the real features' statistics: 66 %;
    :func:`_feature_stats` keeps 64 components of either). Cached: read-only.
    """
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal(dim)
    mu *= 0.87 / np.linalg.norm(mu)
    n_ax = min(256, dim)
    axes = np.linalg.qr(rng.standard_normal((dim, n_ax)))[0]
    x = (rng.standard_normal((400, n_ax)) * np.arange(1, n_ax + 1) ** -0.4) @ axes.T
    x += 0.05 * rng.standard_normal((400, dim)) / np.sqrt(dim)
    x = mu + 0.8 * x / np.linalg.norm(x, axis=1).mean()
    return _feature_stats(x / np.linalg.norm(x, axis=1, keepdims=True))


def _draw(stats, n, rng):
    """n draws from N(0, low-rank + isotropic covariance of ``stats``)."""
    low = (rng.standard_normal((n, len(stats["lam"]))) * np.sqrt(stats["lam"])) @ stats["axes"].T
    return low + rng.standard_normal((n, len(stats["mu"]))) * np.sqrt(stats["resid"])


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _concept_vectors(stats, categories, rng):
    """One vector per concept: a shared category direction plus the concept's own part."""
    cats = sorted(set(categories))
    cat_vec = dict(zip(cats, _draw(stats, len(cats), rng), strict=True))
    base = np.stack([np.sqrt(_VAR_SPLIT["category"]) * cat_vec[c] for c in categories])
    return base + np.sqrt(_VAR_SPLIT["concept"]) * _draw(stats, len(categories), rng)


def _images(stats, base, concept_idx, rng, n_avg=1):
    """Unit-norm image features: concept vector plus image noise (averaged over ``n_avg``)."""
    noise = _draw(stats, len(concept_idx), rng) * np.sqrt(_VAR_SPLIT["image"] / n_avg)
    return _unit(stats["mu"] + base[concept_idx] + noise)


def _load_real_features(features):
    """Real test features and centres from a folder or a ``clip_feature_maps_test.npy``."""
    path = Path(features)
    folder = path if path.is_dir() else path.parent
    test_file = path / "clip_feature_maps_test.npy" if path.is_dir() else path
    if not test_file.is_file():
        raise data_error(test_file, "no CLIP test features file here",
                         "pass --features pointing at clip_feature_maps_test.npy or its folder")
    test = np.load(test_file).astype(np.float32)
    test = test.reshape(len(test), -1)
    centre_file = folder / "center_clip.npy"
    centre = np.load(centre_file).astype(np.float32) if centre_file.is_file() else None
    if centre is not None:
        centre = centre.reshape(len(centre), -1)
        if centre.shape != test.shape:
            raise data_error(centre_file, f"shape {centre.shape} does not match the test "
                             f"features {test.shape}", "give matching feature files")
    return test, centre


def _make_features(table, train_concept_idx, n_test, real, seed, dim=768):
    """Training / test features and test centres, float32 (n, D), and their statistics."""
    if real is not None:
        test, centre = real
        stats = _feature_stats(test)
        centre = test if centre is None else centre
        test, centre = test[:n_test], centre[:n_test]
    else:
        stats = _synthetic_stats(dim)
        te_base = _concept_vectors(stats, table["test"]["category"][:n_test],
                                   np.random.default_rng([seed, 8]))
        idx = np.arange(n_test)
        test = _images(stats, te_base, idx, np.random.default_rng([seed, 9]))
        # NICE's centre: the mean feature of the concept's *other* images (12 of them)
        centre = _images(stats, te_base, idx, np.random.default_rng([seed, 10]), n_avg=12)
    base = _concept_vectors(stats, table["train"]["category"], np.random.default_rng([seed, 6]))
    train = _images(stats, base, train_concept_idx, np.random.default_rng([seed, 7]))
    return (train.astype(np.float32), np.asarray(test, np.float32),
            np.asarray(centre, np.float32), stats)


# --------------------------------------------------------------------------- physics
@functools.lru_cache(maxsize=2)
def _lead_field(spacing_mm=15.0):
    """Free-orientation lead field (63, n_src, 3) of a spherical head, source positions and regions.

    Computed once per process (about half a second).
    """
    import mne

    from .montage import make_info

    info = make_info(THINGS_EEG2_CHANNELS, SFREQ)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose="error")
    src = mne.setup_volume_source_space(sphere=sphere, pos=spacing_mm, verbose="error")
    fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, eeg=True, meg=False,
                                    verbose="error")
    lf = fwd["sol"]["data"].reshape(len(THINGS_EEG2_CHANNELS), -1, 3)
    rr = fwd["source_rr"] - sphere["r0"]
    radius = np.linalg.norm(rr, axis=1)
    ch_pos = np.array([ch["loc"][:3] for ch in info["chs"]]) - sphere["r0"]
    # a source's region is that of the electrode straight above it
    nearest = np.argmax(_unit(rr) @ _unit(ch_pos).T, axis=1)
    regions = np.array([channel_region(THINGS_EEG2_CHANNELS[i]) for i in nearest])
    cortex = radius > 0.6 * radius.max()  # superficial, cortex-like sources only
    return lf / np.abs(lf).max(), rr, regions, cortex


def _band_noise(n, band_hz, rng, n_fft=1024):
    """(n, _N_EPOCH + 64) unit-variance waveforms with power only inside ``band_hz``."""
    spec = np.fft.rfft(rng.standard_normal((n, n_fft)), axis=1)
    f = np.fft.rfftfreq(n_fft, 1 / SFREQ)
    spec[:, (f < band_hz[0]) | (f > band_hz[1])] = 0
    x = np.fft.irfft(spec, n_fft, axis=1)[:, :_N_EPOCH + 64]
    return x / x.std(axis=1, keepdims=True)


def _taper(window_ms, shift_s):
    """Tukey-shaped mask of the planted window, shifted by ``shift_s``, on the epoch grid."""
    t = _TMIN + np.arange(_N_EPOCH) / SFREQ - shift_s
    t0, t1 = window_ms[0] / 1000, window_ms[1] / 1000
    ramp = min(0.04, (t1 - t0) / 4)
    up = np.clip((t - t0) / ramp, 0, 1)
    down = np.clip((t1 - t) / ramp, 0, 1)
    return np.sin(np.pi / 2 * np.minimum(up, down)) ** 2


def _planted(stats, region, band_hz, seed, cortex=None, patch_mm=None):
    """What all subjects share: information dipoles, waveforms and the feature projection.

    With ``cortex`` (a lobe), the information lives in a patch of the
    fsaverage5 cortex instead (:func:`_cortical_patch`): ``sources`` then
    numbers its parts.
    """
    _, _, regions, volume = _lead_field()
    rng = np.random.default_rng([seed, 1])
    patch = None
    if cortex is None:
        pool = np.flatnonzero(volume & (regions == region))
        sources = np.sort(rng.choice(pool, min(_N_INFO_SOURCES, len(pool)), replace=False))
    else:
        patch = _cortical_patch(cortex, patch_mm, rng)
        sources = np.arange(_N_INFO_SOURCES)
    n_dims = len(sources) * _N_WAVES
    n_pc = min(n_dims, len(stats["lam"]))
    mix = np.linalg.qr(rng.standard_normal((n_dims, n_dims)))[0][:, :n_pc]
    # amplitudes = whitened principal-component scores of the features, mixed
    proj = mix @ (stats["axes"][:, :n_pc] / np.sqrt(stats["lam"][:n_pc])).T
    waves = _band_noise(n_dims, band_hz, rng)
    return dict(sources=sources, proj=proj, waves=waves, mu=stats["mu"], patch=patch)


def _cortical_patch(lobe, radius_mm, rng):
    """A patch of fsaverage5 cortex in ``lobe``, cut into the information sources' parts.

    Its centre is a random superficial gyral-crown vertex of the lobe
    (:func:`eegvision.data.fsaverage.patch_centres`) whose patch, every
    vertex within ``radius_mm`` along the pial surface, lies wholly in the
    lobe (a patch across a lobe border is in no one lobe); it is split
    among ``_N_INFO_SOURCES`` parts by their nearest of as many random
    vertices.
    """
    from .fsaverage import geodesic_patch, patch_centres, template_cortex

    cortex = template_cortex()
    for centre in rng.permutation(patch_centres(lobe)):
        vertices = geodesic_patch(int(centre), radius_mm)
        if (cortex["lobe"][vertices] == lobe).all():
            break
    else:
        raise ValueError(f"No {radius_mm:g}-mm patch fits inside the {lobe} lobe: use a smaller "
                         "patch_mm.")
    centre = int(centre)
    xyz = cortex["mri_mm"][vertices]
    seeds = xyz[rng.choice(len(vertices), min(_N_INFO_SOURCES, len(vertices)), replace=False)]
    parts = np.argmin(((xyz[:, None] - seeds[None]) ** 2).sum(-1), axis=1)
    return dict(lobe=lobe, centre=centre, vertices=vertices, parts=parts,
                radius_mm=float(radius_mm))


def _patch_patterns(patch, seed, subject):
    """(63, _N_INFO_SOURCES) scalp patterns of the patch's parts in this subject's head.

    The head is NOT the one the inverse of :mod:`eegvision.cortex` assumes:
    a sphere fitted to the template scalp with other shells and
    conductivities (:data:`eegvision.data.fsaverage.TRUTH_SPHERE`), and the
    electrodes moved by ``ELECTRODE_JITTER_MM`` each along the scalp (seeded
    per subject). Dipoles are normal to the cortex, with moments in
    proportion to their vertex's area (a uniform current density).
    """
    from . import fsaverage

    info = fsaverage.template_info(THINGS_EEG2_CHANNELS, jitter_mm=ELECTRODE_JITTER_MM,
                                   seed=[seed, 4, subject])
    sphere = fsaverage.fit_sphere(to="scalp", **fsaverage.TRUTH_SPHERE)
    fwd, _ = fsaverage.forward_model(info, sphere, vertices=patch["vertices"])
    gain = fwd["sol"]["data"] * fsaverage.template_cortex()["area_mm2"][patch["vertices"]]
    onehot = patch["parts"][:, None] == np.arange(_N_INFO_SOURCES)[None]
    return gain @ onehot


def _orient(lf, idx, rng):
    """(63, len(idx)) scalp patterns of dipoles ``idx`` with random orientations."""
    ori = _unit(rng.standard_normal((len(idx), 3)))
    return np.einsum("cks,ks->ck", lf[:, idx], ori)


def _evoked(lf, regions, cortex, rng):
    """A P1/N1-like response from two occipital dipoles, identical for every image."""
    t = _TMIN + np.arange(_N_EPOCH) / SFREQ
    pool = np.flatnonzero(cortex & (regions == "occipital"))
    pat = _orient(lf, rng.choice(pool, 2, replace=False), rng)
    p1 = np.exp(-0.5 * ((t - 0.10) / 0.015) ** 2)
    n1 = -1.3 * np.exp(-0.5 * ((t - 0.17) / 0.02) ** 2)
    erp = pat[:, :1] * p1 + pat[:, 1:] * n1
    return erp / np.abs(erp).max()


def _subject_model(planted, window_ms, snr, seed, subject):
    """One subject's head: dipole orientations and gains, latency jitter, noise sources."""
    lf, _, regions, cortex = _lead_field()
    rng = np.random.default_rng([seed, 2, subject])
    shift = int(rng.integers(-5, 6))  # latency jitter of the window, +-20 ms at 250 Hz
    src = planted["sources"]
    if planted.get("patch") is None:
        pat = _orient(lf, src, rng) * rng.lognormal(0.0, 0.3, len(src))
    else:
        pat = _patch_patterns(planted["patch"], seed, subject) * rng.lognormal(0.0, 0.3, len(src))
    taper = _taper(window_ms, shift / SFREQ)
    waves = planted["waves"][:, 32 - shift:32 - shift + _N_EPOCH] * taper
    basis = np.repeat(pat.T, _N_WAVES, axis=0)[:, :, None] * waves[:, None, :]
    bg = _orient(lf, rng.choice(np.flatnonzero(cortex), _N_BG, replace=False), rng)
    bg *= np.sqrt(0.8 / (bg ** 2).sum(1).mean())  # background 80 %, sensor noise 20 %
    power = (basis[:, :, taper > 0.5] ** 2).sum(0).mean()  # amplitudes have unit variance
    basis *= np.sqrt(snr / power)
    return dict(basis=basis.reshape(len(basis), -1).astype(np.float32),
                bg=bg.astype(np.float32), sensor_sd=np.sqrt(0.2),
                evoked=(1.5 * _evoked(lf, regions, cortex, rng)).astype(np.float32),
                proj=planted["proj"].astype(np.float32), mu=planted["mu"].astype(np.float32),
                jitter_ms=1000 * shift / SFREQ)


def _pink(shape, rng):
    """Unit-variance 1/f noise along the last axis."""
    n = shape[-1]
    f = np.abs(np.fft.fftfreq(n, 1 / SFREQ))
    f[0] = f[1]
    gain = 1 / np.sqrt(f)
    gain /= np.sqrt(np.mean(gain ** 2))
    spec = np.fft.rfft(rng.standard_normal(shape, dtype=np.float32), axis=-1)
    spec *= gain[:n // 2 + 1].astype(np.float32)
    return np.fft.irfft(spec, n, axis=-1).astype(np.float32)


def _simulate_chunk(model, feats, n_reps, rng, noise=True):
    """EEG (n, n_reps, 63, 300) float32 of the images with features ``feats``."""
    n, n_ch = len(feats), len(THINGS_EEG2_CHANNELS)
    amp = (feats - model["mu"]) @ model["proj"].T
    info = (amp @ model["basis"]).reshape(n, 1, n_ch, _N_EPOCH)
    gain = 1 + 0.1 * rng.standard_normal((n, n_reps, 1, 1), dtype=np.float32)
    x = info * gain + model["evoked"]
    if not noise:
        return x
    # one (63 x 40) @ (40 x trials*times) product: far faster than a broadcast stack of small ones
    bg = model["bg"] @ _pink((_N_BG, n * n_reps, _N_EPOCH), rng).reshape(_N_BG, -1)
    x += bg.reshape(n_ch, n, n_reps, _N_EPOCH).transpose(1, 2, 0, 3)
    x += np.float32(model["sensor_sd"]) * rng.standard_normal(x.shape, dtype=np.float32)
    return x


def _to_official(x):
    """250-Hz 63-channel epochs -> the official release's 17 channels, 100 Hz, -0.2..0.8 s."""
    from scipy.signal import resample_poly

    picks = [THINGS_EEG2_CHANNELS.index(c) for c in OFFICIAL_17_CHANNELS]
    return resample_poly(x[:, :, picks], 2, 5, axis=-1)[..., :100]


# --------------------------------------------------------------------------- writing
_MARK = b"EEGVISION-SIMULATOR-ARRAY-DATA-PLACEHOLDER"


class _ArraySlot:
    """Pickles exactly like an ndarray of ``shape``/``dtype`` except for a marker as its data.

    The marker is replaced by the real bytes, streamed chunk by chunk, so files of
    any size are written with bounded memory.
    """

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(int(s) for s in shape), np.dtype(dtype)

    def __reduce__(self):
        fn, args, state = np.empty(0, self.dtype).__reduce__()
        return fn, args, (state[0], self.shape, state[2], False, _MARK)


def _unframe(data):
    """Drop protocol-4 FRAME opcodes (a transport detail; the stream stays valid)."""
    cuts = [pos for op, _, pos in pickletools.genops(data) if op.name == "FRAME"]
    keep, last = [], 0
    for pos in cuts:
        keep.append(data[last:pos])
        last = pos + 9
    return b"".join(keep) + data[last:]


def _split_pickle(obj, slot, protocol):
    """Pickle ``obj`` and return (bytes before the array data, bytes after it)."""
    data = _unframe(pickle.dumps(obj, protocol=protocol))
    marker = b"C" + bytes([len(_MARK)]) + _MARK
    i = data.index(marker)
    nbytes = int(np.prod(slot.shape)) * slot.dtype.itemsize
    if protocol >= 4:
        head = b"\x8e" + struct.pack("<Q", nbytes)  # BINBYTES8
    elif nbytes < 2 ** 32:
        head = b"B" + struct.pack("<I", nbytes)  # BINBYTES
    else:
        raise ValueError("an array over 4 GiB needs pickle protocol 4")
    return data[:i] + head, data[i + len(marker):]


@contextlib.contextmanager
def _stream_epochs(path, shape, dtype, ch_names, times, style):
    """Write a preprocessed-EEG file; yields ``write(chunk)`` taking whole conditions.

    ``style`` "pickle": pickle.dump protocol 4 (NICE); "npy": np.save of a dict.
    """
    slot = _ArraySlot(shape, dtype)
    obj = {"preprocessed_eeg_data": slot, "ch_names": list(ch_names), "times": times}
    written = [0]
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        if style == "npy":
            box = np.empty((), dtype=object)
            box[()] = obj
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "|O", "fortran_order": False, "shape": ()})
            head, tail = _split_pickle(box, slot, protocol=3)
        else:
            head, tail = _split_pickle(obj, slot, protocol=4)
        fh.write(head)

        def write(chunk):
            chunk = np.ascontiguousarray(chunk, dtype=dtype)
            fh.write(chunk.data)
            written[0] += len(chunk)

        yield write
        if written[0] != shape[0]:
            raise RuntimeError(f"{path}: wrote {written[0]} of {shape[0]} conditions")
        fh.write(tail)


def _write_split(root, subject, split, model, feats, n_reps, layouts, dtype, seed):
    """Simulate one subject's split in chunks, streaming it into every requested layout."""
    n = len(feats)
    times = (_TMIN + np.arange(_N_EPOCH) / SFREQ).astype(np.float64)
    files = {
        "nice": (root / _LAYOUT_DIRS["nice"], (n, n_reps, 63, _N_EPOCH - _N_CROP),
                 THINGS_EEG2_CHANNELS, times, "pickle"),
        "official": (root / _LAYOUT_DIRS["official"], (n, n_reps, 17, 100), OFFICIAL_17_CHANNELS,
                     (-0.2 + np.arange(100) / 100.0), "npy"),
    }
    rng = np.random.default_rng([seed, 3, subject, split == "test"])
    step = max(1, 4_000_000 // (n_reps * 63 * _N_EPOCH))
    with contextlib.ExitStack() as stack:
        writers = {}
        for lay in layouts:
            folder, shape, chs, tms, style = files[lay]
            path = folder / f"sub-{subject:02d}" / f"preprocessed_eeg_{split}.npy"
            writers[lay] = stack.enter_context(_stream_epochs(path, shape, dtype, chs, tms, style))
        for start in range(0, n, step):
            x = _simulate_chunk(model, feats[start:start + step], n_reps, rng)
            if "nice" in writers:  # NICE quirk: data 0..1 s, `times` from -0.2 s
                writers["nice"](x[..., _N_CROP:])
            if "official" in writers:
                writers["official"](_to_official(x))


def _layouts(layouts):
    """Layout names as the readers name them, earlier names mapped, each once, checked."""
    out = []
    for lay in layouts:
        lay = LAYOUT_ALIASES.get(lay, lay)
        _check_option("layouts", lay, LAYOUTS + tuple(LAYOUT_ALIASES))
        if lay not in out:
            out.append(lay)
    return tuple(out)


def _planned_files(root, subjects, layouts, raw, blur_levels):
    """Every data file :func:`simulate_root` is about to write."""
    files = [root / "dnn_feature" / f for f in ("clip_feature_maps_training.npy",
                                                "clip_feature_maps_test.npy", "center_clip.npy")]
    files += [root / "image_set" / "image_metadata.npy", root / "simulation_truth.json"]
    for sub in _subject_ids(subjects):
        for split in ("training", "test"):
            name = f"preprocessed_eeg_{split}.npy"
            files += [root / _LAYOUT_DIRS[lay] / f"sub-{sub:02d}" / name for lay in layouts]
            files += [root / "Raw_data" / f"sub-{sub:02d}" / f"ses-{ses:02d}" /
                      f"raw_eeg_{split}.npy" for ses in range(1, RAW_SESSIONS + 1) if raw]
    if blur_levels:
        files.append(root / "dnn_feature" / "blur")
    return files


def _check_args(region, window_ms, band_hz, layouts, subjects):
    _check_option("region", region, REGIONS)
    if not (-200 <= window_ms[0] < window_ms[1] <= 1000):
        raise ValueError(f"window_ms {window_ms}: need -200 <= start < end <= 1000 ms.")
    if not (0 < band_hz[0] < band_hz[1] < SFREQ / 2):
        raise ValueError(f"band_hz {band_hz}: need 0 < low < high < {SFREQ / 2} Hz.")
    if not _subject_ids(subjects):
        raise ValueError(f"subjects={subjects}: simulate at least one subject.")


def _subject_ids(subjects):
    """``3`` -> [1, 2, 3]; a list of subject numbers stays as it is."""
    if isinstance(subjects, (list, tuple, range)):
        return sorted({int(s) for s in subjects if int(s) >= 1})
    return list(range(1, int(subjects) + 1))


def _write_features(root, train, test, centre, metadata):
    def save(path, arr):
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, arr)

    save(root / "dnn_feature" / "clip_feature_maps_training.npy", train[:, None])
    save(root / "dnn_feature" / "clip_feature_maps_test.npy", test[:, None])
    save(root / "dnn_feature" / "center_clip.npy", centre[:, None])
    box = np.empty((), dtype=object)
    box[()] = metadata
    save(root / "image_set" / "image_metadata.npy", box)


def _feature_source(features_dir):
    """(real test features and centres or None, folder for concept names or None)."""

    if features_dir is False:
        return None, None
    if features_dir is None:
        shared = shared_data_dir()
        if shared is None or not (shared / "clip_feature_maps_test.npy").is_file():
            return None, shared
        return _load_real_features(shared), shared
    path = Path(features_dir).expanduser()
    folder = path if path.is_dir() else path.parent
    names = folder if (folder / "things_eeg2_concepts.tsv").is_file() else shared_data_dir()
    return _load_real_features(path), names


@verbose
@fill_doc
def simulate_root(directory, subjects=1, *, seed=0, full=False, layouts=("nice",),
                  region=DEFAULT_REGION, window_ms=DEFAULT_WINDOW_MS, band_hz=DEFAULT_BAND_HZ,
                  n_train=None, n_test=None, n_train_reps=None, n_test_reps=None,
                  snr=DEFAULT_SNR, raw=False, features_dir=None, dtype=None, eeg_detail=None,
                  blur_levels=None, cortex=None, patch_mm=PATCH_MM, overwrite=False,
                  verbose=None):
    """Write a simulated THINGS-EEG2 data root with planted, recorded ground truth.

    Parameters
    ----------
    directory : path-like
        Data root to write (created). A file it would write that exists
        already is refused before anything is written, unless ``overwrite``.
    subjects : int | list of int
        Number of subjects (``sub-01`` ...), or the subject numbers to write.
    seed : int
        Seed of everything: planted sources, features, subjects and noise.
    full : bool
        THINGS-EEG2's real sizes (16540 x 4 training, 200 x 80 test, float64;
        about 9 GB per subject) instead of the fast default (1654 x 4, 200 x 20, float32).
    layouts : sequence of {"nice", "official"}
        ``Preprocessed_data_250Hz`` (as NICE's code writes it: 63 ch, 250 Hz)
        and/or ``eeg_dataset/preprocessed_data`` (as THINGS-EEG2's code writes
        it: 17 ch, 100 Hz). The earlier names ``250hz`` and ``eeg_dataset``
        are accepted.
    region : str
        Scalp region (one of ``REGIONS``) above the dipoles that carry image information.
    window_ms, band_hz : (float, float)
        Planted time window (ms after onset) and frequency band (Hz).
    n_train, n_test, n_train_reps, n_test_reps : int or None
        Override the sizes (conditions and repetitions), e.g. tiny roots for tests.
    snr : float
        Single-trial power of the image signal over noise power inside the window.
    raw : bool
        Also write raw recordings ``Raw_data/sub-XX/ses-01..04/raw_eeg_{training,test}.npy``
        (1000 Hz, stim row last) built as THINGS-EEG2's are (see
        :func:`raw_session_plan`): 2 training repetitions per session in two
        of the four sessions, 20 test repetitions in each, target trials
        coded 99999, whatever ``n_train_reps`` / ``n_test_reps`` the
        preprocessed layouts hold. ``eegvision preprocess`` runs on them with
        every preset.
    features_dir : path-like, False or None
        Real CLIP test features (file or folder); None uses ``$EEGVISION_SHARED_DATA``
        when present; False forces synthetic features.
    dtype : str or None
        Override the EEG dtype.
    eeg_detail : float or None
        What makes blur priors matter: the EEG carries the features' coarse
        part (their top principal components, see :func:`blur_bank`) but
        only this fraction of their fine detail (0: none, 1: all), while the
        feature files keep the sharp features. None (default): the EEG
        carries the features as they are (outputs unchanged).
    blur_levels : int or None
        Also write the feature set ``dnn_feature/blur/`` with a blur bank of
        this many levels (:func:`write_blur_bank`).
    cortex : str or None
        Plant the information on the fsaverage5 cortex instead, in a patch
        of this lobe (one of :data:`eegvision.data.fsaverage.LOBES`; then
        ``region`` is not used), projected to the electrodes with another
        head than the one :mod:`eegvision.cortex` inverts (another sphere
        and conductivities, electrodes moved by ``ELECTRODE_JITTER_MM``):
        see :func:`_patch_patterns`. ``simulation_truth.json`` records the
        patch (``cortex``).
    patch_mm : float
        The patch's radius along the pial surface (mm).
    overwrite : bool
        Replace files of an earlier simulation in ``directory``.
    %(verbose)s

    Returns
    -------
    pathlib.Path
        The data root.
    """
    from .paths import refuse_existing

    t_start = time.perf_counter()
    root = Path(directory).expanduser()
    layouts = _layouts(layouts)
    window_ms, band_hz = tuple(map(float, window_ms)), tuple(map(float, band_hz))
    _check_args(region, window_ms, band_hz, layouts, subjects)
    if cortex is not None:
        from .fsaverage import LOBES

        _check_option("cortex", cortex, LOBES)
        if not 0 < float(patch_mm) <= 50:
            raise ValueError(f"patch_mm={patch_mm}: the patch radius must be in (0, 50] mm.")
    size = dict(SIZES["full" if full else "default"])
    for key, val in dict(n_train=n_train, n_test=n_test, n_train_reps=n_train_reps,
                         n_test_reps=n_test_reps, dtype=dtype).items():
        size[key] = size[key] if val is None else val
    if not 1 <= size["n_test"] <= 200:
        raise ValueError(f"n_test={size['n_test']}: THINGS-EEG2 has 1 to 200 test concepts.")
    if raw and size["n_train"] < 2:
        raise ValueError(f"n_train={size['n_train']}: raw sessions split the training "
                         "conditions in two halves; simulate at least 2.")
    if not overwrite:
        refuse_existing(_planned_files(root, subjects, layouts, raw, blur_levels),
                        "pass --overwrite (Python: overwrite=True) to replace the simulated "
                        "files, or choose another directory.")
    real, names_dir = _feature_source(features_dir)
    table, names_from = _concept_table(names_dir)
    n_concepts = len(table["train"]["concept"])
    concept_idx = np.arange(size["n_train"]) * n_concepts // size["n_train"]
    train, test, centre, stats = _make_features(table, concept_idx, size["n_test"], real, seed)
    _write_features(root, train, test, centre, _metadata(table, concept_idx, size["n_test"]))
    planted = _planted(stats, region, band_hz, seed, cortex, patch_mm)
    jitters, models = {}, {}
    seen_train, seen_test = train, test
    if eeg_detail is not None:
        if not 0 <= float(eeg_detail) <= 1:
            raise ValueError(f"eeg_detail must be in [0, 1] (got {eeg_detail}).")
        mean, basis = coarse_basis(train)
        seen_train, seen_test = (_detail(f, mean, basis, float(eeg_detail)).astype(np.float32)
                                 for f in (train, test))
    splits = (("training", seen_train, size["n_train_reps"]),
              ("test", seen_test, size["n_test_reps"]))
    for sub in _subject_ids(subjects):
        model = models[sub] = _subject_model(planted, window_ms, snr, seed, sub)
        jitters[f"sub-{sub:02d}"] = model["jitter_ms"]
        for split, feats, reps in splits:
            _write_split(root, sub, split, model, feats, reps, layouts, size["dtype"], seed)
        logger.info("simulated sub-%02d in %.1f s", sub, time.perf_counter() - t_start)
    truth = _truth(planted, region, window_ms, band_hz, seed, snr, size, subjects, layouts,
                   jitters, train.shape[1], "real" if real is not None else "synthetic",
                   names_from)
    if raw:
        truth["raw"] = _write_raw(root, models, splits, seed, size["dtype"])
        truth["raw_design"] = raw_design()
    if eeg_detail is not None:
        truth["eeg_detail"] = float(eeg_detail)
    if cortex is not None:
        truth["cortex"] = _cortex_truth(planted["patch"])
    if blur_levels:
        write_blur_bank(root, n_levels=int(blur_levels))
        truth["blur_bank"] = {"name": "blur", "n_levels": int(blur_levels)}
    truth["generation_seconds"] = round(time.perf_counter() - t_start, 2)
    write_json(root / "simulation_truth.json", truth)
    return root


#: Principal components of the training features that make their "coarse" part.
N_COARSE = 16


def coarse_basis(train, n_coarse=N_COARSE):
    """Mean and top principal directions ``(m, D)`` of the training features (deterministic)."""
    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    m = max(1, min(int(n_coarse), len(train) - 1))
    vt = vt[:m] * np.sign(vt[:m, :1] + 1e-30)  # a fixed sign per direction
    return mean, vt


def _detail(feats, mean, basis, weight):
    """Features with their fine part (outside the coarse basis) scaled by ``weight``."""
    centred = np.asarray(feats, dtype=np.float64) - mean
    coarse = centred @ basis.T @ basis
    return mean + coarse + weight * (centred - coarse)


def blur_bank(feats, mean, basis, n_levels):
    """A simulated blur bank ``(N, K, D)``: level k keeps ``1 - k / (K - 1)`` of the fine detail.

    Level 0 is the sharp feature; the last level keeps only the coarse part
    (the top principal components of the training features), the feature-
    space analogue of a blurred image losing its fine detail.
    """
    weights = np.linspace(1.0, 0.0, int(n_levels)) if n_levels > 1 else np.ones(1)
    return np.stack([_detail(feats, mean, basis, w) for w in weights], 1).astype(np.float32)


def write_blur_bank(root, name="blur", n_levels=6):
    """Write the simulated feature set ``dnn_feature/<name>/`` with a blur bank of ``n_levels``.

    Computed from the root's ``dnn_feature/`` files (so any simulated root
    can gain one later); holds the sharp features, the centres and
    ``blur_bank_{training,test}.npy``, as ``eegvision features --blur`` writes them.
    """
    from .featureset import BANK_FILES, CENTER_FILE, FEATURE_FILES, MANIFEST
    from .things import read_features

    src, out = Path(root) / "dnn_feature", Path(root) / "dnn_feature" / name
    feats = {s: read_features(src / f) for s, f in FEATURE_FILES.items()}
    mean, basis = coarse_basis(feats["training"])
    files = {}
    for split, f in feats.items():
        for fname, arr in ((FEATURE_FILES[split], f),
                           (BANK_FILES[split], blur_bank(f, mean, basis, n_levels))):
            with atomic_path(out / fname) as tmp, open(tmp, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
            files[fname] = list(arr.shape)
    shutil.copyfile(src / "center_clip.npy", out / CENTER_FILE)
    write_json(out / MANIFEST, dict(settings=dict(model="simulated", n_levels=int(n_levels),
                                                  blur="feature space: fine detail outside the "
                                                       f"top {len(basis)} principal components "
                                                       "scaled by 1 - k / (K - 1)"),
                                    files=files))
    return out


def _source_places(planted, rr, regions):
    """Where the information sources are: head-frame mm and scalp region, or the patch's parts."""
    patch = planted.get("patch")
    if patch is None:
        return {"info_sources_mm": np.round(1000 * rr[planted["sources"]], 1).tolist(),
                "info_sources_region": [str(r) for r in regions[planted["sources"]]]}
    from .fsaverage import template_cortex

    xyz = template_cortex()["mri_mm"][patch["vertices"]]
    parts = [xyz[patch["parts"] == k].mean(0) for k in np.unique(patch["parts"])]
    return {"info_sources_mm": np.round(parts, 1).tolist(),
            "info_sources_frame": "fsaverage surface RAS (mm)",
            "info_sources_region": [patch["lobe"]] * len(parts)}


def _cortex_truth(patch):
    """The planted cortical patch as a JSON-able dict (vertices: fsaverage5, left then right)."""
    from . import fsaverage

    cortex = fsaverage.template_cortex()
    v = patch["vertices"]
    return {"lobe": patch["lobe"], "hemisphere": fsaverage.HEMIS[int(patch["centre"] >= 10242)],
            "centre_vertex": int(patch["centre"]),
            "centre_mm": np.round(cortex["mri_mm"][patch["centre"]], 1).tolist(),
            "radius_mm": patch["radius_mm"], "n_vertices": int(len(v)),
            "area_cm2": round(float(cortex["area_mm2"][v].sum() / 100), 2),
            "vertices": [int(i) for i in v],
            "head_model": {"sphere": "fitted to the fsaverage scalp",
                           **{k: list(x) for k, x in fsaverage.TRUTH_SPHERE.items()},
                           "electrode_jitter_mm": ELECTRODE_JITTER_MM}}


def _truth(planted, region, window_ms, band_hz, seed, snr, size, subjects, layouts, jitters,
           dim, features, names_from):
    """The planted truth as a JSON-able dict."""
    _, rr, regions, _ = _lead_field()
    chans = [c for c in THINGS_EEG2_CHANNELS if channel_region(c) == region]
    return {
        "simulator_version": SIMULATOR_VERSION,
        "seed": int(seed),
        "region": region,
        "channels": chans,
        "window_ms": list(window_ms),
        "band_hz": list(band_hz),
        "snr": float(snr),
        "latency_jitter_ms": jitters,
        **_source_places(planted, rr, regions),
        "n_info_dims": int(len(planted["proj"])),
        "dims": {"n_subjects": len(_subject_ids(subjects)), "n_train": int(size["n_train"]),
                 "n_train_reps": int(size["n_train_reps"]), "n_test": int(size["n_test"]),
                 "n_test_reps": int(size["n_test_reps"]), "n_channels": 63, "sfreq": SFREQ,
                 "n_times": _N_EPOCH - _N_CROP, "tmin_s": 0.0, "dtype": str(size["dtype"]),
                 "feature_dim": int(dim)},
        "layouts": list(layouts),
        "features": features,
        "concept_names": names_from,
    }


def simulate_raw_session(epochs_data, conditions, ch_names, *, sfreq=1000.0, isi=0.2, seed,
                         n_targets=0, noise_std=1e-6, noise_cov=None, pad=None, dtype="float64"):
    """Build a raw recording (THINGS-EEG2 raw layout) from given per-trial signals.

    Trials are presented in the given order, one every ``isi`` seconds, with
    ``n_targets`` target trials (code 99999, no planted signal) inserted at
    random positions. Each trial's signal is added from its onset sample on
    (responses of close trials overlap, as in the RSVP design); Gaussian noise
    is added everywhere.

    Parameters
    ----------
    epochs_data : array, shape (n_trials, n_channels, n_samples)
        Signal of each trial in volts at ``sfreq``, sample 0 = image onset.
    conditions : array of int, shape (n_trials,)
        1-based condition code of each trial (not 99999).
    ch_names : list of str
        EEG channel names (the stim channel is appended).
    sfreq : float
        Sampling rate of ``epochs_data`` and of the recording.
    isi : float
        Stimulus-onset asynchrony in seconds.
    seed : int | numpy.random.Generator
        Seed for the target positions and the noise (required).
    n_targets : int
        Number of target (catch) trials.
    noise_std : float
        Standard deviation of white noise in volts (when ``noise_cov`` is None).
    noise_cov : array, shape (n_channels, n_channels) | None
        Spatial covariance of the noise (volts^2), for correlated noise.
    pad : float | None
        Seconds of recording before the first and after the last onset
        (default: the trial length, at least 1 s).
    dtype : str
        dtype of ``raw_eeg_data`` (THINGS-EEG2: float64).

    Returns
    -------
    dict
        ``raw_eeg_data`` (n_channels + 1, n_total) with the stim row
        last, ``ch_names``, ``ch_types`` (``'eeg'``..., ``'stim'``), ``sfreq``,
        ``highpass`` 0.01, ``lowpass`` (100 or the Nyquist if lower).
    """
    x = np.asarray(epochs_data, dtype=np.float64)
    codes = np.asarray(conditions, dtype=np.int64)
    if x.ndim != 3 or x.shape[1] != len(ch_names) or codes.shape != (len(x),):
        raise ValueError(f"epochs_data must be (n_trials, {len(ch_names)} channels, n_samples) "
                         f"with one code per trial; got {x.shape} and {codes.shape} codes.")
    return _raw_recording(lambda i, j: x[i:j], codes, ch_names, x.shape[2], sfreq=sfreq,
                          isi=isi, rng=rng_from_seed(seed), n_targets=n_targets,
                          noise_std=noise_std, noise_cov=noise_cov, pad=pad, dtype=dtype)


def _raw_recording(signals, codes, ch_names, n_s, *, sfreq, isi, rng, n_targets, noise_std,
                   noise_cov, pad, dtype, chunk=256):
    """The raw dict of :func:`simulate_raw_session`; ``signals(i, j)`` gives trials i..j-1.

    Trial signals are asked for ``chunk`` at a time, so a session of
    thousands of 1-s trials at 1000 Hz never holds them all at once.
    """
    if codes.size and (codes.min() < 1 or (codes == TARGET_CODE).any()):
        raise ValueError(f"condition codes must be >= 1 and not {TARGET_CODE}.")
    n_trials, n_ch = len(codes), len(ch_names)
    step = int(round(isi * sfreq))
    pad_s = int(round((max(1.0, n_s / sfreq) if pad is None else pad) * sfreq))
    n_total = n_trials + int(n_targets)
    is_target = np.zeros(n_total, dtype=bool)
    is_target[rng.choice(n_total, size=int(n_targets), replace=False)] = True
    onsets = pad_s + step * np.arange(n_total)
    n_samples = onsets[-1] + max(pad_s, n_s) + 1 if n_total else 2 * pad_s
    data = np.zeros((n_ch + 1, n_samples), dtype=dtype)  # the stim row last
    _add_noise(data[:-1], rng, noise_std, noise_cov)
    trial_onsets = onsets[~is_target]
    for start in range(0, n_trials, chunk):
        block = signals(start, start + chunk)
        for k, onset in enumerate(trial_onsets[start:start + chunk]):
            data[:-1, onset:onset + n_s] += block[k]
    data[-1, trial_onsets] = codes
    data[-1, onsets[is_target]] = TARGET_CODE
    return {"raw_eeg_data": data, "ch_names": list(ch_names) + ["stim"],
            "ch_types": ["eeg"] * n_ch + ["stim"],
            "sfreq": float(sfreq), "highpass": 0.01, "lowpass": min(100.0, sfreq / 2)}


def _add_noise(eeg, rng, noise_std, noise_cov, chunk=200_000):
    """Fill ``eeg`` (channels x samples) with white noise, spatially correlated by ``noise_cov``."""
    chol = None if noise_cov is None else np.linalg.cholesky(np.asarray(noise_cov, np.float64))
    for start in range(0, eeg.shape[1], chunk):
        z = rng.standard_normal((eeg.shape[0], min(chunk, eeg.shape[1] - start)))
        eeg[:, start:start + z.shape[1]] = noise_std * z if chol is None else chol @ z


def write_raw_session(path, raw_dict):
    """Save a raw-layout dict like THINGS-EEG2 (``np.save`` of the dict), atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, raw_dict, allow_pickle=True)
    return Path(path)


#: THINGS-EEG2's raw recordings, as both public pipelines expect them: four
#: sessions; each training image in two of them, twice per session (4 in
#: all); each test image in every session, 20 times (80 in all).
RAW_SESSIONS = 4
#: Repetitions of an image per session it appears in, by split (see :data:`RAW_SESSIONS`).
RAW_REPS_PER_SESSION = {"training": 2, "test": 20}
RAW_SFREQ, RAW_ISI = 1000.0, 0.2
#: Share of target (catch, code 99999) trials among a session's onsets: the
#: simulator's choice, at least one per session (targets are rare in THINGS-EEG2's RSVP
#: sequences).
RAW_TARGET_SHARE = 0.06


@fill_doc
def raw_session_plan(n_conditions, split, rng):
    """Which conditions each raw session shows, and how often, as in THINGS-EEG2.

    Parameters
    ----------
    n_conditions : int
        Image conditions of the partition.
    %(split)s
    rng : numpy.random.Generator
        Draws which half of the training conditions goes to which sessions.

    Returns
    -------
    list of array of int
        Per session (1..4), the 0-based conditions it shows, each
        :data:`RAW_REPS_PER_SESSION` times: test conditions in every session,
        a random half of the training conditions in sessions 1 and 2 and the
        other half in sessions 3 and 4.
    """
    reps = RAW_REPS_PER_SESSION[split]
    everything = np.arange(n_conditions)
    if split == "test":
        return [np.repeat(everything, reps) for _ in range(RAW_SESSIONS)]
    first = np.zeros(n_conditions, dtype=bool)
    first[rng.permutation(n_conditions)[:(n_conditions + 1) // 2]] = True
    halves = (everything[first], everything[~first])
    return [np.repeat(halves[ses // 2], reps) for ses in range(RAW_SESSIONS)]


def _write_raw(root, models, splits, seed, dtype):
    """Write ``Raw_data/sub-XX/ses-YY/`` (1000 Hz, one onset every 0.2 s) as THINGS-EEG2 is built.

    Sessions follow :func:`raw_session_plan`, in random order with
    :data:`RAW_TARGET_SHARE` target trials. The planted signal (the
    repetition's gain jitter included, not the epoch noise) is upsampled
    from 250 Hz; the noise is white with the spatial covariance of the
    subject's background sources and sensors, at twice their standard
    deviation, so that after resampling to 250 Hz its power matches the
    preprocessed files'. Channels are in :func:`raw_channel_order`.
    """
    names = raw_channel_order()
    rows = np.array([THINGS_EEG2_CHANNELS.index(c) for c in names])
    written = []
    for sub, model in models.items():
        bg = model["bg"].astype(np.float64)[rows]
        noise_cov = 4e-12 * (bg @ bg.T + model["sensor_sd"] ** 2 * np.eye(len(rows)))
        for split, feats, _ in splits:
            plan = raw_session_plan(len(feats), split, np.random.default_rng([seed, 5, sub]))
            for ses, shown in enumerate(plan, start=1):
                rng = np.random.default_rng([seed, 4, sub, ses, split == "test"])
                order = rng.permutation(shown)
                data = _raw_recording(
                    _raw_signals(model, feats, order, rows, np.random.default_rng([seed, 6, sub, ses])),
                    order + 1, names, int(RAW_SFREQ), sfreq=RAW_SFREQ,
                    isi=RAW_ISI, rng=rng, n_targets=max(1, round(RAW_TARGET_SHARE * len(order))),
                    noise_std=None, noise_cov=noise_cov, pad=None, dtype=dtype)
                rel = Path("Raw_data") / f"sub-{sub:02d}" / f"ses-{ses:02d}" / f"raw_eeg_{split}.npy"
                write_raw_session(root / rel, data)
                del data
                written.append(str(rel))
    return written


def _raw_signals(model, feats, order, rows, rng):
    """``signals(i, j)``: volts at 1000 Hz, 0 to 1 s, of the trials ``order[i:j]`` (channels ``rows``)."""
    from scipy.signal import resample_poly

    def signals(i, j):
        sig = _simulate_chunk(model, feats[order[i:j]], 1, rng, noise=False)[:, 0, rows, _N_CROP:]
        return 1e-6 * resample_poly(sig.astype(np.float64), 4, 1, axis=-1)

    return signals


def raw_channel_order():
    """Channel order of the simulated raw files (the stim channel follows).

    NICE's 63, with the 17 occipital and parietal channels in the order the
    official release lists them: the official code keeps those in recording
    order, so that is their order in the recording, and NICE's order differs
    from it (which the ``nice`` preset restores).
    """
    posterior = iter(OFFICIAL_17_CHANNELS)
    return [next(posterior) if c in OFFICIAL_17_CHANNELS else c for c in THINGS_EEG2_CHANNELS]


def raw_design():
    """The raw recordings' structure, as recorded in ``simulation_truth.json``."""
    return {"sessions": RAW_SESSIONS, "sfreq": RAW_SFREQ, "onset_every_s": RAW_ISI,
            "reps_per_session": dict(RAW_REPS_PER_SESSION),
            "training_sessions": "each training image in 2 of the 4 sessions (a random half "
                                 "in ses-01 and ses-02, the other in ses-03 and ses-04)",
            "target_code": TARGET_CODE, "target_share": RAW_TARGET_SHARE}


def ensure_builtin_root(path, **kwargs):
    """Return ``path``, simulating the built-in dataset there first if it is missing.

    Generated into a temporary folder beside ``path`` and renamed into place, so
    readers never see a half-written root and two racing processes are safe
    (the loser discards its copy).
    """
    path = Path(path)
    if (path / "simulation_truth.json").is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        kwargs.setdefault("subjects", BUILTIN_SUBJECTS)
        simulate_root(tmp, **kwargs)
        os.rename(tmp, path)
    except OSError:
        if not (path / "simulation_truth.json").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
