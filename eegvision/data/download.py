"""Fetch THINGS-EEG2 from where it is published into a data root eegvision reads.

Two sources:

``osf`` (the release of Gifford et al., 2022; OSF project 3jk45)
    preprocessed EEG (component anp5v, one zip per subject) into
    ``eeg_dataset/preprocessed_data/sub-XX/``; the image set and
    ``image_metadata.npy`` (component y63gw) into ``image_set/``; the raw EEG
    (component crxs4, hosted on Figshare+, one zip per subject) into
    ``eeg_dataset/raw_data/sub-XX/ses-YY/``; NICE's public CLIP test features
    into ``dnn_feature/``.
``nemar`` (NEMAR dataset nm000232, THINGS-EEG2 as BIDS)
    the BIDS tree as published (``sub-XX/ses-YY/eeg/*.bdf``, ``events.tsv``,
    sidecars, ``stimuli/``), file by file from its ``manifest.json``.

Where the addresses come from: ``sources.tsv`` beside this module (read it
with :func:`read_sources`). Downloads go through pooch with a downloader that
resumes a partial file (HTTP Range) and shows bytes; pooch checks the hash and
moves the file into place only when it matches, so a killed or corrupted
download never leaves a file that looks complete. Hashes come from the host
(OSF's file API: sha256; Figshare's API: md5; NEMAR's manifest: sha256 or the
git blob sha1); where the host publishes none, the hash of the first download
is recorded in ``.eegvision-downloads.json`` in the data root and every later
download is checked against it.

The hosts' base addresses can be replaced (a mirror, or a test server) with
the ``base_urls`` keyword or the environment variables of :data:`HOSTS`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from .._docs import fill_doc
from .._utils import DataError, data_error, logger, option_error, os_error_fix, verbose, write_json

#: The package's table of download addresses (tab-separated; see :func:`read_sources`).
SOURCES_FILE = Path(__file__).with_name("sources.tsv")
#: What can be fetched, per source.
WHAT = {"osf": ("preprocessed", "images", "raw", "features"),
        "nemar": ("raw", "images", "preprocessed")}
#: Fetched when ``what`` is not given: everything eegvision's analyses read, without the raw EEG.
DEFAULT_WHAT = {"osf": ("preprocessed", "images", "features"), "nemar": ("raw",)}
#: Host -> (published base address, environment variable that replaces it).
HOSTS = {"osf": ("https://osf.io", "EEGVISION_OSF_URL"),
         "osf_api": ("https://api.osf.io/v2", "EEGVISION_OSF_API_URL"),
         "figshare": ("https://plus.figshare.com", "EEGVISION_FIGSHARE_URL"),
         "figshare_api": ("https://api.figshare.com/v2", "EEGVISION_FIGSHARE_API_URL"),
         "github": ("https://raw.githubusercontent.com", "EEGVISION_GITHUB_RAW_URL"),
         "nemar": ("https://data.nemar.org", "EEGVISION_NEMAR_URL")}
#: The registry of downloads (hashes, sources), in the data root.
REGISTRY = ".eegvision-downloads.json"
N_SUBJECTS = 10
N_SESSIONS = 4
#: Seconds before the first retry after a cut connection (doubling, at most 30).
_RETRY_WAIT = 1.0
_PROJECT = "https://osf.io/3jk45/"
_REPORT = ("the address in eegvision/data/sources.tsv may be out of date: look the file up on "
           f"{_PROJECT} (or https://nemar.org/dataset/nm000232) and report it to eegvision")


@dataclass
class _Item:
    """One file to fetch: where from, where to, how to check it, what marks it done."""

    what: str
    subject: int | None
    name: str
    url: str
    hashes: str
    size: str
    dest: str
    done: tuple = ()
    known_hash: str | None = None
    nbytes: int | None = None
    check: str = ""

    @property
    def rel(self):
        """The downloaded file, relative to the data root."""
        return self.name if self.dest in ("", ".") else f"{self.dest}/{self.name}"

    @property
    def archive(self):
        return self.name.endswith(".zip") and self.hashes != "nemar"


# ------------------------------------------------------------------ table
def read_sources(path=None):
    """The table of THINGS-EEG2 download addresses shipped with eegvision.

    Parameters
    ----------
    path : str | Path | None
        Another table of the same columns (default: the package's ``sources.tsv``).

    Returns
    -------
    table : pandas.DataFrame
        One row per file: ``what`` (preprocessed, raw, images, features,
        bids), ``subject`` (empty for shared files), ``name`` (the file as
        saved), ``url``, ``hashes`` (where its checksum comes from: ``osf``,
        ``figshare:<item>``, ``nemar`` or ``registry``), ``size`` (expected,
        where known), ``dest`` (folder in the data root) and ``notes``.
    """
    import pandas as pd

    path = Path(path) if path is not None else SOURCES_FILE
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = {"what", "subject", "name", "url", "hashes", "size", "dest"} - set(table.columns)
    if missing:
        raise data_error(path, f"missing columns {sorted(missing)}.",
                         "reinstall eegvision (the table is package data).")
    return table


def _bases(base_urls=None):
    """Base address of every host: ``base_urls``, else ``$EEGVISION_*_URL``, else the published one."""
    base_urls = dict(base_urls or {})
    unknown = sorted(set(base_urls) - set(HOSTS))
    if unknown:
        raise option_error("base_urls", unknown, "unknown host(s)", f"use keys of {sorted(HOSTS)}")
    bases = {key: os.environ.get(env) or default for key, (default, env) in HOSTS.items()}
    bases.update(base_urls)
    return {key: str(value).rstrip("/") for key, value in bases.items()}


def _rebase(url, bases):
    """``url`` with its published host replaced by the configured one."""
    for key, (default, _) in HOSTS.items():
        if url.startswith(default + "/") or url == default:
            return bases[key] + url[len(default):]
    return url


# ------------------------------------------------------------------ options
def _check_list(option, values, allowed, source):
    values = tuple(dict.fromkeys(str(v).strip().lower() for v in values if str(v).strip()))
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise option_error(option, ",".join(values), f"not fetched from {source}: {bad or 'none'}",
                           f"choose from {', '.join(allowed)}")
    return values


def _check_numbers(option, values, n, what):
    from .._utils import parse_int_list

    spec = values if isinstance(values, (str, int)) else ",".join(map(str, values))
    try:
        values = parse_int_list(values, option, 1)
    except ValueError as err:
        raise option_error(option, values, str(err).split(": ", 1)[-1], "use e.g. 1-4 or 1,3") \
            from None
    if max(values) > n:
        raise option_error(option, spec, f"THINGS-EEG2 has {what} 1-{n}", f"use numbers 1-{n}")
    return values


def _options(source, subjects, what, sessions):
    if source not in WHAT:
        raise option_error("--source", source, "unknown source", "use osf or nemar")
    what = DEFAULT_WHAT[source] if what is None else (
        what.split(",") if isinstance(what, str) else what)
    what = _check_list("--what", what, WHAT[source], source)
    subjects = _check_numbers("--subjects", range(1, N_SUBJECTS + 1) if subjects is None
                              else subjects, N_SUBJECTS, "subjects")
    if sessions is not None and source != "nemar":
        raise option_error("--sessions", sessions, "the OSF release has one archive per subject "
                           "holding all four sessions", "drop --sessions, or use --source nemar")
    sessions = _check_numbers("--sessions", range(1, N_SESSIONS + 1) if sessions is None
                              else sessions, N_SESSIONS, "sessions")
    return what, subjects, sessions


# ------------------------------------------------------------------ plan: OSF
def _done_paths(what, name, dest, subject):
    """Files whose presence means this item was fetched and unpacked before."""
    sub = f"sub-{subject:02d}" if subject else ""
    if what == "preprocessed":
        return tuple(f"{dest}/{sub}/preprocessed_eeg_{s}.npy" for s in ("training", "test"))
    if what == "raw":
        return tuple(f"{dest}/{sub}/ses-{k:02d}/raw_eeg_{s}.npy"
                     for k in range(1, N_SESSIONS + 1) for s in ("training", "test"))
    if name.endswith(".zip"):
        return (f"{dest}/{name[:-4]}",)
    return (f"{dest}/{name}",)


def _osf_plan(table, what, subjects, bases):
    items = []
    for row in table.itertuples(index=False):
        if row.what not in what or (row.subject and int(row.subject) not in subjects):
            continue
        subject = int(row.subject) if row.subject else None
        items.append(_Item(what=row.what, subject=subject, name=row.name,
                           url=_rebase(row.url, bases), hashes=row.hashes, size=row.size,
                           dest=row.dest, done=_done_paths(row.what, row.name, row.dest, subject)))
    return items


# ------------------------------------------------------------------ HTTP
def _session():
    import requests

    from .._version import __version__

    s = requests.Session()
    # OSF answers browsers-like agents (the official scripts pass "Mozilla/5.0" to wget)
    s.headers["User-Agent"] = f"Mozilla/5.0 (compatible; eegvision/{__version__})"
    return s


def _http_error(url, status, reason=""):
    """One error line for an HTTP status the download cannot go on from."""
    if status == 404:
        return data_error(url, "HTTP 404 Not Found: the host has no file at this address.",
                          _REPORT)
    if status in (401, 403):
        return data_error(url, f"HTTP {status} {reason}: the host refused the download.",
                          "the file may have been made private or moved; " + _REPORT)
    if status == 429 or status >= 500:
        return data_error(url, f"HTTP {status} {reason}: the host is busy or down.",
                          "wait a few minutes and rerun the same command: finished files are "
                          "kept and a partial one resumes")
    return data_error(url, f"HTTP {status} {reason}: unexpected answer.", _REPORT)


def _get_json(http, url, timeout):
    """GET a JSON document, with one error line for every way that fails."""
    import requests

    try:
        r = http.get(url, timeout=timeout)
    except requests.Timeout:
        raise data_error(url, f"no answer within {timeout:g} s (timeout).",
                         "check the connection and rerun (or raise --timeout)") from None
    except requests.RequestException as err:
        raise data_error(url, f"could not connect ({type(err).__name__}).",
                         "check the connection (and a proxy, if any) and rerun") from None
    if r.status_code >= 400:
        raise _http_error(url, r.status_code, r.reason)
    try:
        return r.json()
    except ValueError:
        raise data_error(url, "the answer is not JSON.", _REPORT) from None


def _osf_attributes(http, item, bases, timeout):
    """OSF's metadata of the file: name, size, hashes and the download link."""
    if "/nodes/" in item.url:  # a component's listing: find the file by name
        url = item.url
        while url:
            page = _get_json(http, url, timeout)
            for entry in page.get("data", []):
                attrs = entry.get("attributes", {})
                if attrs.get("name") == item.name:
                    return attrs, entry.get("links", {}).get("download")
            url = (page.get("links") or {}).get("next")
        raise data_error(item.url, f"the listing has no file {item.name!r}.", _REPORT)
    file_id = item.url.rstrip("/").rsplit("/", 1)[-1]
    doc = _get_json(http, f"{bases['osf_api']}/files/{file_id}/", timeout)
    data = doc.get("data", {})
    return data.get("attributes", {}), None


def _figshare_file(http, item, bases, timeout):
    """Figshare's record of the file (``computed_md5``, ``size``) from the item's file list."""
    article = item.hashes.split(":", 1)[1]
    file_id = item.url.rstrip("/").rsplit("/", 1)[-1]
    files = _get_json(http, f"{bases['figshare_api']}/articles/{article}/files?page_size=100",
                      timeout)
    for entry in files if isinstance(files, list) else []:
        if str(entry.get("id")) == file_id:
            return entry
    raise data_error(item.url, f"Figshare item {article} lists no file {file_id}.", _REPORT)


def _host_hash(http, item, bases, timeout):
    """Set the item's known hash, size and URL from what its host publishes."""
    try:
        _read_host_hash(http, item, bases, timeout)
    except (AttributeError, TypeError, KeyError):  # JSON of another shape than the API's
        raise data_error(item.url, "the host's file API answered in an unexpected form.",
                         _REPORT) from None


def _read_host_hash(http, item, bases, timeout):
    if item.hashes == "osf":
        attrs, link = _osf_attributes(http, item, bases, timeout)
        hashes = (attrs.get("extra") or {}).get("hashes") or {}
        if link:
            item.url = _rebase(link, bases)
        if hashes.get("sha256"):
            item.known_hash, item.check = f"sha256:{hashes['sha256']}", "sha256 from OSF"
        elif hashes.get("md5"):
            item.known_hash, item.check = f"md5:{hashes['md5']}", "md5 from OSF"
        item.nbytes = attrs.get("size") or item.nbytes
    elif item.hashes.startswith("figshare:"):
        entry = _figshare_file(http, item, bases, timeout)
        if entry.get("computed_md5"):
            item.known_hash, item.check = f"md5:{entry['computed_md5']}", "md5 from Figshare"
        item.nbytes = entry.get("size") or item.nbytes


def _resolve_hash(http, item, bases, timeout, registry):
    """The hash to check: the host's; else the one recorded at the first download; else none yet.

    Returns the warning to give once the file is there (None: nothing to say): a
    download that then fails says so in its one error line, without it.
    """
    note = None
    if item.known_hash is None and item.hashes != "registry":
        try:
            _host_hash(http, item, bases, timeout)
        except DataError as err:
            if "/nodes/" in item.url:  # the listing gives the address: no way on without it
                raise
            note = (f"{item.rel}: the host's checksum could not be read "
                    f"({str(err).splitlines()[0]}); checking against the registry instead.")
    record = registry.get(item.rel) or {}
    if item.known_hash is None and record.get("hash"):
        item.known_hash, item.check = record["hash"], "hash recorded at the first download"
    elif item.known_hash is None:
        item.check = "no published hash: recorded now, checked on every later download"
    elif record.get("hash") and record["hash"] != item.known_hash:
        logger.warning("%s: the host now publishes %s, not the %s recorded when it was first "
                       "fetched: the host's file changed.", item.rel, item.known_hash,
                       record["hash"])
    return note


# ------------------------------------------------------------------ download
class _Cut(Exception):
    """The server closed the connection before sending the whole file."""


class ResumableDownloader:
    """A pooch downloader that resumes a partial file and shows the bytes received.

    The bytes go to ``part`` (kept across runs); a request for the rest
    (``Range: bytes=N-``) continues it after a cut connection, a timeout or a
    killed process. When complete, the file moves to the temporary name pooch
    gives, and pooch moves it into place only if its hash matches.

    Parameters
    ----------
    part : Path
        The partial file.
    timeout : float
        Seconds to wait for the server (to connect, and between two reads).
    retries : int
        New requests after a cut connection, each resuming where the last stopped.
    label : str
        Shown on the progress bar.
    progress : bool
        Show a progress bar (bytes) on stderr.
    verify : callable | None
        ``verify(path)`` raises on a bad file before it is moved into place.
    wait : float
        Seconds before the first retry (doubling, at most 30).
    """

    def __init__(self, part, *, timeout=60.0, retries=3, label="", progress=True, verify=None,
                 wait=1.0, session=None):
        self.part, self.timeout, self.retries = Path(part), float(timeout), int(retries)
        self.label, self.progress, self.verify, self.wait = label, progress, verify, wait
        self.session, self.answered = session, False

    def __call__(self, url, output_file, pooch=None, check_only=False):
        """Download ``url`` into ``output_file`` (the pooch downloader protocol)."""
        import requests

        http = self.session or _session()
        for attempt in range(self.retries + 1):
            self.answered = False
            try:
                self._get(http, url)
                break
            except requests.Timeout:
                raise data_error(url, f"no answer within {self.timeout:g} s (timeout); "
                                      f"{self._kept()}.",
                                 "check the connection and rerun the same command: the "
                                 "download resumes where it stopped (or raise --timeout)") from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    _Cut) as err:
                if attempt == self.retries:
                    raise self._connection_error(url, err) from None
                time.sleep(min(self.wait * 2 ** attempt, 30))
            except requests.RequestException as err:  # too many redirects, a bad address ...
                raise data_error(url, f"the request failed ({type(err).__name__}: {err}).",
                                 _REPORT) from None
            except OSError as err:  # writing the partial file: disk full, permissions ...
                raise data_error(self.part, f"could not write it ({err.strerror or err}); "
                                            f"{self._kept()}.",
                                 os_error_fix(err) + ", then rerun: the download resumes") \
                    from None
        if self.verify is not None:
            self.verify(self.part)
        os.replace(self.part, output_file)

    def _connection_error(self, url, err):
        import requests

        n = f"{self.retries + 1} attempt{'s' if self.retries else ''}"
        if isinstance(err, requests.exceptions.SSLError):
            return data_error(url, f"secure connection failed ({n}): {err}.",
                              "check the system's certificates (or a proxy that intercepts "
                              "HTTPS) and rerun")
        if not self.answered:
            return data_error(url, f"could not connect ({n}; {type(err).__name__}); "
                                   f"{self._kept()}.",
                              "check the connection (and a proxy, if any) and rerun the same "
                              "command: the download resumes")
        return data_error(url, f"the connection was cut ({n}); {self._kept()}.",
                          "rerun the same command: the download resumes from there")

    def _kept(self):
        have = self._have()
        return f"{have} bytes kept in {self.part}" if have else "no bytes received"

    def _have(self):
        return self.part.stat().st_size if self.part.exists() else 0

    def _get(self, http, url):
        have = self._have()
        headers = {"Range": f"bytes={have}-"} if have else {}
        with http.get(url, headers=headers, stream=True, timeout=self.timeout) as r:
            self.answered = True
            if r.status_code == 416 and have:  # the partial file is already whole
                return
            if r.status_code >= 400:
                raise _http_error(url, r.status_code, r.reason)
            if have and r.status_code != 206:  # the host ignored the range: start again
                have = 0
            total = _total(r, have)
            with open(self.part, "ab" if have else "wb") as fh, self._bar(total, have) as bar:
                for chunk in r.iter_content(chunk_size=1 << 16):  # a cut loses < 64 KB
                    fh.write(chunk)
                    bar.update(len(chunk))
        if total is not None and self._have() < total:
            raise _Cut

    def _bar(self, total, initial):
        from .._utils import progress_bar

        return progress_bar(total=total, initial=initial, unit="B", unit_scale=True,
                            unit_divisor=1024, desc=self.label, enabled=self.progress)


