"""Decoding accuracy across conditions: windows, regions, bands."""

from __future__ import annotations

import numpy as np

from ._style import CHANCE_COLOR, PALETTE, new_figure, panel_label, percent_axis, style


def _stars(p):
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def _per_subject(df, value="top1"):
    """Condition x subject table of ``value`` averaged over seeds (condition order kept)."""
    order = list(dict.fromkeys(df["condition"]))
    wide = df.groupby(["condition", "subject"])[value].mean().unstack("subject")
    return wide.loc[order]


def _chance(df):
    return 1.0 / float(df["n_way"].iloc[0])


def plot_conditions(df, summary=None, *, ax=None, reference=None, xlabel="", title=None,
                    order=None, value="top1"):
    """Bars of the across-subject mean with 95 % CI, subject points, chance line, stars.

    Stars mark conditions above chance (FDR-corrected), and ``vs ref`` marks a
    paired difference from ``reference`` when ``summary`` has it.
    """
    wide = _per_subject(df, value)
    if order is not None:
        wide = wide.loc[[c for c in order if c in wide.index]]
    if ax is None:
        fig, ax = new_figure("single")
    fig = ax.figure
    x = np.arange(len(wide))
    means = wide.mean(axis=1).to_numpy()
    with style():
        colors = [PALETTE[7] if c == reference else PALETTE[0] for c in wide.index]
        ax.bar(x, means, color=colors, alpha=0.35, width=0.7, zorder=1)
        if summary is not None:
            s = summary.set_index("condition").reindex(wide.index)
            yerr = np.vstack([means - s["ci_low"].to_numpy(), s["ci_high"].to_numpy() - means])
            ax.errorbar(x, means, yerr=np.clip(yerr, 0, None), fmt="none", ecolor="k",
                        elinewidth=0.8, capsize=2, zorder=3)
        rng = np.random.default_rng(0)  # deterministic jitter of subject points
        for j, subject in enumerate(wide.columns):
            jitter = rng.uniform(-0.15, 0.15, len(x))
            ax.scatter(x + jitter, wide[subject].to_numpy(), s=6, color="k", alpha=0.6,
                       linewidths=0, zorder=4)
        ax.axhline(_chance(df), color=CHANCE_COLOR, ls="--", lw=0.8, zorder=2)
        ax.text(len(x) - 0.5, _chance(df), "chance", color=CHANCE_COLOR, fontsize=6,
                ha="right", va="bottom")
        if summary is not None:
            top = np.nanmax(wide.to_numpy()) * 1.06
            for xi, cond in zip(x, wide.index):
                row = s.loc[cond]
                label = _stars(row.get("p_chance_fdr", np.nan))
                p_ref = row.get("p_vs_reference_fdr", np.nan)
                if np.isfinite(p_ref) and p_ref < 0.05:
                    label += "\n\u2020"
                ax.text(xi, top, label, ha="center", va="bottom", fontsize=6)
            ax.set_ylim(0, top * 1.15)
        ax.set_xticks(x, list(wide.index), rotation=45 if len(x) > 6 else 0,
                      ha="right" if len(x) > 6 else "center")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{value.replace('top', 'top-')} accuracy")
        percent_axis(ax)
        if title:
            ax.set_title(title)
    return fig


