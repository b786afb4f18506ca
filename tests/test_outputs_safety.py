"""Output folders: nothing outside ``--out`` is touched, nothing of the user's is lost.

Issue 25, section 1. Every case builds its own hostile folder in ``tmp_path``:
manifests that name files outside ``--out`` (absolute, ``..``, through a
symlinked folder), one command run into another's folder, two runs at once,
a non-UTF-8 ``--out``, a user's ``.download.tmp``. The fuzz test at the end
drives the manifest with generated hostile content.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegvision._outdir import (
    LOCK,
    MANIFEST,
    OutputError,
    check_claim,
    output_folder,
    read_manifest,
    remove_dead_temporaries,
    staged_outputs,
)
from eegvision._utils import atomic_path, temp_tag

REPO = Path(__file__).resolve().parents[1]


def _sig(path):
    data = Path(path).read_bytes()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _manifest(out, files, command="analyze temporal", run="0-0"):
    (Path(out) / MANIFEST).write_text(json.dumps(
        {"eegvision_outputs": 2, "command": command, "run": run, "files": files}))


def _snapshot(folder):
    """Every entry under ``folder`` (links not followed): kind, bytes, mtime."""
    snap = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_symlink():
            snap[p] = ("link", os.readlink(p))
        elif p.is_file():
            snap[p] = ("file", p.read_bytes(), p.stat().st_mtime_ns)
        else:
            snap[p] = ("dir",)
    return snap


def _commit(out, files=("results.csv",), command="analyze temporal", overwrite=False):
    with staged_outputs(out, command, overwrite=overwrite) as stage:
        for name in files:
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_text(f"new {name}\n")


@pytest.fixture
def hostile(tmp_path):
    """An --out folder beside an ``outside`` folder of victims, linked from inside ``out``."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.csv").write_text("the user's data\n")
    (outside / "other.txt").write_text("more data\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(outside, target_is_directory=True)  # a symlinked subfolder
    (out / "vlink.csv").symlink_to(outside / "victim.csv")
    return out, outside


# ------------------------------------------------------------ 1. the manifest
def test_manifest_naming_files_outside_out_deletes_nothing(hostile):
    out, outside = hostile
    victim = _sig(outside / "victim.csv")
    _manifest(out, {str(outside / "victim.csv"): victim,         # absolute
                    "../outside/victim.csv": victim,             # ..
                    "link/victim.csv": victim,                   # through a symlinked folder
                    "vlink.csv": victim,                         # a link to the victim
                    "link/../link/victim.csv": victim,
                    "./vlink.csv": victim, "link//victim.csv": victim})
    before = _snapshot(outside)
    _commit(out)
    assert _snapshot(outside) == before
    assert (out / "link").is_symlink() and (out / "vlink.csv").is_symlink()
    assert (out / "results.csv").read_text() == "new results.csv\n"
    assert set(read_manifest(out).files) == {"results.csv"}


def test_only_files_the_manifest_proves_eegvision_wrote_are_deleted(tmp_path):
    out = tmp_path / "out"
    _commit(out, ("results.csv", "temporal.png", "old.csv"))
    (out / "old.csv").write_text("edited by the user\n")  # changed since eegvision wrote it
    (out / "notes.txt").write_text("mine\n")               # never listed
    _commit(out, ("results.csv",))                          # the same command, fewer outputs
    assert not (out / "temporal.png").exists(), "a stale output of the same command stayed"
    assert (out / "old.csv").read_text() == "edited by the user\n"
    assert (out / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("content", [
    b"", b"{", b'{"eegvision_outputs": 2, "command": "analyze temporal", "files": {"a',
    b"\xff\xfe not utf-8", b"[1, 2", b"null", b"3", b'"x"', b"[" * 100_000 + b"]" * 100_000,
    json.dumps(["../outside/victim.csv", "/etc/hosts"]).encode(),   # the old list format
    json.dumps({"eegvision_outputs": 2, "command": 5, "run": "0", "files": {}}).encode(),
    json.dumps({"eegvision_outputs": 2, "command": "a", "run": "0", "files": []}).encode(),
])
def test_malformed_manifest_proves_nothing(hostile, content):
    out, outside = hostile
    (out / "own.csv").write_text("x\n")
    (out / MANIFEST).write_bytes(content)
    before = _snapshot(outside)
    _commit(out)
    assert _snapshot(outside) == before and (out / "own.csv").exists()


def test_huge_manifest_is_ignored_as_a_whole(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "own.csv").write_text("x\n")
    files = {"own.csv": _sig(out / "own.csv")}
    files.update({f"f{i:07d}.csv": {"size": 1, "sha256": "0" * 64} for i in range(60_000)})
    _manifest(out, files)
    assert (out / MANIFEST).stat().st_size > 4 << 20
    t0 = time.perf_counter()
    _commit(out)
    assert (out / "own.csv").exists() and time.perf_counter() - t0 < 5


def test_manifest_that_is_a_link_is_not_read(hostile):
    out, outside = hostile
    (outside / "m.json").write_text(json.dumps({
        "eegvision_outputs": 2, "command": "analyze temporal", "run": "0",
        "files": {"own.csv": {"size": 2, "sha256": hashlib.sha256(b"x\n").hexdigest()}}}))
    (out / MANIFEST).symlink_to(outside / "m.json")
    (out / "own.csv").write_text("x\n")
    assert read_manifest(out) is None
    _commit(out)
    assert (out / "own.csv").exists() and (outside / "m.json").exists()


def test_outputs_are_never_written_through_a_link(hostile):
    out, outside = hostile
    (out / "results.csv").symlink_to(outside / "victim.csv")
    before = _snapshot(outside)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="results.csv"):
            _commit(out, overwrite=overwrite)
    with pytest.raises(OutputError, match="link/x.csv"):  # a new file below a linked folder
        _commit(out, ("link/x.csv",), overwrite=True)
    assert _snapshot(outside) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".staging-")]


