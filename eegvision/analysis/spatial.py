"""Where on the scalp: drop or keep one region's channels and retrain.

The regions are the NICE paper's (frontal, central, parietal, temporal,
occipital); ``drop`` deletes the region's channels, so the spatial kernel
shrinks to the remaining channels, and ``only`` keeps just them.
"""

from __future__ import annotations

from ..data.montage import REGIONS, channel_regions
from ._base import derive_both
from ._base import run_condition as _run_condition

NAME = "spatial"
DEFAULTS = {"mode": "drop", "regions": REGIONS}
REFERENCE = "all"


def conditions(options, ref):
    """The all-channel reference plus each non-empty region in ``drop`` / ``only`` mode."""
    ch_names = ref.ch_names
    mode = options.get("mode") or DEFAULTS["mode"]
    modes = ("drop", "only") if mode == "both" else (mode,)
    for m in modes:
        if m not in ("drop", "only"):
            raise ValueError(f"--mode {m!r}: spatial takes drop, only or both.")
    present = channel_regions(ch_names)
    regions = options.get("regions") or DEFAULTS["regions"]
    out = [(REFERENCE, {"region": "none", "mode": "all"})]
    for m in modes:
        for region in regions:
            if not present.get(region):
                continue  # e.g. no frontal channels in the 17-channel layout
            if m == "drop" and len(present[region]) == len(ch_names):
                continue
            out.append((f"{m}-{region}", {"region": region, "mode": m}))
    return out


def derive(data, params):
    """All channels, or the data without / with only ``params['region']``."""
    if params["mode"] == "all":
        return data
    if params["mode"] == "drop":
        return derive_both(data, lambda d: d.drop_channels(region=params["region"]))
    return derive_both(data, lambda d: d.pick_channels(region=params["region"]))


def run_condition(data, job):
    import sys

    return _run_condition(sys.modules[__name__], data, job)
