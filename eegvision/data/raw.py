"""Raw THINGS-EEG2 recordings -> epochs -> MVNN -> the preprocessed layout (MNE).

The pipeline reproduces what THINGS-EEG2 and NICE did to their raw data:

1. ``read_raw_session``: one ``Raw_data/sub-XX/ses-YY/raw_eeg_{split}.npy``
   (an ``np.save`` of a dict, 1000 Hz, last row the stim channel) as an
   ``mne.io.RawArray``.
2. ``epoch_session``: events from the stim channel (99999 = target trial,
   dropped), ``mne.Epochs`` with baseline correction, ``Epochs.resample``,
   sorted into (conditions, repetitions, channels, times).
3. ``mvnn``: multivariate noise normalisation (Guggenmos et al. 2018) with the
   noise covariance estimated on the training partition only.
4. ``preprocess_subject``: all sessions of one subject, MVNN per session,
   repetitions merged across sessions, written as
   ``eegvision_preprocessed_250Hz/sub-XX/preprocessed_eeg_{training,test}.npy``
   (eegvision's own layout: no published folder's name, never replacing a
   file unless asked).

Raw files with planted signals (for the tests and ``eegvision simulate --raw``)
are built by :func:`eegvision.data.simulate.simulate_raw_session`.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import (
    _check_option,
    atomic_path,
    check_finite,
    data_error,
    logger,
    verbose,
    write_json,
)
from ._pickle import load_dict_file
from .bids import TARGET_CODE  # noqa: F401  (99999 marks target (catch) trials, dropped)

RAW_DIR = "Raw_data"
#: The official release's raw folder (under the folder that holds ``eeg_dataset/``).
RAW_DIR_OFFICIAL = "eeg_dataset/raw_data"
SPLITS = ("training", "test")
#: Where the raw recordings come from.
RAW_DATA_URL = "https://osf.io/crxs4/"
_RAW_KEYS = ("raw_eeg_data", "ch_names", "ch_types", "sfreq")
_BIDS_CACHE_VERSION = 1


# ------------------------------------------------------------------ loading
def read_raw_session(path):
    """Read one raw THINGS-EEG2 recording as an ``mne.io.RawArray``.

    Parameters
    ----------
    path : str | Path | eegvision.data.bids.BIDSRecording
        ``raw_eeg_{training,test}.npy``: a saved dict with ``raw_eeg_data``
        (channels x samples, volts, last row the stim channel), ``ch_names``,
        ``ch_types`` (final entry ``'stim'``), ``sfreq`` and optionally
        ``highpass`` / ``lowpass``. Or the runs of one partition of a BIDS
        session (:func:`eegvision.data.bids.read_bids_session` builds the
        same object from them).

    Returns
    -------
    raw : mne.io.RawArray
        EEG in volts as stored; the stim channel typed ``'stim'``.
    """
    import mne

    from .bids import BIDSRecording, read_bids_session

    if isinstance(path, BIDSRecording):  # a BIDS root's runs: the same object, from BDF
        return read_bids_session(path)
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "raw recording not found.",
                         f"download the THINGS-EEG2 raw data ({RAW_DATA_URL}) into this folder.")
    d = load_dict_file(path)
    missing = [k for k in _RAW_KEYS if k not in d]
    if missing:
        raise data_error(path, f"missing keys {missing}; found {sorted(d)}.",
                         "use the raw_eeg_*.npy files of the THINGS-EEG2 raw release.")
    data = np.asarray(d["raw_eeg_data"], dtype=np.float64)
    if not data.flags.writeable:  # the loader maps the file's bytes read-only
        data = data.copy()
    ch_names = [str(c) for c in d["ch_names"]]
    ch_types = [str(t).lower() for t in d["ch_types"]]
    sfreq = float(d["sfreq"])
    _check_raw_dict(path, data, ch_names, ch_types, sfreq)
    info = mne.create_info(ch_names, sfreq, ch_types)
    raw = mne.io.RawArray(data, info, verbose="error")
    hp, lp = float(d.get("highpass", 0.0)), float(d.get("lowpass", sfreq / 2))
    if hasattr(raw.info, "_unlock") and 0 <= hp < lp <= sfreq / 2:
        with raw.info._unlock():  # record the acquisition filter, as MNE readers do
            raw.info["highpass"], raw.info["lowpass"] = hp, lp
    return raw


def _check_raw_dict(path, data, ch_names, ch_types, sfreq):
    if data.ndim != 2:
        raise data_error(path, f"raw_eeg_data must be channels x samples, got shape {data.shape}.")
    if not (len(ch_names) == len(ch_types) == data.shape[0]):
        raise data_error(path, f"inconsistent channels: {len(ch_names)} ch_names, "
                         f"{len(ch_types)} ch_types, {data.shape[0]} rows of raw_eeg_data.",
                         "ch_names and ch_types need one entry per data row (stim last).")
    if ch_types[-1] != "stim" or ch_types.count("stim") != 1:
        raise data_error(path, "expected exactly one stim channel, in the last row; "
                         f"ch_types ends with {ch_types[-3:]}.")
    dup = sorted({c for c in ch_names if ch_names.count(c) > 1})
    if dup:
        raise data_error(path, f"duplicate channel names {dup}.")
    if not sfreq > 0:
        raise data_error(path, f"sfreq must be positive, got {sfreq}.")
    check_finite(data, path, "values in raw_eeg_data")


# ------------------------------------------------------------------ epoching
def find_trial_events(raw):
    """Image-onset events of a raw recording, target trials (99999) removed.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording with one stim channel holding the 1-based condition code
        at each onset sample and 0 elsewhere.

    Returns
    -------
    events : array of int, shape (n_events, 3)
        MNE events (sample, previous value, code), ascending in time.
    """
    import mne

    stim = [raw.ch_names[i] for i in mne.pick_types(raw.info, meg=False, stim=True)]
    # shortest_event=1: onsets are single-sample pulses; consecutive=True: two
    # onsets in adjacent samples (no zero between them) are both events.
    events = mne.find_events(raw, stim_channel=stim, shortest_event=1, consecutive=True,
                             initial_event=True, verbose="error")
    return events[events[:, 2] != TARGET_CODE]


def _select_repetitions(events, n_reps, src):
    """Keep the first ``n_reps`` events of each condition; return (events, cond index, rep)."""
    codes = events[:, 2]
    conditions, counts = np.unique(codes, return_counts=True)
    if len(conditions) == 0:
        raise data_error(src, "no image-onset events in the stim channel.",
                         "check that the last row of raw_eeg_data holds the condition codes.")
    if n_reps is None:
        n_reps = int(counts.min())
    short = conditions[counts < n_reps]
    if len(short):
        shown = ", ".join(f"{c} ({counts[conditions == c][0]}x)" for c in short[:5])
        raise data_error(src, f"{len(short)} conditions have fewer than {n_reps} repetitions: "
                         f"{shown}{' ...' if len(short) > 5 else ''}.",
                         "ask for fewer repetitions per session, or check the recording is complete.")
    order = np.lexsort((events[:, 0], codes))  # by condition, then time
    sorted_codes = codes[order]
    starts = np.searchsorted(sorted_codes, sorted_codes, side="left")
    rep = np.arange(len(order)) - starts
    keep = rep < n_reps
    sel = order[keep]
    cond_idx = np.searchsorted(conditions, codes[sel])
    return events[sel], cond_idx, rep[keep], conditions, n_reps


def epoch_session(raw, *, tmin=-0.2, tmax=1.0, baseline=(None, 0), sfreq=250.0, ch_names=None,
                  n_reps=None, dtype=np.float32, chunk_size=2000, source=None):
    """Epoch one recording with MNE and sort the epochs by image condition.

    Epochs are baseline-corrected at the recorded rate, then resampled with
    ``Epochs.resample`` (FFT resampling, an ideal anti-alias low-pass at the
    new Nyquist): the very call THINGS-EEG2 and NICE used, so the output
    matches theirs; decimating would need a separate low-pass and differ.
    Epochs are made ``chunk_size`` at a time, so memory holds the raw data,
    one chunk at 1000 Hz and the resampled output.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording from :func:`read_raw_session`.
    tmin, tmax : float
        Epoch window in seconds around image onset.
    baseline : tuple | None
        Baseline interval for ``mne.Epochs`` (default ``(None, 0)``).
    sfreq : float | None
        Output sampling rate (at most the recorded one); None keeps it.
    ch_names : list of str | None
        Channels to keep, in this order (default: every EEG channel).
    n_reps : int | None
        Repetitions kept per condition, the first in time; every condition
        must have at least this many. None: the smallest count.
    dtype : numpy dtype
        Output dtype (float32 halves memory; MNE computes in float64).
    chunk_size : int
        Epochs processed at a time.
    source : str | Path | None
        File name used in error messages.

    Returns
    -------
    data : array, shape (n_conditions, n_reps, n_channels, n_times)
    conditions : array of int, shape (n_conditions,)
        1-based condition codes, ascending (row order of ``data``).
    ch_names : list of str
    times : array, shape (n_times,)
        Seconds relative to image onset.
    """
    import mne

    src = source or "raw recording"
    raw_sfreq = raw.info["sfreq"]
    sfreq = raw_sfreq if sfreq is None else float(sfreq)
    if not 0 < sfreq <= raw_sfreq:
        raise ValueError(f"sfreq must be in (0, {raw_sfreq:g}] (the recorded rate), got {sfreq:g}.")
    picks = _pick_names(raw, ch_names, src)
    events = _events_in_bounds(raw, find_trial_events(raw), tmin, tmax, src)
    events, cond_idx, rep, conditions, n_reps = _select_repetitions(events, n_reps, src)
    out, times = None, None
    for start in range(0, len(events), chunk_size):
        sl = slice(start, start + chunk_size)
        ep = mne.Epochs(raw, events[sl], tmin=tmin, tmax=tmax, baseline=baseline, picks=picks,
                        preload=True, reject=None, flat=None, reject_by_annotation=False,
                        proj=False, verbose="error")
        if len(ep) != len(events[sl]):
            raise data_error(src, f"MNE dropped {len(events[sl]) - len(ep)} epochs "
                             f"({ep.drop_log_stats():.1f}%).")
        if ep.ch_names != picks:
            ep.reorder_channels(picks)
        if sfreq != raw_sfreq:
            ep.resample(sfreq, verbose="error")
        x = ep.get_data(copy=False)
        if out is None:
            times = ep.times.copy()
            out = np.empty((len(conditions), n_reps, len(picks), len(times)), dtype=dtype)
        out[cond_idx[sl], rep[sl]] = x
    return out, conditions, list(picks), times


def _pick_names(raw, ch_names, src):
    import mne

    if ch_names is None:
        return [raw.ch_names[i] for i in mne.pick_types(raw.info, meg=False, eeg=True)]
    missing = [c for c in ch_names if c not in raw.ch_names]
    if missing:
        raise data_error(src, f"channels {missing} are not in the recording.",
                         f"choose among {raw.ch_names[:-1]}.")
    return list(ch_names)


def _events_in_bounds(raw, events, tmin, tmax, src):
    """Drop (with a warning) events whose epoch window leaves the recording."""
    sf = raw.info["sfreq"]
    onset = events[:, 0] - raw.first_samp
    ok = (onset + int(round(tmin * sf)) >= 0) & (onset + int(round(tmax * sf)) < raw.n_times)
    if not ok.all():
        logger.warning("%s: %d events too close to the recording's edges for [%g, %g] s; "
                       "skipped.", src, int((~ok).sum()), tmin, tmax)
    return events[ok]


# ------------------------------------------------------------------ MVNN
def _shrunk_cov_from_stats(s1, s2, n, shrinkage):
    """Ledoit-Wolf (or fixed) shrinkage from sufficient statistics, batched.

    ``s1 = sum x x^T`` and ``s2 = sum (x**2)(x**2)^T`` over ``n`` centred samples,
    shape (..., p, p). Same estimator as ``sklearn.covariance.ledoit_wolf``
    with ``assume_centered=True``, computed without holding the samples.
    """
    p = s1.shape[-1]
    emp = s1 / n
    diag = np.diagonal(emp, axis1=-2, axis2=-1)
    mu = diag.sum(-1) / p
    if shrinkage is None:
        alpha = np.zeros_like(mu)
    elif shrinkage == "ledoit_wolf":
        beta_ = s2.sum((-2, -1))
        delta_ = (s1 ** 2).sum((-2, -1)) / n ** 2
        beta = (beta_ / n - delta_) / (p * n)
        delta = (delta_ - 2.0 * mu * diag.sum(-1) + p * mu ** 2) / p
        beta = np.minimum(beta, delta)
        alpha = np.divide(beta, delta, out=np.zeros_like(beta), where=delta > 0)
    else:
        alpha = np.full_like(mu, float(shrinkage))
    eye = np.eye(p)
    return (1 - alpha)[..., None, None] * emp + (alpha * mu)[..., None, None] * eye


def noise_covariance(train, *, estimator="epochs", shrinkage="ledoit_wolf", chunk_size=256):
    """Noise covariance of epoched data: the residuals around each condition's mean.

    Parameters
    ----------
    train : array, shape (n_conditions, n_reps, n_channels, n_times)
        Training epochs; ``n_reps >= 2``.
    estimator : {'epochs', 'time'}
        ``'epochs'``: one covariance per epoch (over its time points),
        averaged over epochs (NICE's ``mvnn_dim='epochs'``). ``'time'``:
        one covariance per time point (over all conditions and repetitions),
        averaged over time (the official THINGS-EEG2 code's default).
    shrinkage : 'ledoit_wolf' | float | None
        Shrinkage of each covariance towards a scaled identity, per epoch or
        per time point as in Guggenmos et al.'s reference code (with few
        samples per epoch this shrinks noticeably; None = empirical).
    chunk_size : int
        Conditions processed at a time (bounds memory).

    Returns
    -------
    cov : array, shape (n_channels, n_channels)
        Corrected for the degree of freedom each condition mean uses up
        (factor ``n_reps / (n_reps - 1)``), so white noise of variance s2
        gives a diagonal of s2.
    """
    _check_option("estimator", estimator, ("epochs", "time"))
    if not (shrinkage in (None, "ledoit_wolf") or isinstance(shrinkage, (int, float))):
        raise ValueError(f"shrinkage must be 'ledoit_wolf', a float or None, got {shrinkage!r}.")
    if train.ndim != 4 or train.shape[1] < 2:
        raise ValueError("MVNN needs training data (n_conditions, n_reps >= 2, n_channels, "
                         f"n_times); got shape {train.shape}.")
    n_cond, n_reps, n_ch, n_t = train.shape
    s1 = np.zeros((n_t, n_ch, n_ch)) if estimator == "time" else np.zeros((n_ch, n_ch))
    s2 = np.zeros_like(s1)
    for start in range(0, n_cond, chunk_size):
        x = np.asarray(train[start:start + chunk_size], dtype=np.float64)
        r = x - x.mean(axis=1, keepdims=True)
        if estimator == "time":  # pooled over conditions, per time point
            r = r.transpose(3, 0, 1, 2).reshape(n_t, -1, n_ch)  # (time, samples, ch)
            s1 += np.matmul(r.transpose(0, 2, 1), r)
            s2 += np.matmul((r ** 2).transpose(0, 2, 1), r ** 2)
        else:  # one shrunk covariance per epoch, summed
            r = r.reshape(-1, n_ch, n_t)  # (epochs, ch, time)
            e1 = np.matmul(r, r.transpose(0, 2, 1))
            e2 = np.matmul(r ** 2, (r ** 2).transpose(0, 2, 1))
            s1 += _shrunk_cov_from_stats(e1, e2, n_t, shrinkage).sum(0)
    if estimator == "time":
        cov = _shrunk_cov_from_stats(s1, s2, n_cond * n_reps, shrinkage).mean(0)
    else:
        cov = s1 / (n_cond * n_reps)
    return cov * n_reps / (n_reps - 1)


def whitening_matrix(cov):
    """Inverse matrix square root ``cov^(-1/2)`` (symmetric), via ``eigh``."""
    from scipy.linalg import eigh

    w, v = eigh(cov)
    if w.min() <= w.max() * 1e-12:
        raise ValueError("The noise covariance is singular (rank-deficient data, e.g. a flat or "
                         "average-referenced channel set). Use shrinkage='ledoit_wolf'.")
    return (v / np.sqrt(w)) @ v.T


def _apply_whitener(w, x, chunk_size=256):
    out = np.empty_like(x)
    w = w.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)
    for start in range(0, len(x), chunk_size):
        out[start:start + chunk_size] = np.matmul(w, x[start:start + chunk_size])
    return out


def mvnn(train, test=None, *, estimator="epochs", shrinkage="ledoit_wolf"):
    """Multivariate noise normalisation (Guggenmos et al. 2018), as THINGS-EEG2.

    The noise covariance is estimated on ``train`` only (see
    :func:`noise_covariance`) and its inverse square root is applied to every
    epoch of ``train`` and ``test`` over the channel axis, so the test data
    never influence the whitening.

    Parameters
    ----------
    train : array, shape (n_conditions, n_reps, n_channels, n_times)
    test : array, shape (..., n_channels, n_times) | None
    estimator : {'epochs', 'time'}
    shrinkage : 'ledoit_wolf' | float | None

    Returns
    -------
    train_white : array, like ``train``
    test_white : array, like ``test`` (None when ``test`` is None)
    whitener : array, shape (n_channels, n_channels)
        ``cov^(-1/2)``; whitened = ``whitener @ epoch``.
    """
    cov = noise_covariance(train, estimator=estimator, shrinkage=shrinkage)
    w = whitening_matrix(cov)
    if test is not None and test.shape[-2] != train.shape[2]:
        raise ValueError(f"test has {test.shape[-2]} channels, train {train.shape[2]}.")
    test_w = None if test is None else _apply_whitener(w, test)
    return _apply_whitener(w, train), test_w, w


_mvnn = mvnn  # preprocess_subject's ``mvnn`` flag shadows the name


# ------------------------------------------------------------------ one subject
def preprocessed_dir_name(sfreq):
    """``eegvision_preprocessed_250Hz`` for 250 Hz: eegvision's own layout.

    No published layout uses this name: the output (float32, the first
    repetitions in time, per-session MVNN) differs from NICE's and the
    official files, so it never takes or replaces their folders.
    """
    from .paths import eegvision_dir_name

    return eegvision_dir_name(sfreq)


def raw_subject_dir(root, subject):
    """``Raw_data/sub-XX`` (NICE) or ``eeg_dataset/raw_data/sub-XX`` (official), whichever exists.

    ``root`` may also be the official ``eeg_dataset/`` folder itself. When
    neither exists, the NICE name is returned (the error then names it).
    """
    from .paths import dataset_base

    sub = f"sub-{int(subject):02d}"
    base = dataset_base(root)
    for folder in (base / RAW_DIR, base / RAW_DIR_OFFICIAL):
        if (folder / sub).is_dir():
            return folder / sub
    return base / RAW_DIR / sub


def find_raw_sessions(root, subject):
    """Raw files of one subject: ``[(session, {split: path}), ...]``, ascending.

    For a BIDS root (:func:`eegvision.data.bids.is_bids_root`) the paths are
    :class:`~eegvision.data.bids.BIDSRecording` (the runs of each task). Every session from ``ses-01`` to the highest present must hold both
    ``raw_eeg_training.npy`` and ``raw_eeg_test.npy``; otherwise one
    :class:`~eegvision._utils.DataError` lists every missing file.
    """
    from .bids import find_bids_sessions, is_bids_root

    if is_bids_root(root):
        return find_bids_sessions(root, subject)
    sub_dir = raw_subject_dir(root, subject)
    found = sorted(int(m.group(1)) for p in (sub_dir.glob("ses-*") if sub_dir.is_dir() else [])
                   if p.is_dir() and (m := re.fullmatch(r"ses-(\d+)", p.name)))
    sessions = [(s, {sp: sub_dir / f"ses-{s:02d}" / f"raw_eeg_{sp}.npy" for sp in SPLITS})
                for s in range(1, max(found, default=1) + 1)]
    missing = [str(p) for _, files in sessions for p in files.values() if not p.is_file()]
    if missing:
        raise data_error(sub_dir, "missing raw recordings:\n    " + "\n    ".join(missing),
                         f"download the THINGS-EEG2 raw data from OSF ({RAW_DATA_URL}) into "
                         f"{Path(root) / RAW_DIR}/sub-XX/ses-YY/ (or "
                         f"{RAW_DIR_OFFICIAL}/sub-XX/ses-YY/), or make a simulated root with "
                         "`eegvision simulate DIR --raw`.")
    return sessions


def default_out_root(root, out_root=None):
    """Where preprocessing writes: ``out_root``, else ``derivatives/eegvision/`` of a BIDS root, else ``root``."""
    from .bids import DERIVATIVES, is_bids_root

    if out_root is not None:
        return Path(out_root)
    return Path(root) / DERIVATIVES if is_bids_root(root) else Path(root)


def _merge_sessions(parts, split, src):
    """Concatenate repetitions of each condition over the sessions it appears in.

    ``parts``: list of (data, conditions). THINGS-EEG2 shows each training image
    in two of the four sessions, each test image in all four.
    """
    conditions = np.unique(np.concatenate([c for _, c in parts]))
    expected = np.arange(1, conditions.max() + 1)
    if len(conditions) != len(expected):
        absent = np.setdiff1d(expected, conditions)
        raise data_error(src, f"{split}: conditions {absent[:10].tolist()} never appear, so "
                         "rows would not line up with the image order.",
                         "process all sessions of the subject.")
    totals = np.zeros(len(conditions), dtype=int)
    for data, cond in parts:
        totals[cond - 1] += data.shape[1]
    if (totals != totals[0]).any():
        bad = conditions[totals != totals[0]][:5].tolist()
        raise data_error(src, f"{split}: conditions have unequal repetition counts over sessions "
                         f"({sorted(set(totals.tolist()))}; e.g. conditions {bad}).",
                         "process all sessions of the subject.")
    out = np.empty((len(conditions), totals[0]) + parts[0][0].shape[2:], dtype=np.float32)
    filled = np.zeros(len(conditions), dtype=int)
    while parts:
        data, cond = parts.pop(0)  # free each session's array once copied
        n = data.shape[1]
        for i, c in enumerate(cond):
            out[c - 1, filled[c - 1]:filled[c - 1] + n] = data[i]
        filled[cond - 1] += n
    return out


def _write_preprocessed(path, data, ch_names, times):
    """Pickle (protocol 4) the NICE layout dict atomically."""
    obj = {"preprocessed_eeg_data": np.ascontiguousarray(data, dtype=np.float32),
           "ch_names": list(ch_names), "times": np.asarray(times, dtype=np.float64)}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=4)
    return Path(path)


@verbose
@fill_doc
def preprocess_subject(root, subject, out_root=None, *, sfreq=250.0, tmin=-0.2, tmax=1.0,
                       mvnn=True, drop_baseline=True, n_train_reps=2, n_test_reps=20,
                       estimator="epochs", ch_names=None, overwrite=False, verbose=None):
    """Preprocess one subject's raw THINGS-EEG2 recordings (eegvision's own layout).

    Session by session: epoch both partitions (:func:`epoch_session`, the
    first ``n_*_reps`` repetitions of each condition), whiten them with the
    noise covariance of that session's training epochs (:func:`mvnn`, as
    THINGS-EEG2 does per session), drop the pre-stimulus samples; then merge
    each condition's repetitions over sessions and write
    ``<out_root>/eegvision_preprocessed_250Hz/sub-XX/preprocessed_eeg_{training,test}.npy``
    (layout ``eegvision_250hz``; pickle protocol 4 dicts: ``preprocessed_eeg_data`` float32 (conditions,
    repetitions, channels, times), ``ch_names``, ``times`` matching the data).

    Memory: one raw session at a time. A real subject (63 channels, 16540
    training conditions x 4 and 200 x 80 test epochs at 250 Hz) peaks at
    roughly 12-15 GB: the merged training array (4.2 GB float32) plus one
    session's raw recording (~2 GB) and epochs (~1.3 GB, twice during MVNN),
    and a copy of the training array while sessions are merged.

    Parameters
    ----------
    root : str | Path
        Data root holding ``Raw_data/sub-XX/ses-YY/raw_eeg_{training,test}.npy``,
        or a BIDS root (:mod:`eegvision.data.bids`).
    %(subject)s
    out_root : str | Path | None
        Where to write the preprocessed layout (default: ``root``; for a
        BIDS root its ``derivatives/eegvision/``).
    sfreq, tmin, tmax : float
        Output rate and epoch window (NICE: 250 Hz, -0.2 to 1.0 s).
    mvnn : bool
        Apply multivariate noise normalisation.
    drop_baseline : bool
        Remove the samples before image onset, as NICE does (times start at 0).
    n_train_reps, n_test_reps : int
        Repetitions kept per condition and session (THINGS-EEG2: 2 and 20).
    estimator : {'epochs', 'time'}
        MVNN covariance estimator, see :func:`noise_covariance`.
    ch_names : list of str | None
        Channels to keep (default: every EEG channel).
    overwrite : bool
        Replace output files that exist; otherwise they are refused before
        any work starts.
    %(verbose)s

    Returns
    -------
    list of Path
        The training and test files written.
    """
    from .paths import dataset_base, refuse_existing

    sessions = find_raw_sessions(root, subject)
    sub = f"sub-{int(subject):02d}"
    out_dir = dataset_base(default_out_root(root, out_root)) / preprocessed_dir_name(sfreq) / sub
    targets = [out_dir / f"preprocessed_eeg_{split}.npy" for split in SPLITS]
    if not overwrite:
        refuse_existing(targets, "pass --overwrite (Python: overwrite=True) to replace them, "
                                 "or choose another --out.")
    parts = {sp: [] for sp in SPLITS}
    names = times = None
    for ses, files in sessions:
        ep = {}
        for split, n_reps in (("training", n_train_reps), ("test", n_test_reps)):
            raw = read_raw_session(files[split])
            ep[split] = epoch_session(raw, tmin=tmin, tmax=tmax, sfreq=sfreq, n_reps=n_reps,
                                      ch_names=ch_names or names, source=files[split])
            del raw
            if names is None:
                names, times = ep[split][2], ep[split][3]
            elif ep[split][2] != names or len(ep[split][3]) != len(times):
                raise data_error(files[split], "channels or epoch length differ from the "
                                 f"first session ({len(names)} channels, {len(times)} samples).")
        train, test = ep["training"][0], ep["test"][0]
        if mvnn:
            train, test, _ = _mvnn(train, test, estimator=estimator)
        t0 = int(np.searchsorted(times, -0.5 / sfreq)) if drop_baseline else 0
        for split, x in (("training", train), ("test", test)):
            parts[split].append((x[..., t0:], ep[split][1]))
        del ep, train, test
        logger.info("%s ses-%02d epoched%s", sub, ses, " and whitened" if mvnn else "")
    paths = []
    for split in SPLITS:
        data = _merge_sessions(parts[split], split, Path(root) / RAW_DIR / sub)
        paths.append(_write_preprocessed(targets[SPLITS.index(split)], data, names, times[t0:]))
        logger.info("wrote %s %s", paths[-1], data.shape)
    return paths


# ------------------------------------------------------------------ BIDS roots: a cached preprocessing
def _stamp(root, subject):
    """Identity of a subject's BIDS files (paths, sizes, mtimes): a change re-preprocesses."""
    from .bids import events_path, find_bids_sessions

    items = []
    for ses, recs in find_bids_sessions(root, subject):
        for split, rec in recs.items():
            for run in rec.runs:
                for p in (Path(run), events_path(run)):
                    st = p.stat()
                    items.append([ses, split, str(p.resolve()), st.st_size, st.st_mtime_ns])
    return {"version": _BIDS_CACHE_VERSION, "files": items}


