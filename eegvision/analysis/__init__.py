"""The analyses: one module per question, one entry point for all.

>>> from eegvision.analysis import analyze
>>> df = analyze("temporal", subjects=[1], model="ridge")  # doctest: +SKIP

Each returns a tidy DataFrame (one row per subject x condition x seed) and,
with ``out``, writes ``results.csv``, ``summary.csv``, ``config.json`` and a
figure (PNG + PDF).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import numpy as np

from .. import __version__
from .._utils import (
    _check_option,
    atomic_path,
    check_writable_dir,
    data_error,
    parse_subjects,
    write_csv,
    write_json,
)

ANALYSES = ("temporal", "spatial", "spectral", "semantic", "saliency")


def get_module(name):
    """The module implementing analysis ``name``."""
    _check_option("analysis", name, ANALYSES)
    return importlib.import_module(f"{__name__}.{name}")


def build_jobs(name, subjects, ref, *, root, seeds=(0,), model="nice", recipe="fast",
               epochs=None, device="auto", layout="auto", targets="centers", **options):
    """One :class:`~eegvision.runner.Job` per (subject, condition, seed)."""
    from .._provenance import data_fingerprints
    from ..runner import Job

    module = get_module(name)
    check_model_name(model)
    _warn_unused(module, options)
    conds = module.conditions(options, ref)
    jobs = []
    for subject in subjects:
        # the data's fingerprint is part of the job hash: changed files are recomputed
        data = {"root": str(root), "layout": layout, "targets": targets,
                "fingerprint": data_fingerprints(root, subject, layout, targets)}
        for label, params in conds:
            for seed in seeds:
                train = {"recipe": recipe, "model": model, "seed": int(seed), "device": device}
                if epochs is not None:
                    train["epochs"] = int(epochs)
                jobs.append(Job(name, int(subject), label, int(seed), params, data, train))
    return jobs


#: Options each analysis understands (others are ignored with a warning).
OPTIONS = {
    "temporal": {"mode", "width", "step", "windows", "tmin_ms", "tmax_ms", "timecourse"},
    "spatial": {"mode", "regions"},
    "spectral": {"mode", "bands"},
    "semantic": {"metric", "n_permutations", "n_splits", "text"},
    "saliency": {"bin_ms", "tmin_ms", "tmax_ms"},
}


def check_model_name(model):
    """Raise a ValueError naming ``--model`` unless it is an encoder or ``ridge``."""
    from ..models import list_encoders

    _check_option("--model", model, list_encoders() + ["ridge"])


def _warn_unused(module, options):
    unused = sorted(set(options) - OPTIONS.get(module.NAME, set()))
    if unused:
        from .._utils import logger

        logger.warning("%s analysis ignores option(s) %s", module.NAME, ", ".join(unused))


def analyze(name, subjects=1, *, data_dir=None, out=None, seeds=(0,), model="nice",
            recipe="fast", epochs=None, device="auto", jobs=1, backend="local",
            scheduler=None, layout="auto", targets="centers", plot=True, progress=True,
            batch=True, report=None, **options):
    """Run analysis ``name`` for ``subjects`` and return its results table.

    Parameters
    ----------
    name : 'temporal' | 'spatial' | 'spectral' | 'semantic' | 'saliency'
    subjects : int | str | list of int
        ``3``, ``"1-10"`` or ``[1, 2]``.
    data_dir : path-like | None
        THINGS-EEG2 root; None uses ``$EEGVISION_DATA`` or the built-in data.
    out : path-like | None
        Where to write tables, config and figure (nothing is written if None,
        and jobs are then not cached).
    seeds : sequence of int
    model, recipe, epochs, device
        Training settings (see :class:`eegvision.train.TrainConfig`).
    jobs, backend, scheduler, batch
        How to run (see :func:`eegvision.runner.run_jobs`); ``batch=False``
        (``--no-batch``) fits one model at a time instead of a sweep's
        compatible models together (:mod:`eegvision.sweep`).
    report : callable | None
        Called with a line of text for each first result shown before the
        sweep (the temporal analysis' time-resolved curve, whose table and
        figure are written to ``out`` first); the CLI passes ``print``.
    **options
        The analysis' own options (``mode``, ``width``, ``step``, ``windows``,
        ``bands``, ``regions`` ...).

    Returns
    -------
    pandas.DataFrame
        One row per (subject, condition, seed); ``.attrs['summary']`` holds the
        across-subject summary with intervals and p-values.
    """
    import tempfile

    from ..data.builtin import resolve_root
    from ..data.things import load_subject
    from ..runner import results_table, run_jobs

    module = get_module(name)
    subjects = parse_subjects(subjects)
    if out is not None:
        out = check_writable_dir(out)
    root, builtin = resolve_root(data_dir, subjects=subjects)
    ref = load_subject(root, subjects[0], layout=layout, targets=targets).test
    job_list = build_jobs(name, subjects, ref, root=root, seeds=seeds, model=model, recipe=recipe,
                          epochs=epochs, device=device, layout=layout, targets=targets, **options)
    t0 = time.perf_counter()
    context = {"root": root, "layout": layout, "targets": targets, "subjects": subjects,
               "seeds": list(seeds), "out": out}
    if hasattr(module, "preview"):  # first results first: seconds, before the sweep's minutes
        context["preview"] = module.preview(options, context)
        write_preview(module, context["preview"], out, report, plot=plot)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(out) / "jobs" if out is not None else Path(tmp)
        results = run_jobs(job_list, cache, backend=backend, n_jobs=jobs, scheduler=scheduler,
                           progress=progress, batch=batch)
        df = results_table(results)
        extras = (module.postprocess(df, results, options, context)
                  if hasattr(module, "postprocess") else {})
    df.attrs["summary"] = summarize_results(module, df)
    df.attrs["extras"] = extras
    if out is not None:
        config = {"analysis": name, "eegvision_version": __version__, "subjects": subjects,
                  "seeds": list(seeds), "model": model, "recipe": recipe, "epochs": epochs,
                  "device": device, "layout": layout, "targets": targets, "data_root": str(root),
                  "builtin_data": builtin, "options": options, "n_jobs": len(job_list),
                  "wall_seconds": round(time.perf_counter() - t0, 2),
                  "job_hashes": [j.key for j in job_list]}
        write_outputs(module, df, extras, config, Path(out), plot=plot)
    return df


def write_preview(module, tables, out, report=None, *, plot=True):
    """Write an analysis' first results (tables, and a figure of the time course) to ``out``."""
    if not tables:
        return
    tc = tables.get("timecourse")
    if tc is not None and report is not None:
        mean = tc.groupby("time_ms")["top1"].mean()
        report(f"time-resolved curve ({tc['subject'].nunique()} subject(s)): peak top-1 "
               f"{mean.max():.1%} at {mean.idxmax():.0f} ms; the window sweep follows")
    if out is None:
        return
    for table_name, table in tables.items():
        write_csv(Path(out) / f"{table_name}.csv", table)
    if plot and tc is not None:
        from ..viz import save_figure
        from ..viz.decoding import plot_timecourse

        save_figure(plot_timecourse(tc), Path(out) / f"{module.NAME}-timecourse")
        if report is not None:
            report(f"first figure -> {Path(out) / (module.NAME + '-timecourse.png')}")


