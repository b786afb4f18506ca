"""What an analysis is given, turned into one :class:`SubjectData` per subject.

:func:`eegvision.analyze` takes a data root or data in memory (a
``SubjectData``, an ``EEGImageData``, an ``mne.Epochs`` with features, or a
dict of them by subject). This module turns either into a source of
``SubjectData`` by subject, reads whatever else an analysis needs (the test
repetitions, the concept table's categories) so that analyses never open a
file, and hashes in-memory data for the job cache.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from .._docs import fill_doc
from .._utils import data_error, logger
from .container import EEGImageData, SubjectData, n_repetitions  # noqa: F401


def split_images(data, test_size=0.2, seed=0, *, subject=1):
    """Split one container into training and held-out test *images* (zero-shot, as THINGS).

    Parameters
    ----------
    data : EEGImageData
        Trials of every image (repetitions share a condition).
    test_size : float | int
        Share (< 1) or number of image conditions held out for the test set.
    seed : int
        Seed of the draw.
    subject : int
        Subject number of the result.

    Returns
    -------
    SubjectData
        Every trial of a test image is in ``test``, none in ``train``. When
        ``data.meta['trial_split']`` labels every trial ``train`` / ``test``
        (a ``split`` column of the epochs' metadata, see
        :meth:`EEGImageData.from_epochs`), that split is used and nothing is drawn.
    """
    from .._utils import rng_from_seed

    if "trial_split" in data.meta:
        return _given_split(data, subject)
    ids = np.unique(data.conditions)
    n_test = int(round(test_size * len(ids))) if test_size < 1 else int(test_size)
    if not 2 <= n_test <= len(ids) - 2:
        raise ValueError(f"test_size={test_size} holds out {n_test} of {len(ids)} images; "
                         "zero-shot retrieval needs at least 2 test and 2 training images.")
    test_ids = rng_from_seed(seed).choice(ids, n_test, replace=False)
    is_test = np.isin(data.conditions, test_ids)
    meta = {"source": data.meta.get("source", "EEGImageData"), "test_size": test_size,
            "split_seed": int(seed)}
    return SubjectData(int(subject), data.subset(~is_test), data.subset(is_test), meta)


def _given_split(data, subject):
    """The split the data's metadata gives (``meta['trial_split']``), checked for zero-shot use."""
    src = data.meta.get("source", "EEGImageData")
    labels = np.asarray(data.meta["trial_split"])
    is_test = labels == "test"
    shared = np.intersect1d(data.conditions[is_test], data.conditions[~is_test])
    if shared.size:
        raise data_error(src, f"the metadata's split puts {shared.size} images in both train "
                         "and test (zero-shot retrieval tests on unseen images).",
                         "label every epoch of an image with the same split.")
    for name, mask in (("test", is_test), ("train", ~is_test)):
        if len(np.unique(data.conditions[mask])) < 2:
            raise data_error(src, f"the metadata's split has fewer than 2 {name} images.",
                             "label at least 2 images train and 2 test.")
    meta = {"source": src, "split": "metadata"}
    parts = [data.subset(mask) for mask in (~is_test, is_test)]
    for part in parts:
        part.meta.pop("trial_split", None)
    return SubjectData(int(subject), parts[0], parts[1], meta)


@fill_doc
def as_subjects(data, *, features=None, test_size=0.2, seed=0):
    """``{subject: SubjectData}`` from data in memory.

    Parameters
    ----------
    %(data)s
        A list of ``SubjectData`` works too.
    %(features)s
    test_size, seed
        How a single container is split (:func:`split_images`).

    Returns
    -------
    dict of int -> SubjectData
    """
    if isinstance(data, dict):
        out = {}
        for subject, value in data.items():
            one = _one_subject(value, features, test_size, seed, int(subject))
            out[int(subject)] = SubjectData(int(subject), one.train, one.test, one.meta,
                                            one.test_repetitions)
    elif isinstance(data, (list, tuple)) and all(isinstance(d, SubjectData) for d in data):
        out = {int(d.subject): d for d in data}
    else:
        one = _one_subject(data, features, test_size, seed, 1)
        out = {int(one.subject): one}
    for one in out.values():
        _check_informative(one)
    return out