def preprocessed_cache(root):
    """The cache folder of a BIDS root's automatic preprocessing (one per root)."""
    from .paths import cache_base

    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return cache_base() / "bids" / key


def ensure_preprocessed(root, subject):
    """Preprocess one subject of a BIDS root into the cache (once); return the cache root.

    The default pipeline (:func:`preprocess_subject`: 250 Hz,
    MVNN, 0-1 s) writes ``eegvision_preprocessed_250Hz/sub-XX/`` under
    :func:`preprocessed_cache`, stamped with the source files' sizes and
    times, so a changed recording is preprocessed again. To choose a preset,
    run ``eegvision preprocess --data-dir ROOT --preset ...`` instead: what it
    writes in ``derivatives/eegvision/`` is read first.
    """
    cache = preprocessed_cache(root)
    sub = f"sub-{int(subject):02d}"
    stamp_file = cache / f"{sub}.json"
    stamp = _stamp(root, subject)
    target = cache / preprocessed_dir_name(250.0) / sub
    if stamp_file.is_file() and (target / "preprocessed_eeg_test.npy").is_file():
        try:
            if json.loads(stamp_file.read_text()) == stamp:
                return cache
        except ValueError:
            pass
    logger.warning("%s: preprocessing %s from the BIDS recordings (once; cached in %s)",
                   root, sub, cache)
    stamp_file.unlink(missing_ok=True)
    preprocess_subject(root, subject, cache, overwrite=True)  # eegvision's own cache
    write_json(stamp_file, stamp)
    return cache
