"""``eegvision sources`` (and ``topomap --space source``): parse, call, print."""

from __future__ import annotations

from pathlib import Path


def sources_cli(args):
    """Body of ``eegvision sources``: the analysis ``sources``, then where each map peaks."""
    from .analysis import analyze_cli

    args.analysis = "sources"
    analyze_cli(args)
    out = Path(args.out or Path("eegvision-out") / "sources")
    _print_peaks(out)


def _print_peaks(out):
    import pandas as pd

    df = pd.read_csv(out / "results.csv")
    for _, row in df.iterrows():
        print(f"sub-{int(row['subject']):02d} seed {int(row['seed'])}: {row['method']} map, "
              f"{row['inverse']}; peak {row['peak_hemi']} {row['peak_lobe']} "
              f"({row['peak_x_mm']:g}, {row['peak_y_mm']:g}, {row['peak_z_mm']:g}) mm "
              f"at {row['peak_bin_start_ms']:g} ms; top lobe {row['top_lobe']}")
    print(f"cortical maps -> {out / 'sources.png'} (+ .pdf), SourceEstimates "
          f"-> {out}/*-stc.h5 (mne.read_source_estimate)")
