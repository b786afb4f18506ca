"""Fixtures of the image-half tests: a tiny randomly initialised CLIP (no download)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    """A randomly initialised CLIPModel (no weights downloaded), saved and loaded by path."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, vocab_size=64, max_position_embeddings=8),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                           num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=12)
    folder = tmp_path_factory.mktemp("tiny-clip")
    CLIPModel(cfg).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32},
                       crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
