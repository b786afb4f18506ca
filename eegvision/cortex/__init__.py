"""Source space on the fsaverage5 template: inverse operators and cortical maps.

The template head and its forward models are in :mod:`eegvision.data.fsaverage`
(the simulator plants information on the same cortex); this package builds
the inverse (:mod:`~eegvision.cortex.inverse`), projects scalp maps and
patterns onto the cortex and summarises them by lobe
(:mod:`~eegvision.cortex.maps`). The analysis ``sources``
(:mod:`eegvision.analysis.sources`) runs it on a trained model and
``eegvision.viz.cortex`` draws the maps.
"""

from __future__ import annotations

from .._utils import lazy_attributes

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "noise_covariance": "eegvision.cortex.inverse",
    "inverse_kernel": "eegvision.cortex.inverse",
    "INVERSE_METHODS": "eegvision.cortex.inverse",
    "project_maps": "eegvision.cortex.maps",
    "project_pattern": "eegvision.cortex.maps",
    "lobe_table": "eegvision.cortex.maps",
    "peak": "eegvision.cortex.maps",
    "to_source_estimate": "eegvision.cortex.maps",
    "point_spread": "eegvision.cortex.maps",
}

__all__ = [*_LAZY]
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
