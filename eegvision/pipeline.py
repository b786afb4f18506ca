"""Orchestration: data source -> jobs -> runner -> tables (and the outputs, with ``out``).

:func:`analyze` is the one entry point of every analysis (``eegvision analyze``,
``ev.analyze``); :func:`build_jobs` turns an analysis' conditions into runner
jobs, :func:`ceiling_jobs` adds the noise ceiling's, :func:`read_recipe_file`
reads a TOML recipe. The analyses themselves (:mod:`eegvision.analysis`) only
declare their questions (:mod:`eegvision.analysis.spec`); result folders are
written and read by :mod:`eegvision.outputs`. Re-exported by
:mod:`eegvision.analysis`.
"""

from __future__ import annotations

import time
from pathlib import Path

from ._docs import fill_doc
from ._utils import (
    OptionError,
    _check_option,
    check_writable_dir,
    data_error,
    logger,
    option_error,
    parse_seeds,
    parse_subjects,
    verbose,
)
from ._values import MAX_SEED, MAX_SEEDS, MAX_SUBJECT
from ._version import __version__
from .training.config import ANALYSIS_RECIPE, BLUR_RECIPES, recipe_inputs, recipe_model


@fill_doc
def build_jobs(name, subjects, ref, *, root, seeds=(0,), model="nice", recipe=ANALYSIS_RECIPE,
               epochs=None, device="auto", layout="auto", targets="centers", fingerprints=None,
               features=None, channels=None, train_options=None, **options):
    """One :class:`~eegvision.runner.Job` per (subject, condition, seed).

    Parameters
    ----------
    name : str
        The analysis.
    subjects : list of int
        Subject numbers.
    ref : EEGImageData
        A test container the conditions are derived from (times, channels, sfreq).
    root : path-like | None
        The data root; None for data in memory.
    %(seeds)s
    %(model)s
    %(recipe)s
    %(epochs)s
    %(device)s
    %(layout)s
    %(targets)s
    fingerprints : dict of int -> dict | None
        Replaces the data files' fingerprints in the job hash (data in memory
        give their content hash).
    %(feature_set)s
    %(channels)s
    train_options : dict | None
        Further :class:`~eegvision.training.TrainConfig` settings (a recipe's
        ``[train]`` table); they are checked here and go into every job's
        training settings (and so into its cache key).
    **options
        The analysis' own options.

    Returns
    -------
    list of Job
    """
    from ._provenance import data_fingerprints
    from .runner import Job

    spec = _spec(name)
    check_model_name(model)
    train_options = check_train_options(train_options, recipe=recipe, model=model)
    _warn_unused(spec, options)
    conds = spec.hook("conditions")(options, ref)
    if spec.hook("with_pool"):  # analyses over several subjects (loso)
        conds = spec.hook("with_pool")(conds, subjects, root=root, layout=layout,
                                       targets=targets, fingerprints=fingerprints)
    if spec.seedless and len(seeds) > 1:
        raise ValueError(f"{name} fits no model, so seeds do not change it: give one seed "
                         f"(got {list(seeds)}).")
    jobs = []
    for subject in subjects:
        # the data's fingerprint is part of the job hash: changed files are recomputed
        # features / channels / bank only when set, so existing job hashes stay valid
        extra = {k: v for k, v in (("features", features), ("channels", channels),
                                   ("bank", uses_bank(recipe) or None)) if v is not None}
        data = {"root": None if root is None else str(root), "layout": layout,
                "targets": targets, **extra,
                "fingerprint": (fingerprints[subject] if fingerprints is not None
                                else data_fingerprints(root, subject, layout, targets, features,
                                                       bool(extra.get("bank"))))}
        for label, params in conds:
            for seed in seeds:
                train = {"recipe": recipe, "model": model, "seed": int(seed), "device": device,
                         **train_options}
                if epochs is not None:
                    train["epochs"] = int(epochs)
                jobs.append(Job(name, int(subject), label, int(seed), params, data, train))
    return jobs


