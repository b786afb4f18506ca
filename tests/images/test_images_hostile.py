"""The image half against careless and hostile input (issue 25, section 2).

Every picture, metadata file and manifest is built here in ``tmp_path``;
image models are a tiny randomly initialised CLIP (``clip_dir``).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import warnings
import zlib

import numpy as np
import pytest

from eegvision._utils import DataError
from eegvision.images.decode import read_rgb, to_rgb

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

GRADIENT = (np.arange(16 * 16).reshape(16, 16) % 256).astype(np.uint8)


def _rgb(im, path="pic.png"):
    return np.asarray(to_rgb(im, path))


def _grey(arr):
    return np.repeat(np.asarray(arr, np.uint8)[..., None], 3, axis=2)


# ------------------------------------------------------------ every PIL mode
def test_eight_bit_modes_keep_their_colours():
    rgb = np.stack([GRADIENT, 255 - GRADIENT, GRADIENT // 2], axis=2)
    assert np.array_equal(_rgb(Image.fromarray(rgb)), rgb)
    assert np.array_equal(_rgb(Image.fromarray(GRADIENT)), _grey(GRADIENT))
    assert np.array_equal(_rgb(Image.fromarray(GRADIENT).convert("1", dither=Image.Dither.NONE)),
                          _grey(np.where(GRADIENT > 127, 255, 0)))
    pal = Image.fromarray(GRADIENT % 4, "P")
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    lut = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]], np.uint8)
    assert np.array_equal(_rgb(pal), lut[GRADIENT % 4])
    assert np.array_equal(_rgb(Image.fromarray(rgb).convert("RGBX")), rgb)


@pytest.mark.parametrize("mode, value, expected", [
    ("CMYK", (0, 0, 0, 0), (255, 255, 255)), ("CMYK", (0, 0, 0, 255), (0, 0, 0)),
    ("CMYK", (255, 0, 0, 0), (0, 255, 255)), ("YCbCr", (128, 128, 128), (128, 128, 128)),
    ("HSV", (0, 255, 255), (255, 0, 0)), ("LAB", (255, 128, 128), (255, 255, 255)),
])
def test_colour_spaces_convert_to_their_rgb(mode, value, expected):
    got = _rgb(Image.new(mode, (4, 4), value))[0, 0]
    assert np.abs(got.astype(int) - expected).max() <= 2


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_transparency_is_composited_onto_white(mode):
    alpha = GRADIENT
    if mode == "RGBA":
        colour = np.stack([GRADIENT, 255 - GRADIENT, np.full_like(GRADIENT, 40)], axis=2)
        im = Image.fromarray(np.dstack([colour, alpha]), "RGBA")
    elif mode == "LA":
        colour = _grey(255 - GRADIENT)
        im = Image.fromarray(np.dstack([255 - GRADIENT, alpha]), "LA")
    else:
        colour = np.zeros((16, 16, 3), np.uint8)  # palette entry 0 is black
        im = Image.fromarray(np.zeros((16, 16), np.uint8), "P").convert("PA")
        im.putalpha(Image.fromarray(alpha))
    a = alpha[..., None] / 255.0
    want = colour * a + 255 * (1 - a)
    assert np.abs(_rgb(im).astype(float) - want).max() <= 1.0
    assert mode != "RGBA" or _rgb(im)[0, 0].tolist() == [255, 255, 255]  # alpha 0: white


def test_palette_with_a_transparent_colour_is_white_there():
    pal = Image.fromarray((GRADIENT % 2).astype(np.uint8), "P")
    pal.putpalette([0, 0, 0, 200, 10, 10])
    pal.info["transparency"] = 0
    got = _rgb(pal)
    assert got[0, 0].tolist() == [255, 255, 255] and got[0, 1].tolist() == [200, 10, 10]


def test_premultiplied_modes_convert_or_are_refused():
    rgba = Image.fromarray(np.dstack([_grey(GRADIENT), np.full_like(GRADIENT, 255)]), "RGBA")
    assert np.array_equal(_rgb(rgba.convert("RGBa")), _grey(GRADIENT))  # opaque: unchanged
    with pytest.raises(DataError, match=r"pic\.png: image mode 'La' cannot be converted"):
        _rgb(Image.new("La", (4, 4)))


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L", "I;16N"])
def test_sixteen_bit_is_scaled_not_clipped(mode):
    deep = GRADIENT.astype(np.uint16) * 257  # 8-bit values at 16-bit depth
    im = Image.frombytes(mode, (16, 16), deep.astype(">u2" if mode == "I;16B" else "<u2"
                                                     ).tobytes())
    assert np.array_equal(_rgb(im), _grey(GRADIENT))
    assert (np.asarray(Image.fromarray(deep).convert("RGB")) == 255).mean() > 0.9  # PIL clips


def test_sixteen_bit_files_png_pgm_and_tiff(tmp_path):
    deep = GRADIENT.astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "a.png")
    Image.fromarray(deep).save(tmp_path / "a.pgm")
    assert Image.open(tmp_path / "a.pgm").mode == "I"  # PGM 16-bit opens as 32-bit 'I'
    twelve = GRADIENT.astype(np.uint16) * 16  # 12-bit data, declared 0-4080
    Image.fromarray(twelve).save(tmp_path / "b.tif", tiffinfo={340: 0.0, 341: 4080.0})
    for name in ("a.png", "a.pgm", "b.tif"):
        assert np.array_equal(np.asarray(read_rgb(tmp_path / name)), _grey(GRADIENT)), name


def test_float_and_32_bit_need_a_declared_range(tmp_path):
    unit = GRADIENT.astype(np.float32) / 255
    Image.fromarray(unit).save(tmp_path / "bare.tif")
    with pytest.raises(DataError, match=r"bare\.tif: a float picture \(mode 'F'\) that "
                                        "declares no display range"):
        read_rgb(tmp_path / "bare.tif")
    Image.fromarray(unit).save(tmp_path / "ranged.tif", tiffinfo={340: 0.0, 341: 1.0})
    assert np.array_equal(np.asarray(read_rgb(tmp_path / "ranged.tif")), _grey(GRADIENT))
    wide = GRADIENT.astype(np.int32) * 1000
    Image.fromarray(wide).save(tmp_path / "int.tif")
    with pytest.raises(DataError, match=r"int\.tif: a signed or 32-bit integer picture"):
        read_rgb(tmp_path / "int.tif")
    Image.fromarray(wide).save(tmp_path / "int_ranged.tif", tiffinfo={340: 0, 341: 255000})
    assert np.array_equal(np.asarray(read_rgb(tmp_path / "int_ranged.tif")), _grey(GRADIENT))


def test_signed_16_bit_tiff_needs_a_declared_range(tmp_path):
    signed = GRADIENT.astype(np.int16) - 128
    Image.fromarray(signed).save(tmp_path / "s.tif")
    with pytest.raises(DataError, match="signed or 32-bit integer picture"):
        read_rgb(tmp_path / "s.tif")
    Image.fromarray(signed).save(tmp_path / "r.tif", tiffinfo={340: -128, 341: 127})
    assert np.array_equal(np.asarray(read_rgb(tmp_path / "r.tif")), _grey(GRADIENT))


@pytest.mark.parametrize("mode", Image.MODES)
def test_every_pillow_mode_converts_or_is_refused_in_one_line(mode):
    """Loops over Pillow's own list: a mode added to Pillow is tested the day it appears."""
    try:
        got = to_rgb(Image.new(mode, (4, 3)), "pic.png")
    except DataError as err:
        assert str(err).startswith("pic.png: ") and "\n  Fix: " in str(err)
        assert mode in ("La", "F", "I")  # I and F: no declared range in memory
    else:
        assert got.mode == "RGB" and got.size == (4, 3)


