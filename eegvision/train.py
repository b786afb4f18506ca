"""Training: one config, one fit loop, one step for training and validation.

``fit(train, config)`` holds out validation conditions, trains (with
optional early stopping on the validation loss), keeps the best-validation
epoch's weights, the last epoch's or the average of the last few, and returns a :class:`FitResult`. ``run_training`` adds evaluation and writes the files of
``eegvision train``; ``train_cli`` is that command.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import difflib
import functools
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from ._utils import (  # noqa: F401  (resolve_device: train's public name too)
    EEGVisionError,
    _check_option,
    data_error,
    logger,
    resolve_device,
    write_csv,
    write_json,
)

#: Settings of each recipe that differ from the dataclass defaults (= 'fast').
RECIPES = {
    "fast": {},
    # the analyses' default: 'fast' in 20 epochs with a one-cycle schedule peaking at 3e-3. A
    # sweep trains one model per condition; on the built-in subject this gave 80 % whole-epoch
    # top-1 against fast's 84.5 % in 40 % of the time (docs/training.md, "The sweep recipe")
    "sweep": dict(epochs=20, schedule="onecycle", lr=3e-3),
    # NICE (Song et al., ICLR 2024), see PAPER_SETTINGS.md
    "nice": dict(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), weight_decay=0.0,
                 batch_size=1000, epochs=200, val_conditions=740, patience=None, keep="best",
                 schedule="constant", warmup_epochs=0, init="normal", dropout=None, amp=False,
                 temperature=0.07, freeze_temporal=None),
    # UBP (Wu et al., CVPR 2025; HaitaoWuTJU/Uncertainty-aware-Blur-Prior): MLP encoder on the
    # 17 posterior channels, AdamW lr 1e-4 / wd 1e-4, batch 1024, 50 epochs, scale softplus(
    # log(1/0.07)) = 2.73 at the start (temperature 0.366), the uncertainty-aware blur prior
    "ubp": dict(model="mlp", optimizer="adamw", lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4,
                batch_size=1024, epochs=50, keep="best", patience=None, init="default",
                dropout=None, amp=False, temperature=0.366, freeze_temporal=None,
                image_prior="ubp"),
    # the 2026 blur-bank method (makeitperfect/VisualEEGDecoding): learned weights over the
    # blur levels + a trainable image adapter, logit scale fixed at 1, 150 epochs
    "blur-bank": dict(model="mlp", optimizer="adamw", lr=1e-4, betas=(0.9, 0.999),
                      weight_decay=0.01, batch_size=1024, epochs=150, keep="best", patience=None,
                      init="default", dropout=None, amp=False, temperature=1.0,
                      learn_temperature=False, freeze_temporal=None, image_prior="bank"),
}
#: Recipes whose image side reads a blur bank (a feature set written with --blur).
BLUR_RECIPES = ("ubp", "blur-bank")
#: The feature set a blur recipe reads unless --features names another (the simulator's).
BLUR_FEATURES = "blur"
#: The channels a recipe trains on unless --channels says otherwise.
RECIPE_CHANNELS = {"ubp": "posterior17", "blur-bank": "posterior17"}
# What nice_stand.py (eeyhsong/NICE-EEG) actually trained and tested, defects included
# (docs/reproduce.md lists each with its source line): the temperature never reaches
# the optimiser and the image projector returns its input (nice_defects), the
# best-checkpoint reload loads nothing so the last epoch is tested (keep='last'),
# and the test scores the L2-normalised EEG embedding against un-normalised centres.
RECIPES["nice-paper"] = dict(RECIPES["nice"], nice_defects=True, keep="last",
                             test_similarity="dot")


@dataclass
class TrainConfig:
    """Everything that decides a training run. Defaults are the 'fast' recipe.

    Parameters
    ----------
    model : str
        Encoder name from :func:`eegvision.models.list_encoders`, or 'ridge'.
    recipe : str
        Name of the recipe the settings came from ('fast', 'nice' or
        'nice-paper': see :data:`RECIPES` and docs/reproduce.md).
    epochs : int
        Maximum number of epochs.
    lr, betas, weight_decay : float, (float, float), float
        Optimiser settings.
    optimizer : 'adam' | 'adamw'
        Adam (L2 folded into the gradient) or AdamW (decoupled decay, not on
        biases, norms or the temperature).
    schedule : 'constant' | 'cosine' | 'onecycle'
        Learning-rate schedule over ``epochs`` (cosine has linear warm-up).
    warmup_epochs : float
        Warm-up length of the cosine schedule.
    batch_size : int
        Conditions per batch (the contrastive negatives).
    val_conditions : int | float
        Training conditions held out for validation (a count, or a fraction
        when < 1), drawn after a seeded shuffle.
    patience : int | None
        Stop after this many epochs without a lower validation loss; None
        trains all epochs.
    keep : 'best' | 'last' | 'average'
        The weights returned: those of the epoch with the lowest validation
        loss (NICE), of the last epoch, or the mean of the last
        ``average_epochs`` epochs' weights (and BatchNorm statistics). The
        'fast' recipe averages: the validation loss of a few hundred
        conditions can bottom out epochs before retrieval accuracy stops
        improving, and a single epoch's weights are noisier than the mean of
        the last five.
    average_epochs : int
        How many final epochs ``keep='average'`` averages.
    seed : int
        Seeds model initialisation, the split, batch order and augmentation.
    device : 'auto' | 'cpu' | 'cuda'
        Where to train.
    amp : bool
        Mixed precision. On CUDA: bf16 (else fp16) autocast. On a CPU with
        native bf16 arithmetic (x86 AVX512-BF16 or AMX, see
        :func:`cpu_has_native_bf16`): bf16 autocast, which TSConv's fused path
        also follows; elsewhere ignored. Weights, optimiser state, BatchNorm
        statistics and the loss stay float32. The 'nice' recipe trains in
        float32, as the paper did.
    temperature : float
        Initial temperature of the CLIP loss (the logit scale starts at its
        inverse and is then learned). 'nice': 0.07, as CLIP and NICE;
        'fast': 0.14. The learned scale grows slowly from its start, so the
        start acts as a regulariser: on the built-in simulator, starting at
        0.14 instead of 0.07 raised top-1 after 35 epochs by 4-6 points with
        synthetic (simulator v1) and with real CLIP features (docs/training.md).
    nice_defects : bool
        Reproduce the NICE public code: temperature frozen (at
        ``temperature``), image projector returning its input.
    init : 'default' | 'normal'
        PyTorch default initialisation, or NICE's N(0, 0.02) (BatchNorm N(1, 0.02)).
    average_train : bool
        Average training repetitions of each image before training (NICE does).
    aug_noise : float
        Std of Gaussian noise added to training EEG, in units of its std.
    aug_shift : int
        Maximum random circular time shift of training EEG, in samples.
    grad_clip : float | None
        Clip the gradient norm to this value.
    proj_dropout : float
        Dropout of the image projector.
    dropout : float | None
        While training, the rate of every dropout layer of the encoder; None
        keeps the encoder's own rates (NICE: 0.5). Dropout does nothing at
        evaluation, so this changes the training, not the model.
    soft_targets : float | None
        Semantic soft targets for the contrastive loss: the inverse
        temperature of the image-image cosine similarities that spread part
        (``soft_mix``) of each row's target over images like the true one
        (see :class:`~eegvision.models.loss.ClipLoss`). None (both recipes):
        one-hot targets, as CLIP and NICE. On the built-in simulator, 20
        helped with its synthetic image features and hurt with the real
        CLIP features (docs/training.md), so it is opt-in.
    soft_mix : float
        Share of the target given to similar images.
    freeze_temporal : int | None
        Train TSConv's temporal convolution and its BatchNorm for this many
        epochs, then freeze them (their BatchNorm still normalises with batch
        statistics) for the rest of the run; None trains them throughout
        ('nice'). 'fast': 5. After five epochs these 1,000-odd weights have
        found their band, and the frozen epochs skip the backward pass below
        TSConv's spatial convolution, about 30 % of an epoch on a CPU; on the
        built-in simulator the learning curve is nearly unchanged
        (docs/training.md). Only plain TSConv encoders (``nice``) freeze;
        with attention or ATM's transformer in front of TSConv the backward
        pass cannot stop there, so they ignore it. The returned model's
        parameters are trainable again.
    encoder_kwargs : dict
        Extra keyword arguments of the encoder.
    learn_temperature : bool
        Train the logit scale (False: fixed at ``1 / temperature``, as the
        2026 blur-bank code's scale of 1).
    image_prior : None | 'ubp' | 'bank'
        The image side reads a blur bank: UBP's uncertainty-aware choice of
        one level per training pair, or learned weights over all levels plus
        an adapter (see :mod:`eegvision.models.blur`). None: one feature per
        image and :class:`~eegvision.models.projector.ImageProjector`.
    blur_levels : int | None
        Levels K of the bank (set by :func:`fit` from the data).
    test_similarity : 'cosine' | 'dot'
        How the test ranks candidates: cosine similarity (default), or, as
        NICE's test does, the L2-normalised EEG embedding's dot product with
        the un-normalised candidate embeddings (recipe ``nice-paper``; with
        its identity projector the raw CLIP centres, whose different norms
        then change the ranking).
    """

    model: str = "nice"
    recipe: str = "fast"
    epochs: int = 50
    lr: float = 1e-3
    betas: tuple = (0.5, 0.999)
    weight_decay: float = 0.0
    optimizer: str = "adam"
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    batch_size: int = 256
    val_conditions: float = 0.045
    patience: int | None = None
    keep: str = "average"
    average_epochs: int = 5
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    temperature: float = 0.14
    nice_defects: bool = False
    init: str = "normal"
    average_train: bool = True
    aug_noise: float = 0.0
    aug_shift: int = 0
    grad_clip: float | None = None
    proj_dropout: float = 0.3
    dropout: float | None = 0.25
    soft_targets: float | None = None
    soft_mix: float = 0.5
    freeze_temporal: int | None = 5
    encoder_kwargs: dict = field(default_factory=dict)
    learn_temperature: bool = True
    image_prior: str | None = None
    blur_levels: int | None = None
    test_similarity: str = "cosine"

    def __post_init__(self):
        _check_option("test_similarity", self.test_similarity, ("cosine", "dot"))
        _check_option("recipe", self.recipe, tuple(RECIPES))
        _check_option("optimizer", self.optimizer, ("adam", "adamw"))
        _check_option("schedule", self.schedule, ("constant", "cosine", "onecycle"))
        _check_option("device", self.device, ("auto", "cpu", "cuda"))
        _check_option("init", self.init, ("default", "normal"))
        _check_option("keep", self.keep, ("best", "last", "average"))
        _check_option("image_prior", self.image_prior, (None, "ubp", "bank"))
        if int(self.average_epochs) < 1:
            raise ValueError(f"average_epochs must be >= 1 (got {self.average_epochs}).")
        self.betas = tuple(float(b) for b in self.betas)
        if self.dropout is not None and not 0 <= float(self.dropout) < 1:
            raise ValueError(f"dropout must be in [0, 1) or None (got {self.dropout}).")
        if ((self.soft_targets is not None and not float(self.soft_targets) > 0)
                or not 0 <= float(self.soft_mix) <= 1):
            raise ValueError(f"soft_targets must be > 0 or None and soft_mix in [0, 1] "
                             f"(got {self.soft_targets}, {self.soft_mix}).")
        if not 0.01 <= float(self.temperature) <= 10:  # 0.01: the loss clamps the scale at 100
            raise ValueError(f"temperature must be in [0.01, 10] (got {self.temperature}).")
        if self.freeze_temporal is not None and int(self.freeze_temporal) < 0:
            raise ValueError(f"freeze_temporal must be >= 0 or None (got {self.freeze_temporal}).")
        if int(self.epochs) < 1 or int(self.batch_size) < 2:
            raise ValueError(f"epochs must be >= 1 and batch_size >= 2 (got {self.epochs}, "
                             f"{self.batch_size}).")

    @classmethod
    def from_recipe(cls, recipe="fast", **overrides):
        """The recipe's settings with ``overrides``; misspelled keys get "did you mean"."""
        _check_option("recipe", recipe, tuple(RECIPES))
        names = [f.name for f in dataclasses.fields(cls)]
        for key in overrides:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"Unknown training setting {key!r}.{hint} "
                                 f"Known: {', '.join(names)}.")
        return cls(**{**RECIPES[recipe], **overrides, "recipe": recipe})

    def to_dict(self):
        """Plain JSON-able dict (tuples as lists)."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        d = dict(d)
        recipe = d.pop("recipe", "fast")
        return cls.from_recipe(recipe, **d)


def resolved_train_config(train):
    """The full :class:`~eegvision.train.TrainConfig` dict a job's ``train`` settings give.

    The recipe is applied, so a changed recipe value changes the result; the
    device is left out (where a job runs does not decide what it computes).
    """
    settings = dict(train)
    config = TrainConfig.from_recipe(settings.pop("recipe", "fast"), **settings).to_dict()
    config.pop("device", None)
    return config


@dataclass
class FitResult:
    """What :func:`fit` returns.

    ``history`` has one row per epoch: ``epoch, train_loss, val_loss,
    seconds`` (cumulative training time, excluding any test monitoring),
    ``lr``, ``logit_scale`` and, when ``fit`` got ``test``, ``test_top1``.
    ``best_epoch`` is the epoch whose weights ``model`` has (the last one
    with ``keep='last'``, the last one averaged with ``keep='average'``). ``precision`` is what training computed in:
    'float32' or, under ``amp``, 'bfloat16-mixed' / 'float16-mixed'.
    """

    model: object
    history: object
    best_epoch: int
    config: TrainConfig
    train_seconds: float
    data_info: dict = field(default_factory=dict)
    precision: str = "float32"


# ------------------------------------------------------------------ device
@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU does bfloat16 arithmetic in hardware (x86 AVX512-BF16 or AMX-BF16).

    Read from the CPU flags in ``cpuinfo`` (Linux); False where there is no
    such file. Without these instructions bf16 is emulated and slower than
    float32, so ``amp`` leaves such CPUs in float32.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool({"avx512_bf16", "amx_bf16"} & set(line.partition(":")[2].split()))
    return False


def _amp_dtype(device, amp):
    import torch

    if not amp:
        return None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else None
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _precision_name(amp_dtype):
    """'float32', or 'bfloat16-mixed' / 'float16-mixed' under autocast."""
    return "float32" if amp_dtype is None else str(amp_dtype).replace("torch.", "") + "-mixed"


@contextlib.contextmanager
def _deterministic(device):
    """Deterministic kernels on CPU (cheap there), restoring the previous setting."""
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


# ------------------------------------------------------------------- model
def make_encoder(name, *, n_chans, n_times, n_outputs, sfreq=None, **kwargs):
    """An encoder from the registry (:func:`eegvision.models.create_encoder`)."""
    from .models import create_encoder

    return create_encoder(name, n_chans=n_chans, n_times=n_times, n_outputs=n_outputs,
                          sfreq=sfreq, **kwargs)


def build_model(config, *, n_chans, n_times, n_features, sfreq=None):
    """A fresh :class:`ContrastiveModel`, initialised from ``config.seed``.

    Every call with the same config and shapes gives the same weights, so
    folds and repeated runs never share state.
    """
    import torch

    from .models.loss import ClipLoss
    from .models.projector import ContrastiveModel, ImageProjector

    torch.manual_seed(int(config.seed))
    n_out = n_features // int(config.blur_levels) if config.image_prior else n_features
    encoder = make_encoder(config.model, n_chans=n_chans, n_times=n_times, n_outputs=n_out,
                           sfreq=sfreq, **config.encoder_kwargs)
    if config.image_prior:
        from .models.blur import BlurBankProjector, UBPImageSide

        side = UBPImageSide if config.image_prior == "ubp" else BlurBankProjector
        projector = side(int(config.blur_levels), n_out)
    else:
        projector = ImageProjector(n_features, dropout=config.proj_dropout,
                                   identity=config.nice_defects)
    if config.dropout is not None:
        for module in encoder.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = float(config.dropout)
    loss = ClipLoss(init=math.log(1 / float(config.temperature)),
                    learn_scale=not config.nice_defects and config.learn_temperature,
                    soft_scale=config.soft_targets,
                    soft_mix=config.soft_mix)
    model = ContrastiveModel(encoder, projector, loss)
    if config.init == "normal":
        from .models.modules import init_nice_weights

        init_nice_weights(model.encoder)
        init_nice_weights(model.projector)
    model.encoder_name = config.model
    model.n_features = int(n_features)
    model.test_similarity = config.test_similarity  # read by evaluate()
    return model


# -------------------------------------------------------------------- data
def _prepare(train, config):
    if config.average_train and not train.meta.get("averaged_per_subject"):
        train = train.average_repetitions()
    for name, arr in (("EEG", train.eeg), ("image features", train.features)):
        if not np.isfinite(arr).all():
            raise data_error(train.meta.get("source", "training data"),
                             f"{name} hold NaN or infinite values.",
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

    from ._workspace import scratch

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
    from .models._cropped import crop_cache
    from .models._fused import CACHE_MAX_BYTES, window_cache

    cache = crop_cache(model.encoder, x, amp_dtype,
                       budget=CACHE_MAX_BYTES if budget is None else budget)
    return cache if cache is not None else window_cache(model.encoder, x, amp_dtype)


def _freeze_temporal(model):
    """Stop training TSConv's temporal conv and first BatchNorm; returns {param: was trainable}.

    Only where TSConv sees the EEG itself (``nice``): with a trained module in
    front of it (attention, ATM's transformer) the backward pass must go
    through TSConv anyway, so freezing would save nothing.
    """
    from .models._fused import plain_tsconv

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


def _test_top1(model, test):
    from .evaluate import concept_ranks, cosine_similarity, embed

    eeg_emb, img_emb = embed(model, test.eeg, test.features)
    return float(np.mean(concept_ranks(cosine_similarity(eeg_emb, img_emb)) == 1))


def _data_info(data):
    return dict(n_chans=int(data.n_channels), n_times=int(data.n_times),
                n_features=int(data.n_features), sfreq=float(data.sfreq),
                ch_names=list(data.ch_names), times=[float(t) for t in data.times],
                source=str(data.meta.get("source", "")))


def fit(train, config=None, *, test=None, out_dir=None, progress=True, callback=None):
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
    progress : bool
        Show a progress bar (only when stderr is a terminal).
    callback : callable | None
        Called as ``callback(epoch, model)`` after every epoch, outside the
        timed part (e.g. to keep snapshots of the weights); torch encoders
        only. The model is in evaluation mode (after the validation pass)
        and must not be changed.

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
    from tqdm.auto import tqdm

    from ._workspace import release

    device = resolve_device(config.device)
    train_rows, val_rows = split_rows(data, config.val_conditions, config.seed)
    with _deterministic(device):
        model = build_model(config, n_chans=data.n_channels, n_times=data.n_times,
                            n_features=data.n_features, sfreq=data.sfreq).to(device)
        # one copy of the data (none for float32 on the CPU); batches are gathered by index.
        # Cached data are read-only memory maps; nothing here writes into x or y.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            x, y = (torch.as_tensor(np.ascontiguousarray(a), device=device)
                    for a in (data.eeg, data.features))
        optimizer = _make_optimizer(model, config)
        steps = sum(1 for s in range(0, len(train_rows), config.batch_size)
                    if min(config.batch_size, len(train_rows) - s) >= 2)
        amp_dtype = _amp_dtype(device, config.amp)
        t0 = time.perf_counter()
        cache = _window_cache(model, x, config, amp_dtype)
        seconds = time.perf_counter() - t0  # building the cache is part of training time
        ctx = dict(config=config, optimizer=optimizer, amp_dtype=amp_dtype, cache=cache,
                   scheduler=_make_scheduler(optimizer, config, steps),
                   generator=torch.Generator().manual_seed(int(config.seed)),
                   scaler=torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None)
        val_ctx = dict(config=config, amp_dtype=amp_dtype, generator=None, cache=cache)
        rows, best, best_state, waited = [], math.inf, None, 0
        recent = collections.deque(maxlen=int(config.average_epochs))
        bar = tqdm(range(1, config.epochs + 1), desc=f"train {config.model}", unit="epoch",
                   disable=not progress or not sys.stderr.isatty(), leave=False)
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
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                raise _non_finite_error(epoch, train_loss, val_loss, config)
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

    from .models.ridge import RidgeDecoder

    t0 = time.perf_counter()
    model = RidgeDecoder().fit(data.eeg, data.features)
    seconds = time.perf_counter() - t0
    train_mse = float(np.mean((model.predict(data.eeg) - data.features) ** 2))
    row = dict(epoch=1, train_loss=train_mse, val_loss=model.cv_mse_, seconds=seconds,
               alpha=model.alpha_)
    if test is not None:
        row["test_top1"] = _test_top1(model, test)
    return FitResult(model, pd.DataFrame([row]), 1, config, seconds, _data_info(data))


# -------------------------------------------------------------- checkpoint
CHECKPOINT_FORMAT = "eegvision-checkpoint-v1"


def save_checkpoint(path, fit_result):
    """Write ``fit_result``'s model as plain tensors and types (``weights_only`` loadable)."""
    import torch

    info = fit_result.data_info
    state = {k: v.detach().cpu() for k, v in fit_result.model.state_dict().items()}
    ckpt = dict(format=CHECKPOINT_FORMAT, eegvision_version=__version__,
                encoder=fit_result.config.model, config=fit_result.config.to_dict(),
                n_outputs=int(info["n_features"]), best_epoch=int(fit_result.best_epoch),
                state_dict=state, **{k: info[k] for k in ("n_chans", "n_times", "n_features",
                                                          "sfreq", "ch_names", "times")})
    from ._utils import atomic_path

    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return Path(path)


def _read_checkpoint(path):
    import torch

    path = Path(path)
    if not path.is_file():
        raise data_error(path, "no such checkpoint file.",
                         "give the model.pt that `eegvision train` wrote.")
    from .data._pickle import scan_torch_checkpoint

    scan_torch_checkpoint(path)  # depth and size checks before torch unpickles anything
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same message
        raise data_error(path, f"cannot be read as a safe (weights-only) checkpoint: {err}",
                         "give a model.pt written by `eegvision train`.") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise data_error(path, "is not an eegvision checkpoint.",
                         "give a model.pt written by `eegvision train`.")
    from ._checkpoint_checks import check_checkpoint_fields

    check_checkpoint_fields(path, ckpt)
    return ckpt


def load_checkpoint(path, *, model=None, data=None, device="cpu", return_info=False):
    """Rebuild the trained model from a checkpoint.

    Parameters
    ----------
    path : path
        A ``model.pt`` from :func:`save_checkpoint`.
    model : str | None
        Expected encoder name; a checkpoint of another encoder is an error.
    data : EEGImageData | None
        If given, its channels and samples must match the checkpoint's.
    device : str
        Where to put the model ('cpu', 'cuda' or 'auto').
    return_info : bool
        Also return the checkpoint's metadata (everything but the weights).

    Returns
    -------
    model : ContrastiveModel | RidgeDecoder
    info : dict
        Only with ``return_info``.
    """
    ckpt = _read_checkpoint(path)
    name = ckpt["encoder"]
    if model is not None and model != name:
        raise data_error(path, f"is a checkpoint of encoder {name!r}, not {model!r}.",
                         f"use --model {name}, or train a {model!r} model first.")
    if data is not None and (list(data.ch_names) != list(ckpt["ch_names"])
                             or data.n_times != ckpt["n_times"]):
        raise data_error(path, f"was trained on {ckpt['n_chans']} channels x {ckpt['n_times']} "
                         f"samples; the data have {data.n_channels} x {data.n_times} (or other "
                         "channel names).", "use data preprocessed like the training data.")
    if data is not None:  # same names and order; now the rate and sample times too
        from .data.align import align_channels

        align_channels(data, (ckpt["ch_names"], np.asarray(ckpt["times"]), ckpt["sfreq"]),
                       reference_name=f"the checkpoint {path}", reorder=False,
                       fix="use data preprocessed like the training data.")
    net = _rebuild(path, ckpt)
    if name != "ridge":
        net = net.to(resolve_device(device)).eval()
    info = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return (net, info) if return_info else net


def _rebuild(path, ckpt):
    from .models.ridge import RidgeDecoder

    if ckpt["encoder"] == "ridge":
        return RidgeDecoder().load_state_dict(ckpt["state_dict"])
    from ._checkpoint_checks import check_shapes_before_building

    config = TrainConfig.from_dict(ckpt["config"])
    check_shapes_before_building(path, ckpt, lambda: build_model(
        config, n_chans=ckpt["n_chans"], n_times=ckpt["n_times"],
        n_features=ckpt["n_features"], sfreq=ckpt["sfreq"]))
    net = build_model(config, n_chans=ckpt["n_chans"], n_times=ckpt["n_times"],
                      n_features=ckpt["n_features"], sfreq=ckpt["sfreq"])
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise data_error(path, f"its weights do not fit encoder {ckpt['encoder']!r} with "
                         f"{ckpt['n_chans']} channels x {ckpt['n_times']} samples -> "
                         f"{ckpt['n_features']}-d ({' '.join(first[:2])[:300]}).",
                         "the checkpoint comes from another encoder or version: retrain it.") from None
    return net


# ------------------------------------------------------------ whole runs
def run_training(data, config, out_dir, *, targets=None, progress=True):
    """Train on ``data.train``, evaluate on ``data.test``, write every output file.

    Writes ``metrics.json``, ``history.csv``, ``config.json``, ``model.pt`` and
    ``ranks.csv`` under ``out_dir`` and returns the metrics dict.
    """
    from ._provenance import training_provenance
    from ._utils import check_writable_dir, staged_outputs

    out_dir = check_writable_dir(out_dir)
    with staged_outputs(out_dir) as stage:  # all files committed together at the end
        return _run_training(data, config, stage, targets, progress, training_provenance)


def _run_training(data, config, out_dir, targets, progress, training_provenance):
    import torch

    from .evaluate import evaluate, public_metrics, ranks_table

    targets = targets or data.meta.get("targets") or data.test.meta.get("targets", "centers")
    result = fit(data.train, config, out_dir=out_dir, progress=progress)
    config = result.config  # as trained (the blur recipes add the bank's level count)
    scores = evaluate(result.model, data.test, targets=targets, seed=config.seed)
    metrics = dict(public_metrics(scores), epochs=int(len(result.history)),
                   best_epoch=int(result.best_epoch), train_seconds=float(result.train_seconds),
                   model=config.model, recipe=config.recipe, seed=int(config.seed),
                   subject=data.subject, **training_provenance(config, data))
    write_json(out_dir / "metrics.json", metrics)
    write_csv(out_dir / "ranks.csv", ranks_table(scores))
    device = "cpu" if config.model == "ridge" else str(resolve_device(config.device))
    write_json(out_dir / "config.json", dict(
        config.to_dict(), eegvision_version=__version__, torch_version=torch.__version__,
        device_used=device, subject=data.subject, targets=targets,
        precision_used=result.precision,
        train_source=result.data_info["source"], data_meta=_plain(data.meta),
        test_source=str(data.test.meta.get("source", ""))))
    return metrics


def _plain(meta):
    return {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, list, type(None)))}


