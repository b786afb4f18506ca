"""Figures of the paper's other experiments: repetitions, data size, LOSO,
time-frequency, top-k, temporal generalisation; and the noise ceiling line.

Tables in, Figures out; every interval and mark comes from the analysis'
tables (``summary.csv`` and its extras).
"""

from __future__ import annotations

import numpy as np

from ._style import CHANCE_COLOR, PALETTE, new_figure, panel_label, percent_axis, style
from .decoding import (
    _accuracy_label,
    _chance,
    _label_chance,
    _stars,
    chance_test,
    plot_conditions,
    small_n_note,
)

CEILING_COLOR = PALETTE[4]


#: A ceiling more than this many times the data's top goes off the axis (marked at its top
#: edge) instead of stretching the axis until the data fill its bottom fifth.
CEILING_ROOM = 1.5


def draw_noise_ceiling(fig, ceiling, value="top1"):
    """Draw the mean split-half noise ceiling on every top-1 accuracy axis of ``fig``.

    Axes are recognised by their y label (``top-1 accuracy ...``). A ceiling
    within reach of the data is a dotted line labelled at the right edge; one
    far above them (more than :data:`CEILING_ROOM` times the axis top) is a
    dotted rule along the top edge with its value and an arrow, so the data
    keep the axis.
    """
    if ceiling is None or len(ceiling) == 0 or f"nc_{value}" not in ceiling:
        return fig
    level = float(np.nanmean(ceiling[f"nc_{value}"]))
    if not np.isfinite(level):
        return fig
    label = value.replace("top", "top-")
    with style():
        for ax in fig.axes:
            if ax.get_ylabel().startswith(f"{label} accuracy"):
                _ceiling_on(ax, level)
    return fig


def _ceiling_on(ax, level):
    """The ceiling on one axis: a line in range, or an off-scale mark at the top edge."""
    lo, hi = ax.get_ylim()
    if level > CEILING_ROOM * hi:
        ax.plot([0, 1], [1, 1], transform=ax.transAxes, color=CEILING_COLOR, ls=":", lw=1.2,
                clip_on=False, zorder=5)
        # labelled beside the axis, as the in-range line and chance are: never over data
        ax.annotate(f"noise ceiling\n{100 * level:.3g}% \u2191", xy=(1.0, 1.0),
                    xycoords="axes fraction", xytext=(2, 0), textcoords="offset points",
                    color=CEILING_COLOR, fontsize=5.5, ha="left", va="center",
                    annotation_clip=False)
        return
    ax.axhline(level, color=CEILING_COLOR, ls=":", lw=0.9, zorder=2)
    ax.annotate("noise ceiling", xy=(1.0, level), xycoords=("axes fraction", "data"),
                xytext=(2, 0), textcoords="offset points", color=CEILING_COLOR,
                fontsize=5.5, ha="left", va="center", annotation_clip=False)
    if level > hi * 0.95:
        ax.set_ylim(lo, level * 1.1)


def _curve(ax, df, x, value, summary, color, label):
    """Subject lines, the mean and its bootstrap interval from ``summary``."""
    wide = df.groupby([x, "subject"])[value].mean().unstack("subject").sort_index()
    xs = wide.index.to_numpy(dtype=float)
    for i, s in enumerate(wide.columns):
        ax.plot(xs, wide[s], color="0.75", lw=0.5, zorder=1,
                label="subjects" if i == 0 and wide.shape[1] > 1 and label else None)
    ax.plot(xs, wide.mean(axis=1), color=color, marker="o", ms=2.5, zorder=3, label=label)
    if summary is not None and "ci_low" in summary:
        s = summary.groupby(x)[["ci_low", "ci_high"]].first().reindex(xs)
        if (s["ci_high"] > s["ci_low"]).any():
            ax.fill_between(xs, s["ci_low"], s["ci_high"], color=color, alpha=0.2, lw=0)
    return xs, wide


def plot_repetitions(df, summary=None):
    """(a) top-1 against test repetitions averaged; (b) against training repetitions."""
    parts = [p for p in ("test", "train") if p in set(df["part"])]
    fig, axes = new_figure("double" if len(parts) == 2 else "single", height=2.3,
                           ncols=len(parts))
    axes = np.atleast_1d(axes)
    titles = {"test": ("test repetitions averaged", "Test EEG averaged over k repetitions"),
              "train": ("training repetitions averaged", "Trained on k repetitions")}
    with style():
        for ax, part, letter in zip(axes, parts, "ab", strict=False):
            sub = df[df["part"] == part]
            s = None if summary is None else summary[summary["part"] == part]
            xs, _ = _curve(ax, sub, "n_reps", "top1", s, PALETTE[0], "mean")
            column, _ = chance_test(s)
            if column:  # the t-test across subjects, else every subject's binomial test
                sig = s.set_index("n_reps").reindex(xs)[column].to_numpy(float) < 0.05
                what = ("p < .05 vs chance (FDR)" if column == "p_chance_fdr"
                        else "every subject p < .05 vs chance (binomial, FDR)")
                if sig.any():
                    ax.scatter(xs[sig], np.zeros(sig.sum()), marker="s", s=6, color="k",
                               label=what, clip_on=False, zorder=4)
            if small_n_note(s, sub["subject"].nunique()):
                ax.plot([], [], " ", label=small_n_note(s, sub["subject"].nunique()))
            _label_chance(ax, _chance(df))
            ax.set_xticks(xs, [f"{x:g}" for x in xs] if len(xs) <= 12 else None)
            ax.set_xlabel(titles[part][0])
            ax.set_ylabel(_accuracy_label(df))
            ax.set_title(titles[part][1])
            ax.set_ylim(bottom=0)
            percent_axis(ax)
            if len(parts) == 2:
                panel_label(ax, letter)
            ax.legend(loc="upper left")
    return fig


