"""One self-contained HTML page of every result under a results folder (``eegvision report``).

>>> import eegvision as ev
>>> ev.report("eegvision-out")  # doctest: +SKIP

The page is generated here rather than by :class:`mne.Report`: it needs no
JavaScript at all (mne.Report inlines Bootstrap, jQuery and highlight.js,
several hundred kilobytes, and its layout changes between MNE versions), every value
read from a file is escaped in one place, and the warnings on weak
statistics sit beside the table they are about. Figures are the PNG files
the folders hold, embedded as base64 ``data:`` URIs; nothing is fetched, so
the page opens the same offline, attached to an e-mail or in a notebook.

Folders are found and read by :mod:`eegvision.outputs`; :mod:`eegvision.viz`
draws a figure only where a folder holds none.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .outputs import find_results

#: The file the report writes, and the command its manifest records.
REPORT_NAME = "report.html"
COMMAND = "report"
#: Below this many subjects, tests across subjects are flagged as weak.
MIN_SUBJECTS = 3
#: Significance level of the chance warnings.
ALPHA = 0.05
_P_COLUMNS = ("p_chance", "p_chance_fdr", "p_vs_reference", "p_vs_reference_fdr",
              "p_vs_previous", "p_vs_previous_fdr")
_LABEL_COLUMNS = ("condition", "region", "band", "part", "n_reps", "k")
_PROVENANCE = ("eegvision_version", "torch_version", "code_hash", "train_config_hash",
               "data_hash", "device", "host", "command")
_METRICS = ("top1", "top3", "top5", "k2", "k4", "k10", "k50", "k100", "n_way", "targets",
            "epochs", "best_epoch", "train_seconds", "model", "recipe", "seed", "subject")
_MAX_ROWS = 60  # rows of a table shown; the rest stay in the CSV file
_SMALL_TABLE = 40  # extra tables up to this many rows are shown in full
_OPEN_TABLE = 10  # ... and up to this many, unfolded
_PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Section:
    """One results folder in the report: its title, warnings and HTML body."""

    title: str
    kind: str
    folder: Path
    warnings: list = field(default_factory=list)
    body: str = ""
    n_figures: int = 0
    n_tables: int = 0


@dataclass
class Report:
    """A written report: ``path`` of ``report.html``, its ``html`` and its ``sections``.

    In Jupyter the object displays the page itself (``_repr_html_``: the page
    in a sandboxed ``<iframe srcdoc>``, so its style cannot leak into the
    notebook); ``print(report)`` gives the path and the warnings.
    """

    path: Path
    html: str
    sections: list

    @property
    def warnings(self):
        """Every warning as ``(section title, text)``."""
        return [(s.title, w) for s in self.sections for w in s.warnings]

    def _repr_html_(self):
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox '
                'style="width:100%;height:720px;border:1px solid #ccc" '
                f'title="eegvision report {html.escape(str(self.path))}"></iframe>')

    def __repr__(self):
        return (f"<Report {self.path}: {len(self.sections)} folder(s), "
                f"{len(self.warnings)} warning(s)>")


def report(results_dir, out=None, *, overwrite=False):
    """Write one self-contained HTML page of every result under ``results_dir``.

    Every analysis folder (``results.csv`` + ``config.json``) and training
    folder (``metrics.json`` + ``ranks.csv``) found by
    :func:`eegvision.outputs.find_results` gets a section: its figures, its
    summary table with the statistics, its settings and provenance, and
    warnings where the statistics are weak (fewer than 3 subjects,
    zero-variance tests, missing p-values, accuracies at chance, the
    ``reason`` a table gives).

    Parameters
    ----------
    results_dir : path-like
        The ``--out`` folder of ``eegvision analyze`` / ``train``, or a folder above several.
    out : path-like | None
        Folder receiving ``report.html``. Default: ``results_dir`` itself,
        or ``results_dir/report/`` when ``results_dir`` is itself one
        command's output folder (a report never shares another command's
        manifest).
    overwrite : bool
        Replace a ``report.html`` eegvision did not write (or another
        command's outputs in ``out``); refused without it (``docs/outputs.md``).

    Returns
    -------
    Report
        ``path``, ``html`` and ``sections``; shows the page in Jupyter.
    """
    from ._outdir import output_folder, staged_outputs

    root = Path(results_dir)
    analyses, trainings = find_results(root)
    if not analyses and not trainings:
        raise FileNotFoundError(f"{root}: no analysis folder (results.csv + config.json) or "
                                "training folder (metrics.json + ranks.csv) found; give the "
                                "--out folder of `eegvision analyze` or `eegvision train`.")
    out = _report_folder(root, out, [f for f, _ in analyses] + list(trainings))
    with output_folder(out, COMMAND, overwrite=overwrite, names=[REPORT_NAME]) as out:
        sections = [analysis_section(f, name, root) for f, name in analyses]
        sections += [training_section(f, root) for f in trainings]
        page = render_page(root, sections)
        with staged_outputs(out) as stage:
            (stage / REPORT_NAME).write_text(page, encoding="utf-8")
    return Report(out / REPORT_NAME, page, sections)


def _report_folder(root, out, folders):
    """Where ``report.html`` goes; refuse an ``out`` that is one of the folders reported."""
    from ._outdir import read_manifest
    from ._utils import option_error

    reported = {f.resolve() for f in folders}
    if out is None:
        manifest = read_manifest(root)
        taken = manifest is not None and manifest.command != COMMAND
        return root / "report" if taken or root.resolve() in reported else root
    if Path(out).resolve() in reported:
        raise option_error("--out", str(out), "is a results folder the report reads; the "
                           "report would share its manifest (and, with --overwrite, delete its "
                           "results)", "drop --out (the report then goes to "
                           f"{_report_folder(root, None, folders)}) or choose another folder")
    return Path(out)


# ------------------------------------------------------------------ an analysis folder
def analysis_section(folder, name, root):
    """The :class:`Section` of one analysis folder (an unreadable one says why)."""
    from .outputs import load_results

    section = Section(f"{name} — {_relative(folder, root)}", "analysis", Path(folder))
    try:
        df, extras, config = load_results(folder)
    except (ValueError, KeyError, OSError) as err:  # DataError, a malformed CSV or JSON
        section.warnings.append(f"the folder could not be read: {_one_line(err)}")
        return section
    summary = _saved_summary(folder, df)
    section.warnings = data_warnings(config) + summary_warnings(summary)
    parts = [_analysis_figures(section, name, df, extras)]
    if summary is not None:
        parts.append(_block("Summary across subjects", _table(summary, section)))
    parts.append(_extra_tables(extras, section))
    parts.append(_block("Settings (config.json)", _key_values(_settings(config), section)))
    parts.append(_block("Provenance", _key_values(_provenance(df), section)))
    parts.append(_files_block(folder, section))
    section.body = "".join(parts)
    return section


def _saved_summary(folder, df):
    """``summary.csv`` as the analysis wrote it (its ``reason`` column included), else recomputed."""
    import pandas as pd

    path = Path(folder) / "summary.csv"
    if path.is_file():
        try:
            return pd.read_csv(path)
        except (ValueError, OSError):
            pass
    return df.attrs.get("summary")


def _analysis_figures(section, name, df, extras):
    """The folder's PNG figures (its own first), or one drawn from its tables when it has none."""
    shown = [_figure(data, _relative(path, section.folder))
             for path, data in _png_files(section, name)]
    if not shown:
        png = _draw(section, lambda: _plot_analysis(name, df, extras))
        if png is not None:
            shown.append(_figure(png, "drawn from the saved tables (the folder holds no figure "
                                      "file)"))
    section.n_figures = len(shown)
    return _block("Figures", "".join(shown)) if shown else ""


def _plot_analysis(name, df, extras):
    from .viz import plot_analysis

    return plot_analysis(name, df, df.attrs.get("summary"), extras)


def _png_files(section, name):
    """``(path, bytes)`` of the PNG files under the section's folder: its figure first.

    Job caches, hidden folders, links and subfolders that are results
    folders of their own (a ``config.json``: they get their own section) are
    skipped; a damaged file or one that is not a PNG becomes a warning, never
    a broken image on the page.
    """
    folder = section.folder
    found = []
    for path in sorted(folder.rglob("*.png"), key=lambda p: (p.name != f"{name}.png",
                                                            len(p.parts), str(p))):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p == "jobs" for p in parts) or path.is_symlink() \
                or any((folder.joinpath(*parts[:i]) / "config.json").is_file()
                       for i in range(1, len(parts))):
            continue
        data = _read_png(path)
        if data is None:
            section.warnings.append(f"{_relative(path, folder)} is not a readable PNG image: "
                                    "left out of the page")
        else:
            found.append((path, data))
    return found


