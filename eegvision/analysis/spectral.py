"""Which frequencies: band-pass (or band-stop) the epochs and retrain.

The filter is the NICE paper's: an 8th-order Chebyshev type II with 40 dB
stop-band attenuation, applied forward and backward (zero phase). Option
``filter`` (a condition parameter, so it keys the cache):

- ``'cheby2'`` (default): through MNE, in second-order sections for stability
  at low edges, epochs mirror-padded so 1-s epochs do not ring at their edges.
  A Chebyshev II's edges are where the stop band *begins* (the attenuation
  first reaches 40 dB): the pass band is narrower than the band's name. At
  250 Hz the zero-phase -3 dB pass band of delta 0.5-4 Hz is 0.60-3.36 Hz,
  theta 4-7: 4.24-6.60, alpha 8-12: 8.35-11.50, beta 13-30: 14.18-27.66,
  gamma 32-45: 33.22-43.50, high gamma 55-95: 59.34-91.88 (see
  :func:`passband`).
- ``'passband'``: the same filter with its stop-band edges moved outwards
  (:func:`passband_design`) until the zero-phase -3 dB pass band is the
  named band.
- ``'nice-code'``: exactly the public script (nice_v0.50_frequency.py):
  ``scipy.signal.cheby2(8, 40, [lo, hi] / nyquist, btype='band')`` as
  ``(b, a)`` polynomials and ``filtfilt`` with its default odd padding, on
  the averaged epochs. At 250 Hz these polynomials are unstable for delta,
  theta and alpha (poles outside the unit circle: the output grows without
  bound, to about 1e38 for delta on unit-variance noise); such a band is
  refused with that explanation rather than trained on numerical garbage.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from .._utils import _check_option, logger, option_error
from ._base import derive_both
from ._base import run_condition as _run_condition
from .spec import AnalysisSpec, Option

NAME = "spectral"
#: The NICE paper's bands (Hz).
BANDS = {"delta": (0.5, 4.0), "theta": (4.0, 7.0), "alpha": (8.0, 12.0),
         "beta": (13.0, 30.0), "gamma": (32.0, 45.0), "high-gamma": (55.0, 95.0)}
IIR_PARAMS = {"order": 8, "ftype": "cheby2", "rs": 40, "output": "sos"}
REFERENCE = "broadband"
#: Filter variants (module docstring).
FILTERS = ("cheby2", "passband", "nice-code")


def _sos(lo, hi, sfreq, btype="bandpass"):
    from scipy import signal

    return signal.cheby2(IIR_PARAMS["order"], IIR_PARAMS["rs"], [lo, hi], btype=btype,
                         fs=sfreq, output="sos")


def passband(lo, hi, sfreq, db=-3.0):
    """Edges (Hz) where the zero-phase response of the Chebyshev II on ``[lo, hi]`` is ``db``."""
    from scipy import signal

    w, h = signal.sosfreqz(_sos(lo, hi, sfreq), worN=1 << 16, fs=sfreq)
    gain = 20 * np.log10(np.maximum(np.abs(h) ** 2, 1e-300))  # forward + backward
    inside = w[gain >= db]
    return float(inside.min()), float(inside.max())


def passband_design(lo, hi, sfreq, n_iter=60):
    """Stop-band edges whose zero-phase -3 dB pass band is ``[lo, hi]``.

    Returns
    -------
    (float, float)
        The edges to give the Chebyshev II design; raises ValueError when
        the upper one would pass Nyquist.
    """
    s_lo, s_hi = float(lo), float(hi)
    for _ in range(n_iter):  # fixed point: scale each edge by how far its -3 dB point missed
        p_lo, p_hi = passband(s_lo, s_hi, sfreq)
        s_lo, s_hi = s_lo * lo / p_lo, s_hi * hi / p_hi
        if not 0 < s_lo < s_hi < sfreq / 2:
            raise ValueError(f"no Chebyshev II of order 8 passes {lo:g}-{hi:g} Hz at "
                             f"{sfreq:g} Hz (its stop band would reach Nyquist).")
        if abs(p_lo - lo) < 1e-3 * lo and abs(p_hi - hi) < 1e-3 * hi:
            break
    return s_lo, s_hi


def nice_code_filter(x, lo, hi, sfreq):
    """The public script's filter: ``(b, a)`` Chebyshev II and ``filtfilt`` along time."""
    from scipy import signal

    nyq = 0.5 * sfreq
    b, a = signal.cheby2(IIR_PARAMS["order"], IIR_PARAMS["rs"], [lo / nyq, hi / nyq],
                         btype="band")
    radius = float(np.abs(np.roots(a)).max())
    if radius >= 1:
        raise ValueError(f"spectral filter 'nice-code': cheby2(8, 40, [{lo:g}, {hi:g}] Hz) at "
                         f"{sfreq:g} Hz as (b, a) polynomials is unstable (largest pole radius "
                         f"{radius:.3f} > 1), so filtfilt's output grows without bound. Use "
                         "filter 'cheby2' (second-order sections) for this band.")
    return signal.filtfilt(b, a, np.asarray(x, dtype=np.float64), axis=-1)


_BAND_FIX = ("give names of " + ", ".join(BANDS) + " or name=lo-hi in Hz with 0 < lo < hi, "
             "e.g. --bands alpha,beta or --bands mu=8-13,theta=4-7")


