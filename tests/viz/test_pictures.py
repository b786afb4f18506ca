"""Picture tests: every standard analysis figure and every ``figures/`` script, drawn from
tiny tables (no training), checked for size, labels and the number of data points drawn.

The tables are the golden ones (``tests/golden/``: real outputs of each analysis on the
tiny simulated root) spread to three subjects with seeded noise, so each figure sees
the columns its analysis writes and more than one subject.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from eegvision.viz._style import DOUBLE_COLUMN, SINGLE_COLUMN

matplotlib.use("Agg")

GOLDEN = Path(__file__).parents[1] / "golden"
SCRIPTS = Path(__file__).parents[2] / "figures"
SUBJECTS = (1, 2, 3)
#: (golden case, analysis) of each standard figure
CASES = {"temporal": "cumulative", "spatial": "spatial", "spectral": "spectral",
         "semantic": "semantic", "saliency": "saliency", "repetitions": "repetitions",
         "datasize": "datasize", "loso": "loso", "timefreq": "timefreq", "topk": "topk",
         "generalization": "generalization"}
#: columns given seeded noise per subject (the rest are copied): accuracies move up,
#: saliency values are scaled (non-negative maps stay so), the others move either way
NOISY = {"top1": 0.03, "top5": 0.03, "topk": 0.03, "value": 0.2, "rho": 0.05, "power_db": 0.5}
#: journal width of each figure
WIDTH = {"temporal": DOUBLE_COLUMN, "spatial": SINGLE_COLUMN, "spectral": SINGLE_COLUMN,
         "semantic": DOUBLE_COLUMN, "saliency": DOUBLE_COLUMN, "repetitions": DOUBLE_COLUMN,
         "datasize": SINGLE_COLUMN, "loso": SINGLE_COLUMN, "timefreq": DOUBLE_COLUMN,
         "topk": SINGLE_COLUMN, "generalization": SINGLE_COLUMN}


def _spread(table, rng):
    """The first subject's rows once per subject of :data:`SUBJECTS`, noisy accuracies."""
    if "subject" not in table:
        return table
    first = table[table["subject"] == table["subject"].iloc[0]]
    parts = []
    for s in SUBJECTS:
        part = first.copy()
        part["subject"] = s
        for col, sd in NOISY.items():
            if col not in part:
                continue
            noise = rng.normal(0, sd, len(part))
            if col == "value":
                part[col] = part[col] * np.exp(noise)
            else:
                part[col] = part[col] + (noise if col in ("power_db", "rho") else np.abs(noise))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def tables(analysis, rng=None):
    """``(df, summary, extras)`` of ``analysis`` from its golden tables, three subjects."""
    from eegvision.outputs import get_spec, summarize_results

    rng = rng or np.random.default_rng(0)
    case = CASES[analysis]
    found = {p.name.split("__")[1].removesuffix(".csv"): pd.read_csv(p)
             for p in sorted(GOLDEN.glob(f"{case}__*.csv"))}
    df = _spread(found.pop("results"), rng)
    found.pop("summary", None)
    extras = {name: _spread(t, rng) for name, t in found.items()}
    if analysis == "temporal":
        extras["clusters"] = pd.DataFrame({"start_ms": [100.0], "stop_ms": [300.0], "p": [0.01]})
    summary = summarize_results(get_spec(analysis), df)
    df.attrs["summary"] = summary
    return df, summary, extras


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    """Every analysis' folder written as ``eegvision analyze`` writes it (no figure)."""
    from eegvision.outputs import get_spec, write_outputs

    root = tmp_path_factory.mktemp("pictures")
    for analysis in CASES:
        df, _, extras = tables(analysis)
        (root / analysis).mkdir()
        write_outputs(get_spec(analysis), df, extras, {"analysis": analysis}, root / analysis,
                      plot=False)
    return root


def check_png(path, width_in):
    """A 300-dpi picture of the journal width (±20 %: tight bounding box), not blank."""
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert 0.8 * width_in * 300 < w < 1.2 * width_in * 300, (path.name, w)
    assert 150 < h < 4000, (path.name, h)
    rgb = img[..., :3]
    assert 0.01 < np.mean(rgb.min(axis=-1) < 0.9) < 0.7, path.name  # ink, not a flood
    assert rgb.std() > 0.05, path.name


