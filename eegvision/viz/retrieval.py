"""Top-k retrieval examples: which images a test trial's EEG retrieves.

Rows are test concepts, columns the top-k candidates by similarity, the
correct one framed in green. With an image folder (THINGS-EEG2
``image_set/test_images``) the cells are thumbnails, otherwise concept names
in boxes. From a ``ranks.csv`` alone (no similarity saved) only the correct
candidate's place is known, so that figure draws only it: each example's
rank on one axis of all candidates, the top-k zone shaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._style import CORRECT_COLOR, DOUBLE_COLUMN, WRONG_COLOR, new_figure, style


def _as_similarity(ranks_or_similarity, concepts):
    """``(sim, queries, candidates)`` or ``(None, ranks_df, None)`` for a ranks table."""
    import pandas as pd

    x = ranks_or_similarity
    if isinstance(x, pd.DataFrame) and {"concept", "rank"} <= set(x.columns) and len(x.columns) <= 3:
        return None, x, None
    if isinstance(x, pd.DataFrame):  # e.g. semantic's similarity_sorted.csv
        queries = x["concept"].astype(str).tolist() if "concept" in x else list(map(str, x.index))
        sim = x.drop(columns=[c for c in ("concept", "group") if c in x]).to_numpy(float)
        candidates = [str(c) for c in x.columns if c not in ("concept", "group")]
        return sim, queries, candidates
    sim = np.asarray(x, dtype=float)
    if sim.ndim != 2:
        raise ValueError(f"plot_retrieval_examples: expected a 2-D similarity matrix or a "
                         f"ranks table, got an array of shape {sim.shape}.")
    if concepts is None:
        concepts = [f"concept {i + 1}" for i in range(sim.shape[1])]
    concepts = [str(c) for c in concepts]
    if len(concepts) != sim.shape[1]:
        raise ValueError(f"{len(concepts)} concept names for {sim.shape[1]} candidates.")
    return sim, concepts[: sim.shape[0]], concepts


def pick_examples(ranks, n_examples=6, how="spread", seed=0):
    """Indices of the rows to show.

    ``'spread'`` takes rows evenly over the rank order (best to worst), so the
    figure shows hits and misses in proportion rather than the best cases;
    ``'best'`` the best-ranked; ``'random'`` a seeded random draw.
    """
    ranks = np.asarray(ranks)
    n = min(n_examples, len(ranks))
    order = np.argsort(ranks, kind="stable")
    if how == "best":
        return order[:n]
    if how == "random":
        return np.sort(np.random.default_rng(seed).choice(len(ranks), n, replace=False))
    if how != "spread":
        raise ValueError(f"how={how!r}: use 'spread', 'best' or 'random'.")
    return order[np.round(np.linspace(0, len(ranks) - 1, n)).astype(int)]


def find_image(image_dir, concept):
    """First ``.jpg``/``.png`` of ``concept`` under ``image_dir`` (``<nnnnn>_<concept>/``), or None."""
    from ..data.things import concept_name

    if image_dir is None:
        return None
    image_dir = Path(image_dir)
    name = concept_name(concept)
    if any(c in str(concept) for c in "/\\*?[\0") or str(concept) in ("", ".", ".."):
        return None  # not a plain folder name: never look outside image_dir
    for folder in (image_dir / str(concept), *sorted(image_dir.glob(f"*_{name}"))):
        if folder.is_dir() and folder.resolve().is_relative_to(image_dir.resolve()):
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            if files:
                return files[0]
    return None


def _thumbnail(path, size=160):
    from ..images.decode import read_rgb  # by bit depth, bombs refused (as `features` reads)

    im = read_rgb(path)
    im.thumbnail((size, size))
    return np.asarray(im)


def _cell(ax, concept, image_dir, *, frame=None):
    """One cell: thumbnail or concept name in a box, framed when correct."""
    from ..data.things import concept_name

    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(frame is not None)
        if frame is not None:
            spine.set_edgecolor(frame)
            spine.set_linewidth(2.0)
    label = concept_name(concept).replace("_", " ")
    path = find_image(image_dir, concept)
    if path is not None:
        ax.imshow(_thumbnail(path))
        ax.set_aspect("equal")
        ax.set_xlabel(label, fontsize=5, labelpad=1)
        return
    ax.set_facecolor("0.96" if frame is None else "#e5f4ee")
    ax.text(0.5, 0.5, label, ha="center", va="center", fontsize=5.5, wrap=True,
            transform=ax.transAxes)


def plot_retrieval_examples(ranks_or_similarity, concepts=None, k=5, n_examples=6,
                            image_dir=None, *, how="spread", seed=0, axes=None, title=None):
    """Grid of top-k retrieval examples: rows test concepts, columns the k best candidates.

    Parameters
    ----------
    ranks_or_similarity : array | DataFrame
        A similarity matrix (rows: EEG of the test concepts, columns:
        candidates; row i's correct candidate is the column of the same
        concept), e.g. ``similarity_sorted.csv`` of the semantic analysis
        (``concept, group`` then one column per concept); or a ``ranks.csv``
        table (``concept, rank``), which only places the correct candidate:
        drawn by :func:`plot_rank_examples` (``axes`` is not used).
    concepts : list of str | None
        Candidate names for an array input (column order).
    k, n_examples : int
        Candidates per row and rows.
    image_dir : path-like | None
        THINGS-EEG2 ``image_set/test_images``: thumbnails instead of names.
    how : 'spread' | 'best' | 'random'
        Which rows (see :func:`pick_examples`); ``seed`` for ``'random'``.
    axes : array of Axes, shape (n_examples, k + 1) | None

    Returns
    -------
    matplotlib.figure.Figure
    """
    sim, queries, candidates = _as_similarity(ranks_or_similarity, concepts)
    if sim is None:
        return plot_rank_examples(queries, k=k, n_examples=n_examples, image_dir=image_dir,
                                  how=how, seed=seed, title=title)
    col = {c: j for j, c in enumerate(candidates)}
    missing = [q for q in queries if q not in col]
    if missing:
        raise ValueError(f"{len(missing)} test concepts are not among the candidates "
                         f"(e.g. {missing[:3]}).")
    true = np.array([col[q] for q in queries])
    true_sim = sim[np.arange(len(queries)), true][:, None]
    ranks = (sim >= true_sim).sum(1)  # conservative ties, as in evaluate.concept_ranks
    n_way = sim.shape[1]
    rows = pick_examples(ranks, n_examples, how, seed)
    k = int(min(k, sim.shape[1]))
    if axes is None:
        height = 0.25 + 0.62 * len(rows)
        width = min(DOUBLE_COLUMN, 0.95 + 0.62 * (k + 1) + 0.7)
        fig, axes = new_figure(width, height=height, nrows=len(rows), ncols=k + 1, squeeze=False,
                               gridspec_kw={"wspace": 0.02, "hspace": 0.02})
    axes = np.atleast_2d(axes)
    fig = axes[0, 0].figure
    with style():
        for r, i in enumerate(rows):
            q = queries[i]
            _cell(axes[r, 0], q, image_dir)
            axes[r, 0].set_ylabel(f"rank {ranks[i]}/{n_way}", fontsize=5.5, rotation=0,
                                  ha="right", va="center",
                                  color=CORRECT_COLOR if ranks[i] <= k else WRONG_COLOR)
            top = np.argsort(-sim[i], kind="stable")[:k]
            for c, j in enumerate(top):
                _cell(axes[r, c + 1], candidates[j], image_dir,
                      frame=CORRECT_COLOR if candidates[j] == q else None)
        axes[0, 0].set_title("seen image", fontsize=6, pad=3)
        for c in range(k):
            axes[0, c + 1].set_title(f"top-{c + 1}", fontsize=6, pad=3)
        hit_rate = np.mean(ranks <= k)
        which = {"spread": "rows spread over the rank order", "best": "best-ranked rows",
                 "random": "random rows"}[how]
        fig.suptitle(title or f"Retrieval examples ({which}; top-{k} over all {len(ranks)} "
                     f"test concepts: {100 * hit_rate:.0f} %)", fontsize=7)
    return fig


def plot_rank_examples(ranks, k=5, n_examples=6, image_dir=None, *, how="spread", seed=0,
                       title=None):
    """Where the correct image ranked, for examples of a ``ranks.csv`` (no similarity saved).

    Only each test concept's own rank is known, so only that is drawn: per
    example row the seen image (or its name) and a point at its rank on a
    log axis of all candidates, the top-k zone shaded; rows spread over the
    rank order as in :func:`pick_examples`.

    Parameters
    ----------
    ranks : DataFrame
        ``concept, rank`` (rank 1 = retrieved first), one row per test concept.
    k, n_examples : int
        The top-k zone and the rows.
    image_dir, how, seed, title
        As in :func:`plot_retrieval_examples`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    queries = ranks["concept"].astype(str).tolist()
    r = ranks["rank"].to_numpy(int)
    n_way = len(r)  # ranks.csv ranks every test concept against all of them
    rows = pick_examples(r, n_examples, how, seed)
    fig, axes = new_figure(DOUBLE_COLUMN * 0.7, height=0.35 + 0.5 * len(rows), nrows=len(rows),
                           ncols=2, squeeze=False, sharex="col",
                           gridspec_kw={"width_ratios": [1, 5], "wspace": 0.04, "hspace": 0.08})
    with style():
        for row, i in enumerate(rows):
            _cell(axes[row, 0], queries[i], image_dir)
            _rank_strip(axes[row, 1], r[i], k, n_way, last=row == len(rows) - 1)
        axes[0, 0].set_title("seen image", fontsize=6, pad=3)
        axes[0, 1].set_title(f"rank of the correct image among {n_way} (shaded: top-{k}; "
                             "ranks.csv holds no other candidate)", fontsize=6, pad=3)
        which = {"spread": "spread over the rank order", "best": "best-ranked",
                 "random": "random"}[how]
        fig.suptitle(title or f"Retrieval ranks of {len(rows)} test concepts ({which}); "
                     f"top-{k} over all {n_way}: {100 * np.mean(r <= k):.0f} %", fontsize=7)
    return fig


def _rank_strip(ax, rank, k, n_way, *, last):
    """One example's rank as a point on a log axis 1 ... n_way, the top-k zone shaded."""
    hit = rank <= k
    ax.axvspan(0.8, k + 0.5, color=CORRECT_COLOR, alpha=0.12, lw=0)
    ax.scatter([rank], [0], s=18, color=CORRECT_COLOR if hit else WRONG_COLOR, zorder=3)
    ax.annotate(f"{rank}", xy=(rank, 0), xytext=(4, 0), textcoords="offset points",
                va="center", fontsize=5.5, color=CORRECT_COLOR if hit else WRONG_COLOR)
    ax.set_xscale("log")
    ax.set_xlim(0.8, n_way * 1.25)
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    ticks = sorted({1, k, *[t for t in (10, 100, 1000) if t < n_way], n_way})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if last:
        ax.set_xlabel("rank (log scale)")
    else:  # one axis for all rows: a light rule, the ticks only under the last
        ax.spines["bottom"].set_color("0.8")
        ax.tick_params(axis="x", bottom=False, labelbottom=False)


__all__ = ["find_image", "pick_examples", "plot_rank_examples", "plot_retrieval_examples"]
