"""Time-frequency maps of the evoked response, per scalp region. No model is trained.

After NICE's draw_pic/time_frequency.py (a spectrogram of the training EEG
averaged over repetitions and image conditions, then over a region's
channels): here the evoked response (the mean over all conditions of the
repetition-averaged training epochs, per channel) is decomposed with Morlet
wavelets (:func:`mne.time_frequency.tfr_array_morlet`, mirror-padded so
1-s epochs do not ring at their edges) and the power is averaged over the
region's channels. The table is long-form (``subject, region, freq_hz,
time_ms, power, power_db``); ``results.csv`` has one row per subject and
region with the band powers in dB; the summary compares each region's band
power with all channels' (paired t across subjects, FDR, d_z).

``--model`` and ``--epochs`` are not used (nothing is fitted); more than
one seed is an error.
"""

from __future__ import annotations

import sys

import numpy as np

from ..data.montage import channel_regions
from .spec import AnalysisSpec, Option

NAME = "timefreq"
REFERENCE = "all"
SEEDLESS = True  # nothing is fitted: more than one seed is an error
#: Bands summarised per region (Hz), those below 0.45 x sfreq.
BANDS = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0),
         "beta": (13.0, 30.0), "gamma": (30.0, 45.0), "high-gamma": (55.0, 95.0)}


def _freqs(options, sfreq):
    spec = options.get("freqs")
    if spec is None:
        top = min(100.0, 0.4 * sfreq)
        return np.arange(2.0, top + 1e-9, 1.0 if top <= 50 else 2.0)
    if isinstance(spec, str):
        lo, hi, step = (float(x) for x in spec.split(":"))
        return np.arange(lo, hi + 1e-9, step)
    return np.asarray(spec, float)


