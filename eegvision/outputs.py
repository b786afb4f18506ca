"""Result folders: the one place that writes and reads them.

An analysis' folder holds ``results.csv``, ``summary.csv``, its extra tables,
``arrays.npz``, ``config.json`` and its figure (``docs/outputs.md``); the
first results of a sweep go to ``preview/``. Everything is staged and
committed together (:func:`eegvision._outdir.staged_outputs`).

Read back: :func:`load_results` (one analysis folder), :func:`find_results`
(every analysis and training folder under a results folder),
:func:`training_results` and :func:`retrieval_source`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._utils import (
    atomic_path,
    data_error,
    write_csv,
    write_json,
)


def write_preview(spec, tables, out, report=None, *, plot=True):
    """Write an analysis' first results (tables, a figure of the time course) to ``out/preview/``."""
    if not tables:
        return
    tc = tables.get("timecourse")
    if tc is not None and report is not None:
        mean = tc.groupby("time_ms")["top1"].mean()
        report(f"time-resolved curve ({tc['subject'].nunique()} subject(s)): peak top-1 "
               f"{mean.max():.1%} at {mean.idxmax():.0f} ms; the window sweep follows")
    if out is None:
        return
    # in preview/ of its own: the run's committed outputs (written together at the end)
    # never sit beside tables of a run that was killed during its sweep
    from ._outdir import staged_outputs

    folder = Path(out) / "preview"
    with staged_outputs(folder, f"analyze {spec.name}") as stage:
        for table_name, table in tables.items():
            write_csv(stage / f"{table_name}.csv", table)
        if plot and tc is not None:
            from .viz import save_figure
            from .viz.decoding import plot_timecourse

            save_figure(plot_timecourse(tc), stage / f"{spec.name}-timecourse")
    if plot and tc is not None:
        if report is not None:
            report(f"first figure -> {folder / (spec.name + '-timecourse.png')}")


def write_outputs(spec, df, extras, config, out, *, plot=True):
    """Write results.csv, summary.csv, extra tables, config.json and the figure.

    All are written into a staging folder and committed together at the end
    (:func:`~eegvision._outdir.staged_outputs`): a kill during the figure step
    never leaves new tables beside an old figure.
    """
    from ._outdir import staged_outputs

    with staged_outputs(out, f"analyze {spec.name}") as stage:
        _write_outputs(spec, df, extras, config, stage, plot=plot)


def _write_outputs(spec, df, extras, config, out, *, plot=True):
    write_csv(out / "results.csv", df)
    if df.attrs.get("summary") is not None:
        write_csv(out / "summary.csv", df.attrs["summary"])
    arrays, evokeds, estimates = {}, [], []
    for table_name, table in extras.items():
        if hasattr(table, "to_csv"):
            write_csv(out / f"{table_name}.csv", table)
        elif isinstance(table, np.ndarray):
            arrays[table_name] = table
        elif _is_evokeds(table):
            evokeds.append(_write_evokeds(out / f"{table_name}-ave.fif", table))
        elif table_name == "source_estimates":  # mne.SourceEstimate objects, by name
            estimates = _write_source_estimates(table, out)
    if arrays:
        with atomic_path(out / "arrays.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    config = {**config, "tables": sorted(k for k, v in extras.items() if hasattr(v, "to_csv")),
              "arrays": sorted(arrays), **({"evokeds": sorted(evokeds)} if evokeds else {}),
              **({"source_estimates": estimates} if estimates else {})}
    write_json(out / "config.json", config)
    if plot:
        from .viz import plot_analysis, save_figure

        fig = plot_analysis(spec.name, df, df.attrs.get("summary"), extras)
        save_figure(fig, out / f"{spec.name}")


def _is_evokeds(value):
    """A non-empty list of ``mne.Evoked`` (an extra written as ``-ave.fif``)."""
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(type(v).__name__ in ("Evoked", "EvokedArray") for v in value))


def _write_evokeds(path, evokeds):
    """``mne.write_evokeds`` into the staging folder (committed with the rest); the file name."""
    import mne

    # straight to its name: the staging folder is the unit of all-or-nothing, and MNE
    # wants the -ave.fif ending that a temporary name would not have
    from ._utils import WriteError, os_error_fix

    try:
        mne.write_evokeds(path, list(evokeds), overwrite=True, verbose="error")
    except OSError as err:  # as atomic_path's: one line naming the file
        error = WriteError(f"{path}: could not write it ({err.strerror or err}); nothing was "
                           f"half-written.\n  Fix: {os_error_fix(err)}.")
        error.errno = err.errno
        raise error from None
    return path.name
