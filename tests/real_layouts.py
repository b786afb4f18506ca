"""Fixture trees with the structure of the real THINGS-EEG2 files, written as the public codes do.

``write_official_tree``: the OSF release as gifale95/eeg_encoding writes it
(``np.save`` of float64 dicts under ``eeg_dataset/preprocessed_data/sub-XX/``,
17 occipital/parietal channels, -0.2 to 0.79 s at 100 Hz; ``image_set/`` and
``dnn_feature/`` beside ``eeg_dataset/``). ``write_nice_tree``: NICE's tree
(``pickle.dump`` protocol 4 under ``Preprocessed_data_250Hz/sub-XX/``, 63
channels in NICE's order, ``times`` uncropped while the data hold the samples
from 0 s; ``Image_set/``). Shapes are scaled down (fewer training images,
repetitions and samples); everything else - keys, dtypes, nesting, the
(N, 1, D) feature layout NICE squeezes - is as in the real files. The EEG
carries a planted image signal so training has something to find.
"""

from __future__ import annotations

import pickle

import numpy as np

from eegvision.data.montage import OFFICIAL_17_CHANNELS, THINGS_EEG2_CHANNELS

N_TRAIN_CONCEPTS, IMAGES_PER_CONCEPT, N_TEST, D = 12, 10, 200, 16


def _metadata(rng):
    train_concepts = [f"{i + 1:05d}_train{i}" for i in range(N_TRAIN_CONCEPTS)]
    test_concepts = [f"{i + 1:05d}_test{i}" for i in range(N_TEST)]
    return {
        "train_img_files": [f"train{c}_{j:02d}b.jpg" for c in range(N_TRAIN_CONCEPTS)
                            for j in range(1, IMAGES_PER_CONCEPT + 1)],
        "train_img_concepts": [c for c in train_concepts for _ in range(IMAGES_PER_CONCEPT)],
        "train_img_concepts_THINGS": [f"{10 * i + 3:04d}_train{i}" for i in
                                      range(N_TRAIN_CONCEPTS) for _ in range(IMAGES_PER_CONCEPT)],
        "test_img_files": [f"test{i}_01s.jpg" for i in range(N_TEST)],
        "test_img_concepts": test_concepts,
        "test_img_concepts_THINGS": [f"{7 * i + 1:04d}_test{i}" for i in range(N_TEST)],
    }


def _eeg(features, n_reps, n_ch, n_t, rng):
    """float64 (conditions, reps, channels, times): a fixed projection of the features + noise."""
    w = np.random.default_rng(7).normal(size=(features.shape[1], n_ch * n_t)) / 4
    signal = (features @ w).reshape(len(features), 1, n_ch, n_t)
    return signal + rng.normal(size=(len(features), n_reps, n_ch, n_t))


def _features(rng):
    n_train = N_TRAIN_CONCEPTS * IMAGES_PER_CONCEPT
    train = rng.normal(size=(n_train, 1, D)).astype(np.float32)  # (N, 1, D) as NICE's files
    test_images = rng.normal(size=(N_TEST, 1, D)).astype(np.float32)
    centers = (test_images[:, 0] + 0.3 * rng.normal(size=(N_TEST, D))).astype(np.float32)
    return train, test_images, centers


def _write_features(folder, train, test_images, centers):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "clip_feature_maps_training.npy", train)
    np.save(folder / "clip_feature_maps_test.npy", test_images)
    np.save(folder / "center_clip.npy", centers)


def write_official_tree(root, subject=1, seed=0):
    """The OSF release layout; returns ``root`` (the folder holding ``eeg_dataset/``)."""
    rng = np.random.default_rng(seed)
    train_f, test_f, centers = _features(rng)
    times = np.round(np.arange(100) / 100 - 0.2, 10)  # epochs.times of -0.2..0.8 s at 100 Hz
    sub = root / "eeg_dataset" / "preprocessed_data" / f"sub-{subject:02d}"
    sub.mkdir(parents=True)
    for split, feats, n_reps in (("training", train_f[:, 0], 4), ("test", centers, 4)):
        data = {"preprocessed_eeg_data": _eeg(feats, n_reps, 17, 100, rng),
                "ch_names": list(OFFICIAL_17_CHANNELS), "times": times}
        np.save(sub / f"preprocessed_eeg_{split}.npy", data)
    (root / "image_set").mkdir()
    np.save(root / "image_set" / "image_metadata.npy", _metadata(rng))
    _write_features(root / "dnn_feature", train_f, test_f, centers)
    return root


def write_nice_tree(root, subject=1, seed=1, n_times=50):
    """NICE's layout (pickles, 63 channels, uncropped times); returns ``root``."""
    rng = np.random.default_rng(seed)
    train_f, test_f, centers = _features(rng)
    times = np.arange(n_times + 50) / 250 - 0.2  # epochs.times before [50:] cropped the data
    sub = root / "Preprocessed_data_250Hz" / f"sub-{subject:02d}"
    sub.mkdir(parents=True)
    for split, feats, n_reps in (("training", train_f[:, 0], 4), ("test", centers, 2)):
        data = {"preprocessed_eeg_data": _eeg(feats, n_reps, 63, n_times, rng),
                "ch_names": list(THINGS_EEG2_CHANNELS), "times": times}
        with open(sub / f"preprocessed_eeg_{split}.npy", "wb") as fh:
            pickle.dump(data, fh, protocol=4)
    (root / "Image_set").mkdir()
    np.save(root / "Image_set" / "image_metadata.npy", _metadata(rng))
    _write_features(root / "dnn_feature", train_f, test_f, centers)
    return root
