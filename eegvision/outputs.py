"""Result folders: the one place that writes and reads them.

An analysis' folder holds ``results.csv``, ``summary.csv``, its extra tables,
``arrays.npz``, ``config.json`` and its figure (``docs/outputs.md``); the
first results of a sweep go to ``preview/``. Everything is staged and
committed together (:func:`eegvision._outdir.staged_outputs`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._utils import (
    atomic_path,
    data_error,
    write_csv,
    write_json,
)


def write_preview(module, tables, out, report=None, *, plot=True):
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
    with staged_outputs(folder, f"analyze {module.NAME}") as stage:
        for table_name, table in tables.items():
            write_csv(stage / f"{table_name}.csv", table)
        if plot and tc is not None:
            from .viz import save_figure
            from .viz.decoding import plot_timecourse

            save_figure(plot_timecourse(tc), stage / f"{module.NAME}-timecourse")
    if plot and tc is not None:
        if report is not None:
            report(f"first figure -> {folder / (module.NAME + '-timecourse.png')}")


def write_outputs(module, df, extras, config, out, *, plot=True):
    """Write results.csv, summary.csv, extra tables, config.json and the figure.

    All are written into a staging folder and committed together at the end
    (:func:`~eegvision._outdir.staged_outputs`): a kill during the figure step
    never leaves new tables beside an old figure.
    """
    from ._outdir import staged_outputs

    with staged_outputs(out, f"analyze {module.NAME}") as stage:
        _write_outputs(module, df, extras, config, stage, plot=plot)


def _write_outputs(module, df, extras, config, out, *, plot=True):
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
        from .viz import plot_analysis, save_figure

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


def summarize_results(module, df):
    """See :func:`eegvision.analysis._base.summarize_results`."""
    from .analysis._base import summarize_results as _summarize

    return _summarize(module, df)


def get_module(name):
    """The hooks of analysis ``name`` (from the registry of specs)."""
    from .analysis.spec import get_spec

    return get_spec(name).hooks
