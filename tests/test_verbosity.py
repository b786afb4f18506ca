"""Verbosity as MNE's: a quiet run prints its result lines and nothing else.

The CLI runs in this process under ``capfd`` (the file descriptors: C-level
output, tqdm, MNE's own stdout handler and Python's warnings are caught too).
"""

from __future__ import annotations

import logging

import pandas as pd
import pytest

import eegvision as ev
from eegvision._commands.analysis import reason_clauses
from eegvision._utils import logger, progress_bar
from eegvision.cli import main

WINDOWS = "0-300"


def _analyze(root, out, *flags, before=()):
    return main([*before, "analyze", "temporal", "--data-dir", str(root), "--model", "ridge",
                 "--windows", WINDOWS, "--out", str(out), *flags])


def _result_lines(out):
    """The lines a run of ``_analyze`` must print: its summary, then where it wrote."""
    summary = pd.read_csv(out / "summary.csv")
    conditions = [str(c) for c in summary["condition"]]
    return conditions, [f"temporal: {len(pd.read_csv(out / 'results.csv'))} results -> "
                        f"{out / 'results.csv'}", f"figure -> {out / 'temporal.png'} (+ .pdf)"]


def _assert_only_results(captured, out):
    assert captured.err == "", captured.err
    lines = [ln for ln in captured.out.splitlines() if ln.strip()]
    conditions, tail = _result_lines(out)
    summary = pd.read_csv(out / "summary.csv")
    assert lines[0].split() == [c for c in ("condition", "mean", "ci_low", "ci_high", "p_chance",
                                            "p_binomial") if c in summary]
    rows = [ln for ln in lines[1:-2] if not ln.lstrip().startswith("note")]
    notes = [ln for ln in lines[1:-2] if ln.lstrip().startswith("note")]
    assert [ln.split()[0] for ln in rows] == conditions
    # why statistics are missing (small n) is a result line too, one per reason
    assert len(notes) == len({c for r in summary["reason"].dropna() for c in reason_clauses(r)})
    assert all(ln.count("(") == ln.count(")") for ln in notes)  # no clause cut inside (...)
    assert lines[-2:] == tail


@pytest.mark.parametrize("where", ["flag", "env"])
def test_a_quiet_run_prints_only_its_result_lines(tiny_root, tmp_path, capfd, monkeypatch,
                                                  where):
    out = tmp_path / "out"
    if where == "env":
        monkeypatch.setenv("EEGVISION_LOGGING_LEVEL", "WARNING")
        assert _analyze(tiny_root, out) == 0
    else:
        assert _analyze(tiny_root, out, "--quiet") == 0
    _assert_only_results(capfd.readouterr(), out)
    assert logger.level == logging.INFO  # the run's level is not left behind


@pytest.mark.parametrize("argv", [["--quiet", "analyze", "temporal"],
                                  ["analyze", "temporal", "--quiet"],
                                  ["-q", "topomap"], ["train", "-q"]])
def test_quiet_and_verbose_before_or_after_the_command(argv):
    from eegvision.cli import build_parser

    args = build_parser().parse_args(argv)
    assert args.quiet and not args.verbose
    swap = {"-q": "-v", "--quiet": "--verbose"}
    args = build_parser().parse_args([swap.get(a, a) for a in argv])
    assert args.verbose and not args.quiet


def test_the_default_run_also_says_what_it_does(tiny_root, tmp_path, capfd):
    out = tmp_path / "out"
    assert _analyze(tiny_root, out) == 0
    captured = capfd.readouterr()
    assert "time-resolved curve (1 subject(s)): peak top-1" in captured.err
    assert "temporal: 2 jobs, 0 cached, 2 to run" in captured.err
    assert "noise ceiling: 1 jobs" in captured.err
    assert captured.out.splitlines()[-2:] == _result_lines(out)[1]


def test_verbose_and_quiet_together_are_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["-v", "analyze", "temporal", "--quiet"])
    assert exc.value.code == 2
    assert "-v/--verbose and -q/--quiet contradict each other" in capsys.readouterr().err


def test_a_bad_level_in_the_environment_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EEGVISION_LOGGING_LEVEL", "loud")
    assert main(["simulate", str(tmp_path / "root")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("eegvision simulate: error: $EEGVISION_LOGGING_LEVEL 'loud': not a logging "
                   "level Fix: use one of DEBUG, INFO, WARNING, ERROR, CRITICAL (or True for "
                   "INFO, False for WARNING)")
    assert not (tmp_path / "root").exists()


def test_set_log_level_and_use_log_level_as_mne(capfd, monkeypatch):
    old = ev.set_log_level("WARNING", return_old_level=True)
    try:
        logger.info("hidden")
        with ev.use_log_level(True):
            logger.info("shown")
            with ev.use_log_level("error"):
                logger.warning("hidden too")
        logger.warning("a warning")
        monkeypatch.setenv("EEGVISION_LOGGING_LEVEL", "DEBUG")
        ev.set_log_level(None)  # None reads the environment
        assert logger.level == logging.DEBUG
        with pytest.raises(ev.EEGVisionError, match="not a logging level"):
            ev.set_log_level("LOUD")
    finally:
        ev.set_log_level(old)
    assert capfd.readouterr().err.splitlines() == ["shown", "WARNING: a warning"]


def test_verbose_argument_applies_to_one_call(tiny_root, capfd):
    data = ev.load_subject(tiny_root, 1, verbose="WARNING")
    assert capfd.readouterr().err == ""
    df = ev.analyze("temporal", data=data, model="ridge", windows="0-300", plot=False,
                    verbose=False)
    assert capfd.readouterr().err == "" and len(df) == 2
    assert logger.level == logging.INFO


def test_progress_bars_only_on_a_terminal_and_not_when_quiet(monkeypatch):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert not progress_bar(range(3)).disable
    assert progress_bar(range(3), enabled=False).disable
    assert progress_bar(range(3), disable=True).disable
    with ev.use_log_level("WARNING"):
        assert progress_bar(range(3)).disable
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert progress_bar(range(3)).disable


def test_verbose_is_documented_on_every_public_function():
    import inspect

    from eegvision.data.download import fetch_things_eeg2
    from eegvision.data.presets import preprocess_preset
    from eegvision.data.raw import preprocess_subject
    from eegvision.data.simulate import simulate_root
    from eegvision.figures import rebuild_figures
    from eegvision.images.features import extract_features
    from eegvision.training.runs import run_training

    for func in (ev.analyze, ev.fit, ev.evaluate.evaluate, ev.load_subject, ev.read_epochs_file,
                 extract_features, preprocess_subject, preprocess_preset, simulate_root,
                 fetch_things_eeg2, rebuild_figures, run_training):
        assert inspect.signature(func).parameters["verbose"].default is None, func
        assert "verbose : bool | str | int | None" in inspect.getdoc(func), func


def test_the_level_reaches_the_worker_processes_and_is_restored(monkeypatch):
    import os

    import eegvision.cli as cli

    seen = {}
    monkeypatch.setattr(cli, "_cmd_info", lambda args: seen.update(
        env=os.environ.get("EEGVISION_LOGGING_LEVEL"), level=logger.level))
    monkeypatch.delenv("EEGVISION_LOGGING_LEVEL", raising=False)
    assert main(["info", "--quiet"]) == 0  # joblib and Dask workers read it when they start
    assert seen == {"env": "WARNING", "level": logging.WARNING}
    assert main(["-v", "info"]) == 0
    assert seen == {"env": "DEBUG", "level": logging.DEBUG}
    assert "EEGVISION_LOGGING_LEVEL" not in os.environ and logger.level == logging.INFO