def _check_informative(data):
    """Refuse constant EEG or identical features in memory: a run on them scores chance."""
    from .._utils import check_not_constant
    from .things import check_times

    for split in ("train", "test"):
        part = getattr(data, split)
        where = part.meta.get("source", f"data= (subject {data.subject}, {split})")
        check_times(where, part.times, part.sfreq)
        check_not_constant(part.eeg, where, "EEG values", "pass the recorded EEG.")
        check_not_constant(part.features, where, "feature rows",
                           "pass one image feature vector per trial (not zeros).", axis=0)


def _one_subject(data, features, test_size, seed, subject):
    if isinstance(data, SubjectData):
        return data
    if not isinstance(data, EEGImageData):
        import mne

        if not isinstance(data, mne.BaseEpochs):
            raise TypeError(f"data= must be a SubjectData, an EEGImageData, an mne.Epochs (with "
                            f"features=) or a dict of them by subject, got {type(data).__name__}.")
        if features is None:
            raise ValueError("data= is an mne.Epochs: give features= too (one image feature "
                             "vector per epoch, or a dict concept -> vector).")
        data = EEGImageData.from_epochs(data, features)
    elif features is not None:
        raise ValueError("features= goes with mne.Epochs data; an EEGImageData has its own.")
    return split_images(data, test_size, seed, subject=subject)


