"""Which frequencies: band-pass (or band-stop) the epochs and retrain.

The filter is the NICE paper's: an 8th-order Chebyshev type II with 40 dB
stop-band attenuation, applied forward and backward (zero phase) through MNE,
in second-order sections for stability at low edges. Epochs are mirror-padded
before filtering so 1-s epochs do not ring at their edges.
"""

from __future__ import annotations

import math

from .._utils import logger, option_error
from ._base import derive_both
from ._base import run_condition as _run_condition

NAME = "spectral"
#: The NICE paper's bands (Hz).
BANDS = {"delta": (0.5, 4.0), "theta": (4.0, 7.0), "alpha": (8.0, 12.0),
         "beta": (13.0, 30.0), "gamma": (32.0, 45.0), "high-gamma": (55.0, 95.0)}
IIR_PARAMS = {"order": 8, "ftype": "cheby2", "rs": 40, "output": "sos"}
REFERENCE = "broadband"


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
        out.append((label, {"band": name, "l_freq": lo, "h_freq": hi,
                            "mode": "stop" if stop else "pass"}))
    return out


def filter_band(container, l_freq, h_freq, mode="pass"):
    """Band-pass (or band-stop) one container with the paper's Chebyshev II filter."""
    if mode == "stop":  # MNE makes a band-stop when l_freq > h_freq
        l_freq, h_freq = h_freq, l_freq
    return container.filter(l_freq, h_freq, method="iir", iir_params=dict(IIR_PARAMS), pad=True)


def derive(data, params):
    if params["band"] == REFERENCE:
        return data
    return derive_both(data, lambda d: filter_band(d, params["l_freq"], params["h_freq"],
                                                   params.get("mode", "pass")))


def run_condition(data, job):
    import sys

    return _run_condition(sys.modules[__name__], data, job)
