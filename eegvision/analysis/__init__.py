"""The analyses: one module per question, each declaring one spec; one entry point for all.

The registry of specs is :mod:`eegvision.analysis.spec`; orchestration
(:func:`analyze`, :func:`build_jobs`, :func:`read_recipe_file`) lives in
:mod:`eegvision.pipeline` and result folders (:func:`write_outputs`,
:func:`load_results`) in :mod:`eegvision.outputs`; both are re-exported here.

>>> from eegvision.analysis import analyze
>>> df = analyze("temporal", subjects=[1], model="ridge")  # doctest: +SKIP

Each returns a tidy DataFrame (one row per subject x condition x seed) and,
with ``out``, writes ``results.csv``, ``summary.csv``, ``config.json`` and a
figure (PNG + PDF).
"""

from __future__ import annotations

from .spec import AnalysisSpec, Option, get_spec, register, unregister  # noqa: F401  (the API)
from .spec import names as analysis_names  # noqa: F401

#: The built-in analyses (:func:`analysis_names` adds those registered later).
ANALYSES = ("temporal", "spatial", "spectral", "semantic", "saliency",
            "repetitions", "datasize", "loso", "timefreq", "topk", "generalization")


def _register_builtins():
    """Import each built-in analysis module: each registers its ``SPEC``, in this order."""
    import importlib

    for name in (*ANALYSES, "ceiling"):
        importlib.import_module(f"{__name__}.{name}")


_register_builtins()


def get_module(name):
    """The hooks of analysis ``name`` (its module, for the built-in ones)."""
    return get_spec(name).hooks


# the orchestration and the result folders, re-exported: ``from eegvision.analysis import analyze``
from ..outputs import load_results, write_outputs, write_preview  # noqa: E402, F401
from ..pipeline import (  # noqa: E402, F401
    analyze,
    build_jobs,
    ceiling_jobs,
    check_analysis_options,
    check_model_name,
    check_seeds,
    check_train_options,
    module_needs,
    read_recipe_file,
    uses_bank,
    with_inputs,
)
from ._base import summarize_results  # noqa: E402, F401