def content_hash(subject_data):
    """``sha256:<16 hex>`` of everything in a subject's containers (the job cache key).

    Parameters
    ----------
    subject_data : SubjectData

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    for split in (subject_data.train, subject_data.test):
        for arr in (split.eeg, split.features, split.times, split.conditions):
            arr = np.ascontiguousarray(arr)
            digest.update(f"{arr.dtype}{arr.shape}".encode())
            digest.update(memoryview(arr).cast("B"))
        for names in (split.concepts, split.ch_names, split.categories):
            digest.update(repr(None if names is None else list(names)).encode())
        digest.update(repr(split.sfreq).encode())
    if subject_data.test_repetitions is not None:
        digest.update(memoryview(np.ascontiguousarray(subject_data.test_repetitions)).cast("B"))
    for split, c in sorted((subject_data.repetitions or {}).items()):
        if c is not getattr(subject_data, split):  # given on their own: part of the content
            digest.update(f"repetitions-{split}".encode())
            digest.update(content_hash(SubjectData(subject_data.subject, c, c)).encode())
    return "sha256:" + digest.hexdigest()[:16]


@fill_doc
class RootLoader:
    """``loader(subject) -> SubjectData`` from a THINGS-EEG2 root (the last two are kept).

    Parameters
    ----------
    %(root)s
    %(layout)s
    %(targets)s
    test_repetitions : bool
        Also read the test EEG per repetition (``SubjectData.test_repetitions``).
    categories : bool
        Give test concepts without categories those of the concept table
        (``things_eeg2_concepts.tsv`` in ``$EEGVISION_SHARED_DATA``), if found.
    %(feature_set)s
    %(channels)s
    bank : bool
        Read the feature set's blur bank too (the ``ubp`` and ``blur-bank`` recipes).
    concept_table : str | Path | None
        With ``categories``: the concept table to read them from (default:
        the one in ``$EEGVISION_SHARED_DATA``).
    """

    def __init__(self, root, layout="auto", targets="centers", *, test_repetitions=False,
                 categories=False, features=None, channels=None, bank=False,
                 concept_table=None):
        self.root, self.layout, self.targets = root, layout, targets
        self.test_repetitions, self.categories = test_repetitions, categories
        self.features, self.channels, self.bank = features, channels, bank
        self.concept_table = concept_table
        self._load = functools.lru_cache(maxsize=2)(self._read)

    def __call__(self, subject):
        return self._load(int(subject))

    def _read(self, subject):
        from .channels import pick
        from .things import load_subject

        data = load_subject(self.root, subject, layout=self.layout, targets=self.targets,
                            features=self.features, bank=self.bank)
        if self.categories:
            add_table_categories(data.test, self.concept_table)
        if self.test_repetitions:
            data.test_repetitions = self._repetitions(subject)
        return pick(data, self.channels)

    def unaveraged(self, subject, split):
        """The subject's ``split`` ('train' / 'test') with every repetition as its own trial.

        Only that split's file is read (the real training set unaveraged is
        about 4 GB per subject, the test set 1 GB), with this loader's
        features and channels.
        """
        from .channels import select_channels
        from .things import _split_data, find_subject_files, subject_metadata

        files = find_subject_files(self.root, subject, self.layout, targets=self.targets,
                                   features=self.features, bank=self.bank)
        meta = subject_metadata(self.root, subject, files)
        data = _split_data(files, split, meta, average=False, cache=False, targets=self.targets,
                           subject=subject)
        if self.channels is not None:
            data.pick_channels(select_channels(data.ch_names, self.channels))
        return data

    def _repetitions(self, subject):
        from .things import find_subject_files, read_preprocessed

        try:
            files = find_subject_files(self.root, subject, self.layout, targets=self.targets)
            return read_preprocessed(files["test_eeg"], average=False)["eeg"]
        except (OSError, ValueError) as err:
            logger.warning("no test repetitions for subject %d (%s)", subject, err)
            return None


def unaveraged(data, split):
    """``data``'s ``split`` with every repetition as its own trial, from data in memory.

    The ``repetitions`` the entry layer handed over when there are, else the
    container itself: data given in memory hold their trials as given (one
    per repetition, or averages, which count as one repetition each).

    Parameters
    ----------
    data : SubjectData
    split : 'train' | 'test'

    Returns
    -------
    EEGImageData
    """
    if data.repetitions and split in data.repetitions:
        return data.repetitions[split]
    return getattr(data, split)


class WithInputs:
    """``source(subject) -> SubjectData`` with what an analysis needs beyond the containers.

    The entry layer (:func:`eegvision.analyze`) wraps its data
    source in one, so that jobs get every input handed over and never read a
    file: single repetitions (``SubjectData.repetitions``) and the other
    subjects of a leave-one-subject-out pool (``SubjectData.others``).

    Parameters
    ----------
    source : callable
        ``source(subject) -> SubjectData`` (a :class:`RootLoader`, or data in
        memory).
    repetitions : sequence of 'train' | 'test'
        Splits to hand over with every repetition as its own trial.
    pool : sequence of int | None
        Subjects whose data go to every other subject's ``others`` (kept in
        memory: every fold needs them).
    read_unaveraged : callable | None
        ``read_unaveraged(subject, split)`` reads a split unaveraged (a data
        root: :meth:`RootLoader.unaveraged`); None takes it from the data in
        memory (:func:`unaveraged`).
    """

    def __init__(self, source, *, repetitions=(), pool=None, read_unaveraged=None):
        self.source, self.repetitions, self.pool = source, tuple(repetitions), pool
        self.read_unaveraged = read_unaveraged
        self._members = {}

    def __call__(self, subject):
        data = self.source(subject)
        reps = {split: (unaveraged(data, split) if self.read_unaveraged is None
                        else self.read_unaveraged(subject, split))
                for split in self.repetitions}
        others = None
        if self.pool is not None:
            others = {int(s): self._member(s) for s in self.pool if int(s) != int(subject)}
        return SubjectData(data.subject, data.train, data.test, dict(data.meta),
                           data.test_repetitions, repetitions={**(data.repetitions or {}), **reps}
                           or None, others=others)

    def _member(self, subject):
        if subject not in self._members:
            self._members[subject] = self.source(subject)
        return self._members[subject]


def add_table_categories(container, path=None):
    """Fill ``container.categories`` from the concept table when it has none and one is found.

    Real THINGS-EEG2 metadata carry no categories; the table
    (``things_eeg2_concepts.tsv``: ``path``, else the one in
    ``$EEGVISION_SHARED_DATA``) maps concept names to their THINGS
    categories. Leaves the container as is when there is no table or a
    concept is not in it.

    Parameters
    ----------
    container : EEGImageData
        Modified in place.
    path : str | Path | None
        The concept table; given, it must exist.

    Returns
    -------
    container : EEGImageData
    """
    from .paths import shared_data_dir
    from .things import concept_name, read_concept_table

    if container.categories is not None:
        return container
    if path is not None:
        if not Path(path).is_file():
            raise data_error(path, "the concept table does not exist.",
                             "give the path of things_eeg2_concepts.tsv (concept_table=).")
    else:
        folder = shared_data_dir()
        path = None if folder is None else folder / "things_eeg2_concepts.tsv"
        if path is None or not path.is_file():
            return container
    table = read_concept_table(path)
    lookup = dict(zip(table["concept"], table["categories27"], strict=True))
    names = [concept_name(c) for c in container.concepts]
    missing = sorted({n for n in names if n not in lookup})
    if missing:
        logger.warning("%d test concepts are not in %s (e.g. %s): no categories", len(missing),
                       path, missing[:3])
        return container
    container.categories = np.array([lookup[n] for n in names])
    return container
