"""``eegvision train`` and ``eegvision evaluate``: parse-level options -> API -> printed summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import EEGVisionError, resolve_device, write_csv, write_json
from ..evaluate import evaluate, public_metrics, ranks_table
from ..training.config import BLUR_FEATURES, BLUR_RECIPES, TrainConfig, recipe_inputs
from ..training.runs import _result_row, _write_results, run_loso, run_training, train_folders


def train_cli(args):
    """``eegvision train``: parse-level options -> training runs -> printed summary."""
    from .._utils import parse_subjects

    out = Path(args.out) if args.out else Path("eegvision-out") / "train"
    subjects = parse_subjects(args.subjects) if getattr(args, "subjects", None) else \
        [args.subject or 1]
    if args.loso and len(subjects) < 2:
        raise EEGVisionError("--loso needs at least two subjects.\n  Fix: e.g. --subjects 1-10 --loso")
    folders = [] if len(subjects) == 1 else [
        out / f"{'loso-' if args.loso else ''}sub-{s:02d}" for s in subjects]
    # refused here, before any data is read, rather than after the training
    with train_folders(out, folders, overwrite=getattr(args, "overwrite", False)) as out:
        return _train(args, out, subjects)


def _train(args, out, subjects):
    overrides = dict(seed=args.seed, device=args.device)
    if args.model is not None:
        overrides["model"] = args.model
    if args.epochs:
        overrides["epochs"] = args.epochs
    if getattr(args, "amp", None) is not None:
        overrides["amp"] = args.amp
    config = TrainConfig.from_recipe(args.recipe, **overrides)
    if config.model != "ridge":
        resolve_device(config.device)  # fail before loading any data
    from ..data.builtin import resolve_root
    from ..data.channels import pick
    from ..data.things import load_subject

    args.targets = args.targets or ("images" if args.recipe in BLUR_RECIPES else "centers")
    inputs = recipe_inputs(args.recipe, channels=getattr(args, "channels", None),
                           features=getattr(args, "features", None))
    channels = inputs["channels"]
    if getattr(args, "epochs_file", None) is not None:
        datasets = {1: pick(_epochs_subject(args), channels)}
        subjects = [1]
    else:
        root, _ = resolve_root(args.data_dir, subjects=subjects)
        datasets = {s: pick(load_subject(root, s, targets=args.targets, average=True,
                                         features=inputs["features"], bank=inputs["bank"]),
                         channels)
                    for s in subjects}
    if args.loso:
        df = run_loso(datasets, config, out, targets=args.targets,
                      overwrite=getattr(args, "overwrite", False))
        for row in df.itertuples():
            print(f"held-out subject {row.subject}: top-1 {row.top1:.1%}, top-5 {row.top5:.1%}")
        print(f"wrote {out / 'results.csv'} and one folder per fold under {out}")
        return df
    rows = []
    for s in subjects:
        where = out if len(subjects) == 1 else out / f"sub-{s:02d}"
        m = run_training(datasets[s], config, where, targets=args.targets,
                         overwrite=getattr(args, "overwrite", False))
        rows.append(_result_row(m, "within-subject", config))
        print(f"subject {s}: top-1 {m['top1']:.1%}, top-3 {m['top3']:.1%}, top-5 {m['top5']:.1%} "
              f"({m['n_way']}-way, {m['targets']}; {m['epochs']} epochs, {m['train_seconds']:.0f} s)")
        print(f"wrote metrics.json, history.csv, config.json, model.pt, ranks.csv to {where}")
    df = _write_results(out, rows)
    if len(subjects) > 1:
        print(f"wrote {out / 'results.csv'}")
    return df


def _epochs_subject(args):
    """``--epochs-file`` (+ ``--features F.npy``) as one subject, split by metadata or ``--seed``."""
    from ..data.epochs_file import read_epochs_file
    from ..data.inputs import as_subjects

    if args.data_dir is not None or getattr(args, "loso", False):
        raise EEGVisionError("--epochs-file holds one subject's data: it goes without "
                             "--data-dir and --loso.\n  Fix: drop --data-dir / --loso.")
    if getattr(args, "features", None) is None:
        raise EEGVisionError(f"--epochs-file {args.epochs_file}: the epochs need their image "
                             "features.\n  Fix: add --features F.npy (one row per epoch or per "
                             "image).")
    return as_subjects(read_epochs_file(args.epochs_file, args.features), seed=args.seed)[1]


def evaluate_cli(args):
    """``eegvision evaluate CHECKPOINT``: score a checkpoint, write metrics.json and ranks.csv.

    Without ``--out`` they go to ``evaluate-sub-XX-<targets>/`` beside the checkpoint.
    """
    from .._outdir import output_folder

    ckpt = Path(args.checkpoint)
    # by default beside the checkpoint, in a folder of its own: never over training's files
    default = ckpt.parent / f"evaluate-sub-{args.subject:02d}-{args.targets}"
    with output_folder(Path(args.out) if args.out else default, "evaluate",
                       overwrite=getattr(args, "overwrite", False),
                       names=("metrics.json", "ranks.csv")) as out:
        return _evaluate(args, ckpt, out)


def _evaluate(args, ckpt, out):
    from .._outdir import staged_outputs
    from ..data.builtin import resolve_root
    from ..data.things import load_subject
    from ..training.checkpoint import load_checkpoint

    model, info = load_checkpoint(ckpt, device=getattr(args, "device", "auto"), return_info=True)
    root, _ = resolve_root(args.data_dir, subjects=[args.subject])
    from ..data.channels import pick

    bank = bool(info.get("config", {}).get("image_prior"))
    features = getattr(args, "features", None) or (BLUR_FEATURES if bank else None)
    data = load_subject(root, args.subject, layout=info.get("layout", "auto"),
                        targets=args.targets, average=True, cache=True, features=features,
                        bank=bank)
    # the checkpoint's channels, by name (e.g. the 17 posterior ones of ubp)
    data = pick(data, list(info["ch_names"])) if len(info["ch_names"]) != \
        data.test.n_channels else data
    test = _check_matches(ckpt, info, data.test)
    scores = evaluate(model, test, targets=args.targets)
    metrics = dict(public_metrics(scores), model=info["encoder"], subject=args.subject,
                   checkpoint=str(ckpt))
    with staged_outputs(out) as stage:  # both or neither
        write_json(stage / "metrics.json", metrics)
        write_csv(stage / "ranks.csv", ranks_table(scores))
    print(f"subject {args.subject}: top-1 {metrics['top1']:.1%}, top-3 {metrics['top3']:.1%}, "
          f"top-5 {metrics['top5']:.1%} ({metrics['n_way']}-way, {args.targets})")
    print(f"wrote {out / 'metrics.json'} and {out / 'ranks.csv'}")
    return metrics


def _check_matches(ckpt, info, test):
    """The test data aligned (by channel name) to the checkpoint's channels, rate and times."""
    from ..data.align import align_channels

    return align_channels(test, (list(info["ch_names"]), np.asarray(info["times"], float),
                                 float(info["sfreq"])), reference_name=f"the checkpoint {ckpt}",
                          fix="evaluate on data preprocessed like the training data (same "
                              "layout).")
