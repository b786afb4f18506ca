"""Spatial searchlight: neighbourhoods from the montage, and it finds the planted region."""

from __future__ import annotations

import pytest

from eegvision.analysis import spatial


def test_parse_modes():
    assert spatial.parse_modes("both") == ("drop", "only")
    assert spatial.parse_modes("drop,searchlight") == ("drop", "searchlight")
    assert spatial.parse_modes(None) == ("drop",)
    with pytest.raises(ValueError, match="searchlight"):
        spatial.parse_modes("sideways")


def test_neighbours_are_symmetric_and_local():
    from eegvision.data.montage import THINGS_EEG2_CHANNELS

    near = spatial.channel_neighbours(list(THINGS_EEG2_CHANNELS))
    assert all(c not in n for c, n in near.items())
    assert all(c in near[n] for c, ns in near.items() for n in ns)
    assert {"O1", "O2", "POz"} & set(near["Oz"]) and "Fp1" not in near["Oz"]
    assert 2 <= min(map(len, near.values())) and max(map(len, near.values())) <= 10


def test_searchlight_finds_the_planted_region(tmp_path):
    from eegvision.data.simulate import simulate_root
    from eegvision.pipeline import analyze

    # the 17-channel official layout (parietal + occipital, 100 Hz) keeps the 17 ridge fits fast
    root = simulate_root(tmp_path / "root", 1, seed=9, n_train=300, n_test=80, n_train_reps=2,
                         n_test_reps=4, snr=1.0, features_dir=False, layouts=("official",),
                         region="occipital", window_ms=(300, 500), band_hz=(8, 12))
    out = tmp_path / "out"
    df = analyze("spatial", [1], data_dir=root, out=out, model="ridge", mode="searchlight",
                 progress=False)
    sl = df[df["mode"] == "searchlight"]
    assert len(sl) == 17 and sl["channel"].is_unique
    assert (sl["n_channels"] == sl["n_neighbours"] + 1).all()
    score = (sl["top1"] + sl["top5"]).groupby(sl["region"]).mean()
    assert score.idxmax() == "occipital", score.to_dict()
    extras = df.attrs["extras"]
    assert set(extras["searchlight"]["channel"]) == set(sl["channel"])
    assert (out / "searchlight.csv").is_file() and (out / "spatial.png").is_file()