def _total(response, have):
    """Size of the whole file from Content-Range / Content-Length, or None."""
    match = re.search(r"/(\d+)$", response.headers.get("Content-Range", ""))
    if match:
        return int(match.group(1))
    length = response.headers.get("Content-Length")
    return have + int(length) if length and length.isdigit() else None


def _git_blob_check(expected, url):
    """A verify hook comparing a file's git blob sha1 (NEMAR's hash of its small text files)."""
    def verify(path):
        h = hashlib.sha1(f"blob {Path(path).stat().st_size}\0".encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != expected:
            Path(path).unlink()
            raise data_error(url, f"checksum mismatch: git sha1 {h.hexdigest()}, the manifest "
                                  f"says {expected}; the download was discarded.",
                             "rerun the command; if it fails again, report it to NEMAR")
    return verify


def _retrieve(item, fresh, part, opts, label, http):
    """Download ``item`` to ``fresh`` with pooch; one error line for a hash mismatch."""
    import pooch

    known, verify = item.known_hash, None
    if known and known.startswith("gitsha1:"):
        known, verify = None, _git_blob_check(known.split(":", 1)[1], item.url)
    if known is None and verify is None:  # nothing could tell a stale partial file: start over
        part.unlink(missing_ok=True)
    downloader = ResumableDownloader(part, timeout=opts["timeout"], retries=opts["retries"],
                                     label=label, progress=opts["progress"], verify=verify,
                                     wait=opts["wait"], session=http)
    log = pooch.get_logger()
    level = log.level
    log.setLevel("WARNING")  # pooch's own "Downloading ..." lines: eegvision prints its own
    try:
        pooch.retrieve(item.url, known_hash=known, fname=fresh.name, path=fresh.parent,
                       downloader=downloader, progressbar=False)
    except ValueError as err:
        if "does not match" not in str(err):
            raise
        got = re.search(r"got ([0-9a-fA-F]+)", str(err))
        raise data_error(item.url, f"checksum mismatch: the file received has "
                                   f"{known.split(':')[0]} {got.group(1) if got else '?'}, "
                                   f"expected {known.split(':', 1)[1]} ({item.check}); the "
                                   "download was discarded, nothing was written.",
                         "rerun the command (a transfer error); if it fails again, the host's "
                         "file changed: " + _REPORT) from None
    finally:
        log.setLevel(level)


# ------------------------------------------------------------------ unpack
_JUNK = ("__MACOSX", ".DS_Store")


def _member_target(name, item, archive):
    """Where a zip member goes, relative to the item's folder."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or ":" in parts[0]:
        raise data_error(archive, f"unsafe member {name!r} (absolute or with '..').",
                         "the archive is not the published one: delete it and rerun")
    if item.subject is None:
        stem = item.name[:-4]
        return PurePosixPath(*parts) if parts[0] == stem else PurePosixPath(stem, *parts)
    for i, part in enumerate(parts):
        if re.fullmatch(r"sub-\d+", part):
            if int(part[4:]) != item.subject:
                raise data_error(archive, f"holds {part}/, expected sub-{item.subject:02d}/.",
                                 "the archive is not this subject's: delete it and rerun")
            return PurePosixPath(*parts[i:])
    return PurePosixPath(f"sub-{item.subject:02d}", *parts)


def _unzip(archive, item, root, overwrite):
    """Unpack ``archive`` into the item's folder; files appear only once all are unpacked."""
    dest = root / item.dest
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise data_error(archive, "not a zip archive (truncated or an error page).",
                         "delete it and rerun with --overwrite") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()
                   and not any(j in m.filename for j in _JUNK)]
        plan = {m.filename: _member_target(m.filename, item, archive) for m in members}
        existing = [dest / rel for rel in plan.values() if (dest / rel).exists()]
        if existing and not overwrite:
            raise data_error(existing[0], "already exists; eegvision replaces no file without "
                                          "--overwrite.", "rerun with --overwrite to replace it")
        stage = dest / f".eegvision-unzip-{item.name}-{os.getpid()}"
        try:
            for m in members:
                out = stage / plan[m.filename]
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(out, "wb") as fh:
                    shutil.copyfileobj(src, fh, 1 << 20)
            for rel in plan.values():  # renames: the files appear together
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage / rel, dest / rel)
        except zipfile.BadZipFile as err:
            raise data_error(archive, f"corrupt archive ({err}).",
                             "delete it and rerun with --overwrite") from None
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return [dest / rel for rel in plan.values()]


