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
    """The ``manifest.json`` of a feature set, or None when it has none."""
    path = feature_set_dir(root, name) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None
