"""The registry of analyses: every entry point (CLI, ``analyze``, TOML, figures, docs) reads it.

The built-in analyses are imported here, each declaring its
:class:`~eegvision.analysis.spec.AnalysisSpec` as ``SPEC``; an analysis of
your own is registered with :func:`register`:

>>> from eegvision.analysis.registry import register
>>> register(my_module.SPEC)  # doctest: +SKIP

The dependency points one way: this module imports the analyses, an
analysis imports only :mod:`~eegvision.analysis.spec` (never this module).
"""

from __future__ import annotations

from . import (
    ceiling,
    datasize,
    generalization,
    loso,
    repetitions,
    saliency,
    semantic,
    sources,
    spatial,
    spectral,
    temporal,
    timefreq,
    topk,
)
from .spec import AnalysisSpec

#: The built-in analyses users run, in the order of ``eegvision analyze --help``.
BUILTIN = (temporal, spatial, spectral, semantic, saliency, repetitions, datasize, loso,
           timefreq, topk, generalization, sources)
#: Run by other analyses' jobs only.
INTERNAL = (ceiling,)

_REGISTRY: dict = {}


def register(spec):
    """Register analysis ``spec`` (an :class:`AnalysisSpec`); returns it.

    An option another analysis declares already must have the same kind and
    bounds (one flag, one check); a name taken by another analysis is an error.
    """
    if not isinstance(spec, AnalysisSpec):
        raise TypeError(f"register() takes an AnalysisSpec, got {type(spec).__name__}.")
    other = _REGISTRY.get(spec.name)
    if other is not None and _origin(other) != _origin(spec):  # a reloaded module may re-register
        raise ValueError(f"An analysis named {spec.name!r} is registered already.")
    known = all_options()
    for opt in spec.options:
        if opt.name in known and not known[opt.name].same_as(opt):
            raise ValueError(f"Analysis {spec.name!r}: option {opt.name!r} is declared by another "
                             "analysis with another kind, bounds or choices.")
    _REGISTRY[spec.name] = spec
    return spec


def _origin(spec):
    return getattr(spec.hooks, "__name__", id(spec.hooks))


def unregister(name):
    """Forget analysis ``name`` (e.g. a test's)."""
    _REGISTRY.pop(name, None)


def specs():
    """Every registered :class:`AnalysisSpec` users run, in registration order."""
    return [s for s in _REGISTRY.values() if not s.internal]


def names():
    """The names of the registered analyses users run."""
    return tuple(s.name for s in specs())


def get_spec(name):
    """The :class:`AnalysisSpec` of analysis ``name`` (an unknown name is an error)."""
    from .._utils import _check_option

    if name in _REGISTRY and _REGISTRY[name].internal:
        return _REGISTRY[name]
    _check_option("analysis", name, names())
    return _REGISTRY[name]


def all_options():
    """``{option name: Option}`` over every analysis (the first declaration of each name)."""
    out = {}
    for spec in _REGISTRY.values():
        for opt in spec.options:
            out.setdefault(opt.name, opt)
    return out


def cli_options():
    """``[(Option, [analysis names])]``: the flags of ``eegvision analyze``, first-seen order."""
    flags = {}
    for spec in specs():
        for opt in spec.options:
            if opt.cli:
                flags.setdefault(opt.name, (opt, []))[1].append((spec.name, opt.help))
    return list(flags.values())


def options_markdown():
    """The docs' table of every analysis' options (``docs/analysis-options.md``)."""
    lines = ["# Analysis options", "",
             "Generated from the analyses' specs (`eegvision.analysis.registry`); "
             "`python -m eegvision.analysis.registry > docs/analysis-options.md` rewrites it.", ""]
    for spec in specs():
        lines += [f"## {spec.name}", "", spec.summary, "",
                  "| option | flag | type | default | meaning |", "|---|---|---|---|---|"]
        for o in spec.options:
            flag = f"`{o.flag}`" if o.cli else ""
            text = o.help.replace("|", "\\|")  # a table cell
            lines.append(f"| `{o.name}` | {flag} | {o.kind} | `{o.default!r}` | {text} |")
        lines.append("")
    return "\n".join(lines)


def _register_builtins():
    for module in (*BUILTIN, *INTERNAL):
        register(module.SPEC)


_register_builtins()


if __name__ == "__main__":
    # the package's registry (this file runs as __main__, a module of its own)
    from eegvision.analysis.registry import options_markdown as _markdown

    print(_markdown(), end="")