def _write_source_estimates(estimates, out):
    """Write each ``mne.SourceEstimate`` of ``estimates`` as ``NAME-stc.h5`` (needs h5io).

    Returns the file names, sorted (``config.json`` lists them).
    """
    for name, stc in estimates.items():
        with atomic_path(out / f"{name}-stc.h5") as tmp:
            h5 = tmp.with_name(tmp.name + ".h5")  # MNE appends -stc.h5 to other names
            stc.save(h5, ftype="h5", overwrite=True, verbose="error")
            h5.replace(tmp)
    return sorted(f"{name}-stc.h5" for name in estimates)


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
    extras.update(_read_evokeds(directory, config.get("evokeds", [])))
    df.attrs["summary"] = summarize_results(get_spec(config["analysis"]), df)
    df.attrs["extras"] = extras
    return df, extras, config


def _read_evokeds(directory, names):
    """``{stem: [Evoked, ...]}`` of the ``-ave.fif`` files listed in ``config.json``."""
    if not names:
        return {}
    import mne

    return {name[:-len("-ave.fif")]: mne.read_evokeds(directory / name, verbose="error")
            for name in names if (directory / name).is_file()}


def summarize_results(spec, df):
    """See :func:`eegvision.analysis._base.summarize_results`."""
    from .analysis._base import summarize_results as _summarize

    return _summarize(spec, df)


def get_spec(name):
    """The :class:`~eegvision.analysis.spec.AnalysisSpec` of analysis ``name``."""
    from .analysis.registry import get_spec as _get_spec

    return _get_spec(name)


def find_results(results_dir):
    """Analysis and training folders under ``results_dir`` (itself included), sorted.

    Returns
    -------
    analyses : list of (Path, str)
        Each analysis folder with its analysis name.
    trainings : list of Path
    """
    from .analysis.registry import names as analysis_names

    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such results folder; give the --out folder of "
                                "`eegvision analyze` or `eegvision train`.")
    analyses, trainings = [], []
    for cfg in sorted([root / "config.json", *root.rglob("config.json")]):
        folder = cfg.parent
        if "jobs" in folder.relative_to(root).parts or not cfg.is_file():
            continue
        if (folder / "results.csv").is_file():
            try:
                name = json.loads(cfg.read_text()).get("analysis")
            except (OSError, ValueError):
                name = None
            if name in analysis_names() and (folder, name) not in analyses:
                analyses.append((folder, name))
        if (folder / "metrics.json").is_file() and (folder / "ranks.csv").is_file():
            if folder not in trainings:
                trainings.append(folder)
    return analyses, trainings

def find_analysis(results_dir, name):
    """The first folder under ``results_dir`` holding analysis ``name`` (for figures/ scripts)."""
    analyses, _ = find_results(results_dir)
    for folder, found in analyses:
        if found == name:
            return folder
    raise FileNotFoundError(f"{results_dir}: no {name} analysis folder found; run "
                            f"`eegvision analyze {name} --out {Path(results_dir) / name}` first.")

def training_results(trainings):
    """One row per training folder (subject, model, seed, top1, top5, ...) from metrics.json."""
    import pandas as pd

    rows = []
    for folder in trainings:
        m = json.loads((Path(folder) / "metrics.json").read_text())
        if "subject" not in m or "top1" not in m:
            continue
        rows.append({"analysis": "train", "subject": m["subject"], "model": m.get("model", "model"),
                     "seed": m.get("seed", 0), "top1": m["top1"], "top5": m.get("top5"),
                     "n_way": m.get("n_way"), "folder": str(folder)})
    return pd.DataFrame(rows)

def retrieval_source(analyses, trainings):
    """What the retrieval figure is drawn from: a similarity matrix if one was saved.

    The semantic analysis saves the subject-averaged EEG x image similarity
    (``similarity_sorted.csv``); training folders only save each concept's
    rank (``ranks.csv``), so the first of them gives a ranks-only figure.
    Returns ``(table, description)`` or ``(None, None)``.
    """
    import pandas as pd

    for folder, name in analyses:
        if name == "semantic" and (folder / "similarity_sorted.csv").is_file():
            return pd.read_csv(folder / "similarity_sorted.csv"), f"{folder} (similarity)"
    for folder in trainings:
        return pd.read_csv(folder / "ranks.csv"), f"{folder} (ranks only)"
    return None, None
