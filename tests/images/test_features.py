"""`eegvision features` on the real code path: a tiny random CLIP model and real JPEG files."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from eegvision.cli import main  # noqa: E402
from eegvision.images import extract_features, feature_set_dir, read_manifest  # noqa: E402
from eegvision.images import features as feat_mod  # noqa: E402


def _write_images(root, seed=0):
    """JPEGs laid out as the THINGS-EEG2 image set, plus a THINGS folder for the centres."""
    from PIL import Image

    from eegvision.data._pickle import load_dict_file

    meta = load_dict_file(root / "image_set" / "image_metadata.npy")
    rng = np.random.default_rng(seed)
    for split, key in (("training_images", "train"), ("test_images", "test")):
        for concept, name in zip(meta[f"{key}_img_concepts"], meta[f"{key}_img_files"],
                                 strict=True):
            path = root / "image_set" / split / str(concept) / str(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
    things = root / "things"
    for concept in meta["test_img_concepts"]:
        for i in range(2):
            path = things / str(concept)[6:] / f"other_{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)).save(path)
    return things


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    from eegvision.data.simulate import simulate_root

    root = tmp_path_factory.mktemp("image_root")
    simulate_root(root, 1, seed=0, n_train=20, n_test=10, n_train_reps=2, n_test_reps=2,
                  layouts=("official",))
    return root, _write_images(root)


def test_features_feed_train_analyze_topomap(image_root, clip_dir, tmp_path, capsys):
    root, things = image_root
    assert main(["features", "--data-dir", str(root), "--model", str(clip_dir), "--name", "tiny",
                 "--blur", "1,3", "--things-images", str(things), "--batch-size", "4",
                 "--chunk-size", "8"]) == 0
    folder = feature_set_dir(root, "tiny")
    train = np.load(folder / "clip_feature_maps_training.npy")
    bank = np.load(folder / "blur_bank_test.npy")
    assert train.shape == (20, 12) and train.dtype == np.float32
    assert bank.shape == (10, 3, 12) and np.load(folder / "center_clip.npy").shape == (10, 12)
    assert np.allclose(np.linalg.norm(train, axis=1), 1, atol=1e-5)  # image_embeds
    assert not np.allclose(bank[:, 0], bank[:, 2])  # blur changes the features
    man = read_manifest(root, "tiny")
    assert man["settings"]["model"] == str(clip_dir)
    assert man["settings"]["revision"].startswith("sha256:")
    assert man["settings"]["blur"]["sigmas_px"] == [0.0, 1.0, 3.0]
    assert man["settings"]["output"] == "image_embeds" and not (folder / ".partial").exists()
    out = tmp_path / "out"
    assert main(["train", "--data-dir", str(root), "--features", "tiny", "--model", "ridge",
                 "--out", str(out / "train")]) == 0
    cfg = json.loads((out / "train" / "config.json").read_text())
    assert cfg["data_meta"]["features"] == "tiny"
    assert main(["analyze", "temporal", "--data-dir", str(root), "--features", "tiny",
                 "--model", "ridge", "--windows", "0-300", "--out", str(out / "temporal")]) == 0
    assert json.loads((out / "temporal" / "config.json").read_text())["features"] == "tiny"
    assert main(["topomap", "--data-dir", str(root), "--features", "tiny", "--model", "ridge",
                 "--out", str(out / "topomap")]) == 0
    # a second run with the same settings is served from the finished set
    assert main(["features", "--data-dir", str(root), "--model", str(clip_dir), "--name", "tiny",
                 "--blur", "1,3", "--things-images", str(things), "--batch-size", "4",
                 "--chunk-size", "8"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_resume_computes_only_missing_chunks_same_bytes(image_root, clip_dir, monkeypatch):
    root, _ = image_root
    fresh = extract_features(root, "fresh", clip_dir, chunk_size=4, batch_size=4,
                             splits=("training",), progress=False)
    assert not fresh["cached"]
    calls = []
    real = feat_mod._encode_files

    def dying(encoder, paths, levels):
        calls.append(len(paths))
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed during the third chunk
        return real(encoder, paths, levels)

    monkeypatch.setattr(feat_mod, "_encode_files", dying)
    with pytest.raises(KeyboardInterrupt):
        extract_features(root, "resumed", clip_dir, chunk_size=4, batch_size=4,
                         splits=("training",), progress=False)
    partial = feature_set_dir(root, "resumed") / ".partial" / "training"
    assert sorted(p.name for p in partial.glob("chunk-*.npy")) == ["chunk-00000.npy",
                                                                   "chunk-00001.npy"]
    calls.clear()
    monkeypatch.setattr(feat_mod, "_encode_files", lambda *a: (calls.append(1), real(*a))[1])
    extract_features(root, "resumed", clip_dir, chunk_size=4, batch_size=4,
                     splits=("training",), progress=False)
    assert len(calls) == 3  # chunks 2, 3, 4 of 5
    a = (feature_set_dir(root, "fresh") / "clip_feature_maps_training.npy").read_bytes()
    b = (feature_set_dir(root, "resumed") / "clip_feature_maps_training.npy").read_bytes()
    assert a == b


def test_clear_errors(image_root, clip_dir, tmp_path):
    from eegvision._utils import DataError
    from eegvision.data.things import load_subject

    root, _ = image_root
    with pytest.raises(DataError, match="no feature set 'nope'"):
        load_subject(root, 1, features="nope")
    with pytest.raises(DataError, match="not a valid feature-set name"):
        feature_set_dir(root, "../up")
    with pytest.raises(DataError, match="not a local folder and not in the Hugging Face cache"):
        extract_features(root, "x", str(tmp_path / "no-such-model"), progress=False)
    extract_features(root, "clash", clip_dir, splits=("test",), progress=False)
    with pytest.raises(DataError, match="made with other settings"):
        extract_features(root, "clash", clip_dir, splits=("test",), blur_sigmas=(2,),
                         progress=False)
    victim = next((root / "image_set" / "test_images").rglob("*.jpg"))
    data = victim.read_bytes()
    victim.unlink()
    try:
        with pytest.raises(DataError, match="1 of 10 test images"):
            extract_features(root, "y", clip_dir, splits=("test",), progress=False)
    finally:
        victim.write_bytes(data)


def test_open_clip_adapter_with_a_stand_in_module(image_root, monkeypatch):
    """open_clip itself needs torchvision (not installable beside the CPU torch here)."""
    import sys
    import types

    class Visual:
        output_dim = 5

    class Net(torch.nn.Module):
        visual = Visual()

        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3 * 8 * 8, 5)

        def encode_image(self, x):
            return self.lin(x.flatten(1))

    def transform(im):
        arr = np.asarray(im.convert("RGB").resize((8, 8)), dtype=np.float32) / 255
        return torch.from_numpy(arr).permute(2, 0, 1)

    def create(arch, pretrained, device):
        assert (arch, pretrained) == ("RN50", "openai")
        torch.manual_seed(0)
        return Net(), None, transform

    fake = types.SimpleNamespace(create_model_and_transforms=create, __version__="0.0-test")
    monkeypatch.setitem(sys.modules, "open_clip", fake)
    root, _ = image_root
    man = extract_features(root, "oc", "open_clip:RN50:openai", splits=("test",), progress=False)
    feats = np.load(feature_set_dir(root, "oc") / "clip_feature_maps_test.npy")
    assert feats.shape == (10, 5) and np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    assert man["settings"]["revision"] == "open_clip 0.0-test tag openai"
