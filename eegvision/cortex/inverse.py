"""Template forward and minimum-norm inverse for a data set's channels, cached on disk.

The inverse is MNE's minimum-norm family (``dSPM``, ``sLORETA``, ``eLORETA``)
with fixed orientations normal to the fsaverage5 pial surface, on the sphere
model of :mod:`eegvision.data.fsaverage` fitted to the electrodes. All three
are linear in the data, so the operator is kept as its kernel ``K``
``(20484, n_channels)``: a scalp map ``m`` (one value per channel) becomes
``K @ m`` on the cortex. The kernel is obtained from MNE itself, by applying
the inverse to the identity (each column one channel), so the average
reference, whitening, depth weighting and noise normalisation are MNE's.

Cached under ``$EEGVISION_CACHE/cortex/`` (else the user cache folder): the
forward model by channels, positions, sphere and software versions; the
kernel by those, the noise covariance, the method and its settings.
"""

from __future__ import annotations

import functools
import hashlib
import json

import numpy as np

from .._utils import _check_option, atomic_path, data_error, logger

#: Minimum-norm methods; ``sLORETA`` (default) has no localisation bias for single
#: sources without noise (Pascual-Marqui 2002), ``dSPM`` is biased to deep sources.
INVERSE_METHODS = ("sLORETA", "dSPM", "eLORETA")
#: Default regularisation: ``lambda2 = 1 / snr ** 2`` with MNE's snr of 3.
SNR = 3.0
#: Depth weighting exponent (MNE's default).
DEPTH = 0.8
#: Diagonal loading of the noise covariance (fraction of its mean variance).
COV_REG = 0.1
#: Samples before onset needed to estimate the noise from the baseline.
MIN_BASELINE = 10


def _versions():
    import mne
    import nilearn

    from .._version import __version__

    return {"mne": mne.__version__, "nilearn": nilearn.__version__, "eegvision": __version__}


def _key(obj):
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _cache_dir():
    from ..data.paths import cache_base

    return cache_base() / "cortex"


# ------------------------------------------------------------------ noise
def noise_covariance(data):
    """Noise covariance of a subject's EEG, and where it came from.

    From the pre-stimulus samples of the single training trials when the
    data have a baseline (at least :data:`MIN_BASELINE` samples before 0 s);
    else from the residuals of the test repetitions about their image's mean
    (``SubjectData.test_repetitions``, scaled by ``n / (n - 1)``); else from
    the training trials' residuals about the mean over trials (which keep
    the image-specific signal: an upper bound of the noise). Diagonally
    loaded by :data:`COV_REG` of the mean variance.

    Parameters
    ----------
    data : SubjectData
        One subject's data (``train``, ``test_repetitions``).

    Returns
    -------
    cov : array, shape (n_channels, n_channels)
    source : str
        ``baseline``, ``repetition residuals`` or ``training residuals``.
    """
    train = data.train
    base = train.times < 0
    if base.sum() >= MIN_BASELINE:
        x = train.eeg[:, :, base]
        x = x - x.mean(-1, keepdims=True)
        source = "baseline"
    elif data.test_repetitions is not None and np.shape(data.test_repetitions)[1] > 1:
        reps = np.asarray(data.test_repetitions, np.float64)
        x = (reps - reps.mean(1, keepdims=True)) * np.sqrt(reps.shape[1] / (reps.shape[1] - 1))
        x = x.reshape(-1, *reps.shape[2:])
        source = "repetition residuals"
    else:
        x = train.eeg - train.eeg.mean(0)
        source = "training residuals"
    flat = np.moveaxis(np.asarray(x, np.float64), 1, 0).reshape(x.shape[1], -1)
    cov = flat @ flat.T / flat.shape[1]
    cov += COV_REG * np.trace(cov) / len(cov) * np.eye(len(cov))
    return cov, source


# ------------------------------------------------------------------ forward
def _info_key(info):
    pos = np.round([ch["loc"][:3] * 1e6 for ch in info["chs"]]).astype(int).tolist()
    return {"ch_names": list(info["ch_names"]), "pos_um": pos}


def _sphere_key(sphere):
    return {"r0": np.round(np.asarray(sphere["r0"]) * 1e6).astype(int).tolist(),
            "layers": [(round(layer["rad"] * 1e6), round(layer["sigma"], 6))
                       for layer in sphere["layers"]]}


def template_forward(ch_names):
    """The inverse's forward model for channels ``ch_names`` on the template head (cached).

    Returns ``(fwd, info, moved)``: the ``mne.Forward`` (three orientations
    per vertex, surface-oriented: :func:`normal_gain` is its normal part),
    the channels' ``mne.Info`` (with an average-reference projector) and the
    report of :func:`eegvision.data.fsaverage.forward_model` (vertices
    moved inside the sphere).
    """
    return _template_forward(tuple(ch_names))