def _data_axes(fig):
    """Axes that draw data (not colour bars, not switched off)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison
            and ax.get_label() != "<colorbar>"]


def _mean_line(ax, n_points):
    """The one line with a marker (the mean curve) of ``ax``."""
    lines = [ln for ln in ax.lines if ln.get_marker() not in (None, "None", "")]
    assert len(lines) == 1, [ln.get_label() for ln in ax.lines]
    assert len(lines[0].get_xdata()) == n_points
    return lines[0]


def _offsets(ax):
    return sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")
               and type(c).__name__ == "PathCollection")


def _n(df, column):
    return df[column].nunique()


# ---------------------------------------------------------------- what each figure draws
def count_temporal(fig, df, summary, extras):
    a, b = fig.axes[:2]
    windows = df[df["condition"] != "full"]["condition"].nunique()
    _mean_line(a, windows)
    subjects = [ln for ln in a.lines if ln.get_label() == "subjects" or ln.get_color() == "0.72"]
    assert len(subjects) == len(SUBJECTS) and all(len(ln.get_xdata()) == windows
                                                  for ln in subjects)
    n_times = _n(extras["timecourse"], "time_ms")
    assert any(len(ln.get_xdata()) == n_times and ln.get_label().startswith("mean of")
               for ln in b.lines)
    for ax in (a, b):
        assert ax.get_ylabel() == "top-1 accuracy (20-way)"
    assert b.get_xlabel() == "time (ms)" and a.get_xlabel().startswith("window end (ms)")


def _count_bars(fig, df, summary, extras):
    ax = _data_axes(fig)[0]
    n_cond = _n(df, "condition")
    bars = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
    assert len(bars) == n_cond
    assert _offsets(ax) == n_cond * len(SUBJECTS)  # one point per subject and condition
    assert ax.get_ylabel() == "top-1 accuracy (20-way)" and ax.get_xlabel()
    return ax


count_spatial = count_spectral = _count_bars


def count_loso(fig, df, summary, extras):
    ax = _count_bars(fig, df, summary, extras)
    points = {tuple(np.round(xy, 9)) for c in ax.collections if type(c).__name__ ==
              "PathCollection" for xy in c.get_offsets()}
    joins = [ln for ln in ax.lines if len(ln.get_xdata()) == 2 and ln.get_color() == "0.6"]
    assert len(joins) == len(SUBJECTS)  # each subject's pair, joined at its drawn points
    assert {tuple(np.round(xy, 9)) for ln in joins for xy in ln.get_xydata()} == points


def count_semantic(fig, df, summary, extras):
    sim_ax, rsa_ax, map_ax = _data_axes(fig)[:3]
    n = len(extras["similarity_sorted"])
    assert sim_ax.images[0].get_array().shape == (n, n)
    n_models = _n(extras["rsa"], "model")
    assert _offsets(rsa_ax) == n_models * len(SUBJECTS)
    assert _offsets(map_ax) == len(extras["concepts"])
    assert rsa_ax.get_ylabel().startswith("Spearman") and sim_ax.get_xlabel()


def count_saliency(fig, df, summary, extras):
    table = extras["saliency"]
    rows, bins = _n(table, "map"), _n(table, "bin_start_ms")
    maps = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(maps) == rows * bins
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(labels) == rows and "EEG (a.u., normalised)" in labels
    assert "pattern norm (a.u.)" in labels and not any("data units" in t for t in labels)


def count_repetitions(fig, df, summary, extras):
    axes = _data_axes(fig)
    parts = list(dict.fromkeys(df["part"]))
    assert len(axes) == len(parts)
    for ax, part in zip(axes, parts, strict=True):
        _mean_line(ax, df[df["part"] == part]["n_reps"].nunique())
        assert ax.get_ylabel() == "top-1 accuracy (20-way)" and "repetitions" in ax.get_xlabel()


def count_datasize(fig, df, summary, extras):
    ax = _data_axes(fig)[0]
    _mean_line(ax, _n(df, "fraction"))
    assert ax.get_xlabel() == "training concepts used (%)"


def count_timefreq(fig, df, summary, extras):
    tfr = extras["tfr"]
    meshes = [c for ax in _data_axes(fig) for c in ax.collections
              if type(c).__name__ == "QuadMesh"]
    assert len(meshes) == _n(tfr, "region")
    assert all(m.get_array().size == _n(tfr, "freq_hz") * _n(tfr, "time_ms") for m in meshes)
    assert all(ax.get_ylabel() == "frequency (Hz)" for ax in _data_axes(fig))


def count_topk(fig, df, summary, extras):
    ax = _data_axes(fig)[0]
    assert any(ln.get_label() == "mean" and len(ln.get_xdata()) == _n(df, "k")
               for ln in ax.lines)
    assert ax.get_ylabel() == "top-k accuracy" and ax.get_xlabel() == "k (20-way)"


def count_generalization(fig, df, summary, extras):
    ax = _data_axes(fig)[0]
    n = _n(df, "train_window")
    assert ax.images[0].get_array().shape == (n, n)
    assert ax.get_xlabel() == "test window" and ax.get_ylabel() == "training window"


@pytest.mark.parametrize("analysis", sorted(CASES))
def test_standard_figure(analysis, tmp_path):
    """The figure ``eegvision analyze`` writes: size, labels, one mark per table entry."""
    from eegvision.viz import plot_analysis, save_figure

    df, summary, extras = tables(analysis)
    fig = plot_analysis(analysis, df, summary, extras)
    globals()[f"count_{analysis}"](fig, df, summary, extras)
    (png,) = save_figure(fig, tmp_path / analysis, formats=("png",))
    check_png(png, WIDTH[analysis])


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.py")), ids=lambda p: p.stem)
def test_figure_script(script, results_dir, tmp_path, monkeypatch):
    """Each ``figures/`` script redraws its figure from the saved folders alone."""
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", [str(script), str(results_dir), str(out)])
    runpy.run_path(str(script), run_name="__main__")
    written = sorted(p.name for p in out.iterdir())
    if script.stem == "table_accuracy":
        assert {"accuracy_table.md", "accuracy_table.tex", "accuracy_table.csv"} <= set(written)
        return
    assert {f"{script.stem}.png", f"{script.stem}.pdf"} <= set(written)
    name = script.stem.removeprefix("fig_")
    width = WIDTH.get({"topomap": "saliency"}.get(name, name))
    if width:  # the retrieval grid's width follows k and the examples
        check_png(out / f"{script.stem}.png", width)


# ---------------------------------------------------------------- issue 29's reviewer notes
def _ceiling(level):
    return pd.DataFrame({"subject": list(SUBJECTS), "nc_top1": [level] * len(SUBJECTS)})


def test_high_noise_ceiling_leaves_the_axis_to_the_data():
    """A 78 % ceiling over ~5-10 % data: marked at the top edge, the axis stays the data's."""
    from eegvision.viz import plot_analysis

    df, summary, extras = tables("temporal")
    fig = plot_analysis("temporal", df, summary, {**extras, "noise_ceiling": _ceiling(0.78)})
    for ax in fig.axes[:2]:
        top = ax.get_ylim()[1]
        assert top < 0.78 / 1.5
        data_top = max(np.nanmax(ln.get_ydata()) for ln in ax.lines if len(ln.get_ydata()) > 2)
        assert data_top > 0.5 * top  # the data use the axis, not its bottom fifth
        texts = [t.get_text() for t in ax.texts]
        assert "noise ceiling\n78% \u2191" in texts


