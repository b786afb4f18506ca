"""Shared parameter docs, written once (as ``mne/utils/docs.py``).

A docstring names a shared parameter as ``%(name)s`` on its own line in the
Parameters section and :func:`fill_doc` puts the entry of :data:`docdict`
there, indented to match::

    @fill_doc
    def analyze(name, subjects=None, *, seeds=(0,)):
        \"\"\"Run an analysis.

        Parameters
        ----------
        %(subjects)s
        %(seeds)s
        \"\"\"

A literal percent sign in a filled docstring is written ``%%``.
"""

from __future__ import annotations

import textwrap

#: parameter name -> numpydoc entry (name : type, then the indented description)
docdict = {}

docdict["subjects"] = """
subjects : int | str | list of int | None
    ``3``, ``"1-10"`` or ``[1, 2]``; None: subject 1 of a data root, or
    every subject of ``data``."""

docdict["subject"] = """
subject : int
    Subject number (from 1)."""

docdict["seeds"] = """
seeds : sequence of int
    Training seeds; each (subject, condition) is trained once per seed."""

docdict["model"] = """
model : str
    Encoder name (:func:`eegvision.models.list_encoders`: ``'nice'``,
    ``'nice-sa'``, ``'nice-ga'``, ``'atm'``) or ``'ridge'``."""

docdict["recipe"] = """
recipe : str
    Training recipe (:meth:`eegvision.training.TrainConfig.from_recipe`):
    ``'sweep'`` (the analyses' default: ``'fast'`` in 20 epochs with a
    one-cycle schedule), ``'fast'`` (the package's defaults), ``'nice'`` or
    ``'nice-paper'`` (the NICE paper's settings), ``'ubp'``, ``'blur-bank'``."""

docdict["epochs"] = """
epochs : int | None
    Maximum training epochs; None keeps the recipe's."""

docdict["device"] = """
device : 'auto' | 'cpu' | 'cuda'
    Where to train (``auto``: CUDA when torch sees a GPU)."""

docdict["out"] = """
out : path-like | None
    Folder for tables, ``config.json`` and figures (job results are cached
    under ``out/jobs``); None writes nothing at all."""

docdict["data_dir"] = """
data_dir : path-like | None
    THINGS-EEG2 data root; None uses ``$EEGVISION_DATA``, else the built-in
    simulated dataset."""

docdict["root"] = """
root : path-like
    A THINGS-EEG2 data root (see ``docs/data.md`` for the layout)."""

docdict["layout"] = """
layout : 'auto' | 'nice' | 'official' | 'eegvision_<rate>hz' | 'legacy'
    Which preprocessed layout to read, named after what writes it
    (``auto``: the first present of NICE's 250-Hz layout, the official
    100-Hz one, ``eegvision preprocess``'s own, then older folders; the
    earlier names ``'250hz'`` and ``'eeg_dataset'`` still work)."""

docdict["targets"] = """
targets : 'centers' | 'images'
    Test retrieval targets: concept-centre features (NICE) or each test
    image's own features."""

docdict["data"] = """
data : SubjectData | EEGImageData | mne.Epochs | str | Path | dict | None
    Data in memory instead of a root: a subject's data, one container (its
    images split into training and test, see
    :func:`eegvision.data.inputs.split_images`; a ``split`` column of the
    epochs' metadata decides it), epochs with ``features``, the path of an
    ``-epo.fif`` file with ``features``, or a dict of these by subject. Jobs
    are cached by the arrays' content hash."""

docdict["features"] = """
features : array | str | Path | dict | None
    The image features of ``mne.Epochs`` data: one row per epoch (or per
    image condition), as an array or a ``.npy`` path, or a dict concept
    name -> vector."""

docdict["jobs_backend"] = """
jobs, backend, scheduler
    How to run the jobs (see :func:`eegvision.runner.run_jobs`): ``jobs``
    local processes or Dask workers, ``backend`` ``'local'`` or ``'dask'``,
    ``scheduler`` a Dask scheduler address, Client or cluster."""

# ---- shared parameters of issue 27 (docs28): one text per meaning, used wherever it recurs.
# (tests/test_docs.py fails when two public docstrings write the same entry out.)
docdict["channels"] = """
channels : str | list of str | None
    Channel selection (``'posterior17'``, a list, a glob or ``re:...``; see
    :func:`eegvision.data.channels.select_channels`)."""

