"""Training: config, fit, determinism, checkpoints, errors, run_training, LOSO, CLI."""

import contextlib
import json
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eegvision import training as T  # noqa: E402
from eegvision._commands import training as C  # noqa: E402
from eegvision._utils import DataError, EEGVisionError  # noqa: E402
from eegvision.data.container import EEGImageData, SubjectData  # noqa: E402
from eegvision.training import build as B  # noqa: E402
from eegvision.training import device as DEV  # noqa: E402
from eegvision.training import loop as LOOP  # noqa: E402
from eegvision.training import steps as S  # noqa: E402

N_CH, N_T, D = 8, 32, 16


REAL_MAKE_ENCODER = T.make_encoder


class TinyEncoder(torch.nn.Module):
    """Stand-in encoder: flatten + linear (same contract as the registry's)."""

    def __init__(self, n_chans, n_times, n_outputs, nan=False):
        super().__init__()
        self.lin = torch.nn.Linear(n_chans * n_times, n_outputs)
        self.nan = nan

    def forward(self, x):
        out = self.lin(x.flatten(1))
        return out * float("nan") if self.nan else out


@pytest.fixture(autouse=True)
def tiny_encoder(monkeypatch):
    def make(name, *, n_chans, n_times, n_outputs, sfreq=None, **kw):
        if name not in ("tiny", "tiny2", "tiny-nan"):
            raise ValueError(f"Unknown model name {name!r}")
        enc = TinyEncoder(n_chans, n_times, n_outputs, nan=name == "tiny-nan")
        if name == "tiny2":
            enc.extra = torch.nn.Linear(2, 2)
        return enc

    monkeypatch.setattr(B, "make_encoder", make)


def make_container(n_cond, seed, mixing_seed=99, noise=0.3, reps=1, offset=0):
    """Linearly decodable data: EEG = features @ W + noise."""
    rng = np.random.default_rng(seed)
    w = np.random.default_rng(mixing_seed).normal(size=(D, N_CH * N_T)) / np.sqrt(D)
    feats = rng.normal(size=(n_cond, D)).astype(np.float32)
    cond = np.repeat(np.arange(n_cond), reps)
    eeg = feats[cond] @ w + noise * rng.normal(size=(len(cond), N_CH * N_T))
    return EEGImageData(eeg.reshape(-1, N_CH, N_T), feats[cond],
                        [f"c{offset + c}" for c in cond], [f"E{i}" for i in range(N_CH)],
                        np.arange(N_T) / 100.0, conditions=cond + offset, meta={"source": "synthetic"})


def make_subject(subject=1, seed=0):
    return SubjectData(subject, make_container(120, seed, reps=2),
                       make_container(40, seed + 1000, offset=1000))


def cfg(**kw):
    base = dict(model="tiny", epochs=15, batch_size=32, lr=3e-3, val_conditions=20, patience=None,
                device="cpu", seed=0)
    return T.TrainConfig.from_recipe("fast", **{**base, **kw})


def test_from_recipe_and_unknown_key():
    nice = T.TrainConfig.from_recipe("nice")
    assert (nice.lr, nice.betas, nice.batch_size, nice.epochs, nice.val_conditions) == \
        (2e-4, (0.5, 0.999), 1000, 200, 740)
    assert T.TrainConfig.from_recipe("fast", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="Did you mean 'epochs'"):
        T.TrainConfig.from_recipe("fast", epoch=3)
    with pytest.raises(ValueError, match="Did you mean 'nice'"):
        T.TrainConfig.from_recipe("nicee")
    assert T.TrainConfig.from_dict(nice.to_dict()) == nice


def test_fit_learns_far_above_chance():
    data = make_subject()
    res = T.fit(data.train, cfg(), test=data.test, progress=False)
    assert list(res.history.columns[:4]) == ["epoch", "train_loss", "val_loss", "seconds"]
    assert res.history.val_loss.iloc[-1] < res.history.val_loss.iloc[0]
    from eegvision.evaluate import evaluate

    scores = evaluate(res.model, data.test)
    assert scores["n_way"] == 40
    assert scores["top1"] > 0.5  # chance is 2.5 %
    assert res.history.test_top1.max() > 0.5
    assert res.best_epoch == int(res.history.val_loss.idxmin()) + 1


