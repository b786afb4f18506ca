"""Spectral filters: where a Chebyshev II's named edges really put the pass band, and the variants."""

import numpy as np
import pytest
from scipy import signal

from eegvision.analysis import spectral as S
from eegvision.data.container import EEGImageData

FS = 250.0


def _sines(freq, n_t=250):
    t = np.arange(n_t) / FS
    eeg = np.tile(np.sin(2 * np.pi * freq * t), (4, 3, 1)).astype(np.float32)
    return EEGImageData(eeg, np.ones((4, 2), np.float32), np.array(list("abcd")),
                        ["O1", "Oz", "O2"], t, FS)


@pytest.mark.parametrize("band, edges", [("delta", (0.60, 3.36)), ("alpha", (8.35, 11.50)),
                                         ("high-gamma", (59.34, 91.88))])
def test_named_edges_are_the_stop_band_edges(band, edges):
    """The documented -3 dB pass bands of the paper's filter at 250 Hz."""
    lo, hi = S.passband(*S.BANDS[band], FS)
    assert (round(lo, 2), round(hi, 2)) == edges


@pytest.mark.parametrize("band", ["theta", "beta", "gamma"])
def test_passband_design_puts_minus_3_db_on_the_named_edges(band):
    lo, hi = S.BANDS[band]
    s_lo, s_hi = S.passband_design(lo, hi, FS)
    assert s_lo < lo and s_hi > hi
    p_lo, p_hi = S.passband(s_lo, s_hi, FS)
    assert p_lo == pytest.approx(lo, rel=2e-3) and p_hi == pytest.approx(hi, rel=2e-3)


def test_a_sine_at_the_named_edge_passes_only_with_passband():
    data = _sines(13.0, n_t=1000)
    mid = slice(300, 700)  # away from the epoch edges
    paper = S.filter_band(data, 13.0, 30.0).eeg[0, 0, mid]
    named = S.filter_band(data, 13.0, 30.0, kind="passband").eeg[0, 0, mid]
    amp = np.sqrt(2) * np.std(data.eeg[0, 0, mid])
    assert np.sqrt(2) * paper.std() < 0.05 * amp  # 13 Hz is in the stop band's edge region
    assert np.sqrt(2) * named.std() == pytest.approx(amp / np.sqrt(2), rel=0.1)  # -3 dB


def test_nice_code_is_the_public_scripts_filter_and_refuses_unstable_bands():
    data = _sines(20.0)
    got = S.filter_band(data, 13.0, 30.0, kind="nice-code").eeg
    b, a = signal.cheby2(8, 40, [13 / 125, 30 / 125], btype="band")
    np.testing.assert_allclose(got, signal.filtfilt(b, a, data.eeg.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unstable"):
        S.filter_band(data, 0.5, 4.0, kind="nice-code")
    with pytest.raises(ValueError, match="unstable"):
        S.conditions({"bands": "delta", "filter": "nice-code"}, data)


def test_filter_option_keys_the_conditions():
    data = _sines(10.0)
    plain = S.conditions({"bands": "beta"}, data)
    named = S.conditions({"bands": "beta", "filter": "passband"}, data)
    assert "filter" not in plain[1][1] and named[1][1]["filter"] == "passband"
    with pytest.raises(ValueError, match="filter"):
        S.conditions({"bands": "beta", "filter": "butter"}, data)
