"""The documentation cannot rot: its code runs, its commands parse, its reference is whole.

- Every ```python block of ``docs/*.md`` and ``README.md`` runs, page by page,
  on a tiny simulated root (blocks that cannot run say why in the Markdown).
- Every ``eegvision ...`` line in a ```bash block is parsed by the real
  parser (``eegvision.cli.build_parser``); the cheap ones run.
- Every ``--option`` in inline code of the docs exists on some sub-command.
- ``docs/examples/quickstart.ipynb`` runs end to end on a tiny simulated root
  (needs nbclient, nbformat and ipykernel; skipped without them).
- ``docs/api.md`` renders every public module; the site's griffe extension
  (``docs/_griffe_eegvision.py``) turns Sphinx roles into links and fills the
  docdict as ``@fill_doc`` does; no parameter doc is written out twice.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import textwrap
from pathlib import Path

import pytest

from eegvision.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
NOTEBOOK = DOCS / "examples" / "quickstart.ipynb"
SHELL_BREAKS = {"&&", "||", "|", ";", ">", ">>", "2>", "&"}
#: Options of other tools that the docs mention in inline code.
# options of other tools (mkdocs, pip, jupyter) and of the benchmark scripts
FOREIGN_OPTIONS = {"--strict", "--site-dir", "--index-url", "--clear-output", "--inplace",
                   "--compile", "--batches", "--batch-size", "--skip-nice-amp",
                   "--fast-settings"}  # pip, mkdocs, nbconvert, benchmarks


def _doc_files():
    return sorted(DOCS.rglob("*.md")) + [REPO / "README.md"]


def _bash_blocks(text):
    return re.findall(r"^```(?:bash|sh|shell|console)[ \t]*\n(.*?)^```", text, re.M | re.S)


def _commands(block):
    """Each ``eegvision`` invocation in a shell block, as an argument list."""
    joined = re.sub(r"\\\n", " ", block)  # line continuations
    for line in joined.splitlines():
        line = line.strip().removeprefix("$ ")
        if "eegvision" not in line:
            continue
        tokens = shlex.split(line, comments=True)
        for i, tok in enumerate(tokens):
            # a command: `eegvision` first on the line or right after && ; | ...
            if tok == "eegvision" and (i == 0 or tokens[i - 1] in SHELL_BREAKS):
                args = []
                for t in tokens[i + 1:]:
                    if t in SHELL_BREAKS:
                        break
                    args.append(t)
                yield line, args


def _subparsers(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _subcommands():
    return set(_subparsers(build_parser()).choices)


def documented_commands():
    out = []
    for path in _doc_files():
        if not path.is_file():
            continue
        for block in _bash_blocks(path.read_text(encoding="utf-8")):
            for line, args in _commands(block):
                out.append(pytest.param(args, id=f"{path.name}: {line[:70]}"))
    return out


@pytest.mark.parametrize("args", documented_commands())
def test_documented_command_parses(args):
    """Each documented command line is accepted by ``eegvision``'s parser."""
    parser = build_parser()
    if args == ["--version"]:
        return  # argparse exits 0 after printing the version
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            parser.parse_args(args)
        except SystemExit as exc:
            pytest.fail(f"`eegvision {' '.join(args)}` is documented but does not parse "
                        f"(exit {exc.code}):\n{err.getvalue()}")


def test_docs_show_every_subcommand():
    """Every sub-command appears in at least one documented command line."""
    seen = {p.values[0][0] for p in documented_commands() if p.values[0]}
    missing = sorted(_subcommands() - seen)
    assert not missing, f"sub-commands without an example in the docs: {missing}"


def _all_options():
    parser = build_parser()
    options = {o for a in parser._actions for o in a.option_strings}
    for p in _subparsers(parser).choices.values():
        options |= {o for a in p._actions for o in a.option_strings}
    return options


def _benchmark_options():
    """Options the benchmark scripts define (their commands are in the docs too)."""
    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    return {m for f in bench.glob("*.py")
            for m in re.findall(r'add_argument\(\s*"(--[a-z0-9-]+)"', f.read_text())}


