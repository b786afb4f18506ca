"""--channels: posterior17, lists, globs and regular expressions."""

from __future__ import annotations

import pytest

from eegvision._utils import DataError
from eegvision.data.channels import POSTERIOR17, pick, select_channels
from eegvision.data.montage import THINGS_EEG2_CHANNELS


def test_posterior17_are_the_official_releases():
    chosen = select_channels(list(THINGS_EEG2_CHANNELS), "posterior17")
    assert chosen == list(POSTERIOR17) and len(chosen) == 17
    assert not any(c.startswith(("CP", "TP")) for c in chosen)


def test_lists_globs_and_regex_keep_data_order():
    names = list(THINGS_EEG2_CHANNELS)
    assert select_channels(names, "O2,oz,O1") == ["O1", "Oz", "O2"]
    assert select_channels(names, "PO*") == ["PO7", "PO3", "POz", "PO4", "PO8"]
    assert select_channels(names, "re:^O") == ["O1", "Oz", "O2"]
    assert select_channels(names, ["Fp1", "Fp2"]) == ["Fp1", "Fp2"]


@pytest.mark.parametrize("spec, match", [("Q9", "no channel matches Q9"),
                                          ("re:^X", "selects no channel"),
                                          ("re:(", "not a valid regular expression")])
def test_bad_selection_is_one_clear_error(spec, match):
    with pytest.raises(DataError, match=match):
        select_channels(list(THINGS_EEG2_CHANNELS), spec)


def test_pick_applies_to_train_and_test(tiny_root):
    from eegvision.data.things import load_subject

    data = pick(load_subject(tiny_root, 1), "O*")
    assert data.train.ch_names == data.test.ch_names == ["O1", "Oz", "O2"]
    assert data.train.eeg.shape[1] == 3 and data.meta["channels"] == "O1,Oz,O2"