def _read_png(path):
    """The file's bytes when it is a whole PNG image (Pillow decodes it), else None."""
    import io

    from PIL import Image

    try:
        data = Path(path).read_bytes()
        if not data.startswith(_PNG):
            return None
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every row: a truncated file fails here
    except (OSError, ValueError, SyntaxError):  # SyntaxError: Pillow's "broken PNG file"
        return None
    return data


# ------------------------------------------------------------------ a training folder
def training_section(folder, root):
    """The :class:`Section` of one training folder (``metrics.json``, ``ranks.csv``)."""
    import pandas as pd

    folder = Path(folder)
    section = Section(f"train — {_relative(folder, root)}", "training", folder)
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        ranks = pd.read_csv(folder / "ranks.csv")
        config = json.loads((folder / "config.json").read_text())
        if not isinstance(metrics, dict) or "rank" not in ranks:
            raise ValueError("metrics.json is not an object or ranks.csv has no rank column")
        history = pd.read_csv(folder / "history.csv") if (folder / "history.csv").is_file() \
            else None
    except (ValueError, OSError) as err:
        section.warnings.append(f"the folder could not be read: {_one_line(err)}")
        return section
    section.warnings = training_warnings(metrics, ranks)
    parts = [_training_figure(section, history, ranks, metrics)]
    shown = {k: metrics[k] for k in _METRICS if k in metrics}
    parts.append(_block("Metrics (metrics.json)", _key_values(shown, section)))
    parts.append(_block("Provenance", _key_values(
        {k: metrics[k] for k in _PROVENANCE if k in metrics}, section)))
    parts.append(f"<details><summary>Settings (config.json, {len(config)} keys)</summary>"
                 f"{_key_values(_settings(config), section)}</details>")
    parts.append(_files_block(folder, section))
    section.body = "".join(parts)
    return section


