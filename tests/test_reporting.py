"""``eegvision report`` / ``ev.report``: one self-contained page per results folder.

The results come from real runs (``analyze temporal`` with ridge on two
simulated subjects, ``train`` with ridge); the page is checked as HTML here
and in a real browser in ``tests/test_report_browser.py``.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from eegvision.cli import main
from eegvision.reporting import summary_warnings, training_warnings

#: PNG figures the fixture's folders hold (temporal.png, preview/temporal-timecourse.png) plus
#: the figure the report draws for the training folder.
N_FIGURES = 3


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder: ``temporal/`` (ridge, subjects 1-2) and ``train/`` (ridge, subject 1)."""
    from eegvision.data.simulate import simulate_root

    base = tmp_path_factory.mktemp("report")
    root = base / "root"
    simulate_root(root, 2, seed=0, n_train=60, n_test=20, n_train_reps=2, n_test_reps=2,
                  layouts=("official",))
    out = base / "out"
    assert main(["analyze", "temporal", "--model", "ridge", "--subjects", "1-2", "--data-dir",
                 str(root), "--out", str(out / "temporal"), "--windows", "0-400,400-800",
                 "--no-noise-ceiling"]) == 0
    assert main(["train", "--model", "ridge", "--subject", "1", "--data-dir", str(root),
                 "--out", str(out / "train")]) == 0
    return out


@pytest.fixture
def out(results, tmp_path):
    """A copy of the results folder each test may change."""
    return shutil.copytree(results, tmp_path / "out", symlinks=True)


def _png_bytes():
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _images(page):
    return re.findall(r"<img [^>]*src='([^']*)'", page)


def test_cli_writes_one_page_with_every_folder(out, capsys):
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"-> {out / 'report.html'}" in printed and "warning: temporal" in printed
    assert "temporal — temporal/" in page and "train — train/" in page
    assert len(_images(page)) == N_FIGURES
    summary = pd.read_csv(out / "temporal" / "summary.csv")
    for condition in summary["condition"]:  # the summary table, row by row
        assert f"<td>{condition}</td>" in page
    assert "p_chance" in page and "ci_low" in page
    assert "eegvision analyze temporal --model ridge" in page  # provenance: the command
    assert "only 2 subjects" in page  # weak statistics flagged
    metrics = json.loads((out / "train" / "metrics.json").read_text())
    assert f"<td class='text'>{metrics['top1']:.6g}</td>" in page
    manifest = json.loads((out / ".eegvision-outputs.json").read_text())
    assert manifest["command"] == "report" and list(manifest["files"]) == ["report.html"]


def test_page_is_self_contained(out):
    main(["report", str(out)])
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:|//|file:)", page, re.I)
    assert not re.search(r"url\(", page)  # no CSS fetch either
    for href in re.findall(r"href='([^']*)'", page):
        assert href.startswith("#")
    for src in _images(page):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")


def test_python_api_returns_a_report_that_jupyter_displays(out):
    import eegvision as ev

    rep = ev.report(out)
    assert rep.path == out / "report.html" and rep.path.read_text(encoding="utf-8") == rep.html
    assert [s.kind for s in rep.sections] == ["analysis", "training"]
    assert rep.sections[0].n_figures == 2 and rep.sections[1].n_figures == 1
    shown = rep._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "sandbox" in shown
    assert "&lt;!DOCTYPE html&gt;" in shown and "<table" not in shown  # escaped: one attribute
    assert "warning(s)" in repr(rep) and rep.warnings