def plot_datasize(df, summary=None):
    """Top-1 against the fraction of training concepts; daggers: differs from 100 %."""
    fig, ax = new_figure("single", height=2.3)
    df = df.assign(percent=100 * df["fraction"])
    s = None if summary is None else summary.assign(
        percent=summary["condition"].str.rstrip("%").astype(float))
    with style():
        xs, wide = _curve(ax, df, "percent", "top1", s, PALETTE[0], "mean")
        if s is not None and "p_vs_reference_fdr" in s:
            top = np.nanmax(wide.to_numpy()) * 1.06
            for x, p in s.set_index("percent").reindex(xs)["p_vs_reference_fdr"].items():
                if np.isfinite(p):
                    ax.text(x, top, _stars(p), ha="center", va="bottom", fontsize=6)
            n = wide.shape[1]
            what = ("stars: vs 100 % (paired t, FDR)" if np.isfinite(s["p_vs_reference_fdr"])
                    .any() else "no paired t-test vs 100 %")
            lines = [f"n = {n} subject{'s' if n != 1 else ''}; {what}", small_n_note(s, n)]
            ax.text(0, 1.0, "\n".join(t for t in lines if t), transform=ax.transAxes,
                    fontsize=5, color="0.35", va="bottom", linespacing=1.1)
        _label_chance(ax, _chance(df))
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.set_xlabel("training concepts used (%)")
        ax.set_ylabel(_accuracy_label(df))
        ax.set_ylim(bottom=0)
        percent_axis(ax)
    return fig


def plot_loso(df, summary=None):
    """Within-subject vs leave-one-subject-out, paired per subject."""
    fig = plot_conditions(df, summary, reference="within", mark="reference",
                          order=["within", "loso"], xlabel="model trained on",
                          labels={"within": "the subject's own data",
                                  "loso": "the other subjects"},
                          title="Across subjects")
    ax = fig.axes[0]
    if {"within", "loso"} <= set(df["condition"]):
        with style():
            # one line per subject joins its two points where they were drawn (jittered)
            for points in ax.collections:
                xy = points.get_offsets() if type(points).__name__ == "PathCollection" else []
                if len(xy) == 2:
                    ax.plot(xy[:, 0], xy[:, 1], color="0.6", lw=0.5, zorder=3)
    return fig


def plot_timefreq(tfr, *, vlim=None):
    """One map per region: evoked power in dB relative to each frequency's mean over time."""
    regions = list(dict.fromkeys(tfr["region"]))
    n = len(regions)
    fig, axes = new_figure("double", height=1.9 if n <= 4 else 3.4, ncols=min(n, 4),
                           nrows=int(np.ceil(n / 4)), squeeze=False)
    mean = tfr.groupby(["region", "freq_hz", "time_ms"])["power_db"].mean()
    maps = {}
    for r in regions:
        m = mean.loc[r].unstack("time_ms")
        maps[r] = m.sub(m.mean(axis=1), axis=0)
    lim = vlim or max(float(np.nanmax(np.abs(m.to_numpy()))) for m in maps.values())
    n_subj = tfr["subject"].nunique()
    with style():
        for ax, r in zip(axes.flat, regions, strict=False):
            m = maps[r]
            im = ax.pcolormesh(m.columns.to_numpy(), m.index.to_numpy(), m.to_numpy(),
                               cmap="RdBu_r", vmin=-lim, vmax=lim, shading="nearest")
            ax.set_title(r)
            ax.set_xlabel("time (ms)")
            ax.set_ylabel("frequency (Hz)")
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        cb = fig.colorbar(im, ax=axes, shrink=0.8)
        cb.set_label("power re. mean over time (dB)")
        fig.suptitle(f"Evoked response, Morlet wavelets (mean of {n_subj} subject"
                     f"{'s' if n_subj != 1 else ''})", fontsize=7)
    return fig


