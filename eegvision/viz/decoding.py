"""Decoding accuracy across conditions: windows, regions, bands.

Every figure shows the across-subject mean with a 95 % interval, each
subject, the chance level, and significance computed from the results table
(never placed by hand): stars above chance (one-sided t across subjects,
FDR) or against the reference model (paired t, FDR), and for the
time-resolved curve the cluster-corrected spans.
"""

from __future__ import annotations

import numpy as np

from ._style import CHANCE_COLOR, PALETTE, new_figure, panel_label, percent_axis, style

#: What identifies a source region (the spatial figures' caption).
CRITERION = ("source = highest accuracy alone ('only', searchlight); 'drop' can mislead: "
             "volume conduction leaves copies on the neighbours")


def _stars(p):
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def _finite(summary, column):
    """True where ``summary`` has ``column`` with at least one finite value."""
    return (summary is not None and column in summary
            and bool(np.isfinite(summary[column].to_numpy(float)).any()))


def chance_test(summary):
    """``(column, words)``: the test behind the marks against chance on a figure.

    The t-test across subjects (FDR) where the summary has one; with too few
    subjects (or no spread) the trial-level fallback, every subject's exact
    binomial test (``p_binomial``, FDR), and the words say so; ``(None, ...)``
    when neither exists.
    """
    if _finite(summary, "p_chance_fdr"):
        return "p_chance_fdr", "above chance (t across subjects, FDR)"
    if _finite(summary, "p_binomial_fdr"):
        return ("p_binomial_fdr", "every subject above chance (binomial, trial level, FDR; "
                "too few subjects for a t-test)")
    return None, "no test against chance"


def small_n_note(summary, n):
    """What the figure cannot show at ``n`` subjects ('' when nothing is missing)."""
    from ..analysis.stats import MIN_SUBJECTS

    if summary is None or "ci_low" not in summary or _finite(summary, "ci_low"):
        return ""
    return f"no 95% CI (needs {MIN_SUBJECTS['bootstrap']}+ subjects)" if n < MIN_SUBJECTS[
        "bootstrap"] else "no 95% CI"


def _per_subject(df, value="top1"):
    """Condition x subject table of ``value`` averaged over seeds (condition order kept)."""
    order = list(dict.fromkeys(df["condition"]))
    wide = df.groupby(["condition", "subject"])[value].mean().unstack("subject")
    return wide.loc[order]


def _chance(df):
    return 1.0 / float(df["n_way"].iloc[0])


def _accuracy_label(df, value="top1"):
    k = value.replace("top", "top-")
    n_way = int(df["n_way"].iloc[0]) if "n_way" in df and len(df) else None
    return f"{k} accuracy ({n_way}-way)" if n_way else f"{k} accuracy"


def _label_chance(ax, chance):
    """Dashed chance line, labelled just outside the right edge (never over data)."""
    ax.axhline(chance, color=CHANCE_COLOR, ls="--", lw=0.8, zorder=2)
    ax.annotate("chance", xy=(1.0, chance), xycoords=("axes fraction", "data"),
                xytext=(2, 0), textcoords="offset points", color=CHANCE_COLOR, fontsize=5.5,
                ha="left", va="center", annotation_clip=False)


def bootstrap_band(wide, *, n_boot=2000, ci=0.95, seed=0):
    """Percentile bootstrap interval of the mean over the columns of ``wide``, per row.

    Parameters
    ----------
    wide : array, shape (n_points, n_subjects)

    Returns
    -------
    low, high : arrays of shape (n_points,); NaN with fewer subjects than
        :data:`eegvision.analysis.stats.MIN_SUBJECTS` ``['bootstrap']`` (below
        that the percentile interval is the subjects' range, not 95 %).
    """
    from ..analysis.stats import MIN_SUBJECTS

    x = np.asarray(wide, dtype=float)
    if x.shape[1] < MIN_SUBJECTS["bootstrap"]:
        nan = np.full(x.shape[0], np.nan)
        return nan, nan.copy()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.shape[1], (n_boot, x.shape[1]))
    means = x[:, idx].mean(axis=2)  # (n_points, n_boot)
    alpha = (1 - ci) / 2
    return np.quantile(means, alpha, axis=1), np.quantile(means, 1 - alpha, axis=1)


