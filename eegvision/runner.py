"""Run analysis jobs: cached by config hash, resumable, local or distributed.

A job is a small, JSON-able description: (analysis, subject, condition,
seed) plus everything that determines its result (data options, training
config, condition parameters). Its result is cached under
``<cache_dir>/<hash>.json`` (and ``.npz`` for arrays), written atomically, so
re-running a sweep runs only what is missing and a killed sweep never leaves
a partial result behind. Backends only decide *where* ``execute_job`` runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from ._utils import _check_option, atomic_path, logger, write_json

BACKENDS = ("local", "dask")


@dataclass(frozen=True)
class Job:
    """One unit of work: fit and score one derived dataset.

    Parameters
    ----------
    analysis : str
        Name of the analysis module that derives the data (``temporal`` ...).
    subject : int
        Test subject.
    condition : str
        Human-readable condition label (``0-100ms``, ``drop-occipital`` ...).
    seed : int
        Training seed.
    params : dict
        Condition parameters, passed to the analysis' ``derive``.
    data : dict
        How to load data: ``root``, ``layout``, ``targets``.
    train : dict
        The :class:`eegvision.train.TrainConfig` fields.
    """

    analysis: str
    subject: int
    condition: str
    seed: int
    params: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    @property
    def key(self):
        """Hash of everything that determines the result (not of where it runs)."""
        blob = json.dumps({"version": __version__, **asdict(self)}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


# ------------------------------------------------------------------ executing
@functools.lru_cache(maxsize=4)
def _load_subject_cached(root, subject, layout, targets):
    from .data.things import load_subject

    return load_subject(root, subject, layout=layout, targets=targets)


def _analysis_module(name):
    import importlib

    return importlib.import_module(f"eegvision.analysis.{name}")


def execute_job(job):
    """Run one job in this process and return its result dict (row + arrays).

    Workers call this: it reads the data root itself, so only the job and the
    small result travel.
    """
    t0 = time.perf_counter()
    module = _analysis_module(job.analysis)
    data = _load_subject_cached(str(job.data["root"]), job.subject,
                                job.data.get("layout", "auto"), job.data.get("targets", "centers"))
    result = module.run_condition(data, job)
    row = {"analysis": job.analysis, "subject": job.subject, "condition": job.condition,
           "seed": job.seed, "model": job.train.get("model"), **result.pop("row")}
    row["job_seconds"] = round(time.perf_counter() - t0, 3)
    row["config_hash"] = job.key
    from ._provenance import provenance

    row.update(provenance(job))  # version, data file hashes, device, host
    return {"row": row, "arrays": result.get("arrays", {})}


# ------------------------------------------------------------------ caching
def _result_paths(cache_dir, job):
    base = Path(cache_dir) / job.key
    return base.with_suffix(".json"), base.with_suffix(".npz")


def load_cached(cache_dir, job):
    """Return the cached result of ``job`` or None (a partial file is never read)."""
    js, npz = _result_paths(cache_dir, job)
    if not js.exists():
        return None
    try:
        record = json.loads(js.read_text())
    except (OSError, json.JSONDecodeError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("row"), dict):
        logger.warning("Ignoring unreadable cache entry %s", js)
        return None
    arrays = {}
    if record.get("has_arrays"):
        if not npz.exists():
            return None
        with np.load(npz, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    return {"row": record["row"], "arrays": arrays}


def store_result(cache_dir, job, result):
    """Write a job's result atomically: arrays first, then the JSON that marks it done."""
    js, npz = _result_paths(cache_dir, job)
    if result.get("arrays"):
        with atomic_path(npz) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **result["arrays"])
    write_json(js, {"job": asdict(job), "row": result["row"],
                    "has_arrays": bool(result.get("arrays"))})


def _run_and_store(job, cache_dir):
    result = execute_job(job)
    store_result(cache_dir, job, result)
    return result


def _run_and_store_batch(jobs, cache_dir, progress=False):
    """Train a group of compatible jobs together (:mod:`eegvision.sweep`); cache each result."""
    from .sweep import execute_batch

    results = []
    for job, result in zip(jobs, execute_batch(jobs, progress=progress), strict=True):
        store_result(cache_dir, job, result)
        results.append(result)
    return results


# ------------------------------------------------------------------ running
def run_jobs(jobs, cache_dir, *, backend="local", n_jobs=1, scheduler=None, progress=True,
             batch=True):
    """Run every job not yet cached and return all results in job order.

    Parameters
    ----------
    jobs : list of Job
    cache_dir : path-like
        Where results are cached (one file per job, keyed by its hash).
    backend : 'local' | 'dask'
        ``local`` runs in this process (``n_jobs=1``) or in joblib worker
        processes; ``dask`` sends jobs to a Dask cluster (``scheduler`` address,
        or a LocalCluster of ``n_jobs`` workers).
    n_jobs : int
        Local parallel processes, or LocalCluster workers.
    batch : bool
        Train compatible pending jobs (same subject data and settings, other
        condition or seed) together, one group per task
        (:func:`eegvision.sweep.group_jobs`); their results equal those of
        one-at-a-time fits, cached per job. False: one job per task.
    """
    _check_option("backend", backend, BACKENDS)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    results = {job.key: load_cached(cache_dir, job) for job in jobs}
    todo = list({j.key: j for j in jobs if results[j.key] is None}.values())
    logger.info("%d jobs, %d cached, %d to run", len(jobs), len(jobs) - len(todo), len(todo))
    if todo and batch:
        from .sweep import group_jobs

        done = _run_groups(group_jobs(todo), cache_dir, backend, n_jobs, scheduler, progress)
        for job, res in done:
            results[job.key] = res
    elif todo:
        if backend == "dask":
            from ._dask import run_dask

            done = run_dask(todo, cache_dir, scheduler=scheduler, n_workers=n_jobs)
        elif n_jobs > 1:
            from joblib import Parallel, delayed

            done = Parallel(n_jobs=n_jobs)(delayed(_run_and_store)(j, cache_dir) for j in todo)
        else:
            done = [_run_and_store(j, cache_dir) for j in _progress(todo, progress)]
        for job, res in zip(todo, done, strict=True):
            results[job.key] = res
    return [results[j.key] for j in jobs]


def _run_groups(groups, cache_dir, backend, n_jobs, scheduler, progress):
    """Run each group of jobs as one task; ``[(job, result)]``."""
    if backend == "dask":
        from ._dask import run_dask

        jobs = [j for g in groups for j in g]
        return list(zip(jobs, run_dask(jobs, cache_dir, scheduler=scheduler, n_workers=n_jobs,
                                       groups=groups), strict=True))
    if n_jobs > 1:
        from joblib import Parallel, delayed

        done = Parallel(n_jobs=n_jobs)(delayed(_run_and_store_batch)(g, cache_dir) for g in groups)
    else:
        done = [_run_and_store_batch(g, cache_dir, progress) for g in groups]
    return [(j, r) for g, rs in zip(groups, done, strict=True) for j, r in zip(g, rs, strict=True)]


def _progress(items, enabled):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="jobs", unit="job", leave=False)


def results_table(results):
    """Tidy DataFrame, one row per job result."""
    import pandas as pd

    return pd.DataFrame([r["row"] for r in results])