def uses_bank(recipe):
    """Whether training recipe ``recipe`` reads the blur bank (``ubp``, ``blur-bank``)."""
    return recipe in BLUR_RECIPES


#: ``[train]`` keys of a TOML recipe that are analysis settings, not TrainConfig extras.
_TRAIN_SETTINGS = ("model", "recipe", "epochs", "device")


def check_train_options(train_options, *, recipe=ANALYSIS_RECIPE, model=None):
    """Validate extra TrainConfig settings: unknown names get "did you mean", bad values fail.

    Returns
    -------
    dict
        The settings (a copy), JSON-friendly.
    """
    from .training.config import TrainConfig

    train_options = dict(train_options or {})
    for key in ("seed", *_TRAIN_SETTINGS):
        if key in train_options:
            hint = ("use the recipe's top-level seeds = [...] (or --seeds)" if key == "seed"
                    else f"pass {key} as its own argument (--{key})")
            raise ValueError(f"training setting {key!r} cannot be an extra option: {hint}.")
    # names and values checked
    TrainConfig.from_recipe(recipe, model=model or recipe_model(recipe), **train_options)
    return train_options


def check_seeds(seeds, name="seeds"):
    """``seeds`` as a list of ints in [0, 2**32 - 1]; a fraction (1.5 would run as 1) is refused."""
    from ._values import check_int

    if isinstance(seeds, (str, bytes, dict)) or not hasattr(seeds, "__iter__"):
        raise option_error(name, seeds, f"expected a list of integers from 0 to {MAX_SEED}, "
                           f"found {type(seeds).__name__}.", "give e.g. seeds=[0, 1, 2].")
    seeds = [check_int(s, name, low=0, high=MAX_SEED) for s in seeds]
    if not seeds or len(seeds) > MAX_SEEDS:
        raise option_error(name, seeds, f"expected 1 to {MAX_SEEDS} seeds, found {len(seeds)}.",
                           "give e.g. seeds=[0, 1, 2].")
    return seeds


def _check_counts(epochs, jobs):
    """``epochs`` (None: the recipe's) and ``jobs`` as bounded ints (1.5 epochs is refused)."""
    from ._values import MAX_EPOCHS, MAX_JOBS, check_int

    epochs = None if epochs is None else check_int(epochs, "epochs", low=1, high=MAX_EPOCHS)
    return epochs, check_int(jobs, "jobs", low=1, high=MAX_JOBS)


def check_model_name(model):
    """Raise a ValueError naming ``--model`` unless it is an encoder or ``ridge``."""
    from .models import list_encoders

    _check_option("--model", model, list_encoders() + ["ridge"])


def _warn_unused(spec, options):
    unused = sorted(set(options) - spec.option_names)
    if unused:
        logger.warning("%s analysis ignores option(s) %s", spec.name, ", ".join(unused))


def _holds_out(func):
    """Run ``func`` holding its ``out`` folder (the lock and the up-front refusals)."""
    import functools

    @functools.wraps(func)
    def wrapper(name, *args, out=None, overwrite=False, **kwargs):
        if out is None:
            return func(name, *args, out=None, overwrite=overwrite, **kwargs)
        from ._outdir import output_folder

        stem = _spec(name).hooks.NAME  # an unknown analysis is named before the folder is used
        names = ("results.csv", "summary.csv", "config.json", f"{stem}.png", f"{stem}.pdf")
        with output_folder(out, f"analyze {name}", overwrite=overwrite, names=names) as held:
            return func(name, *args, out=held, overwrite=overwrite, **kwargs)

    return wrapper


