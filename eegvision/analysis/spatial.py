"""Where on the scalp: drop or keep one region's channels, or a searchlight, and retrain.

The regions are the NICE paper's (frontal, central, parietal, temporal,
occipital); ``drop`` deletes the region's channels, so the spatial kernel
shrinks to the remaining channels, and ``only`` keeps just them.
``searchlight`` trains one model per channel on that channel and its
neighbours in the montage (:func:`channel_neighbours`, MNE's adjacency).

Which criterion finds the source region: ``only`` (and the searchlight,
its finer version), not ``drop``. Through volume conduction every source
reaches many electrodes, so after a region is dropped its neighbours still
carry attenuated copies of its signal and the model loses little: the drop
of a region is small even when the information originates there, and
dropping a region next to the source can cost as much. A region (or
neighbourhood) alone answers the direct question, "how much does it carry",
and the source is where that is highest. ``drop`` says what is *unique* to
a region, which is a different question.
"""

from __future__ import annotations

import sys

from .._utils import data_error, logger, option_error
from ..data.montage import REGIONS, channel_region, channel_regions
from ._base import derive_both
from ._base import run_condition as _run_condition
from .spec import AnalysisSpec, Option

NAME = "spatial"
DEFAULTS = {"mode": "drop", "regions": REGIONS}
REFERENCE = "all"
#: Modes ``--mode`` takes (comma lists too); ``both`` is ``drop,only``.
MODES = ("drop", "only", "searchlight")


def parse_modes(mode):
    """``'both'`` -> ``('drop', 'only')``; ``'drop,searchlight'`` -> both of those."""
    text = mode or DEFAULTS["mode"]
    modes = []
    for m in str(text).split(","):
        m = m.strip()
        for part in (("drop", "only") if m == "both" else (m,)):
            if part not in MODES:
                raise option_error("--mode", text, "spatial takes drop, only, both or "
                                   "searchlight.", "use --mode drop (default), only, both, "
                                   "searchlight or a comma list of them")
            if part not in modes:
                modes.append(part)
    return tuple(modes)


def channel_neighbours(ch_names):
    """``{channel: [its neighbours]}`` from the montage adjacency (MNE, easycap-M1)."""
    from ._saliency_stats import channel_adjacency

    adj = channel_adjacency(ch_names).tocsr()
    return {c: [ch_names[j] for j in adj.indices[adj.indptr[i]:adj.indptr[i + 1]] if j != i]
            for i, c in enumerate(ch_names)}


def conditions(options, ref):
    """The all-channel reference plus each region (``drop`` / ``only``) or channel (searchlight)."""
    ch_names = ref.ch_names
    modes = parse_modes(options.get("mode"))
    present = channel_regions(ch_names)
    regions = options.get("regions") or DEFAULTS["regions"]
    if isinstance(regions, str):  # "occipital" or "frontal,parietal" (Python, TOML)
        regions = [r.strip() for r in regions.split(",") if r.strip()]
    unknown = sorted(set(regions) - set(REGIONS))
    if unknown:
        raise option_error("--regions", ",".join(unknown), "unknown region.",
                           f"use a comma list of {', '.join(REGIONS)}")
    _check_scalp(ref, ch_names, present, regions)
    out = [(REFERENCE, {"region": "none", "mode": "all"})]
    for m in modes:
        if m == "searchlight":
            out.extend(_searchlight_conditions(ch_names))
            continue
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


def _searchlight_conditions(ch_names):
    out = []
    for centre, near in channel_neighbours(list(ch_names)).items():
        out.append((f"searchlight-{centre}",
                    {"region": channel_region(centre) or "other", "mode": "searchlight",
                     "channel": centre, "neighbours": ",".join(near),
                     "n_neighbours": len(near)}))
    return out


def derive(data, params):
    """All channels, or the data without / with only ``params['region']``, or one searchlight."""
    if params["mode"] == "all":
        return data
    if params["mode"] == "drop":
        return derive_both(data, lambda d: d.drop_channels(region=params["region"]))
    if params["mode"] == "searchlight":
        names = [params["channel"], *filter(None, params["neighbours"].split(","))]
        return derive_both(data, lambda d: d.pick_channels(names))
    return derive_both(data, lambda d: d.pick_channels(region=params["region"]))


def run_condition(data, job, derived, fitted=None):

    return _run_condition(data, job, derived, fitted)


def searchlight_table(df):
    """Mean top-1 / top-5 per searchlight centre channel (over subjects and seeds)."""
    sl = df[df["mode"] == "searchlight"] if "mode" in df else df.iloc[:0]
    cols = [c for c in ("top1", "top5") if c in sl]
    return (sl.groupby(["channel", "region"], sort=False)[cols].mean().reset_index()
            if len(sl) else None)


def postprocess(df, results, options, context):
    """Table ``searchlight`` (one row per centre channel) when the searchlight ran."""
    table = searchlight_table(df)
    return {} if table is None else {"searchlight": table}


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "spatial", sys.modules[__name__],
    summary="Which scalp regions carry the information: drop or keep each region.",
    figure="eegvision.viz.analysis_figures:spatial",
    options=(
        Option("mode", "str", DEFAULTS["mode"], "drop|only|both|searchlight", cli=True),
        Option("regions", "list", None, "comma list of regions (default all five)", cli=True),
    ))
