"""The fsaverage5 template head: meshes, lobes, electrodes, patches and a forward model that drops nothing."""

from __future__ import annotations

import numpy as np
import pytest

from eegvision._utils import DataError
from eegvision.data import fsaverage
from eegvision.data.montage import THINGS_EEG2_CHANNELS


@pytest.fixture(scope="module")
def cortex():
    return fsaverage.template_cortex()


def test_template_cortex_is_fsaverage5_in_head_metres(cortex):
    n = 2 * fsaverage.N_VERTICES
    assert cortex["rr"].shape == cortex["nn"].shape == (n, 3)
    np.testing.assert_allclose(np.linalg.norm(cortex["nn"], axis=1), 1.0, atol=1e-6)
    # metres, head frame: the cortex spans ~14 cm left-right, the left hemisphere at x < 0
    width = np.ptp(cortex["rr"][:, 0])
    assert 0.12 < width < 0.16, width
    assert cortex["rr"][:fsaverage.N_VERTICES, 0].mean() < 0 < cortex["rr"][fsaverage.N_VERTICES:, 0].mean()
    # normals point outward on most of the surface (convex on the whole)
    out = np.einsum("ij,ij->i", cortex["nn"], cortex["rr"] - cortex["rr"].mean(0))
    assert (out > 0).mean() > 0.6
    area = cortex["area_mm2"].sum() / 100
    assert 1200 < area < 2400, area  # cm2 of the pial surface of both hemispheres


def test_every_lobe_has_a_plausible_share_of_the_cortex(cortex):
    shares = {lobe: cortex["area_mm2"][cortex["lobe"] == lobe].sum() / cortex["area_mm2"].sum()
              for lobe in fsaverage.LOBES}
    assert set(np.unique(cortex["lobe"])) == set(fsaverage.LOBES)
    assert max(shares, key=shares.get) == "frontal", shares
    assert all(0.08 < s < 0.5 for s in shares.values()), shares
    # a few landmarks (fsaverage mm): occipital pole, temporal pole, motor hand knob, precuneus
    assert list(fsaverage.lobe_of([[-20, -100, 0], [-40, 15, -30], [-35, -10, 60],
                                   [-5, -60, 40]])) == ["occipital", "temporal", "frontal",
                                                        "parietal"]


def test_template_info_places_channels_on_the_scalp_and_refuses_unknown_names():
    info = fsaverage.template_info(THINGS_EEG2_CHANNELS)
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    assert np.isfinite(pos).all() and np.linalg.norm(pos, axis=1).min() > 0.07
    moved = fsaverage.template_info(THINGS_EEG2_CHANNELS, jitter_mm=5, seed=0)
    shift = np.linalg.norm(np.array([ch["loc"][:3] for ch in moved["chs"]]) - pos, axis=1)
    np.testing.assert_allclose(shift, 0.005, rtol=1e-6)
    with pytest.raises(DataError, match="(?s)E99.*no position.*Fix"):
        fsaverage.template_info(["Cz", "E99"])


def test_inside_positions_moves_only_what_is_outside():
    sphere = fsaverage.fit_sphere(to="scalp", **fsaverage.INVERSE_SPHERE)
    inner = sphere["layers"][0]["rad"]
    r0 = np.asarray(sphere["r0"])
    rr = r0 + np.array([[0, 0, inner * 0.5], [0, 0, inner * 1.1]])
    out, moved = fsaverage.inside_positions(rr, sphere, margin_mm=3)
    assert moved.tolist() == [False, True]
    np.testing.assert_allclose(out[0], rr[0])
    np.testing.assert_allclose(np.linalg.norm(out[1] - r0), inner - 0.003)


def test_forward_model_keeps_every_vertex_and_says_which_moved(cortex):
    info = fsaverage.template_info(THINGS_EEG2_CHANNELS)
    sphere = fsaverage.fit_sphere(info, **fsaverage.INVERSE_SPHERE)
    patch = fsaverage.geodesic_patch(int(fsaverage.patch_centres("occipital")[0]), 12.0)
    vertices = np.r_[patch, np.flatnonzero(cortex["lobe"] == "occipital")[:200]]
    fwd, moved = fsaverage.forward_model(info, sphere, vertices=vertices)
    assert fwd["nsource"] == len(vertices) and fwd["sol"]["data"].shape == (63, len(vertices))
    assert moved["n_sources"] == len(vertices)
    assert sum(moved["by_lobe"].values()) == moved["n_moved"]
    assert moved["max_shift_mm"] < 10


def test_geodesic_patch_is_a_few_square_centimetres(cortex):
    for lobe in fsaverage.LOBES:
        centres = fsaverage.patch_centres(lobe)
        assert len(centres) > 50, lobe
        assert set(cortex["lobe"][centres]) == {lobe}
        patch = fsaverage.geodesic_patch(int(centres[len(centres) // 2]), 12.0)
        area = cortex["area_mm2"][patch].sum() / 100
        assert 1.5 < area < 8, (lobe, area)
        assert len(set(cortex["hemi"][patch])) == 1