def test_fit_is_deterministic():
    data = make_subject()
    h1 = T.fit(data.train, cfg(epochs=4, aug_noise=0.1), progress=False).history
    h2 = T.fit(data.train, cfg(epochs=4, aug_noise=0.1), progress=False).history
    cols = ["train_loss", "val_loss", "logit_scale"]
    np.testing.assert_array_equal(h1[cols].to_numpy(), h2[cols].to_numpy())
    h3 = T.fit(data.train, cfg(epochs=4, seed=1), progress=False).history
    assert not np.array_equal(h1.train_loss.to_numpy(), h3.train_loss.to_numpy())


def test_deterministic_mode_is_scoped_and_skips_the_nan_fill(monkeypatch):
    """Deterministic kernels inside a fit, without torch's NaN fill of new tensors (nothing
    reads memory it has not written: the NaN-filled run trains the same to the bit); the
    caller's settings come back afterwards."""
    import torch

    monkeypatch.setattr(B, "make_encoder", REAL_MAKE_ENCODER)
    fill = torch.utils.deterministic.fill_uninitialized_memory
    data = make_subject()
    seen = []
    fast = T.fit(data.train, cfg(model="nice", epochs=2, amp=False), progress=False,
                 callback=lambda *a, **k: seen.append(
                     (torch.are_deterministic_algorithms_enabled(),
                      torch.utils.deterministic.fill_uninitialized_memory)))
    assert seen and all(s == (True, False) for s in seen)
    assert torch.utils.deterministic.fill_uninitialized_memory == fill
    assert not torch.are_deterministic_algorithms_enabled()
    real = DEV.deterministic

    @contextlib.contextmanager
    def with_fill(device):
        with real(device):
            torch.utils.deterministic.fill_uninitialized_memory = True
            yield

    monkeypatch.setattr(LOOP, "deterministic", with_fill)
    filled = T.fit(data.train, cfg(model="nice", epochs=2, amp=False), progress=False)
    for a, b in zip(fast.model.state_dict().values(), filled.model.state_dict().values()):
        assert torch.equal(a, b)


def test_temperature_trained_unless_nice_defects():
    data = make_subject()
    res = T.fit(data.train, cfg(epochs=3), progress=False)
    assert float(res.model.loss.logit_scale.detach()) != pytest.approx(np.log(1 / 0.14))
    res = T.fit(data.train, cfg(epochs=3, nice_defects=True, temperature=0.07), progress=False)
    assert float(res.model.loss.logit_scale.detach()) == pytest.approx(np.log(1 / 0.07))
    x = torch.randn(3, D)
    assert torch.equal(res.model.encode_image(x), x)


@pytest.mark.parametrize("keep", ["best", "last"])
def test_early_stopping_and_kept_epoch(keep):
    data = make_subject()
    config = cfg(epochs=200, patience=2, lr=0.05, keep=keep)
    res = T.fit(data.train, config, progress=False)
    h = res.history
    assert len(h) < 200
    assert res.best_epoch == (int(h.val_loss.idxmin()) + 1 if keep == "best" else len(h))
    if keep == "best":
        assert len(h) - res.best_epoch == 2
    # the returned weights are those of that epoch: its validation loss again
    prepared = S.prepare(data.train, config)
    _, val_rows = T.split_rows(prepared, config.val_conditions, config.seed)
    x, y = (torch.as_tensor(np.ascontiguousarray(a)) for a in (prepared.eeg, prepared.features))
    ctx = dict(config=config, generator=None,
               amp_dtype=DEV._amp_dtype(torch.device("cpu"), config.amp))
    val = T.run_epoch(res.model, x, y, config.batch_size, ctx, val_rows)
    assert val == pytest.approx(h.val_loss.iloc[res.best_epoch - 1], rel=1e-5)


