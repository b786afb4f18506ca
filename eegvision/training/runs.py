"""Whole runs: train, evaluate and write every output file; leave-one-subject-out."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import data_error, resolve_device, verbose, write_csv, write_json
from .._version import __version__
from .loop import fit

#: The files ``train`` writes into each of its folders (``results.csv`` into ``--out``).
TRAIN_FILES = ("metrics.json", "history.csv", "config.json", "model.pt", "ranks.csv")


@verbose
@fill_doc
def run_training(data, config, out_dir, *, targets=None, progress=True, overwrite=False,
                 verbose=None):
    """Train on ``data.train``, evaluate on ``data.test``, write every output file.

    Writes ``metrics.json``, ``history.csv``, ``config.json``, ``model.pt`` and
    ``ranks.csv`` under ``out_dir`` and returns the metrics dict. A folder
    holding another command's outputs, or files of those names eegvision did
    not write, is refused before training unless ``overwrite=True``
    (``docs/outputs.md``).

    Parameters
    ----------
    data : SubjectData
        The subject's training and test containers.
    config : TrainConfig
        What to train.
    out_dir : path-like
        The output folder.
    targets : 'centers' | 'images' | None
        Label of the test candidates (None: the data's).
    progress : bool
        A progress bar over the epochs (on a terminal, unless quiet).
    overwrite : bool
        Replace another command's outputs in ``out_dir``.
    %(verbose)s

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    from .._outdir import output_folder, staged_outputs
    from .._provenance import training_provenance

    with output_folder(out_dir, "train", overwrite=overwrite, names=TRAIN_FILES) as out_dir, \
            staged_outputs(out_dir) as stage:  # all files committed together at the end
        return _run_training(data, config, stage, targets, progress, training_provenance)


def _run_training(data, config, out_dir, targets, progress, training_provenance):
    import torch

    from ..evaluate import evaluate, public_metrics, ranks_table

    targets = targets or data.meta.get("targets") or data.test.meta.get("targets", "centers")
    result = fit(data.train, config, out_dir=out_dir, progress=progress)
    config = result.config  # as trained (the blur recipes add the bank's level count)
    scores = evaluate(result.model, data.test, targets=targets, seed=config.seed)
    metrics = dict(public_metrics(scores), epochs=int(len(result.history)),
                   best_epoch=int(result.best_epoch), train_seconds=float(result.train_seconds),
                   model=config.model, recipe=config.recipe, seed=int(config.seed),
                   subject=data.subject, **training_provenance(config, data))
    write_json(out_dir / "metrics.json", metrics)
    write_csv(out_dir / "ranks.csv", ranks_table(scores))
    device = "cpu" if config.model == "ridge" else str(resolve_device(config.device))
    write_json(out_dir / "config.json", dict(
        config.to_dict(), eegvision_version=__version__, torch_version=torch.__version__,
        device_used=device, subject=data.subject, targets=targets,
        precision_used=result.precision,
        train_source=result.data_info["source"], data_meta=_plain(data.meta),
        test_source=str(data.test.meta.get("source", ""))))
    return metrics


def _plain(meta):
    return {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, list, type(None)))}


def concat_train(containers, names=None):
    """One training container from several subjects (averaged per subject).

    All must have the same channels and samples; condition ids are kept, so
    an image's data from every subject falls on the same side of the split.
    """
    from ..data.container import EEGImageData

    names = names or [str(i) for i in range(len(containers))]
    from ..data.align import align_channels

    first = containers[0]
    containers = [align_channels(c, first, reference_name=f"subject {names[0]}",
                                 fix="use one data layout for every subject.")
                  if c.n_times == first.n_times and set(c.ch_names) == set(first.ch_names)
                  else c for c in containers]
    for name, c in zip(names, containers, strict=True):
        if c.ch_names != first.ch_names or c.n_times != first.n_times:
            raise data_error(f"subject {name}", f"has {c.n_channels} channels x {c.n_times} samples"
                             f", subject {names[0]} has {first.n_channels} x {first.n_times} (or the "
                             "channel names differ).", "use one data layout for every subject.")
    parts = [c.average_repetitions() for c in containers]
    return EEGImageData(np.concatenate([p.eeg for p in parts]),
                        np.concatenate([p.features for p in parts]),
                        np.concatenate([p.concepts for p in parts]), first.ch_names, first.times,
                        first.sfreq, conditions=np.concatenate([p.conditions for p in parts]),
                        meta=dict(source=f"subjects {', '.join(names)}", averaged_per_subject=True,
                                  **{k: first.meta[k] for k in ("blur_levels",)
                                     if k in first.meta}),
                        validate=False)


