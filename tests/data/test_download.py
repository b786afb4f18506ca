"""``eegvision download`` end to end against a loopback server (no network).

The server (127.0.0.1, a daemon thread, shut down by the fixture and by a
timer after 60 s at the latest) serves small fixture files at the URL shapes
of the real hosts: OSF's ``download/<id>/`` redirect and ``/v2/files/<id>/``
file API, a component's ``/v2/nodes/<id>/files/osfstorage/`` listing,
Figshare's ``ndownloader/files/<id>`` and article file list, GitHub's raw
files and NEMAR's manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from eegvision.cli import main
from eegvision.data import download as dl
from eegvision.data.download import fetch_things_eeg2, read_sources

NICE_COMMIT = "1c4770cc4d2dc5aa67b3a65a7d958ce137d135f7"


# ------------------------------------------------------------------ server
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        rng = self.headers.get("Range")
        self.server.log.append((path, rng))
        route = self.server.routes.get(path)
        if route is None:
            return self._send(404, b"Not Found")
        time.sleep(route.get("sleep", 0))
        if "redirect" in route:
            return self._send(302, b"", {"Location": self.server.base + route["redirect"]})
        if "json" in route:
            return self._send(200, json.dumps(route["json"]).encode(),
                              {"Content-Type": "application/json"})
        return self._body(route, rng)

    def _body(self, route, rng):
        body, start = route["body"], 0
        if rng:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
        part = body[start:]
        if route.get("corrupt"):  # flip one byte in what is sent
            part = part[:1] + bytes([part[1] ^ 0xFF]) + part[2:]
        headers = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"} if start else {}
        if route.get("cut", 0) > 0:  # send half, then drop the connection
            route["cut"] -= 1
            self._head(206 if start else 200, len(part), headers)
            self.wfile.write(part[: len(part) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        return self._send(206 if start else 200, part, headers)

    def _head(self, status, length, headers):
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, status, body, headers=None):
        self._head(status, len(body), headers or {})
        self.wfile.write(body)


class _Host(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes, self.log = {}, []
        self.base = f"http://127.0.0.1:{self.server_port}"

    def handle_error(self, request, client_address):  # the client hung up on a slow or cut reply
        pass

    def urls(self):
        b = self.base
        return dict(osf=b, osf_api=f"{b}/v2", figshare=f"{b}/figshare",
                    figshare_api=f"{b}/figshare-api/v2", github=f"{b}/gh", nemar=f"{b}/nemar")

    def osf_file(self, file_id, name, body, *, hash_key="sha256", **route):
        self.routes[f"/download/{file_id}/"] = dict(redirect=f"/storage/{file_id}")
        self.routes[f"/storage/{file_id}"] = dict(body=body, **route)
        hashes = {hash_key: hashlib.new(hash_key, body).hexdigest()} if hash_key else {}
        self.routes[f"/v2/files/{file_id}/"] = dict(json=dict(data=dict(attributes=dict(
            name=name, size=len(body), extra=dict(hashes=hashes)))))

    def requested(self, prefix):
        return [(p, r) for p, r in self.log if p.startswith(prefix)]


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch):
    monkeypatch.setattr(dl, "_RETRY_WAIT", 0.0)


@pytest.fixture
def host():
    server = _Host()
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.05),
                              daemon=True)
    thread.start()
    stop = threading.Timer(60, server.shutdown)  # bounded: stops by itself
    stop.daemon = True
    stop.start()
    yield server
    stop.cancel()
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ fixture files
def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(obj):
    buf = io.BytesIO()
    np.save(buf, obj, allow_pickle=isinstance(obj, dict))
    return buf.getvalue()


@pytest.fixture(scope="module")
def published():
    """Small files written as the public code writes them (np.save of dicts), zipped as published."""
    from eegvision.data.montage import OFFICIAL_17_CHANNELS, THINGS_EEG2_CHANNELS

    rng = np.random.default_rng(0)
    times = np.round(np.arange(-0.2, 0.8, 0.01), 2)
    pre = _zip({f"sub-01/preprocessed_eeg_{split}.npy": _npy(dict(
        preprocessed_eeg_data=rng.standard_normal((n, reps, 17, 100)).astype(np.float32),
        ch_names=list(OFFICIAL_17_CHANNELS), times=times))
        for split, n, reps in (("training", 20, 2), ("test", 10, 2))})
    raw = _zip({f"sub-01/ses-{ses:02d}/raw_eeg_{split}.npy": _npy(dict(
        raw_eeg_data=np.zeros((64, 50)), ch_names=THINGS_EEG2_CHANNELS + ["stim"],
        ch_types=["eeg"] * 63 + ["stim"], sfreq=1000.0))
        for ses in range(1, 5) for split in ("training", "test")})
    meta = {f"{split}_img_{key}": np.array([f"{i + 1:05d}_concept{i}" + ext for i in range(n)])
            for split, n in (("train", 20), ("test", 10))
            for key, ext in (("concepts", ""), ("files", ".jpg"))}
    return dict(pre=pre, raw=raw, features=_npy(np.ones((10, 1, 8), dtype=np.float32)),
                meta=_npy(meta), test_images=_zip({"test_images/00001_a/a.jpg": b"jpg" * 10}))


def _fetch(tmp_path, host, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("echo", None)
    kw.setdefault("timeout", 5)
    return fetch_things_eeg2(tmp_path / "root", base_urls=host.urls(), **kw)


# ------------------------------------------------------------------ the table
def test_sources_table_is_shipped_and_read():
    table = read_sources()
    assert dl.SOURCES_FILE.is_file() and dl.SOURCES_FILE.parent.name == "data"
    pre = table[table["what"] == "preprocessed"]
    assert list(pre["subject"]) == [str(s) for s in range(1, 11)]
    assert pre["url"].str.fullmatch(r"https://osf\.io/download/\w{5}/").all()
    raw = table[table["what"] == "raw"]
    assert raw["url"].str.startswith("https://plus.figshare.com/ndownloader/files/").all()
    assert set(table["what"]) == {"preprocessed", "raw", "images", "features", "bids"}


def test_sources_table_is_package_data(monkeypatch):
    """setuptools' build_py, configured by setup.cfg, copies sources.tsv into the package."""
    from setuptools import find_packages
    from setuptools.dist import Distribution

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)
    dist = Distribution()
    dist.parse_config_files([str(repo / "setup.cfg")])
    dist.packages = find_packages(include=["eegvision", "eegvision.*"])
    build = dist.get_command_obj("build_py")
    build.ensure_finalized()
    shipped = {pkg: files for pkg, _, _, files in build.data_files}
    assert "sources.tsv" in shipped["eegvision.data"]
    assert any(r.startswith("pooch") for r in dist.install_requires)