def _training_figure(section, history, ranks, metrics):
    from .viz.training import plot_training

    n_way = int(metrics.get("n_way") or len(ranks))
    shown = [_figure(data, _relative(path, section.folder))
             for path, data in _png_files(section, "train")]
    png = _draw(section, lambda: plot_training(history, ranks, n_way)) if len(ranks) else None
    if png is not None:
        shown.insert(0, _figure(png, "loss per epoch (history.csv) and top-k accuracy over k "
                                     "(ranks.csv), drawn for this report"))
    section.n_figures = len(shown)
    return _block("Figures", "".join(shown)) if shown else ""


def training_warnings(metrics, ranks):
    """Warnings on one trained model: top-1 not above chance, metrics.json and ranks.csv apart."""
    from scipy.stats import binomtest

    n, n_way = len(ranks), metrics.get("n_way")
    if not n or not n_way:
        return ["ranks.csv is empty or metrics.json has no n_way: the accuracy cannot be tested"]
    hits = int((ranks["rank"] == 1).sum())
    warnings = []
    p = binomtest(hits, n, 1 / n_way, alternative="greater").pvalue
    if p >= ALPHA:
        warnings.append(f"top-1 {hits / n:.1%} is not above chance ({1 / n_way:.1%}, "
                        f"{n_way}-way): exact binomial p = {p:.3g} over {n} test items")
    top1 = metrics.get("top1")
    if isinstance(top1, (int, float)) and abs(top1 - hits / n) > 1e-6:
        warnings.append(f"metrics.json says top-1 {top1:.4g} but ranks.csv gives {hits / n:.4g} "
                        f"({hits} of {n} ranked first): the files are not from one run")
    return warnings


# ------------------------------------------------------------------ weak statistics
def data_warnings(config):
    """Warnings on what an analysis ran on (the built-in simulated data)."""
    if config.get("builtin_data"):
        return ["computed on the built-in simulated dataset, not on recorded EEG: for trying "
                "the tool, not for conclusions"]
    return []


def summary_warnings(summary):
    """Warnings where a summary table's statistics are weak.

    Parameters
    ----------
    summary : pandas.DataFrame | None
        ``summary.csv`` of an analysis (one row per condition).

    Returns
    -------
    list of str
        Fewer than :data:`MIN_SUBJECTS` subjects, zero-variance tests,
        p-values of exactly 0 or missing, accuracies at chance, and each
        ``reason`` the table gives.
    """
    if summary is None or not len(summary):
        return ["no summary table (summary.csv): nothing was tested across subjects"]
    labels = _row_labels(summary)
    return (_subject_warnings(summary) + _zero_variance_warnings(summary, labels)
            + _p_value_warnings(summary, labels) + _chance_warnings(summary, labels)
            + _reason_warnings(summary, labels))


