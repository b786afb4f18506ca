"""benchmarks/gpu_check.py without a GPU: its CPU path at tiny size, and the cuda tests' skips."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
#: The CUDA paths tests/test_cuda.py must cover (each skips here, for want of CUDA).
CUDA_TESTS = ("test_train_and_evaluate_cli_on_cuda", "test_bf16_autocast_trains_without_a_scaler",
              "test_fp16_autocast_steps_through_a_gradscaler",
              "test_sweep_engine_on_cuda_equals_lone_fits_and_keeps_the_callers_rng",
              "test_evaluate_on_cuda_matches_the_model_on_the_cpu",
              "test_features_on_cuda_match_the_cpu",
              "test_saliency_on_cuda_matches_the_model_on_the_cpu[gradcam]",
              "test_topomap_cli_on_cuda")


@pytest.fixture(scope="module")
def check(tmp_path_factory):
    """One CPU run of the check at tiny size: (process, its JSON report)."""
    out = tmp_path_factory.mktemp("gpu_check") / "check.json"
    proc = subprocess.run([sys.executable, str(BENCH / "gpu_check.py"), "--device", "cpu",
                           "--size", "tiny", "--epochs", "1", "--encoders", "mlp",
                           "--json", str(out)], capture_output=True, text=True, timeout=600)
    return proc, json.loads(out.read_text()) if out.is_file() else None


@pytest.fixture
def gpu_check(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import gpu_check

    return gpu_check


def test_cpu_run_passes_every_step_and_prints_one_table(check):
    proc, report = check
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = report["rows"]
    assert [r["step"] for r in rows] == [
        "cuda tests", "data (tiny)", "train mlp float32", "train mlp autocast", "sweep batched",
        "sweep one at a time", "topomap", "features"]
    assert all(r["status"] == "ok" for r in rows) and report["ok"]
    header = [ln for ln in proc.stdout.splitlines() if ln.startswith("| step")]
    assert len(header) == 1
    for column in ("wall s", "peak GPU MiB", "top-1", "ratio"):
        assert column in header[0]
    by = {r["step"]: r for r in rows}
    for step in ("train mlp float32", "sweep batched", "topomap"):
        assert 0 <= by[step]["top1"] <= 1
    assert by["sweep batched"]["ratio"] > 0
    float32, autocast = by["train mlp float32"], by["train mlp autocast"]
    if autocast["precision"] == float32["precision"]:  # a CPU without native bf16
        assert math.isnan(autocast["ratio"])
    else:
        assert autocast["precision"] == "bfloat16-mixed" and autocast["ratio"] > 0
    assert "5 models" in by["sweep batched"]["note"]  # tiny: the whole epoch and 4 windows
    assert all(math.isnan(r["peak_gpu_mib"]) for r in rows)  # no GPU, no GPU memory


def test_cuda_tests_are_collected_and_skip_for_want_of_cuda(check):
    proc, report = check
    outcomes = report["rows"][0]["outcomes"]
    names = {name.rsplit("::", 1)[-1] for name in outcomes}
    assert set(CUDA_TESTS) <= names
    torch = pytest.importorskip("torch")
    for name, (outcome, message) in outcomes.items():
        assert outcome == "skipped", name
        assert message.startswith("needs CUDA") and f"torch {torch.__version__}" in message, name


def test_cuda_device_without_cuda_is_one_line_and_exit_2(gpu_check, capsys):
    with pytest.raises(SystemExit) as err:
        gpu_check.main(["--device", "cuda"])
    assert err.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert "--device cuda: CUDA is not available" in lines[-1] and "--device cpu" in lines[-1]


def test_bad_options_exit_2(gpu_check, capsys):
    for argv, words in ((["--device", "cpu", "--encoders", "nicee"], "--encoders: unknown nicee"),
                        (["--device", "cpu", "--epochs", "0"], "--epochs 0")):
        with pytest.raises(SystemExit) as err:
            gpu_check.parse_args(argv)
        assert err.value.code == 2 and words in capsys.readouterr().err


def test_failures_timeouts_and_the_total_budget_are_reported(gpu_check):
    args = gpu_check.parse_args(["--device", "cpu", "--step-budget-s", "0.3", "--budget-s", "60"])
    check = gpu_check.Check(args)

    def broken():
        raise ValueError("planted\nsecond line")

    assert check.run("fine", lambda: dict(top1=0.5))["status"] == "ok"
    assert check.run("broken", broken)["note"] == "ValueError: planted"
    assert check.run("slow", time.sleep, 5)["status"] == "timeout"
    assert check.rows[-1]["wall_s"] < 3
    check.t0 -= 120  # as if two minutes had passed
    assert check.run("late", lambda: None)["status"] == "not run"
    assert [r["status"] for r in check.rows] == ["ok", "FAILED", "timeout", "not run"]
    assert not check.ok
    table = gpu_check.format_table(check.rows)
    assert "| fine " in table and "50.0%" in table and "| -" in table
