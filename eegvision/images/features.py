"""``eegvision features``: a named feature set from an image set, batched, resumable, cached.

Work is split into fixed chunks of images; each finished chunk is saved
atomically under ``dnn_feature/<name>/.partial/``, so a killed run computes
only the missing chunks when started again with the same settings. The final
files and ``manifest.json`` are written when every chunk is there, and the
partial folder is then removed.

Blur bank: each image is also encoded at Gaussian blur levels ``sigma`` (in
pixels of the image file as stored; THINGS-EEG2 images are 500 x 500), with
``PIL.ImageFilter.GaussianBlur(radius=sigma)`` (PIL's radius is the standard
deviation) applied to the RGB image *before* the model's resize and crop;
all levels of one image come from one decode, in one pass.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from .. import __version__
from .._utils import atomic_path, data_error, logger, write_json
from ..data.featureset import (  # noqa: F401  (the layout, re-exported)
    BANK_FILES,
    CENTER_FILE,
    FEATURE_FILES,
    MANIFEST,
    check_name,
    feature_set_dir,
    read_manifest,
)

FORMAT = "eegvision-feature-set-v1"
OPEN_CLIP = "open_clip:"


def _save(path, arr):
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)


#: Largest blur sigma and number of levels: a sigma beyond any image's size blurs it to its mean
#: colour, and PIL refuses huge radii ("radius too large") only after the images are read.
MAX_BLUR_SIGMA = 1000.0
MAX_BLUR_LEVELS = 100


def _levels(blur_sigmas):
    """Blur levels in pixels, sharp (0) first, each once, in the given order."""
    from .._values import check_float

    fix = f"give sigmas from 0 to {MAX_BLUR_SIGMA:g} pixels, e.g. --blur 1,2,4,8"
    sigmas = [0.0] + [check_float(s, "--blur", low=0, high=MAX_BLUR_SIGMA, fix=fix)
                      for s in blur_sigmas]
    if len(sigmas) > MAX_BLUR_LEVELS:
        raise data_error(f"--blur {list(blur_sigmas)}", f"{len(sigmas)} blur levels; at most "
                         f"{MAX_BLUR_LEVELS}.", "e.g. --blur 1,2,4,8")
    return list(dict.fromkeys(sigmas))


def _encode_files(encoder, paths, levels):
    """``(len(paths), len(levels), D)``: every image at every blur level."""
    from PIL import Image, ImageFilter

    images = []
    for p in paths:
        try:
            with Image.open(p) as im:
                rgb = im.convert("RGB")
        except OSError as err:
            raise data_error(p, f"cannot be read as an image ({err}).",
                             "replace the file with the one from the image set.") from None
        images.extend(rgb if s == 0 else rgb.filter(ImageFilter.GaussianBlur(radius=s))
                      for s in levels)
    out = encoder(images)
    return out.reshape(len(paths), len(levels), -1)


def _run_chunks(encoder, paths, levels, folder, chunk, batch, bar):
    """Encode ``paths`` chunk by chunk into ``folder`` (skipping finished chunks); concatenate."""
    parts = []
    for c, start in enumerate(range(0, len(paths), chunk)):
        part = folder / f"chunk-{c:05d}.npy"
        todo = paths[start:start + chunk]
        if part.is_file():
            parts.append(np.load(part, allow_pickle=False))
            bar.update(len(todo))
            continue
        rows = []
        for b in range(0, len(todo), batch):
            rows.append(_encode_files(encoder, todo[b:b + batch], levels))
            bar.update(len(todo[b:b + batch]))
        block = np.concatenate(rows)
        _save(part, block)
        parts.append(block)
    return np.concatenate(parts)


def _centers(encoder, groups, folder, batch, bar):
    """Mean sharp feature of each test concept's other images (NICE's ``center_clip``)."""
    out = []
    for i, files in enumerate(groups):
        part = folder / f"concept-{i:05d}.npy"
        if part.is_file():
            out.append(np.load(part, allow_pickle=False))
        else:
            feats = np.concatenate([_encode_files(encoder, files[b:b + batch], [0.0])[:, 0]
                                    for b in range(0, len(files), batch)])
            mean = feats.astype(np.float64).mean(0).astype(np.float32)
            _save(part, mean)
            out.append(mean)
        bar.update(len(files))
    return np.stack(out)


def _settings(encoder, levels, output, chunk, things_images, splits):
    """What decides the features, as it reads back from JSON (so runs compare equal)."""
    from .._utils import _json_default

    return json.loads(json.dumps(_settings_raw(encoder, levels, output, chunk, things_images,
                                               splits), default=_json_default))


def _settings_raw(encoder, levels, output, chunk, things_images, splits):
    return dict(format=FORMAT, model=encoder.model_id, revision=encoder.revision,
                output=output, dim=encoder.dim, dtype="float32",
                normalisation="L2 per image (CLIPModel image_embeds)" if output == "image_embeds"
                else "none (visual_projection of the pooled output)",
                layer="vision_model.pooler_output -> visual_projection",
                preprocessing=encoder.preprocessing(),
                blur=dict(method="PIL.ImageFilter.GaussianBlur(radius=sigma) on the RGB image "
                                 "before the model's resize and crop", sigmas_px=levels),
                chunk_size=int(chunk), splits=list(splits),
                centers="mean of each test concept's other THINGS images"
                        if things_images else None)


def _prepare_partial(folder, settings):
    """The partial folder for ``settings``; chunks of other settings are discarded."""
    path = folder / ".partial"
    info = path / "settings.json"
    if info.is_file() and json.loads(info.read_text()) != settings:
        logger.warning("%s: discarding partial results made with other settings.", path)
        shutil.rmtree(path)
    write_json(info, settings)
    return path


def extract_features(root, name, model, *, blur_sigmas=(), things_images=None,
                     splits=("training", "test"), batch_size=32, chunk_size=256,
                     device="auto", output="image_embeds", progress=True):
    """Compute a named feature set of a THINGS-EEG2 image set.

    Parameters
    ----------
    root : path-like
        Data root holding ``image_set/``; the set is written to
        ``root/dnn_feature/<name>/``.
    name : str
        Feature-set name (``--features NAME`` of every command).
    model : str
        Hugging Face CLIP model: a local folder, or a hub id already in the
        local cache (e.g. ``openai/clip-vit-large-patch14``, NICE's); or
        ``open_clip:ARCH:PRETRAINED`` (needs open_clip, see
        :mod:`eegvision.images.openclip`).
    blur_sigmas : sequence of float
        Extra Gaussian blur levels in pixels; with any, ``blur_bank_*.npy``
        holds every image at ``[0, *blur_sigmas]``.
    things_images : path-like | None
        THINGS image folder (one sub-folder per concept): also write
        ``center_clip.npy``, the concept-centre targets.
    splits : sequence of 'training' | 'test'
    batch_size, chunk_size : int
        Images per forward pass and per saved partial chunk.
    device : 'auto' | 'cpu' | 'cuda'
    output : 'image_embeds' | 'projected'
    progress : bool
        A tqdm progress bar over images.

    Returns
    -------
    manifest : dict
        Also written to ``manifest.json``; ``cached`` is True when the set
        already existed with the same settings.
    """
    import torch
    from tqdm.auto import tqdm

    from .._utils import resolve_device
    from .clip import CLIPImageEncoder
    from .imageset import center_image_paths, image_paths

    folder = feature_set_dir(root, name)
    levels = _levels(blur_sigmas)
    paths = {s: image_paths(root, s) for s in splits}
    groups = center_image_paths(things_images, root) if things_images else None
    if str(model).startswith(OPEN_CLIP):
        from .openclip import OpenCLIPImageEncoder as encoder_class
    else:
        encoder_class = CLIPImageEncoder
    encoder = encoder_class(model, resolve_device(device), output)
    settings = _settings(encoder, levels, output, chunk_size, things_images, splits)
    old = read_manifest(root, name)
    if old is not None:
        if old.get("settings") == settings:
            return dict(old, cached=True)
        raise data_error(folder, "this feature set exists and was made with other settings "
                         "(model, revision, blur levels, output or splits).",
                         "choose another --name, or delete the folder to recompute it.")
    partial = _prepare_partial(folder, settings)
    total = sum(len(p) for p in paths.values()) + sum(len(g) for g in groups or [])
    files = {}
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with tqdm(total=total, desc=f"features {name}", unit="img", disable=not progress) as bar:
            banks = {s: _run_chunks(encoder, p, levels, partial / s, chunk_size, batch_size, bar)
                     for s, p in paths.items()}
            centers = (_centers(encoder, groups, partial / "centers", batch_size, bar)
                       if groups is not None else None)
    finally:
        torch.use_deterministic_algorithms(before)
    for split, bank in banks.items():
        _save(folder / FEATURE_FILES[split], bank[:, 0])
        files[FEATURE_FILES[split]] = list(bank[:, 0].shape)
        if len(levels) > 1:
            _save(folder / BANK_FILES[split], bank)
            files[BANK_FILES[split]] = list(bank.shape)
    if centers is not None:
        _save(folder / CENTER_FILE, centers)
        files[CENTER_FILE] = list(centers.shape)
    manifest = dict(settings=settings, files=files, image_root=str(Path(root).resolve()),
                    n_images={s: len(p) for s, p in paths.items()},
                    eegvision_version=__version__)
    write_json(folder / MANIFEST, manifest)
    shutil.rmtree(partial, ignore_errors=True)
    return dict(manifest, cached=False)