def test_inline_options_exist():
    """Every ``--option`` written in inline code in the docs is a real option."""
    known = _all_options() | FOREIGN_OPTIONS | _benchmark_options()
    unknown = []
    for path in _doc_files():
        if not path.is_file():
            continue
        text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
        for span in re.findall(r"`([^`\n]+)`", text):
            for opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", span):
                if opt not in known:
                    unknown.append(f"{path.name}: {opt} (in `{span}`)")
    assert not unknown, "options in the docs that eegvision does not have:\n" + "\n".join(unknown)


def test_command_extractor():
    """The extractor finds chained, continued and commented commands."""
    block = ("pip install -e . && eegvision analyze temporal --subject 3  # note\n"
             "eegvision analyze spatial \\\n    --mode both\n"
             "cd eegvision; pip install eegvision\n")
    found = [args for _, args in _commands(block)]
    assert found == [["analyze", "temporal", "--subject", "3"],
                     ["analyze", "spatial", "--mode", "both"]]


# ------------------------------------------------------------------ notebook
def test_notebook_is_stored_clean():
    """The notebook is committed without outputs, with a tagged parameters cell."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "the notebook has no code cells"
    for cell in code:
        assert not cell.get("outputs"), "store the notebook without outputs"
        assert cell.get("execution_count") is None, "store the notebook without execution counts"
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), \
        "the first code cell must be tagged 'parameters'"


@pytest.mark.slow
def test_notebook_runs(tmp_path, monkeypatch):
    """The quick-start notebook runs on a tiny simulated root and writes its files."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from eegvision.data.simulate import simulate_root

    root = simulate_root(tmp_path / "root", 1, seed=0, n_train=200, n_test=40,
                         n_train_reps=2, n_test_reps=4)
    out = tmp_path / "out"
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells
                  if c.cell_type == "code" and "parameters" in c.metadata.get("tags", []))
    params.source = (f"DATA_DIR = {str(root)!r}\nSUBJECT = 1\nMODEL = 'ridge'\n"
                     f"WINDOWS = '0-200,200-400'\nSTEP_SAMPLES = 50\nOUT = {str(out)!r}\n")
    # the kernel inherits the environment: let it use Jupyter's inline backend, not Agg
    monkeypatch.delenv("MPLBACKEND", raising=False)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the traceback, if a cell fails

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    for rel in ("temporal/results.csv", "temporal/summary.csv", "temporal/config.json",
                "temporal/temporal.png", "temporal/temporal.pdf",
                "saliency/results.csv", "saliency/saliency.csv",
                "saliency/saliency_regions.csv", "saliency/saliency.png"):
        assert (out / rel).is_file(), f"the notebook did not write {rel}"
    config = json.loads((out / "temporal" / "config.json").read_text())
    assert config["model"] == "ridge" and config["options"]["windows"] == "0-200,200-400"
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the notebook should display its four figures"
    pages = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code"
             for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert (out / "report.html").is_file() and any("<iframe srcdoc=" in "".join(p) for p in pages)