@verbose
@_holds_out
@fill_doc
def analyze(name, subjects=None, *, data=None, features=None, data_dir=None, out=None,
            overwrite=False, seeds=(0,), model=None, recipe=None, epochs=None, device="auto",
            jobs=1, backend="local", scheduler=None, layout="auto", targets="centers",
            plot=True, progress=True, channels=None, train_options=None, noise_ceiling=True,
            batch=True, report=None, verbose=None, **options):
    """Run analysis ``name`` for ``subjects`` and return its results table.

    Parameters
    ----------
    name : str
        The analysis (one of :func:`eegvision.analysis.registry.names`).
    %(subjects)s
    %(data)s
    features : str | array, shape (n_trials, n_features) | None
        With a data root: a named feature set (``dnn_feature/<features>/``, as
        ``--features``; None reads NICE's files). With ``data`` an
        ``mne.Epochs`` or an ``-epo.fif`` path: the image features of its
        trials, as an array or a ``.npy`` path (one row per epoch, or per
        image condition; see :func:`eegvision.data.epochs_file.read_epochs_file`).
    %(data_dir)s
    %(out)s
    overwrite : bool
        Replace another command's outputs in ``out``, or files of an output's
        name that eegvision did not write; without it such a folder is
        refused before any work (``docs/outputs.md``). Rerunning the same
        analysis into its own folder needs no ``overwrite``.
    %(seeds)s
    model : str | None
        Encoder name (``eegvision.list_encoders()``) or ``ridge``; None is the
        recipe's encoder (``nice``; ``mlp`` for ``ubp`` and ``blur-bank``).
    %(recipe)s
        None: the analysis' own default, ``'sweep'``, or ``'fast'`` for
        ``saliency`` (one model per subject; its maps were checked against
        planted truth with ``fast``).
    %(epochs)s
    %(device)s
    %(jobs_backend)s
    %(layout)s
    %(targets)s
    plot : bool
        With ``out``, also write the analysis' figure (PNG + PDF).
    progress : bool
        Progress bars over the jobs, the time-resolved curve, the noise
        ceiling and the training epochs (on a terminal, unless quiet).
    %(channels)s
    train_options : dict | None
        Further :class:`~eegvision.training.TrainConfig` settings for every job
        (e.g. a recipe's ``[train]`` table beyond model, recipe, epochs).
    noise_ceiling : bool
        Add the split-half noise ceiling of each subject (``noise_ceiling.csv``,
        drawn on the accuracy figures; see :mod:`eegvision.analysis.ceiling`).
    batch : bool
        Train a sweep's compatible models together (:mod:`eegvision.sweep`;
        results equal one-at-a-time fits); False (``--no-batch``) fits one
        model at a time.
    report : callable | None
        Called with a line of text for each first result shown before the
        sweep (the temporal analysis' time-resolved curve, whose table and
        figure are written to ``out`` first); None logs them at level INFO
        (shown unless quiet, see ``verbose``).
    %(verbose)s
    **options
        The analysis' own options (``mode``, ``width``, ``step``, ``windows``,
        ``bands``, ``regions`` ...).

    Returns
    -------
    pandas.DataFrame
        One row per (subject, condition, seed); ``.attrs['summary']`` holds the
        across-subject summary with intervals and p-values.
    """
    from .data.epochs_file import epochs_input
    from .runner import results_table, run_jobs

    spec = _spec(name)
    epochs_file = str(data) if isinstance(data, (str, Path)) else None
    data, features = epochs_input(data, features)  # an -epo.fif path, a features .npy path
    recipe = recipe or spec.recipe or ANALYSIS_RECIPE
    bank = uses_bank(recipe)
    seeds = check_seeds(seeds)
    options = check_analysis_options(options)
    epochs, jobs = _check_counts(epochs, jobs)
    channels = recipe_inputs(recipe, channels=channels)["channels"]
    model = model or recipe_model(recipe)
    feature_set = features if isinstance(features, str) else None
    if data is None and features is not None and feature_set is None:
        raise ValueError("features= is an array: that is for data= in memory (an mne.Epochs); "
                         "with a data root give the name of a feature set (--features NAME).")
    if data is not None and feature_set is not None:
        raise ValueError(f"features={feature_set!r} names a feature set on disk; with data= in "
                         "memory give the image features as an array.")
    feature_set = recipe_inputs(recipe, features=feature_set)["features"]
    if out is not None:
        out = check_writable_dir(out)
    source, subjects, root, builtin, prints = _data_source(
        spec, data, None if feature_set else features, data_dir, subjects, layout, targets,
        feature_set=feature_set, channels=channels, bank=bank,
        concept_table=options.get("concept_table"))
    base = source
    needs = spec_needs(spec, options)
    source = with_inputs(base, needs, subjects, root)  # single repetitions, the other subjects
    first = source(subjects[0])
    ref = first.test.copy(deep=False)  # a shallow copy: the data's own meta stay as they are
    ref.meta["train_n_repetitions"] = first.train.meta.get("n_repetitions")
    if root is None and needs & {"repetitions_test", "repetitions_train"}:
        from .data.inputs import n_repetitions, unaveraged

        # data in memory: the repetitions their containers hold
        ref.meta["n_repetitions"] = n_repetitions(unaveraged(first, "test"))
        ref.meta["train_n_repetitions"] = n_repetitions(unaveraged(first, "train"))
    job_list = build_jobs(name, subjects, ref, root=root, seeds=seeds, model=model, recipe=recipe,
                          epochs=epochs, device=device, layout=layout, targets=targets,
                          fingerprints=prints, features=feature_set, channels=channels,
                          train_options=train_options, **options)
    t0 = time.perf_counter()
    context = {"root": root, "layout": layout, "targets": targets, "subjects": subjects,
               "seeds": list(seeds), "out": out, "data": source, "features": feature_set,
               "channels": channels, "progress": progress}
    if spec.hook("preview"):  # first results first: seconds, before the sweep's minutes
        context["preview"] = spec.hook("preview")(options, context)
        write_preview(spec, context["preview"], out, report or logger.info, plot=plot)
    results = run_jobs(job_list, Path(out) / "jobs" if out is not None else None,
                       backend=backend, n_jobs=jobs, scheduler=scheduler, progress=progress,
                       data=source, batch=batch, desc=name)
    df = results_table(results)
    if spec.hook("expand"):  # jobs that score several conditions at once
        df = spec.hook("expand")(df, results)
    if len(df):  # workers (joblib, dask) do not know this process's command line
        from ._provenance import command_line

        df["command"] = command_line()
    extras = (spec.hook("postprocess")(df, results, options, context)
              if spec.hook("postprocess") else {})
    if noise_ceiling and "top1" in df and root is None and _one_test_trial(base(subjects[0])):
        logger.info("No noise ceiling: the test data in memory hold one trial per condition "
                    "(a split-half needs at least two repetitions).")
    elif noise_ceiling and "top1" in df:
        from .analysis.ceiling import ceiling_table

        nc_jobs = ceiling_jobs(job_list, seed=int(seeds[0]))
        # the jobs get the unaveraged test sets handed over (read here from a root)
        nc_source = with_inputs(base, {"repetitions_test"}, subjects, root)
        # a folder of their own: jobs/ holds exactly the analysis' jobs
        extras["noise_ceiling"] = ceiling_table(run_jobs(
            nc_jobs, Path(out) / "jobs" / "ceiling" if out is not None else None,
            backend=backend, n_jobs=jobs, scheduler=scheduler, progress=progress,
            data=nc_source, desc="noise ceiling"))
    df.attrs["summary"] = summarize_results(spec, df)
    df.attrs["extras"] = extras
    if out is not None:
        config = {"analysis": name, "eegvision_version": __version__, "subjects": subjects,
                  "seeds": list(seeds), "model": model, "recipe": recipe, "epochs": epochs,
                  "device": device, "layout": layout, "targets": targets,
                  "data_root": None if root is None else str(root),
                  "features": feature_set, "channels": channels, "builtin_data": builtin,
                  "data_in_memory": prints, "epochs_file": epochs_file,
                  "train_options": dict(train_options or {}),
                  "options": options, "n_jobs": len(job_list),
                  "wall_seconds": round(time.perf_counter() - t0, 2),
                  "job_hashes": [j.key for j in job_list],
                  "noise_ceiling": bool(noise_ceiling and "noise_ceiling" in extras)}
        write_outputs(spec, df, extras, config, Path(out), plot=plot)
    return df


