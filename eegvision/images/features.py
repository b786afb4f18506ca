"""``eegvision features``: a named feature set from an image set, batched, resumable, cached.

Work is split into fixed chunks of images; each finished chunk is saved
atomically under ``dnn_feature/<name>/.partial/``, so a killed run computes
only the missing chunks when started again with the same settings and the
same images (a sha256 fingerprint of their bytes is part of the key). The
final files and ``manifest.json`` are written when every chunk is there, and
the partial folder is then removed. A set is "up to date" only when its key
matches and every file its manifest lists is there with its shape; a set made
otherwise, a damaged one and feature files without a manifest are replaced
only with ``overwrite`` (``--overwrite``).

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

from .._docs import fill_doc
from .._utils import atomic_path, data_error, logger, verbose, write_json
from .._version import __version__
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
    from PIL import ImageFilter

    from .decode import read_rgb

    images = []
    for p in paths:
        rgb = read_rgb(p)
        images.extend(rgb if s == 0 else rgb.filter(ImageFilter.GaussianBlur(radius=s))
                      for s in levels)
    out = encoder(images)
    return out.reshape(len(paths), len(levels), -1)


def _load_part(part, shape):
    """A finished partial chunk, or None when it is absent, unreadable or of another shape."""
    if not part.is_file():
        return None
    try:
        arr = np.load(part, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        logger.warning("%s: unreadable partial result (%s); computing it again.", part, err)
        return None
    if arr.shape != tuple(shape) or arr.dtype != np.float32:
        logger.warning("%s: partial result of shape %s %s, expected %s float32; computing it "
                       "again.", part, arr.shape, arr.dtype, tuple(shape))
        return None
    return arr


def _run_chunks(encoder, paths, levels, folder, chunk, batch, bar):
    """Encode ``paths`` chunk by chunk into ``folder`` (skipping finished chunks); concatenate."""
    parts = []
    for c, start in enumerate(range(0, len(paths), chunk)):
        part = folder / f"chunk-{c:05d}.npy"
        todo = paths[start:start + chunk]
        done = _load_part(part, (len(todo), len(levels), encoder.dim))
        if done is not None:
            parts.append(done)
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
        done = _load_part(part, (encoder.dim,))
        if done is not None:
            out.append(done)
        else:
            feats = np.concatenate([_encode_files(encoder, files[b:b + batch], [0.0])[:, 0]
                                    for b in range(0, len(files), batch)])
            mean = feats.astype(np.float64).mean(0).astype(np.float32)
            _save(part, mean)
            out.append(mean)
        bar.update(len(files))
    return np.stack(out)


def _settings(encoder, levels, output, chunk, things_images, splits, images):
    """What decides the features, as it reads back from JSON (so runs compare equal)."""
    from .._utils import _json_default

    raw = _settings_raw(encoder, levels, output, chunk, things_images, splits)
    return json.loads(json.dumps(dict(raw, images=images), default=_json_default))


def _settings_raw(encoder, levels, output, chunk, things_images, splits):
    from .decode import DECODE_RULE

    return dict(format=FORMAT, model=encoder.model_id, revision=encoder.revision,
                output=output, dim=encoder.dim, dtype="float32",
                normalisation="L2 per image (CLIPModel image_embeds)" if output == "image_embeds"
                else "none (visual_projection of the pooled output)",
                layer="vision_model.pooler_output -> visual_projection",
                decode=DECODE_RULE, preprocessing=encoder.preprocessing(),
                blur=dict(method="PIL.ImageFilter.GaussianBlur(radius=sigma) on the RGB image "
                                 "before the model's resize and crop", sigmas_px=levels),
                chunk_size=int(chunk), splits=list(splits),
                centers="mean of each test concept's other THINGS images"
                        if things_images else None)


def _image_fingerprints(root, paths, groups, things_images):
    """The fingerprint of each split's pictures (and of the centres' THINGS pictures)."""
    import time

    from .imageset import fingerprint, image_set_dir

    start, base = time.perf_counter(), image_set_dir(root)
    out = {split: fingerprint(p, base) for split, p in paths.items()}
    if groups is not None:
        out["centers"] = fingerprint([f for g in groups for f in g], Path(things_images))
    logger.info("image fingerprints (sha256 of %d files) in %.2f s",
                sum(map(len, paths.values())) + sum(map(len, groups or [])),
                time.perf_counter() - start)
    return out


def _expected_files(settings, n_images, n_centers):
    """``{file name: shape}`` that ``settings`` make (what a manifest must list)."""
    dim, n_levels = settings["dim"], len(settings["blur"]["sigmas_px"])
    files = {}
    for split, n in n_images.items():
        files[FEATURE_FILES[split]] = [n, dim]
        if n_levels > 1:
            files[BANK_FILES[split]] = [n, n_levels, dim]
    if n_centers is not None:
        files[CENTER_FILE] = [n_centers, dim]
    return files


_OURS = (*FEATURE_FILES.values(), *BANK_FILES.values(), CENTER_FILE)
_FIX = "rerun with --overwrite to recompute it, or choose another --name."


def _differences(old, new):
    """What differs between two settings dicts, in words (images by split)."""
    words = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        if key not in old:
            words.append(f"{key} not recorded (an older eegvision made it)")
        elif key == "images" and isinstance(old[key], dict):
            changed = [s for s in new[key] if old[key].get(s) != new[key][s]]
            words.append(f"the {', '.join(changed) or 'listed'} images changed")
        else:
            words.append(f"{key} differs")
    return words


def _file_problem(folder, listed, expected):
    """``(file, problem)`` for the first manifest file that is missing or misshapen, else None."""
    if listed != expected:
        return MANIFEST, f"lists {listed}, but these settings make {expected}."
    for fname, shape in expected.items():
        if not (folder / fname).is_file():
            return fname, "is listed in manifest.json but missing."
        try:
            arr = np.load(folder / fname, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            return fname, f"cannot be read ({err})."
        if list(arr.shape) != shape or arr.dtype != np.float32:
            return fname, (f"holds {arr.dtype} {arr.shape}, but manifest.json says float32 "
                           f"{tuple(shape)}.")
    return None


def _refuse_foreign(folder):
    """Feature files without a manifest (a download, another tool) are never replaced."""
    found = [n for n in _OURS if (folder / n).exists()]
    if found and not (folder / ".partial" / "settings.json").is_file():
        raise data_error(folder, f"holds {', '.join(found)} but no {MANIFEST}: not a set "
                         "eegvision wrote (a download?), so it is not replaced.",
                         "choose another --name, or rerun with --overwrite to replace them.")


def _up_to_date(root, name, settings, expected, overwrite):
    """The finished set's manifest when it matches ``settings`` and its files; else None.

    Refuses (unless ``overwrite``) a set made with other settings or images,
    a damaged one, and feature files eegvision did not write.
    """
    folder = feature_set_dir(root, name)
    if overwrite:
        return None
    old = read_manifest(root, name)
    if old is None:
        _refuse_foreign(folder)
        return None
    words = _differences(old["settings"], settings)
    if words:
        raise data_error(folder, "this feature set exists and was made with other settings "
                         f"or images ({'; '.join(words)}).", _FIX)
    problem = _file_problem(folder, old["files"], expected)
    if problem is not None:
        raise data_error(folder / problem[0], problem[1], _FIX)
    return old


def _listed_files(root, name):
    """eegvision's own file names listed by an old manifest (a damaged one lists none)."""
    from .._utils import DataError

    try:
        old = read_manifest(root, name)
    except DataError:
        return []
    return [n for n in (old or {}).get("files", {}) if n in _OURS]


