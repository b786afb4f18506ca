"""``eegvision analyze`` / ``topomap`` and ``eegvision figures``: parse, call, print."""

from __future__ import annotations

from pathlib import Path


def analyze_cli(args):
    """Body of ``eegvision analyze`` / ``eegvision topomap``.

    Precedence: explicit command-line options, then the ``--config`` recipe,
    then the defaults (``nice``, the analysis' recipe: ``sweep``, ``fast`` for
    ``topomap``; subject 1, seed 0).
    """
    from .._utils import parse_seeds, parse_subjects
    from ..analysis.registry import cli_options
    from ..pipeline import analyze, read_recipe_file

    options = {}
    for opt, _ in cli_options():  # the flags the specs declare
        key = opt.name
        value = getattr(args, key, None)
        if value is not None:
            options[key] = value
    explicit = {"model": args.model, "recipe": args.recipe, "epochs": args.epochs,
                "subjects": args.subjects if args.subjects is not None else args.subject,
                "seeds": parse_seeds(args.seeds) if args.seeds else
                         ([args.seed] if args.seed is not None else None)}
    settings = {"model": None, "recipe": None, "epochs": None, "subjects": 1, "seeds": [0]}
    if getattr(args, "config", None):
        recipe, recipe_options = read_recipe_file(args.config)
        settings.update(recipe)
        options = {**recipe_options, **options}
    settings.update({k: v for k, v in explicit.items() if v is not None})
    # model None: analyze() takes the recipe's encoder (training.config.recipe_model)
    device = args.device
    if device in (None, "auto") and "device" in settings:  # the recipe's, unless --device given
        device = settings["device"]
    settings.pop("device", None)
    if getattr(args, "quick", False):
        settings["subjects"] = parse_subjects(settings["subjects"])[:1]
        settings["seeds"] = list(settings["seeds"])[:1]
        settings["epochs"] = min(int(settings["epochs"] or 20), 20)
    out = Path(args.out or Path("eegvision-out") / args.analysis)
    for key in ("features", "channels"):
        if getattr(args, key, None) is not None:
            settings[key] = getattr(args, key)
    data = _epochs_file(args, settings)
    df = analyze(args.analysis, settings.pop("subjects"), data=data, data_dir=args.data_dir, out=out,
                 device=device, jobs=args.jobs, backend=getattr(args, "backend", "local"),
                 scheduler=getattr(args, "scheduler", None),
                 noise_ceiling=not getattr(args, "no_noise_ceiling", False),
                 batch=not getattr(args, "no_batch", False),
                 overwrite=getattr(args, "overwrite", False), **settings,
                 **options)
    _print_summary(args.analysis, df, out)


def _epochs_file(args, settings):
    """``--epochs-file``: the data (its features from ``--features FILE.npy``), or None."""
    from .._utils import EEGVisionError

    path = getattr(args, "epochs_file", None)
    if path is None:
        return None
    if args.data_dir is not None:
        raise EEGVisionError("--epochs-file and --data-dir both give the data.\n  Fix: drop "
                             "one of them.")
    if settings.get("features") is None:
        raise EEGVisionError(f"--epochs-file {path}: the epochs need their image features.\n"
                             "  Fix: add --features F.npy (one row per epoch or per image).")
    return path


def _print_summary(name, df, out):
    """The result lines (stdout, printed even with --quiet): the summary and what was written."""
    summary = df.attrs.get("summary")
    if summary is not None:
        cols = [c for c in ("condition", "mean", "ci_low", "ci_high", "p_chance", "p_binomial")
                if c in summary]
        print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        _print_reasons(summary)
    print(f"\n{name}: {len(df)} results -> {out / 'results.csv'}")
    print(f"figure -> {out / (name + '.png')} (+ .pdf)")
    evokeds = [k for k, v in (df.attrs.get("extras") or {}).items() if isinstance(v, list)
               and v and type(v[0]).__name__ in ("Evoked", "EvokedArray")]
    for stem in evokeds:
        print(f"MNE Evoked ({len(df.attrs['extras'][stem])}) -> {out / (stem + '-ave.fif')}")


def reason_clauses(reason):
    """The clauses of a summary's ``reason`` ('; ' between them, never inside parentheses)."""
    if not isinstance(reason, str) or not reason:
        return []
    clauses, depth, start = [], 0, 0
    for i, ch in enumerate(reason):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and reason.startswith("; ", i):
            clauses.append(reason[start:i])
            start = i + 2
    return [*clauses, reason[start:]]


def _print_reasons(summary):
    """Why statistics are empty, once per clause, naming the conditions it is not true of all."""
    if "reason" not in summary or "condition" not in summary:
        return
    clauses = {}
    for cond, reason in zip(summary["condition"], summary["reason"], strict=True):
        for clause in reason_clauses(reason):
            clauses.setdefault(clause, []).append(str(cond))
    for clause, conds in clauses.items():
        where = "" if len(conds) == len(summary) else f" ({', '.join(conds)})"
        print(f"  note{where}: {clause}")


def figures_cli(args):
    """Body of ``eegvision figures``."""
    from ..figures import rebuild_figures

    paths = rebuild_figures(args.results, args.out, image_dir=getattr(args, "images", None),
                            overwrite=getattr(args, "overwrite", False))
    for p in paths:
        print(p)
    print(f"\n{len(paths)} files -> {args.out}")