def test_checkpoint_round_trip_weights_only(tmp_path):
    data = make_subject()
    res = T.fit(data.train, cfg(epochs=2), out_dir=tmp_path, progress=False)
    raw = torch.load(tmp_path / "model.pt", weights_only=True)
    assert raw["encoder"] == "tiny" and raw["n_chans"] == N_CH and raw["n_times"] == N_T
    model = T.load_checkpoint(tmp_path / "model.pt")
    x = torch.as_tensor(data.test.eeg[:5])
    assert torch.allclose(model.encode_eeg(x), res.model.encode_eeg(x))
    assert (tmp_path / "history.csv").is_file()


def test_wrong_encoder_or_shape_checkpoint(tmp_path):
    data = make_subject()
    T.fit(data.train, cfg(epochs=1), out_dir=tmp_path, progress=False)
    with pytest.raises(DataError, match="encoder 'tiny', not 'nice'"):
        T.load_checkpoint(tmp_path / "model.pt", model="nice")
    with pytest.raises(DataError, match="8 channels x 32 samples"):
        T.load_checkpoint(tmp_path / "model.pt", data=data.test.copy().pick_channels(["E0", "E1"]))
    raw = torch.load(tmp_path / "model.pt", weights_only=True)
    raw["encoder"] = raw["config"]["model"] = "tiny2"
    torch.save(raw, tmp_path / "other.pt")
    with pytest.raises(DataError, match="do not fit encoder 'tiny2'"):
        T.load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="eegvision train"):
        T.load_checkpoint(tmp_path / "junk.pt")


def test_non_finite_loss_error():
    with pytest.raises(EEGVisionError, match="learning rate is too high"):
        T.fit(make_subject().train, cfg(model="tiny-nan", epochs=2), progress=False)


def test_too_few_conditions_error():
    with pytest.raises(DataError, match="too few to hold out 740"):
        T.fit(make_subject().train, T.TrainConfig.from_recipe("nice", model="tiny", device="cpu"),
              progress=False)


def test_test_feature_dim_mismatch():
    data = make_subject()
    bad = data.test.with_features(np.ones((data.test.n_trials, D + 1), np.float32))
    with pytest.raises(DataError, match="17-d but training features are 16-d"):
        T.fit(data.train, cfg(epochs=1), test=bad, progress=False)


def test_cuda_without_cuda_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(EEGVisionError, match="CUDA is not available"):
        T.resolve_device("cuda")


def test_ridge_baseline():
    data = make_subject()
    res = T.fit(data.train, cfg(model="ridge"), test=data.test, progress=False)
    assert len(res.history) == 1 and res.best_epoch == 1
    assert res.history.test_top1.iloc[0] > 0.5


def test_run_training_writes_everything(tmp_path):
    m = T.run_training(make_subject(), cfg(epochs=3), tmp_path / "out", progress=False)
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"metrics.json", "history.csv", "config.json", "model.pt", "ranks.csv"} <= files
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["top1"] == m["top1"] and saved["n_way"] == 40 and saved["epochs"] == 3
    assert {"top3", "top5", "train_seconds", "k2", "k10", "model", "subject", "targets"} <= set(saved)
    conf = json.loads((tmp_path / "out" / "config.json").read_text())
    assert conf["eegvision_version"] and conf["lr"] == 3e-3


def test_loso_folds_start_from_the_seed(tmp_path, monkeypatch):
    inits = []
    real = LOOP.build_model

    def spy(config, **kw):
        model = real(config, **kw)
        inits.append({k: v.clone() for k, v in model.state_dict().items()})
        return model

    monkeypatch.setattr(LOOP, "build_model", spy)
    datasets = {s: make_subject(s, seed=10 * s) for s in (1, 2, 3)}
    df = T.run_loso(datasets, cfg(epochs=2), tmp_path, progress=False)
    assert df.subject.tolist() == [1, 2, 3] and (tmp_path / "results.csv").is_file()
    fresh = real(cfg(epochs=2), n_chans=N_CH, n_times=N_T, n_features=D)
    assert len(inits) == 3
    for state in inits:
        for k, v in fresh.state_dict().items():
            assert torch.equal(state[k], v), k


