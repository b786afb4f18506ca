"""Plotting only: DataFrames / arrays in, matplotlib Figures out."""

from .._utils import lazy_attributes

#: public name -> module that defines it (imported on first access)
_LAZY = {
    **{name: "eegvision.viz._style" for name in (
        "DOUBLE_COLUMN", "PALETTE", "SINGLE_COLUMN", "new_figure", "panel_label", "save_figure",
        "style")},
    **{name: "eegvision.viz.decoding" for name in (
        "plot_conditions", "plot_spatial", "plot_spectral", "plot_temporal")},
    "plot_analysis": "eegvision.viz.analysis_figures",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
