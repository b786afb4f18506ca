"""Epochs already made: an ``-epo.fif`` file and its image features -> :class:`EEGImageData`.

For users whose preprocessing is done (MNE, mne-bids-pipeline, EEGLAB
exported to FIF): ``eegvision analyze temporal --epochs-file X-epo.fif
--features F.npy``, or in Python ``analyze('temporal', data='X-epo.fif',
features='F.npy')`` / :func:`read_epochs_file`. Concepts come from the
epochs' metadata (``concept``) or their event names, as
:meth:`EEGImageData.from_epochs` reads them; a ``split`` metadata column
(``train`` / ``test``) decides the zero-shot split, else one is drawn with the
seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import data_error, verbose

_FEATURES_FIX = ("save one feature row per epoch, or one per image condition in the order of "
                 "the condition ids (metadata 'condition', else the event codes), with "
                 "np.save(path, array).")


@verbose
@fill_doc
def read_epochs_file(path, features, *, concepts=None, verbose=None):
    """Read an ``-epo.fif`` file and its image features into one container.

    Parameters
    ----------
    path : str | Path
        An MNE epochs file (``*-epo.fif`` / ``*_epo.fif``). It is not
        preloaded: only the good EEG channels are read.
    features : str | Path | array | dict of str -> array
        A ``.npy`` file or an array with one row per epoch, or one row per
        image condition (in the order of the sorted condition ids); or a
        dict concept -> feature vector.
    concepts : array of str | None
        Concept of each epoch (default: metadata or event names).
    %(verbose)s

    Returns
    -------
    EEGImageData
    """
    import mne

    from .container import EEGImageData

    path = Path(path)
    if not path.is_file():
        raise data_error(path, "epochs file not found.",
                         "give the path of an MNE epochs file (epochs.save('X-epo.fif')).")
    try:
        epochs = mne.read_epochs(path, preload=False, verbose="error")
    except (OSError, ValueError, RuntimeError) as err:
        raise data_error(path, f"MNE could not read it as epochs ({err}).",
                         "save the epochs with epochs.save('X-epo.fif').") from None
    feats = features
    if isinstance(features, (str, Path)):
        from .things import read_features

        feats = read_features(features)
    if not isinstance(feats, dict):
        feats = _per_epoch(np.asarray(feats), epochs, features)
    return EEGImageData.from_epochs(epochs, feats, concepts, meta={"source": str(path)})


def _per_epoch(feats, epochs, src):
    """Rows per epoch; rows per condition are spread over the epochs of each condition."""
    n = len(epochs)
    if feats.ndim == 3 and feats.shape[1] == 1:
        feats = feats[:, 0]
    if feats.ndim != 2:
        raise data_error(_name(src), f"features must be (rows, d), found shape {feats.shape}.",
                         _FEATURES_FIX)
    if feats.shape[0] == n:
        return feats
    md = epochs.metadata
    ids = md["condition"].to_numpy() if md is not None and "condition" in md \
        else epochs.events[:, 2]
    uniq, inverse = np.unique(ids, return_inverse=True)
    if feats.shape[0] != len(uniq):
        raise data_error(_name(src), f"{feats.shape[0]} feature rows for {n} epochs of "
                         f"{len(uniq)} image conditions.", _FEATURES_FIX)
    return feats[inverse]


def _name(src):
    return str(src) if isinstance(src, (str, Path)) else "features"


def epochs_input(data, features):
    """``(data, features)`` with an epochs file read and a features file loaded.

    What :func:`eegvision.analyze` accepts besides data in memory:
    ``data`` a path to an ``-epo.fif`` (read by :func:`read_epochs_file`,
    then ``features`` is consumed); ``data`` an ``mne.Epochs`` and
    ``features`` a ``.npy`` path (loaded). Anything else is returned as is.
    """
    if isinstance(data, (str, Path)):
        if features is None:
            raise ValueError(f"data={str(data)!r} is an epochs file: give features= too (a "
                             ".npy path or an array, one row per epoch or per image).")
        return read_epochs_file(data, features), None
    if data is not None and isinstance(features, (str, Path)) and _is_array_file(features):
        from .things import read_features

        return data, read_features(features)
    return data, features


def _is_array_file(value):
    return str(value).endswith(".npy") or Path(value).is_file()