def test_a_low_time_course_keeps_its_own_scale():
    """Retrained windows at 70 % beside a time-resolved ridge at 5 %: panel b is not squeezed."""
    from eegvision.viz import plot_analysis

    df, summary, extras = tables("temporal")
    df = df.assign(top1=0.7 * df["top1"] / df["top1"].max())
    tc = extras["timecourse"].assign(top1=lambda t: 0.05 * t["top1"] / t["top1"].max())
    fig = plot_analysis("temporal", df, None, {**extras, "timecourse": tc,
                                               "noise_ceiling": _ceiling(0.78)})
    for ax in fig.axes[:2]:
        top = ax.get_ylim()[1]
        data_top = max(np.nanmax(ln.get_ydata()) for ln in ax.lines if len(ln.get_ydata()) > 2)
        assert data_top > 0.5 * top, (ax.get_title(), data_top, top)


def test_low_noise_ceiling_is_a_line_at_its_level():
    from eegvision.viz import plot_analysis

    df, summary, extras = tables("spatial")
    fig = plot_analysis("spatial", df, summary, {"noise_ceiling": _ceiling(0.09)})
    ax = fig.axes[0]
    levels = [ln.get_ydata()[0] for ln in ax.lines if ln.get_linestyle() == ":"]
    assert levels == [pytest.approx(0.09)] and ax.get_ylim()[1] > 0.09