docdict["feature_set"] = """
features : str | None
    Named feature set (``dnn_feature/<features>/``, as ``--features``);
    None: NICE's files."""

docdict["progress"] = """
progress : bool
    Show a progress bar on stderr (only when stderr is a terminal, unless quiet)."""

docdict["overwrite"] = """
overwrite : bool
    Replace another command's outputs in the output folder (or files of
    these names that eegvision did not write); without it they are refused
    before any work starts (``docs/outputs.md``)."""

docdict["encoder_sizes"] = """
n_chans, n_times, n_outputs : int
    Input channels, input samples and embedding size."""

docdict["encoder_sfreq"] = """
sfreq : float | None
    Accepted for a uniform encoder signature; unused."""

docdict["true_index"] = """
true_index : array of int | None
    Column of each query's true candidate; default ``arange(n_queries)``."""

docdict["split"] = """
split : 'training' | 'test'
    Which partition of THINGS-EEG2."""

docdict["show"] = """
show : bool
    Show the figure."""

docdict["attention_dropout"] = """
dropout : float
    Dropout on the attention weights."""

docdict["trial_features"] = """
features : array, shape (n_trials, d)
    Each trial's own image feature."""

docdict["decoder_X"] = """
X : array, shape (n_trials, ...)
    EEG."""

docdict["decoder_fit_y"] = """
y : array, shape (n_trials,) | (n_trials, d)
    Each trial's label (an index of ``features``, or a class label),
    or its image's features."""

docdict["decoder_features"] = """
features : array, shape (n_images, d) | pandas.DataFrame | None
    Feature table whose row indices (or index labels) a 1-D ``y`` holds.
    None: a 1-D ``y`` holds class labels, each its own one-hot image."""
docdict["input_size"] = """
n_chans, n_times : int
    Input size."""

docdict["trial_eeg"] = """
eeg : array, shape (n_trials, n_chans, n_times)
    The trials' EEG, as the model takes it."""
# ---- end of the docs28 block
docdict["verbose"] = """
verbose : bool | str | int | None
    How much this call logs, as MNE's ``verbose``: ``'DEBUG'``, ``'INFO'``
    (progress lines and bars), ``'WARNING'`` (quiet: results, warnings and
    errors only), ``'ERROR'``; True is ``'INFO'``, False ``'WARNING'``.
    None: the level of :func:`eegvision.set_log_level`
    (``$EEGVISION_LOGGING_LEVEL``, default ``'INFO'``)."""

docdict = {k: v.strip("\n") for k, v in docdict.items()}


def fill_docstring(doc, indent=0):
    """Fill the ``%(name)s`` placeholders of a docstring from :data:`docdict`.

    Parameters
    ----------
    doc : str
        The docstring, as written (``%%`` for a literal percent sign).
    indent : int
        Spaces before each line of the docstring's body; every line of a
        filled entry but its first gets them.

    Returns
    -------
    str
        The filled docstring.

    Raises
    ------
    KeyError, TypeError, ValueError
        An unknown ``%(name)s``, or a lone ``%`` not written ``%%``.
    """
    filled = {k: textwrap.indent(v, " " * indent).lstrip() for k, v in docdict.items()}
    return doc % filled


def fill_doc(obj):
    """Fill the ``%(name)s`` placeholders of ``obj.__doc__`` from :data:`docdict`.

    The documentation site fills the same placeholders when it reads the
    source (``docs/_griffe_eegvision.py`` calls :func:`fill_docstring`).

    Parameters
    ----------
    obj : function | class
        Decorated object; its docstring is replaced.

    Returns
    -------
    obj
        The same object.
    """
    doc = obj.__doc__
    if not doc:
        return obj
    lines = doc.splitlines()
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()), default=0)
    try:
        obj.__doc__ = fill_docstring(doc, indent)
    except (KeyError, TypeError, ValueError) as err:
        raise RuntimeError(f"fill_doc: cannot fill the docstring of {obj.__qualname__} "
                           f"({err!r}); unknown %(name)s, or a lone % not written %%.") from None
    return obj
