#!/usr/bin/env python3
"""The image engine on Debian's wallpapers (issue 19): copies found, false matches, speed, index size, scale.

    nice -n 10 .venv/bin/python benchmarks/run_image.py --seed 1 --negatives 10000 --scale 1000000 \\
        --out benchmarks/work/image_seed1.json

Registered (the development corpus, Debian packages): ``gnome-backgrounds``
(``/usr/share/backgrounds/gnome``), ``plasma-workspace-wallpapers``
(``/usr/share/wallpapers``) and ``desktop-base`` (``/usr/share/desktop-base``):
every raster image at least 256 pixels a side (of Plasma's, only the largest
size in each folder); an image the engine already finds among those registered
before it (another size or a recoloured variant of the same picture) is
dropped and counted.

Never registered (negatives): the raster images of other Debian packages
(``--negative-dirs``: ``ukui-wallpapers``, ``lomiri-wallpapers``,
``mate-backgrounds``, ``fillets-ng-data``, ``frozen-bubble-data``,
``debian-handbook``), at least 200 pixels a side.  Those listed in
:data:`SHARED_REGIONS` show a drawing that registered works also show (the
Debian swirl): their queries are made as any other's but a match is counted
as a shared region (reported with ``work_share``), not as a false match.

Queries.  Each registered image, read as shown (EXIF applied) and brought to
at most 2048 pixels a side (the copy as found on a web page), is altered
each way of the issue; every query is saved as JPEG (quality 90 unless the
alteration says otherwise) and identified.  Found = the best match is the
right work.  Random choices (crop positions, rotation sign, text box place)
come from ``--seed``: seed 1 was used while developing; seeds 2 and 3 were held
out for version 2, seed 4 for version 3, seed 5 was spent on a version 4 candidate that
was not shipped (benchmarks/RESULTS.md, "Images, session 6") and seed 6 on version 4 ("Images,
session 7"): a next version needs seed 7 or later.
Negative queries are random crops (20-100 % of the area) of the negatives,
each also mirrored, rotated, greyed, shrunk or re-encoded at random, until
``--negatives`` queries; any match is false.  :data:`TRUE_REUSES_KEPT` images are queried as
well, their matches counted as true reuses.  ``--calibrate`` also reports its chance scores for the
even- and odd-numbered calibration images apart (``halves``: decide on one, check on the other).

Speed (CPU seconds of this process, ``time.process_time``): ``--rate-images``
one-megapixel JPEGs (negatives resized to 1,000,000 pixels, quality 85) are
decoded plainly (Pillow, full size, RGB) and scanned (engine decode,
fingerprint of the query, lookup, verification) in the same run; ``--stages``
times each stage of those scans too (:func:`stage_times`).

Scale: ``--scale`` synthetic works are added in one more segment; each
holds ``index_keypoints`` keypoint postings drawn at random from the real
keypoints (key and payload) of the negatives, 16 PDQ bands of a real
negative's hash with a quarter of its bits flipped, and its record.  The
positive queries (and up to 1,000 negatives) are identified again; a
match to a synthetic work is false.  The query CPU after decoding and the keypoint postings each
lookup read (``ImageHits.postings_read``) are reported; ``--param max_postings_per_query=N`` reads
at most N of them, the rarest keys first.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from consentry.engines.image import ImageEngine, ImageEngineParams  # noqa: E402
from consentry.engines.image import features as F  # noqa: E402
from consentry.store.segments import IndexSegment, build_directory  # noqa: E402

DEV_DIRS = ["/usr/share/backgrounds/gnome", "/usr/share/wallpapers", "/usr/share/desktop-base"]
NEG_DIRS = ["/usr/share/backgrounds", "/usr/share/games/fillets-ng", "/usr/share/games/frozen-bubble",
            "/usr/share/doc/debian-handbook"]
EXTS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".bmp"}
TRANSFORMS = ["jpeg_q30", "quarter_size", "crop_50", "mirrored", "rotated_8", "grey", "text_box_15",
              "crop_70_half_q50"]
TARGETS = {"crop_70_half_q50": 0.95}


def _images(root: str, *, exclude: list[str] = ()) -> list[Path]:
    out = []
    for dirpath, _, names in os.walk(root):
        if any(dirpath.startswith(x) for x in exclude):
            continue
        out += [Path(dirpath) / n for n in names if Path(n).suffix.lower() in EXTS and "screenshot" not in n]
    return sorted(out)


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:
        return (0, 0)


def dev_corpus() -> list[Path]:
    """Every raster image (>= 256 px a side) of the development packages; of Plasma's, the largest size of each."""
    by_dir: dict[Path, tuple[int, Path]] = {}
    out = []
    for root in DEV_DIRS:
        for p in _images(root):
            w, h = _size(p)
            if min(w, h) < 256:
                continue
            if root != "/usr/share/wallpapers":
                out.append(p)
            elif p.parent not in by_dir or w * h > by_dir[p.parent][0]:
                by_dir[p.parent] = (w * h, p)
    return sorted(out + [p for _, p in by_dir.values()])


