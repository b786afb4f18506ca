"""Publication figures and tables rebuilt from saved results (hand-written tidy tables)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eegvision.analysis import summarize_results
from eegvision.outputs import get_spec, write_outputs
from eegvision.viz._style import DOUBLE_COLUMN, SINGLE_COLUMN

N_WAY = 40
SUBJECTS = (1, 2, 3)


def _rows(analysis, conditions, rng):
    rows = []
    for subject in SUBJECTS:
        for label, params in conditions:
            top1 = float(np.clip(params["_acc"] + rng.normal(0, 0.02), 0, 1))
            rows.append({"analysis": analysis, "subject": subject, "condition": label, "seed": 0,
                         "model": "ridge", "top1": top1, "top5": min(1.0, 3 * top1),
                         "n_way": N_WAY, "n_test": N_WAY,
                         **{k: v for k, v in params.items() if k != "_acc"}})
    return pd.DataFrame(rows)


def _write(out, analysis, df, extras=None):
    module = get_spec(analysis)
    df.attrs["summary"] = summarize_results(module, df)
    out.mkdir(parents=True)
    write_outputs(module, df, extras or {}, {"analysis": analysis}, out, plot=False)


def _temporal(out, rng):
    conds = [("full", {"tmin_ms": 0.0, "tmax_ms": 1000.0, "_acc": 0.2})]
    conds += [(f"{a}-{a + 100}ms", {"tmin_ms": float(a), "tmax_ms": float(a + 100),
                                    "_acc": 0.025 + 0.15 * np.exp(-((a - 200) / 150) ** 2)})
              for a in range(0, 1000, 100)]
    times = np.arange(0, 1000, 8.0)
    tc = pd.DataFrame([{"subject": s, "time_ms": t,
                        "top1": 0.025 + 0.1 * np.exp(-((t - 200) / 100) ** 2) + rng.normal(0, 0.01),
                        "top5": 0.1} for s in SUBJECTS for t in times])
    clusters = pd.DataFrame({"start_ms": [104.0, 600.0], "stop_ms": [320.0, 600.0],
                             "p": [0.001, 0.4]})
    _write(out, "temporal", _rows("temporal", conds, rng),
           {"timecourse": tc, "clusters": clusters})


def _spatial(out, rng):
    regions = {"frontal": 15, "central": 10, "parietal": 16, "temporal": 13, "occipital": 8}
    conds = [("all", {"region": "none", "mode": "all", "n_channels": 63, "_acc": 0.2})]
    conds += [(f"drop-{r}", {"region": r, "mode": "drop", "n_channels": 63 - n,
                             "_acc": 0.08 if r == "occipital" else 0.19})
              for r, n in regions.items()]
    _write(out, "spatial", _rows("spatial", conds, rng))


def _spectral(out, rng):
    bands = {"delta": (0.5, 4.0), "theta": (4.0, 7.0), "alpha": (8.0, 12.0), "beta": (13.0, 30.0),
             "gamma": (32.0, 45.0), "high-gamma": (55.0, 95.0)}
    conds = [("broadband", {"band": "broadband", "l_freq": 0.0, "h_freq": 125.0, "_acc": 0.2})]
    conds += [(b, {"band": b, "l_freq": lo, "h_freq": hi, "_acc": 0.1 if lo < 8 else 0.03})
              for b, (lo, hi) in bands.items()]
    _write(out, "spectral", _rows("spectral", conds, rng))


def _training(out, subject, rng):
    out.mkdir(parents=True)
    ranks = rng.permutation(N_WAY) + 1
    pd.DataFrame({"concept": [f"{i + 1:05d}_thing_{i}" for i in range(N_WAY)],
                  "rank": ranks}).to_csv(out / "ranks.csv", index=False)
    metrics = {"top1": float(np.mean(ranks <= 1)), "top5": float(np.mean(ranks <= 5)),
               "n_way": N_WAY, "model": "nice", "seed": 0, "subject": subject}
    (out / "metrics.json").write_text(json.dumps(metrics))
    (out / "config.json").write_text(json.dumps({"model": "nice"}))


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(0)
    _temporal(root / "temporal", rng)
    _spatial(root / "spatial", rng)
    _spectral(root / "spectral", rng)
    for s in SUBJECTS:
        _training(root / "train" / f"sub-{s:02d}", s, rng)
    (root / "temporal" / "jobs" / "x").mkdir(parents=True)  # caches are not searched
    return root


def _check_png(path, width_in):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    h, w = img.shape[:2]
    # 300 dpi at the journal width (tight bbox: allow labels outside, whitespace trimmed)
    assert 0.8 * width_in * 300 < w < 1.2 * width_in * 300, (path.name, w)
    assert 100 < h < 4000
    rgb = img[..., :3]
    ink = np.mean(rgb.min(axis=-1) < 0.9)  # share of non-white pixels
    assert 0.01 < ink < 0.6, (path.name, ink)
    assert rgb.std() > 0.05, path.name  # not a uniform image


def test_rebuild_figures_writes_everything(results_dir, tmp_path):
    from eegvision.figures import find_results, rebuild_figures

    analyses, trainings = find_results(results_dir)
    assert [n for _, n in analyses] == ["spatial", "spectral", "temporal"]
    assert len(trainings) == 3
    written = rebuild_figures(results_dir, tmp_path)
    names = {p.name for p in written}
    for stem in ("temporal", "spatial", "spectral", "retrieval"):
        for fmt in ("png", "pdf", "svg"):
            assert f"{stem}.{fmt}" in names
            assert (tmp_path / f"{stem}.{fmt}").stat().st_size > 1000
    assert {"accuracy_table.md", "accuracy_table.tex"} <= names
    _check_png(tmp_path / "temporal.png", DOUBLE_COLUMN)
    _check_png(tmp_path / "spatial.png", SINGLE_COLUMN)
    _check_png(tmp_path / "spectral.png", SINGLE_COLUMN)
    svg = (tmp_path / "spectral.svg").read_text()
    assert "0.5–4 Hz" in svg  # Hz ranges in the tick labels, kept as text

    md = (tmp_path / "accuracy_table.md").read_text().strip().splitlines()
    table_lines = [line for line in md if line.startswith("|")]
    assert table_lines[0].startswith("| subject |") and "spatial: all" in table_lines[0]
    assert len(table_lines) == 2 + len(SUBJECTS) + 1  # header, rule, subjects, mean
    assert table_lines[-1].startswith("| mean ± SEM")
    tex = (tmp_path / "accuracy_table.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\bottomrule" in tex and r"$\pm$" in tex


def test_accuracy_table_values(results_dir):
    from eegvision.figures import training_results
    from eegvision.viz.tables import accuracy_table, to_markdown

    spatial = pd.read_csv(results_dir / "spatial" / "results.csv")
    train = training_results(sorted((results_dir / "train").iterdir()))
    table = accuracy_table({"spatial": spatial, "train": train})
    assert list(table.index) == [*SUBJECTS, "mean", "sem"]
    assert ("nice", "top-1") in table.columns and ("nice", "top-5") in table.columns
    col = table[("spatial", "all")]
    expect = spatial[spatial["condition"] == "all"].set_index("subject")["top1"]
    np.testing.assert_allclose(col.loc[list(SUBJECTS)].to_numpy(float), expect.to_numpy())
    assert col["mean"] == pytest.approx(expect.mean())
    assert col["sem"] == pytest.approx(expect.std(ddof=1) / np.sqrt(len(SUBJECTS)))
    assert f"{100 * expect.iloc[0]:.1f}" in to_markdown(table)


def test_cli_figures(results_dir, tmp_path):
    from eegvision.cli import main

    assert main(["figures", "--results", str(results_dir / "spatial"), "--out",
                 str(tmp_path)]) == 0
    assert (tmp_path / "spatial.png").is_file() and (tmp_path / "accuracy_table.md").is_file()
    assert main(["figures", "--results", str(tmp_path / "nothing"), "--out",
                 str(tmp_path / "o")]) == 2


def test_retrieval_examples_from_similarity(tmp_path):
    from PIL import Image

    from eegvision.viz.retrieval import pick_examples, plot_retrieval_examples

    rng = np.random.default_rng(1)
    n = 12
    sim = rng.normal(size=(n, n)) + 3 * np.eye(n) * (np.arange(n) % 2 == 0)
    concepts = [f"{i + 1:05d}_item_{i}" for i in range(n)]
    images = tmp_path / "test_images"
    for c in concepts[:6]:
        (images / c).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(images / c / "a.jpg")
    fig = plot_retrieval_examples(sim, concepts, k=3, n_examples=4, image_dir=images)
    axes = np.array(fig.axes).reshape(4, 4)
    framed = [ax for ax in axes[:, 1:].ravel() if ax.spines["top"].get_visible()]
    ranks = (sim >= np.diag(sim)[:, None]).sum(1)
    rows = pick_examples(ranks, 4)
    assert len(framed) == int(np.sum(ranks[rows] <= 3))  # one frame per hit row
    assert any(ax.images for ax in axes.ravel())  # thumbnails were drawn
    with pytest.raises(ValueError, match="concept names"):
        plot_retrieval_examples(sim, concepts[:3])


def test_temporal_marks_only_significant_clusters(results_dir):
    from eegvision.outputs import load_results
    from eegvision.viz.decoding import plot_temporal

    df, extras, _ = load_results(results_dir / "temporal")
    fig = plot_temporal(df, df.attrs["summary"], timecourse=extras["timecourse"],
                        clusters=extras["clusters"])
    ax = fig.axes[1]
    bars = [ln for ln in ax.lines if ln.get_linewidth() > 2 and len(ln.get_xdata()) == 2]
    assert len(bars) == 1  # the p = .4 cluster is not drawn
    assert bars[0].get_xdata()[0] < 104 < 320 < bars[0].get_xdata()[1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # three subjects: each drawn, no percentile "95 %" band (it needs four; MIN_SUBJECTS)
    assert "cluster p < 0.05" in labels and "no 95% CI (needs 4+ subjects)" in labels
    assert "95% CI" not in labels and "subjects" in labels


FIGURE_SCRIPTS = sorted((Path(__file__).parents[2] / "figures").glob("*.py"))


@pytest.mark.parametrize("script", FIGURE_SCRIPTS, ids=lambda p: p.stem)
def test_figure_scripts_run_from_saved_results(script, results_dir, tmp_path, monkeypatch):
    """Each ``figures/`` script rebuilds its output from saved tables (or names what is missing)."""
    import runpy

    out = tmp_path / "out"
    monkeypatch.setattr("sys.argv", [str(script), str(results_dir), str(out)])
    missing = {"fig_semantic": "semantic", "fig_topomap": "saliency"}  # not in the fixture
    # the paper's other experiments: their scripts are run in tests/analysis/test_experiments.py
    missing.update({f"fig_{n}": n for n in ("repetitions", "datasize", "loso", "timefreq",
                                             "topk", "generalization")})
    if script.stem in missing:
        analysis = missing[script.stem]
        with pytest.raises(FileNotFoundError, match=f"no {analysis} analysis folder"):
            runpy.run_path(str(script), run_name="__main__")
        return
    runpy.run_path(str(script), run_name="__main__")
    stem = "accuracy_table" if script.stem == "table_accuracy" else script.stem
    written = sorted(p.name for p in out.iterdir())
    assert written and all(p.startswith(stem) for p in written), written
    if script.stem.startswith("fig_"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= set(written)
        width = {"fig_temporal": DOUBLE_COLUMN, "fig_spatial": SINGLE_COLUMN,
                 "fig_spectral": SINGLE_COLUMN}.get(stem)
        if width:  # the retrieval grid's width depends on k and the examples
            _check_png(out / f"{stem}.png", width)
