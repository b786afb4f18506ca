"""Training with a blur prior on the image side: the ``ubp`` and ``blur-bank`` recipes.

The data's features are a blur bank flattened to ``(N, K * D)`` (load with
``bank=True``; :func:`eegvision.data.things.read_bank`). :class:`BlurSteps`
is the recipes' epoch, the hook with which they run on the one epoch loop
(:mod:`eegvision.training.loop`: history, timing and the kept weights are
the loop's). One step function serves training and validation; the epoch
kept is the one with the lowest validation loss on held-out *training*
conditions (never the test set).

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

import numpy as np

from .._utils import data_error
from .build import build_model
from .steps import EpochSteps, _make_optimizer, split_rows


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


class BlurSteps(EpochSteps):
    """The ``ubp`` / ``blur-bank`` epoch (built by :func:`eegvision.training.loop.start_run`).

    Parameters
    ----------
    data : EEGImageData
        Averaged training data whose features are a flattened blur bank.
    config : TrainConfig
        With ``image_prior`` 'ubp' or 'bank'; its ``blur_levels`` are set from the data.
    device : torch.device
        Where the model, the EEG and the bank go.
    """

    def __init__(self, data, config, device):
        import torch

        from ..models.blur import UBPBlurState

        self.config = config = _bank_config(data, config)
        self.label = config.recipe
        self.train_rows, self.val_rows = (
            torch.as_tensor(r, dtype=torch.long)
            for r in split_rows(data, config.val_conditions, config.seed))
        self.model = build_model(config, n_chans=data.n_channels, n_times=data.n_times,
                                 n_features=data.n_features, sfreq=data.sfreq).to(device)
        self.x = torch.as_tensor(np.ascontiguousarray(data.eeg), device=device)
        bank = torch.as_tensor(np.ascontiguousarray(data.features), device=device)
        self.bank = bank.view(len(bank), config.blur_levels, -1)
        self.optimizer = _make_optimizer(self.model, config)
        self.generator = torch.Generator().manual_seed(int(config.seed))
        self.state = (UBPBlurState(len(data), config.blur_levels)
                      if config.image_prior == "ubp" else None)

    def epoch(self, epoch):
        args = self.model, self.x, self.bank
        train_loss = _epoch(*args, self.train_rows, self.config, self.optimizer, self.generator,
                            self.state)
        val_loss = _epoch(*args, self.val_rows, self.config, None, None, self.state)
        return dict(train_loss=train_loss, val_loss=val_loss)

    def columns(self):
        """UBP: how many training pairs each blur level had (``blur_low`` ...)."""
        return {} if self.state is None else {f"blur_{k}": v for k, v in self.state.counts().items()}

    def drop(self):
        self.x = self.bank = self.optimizer = self.state = None