def test_concat_train_needs_same_channels():
    a = make_container(10, 0)
    with pytest.raises(DataError, match="one data layout"):
        T.concat_train([a, a.copy().pick_channels(["E0", "E1"])], ["1", "2"])


def _args(out, **kw):
    base = dict(data_dir=None, subject=1, subjects=None, out=str(out), seed=0, epochs=1,
                model="tiny", device="cpu", recipe="fast", loso=False, targets="centers")
    return SimpleNamespace(**{**base, **kw})


def test_train_cli_unwritable_out(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a directory cannot be made under a file, even by root
    called = []
    monkeypatch.setattr("eegvision.data.builtin.resolve_root", lambda *a, **k: called.append(1))
    with pytest.raises(EEGVisionError, match="cannot write"):
        C.train_cli(_args(blocker / "out"))
    assert not called and [p.name for p in tmp_path.iterdir()] == ["a-file"]
    assert blocker.read_text() == "x"


@pytest.fixture
def fake_subjects(tmp_path, monkeypatch):
    """``train_cli`` loads synthetic subjects (``make_subject``) instead of files."""
    import sys
    import types

    fake = types.ModuleType("eegvision.data.things")
    fake.load_subject = lambda root, s, **kw: make_subject(s, seed=s)
    monkeypatch.setitem(sys.modules, "eegvision.data.things", fake)
    monkeypatch.setattr("eegvision.data.builtin.resolve_root", lambda d, **k: (tmp_path, True))


def test_train_cli_runs_on_loaded_data(tmp_path, fake_subjects, capsys):
    C.train_cli(_args(tmp_path / "o", subjects="1-2", subject=None, epochs=2))
    out = capsys.readouterr().out
    assert "subject 2: top-1" in out
    assert (tmp_path / "o" / "sub-02" / "metrics.json").is_file()
    assert len((tmp_path / "o" / "results.csv").read_text().splitlines()) == 3


def test_training_keeps_one_copy_of_the_data(tiny_encoder, monkeypatch):
    """Averaged, sorted float32 data are neither re-averaged nor split into copies."""
    data = make_subject().train.average_repetitions()
    assert np.shares_memory(data.average_repetitions().eeg, data.eeg)
    train_rows, val_rows = T.split_rows(data, 20, 0)
    tr, va = T.split_validation(data, 20, 0)
    assert np.array_equal(tr.eeg, data.eeg[train_rows]) and np.array_equal(va.eeg, data.eeg[val_rows])
    assert len(np.intersect1d(data.conditions[train_rows], data.conditions[val_rows])) == 0

    def no_subset(self, index):
        raise AssertionError("training copied the data with subset()")

    monkeypatch.setattr(EEGImageData, "subset", no_subset)
    T.fit(data, cfg(epochs=2), progress=False)


def test_cpu_bf16_flag_reader(tmp_path):
    for flags, expected in (("fpu avx512f avx512_bf16 avx512vl", True), ("fpu amx_bf16", True),
                            ("fpu avx2 avx512f avx512bw", False)):
        info = tmp_path / f"cpuinfo-{expected}-{len(flags)}"
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        assert T.cpu_has_native_bf16(str(info)) is expected
    assert T.cpu_has_native_bf16(str(tmp_path / "missing")) is False


def test_amp_dtype_on_cpu(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(DEV, "cpu_has_native_bf16", lambda: True)
    assert DEV._amp_dtype(cpu, True) == torch.bfloat16
    assert DEV._amp_dtype(cpu, False) is None
    monkeypatch.setattr(DEV, "cpu_has_native_bf16", lambda: False)
    assert DEV._amp_dtype(cpu, True) is None


@pytest.mark.parametrize("amp", [True, False])
def test_fit_trains_under_cpu_autocast_only_with_amp(amp, monkeypatch):
    monkeypatch.setattr(DEV, "cpu_has_native_bf16", lambda: True)
    seen = []
    real = B.make_encoder

    def spying(*a, **kw):
        enc = real(*a, **kw)
        enc.register_forward_hook(
            lambda m, i, o: seen.append((m.training, torch.is_autocast_enabled("cpu"))))
        return enc

    monkeypatch.setattr(B, "make_encoder", spying)
    data = make_subject()
    res = T.fit(data.train, cfg(epochs=2, amp=amp), progress=False)
    assert {ac for training, ac in seen if training} == {amp}
    assert all(p.dtype == torch.float32 for p in res.model.parameters())
    assert np.isfinite(res.history.val_loss).all()


def test_dropout_setting_overrides_every_encoder_dropout(monkeypatch):
    from eegvision.models.modules import Dropout

    def make(name, **kw):
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5),
                                   torch.nn.Linear(N_CH * N_T, D), Dropout(0.5))

    monkeypatch.setattr(B, "make_encoder", make)
    for setting, rate in ((0.1, 0.1), (None, 0.5)):
        model = T.build_model(cfg(dropout=setting), n_chans=N_CH, n_times=N_T, n_features=D)
        rates = [m.p for m in model.encoder.modules() if isinstance(m, torch.nn.Dropout)]
        assert rates == [rate, rate]
    with pytest.raises(ValueError, match="dropout"):
        cfg(dropout=1.0)