#: Not negatives: Plasma screenshots in the Debian handbook (every language's copy) that show the registered
#: wallpaper "Shell" behind a menu (the engine found it; checked by eye).  A true reuse, not a false match.
TRUE_REUSES = ("debian-handbook/html/*/images/kde.png",)


#: Negatives that show a drawing which registered works also show: the Debian swirl, in red in the handbook's
#: ``debian.png`` (desktop-base's registered ``debian-logos/logo-256.png`` is the same drawing in white) and as the
#: logo on the desktop of its Xfce screenshots (a different wallpaper; the grub backgrounds of Joy and Lines hold the
#: same swirl).  Checked by eye (2026-12-07, issue 19).  A match of such a query is a real copy of a *region* of the
#: work, which the engine reports with ``matched_work_box`` and ``work_share``: it is counted as a shared region,
#: apart from the false matches, in both the calibration and the test (the queries made are the same as before).
SHARED_REGIONS = ("debian-handbook/html/*/images/debian.png", "debian-handbook/html/*/images/xfce.png")


#: True reuses found after version 3's calibration/test split was fixed: the handbook's ``testkvm.png`` (every
#: language's copy) is the Debian installer's menu drawn over Homeworld's grub background, a registered work
#: (checked by eye, session 6).  Their queries are still made, so that the split and the random queries stay as
#: they were, but a match is counted as a true reuse, apart from the false matches (as :data:`SHARED_REGIONS`).
TRUE_REUSES_KEPT = ("debian-handbook/html/*/images/testkvm.png",)


def shares_a_region(path: Path) -> bool:
    """True for a negative listed in :data:`SHARED_REGIONS`."""
    return any(path.match(pattern) for pattern in SHARED_REGIONS)


def counted_apart(path: Path) -> str | None:
    """"shared region", "true reuse" (:data:`TRUE_REUSES_KEPT`) or None for a negative image."""
    if shares_a_region(path):
        return "shared region"
    return "true reuse" if any(path.match(pattern) for pattern in TRUE_REUSES_KEPT) else None


def negative_corpus(dirs: list[str]) -> list[Path]:
    paths = []
    for root in dirs:
        paths += [p for p in _images(root, exclude=DEV_DIRS) if min(_size(p)) >= 200
                  and not any(p.match(pattern) for pattern in TRUE_REUSES)]
    return paths


def base_copy(path: Path):
    """The image as shown (transparency as the engine shows it), RGB, at most 2048 pixels a side."""
    from PIL import Image, ImageOps

    from consentry.engines.image.decode import flatten_alpha

    with Image.open(path) as im:
        im = flatten_alpha(ImageOps.exif_transpose(im))
    im.thumbnail((2048, 2048), Image.Resampling.LANCZOS)
    return im


