"""Griffe extension of the documentation site: docstrings as Python shows them.

mkdocstrings reads eegvision's docstrings statically (griffe parses the
source, it does not import it), so two things the package does at import time
or that Sphinx would do have to be done here, before the docstrings are parsed:

1. **The docdict.** A docstring decorated with ``@fill_doc`` names shared
   parameters as ``%(name)s``; they are filled from
   :data:`eegvision._docs.docdict` with the same function that fills them at
   import (``fill_docstring``). A ``%(name)s`` in an object that is not
   decorated with ``fill_doc`` would stay raw in ``help()``: it is an error.
2. **Sphinx roles.** ``:func:`x```, ``:class:``, ``:mod:``, ``:meth:``,
   ``:data:``, ``:attr:``, ``:obj:`` and ``:exc:`` become autorefs links
   ``[`x`][canonical.path]``, so they link to the object's entry in the API
   reference. Names are resolved as Sphinx would: absolute, then relative to
   the object, its class, module and packages (``~`` shows the last
   component only; a leading ``.`` is relative to the module's package). The
   canonical path is where the object is defined (names exposed lazily through
   a package's ``_LAZY`` table are followed to their module). Targets that are
   private (a ``_name`` in their path) are not on the site: they become code.
   Targets in numpy, scipy, mne, scikit-learn, torch, pandas and the standard library
   link to those projects' reference pages. A role that resolves to nothing
   is an error (``mkdocs build --strict`` fails on it).

Registered in ``mkdocs.yml`` under the python handler's ``extensions``.
"""

from __future__ import annotations

import importlib
import inspect
import re

import griffe

