"""Where data come from: an explicit root, $EEGVISION_DATA, or the built-in simulation."""

from __future__ import annotations

import os
from pathlib import Path

from .._utils import logger

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


def builtin_root():
    """Path of the built-in simulated data root, generated on first use.

    It lives in the user cache directory (``platformdirs``), keyed by the
    simulator's version, so it is made once per machine.
    """
    from .simulate import SIMULATOR_VERSION, ensure_builtin_root

    import platformdirs

    base = Path(os.environ.get("EEGVISION_CACHE") or platformdirs.user_cache_dir("eegvision"))
    return ensure_builtin_root(base / f"builtin-v{SIMULATOR_VERSION}")


def resolve_root(data_dir=None, *, announce=True):
    """Return ``(root, is_builtin)`` for ``--data-dir``, ``$EEGVISION_DATA`` or built-in data.

    When falling back to the simulated dataset, says so in one line on stderr.
    """
    if data_dir is None:
        data_dir = os.environ.get(DATA_ENV) or None
    if data_dir is not None:
        return Path(data_dir).expanduser(), False
    root = builtin_root()
    if announce:
        import sys

        print(f"eegvision: no --data-dir or ${DATA_ENV}; using the built-in simulated dataset "
              f"at {root}", file=sys.stderr)
    logger.info("Using built-in simulated data at %s", root)
    return root, True
