"""Issue 25, sections 3 and 4: input that was silently wrong or stale, or ended in a traceback.

Each class is built here by the test (tiny simulated roots, recipes written to
``tmp_path``): constant EEG or features, times in milliseconds or with a gap,
a file rewritten in place behind the caches, fractional or negative seeds,
every kind of bad TOML value, counts beyond any use, broken encoder plugins, a
Dask scheduler killed mid-sweep and a feature set without its centres.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from eegvision._utils import DataError, EEGVisionError, OptionError


def _cli(argv, capsys):
    """``(status, stderr)`` of ``eegvision ARGV`` (argparse usage errors included)."""
    from eegvision.cli import main

    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def _one_error_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    if lines and lines[0].startswith("usage:"):  # argparse: its usage, then one error line
        lines = [line for line in lines if line.startswith("eegvision ")]
    assert len(lines) == 1 and lines[0].startswith("eegvision "), err
    return lines[0]


# ------------------------------------------------------------------ Dask
def _wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _slow_plugin(delay):
    import distributed

    class Slow(distributed.WorkerPlugin):
        def setup(self, worker):
            import eegvision.runner as runner

            original = getattr(runner.execute_job, "_original", runner.execute_job)

            def slow(job):
                time.sleep(delay)
                return original(job)

            slow._original = original
            runner.execute_job = slow

    return Slow()


def test_scheduler_killed_mid_sweep_is_one_line_and_the_rerun_resumes(tiny_root, tmp_path):
    distributed = pytest.importorskip("distributed")
    from eegvision._dask import run_dask
    from eegvision.data.things import load_subject
    from eegvision.pipeline import build_jobs
    from eegvision.runner import _run_and_store, run_jobs

    jobs = build_jobs("temporal", [1], load_subject(tiny_root, 1).test, root=tiny_root,
                      seeds=[0], model="ridge", windows="0-200,200-400,400-600")
    cache, info = tmp_path / "jobs", tmp_path / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                               "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                               str(info)], **quiet)]
    try:
        _wait_for(lambda: info.exists() and info.stat().st_size, 60, "no scheduler")
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                       address, "--nthreads", "1", "--no-nanny",
                                       "--no-dashboard"], **quiet))
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
            client.register_plugin(_slow_plugin(1.0))
        errors = []

        def sweep():
            try:
                run_dask(jobs, cache, _run_and_store, scheduler=address)
            except BaseException as err:  # noqa: BLE001 - the test inspects it
                errors.append(err)

        thread = threading.Thread(target=sweep)
        thread.start()
        _wait_for(lambda: list(cache.glob("*.json")), 60, "no job finished")
        procs[0].send_signal(signal.SIGKILL)  # the scheduler dies mid-sweep
        thread.join(timeout=90)
        assert not thread.is_alive(), "the sweep hung after its scheduler died"
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=30)
    assert len(errors) == 1 and isinstance(errors[0], EEGVisionError), errors
    message = str(errors[0])
    assert address in message and "rerun the same command to resume" in message
    done = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.json")}
    assert 1 <= len(done) < len(jobs)
    results = run_jobs(jobs, cache, progress=False)  # resumes: the finished jobs are read back
    assert [r["row"]["config_hash"] for r in results] == [j.key for j in jobs]
    assert all((cache / name).stat().st_mtime_ns == t for name, t in done.items())


# ------------------------------------------------- 3. silently wrong or stale
@pytest.fixture
def root(tiny_root, tmp_path):
    """A copy of the tiny root that a test may damage."""
    return shutil.copytree(tiny_root, tmp_path / "root")


def _files(root):
    from eegvision.data.things import find_subject_files

    return find_subject_files(root, 1)


def _rewrite_eeg(path, change):
    """Rewrite a preprocessed file in place with ``change(dict)`` applied."""
    from eegvision.data._pickle import load_dict_file

    d = dict(load_dict_file(path))
    change(d)
    with open(path, "wb") as fh:  # in place: same inode
        np.save(fh, np.array(d, dtype=object), allow_pickle=True)


def _train_argv(root, out):
    return ["train", "--data-dir", str(root), "--model", "ridge", "--out", str(out)]


@pytest.mark.parametrize("split", ["train_eeg", "test_eeg"])
def test_all_zero_eeg_is_an_error_naming_the_file(root, tmp_path, capsys, split):
    path = _files(root)[split]
    _rewrite_eeg(path, lambda d: d.update(
        preprocessed_eeg_data=np.zeros_like(d["preprocessed_eeg_data"])))
    status, err = _cli(_train_argv(root, tmp_path / "out"), capsys)
    line = _one_error_line(err)
    assert status == 2 and str(path) in line and "constant (every value is 0)" in line
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.parametrize("split", ["train_features", "test_features"])
def test_all_zero_features_are_an_error_naming_the_file(root, tmp_path, capsys, split):
    path = _files(root)[split]
    np.save(path, np.zeros_like(np.load(path)))
    status, err = _cli(_train_argv(root, tmp_path / "out"), capsys)
    line = _one_error_line(err)
    assert status == 2 and str(path) in line and "feature rows are identical" in line


def test_constant_data_in_memory_are_refused(tiny_root):
    from eegvision.data.things import load_subject
    from eegvision.pipeline import analyze

    data = load_subject(tiny_root, 1)
    data.train.features[:] = 0
    with pytest.raises(DataError, match="feature rows are identical"):
        analyze("temporal", data={1: data}, model="ridge", windows="0-100", progress=False,
                noise_ceiling=False, timecourse=False)


@pytest.mark.parametrize("change, match", [
    (lambda t: t * 1000, "look like milliseconds"),
    (lambda t: np.where(np.arange(len(t)) >= 10, t + 0.2, t), "not evenly spaced"),
    (lambda t: np.round(t, 1) + np.arange(len(t)) * 1e-6, "not evenly spaced"),
    (lambda t: t * 10, r"at 10 Hz; epochs of EEG span seconds at >= 10 Hz"),
])
def test_implausible_times_are_refused_naming_the_file(root, tmp_path, capsys, change, match):
    path = _files(root)["test_eeg"]
    _rewrite_eeg(path, lambda d: d.update(times=change(np.asarray(d["times"], float))))
    status, err = _cli(["info", "--data-dir", str(root)], capsys)
    assert status == 2 and str(path) in _one_error_line(err)
    assert pytest.importorskip("re").search(match, err), err


def test_times_in_memory_must_match_sfreq(tiny_root):
    from eegvision.data.container import EEGImageData
    from eegvision.data.things import load_subject
    from eegvision.pipeline import analyze

    data = load_subject(tiny_root, 1)
    for split in ("train", "test"):  # both claim 200 Hz, their times are 10 ms apart
        t = getattr(data, split)
        setattr(data, split, EEGImageData(t.eeg, t.features, t.concepts, t.ch_names, t.times,
                                          t.sfreq * 2))
    with pytest.raises(DataError, match="not evenly spaced at 5 ms"):
        analyze("temporal", data={1: data}, model="ridge", windows="0-100", progress=False,
                noise_ceiling=False, timecourse=False)


def test_file_rewritten_in_place_with_restored_mtime_is_not_served_stale(root, tmp_path):
    from eegvision import _provenance
    from eegvision.data.things import read_preprocessed

    path = _files(root)["train_eeg"]
    _rewrite_eeg(path, lambda d: None)  # as this test writes it: the rewrite keeps the size
    first = read_preprocessed(path)["eeg"].copy()  # now in the reading cache
    print_before = _provenance.file_fingerprint(path)
    st = path.stat()
    time.sleep(0.05)
    _rewrite_eeg(path, lambda d: d.update(
        preprocessed_eeg_data=d["preprocessed_eeg_data"] * 2))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime put back
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    again = read_preprocessed(path)["eeg"]
    np.testing.assert_allclose(again, 2 * first, rtol=1e-6)
    assert _provenance.file_fingerprint(path) != print_before  # so job keys change too


# ------------------------------------------------------------ 4. TOML recipes
def _recipe(tmp_path, text, name="r.toml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


BAD_RECIPES = [
    # (recipe text, key named, what was found, what is expected)
    ("seeds = [1.5]\n", "seeds", "1.5", "integer from 0"),
    ("seeds = [-1]\n", "seeds", "-1", "integer from 0"),
    ("seeds = 3\n", "seeds", "int", "a list of"),
    ("seeds = []\n", "seeds", "list", "a list of"),
    ("seeds = [true]\n", "seeds", "True", "integer from 0"),
    ('seeds = "0-99999999999"\n', "seeds", "0-99999999999", "too large"),
    ('subjects = "1-10000000000"\n', "subjects", "1-10000000000", "too large"),
    ("subjects = [0]\n", "subjects", "0", "integer from 1"),
    ("subjects = {a = 1}\n", "subjects", "dict", "a list of"),
    ("train = 3\n", "train", "int", "[train] table"),
    ("options = 5\n", "options", "int", "[options] table"),
    ('[train]\nepochs = "abc"\n', "[train] epochs", "'abc'", "integer from 1"),
    ("[train]\nepochs = 1e12\n", "[train] epochs", "1000000000000", "integer from 1 to 100000"),
    ("[train]\nepochs = 0\n", "[train] epochs", "0", "integer from 1"),
    ("[train]\nlr = nan\n", "[train] lr", "nan", "finite number > 0"),
    ("[train]\nlr = -1\n", "[train] lr", "-1", "finite number > 0"),
    ("[train]\nlr = inf\n", "[train] lr", "inf", "finite number > 0"),
    ('[train]\nlr = "fast"\n', "[train] lr", "'fast'", "finite number"),
    ("[train]\nbatch_size = 2.5\n", "[train] batch_size", "2.5", "integer from 2"),
    ("[train]\namp = 1\n", "[train] amp", "1", "true or false"),
    ("[train]\nbetas = 0.9\n", "[train] betas", "0.9", "two numbers"),
    ("[train]\ndropout = 1.5\n", "[train] dropout", "1.5", "<= 0.99"),
    ("[train]\nmodel = 3\n", "[train] model", "3", "a string"),
    ('[train]\nrecipe = "slow"\n', "[train] recipe", "'slow'", "one of 'fast'"),
    ('[train]\ndevice = "tpu"\n', "[train] device", "'tpu'", "'cpu'"),
    ('[train]\nkeep = "worst"\n', "[train] Invalid value for keep", "'worst'", "'best'"),
    ("[options]\nn_permutations = 1e12\n", "[options] n_permutations", "1000000000000", "to 1000000"),
    ("[options]\nn_permutations = 0\n", "[options] n_permutations", "0", "integer from 1"),
    ("[options]\nwidth = nan\n", "[options] width", "nan", "finite number > 0"),
    ('[options]\ntimecourse = "no"\n', "[options] timecourse", "'no'", "true or false"),
]


@pytest.mark.parametrize("text, key, found, expected", BAD_RECIPES, ids=[r[0] for r in BAD_RECIPES])
def test_every_bad_recipe_value_names_file_key_found_and_expected(tmp_path, capsys, text, key,
                                                                  found, expected):
    from eegvision.pipeline import read_recipe_file

    path = _recipe(tmp_path, text)
    with pytest.raises(OptionError) as info:
        read_recipe_file(path)
    message = " ".join(str(info.value).split())
    for part in (f"--config {path}:", key, found, expected):
        assert part in message, (part, message)
    status, err = _cli(["analyze", "temporal", "--config", str(path), "--model", "ridge",
                        "--out", str(tmp_path / "out")], capsys)
    assert status == 2 and str(path) in _one_error_line(err) and key in err


@pytest.mark.parametrize("blob, problem", [
    (b"seeds = [0]\n# caf\xe9\n", "not UTF-8 text (byte 0xe9 at offset 17)"),
    (b"seeds = [0\n", "not valid TOML"),
    (b"[train]\n[train]\n", "not valid TOML"),
    (b"x" * 10 + b" = " + b"[" * 5000 + b"]" * 5000 + b"\n", "TOML"),
])
def test_unreadable_recipe_is_one_error_naming_the_file(tmp_path, capsys, blob, problem):
    path = _recipe(tmp_path, blob)
    status, err = _cli(["analyze", "temporal", "--config", str(path)], capsys)
    line = _one_error_line(err)
    assert status == 2 and f"--config {path}:" in line and problem in line


def test_valid_recipes_still_parse_with_their_types(tmp_path):
    from pathlib import Path

    from eegvision.pipeline import read_recipe_file

    for recipe in sorted(Path(__file__).parents[1].glob("analyses/*.toml")):
        settings, _ = read_recipe_file(recipe)
        assert settings["subjects"] == list(range(1, 11)) and settings.get("epochs", 200) == 200
    settings, options = read_recipe_file(_recipe(tmp_path, 'seeds = [2, 0]\nsubjects = [3]\n'
                                                           '[train]\nepochs = 3.0\nlr = 1\n'
                                                           '[options]\nn_permutations = 50\n'))
    assert (settings["seeds"], settings["subjects"], settings["epochs"]) == ([0, 2], [3], 3)
    assert settings["train_options"] == {"lr": 1} and options == {"n_permutations": 50}


@pytest.mark.parametrize("seeds", [[1.5], [-1], 3, "0", [2**40], [np.nan]])
def test_api_refuses_bad_seeds_before_running(tiny_root, seeds):
    from eegvision.pipeline import analyze

    with pytest.raises(OptionError, match="seeds"):
        analyze("temporal", data_dir=tiny_root, seeds=seeds, model="ridge", windows="0-100",
                progress=False)


# ------------------------------------------------------------ 4. counts
@pytest.mark.parametrize("argv, option", [
    (["--subjects", "1-10000000000"], "--subjects"),
    (["--subjects", "1,2,3-99999999999999999999"], "--subjects"),
    (["--seeds", "0-10000000"], "--seeds"),
    (["--seed", str(2**40)], "--seed"),
    (["--epochs", "1000000000"], "--epochs"),
    (["--jobs", "100000"], "--jobs"),
    (["--n-permutations", "1e12"], "--n-permutations"),
    (["--n-permutations", "1000000000000"], "--n-permutations"),
    (["--width", "nan", "--step", "10"], "--width"),
    (["--step", "inf", "--width", "10"], "--step"),
    (["--bin-ms", "-1"], "--bin-ms"),
])
def test_absurd_counts_are_refused_at_parse_time(tiny_root, tmp_path, capsys, argv, option):
    t0 = time.perf_counter()
    status, err = _cli(["analyze", "semantic", "--data-dir", str(tiny_root), "--model", "ridge",
                        "--out", str(tmp_path / "out"), *argv], capsys)
    assert status == 2 and option in _one_error_line(err)
    assert time.perf_counter() - t0 < 20  # refused, not allocated
    assert not (tmp_path / "out" / "results.csv").exists()


def test_absurd_counts_are_refused_by_the_api(tiny_root):
    from eegvision.pipeline import analyze

    with pytest.raises(OptionError, match="n_permutations 1000000000000: expected an integer"):
        analyze("semantic", data_dir=tiny_root, model="ridge", n_permutations=10**12,
                progress=False)
    with pytest.raises(OptionError, match="epochs 1000000000: expected an integer from 1"):
        from eegvision.training import TrainConfig

        TrainConfig(epochs=10**9)


@pytest.mark.parametrize("blur, found", [("1e12", "1000000000000"), ("nan", "nan"), ("-1", "-1")])
def test_features_blur_is_bounded_before_any_image_is_read(root, tmp_path, capsys, blur, found):
    status, err = _cli(["features", "--data-dir", str(root), "--model", str(tmp_path / "none"),
                        "--blur", blur], capsys)
    line = _one_error_line(err)
    assert status == 2 and "--blur" in line and found in line and "radius" not in line


def test_simulate_counts_are_bounded(tmp_path, capsys):
    for argv in (["--subjects", "100000"], ["--blur-levels", "1000000"],
                 ["--eeg-detail", "nan"]):
        status, err = _cli(["simulate", str(tmp_path / "sim"), *argv], capsys)
        assert status == 2 and argv[0] in _one_error_line(err)
    assert not (tmp_path / "sim").exists()


# ------------------------------------------------------ 4. encoder plugins
def _plugins():
    import torch

    class Wide(torch.nn.Module):
        def __init__(self, n_chans, n_times, n_outputs, width):
            super().__init__()
            self.lin = torch.nn.Linear(n_chans * n_times, n_outputs + width)

        def forward(self, x):
            return self.lin(x.flatten(1))

    class ThreeD(Wide):
        def forward(self, x):
            return super().forward(x)[:, None]

    class Pair(Wide):
        def forward(self, x):
            return super().forward(x), x

    def raises(*args, **kwargs):
        raise RuntimeError("no GPU kernel for this build")

    return {
        "wrong-width": (lambda c, t, o, s: Wide(c, t, o, 3), "tensor of shape (2, 11)"),
        "three-d": (lambda c, t, o, s: ThreeD(c, t, o, 0), "tensor of shape (2, 1, 8)"),
        "tuple-out": (lambda c, t, o, s: Pair(c, t, o, 0), "returned a tuple"),
        "factory-raises": (raises, "raised RuntimeError when built for n_chans=4"),
        "not-a-module": (lambda c, t, o, s: [c, t], "returned a list, expected a torch.nn.Module"),
        "bad-input": (lambda c, t, o, s: Wide(c + 1, t, o, 0), "failed on a batch of shape"),
    }


@pytest.mark.parametrize("name", ["wrong-width", "three-d", "tuple-out", "factory-raises",
                                  "not-a-module", "bad-input"])
def test_broken_encoder_plugin_is_one_error_naming_it(name):
    pytest.importorskip("torch")
    from eegvision.models import create_encoder, register_encoder, unregister_encoder

    factory, returned = _plugins()[name]
    register_encoder(name, factory)
    try:
        with pytest.raises(OptionError) as info:
            create_encoder(name, n_chans=4, n_times=5, n_outputs=8)
    finally:
        unregister_encoder(name)
    message = str(info.value)
    assert f"--model {name!r}" in message and "registered factory" in message
    assert returned in message
    if name in ("wrong-width", "three-d", "tuple-out"):
        assert "expected a tensor of shape (2, 8)" in message


def test_broken_entry_point_plugin_via_the_cli(tiny_root, tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    from importlib.metadata import EntryPoint

    from eegvision import models

    module = type(sys)("eegvision_test_bad_plugin")
    module.build = _plugins()["three-d"][0]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    ep = EntryPoint("bad-net", f"{module.__name__}:build", models.ENTRY_POINT_GROUP)
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group=None: [ep])
    monkeypatch.setattr(models, "_PLUGINS_LOADED", [])
    monkeypatch.setattr(models, "_USER", {})
    status, err = _cli(["train", "--data-dir", str(tiny_root), "--model", "bad-net", "--epochs",
                        "1", "--device", "cpu", "--out", str(tmp_path / "out")], capsys)
    line = _one_error_line(err)
    assert status == 2 and "entry point eegvision_test_bad_plugin:build" in line
    assert "expected a tensor of shape (2," in line and "(2, 1," in line


# ------------------------------------------------------ 4. missing centres
def test_missing_centres_name_targets_images(root, tmp_path, capsys):
    _files(root)["test_features"].unlink()
    status, err = _cli(_train_argv(root, tmp_path / "out"), capsys)
    line = _one_error_line(err)
    assert status == 2 and "center_clip.npy" in line and "--targets images" in line
    assert "eegvision features --things-images" in line


def test_saliency_bins_below_a_sample_are_refused_before_allocating(tiny_root, tmp_path, capsys):
    status, err = _cli(["topomap", "--data-dir", str(tiny_root), "--model", "ridge",
                        "--bin-ms", "1e-9", "--out", str(tmp_path / "out")], capsys)
    line = _one_error_line(err)
    assert status == 2 and "--bin-ms" in line and "a bin holds at least one sample" in line


@pytest.mark.parametrize("kw, match", [(dict(epochs=1.5), "epochs 1.5"),
                                       (dict(jobs=10**9), "jobs 1000000000")])
def test_api_counts_are_checked(tiny_root, kw, match):
    from eegvision.pipeline import analyze

    with pytest.raises(OptionError, match=match):
        analyze("temporal", data_dir=tiny_root, model="ridge", windows="0-100", progress=False,
                **kw)
