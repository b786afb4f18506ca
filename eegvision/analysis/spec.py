"""An analysis as one declared object, and the registry every entry point reads.

Each analysis module declares ``SPEC = AnalysisSpec(...)``: its name, its
options (type, default, bounds, help), the module holding its hooks
(``conditions``, ``derive`` ...), its default recipe and its figure. The
command line (the analysis choices and their flags), ``analyze``'s keyword
check, a TOML recipe's ``[options]``, ``figures`` and the docs' option table
are all generated from the registry (:mod:`eegvision.analysis.registry`), so
adding an analysis is one module whose spec is registered there (built-in
ones are listed in :data:`~eegvision.analysis.registry.BUILTIN`; others call
:func:`~eegvision.analysis.registry.register`).

This module imports no analysis: each analysis imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Option kinds and the checks of :mod:`eegvision._values` they go through.
KINDS = ("str", "int", "float", "bool", "list")
#: Bounds shared by several analyses' options (one flag, one check).
POSITIVE_MS = {"low": 0, "low_open": True, "high": 1e6}

#: The functions an analysis' hooks may define (read once, when its spec is made):
#: ``conditions(options, ref)`` -> [(condition, params)], required of analyses users run;
#: ``derive(data, params)`` / ``derive_job(data, job)``: a condition's data (else the data);
#: ``run_condition(data, job, derived, fitted)``: the job's body (else fit and score);
#: ``with_pool``, ``preview``, ``expand``, ``postprocess``, ``summarize``, ``needs``
#: (see :mod:`eegvision.analysis._base` and ``docs/contributing.md``).
HOOKS = ("conditions", "derive", "derive_job", "run_condition", "with_pool", "preview", "expand",
         "postprocess", "summarize", "needs")
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
        Holds the analysis' functions (:data:`HOOKS`; ``conditions`` is
        required of analyses users run) and constants ``NEEDS`` (what its
        jobs are handed besides the averaged data) and ``REFERENCE`` (the
        condition its summary tests against). They are read once, here:
        callers ask :meth:`hook`, :attr:`needs` and :attr:`reference`.
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

    def __post_init__(self):
        found = {h: getattr(self.hooks, h) for h in HOOKS if callable(getattr(self.hooks, h, None))}
        if "conditions" not in found and not self.internal:
            raise TypeError(f"Analysis {self.name!r}: its hooks define no conditions(options, ref);"
                            " every analysis users run says which conditions it compares.")
        object.__setattr__(self, "_found", found)

    def hook(self, name):
        """Hook ``name`` (one of :data:`HOOKS`) of the analysis, or None where it has none."""
        if name not in HOOKS:
            raise KeyError(f"{name!r} is not an analysis hook (one of {HOOKS}).")
        return self._found.get(name)

    @property
    def needs(self):
        """What its jobs are always handed besides the averaged data (``NEEDS``)."""
        return frozenset(getattr(self.hooks, "NEEDS", ()))

    @property
    def reference(self):
        """The condition its summary tests the others against (``REFERENCE``), or None."""
        return getattr(self.hooks, "REFERENCE", None)

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
