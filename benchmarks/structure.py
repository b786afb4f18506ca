"""Structure numbers of the package (issue 27), from its own source with :mod:`ast`.

``python benchmarks/structure.py`` prints:

- modules: ``.py`` files under ``eegvision/``;
- longest functions: the five longest (lines, ``module:function``);
- lazy own imports: ``import``s of ``eegvision`` modules inside function bodies;
- analysis places: files outside ``eegvision/analysis/<name>.py`` holding a string
  constant equal to ``<name>``, for the last-added analysis (``generalization``) and
  on average over all;
- hook lookups: ``hasattr``/``getattr`` on a variable named ``module`` (an
  analysis module's optional hooks).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "eegvision"


def _modules():
    return sorted(p for p in PKG.rglob("*.py"))


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _is_own(node):
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "eegvision"
    return any(a.name.split(".")[0] == "eegvision" for a in node.names)


def _lazy_import_nodes(tree):
    seen = set()
    for fn in _functions(tree):
        for node in ast.walk(fn):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and _is_own(node):
                seen.add(id(node))
    return len(seen)


def _analysis_names():
    from importlib import import_module

    sys.path.insert(0, str(ROOT))
    try:  # the registry (since issue 27), else the package's tuple (older trees)
        return list(import_module("eegvision.analysis.registry").names())
    except ImportError:
        return list(import_module("eegvision.analysis").ANALYSES)


def _strings(tree):
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


def main():
    trees = {p: ast.parse(p.read_text(), str(p)) for p in _modules()}
    rel = {p: str(p.relative_to(ROOT)) for p in trees}
    lengths = sorted(((fn.end_lineno - fn.lineno + 1, f"{rel[p]}:{fn.name}")
                      for p, t in trees.items() for fn in _functions(t)), reverse=True)
    lazy = sum(_lazy_import_nodes(t) for t in trees.values())
    names = _analysis_names()
    places = {}
    for name in names:
        own = PKG / "analysis" / f"{name}.py"
        places[name] = sum(1 for p, t in trees.items() if p != own and name in _strings(t))
    hooks = sum(1 for t in trees.values() for n in ast.walk(t)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id in ("hasattr", "getattr") and n.args
                and isinstance(n.args[0], ast.Name) and n.args[0].id == "module")
    print(f"modules: {len(trees)}")
    print(f"functions: {len(lengths)}; median lines: {lengths[len(lengths) // 2][0]}")
    print("longest functions:")
    for n, where in lengths[:5]:
        print(f"  {n:4d}  {where}")
    print(f"lazy imports of eegvision modules inside functions: {lazy}")
    print(f"files naming 'generalization' outside its module: {places.get('generalization')}")
    print(f"files naming an analysis outside its module (mean over {len(names)}): "
          f"{sum(places.values()) / len(names):.1f}")
    print(f"hasattr/getattr hook lookups on an analysis module: {hooks}")


if __name__ == "__main__":
    main()
