"""The sweep engine: models trained together equal the same models trained alone."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eegvision import sweep  # noqa: E402
from eegvision.data.container import EEGImageData  # noqa: E402
from eegvision.evaluate import embed  # noqa: E402
from eegvision.training import TrainConfig, fit  # noqa: E402

N_CH, N_T, D, SFREQ = 6, 150, 16, 250.0


def _data(n_cond=90, seed=0):
    """Decodable data whose information sits in samples 60-90 (as a planted window)."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(n_cond, D)).astype(np.float32)
    w = np.random.default_rng(99).normal(size=(D, N_CH * 30)) / np.sqrt(D)
    eeg = 0.5 * rng.normal(size=(n_cond, N_CH, N_T))
    eeg[:, :, 60:90] += (feats @ w).reshape(n_cond, N_CH, 30)
    return EEGImageData(eeg.astype(np.float32), feats, [f"c{i}" for i in range(n_cond)],
                        [f"E{i}" for i in range(N_CH)], np.arange(N_T) / SFREQ,
                        sfreq=SFREQ, conditions=np.arange(n_cond), meta={"source": "synthetic"})


def _window(data, lo, hi):
    return data.copy(deep=False).mask_time(lo / SFREQ, hi / SFREQ, include_tmax=False)


def _cfg(**kw):
    base = dict(model="nice", epochs=7, batch_size=32, val_conditions=20, device="cpu",
                freeze_temporal=3, average_epochs=3, amp=False, seed=0)
    return TrainConfig.from_recipe("fast", **{**base, **kw})


def _check_equal(alone, together, test, rtol):
    assert len(together.history) == len(alone.history)
    assert together.best_epoch == alone.best_epoch
    for col in ("train_loss", "val_loss", "logit_scale"):
        np.testing.assert_allclose(together.history[col], alone.history[col], rtol=rtol, err_msg=col)
    ea, _ = embed(alone.model, test.eeg, test.features)
    eb, _ = embed(together.model, test.eeg, test.features)
    np.testing.assert_allclose(eb, ea, rtol=rtol, atol=rtol * float(np.abs(ea).max()))


def _sweep(cases):
    trains = [d for d, _ in cases]
    configs = [c for _, c in cases]
    alone = [fit(d, c, progress=False) for d, c in cases]
    done = []
    together = sweep.fit_many([(lambda d=d: d) for d in trains], configs, progress=False,
                              on_done=lambda i, r: done.append(i))
    assert sorted(done) == list(range(len(cases)))
    return alone, together


def _window_cases(data):
    return [(data, _cfg()), (_window(data, 60, 90), _cfg()), (_window(data, 0, 30), _cfg()),
            (_window(data, 60, 90), _cfg(seed=3)), (data, _cfg(seed=1, keep="last"))]


def test_fit_many_equals_fit_windows_and_seeds():
    """Windows, the full epoch and another seed, float32, average of the last 3: to the bit."""
    data, test = _data(), _data(30, seed=5)
    alone, together = _sweep(_window_cases(data))
    for a, b in zip(alone, together):
        _check_equal(a, b, _window(test, 0, N_T), rtol=0)


def test_window_conditions_train_cropped_alone_and_together(monkeypatch):
    """Both paths crop a window condition's TSConv; the engine's shared budget changes nothing."""
    from eegvision.models._cropped import CropCache
    from eegvision.training.build import build_model
    from eegvision.training.steps import _window_cache

    data = _data()
    windowed = _window(data, 0, 30)  # 6 of TSConv's 16 steps see data
    model = build_model(_cfg(), n_chans=N_CH, n_times=N_T, n_features=data.n_features)
    x = torch.as_tensor(windowed.eeg, dtype=torch.float32)
    assert isinstance(_window_cache(model, x, _cfg(), None), CropCache)
    assert not isinstance(_window_cache(model, torch.as_tensor(data.eeg, dtype=torch.float32), _cfg(), None),
                          CropCache)
    # no budget left: the engine recomputes each batch's moments and average instead of
    # storing them, while a lone fit stores both
    stored = _window_cache(model, x, _cfg(), None)
    assert stored.average is not None and stored.sums is not None and stored.stored_bytes() > 0
    monkeypatch.setattr(sweep, "CROP_BUDGET", 0)
    alone, together = _sweep([(windowed, _cfg()), (_window(data, 120, 150), _cfg(seed=2))])
    for a, b in zip(alone, together):
        _check_equal(a, b, _window(_data(30, seed=5), 0, N_T), rtol=0)


