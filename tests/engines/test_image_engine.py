"""The image engine (consentry.engines.image): reading, fingerprints, index, located matches, hostile input.

Pictures are drawn by consentry.testing.pictures (shapes, edges, texture);
the real-corpus figures are in benchmarks/run_image.py.
"""

from __future__ import annotations

import inspect
import io
import json
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from consentry import engines
from consentry.domain.errors import DecodeError
from consentry.engines.base import MediaEngine
from consentry.engines.image import ENGINE_NAME, ENGINE_VERSION, ImageEngine, ImageEngineParams, MatchedPoints
from consentry.engines.image import features as F
from consentry.engines.image import reference
from consentry.store.segments import IndexSegment, build_directory
from consentry.testing.pictures import picture

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "image.npz"


def _segment(parts) -> IndexSegment:
    keys = np.concatenate([k for k, _ in parts]).astype(np.uint32)
    values = np.concatenate([v for _, v in parts]).astype(np.uint64)
    order = np.argsort(keys, kind="stable")
    k = np.ascontiguousarray(keys[order])
    return IndexSegment(k, np.ascontiguousarray(values[order]), *build_directory(k))


def _encode(px: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def engine() -> ImageEngine:
    return engines.get("image")


@pytest.fixture(scope="module")
def works() -> dict[int, np.ndarray]:
    return {i: picture(100 + i, width_px=960, height_px=640) for i in (1, 2, 3)}


@pytest.fixture(scope="module")
def index(engine, works):
    return [_segment([engine.postings(engine.fingerprint(engine.signal(px)), fp_id=i) for i, px in works.items()])]


# ---------------------------------------------------------------- identity and interface
def test_the_registry_serves_the_image_engine_with_its_identity(engine):
    assert isinstance(engine, ImageEngine) and isinstance(engine, MediaEngine)
    assert engine.medium == "image" and "image" in engines.media()
    assert engine.id.name == ENGINE_NAME and engine.id.version == ENGINE_VERSION
    assert engine.id.param_hash == ImageEngineParams().param_hash()
    assert engines.by_engine_name(ENGINE_NAME) is engine
    other = engines.get("image", params=replace(engine.params, index_keypoints=60))
    assert other.id.param_hash != engine.id.param_hash
    # Images are sniffed before music and text.
    assert engine.sniff_order < 50 and ".webp" in engine.extensions


def test_the_engine_takes_every_keyword_the_interface_names(engine):
    for name, member in inspect.getmembers(MediaEngine, predicate=inspect.isfunction):
        if name.startswith("_"):
            continue
        want = {p for p in inspect.signature(member).parameters if p != "self"}
        have = set(inspect.signature(getattr(engine, name)).parameters)
        assert want <= have, (name, want - have)


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="work_side_px"):
        ImageEngineParams(work_side_px=2048)
    with pytest.raises(ValueError, match="key_bits"):
        ImageEngineParams(key_bits=31)


# ---------------------------------------------------------------- reading
FORMATS = {"jpeg": ("JPEG", {"quality": 92}), "png": ("PNG", {}), "webp": ("WEBP", {"quality": 90}),
           "tiff": ("TIFF", {}), "gif": ("GIF", {}), "bmp": ("BMP", {})}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_each_format_is_sniffed_by_content_and_decoded(engine, works, kind):
    fmt, kw = FORMATS[kind]
    data = _encode(works[1], fmt, **kw)
    assert engine.sniff(data[:512])
    sig = engine.decode(data, name=f"x.{kind}")
    assert sig.medium == "image" and sig.unit == "px" and sig.extent == (960.0, 640.0)
    assert sig.data.dtype == np.uint8 and sig.data.shape == (341, 512, 3) and sig.size == 960 * 640
    assert abs(sig.rate - 512 / 960) < 1e-9


def test_heic_and_avif_where_a_decoder_is_installed(engine, works):
    from PIL import features

    if features.check("avif"):
        data = _encode(works[2], "AVIF", quality=80)
        assert engine.sniff(data[:512]) and engine.decode(data).extent == (960.0, 640.0)
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    data = _encode(works[2], "HEIF", quality=80)
    assert engine.sniff(data[:512]) and engine.decode(data).extent == (960.0, 640.0)