def sources(subjects=None, **kwargs):
    """Saliency maps and patterns on the fsaverage cortex: ``analyze("sources", ...)``.

    Trains the model, computes its scalp map (``method``: Haufe pattern for
    ridge, gradient x input for torch encoders ...) and projects it onto the
    fsaverage5 cortex with a minimum-norm inverse of the template head
    (``inverse``: sLORETA, dSPM or eLORETA); see
    :mod:`eegvision.analysis.sources` and ``docs/sources.md``.

    Parameters
    ----------
    subjects : int | list of int | str | None
        As :func:`analyze`.
    **kwargs
        Everything :func:`analyze` takes (``data_dir``, ``out``, ``model``,
        ``inverse``, ``inverse_snr``, ``bin_ms`` ...).

    Returns
    -------
    pandas.DataFrame
        One row per subject and seed (its peak vertex, lobe and coordinates,
        the top lobe); ``df.attrs['extras']`` holds the lobe tables, the mean
        cortical map and the ``mne.SourceEstimate`` objects.
    """
    return analyze("sources", subjects, **kwargs)


def _data_source(spec, data, features, data_dir, subjects, layout, targets, *,
                 feature_set=None, channels=None, bank=False, concept_table=None):
    """``(source, subjects, root, builtin, fingerprints)``: where the jobs' data come from.

    ``source(subject)`` gives a :class:`~eegvision.data.container.SubjectData`:
    from ``data`` in memory (``fingerprints`` are their content hashes) or read
    from the root once (``fingerprints`` None: the files' are used).
    """
    from .data.inputs import RootLoader, as_subjects, content_hash

    if data is None:
        from .data.builtin import resolve_root

        subjects = parse_subjects(1 if subjects is None else subjects)
        root, builtin = resolve_root(data_dir, subjects=subjects)
        needs = spec.needs
        loader = RootLoader(root, layout, targets, test_repetitions="test_repetitions" in needs,
                            categories="categories" in needs, features=feature_set,
                            channels=channels, bank=bank, concept_table=concept_table)
        return loader, subjects, root, builtin, None
    if data_dir is not None:
        raise ValueError("Give data= (data in memory) or data_dir= (a data root), not both.")
    given = as_subjects(data, features=features)
    if channels is not None:
        from .data.channels import pick

        given = {s: pick(d, channels) for s, d in given.items()}
    subjects = sorted(given) if subjects is None else parse_subjects(subjects)
    missing = sorted(set(subjects) - set(given))
    if missing:
        raise ValueError(f"subjects {missing} are not in data= (it holds {sorted(given)}).")
    if "categories" in spec.needs:
        from .data.container import SubjectData
        from .data.inputs import add_table_categories

        # on a shallow copy: the caller's containers stay as they were
        given = {s: SubjectData(d.subject, d.train,
                                add_table_categories(d.test.copy(deep=False), concept_table),
                                d.meta, d.test_repetitions) for s, d in given.items()}
    prints = {s: {"content": content_hash(given[s])} for s in subjects}
    return given.__getitem__, subjects, None, False, prints


