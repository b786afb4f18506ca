"""The pieces of a training loop that every recipe shares, and the hook a recipe plugs in.

The validation split, optimiser and schedule, one step for training and
validation, the epoch, weight snapshots and averages, TSConv's window cache
and freezing, the non-finite-loss error and per-epoch test top-1; and
:class:`EpochSteps`, what a recipe does in one epoch, through which every
recipe (the contrastive recipes, ``ubp`` and ``blur-bank``) runs on the one
epoch loop (:mod:`eegvision.training.loop`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._utils import EEGVisionError, check_finite, data_error


class EpochSteps:
    """What one recipe does in an epoch: the hook of the one epoch loop.

    The loop (:class:`~eegvision.training.loop.Run`) keeps what every recipe
    shares: the history rows, the training time, early stopping, the weights
    kept (best, last or averaged), the random streams and the progress bar.
    A recipe's steps build its model and data when constructed and train and
    validate one epoch in :meth:`epoch`. :class:`~eegvision.training.loop.ContrastiveSteps`
    are the recipes' own; :class:`~eegvision.training.blur_fit.BlurSteps`
    those of ``ubp`` and ``blur-bank``.

    Attributes
    ----------
    config : TrainConfig
        The settings it trains with (a recipe may complete them: the blur levels).
    model : ContrastiveModel
        The model being trained.
    optimizer : torch.optim.Optimizer
        Its first group's learning rate goes into the history (``lr``).
    seconds : float
        Set-up time that counts as training time (building TSConv's cache).
    precision : str
        What training computes in: 'float32', 'bfloat16-mixed' or 'float16-mixed'.
    label : str
        The run's name in the progress bar.
    cache : object | None
        Precomputed input whose stored bytes count against a sweep's memory budget.
    """

    seconds = 0.0
    precision = "float32"
    cache = None

    def epoch(self, epoch):
        """Train one epoch, then validate (timed as training).

        Returns
        -------
        dict
            ``train_loss``, ``val_loss`` and any further metric for the history.
        """
        raise NotImplementedError

    def columns(self):
        """Further history columns, read after the epoch (not timed); none by default."""
        return {}

    def release(self):
        """Give back scratch buffers and gradients while other models of a sweep train.

        The next step sets the gradients to None before its backward pass anyway.
        """
        from .._workspace import release as release_buffers

        release_buffers(self.model)
        for p in self.model.parameters():
            p.grad = None

    def finish(self):
        """Undo what training changed on the model besides its weights (frozen layers)."""

    def drop(self):
        """Free the training-only state (data, optimiser, caches); the model stays."""


def prepare(train, config):
    """The training container as the loop trains on it.

    Parameters
    ----------
    train : EEGImageData
        Training data.
    config : TrainConfig
        ``average_train`` averages the repetitions of each image (unless the
        container is averaged already).

    Returns
    -------
    EEGImageData
        Checked for non-finite EEG and features (one clear error naming the data).
    """
    if config.average_train and not train.meta.get("averaged_per_subject"):
        train = train.average_repetitions()
    # a pending time mask: only the samples inside it can be non-finite once it is written
    for name, arr in (("EEG", train.window_samples()), ("image features", train.features)):
        check_finite(arr, train.meta.get("source", "training data"), f"values in the {name}",
                     "drop or interpolate the bad trials before training.")
    return train


def split_validation(data, n_val, seed):
    """Hold out ``n_val`` conditions (count, or fraction if < 1) after a seeded shuffle.

    Returns ``(train, val)`` containers; all trials of a condition stay together.
    """
    train_rows, val_rows = split_rows(data, n_val, seed)
    return data.subset(train_rows), data.subset(val_rows)


def split_rows(data, n_val, seed):
    """The trial indices ``(train, val)`` of :func:`split_validation`, without copying any data."""
    ids = np.unique(data.conditions)
    if n_val == 0:  # no validation split: TrainConfig allows it only without early stopping
        return np.arange(len(data.conditions)), np.zeros(0, dtype=np.int64)
    n = int(round(n_val * len(ids))) if 0 < n_val < 1 else int(n_val)
    if n < 2 or len(ids) - n < 2:
        raise data_error(data.meta.get("source", "training data"),
                         f"{len(ids)} training conditions are too few to hold out {n} for "
                         "validation and train on the rest (each side needs at least 2).",
                         "use more training data, or set val_conditions lower, e.g. "
                         "TrainConfig.from_recipe(..., val_conditions=0.1).")
    val_ids = np.random.default_rng(int(seed)).permutation(ids)[:n]
    is_val = np.isin(data.conditions, val_ids)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


# ---------------------------------------------------------------- training
def _make_optimizer(model, config):
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        groups, cls = [{"params": params, "weight_decay": config.weight_decay}], torch.optim.Adam
    else:
        decay = [p for p in params if p.ndim >= 2]
        rest = [p for p in params if p.ndim < 2]  # biases, norms, the temperature
        groups = [{"params": decay, "weight_decay": config.weight_decay},
                  {"params": rest, "weight_decay": 0.0}]
        cls = torch.optim.AdamW
    try:
        # one fused kernel for all parameters: on a CPU about 5x faster than the per-tensor
        # loop (about 8 % of a 'fast' step); same update, up to float rounding
        return cls(groups, lr=config.lr, betas=config.betas, fused=True)
    except (RuntimeError, TypeError):  # older torch: fused only on CUDA, or not at all
        return cls(groups, lr=config.lr, betas=config.betas)


def _make_scheduler(optimizer, config, steps_per_epoch):
    import torch

    total = max(1, int(config.epochs) * steps_per_epoch)
    if config.schedule == "constant":
        return None
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    warm = min(total - 1, int(round(config.warmup_epochs * steps_per_epoch)))

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _augment(x, config, generator):
    import torch

    if config.aug_shift:
        shift = int(torch.randint(-config.aug_shift, config.aug_shift + 1, (1,), generator=generator))
        x = torch.roll(x, shift, dims=-1)
    if config.aug_noise:
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        x = x + config.aug_noise * x.std() * noise
    return x


def _step(model, x, y, ctx):
    """One batch: the loss, and an optimiser step when ``ctx['optimizer']`` is set."""
    import torch

    train = ctx.get("optimizer") is not None
    if train:
        x = _augment(x, ctx["config"], ctx["generator"])
    dtype = ctx.get("amp_dtype")
    with torch.set_grad_enabled(train), torch.autocast(x.device.type, dtype=dtype,
                                                       enabled=dtype is not None):
        loss = model(x, y)
    if train:
        opt, scaler = ctx["optimizer"], ctx.get("scaler")
        opt.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.unscale_(opt)
        if ctx["config"].grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), ctx["config"].grad_clip)
        scaler.step(opt) if scaler else opt.step()
        if scaler:
            scaler.update()
        if ctx.get("scheduler") is not None:
            ctx["scheduler"].step()
    return loss.detach()


def run_epoch(model, x, y, batch_size, ctx, rows=None):
    """Mean loss over one pass; trains (shuffled) when ``ctx`` has an optimizer.

    The same function runs training and validation, so the two cannot drift.
    ``rows`` (trial indices into ``x`` and ``y``, default all) selects the
    split, so training and validation share one copy of the data. With a
    :class:`~eegvision.models._fused.WindowCache` as ``ctx['cache']``, batches
    come from it instead of ``x``.
    """
    import torch

    train = ctx.get("optimizer") is not None
    model.train(train)
    rows = torch.arange(len(x)) if rows is None else torch.as_tensor(rows, dtype=torch.long)
    n = len(rows)
    if n == 0:  # no validation split (val_conditions=0): no loss, not a zero one
        return float("nan")
    order = rows[torch.randperm(n, generator=ctx["generator"])] if train else rows
    order = order.to(x.device)
    total, count = torch.zeros((), device=x.device), 0
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        if len(idx) < 2:  # a contrastive batch needs a negative
            continue
        cache = ctx.get("cache")
        batch = cache.batch(idx, model) if cache is not None else _gather(model, x, idx)
        total += _step(model, batch, y[idx], ctx).float() * len(idx)
        count += len(idx)
    return float(total) / max(count, 1)


def validation_top1(model, x, y, rows, batch_size, ctx):
    """Top-1 retrieval of the validation rows among their own images (``len(rows)``-way).

    Shown while training (the progress bars) and kept in the history as
    ``val_top1``. It reads the model in evaluation mode, draws no random
    numbers and changes no state, so it does not change the training. Ties
    rank last, as in :func:`~eegvision.evaluate.concept_ranks`.
    """
    import torch
    import torch.nn.functional as F

    rows = torch.as_tensor(rows, dtype=torch.long)
    if len(rows) < 2:
        return float("nan")
    model.eval()
    dtype, cache = ctx.get("amp_dtype"), ctx.get("cache")
    parts = []
    with torch.no_grad(), torch.autocast(y.device.type, dtype=dtype, enabled=dtype is not None):
        for start in range(0, len(rows), batch_size):
            idx = rows[start:start + batch_size].to(y.device)
            batch = cache.batch(idx, model) if cache is not None else x[idx]
            parts.append(model.encode_eeg(batch).float())
        images = model.encode_image(y[rows.to(y.device)]).float()
    sim = F.normalize(torch.cat(parts), dim=1) @ F.normalize(images, dim=1).T
    return float(((sim >= sim.diagonal()[:, None]).sum(1) == 1).float().mean())


def _gather(model, x, idx):
    """``x[idx]``, written into a reused CPU buffer when the last batch is no longer in use."""
    import torch

    from .._workspace import scratch

    out = scratch(model, "batch", (len(idx),) + tuple(x.shape[1:]), x.dtype, x.device)
    return torch.index_select(x, 0, idx, out=out)


def _state_copy(model):
    """A detached copy of ``model``'s state dict."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _mean_state(states):
    """Element-wise mean of state dicts (integer entries, e.g. BatchNorm counters: the last's)."""
    import torch

    return {k: torch.stack([s[k] for s in states]).mean(dim=0) if v.is_floating_point() else v
            for k, v in states[-1].items()}


def _training_inputs(model, data, config, amp_dtype, device, budget=None):
    """``(x, y, cache)``: the training data as tensors and TSConv's precomputed input, if any.

    One copy of the data at most (none for float32 on the CPU); batches are
    gathered by index. A container with a pending time mask
    (:attr:`~eegvision.data.EEGImageData.zero_outside`, a window condition) is
    cropped straight from its unmasked samples where the crop applies, so no
    masked copy of the whole data is made; otherwise the mask is written and
    the masked EEG used. Both give the same crop, to the bit. Cached data are
    read-only memory maps; nothing here writes into ``x`` or ``y``.
    """
    import torch

    from ..models._cropped import crop_cache

    def tensor(a):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.as_tensor(np.ascontiguousarray(a), device=device)

    y = tensor(data.features)
    window = data.zero_outside
    if (window is not None and torch.device(device).type == "cpu"  # the crop is CPU-only
            and not (config.aug_noise or config.aug_shift)):
        from ..models._fused import CACHE_MAX_BYTES

        base = tensor(data.unmasked_eeg())
        cache = crop_cache(model.encoder, base, amp_dtype, window=window,
                           budget=CACHE_MAX_BYTES if budget is None else budget)
        if cache is not None:
            return cache.kept, y, cache
    x = tensor(data.eeg)
    cache = _window_cache(model, x, config, amp_dtype, budget)
    # a crop keeps the only non-zero samples: the masked copy need not outlive it
    return (cache.kept if hasattr(cache, "kept") else x), y, cache


def _window_cache(model, x, config, amp_dtype, budget=None):
    """TSConv's precomputed input where the fused path applies, else None.

    For an input that is zero outside a stretch of samples (a time-window
    condition), the crop (:func:`~eegvision.models._cropped.crop_cache`): the
    non-zero samples, and TSConv trained on the steps that see them only.
    Otherwise the moving average of ``x``
    (:func:`~eegvision.models._fused.window_cache`). A lone fit and the sweep
    engine both come here, so both train the same map with the same kernels
    and their results agree to the bit. ``budget`` bounds the crop's stored
    average (bytes; the engine shares one budget among its models). Not with
    augmentation, which changes the EEG every step.
    """
    if config.aug_noise or config.aug_shift:
        return None
    from ..models._cropped import crop_cache
    from ..models._fused import CACHE_MAX_BYTES, window_cache

    cache = crop_cache(model.encoder, x, amp_dtype,
                       budget=CACHE_MAX_BYTES if budget is None else budget)
    return cache if cache is not None else window_cache(model.encoder, x, amp_dtype)


def _freeze_temporal(model):
    """Stop training TSConv's temporal conv and first BatchNorm; returns {param: was trainable}.

    Only where TSConv sees the EEG itself (``nice``): with a trained module in
    front of it (attention, ATM's transformer) the backward pass must go
    through TSConv anyway, so freezing would save nothing.
    """
    from ..models._fused import plain_tsconv

    tsconv = plain_tsconv(getattr(model, "encoder", None))
    if tsconv is None:
        return {}
    params = list(tsconv.temporal_conv.parameters()) + list(tsconv.bn1.parameters())
    frozen = {p: p.requires_grad for p in params}
    for p in params:
        p.requires_grad_(False)
    return frozen


def _non_finite_error(epoch, train_loss, val_loss, config):
    return EEGVisionError(
        f"training stopped at epoch {epoch}: the loss is not finite (train {train_loss}, "
        f"validation {val_loss}).\n  Likely causes: the learning rate is too high (lr={config.lr}; "
        "try 10x lower), NaN or infinite values in the EEG, image features that are not finite "
        "(or all zero), or fp16 overflow with --amp.\n"
        "  Fix: lower the learning rate, check the data with `eegvision info`, or set grad_clip.")


def check_losses(epoch, train_loss, val_loss, config):
    """Stop with one clear error when an epoch's loss is not finite (the run diverged).

    Shared by every loop (plain, blur-bank, batched).
    """
    no_split = config.val_conditions == 0 and math.isnan(val_loss)  # no loss to check
    if not (math.isfinite(train_loss) and (no_split or math.isfinite(val_loss))):
        raise _non_finite_error(epoch, train_loss, val_loss, config)


def _test_top1(model, test):
    from ..evaluate import concept_ranks, cosine_similarity, embed

    eeg_emb, img_emb = embed(model, test.eeg, test.features)
    return float(np.mean(concept_ranks(cosine_similarity(eeg_emb, img_emb)) == 1))


def _data_info(data):
    return dict(n_chans=int(data.n_channels), n_times=int(data.n_times),
                n_features=int(data.n_features), sfreq=float(data.sfreq),
                ch_names=list(data.ch_names), times=[float(t) for t in data.times],
                source=str(data.meta.get("source", "")))
