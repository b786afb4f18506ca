"""Where data live: the environment variables, the shared real-feature folder, the built-in root's folder.

A leaf of the data layer (it imports nothing else of eegvision.data), so any
reader or the simulator can ask for these paths without importing what makes
the built-in root (:mod:`eegvision.data.builtin`).
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming a THINGS-EEG2 data root.
DATA_ENV = "EEGVISION_DATA"
#: Environment variable naming a folder with ``clip_feature_maps_test.npy``,
#: ``center_clip.npy`` and ``things_eeg2_concepts.tsv`` that the simulator uses
#: for real CLIP structure and concept names.
SHARED_ENV = "EEGVISION_SHARED_DATA"


def shared_data_dir():
    """Folder of real CLIP features / concept names, or None when not available."""
    path = os.environ.get(SHARED_ENV)
    if path and Path(path).is_dir():
        return Path(path)
    return None


#: Environment variable naming eegvision's cache folder (reading cache, built-in root).
CACHE_ENV = "EEGVISION_CACHE"


def cache_base():
    """eegvision's cache folder: ``$EEGVISION_CACHE``, else the user cache directory."""
    import platformdirs

    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("eegvision"))


def builtin_dir(simulator_version):
    """Folder of the built-in simulated root for ``simulator_version`` (it may not exist yet).

    In the user cache directory (``platformdirs``, or ``$EEGVISION_CACHE``),
    keyed by the simulator version and by whether real CLIP features were
    available (``$EEGVISION_SHARED_DATA``).
    """
    flavour = "real" if shared_data_dir() else "synthetic"
    return cache_base() / f"builtin-v{simulator_version}-{flavour}"


def dataset_base(root):
    """The folder holding ``image_set/`` and the feature folders.

    That is ``root`` itself, or its parent when ``root`` is the official
    release's ``eeg_dataset/`` folder.
    """
    root = Path(root)
    if root.name.lower() == "eeg_dataset" and not (root / "eeg_dataset").is_dir():
        return root.parent
    return root


def refuse_existing(paths, fix):
    """Refuse, in one line, to replace files that exist (``overwrite`` was not asked for).

    Called before any work starts, so nothing is computed only to be thrown
    away and nothing is half-written.

    Parameters
    ----------
    paths : iterable of Path
        Every data file the command is about to write.
    fix : str
        How to go on (e.g. "pass --overwrite to replace them, or choose another --out").

    Raises
    ------
    eegvision._utils.DataError
        Naming the first existing file and how many more there are.
    """
    from .._utils import data_error

    existing = [Path(p) for p in paths if os.path.lexists(p)]
    if existing:
        more = f" (and {len(existing) - 1} more of the files it would write)" \
            if len(existing) > 1 else ""
        raise data_error(existing[0], f"already exists{more}; eegvision replaces no data file "
                                      "unless asked.", fix)


#: What ``eegvision preprocess`` writes without ``--preset``: eegvision's own
#: layout ``eegvision_<rate>hz``, in a folder no published layout uses.
EEGVISION_DIR = "eegvision_preprocessed_{rate}Hz"


def eegvision_dir_name(sfreq):
    """The folder ``eegvision preprocess`` writes (layout ``eegvision_<rate>hz``).

    Parameters
    ----------
    sfreq : float
        Output sampling rate in Hz.

    Returns
    -------
    str
        ``eegvision_preprocessed_250Hz`` for 250 Hz.
    """
    return EEGVISION_DIR.format(rate=f"{float(sfreq):g}")
