"""info, train, analyze and topomap on trees laid out as the OSF release and as NICE's, as written."""

import json

import numpy as np
import pytest

from eegvision.cli import main

from .real_layouts import write_nice_tree, write_official_tree


@pytest.fixture(scope="module")
def official_root(tmp_path_factory):
    return write_official_tree(tmp_path_factory.mktemp("osf"))


@pytest.fixture(scope="module")
def nice_root(tmp_path_factory):
    return write_nice_tree(tmp_path_factory.mktemp("nice"))


@pytest.fixture(autouse=True)
def _release_only(monkeypatch):
    """Nothing but the release: no shared concept table."""
    monkeypatch.delenv("EEGVISION_SHARED_DATA", raising=False)


@pytest.mark.parametrize("which, sub, expect", [
    ("official", "", "official (", ),
    ("official", "eeg_dataset", "official ("),
    ("nice", "", "nice ("),
])
def test_info_lists_the_layout(official_root, nice_root, capsys, which, sub, expect):
    root = (official_root if which == "official" else nice_root) / sub
    assert main(["info", "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Layouts found for subject 1: 1" in out and expect in out
    if which == "official":
        assert "17 channels, 100 Hz, 100 samples -0.200 to 0.790 s" in out
        assert "concepts: test0" in out  # names from image_set/image_metadata.npy
    else:
        assert "63 channels, 250 Hz, 50 samples 0.000 to 0.196 s" in out
        assert "float64" in out


def test_both_layouts_in_one_root_are_listed(tmp_path, capsys):
    root = write_official_tree(tmp_path / "r")
    write_nice_tree(tmp_path / "n")
    (tmp_path / "n" / "Preprocessed_data_250Hz").rename(root / "Preprocessed_data_250Hz")
    assert main(["info", "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Layouts found for subject 1: 2" in out
    assert "  nice (" in out and "  official (" in out


def test_missing_subject_names_every_layout_looked_for(official_root, capsys):
    assert main(["info", "--data-dir", str(official_root), "--subject", "7"]) == 2
    err = capsys.readouterr().err
    for name in ("nice: ", "official: ", "legacy: "):
        assert name in err
    assert "official: " + str(official_root / "eeg_dataset" / "preprocessed_data" / "sub-07") in err
    assert "legacy: " + str(official_root / "Preprocessed_data" / "sub-07") in err


@pytest.mark.parametrize("which, recipe", [("official", "fast"), ("nice", "fast")])
def test_train_runs(official_root, nice_root, tmp_path, which, recipe):
    root = official_root if which == "official" else nice_root
    assert main(["train", "--data-dir", str(root), "--epochs", "2", "--recipe", recipe,
                 "--device", "cpu", "--no-amp", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_way"] == 200 and metrics["recipe"] == recipe
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["data_meta"]["layout"] == which  # layouts are named after their writers


def test_analyze_semantic_runs_on_the_bare_release(official_root, tmp_path):
    root = official_root
    assert main(["analyze", "semantic", "--data-dir", str(root), "--model", "ridge",
                 "--n-permutations", "9", "--out", str(tmp_path)]) == 0
    groups = (tmp_path / "concepts.csv").read_text()
    assert groups.count(",animal,") == 35 and groups.count(",food,") == 47


def test_analyze_spatial_with_the_paper_recipe_from_a_toml(nice_root, tmp_path):
    """nice-paper through a TOML recipe whose [train] keys (scaled to the fixture) all apply."""
    recipe = tmp_path / "spatial.toml"
    recipe.write_text('subjects = "1"\nseeds = [0]\n[train]\nmodel = "nice"\n'
                      'recipe = "nice-paper"\nepochs = 1\nval_conditions = 0.1\n'
                      'batch_size = 64\n[options]\nmode = "drop"\nregions = ["occipital"]\n')
    out = tmp_path / "out"
    assert main(["analyze", "spatial", "--config", str(recipe), "--data-dir", str(nice_root),
                 "--device", "cpu", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"] == "nice-paper"
    assert config["train_options"] == {"val_conditions": 0.1, "batch_size": 64}
    assert (out / "results.csv").is_file()


@pytest.mark.parametrize("which", ["official", "nice"])
def test_topomap_runs(official_root, nice_root, tmp_path, which):
    root = official_root if which == "official" else nice_root
    assert main(["topomap", "--data-dir", str(root), "--epochs", "1", "--device", "cpu",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "saliency.png").is_file()


def test_float64_files_read_as_written(official_root):
    from eegvision.data.things import load_subject

    data = load_subject(official_root, 1, cache=False)
    raw = np.load(official_root / "eeg_dataset" / "preprocessed_data" / "sub-01" /
                  "preprocessed_eeg_test.npy", allow_pickle=True).item()
    assert raw["preprocessed_eeg_data"].dtype == np.float64
    np.testing.assert_allclose(data.test.eeg, raw["preprocessed_eeg_data"].mean(1), rtol=1e-5,
                               atol=1e-5)
    assert data.train.concepts[0] == "train0" and data.train.n_trials == 120


def test_nice_script_feature_folders_are_found(tmp_path):
    """nice_v0.50_*.py read features from DNN_feature_maps/... and centres from Image_set/."""
    from eegvision.data.things import find_subject_files

    root = write_nice_tree(tmp_path / "r")
    deep = root / "DNN_feature_maps" / "pca_feature_maps" / "clip" / "pretrained-True"
    deep.mkdir(parents=True)
    for name in ("clip_feature_maps_training.npy", "clip_feature_maps_test.npy"):
        (root / "dnn_feature" / name).rename(deep / name)
    (root / "dnn_feature" / "center_clip.npy").rename(root / "Image_set" / "center_clip.npy")
    files = find_subject_files(root, 1)
    assert files["train_features"] == deep / "clip_feature_maps_training.npy"
    assert files["test_features"] == root / "Image_set" / "center_clip.npy"
    assert files["metadata"] == root / "Image_set" / "image_metadata.npy"


def test_simulate_writes_the_osf_tree(tmp_path):
    from eegvision.data.simulate import simulate_root
    from eegvision.data.things import load_subject

    root = simulate_root(tmp_path / "sim", 1, seed=0, layouts=("eeg_dataset",), n_train=40, n_test=10,
                         n_train_reps=2, n_test_reps=2)
    data = load_subject(root / "eeg_dataset", 1)
    assert data.meta["layout"] == "official" and data.train.n_channels == 17  # the old name's