def summarize_results(module, df):
    """Across-subject summary per condition (see :func:`stats.summarize`)."""
    from .stats import summarize

    if "top1" not in df or df.empty:
        return None
    return summarize(df, by="condition", value="top1", reference=getattr(module, "REFERENCE", None))


def write_outputs(module, df, extras, config, out, *, plot=True):
    """Write results.csv, summary.csv, extra tables, config.json and the figure."""
    write_csv(out / "results.csv", df)
    if df.attrs.get("summary") is not None:
        write_csv(out / "summary.csv", df.attrs["summary"])
    arrays = {}
    for table_name, table in extras.items():
        if hasattr(table, "to_csv"):
            write_csv(out / f"{table_name}.csv", table)
        elif isinstance(table, np.ndarray):
            arrays[table_name] = table
    if arrays:
        with atomic_path(out / "arrays.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    config = {**config, "tables": sorted(k for k, v in extras.items() if hasattr(v, "to_csv")),
              "arrays": sorted(arrays)}
    write_json(out / "config.json", config)
    if plot:
        from ..viz import plot_analysis, save_figure

        fig = plot_analysis(module.NAME, df, df.attrs.get("summary"), extras)
        save_figure(fig, out / f"{module.NAME}")


def load_results(directory):
    """Read an analysis' output folder back: ``(df, extras, config)``.

    ``df.attrs['summary']`` is recomputed from ``results.csv``, so a figure can
    always be rebuilt from the saved tables alone.
    """
    import json

    import pandas as pd

    directory = Path(directory)
    for name in ("results.csv", "config.json"):
        if not (directory / name).exists():
            raise data_error(directory / name, "missing: not an eegvision analysis folder.",
                             "point to a folder written by `eegvision analyze ... --out DIR`.")
    config = json.loads((directory / "config.json").read_text())
    df = pd.read_csv(directory / "results.csv")
    extras = {t: pd.read_csv(directory / f"{t}.csv") for t in config.get("tables", [])
              if (directory / f"{t}.csv").exists()}
    if config.get("arrays") and (directory / "arrays.npz").exists():
        with np.load(directory / "arrays.npz", allow_pickle=False) as f:
            extras.update({k: f[k] for k in f.files})
    module = get_module(config["analysis"])
    df.attrs["summary"] = summarize_results(module, df)
    df.attrs["extras"] = extras
    return df, extras, config


