"""Training: one config, one fit loop, one step for training and validation.

``fit(train, config)`` trains a contrastive EEG encoder (or the ridge
baseline) on one container and returns a :class:`FitResult`;
``run_training`` adds evaluation and writes the files of ``eegvision train``.
The modules, one concern each:

- :mod:`~eegvision.training.config`: the recipes and :class:`TrainConfig`;
- :mod:`~eegvision.training.device`: device, precision, determinism;
- :mod:`~eegvision.training.build`: a fresh model from a config;
- :mod:`~eegvision.training.steps`: the split, optimiser, step and epoch
  every loop shares;
- :mod:`~eegvision.training.loop`: :func:`fit`;
- :mod:`~eegvision.training.blur_fit`: the blur-bank loop (``ubp``, ``blur-bank``);
- :mod:`~eegvision.training.checkpoint`: ``model.pt`` written and read;
- :mod:`~eegvision.training.runs`: whole runs and leave-one-subject-out.

Importing it imports no torch (each function imports what it needs).
"""

from .build import build_model, make_encoder
from .checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from .config import (
    BLUR_FEATURES,
    BLUR_RECIPES,
    RECIPE_CHANNELS,
    RECIPES,
    FitResult,
    TrainConfig,
    resolved_train_config,
)
from .device import cpu_has_native_bf16, resolve_device
from .loop import fit
from .runs import PROVENANCE_COLUMNS, concat_train, run_loso, run_training
from .steps import run_epoch, split_rows, split_validation

__all__ = ["BLUR_FEATURES", "BLUR_RECIPES", "CHECKPOINT_FORMAT", "PROVENANCE_COLUMNS",
           "RECIPES", "RECIPE_CHANNELS", "FitResult", "TrainConfig", "build_model",
           "concat_train", "cpu_has_native_bf16", "fit", "load_checkpoint", "make_encoder",
           "resolve_device", "resolved_train_config", "run_epoch", "run_loso", "run_training",
           "save_checkpoint", "split_rows", "split_validation"]