def test_no_test_host_is_shipped():
    text = dl.SOURCES_FILE.read_text() + Path(dl.__file__).read_text()
    assert "127.0.0.1" not in text and "localhost" not in text


# ------------------------------------------------------------------ OSF
def test_preprocessed_end_to_end(tmp_path, host, published):
    host.osf_file("nb8wr", "sub-01.zip", published["pre"])
    report = _fetch(tmp_path, host, subjects=1, what="preprocessed")
    root = tmp_path / "root"
    folder = root / "eeg_dataset" / "preprocessed_data" / "sub-01"
    assert sorted(p.name for p in folder.iterdir()) == ["preprocessed_eeg_test.npy",
                                                        "preprocessed_eeg_training.npy"]
    assert not (folder.parent / "sub-01.zip").exists()  # the archive is removed once unpacked
    row = report.iloc[0]
    assert row["status"] == "downloaded" and row["check"] == "sha256 from OSF"
    assert "training (20, 2, 17, 100), test (10, 2, 17, 100)" in row["summary"]
    registry = json.loads((root / dl.REGISTRY).read_text())["files"]
    assert registry["eeg_dataset/preprocessed_data/sub-01.zip"]["hash"] == \
        "sha256:" + hashlib.sha256(published["pre"]).hexdigest()
    from eegvision.data.things import read_preprocessed

    host.routes.clear()  # the readers use what was unpacked, offline
    assert read_preprocessed(folder / "preprocessed_eeg_test.npy", cache=False)["eeg"].shape == \
        (10, 17, 100)
    assert not list(root.rglob("*.part")) and not list(root.rglob(".eegvision-unzip-*"))