def conditions(options, ref):
    """All channels, then every region present in the layout (or ``regions``)."""
    split = options.get("split", "train")
    if split not in ("train", "test"):
        raise ValueError(f"timefreq: split {split!r}; choose train or test.")
    freqs = _freqs(options, ref.sfreq)
    if freqs.min() <= 0 or freqs.max() >= ref.sfreq / 2:
        raise ValueError(f"timefreq: freqs must lie in (0, {ref.sfreq / 2:g}) Hz (Nyquist).")
    n_cycles = options.get("n_cycles", "freqs/2")
    present = channel_regions(ref.ch_names)
    regions = options.get("regions") or [r for r, chs in present.items() if chs]
    unknown = [r for r in regions if not present.get(r)]
    if unknown:
        raise ValueError(f"timefreq: no channels of region(s) {unknown} in this layout.")
    common = {"split": split, "freqs": [float(f) for f in freqs], "n_cycles": n_cycles,
              "decim": int(options.get("decim") or max(1, int(ref.sfreq // 125)))}
    return [(REFERENCE, {"region": REFERENCE, **common})] + \
        [(r, {"region": r, **common}) for r in regions]


def _cycles(spec, freqs):
    if spec == "freqs/2":  # half a cycle per Hz: 1 cycle at 2 Hz, 7 from 14 Hz
        return np.clip(freqs / 2.0, 1.0, 7.0)
    return float(spec)


def evoked_power(container, freqs, n_cycles, decim=1):
    """Morlet power of the evoked response, ``(n_channels, n_freqs, n_times // decim)``."""
    from mne.time_frequency import tfr_array_morlet

    evoked = container.eeg.astype(np.float64).mean(axis=0)  # (n_channels, n_times)
    n = evoked.shape[-1]
    padded = np.pad(evoked, ((0, 0), (n, n)), mode="reflect")  # longest wavelets fit
    power = tfr_array_morlet(padded[None], container.sfreq, freqs, n_cycles=n_cycles,
                             output="power", verbose="error")[0]
    return power[..., n:2 * n][..., ::decim]


def derive(data, params):
    """The split's container, limited to the region's channels."""
    c = data.train if params["split"] == "train" else data.test
    if params["region"] == REFERENCE:
        return c
    return c.copy(deep=False).pick_channels(region=params["region"])


def run_condition(data, job, derived, fitted=None):
    c = derived
    freqs = np.asarray(job.params["freqs"])
    power = evoked_power(c, freqs, _cycles(job.params["n_cycles"], freqs),
                         job.params["decim"]).mean(axis=0)
    times = c.times[::job.params["decim"]]
    row = {"region": job.params["region"], "split": job.params["split"],
           "n_channels": c.n_channels, "n_trials": c.n_trials}
    db = 10 * np.log10(np.maximum(power, np.finfo(float).tiny))
    peak_f, peak_t = np.unravel_index(np.argmax(db - db.mean(axis=1, keepdims=True)), db.shape)
    row.update(peak_freq_hz=float(freqs[peak_f]), peak_time_ms=float(times[peak_t] * 1000))
    for band, (lo, hi) in BANDS.items():
        sel = (freqs >= lo) & (freqs < hi)
        if sel.any():
            row[f"{band}_db"] = float(10 * np.log10(power[sel].mean()))
    return {"row": row, "arrays": {"power": power, "freqs": freqs, "times": times}}


def postprocess(df, results, options, context):
    """The long-form table of every map: ``tfr`` (subject, region, freq_hz, time_ms, power)."""
    import pandas as pd

    parts = []
    for (_, row), res in zip(df.iterrows(), results, strict=True):
        a = res["arrays"]
        f, t = np.meshgrid(a["freqs"], a["times"] * 1000, indexing="ij")
        parts.append(pd.DataFrame({"subject": row["subject"], "region": row["region"],
                                   "freq_hz": f.ravel(), "time_ms": t.ravel(),
                                   "power": a["power"].ravel(),
                                   "power_db": 10 * np.log10(np.maximum(a["power"].ravel(),
                                                                        np.finfo(float).tiny))}))
    return {"tfr": pd.concat(parts, ignore_index=True)}


def summarize(df):
    """Per region and band: mean dB across subjects, CI, paired t vs all channels, FDR, d_z."""
    import pandas as pd

    from .stats import bootstrap_ci, fdr, paired_difference, paired_test

    rows = []
    for band in [b for b in BANDS if f"{b}_db" in df]:
        wide = df.groupby(["condition", "subject"])[f"{band}_db"].mean().unstack("subject")
        for cond in dict.fromkeys(df["condition"]):
            v = wide.loc[cond].dropna().to_numpy()
            lo, hi = bootstrap_ci(v)
            row = {"condition": cond, "band": band, "n_subjects": v.size, "mean": v.mean(), "unit": "dB",
                   "ci_low": lo, "ci_high": hi, "p_vs_reference": np.nan,
                   "diff_vs_reference": np.nan, "diff_ci_low": np.nan, "diff_ci_high": np.nan,
                   "dz_vs_reference": np.nan}
            if cond != REFERENCE and REFERENCE in wide.index:
                ref = wide.loc[REFERENCE]
                row["p_vs_reference"] = paired_test(wide.loc[cond], ref)[1]
                (row["diff_vs_reference"], row["diff_ci_low"], row["diff_ci_high"],
                 row["dz_vs_reference"]) = paired_difference(wide.loc[cond], ref)
            rows.append(row)
    out = pd.DataFrame(rows)
    out["p_vs_reference_fdr"] = fdr(out["p_vs_reference"].to_numpy())
    return out


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "timefreq", sys.modules[__name__], seedless=SEEDLESS,
    summary="Evoked time-frequency power per region (no model).",
    figure="eegvision.viz.analysis_figures:timefreq",
    options=(
        Option("split", "str", "train", "train or test set"),
        Option("freqs", "str", None, "lo:hi:step in Hz"),
        Option("n_cycles", "str", "freqs/2", "Morlet cycles"),
        Option("decim", "int", None, "decimation of the time axis", {"low": 1, "high": 100_000}),
        Option("regions", "list", None, "comma list of regions (default all five)", cli=True),
    ))
