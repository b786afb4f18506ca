"""Adversarial suite of issue 15: hostile and careless input.

Every file is built by the tests (``tests/_hostile.py`` assembles the pickles
opcode by opcode). Attacks that once crashed the interpreter (a segfault from
object pointers or C recursion) run in a child process, so a regression fails
one test instead of killing the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eegvision._utils import DataError
from tests import _hostile as H

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ 1. data files
_CHILD = r"""
import json, resource, sys, time
import torch  # imported before the baseline: its own memory is not the attack's
from pathlib import Path
from tests import _hostile as H
from eegvision._utils import DataError
from eegvision.data.things import read_preprocessed, read_image_metadata
from eegvision.training import load_checkpoint

tmp = Path(sys.argv[1])
usage = lambda: resource.getrusage(resource.RUSAGE_SELF)
base_rss = usage().ru_maxrss
def attempt(label, path, fn):
    t0 = time.process_time()
    try:
        fn()
        result = "accepted"
    except DataError as err:
        result = "DataError" if str(path) in str(err) else "DataError without the path"
    except BaseException as err:
        result = f"{type(err).__name__}: {str(err)[:200]}"
    print(json.dumps(dict(label=label, result=result, cpu=time.process_time() - t0,
                          rss_growth_kb=usage().ru_maxrss - base_rss)), flush=True)

for name, attack in H.ATTACKS.items():
    for how in ("pickle", "npy"):
        path = H.write(tmp / f"{name}.{how}", H.eeg_dict(attack()), how)
        attempt(f"eeg:{name}:{how}", path, lambda: read_preprocessed(path, cache=False))
    meta = tmp / name / "image_set" / "image_metadata.npy"
    meta.parent.mkdir(parents=True)
    H.write(meta, H.eeg_dict(attack(), key="train_img_concepts"), "npy")
    attempt(f"metadata:{name}", meta, lambda: read_image_metadata(tmp / name))