def test_rerun_skips_and_overwrite_replaces(tmp_path, host, published):
    host.osf_file("nb8wr", "sub-01.zip", published["pre"])
    _fetch(tmp_path, host, subjects=1, what="preprocessed")
    target = tmp_path / "root/eeg_dataset/preprocessed_data/sub-01/preprocessed_eeg_test.npy"
    target.write_bytes(b"edited by the user")
    n_requests = len(host.log)
    report = _fetch(tmp_path, host, subjects=1, what="preprocessed")
    assert report.iloc[0]["status"] == "there" and len(host.log) == n_requests  # no network
    assert target.read_bytes() == b"edited by the user"
    report = _fetch(tmp_path, host, subjects=1, what="preprocessed", overwrite=True)
    assert report.iloc[0]["status"] == "downloaded"
    assert target.read_bytes() != b"edited by the user"


def test_half_present_subject_is_refused_without_overwrite(tmp_path, host, published):
    host.osf_file("nb8wr", "sub-01.zip", published["pre"])
    mine = tmp_path / "root/eeg_dataset/preprocessed_data/sub-01/preprocessed_eeg_test.npy"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"mine")
    with pytest.raises(dl.DataError, match="--overwrite"):
        _fetch(tmp_path, host, subjects=1, what="preprocessed")
    assert mine.read_bytes() == b"mine" and host.log == []


def test_connection_cut_halfway_resumes(tmp_path, host, published):
    host.osf_file("nb8wr", "sub-01.zip", published["pre"], cut=1)
    report = _fetch(tmp_path, host, subjects=1, what="preprocessed")
    assert report.iloc[0]["status"] == "downloaded"
    ranges = [r for _, r in host.requested("/storage/nb8wr")]
    assert len(ranges) == 2 and ranges[0] is None
    assert 0 < int(re.fullmatch(r"bytes=(\d+)-", ranges[1]).group(1)) <= len(published["pre"]) // 2


def test_killed_download_leaves_only_a_partial_file_then_resumes(tmp_path, host, published):
    host.osf_file("nb8wr", "sub-01.zip", published["pre"], cut=1)
    with pytest.raises(dl.DataError, match=r"connection was cut \(1 attempt\); \d+ bytes kept in .*sub-01\.zip\.part"):
        _fetch(tmp_path, host, subjects=1, what="preprocessed", retries=0)
    folder = tmp_path / "root/eeg_dataset/preprocessed_data"
    assert [p.name for p in folder.iterdir()] == ["sub-01.zip.part"]  # nothing looks complete
    kept = (folder / "sub-01.zip.part").stat().st_size
    assert 0 < kept < len(published["pre"])
    _fetch(tmp_path, host, subjects=1, what="preprocessed", retries=0)
    assert host.requested("/storage/nb8wr")[-1][1] == f"bytes={kept}-"
    assert (folder / "sub-01/preprocessed_eeg_training.npy").is_file()


def test_corrupted_byte_is_refused_and_nothing_is_left(tmp_path, host, published):
    host.osf_file("nb8wr", "sub-01.zip", published["pre"], corrupt=True)
    with pytest.raises(dl.DataError) as err:
        _fetch(tmp_path, host, subjects=1, what="preprocessed")
    msg = str(err.value)
    assert msg.startswith(f"{host.base}/download/nb8wr/: checksum mismatch")
    assert hashlib.sha256(published["pre"]).hexdigest() in msg and "Fix:" in msg
    files = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
    assert files == []  # neither the archive, a temporary, nor a partial file