def loso_fold(data, others, *, subject=None, names=None):
    """The leave-one-subject-out fold of one held-out subject (``train --loso``, ``analyze loso``).

    Parameters
    ----------
    data : SubjectData
        The held-out subject: its test set is the fold's.
    others : list of SubjectData
        The training subjects (pool order): their training sets, each averaged
        over repetitions, concatenated (:func:`concat_train`).
    subject : int | None
        The held-out subject's number (None: ``data.subject``).
    names : list of int | None
        The training subjects' numbers (None: each one's ``subject``).

    Returns
    -------
    SubjectData
        ``meta`` adds ``loso=True`` and ``train_subjects``.
    """
    from ..data.container import SubjectData

    subject = data.subject if subject is None else subject
    names = [o.subject for o in others] if names is None else list(names)
    train = concat_train([o.train for o in others], [str(s) for s in names])
    return SubjectData(subject, train, data.test,
                       meta=dict(data.meta, loso=True, train_subjects=names))


@fill_doc
def run_loso(datasets, config, out_dir, *, targets=None, progress=True, overwrite=False):
    """Leave-one-subject-out: a fresh model per held-out subject; one row per fold.

    Parameters
    ----------
    datasets : dict of int -> SubjectData
        At least two subjects.
    %(overwrite)s

    Returns
    -------
    pandas.DataFrame
        Also written to ``out_dir/results.csv``.
    """
    subjects = sorted(datasets)
    if len(subjects) < 2:
        raise ValueError("Leave-one-subject-out needs at least two subjects, e.g. --subjects 1-10.")
    folders = {held: Path(out_dir) / f"loso-sub-{held:02d}" for held in subjects}
    with train_folders(out_dir, folders.values(), overwrite=overwrite):
        rows = []
        for held in subjects:
            others = [s for s in subjects if s != held]
            fold = loso_fold(datasets[held], [datasets[s] for s in others], subject=held,
                             names=others)
            # fit() builds the model from config.seed: nothing carries over between folds
            metrics = run_training(fold, config, folders[held], targets=targets,
                                   progress=progress, overwrite=overwrite)
            rows.append(_result_row(metrics, "loso", config))
        return _write_results(out_dir, rows)


@contextlib.contextmanager
def train_folders(out_dir, folders=(), *, overwrite=False):
    """Hold ``out_dir`` for ``train`` and check it and each per-subject folder, before training.

    A refusal (another command's outputs, a user's file of an output's name)
    comes before the first model is fitted, not after hours of training.
    """
    from .._outdir import check_claim, output_folder

    with output_folder(out_dir, "train", overwrite=overwrite,
                       names=("results.csv",) + TRAIN_FILES) as out:
        for folder in folders:
            if Path(folder).is_dir():
                check_claim(folder, "train", overwrite=overwrite, names=TRAIN_FILES)
        yield out


#: Provenance carried by every training row (see :func:`_provenance.training_provenance`).
PROVENANCE_COLUMNS = ("eegvision_version", "torch_version", "code_hash", "train_config_hash",
                      "data_hash", "command")


def _result_row(metrics, condition, config):
    return dict(analysis="train", subject=metrics["subject"], condition=condition,
                seed=config.seed, model=config.model, recipe=config.recipe,
                **{k: metrics[k] for k in ("top1", "top3", "top5", "n_way", "epochs",
                                           "train_seconds", "targets")},
                **{k: metrics[k] for k in PROVENANCE_COLUMNS if k in metrics})


def _write_results(out_dir, rows):
    import pandas as pd

    from .._outdir import staged_outputs

    df = pd.DataFrame(rows)
    with staged_outputs(out_dir, "train") as stage:  # listed in the folder's manifest
        write_csv(stage / "results.csv", df)
    return df
