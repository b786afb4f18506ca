"""An analysis as one declared object, and the registry every entry point reads.

Each analysis module declares ``SPEC = AnalysisSpec(...)``: its name, its
options (type, default, bounds, help), the module holding its hooks
(``conditions``, ``derive`` ...), its default recipe and its figure. The
command line (the analysis choices and their flags), ``analyze``'s keyword
check, a TOML recipe's ``[options]``, ``figures`` and the docs' option table
are all generated from :func:`specs`, so adding an analysis is one module that
calls :func:`register` (built-in ones are registered by
:mod:`eegvision.analysis`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Option kinds and the checks of :mod:`eegvision._values` they go through.
KINDS = ("str", "int", "float", "bool", "list")
#: Bounds shared by several analyses' options (one flag, one check).
POSITIVE_MS = {"low": 0, "low_open": True, "high": 1e6}
TIME_MS = {"low": -1e6, "high": 1e6}
PERMUTATIONS = {"low": 1, "high": 1_000_000}


@dataclass(frozen=True)
class Option:
    """One option of an analysis.

    Parameters
    ----------
    name : str
        The keyword of ``analyze`` and the key of a recipe's ``[options]``;
        the command-line flag is ``--name`` with ``_`` as ``-``.
    kind : {'str', 'int', 'float', 'bool', 'list'}
        ``int``, ``float`` and ``bool`` values are checked (with ``bounds``)
        wherever they come from.
    default : object
        What the analysis uses when the option is not given (documentation).
    help : str
        One line for ``--help`` and the docs.
    bounds : dict
        ``low``, ``high``, ``low_open`` of :func:`eegvision._values.check_int`
        / ``check_float``.
    cli : bool
        Also a flag of ``eegvision analyze``.
    choices : tuple | None
        The flag's choices.
    """

    name: str
    kind: str = "str"
    default: object = None
    help: str = ""
    bounds: dict = field(default_factory=dict)
    cli: bool = False
    choices: tuple | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Option {self.name!r}: kind {self.kind!r} is not one of {KINDS}.")

    @property
    def flag(self):
        """The command-line flag, ``--bin-ms`` for ``bin_ms``."""
        return "--" + self.name.replace("_", "-")

    def check(self, value, where=None):
        """``value`` checked by its kind and bounds (ints come back as int)."""
        from .._values import check_bool, check_float, check_int

        if value is None or self.kind not in ("int", "float", "bool"):
            return value
        name = self.name if where is None else f"{where} {self.name}"
        check = {"int": check_int, "float": check_float, "bool": check_bool}[self.kind]
        checked = check(value, name, **self.bounds)
        return checked if self.kind == "int" else value

    def same_as(self, other):
        """Whether ``other`` declares this option's name with the same kind and bounds."""
        return (self.kind, self.bounds, self.choices) == (other.kind, other.bounds, other.choices)


@dataclass(frozen=True)
class AnalysisSpec:
    """What an analysis is: the single source of its name, options, hooks and figure.

    Parameters
    ----------
    name : str
        ``eegvision analyze NAME``, ``analyze(NAME)``.
    hooks : module | object
        Holds the analysis' functions: ``conditions(options, ref)`` and
        ``derive(data, params)`` (required); optionally ``derive_job``,
        ``run_condition``, ``postprocess``, ``preview``, ``expand``,
        ``with_pool``, ``summarize``, ``needs``, ``NEEDS``, ``REFERENCE``
        (see :mod:`eegvision.analysis._base`).
    options : tuple of Option
        Its own options.
    summary : str
        One line for ``eegvision analyze --help`` and the docs.
    figure : str | callable | None
        ``figure(df, summary, extras) -> Figure``, or ``'module:function'``
        naming one in :mod:`eegvision.viz` (imported when drawn); None: no figure.
    recipe : str | None
        Its default training recipe (None: ``'sweep'``).
    seedless : bool
        Fits no model: more than one seed is an error.
    internal : bool
        Run by other analyses' jobs only (``ceiling``): no command, no figure.
    """

    name: str
    hooks: object
    options: tuple = ()
    summary: str = ""
    figure: object = None
    recipe: str | None = None
    seedless: bool = False
    internal: bool = False

    @property
    def option_names(self):
        """The names of its options."""
        return {o.name for o in self.options}

    def draw(self, df, summary, extras):
        """Its figure (see ``figure``)."""
        figure = self.figure
        if figure is None:
            raise ValueError(f"No figure for analysis {self.name!r}.")
        if isinstance(figure, str):
            import importlib

            module, func = figure.split(":")
            figure = getattr(importlib.import_module(module), func)
        return figure(df, summary, extras)


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
             "Generated from the analyses' specs (`eegvision.analysis.spec`); "
             "`python -m eegvision.analysis.spec > docs/analysis-options.md` rewrites it.", ""]
    for spec in specs():
        lines += [f"## {spec.name}", "", spec.summary, "",
                  "| option | flag | type | default | meaning |", "|---|---|---|---|---|"]
        for o in spec.options:
            flag = f"`{o.flag}`" if o.cli else ""
            text = o.help.replace("|", "\\|")  # a table cell
            lines.append(f"| `{o.name}` | {flag} | {o.kind} | `{o.default!r}` | {text} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    # the package's registry (this file runs as __main__, a module of its own)
    from eegvision.analysis.spec import options_markdown as _markdown

    print(_markdown(), end="")