def test_404_is_one_clear_line(tmp_path, host, capsys, monkeypatch):
    for key, url in host.urls().items():  # the CLI takes the hosts from the environment
        monkeypatch.setenv(dl.HOSTS[key][1], url)
    assert main(["download", "--data-dir", str(tmp_path / "root"), "--subjects", "2",
                 "--what", "preprocessed", "--no-progress", "--timeout", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"eegvision download: error: {host.base}/download/u43p5/: HTTP 404")
    assert "Fix:" in err[0] and "sources.tsv" in err[0]
    assert not list((tmp_path / "root").rglob("*.zip*"))


def test_slow_server_times_out_with_one_line(tmp_path, host, published):
    host.osf_file("nb8wr", "sub-01.zip", published["pre"], sleep=3)
    start = time.monotonic()
    with pytest.raises(dl.DataError, match=r"no answer within 0\.5 s \(timeout\)") as err:
        _fetch(tmp_path, host, subjects=1, what="preprocessed", timeout=0.5)
    assert time.monotonic() - start < 3
    assert str(err.value).startswith(f"{host.base}/download/nb8wr/: ")  # the address asked for
    assert not list((tmp_path / "root").rglob("*.zip*"))


def test_raw_from_figshare_is_checked_with_its_md5(tmp_path, host, published):
    body = published["raw"]
    host.routes["/figshare/ndownloader/files/33244238"] = dict(body=body)
    host.routes["/figshare-api/v2/articles/18470912/files"] = dict(json=[dict(
        id=33244238, name="sub-01.zip", size=len(body),
        computed_md5=hashlib.md5(body).hexdigest())])
    report = _fetch(tmp_path, host, subjects=1, what="raw")
    assert report.iloc[0]["check"] == "md5 from Figshare"
    assert "4 sessions, 64 channels" in report.iloc[0]["summary"]
    from eegvision.data.raw import find_raw_sessions

    assert len(find_raw_sessions(tmp_path / "root", 1)) == 4


def test_images_from_the_component_listing(tmp_path, host, published):
    listing = []
    for i, (name, body) in enumerate([("image_metadata.npy", published["meta"]),
                                      ("test_images.zip", published["test_images"])]):
        host.osf_file(f"img{i}", name, body)
        listing.append(dict(attributes=dict(name=name, size=len(body), extra=dict(hashes=dict(
            sha256=hashlib.sha256(body).hexdigest()))),
            links=dict(download=f"https://osf.io/download/img{i}/")))  # published host: rebased
    host.routes["/v2/nodes/y63gw/files/osfstorage/"] = dict(json=dict(
        data=listing[:1], links=dict(next=f"{host.base}/v2/nodes/y63gw/page2")))
    host.routes["/v2/nodes/y63gw/page2"] = dict(json=dict(data=listing[1:], links={}))
    table = read_sources()
    only = table[~table["name"].isin(["training_images.zip"])]
    orig = dl.read_sources
    dl.read_sources = lambda path=None: only
    try:
        report = _fetch(tmp_path, host, what="images")
    finally:
        dl.read_sources = orig
    root = tmp_path / "root"
    assert (root / "image_set/test_images/00001_a/a.jpg").read_bytes() == b"jpg" * 10
    assert "20 training and 10 test images named" in report.iloc[0]["summary"]


def test_features_without_published_hash_are_recorded_then_checked(tmp_path, host, published):
    for name in ("center_clip.npy", "clip_feature_maps_test.npy"):
        host.routes[f"/gh/eeyhsong/NICE-EEG/{NICE_COMMIT}/dnn_feature/{name}"] = dict(
            body=published["features"])
    report = _fetch(tmp_path, host, what="features")
    assert list(report["summary"]) == ["features 10x8"] * 2
    root = tmp_path / "root"
    registry = json.loads((root / dl.REGISTRY).read_text())["files"]
    assert registry["dnn_feature/center_clip.npy"]["hash"] == \
        "sha256:" + hashlib.sha256(published["features"]).hexdigest()
    # the host now serves other bytes: the recorded hash refuses them
    host.routes[f"/gh/eeyhsong/NICE-EEG/{NICE_COMMIT}/dnn_feature/center_clip.npy"]["body"] = \
        published["features"][:-4] + b"\0\0\0\1"
    with pytest.raises(dl.DataError, match="checksum mismatch.*recorded at the first download"):
        _fetch(tmp_path, host, what="features", overwrite=True)
    # the failed --overwrite keeps the file that was there
    assert (root / "dnn_feature/center_clip.npy").read_bytes() == published["features"]
    assert sorted(p.name for p in (root / "dnn_feature").iterdir()) == [
        "center_clip.npy", "clip_feature_maps_test.npy"]


# ------------------------------------------------------------------ NEMAR
def _nemar(host, files):
    base = "/nemar/nm000232/v1.1.0"
    entries = {}
    for path, body in files.items():
        host.routes[f"{base}/{path}"] = dict(body=body)
        if path.endswith(".json"):  # git-tracked text: git blob sha1
            sha1 = hashlib.sha1(f"blob {len(body)}\0".encode() + body).hexdigest()
            entries[path] = dict(key=f"git:{sha1}", size=len(body))
        else:  # annexed: SHA256E key
            digest = hashlib.sha256(body).hexdigest()
            entries[path] = dict(key=f"SHA256E-s{len(body)}--{digest}{Path(path).suffix}",
                                 size=len(body))
    host.routes[f"{base}/manifest.json"] = dict(json=dict(dataset_id="nm000232",
                                                          version="1.1.0", files=entries))
    return base


_EVENTS = ("onset\tduration\tsample\tvalue\ttrial_type\ttot_img_number\timg_category\t"
           "category_name\tblock\tsequence\timg_in_sequence\tsoa\n"
           "21.644\t0.09996724140364677\t21644\t154\timage\t154\t154\t00154_sailboat\t1\t1\t1\tn/a\n"
           "48.552\t0.09996441464863892\t48552\t255\ttarget\tn/a\tn/a\tn/a\t1\t5\t2\t"
           "0.19995460254358477\n").encode()


def _bids_tree(subjects=(1, 2), sessions=(1, 2)):
    """A small copy of nm000232's tree: its file names, text files and events.tsv columns."""
    files = {"dataset_description.json": json.dumps(dict(
                 Name="THINGS-EEG2: A large and rich EEG dataset for modeling human visual "
                      "object recognition", BIDSVersion="1.9.0", Version="1.1.0",
                 DatasetType="raw", DatasetDOI="10.82901/nemar.nm000232")).encode(),
             "participants.tsv": b"participant_id\tage\tsex\tn_sessions\nsub-01\t33\tF\t4\n"
                                 b"sub-02\t25\tF\t4\n",
             "stimuli/test_images.zip": b"PK-test", "stimuli/stimuli.json": b"{}",
             "sourcedata/sub-01.zip": b"PK-source"}
    for sub in subjects:
        for ses in sessions:
            pre = f"sub-{sub:02d}/ses-{ses:02d}"
            files[f"{pre}/{pre.replace('/', '_')}_scans.tsv"] = b"filename\tacq_time\n"
            eeg = f"{pre}/eeg/{pre.replace('/', '_')}"
            files[f"{eeg}_space-CapTrak_electrodes.tsv"] = b"name\tx\ty\tz\nFp1\t-0.03\t0.1\t0.0\n"
            for task in ("task-test", "task-train_run-01", "task-rest_run-01"):
                files[f"{eeg}_{task}_eeg.bdf"] = b"\xff" + b"BIOSEMI" + bytes(200)  # BDF magic
                files[f"{eeg}_{task}_eeg.json"] = b'{"SamplingFrequency": 1000.0}'
                files[f"{eeg}_{task}_events.tsv"] = _EVENTS
    return files


def test_nemar_fetches_chosen_subjects_and_sessions(tmp_path, host):
    _nemar(host, _bids_tree())
    report = _fetch(tmp_path, host, source="nemar", subjects=1, sessions=2)
    root = tmp_path / "root"
    got = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                 and p.name != dl.REGISTRY)
    eeg = "sub-01/ses-02/eeg/sub-01_ses-02"
    assert got == ["dataset_description.json", "participants.tsv",
                   f"{eeg}_space-CapTrak_electrodes.tsv"] + sorted(
        f"{eeg}_{task}_{kind}" for task in ("task-test", "task-train_run-01", "task-rest_run-01")
        for kind in ("eeg.bdf", "eeg.json", "events.tsv")) + [
        "sub-01/ses-02/sub-01_ses-02_scans.tsv"]
    import pandas as pd

    events = pd.read_csv(root / f"{eeg}_task-test_events.tsv", sep="\t")
    assert list(events["tot_img_number"].astype("Int64")) == [154, pd.NA]
    assert set(report["check"]) == {"hash from the NEMAR manifest"}
    assert report["status"].eq("downloaded").all()