def plot_conditions(df, summary=None, *, ax=None, reference=None, xlabel="", title=None,
                    order=None, value="top1", labels=None, mark="chance", note=True):
    """Bars of the across-subject mean with 95 % CI, subject points, chance line, stars.

    Parameters
    ----------
    df : DataFrame
        Tidy results (``condition, subject, n_way`` and ``value``).
    summary : DataFrame | None
        :func:`eegvision.analysis.stats.summarize` output; without it, no
        intervals or stars.
    ax : matplotlib Axes | None
    reference : str | None
        Condition drawn in grey (the model the others are compared with).
    order : list of str | None
        Conditions to show, in order.
    labels : dict | None
        Tick label per condition (default: the condition name).
    mark : 'chance' | 'reference'
        What the stars test: above chance (FDR over conditions) or different
        from ``reference`` (paired t across subjects, FDR).
    note : bool
        Write what the stars mean under the axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    wide = _per_subject(df, value)
    if order is not None:
        wide = wide.loc[[c for c in order if c in wide.index]]
    if ax is None:
        fig, ax = new_figure("single")
    fig = ax.figure
    x = np.arange(len(wide))
    means = wide.mean(axis=1).to_numpy()
    labels = labels or {}
    with style():
        colors = ["0.55" if c == reference else PALETTE[0] for c in wide.index]
        ax.bar(x, means, color=colors, alpha=0.45, width=0.7, zorder=1)
        s = None
        if summary is not None:
            s = summary.set_index("condition").reindex(wide.index)
            ok = np.isfinite(s["ci_low"].to_numpy(float)) & np.isfinite(s["ci_high"].to_numpy(float))
            if ok.any():  # no bar where the summary has no interval (too few subjects)
                yerr = np.vstack([means - s["ci_low"].to_numpy(float),
                                  s["ci_high"].to_numpy(float) - means])[:, ok]
                ax.errorbar(x[ok], means[ok], yerr=np.clip(yerr, 0, None), fmt="none",
                            ecolor="k", elinewidth=0.8, capsize=2, zorder=3)
        rng = np.random.default_rng(0)  # deterministic jitter of subject points
        for subject in wide.columns:
            jitter = rng.uniform(-0.18, 0.18, len(x))
            ax.scatter(x + jitter, wide[subject].to_numpy(), s=7, facecolor="white",
                       edgecolor="k", linewidths=0.5, zorder=4)
        chance = _chance(df)
        _label_chance(ax, chance)
        top = max(np.nanmax(wide.to_numpy()), chance) * 1.08
        if s is not None:
            column, what = _mark_test(s, mark, reference)
            untested = False
            for xi, cond in zip(x, wide.index, strict=True):
                if mark == "reference" and cond == reference:
                    text = "ref."
                else:
                    text = _stars(s.loc[cond].get(column, np.nan)) if column else ""
                    if column and not text:  # this condition has no test: say so, not blank
                        text, untested = "n/a", True
                ax.text(xi, top, text, ha="center", va="bottom", fontsize=6)
            if note:
                n = wide.shape[1]
                lines = [f"n = {n} subject{'s' if n != 1 else ''}; "
                         + (f"stars: {what}" if column else what)
                         + ("; n/a: not testable (summary.csv: reason)" if untested else "")]
                lines += [t for t in (small_n_note(s, n),) if t]
                ax.text(0.0, 1.0, "\n".join(lines), transform=ax.transAxes, fontsize=5,
                        color="0.35", ha="left", va="bottom", linespacing=1.1)
        ax.set_ylim(0, top * 1.14)
        ax.set_xlim(-0.6, len(x) - 0.4)
        ticks = [str(labels.get(c, c)) for c in wide.index]
        size = 5.5 if any("\n" in t for t in ticks) else 6
        tilt = _tick_chars(ticks) * 0.55 * size > _slot_points(ax, len(x))
        ax.set_xticks(x, ticks, rotation=35 if tilt else 0, ha="right" if tilt else "center",
                      rotation_mode="anchor" if tilt else "default", fontsize=size)
        ax.tick_params(axis="x", length=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(_accuracy_label(df, value))
        percent_axis(ax)
        if title:  # above the note's lines
            lines = 1 + bool(small_n_note(s, wide.shape[1])) if note and s is not None else 0
            ax.set_title(title, pad=4 + 7 * lines)
    return fig


def _mark_test(s, mark, reference):
    """``(column, words)`` of the stars: against chance, or against ``reference``."""
    if mark != "reference":
        return chance_test(s)
    if _finite(s, "p_vs_reference_fdr"):
        return "p_vs_reference_fdr", f"vs {reference} (paired t, FDR)"
    return None, (f"no paired t-test vs {reference} (too few subjects or no spread; "
                  "summary.csv: reason)")


def _tick_chars(ticks):
    """Characters in the longest line of any tick label."""
    return max((len(line) for t in ticks for line in t.split("\n")), default=0)


def _slot_points(ax, n):
    """Width (points) available to each of ``n`` tick labels along the x axis."""
    fig_w = ax.figure.get_size_inches()[0] * 72
    return fig_w * ax.get_position().width * 0.95 / max(n, 1)


def _legend_below(ax):
    """Legend in rows under the x label: it never covers the data."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncols=min(3, max(1, len(labels))), handlelength=1.5, columnspacing=1.2)


