"""The notebook path of issue 17's "Done when": own data in memory, nothing on disk.

A researcher has an ``mne.EpochsArray`` and one image feature per epoch; they
build an ``EEGImageData``, run an analysis and a scikit-learn / MNE curve on
it, and nothing is written anywhere (``out=None``).
"""

from __future__ import annotations

import builtins
import os
import tempfile

import numpy as np
import pytest

import eegvision as ev


def _epochs_and_features(n_images=40, reps=2, seed=0):
    """Epochs whose 100-200 ms samples encode each image's features linearly."""
    import mne

    rng = np.random.default_rng(seed)
    ch_names = ["O1", "Oz", "O2", "P7", "P3", "Pz", "P4", "P8", "C3", "C4"]
    sfreq, n_t = 100.0, 40  # -0.1 .. 0.29 s
    feats = rng.standard_normal((n_images, 16))
    image = np.repeat(np.arange(n_images), reps)
    X = rng.standard_normal((len(image), len(ch_names), n_t))
    X[:, :, 20:30] += 2 * (feats[image] @ rng.standard_normal((16, len(ch_names))))[:, :, None]
    info = mne.create_info(ch_names, sfreq, "eeg")
    events = np.column_stack([np.arange(len(image)) * 50, np.zeros(len(image), int), image + 1])
    event_id = {f"{i + 1:05d}_image{i}": i + 1 for i in range(n_images)}
    epochs = mne.EpochsArray(X * 1e-6, info, events=events, tmin=-0.1, event_id=event_id,
                             verbose="error")
    return epochs, feats[image], image


@pytest.fixture
def no_disk_writes(monkeypatch):
    """Any attempt to create or write a file fails the test.

    One exception, MNE's own: ``SlidingEstimator.fit``/``score`` always keep
    their progress counter in a temporary memory map (``tmp_mne_prog*`` in
    the temp folder, deleted on exit), whatever ``verbose`` says.
    """
    real_open = builtins.open
    mne_progress = os.path.join(tempfile.gettempdir(), "tmp_mne_prog")

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wax+") and not str(file).startswith(mne_progress):
            raise AssertionError(f"wrote {file}")
        return real_open(file, mode, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError(f"touched the disk: {args}")

    monkeypatch.setattr(builtins, "open", guarded_open)
    for name in ("mkdir", "makedirs", "replace", "rename"):
        monkeypatch.setattr(os, name, refuse)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)


def test_notebook_in_memory_analysis_and_sliding_curve(no_disk_writes):
    from mne.decoding import SlidingEstimator, cross_val_multiscore

    epochs, features, image = _epochs_and_features()
    data = ev.EEGImageData.from_epochs(epochs, features)
    assert data.n_trials == 80 and data.n_channels == 10

    df = ev.analyze("temporal", data=data, model="ridge", windows="0-100,100-200,200-300",
                    progress=False)
    scores = df.set_index("condition")["top1"]
    assert scores["100-200ms"] > scores["0-100ms"] and scores["100-200ms"] > 0.3
    timecourse = df.attrs["extras"]["timecourse"]
    assert len(timecourse) == data.n_times and timecourse["top1"].max() > 0.3

    X, table = data.get_data(), features[::2]  # one feature row per image
    sliding = SlidingEstimator(ev.RidgeDecoder(features=table), verbose=False)
    curve = cross_val_multiscore(sliding, X, image, cv=2).mean(0)
    assert curve.shape == (data.n_times,)
    assert curve[20:30].mean() > 0.3 > curve[:10].mean()


def test_clone_works_on_both_decoders():
    from sklearn.base import clone

    for est in (ev.RidgeDecoder(), ev.ContrastiveDecoder(encoder="atm", epochs=5)):
        assert clone(est).get_params() == est.get_params()