def _row_labels(summary):
    if "condition" in summary and summary["condition"].is_unique:  # it names each row alone
        return [str(c) for c in summary["condition"]]
    cols = [c for c in _LABEL_COLUMNS if c in summary]
    if not cols:
        return [f"row {i + 1}" for i in range(len(summary))]
    return [" ".join(str(v) for v in row) for row in summary[cols].itertuples(index=False)]


def _listed(labels, mask):
    chosen = [lab for lab, m in zip(labels, mask, strict=True) if m]
    return ", ".join(chosen[:8]) + (f" and {len(chosen) - 8} more" if len(chosen) > 8 else "")


def _subject_warnings(summary):
    if "n_subjects" not in summary:
        return []
    n = int(summary["n_subjects"].min())
    if n >= MIN_SUBJECTS:
        return []
    if n == 1:
        return ["1 subject: no test across subjects is possible; p_chance is that subject's "
                "exact binomial test and the bootstrap interval has zero width"]
    return [f"only {n} subjects: tests across subjects (t-tests, their FDR correction, Cohen's "
            f"d_z, bootstrap intervals) need at least {MIN_SUBJECTS} to mean much; read each "
            "subject's exact binomial test (p_binomial in results.csv)"]


def _zero_variance_warnings(summary, labels):
    if "sem" not in summary or "n_subjects" not in summary:
        return []
    several = summary["n_subjects"] >= 2
    warnings = []
    flat = several & (summary["sem"] == 0)
    if flat.any():
        warnings.append(f"every subject scored the same in {_listed(labels, flat)} (SEM 0): a "
                        "t-test across subjects is undefined there")
    if {"diff_ci_low", "diff_ci_high"} <= set(summary):
        same = several & (summary["diff_ci_low"] == summary["diff_ci_high"])
        if same.any():
            warnings.append("every subject differs from the reference by the same amount in "
                            f"{_listed(labels, same)}: the paired test there has zero variance")
    return warnings


def _p_value_warnings(summary, labels):
    warnings = []
    reason = _reasons(summary)
    for col in (c for c in _P_COLUMNS if c in summary):
        p = summary[col]
        zero = p == 0
        if zero.any():
            warnings.append(f"{col} is exactly 0 in {_listed(labels, zero)}: a zero-variance "
                            "test, not overwhelming evidence")
        expected = _no_test_expected(summary, col)
        missing = p.isna() & ~expected & (reason == "")
        if missing.any():
            warnings.append(f"{col} is missing (NaN) in {_listed(labels, missing)}")
    return warnings


def _no_test_expected(summary, col):
    """Rows where ``col`` is empty by design: the reference itself has no paired test."""
    import pandas as pd

    for stem in ("reference", "previous"):
        if stem in col:
            diff = f"diff_vs_{stem}"
            if diff in summary:
                return summary[diff].isna()
            return pd.Series(True, index=summary.index)
    return pd.Series(False, index=summary.index)


def _chance_warnings(summary, labels):
    if not {"mean", "chance"} <= set(summary) or "unit" in summary:  # timefreq: dB, no chance
        return []
    warnings = []
    below = summary["mean"] <= summary["chance"]
    if below.all():
        warnings.append("every condition is at or below chance (mean ≤ chance)")
    elif below.any():
        warnings.append(f"at or below chance (mean ≤ chance): {_listed(labels, below)}")
    col = next((c for c in ("p_chance_fdr", "p_chance") if c in summary), None)
    if col is not None and not below.all() and not (summary[col] < ALPHA).any():
        warnings.append(f"no condition is above chance ({col} ≥ {ALPHA} everywhere): the "
                        "differences between conditions in the figure may be noise")
    return warnings


def _reasons(summary):
    import pandas as pd

    if "reason" not in summary:
        return pd.Series("", index=summary.index)
    return summary["reason"].fillna("").astype(str).str.strip()


def _reason_warnings(summary, labels):
    reason = _reasons(summary)
    return [f"{text} ({_listed(labels, reason == text)})"
            for text in dict.fromkeys(r for r in reason if r)]