def concat_train(containers, names=None):
    """One training container from several subjects (averaged per subject).

    All must have the same channels and samples; condition ids are kept, so
    an image's data from every subject falls on the same side of the split.
    """
    from .data.container import EEGImageData

    names = names or [str(i) for i in range(len(containers))]
    from .data.align import align_channels

    first = containers[0]
    containers = [align_channels(c, first, reference_name=f"subject {names[0]}",
                                 fix="use one data layout for every subject.")
                  if c.n_times == first.n_times and set(c.ch_names) == set(first.ch_names)
                  else c for c in containers]
    for name, c in zip(names, containers, strict=True):
        if c.ch_names != first.ch_names or c.n_times != first.n_times:
            raise data_error(f"subject {name}", f"has {c.n_channels} channels x {c.n_times} samples"
                             f", subject {names[0]} has {first.n_channels} x {first.n_times} (or the "
                             "channel names differ).", "use one data layout for every subject.")
    parts = [c.average_repetitions() for c in containers]
    return EEGImageData(np.concatenate([p.eeg for p in parts]),
                        np.concatenate([p.features for p in parts]),
                        np.concatenate([p.concepts for p in parts]), first.ch_names, first.times,
                        first.sfreq, conditions=np.concatenate([p.conditions for p in parts]),
                        meta=dict(source=f"subjects {', '.join(names)}", averaged_per_subject=True,
                                  **{k: first.meta[k] for k in ("blur_levels",)
                                     if k in first.meta}),
                        validate=False)