def test_write_root_snippet_writes_a_root_that_info_and_analyze_read(tmp_path, capsys):
    """docs/own-data.md's ``write_root``, run as printed, on epochs with EOG and stim channels."""
    import mne
    import numpy as np

    from eegvision.cli import main

    text = (DOCS / "own-data.md").read_text()
    block = next(b for b in re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
                 if "def write_root" in b)
    namespace = {}
    exec(compile(block, "docs/own-data.md:write_root", "exec"), namespace)
    names = ["O1", "Oz", "O2", "P7", "P3", "Pz", "P4", "P8", "EOG1", "STI"]
    info = mne.create_info(names, 100.0, ["eeg"] * 8 + ["eog", "stim"])
    rng = np.random.default_rng(0)
    epochs = mne.EpochsArray(rng.standard_normal((4, 10, 100)), info, tmin=0.0, verbose=False)
    epochs.info["bads"] = ["P8"]
    n_eeg = 7  # 8 EEG channels, one of them bad; EOG and stim never enter
    train_features, test_features = rng.standard_normal((2, 40, 16))
    # image information in the EEG: the features, projected onto the 7 channels, in 30-60 ms
    proj = rng.standard_normal((16, n_eeg))
    def eeg(feats, reps):
        x = rng.standard_normal((len(feats), reps, n_eeg, 100))
        x[..., 30:60] += 3 * (feats @ proj)[:, None, :, None]
        return x
    namespace["write_root"](tmp_path / "my_root", 1, eeg(train_features, 2), eeg(test_features, 2),
                            train_features, test_features, epochs)
    assert main(["info", "--data-dir", str(tmp_path / "my_root"), "--subject", "1"]) == 0
    assert "7 channels" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["analyze", "temporal", "--data-dir", str(tmp_path / "my_root"), "--subject", "1",
                 "--model", "ridge", "--out", str(out), "--no-noise-ceiling"]) == 0
    assert (out / "results.csv").is_file()


