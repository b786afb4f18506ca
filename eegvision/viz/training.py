"""The figure of one training folder: its loss curves and its retrieval accuracy at every k."""

from __future__ import annotations

import numpy as np

from ._style import CHANCE_COLOR, PALETTE, new_figure, panel_label, percent_axis, style


def plot_training(history, ranks, n_way):
    """Loss per epoch (a) and top-k accuracy over k from the saved ranks (b).

    Parameters
    ----------
    history : pandas.DataFrame | None
        ``history.csv`` (``epoch``, ``train_loss``, ``val_loss``); None leaves panel a empty.
    ranks : pandas.DataFrame
        ``ranks.csv``: ``rank`` of the true candidate per test concept (1 = top-1 hit).
    n_way : int
        Candidates per test item; chance at k is ``k / n_way``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_loss, ax_k) = new_figure("double", height=2.3, ncols=2)
    with style():
        _loss_panel(ax_loss, history)
        _topk_panel(ax_k, ranks["rank"].to_numpy(), int(n_way))
    panel_label(ax_loss, "a")
    panel_label(ax_k, "b")
    return fig


def _loss_panel(ax, history):
    ax.set(xlabel="epoch", ylabel="loss", title="training")
    if history is None or "epoch" not in history or len(history) < 2:
        ax.text(0.5, 0.5, _one_epoch(history), ha="center", va="center", transform=ax.transAxes)
        ax.set(xticks=[], yticks=[])
        return
    for column, color in (("train_loss", PALETTE[0]), ("val_loss", PALETTE[1])):
        if column in history and history[column].notna().any():
            ax.plot(history["epoch"], history[column], "o-", ms=3, color=color,
                    label=column.replace("_", " "))
    ax.legend(loc="upper right")


def _one_epoch(history):
    """Panel a's text where there is no curve: no history, or one fit (ridge)."""
    if history is None or not len(history):
        return "no history.csv"
    row = history.iloc[0]
    losses = [f"{c.replace('_', ' ')} {row[c]:.3g}" for c in ("train_loss", "val_loss")
              if c in history]
    return "one fit (no epochs)\n" + "\n".join(losses)


def _topk_panel(ax, ranks, n_way):
    k = np.arange(1, n_way + 1)
    accuracy = (ranks[None, :] <= k[:, None]).mean(axis=1)
    ax.plot(k, accuracy, color=PALETTE[0], label="model")
    ax.plot(k, k / n_way, "--", color=CHANCE_COLOR, lw=0.8, label="chance (k / n)")
    ax.set(xscale="log" if n_way > 1 else "linear", xlim=(1, max(n_way, 2)), ylim=(0, 1.02), xlabel="k (candidates accepted)",
           ylabel="top-k accuracy", title=f"retrieval, {len(ranks)} test items, {n_way}-way")
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= n_way]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    percent_axis(ax)
    ax.legend(loc="lower right")
