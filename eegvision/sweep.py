"""The sweep engine: the independent models of a sweep, trained together.

An analysis is a sweep of small independent fits (windows, bands, regions,
seeds). :func:`fit_many` trains them in turn, epoch by epoch, on the one
epoch loop of :func:`eegvision.training.fit`
(:func:`eegvision.training.loop.train_runs`): each model is a
:class:`~eegvision.training.loop.Run` with its own seed (its initialisation,
validation split, batch order and dropout masks are exactly those a lone fit
draws with that seed), its own BatchNorm statistics and Adam state, early
stopping and weight averaging; a model that has finished leaves the loop and
costs nothing more. The results equal one-at-a-time fits
(``tests/test_sweep.py``), so cached results, tables and figures do not
depend on which path ran.

Where the speed comes from (measured in ``benchmarks/bench_sweep.py``). On a
CPU the per-model products are already large enough to keep the cores busy:
stacking models into batched products did not beat them (docs/training.md),
so every model keeps its own kernels, the very ones a lone fit runs. What a
sweep has that one fit does not is structure: a time-window condition is
zero outside its window, and TSConv's steps that only see zeros compute a
constant. The fused path finds such an input's non-zero samples, reads only
those (a view of the subject's EEG when the window's ``mask_time`` is still
pending, so no masked copy is made) and trains TSConv on the active steps
only (:mod:`eegvision.models._cropped`), which is the same map; a lone fit
does the same (:class:`eegvision.training.loop.ContrastiveSteps`), so the
two paths agree to the bit. What the engine adds is one set-up and one task
for a whole group (on Dask: one transfer of the subject's data), a shared
memory budget for the crops' stored moments and averages, and one progress
bar over all models.

:func:`~eegvision.runner.execute_batch` runs a group of runner jobs this way: the runner and
the Dask backend send one such group as one task, and each job's result is
still cached on its own.
"""

from __future__ import annotations

import collections

#: What the crop caches store besides their kept samples (BatchNorm moments, then moving
#: averages), all models together (bytes); beyond it a model recomputes them per batch
#: from its kept samples (same results, a little more work).
CROP_BUDGET = 768 << 20


def batchable(config):
    """Whether :func:`fit_many` trains models of ``config`` together or hands them to ``fit``.

    Torch encoders with the recipes' own training step; ridge (no epochs), the
    blur-bank recipes, the public code's defects (``nice-paper``) and a fixed
    temperature go to :func:`~eegvision.training.fit` one at a time (on the
    same epoch loop).
    """
    return (config.model != "ridge" and config.image_prior is None
            and not getattr(config, "nice_defects", False) and config.learn_temperature)


def fit_many(trains, configs, *, progress=True, on_done=None):
    """Fit one model per (training data, config), together; results as :func:`~eegvision.training.fit`'s.

    Parameters
    ----------
    trains : sequence of EEGImageData or of callables returning one
        Each model's training data. A callable is called when its model is
        set up and its container dropped afterwards, so a sweep over derived
        data never holds every derived copy at once.
    configs : sequence of TrainConfig
        One per model; any mix of seeds and settings. Ridge configs are fitted
        by :func:`~eegvision.training.fit` directly.
    progress : bool
        A progress bar over models x epochs (on a terminal), with the models
        still training and the best validation loss so far.
    on_done : callable | None
        Called as ``on_done(i, fit_result)`` as soon as model ``i`` has finished.

    Returns
    -------
    list of FitResult
        In the order of ``configs``; each equal to ``fit(trains[i], configs[i])``.
    """
    from ._utils import _validate_type, resolve_device
    from .training import TrainConfig, fit
    from .training.device import deterministic, rng_state, set_rng_state
    from .training.loop import train_runs

    if len(trains) != len(configs):
        raise ValueError(f"fit_many: {len(trains)} training sets for {len(configs)} configs.")
    for i, config in enumerate(configs):
        _validate_type(config, TrainConfig, f"configs[{i}]")
    results = [None] * len(configs)
    torch_idx = [i for i, c in enumerate(configs) if batchable(c)]
    for i in sorted(set(range(len(configs))) - set(torch_idx)):
        results[i] = fit(_materialise(trains[i]), configs[i], progress=False)
        if on_done is not None:
            on_done(i, results[i])
    by_device = collections.defaultdict(list)
    for i in torch_idx:
        by_device[resolve_device(configs[i].device)].append(i)
    # the caller's global streams are not consumed here: the CPU's, and that of each GPU used
    # (every state holds the same CPU state: all are read before any model trains)
    rng_before = [rng_state(d) for d in by_device]
    try:
        for device, idx in by_device.items():
            with deterministic(device):
                budget = {"left": CROP_BUDGET}
                runs = [_start(i, trains[i], configs[i], device, budget) for i in idx]
                for run, result in train_runs(runs, progress):
                    results[run.index] = result
                    if on_done is not None:
                        on_done(run.index, result)
    finally:
        for state in rng_before:
            set_rng_state(state)
    return results


def _materialise(train):
    return train() if callable(train) else train


def _start(index, train, config, device, budget):
    """Model ``index``'s run; what its crop stores counts against the sweep's shared budget."""
    from .training.loop import start_run
    from .training.steps import prepare

    run = start_run(prepare(_materialise(train), config), config, device, index=index,
                    budget=budget["left"])
    cache = run.steps.cache
    if hasattr(cache, "kept") and hasattr(cache, "stored_bytes"):  # a crop
        budget["left"] -= cache.stored_bytes()
    return run
