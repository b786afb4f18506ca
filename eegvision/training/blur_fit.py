"""Training with a blur prior on the image side: the ``ubp`` and ``blur-bank`` recipes.

The data's features are a blur bank flattened to ``(N, K * D)`` (load with
``bank=True``; :func:`eegvision.data.things.read_bank`). One step function
serves training and validation; the epoch kept is the one with the lowest
validation loss on held-out *training* conditions (never the test set).

- ``ubp``: each training pair is compared with its image at the blur level
  :class:`~eegvision.models.blur.UBPBlurState` chose from the pair's
  running EEG-image agreement (one level less blur than the middle one when
  the agreement is unusually high, one level more when unusually low, the
  middle level otherwise); validation and test pairs use the middle level.
- ``blur-bank``: every pair sees all levels through the learned level
  weights and the adapter of :class:`~eegvision.models.blur.BlurBankProjector`.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from .._docs import fill_doc
from .._utils import data_error


def _bank_config(data, config):
    k = data.meta.get("blur_levels")
    if not k or data.n_features % int(k):
        raise data_error(data.meta.get("source", "training data"),
                         f"recipe {config.recipe!r} needs a blur bank as image features, but "
                         "these are plain features.",
                         "compute a feature set with blur levels (`eegvision features --blur "
                         "1,2,4,8 --name NAME ...`; the simulator writes one named 'blur') and "
                         "pass --features NAME.")
    unused = {name: getattr(config, name) for name, plain in _NOT_USED.items()
              if getattr(config, name) != plain}
    if unused:
        raise ValueError(f"recipe {config.recipe!r} (image_prior {config.image_prior!r}) does "
                         f"not use {', '.join(f'{k}={v!r}' for k, v in unused.items())}: it "
                         f"keeps the best-validation epoch, trains at a constant learning rate "
                         f"in float32, without EEG augmentation or soft targets. Leave them at "
                         f"{_NOT_USED}.")
    return dataclasses.replace(config, blur_levels=int(k))


#: Settings the blur loop does not implement, with the only value it accepts.
_NOT_USED = dict(keep="best", patience=None, schedule="constant", aug_noise=0.0, aug_shift=0,
                 soft_targets=None, amp=False, nice_defects=False)


def _batch_loss(model, x, bank, idx, state):
    """Loss of one batch and its scaled diagonal similarities (for UBP's state)."""
    import torch.nn.functional as F

    eeg = model.encoder(x[idx])
    if state is not None and model.training:
        rows = bank[idx]
        img_in = rows[range(len(idx)), state.level(idx.cpu()).to(rows.device)]
    else:
        img_in = bank[idx].flatten(1)
    img = model.projector(img_in)
    loss = model.loss(eeg, img)
    diag = model.loss.scale() * F.cosine_similarity(eeg.float(), img.float(), dim=-1)
    return loss, diag


def _epoch(model, x, bank, rows, config, optimizer, generator, state):
    """Mean loss over ``rows``; trains (shuffled, UBP state updated) with an optimizer."""
    import torch

    train = optimizer is not None
    model.train(train)
    order = rows[torch.randperm(len(rows), generator=generator)] if train else rows
    total, count = 0.0, 0
    for start in range(0, len(order), config.batch_size):
        idx = order[start:start + config.batch_size]
        if len(idx) < 2:
            continue
        with torch.set_grad_enabled(train):
            loss, diag = _batch_loss(model, x, bank, idx.to(x.device), state)
        if train:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            if state is not None:
                state.update(idx, diag)
        total += float(loss.detach()) * len(idx)
        count += len(idx)
    return total / max(count, 1)


@fill_doc
def fit_blur(data, config, test=None, progress=True, callback=None):
    """Train the ``ubp`` / ``blur-bank`` recipes (called by :func:`eegvision.training.fit`).

    Parameters
    ----------
    data : EEGImageData
        Averaged training data whose features are a flattened blur bank.
    config : TrainConfig
        With ``image_prior`` 'ubp' or 'bank'.
    test : EEGImageData | None
        Test top-1 recorded per epoch (never used to choose the epoch).
    %(progress)s
    callback : callable | None
        ``callback(epoch, model)`` after every epoch.

    Returns
    -------
    FitResult
    """
    import pandas as pd
    import torch

    from .._utils import progress_bar, resolve_device
    from ..models.blur import UBPBlurState
    from .build import build_model
    from .config import FitResult
    from .device import _deterministic
    from .steps import (
        _data_info,
        _make_optimizer,
        _state_copy,
        _test_top1,
        check_losses,
        split_rows,
    )

    config = _bank_config(data, config)
    device = resolve_device(config.device)
    train_rows, val_rows = (torch.as_tensor(r, dtype=torch.long)
                            for r in split_rows(data, config.val_conditions, config.seed))
    k = config.blur_levels
    with _deterministic(device):
        model = build_model(config, n_chans=data.n_channels, n_times=data.n_times,
                            n_features=data.n_features, sfreq=data.sfreq).to(device)
        x = torch.as_tensor(np.ascontiguousarray(data.eeg), device=device)
        bank = torch.as_tensor(np.ascontiguousarray(data.features), device=device)
        bank = bank.view(len(bank), k, -1)
        optimizer = _make_optimizer(model, config)
        generator = torch.Generator().manual_seed(int(config.seed))
        state = UBPBlurState(len(data), k) if config.image_prior == "ubp" else None
        rows, best, best_epoch, best_state, seconds = [], math.inf, 0, None, 0.0
        bar = progress_bar(range(1, config.epochs + 1), desc=f"train {config.recipe}",
                           unit="epoch", enabled=progress)
        for epoch in bar:
            t0 = time.perf_counter()
            train_loss = _epoch(model, x, bank, train_rows, config, optimizer, generator, state)
            val_loss = _epoch(model, x, bank, val_rows, config, None, None, state)
            seconds += time.perf_counter() - t0
            check_losses(epoch, train_loss, val_loss, config)
            row = dict(epoch=epoch, train_loss=train_loss, val_loss=val_loss, seconds=seconds,
                       lr=optimizer.param_groups[0]["lr"],
                       logit_scale=float(model.loss.scale().detach()))
            if state is not None:
                row.update({f"blur_{k_}": v for k_, v in state.counts().items()})
            if test is not None:
                row["test_top1"] = _test_top1(model, test)
            if callback is not None:
                callback(epoch, model)
            rows.append(row)
            if val_loss < best:
                best, best_epoch, best_state = val_loss, epoch, _state_copy(model)
        model.load_state_dict(best_state)
        model.eval()
    return FitResult(model, pd.DataFrame(rows), best_epoch, config, seconds, _data_info(data))