def _window_layout(sweep):
    """x position and axis label of each window: centre (sliding), end or start."""
    lo, hi = sweep["tmin_ms"], sweep["tmax_ms"]
    if lo.nunique() == 1 and hi.nunique() > 1:
        return hi, f"window end (ms); windows [{lo.iloc[0]:g}, t]", "cumulative"
    if hi.nunique() == 1 and lo.nunique() > 1:
        return lo, f"window start (ms); windows [t, {hi.iloc[0]:g}]", "tail"
    widths = (hi - lo).unique()
    kind = f"{widths[0]:g}-ms windows" if len(widths) == 1 else "windows"
    return (lo + hi) / 2, f"window centre (ms); {kind}", "sliding"


def plot_window_sweep(df, summary=None, *, ax=None, value="top1", legend=True):
    """Accuracy of the model retrained on each time window (one panel).

    Subjects as thin grey lines, the mean with its bootstrap 95 % CI, the
    whole-epoch model and chance as horizontal lines; windows above chance
    (FDR) are marked by a bar spanning the window (sliding) or a square.
    """
    from .._utils import logger

    if ax is None:
        fig, ax = new_figure("single", height=2.3)
    sweep = df[df["condition"] != "full"].copy()
    if sweep.empty:
        logger.warning("No windows to plot")
        return ax.figure
    x, xlabel, kind = _window_layout(sweep)
    sweep = sweep.assign(x=x)
    wide = sweep.groupby(["x", "subject"])[value].mean().unstack("subject").sort_index()
    xs = wide.index.to_numpy()
    mean = wide.mean(axis=1).to_numpy()
    chance = _chance(df)
    with style():
        for i, subject in enumerate(wide.columns):
            ax.plot(xs, wide[subject], color="0.72", lw=0.5, zorder=1,
                    label="subjects" if i == 0 and wide.shape[1] > 1 else None)
        ax.plot(xs, mean, color=PALETTE[0], marker="o", ms=2.5, zorder=3, label="mean")
        if summary is not None:
            s = summary.set_index("condition")
            first = sweep.drop_duplicates("x").set_index("x")
            conds = first.loc[xs, "condition"]
            lo, hi = s.loc[conds, "ci_low"].to_numpy(), s.loc[conds, "ci_high"].to_numpy()
            if np.isfinite(lo).all() and (hi > lo).any():
                ax.fill_between(xs, lo, hi, color=PALETTE[0], alpha=0.2, lw=0, label="95% CI")
            elif small_n_note(s, wide.shape[1]):  # said in the legend, under the axes
                ax.plot([], [], " ", label=small_n_note(s, wide.shape[1]))
            if "full" in s.index and value == "top1":
                ax.axhline(s.loc["full", "mean"], color=PALETTE[1], lw=0.9, zorder=2,
                           label="whole epoch")
                ax.set_ylim(top=max(ax.get_ylim()[1], 1.08 * s.loc["full", "mean"]))
            column, _ = chance_test(s)
            sig = (s.loc[conds, column].to_numpy(float) < 0.05 if column
                   else np.zeros(len(conds), bool))
            marks = ("p < .05 (FDR)" if column == "p_chance_fdr"
                     else "every subject p < .05 (binomial, FDR)")
            ybar = -0.05 * max(np.nanmax(wide.to_numpy()), chance)
            if sig.any():
                if kind == "sliding":
                    w = first.loc[xs, "tmax_ms"].to_numpy() - first.loc[xs, "tmin_ms"].to_numpy()
                    for xi, wi in zip(xs[sig], w[sig], strict=True):
                        ax.plot([xi - 0.45 * wi, xi + 0.45 * wi], [ybar, ybar], color="k",
                                lw=2.2, solid_capstyle="butt")
                    ax.plot([], [], color="k", lw=2.2, label=marks)
                else:
                    ax.scatter(xs[sig], np.full(sig.sum(), ybar), marker="s", s=8, color="k",
                               label=marks)
            ax.set_ylim(bottom=2 * ybar)
        _label_chance(ax, chance)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(_accuracy_label(df, value))
        percent_axis(ax)
        if legend:
            _legend_below(ax)
    return ax.figure


