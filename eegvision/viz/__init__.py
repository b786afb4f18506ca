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
    """The figure the analysis' spec declares (:mod:`eegvision.analysis.spec`)."""
    from ..analysis.spec import get_spec

    return get_spec(name).draw(df, summary, extras)


__all__ = ["DOUBLE_COLUMN", "PALETTE", "SINGLE_COLUMN", "new_figure", "panel_label",
           "plot_analysis", "plot_conditions", "plot_spatial", "plot_spectral", "plot_temporal",
           "save_figure", "style"]