def analyze_cli(args):
    """Body of ``eegvision analyze`` / ``eegvision topomap``.

    Precedence: explicit command-line options, then the ``--config`` recipe,
    then the defaults (``nice``, ``fast`` recipe, subject 1, seed 0).
    """
    from .._utils import parse_seeds

    options = {}
    for key in ("windows", "width", "step", "mode", "bands", "regions", "bin_ms",
                "n_permutations", "text"):
        value = getattr(args, key, None)
        if value is not None:
            options[key] = value
    explicit = {"model": args.model, "recipe": args.recipe, "epochs": args.epochs,
                "subjects": args.subjects if args.subjects is not None else args.subject,
                "seeds": parse_seeds(args.seeds) if args.seeds else
                         ([args.seed] if args.seed is not None else None)}
    settings = {"model": "nice", "recipe": "fast", "epochs": None, "subjects": 1, "seeds": [0]}
    if getattr(args, "config", None):
        recipe, recipe_options = read_recipe_file(args.config)
        settings.update(recipe)
        options = {**recipe_options, **options}
    settings.update({k: v for k, v in explicit.items() if v is not None})
    if getattr(args, "quick", False):
        settings["subjects"] = parse_subjects(settings["subjects"])[:1]
        settings["seeds"] = list(settings["seeds"])[:1]
        settings["epochs"] = min(int(settings["epochs"] or 20), 20)
    out = Path(args.out or Path("eegvision-out") / args.analysis)
    df = analyze(args.analysis, settings.pop("subjects"), data_dir=args.data_dir, out=out,
                 device=args.device, jobs=args.jobs, backend=getattr(args, "backend", "local"),
                 scheduler=getattr(args, "scheduler", None),
                 batch=not getattr(args, "no_batch", False), report=print, **settings,
                 **options)
    _print_summary(args.analysis, df, out)


def read_recipe_file(path):
    """Read a TOML recipe (``analyses/*.toml``): ``(settings, options)``.

    ``settings`` may hold ``model``, ``recipe``, ``epochs`` (from ``[train]``),
    ``subjects`` and ``seeds``; ``options`` are the analysis' own (``[options]``).
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        recipe = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"--config {path}: cannot read the recipe ({err}).") from None
    unknown = sorted(set(recipe) - {"subjects", "seeds", "train", "options"})
    if unknown:
        raise ValueError(f"--config {path}: unknown section or key(s) {unknown}; "
                         "expected subjects, seeds, [train], [options].")
    settings = {k: v for k, v in recipe.get("train", {}).items()
                if k in ("model", "recipe", "epochs")}
    if "subjects" in recipe:
        settings["subjects"] = recipe["subjects"]
    if "seeds" in recipe:
        settings["seeds"] = list(recipe["seeds"])
    return settings, dict(recipe.get("options", {}))


def _print_summary(name, df, out):
    summary = df.attrs.get("summary")
    if summary is not None:
        cols = [c for c in ("condition", "mean", "ci_low", "ci_high", "p_chance") if c in summary]
        print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\n{name}: {len(df)} results -> {out / 'results.csv'}")
    print(f"figure -> {out / (name + '.png')} (+ .pdf)")
