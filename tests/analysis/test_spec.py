"""An analysis is one spec: a toy registered here reaches every entry point (issue 27)."""

from __future__ import annotations

import types

import pytest

from eegvision.analysis.registry import register, unregister
from eegvision.analysis.spec import AnalysisSpec, Option
from eegvision.pipeline import analyze


def _conditions(options, ref):
    cut = float(options.get("toy_cut_ms") or 300.0)
    return [("full", {"tmax_ms": None}), (f"0-{cut:g}ms", {"tmax_ms": cut})]


def _derive(data, params):
    from eegvision.analysis._base import derive_both

    if params["tmax_ms"] is None:
        return data
    return derive_both(data, lambda d: d.mask_time(0.0, params["tmax_ms"] / 1000,
                                                   include_tmax=False))


def _figure(df, summary, extras):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar(df["condition"], df["top1"])
    return fig


@pytest.fixture
def toy():
    hooks = types.SimpleNamespace(NAME="toy", REFERENCE="full", conditions=_conditions,
                                  derive=_derive)
    spec = register(AnalysisSpec(
        "toy", hooks, summary="A toy: the whole epoch against its start.", figure=_figure,
        options=(Option("toy_cut_ms", "float", 300.0, "end of the early window (ms)",
                        {"low": 0, "low_open": True, "high": 1e6}, cli=True),)))
    yield spec
    unregister("toy")


def test_toy_analysis_in_cli_api_toml_and_figures(toy, tiny_root, tmp_path, capsys):
    from eegvision._utils import OptionError
    from eegvision.cli import main

    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    help_text = capsys.readouterr().out
    assert "toy" in help_text and "--toy-cut-ms" in help_text
    # ev.analyze: the keyword is checked by the spec's bounds, then reaches the conditions
    with pytest.raises(OptionError, match="toy_cut_ms"):
        analyze("toy", 1, data_dir=tiny_root, model="ridge", toy_cut_ms=-5, progress=False)
    df = analyze("toy", 1, data_dir=tiny_root, model="ridge", toy_cut_ms=200, progress=False,
                 noise_ceiling=False)
    assert list(df["condition"]) == ["full", "0-200ms"]
    # a TOML recipe's [options], through the CLI
    recipe = tmp_path / "toy.toml"
    recipe.write_text('[train]\nmodel = "ridge"\n\n[options]\ntoy_cut_ms = 100\n')
    out = tmp_path / "out"
    assert main(["analyze", "toy", "--config", str(recipe), "--data-dir", str(tiny_root),
                 "--out", str(out), "--no-noise-ceiling"]) in (0, None)
    assert (out / "toy.png").is_file()
    import pandas as pd

    assert list(pd.read_csv(out / "results.csv")["condition"]) == ["full", "0-100ms"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[options]\ntoy_cut_ms = 0\n')
    assert main(["analyze", "toy", "--config", str(bad), "--data-dir", str(tiny_root),
                 "--out", str(tmp_path / "bad")]) == 2
    assert "toy_cut_ms" in capsys.readouterr().err
    # figures: the toy's folder is found and drawn by its spec's figure
    assert main(["figures", "--results", str(out), "--out", str(tmp_path / "figs")]) in (0, None)
    assert (tmp_path / "figs" / "toy.png").is_file()


def test_an_option_declared_twice_must_agree(toy):
    clash = AnalysisSpec("toy2", toy.hooks,
                         options=(Option("toy_cut_ms", "int", 3, "clashes"),))
    with pytest.raises(ValueError, match="toy_cut_ms"):
        register(clash)


def test_docs_option_page_is_generated_from_the_specs():
    from pathlib import Path

    from eegvision.analysis.registry import options_markdown

    page = Path(__file__).resolve().parents[2] / "docs" / "analysis-options.md"
    assert page.read_text() == options_markdown(), (
        "docs/analysis-options.md is stale: python -m eegvision.analysis.registry > "
        "docs/analysis-options.md")
