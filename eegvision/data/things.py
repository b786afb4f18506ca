"""THINGS-EEG2 readers: preprocessed EEG (every layout), features, metadata, a reading cache.

Layouts, named after what writes them, looked for under the data root
(``--data-dir`` or ``$EEGVISION_DATA``; the root may be the folder holding
``eeg_dataset/`` or ``eeg_dataset/`` itself, then its parent holds
``image_set/`` and the feature folders), in this order::

    Preprocessed_data_250Hz/sub-XX/preprocessed_eeg_{training,test}.npy        "nice"
    eeg_dataset/preprocessed_data/sub-XX/preprocessed_eeg_{training,test}.npy  "official"
    eegvision_preprocessed_<rate>Hz/sub-XX/...    "eegvision_<rate>hz" (``eegvision preprocess``)
    Preprocessed_data/sub-XX/...                  "legacy" (older eegvision simulators)
    Preprocessed_data_<rate>Hz/sub-XX/...         "<rate>hz" (older ``eegvision preprocess --sfreq``)
image_set/image_metadata.npy (NICE: Image_set/)
    dnn_feature/clip_feature_maps_{training,test}.npy, center_clip.npy
        (or DNN_feature_maps/pca_feature_maps/clip/pretrained-True/; centres also
        in the root, image_set/ or Image_set/)

Shapes, channel names and times are always read from the files. The first
repetition-averaged read of a file is cached as a float32 ``.npy`` keyed by the
file's absolute path, size, mtime, ctime and inode (:func:`file_state`), so
later reads memory-map it. Large
arrays are memory-mapped (:mod:`eegvision.data._mapped`) and converted to
float32 chunk by chunk, so a float64 file never has to fit in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import (
    _check_option,
    check_finite,
    check_not_constant,
    data_error,
    logger,
    verbose,
    write_json,
)
from ._mapped import load_dict_mapped, release_pages
from ._pickle import _physical_memory, load_dict_file
from .paths import EEGVISION_DIR, dataset_base, eegvision_dir_name  # noqa: F401  (re-exported)

#: Fixed layouts, named after what writes them: name -> folder (relative to the
#: data root, or, for ``official``, to the folder that holds ``eeg_dataset/``).
#: ``nice``: NICE's preprocessing code (and ``preprocess --preset nice``);
#: ``official``: THINGS-EEG2's code, as released on OSF (and ``--preset
#: official``); ``legacy``: a folder no public code writes, which eegvision's
#: simulator wrote before (read so that such roots keep working).
LAYOUTS = {"nice": "Preprocessed_data_250Hz",
           "official": "eeg_dataset/preprocessed_data",
           "legacy": "Preprocessed_data"}
#: Earlier names of the layouts, still accepted wherever a layout is named.
LAYOUT_ALIASES = {"250hz": "nice", "eeg_dataset": "official"}
TARGETS = ("centers", "images")
#: Layout of a BIDS root's automatic preprocessing (:mod:`eegvision.data.bids`).
BIDS_LAYOUT = "bids"
_REQUIRED_KEYS = ("preprocessed_eeg_data", "ch_names", "times")
_CACHE_VERSION = 1
_CHUNK = 256
_WHERE = ("THINGS-EEG2 EEG and image metadata are published on OSF (https://osf.io/3jk45/); "
          "the CLIP feature files come from NICE's feature extraction "
          "(https://github.com/eeyhsong/NICE-EEG). For a test root, run "
          "`eegvision simulate DIR` and pass --data-dir DIR.")


# ------------------------------------------------------------------ cache
def _cache_root():
    from .paths import cache_base

    return cache_base() / "reading"


def file_state(path):
    """``"size|mtime|ctime|inode"`` of a file: what the caches key a file's content on.

    The inode-change time (ctime) is set by the kernel on every write and
    cannot be set back from user space (``os.utime``, ``touch -d`` and
    ``cp -p`` restore only the mtime), so a file rewritten in place with the
    same size and a restored mtime still gets a new key. Hashing the whole file
    on every run would cost as much as reading it uncached (measured on a
    full-size 8.3 GB training file: 6.7 s for sha256 against 7.5 s for the
    first read and 0.001 s for a cached one; docs/data.md, "The reading
    cache"). A chmod, chown or rename changes the ctime too: that file is
    only read again once.
    """
    st = Path(path).stat()
    return f"{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"


def _cache_dir(path):
    """Cache folder for ``path``: a changed file (size, mtime, ctime or inode) gets a new key."""
    path = Path(path).resolve()
    key = f"v{_CACHE_VERSION}|{path}|{file_state(path)}"
    return _cache_root() / hashlib.sha256(key.encode()).hexdigest()[:24]


def _read_cache(path):
    folder = _cache_dir(path)
    try:
        info = json.loads((folder / "info.json").read_text())
        eeg = np.load(folder / "eeg.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if eeg.dtype != np.float32 or eeg.ndim != 3 or eeg.shape[1:] != (len(info["ch_names"]),
                                                                      len(info["times"])):
        return None
    logger.debug("%s: read the averaged EEG from the cache %s", path, folder)
    return dict(eeg=eeg, ch_names=list(info["ch_names"]),
                times=np.asarray(info["times"], dtype=np.float64), sfreq=float(info["sfreq"]),
                n_repetitions=int(info["n_repetitions"]), source=str(path))


def _write_cache(path, out):
    """Write one cache entry as a whole: a temporary folder renamed into place.

    Called only after a read has fully succeeded. A failure half-way (disk
    full, a kill) leaves no entry and no stray temporary folder.
    """
    folder = _cache_dir(path)
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder.parent).free
        if free < out["eeg"].nbytes + (64 << 20):
            logger.warning("Not caching %s: %d MB free in %s, the entry needs %d MB.", path,
                           free >> 20, folder.parent, out["eeg"].nbytes >> 20)
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        with open(tmp / "eeg.npy", "wb") as fh:
            np.save(fh, out["eeg"], allow_pickle=False)
        write_json(tmp / "info.json", dict(
            source=str(Path(path).resolve()), ch_names=out["ch_names"],
            times=out["times"].tolist(), sfreq=out["sfreq"],
            n_repetitions=out["n_repetitions"]))
        if folder.exists():  # a stale or partial entry from an older version
            shutil.rmtree(folder, ignore_errors=True)
        os.rename(tmp, folder)
        tmp = None
    except (OSError, TypeError, ValueError) as err:
        logger.warning("Could not write the reading cache in %s (%s); continuing without it.",
                       folder, err)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------ EEG files
_CENTRES_FIX = ("without center_clip.npy (the concept-centre targets), score against the test "
                "images' own features with --targets images (clip_feature_maps_test.npy), or "
                "compute the centres with `eegvision features --things-images DIR`. ")


def _check_contents(path, d, warn=True):
    """Validate the dict of a preprocessed file; return (eeg, ch_names, times)."""
    missing = [k for k in _REQUIRED_KEYS if k not in d]
    if missing:
        raise data_error(path, f"missing keys {missing}; found {sorted(map(str, d))}.",
                         "a preprocessed THINGS-EEG2 file holds 'preprocessed_eeg_data' "
                         "(conditions, repetitions, channels, times), 'ch_names' and 'times'.")
    eeg = d["preprocessed_eeg_data"]
    if not isinstance(eeg, np.ndarray) or eeg.ndim != 4:
        shape = getattr(eeg, "shape", type(eeg).__name__)
        raise data_error(path, f"preprocessed_eeg_data must be 4-D (conditions, repetitions, "
                               f"channels, times), found {shape}.",
                         "re-run the preprocessing that wrote this file.")
    if not (np.issubdtype(eeg.dtype, np.floating) or np.issubdtype(eeg.dtype, np.integer)):
        raise data_error(path, f"preprocessed_eeg_data has dtype {eeg.dtype}, expected floats.")
    if 0 in eeg.shape:
        raise data_error(path, f"preprocessed_eeg_data is empty: shape {eeg.shape} "
                               "(conditions, repetitions, channels, times).",
                         "re-run the preprocessing that wrote this file.")
    n_cond, _, n_ch, n_t = eeg.shape
    if n_t < 2:
        raise data_error(path, f"epochs of {n_t} sample: no sampling rate and nothing to "
                               "decode over time.",
                         "save epochs of several samples (THINGS-EEG2: 100 or 250).")
    if n_cond < 2:
        raise data_error(path, "one image condition: zero-shot retrieval needs at least 2 "
                               "images to choose between.",
                         "use the full preprocessed file (1654 training / 200 test conditions).")
    ch_names = [str(c) for c in np.asarray(d["ch_names"]).ravel()]
    if len(ch_names) != n_ch:
        raise data_error(path, f"{len(ch_names)} channel names for {n_ch} channels in the data.",
                         "the file's ch_names must list one name per EEG channel.")
    try:
        times = np.asarray(d["times"], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise data_error(path, f"times must be numbers (seconds), found "
                               f"{type(d['times']).__name__}.",
                         "the file's times must be the sample times in seconds.") from None
    if len(times) < n_t:
        raise data_error(path, f"{len(times)} time points for {n_t} samples in the data.",
                         "the file's times must give one time per sample.")
    if len(times) > n_t:
        if warn:
            _note_uncropped_times(path, len(times), n_t, times[-n_t], times[-1])
        times = times[-n_t:]
    if n_t > 1 and not (np.isfinite(times).all() and (np.diff(times) > 0).all()):
        raise data_error(path, "times are not finite and strictly increasing.",
                         "the file's times must be the sample times in seconds.")
    check_times(path, times)
    return eeg, ch_names, times


#: Plausible epochs: a sampling rate of at least 10 Hz and times within +-100 s of the onset
#: (THINGS-EEG2's epochs span -0.2 to 1 s at 100 or 250 Hz).
_MIN_SFREQ, _MAX_ABS_TIME = 10.0, 100.0


def check_times(where, times, sfreq=None):
    """Refuse sample times that are unevenly spaced, not at ``1 / sfreq`` or not in seconds.

    Parameters
    ----------
    where : str | Path
        The file or source named in the error.
    times : array, shape (n_times,)
        Sample times, strictly increasing.
    sfreq : float | None
        The sampling rate the times must be spaced at (None: their median step's).
    """
    if len(times) < 2:
        return
    steps = np.diff(times)
    step = float(np.median(steps)) if sfreq is None else 1.0 / float(sfreq)
    fix = "save the sample times in seconds, one per sample at 1 / sfreq (e.g. epochs.times)."
    if np.abs(times).max() > _MAX_ABS_TIME or 1.0 / step < _MIN_SFREQ:
        ms = (f" They look like milliseconds ({times[0]:g} to {times[-1]:g}): divide them by "
              "1000." if np.abs(times / 1000).max() <= _MAX_ABS_TIME else "")
        raise data_error(where, f"times run from {times[0]:g} to {times[-1]:g} s at "
                                f"{1.0 / step:.4g} Hz; epochs of EEG span seconds at >= "
                                f"{_MIN_SFREQ:g} Hz.{ms}", fix)
    bad = np.flatnonzero(np.abs(steps - step) > 0.01 * step)
    if len(bad):
        i = int(bad[0])
        raise data_error(where, f"times are not evenly spaced at {step * 1000:.4g} ms "
                                f"({1.0 / step:.4g} Hz): {len(bad)} step(s) differ, the first "
                                f"from {times[i]:.4g} to {times[i + 1]:.4g} s (a gap or a "
                                "concatenation of epochs).", fix)


#: Subject folders whose uncropped ``times`` were already reported (once each).
_UNCROPPED_NOTED = set()


def _note_uncropped_times(path, n_file, n_t, first, last):
    """Say once per subject folder that ``times`` are NICE's uncropped ones (aligned to the end).

    The simulator writes the quirk on purpose into its roots (they hold
    ``simulation_truth.json``): those files are the package's own, so only
    the debug log hears about them.
    """
    path = Path(path)
    message = ("%s: 'times' has %d values for %d samples; aligning the times to the end of the "
               "data (times[-%d:], %.3f to %.3f s), as NICE's 250-Hz files store uncropped "
               "times (said once per subject folder).")
    args = (path, n_file, n_t, n_t, first, last)
    simulated = len(path.parents) > 2 and (path.parents[2] / "simulation_truth.json").is_file()
    folder = path.parent.resolve()
    if simulated or folder in _UNCROPPED_NOTED:
        logger.debug(message, *args)
        return
    _UNCROPPED_NOTED.add(folder)
    logger.warning(message, *args)


def _averaged(path, eeg, average):
    """Float32 copy of ``eeg`` (averaged over repetitions), chunk by chunk, checking finiteness."""
    shape = eeg.shape[:1] + eeg.shape[2:] if average else eeg.shape
    need = int(np.prod(shape, dtype=np.float64)) * 4
    if need > _physical_memory():  # e.g. an int8 file read without averaging: 4x its size
        raise data_error(path, f"the float32 EEG would take {need / 2**30:.1f} GiB, more than "
                               f"this machine's {_physical_memory() / 2**30:.1f} GiB.",
                         "average the repetitions (the default) or use a larger machine.")
    out = np.empty(shape, dtype=np.float32)
    for start in range(0, eeg.shape[0], _CHUNK):
        block = eeg[start:start + _CHUNK]
        with np.errstate(over="ignore", invalid="ignore"):
            out[start:start + _CHUNK] = block.mean(axis=1, dtype=np.float64) if average else block
        release_pages(eeg, start, start + len(block))  # a mapped file's pages do not pile up
        # checked after the cast: float64 values beyond float32's range become inf here
        check_finite(out[start:start + _CHUNK], path, "values",
                     "interpolate or drop the bad trials before saving the file.",
                     problem=f"NaN, infinite or out-of-float32-range values in conditions "
                             f"{start}-{start + len(block) - 1}.")
    return out


def read_preprocessed(path, *, average=True, cache=True):
    """Read a preprocessed THINGS-EEG2 file (``pickle.dump`` or ``np.save`` of a dict).

    Parameters
    ----------
    path : str | Path
        ``preprocessed_eeg_{training,test}.npy`` of either layout.
    average : bool
        Average over repetitions (the NICE protocol).
    cache : bool
        With ``average``, read from / write to the reading cache.

    Returns
    -------
    out : dict
        ``eeg`` float32 (n_conditions, n_channels, n_times), or
        (n_conditions, n_repetitions, n_channels, n_times) without averaging;
        ``ch_names``, ``times`` (s), ``sfreq``, ``n_repetitions``, ``source``.
    """
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "file not found.", _WHERE)
    if average and cache:
        hit = _read_cache(path)
        if hit is not None:
            return hit
    d = load_dict_mapped(path)
    eeg, ch_names, times = _check_contents(path, d)
    n_reps = int(eeg.shape[1])
    del d
    data = _averaged(path, eeg, average)
    del eeg
    check_not_constant(data, path, "EEG values", "check that the preprocessing wrote the "
                       "recordings (an all-zero file is what a failed export leaves).")
    sfreq = float(round(1.0 / np.median(np.diff(times)), 6)) if len(times) > 1 else float("nan")
    out = dict(eeg=data, ch_names=ch_names, times=times, sfreq=sfreq, n_repetitions=n_reps,
               source=str(path))
    if average and cache:
        _write_cache(path, out)
    return out


# ---------------------------------------------------- features, metadata
def read_features(path, n_expected=None):
    """Read image features, ``(N, D)`` or ``(N, 1, D)``, as float32 ``(N, D)``.

    Parameters
    ----------
    path : str | Path
        A ``.npy`` array file (no pickles).
    n_expected : int | None
        Number of rows required (one per image condition).
    """
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "file not found.", _WHERE)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except PermissionError as err:
        raise data_error(path, f"cannot read it ({err.strerror}).",
                         "check the permissions (ls -l; chmod u+r).") from None
    except (ValueError, OSError, EOFError) as err:
        raise data_error(path, f"not a plain numeric .npy array ({err}).",
                         "save features with np.save(path, array) as float32.") from None
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if (arr.ndim != 2 or 0 in arr.shape or not np.issubdtype(arr.dtype, np.number)
            or np.issubdtype(arr.dtype, np.complexfloating)):
        raise data_error(path, f"features must be numeric (N, D) or (N, 1, D), found "
                               f"{arr.dtype} {arr.shape}.")
    if n_expected is not None and arr.shape[0] != n_expected:
        raise data_error(path, f"{arr.shape[0]} feature rows, but the EEG has {n_expected} "
                               "image conditions.",
                         "use the feature file made for these images, in condition order.")
    out = np.array(arr, dtype=np.float32)
    check_finite(out, path, "values in the features", "re-run the feature extraction.")
    if n_expected is not None and len(out) > 1:  # after the count: that error comes first
        check_not_constant(out, path, "feature rows", "re-run the feature extraction (every "
                           "image got the same features: blank images or a failed model?).",
                           axis=0)
    return out


def concept_name(folder):
    """``'00001_aircraft_carrier'`` -> ``'aircraft_carrier'``."""
    return re.sub(r"^\d+_", "", str(folder))


def read_image_metadata(root):
    """Read ``image_set/image_metadata.npy`` under ``root``; None when absent.

    Returns
    -------
    meta : dict | None
        The file's keys (``train_img_concepts``, ``train_img_files``,
        ``test_img_*``, optional ``*_concepts_THINGS``, ``*_img_categories``)
        as arrays, plus ``train_concepts`` / ``test_concepts``: concept names
        without the numeric prefix.
    """
    path = metadata_path(root)
    if path is None:
        return None
    raw = load_dict_file(path)
    missing = [k for k in ("train_img_concepts", "test_img_concepts") if k not in raw]
    if missing:
        raise data_error(path, f"missing keys {missing}; found {sorted(map(str, raw))}.",
                         "use the image_metadata.npy published with THINGS-EEG2.")
    meta = {}
    for key, value in raw.items():
        flat = _flat_names(path, key, value)
        meta[str(key)] = flat if flat is not None else np.asarray(value)
    for split in ("train", "test"):
        meta[f"{split}_concepts"] = np.array([concept_name(c) for c in
                                              meta[f"{split}_img_concepts"].ravel()])
    return meta


def _flat_names(path, key, value):
    """A name column (``*_img_*``, ``*_concepts*``) as a flat str array; nested lists refused."""
    if not (str(key).endswith(("concepts", "files", "categories", "THINGS"))):
        return None
    if isinstance(value, np.ndarray) and value.dtype.kind in "US":
        return value.ravel().astype(str)
    items = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)) or not all(
            isinstance(v, (str, np.str_)) for v in items):
        kinds = sorted({type(v).__name__ for v in items}) if isinstance(items, (list, tuple)) \
            else [type(items).__name__]
        raise data_error(path, f"{key!r} must be a flat list of names, found items of type "
                               f"{', '.join(kinds)} (a nested list?).",
                         "use the image_metadata.npy published with THINGS-EEG2.")
    return np.array([str(v) for v in items])


def read_concept_table(path):
    """Read ``things_eeg2_concepts.tsv`` into a DataFrame (one row per concept and split)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise data_error(path, "file not found.", "pass the things_eeg2_concepts.tsv path.")
    df = pd.read_csv(path, sep="\t", keep_default_na=False, dtype={"categories27": str})
    need = ["split", "condition_index", "folder", "concept", "word", "things_index",
            "categories27"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise data_error(path, f"missing columns {missing}; found {list(df.columns)}.")
    return df


# ---------------------------------------------------------- subject level
_EEGVISION_RATE_DIR = re.compile(r"eegvision_preprocessed_(\d+(?:\.\d+)?)Hz")
#: Older ``eegvision preprocess --sfreq`` output (other rates than NICE's 250).
_LEGACY_RATE_DIR = re.compile(r"Preprocessed_data_(\d+(?:\.\d+)?)Hz")


def canonical_layout(layout):
    """A layout's current name.

    Parameters
    ----------
    layout : str
        A layout name, current or earlier (``'250hz'``, ``'eeg_dataset'``).

    Returns
    -------
    str
        ``'nice'`` for ``'250hz'``, ``'official'`` for ``'eeg_dataset'``,
        any other name unchanged.
    """
    return LAYOUT_ALIASES.get(str(layout), str(layout))


def layout_dirs(root):
    """Every layout a root can hold: ``{name: folder of sub-XX/}``, in search order.

    ``nice`` and ``official`` come first (whether present or not), then every
    ``eegvision_preprocessed_<rate>Hz`` folder present (``eegvision_<rate>hz``),
    ``legacy`` and the older ``Preprocessed_data_<rate>Hz`` folders (``<rate>hz``).
    For a BIDS root these are looked for in its ``derivatives/eegvision/``
    (where ``eegvision preprocess`` writes for it), and layout ``bids`` last:
    the automatic preprocessing of its recordings
    (:func:`eegvision.data.raw.ensure_preprocessed`).
    """
    from .bids import DERIVATIVES, is_bids_root
    from .raw import preprocessed_cache, preprocessed_dir_name

    base = dataset_base(root)
    bids = is_bids_root(base)
    if bids:  # what `eegvision preprocess` wrote for it, then its automatic preprocessing
        base = base / DERIVATIVES
    dirs = {name: base / LAYOUTS[name] for name in ("nice", "official")}
    found = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    for p in found:
        if m := _EEGVISION_RATE_DIR.fullmatch(p.name):
            dirs.setdefault(f"eegvision_{float(m.group(1)):g}hz", p)
    dirs["legacy"] = base / LAYOUTS["legacy"]
    for p in found:
        if (m := _LEGACY_RATE_DIR.fullmatch(p.name)) and p.name != LAYOUTS["nice"]:
            dirs.setdefault(f"{float(m.group(1)):g}hz", p)
    if bids:
        dirs[BIDS_LAYOUT] = preprocessed_cache(root) / preprocessed_dir_name(250.0)
    return dirs


def _subject_dir(root, layout, subject):
    return layout_dirs(root)[canonical_layout(layout)] / f"sub-{int(subject):02d}"


def subject_layouts(root, subject):
    """Names of the layouts holding ``sub-XX/`` for ``subject``, in search order."""
    sub = f"sub-{int(subject):02d}"
    return [name for name, folder in layout_dirs(root).items() if (folder / sub).is_dir()]


def _pick_layout(root, subject, layout):
    from .raw import ensure_preprocessed

    dirs = layout_dirs(root)
    layout = canonical_layout(layout)
    _check_option("layout", layout, ("auto",) + tuple(dirs))
    if layout == BIDS_LAYOUT:
        ensure_preprocessed(dataset_base(root), subject)
    if layout != "auto":
        return layout
    found = [name for name in subject_layouts(root, subject) if name != BIDS_LAYOUT]
    if found:
        return found[0]
    if BIDS_LAYOUT in dirs:  # a BIDS root: preprocess its recordings (once, cached)
        ensure_preprocessed(dataset_base(root), subject)
        return BIDS_LAYOUT
    looked = "\n    ".join(f"{name}: {folder / f'sub-{int(subject):02d}'}/"
                          for name, folder in dirs.items())
    raise data_error(root, f"subject {subject}: no preprocessed EEG found. Looked for these "
                           f"layouts:\n    {looked}", _WHERE)


def _feature_dir(root, features):
    """NICE's feature folder (:func:`feature_dir`) or the named set ``dnn_feature/<features>/``."""
    if features is None:
        return feature_dir(root)
    from .featureset import feature_set_dir

    folder = feature_set_dir(dataset_base(root), features)
    if not folder.is_dir():
        sets = sorted(p.name for p in (dataset_base(root) / "dnn_feature").glob("*/")
                      if p.is_dir() and not p.name.startswith("."))
        raise data_error(folder, f"no feature set {features!r}; found: "
                         f"{', '.join(sets) if sets else 'none'}.",
                         "compute it with `eegvision features --name NAME --model ...`, or "
                         "leave out --features to read NICE's dnn_feature/ files.")
    return folder


@fill_doc
def find_subject_files(root, subject, layout="auto", *, targets="centers", features=None,
                       bank=False):
    """Paths of one subject's EEG, feature and metadata files; every missing one is listed.

    Parameters
    ----------
    root : str | Path
        The data root (or the official release's ``eeg_dataset/`` folder).
    subject : int
        Subject number (``sub-XX``, from 1).
    layout : str
        ``'auto'`` takes the first layout of :func:`layout_dirs` that holds
        the subject (``nice`` first); or a layout name (``'nice'``,
        ``'official'``, ``'eegvision_<rate>hz'``, ``'legacy'``, ``'<rate>hz'``;
        the earlier names ``'250hz'`` and ``'eeg_dataset'`` still work).
    %(targets)s
    features : str | None
        A named feature set ``dnn_feature/<features>/`` (``eegvision
        features``); None reads NICE's files in ``dnn_feature/``.
    bank : bool
        Also require the set's blur bank (``blur_bank_{training,test}.npy``),
        as ``train_bank`` / ``test_bank``.

    Returns
    -------
    files : dict
        ``layout``, ``train_eeg``, ``test_eeg``, ``train_features``,
        ``test_features`` and ``metadata`` (None when absent: names then fall back).
    """
    root = Path(root)
    _check_option("targets", targets, TARGETS)
    layout = _pick_layout(root, subject, layout)
    sub = _subject_dir(root, layout, subject)
    base = dataset_base(root)
    feat = _feature_dir(root, features)
    files = dict(layout=layout, train_eeg=sub / "preprocessed_eeg_training.npy",
                 test_eeg=sub / "preprocessed_eeg_test.npy",
                 train_features=feat / "clip_feature_maps_training.npy")
    if targets == "images":
        files["test_features"] = feat / "clip_feature_maps_test.npy"
    else:
        centers = ((feat / "center_clip.npy", base / "center_clip.npy",
                    base / "Image_set" / "center_clip.npy", base / "image_set" / "center_clip.npy")
                   if features is None else (feat / "center_clip.npy",))
        files["test_features"] = next((p for p in centers if p.is_file()), centers[0])
    if bank:
        files["train_bank"] = feat / "blur_bank_training.npy"
        files["test_bank"] = feat / "blur_bank_test.npy"
    missing = [str(p) for k, p in files.items() if k != "layout" and not p.is_file()]
    if missing:
        centres = targets == "centers" and str(files["test_features"]) in missing
        raise data_error(root, f"subject {subject} ({layout} layout): {len(missing)} missing "
                               "file(s):\n    " + "\n    ".join(missing),
                         (_CENTRES_FIX if centres else "") + _WHERE)
    files["metadata"] = metadata_path(root)
    return files


#: Feature folders, first found wins: NICE's repository folder, then the layout
#: of NICE's training scripts (DNN_feature_maps/pca_feature_maps/<dnn>/pretrained-True).
FEATURE_DIRS = ("dnn_feature", "DNN_feature_maps/pca_feature_maps/clip/pretrained-True")


def feature_dir(root):
    """The folder of the CLIP feature files (:data:`FEATURE_DIRS`; the first when none exists)."""
    base = dataset_base(root)
    return next((base / d for d in FEATURE_DIRS
                 if (base / d / "clip_feature_maps_training.npy").is_file()),
                base / FEATURE_DIRS[0])


def metadata_path(root):
    """``image_set/image_metadata.npy`` (official) or ``Image_set/...`` (NICE); None if absent."""
    base = dataset_base(root)
    return next((p for p in (base / "image_set" / "image_metadata.npy",
                             base / "Image_set" / "image_metadata.npy") if p.is_file()), None)


def subject_metadata(root, subject, files):
    """Image metadata for one subject: ``image_metadata.npy``, else a BIDS root's events.

    A BIDS root without ``image_set/`` names its conditions by the
    ``category_name`` of its ``events.tsv`` (:func:`eegvision.data.bids.concept_names`).
    None when neither is there (conditions are then numbered).
    """
    from .bids import concept_names, is_bids_root

    if files["metadata"] is not None:
        return read_image_metadata(root)
    if not is_bids_root(dataset_base(root)):
        return None
    names = concept_names(dataset_base(root), subject)
    return {f"{key}_concepts": np.array([concept_name(n) for n in names[key]])
            for key in ("train", "test") if names[key] is not None} or None


def _names(meta, split, key, n, path):
    """Per-condition names from the metadata (None when the key is absent)."""
    if meta is None or key not in meta:
        return None
    values = np.asarray(meta[key]).ravel()
    if len(values) != n:
        raise data_error(path or "image metadata", f"{len(values)} {key} for {n} {split} "
                         "conditions.",
                         "use the image_metadata.npy that matches this EEG.")
    return values.astype(str)


def _split_data(files, split, meta, *, average, cache, targets, subject):
    from .container import EEGImageData

    rec = read_preprocessed(files[f"{split}_eeg"], average=average, cache=cache)
    n_cond = rec["eeg"].shape[0]
    if f"{split}_bank" in files and (split == "train" or targets == "images"):
        feats = read_bank(files[f"{split}_bank"], n_expected=n_cond)
    else:
        feats = read_features(files[f"{split}_features"], n_expected=n_cond)
    key = "train" if split == "train" else "test"
    concepts = _names(meta, split, f"{key}_concepts", n_cond, files["metadata"])
    if concepts is None:
        logger.info("No image metadata: naming %s concepts %s_00001, ...", split, key)
        concepts = np.array([f"{key}_{i + 1:05d}" for i in range(n_cond)])
    categories = _names(meta, split, f"{key}_img_categories", n_cond, files["metadata"])
    conditions = np.arange(n_cond)
    eeg = rec["eeg"]
    if not average:
        n_reps = rec["n_repetitions"]
        eeg = eeg.reshape((-1,) + eeg.shape[2:])
        conditions = np.repeat(conditions, n_reps)
        feats, concepts = feats[conditions], concepts[conditions]
        categories = None if categories is None else categories[conditions]
    return EEGImageData(eeg, feats, concepts, rec["ch_names"], rec["times"], rec["sfreq"],
                        conditions=conditions, categories=categories,
                        meta=dict(subject=int(subject), split=split, layout=files["layout"],
                                  source=rec["source"], targets=targets,
                                  n_repetitions=rec["n_repetitions"], averaged=average))


def read_bank(path, n_expected=None):
    """Read a blur bank ``(N, K, D)`` as float32 ``(N, K * D)`` (levels side by side).

    The blur recipes' image side (:mod:`eegvision.models.blur`) splits each
    row back into its ``K`` levels.
    """
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "file not found.", "compute the feature set with blur levels: "
                         "`eegvision features --blur 1,2,4,8 ...`.")
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    if arr.ndim != 3 or 0 in arr.shape or not np.issubdtype(arr.dtype, np.floating):
        raise data_error(path, f"a blur bank must be float (N, K, D), found {arr.dtype} "
                         f"{arr.shape}.", "re-run `eegvision features --blur ...`.")
    if n_expected is not None and arr.shape[0] != n_expected:
        raise data_error(path, f"{arr.shape[0]} rows, but the EEG has {n_expected} image "
                         "conditions.", "use the feature set made for these images.")
    out = np.array(arr, dtype=np.float32).reshape(arr.shape[0], -1)
    check_finite(out, path, "values in the blur bank", "re-run the feature extraction.")
    return out


@verbose
@fill_doc
def load_subject(root, subject, *, layout="auto", targets="centers", average=True, cache=True,
                 features=None, bank=False, verbose=None):
    """Load one subject's training and test data from a THINGS-EEG2 root.

    Parameters
    ----------
    %(root)s
    %(subject)s
    %(layout)s
    %(targets)s
    average : bool
        Average repetitions (one trial per image condition).
    cache : bool
        Use the reading cache for averaged EEG.
    features : str | None
        Named feature set (see :func:`find_subject_files`).
    bank : bool
        Features are the set's blur bank, flattened to ``(N, K * D)`` (the
        test side too with ``targets='images'``); ``meta['blur_levels']`` is K.
    %(verbose)s

    Returns
    -------
    data : SubjectData
        ``train`` and ``test`` :class:`EEGImageData`, with conditions = image index.
    """
    from .container import SubjectData

    files = find_subject_files(root, subject, layout, targets=targets, features=features,
                               bank=bank)
    meta = subject_metadata(root, subject, files)
    kw = dict(average=average, cache=cache, targets=targets, subject=subject)
    train = _split_data(files, "train", meta, **kw)
    test = _split_data(files, "test", meta, **kw)
    extra = {} if features is None else {"features": features}
    if bank:
        extra["blur_levels"] = int(np.load(files["train_bank"], mmap_mode="r").shape[1])
        if targets == "centers":  # a centre is one (sharp) feature: the same at every level
            test = test.with_features(np.tile(test.features, (1, extra["blur_levels"])))
        for part in (train, test):
            part.meta.update(extra)
    return SubjectData(subject=int(subject), train=train, test=test,
                       meta=dict(root=str(root), layout=files["layout"], targets=targets,
                                 **extra))


def peek_preprocessed(path):
    """Shape, channels and times of a preprocessed file, without reading its EEG.

    Returns
    -------
    dict
        ``shape`` (conditions, repetitions, channels, times), ``dtype``,
        ``ch_names``, ``times`` and ``sfreq``.
    """
    d = load_dict_mapped(path)
    eeg, ch_names, times = _check_contents(path, d, warn=False)
    sfreq = float(round(1.0 / np.median(np.diff(times)), 6)) if len(times) > 1 else float("nan")
    return dict(shape=tuple(eeg.shape), dtype=str(eeg.dtype), ch_names=ch_names, times=times,
                sfreq=sfreq)


def _layout_info(root, subject):
    """One dict per layout holding the subject: name, folder, and what its files hold (or the error)."""
    out = []
    for name in subject_layouts(root, subject):
        folder = _subject_dir(root, name, subject)
        try:
            tr = peek_preprocessed(folder / "preprocessed_eeg_training.npy")
            te = peek_preprocessed(folder / "preprocessed_eeg_test.npy")
        except (OSError, ValueError) as err:  # DataError is a ValueError
            out.append(dict(name=name, folder=folder, error=str(err).splitlines()[0]))
            continue
        out.append(dict(name=name, folder=folder, train=tr, test=te))
    return out


def root_info(root, subject=1):
    """What a data root holds for one subject (what ``eegvision info`` shows).

    Parameters
    ----------
    root : str | Path
        Data root (resolve ``--data-dir`` first, e.g. with
        :func:`eegvision.data.builtin.resolve_root`).
    subject : int
        Subject to describe.

    Returns
    -------
    dict
        ``root``; ``layouts``: one dict per layout holding the subject
        (``name``, ``folder`` and either ``train`` / ``test``, the
        :func:`peek_preprocessed` of each file, or ``error``);
        ``feature_sets``: names of the named feature sets; ``data``: the
        subject loaded (:func:`load_subject`, averaged); ``truth``: the
        simulator's ``simulation_truth.json`` or None.
    """
    root = Path(root)
    sets = sorted(p.parent.name
                  for p in (dataset_base(root) / "dnn_feature").glob("*/manifest.json"))
    truth = root / "simulation_truth.json"
    data = load_subject(root, subject)  # first: a BIDS root's subject is preprocessed here
    return dict(root=root, layouts=_layout_info(root, subject), feature_sets=sets, data=data,
                truth=json.loads(truth.read_text()) if truth.is_file() else None)
