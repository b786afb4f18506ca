"""The layers of DESIGN.md hold: a lower layer never imports an upper one.

Data flow top to bottom, imports point only upward (DESIGN.md, "Layers")::

    0 base       eegvision (package: eager imports only), _utils, _workspace, _docs
    1 data       eegvision.data.*          files -> arrays, the container
    2 images     eegvision.images.*        image sets -> features
    3 models     eegvision.models.*        encoders, projector, loss, ridge
    4 train      training.*, evaluate,     fit / score one container (training: config,
                 decoding, _provenance,    device, build, steps, loop, blur_fit,
                 sweep                     checkpoint, runs; decoding: the scikit-learn
                                           estimators, which call training.fit and
                                           evaluate's top-k; _provenance: fingerprints
                                           of data, code and software; sweep: many
                                           models trained together)
    5 analysis   eegvision.analysis.<q>    one module per question, + stats
    6 runner     runner, _dask              jobs, caching, backends
    7 viz        eegvision.viz.*           tables -> figures
    8 api        eegvision.analysis (the package: analyze, build_jobs,
                 write_outputs, load_results), viz.figures (rebuilds figures from
                 result folders on disk)
    9 cli        cli, __main__, _commands.*  (the sub-commands' bodies: parse, call, print)

A module may import its own layer or any lower one. Every import counts,
also those inside functions (the package imports heavy modules lazily, but a
lazy import is still a dependency), and ``importlib.import_module`` with a
literal or f-string name (``f"eegvision.analysis.{name}"``) counts as an
import of every module matching the pattern.

``ALLOWED_UPWARD`` lists the designed exceptions (plotting methods of the
container that call viz, the way MNE's objects do).

Import cycles between modules are reported too: there are none (``KNOWN_CYCLES`` is
empty since issue 17 split train.py, the CLI bodies and data/), and a new one fails the
test.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "eegvision"

#: module-name prefix -> layer; the longest matching prefix wins.
LAYERS = {
    "eegvision": 0, "eegvision._utils": 0, "eegvision._workspace": 0, "eegvision._docs": 0,
    "eegvision.data": 1,
    "eegvision.images": 2,
    "eegvision.models": 3,
    "eegvision.training": 4, "eegvision.evaluate": 4, "eegvision.decoding": 4,
    "eegvision._provenance": 4, "eegvision.sweep": 4,
    "eegvision.analysis.": 5,
    "eegvision.runner": 6, "eegvision._dask": 6,
    "eegvision.viz": 7,
    "eegvision.analysis": 8, "eegvision.viz.figures": 8, "eegvision.pipeline": 8,
    "eegvision.outputs": 8,
    "eegvision.cli": 9, "eegvision.__main__": 9, "eegvision._commands": 9,
}

#: Cycles (sets of modules importing each other) allowed; none since the split of train.py and
#: data/ (issue 17). A new cycle fails the test.
KNOWN_CYCLES = []


#: Upward imports by design (not knots): object methods that plot call viz, as MNE's
#: ``Evoked.plot_topomap`` calls ``mne.viz``; viz.evoked imports nothing of the data layer.
ALLOWED_UPWARD = {
    ("eegvision.data.container", "eegvision.viz.evoked"),
}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def all_modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(name):
    # "eegvision.analysis." (trailing dot) matches the analysis modules, not the package
    best = max((p for p in LAYERS if name == p or name.startswith(p.rstrip(".") + ".")),
               key=len, default=None)
    assert best is not None, f"{name}: no layer; add it to LAYERS in tests/test_layers.py"
    return LAYERS[best]


def _resolve(module, path, node, modules):
    """Module names imported by one ``Import`` / ``ImportFrom`` node."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    # ``from . import name`` imports the submodule ``name`` when there is one
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def _dynamic(module, node):
    """Pattern imported by ``importlib.import_module(<literal or f-string>)``, or None."""
    if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
            and node.args):
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):
        out = ""
        for part in arg.values:
            if isinstance(part, ast.Constant):
                out += part.value
            elif isinstance(part.value, ast.Name) and part.value.id == "__name__":
                out += module
            else:
                out += "*"
        return out
    return None


