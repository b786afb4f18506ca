"""The analyses: one module per question, each declaring one :class:`~.spec.AnalysisSpec`.

The registry every entry point reads is :mod:`eegvision.analysis.registry`;
running an analysis is :func:`eegvision.analyze` (orchestration in
:mod:`eegvision.pipeline`, result folders in :mod:`eegvision.outputs`):

>>> import eegvision as ev
>>> df = ev.analyze("temporal", subjects=[1], model="ridge")  # doctest: +SKIP

Importing this package imports no analysis: the names below load their
module on first use (PEP 562), so ``import eegvision.analysis.spec`` (what
each analysis does) never runs the registry that imports every analysis.
"""

from __future__ import annotations

from .._utils import lazy_attributes

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "AnalysisSpec": "eegvision.analysis.spec",
    "Option": "eegvision.analysis.spec",
    "get_spec": "eegvision.analysis.registry",
    "register": "eegvision.analysis.registry",
    "unregister": "eegvision.analysis.registry",
    "names": "eegvision.analysis.registry",
    "specs": "eegvision.analysis.registry",
    "summarize_results": "eegvision.analysis._base",
}

__all__ = [*_LAZY]
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
