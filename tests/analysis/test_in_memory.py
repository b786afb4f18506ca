"""Analyses on data in memory: the same results as from the root, cached by content."""

from __future__ import annotations

import numpy as np
import pytest

from eegvision.data.container import SubjectData
from eegvision.data.inputs import as_subjects, content_hash, split_images
from eegvision.data.things import load_subject
from eegvision.pipeline import analyze

KW = dict(model="ridge", windows="0-200,200-400", timecourse=False, plot=False, progress=False)


def test_subject_data_in_memory_gives_the_roots_results(tiny_root, tmp_path):
    from_root = analyze("temporal", 1, data_dir=tiny_root, **KW)
    subject = load_subject(tiny_root, 1)
    in_memory = analyze("temporal", data=subject, out=tmp_path / "mem", **KW)
    np.testing.assert_array_equal(in_memory["top1"], from_root["top1"])
    assert list(in_memory["condition"]) == list(from_root["condition"])
    assert in_memory["data_hash"].nunique() == 1
    # the caller's containers are untouched
    np.testing.assert_array_equal(subject.train.eeg, load_subject(tiny_root, 1).train.eeg)


def test_the_cache_key_is_the_content(tiny_root, tmp_path):
    subject = load_subject(tiny_root, 1)
    out = tmp_path / "mem"
    first = analyze("temporal", data=subject, out=out, **KW)
    again = analyze("temporal", data=load_subject(tiny_root, 1), out=out, **KW)
    assert list(again["config_hash"]) == list(first["config_hash"])  # equal arrays: cached
    changed = SubjectData(1, subject.train.copy(), subject.test)
    changed.train.eeg[0, 0, 0] += 1.0
    assert content_hash(changed) != content_hash(subject)
    third = analyze("temporal", data=changed, out=out, **KW)
    assert set(third["config_hash"]).isdisjoint(first["config_hash"])


def test_epochs_with_features_and_one_container(tiny_root):
    subject = load_subject(tiny_root, 1)
    epochs = subject.train.to_epochs()
    given = as_subjects(epochs, features=subject.train.features)
    split = given[1]
    assert split.train.n_trials + split.test.n_trials == subject.train.n_trials
    assert not set(split.train.concepts) & set(split.test.concepts)  # zero-shot: unseen images
    df = analyze("spatial", data=epochs, features=subject.train.features, model="ridge",
                 plot=False, progress=False)
    assert (df["n_way"] == split.test.n_trials).all() and df["top1"].notna().all()
    with pytest.raises(ValueError, match="features="):
        analyze("spatial", data=epochs, model="ridge")
    with pytest.raises(ValueError, match="not both"):
        analyze("spatial", data=subject, data_dir=tiny_root, model="ridge")
    with pytest.raises(ValueError, match="not in data"):
        analyze("spatial", [2], data=subject, model="ridge")


def test_split_images_is_seeded_and_checked(tiny_root):
    train = load_subject(tiny_root, 1).train
    a, b = split_images(train, 0.25, seed=3), split_images(train, 0.25, seed=3)
    assert list(a.test.concepts) == list(b.test.concepts) and a.test.n_trials == 15
    with pytest.raises(ValueError, match="at least 2"):
        split_images(train, 59)


def test_dask_scatters_in_memory_data(tiny_root):
    pytest.importorskip("distributed")
    subject = load_subject(tiny_root, 1)
    local = analyze("temporal", data=subject, **KW)
    dask = analyze("temporal", data=subject, backend="dask", jobs=1, **KW)
    np.testing.assert_array_equal(dask["top1"], local["top1"])


def test_semantic_gets_repetitions_and_categories_from_the_entry_layer(tiny_root, monkeypatch):
    """The semantic jobs get the test repetitions handed in (no file read in the job)."""
    import eegvision.data.things as things

    df_root = analyze("semantic", 1, data_dir=tiny_root, model="ridge", n_permutations=20,
                      plot=False, progress=False)
    rsa = df_root.attrs["extras"]["rsa"]
    assert rsa["nc_lower"].notna().all()  # the noise ceiling had the repetitions

    def no_reading(*args, **kwargs):
        raise AssertionError("a job read a file")

    subject = load_subject(tiny_root, 1)
    monkeypatch.setattr(things, "read_preprocessed", no_reading)
    monkeypatch.setattr(things, "load_subject", no_reading)
    df = analyze("semantic", data=subject, model="ridge", n_permutations=20, plot=False,
                 progress=False)
    np.testing.assert_array_equal(df["top1"], df_root["top1"])
