"""Per-subject accuracy tables for papers: one row per subject, mean ± SEM at the foot.

No ``tabulate`` needed: the Markdown and LaTeX writers here are small and
exact (booktabs rules for LaTeX).
"""

from __future__ import annotations

import numpy as np

#: Names of the summary rows of :func:`accuracy_table`.
MEAN_ROW, SEM_ROW = "mean", "sem"


def _columns(df):
    """Column key -> per-subject mean over seeds, for one results table."""
    analysis = str(df["analysis"].iloc[0]) if "analysis" in df else "results"
    out = {}
    if analysis == "train" or "condition" not in df:
        model_col = "model" if "model" in df else None
        groups = df.groupby(model_col) if model_col else [(analysis, df)]
        for model, part in groups:
            for value, name in (("top1", "top-1"), ("top5", "top-5")):
                if value in part:
                    out[(str(model), name)] = part.groupby("subject")[value].mean()
        return out
    for cond in dict.fromkeys(df["condition"]):
        part = df[df["condition"] == cond]
        out[(analysis, str(cond))] = part.groupby("subject")["top1"].mean()
    return out


def accuracy_table(dfs):
    """Per-subject accuracies of several results tables side by side.

    Parameters
    ----------
    dfs : DataFrame | list of DataFrame | dict of str -> DataFrame
        Tidy results (``results.csv`` of an analysis: ``analysis, subject,
        condition, top1``; or of training runs: ``subject, model, top1,
        top5``). Analyses give one column per condition (top-1); training
        runs give top-1 and top-5 per model. With a dict, its keys replace
        the ``analysis`` names.

    Returns
    -------
    DataFrame
        Fractions; index: the subjects, then ``'mean'`` and ``'sem'`` (SEM
        across subjects, NaN with one subject); columns: a two-level index
        (analysis or model, condition or metric). Seeds are averaged first.
    """
    import pandas as pd

    if hasattr(dfs, "columns"):
        dfs = [dfs]
    items = dfs.items() if isinstance(dfs, dict) else [(None, d) for d in dfs]
    cols = {}
    for name, df in items:
        if df is None or len(df) == 0:
            continue
        is_train = "condition" not in df or ("analysis" in df and df["analysis"].iloc[0] == "train")
        for (group, sub), series in _columns(df).items():
            # training runs keep their model names as column groups
            cols[(group if is_train or not name else name, sub)] = series
    if not cols:
        raise ValueError("accuracy_table: no results to tabulate (every table was empty).")
    table = pd.DataFrame(cols)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["analysis", "condition"])
    table.index = [int(s) for s in table.index]
    table = table.sort_index()
    n = table.notna().sum()
    sem = table.std(ddof=1) / np.sqrt(n)
    sem[n < 2] = np.nan
    foot = pd.DataFrame([table.mean(), sem], index=[MEAN_ROW, SEM_ROW])
    out = pd.concat([table, foot])
    out.index.name = "subject"
    return out


def _cells(table, decimals):
    """Header pairs and rows of display strings (percent; mean ± SEM merged)."""
    def pct(v):
        return "–" if not np.isfinite(v) else f"{100 * v:.{decimals}f}"

    subjects = [i for i in table.index if i not in (MEAN_ROW, SEM_ROW)]
    rows = [[f"sub-{int(s):02d}"] + [pct(v) for v in table.loc[s]] for s in subjects]
    if MEAN_ROW in table.index:
        means = table.loc[MEAN_ROW]
        sems = table.loc[SEM_ROW] if SEM_ROW in table.index else means * np.nan
        foot = [f"{pct(m)} ± {pct(e)}" if np.isfinite(e) else pct(m)
                for m, e in zip(means, sems, strict=True)]
        rows.append(["mean ± SEM"] + foot)
    return list(table.columns), rows


def to_markdown(table, *, decimals=1, caption=None):
    """GitHub Markdown of :func:`accuracy_table` (top-1 in %, mean ± SEM last).

    Headers read ``analysis: condition``.
    """
    cols, rows = _cells(table, decimals)
    header = ["subject"] + [f"{a}: {c}" for a, c in cols]
    lines = []
    if caption:
        lines += [caption, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join([":---"] + ["---:"] * len(cols)) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


def _tex(text):
    text = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    return text.replace("±", r"$\pm$").replace("–", "--").replace("\u2212", "$-$")


def to_latex(table, *, decimals=1, caption=None, label=None):
    """LaTeX ``tabular`` (booktabs) of :func:`accuracy_table`, one column group per analysis."""
    cols, rows = _cells(table, decimals)
    groups = []  # (name, first column, n columns)
    for j, (a, _) in enumerate(cols):
        if groups and groups[-1][0] == a:
            groups[-1][2] += 1
        else:
            groups.append([a, j, 1])
    lines = []
    if caption or label:
        lines += [r"\begin{table}", r"\centering"]
        if caption:
            lines.append(rf"\caption{{{_tex(caption)}}}")
        if label:
            lines.append(rf"\label{{{label}}}")
    lines.append(r"\begin{tabular}{l" + "r" * len(cols) + "}")
    lines.append(r"\toprule")
    lines.append(" & ".join([""] + [rf"\multicolumn{{{n}}}{{c}}{{{_tex(a)}}}"
                                    for a, _, n in groups]) + r" \\")
    lines.append(" ".join(rf"\cmidrule(lr){{{j + 2}-{j + n + 1}}}" for _, j, n in groups))
    lines.append(" & ".join(["subject"] + [_tex(c) for _, c in cols]) + r" \\")
    lines.append(r"\midrule")
    for i, r in enumerate(rows):
        if r[0] == "mean ± SEM" and i:
            lines.append(r"\midrule")
        lines.append(" & ".join(_tex(v) for v in r) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption or label:
        lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


__all__ = ["accuracy_table", "to_latex", "to_markdown"]
