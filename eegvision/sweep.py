"""The sweep engine: the independent models of a sweep, trained together.

An analysis is a sweep of small independent fits (windows, bands, regions,
seeds). :func:`fit_many` trains them in one loop, epoch by epoch, each model
with its own seed (its initialisation, validation split, batch order and
dropout masks are exactly those :func:`eegvision.training.fit` draws with that
seed), its own BatchNorm statistics and Adam state, early stopping and weight
averaging; a model that has finished leaves the loop and costs nothing more.
The results equal one-at-a-time fits (``tests/test_sweep.py``), so cached
results, tables and figures do not depend on which path ran.

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
does the same (:func:`eegvision.training.steps._training_inputs`), so the
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
import math
import time
from dataclasses import dataclass, field

from ._utils import logger

#: What the crop caches store besides their kept samples (BatchNorm moments, then moving
#: averages), all models together (bytes); beyond it a model recomputes them per batch
#: from its kept samples (same results, a little more work).
CROP_BUDGET = 768 << 20


@dataclass
class _Member:
    """One model of the sweep and everything its own fit would hold."""

    index: int
    config: object
    info: dict = field(default_factory=dict)
    model: object = None
    x: object = None
    y: object = None
    train_rows: object = None
    val_rows: object = None
    ctx: dict = field(default_factory=dict)
    val_ctx: dict = field(default_factory=dict)
    rng: object = None
    amp_dtype: object = None
    rows: list = field(default_factory=list)
    best: float = math.inf
    best_epoch: int = 0
    best_state: object = None
    waited: int = 0
    recent: object = None
    frozen: dict = field(default_factory=dict)
    seconds: float = 0.0
    epoch: int = 0
    done: bool = False


def batchable(config):
    """Whether :func:`fit_many` trains models of ``config`` itself or hands them to ``fit``.

    Torch encoders with the recipes' own training step; ridge, the blur-bank
    recipes (their own loop), the public code's defects (``nice-paper``) and a
    fixed temperature go to :func:`~eegvision.training.fit` one at a time.
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
        In the order of ``configs``; each equal (up to float rounding) to
        ``fit(trains[i], configs[i])``.
    """
    from ._utils import resolve_device
    from .training.device import _deterministic
    from .training.loop import fit

    if len(trains) != len(configs):
        raise ValueError(f"fit_many: {len(trains)} training sets for {len(configs)} configs.")
    results = [None] * len(configs)
    torch_idx = [i for i, c in enumerate(configs) if batchable(c)]
    for i in set(range(len(configs))) - set(torch_idx):
        results[i] = fit(_materialise(trains[i]), configs[i], progress=False)
        if on_done is not None:
            on_done(i, results[i])
    by_device = collections.defaultdict(list)
    for i in torch_idx:
        by_device[resolve_device(configs[i].device)].append(i)
    # the caller's global streams are not consumed here: the CPU's, and that of each GPU used
    # (every state holds the same CPU state: all are read before any model trains)
    rng_before = [_rng_state(d) for d in by_device]
    try:
        for device, idx in by_device.items():
            with _deterministic(device):
                budget = {"left": CROP_BUDGET}
                members = [_setup(i, trains[i], configs[i], device, budget) for i in idx]
                for member, result in _train(members, progress, budget):
                    results[member.index] = result
                    if on_done is not None:
                        on_done(member.index, result)
    finally:
        for state in rng_before:
            _set_rng_state(state)
    return results


def _materialise(train):
    return train() if callable(train) else train


def _setup(index, train, config, device, budget):
    """Everything ``train._fit_torch`` sets up before its first epoch, for one member."""
    import torch

    from .training.build import build_model
    from .training.device import _amp_dtype
    from .training.steps import (
        _data_info,
        _make_optimizer,
        _make_scheduler,
        _prepare,
        _training_inputs,
        split_rows,
    )

    data = _prepare(_materialise(train), config)
    m = _Member(index, config, _data_info(data))
    m.train_rows, m.val_rows = split_rows(data, config.val_conditions, config.seed)
    m.model = build_model(config, n_chans=data.n_channels, n_times=data.n_times,
                          n_features=data.n_features, sfreq=data.sfreq).to(device)
    m.rng = _rng_state(device)  # dropout draws from here on, as in a lone fit
    optimizer = _make_optimizer(m.model, config)
    steps = sum(1 for s in range(0, len(m.train_rows), config.batch_size)
                if min(config.batch_size, len(m.train_rows) - s) >= 2)
    m.amp_dtype = _amp_dtype(device, config.amp)
    t0 = time.perf_counter()
    m.x, m.y, cache = _training_inputs(m.model, data, config, m.amp_dtype, device,
                                       budget=budget["left"])
    if hasattr(cache, "kept"):  # a crop: what it stores counts against the shared budget
        budget["left"] -= _stored_bytes(cache)
    m.seconds = time.perf_counter() - t0
    m.ctx = dict(config=config, optimizer=optimizer, amp_dtype=m.amp_dtype, cache=cache,
                 scheduler=_make_scheduler(optimizer, config, steps),
                 generator=torch.Generator().manual_seed(int(config.seed)),
                 scaler=torch.amp.GradScaler("cuda") if m.amp_dtype == torch.float16 else None)
    m.val_ctx = dict(config=config, amp_dtype=m.amp_dtype, generator=None, cache=cache)
    m.recent = collections.deque(maxlen=int(config.average_epochs))
    return m


def _rng_state(device):
    """The global generator states a model's dropout draws from (CPU, and CUDA on a GPU)."""
    import torch

    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), device, cuda


