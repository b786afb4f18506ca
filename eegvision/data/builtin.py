"""Where data come from: an explicit root, $EEGVISION_DATA, or the built-in simulation.

The paths themselves are in the leaf :mod:`eegvision.data.paths`; this module
makes the built-in root (with :mod:`eegvision.data.simulate`) when it is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .._docs import fill_doc
from .._utils import logger, write_json
from .paths import DATA_ENV, SHARED_ENV, builtin_dir, shared_data_dir  # noqa: F401  (re-exported)

#: The built-in dataset has this many subjects, each simulated on first use.
BUILTIN_MAX_SUBJECTS = 10


def builtin_root(subjects=(1,)):
    """Path of the built-in simulated data root, with ``subjects`` generated.

    It lives in the user cache directory (``platformdirs``, or
    ``$EEGVISION_CACHE``), keyed by the simulator version and by whether real
    CLIP features were available. The shared files and the first subject asked
    for are made on first use; every other subject (up to 10) the first time
    it is asked for. Each subject's data depend on its number only, not on
    which subjects were simulated before it.

    Parameters
    ----------
    subjects : sequence of int
        The subjects to make sure of (1 to 10; an empty sequence means subject 1).

    Returns
    -------
    Path
        The built-in data root.
    """
    from .simulate import SIMULATOR_VERSION, ensure_builtin_root

    subjects = [int(s) for s in subjects] or [1]
    for subject in subjects:
        _check_builtin_subject(subject)
    path = builtin_dir(SIMULATOR_VERSION)
    if not (path / "simulation_truth.json").is_file():
        logger.info("eegvision: simulating built-in subject %d (once)...", subjects[0])
    root = ensure_builtin_root(path, subjects=[subjects[0]])
    for subject in subjects:
        _ensure_builtin_subject(root, subject)
    if not (root / "dnn_feature" / "blur" / "manifest.json").is_file():
        from .simulate import write_blur_bank

        write_blur_bank(root, n_levels=6)  # the feature set the blur recipes read by default
    return root


def _check_builtin_subject(subject):
    if not 1 <= subject <= BUILTIN_MAX_SUBJECTS:
        raise ValueError(f"--subject {subject}: the built-in dataset has subjects 1-"
                         f"{BUILTIN_MAX_SUBJECTS}. Use --data-dir for your own data.")


def _ensure_builtin_subject(root, subject):
    """Simulate one more subject into the built-in root (atomic rename into place)."""
    from .simulate import simulate_root

    _check_builtin_subject(subject)
    target = root / "Preprocessed_data_250Hz" / f"sub-{subject:02d}"
    if target.is_dir():
        return
    logger.info("eegvision: simulating built-in subject %d (once)...", subject)
    tmp = Path(tempfile.mkdtemp(prefix=".sub.", suffix=".tmp", dir=root))
    try:
        truth = json.loads((root / "simulation_truth.json").read_text())
        simulate_root(tmp, [subject], seed=truth["seed"])
        try:
            os.rename(tmp / "Preprocessed_data_250Hz" / f"sub-{subject:02d}", target)
        except OSError:
            if not target.is_dir():
                raise
        new = json.loads((tmp / "simulation_truth.json").read_text())
        truth = json.loads((root / "simulation_truth.json").read_text())
        truth.setdefault("latency_jitter_ms", {}).update(new.get("latency_jitter_ms", {}))
        truth["dims"]["n_subjects"] = len(truth["latency_jitter_ms"])
        write_json(root / "simulation_truth.json", truth)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@fill_doc
def resolve_root(data_dir=None, *, subjects=(1,), announce=True):
    """Return ``(root, is_builtin)`` for ``--data-dir``, ``$EEGVISION_DATA`` or built-in data.

    When falling back to the simulated dataset, makes sure ``subjects`` exist
    there and says so in one line on stderr.

    Parameters
    ----------
    %(data_dir)s
    subjects : sequence of int
        The subjects the built-in dataset must hold (each simulated on first use).
    announce : bool
        Say in one line on stderr that the built-in dataset is used.

    Returns
    -------
    root : Path
        The data root.
    is_builtin : bool
        Whether it is the built-in simulated dataset.
    """
    if data_dir is None:
        data_dir = os.environ.get(DATA_ENV) or None
    if data_dir is not None:
        return Path(data_dir).expanduser(), False
    root = builtin_root(subjects)
    if announce:  # on stderr at level INFO: a quiet run prints its results only
        logger.info("eegvision: no --data-dir or $%s; using the built-in simulated dataset at %s",
                    DATA_ENV, root)
    return root, True