# ------------------------------------------------------------------ HTML
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header,nav,section{max-width:1100px;margin:0 auto;padding:12px 24px}
header{border-bottom:1px solid #ddd;background:#fff}
section{background:#fff;margin:16px auto;border:1px solid #e2e2e2;border-radius:4px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:8px 0;border-bottom:1px solid #eee}
h3{font-size:15px;margin:14px 0 6px}
code{background:#f2f2f2;padding:0 3px;border-radius:2px}
.note{color:#555;font-size:13px}
.warnings{background:#fff4e5;border-left:4px solid #e69f00;padding:6px 12px;margin:8px 0}
.warnings ul{margin:4px 0;padding-left:20px}
.ok{background:#eef7f1;border-left:4px solid #009e73;padding:6px 12px;margin:8px 0}
.badge{display:inline-block;background:#e69f00;color:#fff;border-radius:8px;padding:0 7px;
font-size:12px}
figure{margin:8px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#555}
table{border-collapse:collapse;font-size:12px;margin:4px 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td.key,th.key{text-align:left}td.text{text-align:left;white-space:normal}
details{margin:6px 0}summary{cursor:pointer}
"""


def render_page(root, sections):
    """The whole HTML page of ``sections`` (no script, no external resource)."""
    from ._version import __version__

    n_warn = sum(len(s.warnings) for s in sections)
    counts = (f"{sum(s.kind == 'analysis' for s in sections)} analysis folder(s), "
              f"{sum(s.kind == 'training' for s in sections)} training folder(s), "
              f"{n_warn} warning(s)")
    head = (f"<header><h1>eegvision report</h1><p>Results folder <code>{_esc(root)}</code>: "
            f"{counts}. Written by eegvision {_esc(__version__)} on {_now()}.</p>"
            "<p class='note'>Accuracies are fractions (0.156 = 15.6 %); chance top-1 is "
            "1 / n_way. Warnings mark statistics to read with care; the tables are the "
            "folders' own CSV files.</p></header>")
    toc = "".join(f"<li><a href='#s{i}'>{_esc(s.title)}</a>{_badge(s)}</li>"
                  for i, s in enumerate(sections, 1))
    body = "".join(_section_html(i, s) for i, s in enumerate(sections, 1))
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>eegvision report: {_esc(root)}</title><style>{_CSS}</style></head><body>"
            f"{head}<nav><h2>Contents</h2><ul>{toc}</ul></nav>{body}</body></html>\n")


def _section_html(i, section):
    if section.warnings:
        items = "".join(f"<li>{_esc(w)}</li>" for w in section.warnings)
        box = f"<div class='warnings'><strong>Read with care</strong><ul>{items}</ul></div>"
    else:
        box = "<div class='ok'>No warning on these statistics.</div>"
    return (f"<section id='s{i}' class='{section.kind}'><h2>{_esc(section.title)}</h2>"
            f"<p class='note'>Folder <code>{_esc(section.folder)}</code></p>{box}"
            f"{section.body}</section>")


def _badge(section):
    n = len(section.warnings)
    return f" <span class='badge'>{n} warning{'s' * (n != 1)}</span>" if n else ""


def _block(title, content):
    return f"<h3>{_esc(title)}</h3>{content}" if content else ""


def _figure(png, caption):
    data = base64.b64encode(png).decode("ascii")
    width = _display_width(png)
    size = f" style='width:{width}px'" if width else ""
    return (f"<figure><img src='data:image/png;base64,{data}' alt='{_esc(caption)}'{size}>"
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _display_width(png):
    """CSS width that keeps a figure's printed size (1.5 px per point of 1/96 in), or None.

    A 300-dpi single-column figure is then drawn half as wide as a
    double-column one, as in the journal, instead of both filling the page.
    """
    import struct

    width = struct.unpack(">I", png[16:20])[0] if len(png) >= 24 else 0
    at = png.find(b"pHYs", 0, 4096)  # matplotlib writes it before the image data
    if not width or at < 0 or len(png) < at + 13 or png[at + 12] != 1:  # 1: per metre
        return None
    dpi = struct.unpack(">I", png[at + 4:at + 8])[0] * 0.0254
    return round(width / dpi * 144) if dpi > 0 else None


def _table(df, section, max_rows=_MAX_ROWS):
    """``df`` as an HTML table (escaped; numbers to 4 significant digits; NaN as n/a)."""
    section.n_tables += 1
    shown = df.head(max_rows)
    table = shown.to_html(index=False, escape=True, na_rep="n/a", border=0,
                          float_format=lambda v: f"{v:.4g}")
    more = len(df) - len(shown)
    return table + (f"<p class='note'>{more} more row(s) in the file.</p>" if more > 0 else "")


def _extra_tables(extras, section):
    """The analysis' small extra tables in full; the large ones by name and size."""
    small, large = [], []
    for name, table in extras.items():
        if not hasattr(table, "to_html"):
            continue
        if len(table) <= _SMALL_TABLE:  # the shortest (cluster p-values, RSA summary) open
            state = " open" if len(table) <= _OPEN_TABLE else ""
            small.append(f"<details{state}><summary><code>{_esc(name)}.csv</code> "
                         f"({len(table)} rows)</summary>{_table(table, section)}</details>")
        else:
            large.append(f"<code>{_esc(name)}.csv</code> ({len(table)} rows × "
                         f"{table.shape[1]} columns)")
    if large:
        small.append(f"<p class='note'>In the folder: {', '.join(large)}.</p>")
    return _block("Other tables", "".join(small))


def _key_values(mapping, section):
    if not mapping:
        return ""
    section.n_tables += 1
    rows = "".join(f"<tr><td class='key'>{_esc(k)}</td><td class='text'>{_esc(_value(v))}"
                   "</td></tr>" for k, v in mapping.items())
    return f"<table class='kv'><tbody>{rows}</tbody></table>"


def _value(value):
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, default=str)
        return text if len(text) <= 400 else text[:400] + " …"
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return "n/a" if value is None else str(value)


def _settings(config):
    """config.json with the list of job hashes shortened to its length."""
    shown = dict(config)
    if isinstance(shown.get("job_hashes"), list):
        shown["job_hashes"] = f"{len(shown['job_hashes'])} jobs (cache keys in config.json)"
    return shown


def _provenance(df):
    """Each provenance column of results.csv with its distinct values."""
    shown = {}
    for col in (c for c in _PROVENANCE if c in df):
        values = [str(v) for v in df[col].dropna().unique()]
        shown[col] = "; ".join(values[:4]) + (f" (+{len(values) - 4} more)"
                                              if len(values) > 4 else "")
    return shown


def _files_block(folder, section):
    """The folder's files and whether each is still what eegvision wrote (its manifest)."""
    from ._outdir import read_manifest

    folder = Path(folder)
    manifest = read_manifest(folder)
    rows = []
    for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
        if path.is_file() and not path.is_symlink():
            rows.append(f"<tr><td class='key'>{_esc(path.name)}</td><td>{path.stat().st_size:,}"
                        f"</td><td class='text'>{_esc(_file_status(folder, path.name, manifest))}"
                        "</td></tr>")
    if not rows:
        return ""
    section.n_tables += 1
    head = "<tr><th class='key'>file</th><th>bytes</th><th class='key'>status</th></tr>"
    return (f"<details><summary>Files ({len(rows)})</summary><table><thead>{head}</thead>"
            f"<tbody>{''.join(rows)}</tbody></table></details>")


def _file_status(folder, name, manifest):
    from ._outdir import owns

    if manifest is None or name not in manifest.files:
        return "not listed in .eegvision-outputs.json (not written by eegvision, or by an older one)"
    if owns(folder, name, manifest):
        return f"written by `eegvision {manifest.command}`, unchanged since"
    return f"changed since `eegvision {manifest.command}` wrote it"


def _draw(section, plot):
    """PNG bytes of the figure ``plot()`` returns; a failure becomes the section's warning."""
    import io

    import matplotlib.pyplot as plt

    from ._style import style

    try:  # a report must survive one figure that cannot be drawn; it says so instead
        fig = plot()
        buf = io.BytesIO()
        with style():
            fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
        plt.close(fig)
    except Exception as err:  # noqa: BLE001
        section.warnings.append(f"no figure: drawing it failed ({type(err).__name__}: "
                                f"{_one_line(err)})")
        return None
    return buf.getvalue()


def _relative(path, root):
    try:
        rel = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
    return "./" if rel == "." else rel + ("/" if Path(path).is_dir() else "")


def _one_line(err):
    return " ".join(part.strip() for part in str(err).splitlines() if part.strip())


def _esc(value):
    return html.escape(str(value), quote=True)


def _now():
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


__all__ = ["ALPHA", "COMMAND", "MIN_SUBJECTS", "REPORT_NAME", "Report", "Section",
           "analysis_section", "data_warnings", "render_page", "report", "summary_warnings",
           "training_section", "training_warnings"]