def _set_rng_state(state):
    import torch

    cpu, device, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda, device)


def _stored_bytes(cache):
    return cache.stored_bytes() if hasattr(cache, "stored_bytes") else 0


def _train(members, progress, budget):
    """Train ``members`` epoch by epoch; yield ``(member, FitResult)`` as each finishes."""
    from ._utils import progress_bar

    active = list(members)
    total = sum(int(m.config.epochs) for m in members)
    bar = progress_bar(total=total, desc=f"sweep {len(members)} models", unit="epoch",
                       enabled=progress)
    try:
        while active:
            for m in list(active):
                _epoch(m, len(active) > 1)
                bar.update(1)
                if m.done:
                    active.remove(m)
                    bar.total -= int(m.config.epochs) - m.epoch
                    budget["left"] += _stored_bytes(m.ctx.get("cache"))
                    yield m, _finish(m)
            best = max((max(r["val_top1"] for r in m.rows) for m in members if m.rows),
                       default=math.nan)
            bar.set_postfix(models=f"{len(active)}/{len(members)} training",
                            epoch=max(m.epoch for m in members), best_val_top1=f"{best:.1%}")
            bar.refresh()
    finally:
        bar.close()


def _epoch(m, shared):
    """One epoch of member ``m``, exactly as ``train._fit_torch`` runs it."""
    from ._workspace import release
    from .training.steps import (
        _freeze_temporal,
        _state_copy,
        check_losses,
        run_epoch,
        validation_top1,
    )

    config = m.config
    m.epoch += 1
    epoch = m.epoch
    _set_rng_state(m.rng)
    t0 = time.perf_counter()
    if config.freeze_temporal is not None and epoch == int(config.freeze_temporal) + 1:
        m.frozen = _freeze_temporal(m.model)
    train_loss = run_epoch(m.model, m.x, m.y, config.batch_size, m.ctx, m.train_rows)
    val_loss = run_epoch(m.model, m.x, m.y, config.batch_size, m.val_ctx, m.val_rows)
    val_top1 = validation_top1(m.model, m.x, m.y, m.val_rows, config.batch_size, m.val_ctx)
    if config.keep == "average" and (config.patience is not None
                                     or epoch > config.epochs - m.recent.maxlen):
        m.recent.append(_state_copy(m.model))
    m.seconds += time.perf_counter() - t0
    m.rng = _rng_state(m.x.device)
    if shared:  # other models train next: give back this one's scratch buffers and gradients
        release(m.model)  # (its next step sets the gradients to None before its backward anyway)
        for p in m.model.parameters():
            p.grad = None
    check_losses(epoch, train_loss, val_loss, config)
    m.rows.append(dict(epoch=epoch, train_loss=train_loss, val_loss=val_loss, seconds=m.seconds,
                       val_top1=val_top1, lr=m.ctx["optimizer"].param_groups[0]["lr"],
                       logit_scale=float(m.model.loss.scale().detach())))
    if val_loss < m.best:
        m.best, m.best_epoch, m.waited = val_loss, epoch, 0
        if config.keep == "best":
            m.best_state = _state_copy(m.model)
    else:
        m.waited += 1
        if config.patience is not None and m.waited >= config.patience:
            logger.debug("Model %d: early stop at epoch %d (best %d)", m.index, epoch, m.best_epoch)
            m.done = True
    m.done = m.done or epoch >= int(config.epochs)


def _finish(m):
    """The member's :class:`~eegvision.training.FitResult`; its training state is dropped."""
    import pandas as pd

    from ._workspace import release
    from .training.config import FitResult
    from .training.device import _precision_name
    from .training.steps import _mean_state

    for p, flag in m.frozen.items():
        p.requires_grad_(flag)
    best_epoch = m.best_epoch
    if m.config.keep == "best":
        m.model.load_state_dict(m.best_state)
    else:
        best_epoch = m.epoch
        if m.config.keep == "average":
            m.model.load_state_dict(_mean_state(m.recent))
    m.model.eval()
    release(m.model)
    result = FitResult(m.model, pd.DataFrame(m.rows), best_epoch, m.config, m.seconds,
                       m.info, _precision_name(m.amp_dtype))
    m.ctx = m.val_ctx = m.x = m.y = m.best_state = m.recent = None
    return result