def jpeg(im, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _crop(im, area: float, rng):
    from PIL import Image  # noqa: F401

    w, h = im.size
    s = area ** 0.5
    cw, ch = max(1, int(w * s)), max(1, int(h * s))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return im.crop((x0, y0, x0 + cw, y0 + ch))


def alter(im, name: str, rng) -> bytes:
    """One of the issue's alterations of a base copy, as JPEG bytes."""
    from PIL import Image, ImageDraw

    w, h = im.size
    if name == "jpeg_q30":
        return jpeg(im, 30)
    if name == "quarter_size":
        return jpeg(im.resize((max(1, w // 4), max(1, h // 4)), Image.Resampling.LANCZOS))
    if name == "crop_50":
        return jpeg(_crop(im, 0.5, rng))
    if name == "mirrored":
        return jpeg(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    if name == "rotated_8":
        return jpeg(im.rotate(8.0 * float(rng.choice([-1, 1])), resample=Image.Resampling.BICUBIC))
    if name == "grey":
        return jpeg(im.convert("L"))
    if name == "text_box_15":
        out = im.copy()
        bw, bh = int(w * 0.15 ** 0.5 * 1.5), int(h * 0.15 ** 0.5 / 1.5)
        x0, y0 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
        d = ImageDraw.Draw(out)
        d.rectangle((x0, y0, x0 + bw, y0 + bh), fill=(20, 20, 20))
        d.text((x0 + 10, y0 + bh // 3), "SALE 50% OFF - consentry benchmark", fill=(255, 255, 255),
               font_size=max(10, bh // 4))
        return jpeg(out)
    if name == "crop_70_half_q50":
        c = _crop(im, 0.7, rng)
        return jpeg(c.resize((max(1, c.width // 2), max(1, c.height // 2)), Image.Resampling.LANCZOS), 50)
    raise ValueError(name)


def negative_query(im, rng) -> bytes:
    from PIL import Image

    c = _crop(im, float(rng.uniform(0.2, 1.0)), rng)
    kind = int(rng.integers(0, 6))
    if kind == 1:
        c = c.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif kind == 2:
        c = c.rotate(float(rng.uniform(-10, 10)), resample=Image.Resampling.BICUBIC)
    elif kind == 3:
        c = c.convert("L")
    elif kind == 4:
        c = c.resize((max(32, c.width // 2), max(32, c.height // 2)))
    return jpeg(c, 50 if kind == 5 else 85)


def segment_of(parts: list[tuple[np.ndarray, np.ndarray]]) -> IndexSegment:
    keys = np.concatenate([k for k, _ in parts]).astype(np.uint32)
    values = np.concatenate([v for _, v in parts]).astype(np.uint64)
    order = np.argsort(keys, kind="stable")
    k = np.ascontiguousarray(keys[order])
    return IndexSegment(k, np.ascontiguousarray(values[order]), *build_directory(k))


def segment_bytes(seg: IndexSegment) -> int:
    return int(seg.keys.nbytes + seg.values.nbytes + seg.directory.nbytes)


def register(engine: ImageEngine, paths: list[Path], *, drop_found: bool = True):
    """Register the corpus in order, dropping an image the engine already finds registered (``drop_found``)."""
    parts, works, dropped = [], {}, []
    seg = None
    for p in paths:
        sig = engine.decode(p)
        if seg is not None and drop_found:
            found = engine.locate(sig, [seg])
            if found:
                dropped.append((str(p), str(works[found[0].fp_id])))
                continue
        fp_id = len(works) + 1
        works[fp_id] = p
        parts.append(engine.postings(engine.fingerprint(sig), fp_id=fp_id))
        seg = segment_of(parts)
    return works, seg, dropped


def synthetic_segment(engine: ImageEngine, pool_keys, pool_payload, pool_pdq, n: int, first_id: int, rng):
    """``n`` synthetic works with real keypoint postings drawn from a pool (module docstring)."""
    p = engine.params
    kp_n = p.index_keypoints
    chunk = 100_000
    key_parts, val_parts = [], []
    weights = np.left_shift(np.uint64(1), np.arange(F.RECORD_CHUNK_BITS, dtype=np.uint64))
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        ids = np.arange(first_id + start, first_id + start + m, dtype=np.uint64)
        pick = rng.integers(0, pool_keys.size, size=(m, kp_n))
        k_kp = pool_keys[pick].ravel()
        v_kp = (np.repeat(ids, kp_n) << np.uint64(F.PAYLOAD_BITS)) | pool_payload[pick].ravel()
        src = pool_pdq[rng.integers(0, pool_pdq.shape[0], size=m)]
        bits = src ^ (rng.random((m, 256)) < 0.25).astype(np.uint8)
        bw = np.left_shift(np.uint32(1), np.arange(16, dtype=np.uint32))
        band_vals = (bits.reshape(m, 16, 16).astype(np.uint32) @ bw)
        k_band = (F.TAG_BAND | (np.arange(16, dtype=np.uint32) << np.uint32(16))[None, :] | band_vals).ravel()
        v_band = np.repeat(ids, 16) << np.uint64(F.PAYLOAD_BITS)
        rec_bits = np.zeros((m, F.RECORD_CHUNKS * F.RECORD_CHUNK_BITS), np.uint8)
        rec_bits[:, :256] = bits
        for i, (v, nb) in enumerate([(1920, 16), (1080, 16), (90, 7)]):
            off = 256 + 16 * i
            rec_bits[:, off:off + nb] = [(v >> j) & 1 for j in range(nb)]
        chunks = rec_bits.reshape(m, F.RECORD_CHUNKS, F.RECORD_CHUNK_BITS).astype(np.uint64) @ weights
        chunks |= np.arange(F.RECORD_CHUNKS, dtype=np.uint64)[None, :] << np.uint64(F.RECORD_CHUNK_BITS)
        k_rec = np.repeat(F.TAG_RECORD | ids.astype(np.uint32), F.RECORD_CHUNKS)
        v_rec = (np.repeat(ids, F.RECORD_CHUNKS) << np.uint64(F.PAYLOAD_BITS)) | chunks.ravel()
        key_parts += [k_kp, k_band, k_rec]
        val_parts += [v_kp, v_band, v_rec]
    return segment_of(list(zip(key_parts, val_parts)))


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def calibrate(engine: ImageEngine, seg, negs: list[Path], n: int, rng, works: dict | None = None) -> dict:
    """The best keypoint score of each never-registered query (even-numbered negatives), and the tail fit.

    ``min_inliers`` is set two above the largest chance score seen, and
    ``pdq_max_distance`` four below the smallest PDQ distance of a chance
    match (at most the lookup's reach, 31 bits); the tail
    ``P(best chance >= s | a fit) ~ exp(-(s - at) / per_e)`` is fitted to the
    scores of at least 3 (``at`` = 3, the fewest inliers of a fit; maximum
    likelihood of an exponential), which :meth:`ImageEngine.confidence` uses.

    ``halves``: the same for the queries of the even- and of the odd-numbered
    calibration images apart (a threshold decided on one half is checked on
    the other: ``other_half_at_or_above`` counts the other half's queries
    scoring at least the half's ``min_inliers``).  Images listed by
    :func:`counted_apart` are queried but kept out of the chance scores.
    """
    best, pdq, top, shared, half = [], [], [], [], []
    per = max(1, -(-n // max(1, len(negs))))
    for i, p in enumerate(negs):
        if len(best) + len(shared) >= n:
            break
        try:
            im = base_copy(p)
        except Exception:
            continue
        for _ in range(min(per, n - len(best) - len(shared))):
            res = engine.locate(engine.decode(negative_query(im, rng)), [seg], min_score=3)
            kp = [m for m in res if m.extra.method == "keypoints"]
            if counted_apart(p):
                shared.append((max((m.score for m in kp), default=0.0), counted_apart(p)))
                continue
            best.append(max(m.score for m in kp) if kp else 0.0)
            half.append(i % 2)
            if kp and works:
                m = max(kp, key=lambda m: m.score)
                top.append((m.score, str(p), str(works[m.fp_id])))
            pdq += [m.extra.pdq_distance for m in res if m.extra.pdq_distance is not None]
    b, h = np.asarray(best), np.asarray(half)
    halves = [_chance_tail(b[h == k]) for k in (0, 1)]
    for k in (0, 1):
        halves[k]["other_half_at_or_above"] = int(np.sum(b[h != k] >= halves[k]["min_inliers"]))
    apart = [sc for sc, kind in shared if kind == "shared region"]
    reuse = [sc for sc, kind in shared if kind == "true reuse"]
    return {**_chance_tail(b), "negative_images": len(negs), "halves": halves,
            "pdq_chance_distances": sorted(int(d) for d in pdq),
            "highest": [{"score": sc, "query_of": q, "work": w} for sc, q, w in sorted(top, reverse=True)[:12]],
            "shared_region_queries": len(apart), "shared_region_scores": sorted(apart, reverse=True)[:20],
            "true_reuse_queries": len(reuse), "true_reuse_scores": sorted(reuse, reverse=True)[:20],
            "pdq_max_distance": min(engine.params.pdq_max_distance, min(pdq, default=999) - 4)}


def _chance_tail(b: np.ndarray) -> dict:
    """Counts of the best chance scores ``b``, ``min_inliers`` (two above the largest) and the tail fit."""
    at = 3.0  # the fewest inliers a fit has: the tail is fitted to the queries that gave one
    tail = b[b >= at]
    per_e = float(np.mean(tail - at)) if tail.size else 1.0
    hist = {int(k): int(v) for k, v in zip(*np.unique(b.astype(int), return_counts=True))}
    return {"queries": int(b.size), "best_score_counts": hist,
            "max_chance_score": float(b.max()) if b.size else 0.0, "min_inliers": int(b.max()) + 2 if b.size else 0,
            "chance_inliers_at": round(at, 2), "chance_inliers_per_e": round(per_e, 2)}


def stage_times(engine: ImageEngine, seg, jpegs: list[bytes]) -> dict:
    """CPU ms per image of each stage of a scan of ``jpegs`` (one process, one pass), and plain decode's.

    Stages: plain decode (Pillow, full size, RGB); the engine's decode, and of it the JPEG decode in
    draft mode alone; the query's features (both sides), and of them ORB on one side and PDQ on
    one side; the lookup; the verification.
    """
    import math

    from PIL import Image

    from consentry.engines.image.search import candidates, verify

    def draft(data: bytes):
        im = Image.open(io.BytesIO(data))
        s = engine.params.work_side_px / max(im.size)
        im.draft("RGB", (math.ceil(im.width * s), math.ceil(im.height * s)))
        im.load()
        return im

    t: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.process_time()
        out = fn()
        t[name] = t.get(name, 0.0) + time.process_time() - t0
        return out

    for data in jpegs:
        timed("plain_decode", lambda: Image.open(io.BytesIO(data)).convert("RGB"))
        timed("draft_decode_only", lambda: draft(data))
        sig = timed("engine_decode", lambda: engine.decode(data))
        grey = timed("grey_and_stretch", lambda: engine._grey(sig.data))
        timed("orb_one_side", lambda: F.orb_keypoints(grey, n=engine.params.query_keypoints, params=engine.params))
        timed("pdq_one_side", lambda: F.pdq_hash(sig.data))
        q = timed("query_features", lambda: engine.query_print(sig))
        hits = timed("lookup", lambda: candidates(q, [seg], engine.params))
        timed("verify", lambda: verify(hits, q, engine.params, min_score=engine.params.min_inliers))
    n = max(1, len(jpegs))
    out = {k: round(1000 * v / n, 2) for k, v in t.items()}
    scan = sum(t[k] for k in ("engine_decode", "query_features", "lookup", "verify")) if jpegs else 0.0
    out["scan"] = round(1000 * scan / n, 2)
    out["plain_decode_over_scan"] = round(t["plain_decode"] / scan, 3) if scan else None
    out["images"] = len(jpegs)
    return out


def _params(pairs: list[str]) -> ImageEngineParams:
    base = ImageEngineParams()
    kw = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        kind = type(getattr(base, name))
        if kind is tuple:
            default = getattr(base, name)
            item = type(default[0]) if default else float
            kw[name] = tuple(item(v) for v in value.split(",") if v)
        else:
            kw[name] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    return dataclasses.replace(base, **kw)


def _save(path: Path | None, report: dict) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="1 = development, 2 = held out")
    ap.add_argument("--negatives", type=int, default=10_000, help="never-registered queries to make")
    ap.add_argument("--negative-dirs", nargs="*", default=NEG_DIRS)
    ap.add_argument("--negative-part", default="0/1", help="I/N: only every N-th negative image from the I-th "
                    "(to run the negatives in N processes at once; the parts share no image)")
    ap.add_argument("--rate-images", type=int, default=200)
    ap.add_argument("--stages", action="store_true", help="also time each stage of the --rate-images scans (CPU ms)")
    ap.add_argument("--scale", type=int, default=0, help="synthetic works for the scale run (0: none)")
    ap.add_argument("--scale-queries", type=int, default=1000, help="negatives re-identified in the scale run")
    ap.add_argument("--param", action="append", default=[], help="NAME=VALUE of ImageEngineParams (exploring only)")
    ap.add_argument("--calibrate", type=int, default=0,
                    help="only measure the best chance score on this many queries of the calibration negatives")
    ap.add_argument("--works", type=Path, help="register exactly these images (one path a line; none dropped), "
                    "e.g. benchmarks/image_works_v1.txt: the 67 that version 1 registered, or image_works_v3.txt: the "
                    "64 of version 3, to compare versions")
    ap.add_argument("--skip-positives", action="store_true", help="only the negatives (to run them in parts)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    import machine

    engine = ImageEngine(_params(args.param))
    rng = np.random.default_rng(args.seed)
    report: dict = {"engine": str(engine.id), "seed": args.seed, "started_utc": time.strftime("%Y-%m-%d %H:%M:%S",
                    time.gmtime()), "load_average_start": machine.load_average(), "cpu": machine.cpu_model()}
    # Register.
    if args.works:
        paths = [Path(line) for line in args.works.read_text().split() if line]
        (works, seg, dropped), t_reg = _timed(lambda: register(engine, paths, drop_found=False))
    else:
        paths = dev_corpus()
        (works, seg, dropped), t_reg = _timed(lambda: register(engine, paths))
    report["corpus"] = {"images": len(paths), "registered": len(works), "dropped_as_found": len(dropped),
                        "register_s": round(t_reg, 1)}
    report["index_bytes_per_image"] = round(segment_bytes(seg) / len(works), 1)
    report["postings_per_image"] = round(len(seg) / len(works), 1)
    print(f"registered {len(works)} of {len(paths)} ({len(dropped)} already found), "
          f"{report['index_bytes_per_image']} index bytes per image", flush=True)
    if args.calibrate:
        report["calibration"] = calibrate(engine, seg, negative_corpus(args.negative_dirs)[0::2], args.calibrate, rng,
                                         works)
        print(json.dumps(report["calibration"], indent=1))
        if args.out:
            args.out.write_text(json.dumps(report, indent=2) + "\n")
        return 0
    # Positive queries.
    queries: list[tuple[int, str, bytes]] = []
    for fp_id, p in works.items() if not args.skip_positives else []:
        im = base_copy(p)
        for name in TRANSFORMS:
            queries.append((fp_id, name, alter(im, name, rng)))
    found = {n: [] for n in TRANSFORMS}
    wrong_top = 0
    times = []
    for fp_id, name, data in queries:
        res, dt = _timed(lambda: engine.locate(engine.decode(data), [seg]))
        times.append(dt)
        found[name].append(bool(res) and res[0].fp_id == fp_id)
        wrong_top += bool(res) and res[0].fp_id != fp_id
    report["found_top1"] = {n: {"found": int(sum(v)), "of": len(v), "rate": round(sum(v) / len(v), 4),
                                "target": TARGETS.get(n, 0.97)} for n, v in found.items() if v}
    report["positive_wrong_top1"] = int(wrong_top)
    report["positive_query_ms"] = {"median": round(1000 * statistics.median(times), 1),
                                   "p95": round(1000 * _pct(times, 95), 1)} if times else None
    _save(args.out, report)
    for n, v in report["found_top1"].items():
        print(f"  {n:18s} {v['found']:4d}/{v['of']:<4d} {100 * v['rate']:.1f}%", flush=True)
    # Negatives: the odd-numbered images (sorted by path); the even-numbered ones are for --calibrate only.
    all_negs = negative_corpus(args.negative_dirs)
    part, parts = (int(v) for v in args.negative_part.split("/"))
    negs = all_negs[1::2][part::parts]
    report["negative_images"] = len(negs)
    per = max(1, -(-args.negatives // max(1, len(negs))))
    false, n_neg, neg_times, false_examples, shared_found = 0, 0, [], [], []
    n_shared, n_reuse = 0, 0
    neg_queries_kept: list[tuple[bytes, bool]] = []  # (query, of an image counted apart: counted_apart)
    for p in negs:
        if n_neg >= args.negatives:
            break
        try:
            im = base_copy(p)
        except Exception:
            continue
        for _ in range(per):
            if n_neg >= args.negatives:
                break
            data = negative_query(im, rng)
            res, dt = _timed(lambda: engine.locate(engine.decode(data), [seg]))
            neg_times.append(dt)
            n_neg += 1
            kind = counted_apart(p)
            n_shared += kind == "shared region"
            n_reuse += kind == "true reuse"
            if len(neg_queries_kept) < args.scale_queries:
                neg_queries_kept.append((data, kind is not None))
            if res and kind:
                m = res[0]
                shared_found.append({"kind": kind, "query_of": str(p), "work": str(works[m.fp_id]), "score": m.score,
                                     "method": m.extra.method, "matched_work_box": m.extra.matched_work_box,
                                     "work_share": m.extra.work_share})
            elif res:
                false += 1
                if len(false_examples) < 20:
                    m = res[0]
                    false_examples.append({"query_of": str(p), "work": str(works[m.fp_id]), "score": m.score,
                                           "method": m.extra.method, "work_share": m.extra.work_share})
        if n_neg and n_neg % 250 < per:
            print(f"  negatives {n_neg}: {false} false", flush=True)
            report["negatives"] = {"queries": n_neg, "false_matches": false, "examples": false_examples,
                                   "shared_region_queries": n_shared, "true_reuse_queries": n_reuse,
                                   "matches_counted_apart": shared_found,
                                   "partial": True}
            _save(args.out, report)
    report["negatives"] = {"queries": n_neg, "false_matches": false, "examples": false_examples,
                           "shared_region_queries": n_shared, "true_reuse_queries": n_reuse,
                           "matches_counted_apart": shared_found,
                           "query_ms_median": round(1000 * statistics.median(neg_times), 1) if neg_times else None}
    n_apart = [sum(m["kind"] == k for m in shared_found) for k in ("shared region", "true reuse")]
    print(f"negatives: {false} false matches in {n_neg} queries ({n_neg - n_shared - n_reuse} of images counted "
          f"with none apart); {n_apart[0]} matches in {n_shared} queries of images sharing a region "
          f"(SHARED_REGIONS), {n_apart[1]} in {n_reuse} of true reuses (TRUE_REUSES_KEPT)", flush=True)
    # Scan rate against plain decode, same run, CPU seconds.
    from PIL import Image

    rate_jpegs = []
    for p in negs[: args.rate_images] if args.rate_images else []:
        im = base_copy(p)
        s = (1_000_000 / (im.width * im.height)) ** 0.5
        rate_jpegs.append(jpeg(im.resize((max(1, round(im.width * s)), max(1, round(im.height * s)))), 85))
    t0 = time.process_time()
    for data in rate_jpegs if rate_jpegs else []:
        with Image.open(io.BytesIO(data)) as im:
            im.convert("RGB").load()
    t_decode = time.process_time() - t0
    t0 = time.process_time()
    for data in rate_jpegs:
        engine.locate(engine.decode(data), [seg])
    t_scan = time.process_time() - t0
    report["rate"] = {"images": len(rate_jpegs),
                      "plain_decode_per_cpu_s": round(len(rate_jpegs) / t_decode, 1) if rate_jpegs else None,
                      "scan_per_cpu_s": round(len(rate_jpegs) / t_scan, 1) if rate_jpegs else None,
                      "scan_over_decode": round(t_decode / t_scan, 3) if rate_jpegs else None}
    print(f"rate: {report['rate']}", flush=True)
    if args.stages:
        report["stages_cpu_ms"] = stage_times(engine, seg, rate_jpegs)
        print(f"stages (CPU ms an image): {report['stages_cpu_ms']}", flush=True)
    # Scale.
    if args.scale:
        pool_k, pool_v, pool_pdq = [], [], []
        for p in negs[:400]:
            try:
                sig = engine.decode(p)
            except Exception:
                continue
            fp = engine.fingerprint(sig)
            kp = (fp.keys & F.TAG_MASK) == F.TAG_KEYPOINT
            pool_k.append(fp.keys[kp])
            pool_v.append(fp.fields["payload"][kp])
            pool_pdq.append(F.pdq_hash(sig.data).bits)
        t_build = time.perf_counter()
        big = synthetic_segment(engine, np.concatenate(pool_k), np.concatenate(pool_v), np.stack(pool_pdq),
                                args.scale, len(works) + 1, rng)
        t_build = time.perf_counter() - t_build
        segs = [seg, big]
        scale_queries = queries or [(fp_id, name, alter(base_copy(p), name, rng)) for (fp_id, p), name in
                                    zip(works.items(), TRANSFORMS * len(works))]
        engine.locate(engine.decode(scale_queries[0][2]), segs)  # warm-up
        s_times, s_found, s_false, read = [], 0, 0, []

        def located(sig):  # engine.locate, step by step, keeping the postings its lookup read
            q = engine.query_print(sig)
            hits = engine.candidates(q, segs)
            read.append(hits.postings_read)
            return engine.verify(hits, q, min_score=engine.min_score_for(sig.size), searched=sig.size)

        for fp_id, name, data in scale_queries:
            sig = engine.decode(data)
            t0 = time.process_time()
            res = located(sig)
            s_times.append(time.process_time() - t0)
            s_found += bool(res) and res[0].fp_id == fp_id
            s_false += sum(1 for m in res if m.fp_id > len(works))
        n_times, n_false, n_synthetic, n_shared_found = [], 0, 0, 0
        for data, shared in neg_queries_kept:
            sig = engine.decode(data)
            t0 = time.process_time()
            res = located(sig)
            n_times.append(time.process_time() - t0)
            n_synthetic += any(m.fp_id > len(works) for m in res)
            n_shared_found += bool(res) and shared  # a region shared with a work, or a true reuse (counted_apart)
            n_false += bool(res) and not shared
        report["scale"] = {
            "synthetic_works": args.scale, "pool_images": len(pool_pdq), "build_s": round(t_build, 1),
            "index_bytes_per_image": round((segment_bytes(seg) + segment_bytes(big)) / (len(works) + args.scale), 1),
            "positive_queries": len(scale_queries), "found_top1": round(s_found / len(scale_queries), 4),
            "synthetic_matches": int(s_false),
            "negative_queries": len(neg_queries_kept), "negative_false_matches": int(n_false),
            "negative_synthetic_matches": int(n_synthetic),
            "negative_shared_region_queries": int(sum(sh for _, sh in neg_queries_kept)),
            "negative_shared_region_matches": int(n_shared_found),
            "query_cpu_ms_after_decode": {"median": round(1000 * statistics.median(s_times + n_times), 1),
                                      "p95": round(1000 * _pct(s_times + n_times, 95), 1)},
            "query_cpu_s_total": round(sum(s_times + n_times), 1),
            "postings_read_per_query": {"median": int(statistics.median(read)), "mean": round(float(np.mean(read))),
                                        "p95": int(_pct(read, 95))}}
        print(f"scale: {report['scale']}", flush=True)
    report["load_average_end"] = machine.load_average()
    report["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "negatives"}, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