def plot_timecourse(tc, clusters=None, *, ax=None, chance=None, n_way=None, value="top1",
                    alpha=0.05, legend=True):
    """Time-resolved decoding: subject mean, bootstrap 95 % CI, chance, cluster-corrected spans.

    With fewer subjects than the interval needs
    (:data:`~eegvision.analysis.stats.MIN_SUBJECTS`), each subject is drawn
    instead of a band, and the legend says why.

    Parameters
    ----------
    tc : DataFrame
        ``subject, time_ms, top1`` (the ``timecourse`` table of the temporal
        analysis).
    clusters : DataFrame | None
        ``start_ms, stop_ms, p`` (cluster permutation test against chance);
        clusters with ``p < alpha`` are drawn as bars under the curve.
    chance : float | None
        Chance level; default ``1 / n_way``.
    n_way : int | None
        Candidates per retrieval; default the table's ``n_way`` column or
        ``tc.attrs['n_way']`` (the preview sets it).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    if ax is None:
        fig, ax = new_figure("single", height=2.3)
    n_way = n_way or _table_n_way(tc)
    chance = chance if chance is not None else (1.0 / n_way if n_way else None)
    wide = tc.pivot_table(index="time_ms", columns="subject", values=value)
    t = wide.index.to_numpy()
    mean = wide.mean(axis=1).to_numpy()
    with style():
        _timecourse_spread(ax, t, wide)
        ax.plot(t, mean, color=PALETTE[2], lw=1.0, zorder=3,
                label=f"mean of {wide.shape[1]}" if wide.shape[1] > 1 else "ridge")
        if chance is not None:
            _label_chance(ax, chance)
        ax.axvline(0, color="0.6", lw=0.5, zorder=0)
        y = -0.06 * max(np.nanmax(mean), chance or 0)
        _cluster_bars(ax, t, clusters, y, alpha, wide.shape[1])
        ax.set_ylim(bottom=2 * y)
        ax.set_xlabel("time (ms)")
        ylabel = f"{value.replace('top', 'top-')} accuracy"
        ax.set_ylabel(f"{ylabel} ({n_way}-way)" if n_way else ylabel)
        percent_axis(ax)
        if legend:
            _legend_below(ax)
    return ax.figure


def _table_n_way(tc):
    """``n_way`` of a time-course table: its column, else its ``attrs`` (None if neither)."""
    if "n_way" in tc and len(tc):
        return int(tc["n_way"].iloc[0])
    n = tc.attrs.get("n_way")
    return int(n) if n else None


def _timecourse_spread(ax, t, wide):
    """The bootstrap band, or each subject's curve where there are too few for a band."""
    lo, hi = bootstrap_band(wide.to_numpy())
    if np.isfinite(lo).all():
        ax.fill_between(t, lo, hi, color=PALETTE[2], alpha=0.25, lw=0, label="95% CI")
        return
    for i, subject in enumerate(wide.columns):
        ax.plot(t, wide[subject], color="0.72", lw=0.5, zorder=1,
                label="subjects" if i == 0 and wide.shape[1] > 1 else None)
    if wide.shape[1] > 1:
        from ..analysis.stats import MIN_SUBJECTS

        ax.plot([], [], " ", label=f"no 95% CI (needs {MIN_SUBJECTS['bootstrap']}+ subjects)")


def _cluster_bars(ax, t, clusters, y, alpha, n_subjects):
    """Bars under the curve for clusters with ``p < alpha``; the legend says when none could be."""
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    sig = [] if clusters is None else [c for _, c in clusters.iterrows() if c["p"] < alpha]
    for c in sig:  # a cluster of one sample still gets one sample's width
        ax.plot([c["start_ms"] - step / 2, c["stop_ms"] + step / 2], [y, y], color="k",
                lw=2.2, solid_capstyle="butt")
    if sig:
        ax.plot([], [], color="k", lw=2.2, label=f"cluster p < {alpha:g}")
    elif clusters is not None and n_subjects < 2:
        ax.plot([], [], " ", label="no cluster test (needs 2+ subjects)")