def plot_topk(df, summary=None, ceiling=None):
    """Top-k accuracy for k = 1 ... n_way: subjects, mean with CI, chance k / n_way."""
    fig, ax = new_figure("single", height=2.4)
    with style():
        wide = df.groupby(["k", "subject"])["topk"].mean().unstack("subject").sort_index()
        ks = wide.index.to_numpy()
        for i, s in enumerate(wide.columns):
            ax.plot(ks, wide[s], color="0.75", lw=0.5, label="subjects" if i == 0 else None)
        ax.plot(ks, wide.mean(axis=1), color=PALETTE[0], lw=1.2, label="mean")
        from .decoding import bootstrap_band

        lo, hi = bootstrap_band(wide.to_numpy())
        if np.isfinite(lo).all():
            ax.fill_between(ks, lo, hi, color=PALETTE[0], alpha=0.2, lw=0, label="95% CI")
        elif small_n_note(summary, wide.shape[1]):
            ax.plot([], [], " ", label=small_n_note(summary, wide.shape[1]))
        n_way = int(df["n_way"].iloc[0])
        ax.plot(ks, ks / n_way, color=CHANCE_COLOR, ls="--", lw=0.8, label="chance (k / n)")
        if ceiling is not None and len(ceiling):
            for k in (1, 5):
                if f"nc_top{k}" in ceiling and k <= ks.max():
                    ax.scatter([k], [ceiling[f"nc_top{k}"].mean()], marker="_", s=60,
                               color=CEILING_COLOR, zorder=5,
                               label="noise ceiling" if k == 1 else None)
        column, what = chance_test(summary)
        if column:
            for _, r in summary.iterrows():
                if r["k"] in (1, 5, 10, 50) and r["k"] <= ks.max():
                    ax.text(r["k"], r["mean"], " " + _stars(r[column]), fontsize=5, va="top")
            ax.text(0, 1.0, f"stars: {what}", transform=ax.transAxes, fontsize=5,
                    color="0.35", va="bottom")
        ax.set_xscale("log")
        ticks = [k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if k <= ks.max()]
        ax.set_xticks(ticks, [str(k) for k in ticks])
        ax.minorticks_off()
        ax.set_xlabel(f"k ({n_way}-way)")
        ax.set_ylabel("top-k accuracy")
        ax.set_ylim(0, 1.02)
        percent_axis(ax)
        ax.legend(loc="upper left")
    return fig


def _matrix_panel(ax, mat, sig, ticks, labels, chance, title, xlabel, ylabel):
    im = ax.imshow(mat, origin="lower", cmap="viridis", aspect="auto",
                   extent=None if ticks is None else
                   (ticks[0], ticks[-1], ticks[0], ticks[-1]))
    if sig is not None and sig.any():
        extent = None if ticks is None else (ticks[0], ticks[-1], ticks[0], ticks[-1])
        ax.contour(sig.astype(float), levels=[0.5], colors="w", linewidths=0.8,
                   origin="lower", extent=extent)
    if labels is not None:
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=5)
        ax.set_yticks(range(len(labels)), labels, fontsize=5)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.85)
    cb.set_label(f"top-1 (chance {100 * chance:.2g}%)")
    percent_axis(cb.ax)
    return im


def plot_generalization(df, summary=None, extras=None):
    """(a) the model's window x window matrix; (b) ridge time x time; white: cluster p < .05."""
    extras = extras or {}
    tbt = extras.get("timebytime")
    ncols = 2 if tbt is not None and len(tbt) else 1
    fig, axes = new_figure("double" if ncols == 2 else "single", height=2.6, ncols=ncols)
    axes = np.atleast_1d(axes)
    chance = _chance(df)
    m = extras.get("matrix")
    if m is None:
        m = (df.groupby(["train_window", "test_window"])["top1"].mean().rename("top1")
             .reset_index().assign(significant=False))
    order = list(dict.fromkeys(df["train_window"]))
    mat = m.pivot(index="train_window", columns="test_window", values="top1").loc[order, order]
    sig = m.pivot(index="train_window", columns="test_window",
                  values="significant").loc[order, order].to_numpy(bool)
    model = str(df["model"].iloc[0])
    with style():
        _matrix_panel(axes[0], mat.to_numpy(), sig, None, order, chance,
                      f"{model}: trained per window", "test window", "training window")
        if ncols == 2:
            tm = tbt.groupby(["train_ms", "test_ms"])["top1"].mean().unstack("test_ms")
            ts = tbt.groupby(["train_ms", "test_ms"])["significant"].first().unstack("test_ms")
            t = tm.index.to_numpy()
            _matrix_panel(axes[1], tm.to_numpy(), ts.to_numpy(bool), t, None, chance,
                          "ridge: time by time", "test time (ms)", "training time (ms)")
            panel_label(axes[0], "a")
            panel_label(axes[1], "b")
        n = df["subject"].nunique()
        # 2**n sign flips: below 5 subjects no cluster can reach p < .05
        fig.suptitle(f"n = {n} subject{'s' if n != 1 else ''}; white outline: cluster p < .05 "
                     "vs chance" + (" (needs 5+ subjects)" if n < 5 else ""), fontsize=5.5,
                     color="0.35")
    return fig
