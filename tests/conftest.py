"""Shared fixtures: tiny simulated data, figure cleanup, no global RNG."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def cuda_skip_reason():
    """Why the tests marked ``cuda`` cannot run here, or None when torch sees a GPU."""
    try:
        import torch
    except ImportError:
        return "needs CUDA: torch is not installed"
    if torch.cuda.is_available():
        return None
    return f"needs CUDA: torch {torch.__version__} sees no GPU (benchmarks/gpu_check.py runs these)"


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``cuda`` where there is no GPU, each with the reason."""
    marked = [item for item in items if item.get_closest_marker("cuda") is not None]
    reason = cuda_skip_reason() if marked else None
    for item in marked if reason else ():
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Point caches at a temp dir and expose ../shared/data when it exists."""
    monkeypatch.setenv("EEGVISION_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("EEGVISION_DATA", raising=False)
    if SHARED.is_dir() and "EEGVISION_SHARED_DATA" not in os.environ:
        monkeypatch.setenv("EEGVISION_SHARED_DATA", str(SHARED))
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close("all")


@pytest.fixture
def shared_data():
    """Folder with the real CLIP test features and concept names (skip if absent)."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """A one-subject simulated root, 17 channels at 100 Hz, 60/20 conditions: ridge jobs are fast."""
    from eegvision.data.simulate import simulate_root

    root = tmp_path_factory.mktemp("tiny_root")
    simulate_root(root, 1, seed=0, n_train=60, n_test=20, n_train_reps=2, n_test_reps=2,
                  layouts=("official",))
    return root
