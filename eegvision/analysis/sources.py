"""Where in the brain: the saliency maps and Haufe patterns on the fsaverage5 cortex.

One condition (``full``), as :mod:`eegvision.analysis.saliency`: train on all
data, compute the scalp map of ``method`` in time bins, then project it onto
the cortex with a minimum-norm inverse (``inverse``: sLORETA, dSPM or
eLORETA) of the template head (:mod:`eegvision.cortex`): a ridge model's
Haufe pattern as the norm over its outputs of their cortical maps, the
signed maps of the torch methods (gradient, Grad-CAM, occlusion) linearly.
The noise covariance comes from the pre-stimulus samples when the data have
them, else from the test repetitions' residuals
(:func:`eegvision.cortex.inverse.noise_covariance`).

Tables: ``sources_lobes`` (each subject's map per lobe and bin, ranked; the
row's ``top_lobe`` is the first in the bin where the map peaks),
``sources_scalp`` (the scalp map per scalp region, ranked, alongside) and
``sources_peaks`` (each subject's peak vertex). Arrays: ``cortex_mean``
(sources x bins, averaged over subjects) and, with five subjects or more and
signed maps, ``cortex_p``: the max-statistic sign-flip test across subjects,
corrected over sources and bins. Each subject's map and the mean are also
written as ``SourceEstimate`` files (``sub-XX-stc.h5``, ``mean-stc.h5``).

What a 63-channel template inverse resolves (its point-spread, in mm) is in
``docs/sources.md``: read a cortical peak as a centimetre-scale region.
"""

from __future__ import annotations

import sys

import numpy as np

from .._utils import _check_option
from ._base import fit_and_score
from .saliency import DEFAULTS as SALIENCY_DEFAULTS
from .saliency import MAP_OPTIONS, METHODS, compute_saliency, haufe_pattern, time_bins
from .spec import PERMUTATIONS, AnalysisSpec, Option

NAME = "sources"
REFERENCE = None
RECIPE = "fast"
NEEDS = ("test_repetitions",)
#: Inverse methods (:data:`eegvision.cortex.inverse.INVERSE_METHODS`) and the default.
INVERSES = ("sLORETA", "dSPM", "eLORETA")
DEFAULTS = {**SALIENCY_DEFAULTS, "inverse": "sLORETA", "inverse_snr": 3.0}
#: Subjects needed for the test across subjects (the smallest sign-flip p is 2 ** -n).
MIN_SUBJECTS = 5


def conditions(options, ref):
    """One condition, ``full``, with the binning, map and inverse options."""
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if k in DEFAULTS and v is not None}}
    _check_option("--method", opts["method"], METHODS)
    if opts["method"] == "attention":
        raise ValueError("--method attention maps have no sign and one value per channel: "
                         "use gradient, gradcam, occlusion or haufe for cortical maps.")
    _check_option("--inverse", opts["inverse"], INVERSES)
    time_bins(ref.times, ref.sfreq, opts["bin_ms"], opts["tmin_ms"], opts["tmax_ms"])
    params = {k: (None if opts[k] is None else float(opts[k]))
              for k in ("bin_ms", "tmin_ms", "tmax_ms", "inverse_snr")}
    params.update(method=str(opts["method"]), inverse=str(opts["inverse"]),
                  n_permutations=int(opts["n_permutations"]))
    return [("full", params)]


def derive(data, params):
    """The data unchanged: the maps are of the full-data model."""
    return data


def run_condition(data, job, derived, fitted=None):
    """Fit and score, compute the scalp map, project it onto the cortex."""
    from ..cortex.inverse import inverse_kernel, noise_covariance
    from ..cortex.maps import lobe_table, peak, project_maps, project_pattern

    row, result = fit_and_score(derived, job, fitted)
    p = job.params
    maps = compute_saliency(result.model, derived.test, train=derived.train, method=p["method"],
                            bin_ms=p["bin_ms"], tmin_ms=p["tmin_ms"], tmax_ms=p["tmax_ms"])
    cov, cov_source = noise_covariance(data)
    kernel, meta = inverse_kernel(derived.test.ch_names, cov, method=p["inverse"],
                                  snr=p["inverse_snr"])
    edges = maps["bin_edges_ms"]
    if maps["method"] == "haufe":
        values = project_pattern(kernel, haufe_pattern(result.model, derived.train),
                                 derived.train.times, edges)
    else:
        values = project_maps(kernel, maps["cam"])
    vertex, b = peak(values)
    lobes = lobe_table(values, bin_edges_ms=edges)
    row.update(method=maps["method"], inverse=p["inverse"], noise_cov=cov_source,
               n_bins=len(edges) - 1, bin_ms=p["bin_ms"], **_peak_row(vertex, b, edges),
               top_lobe=lobes.query(f"bin == '{b}' and rank == 1")["lobe"].iloc[0],
               n_moved_inward=meta["moved"]["n_moved"])
    return {"row": row, "arrays": {"cortex": values.astype(np.float32), "scalp": maps["cam"],
                                   "bin_edges_ms": edges}}