def test_nemar_refuses_a_corrupted_file_by_its_sha256(tmp_path, host):
    base = _nemar(host, {"sub-01/ses-01/eeg/x_eeg.bdf": b"BDF" * 30})
    host.routes[f"{base}/sub-01/ses-01/eeg/x_eeg.bdf"]["corrupt"] = True
    with pytest.raises(dl.DataError, match="checksum mismatch"):
        _fetch(tmp_path, host, source="nemar", subjects=1)
    assert not [p for p in (tmp_path / "root").rglob("*.bdf*")]


def test_nemar_manifest_cannot_write_outside_the_root(tmp_path, host):
    host.routes["/nemar/nm000232/v1.1.0/manifest.json"] = dict(json=dict(
        dataset_id="nm000232", version="1.1.0", files={"../evil.txt": dict(size=1)}))
    with pytest.raises(dl.DataError, match="unsafe path"):
        _fetch(tmp_path, host, source="nemar", subjects=1)
    assert not (tmp_path / "evil.txt").exists()


# ------------------------------------------------------------------ dry run, options
def test_dry_run_writes_nothing_and_opens_no_socket(tmp_path, monkeypatch, capsys):
    def no_socket(*args, **kwargs):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket.socket, "connect", no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    root = tmp_path / "root"
    assert main(["download", "--dry-run", "--data-dir", str(root), "--subjects", "1-2",
                 "--what", "preprocessed,raw,images,features"]) == 0
    out = capsys.readouterr().out
    assert "https://osf.io/download/nb8wr/" in out and "https://osf.io/download/u43p5/" in out
    assert "https://plus.figshare.com/ndownloader/files/33244238" in out
    assert f"-> {root}/eeg_dataset/preprocessed_data/sub-01.zip, unpacked into " \
           f"{root}/eeg_dataset/preprocessed_data/sub-01" in out
    assert "[~10 GB]" in out and "[~655 MB]" in out
    assert not root.exists()
    assert main(["download", "--dry-run", "--data-dir", str(root), "--source", "nemar",
                 "--subjects", "3", "--sessions", "1"]) == 0
    out = capsys.readouterr().out
    assert "nm000232" in out and "sub-03/ (ses-01" in out and not root.exists()


