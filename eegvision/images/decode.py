"""Image files -> 8-bit RGB pictures as they are meant to be displayed, or one clear error.

``PIL.Image.convert("RGB")`` is only faithful for 8-bit modes: it *clips* a
16-bit (``I;16``), 32-bit integer (``I``) or float (``F``) picture to 0-255, so
a 16-bit scan turns almost all white and a float TIFF in [0, 1] all black,
and the model would encode a blank image. Here every mode Pillow can return
is converted by its bit depth or refused:

- 8-bit modes (``1``, ``L``, ``P``, ``RGB``, ``RGBX``, ``CMYK``, ``YCbCr``,
  ``LAB``, ``HSV``): Pillow's own conversion.
- Transparency (``LA``, ``PA``, ``RGBA``, ``RGBa``, a palette or grey image
  with a transparent colour): composited onto white, as ``transformers``'
  ``convert_to_rgb`` does.
- 16-bit (``I;16*``; ``I`` from a 16-bit PNG, PGM or TIFF): scaled from its
  range to 0-255. The range is the TIFF's declared ``SMinSampleValue`` /
  ``SMaxSampleValue`` when it has them, else the full 16-bit range.
- 32-bit integer and float (``I`` from a 32-bit TIFF, ``F``): scaled from the
  range the TIFF declares; without one they are refused (nothing says which
  value is black and which white).
- Values outside the declared range, NaN, and any other mode: refused.

Pictures larger than ``PIL.Image.MAX_IMAGE_PIXELS`` (about 89 Mpx) are refused
before they are decoded (a decompression bomb would take gigabytes).
"""

from __future__ import annotations

import struct

import numpy as np

from .._utils import DataError, data_error, logger

#: How pictures are decoded; part of a feature set's settings (a change recomputes).
DECODE_RULE = ("8-bit modes via PIL convert('RGB'); transparency composited onto white; "
               "16-bit scaled by the declared (TIFF SMin/SMaxSampleValue) or full 16-bit "
               "range; 32-bit int and float by the declared range only")
_EIGHT_BIT = ("1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
_ALPHA = ("LA", "PA", "RGBA", "RGBa", "La")
_SIXTEEN = ("I;16", "I;16L", "I;16B", "I;16N")
_REPLACE = "replace the file with the one from the image set, or re-save it as 8-bit RGB."


#: What PIL's decoders raise on a damaged file: besides OSError, a truncated PNG
#: header is a ValueError, a broken TIFF tag a struct.error or an IndexError.
_BROKEN_FILE = (OSError, SyntaxError, EOFError, ValueError, struct.error, IndexError, TypeError,
                ZeroDivisionError)


def read_rgb(path):
    """Decode one image file to an 8-bit RGB ``PIL.Image``.

    Parameters
    ----------
    path : Path
        The image file (named in every error).

    Returns
    -------
    image : PIL.Image.Image
        Mode ``RGB``, as the picture is meant to be displayed (see the module
        docstring for the rule of each mode).
    """
    import warnings

    from PIL import Image

    bomb = (Image.DecompressionBombError, Image.DecompressionBombWarning)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # PIL's complaints (corrupt tags ...) name no file
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                rgb = to_rgb(im, path)
    except bomb as err:
        raise data_error(path, f"refused as a possible decompression bomb "
                         f"({str(err).rstrip('.')}).",
                         "THINGS-EEG2 images are 500 x 500 pixels: replace the file with the "
                         "image set's own, or downscale it below PIL.Image.MAX_IMAGE_PIXELS."
                         ) from None
    except DataError:  # our own one-line refusal of a mode or range
        raise
    except _BROKEN_FILE as err:
        raise data_error(path, f"cannot be read as an image ({err}).", _REPLACE) from None
    for w in caught:
        logger.warning("%s: %s", path, w.message)
    _warn_if_flat(rgb, path)
    return rgb


def to_rgb(im, path):
    """``im`` (any Pillow mode) as 8-bit RGB by its bit depth; refuse what cannot be converted."""
    mode = im.mode
    if mode in _SIXTEEN or mode in ("I", "F"):
        return _scaled(im, path)
    if mode in _ALPHA or (mode in _EIGHT_BIT and im.info.get("transparency") is not None):
        return _on_white(im, path)
    if mode in _EIGHT_BIT:
        return im.convert("RGB")
    raise data_error(path, f"image mode {mode!r} cannot be converted to RGB faithfully "
                     f"(read: {', '.join(_EIGHT_BIT + _ALPHA + _SIXTEEN)}, I, F).", _REPLACE)


def _on_white(im, path):
    """Composite a picture with transparency onto white (``transformers.convert_to_rgb``)."""
    from PIL import Image

    try:
        rgba = im.convert("RGBA")
    except ValueError as err:  # e.g. 'La' (premultiplied) has no conversion in Pillow
        raise data_error(path, f"image mode {im.mode!r} cannot be converted ({err}).",
                         _REPLACE) from None
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _scaled(im, path):
    """A 16-bit, 32-bit integer or float picture scaled from its display range to 0-255."""
    from PIL import Image

    arr = np.asarray(im).astype(np.float64)
    lo, hi = _display_range(im, path)
    if not np.isfinite(arr).all():
        raise data_error(path, f"{int((~np.isfinite(arr)).sum())} NaN or infinite pixel "
                         f"values (mode {im.mode!r}).", _REPLACE)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise data_error(path, f"pixel values {arr.min():g} to {arr.max():g} lie outside its "
                         f"display range {lo:g} to {hi:g} (mode {im.mode!r}).", _REPLACE)
    grey = np.rint((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _display_range(im, path):
    """Black and white values: declared by the TIFF, else the full range of a 16-bit mode."""
    tags = getattr(im, "tag_v2", None) if im.format == "TIFF" else None
    if tags is not None and 340 in tags and 341 in tags:
        lo, hi = float(np.min(tags[340])), float(np.max(tags[341]))
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise data_error(path, f"its declared display range (TIFF SMinSampleValue "
                             f"{lo:g}, SMaxSampleValue {hi:g}) is empty.", _REPLACE)
        return lo, hi
    if _sixteen_bit(im, tags):
        return 0.0, 65535.0
    kind = "float" if im.mode == "F" else "signed or 32-bit integer"
    raise data_error(path, f"a {kind} picture (mode {im.mode!r}) that declares no display "
                     "range, so which value is black and which white is unknown.",
                     "re-save it as 8- or 16-bit RGB or greyscale, or give the TIFF "
                     "SMinSampleValue / SMaxSampleValue tags (its black and white values).")


def _sixteen_bit(im, tags):
    """Whether an ``I;16*`` or ``I`` picture holds unsigned 16-bit samples."""
    if im.mode in _SIXTEEN:
        return True
    if im.mode != "I":
        return False
    if tags is None:  # PNG and PGM / PPM open 16-bit samples as 'I'
        return im.format in ("PNG", "PPM")
    return tuple(tags.get(258, ())) == (16,) and tuple(tags.get(339, (1,))) == (1,)


def _warn_if_flat(rgb, path):
    """A picture of one flat colour is most likely a conversion or export mistake."""
    extrema = rgb.getextrema()
    if all(lo == hi for lo, hi in extrema):
        logger.warning("%s: the picture is one flat colour %s; its features are those of a "
                       "blank image.", path, tuple(lo for lo, _ in extrema))
