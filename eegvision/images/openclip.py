"""open_clip as an image feature extractor (optional; not installed in CI).

``--model open_clip:ARCH:PRETRAINED``, e.g.
``open_clip:ViT-H-14:/models/open_clip_pytorch_model.bin`` (ATM-S's
ViT-H-14) or ``open_clip:RN50:openai`` (UBP's), with the tag resolved from
open_clip's local cache. open_clip needs torchvision for its transforms,
which cannot be installed beside a CPU-only torch wheel without pulling a
CUDA torch, so eegvision does not depend on it; install ``open_clip_torch``
yourself where torchvision fits. The test exercises this adapter with a
stand-in module.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PREFIX = "open_clip:"


class OpenCLIPImageEncoder:
    """``encode_image`` of an open_clip model; same interface as :class:`~eegvision.images.clip.CLIPImageEncoder`.

    Parameters
    ----------
    spec : str
        ``open_clip:ARCH:PRETRAINED`` (a checkpoint file or an open_clip tag).
    device : torch.device
    output : 'image_embeds' | 'projected'
        L2-normalised ``encode_image`` output, or without the normalisation.
    """

    def __init__(self, spec, device, output="image_embeds"):
        from .._utils import data_error

        try:
            import open_clip
        except ImportError:
            raise data_error(f"--model {spec}", "open_clip is not installed.",
                             "pip install open_clip_torch (it needs torchvision), or use a "
                             "Hugging Face CLIP folder instead.") from None
        parts = str(spec)[len(PREFIX):].split(":", 1)
        if len(parts) != 2 or not all(parts):
            raise data_error(f"--model {spec}", "expected open_clip:ARCH:PRETRAINED.",
                             "e.g. open_clip:ViT-H-14:/path/to/open_clip_pytorch_model.bin")
        arch, pretrained = parts
        net, _, self.transform = open_clip.create_model_and_transforms(
            arch, pretrained=pretrained, device=device)
        self.net, self.device, self.output = net.eval(), device, output
        self.model_id = str(spec)
        path = Path(pretrained)
        if path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(block)
            self.revision = "sha256:" + digest.hexdigest()[:16]
        else:
            self.revision = f"open_clip {getattr(open_clip, '__version__', '?')} tag {pretrained}"

    @property
    def dim(self):
        """Feature dimension (the visual tower's ``output_dim``)."""
        return int(self.net.visual.output_dim)

    def preprocessing(self):
        """The transform, as open_clip describes it."""
        return {"open_clip_transform": repr(self.transform)}

    def __call__(self, images):
        """``list of PIL.Image`` -> float32 array ``(len(images), dim)``."""
        import torch

        x = torch.stack([self.transform(im) for im in images]).to(self.device)
        with torch.no_grad():
            emb = self.net.encode_image(x).float()
            if self.output == "image_embeds":
                emb = emb / emb.norm(p=2, dim=-1, keepdim=True)
        return emb.cpu().numpy()