def run_loso(datasets, config, out_dir, *, targets=None, progress=True):
    """Leave-one-subject-out: a fresh model per held-out subject; one row per fold.

    Parameters
    ----------
    datasets : dict of int -> SubjectData
        At least two subjects.

    Returns
    -------
    pandas.DataFrame
        Also written to ``out_dir/results.csv``.
    """
    from .data.container import SubjectData

    subjects = sorted(datasets)
    if len(subjects) < 2:
        raise ValueError("Leave-one-subject-out needs at least two subjects, e.g. --subjects 1-10.")
    rows = []
    for held in subjects:
        others = [s for s in subjects if s != held]
        train = concat_train([datasets[s].train for s in others], [str(s) for s in others])
        fold = SubjectData(held, train, datasets[held].test,
                           meta=dict(datasets[held].meta, loso=True, train_subjects=others))
        # fit() builds the model from config.seed: nothing carries over between folds
        metrics = run_training(fold, config, Path(out_dir) / f"loso-sub-{held:02d}",
                               targets=targets, progress=progress)
        rows.append(_result_row(metrics, "loso", config))
    return _write_results(out_dir, rows)


#: Provenance carried by every training row (see :func:`_provenance.training_provenance`).
PROVENANCE_COLUMNS = ("eegvision_version", "torch_version", "code_hash", "train_config_hash",
                      "data_hash", "command")