def plot_temporal(df, summary=None, *, timecourse=None, clusters=None, axes=None):
    """Window sweep (a) and, when given, the time-resolved linear curve (b).

    Parameters
    ----------
    df, summary : DataFrame
        Results and summary of the temporal analysis.
    timecourse, clusters : DataFrame | None
        The analysis' ``timecourse`` and ``clusters`` tables.
    axes : array of Axes | None
        One Axes (sweep only) or two.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ncols = 2 if timecourse is not None and len(timecourse) else 1
    if axes is None:
        fig, axes = new_figure("double" if ncols == 2 else "single", height=2.4, ncols=ncols)
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    plot_window_sweep(df, summary, ax=axes[0])
    with style():
        axes[0].set_title("Retrained on each window")
        if ncols == 2 and len(axes) > 1:
            n_way = int(df["n_way"].iloc[0]) if "n_way" in df else None
            plot_timecourse(timecourse, clusters, ax=axes[1], chance=_chance(df), n_way=n_way)
            axes[1].set_title("Time-resolved linear decoding")
            _share_y_if_comparable(axes[:2])
            panel_label(axes[0], "a")
            panel_label(axes[1], "b")
    return fig


def _share_y_if_comparable(axes):
    """One y scale for panels whose data reach similar heights, so they compare at a glance.

    A time-resolved linear decoder often peaks far below a model retrained on
    whole windows (5 % against 70 %); one scale would squeeze its curve into
    the bottom of the axis, so then each panel keeps its own.
    """
    tops = [a.get_ylim()[1] for a in axes]
    if min(tops) < 0.5 * max(tops):
        return
    lo = min(a.get_ylim()[0] for a in axes)
    for a in axes:
        a.set_ylim(lo, max(tops))


def _region_labels(df):
    """'drop-frontal' -> 'frontal\\n(48 ch)' (channels left in the model)."""
    labels = {}
    first = df.drop_duplicates("condition").set_index("condition")
    modes = set(first["mode"]) - {"all"} if "mode" in first else set()
    for cond, row in first.iterrows():
        region = row.get("region", cond)
        mode = row.get("mode", "")
        if mode == "all" or region in ("none", None):
            name = "all"
        elif len(modes) > 1:
            name = f"\u2212{region}" if mode == "drop" else f"{region} only"
        else:
            name = str(region)
        n = row.get("n_channels", np.nan)
        labels[cond] = f"{name}\n({int(n)} ch)" if np.isfinite(n) else name
    return labels, modes


def plot_spatial(df, summary=None, *, ax=None, mark="reference"):
    """Region ablation: accuracy with each region dropped (or alone).

    Stars compare each region with the all-channel model (paired t across
    subjects, FDR) unless ``mark='chance'``. Tick labels give the channels
    left in each model.
    """
    order = list(dict.fromkeys(df["condition"]))
    if ax is None:
        fig, ax = new_figure("single", height=2.4)
    labels, modes = _region_labels(df)
    xlabel = {frozenset({"drop"}): "region dropped", frozenset({"only"}): "region kept alone"}
    plot_conditions(df, summary, ax=ax, reference="all", order=order, labels=labels,
                    xlabel=xlabel.get(frozenset(modes), "channel region"),
                    title="Channel regions", mark=mark)
    # the caption's first line under the x label: which criterion finds the source (and why)
    ax.annotate(CRITERION.replace(": ", ":\n", 1), xy=(0.5, 0), xycoords=ax.xaxis.label,
                xytext=(0, -3), textcoords="offset points", ha="center", va="top",
                fontsize=4.5, color="0.35")
    return ax.figure


def _band_labels(df):
    """'delta' -> 'delta\\n0.5-4 Hz'; the broadband reference stays as is."""
    labels = {}
    first = df.drop_duplicates("condition").set_index("condition")
    for cond, row in first.iterrows():
        if cond == "broadband" or "l_freq" not in row:
            labels[cond] = str(cond).replace("-", "\n", 1) if cond != "broadband" else cond
            continue
        name = str(row.get("band", cond)).replace("high-", "high\n")
        if row.get("mode") == "stop":
            name = f"no {name}"
        lo, hi = float(row["l_freq"]), float(row["h_freq"])
        labels[cond] = f"{name}\n{lo:g}\u2013{hi:g} Hz"
    return labels


def plot_spectral(df, summary=None, *, ax=None, mark="chance"):
    """Band filtering: accuracy per frequency band, Hz ranges in the tick labels."""
    order = list(dict.fromkeys(df["condition"]))
    if ax is None:
        fig, ax = new_figure("single", height=2.4)
    plot_conditions(df, summary, ax=ax, reference="broadband", order=order,
                    labels=_band_labels(df), xlabel="frequency band (Chebyshev II, zero phase)",
                    title="Frequency bands", mark=mark)
    return ax.figure
