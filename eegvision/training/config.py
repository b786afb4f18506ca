"""Training settings: the recipes, :class:`TrainConfig` and what :func:`~eegvision.training.fit` returns."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field

from .._utils import _check_option, option_error
from .._values import MAX_BATCH, MAX_EPOCHS, MAX_SEED, check_bool, check_float, check_int, check_str

#: The recipe of ``TrainConfig()`` and of training settings that name none.
DEFAULT_RECIPE = "fast"
#: The recipe an analysis trains with unless it (``saliency``) or the user names another.
ANALYSIS_RECIPE = "sweep"
#: The encoder of a recipe that names none.
DEFAULT_MODEL = "nice"

#: Settings of each recipe that differ from the dataclass defaults (= 'fast').
RECIPES = {
    "fast": {},
    # the analyses' default: 'fast' in 20 epochs with a one-cycle schedule peaking at 3e-3. A
    # sweep trains one model per condition; on the built-in subject 3 this gave 80 % whole-epoch
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


def recipe_model(recipe):
    """The encoder ``recipe`` trains unless ``--model`` names another (``mlp`` for the blur
    recipes, else ``nice``)."""
    return RECIPES.get(recipe, {}).get("model", DEFAULT_MODEL)


def recipe_inputs(recipe, *, channels=None, features=None):
    """What ``recipe`` implies about its data, unless ``channels`` / ``features`` say otherwise.

    Returns
    -------
    dict
        ``channels`` (the 17 posterior ones for ``ubp`` and ``blur-bank``),
        ``features`` (the blur bank's feature set for those) and ``bank``
        (whether the image side reads a blur bank).
    """
    bank = recipe in BLUR_RECIPES
    return {"channels": channels or RECIPE_CHANNELS.get(recipe),
            "features": features or (BLUR_FEATURES if bank else None), "bank": bank}


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
        when < 1), drawn after a seeded shuffle. 0: no validation split (every
        condition is trained on, the validation loss is NaN); then
        ``patience`` must be None and ``keep`` 'last' or 'average'.
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
    recipe: str = DEFAULT_RECIPE
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
        check_str(self.model, "model")
        for name, (check, optional, bounds) in _FIELD_CHECKS.items():
            value = getattr(self, name)
            if value is None and optional:
                continue
            checked = check(value, name, **bounds)
            if check is check_int:  # a numpy or string integer is stored as a plain int
                setattr(self, name, checked)
        self.betas = _check_betas(self.betas)
        if self.val_conditions == 0 and (self.patience is not None or self.keep == "best"):
            raise option_error("val_conditions", self.val_conditions, "no validation split, so "
                               "no validation loss to stop early on (patience) or to choose "
                               "the best epoch by (keep='best').",
                               "set patience = None and keep = 'last' or 'average', or hold "
                               "out conditions (val_conditions > 0).")
        if not isinstance(self.encoder_kwargs, dict):
            raise option_error("encoder_kwargs", self.encoder_kwargs, "expected a table of "
                               f"keyword arguments, found {type(self.encoder_kwargs).__name__}.",
                               "give a table, e.g. encoder_kwargs = { depth = 2 }.")

    @classmethod
    def from_recipe(cls, recipe=DEFAULT_RECIPE, **overrides):
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
        recipe = d.pop("recipe", DEFAULT_RECIPE)
        return cls.from_recipe(recipe, **d)


#: field -> (check, None allowed, bounds): every numeric and boolean setting, checked the same
#: way whether it comes from Python, a CLI option or a recipe's ``[train]`` table.
_FIELD_CHECKS = {
    "epochs": (check_int, False, dict(low=1, high=MAX_EPOCHS)),
    "lr": (check_float, False, dict(low=0, low_open=True, high=10)),
    "weight_decay": (check_float, False, dict(low=0, high=10)),
    "warmup_epochs": (check_float, False, dict(low=0, high=MAX_EPOCHS)),
    "batch_size": (check_int, False, dict(low=2, high=MAX_BATCH)),
    # a count of conditions, or a fraction when below 1
    "val_conditions": (check_float, False, dict(low=0, high=MAX_BATCH)),
    "patience": (check_int, True, dict(low=1, high=MAX_EPOCHS)),
    "average_epochs": (check_int, False, dict(low=1, high=MAX_EPOCHS)),
    "seed": (check_int, False, dict(low=0, high=MAX_SEED)),
    "amp": (check_bool, False, {}),
    # 0.01: the loss clamps the logit scale at 100
    "temperature": (check_float, False, dict(low=0.01, high=10)),
    "nice_defects": (check_bool, False, {}),
    "average_train": (check_bool, False, {}),
    "aug_noise": (check_float, False, dict(low=0, high=100)),
    "aug_shift": (check_int, False, dict(low=0, high=100_000)),
    "grad_clip": (check_float, True, dict(low=0, low_open=True, high=1e6)),
    "proj_dropout": (check_float, False, dict(low=0, high=0.99)),
    "dropout": (check_float, True, dict(low=0, high=0.99)),
    "soft_targets": (check_float, True, dict(low=0, low_open=True, high=1e6)),
    "soft_mix": (check_float, False, dict(low=0, high=1)),
    "freeze_temporal": (check_int, True, dict(low=0, high=MAX_EPOCHS)),
    "learn_temperature": (check_bool, False, {}),
    "blur_levels": (check_int, True, dict(low=1, high=1_000)),
}


def _check_betas(betas):
    """Adam's two betas, each in [0, 1)."""
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise option_error("betas", betas, "expected two numbers in [0, 1), e.g. [0.9, 0.999].",
                           "give betas = [0.9, 0.999].")
    return tuple(check_float(b, "betas", low=0, high=0.9999) for b in betas)


def resolved_train_config(train):
    """The full :class:`~eegvision.training.TrainConfig` dict a job's ``train`` settings give.

    ``train`` is a :class:`TrainConfig` or its settings (a dict, resolved
    with :meth:`TrainConfig.from_dict`). The recipe is applied, so a changed
    recipe value changes the result; the device is left out (where a job runs
    does not decide what it computes).
    """
    config = (train if isinstance(train, TrainConfig) else TrainConfig.from_dict(train)).to_dict()
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
