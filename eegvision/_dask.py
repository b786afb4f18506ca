"""The Dask backend of :func:`eegvision.runner.run_jobs`: one task per job.

Each job is submitted as ``run(job, cache_dir)`` (the runner passes its
``_run_and_store``, so this module imports nothing of the runner) under the
task key ``eegvision-<job hash>``: a worker reads the data root itself and
writes the result into the shared cache directory, so only the small
:class:`~eegvision.runner.Job` and its result row travel. Because the key is
the job's hash, a resubmitted job is the same task, and because results are
collected into a dict keyed by that hash and the returned list is built from
the job list, a task that ran twice (a worker died after finishing it) never
gives two rows. When a worker dies mid-job the scheduler reschedules its tasks
on the remaining workers (up to ``distributed.scheduler.allowed-failures``
times per task).

``distributed`` and ``dask-jobqueue`` are optional dependencies, imported
only here.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ._utils import EEGVisionError, logger

#: Times a task may be on a worker that dies before the sweep gives up on it.
ALLOWED_FAILURES = 3

_INSTALL_HINT = "pip install 'dask[distributed]'"


def _import_distributed():
    try:
        import dask
        import distributed
    except ImportError as err:
        raise EEGVisionError(
            f"--backend dask needs dask.distributed, which is not installed ({err}).\n"
            f"  Fix: {_INSTALL_HINT}, or run with --backend local."
        ) from None
    return dask, distributed


@contextlib.contextmanager
def dask_client(scheduler=None, n_workers=2):
    """Yield a ``distributed.Client``: to ``scheduler``, or to a fresh LocalCluster.

    Parameters
    ----------
    scheduler : str | distributed.Client | cluster | None
        A scheduler address (``tcp://host:8786``), an existing Client (used as
        is, not closed), a cluster object such as :func:`slurm_cluster`'s (a
        Client is opened on it and closed afterwards, the cluster is left
        running), or None for a LocalCluster of ``n_workers`` single-threaded
        worker processes on 127.0.0.1, closed on exit.
    n_workers : int
        Workers of the LocalCluster (ignored with ``scheduler``).
    """
    dask, distributed = _import_distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is not None:
        address = getattr(scheduler, "scheduler_address", scheduler)
        try:
            client = distributed.Client(address)  # timeout: distributed.comm.timeouts.connect
        except (OSError, TimeoutError) as err:
            raise EEGVisionError(
                f"--scheduler {address}: cannot connect to a Dask scheduler ({err}).\n"
                "  Fix: start one (`dask scheduler`, or a SLURMCluster, see docs/cluster.md) "
                "and pass its tcp:// address, or leave --scheduler out for a local cluster."
            ) from None
        with client:
            yield client
        return
    n_workers = int(n_workers)
    if n_workers < 1:
        raise ValueError(f"n_workers (--jobs) must be at least 1, got {n_workers}.")
    # allowed-failures is read by the scheduler when it starts: set it here.
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


def run_dask(jobs, cache_dir, run, *, scheduler=None, n_workers=2, data=None,
             groups=None):
    """Run ``jobs`` on a Dask cluster, store each result in ``cache_dir``.

    Parameters
    ----------
    jobs : list of eegvision.runner.Job
        Jobs to run (cached ones should be filtered out by the caller).
    cache_dir : path-like
        The job cache; must be the same path on every worker (a shared
        filesystem on a cluster).
    run : callable
        ``run(job, cache_dir)`` executes one job on a worker, stores and
        returns its result (``runner._run_and_store``); it must be picklable.
    scheduler : str | distributed.Client | cluster | None
        Where to run; see :func:`dask_client`.
    n_workers : int
        Worker processes of the LocalCluster when ``scheduler`` is None.
    data : callable | None
        ``data(subject) -> SubjectData``: each subject's data is scattered to
        the workers once (``client.scatter``, broadcast) and every job of that
        subject gets it as ``run(job, cache_dir, data)``; None: jobs read
        their data root on the worker.
    groups : list of list of Job | None
        Jobs that train together (:func:`eegvision.runner.group_jobs`): each
        group is one task, ``run(group, cache_dir[, data])``, keyed by the
        hash of its jobs' keys. None: one task per job.

    Returns
    -------
    list of dict
        One result per job, in the order of ``jobs``.
    """
    if groups is not None:
        return _run_dask_groups(jobs, groups, cache_dir, run, scheduler, n_workers, data)
    _, distributed = _import_distributed()
    unique = {job.key: job for job in jobs}
    cache_dir = None if cache_dir is None else str(Path(cache_dir).resolve())
    results = {}
    with dask_client(scheduler, n_workers) as client:
        scattered = {}
        if data is not None:
            for subject in dict.fromkeys(job.subject for job in unique.values()):
                scattered[subject] = client.scatter(data(subject), broadcast=True)
        futures = {client.submit(run, job, cache_dir, *([scattered[job.subject]] if scattered
                                                        else []), key=f"eegvision-{key}"): key
                   for key, job in unique.items()}
        try:
            for future in distributed.as_completed(futures):
                key = futures[future]
                results[key] = _result_of(future, unique[key], distributed)
                logger.info("job %s done (%d/%d)", key, len(results), len(unique))
        except _lost_errors(distributed) as err:
            raise _scheduler_lost(scheduler, err, len(results), len(unique)) from None
        except BaseException:
            _cancel(client, futures)
            raise
    return [results[job.key] for job in jobs]


def _run_dask_groups(jobs, groups, cache_dir, run, scheduler, n_workers, data):
    """``run_dask`` with one task per group of jobs trained together."""
    import hashlib

    _, distributed = _import_distributed()
    cache_dir = None if cache_dir is None else str(Path(cache_dir).resolve())
    results = {}
    with dask_client(scheduler, n_workers) as client:
        scattered = {}
        if data is not None:
            for subject in dict.fromkeys(g[0].subject for g in groups):
                scattered[subject] = client.scatter(data(subject), broadcast=True)
        futures = {}
        for group in groups:
            key = hashlib.sha256(" ".join(j.key for j in group).encode()).hexdigest()[:20]
            extra = [scattered[group[0].subject]] if scattered else []
            futures[client.submit(run, group, cache_dir, *extra,
                                  key=f"eegvision-batch-{key}")] = group
        try:
            for future in distributed.as_completed(futures):
                group = futures[future]
                for job, res in zip(group, _result_of(future, group[0], distributed), strict=True):
                    results[job.key] = res
                logger.info("batch of %d jobs done (%d/%d)", len(group), len(results), len(jobs))
        except _lost_errors(distributed) as err:
            raise _scheduler_lost(scheduler, err, len(results), len(jobs)) from None
        except BaseException:
            _cancel(client, futures)
            raise
    return [results[job.key] for job in jobs]


def _lost_errors(distributed):
    """What a future or the client raise when the scheduler dies or its connection drops."""
    from concurrent.futures import CancelledError

    return (CancelledError, distributed.comm.CommClosedError)


def _scheduler_lost(scheduler, err, n_done, n_jobs):
    """One error for a scheduler killed (or unreachable) mid-sweep: finished jobs are kept."""
    where = "the local Dask cluster" if scheduler is None else (
        f"the Dask scheduler {getattr(scheduler, 'scheduler_address', scheduler)}")
    reason = str(err).strip() or type(err).__name__
    return EEGVisionError(
        f"{where} stopped or lost its connection mid-sweep ({type(err).__name__}: {reason}); "
        f"{n_done} of {n_jobs} jobs had finished.\n"
        "  Fix: finished jobs are kept in the job cache: restart the scheduler (or leave "
        "--scheduler out) and rerun the same command to resume.")


def _cancel(client, futures):
    """Cancel the sweep's tasks; a client that lost its scheduler cannot, and must not hang."""
    with contextlib.suppress(Exception):
        client.cancel(list(futures), asynchronous=False)


