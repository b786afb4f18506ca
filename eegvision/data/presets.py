"""The two published THINGS-EEG2 preprocessings, reproduced step by step (``--preset``).

``official``: the THINGS-EEG2 code (gifale95/eeg_encoding,
02_eeg_preprocessing/preprocessing_utils.py). ``nice``: NICE's copy of it
(eeyhsong/NICE-EEG, preprocessing/preprocessing_utils.py). Both run, per raw
session and partition, in this order:

1. the raw dict as an ``mne.io.RawArray``; events from the stim channel
   (``mne.find_events`` with its defaults);
2. channels: ``official`` keeps those matching ``'^O *|^P *'`` (the 17
   occipital and parietal channels, in recording order); ``nice`` keeps the
   63 EEG channels in NICE's order (:data:`eegvision.data.montage.THINGS_EEG2_CHANNELS`);
3. target trials (99999) dropped; ``mne.Epochs`` from -0.2 to 0.8 s
   (``official``) or 1.0 s (``nice``), baseline ``(None, 0)``;
   ``Epochs.resample`` to 100 Hz (``official``) or 250 Hz (``nice``);
4. per image condition, ``max_rep`` repetitions (test 20, training 2) picked
   as ``sklearn.utils.shuffle(idx, random_state=seed, n_samples=max_rep)``
   does: a fresh ``RandomState(seed)`` permutation of the condition's epochs,
   its first ``max_rep``; ``nice`` then drops the first 50 samples (-0.2 to
   0 s);
5. MVNN per session: for every condition, scikit-learn's Ledoit-Wolf
   covariance (``_cov(X, shrinkage='auto')``: features standardised, shrunk,
   rescaled) of each time point over repetitions, averaged over time
   (``official``, ``mvnn_dim='time'``) or of each epoch over time, averaged
   over repetitions (``nice``, ``'epochs'``); averaged over conditions, then
   over the test and training partitions (``official``) or the training
   partition alone (``nice``); every epoch multiplied by its inverse square
   root;
6. sessions merged: test repetitions concatenated in session order,
   training ones per condition in session order; the repetitions of both
   then permuted with ``RandomState(seed)``;
7. saved as float64 dicts ``preprocessed_eeg_data``, ``ch_names``, ``times``:
   ``official`` with ``np.save`` to ``eeg_dataset/preprocessed_data/sub-XX/``
   (times -0.2 to 0.79 s), ``nice`` with ``pickle.dump`` (protocol 4) to
   ``Preprocessed_data_250Hz/sub-XX/`` (times uncropped, 300 values, as NICE
   stores them; the readers align them to the data): the folders the public
   codes write (reader layouts ``official`` and ``nice``), under ``--out``.
   An existing file there is replaced only with ``overwrite=True``.

The legacy ``numpy.random.RandomState(seed)`` is used (explicitly seeded)
because it is what ``sklearn.utils.shuffle`` draws from: a different generator
would select other repetitions than the published files hold.
"""

from __future__ import annotations

import pickle

import numpy as np

from .._docs import fill_doc
from .._utils import _check_option, atomic_path, data_error, logger, verbose

#: The seed both public codes use.
OFFICIAL_SEED = 20200220
#: Channel rule of the official code: occipital (O*) and parietal (P*) channels.
OFFICIAL_CHANNEL_REGEX = "^O *|^P *"
#: Settings of each preset.
PRESETS = {
    "official": dict(tmax=0.8, sfreq=100.0, mvnn_dim="time", partitions="both",
                     drop_baseline=0, channels="regex", writer="npy",
                     folder="eeg_dataset/preprocessed_data"),
    "nice": dict(tmax=1.0, sfreq=250.0, mvnn_dim="epochs", partitions="training",
                 drop_baseline=50, channels="nice", writer="pickle",
                 folder="Preprocessed_data_250Hz"),
}
#: Repetitions kept per condition and session.
MAX_REPS = {"test": 20, "training": 2}


def _shuffle_take(idx, seed, n):
    """``sklearn.utils.shuffle(idx, random_state=seed, n_samples=n)``."""
    if n > len(idx):
        raise ValueError(f"cannot take {n} repetitions out of {len(idx)}")
    order = np.arange(len(idx))
    np.random.RandomState(seed).shuffle(order)  # noqa: NPY002 - what sklearn draws from
    return np.asarray(idx)[order[:n]]


def _channels(raw, rule, src):
    import mne

    from .montage import THINGS_EEG2_CHANNELS as NICE_CHANNELS

    if rule == "regex":
        picks = mne.pick_channels_regexp(raw.info["ch_names"], OFFICIAL_CHANNEL_REGEX)
        return [raw.info["ch_names"][i] for i in picks]
    missing = [c for c in NICE_CHANNELS if c not in raw.ch_names]
    if missing:
        raise data_error(src, f"channels {missing} of NICE's 63 are not in the recording.",
                         "the nice preset needs THINGS-EEG2's 63-channel recordings.")
    return list(NICE_CHANNELS)


