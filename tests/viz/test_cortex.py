"""Cortical maps on the inflated fsaverage5 surface: six views, one scale with a unit, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eegvision.viz import cortex


def _map():
    values = np.zeros(20484)
    values[:300] = np.linspace(0, 2, 300)
    return values


def test_plot_cortex_draws_six_views_on_one_scale():
    fig = cortex.plot_cortex(_map(), title="a map")
    views = [ax for ax in fig.axes if ax.name == "3d"]
    # rows: left, right hemisphere; columns: lateral, medial, posterior
    assert [ax.get_title() for ax in views] == [f"{h} {v}" for h in ("left", "right")
                                                for v in ("lateral", "medial", "posterior")]
    bars = [ax for ax in fig.axes if ax.name != "3d"]
    assert len(bars) == 1 and "%" in bars[0].get_ylabel()
    assert bars[0].get_ylim() == (0.0, 100.0)
    assert fig._suptitle.get_text() == "a map"


def test_sources_figure_says_whether_it_is_thresholded():
    edges = np.array([0.0, 100.0, 200.0])
    values = np.stack([_map() * 0.5, _map()], axis=1)
    df = pd.DataFrame({"subject": [1], "method": ["gradient"], "inverse": ["sLORETA"]})
    fig = cortex.sources_figure(df, None, {"cortex_mean": values, "cortex_bin_edges_ms": edges})
    title = fig._suptitle.get_text()
    assert "100-200 ms" in title and "unthresholded (1 subject; the test needs 5)" in title
    p = np.ones_like(values)
    p[:100] = 0.01
    fig = cortex.sources_figure(df, None, {"cortex_mean": values, "cortex_bin_edges_ms": edges,
                                           "cortex_p": p})
    assert "p < 0.05" in fig._suptitle.get_text()
