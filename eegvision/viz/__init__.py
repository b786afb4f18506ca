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
    """The standard figure of analysis ``name`` from its tables."""
    extras = extras or {}
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