def test_exif_orientation_is_applied(engine, works):
    im = Image.fromarray(works[1])
    exif = im.getexif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    data = _encode(works[1], "JPEG", quality=95, exif=exif.tobytes())
    sig = engine.decode(data)
    assert sig.extent == (640.0, 960.0) and sig.data.shape[:2] == (512, 341)
    upright = engine.signal(np.asarray(im.transpose(Image.Transpose.ROTATE_270)))
    diff = np.abs(sig.data.astype(int) - upright.data.astype(int)).mean()
    assert diff < 8, diff


def test_transparency_is_composed_over_white_and_grey_and_16_bit_images_read(engine):
    rgba = np.zeros((100, 120, 4), np.uint8)
    sig = engine.decode(_encode(rgba, "PNG"))
    assert (sig.data == 255).all()
    grey16 = Image.fromarray(np.tile(np.arange(0, 60000, 500, dtype=np.uint16), (80, 1)))
    buf = io.BytesIO()
    grey16.save(buf, "PNG")
    sig = engine.decode(buf.getvalue())
    assert sig.extent == (120.0, 80.0) and sig.data[:, -1].min() > 200 and sig.data[:, 0].max() < 10


def test_the_first_frame_of_a_gif(engine, works):
    frames = [Image.fromarray(works[1]).convert("P"), Image.fromarray(works[2]).convert("P")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    first = engine.decode(buf.getvalue())
    assert np.abs(first.data.astype(int) - engine.signal(works[1]).data.astype(int)).mean() < 25


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (and holds a few bytes of data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat)))


