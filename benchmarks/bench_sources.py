"""How far from a planted cortical patch does the template inverse put the peak?

For each of ten seeds a fresh simulated subject carries its image
information in a patch of about 3 cm2 of fsaverage5 cortex (12 mm radius
along the pial surface), in a lobe cycled over the seeds, projected to the
electrodes through another head than the inverse's (a sphere fitted to the
scalp instead of the electrodes, other shells and conductivities, each
electrode moved 5 mm: :func:`eegvision.data.simulate._patch_patterns`).
``eegvision.sources`` then trains ridge, projects its Haufe pattern with the
inverse (sLORETA by default) and we measure

- the localisation error: the distance (mm, pial surface) from the map's peak
  (over sources and time bins) to the nearest vertex of the patch, and to
  its centre;
- the planted lobe's rank in the cortical-region table, in the time bin
  where the map peaks (``planted_lobe_rank``; ``top_lobe`` of results.csv),
  and over the mean of all bins (``planted_lobe_rank_all_bins``).

    PYTHONPATH=$PWD python benchmarks/bench_sources.py --out bench-sources
    PYTHONPATH=$PWD python benchmarks/bench_sources.py --out bench-sources-dspm --inverse dSPM
    PYTHONPATH=$PWD python benchmarks/bench_sources.py --out bench-sources-low --snr 0.05

Writes ``results.csv`` (one row per seed) and prints it with the median and
the largest error. Not run in CI (about a minute per seed on two cores).

``--point-spread`` instead measures what the 63-channel template inverse
can resolve (the table in docs/sources.md): the point-spread function of
each inverse method at a few named places, for a unit source in the
inverse's own head and in the simulator's other head (electrodes moved 5 mm),
with white sensor noise (identity covariance, ``lambda2 = 1/9``)::

    PYTHONPATH=$PWD python benchmarks/bench_sources.py --out bench-psf --point-spread
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LOBES = ("occipital", "temporal", "parietal", "frontal")
#: One subject per seed, sizes as the CI test's but another SNR and more trials.
SIZES = dict(n_train=600, n_test=100, n_train_reps=2, n_test_reps=4, snr=0.5)


def localise(seed, lobe, work, inverse="sLORETA", snr=None):
    """Simulate one subject with a patch in ``lobe``, run ``sources``, measure the error."""
    import pandas as pd

    import eegvision as ev
    from eegvision.cortex.maps import distance_mm
    from eegvision.data.simulate import simulate_root

    sizes = {**SIZES, **({} if snr is None else {"snr": snr})}
    root = simulate_root(work / f"root-{seed}", 1, seed=seed, cortex=lobe, features_dir=False,
                         **sizes)
    truth = json.loads((root / "simulation_truth.json").read_text())["cortex"]
    out = work / f"out-{seed}"
    df = ev.sources(1, data_dir=root, model="ridge", out=out, inverse=inverse, plot=False,
                    noise_ceiling=False, progress=False)
    row = df.iloc[0]
    lobes = pd.read_csv(out / "sources_lobes.csv")
    every = lobes[lobes["bin"] == "all"]
    lobes = lobes[lobes["bin_start_ms"].eq(row["peak_bin_start_ms"]) & lobes["bin"].ne("all")]
    vertex = int(row["peak_vertex"])
    return {"seed": seed, "lobe": lobe, "hemisphere": truth["hemisphere"],
            "patch_cm2": truth["area_cm2"], "centre_mm": truth["centre_mm"],
            "peak_mm": [float(row[f"peak_{a}_mm"]) for a in "xyz"],
            "peak_lobe": row["peak_lobe"],
            "error_mm": round(distance_mm(vertex, truth["vertices"]), 1),
            "error_to_centre_mm": round(distance_mm(vertex, [truth["centre_vertex"]]), 1),
            "planted_lobe_rank": int(lobes.set_index("lobe").loc[lobe, "rank"]),
            "planted_lobe_rank_all_bins": int(every.set_index("lobe").loc[lobe, "rank"]),
            "top1": float(row["top1"])}


#: Named places (fsaverage surface RAS, mm; the nearest vertex is used).
PLACES = {
    "occipital pole (V1/V2)": (-15, -100, 0),
    "lateral occipital": (-42, -82, 2),
    "calcarine, medial": (-8, -80, 6),
    "fusiform, ventral temporal": (-38, -50, -18),
    "lateral temporal (MTG)": (-62, -30, -8),
    "inferior parietal": (-48, -58, 38),
    "precuneus, medial": (-6, -60, 42),
    "precentral (hand area)": (-38, -20, 58),
    "dorsolateral prefrontal": (-42, 30, 30),
    "orbitofrontal": (-24, 32, -16),
}


def point_spread_table():
    """Point-spread of sLORETA, dSPM and eLORETA at :data:`PLACES`, own and other head."""
    import pandas as pd

    from eegvision.cortex.inverse import (
        INVERSE_METHODS,
        inverse_kernel,
        normal_gain,
        template_forward,
    )
    from eegvision.cortex.maps import point_spread
    from eegvision.data import fsaverage
    from eegvision.data.montage import THINGS_EEG2_CHANNELS
    from eegvision.data.simulate import ELECTRODE_JITTER_MM

    cortex = fsaverage.template_cortex()
    vertices = [int(np.argmin(np.linalg.norm(cortex["mri_mm"] - np.array(xyz), axis=1)))
                for xyz in PLACES.values()]
    own = normal_gain(template_forward(THINGS_EEG2_CHANNELS)[0])[:, vertices]
    info = fsaverage.template_info(THINGS_EEG2_CHANNELS, jitter_mm=ELECTRODE_JITTER_MM, seed=0)
    other = fsaverage.forward_model(info, fsaverage.fit_sphere(to="scalp",
                                                               **fsaverage.TRUTH_SPHERE),
                                    vertices=vertices)[0]["sol"]["data"]
    frames = []
    for method in INVERSE_METHODS:
        kernel = inverse_kernel(THINGS_EEG2_CHANNELS, np.eye(63), method=method)[0]
        for head, gain in (("own", own), ("other", other)):
            frames.append(point_spread(kernel, gain, vertices).assign(
                place=list(PLACES), method=method, head=head))
    return pd.concat(frames, ignore_index=True)


def main(argv=None):
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for results.csv")
    parser.add_argument("--seeds", type=int, default=10, help="simulated subjects (default 10)")
    parser.add_argument("--inverse", default="sLORETA", choices=("sLORETA", "dSPM", "eLORETA"))
    parser.add_argument("--snr", type=float, default=None,
                        help=f"single-trial SNR of the planted signal (default {SIZES['snr']})")
    parser.add_argument("--point-spread", action="store_true",
                        help="measure the inverses' point-spread at named places instead")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.point_spread:
        table = point_spread_table()
        table.to_csv(out / "point_spread.csv", index=False)
        wide = table.pivot_table(index=["place", "lobe"], columns=["method", "head"],
                                 values=["peak_error_mm", "sd_mm", "half_max_cm2"], sort=False)
        print(wide.round(0).astype(int).to_string())
        return table
    rows, t0 = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            rows.append(localise(seed, LOBES[seed % len(LOBES)], Path(tmp), args.inverse,
                                 args.snr))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out / "results.csv", index=False)
    print(df[["seed", "lobe", "hemisphere", "patch_cm2", "peak_lobe", "error_mm",
              "error_to_centre_mm", "planted_lobe_rank", "planted_lobe_rank_all_bins", "top1"]]
          .to_string(index=False))
    print(f"\n{args.inverse}: localisation error median {df['error_mm'].median():.1f} mm, "
          f"max {df['error_mm'].max():.1f} mm (to the patch centre: median "
          f"{df['error_to_centre_mm'].median():.1f} mm); planted lobe ranked first in "
          f"{(df['planted_lobe_rank'] == 1).sum()} of {len(df)}; "
          f"{time.perf_counter() - t0:.0f} s")
    return df


if __name__ == "__main__":
    main()