def plot_temporal(df, summary=None, *, timecourse=None, clusters=None):
    """Window sweep (a) and, when given, the time-resolved linear curve (b)."""
    from .._utils import logger

    ncols = 2 if timecourse is not None else 1
    fig, axes = new_figure("double" if ncols == 2 else "single", height=2.3, ncols=ncols)
    axes = np.atleast_1d(axes)
    ax = axes[0]
    sweep = df[df["condition"] != "full"].copy()
    if sweep.empty:
        logger.warning("No windows to plot")
    centre = (sweep["tmin_ms"] + sweep["tmax_ms"]) / 2
    sweep = sweep.assign(centre=centre)
    wide = sweep.groupby(["centre", "subject"])["top1"].mean().unstack("subject").sort_index()
    with style():
        xs = wide.index.to_numpy()
        for subject in wide.columns:
            ax.plot(xs, wide[subject], color="0.7", lw=0.5, zorder=1)
        mean = wide.mean(axis=1).to_numpy()
        ax.plot(xs, mean, color=PALETTE[0], marker="o", ms=3, zorder=3, label="mean")
        if summary is not None:
            s = summary.set_index("condition")
            conds = sweep.drop_duplicates("centre").set_index("centre").loc[xs, "condition"]
            lo = s.loc[conds, "ci_low"].to_numpy()
            hi = s.loc[conds, "ci_high"].to_numpy()
            if np.isfinite(lo).all() and (hi > lo).any():
                ax.fill_between(xs, lo, hi, color=PALETTE[0], alpha=0.2, lw=0, label="95% CI")
            sig = s.loc[conds, "p_chance_fdr"].to_numpy() < 0.05
            ymin = -0.04 * max(mean.max(), 1e-3)
            ax.scatter(xs[sig], np.full(sig.sum(), ymin), marker="s", s=8, color="k",
                       label="p < .05 (FDR)")
            if "full" in s.index:
                ax.axhline(s.loc["full", "mean"], color=PALETTE[1], lw=0.8,
                           label="whole epoch")
        ax.axhline(_chance(df), color=CHANCE_COLOR, ls="--", lw=0.8, label="chance")
        widths = (sweep["tmax_ms"] - sweep["tmin_ms"]).unique()
        kind = f"{widths[0]:g}-ms windows" if len(widths) == 1 else "windows from onset (end)"
        ax.set_xlabel(f"window centre (ms); {kind}" if len(widths) == 1 else "window end (ms)")
        ax.set_ylabel("top-1 accuracy (200-way)")
        percent_axis(ax)
        ax.legend(loc="upper right")
        ax.set_title("Retrained on each window")
        if ncols == 2:
            panel_label(ax, "a")
            _plot_timecourse(axes[1], timecourse, clusters, _chance(df))
            panel_label(axes[1], "b")
    return fig


def _plot_timecourse(ax, tc, clusters, chance):
    wide = tc.pivot(index="time_ms", columns="subject", values="top1")
    t = wide.index.to_numpy()
    mean = wide.mean(axis=1).to_numpy()
    ax.plot(t, mean, color=PALETTE[2], lw=1.2, label="ridge, per sample")
    if wide.shape[1] > 1:
        sem = wide.std(axis=1, ddof=1).to_numpy() / np.sqrt(wide.shape[1])
        ax.fill_between(t, mean - sem, mean + sem, color=PALETTE[2], alpha=0.25, lw=0, label="± SEM")
    ax.axhline(chance, color=CHANCE_COLOR, ls="--", lw=0.8, label="chance")
    ax.axvline(0, color="0.6", lw=0.5)
    if clusters is not None and len(clusters):
        y = -0.05 * max(mean.max(), 1e-3)
        for _, c in clusters.iterrows():
            if c["p"] < 0.05:
                ax.plot([c["start_ms"], c["stop_ms"]], [y, y], color="k", lw=2.5,
                        solid_capstyle="butt")
        ax.plot([], [], color="k", lw=2.5, label="cluster p < .05")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("top-1 accuracy (200-way)")
    percent_axis(ax)
    ax.legend(loc="upper right")
    ax.set_title("Time-resolved linear decoding")


def plot_spatial(df, summary=None):
    """Region ablation: accuracy with each region dropped (or alone)."""
    order = list(dict.fromkeys(df["condition"]))
    fig, ax = new_figure("single", height=2.4)
    plot_conditions(df, summary, ax=ax, reference="all", order=order, xlabel="",
                    title="Channel regions")
    return fig


def plot_spectral(df, summary=None):
    """Band filtering: accuracy per frequency band."""
    order = list(dict.fromkeys(df["condition"]))
    fig, ax = new_figure("single", height=2.4)
    plot_conditions(df, summary, ax=ax, reference="broadband", order=order, xlabel="",
                    title="Frequency bands")
    return fig
