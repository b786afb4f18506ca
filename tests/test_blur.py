"""Blur priors: UBP's level choice, the simulated blur bank, the ubp and blur-bank recipes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from eegvision.cli import main  # noqa: E402
from eegvision.models.blur import BlurBankProjector, UBPBlurState, ubp_levels  # noqa: E402


def test_ubp_state_blurs_by_agreement():
    state = UBPBlurState(50, n_levels=6)
    idx = torch.arange(50)
    assert state.level(idx).tolist() == [ubp_levels(6)[1]] * 50  # everyone starts at medium
    diag = torch.zeros(50)
    diag[3], diag[7] = 20.0, -20.0  # far above / below the batch's 95 % interval
    state.update(idx, diag)
    levels = state.level(idx)
    assert levels[3] == 2 and levels[7] == 4  # one level less / more blur than the middle
    assert (levels[[i for i in range(50) if i not in (3, 7)]] == 3).all()
    with pytest.raises(ValueError, match="at least 3 levels"):
        ubp_levels(2)
    assert state.counts() == {"low": 1, "medium": 48, "high": 1}
    assert torch.isclose(state.sim[0], torch.tensor(0.7, dtype=torch.float64))  # 0.3 * 0 + 0.7 * 1


def test_bank_projector_weights_levels():
    torch.manual_seed(0)
    proj = BlurBankProjector(3, 4, hidden=8, dropout=0.0).eval()
    w = proj.level_weights()
    assert w.shape == (3, 4) and torch.allclose(w.sum(0), torch.ones(4))
    x = torch.randn(5, 12)
    with torch.no_grad():
        proj.level_logits.copy_(torch.tensor([[50.0] * 4, [0.0] * 4, [0.0] * 4]))
    assert torch.allclose(proj(x), proj.adapter(x[:, :4]), atol=1e-5)  # all weight on level 0


def test_simulated_blur_bank(tmp_path):
    from eegvision.data.simulate import blur_bank, coarse_basis, simulate_root

    root = simulate_root(tmp_path, 1, n_train=40, n_test=10, n_train_reps=2, n_test_reps=2,
                         layouts=("official",), eeg_detail=0.25, blur_levels=4)
    folder = root / "dnn_feature" / "blur"
    train = np.load(folder / "clip_feature_maps_training.npy")
    bank = np.load(folder / "blur_bank_training.npy")
    assert bank.shape == (40, 4, train.shape[1])
    assert np.allclose(bank[:, 0], train, atol=1e-5)  # level 0 is sharp
    mean, basis = coarse_basis(train)
    fine = bank[:, -1] - mean - (bank[:, -1] - mean) @ basis.T @ basis
    assert np.abs(fine).max() < 1e-4  # the last level is the coarse part only
    assert np.allclose(blur_bank(train, mean, basis, 4), bank, atol=1e-5)
    truth = json.loads((root / "simulation_truth.json").read_text())
    assert truth["eeg_detail"] == 0.25 and truth["blur_bank"]["n_levels"] == 4


@pytest.fixture(scope="module")
def blur_root(tmp_path_factory):
    from eegvision.data.simulate import simulate_root

    return simulate_root(tmp_path_factory.mktemp("blur_root"), 1, seed=1, n_train=120,
                         n_test=20, n_train_reps=2, n_test_reps=2, eeg_detail=0.2,
                         blur_levels=4, snr=1.0)


@pytest.mark.parametrize("recipe", ["ubp", "blur-bank"])
def test_recipe_end_to_end(blur_root, tmp_path, recipe):
    out = tmp_path / recipe
    assert main(["train", "--data-dir", str(blur_root), "--recipe", recipe, "--epochs", "4",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    hist = pd.read_csv(out / "history.csv")
    assert metrics["targets"] == "images" and metrics["n_way"] == 20
    assert cfg["model"] == "mlp" and cfg["blur_levels"] == 4
    assert cfg["data_meta"]["channels"].split(",")[0] == "P7"  # the 17 posterior channels
    # the epoch kept is the one with the lowest loss on held-out training concepts
    assert metrics["best_epoch"] == int(hist.loc[hist["val_loss"].idxmin(), "epoch"])
    if recipe == "ubp":
        counts = hist[["blur_low", "blur_medium", "blur_high"]].sum(axis=1)
        assert (counts == 120).all()  # every pair; the held-out ones stay medium
    else:
        assert hist["logit_scale"].eq(1.0).all()  # fixed scale, as the 2026 code
    # the checkpoint scores the same again through `evaluate`, and on concept centres too
    assert main(["evaluate", str(out / "model.pt"), "--data-dir", str(blur_root),
                 "--targets", "images", "--out", str(tmp_path / "ev")]) == 0
    again = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert again["top1"] == metrics["top1"]
    assert main(["evaluate", str(out / "model.pt"), "--data-dir", str(blur_root),
                 "--targets", "centers", "--out", str(tmp_path / "evc")]) == 0


def test_blur_recipe_without_bank_is_a_clear_error(tiny_root, tmp_path, capsys):
    assert main(["train", "--data-dir", str(tiny_root), "--recipe", "ubp", "--epochs", "1",
                 "--out", str(tmp_path)]) == 2
    assert "no feature set 'blur'" in capsys.readouterr().err


def test_analysis_with_a_blur_recipe(blur_root, tmp_path):
    from eegvision._commands.data import describe_root
    from eegvision.pipeline import analyze

    df = analyze("temporal", 1, data_dir=blur_root, out=tmp_path / "t", recipe="ubp", epochs=1,
                 windows="0-300", plot=False, progress=False, timecourse=False)
    assert set(df["model"]) == {"mlp"} and set(df["n_channels"]) == {17}
    cfg = json.loads((tmp_path / "t" / "config.json").read_text())
    assert (cfg["features"], cfg["channels"]) == ("blur", "posterior17")
    assert "Feature sets (--features): blur" in describe_root(blur_root)


def test_blur_loop_refuses_settings_it_does_not_use(blur_root):
    from eegvision.data.things import load_subject
    from eegvision.training import TrainConfig, fit

    data = load_subject(blur_root, 1, targets="images", features="blur", bank=True)
    with pytest.raises(ValueError, match="does not use aug_noise=0.1"):
        fit(data.train, TrainConfig.from_recipe("ubp", aug_noise=0.1, epochs=1), progress=False)
    plain = load_subject(blur_root, 1, targets="images")
    with pytest.raises(ValueError, match="needs a blur bank"):
        fit(plain.train, TrainConfig.from_recipe("blur-bank", epochs=1), progress=False)