@pytest.mark.parametrize("values, problem", [
    (np.where(GRADIENT > 100, np.nan, 0.5), "NaN or infinite pixel values"),
    (GRADIENT / 100.0, "lie outside its display range 0 to 1"),
])
def test_float_values_that_cannot_be_shown_are_refused(tmp_path, values, problem):
    Image.fromarray(values.astype(np.float32)).save(tmp_path / "f.tif",
                                                    tiffinfo={340: 0.0, 341: 1.0})
    with pytest.raises(DataError, match=problem):
        read_rgb(tmp_path / "f.tif")


def test_flat_picture_is_named_in_a_warning(tmp_path, caplog):
    Image.new("L", (8, 8), 7).save(tmp_path / "flat.png")
    read_rgb(tmp_path / "flat.png")
    assert "flat.png: the picture is one flat colour (7, 7, 7)" in caplog.text


def test_pil_warnings_are_logged_with_the_file(tmp_path, caplog, monkeypatch):
    from eegvision.images import decode

    real = decode.to_rgb

    def complaining(im, path):
        warnings.warn("Corrupt EXIF data.", UserWarning, stacklevel=1)  # as PIL's TIFF reader
        return real(im, path)

    monkeypatch.setattr(decode, "to_rgb", complaining)
    Image.fromarray(GRADIENT).save(tmp_path / "w.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_rgb(tmp_path / "w.png")
    assert "w.png: Corrupt EXIF data." in caplog.text


# ------------------------------------------------------------ decompression bombs
def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _bomb_png(path, side=20000):
    """A valid 1-bit ``side`` x ``side`` PNG (400 Mpx) of about 50 kB, streamed (no GBs)."""
    z, row, parts = zlib.compressobj(9), b"\0" * (1 + side // 8), []
    for _ in range(side):
        parts.append(z.compress(row))
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))
    return path


