"""The fit loop: ``fit(train, config)`` holds out validation conditions, trains (with
optional early stopping on the validation loss), keeps the best-validation
epoch's weights, the last epoch's or the average of the last few, and returns a
:class:`~eegvision.training.FitResult`.
"""

from __future__ import annotations

import collections
import math
import time
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import data_error, logger, resolve_device, verbose, write_csv
from .build import build_model
from .checkpoint import save_checkpoint
from .config import FitResult, TrainConfig
from .device import _amp_dtype, _deterministic, _precision_name
from .steps import (
    _data_info,
    _freeze_temporal,
    _make_optimizer,
    _make_scheduler,
    _mean_state,
    _prepare,
    _state_copy,
    _test_top1,
    _training_inputs,
    check_losses,
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
    config = TrainConfig() if config is None else config
    data = _prepare(train, config)
    if test is not None:
        test = test.average_repetitions()
        if test.n_features != data.n_features:
            raise data_error(test.meta.get("source", "test data"),
                             f"test features are {test.n_features}-d but training features are "
                             f"{data.n_features}-d.", "use the same image model for both.")
    if config.model == "ridge":
        result = _fit_ridge(data, config, test)
    elif config.image_prior is not None:
        from .blur_fit import fit_blur

        result = fit_blur(data, config, test, progress, callback)
    else:
        result = _fit_torch(data, config, test, progress, callback)
    if out_dir is not None:
        write_csv(Path(out_dir) / "history.csv", result.history)
        save_checkpoint(Path(out_dir) / "model.pt", result)
    return result


def _fit_torch(data, config, test, progress, callback=None):
    import pandas as pd
    import torch

    from .._utils import progress_bar
    from .._workspace import release

    device = resolve_device(config.device)
    train_rows, val_rows = split_rows(data, config.val_conditions, config.seed)
    with _deterministic(device):
        model = build_model(config, n_chans=data.n_channels, n_times=data.n_times,
                            n_features=data.n_features, sfreq=data.sfreq).to(device)
        optimizer = _make_optimizer(model, config)
        steps = sum(1 for s in range(0, len(train_rows), config.batch_size)
                    if min(config.batch_size, len(train_rows) - s) >= 2)
        amp_dtype = _amp_dtype(device, config.amp)
        t0 = time.perf_counter()
        x, y, cache = _training_inputs(model, data, config, amp_dtype, device)
        seconds = time.perf_counter() - t0  # building the cache is part of training time
        ctx = dict(config=config, optimizer=optimizer, amp_dtype=amp_dtype, cache=cache,
                   scheduler=_make_scheduler(optimizer, config, steps),
                   generator=torch.Generator().manual_seed(int(config.seed)),
                   scaler=torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None)
        val_ctx = dict(config=config, amp_dtype=amp_dtype, generator=None, cache=cache)
        rows, best, best_state, waited = [], math.inf, None, 0
        recent = collections.deque(maxlen=int(config.average_epochs))
        bar = progress_bar(range(1, config.epochs + 1), desc=f"train {config.model}",
                           unit="epoch", enabled=progress)
        frozen = {}
        for epoch in bar:
            t0 = time.perf_counter()
            if config.freeze_temporal is not None and epoch == int(config.freeze_temporal) + 1:
                frozen = _freeze_temporal(model)
            train_loss = run_epoch(model, x, y, config.batch_size, ctx, train_rows)
            val_loss = run_epoch(model, x, y, config.batch_size, val_ctx, val_rows)
            val_top1 = validation_top1(model, x, y, val_rows, config.batch_size, val_ctx)
            # without early stopping only the final epochs can be among the averaged ones
            if config.keep == "average" and (config.patience is not None
                                             or epoch > config.epochs - recent.maxlen):
                recent.append(_state_copy(model))
            seconds += time.perf_counter() - t0
            check_losses(epoch, train_loss, val_loss, config)
            row = dict(epoch=epoch, train_loss=train_loss, val_loss=val_loss, seconds=seconds,
                       val_top1=val_top1, lr=optimizer.param_groups[0]["lr"],
                       logit_scale=float(model.loss.scale().detach()))
            if test is not None:
                row["test_top1"] = _test_top1(model, test)
            if callback is not None:
                callback(epoch, model)
            rows.append(row)
            bar.set_postfix(train=f"{train_loss:.3f}", val=f"{val_loss:.3f}",
                            val_top1=f"{val_top1:.1%}")
            if val_loss < best:
                best, best_epoch, waited = val_loss, epoch, 0
                if config.keep == "best":
                    best_state = _state_copy(model)
            else:
                waited += 1
                if config.patience is not None and waited >= config.patience:
                    logger.info("Early stop at epoch %d (best %d)", epoch, best_epoch)
                    break
        for p, flag in frozen.items():
            p.requires_grad_(flag)
        if config.keep == "best":
            model.load_state_dict(best_state)
        else:
            best_epoch = epoch
            if config.keep == "average":
                model.load_state_dict(_mean_state(recent))
        model.eval()
        release(model)  # the trained model keeps no training-size scratch buffers
    return FitResult(model, pd.DataFrame(rows), best_epoch, config, seconds, _data_info(data),
                     _precision_name(amp_dtype))


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