# ------------------------------------------------------------ 2. one command per folder
def _cli(argv, capsys):
    from eegvision.cli import main

    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return status, captured.err


def _analyze(root, out, *extra):
    return ["analyze", "temporal", "--data-dir", root, "--model", "ridge", "--windows",
            "0-100", "--no-noise-ceiling", "--out", out, *extra]


def _train(root, out, *extra):
    return ["train", "--data-dir", root, "--model", "ridge", "--out", out, *extra]


def _files(out):
    return {p.name: p.read_bytes() for p in Path(out).iterdir() if p.is_file()}


def test_analyze_into_a_training_folder_is_refused(tiny_root, tmp_path, capsys):
    out = tmp_path / "m"
    assert _cli(_train(tiny_root, out), capsys)[0] == 0
    trained = _files(out)
    assert {"model.pt", "metrics.json", "results.csv"} <= set(trained)
    for argv in (_analyze(tiny_root, out), ["topomap", "--data-dir", tiny_root, "--out", out],
                 ["evaluate", out / "model.pt", "--data-dir", tiny_root, "--out", out],
                 ["figures", "--results", out, "--out", out]):
        status, err = _cli(argv, capsys)
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        assert f"--out {out}: holds the outputs of `eegvision train`" in err
        assert "model.pt" in err and "--overwrite" in err
        assert _files(out) == trained, argv
    # rerunning the command that owns the folder is allowed (and replaces its files)
    assert _cli(_train(tiny_root, out), capsys)[0] == 0
    # --overwrite: analyze replaces train's outputs, deleting only what eegvision wrote
    (out / "notes.txt").write_text("mine\n")
    assert _cli(_analyze(tiny_root, out, "--overwrite"), capsys)[0] == 0
    assert not (out / "model.pt").exists() and not (out / "metrics.json").exists()
    assert (out / "notes.txt").read_text() == "mine\n"
    assert read_manifest(out).command == "analyze temporal"