def _band_edges(part, rng):
    try:
        lo, hi = (float(x) for x in rng.split("-"))
    except ValueError:
        raise option_error("--bands", part, "cannot read the band edges.", _BAND_FIX) from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise option_error("--bands", part, "band edges must be finite numbers.", _BAND_FIX)
    if not 0 < lo < hi:
        raise option_error("--bands", part, f"the band runs from {lo:g} to {hi:g} Hz; it "
                           "needs 0 < low edge < high edge (a band-stop is --mode stop, not "
                           "reversed edges).", _BAND_FIX)
    return lo, hi


def parse_bands(spec):
    """``"delta=0.5-4,alpha=8-12"`` -> dict; names alone pick the defaults.

    Every band needs ``0 < lo < hi`` (Hz) and a name of its own: reversed edges
    would make MNE build a band-stop that is then recorded as a pass band.

    Raises
    ------
    OptionError
        Naming ``--bands``, the offending part and the fix.
    """
    if isinstance(spec, dict):
        items = [(str(k), f"{k}={'-'.join(map(str, v))}") for k, v in spec.items()]
    else:
        items = [(None, part.strip()) for part in str(spec).split(",")]
    out = {}
    for _, part in items:
        if not part:
            raise option_error("--bands", spec, "an empty band (a stray comma?).", _BAND_FIX)
        if "=" in part:
            name, rng = (x.strip() for x in part.split("=", 1))
            if not name:
                raise option_error("--bands", part, "the band has no name.", _BAND_FIX)
            edges = _band_edges(part, rng)
        elif part in BANDS:
            name, edges = part, BANDS[part]
        else:
            raise option_error("--bands", part, "unknown band.", _BAND_FIX)
        if name in out or name == REFERENCE:
            raise option_error("--bands", part, f"the band name {name!r} is "
                               f"{'the reference' if name == REFERENCE else 'given twice'}.",
                               _BAND_FIX)
        out[name] = edges
    return out


def conditions(options, ref):
    """Broadband reference plus each band whose upper edge lies below Nyquist."""
    sfreq = ref.sfreq
    bands = parse_bands(options["bands"]) if options.get("bands") else dict(BANDS)
    if options.get("mode") not in (None, "pass", "stop"):
        raise option_error("--mode", options["mode"], "spectral takes pass or stop.",
                           "use --mode pass (keep the band) or --mode stop (remove it).")
    stop = options.get("mode") == "stop"
    kind = options.get("filter") or "cheby2"
    _check_option("filter", kind, FILTERS)
    if stop and kind != "cheby2":
        raise option_error("--mode", "stop", f"filter {kind!r} is a band-pass.",
                           "use filter 'cheby2' with --mode stop")
    cap = 0.45 * sfreq  # leave room for the transition band below Nyquist
    out = [(REFERENCE, {"band": REFERENCE, "l_freq": 0.0, "h_freq": sfreq / 2, "mode": "pass"})]
    for name, (lo, hi) in bands.items():
        if lo >= cap:
            logger.warning("Skipping band %s (%g-%g Hz): above %g Hz for sfreq %g Hz",
                           name, lo, hi, cap, sfreq)
            continue
        if hi > cap:
            logger.warning("Band %s: upper edge %g Hz lowered to %g Hz (0.45 x sfreq %g Hz).",
                           name, hi, cap, sfreq)
            hi = cap
        label = f"no-{name}" if stop else name
        params = {"band": name, "l_freq": lo, "h_freq": hi, "mode": "stop" if stop else "pass"}
        if kind != "cheby2":  # the default keeps its old cache keys
            params["filter"] = kind
        if kind == "nice-code":
            nice_code_filter(np.zeros((1, 64)), lo, hi, sfreq)  # unstable bands fail up front
        out.append((label, params))
    return out


def filter_band(container, l_freq, h_freq, mode="pass", kind="cheby2"):
    """Band-pass (or band-stop) one container with the paper's Chebyshev II filter.

    ``kind`` is one of :data:`FILTERS` (see the module docstring).
    """
    _check_option("filter", kind, FILTERS)
    if kind == "nice-code":
        eeg = nice_code_filter(container.eeg, l_freq, h_freq, container.sfreq)
        return container._replace(eeg=eeg.astype(container.eeg.dtype))
    if kind == "passband":
        l_freq, h_freq = passband_design(l_freq, h_freq, container.sfreq)
    if mode == "stop":  # MNE makes a band-stop when l_freq > h_freq
        l_freq, h_freq = h_freq, l_freq
    # on a copy: the container's methods work in place (MNE's convention)
    return container.copy(deep=False).filter(l_freq, h_freq, method="iir",
                                             iir_params=dict(IIR_PARAMS), pad=True)


def derive(data, params):
    if params["band"] == REFERENCE:
        return data
    return derive_both(data, lambda d: filter_band(d, params["l_freq"], params["h_freq"],
                                                   params.get("mode", "pass"),
                                                   params.get("filter", "cheby2")))


def run_condition(data, job, derived, fitted=None):

    return _run_condition(data, job, derived, fitted)


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "spectral", sys.modules[__name__],
    summary="Which frequency bands carry the information: one model per band-passed copy.",
    figure="eegvision.viz.analysis_figures:spectral",
    options=(
        Option("mode", "str", "pass", "pass|stop: keep or remove each band", cli=True),
        Option("bands", "str", None, "delta,theta or name=lo-hi,... (Hz)", cli=True),
        Option("filter", "str", "cheby2", "the band filter"),
    ))