ckpt = H.checkpoint_with(tmp / "deep.pt", H.deep_tuple_key(300_000))
attempt("checkpoint:deep_tuple_key", ckpt, lambda: load_checkpoint(ckpt))
ckpt = H.checkpoint_with(tmp / "deep_list.pt", H.nested_list(5000))
attempt("checkpoint:deep_list", ckpt, lambda: load_checkpoint(ckpt))
"""


@pytest.fixture(scope="module")
def attack_results(tmp_path_factory):
    """Run every hostile file through the readers in one child process."""
    tmp = tmp_path_factory.mktemp("hostile")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(tmp)], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                               "PATH": "/usr/bin:/bin", "EEGVISION_CACHE": str(tmp / "c")})
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, {r["label"]: r for r in rows}


def _labels():
    out = [f"eeg:{n}:{how}" for n in H.ATTACKS for how in ("pickle", "npy")]
    return out + [f"metadata:{n}" for n in H.ATTACKS] + ["checkpoint:deep_tuple_key",
                                                         "checkpoint:deep_list"]


@pytest.mark.parametrize("label", _labels())
def test_hostile_file_is_one_clear_error(attack_results, label):
    proc, rows = attack_results
    assert label in rows, (f"the reader died on {label} (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    assert rows[label]["result"] == "DataError", rows[label]


def test_hostile_files_are_refused_fast_and_small(attack_results):
    """A tiny hostile file is refused in under 1 s of CPU and under 100 MB of extra memory.

    CPU time, not wall time, so a busy machine does not fail the bound; the
    memory is the growth of the child's peak RSS over its peak after imports.
    """
    _, rows = attack_results
    assert rows
    for label, row in rows.items():
        assert row["cpu"] < 1.0, (label, row)
        assert row["rss_growth_kb"] < 100 * 1024, (label, row)


def test_admitted_plain_arrays_still_load(tmp_path):
    """The guards keep every legitimate numpy array (all plain dtypes, both orders, protocols)."""
    import pickle

    from eegvision.data._pickle import load_dict_file

    arrays = {f"{dt}{order}": np.asarray(np.arange(6).reshape(2, 3), dtype=dt, order=order)
              for dt in ("f4", ">f8", "i2", "u1", "?", "c8", "U3", "S2") for order in "CF"}
    arrays["obj"] = np.array([{"x": 1}, [1, 2]], dtype=object)
    arrays["scalar"] = np.float32(3.5)
    arrays["str_scalar"] = np.str_("abc")
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        out = load_dict_file(path)
        for key, arr in arrays.items():
            if isinstance(arr, np.ndarray) and arr.dtype.hasobject:
                assert list(out[key]) == list(arr)
            else:
                np.testing.assert_array_equal(out[key], arr)
                assert np.asarray(out[key]).dtype == np.asarray(arr).dtype, key


def test_failed_read_writes_no_cache_entry(tmp_path, monkeypatch):
    """A read that fails leaves no cache entry; a cache write that fails leaves nothing."""
    import errno

    from eegvision.data import things

    monkeypatch.setenv("EEGVISION_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "nan.npy"
    eeg = np.ones((3, 2, 2, 4), np.float32)
    eeg[1, 0, 0, 0] = np.nan
    np.save(bad, np.array({"preprocessed_eeg_data": eeg, "ch_names": ["a", "b"],
                           "times": np.arange(4) / 100}, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="NaN"):
        things.read_preprocessed(bad)
    assert not list((tmp_path / "cache").rglob("*.npy"))

    good = tmp_path / "good.npy"
    eeg[1, 0, 0, 0] = 0
    np.save(good, np.array({"preprocessed_eeg_data": eeg, "ch_names": ["a", "b"],
                            "times": np.arange(4) / 100}, dtype=object), allow_pickle=True)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(things, "write_json", full_disk)
    out = things.read_preprocessed(good)  # the read itself succeeds
    assert out["eeg"].shape == (3, 2, 4)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    monkeypatch.undo()
    monkeypatch.setenv("EEGVISION_CACHE", str(tmp_path / "cache"))
    things.read_preprocessed(good)
    hit = things._read_cache(good)
    assert hit is not None and np.array_equal(hit["eeg"], out["eeg"])


# ------------------------------------------------------------- 2. silent wrong answers
def _copy_root(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def _rewrite_test_file(root, change):
    """Load sub-01's test file, apply ``change(dict)``, save it back with np.save."""
    from eegvision.data._pickle import load_dict_file

    path = root / "eeg_dataset" / "preprocessed_data" / "sub-01" / "preprocessed_eeg_test.npy"
    d = load_dict_file(path)
    d = {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in d.items()}
    change(d)
    np.save(path, np.array(d, dtype=object), allow_pickle=True)
    return path


def _reverse_channels(d):
    d["preprocessed_eeg_data"] = d["preprocessed_eeg_data"][:, :, ::-1]
    d["ch_names"] = list(d["ch_names"])[::-1]


@pytest.fixture(scope="module")
def ridge_run(tiny_root, tmp_path_factory):
    """A ridge checkpoint trained on the tiny root, and its evaluation ranks."""
    import pandas as pd

    from eegvision.cli import main

    out = tmp_path_factory.mktemp("ridge")
    assert main(["train", "--data-dir", str(tiny_root), "--model", "ridge", "--out",
                 str(out / "train")]) == 0
    assert main(["evaluate", str(out / "train" / "model.pt"), "--data-dir", str(tiny_root),
                 "--out", str(out / "eval")]) == 0
    return out / "train" / "model.pt", pd.read_csv(out / "eval" / "ranks.csv")


def test_test_file_with_reordered_channels_is_aligned_by_name(tiny_root, tmp_path, ridge_run):
    """Data and names reordered together: the same ranks as the original order, not chance."""
    import pandas as pd

    from eegvision.cli import main
    from eegvision.data.things import load_subject

    root = _copy_root(tiny_root, tmp_path / "root")
    _rewrite_test_file(root, _reverse_channels)
    ref = load_subject(tiny_root, 1, cache=False)
    data = load_subject(root, 1, cache=False)
    assert data.test.ch_names == data.train.ch_names == ref.test.ch_names
    np.testing.assert_array_equal(data.test.eeg, ref.test.eeg)
    ckpt, ranks = ridge_run
    assert main(["evaluate", str(ckpt), "--data-dir", str(root), "--out",
                 str(tmp_path / "ev")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "ev" / "ranks.csv"), ranks)