from eegvision._docs import fill_docstring

ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|data|attr|obj|exc):`(~?)([^`<>]+?)`")

#: top-level package -> URL of an object's page, from its dotted path
EXTERNAL = {
    "mne": "https://mne.tools/stable/generated/{page}.html{anchor}",
    "sklearn": "https://scikit-learn.org/stable/modules/generated/{page}.html{anchor}",
    "numpy": "https://numpy.org/doc/stable/reference/generated/{page}.html{anchor}",
    "scipy": "https://docs.scipy.org/doc/scipy/reference/generated/{page}.html{anchor}",
    "torch": "https://pytorch.org/docs/stable/generated/{page}.html{anchor}",
    "pandas": "https://pandas.pydata.org/docs/reference/api/{page}.html{anchor}",
}
STDLIB_URL = "https://docs.python.org/3/library/{module}.html#{path}"
STDLIB = {"pathlib", "pickle", "json", "os", "tempfile", "argparse", "logging", "typing",
          "dataclasses", "functools", "collections", "concurrent", "subprocess", "shutil"}


# ----------------------------------------------------------------- resolution
def _runtime(path):
    """The object at ``path`` (importing what it needs), or None."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except Exception:  # noqa: BLE001 - not a module: try a shorter prefix
            continue
        try:
            for name in parts[i:]:
                obj = getattr(obj, name)
        except Exception:  # noqa: BLE001 - no such attribute
            return None
        return obj
    return None


def _lazy_owner(path):
    """``pkg.name`` exposed through ``pkg._LAZY``: the module that defines it."""
    parent, _, name = path.rpartition(".")
    table = getattr(_runtime(parent), "_LAZY", None) if parent else None
    if isinstance(table, dict) and name in table and table[name] != parent:
        return f"{table[name]}.{name}"
    return None


def _static(path, collection):
    try:
        found = collection[path]
    except Exception:  # noqa: BLE001 - unknown statically (or a lazy name)
        return None
    try:
        return found.final_target.path if found.is_alias else found.path
    except Exception:  # noqa: BLE001 - an alias to outside the package
        return None


def canonical(path, collection):
    """The path where eegvision's object ``path`` is defined, or None."""
    found = _static(path, collection)
    if found:
        return found
    owner = _lazy_owner(path)
    if owner:
        return canonical(owner, collection)
    obj = _runtime(path)
    if obj is None:
        return None
    if inspect.ismodule(obj):
        return _static(obj.__name__, collection)
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if module and qualname and f"{module}.{qualname}" != path and "<" not in qualname:
        return _static(f"{module}.{qualname}", collection)
    parent, _, name = path.rpartition(".")  # an attribute, a property: its owner's
    owner = canonical(parent, collection) if parent else None
    return _static(f"{owner}.{name}", collection) if owner and owner != parent else None


def external_url(path):
    """The reference page of a numpy/mne/... object, or None if it does not exist."""
    top = path.split(".")[0]
    obj = _runtime(path)
    if obj is None or (top not in EXTERNAL and top not in STDLIB):
        return None
    if top in STDLIB:
        return STDLIB_URL.format(module=path.split(".")[0], path=path)
    parent = _runtime(path.rpartition(".")[0])
    if inspect.isclass(parent):  # a method or attribute: the class page, at its anchor
        return EXTERNAL[top].format(page=path.rpartition(".")[0], anchor=f"#{path}")
    return EXTERNAL[top].format(page=path, anchor="")


def _candidates(name, obj):
    """Where Sphinx would look for ``name`` written in ``obj``'s docstring."""
    scopes = []
    scope = obj if obj.is_class or obj.is_module else obj.parent
    while scope is not None:
        scopes.append(scope.path)
        scope = scope.parent
    if name.startswith("."):
        name = name.lstrip(".")
        module = obj if obj.is_module else obj.module
        return [f"{s}.{name}" for s in scopes if module.path.startswith(s)]
    return [name, *(f"{s}.{name}" for s in scopes)]


def _private(path):
    return any(part.startswith("_") and not part.startswith("__") for part in path.split("."))


def link(role_match, obj, collection):
    """The Markdown of one Sphinx role in ``obj``'s docstring, or None if unresolved."""
    _, tilde, name = role_match.groups()
    name = name.strip()
    title = f"`{name.rpartition('.')[2] if tilde else name.lstrip('.')}`"
    for candidate in _candidates(name, obj):
        if candidate.split(".")[0] == obj.package.name:
            target = canonical(candidate, collection)
            if target:
                return title if _private(target) else f"[{title}][{target}]"
    url = external_url(name.lstrip("."))
    return f"[{title}]({url})" if url else None


def convert_roles(text, obj, collection):
    """``text`` with its Sphinx roles as links; unresolved ones are logged as errors."""
    def replace(match):
        out = link(match, obj, collection)
        if out is None:
            griffe.logger.warning(f"{obj.path}: cannot resolve the reference {match.group(0)} "
                                  "(misspelt, or an object that no longer exists)")
            return f"`{match.group(3)}`"
        return out
    return ROLE.sub(replace, text)


# ---------------------------------------------------------------- the extension
def _is_filled(obj):
    decorators = getattr(obj, "decorators", None) or []
    return any(str(d.value).split(".")[-1] == "fill_doc" for d in decorators)


def fill(obj):
    """Fill ``obj``'s docdict placeholders, as ``@fill_doc`` does at import."""
    doc = obj.docstring
    if _is_filled(obj):
        try:
            doc.value = fill_docstring(doc.value)
        except (KeyError, TypeError, ValueError) as err:
            griffe.logger.warning(f"{obj.path}: cannot fill the docstring ({err!r})")
    elif re.search(r"^%\(\w+\)s[ \t]*$", doc.value, re.M):  # a placeholder line
        griffe.logger.warning(f"{obj.path}: the docstring has %(name)s placeholders but the "
                              "object is not decorated with @fill_doc (help() shows them raw)")


def comment_docstring(attr):
    """The ``#:`` comment above (or after) an attribute, as Sphinx autodoc reads it."""
    lines, i = attr.module.lines, attr.lineno - 1
    if not lines or i >= len(lines):
        return None
    same_line = re.search(r"#:\s?(.*)$", lines[i])
    comment = [same_line.group(1)] if same_line else []
    while not same_line and i > 0 and lines[i - 1].strip().startswith("#:"):
        i -= 1
        comment.insert(0, lines[i].strip()[2:].strip())
    text = "\n".join(comment).strip()
    return text[:1].upper() + text[1:] if text else None


def _walk(obj, seen):
    if obj.path in seen:
        return
    seen.add(obj.path)
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member, seen)


class EEGVisionDocstrings(griffe.Extension):
    """Fill docdict placeholders and turn Sphinx roles into cross-references."""

    def on_package(self, *, pkg, loader, **kwargs):
        if pkg.name != "eegvision":
            return
        for obj in _walk(pkg, set()):
            if obj.is_attribute and obj.docstring is None:
                text = comment_docstring(obj)
                if text:
                    obj.docstring = griffe.Docstring(text, lineno=obj.lineno, parent=obj)
            if obj.docstring is None:
                continue
            fill(obj)
            obj.docstring.value = convert_roles(obj.docstring.value, obj,
                                                loader.modules_collection)