def test_recipes_precision_dropout_targets_and_kept_weights():
    nice, fast = T.TrainConfig.from_recipe("nice"), T.TrainConfig.from_recipe("fast")
    # the paper: float32, NICE's own dropout, one-hot targets, best-validation weights
    assert (nice.amp, nice.dropout, nice.soft_targets, nice.keep) == (False, None, None, "best")
    assert (fast.amp, fast.dropout, fast.soft_targets, fast.keep) == (True, 0.25, None, "average")
    # the initial temperature: CLIP's and NICE's 0.07 for 'nice', 0.14 for 'fast'
    assert (nice.temperature, fast.temperature) == (0.07, 0.14)
    assert (nice.freeze_temporal, fast.freeze_temporal) == (None, 5)
    for recipe, temp in (("nice", 0.07), ("fast", 0.14), ("fast", 0.5)):
        model = T.build_model(T.TrainConfig.from_recipe(recipe, model="tiny", temperature=temp),
                              n_chans=N_CH, n_times=N_T, n_features=D)
        assert float(model.loss.scale().detach()) == pytest.approx(1 / temp)
    model = T.build_model(T.TrainConfig.from_recipe("fast", model="tiny", soft_targets=20.0),
                          n_chans=N_CH, n_times=N_T, n_features=D)
    assert (model.loss.soft_scale, model.loss.soft_mix) == (20.0, 0.5)
    model = T.build_model(T.TrainConfig.from_recipe("nice", model="tiny"), n_chans=N_CH,
                          n_times=N_T, n_features=D)
    assert model.loss.soft_scale is None
    for bad in (dict(soft_targets=0.0), dict(soft_mix=2.0), dict(keep="first"),
                dict(average_epochs=0), dict(temperature=0.0), dict(temperature=0.001),
                dict(freeze_temporal=-1)):
        with pytest.raises(ValueError):
            cfg(**bad)


def test_keep_average_is_the_mean_of_the_last_epochs():
    snaps = []
    res = T.fit(make_subject().train, cfg(epochs=6, keep="average", average_epochs=3),
                progress=False, callback=lambda epoch, model: snaps.append(
                    {k: v.detach().clone() for k, v in model.state_dict().items()}))
    assert res.best_epoch == 6 and len(snaps) == 6
    for key, value in res.model.state_dict().items():
        expect = torch.stack([s[key] for s in snaps[-3:]]).mean(dim=0)
        assert torch.allclose(value, expect, atol=1e-7), key
    assert not torch.allclose(res.model.state_dict()["encoder.lin.weight"],
                              snaps[-1]["encoder.lin.weight"])


