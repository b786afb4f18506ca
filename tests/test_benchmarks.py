"""Smoke tests of the benchmark scripts: they run end to end and write what the docs quote.

The numbers they measure are not checked here (timings belong in benchmark runs, not
in tests); only that the scripts still work with the package as it is.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script, *args):
    return subprocess.run([sys.executable, str(BENCH / script), *map(str, args)], check=True,
                          capture_output=True, text=True, timeout=600).stdout


def test_time_to_accuracy_writes_curves_and_summary(tiny_root, tmp_path):
    out = tmp_path / "bench"
    stdout = _run("bench_time_to_accuracy.py", "--data-dir", tiny_root, "--out", out,
                  "--seeds", "1", "--nice-epochs", 3, "--fast-epochs", 2, "--skip-nice-amp")
    assert "machine:" in stdout
    curves = pd.read_csv(out / "curves.csv")
    assert curves.groupby(["recipe", "seed"]).size().to_dict() == {("fast", 1): 2, ("nice", 1): 3}
    assert curves.top1.between(0, 1).all() and (curves.seconds > 0).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["source"] == str(tiny_root) and summary["seeds"] == [1]
    assert {"cpu", "cores", "flags", "native_bf16", "torch", "torch_threads"} <= set(
        summary["machine"])
    for row in summary["per_seed"]:
        assert row["nice_epochs"] == 3 and row["fast_epochs"] == 2
        reached = row["fast_seconds_to_nice_final"]
        # the ratio is fast's time to nice's final over nice's total, or NaN if never reached
        if math.isnan(reached):
            assert math.isnan(row["ratio"])
        else:
            assert row["ratio"] == pytest.approx(reached / row["nice_seconds_total"], abs=1e-12)
    assert (out / "curves.png").stat().st_size > 0


def test_throughput_runs_every_mode(tmp_path):
    out = tmp_path / "thr.json"
    stdout = _run("bench_throughput.py", "--n-trials", 48, "--n-chans", 8, "--n-times", 100,
                  "--n-features", 16, "--batch-size", 16, "--batches", 1, "--json", out)
    assert "| fast |" in stdout and "machine:" in stdout
    result = json.loads(out.read_text())
    modes = {r["mode"] for r in result["rows"]}
    assert {"reference+DataLoader", "reference", "fast"} <= modes
    assert all(r["trials_per_s"] > 0 for r in result["rows"])
    assert result["full_epoch"]["trials_per_s"] > 0 and result["machine"]["cores"] >= 1


def test_bench_encoders_compares_every_method(tmp_path):
    out = tmp_path / "enc"
    stdout = _run("bench_encoders.py", "--subjects", 1, "--seeds", "0", "--epochs", 1,
                  "--sim-size", "40,8", "--batch-size", 16, "--out", out, "--methods",
                  "nice,eegnet,mlp,mlp-17ch,ubp,blur-bank,ubp-sharp,blur-bank-sharp")
    assert "machine:" in stdout and "| ubp | ubp | mlp | 17 | 1 | 16 |" in stdout
    df = pd.read_csv(out / "results.csv")
    assert set(df["method"]) == {"nice", "eegnet", "mlp", "mlp-17ch", "ubp", "blur-bank",
                                 "ubp-sharp", "blur-bank-sharp"}
    assert df["top1"].between(0, 1).all() and (df["s_per_epoch"] > 0).all()
    assert set(df.loc[df["method"] == "ubp", "channels"]) == {17}


def test_sweep_bench_reports_ratios_and_memory(tmp_path):
    out = tmp_path / "sweep.json"
    stdout = _run("bench_sweep.py", "--n-train", 40, "--n-chans", 4, "--n-features", 16,
                  "--epochs", 1, "--freeze", 0, "--json", out)
    assert "machine:" in stdout and "throughput batched/alone" in stdout
    result = json.loads(out.read_text())
    assert [r["mode"] for r in result["runs"]] == ["uncropped", "alone", "batched"]
    assert all(r["models"] == 11 and r["models_epochs_per_s"] > 0 and r["peak_rss_gb"] > 0
               for r in result["runs"])
    assert set(result["ratios"]) == {f"{m}/{b}{cpu}" for m, b in (("alone", "uncropped"),
                                                                  ("batched", "uncropped"),
                                                                  ("batched", "alone"))
                                     for cpu in ("", " (CPU time)")} | {
                                         "bound_if_windows_cost_the_cheapest"}
    assert 0 < result["ratios"]["bound_if_windows_cost_the_cheapest"] <= 11
    for r in result["runs"]:
        assert list(r["last_epoch_seconds"])[:2] == ["whole", "0-100ms"]
        assert all(v > 0 for v in r["last_epoch_seconds"].values())
    assert "if every window cost what the cheapest does" in stdout


def test_sweep_recipe_bench_compares_recipes(tiny_root, tmp_path):
    out = tmp_path / "recipe"
    stdout = _run("bench_sweep_recipe.py", "--data-dir", tiny_root, "--subject", 1, "--out", out,
                  "--recipes", "sweep:epochs=2,sweep:epochs=1,lr=2e-3", "--windows", "whole,100")
    assert "machine:" in stdout
    df = pd.read_csv(out / "results.csv")
    assert list(df["recipe"]) == ["sweep:epochs=2"] * 2 + ["sweep:epochs=1,lr=2e-3"] * 2
    assert list(df["epochs"]) == [2, 2, 1, 1] and list(df["lr"]) == [3e-3, 3e-3, 2e-3, 2e-3]
    assert df["top1"].between(0, 1).all() and (df["seconds"] > 0).all()
