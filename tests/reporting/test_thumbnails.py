"""Thumbnails of scanned images in the reports (issue 19): bounded, outlined where the work matched, and only
well-formed data URIs reach a report's <img src>."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from consentry.reporting.thumbnails import MAX_SIDE_PX, MAX_URI_CHARS, OUTLINE_RGB, outlined_thumbnail, safe_data_uri


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/jpeg;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")).astype(int)


def _is_outline(rgb) -> bool:
    return abs(rgb[0] - OUTLINE_RGB[0]) < 60 and rgb[1] < 90 and abs(rgb[2] - OUTLINE_RGB[2]) < 70


def test_a_thumbnail_is_small_and_outlines_the_box_in_the_original_frame():
    grey = np.full((300, 450, 3), 128, np.uint8)  # a decoded copy at half the original's 900 x 600 pixels
    uri = outlined_thumbnail(grey, extent=(900, 600), boxes=[[450, 300, 900, 600]])  # the lower-right quarter
    assert len(uri) < 12_000 and safe_data_uri(uri) == uri
    px = _decode(uri)
    assert max(px.shape[:2]) == MAX_SIDE_PX and px.shape[:2] == (85, 128)
    # The box's left edge is at x = 64 of 128 and its top at y = 42 of 85; the upper-left quarter is untouched.
    assert _is_outline(px[70, 64]) and _is_outline(px[43, 100])
    assert not _is_outline(px[20, 30]) and abs(px[20, 30] - 128).max() < 12


def test_boxes_outside_the_image_or_malformed_are_clipped_or_skipped():
    px = np.zeros((50, 40), np.uint8)  # grey-scale, smaller than a thumbnail: kept at its size
    uri = outlined_thumbnail(px, extent=(40, 50), boxes=[[-100, -100, 1e9, 1e9], ["x", 1, 2, 3], None, [1, 2]])
    assert _decode(uri).shape[:2] == (50, 40)
    with pytest.raises(ValueError, match="thumbnail"):
        outlined_thumbnail(np.zeros((0, 0, 3), np.uint8), extent=(0, 0))
    with pytest.raises(ValueError, match="thumbnail"):
        outlined_thumbnail(np.zeros((4, 4, 3), np.float32), extent=(4, 4))


@pytest.mark.parametrize("value", [
    None, 3, "", "javascript:alert(1)", "data:image/svg+xml;base64,PHN2Zz4=", "data:text/html;base64,PGI+",
    'data:image/jpeg;base64,AAAA" onerror="alert(1)', "data:image/jpeg;base64,AA AA", "data:image/jpeg,raw",
    "data:image/jpeg;base64," + "A" * MAX_URI_CHARS,
])
def test_only_wellformed_bounded_jpeg_or_png_data_uris_pass(value):
    assert safe_data_uri(value) is None


def test_a_scan_report_shows_the_thumbnail_and_drops_a_tampered_one(tmp_path):
    from consentry import Registry
    from consentry.reporting.scan_report import render_scan_html
    from consentry.services.scan import scan_dataset
    from consentry.testing.pictures import picture

    works, data = tmp_path / "works", tmp_path / "data"
    works.mkdir()
    data.mkdir()
    art = picture(321, width_px=600, height_px=400)
    Image.fromarray(art).save(works / "art.png")
    Image.fromarray(np.ascontiguousarray(art[50:350, 100:550])).save(data / "crop.jpg", quality=85)
    Image.fromarray(picture(322, width_px=600, height_px=400)).save(data / "other.jpg", quality=85)
    with Registry.open(tmp_path / "r.db") as reg:
        assert reg.register([works], creator="Ines Duarte", terms="deny", workers=1).registered
        summary = scan_dataset(reg, data, workers=1)
        items = list(reg.store.iter_scan_items(summary["scan_id"]))
    [found] = [it for it in items if it["findings"]]
    thumb = found["findings"][0]["detail"]["item_thumbnail"]
    assert safe_data_uri(thumb) == thumb and max(_decode(thumb).shape[:2]) == MAX_SIDE_PX
    html = render_scan_html(summary, items)
    assert html.count('<img class="thumb" src="data:image/jpeg;base64,') == 1
    found["findings"][0]["detail"]["item_thumbnail"] = 'data:image/jpeg;base64,AAAA" onerror="alert(1)'
    for f in found["findings"]:
        f.update(f["detail"])
    tampered = render_scan_html(summary, items)
    assert '<img class="thumb"' not in tampered and "onerror" not in tampered
