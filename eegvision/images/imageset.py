"""Where the images of a THINGS-EEG2 image set are, in the EEG's condition order."""

from __future__ import annotations

from pathlib import Path

from .._docs import fill_doc
from .._utils import data_error

#: split -> (folder under image_set/, metadata key prefix)
SPLITS = {"training": ("training_images", "train"), "test": ("test_images", "test")}
_EXTENSIONS = (".jpg", ".jpeg", ".png")
_WHERE = ("the THINGS-EEG2 image set is published on OSF (https://osf.io/y63gw/): unpack it "
          "so that image_set/ holds image_metadata.npy, training_images/ and test_images/.")


def image_set_dir(root):
    """``root/image_set`` if it exists, else ``root`` when it is the image set itself."""
    root = Path(root)
    if (root / "image_set" / "image_metadata.npy").is_file():
        return root / "image_set"
    if (root / "image_metadata.npy").is_file():
        return root
    raise data_error(root, "no image_set/image_metadata.npy here.", _WHERE)


@fill_doc
def image_paths(root, split):
    """Image files of one split, one per EEG condition, in the metadata's order.

    Parameters
    ----------
    root : path-like
        The data root (holding ``image_set/``) or the ``image_set`` folder.
    %(split)s

    Returns
    -------
    paths : list of Path
        ``image_set/<split>_images/<concept folder>/<file>``; every missing
        file is listed in one error.
    """
    from ..data._pickle import load_dict_file

    folder, key = SPLITS[split]
    base = image_set_dir(root)
    meta = load_dict_file(base / "image_metadata.npy")
    need = [f"{key}_img_concepts", f"{key}_img_files"]
    if any(k not in meta for k in need):
        raise data_error(base / "image_metadata.npy", f"missing keys {need}; found "
                         f"{sorted(map(str, meta))}.",
                         "use the image_metadata.npy published with THINGS-EEG2.")
    concepts = [str(c) for c in list(meta[need[0]])]
    files = [str(f) for f in list(meta[need[1]])]
    if len(concepts) != len(files):
        raise data_error(base / "image_metadata.npy", f"{len(concepts)} {need[0]} but "
                         f"{len(files)} {need[1]}.", "use the published image_metadata.npy.")
    paths = [_inside(base / folder, base / "image_metadata.npy", c, f)
             for c, f in zip(concepts, files, strict=True)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        shown = "\n    ".join(missing[:5]) + (f"\n    ... and {len(missing) - 5} more"
                                               if len(missing) > 5 else "")
        raise data_error(base / folder, f"{len(missing)} of {len(paths)} {split} images named "
                         f"in image_metadata.npy are missing:\n    {shown}", _WHERE)
    return paths


def _inside(folder, meta_path, *names):
    """``folder / names...``, refused when a name is not one plain entry or leaves ``folder``.

    An absolute name or ``..`` would read pictures from anywhere on disk, and a
    symlink inside the image set could too: the resolved path must stay inside
    the resolved ``folder`` (a symlinked ``image_set/`` or split folder is fine).
    """
    for name in names:
        if (name in ("", ".", "..") or any(c in name for c in "/\\\0")
                or Path(name).is_absolute()):
            raise data_error(meta_path, f"names the image {name!r} (of {'/'.join(names)!r}), "
                             f"which is not a plain name inside {folder.name}/ (an absolute "
                             "path, '..', a path separator or a NUL byte).",
                             "use the image_metadata.npy published with THINGS-EEG2 (concept "
                             "folders and file names, no paths).")
    path = folder.joinpath(*names)
    if not path.resolve().is_relative_to(folder.resolve()):
        raise data_error(path, f"resolves to {path.resolve()}, outside {folder} (a symlink "
                         "out of the image set).", "copy the picture into the image set, or "
                         "symlink the whole image_set/ (or its split folder) instead.")
    return path


def fingerprint(paths, base):
    """``sha256:<32 hex>`` of every file's path relative to ``base`` and its bytes, in order.

    The contents, not sizes and mtimes: a picture rewritten in place with its
    old mtime is caught, and a copied image set (new mtimes) still matches.
    Hashing reads every file once (see docs/images.md for the measured cost).
    """
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).relative_to(base).as_posix().encode() + b"\0")
        digest.update(Path(path).stat().st_size.to_bytes(8, "little"))
        with open(path, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()[:32]


def center_image_paths(things_dir, root):
    """Each test concept's other THINGS images, for NICE's concept-centre targets.

    Parameters
    ----------
    things_dir : path-like
        A THINGS image folder with one sub-folder per concept, named like the
        test concept folders (``00001_aircraft_carrier``) or by the concept
        alone (``aircraft_carrier``, as THINGS' ``object_images``); NICE's
        ``image_set/center_images`` has the first form.
    root : path-like
        The data root or image set (for the test concepts and files).

    Returns
    -------
    groups : list of list of Path
        One sorted list per test condition; the test image itself is left out.
    """
    from ..data._pickle import load_dict_file
    from ..data.things import concept_name

    things_dir = Path(things_dir)
    if not things_dir.is_dir():
        raise data_error(things_dir, "not a folder.", "pass the THINGS image folder "
                         "(one sub-folder per concept) with --things-images.")
    meta_path = image_set_dir(root) / "image_metadata.npy"
    meta = load_dict_file(meta_path)
    groups, missing = [], []
    for concept, test_file in zip(list(meta["test_img_concepts"]), list(meta["test_img_files"]),
                                  strict=True):
        folder = next((_inside(things_dir, meta_path, n) for n in
                       (str(concept), concept_name(concept)) if (things_dir / n).is_dir()), None)
        files = [] if folder is None else sorted(
            p for p in folder.iterdir()
            if p.suffix.lower() in _EXTENSIONS and p.name != str(test_file) and p.is_file())
        if not files:
            missing.append(str(concept))
        groups.append(files)
    if missing:
        raise data_error(things_dir, f"no images (other than the test image) for "
                         f"{len(missing)} test concept(s): {', '.join(missing[:5])}"
                         + (" ..." if len(missing) > 5 else ""),
                         "give the THINGS image folder with one sub-folder per concept.")
    return groups
