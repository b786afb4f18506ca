"""Run analysis jobs: cached by config hash, resumable, local or distributed.

A job is a small, JSON-able description: (analysis, subject, condition,
seed) plus everything that determines its result (data options, training
config, condition parameters). Its result is cached under
``<cache_dir>/<hash>.json`` (and ``.npz`` for arrays), written atomically, so
re-running a sweep runs only what is missing and a killed sweep never leaves
a partial result behind. Backends only decide *where* ``execute_job`` runs.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._utils import _check_option, atomic_path, logger, write_json
from ._version import __version__

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
        The :class:`eegvision.training.TrainConfig` fields.
    """

    analysis: str
    subject: int
    condition: str
    seed: int
    params: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    @functools.cached_property
    def config(self):
        """The job's :class:`~eegvision.training.TrainConfig`, resolved once from ``train``."""
        from .training.config import TrainConfig

        return TrainConfig.from_dict(self.train)

    @functools.cached_property
    def key(self):
        """Hash of everything that determines the result (not of where it runs).

        The full training config after the recipe is applied, the condition
        parameters, the data's fingerprint and the code's fingerprint; not the
        device, nor the data root's path when the files' fingerprint is known.
        """
        from ._provenance import code_fingerprint
        from .training.config import resolved_train_config

        data = dict(self.data)
        if data.get("fingerprint"):
            data.pop("root", None)
        blob = json.dumps({"version": __version__, "code": code_fingerprint(),
                           **asdict(self), "data": data,
                           "train": resolved_train_config(self.config)},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]



def provenance(job):
    """Provenance columns for ``job``'s result row.

    Parameters
    ----------
    job : eegvision.runner.Job

    Returns
    -------
    dict
        ``eegvision_version``, ``torch_version``, ``code_hash``, ``config_hash``
        (the job key), ``seed``, ``train_config`` (the resolved settings, JSON)
        and its hash, ``device``, ``data_hash`` (over the subject's files),
        ``command`` and ``host``.
    """
    from ._provenance import (
        command_line,
        config_hash,
        data_fingerprints,
        data_hash,
        software_versions,
    )
    from ._utils import resolve_device
    from .training.config import resolved_train_config

    data = job.data
    if data.get("root") is None:  # data in memory: the content hash the job was built with
        prints = dict(data["fingerprint"])
    else:
        prints = data_fingerprints(data["root"], job.subject, data.get("layout", "auto"),
                                   data.get("targets", "centers"), data.get("features"),
                                   bool(data.get("bank", False)))
    train = resolved_train_config(job.config)
    return {**software_versions(), "config_hash": job.key, "seed": job.seed,
            "train_config_hash": config_hash(train),
            "train_config": json.dumps(train, sort_keys=True, default=str),
            "device": str(resolve_device(job.train.get("device", "auto"))),
            "data_hash": data_hash(prints), "command": command_line(),
            "host": platform.node() or os.uname().nodename}

# ------------------------------------------------------------------ executing
@functools.lru_cache(maxsize=4)
def _load_subject_cached(root, subject, layout, targets, features=None, channels=None,
                         bank=False):
    from .data.channels import pick
    from .data.things import load_subject

    return pick(load_subject(root, subject, layout=layout, targets=targets, features=features,
                             bank=bank), channels)


def job_data(job):
    """The subject's data a job reads from its data root (the last few are kept)."""
    if job.data.get("root") is None:
        raise ValueError(f"Job {job.key} was built from data in memory: pass its data.")
    return _load_subject_cached(str(job.data["root"]), job.subject,
                                job.data.get("layout", "auto"),
                                job.data.get("targets", "centers"), job.data.get("features"),
                                job.data.get("channels"), bool(job.data.get("bank", False)))


def _analysis_spec(name):
    """The spec of analysis ``name``, from the registry."""
    from .analysis.registry import get_spec

    return get_spec(name)