def _result_row(metrics, condition, config):
    return dict(analysis="train", subject=metrics["subject"], condition=condition,
                seed=config.seed, model=config.model, recipe=config.recipe,
                **{k: metrics[k] for k in ("top1", "top3", "top5", "n_way", "epochs",
                                           "train_seconds", "targets")},
                **{k: metrics[k] for k in PROVENANCE_COLUMNS if k in metrics})


def _write_results(out_dir, rows):
    import pandas as pd

    df = pd.DataFrame(rows)
    write_csv(Path(out_dir) / "results.csv", df)
    return df


def train_cli(args):
    """``eegvision train``: parse-level options -> training runs -> printed summary."""
    from ._utils import check_writable_dir, parse_subjects

    out = check_writable_dir(Path(args.out) if args.out else Path("eegvision-out") / "train")
    subjects = parse_subjects(args.subjects) if getattr(args, "subjects", None) else \
        [args.subject or 1]
    if args.loso and len(subjects) < 2:
        raise EEGVisionError("--loso needs at least two subjects.\n  Fix: e.g. --subjects 1-10 --loso")
    overrides = dict(seed=args.seed, device=args.device)
    if args.model is not None:
        overrides["model"] = args.model
    if args.epochs:
        overrides["epochs"] = args.epochs
    if getattr(args, "amp", None) is not None:
        overrides["amp"] = args.amp
    config = TrainConfig.from_recipe(args.recipe, **overrides)
    if config.model != "ridge":
        resolve_device(config.device)  # fail before loading any data
    from .data.builtin import resolve_root
    from .data.channels import pick
    from .data.things import load_subject

    root, _ = resolve_root(args.data_dir, subjects=subjects)
    args.targets = args.targets or ("images" if args.recipe in BLUR_RECIPES else "centers")
    channels = getattr(args, "channels", None) or RECIPE_CHANNELS.get(args.recipe)
    datasets = {s: pick(load_subject(root, s, targets=args.targets, average=True,
                                     features=getattr(args, "features", None) or (
                                         BLUR_FEATURES if args.recipe in BLUR_RECIPES else None),
                                     bank=args.recipe in BLUR_RECIPES), channels)
                for s in subjects}
    if args.loso:
        df = run_loso(datasets, config, out, targets=args.targets)
        for row in df.itertuples():
            print(f"held-out subject {row.subject}: top-1 {row.top1:.1%}, top-5 {row.top5:.1%}")
        print(f"wrote {out / 'results.csv'} and one folder per fold under {out}")
        return df
    rows = []
    for s in subjects:
        where = out if len(subjects) == 1 else out / f"sub-{s:02d}"
        m = run_training(datasets[s], config, where, targets=args.targets)
        rows.append(_result_row(m, "within-subject", config))
        print(f"subject {s}: top-1 {m['top1']:.1%}, top-3 {m['top3']:.1%}, top-5 {m['top5']:.1%} "
              f"({m['n_way']}-way, {m['targets']}; {m['epochs']} epochs, {m['train_seconds']:.0f} s)")
        print(f"wrote metrics.json, history.csv, config.json, model.pt, ranks.csv to {where}")
    df = _write_results(out, rows)
    if len(subjects) > 1:
        print(f"wrote {out / 'results.csv'}")
    return df
