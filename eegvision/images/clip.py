"""Hugging Face ``transformers`` CLIP as an image feature extractor (``image_embeds``).

What NICE's ``obtain_feature_maps_clip.py`` computes: ``CLIPModel(...)
.image_embeds`` of ``CLIPProcessor``-preprocessed RGB images, i.e. the
vision tower's pooled output through ``visual_projection``, L2-normalised.
The text tower is never run (NICE fed two dummy captions; they do not change
``image_embeds``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .._utils import data_error

OUTPUTS = ("image_embeds", "projected")


def resolve_model_dir(model):
    """Local folder of ``model`` (a folder, or a hub id already in the HF cache) and its revision.

    Returns
    -------
    folder : Path
    revision : str
        The hub commit for cached hub models (the ``snapshots/<commit>``
        folder), else ``sha256:<16 hex>`` of the folder's files.
    """
    path = Path(str(model)).expanduser()
    if not path.is_dir():
        try:
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(str(model), local_files_only=True))
        except Exception as err:  # noqa: BLE001 - any lookup failure reads the same
            raise data_error(f"--model {model}", f"not a local folder and not in the Hugging "
                             f"Face cache ({type(err).__name__}).",
                             "download the model once where there is internet (e.g. "
                             "`huggingface-cli download openai/clip-vit-large-patch14`) or "
                             "pass the folder holding its config.json and weights.") from None
    if not (path / "config.json").is_file():
        raise data_error(path, "no config.json: not a Hugging Face model folder.",
                         "pass the folder written by save_pretrained / the hub download.")
    if path.parent.name == "snapshots":
        return path, path.name
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f.relative_to(path).as_posix().encode())
        with open(f, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                digest.update(block)
    return path, "sha256:" + digest.hexdigest()[:16]


class CLIPImageEncoder:
    """A CLIP vision tower that turns PIL images into feature rows.

    Parameters
    ----------
    model : str
        Hub id (resolved offline from the cache) or local folder.
    device : torch.device
    output : 'image_embeds' | 'projected'
        ``image_embeds`` (L2-normalised, as ``CLIPModel.forward`` and NICE)
        or the projection before normalisation.
    """

    def __init__(self, model, device, output="image_embeds"):
        from transformers import AutoImageProcessor, CLIPModel

        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}.")
        self.model_id = str(model)
        self.folder, self.revision = resolve_model_dir(model)
        self.output, self.device = output, device
        try:
            self.processor = AutoImageProcessor.from_pretrained(self.folder, local_files_only=True)
        except (OSError, ValueError) as err:
            raise data_error(self.folder, f"no image preprocessor config ({err}).",
                             "the folder needs preprocessor_config.json (save_pretrained "
                             "of CLIPImageProcessor, or the hub download).") from None
        self.net = CLIPModel.from_pretrained(self.folder, local_files_only=True).to(device).eval()

    @property
    def dim(self):
        """Feature dimension (``projection_dim``)."""
        return int(self.net.config.projection_dim)

    def preprocessing(self):
        """The preprocessing settings, for the manifest."""
        cfg = self.processor.to_dict()
        keep = ("image_processor_type", "size", "crop_size", "resample", "do_center_crop",
                "do_normalize", "image_mean", "image_std", "do_convert_rgb", "rescale_factor")
        return {k: cfg[k] for k in keep if k in cfg}

    def __call__(self, images):
        """``list of PIL.Image`` -> float32 array ``(len(images), dim)``."""
        import torch

        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            pooled = self.net.vision_model(pixel_values=pixels.to(self.device)).pooler_output
            emb = self.net.visual_projection(pooled).float()
            if self.output == "image_embeds":
                emb = emb / emb.norm(p=2, dim=-1, keepdim=True)
        return emb.cpu().numpy().astype(np.float32)