def execute_job(job, data=None, *, derived=None, fitted=None):
    """Run one job in this process and return its result dict (row + arrays).

    Parameters
    ----------
    job : Job
    data : SubjectData | None
        The subject's data, handed over by :func:`run_jobs`; None reads the
        job's data root here.
    derived : SubjectData | None
        The job's condition data when :func:`execute_batch` derived them
        already (to train its model); None derives them here.
    fitted : FitResult | None
        The job's model when :func:`execute_batch` trained it (with its
        sweep); None: the analysis fits it.
    """
    from .analysis import _base

    t0 = time.perf_counter()
    spec = _analysis_spec(job.analysis)
    if data is None:
        data = job_data(job)
    if derived is None:
        derived = _base.condition_data(spec, data, job)
    body = spec.hook("run_condition") or _base.run_condition  # default: fit, score top-k
    result = body(data, job, derived, fitted)
    row = {"analysis": job.analysis, "subject": job.subject, "condition": job.condition,
           "seed": job.seed, "model": job.train.get("model"), **result.pop("row")}
    row["job_seconds"] = round(time.perf_counter() - t0, 3)
    row["config_hash"] = job.key

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


def _run_and_store(job, cache_dir, data=None):
    result = execute_job(job) if data is None else execute_job(job, data)
    if cache_dir is not None:
        store_result(cache_dir, job, result)
    return result


def _subject_source(data):
    """``get(subject)`` from a mapping or a loader; a loader's last subject is kept."""
    if data is None:
        return lambda subject: None
    if hasattr(data, "__getitem__") and not callable(data):
        return lambda subject: data[subject]
    return functools.lru_cache(maxsize=1)(data)


def _run_and_store_batch(jobs, cache_dir, data=None, progress=False):
    """Train a group of compatible jobs together (:mod:`eegvision.sweep`); cache each result.

    ``data`` is the group's subject's data (None: read from the jobs' root);
    ``cache_dir`` None stores nothing.
    """
    results = []
    for job, result in zip(jobs, execute_batch(jobs, data=data, progress=progress), strict=True):
        if cache_dir is not None:
            store_result(cache_dir, job, result)
        results.append(result)
    return results


# ------------------------------------------------------------------ batches
def batch_key(job):
    """Jobs with the same key can train together: same analysis, subject data and settings but the seed."""
    train = {k: v for k, v in job.train.items() if k != "seed"}
    return json.dumps([job.analysis, job.subject, job.data, train], sort_keys=True, default=str)


def group_jobs(jobs):
    """``jobs`` grouped by :func:`batch_key` (first-seen order); ridge jobs stay alone."""
    groups = collections.OrderedDict()
    for job in jobs:
        alone = job.train.get("model") == "ridge"
        groups.setdefault(job.key if alone else batch_key(job), []).append(job)
    return list(groups.values())


def execute_batch(jobs, data=None, progress=False):
    """Run a group of compatible jobs (:func:`group_jobs`): one sweep, then each job's scoring.

    Every job's result is what :func:`execute_job` returns
    for it alone: its condition's data are derived once, as the analysis does
    (:func:`eegvision.analysis._base.condition_data`), its model is trained by
    :func:`eegvision.sweep.fit_many` together with the others, and both are
    handed to :func:`execute_job`, where the analysis scores the model.
    """
    from .sweep import fit_many

    if len(jobs) == 1:
        return [execute_job(jobs[0], data)]
    t0 = time.perf_counter()
    if data is None:  # handed over by the runner, else read from the jobs' root
        data = job_data(jobs[0])
    derived = [None] * len(jobs)
    trains = [_deriver(derived, i, data, job) for i, job in enumerate(jobs)]
    fits = fit_many(trains, [job.config for job in jobs], progress=progress)
    fit_seconds = (time.perf_counter() - t0) / len(jobs)
    out = []
    for i, (job, fitted) in enumerate(zip(jobs, fits, strict=True)):
        res = execute_job(job, data, derived=derived[i], fitted=fitted)
        derived[i] = None  # scored: its derived copy can go
        res["row"]["job_seconds"] = round(res["row"]["job_seconds"] + fit_seconds, 3)
        out.append(res)
    return out


def _deriver(slots, i, data, job):
    """A callable for :func:`~eegvision.sweep.fit_many`: job ``i``'s training set, its
    condition data kept in ``slots[i]`` for scoring (derived once)."""
    def train():
        from .analysis._base import condition_data

        slots[i] = condition_data(_analysis_spec(job.analysis), data, job)
        return slots[i].train

    return train