def import_graph():
    modules = all_modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(_resolve(module, path, node, modules))
            pattern = _dynamic(module, node)
            if pattern is not None:
                prefix = pattern.split("*")[0]
                targets.update(m for m in modules if m.startswith(prefix) and m != module)
        graph[module] = {t for t in targets if t.split(".")[0] == "eegvision" and t != module}
    return graph


def test_every_module_has_a_layer():
    for name in all_modules():
        layer_of(name)


def test_the_graph_sees_lazy_and_dynamic_imports():
    graph = import_graph()
    assert "eegvision.viz" in graph["eegvision.outputs"]  # inside _write_outputs
    assert "eegvision.analysis.temporal" in graph["eegvision.analysis"]  # importlib f-string
    assert "eegvision.models.nice" in graph["eegvision.models"]  # f"{__name__}.{module}"


def test_lower_layers_never_import_upper_ones():
    bad = [f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)})"
           for src, dsts in import_graph().items() for dst in sorted(dsts)
           if layer_of(dst) > layer_of(src) and (src, dst) not in ALLOWED_UPWARD]
    assert not bad, "layer violations:\n" + "\n".join(bad)


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_beyond_the_known_ones():
    found = _cycles(import_graph())
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not new, f"new import cycles: {new}"
    assert not gone, f"cycles no longer present (delete them from KNOWN_CYCLES): {gone}"


def test_the_knot_analysis_runner_dask_viz_is_cut():
    graph = import_graph()
    for analysis in (m for m in graph if m.startswith("eegvision.analysis.")):
        assert not {d for d in graph[analysis] if d.startswith(("eegvision.viz", "eegvision.runner",
                                                                "eegvision._dask"))}, analysis
    assert "eegvision.runner" not in graph["eegvision._dask"]
    assert not {d for d in graph["eegvision.runner"] if d.startswith("eegvision.viz")}


#: What an analysis module may take from the data layer: names, montage, no readers.
_PURE_DATA = {"eegvision.data.container", "eegvision.data.montage", "eegvision.data.nice_groups"}
_READERS = {"open", "load", "read_csv", "read_table", "read_text", "read_bytes", "loadtxt",
            "load_subject", "read_preprocessed", "read_concept_table", "find_subject_files",
            "resolve_root", "builtin_root"}


#: Analysis modules that still read files themselves, and why; none since issue 17 (the entry
#: layer hands every job its single repetitions and the other subjects). May only stay empty.
READS_FILES = {}


def test_analysis_modules_read_no_file_and_plot_nothing():
    graph = import_graph()
    for module, path in all_modules().items():
        if not module.startswith("eegvision.analysis.") or module in READS_FILES:
            continue
        data_imports = {d for d in graph[module] if d.startswith("eegvision.data")}
        # data.things.concept_name is a pure string function; nothing else of the readers
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 and (n.module or "").endswith("things") for a in n.names}
        assert names <= {"concept_name"}, (module, names)
        assert data_imports <= _PURE_DATA | {"eegvision.data.things"}, (module, data_imports)
        calls = {getattr(n.func, "attr", getattr(n.func, "id", None)) for n in ast.walk(tree)
                 if isinstance(n, ast.Call)}
        assert not calls & _READERS, (module, calls & _READERS)
        # and no plotting: viz/ plots their tables
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] == "matplotlib"}, module


def test_the_modules_that_still_read_files_do():
    graph = import_graph()
    for module in READS_FILES:  # an entry that no longer reads files must be deleted
        assert "eegvision.data.things" in graph[module], module


def test_command_line_bodies_live_in_the_cli_layer():
    """Library modules return values; the sub-commands' bodies (``*_cli``) are in layer 9."""
    for module, path in all_modules().items():
        if layer_of(module) == 9:
            continue
        tree = ast.parse(path.read_text())
        bodies = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                  and n.name.endswith("_cli")}
        assert not bodies, (module, bodies)
