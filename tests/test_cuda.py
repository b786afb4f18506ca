"""The CUDA paths on a GPU: train, autocast, the sweep engine's RNG, evaluate, features, saliency.

Every test here is marked ``cuda`` and skips where torch sees no GPU
(``tests/conftest.py`` says why); ``python benchmarks/gpu_check.py`` runs
them on a GPU machine, and ``tests/test_gpu_check.py`` checks in CI that they
skip for that reason. Results on the GPU are compared with the same model on
the CPU where the two must agree (inference, saliency, image features); a
GPU fit is compared with the sweep engine's fit of the same model on the GPU.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eegvision import training as T  # noqa: E402
from eegvision.cli import main  # noqa: E402
from eegvision.evaluate import embed, evaluate  # noqa: E402

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def root63(tmp_path_factory):
    """A simulated root at THINGS-EEG2's 63 channels x 250 samples, 60/20 conditions."""
    from eegvision.data.simulate import simulate_root

    root = tmp_path_factory.mktemp("root63")
    simulate_root(root, 1, seed=0, n_train=60, n_test=20, n_train_reps=2, n_test_reps=2)
    return root


@pytest.fixture(scope="module")
def subject(root63):
    from eegvision.data.things import load_subject

    return load_subject(root63, 1)


@pytest.fixture
def deterministic_cudnn(monkeypatch):
    """cuDNN's deterministic kernels, so two runs of the same fit can be compared closely."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)


@pytest.fixture
def exact_float32():
    """No TF32 (cuDNN convolutions use it by default): the GPU's float32 compared with the CPU's."""
    saved = torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision()
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    yield
    torch.backends.cudnn.allow_tf32 = saved[0]
    torch.set_float32_matmul_precision(saved[1])


class _CountingScaler(torch.amp.GradScaler):
    """A GradScaler that counts its instances and its ``update`` calls."""

    made, updates = 0, 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        type(self).made += 1

    def update(self, *args, **kwargs):
        type(self).updates += 1
        return super().update(*args, **kwargs)


@pytest.fixture
def scaler_spy(monkeypatch):
    _CountingScaler.made = _CountingScaler.updates = 0
    monkeypatch.setattr(torch.amp, "GradScaler", _CountingScaler)
    return _CountingScaler


def _config(**kw):
    return T.TrainConfig.from_recipe("fast", **{**dict(epochs=2, device="cuda", seed=0), **kw})


def _n_steps(train, config):
    """Training steps per epoch of ``fit`` on ``train``."""
    rows, _ = T.split_rows(train.average_repetitions(), config.val_conditions, config.seed)
    return sum(1 for s in range(0, len(rows), config.batch_size)
               if min(config.batch_size, len(rows) - s) >= 2)


def test_train_and_evaluate_cli_on_cuda(root63, tmp_path):
    out = tmp_path / "train"
    assert main(["train", "--data-dir", str(root63), "--device", "cuda", "--epochs", "2",
                 "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["device_used"].startswith("cuda")
    assert config["precision_used"] in ("bfloat16-mixed", "float16-mixed")  # fast: amp on
    top1 = json.loads((out / "metrics.json").read_text())["top1"]
    again = tmp_path / "evaluate"
    assert main(["evaluate", str(out / "model.pt"), "--data-dir", str(root63), "--device",
                 "cuda", "--out", str(again)]) == 0
    assert json.loads((again / "metrics.json").read_text())["top1"] == pytest.approx(top1)


def test_float32_fit_keeps_model_and_data_on_the_gpu(subject):
    result = T.fit(subject.train, _config(amp=False), progress=False)
    assert result.precision == "float32"
    assert {p.device.type for p in result.model.parameters()} == {"cuda"}
    assert np.isfinite(result.history[["train_loss", "val_loss"]].to_numpy()).all()
    assert 0 <= evaluate(result.model, subject.test)["top1"] <= 1


def test_bf16_autocast_trains_without_a_scaler(subject, scaler_spy):
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16: the fp16 test covers its autocast")
    result = T.fit(subject.train, _config(amp=True), progress=False)
    assert result.precision == "bfloat16-mixed"
    assert scaler_spy.made == 0  # bf16 has float32's range: no loss scaling
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}
    assert np.isfinite(result.history[["train_loss", "val_loss"]].to_numpy()).all()


def test_fp16_autocast_steps_through_a_gradscaler(subject, scaler_spy, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    config = _config(amp=True)
    result = T.fit(subject.train, config, progress=False)
    assert result.precision == "float16-mixed"
    assert scaler_spy.made == 1
    assert scaler_spy.updates == config.epochs * _n_steps(subject.train, config)
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}  # master weights
    assert np.isfinite(result.history[["train_loss", "val_loss"]].to_numpy()).all()


def test_sweep_engine_on_cuda_equals_lone_fits_and_keeps_the_callers_rng(subject,
                                                                        deterministic_cudnn):
    from eegvision import sweep

    def window(lo, hi):
        return subject.train.copy(deep=False).mask_time(lo, hi, include_tmax=False)

    trains = [subject.train, window(0.1, 0.2), window(0.3, 0.4), subject.train]
    # float32: the engine's RNG handling does not depend on the precision, and float32 keeps
    # the comparison tight (a wrong dropout mask moves the losses by about 1e-2)
    configs = [T.TrainConfig.from_recipe("sweep", epochs=2, device="cuda", seed=s, amp=False)
               for s in (0, 0, 0, 1)]
    torch.manual_seed(123)
    cuda_before, cpu_before = torch.cuda.get_rng_state(), torch.get_rng_state()
    batched = sweep.fit_many(trains, configs, progress=False)
    # the caller's global streams, on the CPU and on the GPU, are untouched
    assert torch.equal(torch.cuda.get_rng_state(), cuda_before)
    assert torch.equal(torch.get_rng_state(), cpu_before)
    cols = ["train_loss", "val_loss", "val_top1", "logit_scale"]
    for train, config, got in zip(trains, configs, batched, strict=True):
        alone = T.fit(train, config, progress=False)
        # the same dropout masks and batches: only float rounding may differ
        np.testing.assert_allclose(got.history[cols].to_numpy(), alone.history[cols].to_numpy(),
                                   rtol=1e-4, atol=1e-5)
        for key, value in alone.model.state_dict().items():
            np.testing.assert_allclose(got.model.state_dict()[key].float().cpu().numpy(),
                                       value.float().cpu().numpy(), rtol=1e-3, atol=1e-5,
                                       err_msg=key)
    # not vacuous: another seed (other dropout masks and batches) trains another model
    assert not np.allclose(batched[0].history.train_loss, batched[3].history.train_loss)


def test_evaluate_on_cuda_matches_the_model_on_the_cpu(subject, exact_float32):
    result = T.fit(subject.train, _config(amp=False, epochs=1), progress=False)
    test = subject.test.average_repetitions()
    gpu = embed(result.model, test.eeg, test.features)
    cpu = embed(copy.deepcopy(result.model).cpu(), test.eeg, test.features)
    for g, c in zip(gpu, cpu, strict=True):
        np.testing.assert_allclose(g, c, rtol=1e-3, atol=1e-4)


def test_features_on_cuda_match_the_cpu(tmp_path, monkeypatch, exact_float32):
    pytest.importorskip("transformers")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from gpu_check import _image_root  # the check's random CLIP and JPEG image set

    from eegvision.images import feature_set_dir

    root, clip = _image_root(tmp_path, 20, 10, tiny=True)
    for device in ("cuda", "cpu"):
        assert main(["features", "--data-dir", str(root), "--model", str(clip), "--name", device,
                     "--device", device, "--batch-size", "8"]) == 0
    for name in ("clip_feature_maps_training.npy", "clip_feature_maps_test.npy"):
        gpu = np.load(feature_set_dir(root, "cuda") / name)
        cpu = np.load(feature_set_dir(root, "cpu") / name)
        assert gpu.shape == cpu.shape and gpu.dtype == np.float32
        np.testing.assert_allclose(gpu, cpu, atol=2e-4)


@pytest.mark.parametrize("method", ["gradient", "gradcam", "attention", "occlusion"])
def test_saliency_on_cuda_matches_the_model_on_the_cpu(subject, method, exact_float32):
    from eegvision.analysis.saliency import compute_saliency

    result = T.fit(subject.train, _config(model="nice-sa", amp=False, epochs=1), progress=False)
    gpu = compute_saliency(result.model, subject.test, method=method)
    cpu = compute_saliency(copy.deepcopy(result.model).cpu(), subject.test, method=method)
    assert {p.device.type for p in result.model.parameters()} == {"cuda"}  # left where it was
    for key in ("cam", "eeg_x_cam", "cam_time"):
        scale = np.abs(cpu[key]).max()
        assert scale > 0, key
        assert np.abs(gpu[key] - cpu[key]).max() <= 2e-3 * scale, key


def test_topomap_cli_on_cuda(root63, tmp_path):
    import pandas as pd

    out = tmp_path / "topomap"
    assert main(["topomap", "--data-dir", str(root63), "--device", "cuda", "--epochs", "1",
                 "--n-permutations", "50", "--no-noise-ceiling", "--out", str(out)]) == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 1 and results["top1"].between(0, 1).all()
    assert json.loads((out / "config.json").read_text())["device"] == "cuda"


@pytest.mark.parametrize("recipe", ["ubp", "blur-bank"])
def test_blur_recipes_train_on_cuda(tmp_path, recipe):
    from eegvision.data.simulate import simulate_root

    root = simulate_root(tmp_path / "root", 1, seed=1, n_train=60, n_test=20, n_train_reps=2,
                         n_test_reps=2, blur_levels=3)
    out = tmp_path / recipe
    assert main(["train", "--data-dir", str(root), "--recipe", recipe, "--device", "cuda",
                 "--epochs", "2", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["device_used"].startswith("cuda") and config["blur_levels"] == 3
    assert 0 <= json.loads((out / "metrics.json").read_text())["top1"] <= 1


def test_sklearn_estimator_on_cuda(subject):
    from eegvision.decoding import ContrastiveDecoder

    train = subject.train.average_repetitions()
    test = subject.test.average_repetitions()
    est = ContrastiveDecoder("nice", epochs=1, device="cuda", progress=False)
    est.fit(train.eeg, train.features)
    assert next(est.model_.parameters()).device.type == "cuda"
    emb = est.transform(test.eeg)
    assert emb.shape == (test.n_trials, test.n_features) and np.isfinite(emb).all()
    assert 0 <= est.score(test.eeg, test.features) <= 1
