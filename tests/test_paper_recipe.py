"""The ``nice-paper`` recipe (what nice_stand.py trained) and TOML ``[train]`` keys."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eegvision import training as T  # noqa: E402
from eegvision.evaluate import evaluate, model_similarity  # noqa: E402
from eegvision.models import create_encoder  # noqa: E402
from eegvision.pipeline import build_jobs, read_recipe_file  # noqa: E402

from .test_train import make_subject, tiny_encoder  # noqa: F401, E402


def test_nice_paper_differs_from_nice_only_by_the_public_code_defects():
    nice, paper = T.RECIPES["nice"], T.RECIPES["nice-paper"]
    diff = {k: paper[k] for k in paper if nice.get(k, "<unset>") != paper[k]}
    assert diff == {"nice_defects": True, "keep": "last", "test_similarity": "dot"}
    cfg = T.TrainConfig.from_recipe("nice-paper")
    assert (cfg.lr, cfg.batch_size, cfg.epochs, cfg.val_conditions, cfg.temperature) == \
        (2e-4, 1000, 200, 740, 0.07)


def test_nice_paper_trains_what_the_public_code_trained():
    data = make_subject()
    cfg = T.TrainConfig.from_recipe("nice-paper", model="tiny", epochs=4, batch_size=32,
                                    val_conditions=20, device="cpu", lr=3e-3)
    res = T.fit(data.train, cfg, progress=False)
    # temperature fixed at 0.07, the projector the identity, the last epoch's weights
    assert float(res.model.loss.logit_scale.detach()) == pytest.approx(np.log(1 / 0.07))
    x = torch.randn(5, data.train.n_features)
    assert torch.equal(res.model.encode_image(x), x)
    assert res.best_epoch == len(res.history) == 4
    assert res.model.test_similarity == "dot"


def test_dot_scoring_uses_the_candidates_norms():
    eeg = np.array([[1.0, 0.0], [0.0, 1.0]])
    cands = np.array([[1.0, 0.2], [3.0, 3.0]])  # the long second centre wins the dot product

    class Plain:
        test_similarity = "cosine"

    class Nice:
        test_similarity = "dot"

    cos, dot = model_similarity(Plain(), eeg, cands), model_similarity(Nice(), eeg, cands)
    assert cos.argmax(1).tolist() == [0, 1]
    assert dot.argmax(1).tolist() == [1, 1]
    np.testing.assert_allclose(dot, eeg @ cands.T)


def test_evaluate_follows_the_models_scoring():
    data = make_subject()
    base = dict(model="tiny", epochs=2, batch_size=32, val_conditions=20, device="cpu")
    res = T.fit(data.train, T.TrainConfig.from_recipe("nice-paper", **base), progress=False)
    test = data.test
    scaled = test.features * np.linspace(0.2, 5, len(test.features))[:, None].astype(np.float32)
    from eegvision.data.container import EEGImageData

    test = EEGImageData(test.eeg, scaled, test.concepts, test.ch_names, test.times, test.sfreq)
    ranks_dot = evaluate(res.model, test)["ranks"]
    res.model.test_similarity = "cosine"
    ranks_cos = evaluate(res.model, test)["ranks"]
    assert not np.array_equal(ranks_dot, ranks_cos)


def _write(tmp_path, text):
    path = tmp_path / "r.toml"
    path.write_text(text)
    return path


def test_every_train_key_of_a_toml_recipe_reaches_the_jobs(tmp_path, tiny_root):
    from eegvision.data.things import load_subject

    path = _write(tmp_path, 'subjects = "1"\n[train]\nmodel = "nice"\nrecipe = "nice-paper"\n'
                            'epochs = 3\nlr = 0.001\nbatch_size = 64\ntemperature = 0.1\n'
                            'betas = [0.9, 0.99]\n')
    settings, options = read_recipe_file(path)
    assert settings["train_options"] == {"lr": 0.001, "batch_size": 64, "temperature": 0.1,
                                         "betas": [0.9, 0.99]}
    ref = load_subject(tiny_root, 1).test
    jobs = build_jobs("spatial", [1], ref, root=tiny_root, model=settings["model"],
                      recipe=settings["recipe"], epochs=settings["epochs"],
                      train_options=settings["train_options"], mode="drop", regions="occipital")
    config = T.TrainConfig.from_recipe(jobs[0].train.pop("recipe"), **jobs[0].train)
    assert (config.lr, config.batch_size, config.temperature, config.betas, config.epochs,
            config.keep, config.nice_defects) == (0.001, 64, 0.1, (0.9, 0.99), 3, "last", True)


@pytest.mark.parametrize("text, message", [
    ("[train]\nlearning_rate = 0.1\n", "Unknown training setting 'learning_rate'"),
    ("[train]\nbach_size = 10\n", "Did you mean 'batch_size'?"),
    ("[train]\nseed = 3\n", "top-level seeds"),
    ("[train]\nkeep = 'worst'\n", "keep"),
])
def test_bad_train_keys_are_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_recipe_file(_write(tmp_path, text))


def test_published_spatial_modules_are_registered():
    for name in ("nice-sa-published", "nice-ga-published"):
        enc = create_encoder(name, n_chans=6, n_times=80, n_outputs=8)
        assert enc(torch.randn(3, 6, 80)).shape == (3, 8)


def test_checkpoint_keeps_the_scoring(tmp_path):
    data = make_subject()
    cfg = T.TrainConfig.from_recipe("nice-paper", model="tiny", epochs=1, batch_size=32,
                                    val_conditions=20, device="cpu")
    res = T.fit(data.train, cfg, progress=False)
    T.save_checkpoint(tmp_path / "m.pt", res)
    assert T.load_checkpoint(tmp_path / "m.pt").test_similarity == "dot"