def spec_needs(spec, options):
    """What the entry layer hands an analysis' jobs besides the averaged containers.

    ``spec.needs`` (its ``NEEDS``) and, for needs that depend on the options,
    its hook ``needs(options)``: ``'test_repetitions'``, ``'categories'``
    (read by :class:`~eegvision.data.inputs.RootLoader`),
    ``'repetitions_train'`` / ``'repetitions_test'`` (single repetitions) and
    ``'others'`` (the other subjects; see :func:`with_inputs`).
    """
    needs = set(spec.needs)
    if spec.hook("needs"):
        needs |= set(spec.hook("needs")(options))
    return needs


def with_inputs(source, needs, subjects, root):
    """``source`` wrapped so that jobs get the single repetitions and other subjects they need.

    Read from the data root (:meth:`~eegvision.data.inputs.RootLoader.unaveraged`) or
    taken from the data in memory (see :class:`~eegvision.data.inputs.WithInputs`);
    ``source`` itself when ``needs`` asks for neither.
    """
    from .data.inputs import WithInputs

    splits = tuple(s for s in ("train", "test") if f"repetitions_{s}" in needs)
    pool = list(subjects) if "others" in needs else None
    if not splits and pool is None:
        return source
    return WithInputs(source, repetitions=splits, pool=pool,
                      read_unaveraged=None if root is None else source.unaveraged)


