"""The public top level: ``import eegvision as ev`` and everything a notebook needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import eegvision as ev

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ["load_subject", "EEGImageData", "SubjectData", "TrainConfig", "fit", "evaluate",
          "analyze", "create_encoder", "list_encoders", "RidgeDecoder", "ContrastiveDecoder",
          "retrieval_scorer", "set_log_level", "use_log_level"]


def _python(code):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""}).stdout


def test_import_is_light():
    out = _python("import sys, eegvision\n"
                  "print(sorted(m for m in ('torch', 'mne', 'sklearn', 'pandas', 'scipy')"
                  " if m in sys.modules))")
    assert out.strip() == "[]"


def test_print_analyze_from_a_fresh_interpreter():
    assert "function analyze" in _python("import eegvision as ev; print(ev.analyze)")


def test_every_public_name_resolves_and_is_listed():
    for name in PUBLIC:
        assert callable(getattr(ev, name)), name
        assert name in dir(ev) and name in ev.__all__
    assert ev.analyze.__module__ == "eegvision.pipeline"  # re-exported by eegvision.analysis
    assert ev.TrainConfig.__name__ == "TrainConfig"


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ev.nope  # noqa: B018


def test_evaluate_is_the_function_before_and_after_the_submodule_loads(tiny_root):
    import eegvision.evaluate  # noqa: F401  sets the package attribute to the module

    data = ev.load_subject(tiny_root, 1)
    result = ev.fit(data.train, ev.TrainConfig(model="ridge"))
    scores = ev.evaluate(result.model, data.test)
    assert scores["top1"] == ev.evaluate.evaluate(result.model, data.test)["top1"]
