"""Training: one config, one epoch loop, one step for training and validation.

``fit(train, config)`` trains a contrastive EEG encoder (or the ridge
baseline) on one container and returns a :class:`FitResult`;
``run_training`` adds evaluation and writes the files of ``eegvision train``.
Every torch fit, alone, in a sweep (:func:`eegvision.sweep.fit_many`) or with
a blur prior, runs on the one epoch loop (:func:`train_runs`). The modules,
one concern each:

- :mod:`~eegvision.training.config`: the recipes and :class:`TrainConfig`;
- :mod:`~eegvision.training.device`: device, precision, determinism;
- :mod:`~eegvision.training.build`: a fresh model from a config;
- :mod:`~eegvision.training.steps`: the split, optimiser, step and epoch
  every recipe shares, and :class:`EpochSteps`, the hook a recipe plugs in;
- :mod:`~eegvision.training.loop`: the one epoch loop (:class:`Run`,
  :func:`train_runs`) and :func:`fit`;
- :mod:`~eegvision.training.blur_fit`: the blur-bank recipes' epoch (``ubp``, ``blur-bank``);
- :mod:`~eegvision.training.checkpoint`: ``model.pt`` written and read;
- :mod:`~eegvision.training.runs`: whole runs and leave-one-subject-out.

Importing it imports no torch (each function imports what it needs).
"""

from .._utils import lazy_attributes

#: public name -> module that defines it (imported on first access: importing the
#: package runs none of its modules, so no module depends on its siblings through it)
_LAZY = {
    "build_model": "eegvision.training.build",
    "make_encoder": "eegvision.training.build",
    "CHECKPOINT_FORMAT": "eegvision.training.checkpoint",
    "load_checkpoint": "eegvision.training.checkpoint",
    "save_checkpoint": "eegvision.training.checkpoint",
    "BLUR_FEATURES": "eegvision.training.config",
    "BLUR_RECIPES": "eegvision.training.config",
    "RECIPE_CHANNELS": "eegvision.training.config",
    "RECIPES": "eegvision.training.config",
    "FitResult": "eegvision.training.config",
    "TrainConfig": "eegvision.training.config",
    "resolved_train_config": "eegvision.training.config",
    "cpu_has_native_bf16": "eegvision.training.device",
    "resolve_device": "eegvision.training.device",
    "Run": "eegvision.training.loop",
    "fit": "eegvision.training.loop",
    "start_run": "eegvision.training.loop",
    "train_runs": "eegvision.training.loop",
    "PROVENANCE_COLUMNS": "eegvision.training.runs",
    "concat_train": "eegvision.training.runs",
    "run_loso": "eegvision.training.runs",
    "run_training": "eegvision.training.runs",
    "EpochSteps": "eegvision.training.steps",
    "prepare": "eegvision.training.steps",
    "run_epoch": "eegvision.training.steps",
    "split_rows": "eegvision.training.steps",
    "split_validation": "eegvision.training.steps",
}

__all__ = ["BLUR_FEATURES", "BLUR_RECIPES", "CHECKPOINT_FORMAT", "PROVENANCE_COLUMNS",
           "RECIPES", "RECIPE_CHANNELS", "EpochSteps", "FitResult", "Run", "TrainConfig",
           "build_model", "concat_train", "cpu_has_native_bf16", "fit", "load_checkpoint",
           "make_encoder", "prepare", "resolve_device", "resolved_train_config", "run_epoch",
           "run_loso", "run_training", "save_checkpoint", "split_rows", "split_validation",
           "start_run", "train_runs"]
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
