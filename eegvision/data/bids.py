"""THINGS-EEG2 as BIDS (NEMAR ``nm000232``): recordings and ``events.tsv`` -> raw sessions.

A BIDS root (``dataset_description.json`` at the top) holds, per subject and
session, the recordings of the ``train`` task (THINGS-EEG2: five runs) and of
the ``test`` task (one run), each with an ``events.tsv``::

    sub-01/ses-01/eeg/sub-01_ses-01_task-train_run-01_eeg.bdf
    sub-01/ses-01/eeg/sub-01_ses-01_task-train_run-01_events.tsv
    sub-01/ses-01/eeg/sub-01_ses-01_task-test_eeg.bdf
    ...

``events.tsv`` rows with ``trial_type`` ``image`` carry the 1-based image
condition in ``tot_img_number`` (training 1-16540, test 1-200) and its
concept folder in ``category_name`` (``01175_roller_coaster``); ``target``
rows (``tot_img_number`` ``n/a``) are the catch trials. Onsets are read from
the ``sample`` column (else ``onset`` x the sampling rate).

:func:`read_bids_session` turns one session's runs of one task into the
very object the raw ``.npy`` route reads (:func:`eegvision.data.raw.read_raw_session`):
an ``mne.io.RawArray`` of the EEG channels, runs concatenated in run order,
plus a last ``stim`` channel holding the condition code at each image onset
and 99999 at each catch trial. The preprocessing (``eegvision preprocess``,
its presets, and the analyses' automatic preprocessing of a BIDS root) then
runs unchanged on it, so both routes give the same arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import data_error, logger

#: BIDS task of each THINGS-EEG2 partition (``rest`` recordings are not read).
TASKS = {"training": "train", "test": "test"}
#: Recording formats read, in order of preference when a run has several.
EXTENSIONS = (".bdf", ".edf", ".vhdr", ".set", ".fif")
#: Stim code of target (catch) trials in the raw recordings (both routes); these epochs are dropped.
TARGET_CODE = 99999
#: Where ``eegvision preprocess`` writes for a BIDS root when no ``--out`` is given.
DERIVATIVES = "derivatives/eegvision"
#: Epoch window (s) every pipeline fits in: events whose window leaves their run are dropped.
WINDOW = (-0.2, 1.0)
_BIDS_FIX = ("a THINGS-EEG2 BIDS root (NEMAR nm000232) holds sub-XX/ses-YY/eeg/"
             "sub-XX_ses-YY_task-{train,test}[_run-ZZ]_eeg.bdf with an _events.tsv each.")


@dataclass(frozen=True)
class BIDSRecording:
    """One partition of one session: its runs, in run order (what the pipelines read).

    Parameters
    ----------
    runs : tuple of Path
        The recordings (``*_eeg.bdf`` ...), each with its ``*_events.tsv``.
    """

    runs: tuple

    def __str__(self):
        first = str(self.runs[0])
        return first if len(self.runs) == 1 else f"{first} (+{len(self.runs) - 1} runs)"


def is_bids_root(root):
    """True when ``root`` is a BIDS dataset (``dataset_description.json`` at its top)."""
    return (Path(root) / "dataset_description.json").is_file()


def events_path(recording):
    """``sub-01_..._events.tsv`` beside ``sub-01_..._eeg.bdf``."""
    recording = Path(recording)
    stem = re.sub(r"_eeg$", "", recording.name[:-len("".join(recording.suffixes))])
    return recording.with_name(f"{stem}_events.tsv")


def _recordings(eeg_dir, task):
    """``{run: path}`` of one task in one ``eeg/`` folder (preferred format per run)."""
    out = {}
    for path in sorted(eeg_dir.glob(f"*_task-{task}_*eeg.*")):
        m = re.search(r"_task-([^_]+)(?:_acq-[^_]+)?(?:_run-(\d+))?_eeg(\.\w+)$", path.name)
        if not m or m.group(1) != task or m.group(3).lower() not in EXTENSIONS:
            continue
        run = int(m.group(2) or 0)
        best = out.get(run)
        if best is None or (EXTENSIONS.index(m.group(3).lower())
                            < EXTENSIONS.index(best.suffix.lower())):
            out[run] = path
    return [out[r] for r in sorted(out)]


@fill_doc
def find_bids_sessions(root, subject):
    """One subject's recordings: ``[(session, {'training': rec, 'test': rec}), ...]``.

    Parameters
    ----------
    root : str | Path
        The BIDS root.
    %(subject)s

    Returns
    -------
    list of (int, dict of str -> BIDSRecording)
        Sessions ascending; every one must hold both tasks (one
        :class:`~eegvision._utils.DataError` lists what is missing).
    """
    root = Path(root)
    sub_dir = root / f"sub-{int(subject):02d}"
    if not sub_dir.is_dir():
        found = sorted(p.name for p in root.glob("sub-*") if p.is_dir())
        raise data_error(sub_dir, f"subject {subject} is not in this BIDS root (found: "
                         f"{', '.join(found[:10]) or 'no sub-* folders'}).", _BIDS_FIX)
    ses_dirs = sorted((int(m.group(1)), p) for p in sub_dir.glob("ses-*")
                      if p.is_dir() and (m := re.fullmatch(r"ses-(\d+)", p.name)))
    if not ses_dirs:  # a dataset without sessions: one session
        ses_dirs = [(1, sub_dir)]
    sessions, missing = [], []
    for ses, folder in ses_dirs:
        recs = {}
        for split, task in TASKS.items():
            runs = _recordings(folder / "eeg", task)
            lacking = [str(events_path(r)) for r in runs if not events_path(r).is_file()]
            if not runs:
                missing.append(f"{folder / 'eeg'}/*_task-{task}_*eeg.bdf")
            missing.extend(lacking)
            recs[split] = BIDSRecording(tuple(runs))
        sessions.append((ses, recs))
    if missing:
        raise data_error(sub_dir, "missing BIDS recordings:\n    " + "\n    ".join(missing),
                         _BIDS_FIX)
    return sessions


# ------------------------------------------------------------------ events
def read_events_tsv(path, sfreq, n_times=None):
    """Image-onset events of one run from its ``events.tsv``.

    Parameters
    ----------
    path : str | Path
        The ``*_events.tsv``.
    sfreq : float
        The recording's sampling rate (for onsets without a ``sample`` column).
    n_times : int | None
        The recording's length in samples (onsets past it are an error).

    Returns
    -------
    events : array of int, shape (n_events, 3)
        MNE events ``(sample, 0, code)``: the 1-based image condition, or
        99999 (:data:`TARGET_CODE`) for catch trials.
    names : dict of int -> str
        ``category_name`` of each condition code (empty without the column).
    """
    import pandas as pd

    path = Path(path)
    df = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    if "tot_img_number" not in df:
        raise data_error(path, f"no tot_img_number column (found {list(df.columns)}).",
                         "THINGS-EEG2 events name each image condition in tot_img_number "
                         "(as NEMAR's nm000232).")
    kind = (df["trial_type"].astype(str) if "trial_type" in df
            else pd.Series(np.where(df["tot_img_number"].isna(), "target", "image")))
    is_target = kind.str.lower().isin(["target", "catch"])
    images = kind.str.lower().eq("image")
    cond = pd.to_numeric(df["tot_img_number"], errors="coerce")
    bad = images & ~(cond.notna() & (cond >= 1) & (cond == cond.round()))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise data_error(path, f"row {row + 2}: an image event without a valid tot_img_number "
                         f"({df['tot_img_number'].iloc[row]!r}).",
                         "tot_img_number must be the 1-based image condition.")
    sample = _onset_samples(path, df, sfreq)
    keep = (images | is_target).to_numpy()
    codes = np.where(is_target, TARGET_CODE, cond.fillna(0)).astype(np.int64)[keep]
    events = np.column_stack([sample[keep], np.zeros(keep.sum(), np.int64), codes])
    if n_times is not None and len(events) and (events[:, 0].max() >= n_times
                                                 or events[:, 0].min() < 0):
        raise data_error(path, f"event samples run from {events[:, 0].min()} to "
                         f"{events[:, 0].max()}, outside the recording's {n_times} samples.",
                         "check that the events.tsv belongs to this recording.")
    names = {}
    if "category_name" in df:
        sub = df.loc[images, ["tot_img_number", "category_name"]].dropna()
        names = dict(zip(sub["tot_img_number"].astype(int), sub["category_name"].astype(str),
                         strict=True))
    return events[np.argsort(events[:, 0], kind="stable")], names


def _onset_samples(path, df, sfreq):
    if "sample" in df and df["sample"].notna().all():
        return df["sample"].to_numpy().astype(np.int64)
    if "onset" not in df:
        raise data_error(path, "neither a sample nor an onset column.",
                         "BIDS events.tsv need an onset column (seconds).")
    return np.round(_numeric(df["onset"]) * sfreq).astype(np.int64)


def _numeric(series):
    """Numbers of a column; ``n/a`` becomes NaN."""
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


# ------------------------------------------------------------------ recordings
def read_bids_run(path):
    """One BIDS recording (mne-bids), EEG channels only, loaded.

    Channel types, bad channels and the acquisition filter come from the BIDS
    sidecars where present; a trigger channel of the file (BDF ``Status``) is
    left out: the events come from ``events.tsv``.
    """
    import warnings

    from mne_bids import get_bids_path_from_fname, read_raw_bids

    try:
        bids_path = get_bids_path_from_fname(path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = read_raw_bids(bids_path, verbose="error")
        for w in caught:  # missing optional sidecars, as in nm000232: a note, not a failure
            logger.debug("%s: %s", path, w.message)
    except (OSError, ValueError, RuntimeError) as err:
        raise data_error(path, f"mne-bids could not read it ({err}).",
                         "check the file and its sidecars (bids-validator).") from None
    raw.pick("eeg", exclude=[])
    raw.load_data(verbose="error")
    return raw


def read_bids_session(recording, window=WINDOW):
    """One session's partition as the raw ``.npy`` route reads it: EEG + a stim channel.

    Parameters
    ----------
    recording : BIDSRecording
        The partition's runs (:func:`find_bids_sessions`).
    window : tuple of float
        Epoch window (s); events whose window leaves their run are dropped
        with a warning (the runs are joined end to end, and an epoch must not
        span two of them).

    Returns
    -------
    raw : mne.io.RawArray
        The EEG (volts) of every run in run order, then a channel ``STI``
        of type ``stim`` with the condition code (99999: catch trial) at each
        onset; ``info['bads']`` from ``channels.tsv``, the electrode positions
        of ``electrodes.tsv`` when it comes with its ``coordsystem.json``.
    """
    import mne

    parts, stims, first = [], [], None
    for path in recording.runs:
        raw = read_bids_run(path)
        if first is None:
            first = raw
        elif raw.ch_names != first.ch_names or raw.info["sfreq"] != first.info["sfreq"]:
            raise data_error(path, "channels or sampling rate differ from the session's first "
                             f"run ({recording.runs[0]}).", "use runs recorded alike.")
        events, _ = read_events_tsv(events_path(path), raw.info["sfreq"], raw.n_times)
        events = _inside(events, raw, window, path)
        stim = np.zeros(raw.n_times)
        stim[events[:, 0]] = events[:, 2]
        parts.append(raw.get_data())
        stims.append(stim)
        del raw
    data = np.concatenate([np.concatenate(parts, axis=1), np.concatenate(stims)[None]])
    del parts
    info = mne.create_info(first.ch_names + ["STI"], first.info["sfreq"],
                           ["eeg"] * len(first.ch_names) + ["stim"])
    out = mne.io.RawArray(data, info, verbose="error")
    with out.info._unlock():  # the acquisition filter and bads, as the file says
        out.info["highpass"], out.info["lowpass"] = first.info["highpass"], first.info["lowpass"]
    out.info["bads"] = list(first.info["bads"])
    if first.get_montage() is not None:  # electrodes.tsv + coordsystem.json, when given
        out.set_montage(first.get_montage(), on_missing="ignore", verbose="error")
    return out


def _inside(events, raw, window, path):
    sf = raw.info["sfreq"]
    lo, hi = int(round(window[0] * sf)), int(round(window[1] * sf))
    ok = (events[:, 0] + lo >= 0) & (events[:, 0] + hi < raw.n_times)
    if not ok.all():
        logger.warning("%s: %d events too close to the run's edges for %g to %g s; skipped.",
                       path, int((~ok).sum()), *window)
    return events[ok]


# ------------------------------------------------------------------ names
def concept_names(root, subject):
    """Concept folder of every condition, from the events: ``{'train': array, 'test': array}``.

    Only the subject's first session is read (every session shows the same
    image set). None for a partition whose events lack ``category_name``.
    """
    out = {}
    _, recs = find_bids_sessions(root, subject)[0]
    for split, key in (("training", "train"), ("test", "test")):
        names = {}
        for run in recs[split].runs:
            names.update(read_events_tsv(events_path(run), 1.0)[1])
        if names:
            n = max(names)
            out[key] = np.array([names.get(i + 1, f"{key}_{i + 1:05d}") for i in range(n)])
        else:
            out[key] = None
    return out


# ------------------------------------------------------------------ writing
def write_bids_run(raw_dict, root, subject, session, split, run=None, *, concepts=None,
                   overwrite=False):
    """Write one raw-layout recording as a BIDS run (BDF + ``events.tsv``, like nm000232).

    The EEG rows of ``raw_dict`` go to a BDF through mne-bids (which needs
    the ``edfio`` package to write BDF); the stim row becomes the run's
    ``events.tsv`` with NEMAR's columns (``onset``, ``duration``, ``sample``,
    ``value``, ``trial_type`` ``image`` / ``target``, ``tot_img_number``,
    ``category_name``). BDF stores 24-bit integers scaled to the data's range,
    so the EEG read back differs from ``raw_dict`` by at most half a step
    (range / 2**24).

    Parameters
    ----------
    raw_dict : dict
        A raw THINGS-EEG2 recording as the public code saves it (see
        :func:`eegvision.data.raw.read_raw_session`): ``raw_eeg_data`` with
        the stim row last, ``ch_names``, ``ch_types``, ``sfreq``.
    root : str | Path
        The BIDS root (made if absent).
    subject, session : int
    split : 'training' | 'test'
        The task written: ``train`` or ``test``.
    run : int | None
        Run number (``run-01``); None writes no run entity (nm000232's test task).
    concepts : sequence of str | None
        Concept folder of each condition (``category_name``), condition 1 first.
    overwrite : bool
        Replace an existing run.

    Returns
    -------
    Path
        The recording written.
    """
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    data = np.asarray(raw_dict["raw_eeg_data"], dtype=np.float64)
    types = [str(t).lower() for t in raw_dict["ch_types"]]
    names = [str(c) for c in raw_dict["ch_names"]]
    sfreq = float(raw_dict["sfreq"])
    eeg = [i for i, t in enumerate(types) if t == "eeg"]
    info = mne.create_info([names[i] for i in eeg], sfreq, "eeg")
    info["line_freq"] = 50.0
    raw = mne.io.RawArray(data[eeg], info, verbose="error")
    bids_path = BIDSPath(subject=f"{int(subject):02d}", session=f"{int(session):02d}",
                         task=TASKS[split], run=None if run is None else f"{int(run):02d}",
                         datatype="eeg", root=Path(root))
    write_raw_bids(raw, bids_path, format="BDF", allow_preload=True, overwrite=overwrite,
                   verbose="error")
    stim = data[types.index("stim")]
    _write_events(bids_path.fpath, stim, sfreq, concepts, TARGET_CODE)
    return Path(bids_path.fpath)


def _write_events(recording, stim, sfreq, concepts, target_code):
    import pandas as pd

    sample = np.flatnonzero(stim)
    codes = stim[sample].astype(np.int64)
    target = codes == target_code
    name = (np.array(["n/a"] * len(codes), dtype=object) if concepts is None else
            np.array([("n/a" if t else str(concepts[c - 1])) for c, t in zip(codes, target,
                                                                          strict=True)],
                     dtype=object))
    df = pd.DataFrame({"onset": sample / sfreq, "duration": 0.1, "sample": sample,
                       "value": np.where(target, 255, codes),
                       "trial_type": np.where(target, "target", "image"),
                       "tot_img_number": np.where(target, "n/a", codes.astype(str)),
                       "category_name": name})
    df.to_csv(events_path(recording), sep="\t", index=False, na_rep="n/a")
