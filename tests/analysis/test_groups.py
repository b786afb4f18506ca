"""NICE's published grouping of the test concepts, and the grouping choice of the analysis."""

import numpy as np
import pytest

from eegvision._utils import DataError
from eegvision.analysis.semantic import (
    PAPER_GROUP_COUNTS,
    concept_groups,
    group_sort_order,
    resolved_grouping,
)
from eegvision.data.container import EEGImageData
from eegvision.data.nice_groups import NICE_NEW_ORDER, nice_group_of_condition


def _test_data(n=200, categories=None):
    rng = np.random.default_rng(0)
    return EEGImageData(rng.normal(size=(n, 2, 5)).astype(np.float32),
                        rng.normal(size=(n, 3)).astype(np.float32),
                        np.array([f"c{i}" for i in range(n)]), ["A", "B"],
                        np.arange(5) / 250, 250.0, conditions=np.arange(n), categories=categories)


def test_nice_grouping_is_the_papers_counts_and_known_concepts():
    groups = nice_group_of_condition()
    assert {g: int((groups == g).sum()) for g in PAPER_GROUP_COUNTS} == PAPER_GROUP_COUNTS
    assert sorted(NICE_NEW_ORDER.tolist()) == list(range(1, 201))
    # test conditions 1-5: aircraft carrier, antelope, backscratcher, balance beam, banana
    assert groups[:5].tolist() == ["vehicle", "animal", "tool", "other", "food"]
    assert nice_group_of_condition(fold_sport=False)[3] == "sport"


def test_release_without_categories_or_table_uses_nice(monkeypatch):
    monkeypatch.delenv("EEGVISION_SHARED_DATA", raising=False)  # only the release
    data = _test_data()
    assert resolved_grouping(data) == "nice"
    assert concept_groups(data).tolist() == nice_group_of_condition().tolist()
    with pytest.raises(DataError, match="grouping 'things' needs THINGS categories"):
        concept_groups(data, "things")


def test_things_grouping_from_categories_or_a_table(tmp_path):
    cats = np.array(["animal", "fruit", "vehicle", "tool", "toy"] * 40)
    data = _test_data(categories=cats)
    assert resolved_grouping(data) == "things"
    assert concept_groups(data)[:5].tolist() == ["animal", "food", "vehicle", "tool", "other"]
    table = tmp_path / "t.tsv"
    rows = ["split\tcondition_index\tfolder\tconcept\tword\tthings_index\tcategories27"]
    rows += [f"test\t{i + 1}\t{i + 1:05d}_c{i}\tc{i}\tc{i}\t{i}\t{'bird' if i % 2 else ''}"
             for i in range(200)]
    table.write_text("\n".join(rows) + "\n")
    # the entry layer reads the table (analysis modules read no file)
    from eegvision.data.inputs import add_table_categories

    groups = concept_groups(add_table_categories(_test_data(), table), "things")
    assert groups[:3].tolist() == ["other", "animal", "other"]


def test_nice_grouping_needs_the_200_test_conditions():
    with pytest.raises(DataError, match="NICE's assignment of the 200"):
        concept_groups(_test_data(20), "nice")


def test_sort_order_follows_nices_figure():
    groups = nice_group_of_condition()
    order = group_sort_order(groups, np.arange(200), "nice")
    np.testing.assert_array_equal(np.argsort(NICE_NEW_ORDER), order)