def epoch_preset(path, split, preset, seed=OFFICIAL_SEED):
    """Steps 1-4 for one raw file: ``(data, conditions, ch_names, times)``.

    ``data`` is float64 (conditions, max_rep, channels, times) with conditions
    the sorted 1-based codes; ``times`` is what the preset saves (uncropped
    for ``nice``).
    """
    import mne

    from .raw import TARGET_CODE, read_raw_session

    cfg = PRESETS[preset]
    raw = read_raw_session(path)
    stim = [raw.ch_names[i] for i in mne.pick_types(raw.info, meg=False, stim=True)]
    events = mne.find_events(raw, stim_channel=stim, verbose="error")
    keep = _channels(raw, cfg["channels"], path)
    raw.pick(keep)
    raw.reorder_channels(keep)
    events = events[events[:, 2] != TARGET_CODE]
    if not len(events):
        raise data_error(path, "no image-onset events in the stim channel.",
                         "check that the last row of raw_eeg_data holds the condition codes.")
    data, codes, ch_names, times = _epochs_in_chunks(raw, events, cfg)
    del raw
    conditions = np.unique(codes)
    n_rep = MAX_REPS[split]
    out = np.zeros((len(conditions), n_rep) + data.shape[1:])
    for i, c in enumerate(conditions):
        idx = np.flatnonzero(codes == c)
        try:
            out[i] = data[_shuffle_take(idx, seed, n_rep)]
        except ValueError as err:
            raise data_error(path, f"condition {c}: {err} (the {split} partition keeps "
                                   f"{n_rep} per session).", "check the recording is complete.") from None
    return out[..., cfg["drop_baseline"]:], conditions, ch_names, times


#: Epochs made at a time (bounds memory; the result does not depend on it).
EPOCH_CHUNK = 2000


def _epochs_in_chunks(raw, events, cfg):
    """``mne.Epochs`` + ``Epochs.resample`` as the public codes call them, in chunks of epochs.

    Baseline correction and FFT resampling act on each epoch alone, so the
    result equals one call on every event; memory holds the recording, one
    chunk at its rate and the resampled epochs, not every epoch at 1000 Hz
    (a real training session: 10 GB).

    Returns
    -------
    data : array, shape (n_epochs, n_channels, n_times)
    codes : array of int, shape (n_epochs,)
    ch_names : list of str
    times : array of float64
    """
    import mne

    parts, codes = [], []
    for start in range(0, len(events), EPOCH_CHUNK):
        epochs = mne.Epochs(raw, events[start:start + EPOCH_CHUNK], tmin=-0.2, tmax=cfg["tmax"],
                            baseline=(None, 0), preload=True, verbose="error")
        if cfg["sfreq"] < epochs.info["sfreq"]:
            epochs.resample(cfg["sfreq"], verbose="error")
        parts.append(epochs.get_data(copy=False))
        codes.append(epochs.events[:, 2])
    data = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return (data, np.concatenate(codes), list(epochs.ch_names),
            np.asarray(epochs.times, dtype=np.float64))


def sklearn_auto_cov(x):
    """``sklearn.discriminant_analysis._cov(X, shrinkage='auto')`` for a batch.

    Parameters
    ----------
    x : array, shape (..., n_samples, n_features)

    Returns
    -------
    cov : array, shape (..., n_features, n_features)
        Ledoit-Wolf covariance of the standardised features, rescaled by
        their standard deviations (a constant feature keeps scale 1).
    """
    from .raw import _shrunk_cov_from_stats

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-2]
    r = x - x.mean(axis=-2, keepdims=True)
    scale = r.std(axis=-2)
    scale = np.where(scale < 10 * np.finfo(np.float64).eps, 1.0, scale)  # StandardScaler
    z = r / scale[..., None, :]
    zt = np.swapaxes(z, -1, -2)
    s1 = zt @ z
    s2 = (zt ** 2) @ (z ** 2)
    cov = _shrunk_cov_from_stats(s1, s2, n, "ledoit_wolf")
    return scale[..., :, None] * cov * scale[..., None, :]


def partition_covariance(data, mvnn_dim, chunk=64):
    """Step 5 for one partition: the covariance averaged over conditions (and time or epochs)."""
    _check_option("mvnn_dim", mvnn_dim, ("time", "epochs"))
    n_ch = data.shape[2]
    total = np.zeros((n_ch, n_ch))
    for start in range(0, len(data), chunk):
        block = data[start:start + chunk]  # (cond, rep, ch, time)
        if mvnn_dim == "time":  # samples = repetitions, one covariance per time point
            samples = block.transpose(0, 3, 1, 2)
        else:  # samples = time points, one covariance per epoch
            samples = block.transpose(0, 1, 3, 2)
        total += sklearn_auto_cov(samples).mean(axis=1).sum(axis=0)
    return total / len(data)


def _whiten(data, sigma):
    from .raw import whitening_matrix

    w = whitening_matrix(sigma)
    # (epoch^T @ sigma^-1/2)^T as the public code writes it = w.T @ epoch
    return np.matmul(w.T, data)


