"""How hard is the simulated dataset? A ridge decoder's 200-way zero-shot retrieval.

Generates the default simulated root (``eegvision.data.simulate.simulate_root``),
then per subject fits sklearn ``RidgeCV`` from flattened, repetition-averaged
EEG (0-1 s, all channels) to the CLIP features, and ranks the test concept
centres by cosine similarity. The default SNR is tuned so top-1 lands at
roughly 5-30 % (chance 0.5 %).

Usage::

    python benchmarks/bench_simulator_ridge.py [--subjects 2] [--snr 0.05] [--out DIR]
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np


def load_split(root, subject, split):
    """Repetition-averaged EEG (n, ch * t) of one split, float64."""
    path = Path(root) / "Preprocessed_data_250Hz" / f"sub-{subject:02d}" / f"preprocessed_eeg_{split}.npy"
    with open(path, "rb") as fh:
        eeg = pickle.load(fh)["preprocessed_eeg_data"]
    return eeg.mean(1).reshape(len(eeg), -1).astype(np.float64)


def ridge_topk(root, subject, ks=(1, 5)):
    """Top-k accuracy of a RidgeCV decoder on one simulated subject."""
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    feats = Path(root) / "dnn_feature"
    y_train = np.load(feats / "clip_feature_maps_training.npy")[:, 0]
    centres = np.load(feats / "center_clip.npy")[:, 0]
    x_train, x_test = load_split(root, subject, "training"), load_split(root, subject, "test")
    scaler = StandardScaler().fit(x_train)
    model = RidgeCV(alphas=np.logspace(1, 6, 11)).fit(scaler.transform(x_train), y_train)
    pred = model.predict(scaler.transform(x_test))
    sim = _unit(pred) @ _unit(centres).T
    rank = (sim > sim[np.arange(len(sim)), np.arange(len(sim))][:, None]).sum(1)
    return {f"top{k}": float((rank < k).mean()) for k in ks}, float(model.alpha_)


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main(argv=None):
    from eegvision.data.simulate import DEFAULT_SNR, simulate_root

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snr", type=float, default=DEFAULT_SNR)
    p.add_argument("--out", default=None, help="data root (default: a temporary folder)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        t0 = time.perf_counter()
        simulate_root(root, args.subjects, seed=args.seed, snr=args.snr)
        gen = time.perf_counter() - t0
        print(f"generated {args.subjects} subject(s), snr={args.snr:g}, seed={args.seed}: "
              f"{gen:.1f} s ({gen / args.subjects:.1f} s per subject)")
        for sub in range(1, args.subjects + 1):
            t0 = time.perf_counter()
            acc, alpha = ridge_topk(root, sub)
            print(f"sub-{sub:02d}: top-1 {100 * acc['top1']:.1f} %  top-5 {100 * acc['top5']:.1f} %  "
                  f"(chance 0.5 % / 2.5 %; alpha {alpha:.3g}; ridge {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