@pytest.mark.parametrize("change,match", [
    (lambda d: d.update(ch_names=["X" + c for c in d["ch_names"]]), "channels do not match"),
    (lambda d: d.update(times=np.asarray(d["times"]) + 0.05), "samples"),
    (lambda d: d.update(times=np.asarray(d["times"]) * 2), "Hz"),
])
def test_test_file_that_cannot_be_aligned_is_refused(tiny_root, tmp_path, capsys, ridge_run,
                                                     change, match):
    from eegvision.cli import main
    from eegvision.data.things import load_subject

    root = _copy_root(tiny_root, tmp_path / "root")
    path = _rewrite_test_file(root, change)
    with pytest.raises(DataError, match=match) as err:
        load_subject(root, 1, cache=False)
    assert str(path) in str(err.value)
    ckpt, _ = ridge_run
    assert main(["evaluate", str(ckpt), "--data-dir", str(root), "--out",
                 str(tmp_path / "ev")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "ev" / "metrics.json").exists()


def test_checkpoint_vs_data_channel_order(ridge_run, tiny_root):
    """load_checkpoint(data=...) refuses other rates/times; evaluate aligns by name."""
    from eegvision._commands.training import _check_matches
    from eegvision.training import load_checkpoint

    ckpt, _ = ridge_run
    data = __import__("eegvision.data.things", fromlist=["x"]).load_subject(tiny_root, 1)
    _, info = load_checkpoint(ckpt, return_info=True)
    flipped = data.test._select_channels(list(range(data.test.n_channels))[::-1])
    aligned = _check_matches(ckpt, info, flipped)
    assert aligned.ch_names == info["ch_names"]
    np.testing.assert_array_equal(aligned.eeg, data.test.eeg)
    shifted = data.test._replace(times=data.test.times + 0.5)
    with pytest.raises(DataError, match="samples"):
        load_checkpoint(ckpt, data=shifted)


def test_nan_weight_checkpoint_is_refused_not_perfect(ridge_run, tmp_path):
    import torch

    from eegvision.training import load_checkpoint

    ckpt, _ = ridge_run
    raw = torch.load(ckpt, weights_only=True)
    raw["state_dict"]["coef_"] = torch.full_like(raw["state_dict"]["coef_"], float("nan"))
    torch.save(raw, tmp_path / "nan.pt")
    with pytest.raises(DataError, match="NaN"):
        load_checkpoint(tmp_path / "nan.pt")


def test_non_finite_embeddings_are_an_error_and_ties_never_hit():
    from eegvision.evaluate import concept_ranks, k_way_accuracy, zero_shot_scores

    feats = np.eye(5, dtype=np.float32)
    with pytest.raises(DataError, match="NaN"):
        zero_shot_scores(np.full((5, 5), np.nan), feats)
    with pytest.raises(DataError, match="NaN"):
        concept_ranks(np.full((5, 5), np.nan))
    with pytest.raises(DataError, match="NaN"):
        k_way_accuracy(np.where(np.eye(5) > 0, np.inf, 0.0), 2)
    # a constant model ties every candidate with the true one: rank last, never a hit
    const = np.ones((5, 5))
    assert concept_ranks(const).tolist() == [5] * 5
    assert zero_shot_scores(np.ones((5, 5)), feats)["top1"] == 0.0
    assert k_way_accuracy(const, 2) == 0.0


def test_evaluate_refuses_a_model_that_outputs_nan(tiny_root):
    from eegvision.data.things import load_subject
    from eegvision.evaluate import evaluate
    from eegvision.models.ridge import RidgeDecoder

    data = load_subject(tiny_root, 1)
    model = RidgeDecoder().fit(data.train.eeg, data.train.features)
    model.coef_ = np.full_like(model.coef_, np.nan)
    with pytest.raises(DataError, match="NaN or infinite EEG embeddings"):
        evaluate(model, data.test)


BAD_BANDS = ["x=12-8", "x=8-8", "x=-1-4", "x=0-4", "x=a-b", "x=1-2-3", "x=inf-5", "x=nan-5",
             "=1-4", "alpha,alpha", "alpha,", "broadband=1-4", "x=1e400-1e401", "x=", "x"]


@pytest.mark.parametrize("spec", BAD_BANDS)
def test_malformed_bands_are_one_option_error(spec):
    from eegvision._utils import OptionError
    from eegvision.analysis.spectral import parse_bands

    with pytest.raises(OptionError, match="--bands") as err:
        parse_bands(spec)
    assert "Fix:" in str(err.value)


def test_valid_bands_keep_their_edges():
    from eegvision.analysis.spectral import parse_bands

    assert parse_bands("alpha,mu=8-13,high-gamma") == {
        "alpha": (8.0, 12.0), "mu": (8.0, 13.0), "high-gamma": (55.0, 95.0)}


BAD_TEMPORAL = [({"windows": "100-50"}, "--windows"), ({"windows": "a-b"}, "--windows"),
                ({"windows": "0-100,"}, "--windows"), ({"windows": "1-2-3"}, "--windows"),
                ({"windows": "nan-5"}, "--windows"), ({"windows": "1000-2000"}, "--windows"),
                ({"windows": "1-3"}, "--windows"),  # between two samples at 100 Hz
                ({"width": 1e-9, "step": 1e-9}, "--step"), ({"width": float("nan")}, "--width"),
                ({"width": float("inf")}, "--width"), ({"step": -1}, "--step"),
                ({"width": 1e6}, "--width"), ({"mode": "zigzag"}, "--mode")]


@pytest.mark.parametrize("options,option", BAD_TEMPORAL, ids=str)
def test_malformed_windows_width_step_are_one_option_error(tiny_root, options, option):
    from eegvision._utils import OptionError
    from eegvision.analysis.temporal import conditions
    from eegvision.data.things import load_subject

    ref = load_subject(tiny_root, 1).train
    with pytest.raises(OptionError, match=option) as err:
        conditions(options, ref)
    assert "Fix:" in str(err.value)


def test_pre_stimulus_windows_are_valid(tiny_root):
    from eegvision.analysis.temporal import conditions, parse_windows
    from eegvision.data.things import load_subject

    assert parse_windows("-100-0,-200--100, 0-100") == [(-100.0, 0.0), (-200.0, -100.0),
                                                         (0.0, 100.0)]
    ref = load_subject(tiny_root, 1).train
    assert ref.times[0] * 1000 < -100  # the tiny root starts before onset
    labels = [label for label, _ in conditions({"windows": "-100-0"}, ref)]
    assert labels == ["full", "-100-0ms"]


# ------------------------------------------------------------------ 3. stale results
def test_job_key_hashes_resolved_settings_code_and_data_not_device(monkeypatch):
    from eegvision import _provenance
    from eegvision import training as train
    from eegvision.runner import Job

    def job(**train_cfg):
        data = {"root": "/data/a", "layout": "auto", "targets": "centers",
                "fingerprint": {"train_eeg": "sha256:1"}}
        return Job("temporal", 1, "0-100ms", 0, {"tmin_ms": 0.0, "tmax_ms": 100.0}, data,
                   {"recipe": "fast", "model": "nice", "seed": 0, **train_cfg})

    base = job().key
    assert job(device="cpu").key == base == job(device="cuda").key  # where it ran
    moved = Job(**{**job().__dict__, "data": {**job().data, "root": "/elsewhere"}})
    assert moved.key == base  # same files (fingerprint), other mount point
    assert job(epochs=3).key != base
    other_params = Job(**{**job().__dict__, "params": {"tmin_ms": 0.0, "tmax_ms": 120.0}})
    assert other_params.key != base
    other_data = Job(**{**job().__dict__, "data": {**job().data, "fingerprint": {"x": "2"}}})
    assert other_data.key != base
    # a recipe value changed in the code, same recipe name and version string
    monkeypatch.setitem(train.RECIPES, "fast", {**train.RECIPES["fast"], "lr": 1.234e-4})
    assert job().key != base
    monkeypatch.undo()
    assert job().key == base
    # any change of the package's sources
    monkeypatch.setattr(_provenance, "code_fingerprint", lambda: "sha256:other")
    assert job().key != base


def test_data_fingerprint_sees_the_middle_and_is_cached_on_disk(tmp_path, monkeypatch):
    import hashlib
    import os

    from eegvision import _provenance

    path = tmp_path / "eeg.npy"
    blob = bytearray(b"x" * (5 << 20))
    path.write_bytes(blob)
    first = _provenance.file_fingerprint(path)
    blob[len(blob) // 2] = ord("y")  # the middle: not in the first or last MiB
    path.write_bytes(blob)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    second = _provenance.file_fingerprint(path)
    assert second != first
    # a new process (empty memory cache) reads the digest from disk, not the file
    _provenance._fingerprint.cache_clear()
    monkeypatch.setattr(hashlib, "file_digest", lambda *a: (_ for _ in ()).throw(
        AssertionError("re-hashed an unchanged file")))
    assert _provenance.file_fingerprint(path) == second


PROVENANCE = ("eegvision_version", "torch_version", "code_hash", "train_config_hash",
              "data_hash", "command")


def test_train_results_carry_provenance(ridge_run):
    import pandas as pd

    ckpt, _ = ridge_run
    metrics = json.loads((ckpt.parent / "metrics.json").read_text())
    for key in PROVENANCE:
        assert metrics[key], key
    assert metrics["train_config"]["model"] == "ridge" and "device" not in metrics["train_config"]
    assert metrics["command"].startswith("eegvision train ")
    assert set(metrics["data_files"]) >= {"sub-01/train_eeg", "sub-01/test_eeg"}
    row = pd.read_csv(ckpt.parent / "results.csv").iloc[0]
    for key in PROVENANCE:
        assert isinstance(row[key], str) and row[key], key


def _analyze(root, out, windows, **kw):
    from eegvision.pipeline import analyze

    return analyze("temporal", 1, data_dir=root, out=out, model="ridge", windows=windows,
                   timecourse=False, progress=False, **kw)


def test_analysis_rows_carry_provenance_and_outputs_commit_together(tiny_root, tmp_path,
                                                                   monkeypatch):
    import os

    import pandas as pd

    from eegvision import viz

    out = tmp_path / "out"
    df = _analyze(tiny_root, out, "0-100")
    for key in PROVENANCE + ("train_config", "config_hash"):
        assert df[key].notna().all() and (df[key].astype(str) != "").all(), key
    assert json.loads(df["train_config"].iloc[0])["model"] == "ridge"
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"results.csv", "config.json", "temporal.png"} <= set(before)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(viz, "save_figure", killed)
    with pytest.raises(KeyboardInterrupt):
        _analyze(tiny_root, out, "0-100,100-200")
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before, "a kill in the figure step changed the committed outputs"
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".staging-")
                 or p.name.endswith(".tmp")]
    assert not leftovers, leftovers
    monkeypatch.undo()
    _analyze(tiny_root, out, "0-100,100-200", plot=False)
    # no figure of the earlier run stays beside the new tables
    assert not (out / "temporal.png").exists()
    assert len(pd.read_csv(out / "results.csv")) == 3
    mask = os.umask(0)
    os.umask(mask)
    for name in ("results.csv", "config.json"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


# ------------------------------------------------------------------ 4. clear messages
def _cli(argv, capsys):
    from eegvision.cli import main

    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return status, err


def _train_argv(root, out):
    return ["train", "--data-dir", root, "--model", "ridge", "--out", out]


def test_permission_denied_data_file(tiny_root, tmp_path, capsys, monkeypatch):
    import errno

    from eegvision.data import _pickle

    root = _copy_root(tiny_root, tmp_path / "root")
    real_open = open

    def denied(path, *args, **kwargs):
        if str(path).endswith("preprocessed_eeg_training.npy"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    from eegvision.data import _mapped

    # both readers: the memory-mapped one reads large files, the plain one the rest
    monkeypatch.setattr(_pickle, "open", denied, raising=False)
    monkeypatch.setattr(_mapped, "open", denied, raising=False)
    status, err = _cli(_train_argv(root, tmp_path / "out"), capsys)
    assert status == 2
    assert "preprocessed_eeg_training.npy" in err and "Permission denied" in err
    assert "chmod" in err
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_checkpoint_missing_keys_and_absurd_sizes(ridge_run, tiny_root, tmp_path, capsys):
    import torch

    from eegvision.training import TrainConfig, build_model, load_checkpoint

    ckpt, _ = ridge_run
    raw = torch.load(ckpt, weights_only=True)
    del raw["n_times"]
    torch.save(raw, tmp_path / "nokey.pt")
    status, err = _cli(["evaluate", tmp_path / "nokey.pt", "--data-dir", tiny_root, "--out",
                        tmp_path / "ev"], capsys)
    assert status == 2 and "lacks the keys ['n_times']" in err and "nokey.pt" in err
    # a NICE checkpoint whose metadata asks for a 10**6-d projector (4 TB of weights)
    config = TrainConfig.from_recipe("fast", model="nice")
    net = build_model(config, n_chans=17, n_times=100, n_features=8, sfreq=100.0)
    huge = dict(format="eegvision-checkpoint-v1", encoder="nice", config=config.to_dict(),
                n_outputs=8, best_epoch=1, state_dict=net.state_dict(), n_chans=17,
                n_times=100, n_features=10**6, sfreq=100.0,
                ch_names=[f"E{i}" for i in range(17)], times=[i / 100 for i in range(100)])
    torch.save(huge, tmp_path / "huge.pt")
    with pytest.raises(DataError, match="do not fit encoder 'nice'"):
        load_checkpoint(tmp_path / "huge.pt")


def _rewrite_both(root, change):
    from eegvision.data._pickle import load_dict_file

    for split in ("training", "test"):
        path = (root / "eeg_dataset" / "preprocessed_data" / "sub-01" /
                f"preprocessed_eeg_{split}.npy")
        d = {k: np.array(v) if isinstance(v, np.ndarray) else v
             for k, v in load_dict_file(path).items()}
        change(d)
        np.save(path, np.array(d, dtype=object), allow_pickle=True)


@pytest.mark.parametrize("change,match", [
    (lambda d: d.update(preprocessed_eeg_data=d["preprocessed_eeg_data"][..., :1],
                        times=d["times"][:1]), "epochs of 1 sample"),
    (lambda d: d.update(preprocessed_eeg_data=d["preprocessed_eeg_data"][:1]),
     "one image condition"),
], ids=["one-sample", "one-condition"])
def test_degenerate_epochs_are_refused(tiny_root, tmp_path, capsys, change, match):
    root = _copy_root(tiny_root, tmp_path / "root")
    _rewrite_both(root, change)
    status, err = _cli(_train_argv(root, tmp_path / "out"), capsys)
    assert status == 2 and match in err and "preprocessed_eeg_" in err and "Fix:" in err


def test_nested_concept_lists_are_refused(tiny_root, tmp_path):
    from eegvision.data.things import read_image_metadata

    root = tmp_path / "root"
    (root / "image_set").mkdir(parents=True)
    meta = {"train_img_concepts": [["00001_a", "00002_b"], ["00003_c"]],
            "test_img_concepts": ["00001_a"]}
    np.save(root / "image_set" / "image_metadata.npy", np.array(meta, dtype=object),
            allow_pickle=True)
    with pytest.raises(DataError, match="flat list of names"):
        read_image_metadata(root)


def test_channels_without_position_spatial_and_topomap(tiny_root, tmp_path, capsys):
    import pandas as pd

    from eegvision._utils import EEGVisionError
    from eegvision.viz.topomap import plot_saliency

    root = _copy_root(tiny_root, tmp_path / "root")
    _rewrite_both(root, lambda d: d.update(ch_names=[f"X{i}" for i in range(len(d["ch_names"]))]))
    status, err = _cli(["analyze", "spatial", "--data-dir", root, "--model", "ridge", "--out",
                        tmp_path / "sp"], capsys)
    assert status == 2 and "only the all-channel reference" in err and "10-10" in err
    assert not (tmp_path / "sp" / "results.csv").exists()

    def table(names):
        return pd.DataFrame({"channel": names * 2, "map": "cam", "bin_start_ms": 0.0,
                             "bin_stop_ms": 100.0, "value": np.arange(2 * len(names), dtype=float),
                             "method": "gradcam"})

    with pytest.raises(EEGVisionError, match="scalp position"):
        plot_saliency(table=table(["X1", "X2", "X3", "X4"]))
    fig = plot_saliency(table=table(["Oz", "P3", "C4", "T7", "Fz", "X1"]))  # X1 left out
    assert fig is not None


def test_one_channel_spatial(tiny_root, tmp_path, capsys):
    root = _copy_root(tiny_root, tmp_path / "root")
    _rewrite_both(root, lambda d: d.update(
        preprocessed_eeg_data=d["preprocessed_eeg_data"][:, :, :1], ch_names=d["ch_names"][:1]))
    status, err = _cli(["analyze", "spatial", "--data-dir", root, "--model", "ridge", "--out",
                        tmp_path / "sp"], capsys)
    assert status == 2 and "1 channel" in err


def _no_partial_files(out):
    return [p for p in Path(out).rglob("*") if p.name.endswith(".tmp")
            or p.name.startswith(".staging-") or (p.is_file() and p.stat().st_size == 0)]


def test_disk_full_is_one_error_and_nothing_half_written(tiny_root, tmp_path, capsys,
                                                         monkeypatch):
    import errno

    import pandas as pd

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    out = tmp_path / "out"
    status, err = _cli(["analyze", "temporal", "--data-dir", tiny_root, "--model", "ridge",
                        "--windows", "0-100", "--out", out], capsys)
    # the first table written fails (the time-resolved curve, shown before the sweep)
    assert status == 2 and "No space left on device" in err and "timecourse.csv" in err
    assert "free disk space" in err
    assert not (out / "results.csv").exists()
    assert not _no_partial_files(out), _no_partial_files(out)


def test_ctrl_c_is_one_line_exit_130(tiny_root, tmp_path, capsys, monkeypatch):
    import eegvision._commands.analysis

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(eegvision._commands.analysis, "analyze_cli", interrupted)
    status, err = _cli(["analyze", "temporal", "--data-dir", tiny_root, "--out",
                        tmp_path / "o"], capsys)
    assert status == 130 and len(err.strip().splitlines()) == 1 and "interrupted" in err


def test_sigterm_is_one_line_exit_143_and_leaves_no_partial_files(tiny_root, tmp_path):
    import os
    import signal
    import time

    out = tmp_path / "out"
    windows = ",".join(f"{lo}-{lo + 50}" for lo in range(0, 700, 50))
    proc = subprocess.Popen(
        [sys.executable, "-m", "eegvision", "analyze", "temporal", "--data-dir", str(tiny_root),
         "--model", "ridge", "--windows", windows, "--out", str(out)], cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg",
             "OMP_NUM_THREADS": "1"}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((out / "jobs").glob("*.json")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    if proc.returncode == 0:
        pytest.fail("the sweep finished before SIGTERM arrived; use more windows")
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "terminated (SIGTERM)" in err
    assert len([line for line in err.splitlines() if "eegvision analyze" in line]) == 1
    assert not _no_partial_files(out), _no_partial_files(out)
    assert not (out / "results.csv").exists()


def test_write_error_names_the_final_output(tmp_path, monkeypatch):
    import errno

    from eegvision._outdir import staged_outputs
    from eegvision._utils import WriteError, write_json

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(WriteError) as err, staged_outputs(tmp_path / "out") as stage:
        write_json(stage / "config.json", {"a": 1})
    assert f"{tmp_path / 'out' / 'config.json'}: could not write it" in str(err.value)
    assert isinstance(err.value, OSError) and err.value.errno == errno.ENOSPC
    assert not list((tmp_path / "out").iterdir())


def test_declared_size_beyond_the_machine_is_refused_before_allocating(tmp_path, monkeypatch):
    from eegvision.data import things

    path = tmp_path / "int8.npy"
    np.save(path, np.array({"preprocessed_eeg_data": np.ones((4, 2, 3, 5), np.int8),
                            "ch_names": ["a", "b", "c"], "times": np.arange(5) / 100},
                           dtype=object), allow_pickle=True)
    monkeypatch.setattr(things, "_physical_memory", lambda: 100)  # a 100-byte machine
    with pytest.raises(DataError, match="more than this machine"):
        things.read_preprocessed(path, average=False, cache=False)


@pytest.mark.parametrize("argv", [
    ["analyze", "spectral", "--model", "ridge", "--bands", "x=12-8"],
    ["analyze", "temporal", "--model", "ridge", "--windows", "500-100"],
    ["info", "--data-dir", "/nonexistent/things-eeg2"],
    ["analyze", "spatial", "--model", "ridge", "--mode", "sideways"],
])
def test_every_cli_error_is_one_line_with_its_fix(argv, tiny_root, capsys):
    argv = [str(a) for a in argv]
    if "--data-dir" not in argv:
        argv += ["--data-dir", str(tiny_root)]
    status, err = _cli(argv, capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and "Fix" in lines[0], err