def _peak_row(vertex, b, edges):
    from ..cortex.maps import vertex_info

    return {f"peak_{k}": v for k, v in vertex_info(vertex).items()} | {
        "peak_bin_start_ms": float(edges[b])}


# ------------------------------------------------------------------ tables
def scalp_region_table(scalp, ch_names, bin_edges_ms):
    """The scalp map per scalp region (mean ``|value|``) and bin, ranked: the scalp's view."""
    import pandas as pd

    from ..data.montage import channel_region

    regions = np.array([channel_region(c) or "other" for c in ch_names])
    mag = np.abs(np.atleast_2d(scalp))
    rows = []
    for b in range(mag.shape[0] + 1):
        col = mag.mean(0) if b == mag.shape[0] else mag[b]
        lo, hi = ((bin_edges_ms[0], bin_edges_ms[-1]) if b == mag.shape[0]
                  else (bin_edges_ms[b], bin_edges_ms[b + 1]))
        for region in dict.fromkeys(regions):
            rows.append({"bin": "all" if b == mag.shape[0] else str(b), "bin_start_ms": lo,
                         "bin_stop_ms": hi, "region": region,
                         "mean": float(col[regions == region].mean())})
    table = pd.DataFrame(rows)
    table["rank"] = table.groupby("bin")["mean"].rank(ascending=False, method="min").astype(int)
    return table


def sign_flip_test(maps, n_permutations=1000, seed=0):
    """Max-statistic sign-flip test of maps ``(n_subjects, ...)`` against zero.

    The t value across subjects at each source and bin is compared with the
    distribution of the largest ``|t|`` over all sources and bins under
    random sign flips of whole subject maps (family-wise corrected).
    Returns p-values of the maps' shape (without the subject axis).
    """
    maps = np.asarray(maps, np.float64)
    n = len(maps)
    rng = np.random.default_rng(seed)
    observed = np.abs(_t(maps))
    exceed = np.ones(observed.shape)
    for _ in range(int(n_permutations)):
        signs = rng.choice([-1.0, 1.0], n).reshape(-1, *[1] * (maps.ndim - 1))
        exceed += np.abs(_t(maps * signs)).max() >= observed
    return exceed / (int(n_permutations) + 1)


def _t(maps):
    sd = maps.std(0, ddof=1)
    return maps.mean(0) / np.where(sd > 0, sd, np.inf) * np.sqrt(len(maps))


def postprocess(df, results, options, context):
    """Lobe, scalp-region and peak tables; the mean map, its test and SourceEstimates."""
    import pandas as pd

    from ..cortex.maps import lobe_table, to_source_estimate

    lobes, scalp, maps, subjects, estimates = [], [], [], [], {}
    names = {}
    for (_, row), res in zip(df.iterrows(), results, strict=True):
        arrays = res.get("arrays") or {}
        if "cortex" not in arrays:
            continue
        subject, seed = int(row["subject"]), int(row["seed"])
        edges = np.asarray(arrays["bin_edges_ms"], float)
        if subject not in names:
            names[subject] = context["data"](subject).test.ch_names
        values = np.asarray(arrays["cortex"], np.float64)
        lobes.append(lobe_table(values, bin_edges_ms=edges).assign(subject=subject, seed=seed))
        scalp.append(scalp_region_table(arrays["scalp"], names[subject], edges)
                     .assign(subject=subject, seed=seed))
        maps.append(values)
        subjects.append(subject)
        estimates[f"sub-{subject:02d}-seed-{seed}"] = to_source_estimate(values, edges)
    if not maps:
        return {}
    per_subject = np.stack([np.mean([m for m, s in zip(maps, subjects, strict=True) if s == u],
                                    axis=0) for u in sorted(set(subjects))])
    out = {"sources_lobes": pd.concat(lobes, ignore_index=True),
           "sources_scalp": pd.concat(scalp, ignore_index=True),
           "cortex_mean": per_subject.mean(0), "cortex_bin_edges_ms": edges,
           "source_estimates": {**estimates, "mean": to_source_estimate(per_subject.mean(0),
                                                                        edges)}}
    signed = set(df["method"]) != {"haufe"}
    if signed and len(per_subject) >= MIN_SUBJECTS:
        out["cortex_p"] = sign_flip_test(per_subject, options.get("n_permutations") or 1000)
    return out


SPEC = AnalysisSpec(
    "sources", sys.modules[__name__], recipe=RECIPE,
    summary="Where in the brain: saliency maps and patterns on the fsaverage cortex.",
    figure="eegvision.viz.cortex:sources_figure",
    options=(
        *MAP_OPTIONS,
        Option("n_permutations", "int", DEFAULTS["n_permutations"], "sign flips of the "
               "max-statistic test across subjects (5 or more)", PERMUTATIONS, cli=True),
        Option("inverse", "str", DEFAULTS["inverse"], "minimum-norm inverse of the template "
               "head", cli=True, choices=INVERSES),
        Option("inverse_snr", "float", DEFAULTS["inverse_snr"], "assumed SNR of the maps: "
               "lambda2 = 1 / snr^2", {"low": 0, "low_open": True, "high": 1e3}, cli=True),
    ))