def test_train_into_an_analysis_folder_is_refused(tiny_root, tmp_path, capsys):
    out = tmp_path / "a"
    assert _cli(_analyze(tiny_root, out), capsys)[0] == 0
    before = _files(out)
    status, err = _cli(_train(tiny_root, out), capsys)
    assert status == 2 and "holds the outputs of `eegvision analyze temporal`" in err
    assert "temporal.png" in read_manifest(out).files and _files(out) == before
    status, err = _cli(["analyze", "spatial", "--data-dir", tiny_root, "--model", "ridge",
                        "--out", out], capsys)
    assert status == 2 and "`eegvision analyze spatial` would replace" in err
    status, err = _cli(["topomap", "--data-dir", tiny_root, "--out", out], capsys)
    assert status == 2 and "`eegvision analyze saliency` would replace" in err
    assert _files(out) == before
    assert _cli(_analyze(tiny_root, out), capsys)[0] == 0  # its own folder: allowed


def test_a_users_file_of_an_output_name_is_never_replaced(tiny_root, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "results.csv").write_text("my own table\n")
    status, err = _cli(_analyze(tiny_root, out), capsys)
    assert status == 2 and "results.csv is not a file eegvision wrote there" in err
    assert (out / "results.csv").read_text() == "my own table\n"
    assert not (out / "jobs").exists(), "work started before the refusal"
    status, err = _cli(_train(tiny_root, out), capsys)
    assert status == 2 and (out / "results.csv").read_text() == "my own table\n"
    assert _cli(_analyze(tiny_root, out, "--overwrite"), capsys)[0] == 0
    assert (out / "results.csv").read_text() != "my own table\n"


def test_per_subject_folders_are_checked_before_training(tmp_path):
    from eegvision.training.runs import train_folders

    out = tmp_path / "t"
    _commit(out / "sub-02", ("results.csv", "config.json"))  # an analysis in sub-02/
    with pytest.raises(OutputError, match=r"sub-02: holds the outputs of `eegvision analyze"):
        with train_folders(out, [out / "sub-01", out / "sub-02"]):
            pytest.fail("training started")
    assert not (out / LOCK).exists()
    with train_folders(out, [out / "sub-01", out / "sub-02"], overwrite=True):
        pass


def test_evaluate_into_its_own_folder_twice(tiny_root, tmp_path, capsys):
    model = tmp_path / "m"
    assert _cli(_train(tiny_root, model), capsys)[0] == 0
    ev = tmp_path / "ev"
    for _ in range(2):
        status, err = _cli(["evaluate", model / "model.pt", "--data-dir", tiny_root,
                            "--out", ev], capsys)
        assert status == 0, err
    assert read_manifest(ev).command == "evaluate"
    assert set(read_manifest(ev).files) == {"metrics.json", "ranks.csv"}


def test_api_overwrite_keyword(tiny_root, tmp_path):
    from eegvision.pipeline import analyze

    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text("{}")
    kwargs = dict(data_dir=tiny_root, model="ridge", windows="0-100", noise_ceiling=False,
                  plot=False, progress=False, out=out)
    with pytest.raises(OutputError, match="config.json is not a file eegvision wrote"):
        analyze("temporal", [1], **kwargs)
    analyze("temporal", [1], overwrite=True, **kwargs)
    assert json.loads((out / "config.json").read_text())["analysis"] == "temporal"


# ------------------------------------------------------------ 3. the lock
_HOLDER = """
import sys, time
from pathlib import Path
from eegvision._outdir import output_folder
with output_folder(sys.argv[1], "analyze temporal"):
    print("locked", flush=True)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.02)
"""


def _holder(out, release):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out), str(release)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_into_a_locked_folder_refuses(tiny_root, tmp_path):
    out, release = tmp_path / "out", tmp_path / "release"
    holder = _holder(out, release)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "eegvision", *map(str, _analyze(tiny_root, out))], cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"},
            capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr
        assert f"another eegvision run is writing there (pid {holder.pid}" in lines[0]
        assert not (out / "results.csv").exists() and not (out / "jobs").exists()
    finally:
        release.touch()
        holder.wait(timeout=30)
    assert not (out / LOCK).exists(), "the lock file outlived its run"
    with output_folder(out, "analyze temporal"):  # free again
        pass


def test_the_lock_of_a_killed_run_is_free(tmp_path):
    out = tmp_path / "out"
    holder = _holder(out, tmp_path / "never")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (out / LOCK).exists()  # left behind, but the kernel released the flock
    _commit(out)
    assert (out / "results.csv").exists() and not (out / LOCK).exists()