def test_decompression_bomb_is_one_line_naming_the_file(tmp_path, monkeypatch):
    bomb = _bomb_png(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 200_000
    with pytest.raises(DataError, match=r"bomb\.png: refused as a possible decompression bomb"):
        read_rgb(bomb)
    # between PIL's warning and error limits: also refused (not decoded into memory)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")  # 1600 px
    with pytest.raises(DataError, match=r"big\.png: refused as a possible decompression bomb"):
        read_rgb(tmp_path / "big.png")


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b"not an image"])
def test_broken_files_are_one_line(tmp_path, content):
    (tmp_path / "x.jpg").write_bytes(content)
    with pytest.raises(DataError, match=r"x\.jpg: cannot be read as an image"):
        read_rgb(tmp_path / "x.jpg")


def test_truncated_png_header_is_one_line(tmp_path):
    """PIL raises ValueError (not OSError) for an IHDR chunk shorter than 13 bytes (found by CI's fuzz)."""
    body = b"\x00\x00\x00\x08"
    chunk = struct.pack(">I", len(body)) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + bytes(16))
    with pytest.raises(DataError, match=r"x\.png: cannot be read as an image \(Truncated IHDR"):
        read_rgb(tmp_path / "x.png")


# ------------------------------------------------------------ a tiny image set
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A simulated root (6 training, 4 test conditions) with lossless PNG pictures."""
    from eegvision.data._pickle import load_dict_file
    from eegvision.data.simulate import simulate_root

    root = tmp_path_factory.mktemp("hostile_images")
    simulate_root(root, 1, seed=0, n_train=6, n_test=4, n_train_reps=2, n_test_reps=2,
                  layouts=("official",))
    meta = load_dict_file(root / "image_set" / "image_metadata.npy")
    rng = np.random.default_rng(0)
    for folder, key in (("training_images", "train"), ("test_images", "test")):
        for concept, name in zip(meta[f"{key}_img_concepts"], meta[f"{key}_img_files"],
                                 strict=True):
            path = root / "image_set" / folder / str(concept) / str(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(
                path, format="PNG")
    return root


@pytest.fixture
def root(template, tmp_path):
    return shutil.copytree(template, tmp_path / "root", symlinks=True)


def _images(root, split="test"):
    from eegvision.images.imageset import image_paths

    return image_paths(root, split)


def _features(root, clip_dir, *args):
    from eegvision.cli import main

    return main(["features", "--data-dir", str(root), "--model", str(clip_dir), "--name", "s",
                 "--batch-size", "2", "--chunk-size", "2", *args])


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err  # progress bars (tqdm, transformers) share stderr
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if "error" in ln.lower()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("eegvision features: error: "), err
    for needle in needles:
        assert needle in lines[0], err
    return lines[0]


def _set(root, fname="clip_feature_maps_test.npy"):
    return np.load(root / "dnn_feature" / "s" / fname)


def test_sixteen_bit_set_gives_the_features_of_its_8_bit_picture(root, clip_dir, capsys):
    pytest.importorskip("transformers")
    victim = _images(root)[0]
    grey = np.asarray(Image.open(victim).convert("L"))
    Image.fromarray(grey).save(victim, format="PNG")
    assert _features(root, clip_dir, "--splits", "test") == 0
    eight = _set(root)
    Image.fromarray(grey.astype(np.uint16) * 257).save(victim, format="PNG")
    assert Image.open(victim).mode == "I;16"
    assert _features(root, clip_dir, "--splits", "test", "--overwrite") == 0
    assert np.array_equal(_set(root), eight)  # same picture, same features


def test_float_tiff_in_the_set_fails_in_one_line_writing_nothing(root, clip_dir, capsys):
    pytest.importorskip("transformers")
    victim = _images(root)[1]
    Image.fromarray(np.ones((8, 8), np.float32)).save(victim, format="TIFF")
    assert _features(root, clip_dir, "--splits", "test") == 2
    _one_line_error(capsys, str(victim), "declares no display range", "Fix:")
    folder = root / "dnn_feature" / "s"
    assert not folder.exists() or not [p for p in folder.iterdir() if p.name != ".partial"]


def test_bomb_in_the_set_fails_in_one_line(root, clip_dir, capsys):
    pytest.importorskip("transformers")
    victim = _bomb_png(_images(root)[0])
    assert _features(root, clip_dir, "--splits", "test") == 2
    _one_line_error(capsys, str(victim), "decompression bomb")


# ------------------------------------------------------------ paths leaving the image set
def _edit_metadata(root, **changes):
    from eegvision.data._pickle import load_dict_file

    path = root / "image_set" / "image_metadata.npy"
    meta = load_dict_file(path)
    for key, (index, value) in changes.items():
        items = list(meta[key])
        items[index] = value
        meta[key] = np.array(items)
    box = np.empty((), dtype=object)
    box[()] = meta
    np.save(path, box)


@pytest.mark.parametrize("key, value", [
    ("test_img_files", "ABS"), ("test_img_files", "../../../outside.png"),
    ("test_img_concepts", ".."), ("test_img_concepts", "ABS_DIR"),
    ("test_img_files", "sub/inner.png"),
])
def test_metadata_paths_that_leave_the_image_set_are_refused(root, tmp_path, key, value):
    from eegvision.images.imageset import image_paths

    outside = tmp_path / "outside.png"
    Image.new("RGB", (4, 4)).save(outside)
    value = {"ABS": str(outside), "ABS_DIR": str(tmp_path)}.get(value, value)
    _edit_metadata(root, **{key: (0, value)})
    with pytest.raises(DataError, match=r"image_metadata\.npy: names the image .* not a plain "
                                        "name inside test_images/"):
        image_paths(root, "test")


def test_symlink_out_of_the_image_set_is_refused(root, tmp_path):
    from eegvision.images.imageset import image_paths

    victim = _images(root)[0]
    elsewhere = tmp_path / "elsewhere"
    shutil.move(victim.parent, elsewhere)
    victim.parent.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(DataError, match="outside .*test_images .a symlink out of the image set"):
        image_paths(root, "test")
    # a symlinked split folder (the whole set on another disk) is fine
    moved = tmp_path / "disk" / "test_images"
    victim.parent.unlink()
    shutil.move(elsewhere, victim.parent)
    shutil.move(root / "image_set" / "test_images", moved)
    (root / "image_set" / "test_images").symlink_to(moved, target_is_directory=True)
    assert len(image_paths(root, "test")) == 4


def test_metadata_escape_through_the_cli_and_the_centres(root, tmp_path, clip_dir, capsys):
    from eegvision.images.imageset import center_image_paths

    things = tmp_path / "things"
    (things / "x").mkdir(parents=True)
    _edit_metadata(root, test_img_concepts=(0, str(tmp_path)))
    with pytest.raises(DataError, match="not a plain name"):
        center_image_paths(things, root)
    assert _features(root, clip_dir, "--splits", "test") == 2
    _one_line_error(capsys, "image_metadata.npy: names the image")


# ------------------------------------------------------------ stale and damaged sets
def test_changed_images_are_not_up_to_date(root, clip_dir, capsys):
    pytest.importorskip("transformers")
    victim = _images(root)[2]
    arr = np.asarray(Image.open(victim)).copy()
    Image.fromarray(arr).save(victim, format="BMP")  # uncompressed: a rewrite keeps the size
    assert _features(root, clip_dir, "--splits", "test") == 0
    first = _set(root)
    stat = victim.stat()
    arr[8:12, 10:14] ^= 64  # a few pixels inside the centre crop
    Image.fromarray(arr).save(victim, format="BMP")
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert victim.stat().st_size == stat.st_size and victim.stat().st_mtime_ns == stat.st_mtime_ns
    capsys.readouterr()
    assert _features(root, clip_dir, "--splits", "test") == 2
    _one_line_error(capsys, "made with other settings or images (the test images changed)",
                    "--overwrite")
    assert np.array_equal(_set(root), first)  # refused: nothing replaced
    assert _features(root, clip_dir, "--splits", "test", "--overwrite") == 0
    assert not np.array_equal(_set(root)[2], first[2])
    assert np.array_equal(_set(root)[[0, 1, 3]], first[[0, 1, 3]])
    for path in _images(root):  # new mtimes, same bytes (a copied image set): up to date
        os.utime(path, (1, 1))
    assert _features(root, clip_dir, "--splits", "test") == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["delete", "shape", "truncate"])
def test_damaged_set_is_not_up_to_date(root, clip_dir, capsys, damage):
    pytest.importorskip("transformers")
    assert _features(root, clip_dir, "--splits", "test", "--blur", "2") == 0
    bank = root / "dnn_feature" / "s" / "blur_bank_test.npy"
    good = np.load(bank)
    if damage == "delete":
        bank.unlink()
    elif damage == "shape":
        np.save(bank, good[:3])
    else:
        bank.write_bytes(bank.read_bytes()[:100])
    capsys.readouterr()
    assert _features(root, clip_dir, "--splits", "test", "--blur", "2") == 2
    _one_line_error(capsys, "blur_bank_test.npy", "--overwrite")
    assert _features(root, clip_dir, "--splits", "test", "--blur", "2", "--overwrite") == 0
    assert np.array_equal(np.load(bank), good)


def test_other_settings_need_overwrite_which_removes_only_its_own_stale_files(
        root, clip_dir, capsys, tmp_path):
    pytest.importorskip("transformers")
    folder = root / "dnn_feature" / "s"
    assert _features(root, clip_dir, "--splits", "test", "--blur", "2") == 0
    (folder / "notes.txt").write_text("mine")
    victim = tmp_path / "victim.npy"
    victim.write_text("not eegvision's")
    man = json.loads((folder / "manifest.json").read_text())
    man["files"]["../../../victim.npy"] = [1]  # a hostile manifest
    (folder / "manifest.json").write_text(json.dumps(man))
    capsys.readouterr()
    assert _features(root, clip_dir, "--splits", "test") == 2
    _one_line_error(capsys, "blur differs", "--overwrite")
    assert _features(root, clip_dir, "--splits", "test", "--overwrite") == 0
    assert not (folder / "blur_bank_test.npy").exists()  # its own stale file, removed
    assert (folder / "notes.txt").read_text() == "mine" and victim.exists()
    assert json.loads((folder / "manifest.json").read_text())["files"] == {
        "clip_feature_maps_test.npy": [4, 12]}


def test_feature_files_without_a_manifest_are_not_replaced(root, clip_dir, capsys):
    pytest.importorskip("transformers")
    folder = root / "dnn_feature" / "s"
    folder.mkdir(parents=True)
    download = np.ones((4, 7), np.float32)
    np.save(folder / "clip_feature_maps_test.npy", download)
    assert _features(root, clip_dir, "--splits", "test") == 2
    _one_line_error(capsys, "no manifest.json: not a set eegvision wrote")
    assert np.array_equal(np.load(folder / "clip_feature_maps_test.npy"), download)
    assert _features(root, clip_dir, "--splits", "test", "--overwrite") == 0
    assert _set(root).shape == (4, 12)


@pytest.mark.parametrize("text, problem", [
    ('{"settings": {"model"', "not valid JSON"), ("[1, 2]", "found list"),
    ('{"settings": []}', "expected a JSON object with 'settings' and 'files'"),
    (b"\xff\xfe{", "not valid JSON"),
])
def test_broken_manifest_is_one_line_naming_it(root, clip_dir, capsys, text, problem):
    from eegvision.images import read_manifest

    folder = root / "dnn_feature" / "s"
    folder.mkdir(parents=True)
    path = folder / "manifest.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DataError, match=problem):
        read_manifest(root, "s")
    pytest.importorskip("transformers")
    assert _features(root, clip_dir, "--splits", "test") == 2
    _one_line_error(capsys, str(path), problem)
    assert _features(root, clip_dir, "--splits", "test", "--overwrite") == 0


def test_resume_after_the_images_changed_recomputes(root, clip_dir, monkeypatch):
    pytest.importorskip("transformers")
    from eegvision.images import extract_features
    from eegvision.images import features as feat_mod

    real, calls = feat_mod._encode_files, []

    def dying(encoder, paths, levels):
        calls.append(len(paths))
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed in the second chunk
        return real(encoder, paths, levels)

    monkeypatch.setattr(feat_mod, "_encode_files", dying)
    kwargs = dict(splits=("test",), chunk_size=2, batch_size=2, progress=False)
    with pytest.raises(KeyboardInterrupt):
        extract_features(root, "s", clip_dir, **kwargs)
    partial = root / "dnn_feature" / "s" / ".partial" / "test"
    assert (partial / "chunk-00000.npy").is_file()
    victim = _images(root)[0]  # in the finished chunk
    Image.fromarray(np.zeros((20, 24, 3), np.uint8) + 90).save(victim, format="PNG")
    monkeypatch.setattr(feat_mod, "_encode_files", real)
    resumed = extract_features(root, "s", clip_dir, **kwargs)
    extract_features(root, "fresh", clip_dir, **kwargs)
    a, b = (np.load(root / "dnn_feature" / n / "clip_feature_maps_test.npy")
            for n in ("s", "fresh"))
    assert not resumed["cached"] and np.array_equal(a, b)


@pytest.mark.parametrize("damage", ["shape", "truncate", "settings"])
def test_damaged_partial_results_are_recomputed(root, clip_dir, damage, caplog):
    pytest.importorskip("transformers")
    from eegvision.images import extract_features

    kwargs = dict(splits=("test",), chunk_size=2, batch_size=2, progress=False)
    want = extract_features(root, "fresh", clip_dir, **kwargs)["files"]
    partial = root / "dnn_feature" / "s" / ".partial"
    (partial / "test").mkdir(parents=True)
    fresh = root / "dnn_feature" / "fresh"
    settings = json.loads((fresh / "manifest.json").read_text())["settings"]
    (partial / "settings.json").write_text(json.dumps(settings))
    chunk = partial / "test" / "chunk-00000.npy"
    if damage == "shape":
        np.save(chunk, np.zeros((2, 1, 5), np.float32))
    elif damage == "truncate":
        np.save(chunk, np.zeros((2, 1, 12), np.float32))
        chunk.write_bytes(chunk.read_bytes()[:90])
    else:
        np.save(chunk, np.zeros((2, 1, 12), np.float32))
        (partial / "settings.json").write_text('{"format": ')
    got = extract_features(root, "s", clip_dir, **kwargs)
    assert got["files"] == want
    a, b = (np.load(root / "dnn_feature" / n / "clip_feature_maps_test.npy")
            for n in ("s", "fresh"))
    assert np.array_equal(a, b)
    assert ("computing it again" if damage != "settings" else "discarding") in caplog.text


def test_retrieval_thumbnails_decode_like_features(tmp_path):
    """``figures --images`` thumbnails read pictures by the same rule (16-bit, bombs)."""
    from eegvision.viz.retrieval import _thumbnail

    Image.fromarray(GRADIENT.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    assert np.array_equal(_thumbnail(tmp_path / "deep.png"), _grey(GRADIENT))
    with pytest.raises(DataError, match="decompression bomb"):
        _thumbnail(_bomb_png(tmp_path / "bomb.png"))


def test_retrieval_thumbnails_never_look_outside_the_image_folder(tmp_path):
    from eegvision.viz.retrieval import find_image

    images, outside = tmp_path / "test_images", tmp_path / "outside"
    (images / "00001_cat").mkdir(parents=True)
    outside.mkdir()
    Image.new("RGB", (4, 4)).save(images / "00001_cat" / "a.jpg")
    Image.new("RGB", (4, 4)).save(outside / "secret.png")
    (images / "00002_dog").symlink_to(outside, target_is_directory=True)
    assert find_image(images, "00001_cat") == images / "00001_cat" / "a.jpg"
    for concept in (str(outside), "../outside", "..", "00002_dog", "dog", "*", "cat\0"):
        assert find_image(images, concept) is None, concept


# ------------------------------------------------------------ fuzzing (generated hostile content)
def _fuzz_settings():
    from datetime import timedelta

    from hypothesis import HealthCheck, settings

    return settings(max_examples=60, deadline=timedelta(seconds=5),
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _valid_pictures(tmp_path):
    """One small valid file per format and mode family, to mutate."""
    rgb = np.stack([GRADIENT, 255 - GRADIENT, GRADIENT // 3], axis=2)
    made = {}
    for name, im, kw in (("a.png", Image.fromarray(rgb), {}),
                         ("b.jpg", Image.fromarray(rgb), {}),
                         ("c.png", Image.fromarray(GRADIENT.astype(np.uint16) * 257), {}),
                         ("d.tif", Image.fromarray(GRADIENT.astype(np.float32) / 255),
                          dict(tiffinfo={340: 0.0, 341: 1.0})),
                         ("e.gif", Image.fromarray(GRADIENT).convert("P"), {}),
                         ("f.bmp", Image.fromarray(rgb), {})):
        im.save(tmp_path / name, **kw)
        made[name] = (tmp_path / name).read_bytes()
    return made


def test_fuzz_mutated_pictures_decode_or_fail_in_one_line(tmp_path):
    """Flipped, cut and overwritten bytes of valid PNG, JPEG, TIFF, GIF and BMP files."""
    from hypothesis import given
    from hypothesis import strategies as st

    originals = _valid_pictures(tmp_path)

    @_fuzz_settings()
    @given(name=st.sampled_from(sorted(originals)), cut=st.floats(0.05, 1.0),
           flips=st.lists(st.tuples(st.floats(0, 0.999), st.integers(0, 255)), max_size=6))
    def run(name, cut, flips):
        data = bytearray(originals[name][:max(8, int(len(originals[name]) * cut))])
        for where, value in flips:
            data[int(where * len(data))] = value
        path = tmp_path / f"m-{name}"
        path.write_bytes(bytes(data))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # PIL's warnings are logged with the file
                got = read_rgb(path)
        except DataError as err:
            assert str(err).startswith(f"{path}: ") and "\n  Fix: " in str(err), err
        else:
            assert got.mode == "RGB"

    run()


def test_fuzz_manifest_contents(tmp_path):
    """Any JSON value or bytes as manifest.json: a manifest dict or one DataError naming it."""
    from hypothesis import given
    from hypothesis import strategies as st

    from eegvision.images import read_manifest
    from eegvision.images.features import _listed_files

    folder = tmp_path / "dnn_feature" / "s"
    folder.mkdir(parents=True)
    path = folder / "manifest.json"
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
    names = st.sampled_from(["clip_feature_maps_test.npy", "../../x.npy", "/etc/passwd",
                             "blur_bank_test.npy", "", ".."]) | st.text(max_size=10)
    manifests = st.fixed_dictionaries({"settings": st.dictionaries(st.text(max_size=5), values,
                                                                   max_size=3),
                                       "files": st.dictionaries(names, values, max_size=4)})

    @_fuzz_settings()
    @given(content=st.one_of(values.map(lambda v: json.dumps(v).encode()),
                             manifests.map(lambda v: json.dumps(v).encode()),
                             st.binary(max_size=40)))
    def run(content):
        path.write_bytes(content)
        try:
            man = read_manifest(tmp_path, "s")
        except DataError as err:
            assert str(err).startswith(f"{path}: ") and "\n  Fix: " in str(err), err
            assert _listed_files(tmp_path, "s") == []
        else:
            assert isinstance(man["settings"], dict) and isinstance(man["files"], dict)
            listed = _listed_files(tmp_path, "s")  # the only names --overwrite may delete
            assert set(listed) <= {"clip_feature_maps_test.npy", "blur_bank_test.npy"}

    run()


def test_fuzz_metadata_names_stay_in_the_image_set(root):
    """Generated concept and file names: a path inside test_images/ or one DataError."""
    from hypothesis import given
    from hypothesis import strategies as st

    from eegvision.images.imageset import image_paths

    split = (root / "image_set" / "test_images").resolve()
    parts = st.sampled_from(["..", ".", "/", "\\\\", "/etc", "~", "a", "b.png", "", " ", "\0"])
    names = st.lists(parts, min_size=1, max_size=4).map("".join) | st.text(max_size=8)

    @_fuzz_settings()
    @given(key=st.sampled_from(["test_img_concepts", "test_img_files"]), name=names)
    def run(key, name):
        _edit_metadata(root, **{key: (0, name)})
        try:
            paths = image_paths(root, "test")
        except DataError as err:
            assert "image_metadata.npy" in str(err) or "test_images" in str(err), err
        else:
            assert all(p.resolve().is_relative_to(split) for p in paths)

    run()


def test_centre_pictures_are_regular_files_only(root, tmp_path):
    """A folder or a FIFO named like a picture is skipped (a FIFO would block the hash)."""
    from eegvision.data._pickle import load_dict_file
    from eegvision.images.imageset import center_image_paths

    meta = load_dict_file(root / "image_set" / "image_metadata.npy")
    things = tmp_path / "things"
    for concept in meta["test_img_concepts"]:
        folder = things / str(concept)
        folder.mkdir(parents=True)
        Image.new("RGB", (4, 4)).save(folder / "a.jpg")
        (folder / "d.jpg").mkdir()
        os.mkfifo(folder / "f.jpg")
    groups = center_image_paths(things, root)
    assert [[p.name for p in g] for g in groups] == [["a.jpg"]] * len(groups)