def test_cropped_fit_matches_uncropped_to_rounding(monkeypatch):
    """The crop trains the same map as the full input: it moves a fit no more than rounding does.

    Every step equals the full one to float32 rounding (tests/models/test_cropped.py), but
    Adam turns rounding noise (e.g. of TSConv's spatial bias, whose true gradient is 0:
    BatchNorm follows it) into steps of size lr, so whole fits drift apart. The yardstick is
    the drift of the uncropped fit itself between 1 and 2 torch threads.
    """
    from eegvision.models import _cropped

    data, test = _data(), _data(30, seed=5)
    threads = torch.get_num_threads()

    def embedding(d, c, crop, n_threads):
        monkeypatch.setattr(_cropped, "ENABLED", crop)
        torch.set_num_threads(n_threads)
        try:
            return embed(fit(d, c, progress=False).model, test.eeg, test.features)[0]
        finally:
            torch.set_num_threads(threads)

    for d, c in ((_window(data, 0, 30), _cfg()), (_window(data, 120, 150), _cfg(seed=3))):
        full = embedding(d, c, False, 2)
        rounding = np.linalg.norm(embedding(d, c, False, 1) - full)
        cropped = np.linalg.norm(embedding(d, c, True, 2) - full)
        assert 0 < cropped < 2 * rounding, (cropped, rounding)
        assert cropped < 0.1 * np.linalg.norm(full)


def test_fit_many_early_stopping_and_best_weights():
    """Models stop at their own epochs (patience) and keep their own best weights."""
    data, test = _data(), _data(30, seed=5)
    cases = [(_window(data, 60, 90), _cfg(patience=1, keep="best", epochs=12, lr=3e-2)),
             (data, _cfg(patience=2, keep="best", epochs=12, lr=3e-2, seed=2)),
             (_window(data, 90, 120), _cfg(patience=2, keep="average", epochs=12, seed=4))]
    alone, together = _sweep(cases)
    lengths = [len(a.history) for a in alone]
    assert min(lengths) < 12  # early stopping happened, so finished models left the loop
    for a, b in zip(alone, together):
        _check_equal(a, b, test, rtol=0)


def test_fit_many_bf16_autocast():
    """Under CPU bf16 autocast (where native; else float32) the same models come out."""
    data, test = _data(), _data(30, seed=5)
    cases = [(data, _cfg(amp=True)), (_window(data, 60, 90), _cfg(amp=True, seed=1))]
    alone, together = _sweep(cases)
    assert together[0].precision == alone[0].precision
    _check_equal(alone[0], together[0], test, rtol=0)
    _check_equal(alone[1], together[1], test, rtol=0)


def test_fit_many_ridge_and_rng_untouched():
    data = _data()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    out = sweep.fit_many([data], [_cfg(model="ridge")], progress=False)
    assert torch.equal(torch.get_rng_state(), before)
    assert out[0].history["val_loss"].iloc[0] == fit(data, _cfg(model="ridge")).history[
        "val_loss"].iloc[0]
    with pytest.raises(ValueError, match="2 training sets for 1 configs"):
        sweep.fit_many([data, data], [_cfg()])


def _blur_bank(data, k=3):
    """``data`` with a (toy) blur bank of ``k`` levels as its image features."""
    bank = np.concatenate([data.features * (1 - 0.2 * i) for i in range(k)], axis=1)
    return EEGImageData(data.eeg, bank, data.concepts, data.ch_names, data.times,
                        sfreq=SFREQ, conditions=data.conditions,
                        meta={"source": "synthetic", "blur_levels": k})


def test_every_fit_runs_on_the_one_epoch_loop(monkeypatch):
    """fit, fit_many (models trained together, and those it hands to fit) and the blur
    recipes all train through training.loop.train_runs, one Run.step per history row: a
    second epoch loop anywhere would train epochs this spy never sees."""
    from eegvision.training import loop

    loops, steps = [], []
    real_loop, real_step = loop.train_runs, loop.Run.step

    def spy_loop(runs, progress=True):
        loops.append(sorted(type(r.steps).__name__ for r in runs))
        yield from real_loop(runs, progress)

    def spy_step(self, shared=False):
        steps.append(self.config.recipe)
        return real_step(self, shared)

    monkeypatch.setattr(loop, "train_runs", spy_loop)
    monkeypatch.setattr(loop.Run, "step", spy_step)
    data = _data()
    blur = dict(epochs=2, batch_size=32, val_conditions=20, device="cpu")
    results = [fit(data, _cfg(epochs=2), progress=False),
               fit(_blur_bank(data), TrainConfig.from_recipe("ubp", **blur), progress=False),
               fit(_blur_bank(data), TrainConfig.from_recipe("blur-bank", **blur), progress=False)]
    assert loops == [["ContrastiveSteps"], ["BlurSteps"], ["BlurSteps"]]
    paper = TrainConfig.from_recipe("nice-paper", model="nice", **blur)
    results += sweep.fit_many([data, _window(data, 60, 90), data],
                              [_cfg(epochs=2), _cfg(epochs=3, seed=1), paper], progress=False)
    assert loops[3:] == [["ContrastiveSteps"], ["ContrastiveSteps", "ContrastiveSteps"]]
    assert [len(r.history) for r in results] == [2, 2, 2, 2, 3, 2]
    assert len(steps) == 13 and steps.count("ubp") == steps.count("blur-bank") == 2
    assert "blur_medium" in results[1].history and results[2].history["logit_scale"].eq(1.0).all()


