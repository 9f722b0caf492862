"""Small pictures of scanned images for the reports: the item, with the region that matched a work outlined.

A dataset audit of images is read by people who must see what was found; a
box in pixel numbers is not enough.  When a scan finds a registered work in an
image item, the scan stores a thumbnail of the item (at most
:data:`MAX_SIDE_PX` pixels a side, JPEG, a few kilobytes) with the matched
region drawn on it, as a ``data:`` URI in the finding's detail
(``item_thumbnail``, docs/scan-format.md).  The HTML report shows it beside the
finding; it is made from the pixels the engine already decoded, so the dataset
need not be read again, and a report made later does not need the dataset.

:func:`safe_data_uri` is what a report calls before putting a stored value in
an ``<img src>``: only a well-formed base64 JPEG or PNG data URI of bounded
size passes (a scan database can be edited by hand).
"""

from __future__ import annotations

import base64
import io
import re
from typing import Iterable, Sequence

import numpy as np

#: Longest side of a thumbnail (pixels).
MAX_SIDE_PX = 128
#: JPEG quality of a thumbnail.
QUALITY = 75
#: Largest data URI a report shows (characters); a 128-pixel JPEG at quality 75 is 3-8 kB.
MAX_URI_CHARS = 64_000
#: The outline's colour (RGB): a saturated magenta, rare in photographs and paintings.
OUTLINE_RGB = (255, 0, 200)

_DATA_URI = re.compile(r"data:image/(?:jpeg|png);base64,[A-Za-z0-9+/]+={0,2}")


def outlined_thumbnail(pixels: np.ndarray, *, extent: Sequence[float], boxes: Iterable[Sequence[float]] = (),
                       max_side_px: int = MAX_SIDE_PX) -> str:
    """A JPEG thumbnail of ``pixels`` as a data URI, each box of ``boxes`` outlined.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (h, w, 3) or (h, w)
        The image as the engine decoded it (any size: it is scaled down).
    extent : (width, height) in the image's own pixels
        The frame the boxes are given in (the original image's size, which the
        decoded pixels may be a scaled copy of).
    boxes : iterable of [x0, y0, x1, y1]
        Regions in ``extent``'s pixels; each is clipped to the image.
    max_side_px : int
        Longest side of the thumbnail.

    Returns
    -------
    str
        ``data:image/jpeg;base64,...``.
    """
    from PIL import Image, ImageDraw

    px = np.asarray(pixels)
    if px.dtype != np.uint8 or px.ndim not in (2, 3) or px.size == 0:
        raise ValueError(f"thumbnail: pixels must be a non-empty uint8 image, not {px.dtype} {px.shape}")
    img = Image.fromarray(np.ascontiguousarray(px)).convert("RGB")
    img.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS, reducing_gap=2.0)
    width, height = float(extent[0]), float(extent[1])
    if width > 0 and height > 0:
        sx, sy = img.width / width, img.height / height
        draw = ImageDraw.Draw(img)
        line = max(1, round(max(img.size) / 64))
        for box in boxes:
            try:
                x0, y0, x1, y1 = (float(v) for v in box)
            except (TypeError, ValueError):
                continue
            x0, x1 = sorted((min(max(x0 * sx, 0), img.width - 1), min(max(x1 * sx, 0), img.width - 1)))
            y0, y1 = sorted((min(max(y0 * sy, 0), img.height - 1), min(max(y1 * sy, 0), img.height - 1)))
            draw.rectangle((x0, y0, x1, y1), outline=OUTLINE_RGB, width=line)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def safe_data_uri(value: object) -> str | None:
    """``value`` when it is a base64 JPEG or PNG data URI of at most :data:`MAX_URI_CHARS`, else None."""
    if isinstance(value, str) and len(value) <= MAX_URI_CHARS and _DATA_URI.fullmatch(value):
        return value
    return None