# ------------------------------------------------------------------ verify
def _verify(item, root):
    """Read what was fetched with eegvision's readers; a one-line summary of it."""
    if item.what == "preprocessed" and item.hashes != "nemar":
        return _verify_preprocessed(root / item.dest / f"sub-{item.subject:02d}")
    if item.what == "raw" and item.hashes != "nemar":
        return _verify_raw(root / item.dest / f"sub-{item.subject:02d}")
    if item.what == "images" and item.name == "image_metadata.npy":
        from .things import read_image_metadata

        meta = read_image_metadata(root)
        return (f"{len(meta['train_concepts'])} training and {len(meta['test_concepts'])} test "
                "images named")
    if item.what == "images" and item.archive:
        n = sum(1 for p in (root / item.done[0]).rglob("*") if p.is_file())
        return f"{n} files"
    if item.what == "features":
        from .things import read_features

        return "features {}x{}".format(*read_features(root / item.rel).shape)
    return ""


def _verify_preprocessed(folder):
    from .things import peek_preprocessed

    train = peek_preprocessed(folder / "preprocessed_eeg_training.npy")
    test = peek_preprocessed(folder / "preprocessed_eeg_test.npy")
    if train["ch_names"] != test["ch_names"] or train["sfreq"] != test["sfreq"]:
        raise data_error(folder, "the training and test files describe different channels or "
                                 "rates.", "delete the folder and rerun the download")
    return (f"training {train['shape']}, test {test['shape']}, {len(train['ch_names'])} "
            f"channels, {train['sfreq']:g} Hz")


