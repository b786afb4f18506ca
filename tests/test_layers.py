"""The layers of DESIGN.md hold: a lower layer never imports an upper one.

Data flow top to bottom, imports point only upward (DESIGN.md, "Layers")::

    0 base       _utils, _workspace, _docs, _values, _style, _outdir, _checkpoint_checks
    1 data       eegvision.data.*          files -> arrays, the container
    2 images     eegvision.images.*        image sets -> features
    3 models     eegvision.models.*        encoders, projector, loss, ridge
    4 train      training.*, evaluate,     fit / score one container (training: config,
                 decoding, _provenance,    device, build, loop, blur_fit, checkpoint,
                 sweep                     runs; decoding: the scikit-learn estimators;
                                           _provenance: fingerprints of data, code and
                                           software; sweep: many models trained together)
  4.5 cortex     eegvision.cortex.*        inverse of the template head, maps on the cortex
    5 analysis   eegvision.analysis.*      the spec, one module per question, the registry
    6 runner     runner, _dask              jobs, caching, backends
    7 viz        eegvision.viz.*           tables -> figures
    8 api        eegvision (the package's  orchestration (pipeline: analyze, build_jobs),
                 lazy names), pipeline,    result folders (outputs: written and read in
                 outputs, figures          one place), figures rebuilt from result folders
    9 cli        cli, __main__, _commands.*  (the sub-commands' bodies: parse, call, print)

A module may import its own layer or any lower one. Every import counts,
also those inside functions (the package imports heavy modules lazily, but a
lazy import is still a dependency), ``importlib.import_module`` with a
literal or f-string name (``f"eegvision.models.{name}"``) counts as an
import of every module matching the pattern, and a package's PEP 562 table
of lazy names (``_LAZY = {name: module}``) counts as imports of the package.

Package parents are counted as Python imports them: importing
``eegvision.analysis.spec`` first runs ``eegvision/__init__.py`` and
``eegvision/analysis/__init__.py``, so a module depends on everything its
parents' bodies import when they run (their module-level imports; what
their functions import runs only when called, and counts for the package).
There is no exception list and no known cycle: a new cycle fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "eegvision"

#: module -> layer. A key names that module and, for a subpackage, every module in it; the
#: longest key wins. The root package's key names the root only: each top-level module is listed.
LAYERS = {
    "eegvision._utils": 0, "eegvision._workspace": 0, "eegvision._docs": 0, "eegvision._values": 0,
    "eegvision._style": 0, "eegvision._outdir": 0, "eegvision._checkpoint_checks": 0, "eegvision._version": 0,
    "eegvision.data": 1,
    "eegvision.images": 2,
    "eegvision.models": 3,
    "eegvision.training": 4, "eegvision.evaluate": 4, "eegvision.decoding": 4,
    "eegvision._provenance": 4, "eegvision.sweep": 4,
    "eegvision.cortex": 4.5,
    "eegvision.analysis": 5,
    "eegvision.runner": 6, "eegvision._dask": 6,
    "eegvision.viz": 7,
    "eegvision": 8, "eegvision.pipeline": 8, "eegvision.outputs": 8, "eegvision.figures": 8,
    "eegvision.reporting": 8,
    "eegvision.cli": 9, "eegvision.__main__": 9, "eegvision._commands": 9,
}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def all_modules():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(name):
    keys = [k for k in LAYERS if name == k or (k != "eegvision" and name.startswith(k + "."))]
    assert keys, f"{name}: no layer; add it to LAYERS in tests/test_layers.py"
    return LAYERS[max(keys, key=len)]


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


def _lazy_names(tree):
    """Modules named by a module-level PEP 562 table ``_LAZY = {name: "module"}``."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets]
                == ["_LAZY"] and isinstance(node.value, ast.Dict)):
            return {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return set()


def _module_level(tree):
    """The nodes that run when the module is imported: all but function bodies."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _imports(module, path, nodes, modules):
    targets = set()
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            targets.update(_resolve(module, path, node, modules))
        pattern = _dynamic(module, node)
        if pattern is not None:
            prefix = pattern.split("*")[0]
            targets.update(m for m in modules if m.startswith(prefix) and m != module)
    return {t for t in targets if t.split(".")[0] == "eegvision" and t != module}


def _parents(module):
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph():
    """module -> the package's modules it depends on (its imports and its parents' bodies')."""
    modules = all_modules()
    trees = {m: ast.parse(p.read_text(), str(p)) for m, p in modules.items()}
    every = {m: _imports(m, modules[m], ast.walk(trees[m]), modules) | _lazy_names(trees[m])
             for m in modules}
    eager = {m: _imports(m, modules[m], _module_level(trees[m]), modules) for m in modules}
    graph = {}
    for module in modules:
        parents = {d for p in _parents(module) for d in eager[p]}
        graph[module] = (every[module] | parents) - {module}
    return graph


def test_every_module_has_a_layer():
    for name in all_modules():
        layer_of(name)


def test_the_graph_sees_lazy_dynamic_and_parent_imports(tmp_path):
    graph = import_graph()
    assert "eegvision.viz" in graph["eegvision.outputs"]  # inside write_outputs
    assert "eegvision.models.nice" in graph["eegvision.models"]  # f"{__name__}.{module}"
    assert "eegvision.pipeline" in graph["eegvision"]  # the root's PEP 562 table
    assert "eegvision.analysis.registry" in graph["eegvision.analysis"]  # the package's table
    # a parent's module-level imports are its children's, its functions' imports are not
    assert "eegvision._utils" in graph["eegvision.data.montage"]  # eegvision/__init__.py
    assert "eegvision.pipeline" not in graph["eegvision.data.montage"]
    assert "eegvision.analysis.registry" not in graph["eegvision.analysis.spec"]


def test_parents_count_as_python_runs_them():
    """What ``_module_level`` calls a module's import-time body is what Python runs."""
    tree = ast.parse("import a\nif x:\n    import b\nclass C:\n    import c\n"
                     "def f():\n    import d\nlambda: __import__('e')\n")
    ran = {a.name for n in _module_level(tree) if isinstance(n, ast.Import) for a in n.names}
    assert ran == {"a", "b", "c"}


def test_lower_layers_never_import_upper_ones():
    bad = [f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)})"
           for src, dsts in import_graph().items() for dst in sorted(dsts)
           if layer_of(dst) > layer_of(src)]
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


def test_no_import_cycle():
    found = [sorted(c) for c in _cycles(import_graph())]
    assert not found, f"import cycles: {found}"


def test_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


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
