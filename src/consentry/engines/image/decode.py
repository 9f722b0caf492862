"""Reading images: sniffing by content and decoding with Pillow into the engine's working pixels.

The signal an image becomes (:func:`decode_image`):

- orientation: the EXIF orientation is applied, so pixels are as a viewer shows them;
- colour: 8-bit sRGB-like RGB; transparent pixels are composed over white,
  or over black when what is drawn is light (a white logo on a transparent
  ground is shown on dark pages: over white it would vanish; :func:`flatten_alpha`),
  palette and grey images expanded, 16-bit and float images scaled to 8 bits;
  no colour-profile conversion (features are computed on luminance);
- size: the working image is the image scaled so that its longest side is at
  most ``work_side_px`` (never enlarged); JPEGs are decoded at a reduced DCT
  scale first (Pillow's ``draft``), which is what makes decoding a
  megapixel JPEG cost a few milliseconds;
- GIF, animated WebP and multi-page TIFF: the first frame.

Bounds: the header's width x height is checked against ``max_pixels`` and
``max_side_px`` before any pixel is decoded (decompression bombs), and only
the formats listed in :data:`FORMATS` are parsed.  Every failure is one
:class:`consentry.errors.DecodeError` line naming the input.
"""

from __future__ import annotations

import io
import math
import os
import struct
import warnings
from typing import Any

import numpy as np

from ..base import Signal, Source

__all__ = ["FORMATS", "IMAGE_MEDIA_TYPES", "decode_image", "flatten_alpha", "sniff_image", "working_size"]

#: Pillow format names parsed (everything else is refused before parsing).
FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "GIF", "BMP", "AVIF", "HEIF")
#: Media types (as :func:`consentry.formats.sniff.sniff_media` names them) of the images read.
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/tiff", "image/gif", "image/bmp",
                               "image/avif", "image/heic", "image/heif"})
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_HEIF = frozenset({"image/heic", "image/heif"})


def sniff_image(head: bytes) -> str | None:
    """The media type of an image from its first bytes, or None when it is not an image this engine reads.

    Parameters
    ----------
    head : bytes
        The start of the input (32 bytes are enough).
    """
    from ...formats.sniff import sniff_media

    if len(head) >= 18 and head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "image/bmp"
    media = sniff_media(bytes(head[:512]))
    return media if media in IMAGE_MEDIA_TYPES else None


def working_size(width_px: int, height_px: int, work_side_px: int) -> tuple[int, int]:
    """The working image's ``(width, height)`` in pixels for an image of that size: longest side at most ``work_side_px``."""
    s = min(1.0, work_side_px / max(width_px, height_px, 1))
    return max(1, int(round(width_px * s))), max(1, int(round(height_px * s)))


def _decode_error(label: str, reason: str) -> Exception:
    try:
        from ...domain.errors import DecodeError
    except ImportError:  # before the layout move (issue 16)
        from ...errors import DecodeError
    return DecodeError(label, reason)


def _label(source: Any, name: str | None) -> str:
    if name:
        return str(name)
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or "<image bytes>"


def _open_bytes(source: Source, label: str) -> Any:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                return io.BytesIO(f.read())
        except OSError as exc:
            raise _decode_error(label, f"cannot read the file ({exc.strerror or exc})") from None
    return source