def _one_test_trial(data):
    from .data.inputs import n_repetitions, unaveraged

    return n_repetitions(unaveraged(data, "test")) < 2


def ceiling_jobs(jobs, *, seed=0, n_splits=None):
    """One cached runner job per subject of ``jobs`` (same data options), ridge decoder.

    As jobs they are cached by hash, resumable and run on the analysis' backend.
    """
    from .analysis.ceiling import N_SPLITS, NAME
    from .runner import Job

    n_splits = N_SPLITS if n_splits is None else int(n_splits)
    out = {}
    for job in jobs:
        key = (job.subject, str(job.data.get("root")))
        if key not in out:
            out[key] = Job(NAME, job.subject, NAME, int(seed), {"n_splits": n_splits},
                           dict(job.data), {"model": "ridge"})
    return list(out.values())


def check_analysis_options(options, where=None):
    """Check the analysis options (each spec's :class:`~eegvision.analysis.spec.Option`: type
    and bounds); return a copy. The CLI, the Python API and a recipe's ``[options]``
    all go through it, so a count is bounded before anything is allocated.

    Parameters
    ----------
    options : dict
        The options.
    where : str | None
        What the messages name before the key (``'--config r.toml: [options]'``).

    Returns
    -------
    dict
    """
    from .analysis.registry import all_options

    known = all_options()
    return {key: known[key].check(value, where) if key in known else value
            for key, value in options.items()}


def read_recipe_file(path):
    """Read a TOML recipe (``analyses/*.toml``): ``(settings, options)``.

    ``settings`` may hold ``model``, ``recipe``, ``epochs``, ``device`` (from
    ``[train]``), ``train_options`` (every other ``[train]`` key: a
    :class:`~eegvision.training.TrainConfig` setting; an unknown one is an error
    with "did you mean"), ``subjects`` and ``seeds``; ``options`` are the
    analysis' own (``[options]``). Every key is checked here, by the checks
    the command-line options and :class:`~eegvision.training.TrainConfig`
    use; an error is one line naming the file, the key, what was found and
    what is expected.
    """
    where = f"--config {path}:"
    recipe = _load_toml(path, where)
    unknown = sorted(set(recipe) - {"subjects", "seeds", "train", "options"})
    if unknown:
        raise option_error(f"{where} key(s)", unknown, "unknown section or key(s).",
                           "use subjects, seeds, [train] and [options].")
    train, options = (_recipe_table(recipe, key, where) for key in ("train", "options"))
    settings = _recipe_run_settings(train, where)
    if train:
        try:
            settings["train_options"] = check_train_options(
                train, recipe=settings.get("recipe", ANALYSIS_RECIPE), model=settings.get("model"))
        except ValueError as err:
            raise OptionError(f"{where} [train] {err}") from None
    if "subjects" in recipe:
        settings["subjects"] = _recipe_ints(recipe["subjects"], f"{where} subjects", "--subjects")
    if "seeds" in recipe:
        settings["seeds"] = _recipe_ints(recipe["seeds"], f"{where} seeds", "--seeds")
    return settings, check_analysis_options(options, f"{where} [options]")


