"""Which frequencies: band-pass (or band-stop) the epochs and retrain.

The filter is the NICE paper's: an 8th-order Chebyshev type II with 40 dB
stop-band attenuation, applied forward and backward (zero phase) through MNE,
in second-order sections for stability at low edges. Epochs are mirror-padded
before filtering so 1-s epochs do not ring at their edges.
"""

from __future__ import annotations

from .._utils import logger
from ._base import derive_both
from ._base import run_condition as _run_condition

NAME = "spectral"
#: The NICE paper's bands (Hz).
BANDS = {"delta": (0.5, 4.0), "theta": (4.0, 7.0), "alpha": (8.0, 12.0),
         "beta": (13.0, 30.0), "gamma": (32.0, 45.0), "high-gamma": (55.0, 95.0)}
IIR_PARAMS = {"order": 8, "ftype": "cheby2", "rs": 40, "output": "sos"}
REFERENCE = "broadband"


def parse_bands(spec):
    """``"delta=0.5-4,alpha=8-12"`` -> dict; names alone pick the defaults."""
    if isinstance(spec, dict):
        return {k: tuple(map(float, v)) for k, v in spec.items()}
    out = {}
    for part in str(spec).split(","):
        part = part.strip()
        if "=" in part:
            name, rng = part.split("=", 1)
            lo, hi = (float(x) for x in rng.split("-"))
            out[name.strip()] = (lo, hi)
        elif part in BANDS:
            out[part] = BANDS[part]
        else:
            raise ValueError(f"--bands: unknown band {part!r}; use a name of {list(BANDS)} "
                             "or name=lo-hi in Hz.")
    return out


def conditions(options, ref):
    """Broadband reference plus each band whose upper edge lies below Nyquist."""
    sfreq = ref.sfreq
    bands = parse_bands(options["bands"]) if options.get("bands") else dict(BANDS)
    stop = options.get("mode") == "stop"
    cap = 0.45 * sfreq  # leave room for the transition band below Nyquist
    out = [(REFERENCE, {"band": REFERENCE, "l_freq": 0.0, "h_freq": sfreq / 2, "mode": "pass"})]
    for name, (lo, hi) in bands.items():
        if lo >= cap:
            logger.warning("Skipping band %s (%g-%g Hz): above %g Hz for sfreq %g Hz",
                           name, lo, hi, cap, sfreq)
            continue
        hi = min(hi, cap)
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
