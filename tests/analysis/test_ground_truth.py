"""Each analysis finds what the simulator planted, on three different settings.

Small data and the ridge decoder keep this fast; accuracy is scored as
top-1 + top-5 (100 test concepts) so one lucky concept cannot decide.
"""

import pytest

from eegvision.data.simulate import simulate_root
from eegvision.pipeline import analyze

SETTINGS = {
    "occipital-early-theta": dict(region="occipital", window_ms=(100, 300), band_hz=(4, 8), seed=1),
    "frontal-late-beta": dict(region="frontal", window_ms=(500, 700), band_hz=(15, 25), seed=2),
    "temporal-mid-alpha": dict(region="temporal", window_ms=(300, 500), band_hz=(8, 12), seed=3),
}
BANDS = "delta=1-4,theta=4-8,alpha=8-12,beta=15-25,gamma=30-45"


@pytest.fixture(scope="module", params=list(SETTINGS))
def planted(request, tmp_path_factory):
    truth = SETTINGS[request.param]
    # snr 1: with simulator v2's CLIP-like features (less of their variance is decodable than
    # with v1's) a temporal source at 0.5 left 'only-temporal' tied with 'only-frontal'
    root = simulate_root(tmp_path_factory.mktemp(request.param), 1, n_train=400, n_test=100,
                         n_train_reps=2, n_test_reps=4, snr=1.0, features_dir=False, **truth)
    return root, truth


def _scores(name, root, **options):
    df = analyze(name, [1], data_dir=root, model="ridge", plot=False, progress=False, **options)
    return (df["top1"] + df["top5"]).groupby(df["condition"], sort=False).mean()


def test_temporal_best_window_overlaps_planted(planted):
    root, truth = planted
    scores = _scores("temporal", root, width=200, step=100, timecourse=False).drop("full")
    lo, hi = (float(x) for x in scores.idxmax().removesuffix("ms").split("-"))
    plo, phi = truth["window_ms"]
    assert lo < phi and hi > plo, scores.to_dict()
    far = [c for c in scores.index if float(c.split("-")[0]) >= phi + 100]
    assert scores[far].max() < scores.max() / 2


def test_spectral_planted_band_scores_highest(planted):
    root, truth = planted
    scores = _scores("spectral", root, bands=BANDS).drop("broadband")
    best = scores.idxmax()
    lo, hi = dict(x.split("=") for x in BANDS.split(","))[best].split("-")
    assert (float(lo), float(hi)) == tuple(map(float, truth["band_hz"])), scores.to_dict()


def test_spatial_planted_region_matters_most(planted):
    root, truth = planted
    scores = _scores("spatial", root, mode="both")
    regions = ["frontal", "central", "parietal", "temporal", "occipital"]
    only = scores[[f"only-{r}" for r in regions]]
    assert only.idxmax() == f"only-{truth['region']}", scores.to_dict()
    # importance: what the region achieves alone minus what is left without it
    importance = {r: scores[f"only-{r}"] - scores[f"drop-{r}"] for r in regions}
    assert max(importance, key=importance.get) == truth["region"], importance