# ------------------------------------------------------------------ API reference
def _public_modules():
    """Every module of the package with no ``_name`` in its dotted path."""
    for path in sorted((REPO / "eegvision").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not any(p.startswith("_") for p in parts):
            yield ".".join(parts)


def test_api_reference_lists_every_public_module():
    """``docs/api.md`` renders each public module (``::: module`` on its own line)."""
    rendered = set(re.findall(r"^::: ([\w.]+)\s*$", (DOCS / "api.md").read_text(), re.M))
    modules = set(_public_modules())
    assert len(modules) > 50  # the walk found the package
    assert not sorted(modules - rendered), f"public modules missing from docs/api.md: " \
                                           f"{sorted(modules - rendered)}"
    assert not sorted(rendered - modules), f"api.md renders modules that do not exist: " \
                                           f"{sorted(rendered - modules)}"


@pytest.fixture(scope="module")
def griffe_docs():
    """The site's griffe extension module and eegvision as griffe reads it (statically)."""
    griffe = pytest.importorskip("griffe")
    import importlib.util

    spec = importlib.util.spec_from_file_location("_griffe_eegvision",
                                                  DOCS / "_griffe_eegvision.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    loader = griffe.GriffeLoader(search_paths=[str(REPO)])
    loader.load("eegvision")
    loader.resolve_aliases(implicit=False, external=False)
    return ext, loader.modules_collection


@pytest.mark.parametrize("where, text, expected", [
    ("eegvision.training", ":func:`fit`", "[`fit`][eegvision.training.loop.fit]"),
    ("eegvision.data.container", ":class:`~eegvision.training.TrainConfig`",
     "[`TrainConfig`][eegvision.training.config.TrainConfig]"),
    ("eegvision.analysis", ":class:`~.spec.AnalysisSpec`",
     "[`AnalysisSpec`][eegvision.analysis.spec.AnalysisSpec]"),
    ("eegvision.data.container.EEGImageData", ":meth:`copy`",
     "[`copy`][eegvision.data.container.EEGImageData.copy]"),
    ("eegvision.pipeline", ":func:`eegvision.analyze`",
     "[`eegvision.analyze`][eegvision.pipeline.analyze]"),
    ("eegvision.pipeline", ":mod:`eegvision.outputs`", "[`eegvision.outputs`][eegvision.outputs]"),
    ("eegvision.training.steps", ":attr:`~eegvision.data.EEGImageData.zero_outside`",
     "[`zero_outside`][eegvision.data.container.EEGImageData.zero_outside]"),
    ("eegvision.data.montage", ":data:`REGIONS`", "[`REGIONS`][eegvision.data.montage.REGIONS]"),
    # private targets are not on the site: plain code
    ("eegvision.pipeline", ":func:`~eegvision._outdir.staged_outputs`", "`staged_outputs`"),
    # other projects: their reference pages
    ("eegvision.data.container", ":class:`mne.decoding.SlidingEstimator`",
     "[`mne.decoding.SlidingEstimator`](https://mne.tools/stable/generated/"
     "mne.decoding.SlidingEstimator.html)"),
    ("eegvision.data.container", ":meth:`mne.Evoked.plot`",
     "[`mne.Evoked.plot`](https://mne.tools/stable/generated/mne.Evoked.html#mne.Evoked.plot)"),
    ("eegvision.data.container", ":class:`~pathlib.Path`",
     "[`Path`](https://docs.python.org/3/library/pathlib.html#pathlib.Path)"),
])
def test_sphinx_roles_become_links(griffe_docs, where, text, expected):
    ext, collection = griffe_docs
    assert ext.convert_roles(f"See {text}.", collection[where], collection) == f"See {expected}."


def test_unresolved_role_is_a_build_error(griffe_docs, caplog):
    """A reference to nothing is logged as a warning, which ``mkdocs --strict`` fails on."""
    ext, collection = griffe_docs
    with caplog.at_level("WARNING"):
        out = ext.convert_roles(":func:`no_such_function`", collection["eegvision.pipeline"],
                                collection)
    assert out == "`no_such_function`"
    assert "cannot resolve the reference :func:`no_such_function`" in caplog.text


def test_docdict_filled_as_at_import(griffe_docs, caplog):
    """The site shows the docstring ``help()`` shows: placeholders filled, only under @fill_doc."""
    import inspect

    import eegvision as ev

    ext, collection = griffe_docs
    analyze = collection["eegvision.pipeline.analyze"]
    before = analyze.docstring.value
    assert "%(subjects)s" in before
    try:
        ext.fill(analyze)
        assert analyze.docstring.value == inspect.cleandoc(ev.analyze.__doc__)
    finally:
        analyze.docstring.value = before
    plain = collection["eegvision.evaluate.topk_from_ranks"]  # not decorated with fill_doc
    before = plain.docstring.value
    try:
        plain.docstring.value += "\n\n%(subjects)s"
        with caplog.at_level("WARNING"):
            ext.fill(plain)
        assert "not decorated with @fill_doc" in caplog.text
    finally:
        plain.docstring.value = before


# ------------------------------------------------------------------ code blocks run
# Every ```python block of the docs runs, page by page in one namespace (as a reader
# would paste them), in a temporary working folder, on a tiny simulated root that
# $EEGVISION_DATA points at. A block that cannot run here is marked in the Markdown
# with ``<!-- skip: reason -->`` on the line before its fence; the reason is reported.
#
# PAGES lists, per page, what the test provides and changes, and nothing else:
# - "prelude": the names a page leaves to the reader (your own epochs, features...),
#   built from simulated data;
# - "subs": (text, replacement) pairs: paths of the reader's data -> the tiny root,
#   and sizes made small so the page runs in seconds (ridge or 1 epoch, 2 subjects,
#   1 seed). Each must occur on the page, so a stale one fails;
# - "module": the block is that module's file (the page says so), imported as it;
# - "epilogue": checks run after the page.
OWN_EPOCHS = '''
import mne
import numpy as np
import eegvision as ev

_rng = np.random.default_rng(0)
_names = ["00001_aircraft_carrier", "00002_antelope"] + [f"{i:05d}_concept" for i in range(3, 61)]
_feats = _rng.standard_normal((len(_names), 16))
_ch = ["O1", "Oz", "O2", "PO7", "PO3", "POz", "PO4", "PO8", "P7", "P3", "Pz", "P4", "P8",
       "C3", "Cz", "C4"]
_info = mne.create_info(_ch, 250.0, "eeg")
_image = np.tile(np.arange(len(_names)), 5)  # 5 presentations of each image
_X = _rng.standard_normal((len(_image), len(_ch), 76))
_X[:, :, 30:55] += 2 * (_feats[_image] @ _rng.standard_normal((16, len(_ch))))[:, :, None]
epochs = mne.EpochsArray(_X * 1e-6, _info, tmin=-0.1, verbose="error")
epochs.set_montage("easycap-M1")
import pandas as pd
my_trial_table = pd.DataFrame({"concept": np.asarray(_names)[_image],
                               "split": np.where(_image >= 48, "test", "train")})
epochs.metadata = my_trial_table
features = dict(zip(_names, _feats))
data = ev.EEGImageData.from_epochs(epochs, features)
'''
PAGES = {
    "README.md": {"prelude": OWN_EPOCHS,
                  "subs": [('subjects=[1, 2], model="ridge"',
                            'subjects=[1], model="ridge", noise_ceiling=False')]},
    "analyses.md": {"subs": [('subjects="1-10", seeds=range(5)', 'subjects="1", seeds=[0]'),
                             ('data_dir="/data/things"', "data_dir=ROOT"),
                             ('model="nice", recipe="nice"', 'model="ridge", noise_ceiling=False')]},
    "contributing.md": {
        "module": "eegvision.analysis.early",
        "epilogue": '''
from eegvision.analysis import register, unregister
from eegvision.pipeline import analyze
register(SPEC)
try:
    df = analyze("early", 1, model="ridge", cut_ms=200, noise_ceiling=False, progress=False)
    assert list(df["condition"]) == ["full", "0-200ms"], df
finally:
    unregister("early")
'''},
    "data.md": {"subs": [('"/tmp/tiny"', 'TMP / "tiny"')]},
    "images.md": {"subs": [("epochs=20)", "epochs=1, noise_ceiling=False, timecourse=False)")],
                  "epilogue": "from eegvision.models import unregister_encoder\n"
                              "unregister_encoder('my-net')\n"},
    "own-data.md": {"prelude": OWN_EPOCHS + '''
epochs.save("sub-01-epo.fif", verbose="error")
np.save("clip.npy", _feats[_image])
subject1 = subject2 = ev.SubjectData(1, train=ev.EEGImageData.from_epochs(
    epochs[_image < 48], features), test=ev.EEGImageData.from_epochs(epochs[_image >= 48], features))
''', "subs": [("data={1: subject1, 2: subject2})", 'data={1: subject1, 2: subject2}, model="ridge")'),
              ('features=features, out="results/temporal")',
               'features=features, out="results/temporal", model="ridge")'),
              ('model="nice"))', 'model="nice", epochs=1))'),
              ('ContrastiveDecoder("nice", epochs=30, random_state=0)',
               'ContrastiveDecoder("nice", epochs=1, random_state=0)')]},
    "preprocessing.md": {"subs": [('"/data/things/Raw_data', 'f"{RAW}/Raw_data'),
                                  ('"/data/things"', "RAW"),
                                  ('"/scratch/things-250"', 'TMP / "things-250"')]},
    # docs/report.md (on main since this test was written): a results folder to report on
    "report.md": {"prelude": "import eegvision as ev\n"
                             "ev.analyze('temporal', 1, model='ridge', out='eegvision-out/temporal', "
                             "noise_ceiling=False, progress=False)\n"},
    "sources.md": {"subs": [('ev.sources(3, model="ridge", out="eegvision-out/sources")',
                             'ev.sources(1, model="ridge", out="eegvision-out/sources", '
                             'noise_ceiling=False, progress=False)')]},
    "training.md": {"subs": [('"/data/things"', "ROOT"),
                             ("epochs=50", "epochs=1, val_conditions=0.1")]},
}
SKIP_MARK = re.compile(r"<!--\s*skip:\s*(.*?)\s*-->\s*\Z")


def _python_blocks(path):
    """(line, code, skip reason or None) of each ```python block of ``path``."""
    text = path.read_text(encoding="utf-8")
    for m in re.finditer(r"^```python[ \t]*\n(.*?)^```", text, re.M | re.S):
        before = text[:m.start()]
        skip = SKIP_MARK.search(before)
        yield before.count("\n") + 1, m.group(1), skip.group(1) if skip else None


def _pages_with_code():
    return [p for p in _doc_files() if p.is_file() and any(_python_blocks(p))]


@pytest.fixture
def docs_root(tiny_root):
    """What the pages' ``/data/things`` is: one subject, 17 channels at 100 Hz, 60/20 images."""
    return tiny_root


def _run_module_block(code, name, namespace):
    """Execute ``code`` as the module ``name`` of the package (relative imports work)."""
    import sys
    import types

    module = types.ModuleType(name)
    module.__package__ = name.rpartition(".")[0]
    sys.modules[name] = module
    try:
        exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    finally:
        sys.modules.pop(name)
    namespace.update(vars(module))


@pytest.mark.parametrize("page", _pages_with_code(), ids=lambda p: p.name)
def test_python_blocks_run(page, docs_root, tmp_path, monkeypatch):
    """Each ```python block of the page runs, on the tiny root, with the page's setup only."""
    setup = PAGES.get(page.name, {})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EEGVISION_DATA", str(docs_root))
    raw = None
    if page.name == "preprocessing.md":  # the raw recordings the page preprocesses
        from eegvision.data.simulate import simulate_root
        raw = simulate_root(tmp_path / "raw_root", 1, seed=0, n_train=4, n_test=2, raw=True,
                            layouts=())
    namespace = {"__name__": "__docs__", "ROOT": str(docs_root), "TMP": tmp_path, "RAW": raw}
    exec(setup.get("prelude", ""), namespace)
    code = ""
    for line, block, skip in _python_blocks(page):
        if not skip:  # each block at its line of the page, for the tracebacks
            code += "\n" * (line - code.count("\n")) + block
    for old, new in setup.get("subs", []):
        assert old in code, f"{page.name}: the test substitutes {old!r}, no longer on the page"
        code = code.replace(old, new)
    if "module" in setup:
        _run_module_block(code, setup["module"], namespace)
    else:
        exec(compile(code, str(page.relative_to(REPO)), "exec"), namespace)
    exec(setup.get("epilogue", ""), namespace)


def _skipped_blocks():
    return [pytest.param(reason, id=f"{p.name}:{line}") for p in _pages_with_code()
            for line, _, reason in _python_blocks(p) if reason is not None]


@pytest.mark.parametrize("reason", _skipped_blocks())
def test_skipped_python_block(reason):
    """A block marked ``<!-- skip: reason -->`` says why (reported as a skip)."""
    assert len(reason.split()) >= 3, f"say why the block cannot run, not {reason!r}"
    pytest.skip(reason)


# ------------------------------------------------------------------ shell commands run
def _cheap(args):
    """Documented commands cheap enough to run here: ``info``, ``--version``, ridge training,
    a download's ``--dry-run`` (no network, no writes)."""
    return (args[:1] in (["info"], ["--version"])
            or (args[:1] == ["train"] and "ridge" in args and "--loso" not in args)
            or (args[:1] == ["download"] and "--dry-run" in args))


def cheap_commands():
    return [p for p in documented_commands() if _cheap(p.values[0])]


@pytest.mark.parametrize("args", cheap_commands())
def test_cheap_documented_command_runs(args, tiny_root, tmp_path, monkeypatch, capsys):
    """The cheap documented commands run on the tiny root (any data root they name is it)."""
    from eegvision.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EEGVISION_DATA", str(tiny_root))
    root = tmp_path / "not-written" if args[0] == "download" else tiny_root
    args = [str(root) if i and args[i - 1] == "--data-dir" else a for i, a in enumerate(args)]
    try:
        code = main(args)
    except SystemExit as exc:  # --version exits through argparse
        code = exc.code
    out = capsys.readouterr()
    assert code in (0, None), f"`eegvision {' '.join(args)}` exited {code}:\n{out.err}"
    assert out.out.strip(), f"`eegvision {' '.join(args)}` printed nothing"
    assert not (tmp_path / "not-written").exists(), "a dry run wrote into its --data-dir"


def test_cheap_commands_are_found():
    """The selection above is not empty: each kind of cheap command is documented."""
    firsts = {p.values[0][0] for p in cheap_commands()}
    assert firsts == {"info", "--version", "train", "download"}, firsts


# ------------------------------------------------------------------ shared parameter docs
def _parameter_entries(doc):
    """{parameter: entry} of a raw numpydoc docstring; a ``%(key)s`` line gives ``'%(key)s'``."""
    from eegvision._docs import docdict

    body = textwrap.dedent("\n".join(doc.splitlines()[1:]))
    section = re.search(r"^Parameters\n-{3,}\n(.*?)(?=^\w[\w ]*\n-{3,}\n|\Z)", body, re.M | re.S)
    entries, current = {}, []
    for line in section.group(1).splitlines() if section else []:
        if line[:1].strip():  # a header line: "name : type", "a, b : type" or "%(key)s"
            placeholder = re.fullmatch(r"%\((\w+)\)s\s*", line)
            header = docdict[placeholder.group(1)].split("\n")[0] if placeholder else line
            current = [n.strip() for n in header.partition(" : ")[0].split(",")]
            for name in current:
                entries[name] = [line.strip()] if placeholder else [header.partition(" : ")[2]]
        elif current and not re.fullmatch(r"%\(\w+\)s", entries[current[0]][0]):
            for name in current:
                entries[name].append(line.strip())
    return {k: " ".join(v).strip() for k, v in entries.items()}


def _public_signatures():
    """(dotted name, parameter names, raw docstring) of each public function, class, method."""
    import ast

    for module in _public_modules():
        path = REPO / (module.replace(".", "/") + ".py")
        path = path if path.is_file() else path.with_suffix("") / "__init__.py"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                yield from _signatures_of(node, f"{module}.{node.name}")


def _signatures_of(node, name):
    import ast

    def params(fn):
        a = fn.args
        return [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]

    if isinstance(node, ast.FunctionDef):
        yield name, params(node), ast.get_docstring(node, clean=False) or ""
        return
    methods = [n for n in node.body if isinstance(n, ast.FunctionDef)]
    init = next((m for m in methods if m.name == "__init__"), None)
    if init is not None:
        yield name, params(init), ast.get_docstring(node, clean=False) or ""
    for m in methods:
        if not m.name.startswith("_"):
            yield f"{name}.{m.name}", params(m), ast.get_docstring(m, clean=False) or ""


def docdict_counts():
    """(signatures, signatures using the docdict, parameters documented from it)."""
    sigs = list(_public_signatures())
    entries = [_parameter_entries(doc) for _, _, doc in sigs]
    filled = [sum(e.get(p, "").startswith("%(") for p in params)
              for (_, params, _), e in zip(sigs, entries)]
    return len(sigs), sum(n > 0 for n in filled), sum(filled)


def test_no_parameter_doc_written_out_twice():
    """A parameter documented with the same words in two public docstrings comes from the docdict.

    (Entries without a description, ``x : array`` alone, are left out.)
    """
    seen = {}
    for name, params, doc in _public_signatures():
        for param, text in _parameter_entries(doc).items():
            if param in params and not text.startswith("%(") and " " in text.strip():
                seen.setdefault((param, " ".join(text.split())), []).append(name)
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    assert not twice, "write these once in eegvision/_docs.py's docdict and use %(key)s:\n" + \
        "\n".join(f"{p}: {t[:60]!r} in {v}" for (p, t), v in twice.items())


def test_docdict_entries_are_used_and_count():
    """Every docdict entry fills some public docstring; the count does not fall back.

    The count (signatures filled from the docdict / parameter docs taken from
    it) was 5 / 28 of 454 before issue 27's docdict pass and 33 / 81 after it.
    """
    from eegvision._docs import docdict

    used = {k for _, _, doc in _public_signatures() for k in re.findall(r"%\((\w+)\)s", doc)}
    assert not sorted(set(docdict) - used), f"docdict entries no docstring uses: " \
                                            f"{sorted(set(docdict) - used)}"
    n, n_using, n_params = docdict_counts()
    print(f"{n} public signatures, {n_using} use the docdict, {n_params} parameter docs from it")
    assert n_using >= 33 and n_params >= 81