def _to_rgb(im: Any) -> Any:
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = float(a.max()) if a.size else 0.0
        scale = 255.0 / hi if hi > 255.0 else 1.0
        im = Image.fromarray(np.clip(a * scale, 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return flatten_alpha(im)
    return im if im.mode == "RGB" else im.convert("RGB")


def flatten_alpha(im: Any) -> Any:
    """An image with transparency as RGB: composed over white, or over black when what is drawn is light.

    The drawn part's mean luminance (BT.601, weighted by opacity) decides:
    above mid-grey (128) the ground is black, otherwise white, so that the
    drawing keeps its contrast.  Fully transparent images become white.

    Parameters
    ----------
    im : PIL.Image.Image
        Any mode; converted to RGBA first.
    """
    from PIL import Image

    rgba = im.convert("RGBA")
    if rgba.getextrema()[3][0] == 255:  # opaque
        return rgba.convert("RGB")
    small = rgba.copy()
    small.thumbnail((256, 256), Image.Resampling.BOX)  # the decision needs no more pixels
    a = np.asarray(small, dtype=np.float32)
    alpha = a[:, :, 3] / 255.0
    drawn = float(alpha.sum())
    lum = (a[:, :, :3] @ np.array([0.299, 0.587, 0.114], np.float32)) * alpha
    ground = (0, 0, 0, 255) if drawn > 0 and float(lum.sum()) / drawn > 128.0 else (255, 255, 255, 255)
    return Image.alpha_composite(Image.new("RGBA", rgba.size, ground), rgba).convert("RGB")


def decode_image(source: Source, *, work_side_px: int, max_pixels: int, max_side_px: int,
                 name: str | None = None) -> Signal:
    """Decode an image file into the working signal.

    Parameters
    ----------
    source : path, bytes or binary file
    work_side_px : int
        Longest side of the working image (pixels).
    max_pixels, max_side_px : int
        Bounds on the image (width x height, and longest side) read from its header.
    name : str, optional
        How to name the input in errors (default: its path, or ``<image bytes>``).

    Returns
    -------
    Signal
        ``medium="image"``; ``data`` uint8, shape (h, w, 3), RGB, the working
        image; ``extent`` ``(width_px, height_px)`` of the whole image as
        shown (EXIF orientation applied); ``rate`` working pixels per image
        pixel (``w / width_px``, at most 1); ``unit="px"``.

    Raises
    ------
    consentry.errors.DecodeError
        Empty, truncated, unsupported or over-large input (one line naming it).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = _label(source, name)
    stream = _open_bytes(source, label)
    head = stream.read(64)
    stream.seek(0)
    if not head:
        raise _decode_error(label, "is empty, not an image")
    media = sniff_image(head)
    if media is None:
        raise _decode_error(label, "is not an image this engine reads (JPEG, PNG, WebP, TIFF, GIF, BMP, HEIC, AVIF)")
    if media in _HEIF:
        try:
            import pillow_heif
        except ImportError:
            raise _decode_error(label, f"is {media}, and no HEIF decoder is installed (pip install pillow-heif)") from None
        pillow_heif.register_heif_opener()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.init()
            im = Image.open(stream, formats=[f for f in FORMATS if f in Image.OPEN])
            width, height = im.size
            if width < 1 or height < 1:
                raise _decode_error(label, f"has no pixels ({width} x {height})")
            if max(width, height) > max_side_px or width * height > max_pixels:
                raise _decode_error(label, f"is {width} x {height} pixels, over the limit of {max_pixels:,} pixels "
                                           f"and {max_side_px:,} a side (a decompression bomb?)")
            orientation = im.getexif().get(0x0112, 1) if im.format in ("JPEG", "MPO", "TIFF", "WEBP", "PNG") else 1
            shown_w, shown_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
            ww, wh = working_size(shown_w, shown_h, work_side_px)
            if im.format in ("JPEG", "MPO"):
                s = ww / shown_w
                im.draft("RGB", (math.ceil(width * s), math.ceil(height * s)))
            im.load()
            im = ImageOps.exif_transpose(im) if orientation != 1 else im
            im = _to_rgb(im)
            if im.size != (ww, wh):
                im = im.resize((ww, wh), Image.Resampling.BILINEAR, reducing_gap=2.0)
            pixels = np.asarray(im, dtype=np.uint8)
    except Image.DecompressionBombError:
        raise _decode_error(label, f"declares more than {max_pixels:,} pixels (a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise _decode_error(label, f"looks like {media} but Pillow cannot read it (damaged?)") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, IndexError, struct.error) as exc:
        if type(exc).__name__ == "DecodeError":
            raise
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _decode_error(label, f"cannot be decoded as {media} ({reason})") from None
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise _decode_error(label, f"decoded to an unexpected pixel layout {pixels.shape}")
    return Signal("image", pixels, pixels.shape[1] / shown_w, (float(shown_w), float(shown_h)), "px")
