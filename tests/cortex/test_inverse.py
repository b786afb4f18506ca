"""The template inverse: noise covariance, cached kernels, point-spread, projections, SourceEstimates."""

from __future__ import annotations

import numpy as np
import pytest

from eegvision.cortex import inverse, maps
from eegvision.data.montage import THINGS_EEG2_CHANNELS

CH = list(THINGS_EEG2_CHANNELS)


def _subject(times, reps=None, seed=0):
    from eegvision.data.container import EEGImageData, SubjectData

    rng = np.random.default_rng(seed)
    n = 30
    make = lambda k: EEGImageData(rng.standard_normal((n, len(CH), len(times))),  # noqa: E731
                                  rng.standard_normal((n, 4)), [f"c{i}" for i in range(n)],
                                  CH, times)
    return SubjectData(1, make(0), make(1), test_repetitions=reps)


def test_noise_covariance_uses_the_baseline_then_repetitions_then_training_residuals():
    rng = np.random.default_rng(1)
    cov, source = inverse.noise_covariance(_subject(np.arange(-0.2, 0.5, 0.01)))
    assert source == "baseline" and cov.shape == (63, 63)
    reps = rng.standard_normal((30, 4, 63, 20))
    cov, source = inverse.noise_covariance(_subject(np.arange(0, 0.2, 0.01), reps))
    assert source == "repetition residuals"
    # white unit noise: the residual variance, scaled by n / (n - 1), is ~1 (+10 % loading)
    assert 1.0 < np.mean(np.diag(cov)) < 1.2
    assert inverse.noise_covariance(_subject(np.arange(0, 0.2, 0.01)))[1] == "training residuals"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((63, 400))
    with pytest.MonkeyPatch.context() as mp:  # the session's cache, as conftest's autouse fixture
        mp.setenv("EEGVISION_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        return inverse.inverse_kernel(CH, a @ a.T / 400 + np.eye(63), method="sLORETA")


def test_inverse_kernel_is_cached_and_checked(kernel):
    k, meta = kernel
    assert k.shape == (20484, 63) and np.isfinite(k).all()
    assert meta["moved"]["n_sources"] == 20484 and meta["lambda2"] == pytest.approx(1 / 9)
    # every column sums to zero: the average reference is part of the operator
    np.testing.assert_allclose(k.sum(1), 0, atol=1e-6 * np.abs(k).max())
    files = list((inverse._cache_dir()).glob(f"{meta['key']}-inv.npy"))
    assert len(files) == 1
    np.testing.assert_array_equal(np.load(files[0]), k)
    with pytest.raises(ValueError, match="sLORETA"):
        inverse.inverse_kernel(CH, np.eye(63), method="MNE-free")
    with pytest.raises(Exception, match="noise covariance"):
        inverse.inverse_kernel(CH, np.eye(5))


def test_sloreta_localises_its_own_point_sources_exactly(kernel):
    """Without noise sLORETA puts the peak on the source (Pascual-Marqui 2002): the PSF check."""
    fwd, _, _ = inverse.template_forward(CH)
    vertices = [100, 5000, 12000, 19000]
    psf = maps.point_spread(kernel[0], inverse.normal_gain(fwd)[:, vertices], vertices)
    assert (psf["peak_error_mm"] == 0).all(), psf
    assert (psf["sd_mm"] > 5).all() and (psf["half_max_cm2"] > 1).all(), psf


def test_project_pattern_is_the_norm_of_the_projected_outputs():
    rng = np.random.default_rng(2)
    k = rng.standard_normal((50, 6))
    pattern = rng.standard_normal((6, 10, 3))
    times = np.arange(10) / 100
    got = maps.project_pattern(k, pattern, times, [0.0, 50.0, 100.0])
    want = np.stack([np.linalg.norm(k @ pattern[:, :5].mean(1), axis=1),
                     np.linalg.norm(k @ pattern[:, 5:].mean(1), axis=1)], axis=1)
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(maps.project_maps(k, pattern[:, 0, :].T), k @ pattern[:, 0, :])
    with pytest.raises(ValueError, match="channels"):
        maps.project_maps(k, np.ones((2, 5)))


def test_lobe_table_ranks_the_lobe_holding_the_blob_first():
    from eegvision.data.fsaverage import geodesic_patch, patch_centres, template_cortex

    cortex = template_cortex()
    values = np.full((20484, 2), 0.3)  # a floor everywhere, as minimum-norm maps have
    values[geodesic_patch(int(patch_centres("temporal")[0]), 20.0), 1] = 1.0
    table = maps.lobe_table(values, bin_edges_ms=[0, 100, 200])
    second = table[table["bin"] == "1"].set_index("lobe")
    assert second.loc["temporal", "rank"] == 1 and second["rank"].tolist() != [1] * 4
    assert second["share"].sum() == pytest.approx(1.0)
    assert set(table["bin"]) == {"0", "1", "all"}
    np.testing.assert_allclose(table["area_cm2"].groupby(table["bin"]).sum(),
                               cortex["area_mm2"].sum() / 100, rtol=1e-3)


def test_source_estimate_round_trips_through_h5(tmp_path):
    import mne

    values = np.random.default_rng(3).standard_normal((20484, 3))
    stc = maps.to_source_estimate(values, [0, 100, 200, 300])
    assert stc.subject == "fsaverage" and stc.times == pytest.approx([0.05, 0.15, 0.25])
    stc.save(tmp_path / "x-stc.h5", ftype="h5", verbose="error")
    back = mne.read_source_estimate(tmp_path / "x-stc.h5")
    np.testing.assert_allclose(back.data, values)
    assert [len(v) for v in back.vertices] == [10242, 10242]