# ------------------------------------------------------------------ running
def run_jobs(jobs, cache_dir, *, backend="local", n_jobs=1, scheduler=None, progress=True,
             data=None, batch=True, desc="jobs"):
    """Run every job not yet cached and return all results in job order.

    Parameters
    ----------
    jobs : list of Job
    cache_dir : path-like | None
        Where results are cached (one file per job, keyed by its hash); None
        caches nothing and writes nothing.
    backend : 'local' | 'dask'
        ``local`` runs in this process (``n_jobs=1``) or in joblib worker
        processes; ``dask`` sends jobs to a Dask cluster (``scheduler`` address,
        or a LocalCluster of ``n_jobs`` workers).
    n_jobs : int
        Local parallel processes, or LocalCluster workers.
    data : mapping | callable | None
        Each subject's :class:`~eegvision.data.container.SubjectData`
        (``data[subject]`` or ``data(subject)``), loaded once per subject in
        this process and handed to its jobs (scattered once to Dask workers);
        None: every job reads its data root itself.
    batch : bool
        Train compatible pending jobs (same subject data and settings, other
        condition or seed) together, one group per task
        (:func:`group_jobs`); their results equal those of
        one-at-a-time fits, cached per job. False: one job per task.
    progress : bool
        Progress bars (on a terminal, unless quiet): over the jobs run here
        one after the other, and over each group's training epochs.
    desc : str
        The label of the bar over the jobs.
    """
    _check_option("backend", backend, BACKENDS)
    if cache_dir is not None:
        from ._outdir import remove_dead_temporaries

        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(cache_dir)  # a killed writer's, by its pid: never another's
    results = {job.key: load_cached(cache_dir, job) if cache_dir is not None else None
               for job in jobs}
    todo = list({j.key: j for j in jobs if results[j.key] is None}.values())
    logger.info("%s: %d jobs, %d cached, %d to run", desc, len(jobs), len(jobs) - len(todo), len(todo))
    if todo and batch:
        source = _subject_source(data)
        done = _run_groups(group_jobs(todo), cache_dir, backend, n_jobs, scheduler, progress,
                           source, scatter=data is not None, desc=desc)
        for job, res in done:
            results[job.key] = res
    elif todo:
        source = _subject_source(data)
        if backend == "dask":
            from ._dask import run_dask

            done = run_dask(todo, cache_dir, _run_and_store, scheduler=scheduler, n_workers=n_jobs,
                            data=None if data is None else source)
        elif n_jobs > 1:
            from joblib import Parallel, delayed

            done = Parallel(n_jobs=n_jobs)(delayed(_run_and_store)(j, cache_dir, source(j.subject))
                                           for j in todo)
        else:
            done = [_run_and_store(j, cache_dir, source(j.subject))
                    for j in _progress(todo, progress, desc)]
        for job, res in zip(todo, done, strict=True):
            results[job.key] = res
    return [results[j.key] for j in jobs]


def _run_groups(groups, cache_dir, backend, n_jobs, scheduler, progress, source, *,
                scatter=False, desc="jobs"):
    """Run each group of jobs as one task; ``[(job, result)]``.

    ``source(subject)`` gives a group's data (None: the task reads its root);
    with ``scatter`` each subject's data go to the Dask workers once.
    """
    if backend == "dask":
        from ._dask import run_dask

        jobs = [j for g in groups for j in g]
        return list(zip(jobs, run_dask(jobs, cache_dir, _run_and_store_batch,
                                       scheduler=scheduler, n_workers=n_jobs,
                                       data=source if scatter else None, groups=groups),
                        strict=True))
    if n_jobs > 1:
        from joblib import Parallel, delayed

        done = Parallel(n_jobs=n_jobs)(delayed(_run_and_store_batch)(g, cache_dir,
                                                                     source(g[0].subject))
                                       for g in groups)
    else:
        done = _run_serial(groups, cache_dir, progress, source, desc)
    return [(j, r) for g, rs in zip(groups, done, strict=True) for j, r in zip(g, rs, strict=True)]


def _run_serial(groups, cache_dir, progress, source, desc):
    """Each group in turn, a bar over their jobs (a ridge sweep's jobs are groups of one)."""
    from ._utils import progress_bar

    done = []
    with progress_bar(total=sum(len(g) for g in groups), desc=desc, unit="job",
                      enabled=progress) as bar:
        for group in groups:
            done.append(_run_and_store_batch(group, cache_dir, source(group[0].subject), progress))
            bar.update(len(group))
    return done


def _progress(items, enabled, desc="jobs"):
    from ._utils import progress_bar

    return progress_bar(items, desc=desc, unit="job", enabled=enabled)


def results_table(results):
    """Tidy DataFrame, one row per job result."""
    import pandas as pd

    return pd.DataFrame([r["row"] for r in results])
