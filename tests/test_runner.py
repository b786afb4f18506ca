import json

import numpy as np

from eegvision import runner
from eegvision.runner import Job


def _jobs(n=3):
    return [Job("temporal", 1, f"c{i}", 0, {"tmin_ms": 100.0 * i}, {"root": "/x"}, {"model": "ridge"})
            for i in range(n)]


def _fake(calls):
    def execute(job, data=None):
        calls.append(job.condition)
        return {"row": {"subject": job.subject, "condition": job.condition, "top1": 0.1},
                "arrays": {"w": np.arange(3.0)}}
    return execute


def test_key_depends_on_everything_that_matters():
    a, b = _jobs(2)
    assert a.key != b.key
    same = Job("temporal", 1, "c0", 0, {"tmin_ms": 0.0}, {"root": "/x"}, {"model": "ridge"})
    assert same.key == a.key
    assert Job("temporal", 1, "c0", 1, {"tmin_ms": 0.0}, {"root": "/x"}, {"model": "ridge"}).key != a.key


def test_cached_jobs_are_not_rerun(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "execute_job", _fake(calls))
    jobs = _jobs()
    first = runner.run_jobs(jobs, tmp_path, progress=False)
    assert calls == ["c0", "c1", "c2"]
    second = runner.run_jobs(jobs + _jobs(4)[3:], tmp_path, progress=False)
    assert calls == ["c0", "c1", "c2", "c3"]
    assert [r["row"]["condition"] for r in second] == ["c0", "c1", "c2", "c3"]
    assert first[0]["row"] == second[0]["row"]
    np.testing.assert_array_equal(second[1]["arrays"]["w"], np.arange(3.0))


def test_partial_results_are_never_read(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "execute_job", _fake(calls))
    job = _jobs(1)[0]
    # A truncated JSON and an orphan temp file, as a killed run could leave them.
    (tmp_path / f"{job.key}.json").write_text('{"row": {"top1"')
    (tmp_path / f".{job.key}.json.abc.tmp").write_text("junk")
    out = runner.run_jobs([job], tmp_path, progress=False)
    assert calls == ["c0"]
    assert json.loads((tmp_path / f"{job.key}.json").read_text())["row"]["top1"] == 0.1
    assert out[0]["row"]["top1"] == 0.1


def test_json_without_its_arrays_is_rerun(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "execute_job", _fake(calls))
    job = _jobs(1)[0]
    runner.run_jobs([job], tmp_path, progress=False)
    (tmp_path / f"{job.key}.npz").unlink()
    runner.run_jobs([job], tmp_path, progress=False)
    assert calls == ["c0", "c0"]


def test_duplicate_jobs_run_once(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "execute_job", _fake(calls))
    job = _jobs(1)[0]
    out = runner.run_jobs([job, job], tmp_path, progress=False)
    assert calls == ["c0"] and len(out) == 2