@functools.lru_cache(maxsize=4)
def _template_forward(ch_names):
    import mne

    from ..data import fsaverage

    info = fsaverage.template_info(list(ch_names))
    sphere = fsaverage.fit_sphere(info, **fsaverage.INVERSE_SPHERE)
    key = _key({"info": _info_key(info), "sphere": _sphere_key(sphere), "kind": "forward-free",
                "margin_mm": fsaverage.MARGIN_MM, **_versions()})
    path = _cache_dir() / f"{key}-fwd.fif"
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        fwd = mne.convert_forward_solution(mne.read_forward_solution(path, verbose="error"),
                                           surf_ori=True, verbose="error")
        moved = json.loads(meta.read_text())
    else:
        fwd, moved = fsaverage.forward_model(info, sphere, fixed=False)
        with atomic_path(path) as tmp:
            mne.write_forward_solution(tmp, fwd, overwrite=True, verbose="error")
        with atomic_path(meta) as tmp:
            tmp.write_text(json.dumps(moved))
    # the average-reference projector (mandatory for an EEG inverse), through MNE's public API
    blank = mne.EvokedArray(np.zeros((len(ch_names), 1)), info, verbose="error")
    info = blank.set_eeg_reference(projection=True, verbose="error").info
    return fwd, info, moved


def normal_gain(fwd):
    """The gain ``(n_channels, n_sources)`` of sources along the surface normal."""
    data = fwd["sol"]["data"]
    return data if fwd["source_ori"] == 1 or data.shape[1] == fwd["nsource"] else data[:, 2::3]


# ------------------------------------------------------------------ inverse
def inverse_kernel(ch_names, cov, *, method="sLORETA", snr=SNR, depth=DEPTH):
    """The minimum-norm kernel ``K`` (20484, n_channels) for these channels and noise.

    Parameters
    ----------
    ch_names : list of str
        Channels of the data (10-05 names), in the data's order.
    cov : array, shape (n_channels, n_channels)
        Noise covariance (:func:`noise_covariance`).
    method : 'sLORETA' | 'dSPM' | 'eLORETA'
    snr : float
        Assumed SNR of the maps; ``lambda2 = 1 / snr ** 2``.
    depth : float
        Depth-weighting exponent.

    Returns
    -------
    kernel : array, shape (20484, n_channels)
        Sources of the left hemisphere first, in fsaverage5 vertex order.
    meta : dict
        ``method``, ``lambda2``, ``depth``, ``key`` and the forward model's
        ``moved`` report.
    """
    _check_option("--inverse", method, INVERSE_METHODS)
    cov = np.asarray(cov, np.float64)
    if cov.shape != (len(ch_names), len(ch_names)) or not np.isfinite(cov).all():
        raise data_error("noise covariance", f"shape {cov.shape} for {len(ch_names)} channels "
                         "or not finite.", "estimate it from the same channels.")
    fwd, info, moved = template_forward(ch_names)
    lambda2 = 1.0 / float(snr) ** 2
    scale = float(np.abs(cov).max())  # dSPM / sLORETA values scale with the noise's
    key = _key({"forward": _info_key(info), "cov": hashlib.sha256(
        np.round(cov / scale, 9).tobytes()).hexdigest(), "cov_scale": f"{scale:.9e}",
        "method": method,
        "lambda2": lambda2, "depth": depth, "reg": COV_REG, "kind": "inverse", **_versions()})
    path = _cache_dir() / f"{key}-inv.npy"
    if path.is_file():
        kernel = np.load(path, allow_pickle=False)
    else:
        kernel = _kernel(fwd, info, cov, method, lambda2, depth)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, kernel)
    return kernel, {"method": method, "lambda2": lambda2, "depth": depth, "key": key,
                    "moved": moved}


def _kernel(fwd, info, cov, method, lambda2, depth):
    """MNE's inverse applied to the identity: its linear kernel."""
    import mne
    from mne.minimum_norm import apply_inverse, make_inverse_operator

    noise = mne.Covariance(cov, list(info["ch_names"]), [], [], nfree=1000, verbose="error")
    inv = make_inverse_operator(info, fwd, noise, loose=0.0, fixed=True, depth=depth,
                                verbose="error")
    eye = mne.EvokedArray(np.eye(len(info["ch_names"])), info, tmin=0.0, verbose="error")
    logger.info("inverse kernel: %s, lambda2 %.3g, %d sources", method, lambda2, fwd["nsource"])
    stc = apply_inverse(eye, inv, lambda2, method, verbose="error")
    return np.asarray(stc.data, np.float64)
