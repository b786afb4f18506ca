"""The Dask backend: same table as the local backend, survives a dead worker, SLURM script."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from eegvision._utils import EEGVisionError  # noqa: E402

WINDOWS = "0-200,200-400,400-600"
TIMING = ["train_seconds", "job_seconds"]


def _analyze(root, out, **kw):
    from eegvision.pipeline import analyze

    return analyze("temporal", 1, data_dir=root, out=out, model="ridge", windows=WINDOWS,
                   seeds=[0], plot=False, progress=False, timecourse=False, **kw)


def _stable(df):
    cols = [c for c in df.columns if c not in TIMING]
    return df[cols].sort_values(["condition", "seed"]).reset_index(drop=True)


def test_dask_matches_local(tiny_root, tmp_path):
    import pandas as pd

    local = _analyze(tiny_root, tmp_path / "local")
    dask = _analyze(tiny_root, tmp_path / "dask", backend="dask", jobs=2)
    assert len(dask) == len(local) == 4
    assert dask["config_hash"].is_unique
    pd.testing.assert_frame_equal(_stable(dask), _stable(local))
    assert len(list((tmp_path / "dask" / "jobs").glob("*.json"))) == 4
    from eegvision import __version__

    assert (dask["eegvision_version"] == __version__).all() and dask["data_hash"].nunique() == 1


def _slow_jobs_plugin(log_dir, delay):
    """A worker plugin that makes every job log its start (key, pid) and sleep first."""

    class SlowJobs(distributed.WorkerPlugin):
        def setup(self, worker):
            import eegvision.runner as runner

            original = getattr(runner.execute_job, "_original", runner.execute_job)

            def slow(job):
                Path(log_dir, f"{job.key}-{os.getpid()}").touch()
                time.sleep(delay)
                return original(job)

            slow._original = original
            runner.execute_job = slow

    return SlowJobs()


def test_killed_worker_loses_and_duplicates_nothing(tiny_root, tmp_path):
    from eegvision._dask import run_dask
    from eegvision.data.things import load_subject
    from eegvision.pipeline import build_jobs
    from eegvision.runner import _run_and_store

    ref = load_subject(tiny_root, 1).test
    jobs = build_jobs("temporal", [1], ref, root=tiny_root, seeds=[0], model="ridge",
                      windows="0-200,200-400,400-600")
    starts, cache = tmp_path / "starts", tmp_path / "jobs"
    starts.mkdir()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.register_plugin(_slow_jobs_plugin(str(starts), 0.5))
        victim = next(iter(client.run(os.getpid).values()))
        out = {}
        thread = threading.Thread(target=lambda: out.update(
            results=run_dask(jobs, cache, _run_and_store, scheduler=cluster.scheduler_address)))
        thread.start()
        deadline = time.monotonic() + 20
        while not list(starts.glob(f"*-{victim}")):
            assert time.monotonic() < deadline, "the victim worker never started a job"
            time.sleep(0.02)
        os.kill(victim, signal.SIGKILL)  # mid-job: it sleeps 0.5 s after the marker
        killed_key = next(starts.glob(f"*-{victim}")).name.rsplit("-", 1)[0]
        thread.join(timeout=40)
        assert not thread.is_alive()
    results = out["results"]
    assert [r["row"]["config_hash"] for r in results] == [j.key for j in jobs]
    assert sorted(p.stem for p in cache.glob("*.json")) == sorted(j.key for j in jobs)
    # The killed job was rescheduled and finished on another worker process.
    reruns = [p for p in starts.glob(f"{killed_key}-*") if not p.name.endswith(f"-{victim}")]
    assert reruns, "the job of the killed worker was not run again"
    assert not list(cache.glob(".*.tmp"))


def test_unreachable_scheduler_names_option(tmp_path):
    import dask

    from eegvision._dask import run_dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(EEGVisionError, match="--scheduler tcp://127.0.0.1:9"):
            run_dask([], tmp_path, None, scheduler="tcp://127.0.0.1:9")


def test_slurm_cluster_with_fake_sbatch(tmp_path, monkeypatch):
    pytest.importorskip("dask_jobqueue")
    from eegvision._dask import slurm_cluster

    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    log.mkdir()
    scripts = {
        "sbatch": f'#!/bin/sh\ncp "$1" "{log}/job.sh"\necho "$@" >> "{log}/sbatch"\n'
                  'echo "Submitted batch job 4242"\n',
        "scancel": f'#!/bin/sh\necho "$@" >> "{log}/scancel"\n',
        "squeue": "#!/bin/sh\nexit 0\n",
    }
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cluster = slurm_cluster(cores=2, memory="4GiB", queue="short", account="lab",
                            job_extra_directives=["--gres=gpu:1"],
                            scheduler_options={"host": "127.0.0.1", "dashboard_address": None})
    try:
        script = cluster.job_script()
        for line in ("#SBATCH -p short", "#SBATCH -A lab", "#SBATCH --gres=gpu:1",
                     "#SBATCH -t 01:00:00", "#SBATCH --cpus-per-task=2"):
            assert line in script
        assert "dask_worker" in script or "dask worker" in script
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        cluster.scale(jobs=1)
        deadline = time.monotonic() + 20
        while not (log / "job.sh").exists():
            assert time.monotonic() < deadline, "sbatch was never called"
            time.sleep(0.05)
        submitted = (log / "job.sh").read_text()
        assert "#SBATCH --gres=gpu:1" in submitted and cluster.scheduler_address in submitted
    finally:
        cluster.close()
    assert "4242" in (log / "scancel").read_text()


def test_missing_distributed_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    from eegvision import _dask

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] == "distributed":
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(EEGVisionError, match=r"pip install 'dask\[distributed\]'"):
        _dask.run_dask([], tmp_path, None)