def test_report_of_an_analysis_folder_goes_beside_its_outputs(out, capsys):
    folder = out / "temporal"
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert main(["report", str(folder)]) == 0
    assert (folder / "report" / "report.html").is_file()
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    capsys.readouterr()
    for extra in ([], ["--overwrite"]):  # the folder it reads is never its --out
        assert main(["report", str(out), "--out", str(folder), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "is a results folder the report reads" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_a_users_report_html_is_never_replaced_without_overwrite(out, capsys):
    mine = out / "report.html"
    mine.write_text("my notes")
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert "report.html is not a file eegvision wrote" in err and "--overwrite" in err
    assert mine.read_text() == "my notes"
    assert main(["report", str(out), "--overwrite"]) == 0
    assert mine.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["report", str(out)]) == 0  # its own page: rerun replaces it


def test_a_folder_of_another_commands_outputs_is_refused(out, tmp_path, capsys):
    figs = tmp_path / "figs"
    assert main(["figures", "--results", str(out / "temporal"), "--out", str(figs)]) == 0
    before = {p.name: p.read_bytes() for p in figs.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["report", str(out), "--out", str(figs)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds the outputs of `eegvision figures`" in err
    assert {p.name: p.read_bytes() for p in figs.iterdir() if p.is_file()} == before


def test_text_from_the_files_is_escaped(out):
    import eegvision as ev

    hostile = "<script>alert(1)</script>"
    summary = pd.read_csv(out / "temporal" / "summary.csv")
    summary.loc[0, "condition"] = hostile
    summary.rename(columns={"sem": "<img src=x onerror=alert(2)>"}).to_csv(
        out / "temporal" / "summary.csv", index=False)
    config = json.loads((out / "temporal" / "config.json").read_text())
    (out / "temporal" / "config.json").write_text(json.dumps({**config, "data_root": hostile}))
    page = ev.report(out).html
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_results_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no analysis folder" in err
    assert not (tmp_path / "report.html").exists()


def test_a_folder_without_figure_gets_one_drawn_and_a_broken_one_a_warning(out):
    import eegvision as ev

    for png in (out / "temporal").rglob("*.png"):
        png.unlink()
    (out / "temporal" / "fake.png").write_text("not a png")  # never embedded as a broken image
    whole = (out / "train" / "history.csv").parent / "cut.png"
    whole.write_bytes(_png_bytes()[:200])  # a PNG cut short: the signature alone proves nothing
    (out / "train" / "ranks.csv").write_text("concept,rank\n")
    rep = ev.report(out)
    temporal, train = rep.sections
    assert temporal.n_figures == 1 and "drawn from the saved tables" in temporal.body
    assert "fake.png is not a readable PNG image" in " ".join(temporal.warnings)
    assert "cut.png is not a readable PNG image" in " ".join(train.warnings)
    assert train.n_figures == 0 and "ranks.csv is empty" in " ".join(train.warnings)
    assert len(_images(rep.html)) == temporal.n_figures + train.n_figures
    (out / "temporal" / "results.csv").write_text('a,"b\n')  # unreadable: the page still comes
    rep = ev.report(out)
    assert any("could not be read" in w for w in rep.sections[0].warnings)


# ------------------------------------------------------------------ the warnings
def _summary(**columns):
    base = {"condition": ["full", "early", "late"], "n_subjects": [8, 8, 8],
            "mean": [0.30, 0.20, 0.10], "sem": [0.02, 0.02, 0.01], "chance": [0.005] * 3,
            "p_chance": [1e-6, 1e-5, 1e-3], "p_chance_fdr": [1e-6, 1e-5, 1e-3],
            "p_vs_reference": [math.nan, 0.01, 0.001], "diff_vs_reference": [math.nan, -0.1, -0.2],
            "diff_ci_low": [math.nan, -0.15, -0.25], "diff_ci_high": [math.nan, -0.05, -0.15]}
    base.update(columns)
    return pd.DataFrame(base)


def test_healthy_statistics_have_no_warning():
    assert summary_warnings(_summary()) == []


def test_rows_are_named_by_their_condition_or_their_columns():
    by_k = pd.DataFrame({"condition": ["k=1", "k=2"], "k": [1, 2], "n_subjects": [4, 4],
                         "mean": [0.001, 0.5], "chance": [0.005, 0.01]})
    assert "at or below chance (mean ≤ chance): k=1" in summary_warnings(by_k)
    by_part = by_k.assign(condition=["reps", "reps"], part=["test", "train"])
    assert "at or below chance (mean ≤ chance): reps test 1" in summary_warnings(by_part)


def test_each_weakness_is_named():
    text = lambda **kw: " | ".join(summary_warnings(_summary(**kw)))  # noqa: E731
    assert "only 2 subjects" in text(n_subjects=[2, 2, 2])
    assert "1 subject: no test across subjects" in text(n_subjects=[1, 1, 1])
    assert "scored the same in early" in text(sem=[0.02, 0.0, 0.01])
    same = text(diff_ci_low=[math.nan, -0.1, -0.25], diff_ci_high=[math.nan, -0.1, -0.15])
    assert "same amount in early" in same
    assert "p_vs_reference is exactly 0 in late" in text(p_vs_reference=[math.nan, 0.01, 0.0])
    assert "p_vs_reference is missing (NaN) in early" in text(
        p_vs_reference=[math.nan, math.nan, 0.01])
    assert "p_chance is missing" in text(p_chance=[1e-6, math.nan, 1e-3])
    assert "at or below chance (mean ≤ chance): late" in text(mean=[0.3, 0.2, 0.005])
    flat = text(p_chance_fdr=[0.2, 0.5, 0.9])
    assert "no condition is above chance (p_chance_fdr" in flat
    assert "every condition is at or below chance" in text(mean=[0.001] * 3)


def test_a_reason_column_is_shown_instead_of_a_bare_nan():
    warnings = summary_warnings(_summary(
        p_vs_reference=[math.nan, math.nan, 0.01],
        reason=["", "2 subjects: paired t-test needs 3", None]))
    assert "2 subjects: paired t-test needs 3 (early)" in warnings
    assert not any("missing" in w for w in warnings)


def test_no_summary_is_a_warning():
    assert "no summary table" in summary_warnings(None)[0]


def test_training_warnings():
    hits = pd.DataFrame({"rank": [1] * 15 + [7] * 5})
    assert training_warnings({"n_way": 20, "top1": 0.75}, hits) == []
    chance = pd.DataFrame({"rank": [1] + [9] * 19})
    assert "not above chance (5.0%, 20-way)" in training_warnings({"n_way": 20, "top1": 0.05},
                                                                   chance)[0]
    assert "not from one run" in training_warnings({"n_way": 20, "top1": 0.5}, hits)[0]


# ------------------------------------------------------------------ in a real browser
#: Browsers tried in order: Debian's chromium-headless-shell (what .ci/run installs), chromium.
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome",
            "headless_shell")
CI_SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "run"

#: Appended to a copy of the page: after the load event, what the browser made of each image
#: and table, written into the DOM that ``--dump-dom`` prints.
_PROBE = """<script>addEventListener('load', () => {
  const r = {images: [...document.images].map(i => ({natural: i.naturalWidth,
                height: i.naturalHeight, complete: i.complete,
                shown: i.getBoundingClientRect().width})),
             tables: [...document.querySelectorAll('table')].map(t => t.rows.length),
             sections: document.querySelectorAll('section').length};
  const p = document.createElement('pre'); p.id = 'ev-probe';
  p.textContent = JSON.stringify(r); document.body.appendChild(p);
});</script>"""


def _browser():
    """Path of a headless Chromium; skip (fail where CI requires one) without it."""
    path = os.environ.get("EEGVISION_CHROMIUM") or next(
        (p for p in map(shutil.which, BROWSERS) if p), None)
    if path:
        return path
    reason = (f"needs headless Chromium: none of {', '.join(BROWSERS)} is on PATH (Debian: "
              "apt-get install chromium-headless-shell, as .ci/run does)")
    if os.environ.get("EEGVISION_REQUIRE_BROWSER"):
        pytest.fail(f"{reason}; EEGVISION_REQUIRE_BROWSER is set, so the browser test may "
                    "not skip here")
    pytest.skip(reason)


def _chromium(browser, profile, *args):
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--no-first-run", f"--user-data-dir={profile}",
                           *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_every_figure_and_table_renders_in_headless_chromium(out, tmp_path):
    from PIL import Image

    browser = _browser()
    main(["report", str(out)])
    page = (out / "report.html").read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"  # the page, byte for byte, plus the probe before </body>
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(browser, tmp_path / "profile", "--dump-dom", probe.as_uri())
    found = json.loads(html.unescape(re.search(r"<pre id=\"ev-probe\">(.*?)</pre>", dom,
                                               re.S).group(1)))
    assert len(found["images"]) == len(_images(page)) == N_FIGURES
    for image in found["images"]:  # decoded (not a broken-image icon) and laid out
        assert image["complete"] and image["natural"] > 100 and image["height"] > 100, image
        assert image["shown"] > 100, image
    assert len(found["tables"]) == page.count("<table") >= 6
    assert all(rows >= 1 for rows in found["tables"]) and found["sections"] == 2
    shot = tmp_path / "report.png"
    _chromium(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,2400",
              (out / "report.html").as_uri())
    with Image.open(shot) as im:
        rgb = im.convert("RGB")
    assert rgb.size == (1200, 2400)
    colours = rgb.getcolors(maxcolors=1 << 20)
    background = max(colours)[0]
    assert len(colours) > 200 and background < 0.9 * rgb.size[0] * rgb.size[1]  # not blank


def test_ci_installs_the_browser_and_forbids_the_skip():
    text = CI_SCRIPT.read_text()
    assert "apt-get install" in text and "chromium-headless-shell" in text
    assert "export EEGVISION_REQUIRE_BROWSER=1" in text