@pytest.mark.parametrize("args, message", [
    (["--subjects", "0-3"], "--subjects"),
    (["--subjects", "9-11"], "THINGS-EEG2 has subjects 1-10"),
    (["--what", "preprocessed,eeg"], "--what 'preprocessed,eeg': not fetched from osf"),
    (["--sessions", "1"], "--sessions '1': the OSF release has one archive per subject"),
    (["--source", "nemar", "--what", "features"], "not fetched from nemar"),
    (["--source", "nemar", "--sessions", "5"], "THINGS-EEG2 has sessions 1-4"),
    (["--timeout", "0"], "--timeout 0.0: must be a positive number"),
])
def test_bad_options_are_one_line(tmp_path, capsys, args, message):
    assert main(["download", "--dry-run", "--data-dir", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Fix:" in err[0]


def test_no_data_dir_is_an_error(capsys, monkeypatch):
    monkeypatch.delenv("EEGVISION_DATA", raising=False)
    assert main(["download", "--dry-run"]) == 2
    assert "--data-dir None: no folder to download into" in capsys.readouterr().err


def test_unknown_base_url_key_is_refused(tmp_path):
    from eegvision._utils import OptionError

    with pytest.raises(OptionError, match="unknown host"):
        fetch_things_eeg2(tmp_path, 1, dry_run=True, base_urls=dict(zenodo="http://x"),
                          echo=None)


def test_disk_full_is_one_line_naming_the_file(tmp_path, host, published, monkeypatch):
    import builtins
    import errno

    host.osf_file("nb8wr", "sub-01.zip", published["pre"])

    def full(path, mode="r", *args, **kwargs):
        if str(path).endswith(".part") and "b" in mode and ("a" in mode or "w" in mode):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(dl, "open", full, raising=False)
    with pytest.raises(dl.DataError) as err:
        _fetch(tmp_path, host, subjects=1, what="preprocessed")
    msg = str(err.value)
    assert msg.startswith(str(tmp_path / "root/eeg_dataset/preprocessed_data/sub-01.zip.part"))
    assert "No space left on device" in msg and "free disk space" in msg
    assert not list((tmp_path / "root").rglob("*.zip"))


def test_unreachable_host_is_one_line(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(dl.DataError, match=r"could not connect") as err:
        fetch_things_eeg2(tmp_path / "root", 1, "features", progress=False, echo=None,
                          retries=1, timeout=2,
                          base_urls=dict(github=f"http://127.0.0.1:{port}"))
    assert str(err.value).startswith(f"http://127.0.0.1:{port}/eeyhsong/NICE-EEG/")
    assert "(2 attempts" in str(err.value)


def test_nemar_extras_follow_what(tmp_path, host):
    _nemar(host, {"README": b"THINGS-EEG2", "stimuli/stimuli.tsv": b"stim_file\n",
                  "derivatives/preprocessed_eeg/dataset_description.json": b"{}",
                  "derivatives/preprocessed_eeg/sub-01.zip": b"z1",
                  "derivatives/preprocessed_eeg/sub-02.zip": b"z2",
                  "sub-01/ses-01/eeg/a_eeg.bdf": b"BDF", ".nemar/metadata.json": b"{}"})
    _fetch(tmp_path, host, source="nemar", subjects=1, what="images,preprocessed")
    root = tmp_path / "root"
    got = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                 and p.name != dl.REGISTRY)
    assert got == ["README", "derivatives/preprocessed_eeg/dataset_description.json",
                   "derivatives/preprocessed_eeg/sub-01.zip", "stimuli/stimuli.tsv"]
    assert (root / "derivatives/preprocessed_eeg/sub-01.zip").read_bytes() == b"z1"  # kept zipped


def test_an_archive_already_in_place_is_checked_and_used(tmp_path, host, published):
    host.osf_file("nb8wr", "sub-01.zip", published["pre"])
    folder = tmp_path / "root/eeg_dataset/preprocessed_data"
    folder.mkdir(parents=True)
    (folder / "sub-01.zip").write_bytes(published["pre"])  # fetched by hand earlier
    report = _fetch(tmp_path, host, subjects=1, what="preprocessed", keep_archives=True)
    assert report.iloc[0]["status"] == "downloaded"
    assert host.requested("/storage/") == []  # checked against OSF's sha256, not fetched again
    assert (folder / "sub-01/preprocessed_eeg_test.npy").is_file()
    assert (folder / "sub-01.zip").is_file()  # --keep-archives
    (folder / "sub-01/preprocessed_eeg_test.npy").unlink()
    (folder / "sub-01/preprocessed_eeg_training.npy").unlink()
    (folder / "sub-01.zip").write_bytes(b"something else")
    with pytest.raises(dl.DataError, match="not the file the host publishes"):
        _fetch(tmp_path, host, subjects=1, what="preprocessed")
    assert (folder / "sub-01.zip").read_bytes() == b"something else"


@pytest.mark.parametrize("manifest", [dict(files={"a.tsv": "not a record"}), [1, 2],
                                      dict(dataset_id="nm000232")])
def test_malformed_manifest_is_one_error(tmp_path, host, manifest):
    host.routes["/nemar/nm000232/v1.1.0/manifest.json"] = dict(json=manifest)
    with pytest.raises(dl.DataError, match="manifest"):
        _fetch(tmp_path, host, source="nemar", subjects=1)


def test_cli_reports_each_file_and_the_next_step(tmp_path, host, published, capsys,
                                                 monkeypatch):
    for key, url in host.urls().items():
        monkeypatch.setenv(dl.HOSTS[key][1], url)
    host.routes["/figshare/ndownloader/files/33244238"] = dict(body=published["raw"])
    host.routes["/figshare-api/v2/articles/18470912/files"] = dict(json=[dict(
        id=33244238, size=len(published["raw"]),
        computed_md5=hashlib.md5(published["raw"]).hexdigest())])
    root = tmp_path / "root"
    argv = ["download", "--data-dir", str(root), "--subjects", "1", "--what", "raw",
            "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[1/1] eeg_dataset/raw_data/sub-01.zip: done (4 sessions")
    assert out[1].startswith("1 of 1 file(s) downloaded (")
    assert out[2] == (f"eegvision download: preprocess the raw EEG with `eegvision preprocess "
                      f"--data-dir {root} --subject N --preset official`.")
    assert main(argv) == 0
    assert "[1/1] eeg_dataset/raw_data/sub-01.zip: already there, skipped" in \
        capsys.readouterr().out
