"""Shared parameter docs are filled in; public functions have numpydoc sections."""

from __future__ import annotations

import inspect

import pytest

import eegvision as ev
from eegvision import _docs


def _public():
    import eegvision.data.inputs as inputs
    import eegvision.decoding as decoding

    objs = {name: getattr(ev, name) for name in ev.__all__ if callable(getattr(ev, name, None))}
    objs.pop("DataError"), objs.pop("EEGVisionError")
    objs["evaluate"] = ev.evaluate.evaluate
    for module in (decoding, inputs):
        objs.update({f"{module.__name__}.{n}": o for n, o in vars(module).items()
                     if not n.startswith("_") and inspect.getmodule(o) is module
                     and (inspect.isfunction(o) or inspect.isclass(o))})
    return objs


@pytest.mark.parametrize("name", sorted(_public()))
def test_public_docstrings_are_numpydoc_and_filled(name):
    doc = inspect.getdoc(_public()[name])
    assert doc and "%(" not in doc, name
    if inspect.isclass(_public()[name]) or inspect.signature(_public()[name]).parameters:
        assert "Parameters\n----------" in doc, name


def test_fill_doc_indents_and_reports_unknown_keys():
    def f(subjects):
        """Do.

        Parameters
        ----------
        %(subjects)s
        """

    text = _docs.fill_doc(f).__doc__
    assert "        subjects : int" in text and "            ``3``" in text

    def g():
        """%(nope)s"""

    with pytest.raises(RuntimeError, match="cannot fill"):
        _docs.fill_doc(g)


def test_docs_import_no_private_module():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"(from|import)\s+eegvision(\.\w+)*\._\w+")
    pages = [*root.glob("docs/**/*.md"), *root.glob("docs/**/*.ipynb"), root / "README.md"]
    bad = [f"{p.relative_to(root)}: {m.group(0)}" for p in pages
           for m in pattern.finditer(p.read_text())]
    assert not bad, bad