def test_lock_file_that_is_a_link_is_refused(hostile):
    out, outside = hostile
    (out / LOCK).symlink_to(outside / "victim.csv")
    before = _snapshot(outside)
    with pytest.raises(OutputError, match="lock file"):
        _commit(out)
    assert _snapshot(outside) == before


# ------------------------------------------------------------ 4. a non-UTF-8 --out
def test_non_utf8_out_is_refused_before_any_work(tiny_root, tmp_path, capsys):
    out = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xffout"))
    for argv in (_train(tiny_root, out), _analyze(tiny_root, out)):
        status, err = _cli(argv, capsys)
        assert status == 2 and len(err.strip().splitlines()) == 1
        assert "not valid UTF-8" in err and "--out" in err
    assert os.listdir(tmp_path) == [], "a folder was created before the refusal"


def test_non_utf8_argument_still_commits_every_output(tiny_root, tmp_path, capsys):
    """The cause: the command line in every result row held a lone surrogate."""
    root = Path(os.fsdecode(bytes(tmp_path) + b"/root\xff"))
    root.symlink_to(tiny_root, target_is_directory=True)
    out = tmp_path / "out"
    status, err = _cli(_train(root, out), capsys)
    assert status == 0, err
    assert {"results.csv", "metrics.json", "model.pt"} <= set(_files(out))
    import pandas as pd

    assert "root\\udcff" in pd.read_csv(out / "results.csv")["command"].iloc[0]


# ------------------------------------------------------------ 5. temporaries
def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_eegvisions_temporaries_of_dead_writers_are_removed(tmp_path):
    out = tmp_path / "root"
    out.mkdir()
    old = time.time() - 7200
    users = [out / ".download.tmp", out / ".results.csv.abc123.tmp", out / ".staging-1-x"]
    users[0].write_text("half a download")
    users[1].write_text("a user's")
    users[2].mkdir()
    for p in users:
        os.utime(p, (old, old))
    host = temp_tag().rsplit("-", 1)[1]
    dead, alive = _dead_pid(), os.getpid()
    ours_dead = [out / f".results.csv.eegvision-{dead}-{host}.k2j4.tmp",
                 out / f".staging-eegvision-{dead}-{host}.a_b9"]
    ours_alive = [out / f".results.csv.eegvision-{alive}-{host}.k2j4.tmp",
                  out / f".x.eegvision-{dead}-otherhost.k2j4.tmp",  # another host's writer
                  out / f".x.eegvision-0-{host}.k2j4.tmp"]
    ours_dead[0].write_text("")
    ours_dead[1].mkdir()
    for p in ours_alive:
        p.write_text("")
    _commit(out)
    assert all(p.exists() for p in users + ours_alive)
    assert not any(p.exists() for p in ours_dead)
    jobs = out / "jobs"  # the runner's cache sweeps the same way
    jobs.mkdir()
    (jobs / ".abc.json.def.tmp").write_text("a user's")
    (jobs / f".abc.json.eegvision-{dead}-{host}.k2j4.tmp").write_text("")
    remove_dead_temporaries(jobs)
    assert [p.name for p in jobs.iterdir()] == [".abc.json.def.tmp"]


def test_every_temporary_carries_the_writers_tag(tmp_path):
    with atomic_path(tmp_path / "a.csv") as tmp:
        assert f".a.csv.{temp_tag()}." in tmp.name and tmp.name.endswith(".tmp")
        tmp.write_text("x")
    with staged_outputs(tmp_path / "o", "t") as stage:
        assert stage.name.startswith(f".staging-{temp_tag()}.")
    assert temp_tag().split("-")[1] == str(os.getpid())


# ------------------------------------------------------------ 6. fuzzing the manifest
FUZZ = settings(max_examples=80, deadline=timedelta(seconds=10),
                suppress_health_check=[HealthCheck.too_slow])

def _weighted(*pairs):
    """``one_of`` with weights (hypothesis draws the branches of ``one_of`` evenly)."""
    total = sum(w for w, _ in pairs)

    def pick(i):
        for w, strategy in pairs:
            if i < w:
                return strategy
            i -= w
        raise AssertionError

    return st.integers(0, total - 1).flatmap(pick)