def _load_toml(path, where):
    """The parsed TOML of ``path``; unreadable, non-UTF-8 or malformed is one error naming it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        text = Path(path).read_bytes().decode("utf-8")
        return tomllib.loads(text)
    except OSError as err:
        raise data_error(f"--config {path}", f"cannot read the recipe ({err.strerror or err}).",
                         "check the path (a TOML file such as analyses/temporal-sliding.toml)."
                         ) from None
    except UnicodeDecodeError as err:
        raise data_error(f"--config {path}", f"not UTF-8 text (byte {err.object[err.start]:#04x} at "
                               f"offset {err.start}).",
                         "save the recipe as UTF-8 (TOML files must be UTF-8).") from None
    except (tomllib.TOMLDecodeError, RecursionError) as err:
        problem = f"{err}" if not isinstance(err, RecursionError) else "nested too deeply"
        raise data_error(f"--config {path}", f"not valid TOML ({problem}).",
                         "fix the syntax (see analyses/*.toml for examples).") from None


def _recipe_table(recipe, key, where):
    """``recipe[key]`` as a dict (``{}`` when absent); a non-table is an error naming the key."""
    table = recipe.get(key, {})
    if not isinstance(table, dict):
        raise option_error(f"{where} {key}", table, f"expected a [{key}] table, found "
                           f"{type(table).__name__}.", f"write the settings under a [{key}] line.")
    return dict(table)


def _recipe_run_settings(train, where):
    """``model``, ``recipe``, ``epochs``, ``device`` popped from ``[train]`` and checked."""
    from ._values import MAX_EPOCHS, check_int, check_str
    from .training.config import RECIPES

    checks = {"model": lambda v, n: check_str(v, n),
              "recipe": lambda v, n: check_str(v, n, tuple(RECIPES)),
              "epochs": lambda v, n: check_int(v, n, low=1, high=MAX_EPOCHS),
              "device": lambda v, n: check_str(v, n, ("auto", "cpu", "cuda"))}
    settings = {k: checks[k](train.pop(k), f"{where} [train] {k}")
                for k in _TRAIN_SETTINGS if k in train}
    if "model" in settings:
        try:
            check_model_name(settings["model"])
        except ValueError as err:
            raise OptionError(f"{where} [train] {err}") from None
    return settings


def _recipe_ints(value, name, option):
    """Subjects or seeds of a recipe: a list of integers, or a range string as ``option`` takes."""
    from ._values import check_int

    if isinstance(value, str):
        try:
            return (parse_subjects if option == "--subjects" else parse_seeds)(value)
        except ValueError as err:
            raise OptionError(f"{name}: {err}") from None
    low, high = (1, MAX_SUBJECT) if option == "--subjects" else (0, MAX_SEED)
    if not isinstance(value, list) or not value or len(value) > MAX_SEEDS:
        raise option_error(name, value, f"expected a list of 1 to {MAX_SEEDS} integers "
                           f"from {low} to {high}, found {type(value).__name__}.",
                           f"write e.g. {name.split()[-1]} = [{low}, {low + 1}] or "
                           f"\"{low}-{low + 4}\".")
    return sorted({check_int(v, name, low=low, high=high) for v in value})


def _spec(name):
    """The registered spec of analysis ``name`` (an unknown name is an error)."""
    from .analysis.registry import get_spec

    return get_spec(name)


def write_preview(*args, **kwargs):
    """See :func:`eegvision.outputs.write_preview`."""
    from .outputs import write_preview as _write_preview

    return _write_preview(*args, **kwargs)


def write_outputs(*args, **kwargs):
    """See :func:`eegvision.outputs.write_outputs`."""
    from .outputs import write_outputs as _write

    return _write(*args, **kwargs)


def summarize_results(spec, df):
    """See :func:`eegvision.analysis._base.summarize_results`."""
    from .analysis._base import summarize_results as _summarize

    return _summarize(spec, df)
