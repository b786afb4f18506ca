"""Where a named feature set lives and what its files are called.

``eegvision features`` (:mod:`eegvision.images.features`) writes a feature set
under ``<root>/dnn_feature/<name>/``; the readers of :mod:`eegvision.data.things`
and the simulator find it here, so the data layer needs nothing of the image
models.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .._utils import data_error

FEATURE_FILES = {"training": "clip_feature_maps_training.npy",
                 "test": "clip_feature_maps_test.npy"}
BANK_FILES = {"training": "blur_bank_training.npy", "test": "blur_bank_test.npy"}
CENTER_FILE = "center_clip.npy"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_name(name, option="--features"):
    """A feature-set name is one plain folder name (letters, digits, ``.``, ``_``, ``-``)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise data_error(f"{option} {name!r}", "not a valid feature-set name.",
                         "use letters, digits, '.', '_' and '-' (e.g. clip-vit-l14).")
    return name


def feature_set_dir(root, name):
    """``root/dnn_feature/<name>``."""
    return Path(root) / "dnn_feature" / check_name(name)


def read_manifest(root, name):
    """The ``manifest.json`` of a feature set, or None when it has none.

    A file that is not a JSON object holding ``settings`` and ``files``
    objects (truncated, edited, a list) is refused in one line naming it.
    """
    path = feature_set_dir(root, name) / MANIFEST
    if not path.is_file():
        return None
    fix = (f"recompute the set with `eegvision features --name {name} ... --overwrite` "
           f"(or delete the folder {path.parent}).")
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise data_error(path, f"not valid JSON ({err}): truncated or edited?", fix) from None
    if not isinstance(man, dict) or not all(isinstance(man.get(k), dict)
                                            for k in ("settings", "files")):
        found = type(man).__name__ if not isinstance(man, dict) else f"keys {sorted(man)}"
        raise data_error(path, f"expected a JSON object with 'settings' and 'files' objects, "
                         f"found {found}.", fix)
    return man