HOSTILE = {
    "empty": (b"", "empty"),
    "garbage": (bytes(range(256)) * 4, "not an image"),
    "text": (b"just some words, no pixels", "not an image"),
    "truncated": (None, "cannot be decoded|damaged"),
    "bomb": (_png_claiming(200_000, 200_000), "decompression bomb"),
    "wide": (_png_claiming(40_000, 10), "decompression bomb"),
    "png_no_data": (_png_claiming(100, 100), "cannot be decoded|damaged"),
    "bad_jpeg_body": (b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + b"\x13" * 500, "cannot be decoded|damaged"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_gives_one_line_naming_it(engine, works, case, tmp_path):
    data, reason = HOSTILE[case]
    if data is None:
        full = _encode(works[1], "JPEG", quality=90)
        data = full[: len(full) // 3]
    path = tmp_path / f"{case}.img"
    path.write_bytes(data)
    for source, name in ((path, str(path)), (data, "upload-7.jpg")):
        with pytest.raises(DecodeError, match=reason) as err:
            engine.decode(source, name=None if isinstance(source, Path) else name)
        msg = str(err.value)
        assert "\n" not in msg and msg.startswith(name), msg


def test_a_limit_on_pixels_is_kept(engine, works):
    data = _encode(works[1], "PNG")
    with pytest.raises(DecodeError, match="over the limit"):
        engine.decode(data, max_extent=100_000, name="big.png")
    with pytest.raises(DecodeError, match="cannot read the file"):
        engine.decode("/no/such/file.jpg")


def test_pixels_of_the_wrong_shape_are_refused(engine):
    with pytest.raises(ValueError, match="uint8"):
        engine.signal(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError, match="image signal"):
        engine.fingerprint(engines.get("music").signal(np.zeros(8000, np.float32)))


# ---------------------------------------------------------------- fingerprints and postings
def test_fingerprint_postings_and_fp_ids(engine, works):
    fp = engine.fingerprint(engine.signal(works[1]))
    tags = fp.keys & F.TAG_MASK
    assert fp.engine == engine.id and fp.unit == "px" and fp.extent == (960.0, 640.0)
    assert (tags == F.TAG_KEYPOINT).sum() == engine.params.index_keypoints
    assert (tags == F.TAG_BAND).sum() == 16 and (tags == F.TAG_RECORD).sum() == F.RECORD_CHUNKS
    keys, values = engine.postings(fp, fp_id=12345)
    assert set(engine.fp_ids(values).tolist()) == {12345}
    # The keys do not depend on the work's id (the store assigns ids after the keys are made).
    np.testing.assert_array_equal(engine.postings(fp, fp_id=0)[0], keys)
    # Bands carry the record's id, which is its key.
    rid = (keys[tags == F.TAG_RECORD] & ~F.TAG_MASK)
    assert len(set(rid.tolist())) == 1
    assert set((values[tags == F.TAG_BAND] & np.uint64((1 << 30) - 1)).tolist()) == {int(rid[0])}
    # 12 bytes a posting: the index stays under 2 KB an image.
    assert keys.nbytes + values.nbytes <= 2048
    rec = F.unpack_record(values[tags == F.TAG_RECORD] & np.uint64((1 << 38) - 1))
    assert rec is not None and rec[1:] == (960, 640)
    assert rec[0].hex() == engine.describe(engine.signal(works[1]))["pdq"]
    with pytest.raises(ValueError, match="does not fit"):
        engine.postings(fp, fp_id=1 << 26)
    other = engines.get("image", params=replace(engine.params, index_keypoints=60))
    with pytest.raises(ValueError, match="cannot go into an index"):
        engine.postings(other.fingerprint(other.signal(works[1])), fp_id=1)


def test_fast_packing_agrees_with_the_plain_reference(engine, works):
    sig = engine.signal(works[2])
    kp = F.orb_keypoints(F.grey(sig.data), n=50, params=engine.params)
    _, check = F.descriptor_keys(kp.descriptors, engine.params)
    sx, sy = 960 / sig.data.shape[1], 640 / sig.data.shape[0]
    fast = (np.uint64(77) << np.uint64(38)) | F.keypoint_payload(kp, check, scale_xy=(sx, sy), shift=0)
    slow = [reference.keypoint_value(77, float(np.float32(x) * sx), float(np.float32(y) * sy), 0, float(a), int(o),
                                     int(c)) for (x, y), a, o, c in zip(kp.xy, kp.angle_deg, kp.octave, check)]
    assert fast.tolist() == slow
    assert F.coordinate_shift(1024, 10) == 0 and F.coordinate_shift(1025, 10) == 1 and F.coordinate_shift(5120, 2880) == 3
    xy, _, _, _ = F.unpack_keypoint_payload(F.keypoint_payload(kp, check, scale_xy=(sx, sy), shift=2) & np.uint64((1 << 38) - 1))
    assert np.abs(xy - kp.xy * [sx, sy]).max() <= 2.0
    pdq = F.pdq_hash(sig.data)
    assert F.band_keys(pdq.bits).tolist() == [reference.band_key(pdq.bits.tolist(), b) for b in range(16)]


def test_pdq_lookup_finds_exactly_what_comparing_every_hash_finds(engine):
    """Multi-index hashing with one bit of probing misses no stored hash within 31 bits (pigeonhole)."""
    rng = np.random.default_rng(5)
    stored = {i: rng.integers(0, 2, 256).astype(np.uint8) for i in range(1, 400)}
    query = stored[7].copy()
    flip = rng.choice(256, 31, replace=False)
    query[flip] ^= 1
    for i in range(1, 40):  # hashes at every distance 0..60 from the query
        stored[i] = query.copy()
        stored[i][rng.choice(256, int(i * 1.5), replace=False)] ^= 1
    parts = []
    for i, bits in stored.items():
        rid = i % 50  # records that share an id are told apart by the work id in their values
        keys = np.concatenate([F.band_keys(bits), np.full(9, F.TAG_RECORD | np.uint32(rid), np.uint32)])
        rec = F.pack_record(F.PdqHash(bits, 100), 100, 100)
        values = (np.uint64(i) << np.uint64(38)) | np.concatenate([np.full(16, rid, np.uint64), rec])
        parts.append((keys, values))
    seg = _segment(parts)
    from consentry.engines.image.search import QueryPrint, QuerySide, candidates, verify

    empty = F.Keypoints(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int16),
                        np.zeros((0, 32), np.uint8))
    side = QuerySide(False, empty, np.zeros(0, np.uint32), np.zeros(0, np.uint32), F.PdqHash(query, 100))
    q = QueryPrint((side,), 100, 100, 100, 100)
    found = verify(candidates(q, [seg], engine.params), q, engine.params, min_score=0)
    fast = {m.fp_id: m.extra.pdq_distance for m in found}
    slow = reference.pdq_near_duplicates([query.tolist()], {i: b.tolist() for i, b in stored.items()},
                                         max_distance=engine.params.pdq_max_distance)
    assert fast == slow and len(slow) >= 15


def test_golden_vector(engine):
    golden = np.load(GOLDEN, allow_pickle=False)
    assert str(engine.id) == str(golden["engine"])
    sig = engine.signal(golden["pixels"])
    fp = engine.fingerprint(sig)
    np.testing.assert_array_equal(fp.keys, golden["keys"])
    np.testing.assert_array_equal(fp.fields["payload"], golden["payload"])
    facts = engine.describe(sig)
    assert facts["pdq"] == str(golden["pdq"]) and facts["iscc"] == str(golden["iscc"])
    assert facts["iscc"].startswith("ISCC:EE")


# ---------------------------------------------------------------- search
def _jpeg_signal(engine, px: np.ndarray, quality: int = 90):
    return engine.decode(_encode(px, "JPEG", quality=quality), name="query.jpg")


def test_whole_copies_are_found_with_full_boxes(engine, works, index):
    w = works[2]
    for px, quality, mirrored in ((w, 30, False), (w[:, ::-1], 90, True), (np.asarray(Image.fromarray(w).convert("L")), 90, False),
                                  (np.asarray(Image.fromarray(w).resize((240, 160))), 90, False)):
        px = np.ascontiguousarray(px)
        found = engine.locate(_jpeg_signal(engine, px, quality), index)
        assert found and found[0].fp_id == 2, (quality, mirrored)
        m = found[0]
        h, wd = px.shape[:2]
        assert m.extra.mirrored is mirrored
        qb, wb = m.query.as_box(), m.work.as_box()
        assert qb[0] < 0.05 * wd and qb[2] > 0.95 * wd and qb[1] < 0.05 * h and qb[3] > 0.95 * h, qb
        assert wb[0] < 48 and wb[2] > 912 and wb[1] < 32 and wb[3] > 608, wb
        assert abs(m.extra.scale - wd / 960) < 0.05 * wd / 960
        assert 0.5 < m.confidence <= 1.0


def test_a_crop_is_located_in_the_work(engine, works, index):
    x0, y0, x1, y1 = 120, 80, 120 + 744, 80 + 496  # 60 % of the area (benchmarks/run_image.py measures 50 %)
    crop = np.ascontiguousarray(works[3][y0:y1, x0:x1])
    sig = _jpeg_signal(engine, crop)
    [m] = engine.locate(sig, index)
    assert m.fp_id == 3 and m.extra.method == "keypoints" and not m.extra.mirrored
    # Without the work's size the boxes hold the matched points; refined with the work, the whole crop.
    qb, wb = m.query.as_box(), m.work.as_box()
    assert 0 <= qb[0] < qb[2] <= 744 and x0 <= wb[0] < wb[2] <= x1 and y0 <= wb[1] < wb[3] <= y1
    m = engine.refine(sig, m, engine.signal(works[3]))
    wb = m.work.as_box()
    assert all(abs(a - b) < 12 for a, b in zip(wb, (x0, y0, x1, y1))), wb
    assert m.query.as_box() == (0.0, 0.0, 744.0, 496.0) and abs(m.extra.scale - 1.0) < 0.03 and abs(m.extra.rotation_deg) < 1.0


def test_rotation_and_an_overlay_are_measured(engine, works, index):
    im = Image.fromarray(works[1]).rotate(-6, resample=Image.Resampling.BICUBIC)  # clockwise as shown
    d = ImageDraw.Draw(im)
    d.rectangle((100, 200, 100 + 400, 200 + 230), fill=(0, 0, 0))  # 15 % of the picture covered
    d.text((120, 280), "NEW COLLECTION", fill=(255, 255, 255), font_size=40)
    found = engine.locate(_jpeg_signal(engine, np.asarray(im)), index, with_evidence=True, max_evidence=30)
    assert found and found[0].fp_id == 1
    m = found[0]
    assert abs(m.extra.rotation_deg - 6.0) < 1.0, m.extra
    ev = m.evidence
    assert isinstance(ev, MatchedPoints) and len(ev.query_xy) <= 30 and ev.total == m.extra.inliers
    a, b, c, dd, e, f = m.extra.work_to_query
    mapped = ev.work_xy @ np.array([[a, dd], [b, e]]) + [c, f]
    assert np.median(np.linalg.norm(mapped - ev.query_xy, axis=1)) < 6.0
    facts = engine.evidence_facts(m)
    json.dumps(facts)
    assert facts["medium"] == "image" and facts["engine"] == engine.id.as_dict()
    assert facts["matched_points_total"] == ev.total and len(facts["matched_points"]) == len(ev.query_xy)
    assert set(facts["matched_points"][0]) == {"query_xy", "work_xy", "key"}
    fields = engine.match_fields(m)
    assert fields["query_box"] == facts["query_box"] and fields["transform"]["mirrored"] is False


def test_unrelated_pictures_find_nothing(engine, index):
    for seed in (900, 901, 902):
        assert engine.locate(engine.signal(picture(seed, width_px=800, height_px=600)), index) == []
    flat = np.full((300, 400, 3), 128, np.uint8)
    assert engine.locate(engine.signal(flat), index) == []


def test_the_three_steps_give_what_locate_gives(engine, works, index):
    sig = _jpeg_signal(engine, np.ascontiguousarray(works[1][:, ::-1]), 60)
    q = engine.query_print(sig)
    by_hand = engine.verify(engine.candidates(q, index), q, min_score=engine.min_score_for(sig.size),
                            searched=sig.size)
    assert by_hand == engine.locate(sig, index) and by_hand


def test_the_sqlite_store_keeps_image_segments_under_the_image_engine_id(engine, works, tmp_path):
    from consentry.store.sqlite import SQLiteStore

    store = SQLiteStore.open(tmp_path / "r.db", create=True)
    try:
        store.add_segment(*engine.postings(engine.fingerprint(engine.signal(works[2])), fp_id=9),
                          **engine.id.store_key())
        segs = store.index_segments(**engine.id.store_key())
        [m] = engine.locate(_jpeg_signal(engine, works[2], 40), segs)
        assert m.fp_id == 9
    finally:
        store.close()


# ---------------------------------------------------------------- version 2: faint pictures, logos, mirror, rotation
def test_a_light_drawing_on_a_transparent_ground_is_shown_over_black(engine):
    from consentry.engines.image.decode import flatten_alpha

    rgba = np.zeros((120, 160, 4), np.uint8)
    rgba[30:90, 40:120] = (255, 255, 255, 255)  # a white logo, transparent around it
    sig = engine.decode(_encode(rgba, "PNG"))
    assert sig.data[60, 80].min() == 255 and sig.data[5, 5].max() == 0
    dark = rgba.copy()
    dark[30:90, 40:120] = (20, 20, 90, 255)  # a dark drawing keeps the white ground
    assert (np.asarray(flatten_alpha(Image.fromarray(dark)))[5, 5] == 255).all()


def test_mirror_side_descriptors_are_those_of_the_mirror_image(engine, works):
    g = engine._grey(engine.signal(works[1]).data)
    kp = F.orb_keypoints(g, n=300, params=engine.params)  # 200 left 46 spots found on both sides with version 4
    mk = F.mirrored_keypoints(g, kp, params=engine.params)
    assert len(mk) == len(kp) > 150
    np.testing.assert_allclose(mk.xy[:, 0], g.shape[1] - 1 - kp.xy[:, 0], atol=1e-3)
    # The same spots found by detecting in the mirror image have the same descriptors.
    direct = F.orb_keypoints(np.ascontiguousarray(g[:, ::-1]), n=300, params=engine.params)
    pos = {(round(float(x), 1), round(float(y), 1), int(o)): d.tobytes()
           for (x, y), o, d in zip(direct.xy, direct.octave, direct.descriptors)}
    same = [pos[k] == d.tobytes() for k, d in zip(((round(float(x), 1), round(float(y), 1), int(o))
                                                    for (x, y), o in zip(mk.xy, mk.octave)), mk.descriptors) if k in pos]
    assert len(same) > 50 and np.mean(same) > 0.95


def test_a_faint_picture_keeps_its_keypoints(engine):
    """A picture of a few grey levels (a dark wallpaper) is stretched before keypoints are found."""
    faint = (picture(314, width_px=900, height_px=600).astype(np.float32) * 0.06 + 90).astype(np.uint8)
    v1 = ImageEngine(replace(engine.params, max_contrast_gain=1.0))
    sig = engine.signal(faint)
    n = engine.params.index_keypoints
    assert len(F.orb_keypoints(engine._grey(sig.data), n=n, params=engine.params)) == n
    assert len(F.orb_keypoints(v1._grey(sig.data), n=n, params=engine.params)) < n // 10
    seg = _segment([engine.postings(engine.fingerprint(sig), fp_id=4)])
    found = engine.locate(engine.decode(_encode(np.ascontiguousarray(faint[:, ::-1]), "PNG")), [seg])
    assert found and found[0].fp_id == 4 and found[0].extra.method == "keypoints" and found[0].extra.mirrored
    g = F.grey(faint)
    assert F.stretched(g, max_gain=1.0) is g


def test_rotation_beyond_the_limit_is_not_a_keypoint_match(engine, works, index):
    im = np.asarray(Image.fromarray(works[2]).rotate(40, resample=Image.Resampling.BICUBIC))
    sig = _jpeg_signal(engine, im)
    assert not [m for m in engine.locate(sig, index) if m.extra.method == "keypoints"]
    wide = ImageEngine(replace(engine.params, max_rotation_deg=60.0))
    wide_index = [_segment([wide.postings(wide.fingerprint(wide.signal(px)), fp_id=i) for i, px in works.items()])]
    found = wide.locate(_jpeg_signal(wide, im), wide_index)
    assert found and found[0].fp_id == 2 and abs(abs(found[0].extra.rotation_deg) - 40) < 2


def test_jittered_orientations_find_the_same_work(engine, works, index):
    jit = ImageEngine(replace(engine.params, query_angle_jitter_deg=7.0))
    jit_index = [_segment([jit.postings(jit.fingerprint(jit.signal(px)), fp_id=i) for i, px in works.items()])]
    crop = np.ascontiguousarray(works[3][80:560, 100:820])
    q = jit.query_print(_jpeg_signal(jit, crop))
    assert q.sides[0].jitter_keys.shape == (len(q.sides[0].keys), 2)
    found = jit.locate(_jpeg_signal(jit, crop), jit_index)
    assert found and found[0].fp_id == 3


def test_the_lookup_reads_every_posting_of_every_key(engine, works, index):
    from consentry.engines.image.search import _gather

    seg = index[0]
    rng = np.random.default_rng(3)
    probes = np.concatenate([rng.choice(np.asarray(seg.keys), 300), rng.integers(0, 1 << 30, 300).astype(np.uint32)])
    qi, values = _gather([seg], probes, cap=10_000)
    got = sorted(zip(qi.tolist(), values.tolist()))
    keys, vals = np.asarray(seg.keys), np.asarray(seg.values)
    want = sorted((i, int(v)) for i, k in enumerate(probes.tolist()) for v in vals[keys == k].tolist())
    assert got == want and len(want) >= 300
    qi, _ = _gather([seg], probes, cap=0)
    assert qi.size == 0


def test_probe_masks_reach_every_key_within_the_flips_asked():
    from consentry.engines.image.search import _flip_masks

    for flips, n in ((0, 1), (1, 21), (2, 211)):
        masks = _flip_masks(20, flips)
        weights = np.unpackbits(masks.view(np.uint8)).reshape(-1, 32).sum(axis=1)
        assert masks.size == n == np.unique(masks).size and weights.max() == flips and weights[0] == 0


# ---------------------------------------------------------------- version 3: stable keypoints, matched regions
def _crop_query(engine, px: np.ndarray, box) -> "object":
    x0, y0, x1, y1 = box
    return _jpeg_signal(engine, np.ascontiguousarray(px[y0:y1, x0:x1]))


def test_without_views_the_registered_keypoints_are_the_strongest_on_the_grid(engine, works):
    plain = replace(engine.params, stable_candidates=1, stable_view_scales=())
    g = engine._grey(engine.signal(works[1]).data)
    a = F.stable_keypoints(g, n=80, params=plain)
    b = F.orb_keypoints(g, n=80, params=plain)
    np.testing.assert_array_equal(a.xy, b.xy)
    np.testing.assert_array_equal(a.descriptors, b.descriptors)


def test_registered_keypoints_are_those_that_survive_resampled_views(engine, works):
    """The keypoints kept survive more views than the candidates left out, and than those chosen by strength."""
    p = engine.params
    assert p.stable_view_scales and p.stable_candidates == p.orb_detect_factor > 1
    g = engine._grey(engine.signal(works[2]).data)
    kept = F.stable_keypoints(g, n=p.index_keypoints, params=p)
    assert len(kept) == p.index_keypoints
    by_strength = F.orb_keypoints(g, n=p.index_keypoints, params=p)
    # The candidates: every keypoint ORB detects when asked for orb_detect_factor x index_keypoints.
    pool = F.stable_keypoints(g, n=p.stable_candidates * p.index_keypoints,
                              params=replace(p, stable_view_scales=(), orb_detect_factor=1))
    kept_at = {tuple(xy) for xy in kept.xy.tolist()}
    assert kept_at <= {tuple(xy) for xy in pool.xy.tolist()}
    s_pool = F.views_survived(g, pool, params=p)
    left_out = np.array([tuple(xy) not in kept_at for xy in pool.xy.tolist()])
    s_kept = F.views_survived(g, kept, params=p)
    assert s_kept.mean() > s_pool[left_out].mean()
    assert s_kept.mean() > F.views_survived(g, by_strength, params=p).mean()
    assert s_kept.max() <= len(p.stable_view_scales)


def test_stable_keypoints_find_half_crops_with_more_inliers(engine, works):
    """A 50 % area crop, shown larger at the working size, keeps more of the stable keys than of the strongest."""
    plain = ImageEngine(replace(engine.params, stable_candidates=1, stable_view_scales=()))
    idx = {e: [_segment([e.postings(e.fingerprint(e.signal(px)), fp_id=i) for i, px in works.items()])]
           for e in (engine, plain)}
    w, h = 679, 452  # 50 % of 960 x 640
    inliers = {engine: [], plain: []}
    for i, (x0, y0) in zip((1, 2, 3, 1, 2, 3), ((0, 0), (281, 188), (140, 90), (281, 0), (0, 188), (60, 30))):
        for e in inliers:
            found = [m for m in e.locate(_crop_query(e, works[i], (x0, y0, x0 + w, y0 + h)), idx[e], min_score=3)
                     if m.fp_id == i]
            inliers[e].append(found[0].extra.inliers if found else 0)
    assert sum(inliers[engine]) > sum(inliers[plain]), inliers


def test_a_region_shared_with_an_unrelated_picture_is_reported_as_a_part(engine, works, index):
    """A registered picture's quarter pasted into an unrelated one is found as a part: its box and share of the work."""
    other = picture(977, width_px=960, height_px=640).copy()
    x0, y0, x1, y1 = 240, 160, 720, 480  # the work's middle quarter
    other[40:40 + (y1 - y0), 60:60 + (x1 - x0)] = works[1][y0:y1, x0:x1]
    [m] = [m for m in engine.locate(_jpeg_signal(engine, other), index) if m.fp_id == 1]
    bx0, by0, bx1, by1 = m.extra.matched_work_box
    assert x0 - 8 <= bx0 < bx1 <= x1 + 8 and y0 - 8 <= by0 < by1 <= y1 + 8
    fields = engine.match_fields(m, work=type("W", (), {"duration_s": 960.0 * 640.0})())
    assert 0.02 < fields["work_share"] <= 0.25 and fields["matched_work_box"] == list(m.extra.matched_work_box)
    # A whole copy covers most of the work.
    [whole] = [m for m in engine.locate(_jpeg_signal(engine, works[1]), index) if m.fp_id == 1]
    assert whole.extra.work_share is not None and whole.extra.work_share > max(0.4, 4 * fields["work_share"])
    assert engine.evidence_facts(whole)["work_share"] == whole.extra.work_share


def test_an_image_with_nothing_to_find_it_by_is_named_unfindable(engine, works):
    flat = np.full((300, 400, 3), (40, 120, 200), np.uint8)
    clear = np.zeros((300, 400, 4), np.uint8)  # fully transparent: shown over white
    for px, fmt in ((flat, "JPEG"), (clear, "PNG")):
        fp = engine.fingerprint(engine.decode(_encode(px, fmt)))
        why = engine.unfindable_reason(fp)
        assert why and "0 keypoints" in why and "\n" not in why
    assert engine.unfindable_reason(engine.fingerprint(engine.signal(works[1]))) is None
    # A gentle gradient has no keypoints but a whole-image hash: its exact copies can be found.
    ramp = np.repeat(np.linspace(0, 255, 400, dtype=np.float64)[None, :, None], 300, axis=0)
    ramp = np.repeat(ramp + np.linspace(0, 60, 300)[:, None, None], 3, axis=2).clip(0, 255).astype(np.uint8)
    fp = engine.fingerprint(engine.signal(ramp))
    assert engine.unfindable_reason(fp) is None and engine.locate(engine.signal(ramp), [_segment([
        engine.postings(fp, fp_id=5)])])[0].fp_id == 5
