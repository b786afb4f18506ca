"""Plotting only: DataFrames / arrays in, matplotlib Figures out."""

from ._style import (
    DOUBLE_COLUMN,
    PALETTE,
    SINGLE_COLUMN,
    new_figure,
    panel_label,
    save_figure,
    style,
)
from .decoding import plot_conditions, plot_spatial, plot_spectral, plot_temporal


def plot_analysis(name, df, summary=None, extras=None):
    """The standard figure of analysis ``name`` from its tables.

    With a ``noise_ceiling`` table in ``extras``, the ceiling is drawn on
    every top-1 accuracy axis.
    """
    from .experiments import draw_noise_ceiling

    extras = extras or {}
    return draw_noise_ceiling(_plot_analysis(name, df, summary, extras),
                              extras.get("noise_ceiling"))


def _plot_analysis(name, df, summary, extras):
    from . import experiments

    if name in ("repetitions", "datasize", "loso"):
        return getattr(experiments, f"plot_{name}")(df, summary)
    if name == "timefreq":
        return experiments.plot_timefreq(extras["tfr"])
    if name == "topk":
        return experiments.plot_topk(df, summary, extras.get("noise_ceiling"))
    if name == "generalization":
        return experiments.plot_generalization(df, summary, extras)
    if name == "temporal":
        return plot_temporal(df, summary, timecourse=extras.get("timecourse"),
                             clusters=extras.get("clusters"))
    if name == "spatial":
        if "mode" in df and (df["mode"] == "searchlight").any():
            from .spatial_map import plot_searchlight

            return plot_searchlight(df, summary)
        return plot_spatial(df, summary)
    if name == "spectral":
        return plot_spectral(df, summary)
    if name == "semantic":
        from .semantic import plot_semantic

        return plot_semantic(df, extras)
    if name == "saliency":
        from .topomap import plot_saliency

        return plot_saliency(df, extras)
    raise ValueError(f"No figure for analysis {name!r}.")


__all__ = ["DOUBLE_COLUMN", "PALETTE", "SINGLE_COLUMN", "new_figure", "panel_label",
           "plot_analysis", "plot_conditions", "plot_spatial", "plot_spectral", "plot_temporal",
           "save_figure", "style"]