def test_fit_and_fit_many_name_a_config_of_the_wrong_type():
    data = _data()
    with pytest.raises(TypeError, match="config must be TrainConfig, got dict"):
        fit(data, {"epochs": 1}, progress=False)
    with pytest.raises(TypeError, match=r"configs\[1\] must be TrainConfig, got dict"):
        sweep.fit_many([data, data], [_cfg(), {"epochs": 1}], progress=False)


# ------------------------------------------------------------------ runner, CLI
def _analyze(root, out, **kw):
    from eegvision.pipeline import analyze

    return analyze("temporal", 1, data_dir=root, out=out, model="nice", epochs=2,
                   windows="0-300,300-600", timecourse=False, plot=False, progress=False, **kw)


def test_analyze_batches_jobs_and_equals_one_at_a_time(tiny_root, tmp_path, monkeypatch):
    """A sweep's jobs train in one fit_many call; rows equal --no-batch's to the bit."""
    calls = []
    real = sweep.fit_many

    def spy(trains, configs, **kw):
        calls.append(len(configs))
        return real(trains, configs, **kw)

    monkeypatch.setattr(sweep, "fit_many", spy)
    batched = _analyze(tiny_root, tmp_path / "a")
    assert calls == [3]  # the whole epoch and two windows, one batch
    alone = _analyze(tiny_root, tmp_path / "b", batch=False)
    assert calls == [3]
    cols = ["condition", "top1", "top5", "epochs_run", "config_hash"]
    assert batched[cols].equals(alone[cols])
    # each job is cached on its own: a rerun trains nothing
    again = _analyze(tiny_root, tmp_path / "a")
    assert calls == [3] and again[cols].equals(batched[cols])


def test_dask_backend_runs_a_batch_as_one_task(tiny_root, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from eegvision.data.things import load_subject
    from eegvision.pipeline import build_jobs
    from eegvision.runner import run_jobs

    ref = load_subject(tiny_root, 1).test
    jobs = build_jobs("temporal", [1], ref, root=tiny_root, seeds=(0, 1), epochs=1,
                      windows="0-300")
    from eegvision.runner import group_jobs

    groups = group_jobs(jobs)
    assert [len(g) for g in groups] == [4]  # 2 conditions x 2 seeds
    local = run_jobs(jobs, tmp_path / "local", progress=False)
    remote = run_jobs(jobs, tmp_path / "dask", backend="dask", n_jobs=1, progress=False)
    assert [r["row"]["top1"] for r in remote] == [r["row"]["top1"] for r in local]
    assert len(list((tmp_path / "dask").glob("*.json"))) == 4


def test_no_batch_option_reaches_analyze(monkeypatch):
    from eegvision import cli, pipeline

    seen = {}

    def fake(name, subjects, **kw):
        seen.update(kw)
        raise ValueError("stop here")

    monkeypatch.setattr(pipeline, "analyze", fake)
    assert cli.main(["topomap", "--no-batch", "--model", "ridge"]) == 2
    assert seen["batch"] is False
    assert cli.main(["analyze", "temporal", "--model", "ridge"]) == 2
    assert seen["batch"] is True


def test_window_condition_never_copies_the_whole_eeg(monkeypatch):
    """A pending mask_time where the crop applies trains from the unmasked samples, alone and in
    the engine, to the bit of a fit on the written mask; the container is never masked in full.
    Where every TSConv step sees data (no crop), the mask is written as before."""
    data, test = _data(), _data(30, seed=5)
    written = _window(data, 0, 30)
    written.eeg  # the mask written out, as before lazy masking  # noqa: B018
    reads = []
    getter = EEGImageData.eeg.fget

    def counting(self):
        reads.append(self.zero_outside)
        return getter(self)

    monkeypatch.setattr(EEGImageData, "eeg", property(counting, EEGImageData.eeg.fset))
    ref = fit(written, _cfg(), progress=False)
    lazy = [_window(data, 0, 30), _window(data, 120, 150)]
    reads.clear()
    alone = fit(lazy[0], _cfg(), progress=False)
    together = sweep.fit_many(lazy, [_cfg(), _cfg(seed=2)], progress=False)
    assert all(r is None for r in reads)  # no pending mask was written out
    assert lazy[0].zero_outside == (0, 30) and lazy[1].zero_outside == (120, 150)
    for other in (alone, together[0]):
        _check_equal(ref, other, _window(test, 0, N_T), rtol=0)
    middle = _window(data, 60, 90)  # all 16 steps see data: trained on the written mask
    reads.clear()
    fit(middle, _cfg(epochs=1), progress=False)
    assert (60, 90) in reads
