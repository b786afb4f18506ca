"""Analyses that draw single repetitions or other subjects, on data in memory.

The entry layer hands the jobs their repetitions (``SubjectData.repetitions``)
and the other subjects (``SubjectData.others``): from a root it reads them,
in memory it takes them from the containers as given. No job reads a file.
"""

from __future__ import annotations

import numpy as np
import pytest

from eegvision.data.container import SubjectData
from eegvision.data.things import load_subject
from eegvision.pipeline import analyze

KW = dict(model="ridge", plot=False, progress=False)


@pytest.fixture(scope="module")
def two_roots(tmp_path_factory):
    """Two subjects, 3 training and 4 test repetitions: ridge jobs take a fraction of a second."""
    from eegvision.data.simulate import simulate_root

    root = tmp_path_factory.mktemp("reps")
    simulate_root(root, 2, seed=5, n_train=40, n_test=16, n_train_reps=3, n_test_reps=4,
                  layouts=("official",), features_dir=False, snr=3.0)
    return root


def _unaveraged(root, subject):
    """The subject as a user would hold it: every repetition its own trial."""
    return load_subject(root, subject, average=False)


def _no_reading(monkeypatch):
    import eegvision.data.things as things

    def refuse(*args, **kwargs):
        raise AssertionError("a job read a file")

    for name in ("read_preprocessed", "load_subject", "find_subject_files"):
        monkeypatch.setattr(things, name, refuse)


def test_repetitions_and_ceiling_in_memory_match_the_root(two_roots, monkeypatch):
    from_root = analyze("repetitions", 1, data_dir=two_roots, **KW)
    subject = _unaveraged(two_roots, 1)
    _no_reading(monkeypatch)
    in_memory = analyze("repetitions", data=subject, **KW)
    # the same counts: 1-4 test repetitions, 1-3 training repetitions
    assert list(in_memory["condition"]) == list(from_root["condition"]) == [
        "test-1", "test-2", "test-3", "test-4", "train-1", "train-2", "train-3"]
    # the containers' averages equal the reader's to the bit, so do the results
    np.testing.assert_array_equal(in_memory["top1"], from_root["top1"])
    ceiling = in_memory.attrs["extras"]["noise_ceiling"]
    root_ceiling = from_root.attrs["extras"]["noise_ceiling"]
    assert len(ceiling) == 1 and ceiling["n_reps_half"].tolist() == [2]
    np.testing.assert_array_equal(ceiling["nc_top1"], root_ceiling["nc_top1"])
    # the caller's container keeps its meta (the counts are set on a copy)
    assert "train_n_repetitions" not in subject.test.meta


def test_ceiling_in_memory_for_any_analysis_and_skipped_for_averages(two_roots):
    unaveraged = analyze("spatial", data=_unaveraged(two_roots, 1), regions="occipital", **KW)
    nc = unaveraged.attrs["extras"]["noise_ceiling"]
    assert nc["subject"].tolist() == [1] and nc["nc_top1"].between(0, 1).all()
    averaged = analyze("spatial", data=load_subject(two_roots, 1), regions="occipital", **KW)
    assert "noise_ceiling" not in averaged.attrs["extras"]  # one trial per condition: no split


def test_repetitions_cache_key_is_the_content(two_roots, tmp_path):
    subject = _unaveraged(two_roots, 1)
    first = analyze("repetitions", data=subject, out=tmp_path, parts="test", **KW)
    changed = SubjectData(1, subject.train, subject.test.copy())
    changed.test.eeg[0, 0, 0] += 1.0
    again = analyze("repetitions", data=changed, out=tmp_path, parts="test", **KW)
    assert set(again["config_hash"]).isdisjoint(first["config_hash"])


def test_loso_in_memory_matches_the_root(two_roots, monkeypatch):
    from_root = analyze("loso", [1, 2], data_dir=two_roots, noise_ceiling=False, **KW)
    given = {s: load_subject(two_roots, s) for s in (1, 2)}
    _no_reading(monkeypatch)
    in_memory = analyze("loso", data=given, noise_ceiling=False, **KW)
    assert list(in_memory["condition"]) == list(from_root["condition"])
    np.testing.assert_array_equal(in_memory["top1"], from_root["top1"])
    loso = in_memory[in_memory["condition"] == "loso"]
    assert loso["n_train_subjects"].tolist() == [1, 1]


def test_batched_training_derives_each_jobs_data(two_roots):
    """A batch trains each job on the data its own run would: the train-k averages, the folds."""
    kw = dict(KW, model="nice", epochs=2, train_options={"batch_size": 16})
    batched = analyze("repetitions", 1, data_dir=two_roots, parts="train", **kw)
    alone = analyze("repetitions", 1, data_dir=two_roots, parts="train", batch=False, **kw)
    np.testing.assert_array_equal(batched["top1"], alone["top1"])
    folds = analyze("loso", [1, 2], data_dir=two_roots, noise_ceiling=False, **kw)
    assert folds["top1"].notna().all() and len(folds) == 4
