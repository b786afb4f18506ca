"""The package's one NaN check and its one checkpoint shape check."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eegvision._checkpoint_checks import check_weight_shapes  # noqa: E402
from eegvision._utils import DataError, EEGVisionError, check_finite  # noqa: E402


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_counts_and_names_the_values(bad):
    arr = np.zeros((3, 4), np.float32)
    assert check_finite(arr, "f.npy", "values") is arr
    arr[1, 2] = arr[2, 0] = bad
    with pytest.raises(DataError, match=r"f\.npy: 2 NaN or infinite EEG values: why\.\n  Fix: x"):
        check_finite(arr, "f.npy", "EEG values", "x", why=": why")
    with pytest.raises(DataError, match="^f.npy: custom$"):
        check_finite(arr, "f.npy", "EEG values", problem="custom")


def test_check_finite_reads_tensors_of_any_float_dtype():
    t = torch.zeros(5, dtype=torch.bfloat16)
    check_finite(t, "w", "weights")
    t[3] = float("nan")
    with pytest.raises(DataError, match="1 NaN or infinite weights"):
        check_finite(t, "w", "weights")


def test_every_reader_refuses_nan_through_the_one_check(tmp_path):
    from eegvision.data.container import EEGImageData
    from eegvision.evaluate import zero_shot_scores

    eeg = np.zeros((4, 2, 3), np.float32)
    eeg[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="1 NaN or infinite values in eeg"):
        EEGImageData(eeg, np.ones((4, 2), np.float32), list("abcd"), ["A", "B"], np.arange(3.0))
    emb = np.ones((3, 2))
    emb[1, 1] = np.inf
    with pytest.raises(DataError, match="1 NaN or infinite EEG embeddings: a diverged"):
        zero_shot_scores(emb, np.eye(3, 2))


def test_a_diverged_loss_stops_every_loop_with_one_error():
    from eegvision.training import TrainConfig
    from eegvision.training.steps import check_losses

    check_losses(3, 1.0, 2.0, TrainConfig())
    with pytest.raises(EEGVisionError, match="epoch 3: the loss is not finite"):
        check_losses(3, float("nan"), 2.0, TrainConfig())


def test_shape_check_names_missing_and_misshapen_weights():
    ckpt = {"encoder": "ridge", "state_dict": {"a": torch.zeros(2, 3), "b": torch.zeros(4)}}
    check_weight_shapes("m.pt", ckpt, {"a": (2, 3), "b": (4,)})
    with pytest.raises(DataError, match=r"mismatched: b\)"):
        check_weight_shapes("m.pt", ckpt, {"a": (2, 3), "b": (5,)})
    with pytest.raises(DataError, match=r"mismatched: b, c\)"):
        check_weight_shapes("m.pt", ckpt, {"a": (2, 3), "c": (4,)})


def _ridge_checkpoint(tmp_path):
    from eegvision.data.container import EEGImageData
    from eegvision.training import TrainConfig, fit, save_checkpoint

    rng = np.random.default_rng(0)
    data = EEGImageData(rng.normal(size=(30, 3, 4)).astype(np.float32),
                        rng.normal(size=(30, 5)).astype(np.float32), [f"c{i}" for i in range(30)],
                        ["A", "B", "C"], np.arange(4) / 100.0)
    return save_checkpoint(tmp_path / "model.pt", fit(data, TrainConfig(model="ridge"),
                                                      progress=False))


def test_ridge_checkpoints_go_through_the_shape_check(tmp_path):
    from eegvision.training import load_checkpoint

    path = _ridge_checkpoint(tmp_path)
    assert load_checkpoint(path).coef_.shape == (5, 12)
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"]["coef_"] = torch.zeros(5, 11, dtype=torch.float64)
    torch.save(ckpt, path)
    with pytest.raises(DataError, match=r"do not fit encoder 'ridge'.*mismatched: coef_"):
        load_checkpoint(path)
    del ckpt["state_dict"]["alpha_"]
    torch.save(ckpt, path)
    with pytest.raises(DataError, match="mismatched: alpha_"):
        load_checkpoint(path)