def test_fit_callback_sees_every_epoch():
    seen = []
    T.fit(make_subject().train, cfg(epochs=3), progress=False,
          callback=lambda epoch, model: seen.append((epoch, model.training)))
    assert seen == [(1, False), (2, False), (3, False)]  # after the validation pass


@pytest.mark.parametrize("model, freeze", [("nice", 1), ("nice", None), ("nice-sa", 1)])
def test_freeze_temporal_stops_only_the_temporal_conv(model, freeze, monkeypatch):
    monkeypatch.setattr(B, "make_encoder", REAL_MAKE_ENCODER)
    snaps = []
    res = T.fit(make_subject().train, cfg(model=model, epochs=3, amp=False, freeze_temporal=freeze),
                progress=False, callback=lambda epoch, m: snaps.append(
                    {k: v.detach().clone() for k, v in m.state_dict().items()}))
    frozen = freeze is not None and model == "nice"  # attention in front: ignored
    # (the conv bias before BatchNorm gets no gradient either way: left out)
    for key in ("temporal_conv.weight", "bn1.weight", "bn1.bias"):
        key = "encoder.tsconv." + key
        assert torch.equal(snaps[0][key], snaps[2][key]) == frozen, key
    key = "encoder.tsconv.spatial_conv.weight"
    assert not torch.equal(snaps[1][key], snaps[2][key])
    assert all(p.requires_grad for p in res.model.parameters())


def test_fit_with_window_cache_trains_as_without(monkeypatch):
    """TSConv's precomputed moving average changes the speed, not the training."""
    from eegvision.models import _fused

    monkeypatch.setattr(B, "make_encoder", REAL_MAKE_ENCODER)
    built, real = [], _fused.window_cache
    monkeypatch.setattr(_fused, "window_cache", lambda *a: built.append(real(*a)) or built[-1])
    data = make_subject()
    config = cfg(model="nice", epochs=2, amp=False)
    cached = T.fit(data.train, config, progress=False)
    assert len(built) == 1 and isinstance(built[0], _fused.WindowCache)
    T.fit(data.train, cfg(model="nice", epochs=1, aug_noise=0.1), progress=False)
    assert len(built) == 1  # augmentation changes the EEG every step: no cache
    monkeypatch.setattr(S, "_window_cache", lambda *a: None)
    direct = T.fit(data.train, config, progress=False)
    # float32 rounding differs (the cache sums moments in float64), and Adam turns the
    # rounding noise of near-zero gradients (the conv bias before BatchNorm) into full
    # steps, so the runs agree closely, not to the last digit; test_fused checks exactness
    np.testing.assert_allclose(cached.history.val_loss, direct.history.val_loss, rtol=2e-2)
    np.testing.assert_allclose(cached.history.train_loss, direct.history.train_loss, rtol=2e-2)


def test_train_cli_amp_option_and_precision_used(tmp_path, fake_subjects, monkeypatch):
    monkeypatch.setattr(DEV, "cpu_has_native_bf16", lambda: True)
    for amp, used in ((False, "float32"), (True, "bfloat16-mixed")):
        C.train_cli(_args(tmp_path / str(amp), amp=amp))
        config = json.loads((tmp_path / str(amp) / "config.json").read_text())
        assert (config["amp"], config["precision_used"]) == (amp, used)


def test_optimizer_is_fused_where_torch_can_and_updates_like_adam():
    config = cfg(weight_decay=1e-3)
    model = T.build_model(config, n_chans=N_CH, n_times=N_T, n_features=D)
    reference = T.build_model(config, n_chans=N_CH, n_times=N_T, n_features=D)
    opt = S._make_optimizer(model, config)
    ref = torch.optim.Adam(reference.parameters(), lr=config.lr, betas=config.betas,
                           weight_decay=config.weight_decay)
    if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4):
        assert opt.defaults["fused"]  # one kernel on the CPU since torch 2.4
    for _ in range(3):
        for net, o in ((model, opt), (reference, ref)):
            for p in net.parameters():
                p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()))
            o.step()
    for (name, a), b in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