def test_preview_timecourse_has_chance_line():
    """``preview/temporal-timecourse.png`` is drawn from the table alone: chance from its n_way."""
    from eegvision.viz.decoding import plot_timecourse

    tc = tables("temporal")[2]["timecourse"]
    tc.attrs["n_way"] = 20
    ax = plot_timecourse(tc).axes[0]
    chance = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(chance) == 1 and chance[0].get_ydata()[0] == pytest.approx(1 / 20)
    assert "chance" in [t.get_text() for t in ax.texts]
    assert ax.get_ylabel() == "top-1 accuracy (20-way)"
    # with four subjects the band is the bootstrap interval; with three, each subject instead
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "no 95% CI (needs 4+ subjects)" in labels and "subjects" in labels


def test_saliency_colour_maps_follow_the_sign():
    from eegvision.viz import plot_analysis

    df, summary, extras = tables("saliency")
    fig = plot_analysis("saliency", df, summary, extras)
    bins = extras["saliency"]["bin_start_ms"].nunique()
    maps = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    rows = [{ax.images[0].get_cmap().name for ax in maps[r * bins:(r + 1) * bins]}
            for r in range(len(maps) // bins)]  # rows: mean EEG, pattern, EEG x pattern
    assert rows == [{"RdBu_r"}, {"Reds"}, {"RdBu_r"}]  # signed: diverging; norms: sequential


def test_eeg_in_volts_is_drawn_in_microvolts():
    from eegvision.viz.topomap import eeg_unit

    assert eeg_unit(np.array([-2e-6, 5e-6])) == (1e6, "EEG (\u00b5V)")
    assert eeg_unit(np.array([-1.5, 0.3]))[1] == "EEG (a.u., normalised)"


def test_ranks_only_retrieval_draws_only_what_is_known():
    """A ranks.csv holds each concept's own rank: one point per example, no 'not saved' cell."""
    from eegvision.viz.retrieval import plot_retrieval_examples

    ranks = pd.DataFrame({"concept": [f"{i:05d}_thing" for i in range(1, 31)],
                          "rank": np.random.default_rng(0).permutation(30) + 1})
    fig = plot_retrieval_examples(ranks, k=5, n_examples=6)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert not any("not saved" in t for t in texts)
    strips = [ax for ax in fig.axes if ax.get_xscale() == "log"]
    assert len(strips) == 6 and sum(_offsets(ax) for ax in strips) == 6
    assert strips[-1].get_xlabel() == "rank (log scale)"


def test_small_n_is_said_on_the_figure():
    """Two subjects, both 2 % below the reference: no paired test, no interval, and the
    figure says so instead of printing p = 0 stars or zero-width error bars."""
    from eegvision.analysis.stats import summarize
    from eegvision.viz.decoding import plot_conditions

    drops = {"all": (0.0, 0.0), "drop": (0.02, 0.02), "other": (0.01, 0.05)}
    df = pd.DataFrame([{"subject": s, "condition": c, "seed": 0, "n_way": 50, "n_test": 50,
                        "top1": a - drops[c][s - 1]}
                       for s, a in ((1, 0.2), (2, 0.3)) for c in drops])
    summary = summarize(df, reference="all")
    ax = plot_conditions(df, summary, reference="all", mark="reference").axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts[1:4] == ["ref.", "n/a", "n.s."]  # 'drop' has no test; 'other' has one
    note = next(t for t in texts if t.startswith("n = 2 subjects"))
    assert "stars: vs all (paired t, FDR); n/a: not testable" in note
    assert "no 95% CI (needs 4+ subjects)" in note
    assert not [c for c in ax.collections if type(c).__name__ == "LineCollection"]  # no CI bars
    alone = plot_conditions(df[df["condition"] != "other"], summary, reference="all",
                            mark="reference").axes[0]
    assert any("no paired t-test vs all" in t.get_text() for t in alone.texts)
    one = summarize(df[df["subject"] == 1])
    ax = plot_conditions(df[df["subject"] == 1], one).axes[0]
    note = next(t.get_text() for t in ax.texts if t.get_text().startswith("n = 1 subject"))
    assert "binomial, trial level" in note