def _verify_raw(folder):
    from ._mapped import load_dict_mapped
    from .raw import _RAW_KEYS

    for path in sorted(folder.glob("ses-*/raw_eeg_*.npy")):
        d = load_dict_mapped(path)
        missing = [k for k in _RAW_KEYS if k not in d]
        data = d.get("raw_eeg_data")
        if missing or getattr(data, "ndim", 0) != 2 or data.shape[0] != len(d["ch_names"]):
            raise data_error(path, f"not a THINGS-EEG2 raw recording (missing {missing} or "
                                   "raw_eeg_data is not channels x samples).",
                             "delete the subject's folder and rerun the download")
        shape, sfreq, n_ch = data.shape, float(d["sfreq"]), len(d["ch_names"])
        del d, data
    return f"{N_SESSIONS} sessions, {n_ch} channels (EEG + stim), {sfreq:g} Hz, last {shape}"


# ------------------------------------------------------------------ registry
def _load_registry(root):
    path = root / REGISTRY
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        raise data_error(path, "unreadable download registry.",
                         "delete it (the hashes are recorded again at the next download)") \
            from None
    return doc.get("files", {}) if isinstance(doc, dict) else {}


def _record(root, registry, item, digest):
    registry[item.rel] = dict(url=item.url, hash=digest, check=item.check, size=item.nbytes,
                              fetched=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    write_json(root / REGISTRY, dict(note="Written by `eegvision download`: the hash of each "
                                          "file fetched, checked on every later download.",
                                     files=registry))


# ------------------------------------------------------------------ one item
def _state(item, root, overwrite):
    """``"there"`` when fetched before, ``"fetch"`` otherwise; refuses a half-present item."""
    present = [p for p in item.done if (root / p).exists()]
    if present and len(present) == len(item.done) and not overwrite:
        return "there"
    if present and not overwrite:
        raise data_error(root / present[0], f"exists, but not everything of {item.rel} "
                                            "does; eegvision replaces no file without "
                                            "--overwrite.",
                         f"rerun with --overwrite to fetch {item.name} again")
    return "fetch"


def _hash_of(path, like):
    """``path``'s hash in the form of ``like`` (``"sha256:..."``, ``"md5:..."``)."""
    import pooch

    alg = like.split(":", 1)[0] if ":" in like else "sha256"
    return f"{alg}:{pooch.file_hash(str(path), alg=alg)}"


def _fetch_item(item, root, opts, registry, label, http):
    target = root / item.rel
    note = _resolve_hash(http, item, opts["bases"], opts["timeout"], registry)
    reuse = (target.exists() and not opts["overwrite"] and item.known_hash is not None
             and not item.known_hash.startswith("gitsha1:")
             and _hash_of(target, item.known_hash) == item.known_hash.lower())
    if target.exists() and not opts["overwrite"] and not reuse:
        raise data_error(target, "already exists and is not the file the host publishes; "
                                 "eegvision replaces no file without --overwrite.",
                         "rerun with --overwrite to replace it")
    if not reuse:  # fetched under another name, then renamed: a failed --overwrite keeps the old file
        fresh = target.with_name(f".{target.name}.eegvision-new")
        fresh.unlink(missing_ok=True)
        _retrieve(item, fresh, target.with_name(target.name + ".part"), opts, label, http)
        os.replace(fresh, target)
    if note:
        logger.warning("%s", note)
    item.nbytes = target.stat().st_size
    digest = item.known_hash or _hash_of(target, "sha256")
    _record(root, registry, item, digest)
    if item.archive:
        _unzip(target, item, root, opts["overwrite"])
        if not opts["keep_archives"]:
            target.unlink()
    return _verify(item, root) if opts["verify"] else ""


# ------------------------------------------------------------------ NEMAR
def _manifest_entries(doc, url, bases):
    """``[(path, url, size, hash)]`` of a NEMAR manifest (the compact or the list form)."""
    files = doc.get("files", doc) if isinstance(doc, dict) else doc
    if isinstance(files, dict):
        version = str(doc.get("version", ""))
        version = version if version.startswith("v") else f"v{version}"
        base = (f"{bases['nemar']}/{doc['dataset_id']}/{version}" if doc.get("dataset_id")
                and doc.get("version") else url.rsplit("/", 1)[0])
        files = [dict(spec, path=path) if isinstance(spec, dict) else None
                 for path, spec in files.items()]
    else:
        base = url.rsplit("/", 1)[0]
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise data_error(url, "not a NEMAR manifest (no list of file records).", _REPORT)
    return [_manifest_entry(entry, base, url, bases) for entry in files]


def _manifest_entry(entry, base, url, bases):
    path = str(entry.get("path", ""))
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts:
        raise data_error(url, f"unsafe path {path!r} in the manifest.", _REPORT)
    return (path, _rebase(entry.get("url") or f"{base}/{quote(path)}", bases),
            entry.get("size"), _manifest_hash(entry))


def _manifest_hash(entry):
    """A pooch-style hash from a manifest entry: its checksum, else its git-annex key."""
    checksum, algo = entry.get("checksum"), entry.get("checksum_algorithm", "sha256")
    if not checksum and entry.get("sha256"):
        checksum, algo = entry["sha256"], "sha256"
    if checksum:
        return checksum if ":" in checksum else f"{algo}:{checksum}"
    key = str(entry.get("key", ""))
    match = re.match(r"SHA256E?-s\d+--([0-9a-f]{64})", key)
    if match:
        return f"sha256:{match.group(1)}"
    if key.startswith("git:") and re.fullmatch(r"[0-9a-f]{40}", key[4:]):
        return f"gitsha1:{key[4:]}"
    return None


def _nemar_wanted(path, what, subjects, sessions):
    """Whether a BIDS path belongs to what was asked (its subjects and sessions)."""
    parts = PurePosixPath(path).parts
    subs = {f"sub-{s:02d}" for s in subjects}
    if len(parts) == 1:  # dataset_description.json, participants.tsv, README ...
        return True
    if parts[0] == "stimuli":
        return "images" in what
    if parts[0] == "derivatives":  # the subjects' files and the derivative's own
        subject_files = [p for p in parts[1:] if p.startswith("sub-")]
        return "preprocessed" in what and (not subject_files or any(
            p.startswith(tuple(subs)) for p in subject_files))
    if parts[0] in subs and "raw" in what:
        ses = next((p for p in parts[1:] if re.fullmatch(r"ses-\d+", p)), None)
        return ses is None or int(ses[4:]) in sessions
    return False


def _nemar_plan(table, what, subjects, sessions, bases, http, timeout):
    row = table[table["what"] == "bids"].iloc[0]
    url = _rebase(row["url"], bases)
    entries = _manifest_entries(_get_json(http, url, timeout), url, bases)
    items = []
    for path, file_url, size, digest in entries:
        if not _nemar_wanted(path, what, subjects, sessions):
            continue
        folder, _, name = path.rpartition("/")
        sub = re.match(r"sub-(\d+)", path)
        items.append(_Item(what="bids", subject=int(sub.group(1)) if sub else None, name=name,
                           url=file_url, hashes="nemar", size=str(size or ""),
                           dest=folder or ".", done=(path,), known_hash=digest,
                           nbytes=size, check="hash from the NEMAR manifest" if digest else ""))
    if not items:
        raise data_error(url, "the manifest lists no file for these subjects and sessions.",
                         "check --subjects / --sessions / --what")
    return items


def _nemar_dry(table, what, subjects, sessions, bases):
    row = table[table["what"] == "bids"].iloc[0]
    url = _rebase(row["url"], bases)
    ses = ",".join(f"ses-{s:02d}" for s in sessions)
    parts = ["dataset files (dataset_description.json, participants.tsv, ...)"]
    if "raw" in what:
        parts += [f"sub-{s:02d}/ ({ses}: BDF recordings, events.tsv, sidecars)" for s in subjects]
    if "images" in what:
        parts.append("stimuli/")
    if "preprocessed" in what:
        parts.append("derivatives/ files of " + ",".join(f"sub-{s:02d}" for s in subjects))
    return [_Item(what="bids", subject=None, name=p, url=url, hashes="nemar",
                  size=f"from the manifest (whole dataset {row['size']})", dest=".")
            for p in parts]


# ------------------------------------------------------------------ public
@verbose
@fill_doc
def fetch_things_eeg2(data_dir, subjects=None, what=None, *, source="osf", sessions=None,
                      overwrite=False, dry_run=False, timeout=60.0, retries=3,
                      keep_archives=False, verify=True, progress=True, base_urls=None,
                      echo=print, verbose=None):
    """Download THINGS-EEG2 into a data root laid out as eegvision reads it.

    Parameters
    ----------
    data_dir : str | Path
        The data root to fill (created if needed). With ``source="nemar"``,
        the BIDS root.
    subjects : int | str | list of int | None
        Subjects (1-10), e.g. ``"1-10"``, ``"1,3"`` or ``[1, 2]`` (default all).
    what : str | list of str | None
        ``osf``: any of ``preprocessed`` (OSF component anp5v, 17 channels at
        100 Hz), ``images`` (image set and metadata, component y63gw),
        ``raw`` (63 channels at 1000 Hz, about 10 GB per subject, Figshare+),
        ``features`` (NICE's public CLIP test features); default
        preprocessed, images and features. ``nemar``: ``raw`` (the BIDS
        recordings), ``images`` (``stimuli/``), ``preprocessed``
        (``derivatives/``); default raw.
    source : {"osf", "nemar"}
        The OSF release, or NEMAR's BIDS copy (dataset nm000232).
    sessions : int | str | list of int | None
        ``nemar`` only: sessions 1-4 (default all).
    overwrite : bool
        Fetch again and replace files already there (default: skip what is
        complete; refuse to replace anything).
    dry_run : bool
        Print each address, destination and expected size; no network, no writes.
    timeout : float
        Seconds to wait for a host before giving up with one clear error.
    retries : int
        Retries after a cut connection (each resumes where the last stopped).
    keep_archives : bool
        Keep the zip archives after unpacking them (default: delete them).
    verify : bool
        Read what was fetched with eegvision's readers and report its shapes.
    progress : bool
        Show a progress bar of the bytes received (stderr).
    base_urls : dict | None
        Replace hosts' base addresses (keys of :data:`HOSTS`), e.g. a mirror.
    echo : callable
        Where the per-file report lines go (``print``; ``None`` for silence).
    %(verbose)s

    Returns
    -------
    report : pandas.DataFrame
        One row per file: ``what``, ``subject``, ``file``, ``url``,
        ``destination``, ``size``, ``status`` (``planned``, ``downloaded``,
        ``there``), ``check`` (where the hash came from) and ``summary``
        (what the readers found).
    """
    import pandas as pd

    what, subjects, sessions = _options(source, subjects, what, sessions)
    if not float(timeout) > 0:
        raise option_error("--timeout", timeout, "must be a positive number of seconds",
                           "use e.g. --timeout 60")
    if int(retries) < 0:
        raise option_error("--retries", retries, "must be 0 or more", "use e.g. --retries 3")
    root = Path(data_dir).expanduser()
    echo = echo or (lambda *a, **k: None)
    opts = dict(bases=_bases(base_urls), timeout=float(timeout), retries=int(retries),
                overwrite=bool(overwrite), keep_archives=bool(keep_archives), verify=verify,
                progress=progress, wait=_RETRY_WAIT)
    table = read_sources()
    if dry_run:
        echo(f"Dry run: nothing is downloaded or written. Source {source}, into {root}:")
        items = (_nemar_dry(table, what, subjects, sessions, opts["bases"]) if source == "nemar"
                 else _osf_plan(table, what, subjects, opts["bases"]))
        return pd.DataFrame([_dry_line(item, root, overwrite, echo) for item in items])
    _check_root(root)
    http = _session()
    items = (_nemar_plan(table, what, subjects, sessions, opts["bases"], http, opts["timeout"])
             if source == "nemar" else _osf_plan(table, what, subjects, opts["bases"]))
    return pd.DataFrame(_run(items, root, opts, http, echo))


def _check_root(root):
    from .._utils import check_writable_dir

    check_writable_dir(root, "--data-dir")


def _dry_line(item, root, overwrite, echo):
    state = "there" if item.done and _present(item, root) and not overwrite else "planned"
    size = _human(int(item.size)) if item.size.isdigit() else (
        item.size or "size given by the host at download time")
    source = item.url + (f" (the file {item.name} of this listing)" if "/nodes/" in item.url
                         else "")
    unpack = ""
    if item.archive:
        folder = f"{item.dest}/sub-{item.subject:02d}" if item.subject else item.done[0]
        unpack = f", unpacked into {root / folder}"
    note = "  (already there: skipped without --overwrite)" if state == "there" else ""
    echo(f"{source}\n    -> {root / item.rel}{unpack}  [{size}]{note}")
    return dict(what=item.what, subject=item.subject, file=item.name, url=item.url,
                destination=str(root / item.rel), size=item.size, status=state, check="",
                summary="")


def _present(item, root):
    return all((root / p).exists() for p in item.done)


def _run(items, root, opts, http, echo):
    registry, rows, fetched = _load_registry(root), [], 0
    for i, item in enumerate(items, 1):
        label = f"[{i}/{len(items)}] {item.rel}"
        status, summary = _state(item, root, opts["overwrite"]), ""
        if status == "fetch":
            summary = _fetch_item(item, root, opts, registry, label, http)
            status, fetched = "downloaded", fetched + (item.nbytes or 0)
        echo(f"{label}: {'already there, skipped' if status == 'there' else 'done'}"
             f"{f' ({summary})' if summary else ''}")
        rows.append(dict(what=item.what, subject=item.subject, file=item.name, url=item.url,
                         destination=str(root / item.rel), size=item.nbytes or item.size,
                         status=status, check=item.check, summary=summary))
    n_new = sum(r["status"] == "downloaded" for r in rows)
    echo(f"{n_new} of {len(rows)} file(s) downloaded ({_human(fetched)}), "
         f"{len(rows) - n_new} already there, into {root}")
    return rows


def _human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover

