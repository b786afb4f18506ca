"""The one epoch loop: every torch fit runs here, alone, in a sweep or with a blur prior.

A :class:`Run` is one model's training as a state machine: :meth:`Run.step`
trains one epoch and keeps the bookkeeping every recipe shares (the history
row, the training time, early stopping, the weights kept: best-validation,
last or the average of the last few, the model's own random streams);
:meth:`Run.finish` returns the :class:`~eegvision.training.FitResult`. What a
recipe does in an epoch is its hook, an
:class:`~eegvision.training.steps.EpochSteps`: :class:`ContrastiveSteps` for
the recipes' own step, :class:`~eegvision.training.blur_fit.BlurSteps` for
``ubp`` and ``blur-bank``. :func:`train_runs` drives runs epoch by epoch with
one progress bar; :func:`fit` is :func:`train_runs` of one run, and the sweep
engine (:func:`eegvision.sweep.fit_many`) hands it many.
"""

from __future__ import annotations

import collections
import math
import time
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import _validate_type, data_error, logger, resolve_device, verbose, write_csv
from .build import build_model
from .checkpoint import save_checkpoint
from .config import FitResult, TrainConfig
from .device import _amp_dtype, _precision_name, deterministic, rng_state, set_rng_state
from .steps import (
    EpochSteps,
    _data_info,
    _freeze_temporal,
    _make_optimizer,
    _make_scheduler,
    _mean_state,
    _state_copy,
    _test_top1,
    _training_inputs,
    check_losses,
    prepare,
    run_epoch,
    split_rows,
    validation_top1,
)


@verbose
@fill_doc
def fit(train, config=None, *, test=None, out_dir=None, progress=True, callback=None, verbose=None):
    """Train a contrastive EEG encoder (or the ridge baseline) on one container.

    Parameters
    ----------
    train : EEGImageData
        Training data; validation conditions are held out of it.
    config : TrainConfig | None
        Defaults to ``TrainConfig()`` (the 'fast' recipe).
    test : EEGImageData | None
        If given, test top-1 is recorded after every epoch (``test_top1`` in
        the history; its cost is not counted in ``seconds``). It is never used
        to choose the model.
    out_dir : path | None
        If given, ``history.csv`` and ``model.pt`` are written there.
    %(progress)s
    callback : callable | None
        Called as ``callback(epoch, model)`` after every epoch, outside the
        timed part (e.g. to keep snapshots of the weights); torch encoders
        only. The model is in evaluation mode (after the validation pass)
        and must not be changed.
    %(verbose)s

    Returns
    -------
    FitResult
    """
    config = TrainConfig() if config is None else _validate_type(config, TrainConfig, "config")
    data = prepare(train, config)
    test = _checked_test(test, data)
    if config.model == "ridge":
        result = _fit_ridge(data, config, test)
    else:
        device = resolve_device(config.device)
        with deterministic(device):
            run = start_run(data, config, device, test=test, callback=callback)
            [(_, result)] = train_runs([run], progress)
    if out_dir is not None:
        write_csv(Path(out_dir) / "history.csv", result.history)
        save_checkpoint(Path(out_dir) / "model.pt", result)
    return result


def _checked_test(test, data):
    """The test set averaged over repetitions; its features must match the training ones."""
    if test is None:
        return None
    test = test.average_repetitions()
    if test.n_features != data.n_features:
        raise data_error(test.meta.get("source", "test data"),
                         f"test features are {test.n_features}-d but training features are "
                         f"{data.n_features}-d.", "use the same image model for both.")
    return test


def start_run(data, config, device, *, index=None, test=None, callback=None, budget=None):
    """One model's training, set up and ready for its first epoch.

    Parameters
    ----------
    data : EEGImageData
        Training data as :func:`~eegvision.training.steps.prepare` returns it.
    config : TrainConfig
        A torch encoder's settings (not ridge); ``image_prior`` picks the blur
        recipes' steps.
    device : torch.device
        Where it trains; call inside :func:`~eegvision.training.device.deterministic`.
    index : int | None
        The run's number among those trained together (named in the log);
        None for a lone fit.
    test, callback
        As in :func:`fit`.
    budget : int | None
        Bytes TSConv's crop may store (a sweep shares one budget); None: the default.

    Returns
    -------
    Run
    """
    if config.image_prior is not None:
        from .blur_fit import BlurSteps

        steps = BlurSteps(data, config, device)
    else:
        steps = ContrastiveSteps(data, config, device, budget)
    return Run(steps, device, _data_info(data), index=index, test=test, callback=callback)


class ContrastiveSteps(EpochSteps):
    """The recipes' own epoch: :func:`~eegvision.training.steps.run_epoch` on the training
    rows (shuffled, optimiser steps), then on the validation rows, then validation top-1.

    Set-up builds the model from ``config.seed``, the optimiser and schedule, and the
    training tensors with TSConv's cache, if any (its cost counts as training time).
    """

    def __init__(self, data, config, device, budget=None):
        import torch

        self.config, self.label = config, config.model
        self.train_rows, self.val_rows = split_rows(data, config.val_conditions, config.seed)
        self.model = build_model(config, n_chans=data.n_channels, n_times=data.n_times,
                                 n_features=data.n_features, sfreq=data.sfreq).to(device)
        self.optimizer = _make_optimizer(self.model, config)
        steps = sum(1 for s in range(0, len(self.train_rows), config.batch_size)
                    if min(config.batch_size, len(self.train_rows) - s) >= 2)
        amp_dtype = _amp_dtype(device, config.amp)
        self.precision = _precision_name(amp_dtype)
        t0 = time.perf_counter()
        self.x, self.y, self.cache = _training_inputs(self.model, data, config, amp_dtype, device,
                                                      budget=budget)
        self.seconds = time.perf_counter() - t0
        scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
        self.ctx = dict(config=config, optimizer=self.optimizer, amp_dtype=amp_dtype,
                        cache=self.cache, scheduler=_make_scheduler(self.optimizer, config, steps),
                        generator=torch.Generator().manual_seed(int(config.seed)), scaler=scaler)
        self.val_ctx = dict(config=config, amp_dtype=amp_dtype, generator=None, cache=self.cache)
        self.frozen = {}

    def epoch(self, epoch):
        config, model = self.config, self.model
        if config.freeze_temporal is not None and epoch == int(config.freeze_temporal) + 1:
            self.frozen = _freeze_temporal(model)
        train_loss = run_epoch(model, self.x, self.y, config.batch_size, self.ctx, self.train_rows)
        val_loss = run_epoch(model, self.x, self.y, config.batch_size, self.val_ctx, self.val_rows)
        val_top1 = validation_top1(model, self.x, self.y, self.val_rows, config.batch_size,
                                   self.val_ctx)
        return dict(train_loss=train_loss, val_loss=val_loss, val_top1=val_top1)

    def finish(self):
        for p, flag in self.frozen.items():
            p.requires_grad_(flag)

    def drop(self):
        self.ctx = self.val_ctx = self.x = self.y = self.cache = None


class Run:
    """One model's training, epoch by epoch: the bookkeeping every recipe shares.

    Parameters
    ----------
    steps : EpochSteps
        The recipe's epoch (and its model, optimiser and data).
    device : torch.device
        The device whose random streams the run keeps (with the CPU's).
    info : dict
        The data's description kept in the :class:`~eegvision.training.FitResult`.
    index : int | None
        Its number among runs trained together; None for a lone fit.
    test, callback
        Per-epoch test top-1 and hook (:func:`start_run` passes them on).

    Notes
    -----
    Each run keeps its own global random streams (dropout draws from them):
    they are put back before each of its epochs and read after it, so runs
    trained in turn draw exactly what each would draw alone.
    """

    def __init__(self, steps, device, info, *, index=None, test=None, callback=None):
        self.steps, self.config, self.device, self.info = steps, steps.config, device, info
        self.index = index
        self.test, self.callback = test, callback
        self.rows, self.best, self.best_epoch, self.best_state, self.waited = [], math.inf, 0, None, 0
        self.recent = collections.deque(maxlen=int(self.config.average_epochs))
        self.seconds, self.epoch, self.done = steps.seconds, 0, False
        self.rng = rng_state(device)  # from here on dropout draws from the run's own streams

    @property
    def model(self):
        """The model being trained (the returned one after :meth:`finish`)."""
        return self.steps.model

    def step(self, shared=False):
        """Train one epoch and record it; ``done`` is set after the last one or an early stop.

        ``shared``: other runs train next, so scratch buffers and gradients are given back.
        """
        config = self.config
        self.epoch += 1
        set_rng_state(self.rng)
        t0 = time.perf_counter()
        metrics = self.steps.epoch(self.epoch)
        # without early stopping only the final epochs can be among the averaged ones
        if config.keep == "average" and (config.patience is not None
                                         or self.epoch > config.epochs - self.recent.maxlen):
            self.recent.append(_state_copy(self.model))
        self.seconds += time.perf_counter() - t0
        self.rng = rng_state(self.device)
        if shared:
            self.steps.release()
        check_losses(self.epoch, metrics["train_loss"], metrics["val_loss"], config)
        self.rows.append(self._row(metrics))
        self._track(metrics["val_loss"])
        self.done = self.done or self.epoch >= int(config.epochs)

    def _row(self, metrics):
        """The epoch's history row; test top-1 and the callback come after it, untimed."""
        m = dict(metrics)
        row = dict(epoch=self.epoch, train_loss=m.pop("train_loss"), val_loss=m.pop("val_loss"),
                   seconds=self.seconds, **m, lr=self.steps.optimizer.param_groups[0]["lr"],
                   logit_scale=float(self.model.loss.scale().detach()), **self.steps.columns())
        if self.test is not None:
            row["test_top1"] = _test_top1(self.model, self.test)
        if self.callback is not None:
            self.callback(self.epoch, self.model)
        return row

    def _track(self, val_loss):
        """The best validation loss so far, its weights (``keep='best'``), and patience."""
        if val_loss < self.best:
            self.best, self.best_epoch, self.waited = val_loss, self.epoch, 0
            if self.config.keep == "best":
                self.best_state = _state_copy(self.model)
            return
        self.waited += 1
        if self.config.patience is not None and self.waited >= self.config.patience:
            stop = "early stop at epoch %d (best %d)"
            if self.index is None:
                logger.info(stop.capitalize(), self.epoch, self.best_epoch)
            else:
                logger.debug("Model %d: " + stop, self.index, self.epoch, self.best_epoch)
            self.done = True

    def finish(self):
        """The kept weights loaded, the training state dropped; returns the FitResult."""
        import pandas as pd

        from .._workspace import release

        self.steps.finish()
        best_epoch = self.best_epoch
        if self.config.keep == "best":
            self.model.load_state_dict(self.best_state)
        else:
            best_epoch = self.epoch
            if self.config.keep == "average":
                self.model.load_state_dict(_mean_state(self.recent))
        self.model.eval()
        release(self.model)  # the trained model keeps no training-size scratch buffers
        result = FitResult(self.model, pd.DataFrame(self.rows), best_epoch, self.config,
                           self.seconds, self.info, self.steps.precision)
        self.steps.drop()
        self.best_state = self.recent = self.test = None
        return result


def train_runs(runs, progress=True):
    """Train ``runs`` in turn, one epoch each, until all are done: THE epoch loop.

    Parameters
    ----------
    runs : list of Run
        Set up by :func:`start_run` (inside
        :func:`~eegvision.training.device.deterministic`).
    progress : bool
        One progress bar over all runs' epochs (on a terminal, unless quiet).

    Yields
    ------
    run, FitResult
        Each run as soon as it has finished; a finished run costs nothing more.
    """
    from .._utils import progress_bar

    active = list(runs)
    desc = f"train {runs[0].steps.label}" if len(runs) == 1 else f"sweep {len(runs)} models"
    bar = progress_bar(total=sum(int(r.config.epochs) for r in runs), desc=desc, unit="epoch",
                       enabled=progress)
    try:
        while active:
            for run in list(active):
                run.step(shared=len(active) > 1)
                bar.update(1)
                if run.done:
                    active.remove(run)
                    bar.total -= int(run.config.epochs) - run.epoch
                    yield run, run.finish()
            bar.set_postfix(_postfix(runs, active))
            bar.refresh()
    finally:
        bar.close()


def _postfix(runs, active):
    """One run: its last losses; many: how many still train and the best validation top-1."""
    if len(runs) == 1:
        row = runs[0].rows[-1]
        return {k: f"{row[k]:.3f}" for k in ("train_loss", "val_loss", "val_top1") if k in row}
    best = max((r["val_top1"] for run in runs for r in run.rows if "val_top1" in r),
               default=math.nan)
    return dict(models=f"{len(active)}/{len(runs)} training",
                epoch=max(run.epoch for run in runs), best_val_top1=f"{best:.1%}")


def _fit_ridge(data, config, test):
    import pandas as pd

    from ..models.ridge import RidgeDecoder

    t0 = time.perf_counter()
    model = RidgeDecoder().fit(data.eeg, data.features)
    seconds = time.perf_counter() - t0
    train_mse = float(np.mean((model.predict(data.eeg) - data.features) ** 2))
    row = dict(epoch=1, train_loss=train_mse, val_loss=model.cv_mse_, seconds=seconds,
               alpha=model.alpha_)
    if test is not None:
        row["test_top1"] = _test_top1(model, test)
    return FitResult(model, pd.DataFrame([row]), 1, config, seconds, _data_info(data))