def _result_of(future, job, distributed):
    try:
        return future.result()
    except distributed.KilledWorker as err:
        raise EEGVisionError(
            f"Job {job.analysis} subject {job.subject} {job.condition} seed {job.seed} "
            f"({job.key}) killed its worker {ALLOWED_FAILURES + 1} times ({err}).\n"
            "  Fix: give workers more memory (SLURMCluster memory=...), or run this job "
            "with --backend local to see its error."
        ) from None


def slurm_cluster(*, cores=1, memory="8GiB", processes=1, walltime="01:00:00",
                  n_jobs=0, **kwargs):
    """A dask-jobqueue ``SLURMCluster`` with eegvision's defaults (optional dependency).

    Each SLURM job started by ``cluster.scale(jobs=N)`` runs ``processes``
    Dask workers sharing ``cores`` cores and ``memory``. Pass the cluster as
    ``scheduler=`` to :func:`eegvision.analyze` (or its
    ``scheduler_address`` to ``--scheduler``). See ``docs/cluster.md``.

    Parameters
    ----------
    cores, memory, processes, walltime
        Resources of one SLURM job (``#SBATCH`` lines).
    n_jobs : int
        SLURM jobs to submit at once (0: call ``cluster.scale`` yourself).
    **kwargs
        Passed to ``dask_jobqueue.SLURMCluster``: ``queue``, ``account``,
        ``job_extra_directives=["--gres=gpu:1"]``, ``job_script_prologue=
        ["module load python", "source ~/venvs/eeg/bin/activate"]`` ...

    Returns
    -------
    dask_jobqueue.SLURMCluster
    """
    _import_distributed()
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as err:
        raise EEGVisionError(
            f"slurm_cluster needs dask-jobqueue, which is not installed ({err}).\n"
            "  Fix: pip install dask-jobqueue"
        ) from None
    # One task per worker thread: training is single-process, and a worker
    # that dies is restarted by its nanny and its task rescheduled.
    cluster = SLURMCluster(cores=cores, memory=memory, processes=processes, walltime=walltime,
                           **kwargs)
    if n_jobs:
        cluster.scale(jobs=int(n_jobs))
    return cluster
