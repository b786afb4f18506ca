"""Rebuild every publication figure and table from saved results, without retraining.

>>> from eegvision.figures import rebuild_figures
>>> rebuild_figures("eegvision-out", "paper-figures")  # doctest: +SKIP

An *analysis folder* holds ``results.csv`` and a ``config.json`` naming its
analysis (written by ``eegvision analyze``); a *training folder* holds
``metrics.json`` and ``ranks.csv`` (written by ``eegvision train``). Job
caches (``jobs/``) are not searched. Folders are read by
:mod:`eegvision.outputs`; :mod:`eegvision.viz` draws.
"""

from __future__ import annotations

from pathlib import Path

from ._docs import fill_doc
from ._utils import verbose
from .outputs import find_analysis, find_results, retrieval_source, training_results  # noqa: F401

#: Formats every figure is written in (PNG at 300 dpi, PDF and SVG as vectors).
FORMATS = ("png", "pdf", "svg")


def figure_from_results(analysis, plot, results_dir, out_dir, stem):
    """Shared body of the ``figures/`` scripts: one analysis' figure from saved tables.

    Finds the ``analysis`` folder under ``results_dir``, loads its tables,
    draws ``plot(df, extras)`` (``df.attrs['summary']`` holds the summary)
    and saves ``out_dir/stem`` in every format of :data:`FORMATS`.

    Returns
    -------
    list of Path
        The files written.
    """
    from .outputs import load_results
    from .viz import save_figure

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    df, extras, _ = load_results(find_analysis(results_dir, analysis))
    return save_figure(plot(df, extras), Path(out_dir) / stem, formats=FORMATS)

def _stems(analyses):
    """Output name per analysis folder: the analysis, or ``analysis_<folder>`` on a clash."""
    names = [name for _, name in analyses]
    return [name if names.count(name) == 1 else f"{name}_{folder.name}"
            for folder, name in analyses]

def rebuild_analysis_figure(folder, out_stem, *, formats=FORMATS):
    """Re-plot one analysis folder's standard figure from its saved tables."""
    from .outputs import load_results
    from .viz import plot_analysis, save_figure

    df, extras, config = load_results(folder)
    fig = plot_analysis(config["analysis"], df, df.attrs.get("summary"), extras)
    return save_figure(fig, out_stem, formats=formats)

def write_tables(dfs, out_dir, stem="accuracy_table"):
    """Write :func:`~eegvision.viz.tables.accuracy_table` as ``.md``, ``.tex`` and ``.csv``."""
    from ._utils import atomic_path, write_csv
    from .viz.tables import accuracy_table, to_latex, to_markdown

    table = accuracy_table(dfs)
    caption = ("Top-1 (analyses) and top-1/top-5 (trained models) accuracy per subject, %, "
               "averaged over seeds; last row: mean ± SEM across subjects.")
    out_dir = Path(out_dir)
    paths = []
    for suffix, text in ((".md", to_markdown(table, caption=caption)),
                         (".tex", to_latex(table, caption=caption, label="tab:accuracy"))):
        path = out_dir / f"{stem}{suffix}"
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)
        paths.append(path)
    flat = table.copy()
    flat.columns = [f"{a}: {c}" for a, c in flat.columns]
    write_csv(out_dir / f"{stem}.csv", flat.reset_index())
    paths.append(out_dir / f"{stem}.csv")
    return paths


@verbose
@fill_doc
def rebuild_figures(results_dir, out_dir, *, formats=FORMATS, image_dir=None, k=5, n_examples=6,
                    overwrite=False, verbose=None):
    """Rebuild every figure and the accuracy table from the results under ``results_dir``.

    Parameters
    ----------
    results_dir : path-like
        Searched recursively for analysis folders (``results.csv`` +
        ``config.json``) and training folders (``metrics.json`` + ``ranks.csv``).
    out_dir : path-like
        Receives ``<analysis>.png|pdf|svg`` per analysis folder,
        ``retrieval.*`` and ``accuracy_table.md|tex|csv``.
    formats : tuple of str
    image_dir : path-like | None
        THINGS-EEG2 ``image_set/test_images`` for thumbnails in the retrieval figure.
    k, n_examples : int
        Retrieval figure: candidates per row and rows.
    %(overwrite)s
    %(verbose)s

    Returns
    -------
    list of Path
        Every file written.
    """
    from ._outdir import output_folder, staged_outputs

    analyses, trainings = find_results(results_dir)
    if not analyses and not trainings:
        raise FileNotFoundError(f"{results_dir}: no analysis folder (results.csv + config.json) "
                                "or training folder (metrics.json + ranks.csv) found; run "
                                "`eegvision analyze ... --out DIR` first.")
    names = [f"accuracy_table.{s}" for s in ("md", "tex", "csv")] + [
        f"{stem}.{fmt}" for stem in ["retrieval"] + _stems(analyses) for fmt in formats]
    with output_folder(out_dir, "figures", overwrite=overwrite, names=names) as out_dir, \
            staged_outputs(out_dir) as stage:  # all figures and tables together, or none
        written = _rebuild(analyses, trainings, stage, formats, image_dir, k, n_examples)
    return [out_dir / p.relative_to(stage) for p in written]

def _rebuild(analyses, trainings, out_dir, formats, image_dir, k, n_examples):
    import pandas as pd

    from ._utils import logger
    from .viz import save_figure
    from .viz.retrieval import plot_retrieval_examples

    written, tables = [], {}
    for (folder, _), stem in zip(analyses, _stems(analyses), strict=True):
        written += rebuild_analysis_figure(folder, out_dir / stem, formats=formats)
        tables[stem] = pd.read_csv(folder / "results.csv")
        logger.info("figure %s <- %s", stem, folder)
    source, what = retrieval_source(analyses, trainings)
    if source is not None:
        fig = plot_retrieval_examples(source, k=k, n_examples=n_examples, image_dir=image_dir)
        written += save_figure(fig, out_dir / "retrieval", formats=formats)
        logger.info("figure retrieval <- %s", what)
    train = training_results(trainings)
    if len(train):
        tables["train"] = train
    tables = {n: t for n, t in tables.items() if "top1" in t and "subject" in t}
    if tables:
        written += write_tables(tables, out_dir)
    return written


__all__ = ["FORMATS", "figure_from_results", "find_analysis", "find_results",
           "rebuild_analysis_figure", "rebuild_figures", "retrieval_source", "training_results",
           "write_tables"]
