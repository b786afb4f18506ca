"""A sweep SIGKILLed mid-run resumes: only missing jobs run, partial files are never read."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd

WINDOWS = ",".join(f"{lo}-{lo + 140}" for lo in range(0, 700, 140))  # 5 windows + full
N_JOBS = 6
TIMING = ["train_seconds", "job_seconds", "command"]  # command: --out differs


def _cmd(root, out):
    return [sys.executable, "-m", "eegvision", "-v", "analyze", "temporal", "--data-dir",
            str(root), "--model", "ridge", "--windows", WINDOWS, "--seed", "0", "--out", str(out)]


def _run(root, out, env):
    proc = subprocess.run(_cmd(root, out), env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _stable(path):
    df = pd.read_csv(path)
    return df.drop(columns=[c for c in TIMING if c in df]).sort_values("condition")


def test_killed_sweep_resumes_only_missing_jobs(tiny_root, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    reference = _run(tiny_root, tmp_path / "ref", env)
    assert f"{N_JOBS} jobs, 0 cached, {N_JOBS} to run" in reference.stderr
    hashes = json.loads((tmp_path / "ref" / "config.json").read_text())["job_hashes"]

    # Kill the sweep at a seeded random point once at least `k` jobs are cached.
    k = int(np.random.default_rng(7).integers(2, N_JOBS - 1))
    out = tmp_path / "killed"
    jobs_dir = out / "jobs"
    proc = subprocess.Popen(_cmd(tiny_root, out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list(jobs_dir.glob("*.json"))) < k and proc.poll() is None:
            assert time.monotonic() < deadline, "the sweep never cached enough jobs"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.csv").exists()
    done = {p.stem for p in jobs_dir.glob("*.json")}
    assert k <= len(done) < len(hashes)

    # Plant partial files: a truncated result of a missing job, a dead writer's temp file.
    missing = [h for h in hashes if h not in done]
    (jobs_dir / f"{missing[0]}.json").write_text('{"job": {"analysis": "temp')
    (jobs_dir / f".{missing[-1]}.json.abcd1234.tmp").write_text('{"row": {"top1": 1.0')
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in jobs_dir.glob("*.json")
              if p.stem in done}

    resumed = _run(tiny_root, out, env)
    n_cached = len(done)
    assert f"{N_JOBS} jobs, {n_cached} cached, {N_JOBS - n_cached} to run" in resumed.stderr
    assert re.search(rf"Ignoring unreadable cache entry .*{missing[0]}\.json", resumed.stderr)
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in jobs_dir.glob("*.json")
             if p.stem in done}
    assert after == before, "a job that was already cached ran again"
    assert sorted(p.stem for p in jobs_dir.glob("*.json")) == sorted(hashes)
    fixed = json.loads((jobs_dir / f"{missing[0]}.json").read_text())
    assert fixed["row"]["config_hash"] == missing[0]

    pd.testing.assert_frame_equal(_stable(out / "results.csv"), _stable(tmp_path / "ref" /
                                                                          "results.csv"))


def test_file_fingerprint_sees_a_changed_tail(tmp_path):
    from eegvision._provenance import file_fingerprint

    path = tmp_path / "eeg.npy"
    path.write_bytes(b"x" * (3 << 20))
    first = file_fingerprint(path)
    assert first == file_fingerprint(path) and first.startswith("sha256:")
    path.write_bytes(b"x" * ((3 << 20) - 1) + b"y")
    os.utime(path, ns=(1, 1))
    assert file_fingerprint(path) != first
