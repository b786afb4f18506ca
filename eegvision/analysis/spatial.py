"""Where on the scalp: drop or keep one region's channels and retrain.

The regions are the NICE paper's (frontal, central, parietal, temporal,
occipital); ``drop`` deletes the region's channels, so the spatial kernel
shrinks to the remaining channels, and ``only`` keeps just them.
"""

from __future__ import annotations

from .._utils import data_error, logger, option_error
from ..data.montage import REGIONS, channel_region, channel_regions
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
            raise option_error("--mode", m, "spatial takes drop, only or both.",
                               "use --mode drop (default), only or both")
    present = channel_regions(ch_names)
    regions = options.get("regions") or DEFAULTS["regions"]
    unknown = sorted(set(regions) - set(REGIONS))
    if unknown:
        raise option_error("--regions", ",".join(unknown), "unknown region.",
                           f"use a comma list of {', '.join(REGIONS)}")
    _check_scalp(ref, ch_names, present, regions)
    out = [(REFERENCE, {"region": "none", "mode": "all"})]
    for m in modes:
        for region in regions:
            if not present.get(region):
                continue  # e.g. no frontal channels in the 17-channel layout
            if m == "drop" and len(present[region]) == len(ch_names):
                continue
            out.append((f"{m}-{region}", {"region": region, "mode": m}))
    return out


def _check_scalp(ref, ch_names, present, regions):
    """Refuse data on which the analysis would only run its all-channel reference."""
    src = ref.meta.get("source", "data")
    if len(ch_names) < 2:
        raise data_error(src, f"{len(ch_names)} channel: there is no region to drop or keep.",
                         "spatial analysis needs several channels (THINGS-EEG2: 63 or 17).")
    placed = [c for c in ch_names if channel_region(c) is not None]
    if not any(present.get(r) for r in regions):
        raise data_error(src, f"none of the {len(ch_names)} channels ({', '.join(ch_names[:6])}"
                         f"{', ...' if len(ch_names) > 6 else ''}) lies in the regions "
                         f"{', '.join(regions)} (no 10-10 name): only the all-channel reference "
                         "would run.", "name the channels by the 10-10 system (e.g. Oz, Pz, "
                         "C3), or choose --regions that the channels cover.")
    missing = [c for c in ch_names if c not in placed]
    if missing:
        logger.warning("spatial: channels %s have no 10-10 region; they stay in every "
                       "condition.", ", ".join(missing))


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