_outward = st.sampled_from(["/VICTIM", "../outside/victim.csv", "link/victim.csv", "vlink.csv",
                            "link/../../outside/victim.csv", "link/./victim.csv"])
_odd = st.sampled_from(["./own.csv", "own.csv", "own.csv/", "", ".", "..", "\x00", "link",
                        MANIFEST, LOCK, "notes.txt", "a\\..\\b"])
_hostile_names = _weighted(  # mostly the names that reach outside
    (6, _outward), (2, _odd), (1, st.text(max_size=30)),
    (1, st.lists(st.sampled_from(["..", "link", "own.csv", ".", "x", "\u00e9", "\udcff"]),
                 min_size=1, max_size=5).map("/".join)))
_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                 st.text(max_size=20)),
                       lambda inner: st.lists(inner, max_size=4) |
                       st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
_signatures = _weighted(  # mostly the real signatures of the victim and of an own file
    (5, st.just("VICTIM_SIG")), (2, st.just("OWN_SIG")), (1, _values),
    (1, st.fixed_dictionaries({"size": st.integers(-5, 100), "sha256": st.text(max_size=64)})))
_file_entries = st.dictionaries(_hostile_names, _signatures, min_size=1, max_size=12)
_manifests = _weighted(
    (6, st.fixed_dictionaries({"eegvision_outputs": st.just(2),  # parses: the names decide
                               "command": st.sampled_from(["t", "other"]),
                               "run": st.sampled_from(["0", "r"]), "files": _file_entries})),
    (2, st.fixed_dictionaries({"eegvision_outputs": st.sampled_from([2, 1, "2", None]),
                               "command": st.sampled_from(["t", "other", 5, None]),
                               "run": st.sampled_from(["0", "r", 3]),
                               "files": st.one_of(_file_entries, _values,
                                                  st.lists(_hostile_names, max_size=50))})),
    (1, st.lists(_hostile_names, max_size=200)),  # the list format of earlier versions
    (1, _values))


def _materialise(value, victim, own, outside):
    if value == "VICTIM_SIG":
        return victim
    if value == "OWN_SIG":
        return own
    if isinstance(value, str):
        return value.replace("/VICTIM", str(outside / "victim.csv"))
    if isinstance(value, dict):
        return {_materialise(k, victim, own, outside): _materialise(v, victim, own, outside)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_materialise(v, victim, own, outside) for v in value]
    return value


@FUZZ
@given(manifest=_manifests, truncate=_weighted((3, st.none()), (1, st.integers(0, 400))),
       overwrite=st.booleans(), command=st.sampled_from(["t", "other"]))
def test_fuzz_hostile_manifest_touches_nothing_outside_out(manifest, truncate, overwrite,
                                                           command):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        outside, out = tmp / "outside", tmp / "out"
        outside.mkdir()
        out.mkdir()
        (outside / "victim.csv").write_text("the user's data\n")
        (out / "link").symlink_to(outside, target_is_directory=True)
        (out / "vlink.csv").symlink_to(outside / "victim.csv")
        (out / "own.csv").write_text("written by eegvision\n")
        (out / "notes.txt").write_text("the user's notes\n")
        manifest = _materialise(manifest, _sig(outside / "victim.csv"), _sig(out / "own.csv"),
                                outside)
        text = json.dumps(manifest, ensure_ascii=False).encode("utf-8", "surrogatepass")
        (out / MANIFEST).write_bytes(text if truncate is None else text[:truncate])
        before_out = _snapshot(out)
        before = _snapshot(outside)
        try:
            check_claim(out, command, overwrite=overwrite, names=["results.csv"])
            _commit(out, ("results.csv",), command=command, overwrite=overwrite)
        except OutputError as err:  # a refusal: one message, the folder unchanged
            assert str(out) in str(err)
            assert _snapshot(out) == before_out
        assert _snapshot(outside) == before
        assert (out / "notes.txt").read_text() == "the user's notes\n"
        assert (out / "link").is_symlink() and (out / "vlink.csv").is_symlink()
        leftovers = [p.name for p in out.iterdir()
                     if p.name.startswith(".staging-") or p.name == LOCK]
        assert not leftovers, leftovers
