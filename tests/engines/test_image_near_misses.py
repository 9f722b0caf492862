"""Image engine version 4's options (off in version 3): a contrast stretch that an overlay does not set
(``contrast_fence_iqr``, with its floor ``contrast_fence_min_span``), and guided lookups that complete near misses
(``guided_min_inliers``).

Pictures are drawn by consentry.testing.pictures; the corpus figures are in benchmarks/RESULTS.md ("Images,
session 6").
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_image_engine import _segment

from consentry.engines.image import ImageEngine, ImageEngineParams
from consentry.engines.image import features as F
from consentry.engines.image.search import QueryPrint, QuerySide, candidates, guided_hits, verify
from consentry.testing.pictures import picture




def _faint(seed: int) -> np.ndarray:
    """A pale, low-contrast picture (grey levels ~180-215), uint8 (h, w)."""
    return (F.grey(picture(seed, width_px=720, height_px=480)).astype(np.float32) * 0.14 + 180).astype(np.uint8)


@pytest.mark.parametrize("kind", ["text box", "black corners"])
def test_a_minority_of_far_levels_no_longer_sets_the_stretch(kind):
    clean = _faint(41)
    altered = clean.copy()
    if kind == "text box":  # a dark box over 15 % of the picture, with white text in it
        altered[40:170, 60:460] = 20
        altered[90:110, 80:440:7] = 255
    else:  # the corners a rotated copy brings in
        yy, xx = np.mgrid[0:480, 0:720]
        altered[(yy < 60 - xx / 6) | (yy > 420 + xx / 6) | (xx < 40 - yy / 8)] = 0
    picture_px = altered == clean
    assert picture_px.mean() > 0.8

    def gap(k: float) -> int:
        a = F.stretched(clean, max_gain=4.0, fence_iqr=k).astype(np.int64)
        b = F.stretched(altered, max_gain=4.0, fence_iqr=k).astype(np.int64)
        return int(np.percentile(np.abs(a - b)[picture_px], 90))

    # Version 3's stretch (all levels) maps the picture's own pixels differently once the overlay is there;
    # within the fences it maps them (nearly) as in the clean copy.
    assert gap(0.0) > 10 and gap(1.5) <= 2
    # Levels spread over the whole range: no level lies beyond the fences, the stretch is version 3's.
    spread = np.random.default_rng(3).integers(40, 200, (480, 720)).astype(np.uint8)
    assert np.array_equal(F.stretched(spread, max_gain=4.0, fence_iqr=1.5), F.stretched(spread, max_gain=4.0))


def _white_diagram() -> np.ndarray:
    """Black boxes, arrows and text on white (uint8 (h, w)), saved and read back as JPEG quality 75."""
    px = np.full((480, 720), 255, np.uint8)
    for x0 in (40, 280, 520):
        px[150:154, x0:x0 + 160] = px[250:254, x0:x0 + 160] = 0
        px[150:254, x0:x0 + 4] = px[150:254, x0 + 156:x0 + 160] = 0
        px[195:199, x0 + 160:x0 + 240] = 0
        px[190:210:3, x0 + 20:x0 + 140:5] = 0
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "JPEG", quality=75)
    return np.asarray(Image.open(buf).convert("L"))


def test_a_flat_picture_keeps_the_stretch_of_all_levels():
    diagram = _white_diagram()
    counts = np.bincount(diagram.ravel(), minlength=256)
    assert np.cumsum(counts)[250] < 0.25 * diagram.size  # its quartiles are near white: the fences hold ~1 level
    collapsed = F.stretched(diagram, max_gain=4.0, fence_iqr=1.5)
    # Without a floor on the fenced span, the background is stretched by 4 about its own level: white becomes
    # mid-grey and the JPEG ringing around the lines spreads over the whole range.
    assert abs(int(np.median(collapsed)) - 128) <= 8 and np.ptp(collapsed[diagram > 200]) > 40
    # With the floor, the percentiles of all levels are used: the stretch is version 3's (here none).
    guarded = F.stretched(diagram, max_gain=4.0, fence_iqr=1.5, fence_min_span=16)
    assert np.array_equal(guarded, F.stretched(diagram, max_gain=4.0))
    assert np.median(guarded) >= 250


@pytest.mark.parametrize("kind", ["text box", "black corners"])
def test_the_floor_leaves_the_fences_of_a_faint_picture(kind):
    altered = _faint(41)
    if kind == "text box":
        altered[40:170, 60:460] = 20
    else:
        yy, xx = np.mgrid[0:480, 0:720]
        altered[(yy < 60 - xx / 6) | (yy > 420 + xx / 6)] = 0
    for k in (0, 16):
        assert np.array_equal(F.stretched(altered, max_gain=4.0, fence_iqr=1.5, fence_min_span=k),
                              F.stretched(altered, max_gain=4.0, fence_iqr=1.5))
    assert not np.array_equal(F.stretched(altered, max_gain=4.0, fence_iqr=1.5), F.stretched(altered, max_gain=4.0))


def _two_bits_off(side: QuerySide, every: int, params: ImageEngineParams) -> QuerySide:
    """The side with the keys of every ``every``-th keypoint two bits away (as re-sampling flips them)."""
    keys = side.keys.copy()
    rng = np.random.default_rng(5)
    for i in range(0, len(keys), every):
        a, b = rng.choice(params.key_bits, 2, replace=False)
        keys[i] ^= np.uint32((1 << int(a)) | (1 << int(b)))
    return replace(side, keys=keys)


@pytest.fixture(scope="module")
def setting():
    eng = ImageEngine(replace(ImageEngineParams(), guided_min_inliers=4))
    work = picture(77, width_px=960, height_px=640)
    seg = _segment([eng.postings(eng.fingerprint(eng.signal(work)), fp_id=9)])
    return eng, work, seg


def test_guided_hits_are_the_postings_two_bits_away_of_that_work_only(setting):
    eng, work, seg = setting
    q = eng.query_print(eng.signal(work))
    side = _two_bits_off(q.sides[0], 1, eng.params)
    got = guided_hits([seg], side, 9, 0.0, eng.params)
    assert got is not None
    qi, w_xy, near = got
    # The same picture: a hit's stored position (image pixels) is its query keypoint's (working pixels / rate).
    rate = q.work_width_px / q.width_px
    d = np.hypot(*(w_xy - side.keypoints.xy[qi] / rate).T)
    assert qi.size >= eng.params.index_keypoints // 3 and np.median(d) < 2.0 and near.all()
    assert guided_hits([seg], side, 10, 0.0, eng.params) is None  # another work's id: nothing


def test_a_near_miss_is_completed_by_the_guided_lookup(setting):
    eng, work, seg = setting
    crop = np.ascontiguousarray(work[40:600, 60:900])
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, "JPEG", quality=90)
    q = eng.query_print(eng.decode(buf.getvalue()))
    plain = replace(eng.params, guided_min_inliers=0)
    # All but every k-th key two bits off, with the first k that leaves the one-bit lookup a near miss.
    for every in range(2, 17):
        side = _two_bits_off(q.sides[0], 1, eng.params)
        side = replace(side, keys=np.where(np.arange(len(side.keys)) % every == 0, q.sides[0].keys, side.keys))
        weak = QueryPrint((side,), q.width_px, q.height_px, q.work_width_px, q.work_height_px)
        low = verify(candidates(weak, [seg], plain), weak, plain, min_score=3)
        if low and eng.params.guided_min_inliers <= low[0].extra.inliers < eng.params.min_inliers:
            break
    else:
        pytest.fail("no near miss made")
    assert not verify(candidates(weak, [seg], plain), weak, plain, min_score=eng.params.min_inliers)
    found = verify(candidates(weak, [seg], eng.params), weak, eng.params, min_score=eng.params.min_inliers)
    assert found and found[0].fp_id == 9 and found[0].extra.inliers >= eng.params.min_inliers + 2
    assert abs(found[0].extra.scale - 1.0) < 0.02 and abs(found[0].extra.rotation_deg) < 1.0


def test_the_options_are_part_of_the_engine_id_only_when_set():
    p = ImageEngineParams()
    assert (p.contrast_fence_iqr, p.contrast_fence_min_span, p.guided_min_inliers) == (1.5, 16, 4)  # version 4
    # Off, the fields added after version 3 are not hashed: version 3's parameters keep the hash they were
    # published with (its golden vector and benchmarks/RESULTS.md name consentry-image-pdq-orb/3/b674fc4a9cc4ef5f).
    v3 = replace(p, contrast_fence_iqr=0.0, contrast_fence_min_span=0, guided_min_inliers=0, chance_inliers_per_e=0.11)
    assert v3.param_hash() == "b674fc4a9cc4ef5f"
    hashes = {p.param_hash(), v3.param_hash(), replace(v3, contrast_fence_iqr=1.5).param_hash(),
              replace(v3, guided_min_inliers=4).param_hash(), replace(p, contrast_fence_min_span=0).param_hash()}
    assert len(hashes) == 5
    # Left at their defaults, the hash is the one the golden vector records (tests/data/golden/image.npz).
    golden = np.load(Path(__file__).parents[1] / "data" / "golden" / "image.npz", allow_pickle=False)
    assert str(golden["engine"]).endswith("/" + p.param_hash())
