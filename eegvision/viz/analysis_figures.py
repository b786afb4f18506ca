"""The figure of each built-in analysis, as its spec names it (``figure='...:name'``).

Each takes ``(df, summary, extras)`` (the analysis' results table, its
summary and its extra tables) and returns a matplotlib Figure;
:func:`eegvision.viz.plot_analysis` adds the noise ceiling.
"""

from __future__ import annotations


def temporal(df, summary, extras):
    from .decoding import plot_temporal

    return plot_temporal(df, summary, timecourse=extras.get("timecourse"),
                         clusters=extras.get("clusters"))


def spatial(df, summary, extras):
    if "mode" in df and (df["mode"] == "searchlight").any():
        from .spatial_map import plot_searchlight

        return plot_searchlight(df, summary)
    from .decoding import plot_spatial

    return plot_spatial(df, summary)


def spectral(df, summary, extras):
    from .decoding import plot_spectral

    return plot_spectral(df, summary)


def semantic(df, summary, extras):
    from .semantic import plot_semantic

    return plot_semantic(df, extras)


def saliency(df, summary, extras):
    from .topomap import plot_saliency

    return plot_saliency(df, extras)


def repetitions(df, summary, extras):
    from .experiments import plot_repetitions

    return plot_repetitions(df, summary)


def datasize(df, summary, extras):
    from .experiments import plot_datasize

    return plot_datasize(df, summary)


def loso(df, summary, extras):
    from .experiments import plot_loso

    return plot_loso(df, summary)


def timefreq(df, summary, extras):
    from .experiments import plot_timefreq

    return plot_timefreq(extras["tfr"])


def topk(df, summary, extras):
    from .experiments import plot_topk

    return plot_topk(df, summary, extras.get("noise_ceiling"))


def generalization(df, summary, extras):
    from .experiments import plot_generalization

    return plot_generalization(df, summary, extras)


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
    from ..analysis.registry import get_spec

    return get_spec(name).draw(df, summary, extras)