def _prepare_partial(folder, settings):
    """The partial folder for ``settings``; chunks of other settings or images are discarded."""
    path = folder / ".partial"
    info = path / "settings.json"
    if info.is_file():
        try:
            same = json.loads(info.read_text(encoding="utf-8")) == settings
        except ValueError:
            same = False
        if not same:
            logger.warning("%s: discarding partial results made with other settings or "
                           "images.", path)
            shutil.rmtree(path)
    write_json(info, settings)
    return path


def _compute(encoder, paths, groups, levels, partial, name, batch_size, chunk_size, progress):
    """Every split's bank ``(n, K, D)`` and the centres, resuming from ``partial``."""
    import torch

    from .._utils import progress_bar

    total = sum(len(p) for p in paths.values()) + sum(len(g) for g in groups or [])
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with progress_bar(total=total, desc=f"features {name}", unit="img", leave=True,
                          enabled=progress) as bar:
            banks = {s: _run_chunks(encoder, p, levels, partial / s, chunk_size, batch_size, bar)
                     for s, p in paths.items()}
            centers = (_centers(encoder, groups, partial / "centers", batch_size, bar)
                       if groups is not None else None)
    finally:
        torch.use_deterministic_algorithms(before)
    return banks, centers


def _commit(folder, banks, centers, stale):
    """Write the final files; the old manifest goes first and the new one last."""
    (folder / MANIFEST).unlink(missing_ok=True)
    files = {}
    for split, bank in banks.items():
        _save(folder / FEATURE_FILES[split], bank[:, 0])
        files[FEATURE_FILES[split]] = list(bank[:, 0].shape)
        if bank.shape[1] > 1:
            _save(folder / BANK_FILES[split], bank)
            files[BANK_FILES[split]] = list(bank.shape)
    if centers is not None:
        _save(folder / CENTER_FILE, centers)
        files[CENTER_FILE] = list(centers.shape)
    for fname in stale:  # only names eegvision writes, listed by its own old manifest
        if fname not in files:
            (folder / fname).unlink(missing_ok=True)
    return files


@verbose
@fill_doc
def extract_features(root, name, model, *, blur_sigmas=(), things_images=None,
                     splits=("training", "test"), batch_size=32, chunk_size=256,
                     device="auto", output="image_embeds", overwrite=False, progress=True,
                     verbose=None):
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
    overwrite : bool
        Recompute a set that exists with other settings or images, or is
        damaged, and replace feature files that have no manifest. Without
        it such a folder is refused and left as it is.
    progress : bool
        A progress bar over images (on a terminal, unless quiet).
    %(verbose)s

    Returns
    -------
    manifest : dict
        Also written to ``manifest.json``; ``cached`` is True when the set
        already existed with the same settings, the same images (a content
        fingerprint) and all its files.
    """
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
    settings = _settings(encoder, levels, output, chunk_size, things_images, splits,
                         _image_fingerprints(root, paths, groups, things_images))
    n_images = {s: len(p) for s, p in paths.items()}
    expected = _expected_files(settings, n_images, None if groups is None else len(groups))
    old = _up_to_date(root, name, settings, expected, overwrite)
    if old is not None:
        return dict(old, cached=True)
    stale = _listed_files(root, name)
    partial = _prepare_partial(folder, settings)
    banks, centers = _compute(encoder, paths, groups, levels, partial, name, batch_size,
                              chunk_size, progress)
    files = _commit(folder, banks, centers, stale)
    manifest = dict(settings=settings, files=files, image_root=str(Path(root).resolve()),
                    n_images=n_images, eegvision_version=__version__)
    write_json(folder / MANIFEST, manifest)
    shutil.rmtree(partial, ignore_errors=True)
    return dict(manifest, cached=False)