def mvnn_preset(test, train, preset):
    """Step 5 for one session: ``(test, train)`` whitened as the preset does."""
    cfg = PRESETS[preset]
    sigma = partition_covariance(train, cfg["mvnn_dim"])
    if cfg["partitions"] == "both":
        sigma = (partition_covariance(test, cfg["mvnn_dim"]) + sigma) / 2
    return _whiten(test, sigma), _whiten(train, sigma)


def merge_sessions_preset(test_parts, train_parts, seed=OFFICIAL_SEED):
    """Step 6: ``(test, train)`` float64 from per-session ``(data, conditions)`` lists.

    The lists are emptied once merged and the repetitions permuted a block of
    conditions at a time, so memory holds about one copy of the merged data
    (a real subject's float64 arrays are 10 GB).
    """
    test = np.concatenate([d for d, _ in test_parts], axis=1)
    test_parts.clear()
    data = np.concatenate([d for d, _ in train_parts], axis=0)
    codes = np.concatenate([c for _, c in train_parts])
    train_parts.clear()
    conditions = np.unique(codes)
    if not np.array_equal(conditions, np.arange(1, len(conditions) + 1)):
        raise data_error("training partition", "image conditions are not 1..N over the sessions.",
                         "process all sessions of the subject.")
    counts = np.bincount(codes)[1:]
    if (counts != counts[0]).any():
        raise data_error("training partition", f"conditions appear in unequal numbers of sessions "
                         f"({sorted(set(counts.tolist()))}).", "process all sessions of the subject.")
    # by condition, each condition's sessions in session order (a stable sort)
    train = data[np.argsort(codes, kind="stable")]
    del data
    train = train.reshape((len(conditions), -1) + train.shape[2:])
    for arr in (test, train):
        order = np.arange(arr.shape[1])
        np.random.RandomState(seed).shuffle(order)  # noqa: NPY002 - sklearn.utils.shuffle
        for start in range(0, len(arr), 256):
            arr[start:start + 256] = arr[start:start + 256, order]
    return test, train


def _save(path, obj, writer):
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        if writer == "npy":
            np.save(fh, obj, allow_pickle=True)
        else:
            pickle.dump(obj, fh, protocol=4)
    return path


@verbose
@fill_doc
def preprocess_preset(root, subject, preset, out_root=None, seed=OFFICIAL_SEED, overwrite=False,
                      *, verbose=None):
    """Preprocess one subject's raw recordings exactly as a published code did.

    Parameters
    ----------
    root : str | Path
        Data root with ``Raw_data/`` or ``eeg_dataset/raw_data/``, or a BIDS
        root (:mod:`eegvision.data.bids`).
    %(subject)s
    preset : 'official' | 'nice'
        Which published preprocessing (see the module docstring).
    out_root : str | Path | None
        Where to write (default ``root``; for a BIDS root its
        ``derivatives/eegvision/``).
    seed : int
        Repetition selection and shuffling (both codes: 20200220).
    overwrite : bool
        Replace output files that exist. Otherwise they are refused before
        any work starts: the preset writes the published layout's folder
        (layout ``official`` or ``nice``), where a user's download may lie.
    %(verbose)s

    Returns
    -------
    list of Path
        The training and test files written. Memory: the merged float64
        arrays (a real NICE subject: 8.3 GB of training data) plus a session
        (its recording and its epochs at the output rate, made
        :data:`EPOCH_CHUNK` at a time), and a copy of the array being saved.
    """
    from .paths import dataset_base, refuse_existing
    from .raw import default_out_root, find_raw_sessions

    _check_option("preset", preset, tuple(PRESETS))
    cfg = PRESETS[preset]
    out = dataset_base(default_out_root(root, out_root)) / cfg["folder"] / f"sub-{int(subject):02d}"
    targets = {split: out / f"preprocessed_eeg_{split}.npy" for split in ("training", "test")}
    if not overwrite:
        refuse_existing(targets.values(), "pass --overwrite (Python: overwrite=True) to replace "
                                          "them, or choose another --out.")
    parts = {"test": [], "training": []}
    names = times = None
    for ses, files in find_raw_sessions(root, subject):
        ep = {split: epoch_preset(files[split], split, preset, seed) for split in MAX_REPS}
        names, times = ep["test"][2], ep["test"][3]
        if ep["training"][2] != names:
            raise data_error(files["training"], "channels differ from the test partition.")
        test, train = mvnn_preset(ep["test"][0], ep["training"][0], preset)
        parts["test"].append((test, ep["test"][1]))
        parts["training"].append((train, ep["training"][1]))
        logger.info("sub-%02d ses-%02d: %s preset epoched and whitened", subject, ses, preset)
    test, train = merge_sessions_preset(parts["test"], parts["training"], seed)
    paths = []
    for split, data in (("training", train), ("test", test)):
        obj = {"preprocessed_eeg_data": data, "ch_names": names, "times": times}
        paths.append(_save(targets[split], obj, cfg["writer"]))
    return paths
