"""The semantic figure: sorted similarity matrix, RSA bars, 2-D map of the concepts."""

from __future__ import annotations

import numpy as np

from ._style import CHANCE_COLOR, PALETTE, new_figure, panel_label, style

#: Display names of the model RDMs, in bar order.
MODEL_LABELS = {"image_features": "image\nfeatures", "category": "category", "text": "text\n(MiniLM)"}


def _stars(p):
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def _group_colors(groups):
    from ..analysis.semantic import GROUPS

    present = set(groups)
    order = [g for g in GROUPS if g in present] + sorted(present - set(GROUPS))
    return {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(order)}


def plot_similarity(sorted_df, ax):
    """Category-sorted EEG x image similarity with group boundaries and labels."""
    groups = sorted_df["group"].to_numpy()
    sim = sorted_df.drop(columns=["concept", "group"]).to_numpy(dtype=float)
    im = ax.imshow(sim, cmap="viridis", interpolation="nearest", aspect="equal")
    cbar = ax.figure.colorbar(im, ax=ax, shrink=0.75, pad=0.02)
    cbar.set_label("cosine similarity")
    cbar.ax.tick_params(labelsize=5)
    edges = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    for e in edges:
        ax.axhline(e - 0.5, color="w", lw=0.6)
        ax.axvline(e - 0.5, color="w", lw=0.6)
    bounds = np.concatenate([[0], edges, [len(groups)]])
    centres = (bounds[:-1] + bounds[1:]) / 2 - 0.5
    labels = [f"{groups[b]} ({e - b})" for b, e in zip(bounds[:-1], bounds[1:], strict=True)]
    ax.set_yticks(centres, labels)
    ax.set_xticks(centres, [groups[b] for b in bounds[:-1]], rotation=45, ha="right")
    ax.tick_params(length=0)
    ax.set_xlabel("image (sorted by group)")
    ax.set_ylabel("EEG (sorted by group)")


def plot_rsa(rsa_table, summary, ax):
    """Bars of the mean Spearman rho per model RDM, subject points, ceiling band, stars."""
    models = [m for m in MODEL_LABELS if m in set(rsa_table["model"])]
    per_subject = rsa_table.groupby(["model", "subject"])["rho"].mean().unstack("subject")
    per_subject = per_subject.loc[models]
    x = np.arange(len(models))
    means = per_subject.mean(axis=1).to_numpy()
    ax.bar(x, means, width=0.6, color=PALETTE[0], alpha=0.4, zorder=1)
    rng = np.random.default_rng(0)  # deterministic jitter
    for subject in per_subject.columns:
        ax.scatter(x + rng.uniform(-0.12, 0.12, len(x)), per_subject[subject], s=7, color="k",
                   alpha=0.7, linewidths=0, zorder=3)
    ax.axhline(0, color=CHANCE_COLOR, lw=0.6)
    top = np.nanmax(np.r_[per_subject.to_numpy().ravel(), 0.05])
    if summary is not None and len(summary):
        s = summary.set_index("model")
        lo, hi = float(s["nc_lower"].iloc[0]), float(s["nc_upper"].iloc[0])
        if np.isfinite(lo) and np.isfinite(hi):
            ax.axhspan(lo, hi, color="0.85", zorder=0, lw=0)
            ax.text(len(x) - 0.45, hi, "noise ceiling", fontsize=5.5, color="0.4",
                    ha="right", va="bottom")
            top = max(top, hi)
        for xi, m in zip(x, models, strict=True):
            ax.text(xi, np.nanmax(per_subject.loc[m]) + 0.03 * top, _stars(s.loc[m, "p"]),
                    ha="center", va="bottom", fontsize=6)
    ax.set_ylim(min(0, np.nanmin(per_subject.to_numpy()) * 1.2), top * 1.18)
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_xticks(x, [MODEL_LABELS[m] for m in models])
    ax.set_ylabel("Spearman \u03c1 with EEG RDM")


def plot_map(concepts, ax):
    """2-D map (t-SNE) of the concepts' EEG representations, coloured by group."""
    colors = _group_colors(concepts["group"])
    for g, c in colors.items():
        sel = concepts["group"] == g
        ax.scatter(concepts.loc[sel, "x"], concepts.loc[sel, "y"], s=6, color=c, label=g,
                   linewidths=0, alpha=0.85)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=1.5, handletextpad=0.2,
              borderaxespad=0.2)


def plot_semantic(df, extras):
    """Double-column figure of the semantic analysis.

    Parameters
    ----------
    df : DataFrame
        ``results.csv`` of the analysis (used for the title).
    extras : dict
        ``similarity_sorted``, ``rsa``, ``rsa_summary`` and ``concepts``
        tables from :func:`eegvision.analysis.semantic.postprocess` (or read
        back from their CSV files).

    Returns
    -------
    matplotlib.figure.Figure
    """
    has_map = extras.get("concepts") is not None and {"x", "y"} <= set(extras["concepts"])
    ncols = 3 if has_map else 2
    fig, axes = new_figure("double", height=2.6, ncols=ncols,
                           gridspec_kw={"width_ratios": [1.25, 1, 1][:ncols]})
    with style():
        plot_similarity(extras["similarity_sorted"], axes[0])
        panel_label(axes[0], "a")
        plot_rsa(extras["rsa"], extras.get("rsa_summary"), axes[1])
        panel_label(axes[1], "b")
        if has_map:
            plot_map(extras["concepts"], axes[2])
            panel_label(axes[2], "c")
        n_sub = df["subject"].nunique() if "subject" in df else 0
        model = df["model"].iloc[0] if "model" in df and len(df) else ""
        fig.suptitle(f"Semantic structure of EEG embeddings ({model}, {n_sub} subject"
                     f"{'s' if n_sub != 1 else ''})", fontsize=8)
    return fig
