"""Searching the index for an image: the query's features, candidate lookup, geometric verification.

Two routes, both through the same segments:

- **whole-image near duplicates** by PDQ: the query's hash and its mirror
  image's hash are looked up by multi-index hashing (each of the 16 bands
  of 16 bits, and every band one bit away: any stored hash within 31 bits
  shares at least one such band), then compared in full with each
  candidate's record (its whole hash);
- **parts** by ORB keypoints: each query keypoint's descriptor key (and the
  mirror image's) is looked up, hits are kept whose check bits agree, works
  are ranked by voting keypoints, and the best are verified by a RANSAC fit
  of a similarity (scale, rotation, shift) from work to query, after a
  vote on the keypoints' rotation difference.  The score is the number of
  keypoints that agree with the fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..base import Extent, Located, SegmentLike
from . import features as F
from .params import ImageEngineParams

__all__ = ["ImageExtra", "ImageHits", "MatchedPoints", "QueryPrint", "QuerySide", "candidates", "verify"]


@dataclass(frozen=True)
class QuerySide:
    """The query's features as seen directly (``mirrored=False``) or in its left-right mirror image."""

    mirrored: bool
    keypoints: F.Keypoints
    keys: np.ndarray      # uint32 (n,)
    check: np.ndarray     # uint32 (n,)
    pdq: F.PdqHash
    #: uint32 (n, j): keys and check bits of the same keypoints described at jittered orientations
    #: (``params.query_angle_jitter_deg``): more chances that a key survives the copy's changes.
    jitter_keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint32))
    jitter_check: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint32))

    def __post_init__(self) -> None:
        if self.jitter_keys.shape[0] != len(self.keys):  # no jitter: no columns
            object.__setattr__(self, "jitter_keys", np.zeros((len(self.keys), 0), np.uint32))
            object.__setattr__(self, "jitter_check", np.zeros((len(self.keys), 0), np.uint32))


@dataclass(frozen=True)
class QueryPrint:
    """The query side's features.

    Attributes
    ----------
    sides : tuple of QuerySide
        The image itself, then (if the engine searches mirror images) its mirror image.
    width_px, height_px : int
        The query image's size (pixels, EXIF orientation applied).
    work_width_px, work_height_px : int
        Its working image's size (pixels).
    """

    sides: tuple[QuerySide, ...]
    width_px: int
    height_px: int
    work_width_px: int
    work_height_px: int


@dataclass(frozen=True)
class ImageHits:
    """What the query's keys reach in the index.

    Attributes
    ----------
    kp_side, kp_index : ndarray of int64, shape (k,)
        Which side and which of its keypoints each hit belongs to.
    kp_values : ndarray of uint64, shape (k,)
        The postings hit (only those whose check bits agree, for the works kept for verification).
    kp_keys : ndarray of uint32, shape (k,) or None
        Their keys, when looked up ``with_keys``.
    records : dict
        ``fp_id -> (PdqHash, width_px, height_px)`` of every work a PDQ band reaches.
    pdq_fp_ids : ndarray of int64
        Works that share a PDQ band (within one bit) with a side of the query.
    segments : tuple
        The segments looked up (for the guided lookup of near misses, ``params.guided_min_inliers``).
    postings_read : int
        Keypoint postings the lookup read (before any was dropped): what a query costs as the
        catalogue grows (``params.max_postings_per_query`` bounds it).
    """

    kp_side: np.ndarray
    kp_index: np.ndarray
    kp_values: np.ndarray
    kp_keys: np.ndarray | None
    records: dict
    pdq_fp_ids: np.ndarray
    segments: tuple = ()
    postings_read: int = 0


@dataclass(frozen=True)
class MatchedPoints:
    """The keypoint correspondences behind a match (inliers), in each image's pixels.

    Attributes
    ----------
    query_xy, work_xy : ndarray of float32, shape (k, 2)
    keys : ndarray of uint32, shape (k,) or None
    total : int
        Inliers in all (the arrays may hold fewer, ``max_evidence``).
    query_pdq, work_pdq : str
        The two PDQ hashes (hex) and their distance, for a whole-image match.
    """

    query_xy: np.ndarray
    work_xy: np.ndarray
    keys: np.ndarray | None
    total: int
    query_pdq: str = ""
    work_pdq: str = ""


@dataclass(frozen=True)
class ImageExtra:
    """What an image match says beyond its boxes.

    The query holds the work (the part in ``work``) scaled by ``scale``
    (query pixels per work pixel), rotated by ``rotation_deg`` (clockwise
    as displayed), then mirrored left-right when ``mirrored``.

    Attributes
    ----------
    method : str
        ``"keypoints"`` (a geometric fit of local features) or ``"pdq"``
        (a whole-image near duplicate by PDQ hash).
    scale : float
    rotation_deg : float
    mirrored : bool
    inliers : int
        Keypoints that agree with the fit (0 for ``"pdq"``).
    pdq_distance : int or None
        Bits (of 256) by which the two PDQ hashes differ, when both are trusted.
    work_to_query : tuple of 6 floats
        The affine map ``[a, b, c, d, e, f]`` taking work pixels ``(x, y)`` to
        query pixels ``(a x + b y + c, d x + e y + f)``.
    matched_work_box : tuple of 4 floats or None
        ``(x0, y0, x1, y1)``, work pixels: the box around the matched keypoints in the work (the
        whole work for ``"pdq"``): the part of the work that the evidence shows is in the query.
    work_share : float or None
        Fraction (0-1) of the work's area inside ``matched_work_box``, when the work's size is
        known: a small share is a *part* of the work (a logo it shares with the query), not the work.
    """

    method: str
    scale: float
    rotation_deg: float
    mirrored: bool
    inliers: int
    pdq_distance: int | None
    work_to_query: tuple[float, ...] = field(default=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0))
    matched_work_box: tuple[float, ...] | None = None
    work_share: float | None = None


# ---------------------------------------------------------------------------- lookup
def _gather(segments, keys: np.ndarray, *, cap: int, budget: int = 0):
    """``(query key index int64, values uint64)`` of every posting of ``keys``; keys over ``cap`` postings skipped.

    Each distinct key is looked up once (a binary search of the segment's sorted keys, NumPy's
    ``searchsorted`` over the sorted distinct keys).  ``budget`` > 0: at most that many postings
    are read, the rarest keys first (fewest postings in all segments, then the smaller key): a
    key that many works share says little about any of them (:func:`_within_budget`).
    """
    keys = np.ascontiguousarray(keys, dtype=np.uint32)
    idx_parts, val_parts = [], []
    if keys.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    distinct, inverse = np.unique(keys, return_inverse=True)
    runs = []
    for seg in segments:
        if len(seg.keys) == 0:
            continue
        lo_d = np.searchsorted(seg.keys, distinct, side="left").astype(np.int64)
        n_d = np.searchsorted(seg.keys, distinct, side="right").astype(np.int64) - lo_d
        n_d[n_d > cap] = 0
        runs.append((seg, lo_d, n_d))
    if budget > 0 and runs:
        wanted = _within_budget(sum(n_d for _, _, n_d in runs), np.bincount(inverse, minlength=distinct.size), budget)
        for _, _, n_d in runs:
            n_d[~wanted] = 0
    for seg, lo_d, n_d in runs:
        n = n_d[inverse]
        which = np.flatnonzero(n)
        if which.size == 0:
            continue
        lo, n = lo_d[inverse][which], n[which]
        total = int(n.sum())
        pos = np.repeat(lo, n) + (np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(n) - n, n))
        idx_parts.append(np.repeat(which, n))
        val_parts.append(np.asarray(seg.values[pos], dtype=np.uint64))
    if not idx_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    return np.concatenate(idx_parts), np.concatenate(val_parts)


def _within_budget(postings: np.ndarray, asked: np.ndarray, budget: int) -> np.ndarray:
    """Which distinct keys (bool, same shape) to read: the rarest first while their postings fit ``budget``.

    Parameters
    ----------
    postings : ndarray of int64, shape (d,)
        Postings each distinct key holds (all segments, keys over the cap counted as 0).
    asked : ndarray of int64, shape (d,)
        How many probes ask for each (each reads the key's postings once).
    budget : int
        Most postings read in all.
    """
    cost = postings * asked
    order = np.argsort(postings, kind="stable")  # the distinct keys are sorted: ties go to the smaller key
    fits = np.cumsum(cost[order]) <= budget
    wanted = np.zeros(postings.size, bool)
    wanted[order[fits]] = True
    return wanted


#: Set bits of each byte value (uint8, (256,)).
_POPCOUNT8 = np.array([bin(v).count("1") for v in range(256)], np.uint8)


def _check_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between check bits ``a`` and ``b`` (each fits a byte), element by element (uint8)."""
    return _POPCOUNT8[np.asarray(a).astype(np.uint8) ^ np.asarray(b).astype(np.uint8)]


def _fp(values: np.ndarray) -> np.ndarray:
    return (np.asarray(values, np.uint64) >> np.uint64(F.PAYLOAD_BITS)).astype(np.int64)


def _payload(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, np.uint64) & np.uint64((1 << F.PAYLOAD_BITS) - 1)


def _probe_keys(pdq: F.PdqHash) -> np.ndarray:
    """The 16 band keys of a hash and every key one bit away (uint32, shape (16 * 17,))."""
    base = F.band_keys(pdq.bits)
    flips = np.left_shift(np.uint32(1), np.arange(16, dtype=np.uint32))
    return np.concatenate([base, (base[:, None] ^ flips[None, :]).ravel()]).astype(np.uint32)


def _records(segments, fp_ids: np.ndarray, record_ids: np.ndarray) -> dict:
    """``fp_id -> (PdqHash, width_px, height_px)`` of the works whose record ids are known."""
    if fp_ids.size == 0:
        return {}
    pairs = np.unique(np.stack([np.asarray(fp_ids, np.int64), np.asarray(record_ids, np.int64)]), axis=1)
    rids = np.unique(pairs[1])
    idx, values = _gather(segments, (F.TAG_RECORD | rids.astype(np.uint32)).astype(np.uint32),
                          cap=64 * F.RECORD_CHUNKS)
    wanted = set(pairs[0].tolist())
    fps = _fp(values)
    out = {}
    for fp_id in np.unique(fps).tolist():
        if fp_id in wanted:
            rec = F.unpack_record(_payload(values[fps == fp_id]))
            if rec is not None:
                out[int(fp_id)] = rec
    return out


def _flip_masks(key_bits: int, flips: int) -> np.ndarray:
    """XOR masks (uint32) of every way to flip at most ``flips`` (0-2) of ``key_bits`` bits: 0 first, then one bit, two."""
    one = np.left_shift(np.uint32(1), np.arange(key_bits, dtype=np.uint32))
    parts = [np.zeros(1, np.uint32)] + ([one] if flips >= 1 else [])
    if flips >= 2:
        i, j = np.triu_indices(key_bits, k=1)
        parts.append(one[i] | one[j])
    return np.concatenate(parts).astype(np.uint32)


def _rotation_bins(params: ImageEngineParams) -> int:
    """Angle bins by which a hit's keypoint orientations may differ: the largest rotation, and one bin of binning."""
    return min(F.ANGLE_BINS // 2, int(math.ceil(params.max_rotation_deg * F.ANGLE_BINS / 360.0)) + 1)


def candidates(query: QueryPrint, segments, params: ImageEngineParams, *, with_keys: bool = False) -> ImageHits:
    """Look the query up in ``segments``: PDQ band hits, and keypoint hits of the works most keypoints vote for.

    Keypoint keys holding more than ``params.max_postings_per_key`` postings
    in a segment are skipped (stop words); hits whose ``check_bits`` differ
    in more than ``params.max_check_distance`` bits are dropped, and those whose
    keypoint orientations differ by more than ``params.max_rotation_deg`` (and a
    bin); of the rest,
    the ``params.max_candidate_works`` (work, side) pairs with the most
    distinct voting keypoints (at least ``params.min_votes``) are kept.
    """
    sides = query.sides
    # Keypoints.
    side_of = np.concatenate([np.full(len(s.keys), i, np.int64) for i, s in enumerate(sides)])
    index_of = np.concatenate([np.arange(len(s.keys), dtype=np.int64) for s in sides])
    # Each keypoint's keys: its own, then those of its descriptors at jittered orientations (columns).
    all_keys = np.concatenate([np.column_stack([s.keys, s.jitter_keys]) for s in sides]).astype(np.uint32)
    all_check = np.concatenate([np.column_stack([s.check, s.jitter_check]) for s in sides]).astype(np.uint32)
    masks = _flip_masks(params.key_bits, params.query_key_flips)  # the key, and every key that many bits away
    per_key = masks.size
    probes = all_keys[:, :, None] ^ masks[None, None, :]
    pi, values = _gather(segments, probes.ravel(), cap=params.max_postings_per_key,
                         budget=params.max_postings_per_query)
    row = all_keys.shape[1] * per_key  # probes per keypoint
    postings_read = int(pi.size)
    # Check bits first (about one posting in nine passes), then everything else on the survivors only.
    qi, col = pi // row, (pi % row) // per_key
    sel = np.flatnonzero(_check_distance((values >> np.uint64(32)) & np.uint64(63), all_check[qi, col])
                         <= params.max_check_distance)
    pi, qi, values = pi[sel], qi[sel], values[sel]
    probe_keys = probes.ravel()[pi] if with_keys else None
    # Orientations must differ by at most the largest rotation (plus a bin either way for binning).
    all_angle = np.concatenate([s.keypoints.angle_deg for s in sides]).astype(np.float64)
    q_bins = np.floor(all_angle * (F.ANGLE_BINS / 360.0)).astype(np.int64) % F.ANGLE_BINS
    w_bin = ((values >> np.uint64(24)) & np.uint64(31)).astype(np.int64)
    turn = (q_bins[qi] - w_bin) % F.ANGLE_BINS
    ok = np.minimum(turn, F.ANGLE_BINS - turn) <= _rotation_bins(params)
    if all_keys.shape[1] > 1:  # a posting reached through several of a keypoint's keys counts once
        first = np.zeros(pi.size, bool)
        sel = np.flatnonzero(ok)
        order = sel[np.lexsort((values[sel], qi[sel]))]
        first[order] = np.r_[True, (np.diff(qi[order]) != 0) | (np.diff(values[order].astype(np.int64)) != 0)]
        ok &= first
    qi, values = qi[ok], values[ok]
    if with_keys:
        probe_keys = probe_keys[ok]
    fp = _fp(values)
    pair = fp * 2 + side_of[qi]
    keep_pairs = np.zeros(0, np.int64)
    if pair.size:
        # Distinct (pair, query keypoint) as one int64 code (pair < 2**27, keypoints < 2**20), sorted.
        n_kp = max(1, side_of.size)
        u = np.unique(pair * n_kp + qi) // n_kp
        starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
        p, votes = u[starts], np.diff(np.r_[starts, u.size])
        good = votes >= params.min_votes
        p, votes = p[good], votes[good]
        keep_pairs = p[np.argsort(-votes, kind="stable")[: params.max_candidate_works]]
    keep = np.isin(pair, keep_pairs)
    # PDQ bands (within one bit), for each side whose hash is trusted.
    band_values = [np.zeros(0, np.uint64)]
    for s in sides:
        if s.pdq.quality >= params.pdq_min_quality:
            band_values.append(_gather(segments, _probe_keys(s.pdq), cap=params.max_postings_per_key)[1])
    bv = np.concatenate(band_values)
    pdq_fp_ids = np.unique(_fp(bv))
    # A keypoint candidate's record is known only when one of its bands was reached too.
    records = _records(segments, _fp(bv), _payload(bv) & np.uint64((1 << 30) - 1))
    return ImageHits(side_of[qi[keep]], index_of[qi[keep]], values[keep],
                     probe_keys[keep] if with_keys else None, records, pdq_fp_ids,
                     tuple(segments) if params.guided_min_inliers > 0 else (), postings_read)


# ---------------------------------------------------------------------------- verification
def _boxes(m: np.ndarray, wq: float, hq: float, ww: float, hw: float) -> tuple[Extent, Extent] | None:
    """The matched region in each image under ``m`` (2x3, work pixels -> query pixels).

    The work box is the query's frame mapped into the work, cut to the work's
    frame; the query box is that work box mapped into the query, cut to the
    query's frame.
    """
    a = np.vstack([m, [0.0, 0.0, 1.0]])
    try:
        inv = np.linalg.inv(a)[:2]
    except np.linalg.LinAlgError:
        return None

    def box(mat, x0, y0, x1, y1, w_to, h_to):
        c = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], np.float64) @ mat.T
        bx0, by0 = max(0.0, c[:, 0].min()), max(0.0, c[:, 1].min())
        bx1, by1 = min(float(w_to), c[:, 0].max()), min(float(h_to), c[:, 1].max())
        return None if bx1 <= bx0 or by1 <= by0 else (bx0, by0, bx1, by1)

    w = box(inv, 0.0, 0.0, wq, hq, ww, hw)
    if w is None:
        return None
    q = box(m, *w, wq, hq)
    if q is None:
        return None
    return Extent.box(*(round(v, 1) for v in q)), Extent.box(*(round(v, 1) for v in w))


def _point_boxes(q_xy: np.ndarray, w_xy: np.ndarray, wq: float, hq: float) -> tuple[Extent, Extent] | None:
    """Boxes around matched points (shapes (k, 2), pixels): within the matched region, never past it."""
    if len(q_xy) < 2:
        return None
    q0, q1 = np.clip(q_xy.min(axis=0), 0, None), np.minimum(q_xy.max(axis=0), [wq, hq])
    w0, w1 = np.clip(w_xy.min(axis=0), 0, None), w_xy.max(axis=0)
    if (q1 <= q0).any() or (w1 <= w0).any():
        return None
    return (Extent.box(*(round(float(v), 1) for v in (*q0, *q1))),
            Extent.box(*(round(float(v), 1) for v in (*w0, *w1))))


def _fit(work_xy: np.ndarray, query_xy: np.ndarray, threshold_px: float, params: ImageEngineParams):
    import cv2

    m, inl = cv2.estimateAffinePartial2D(work_xy.reshape(-1, 1, 2), query_xy.reshape(-1, 1, 2), method=cv2.RANSAC,
                                         ransacReprojThreshold=threshold_px, maxIters=params.ransac_iterations,
                                         confidence=0.995, refineIters=10)
    if m is None or inl is None:
        return None, None
    return m.astype(np.float64), inl.ravel().astype(bool)


def _peak(bins: np.ndarray, n_bins: int, *, circular: bool) -> np.ndarray:
    """Which entries of ``bins`` (int, -1 = ignore) lie in the fullest window of three neighbouring bins."""
    counts = np.bincount(bins[bins >= 0], minlength=n_bins)[:n_bins]
    if circular:
        window = counts + np.roll(counts, 1) + np.roll(counts, -1)
        peak = int(np.argmax(window))
        return (bins >= 0) & (((bins - peak + 1) % n_bins) <= 2)
    window = np.convolve(counts, np.ones(3, np.int64), mode="same")
    peak = int(np.argmax(window))
    return (bins >= 0) & (np.abs(bins - peak) <= 1)


def _pdq_confidence(distance: int) -> float:
    # Chance that two unrelated 256-bit hashes (fair coin bits) differ in at most ``distance`` bits.
    tail = sum(math.comb(256, k) for k in range(distance + 1)) / 2.0 ** 256
    return 1.0 - tail


def independent_inliers(q_index: np.ndarray, q_work_xy: np.ndarray, work_xy: np.ndarray,
                        params: ImageEngineParams) -> int:
    """The score of a fit: its inliers that are independent evidence.

    Distinct query keypoints, at distinct work positions, and (``params.inlier_cell_px`` > 0) in
    distinct cells of that many query working pixels: keypoints closer than about half of ORB's
    31-pixel patch describe mostly the same pixels (the same corner found at several pyramid levels,
    a tight texture), and a fit that a handful of such spots carry is what chance gives on text,
    logos and repeating patterns.

    Parameters
    ----------
    q_index : ndarray of int64, shape (k,)
        The inliers' query keypoint numbers.
    q_work_xy : ndarray of float, shape (k, 2)
        Their positions in query working pixels.
    work_xy : ndarray of float, shape (k, 2)
        Their positions in the work, pixels.
    params : ImageEngineParams
    """
    n = min(np.unique(q_index).size, np.unique(np.round(work_xy, 1), axis=0).shape[0])
    if params.inlier_cell_px > 0 and len(q_work_xy):
        n = min(n, np.unique(np.floor(np.asarray(q_work_xy, np.float64) / params.inlier_cell_px), axis=0).shape[0])
    return int(n)


def _agreeing(m: np.ndarray, work_xy: np.ndarray, query_xy: np.ndarray, threshold_px: float) -> np.ndarray:
    """Which correspondences (work pixels -> query pixels, (k, 2)) the map ``m`` (2x3) takes within ``threshold_px``."""
    at = work_xy @ m[:, :2].T + m[:, 2]
    return np.hypot(*(at - query_xy).T) <= threshold_px


def guided_hits(segments, side: QuerySide, fp_id: int, turn_bins: float,
                params: ImageEngineParams) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """More correspondences for a near miss: the side's keys two bits away, postings of work ``fp_id`` only.

    The lookup of :func:`candidates` reaches a stored key one bit away; a copy re-sampled at
    another scale flips more bits of some keys.  For one work whose fit on this side has too few
    inliers, every two-bit neighbour of each of the side's keys is looked up and the postings of
    that work kept whose check bits agree (within ``max_check_distance``) and whose orientation
    differs from the stored one by the fit's turn within two angle bins; geometry decides the rest
    (:func:`verify`: those the fit maps within ``ransac_work_px`` of their query keypoint join it).
    ``params.max_postings_per_query`` > 0 bounds this lookup's postings as it bounds the first.

    Parameters
    ----------
    segments : sequence of segments
    side : QuerySide
    fp_id : int
    turn_bins : float
        The fit's inliers' mean orientation difference (query minus work), in angle bins (0-32).
    params : ImageEngineParams

    Returns
    -------
    (q_index int64 (k,), work_xy float64 (k, 2) work pixels, near bool (k,)) or None when nothing is reached.
    """
    masks = _flip_masks(params.key_bits, 2)[1 + params.key_bits:]  # exactly two bits: fewer were looked up
    if len(side.keys) == 0:
        return None
    pi, values = _gather(segments, (side.keys[:, None] ^ masks[None, :]).ravel(), cap=params.max_postings_per_key,
                         budget=params.max_postings_per_query)
    mine = _fp(values) == fp_id
    if not mine.any():
        return None
    qi, payload = pi[mine] // masks.size, _payload(values[mine])
    w_xy, w_ang, _, check = F.unpack_keypoint_payload(payload)
    ok = _check_distance(check, side.check[qi]) <= params.max_check_distance
    q_bin = np.floor(side.keypoints.angle_deg[qi] * (F.ANGLE_BINS / 360.0)).astype(np.int64)
    turn = (q_bin - w_ang - turn_bins) % F.ANGLE_BINS
    ok &= np.minimum(turn, F.ANGLE_BINS - turn) <= 2
    if not ok.any():
        return None
    return qi[ok].astype(np.int64), w_xy[ok], np.ones(int(ok.sum()), bool)


def local_confidence(score: float, params: ImageEngineParams) -> float:
    """Confidence of a keypoint match of ``score`` inliers, from the measured chance tail (params)."""
    return float(min(1.0, max(0.0, 1.0 - math.exp(-(score - params.chance_inliers_at) / params.chance_inliers_per_e))))


def verify(hits: ImageHits, query: QueryPrint, params: ImageEngineParams, *, min_score: float,
           with_evidence: bool = False, max_evidence: int | None = None) -> list[Located[ImageExtra]]:
    """The works the query holds, located in both images, best first (one match per work).

    A keypoint match needs ``min_score`` inliers of a similarity fit whose
    scale is within ``params.min_scale`` .. ``params.max_scale`` and whose
    rotation is at most ``params.max_rotation_deg``; a PDQ
    match, both hashes trusted and at most ``params.pdq_max_distance`` bits
    apart (its score is ``128 - distance``, the agreeing bits beyond chance).
    Where both find a work, the keypoint match is kept (it locates the part).
    """
    wq, hq = query.width_px, query.height_px
    qrx, qry = query.work_width_px / wq, query.work_height_px / hq
    best: dict[int, Located] = {}
    guided = params.guided_min_inliers > 0 and bool(hits.segments)
    floor = min(min_score, params.guided_min_inliers) if guided else min_score  # fewest inliers worth a fit
    # Keypoints.
    pair = _fp(hits.kp_values) * 2 + hits.kp_side
    by_pair = np.argsort(pair, kind="stable")
    pairs, first, n_hits = np.unique(pair[by_pair], return_index=True, return_counts=True)
    for p, at, n in zip(pairs.tolist(), first.tolist(), n_hits.tolist()):
        fp_id, side_i = p // 2, p % 2
        sel = by_pair[at:at + n]
        if np.unique(hits.kp_index[sel]).size < floor:  # a fit's score counts distinct query keypoints
            continue
        side = query.sides[side_i]
        kp = side.keypoints
        w_xy, w_ang, w_oct, _ = F.unpack_keypoint_payload(_payload(hits.kp_values[sel]))
        rec = hits.records.get(fp_id)
        if rec is not None:
            ww, hw = rec[1], rec[2]
        else:
            ww = hw = 0
        q_idx = hits.kp_index[sel]
        q_ang = (np.floor(kp.angle_deg[q_idx] * (F.ANGLE_BINS / 360.0)).astype(np.int64)) % F.ANGLE_BINS
        # Vote on the rotation difference, then on the pyramid-level difference (the scale):
        # keep the peak bin and its neighbours of each.
        near = _peak(((q_ang - w_ang) % F.ANGLE_BINS), F.ANGLE_BINS, circular=True)
        d_oct = (kp.octave[q_idx].astype(np.int64) - w_oct) + 7
        near &= _peak(np.where(near, d_oct, -1), 15, circular=False)
        if near.sum() < max(2, floor):
            continue
        q_xy = kp.xy[q_idx[near]].astype(np.float64) / [qrx, qry]
        wxy = w_xy[near]
        m, inl = _fit(wxy, q_xy, params.ransac_work_px / qrx, params)
        if m is None:
            continue
        n_in = independent_inliers(q_idx[near][inl], q_xy[inl] * [qrx, qry], wxy[inl], params)
        if guided and params.guided_min_inliers <= n_in < max(min_score, params.min_inliers):
            d = 2 * np.pi * ((q_ang - w_ang)[near][inl] % F.ANGLE_BINS) / F.ANGLE_BINS  # the fit's turn, in bins
            turn = (math.atan2(np.sin(d).mean(), np.cos(d).mean()) * F.ANGLE_BINS / (2 * np.pi)) % F.ANGLE_BINS
            more = guided_hits(hits.segments, side, fp_id, turn, params)
            if more is not None:
                q_idx, w_xy, near = np.r_[q_idx, more[0]], np.r_[w_xy, more[1]], np.r_[near, more[2]]
                q_xy = kp.xy[q_idx[near]].astype(np.float64) / [qrx, qry]
                wxy = w_xy[near]
                inl = _agreeing(m, wxy, q_xy, params.ransac_work_px / qrx)
                n_in = independent_inliers(q_idx[near][inl], q_xy[inl] * [qrx, qry], wxy[inl], params)
                sel = None  # the evidence's keys are not kept for guided hits
        scale = math.hypot(m[0, 0], m[1, 0])
        rotation = math.degrees(math.atan2(m[1, 0], m[0, 0]))
        if n_in < min_score or not params.min_scale <= scale <= params.max_scale or \
                abs(rotation) > params.max_rotation_deg:
            continue
        if side.mirrored:  # the fit is to the mirror image: x -> width - x
            m = np.array([[-1.0, 0.0, float(wq)], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
        if rec is not None:
            boxes = _boxes(m, wq, hq, ww, hw)
        else:  # the work's size is not known: the boxes around the matched points, in each image
            qpts = q_xy[inl].copy()
            if side.mirrored:
                qpts[:, 0] = wq - qpts[:, 0]
            boxes = _point_boxes(qpts, wxy[inl], wq, hq)
        if boxes is None:
            continue
        ev = None
        if with_evidence:
            order = np.flatnonzero(inl)[:max_evidence]
            qpts = q_xy[order].copy()
            if side.mirrored:
                qpts[:, 0] = wq - qpts[:, 0]
            ev = MatchedPoints(qpts.astype(np.float32), wxy[order].astype(np.float32),
                               None if hits.kp_keys is None or sel is None else hits.kp_keys[sel][near][order],
                               int(n_in))
        region = matched_region(wxy[inl], (ww, hw) if rec is not None else None)
        extra = ImageExtra("keypoints", round(scale, 4), round(rotation, 2), side.mirrored, int(n_in), None,
                           tuple(round(float(v), 4) for v in m.ravel()), *region)
        found = Located(fp_id, float(n_in), local_confidence(n_in, params), boxes[0], boxes[1], extra, evidence=ev)
        if fp_id not in best or best[fp_id].score < found.score:
            best[fp_id] = found
    # Whole-image near duplicates.
    for fp_id in hits.pdq_fp_ids.tolist():
        rec = hits.records.get(fp_id)
        if rec is None or rec[0].quality < params.pdq_min_quality:
            continue
        work_pdq, ww, hw = rec
        dist = [(int(np.count_nonzero(s.pdq.bits != work_pdq.bits)), s) for s in query.sides
                if s.pdq.quality >= params.pdq_min_quality]
        if not dist:
            continue
        d, side = min(dist, key=lambda t: t[0])
        if d > params.pdq_max_distance or 128 - d < min_score:
            continue
        if fp_id in best:
            best[fp_id] = _with_pdq(best[fp_id], d)
            continue
        sx, sy = wq / ww, hq / hw
        m = np.array([[-sx if side.mirrored else sx, 0.0, float(wq) if side.mirrored else 0.0], [0.0, sy, 0.0]])
        ev = MatchedPoints(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32), None, 0,
                           side.pdq.hex(), work_pdq.hex()) if with_evidence else None
        extra = ImageExtra("pdq", round(math.sqrt(sx * sy), 4), 0.0, side.mirrored, 0, d,
                           tuple(round(float(v), 4) for v in m.ravel()), (0.0, 0.0, float(ww), float(hw)), 1.0)
        best[fp_id] = Located(fp_id, float(128 - d), _pdq_confidence(d), Extent.box(0, 0, wq, hq),
                              Extent.box(0, 0, ww, hw), extra, evidence=ev)
    return sorted(best.values(), key=lambda m: (-m.score, m.fp_id))


def matched_region(work_xy: np.ndarray, work_size: tuple[float, float] | None) -> tuple[tuple[float, ...] | None,
                                                                                    float | None]:
    """``(matched_work_box, work_share)`` of matched points ``work_xy`` (float, (k, 2), work pixels).

    The box around the points, and the fraction of the work's area (``work_size``: width and
    height in pixels, or None when not known) that it covers, rounded to 3 digits.
    """
    if len(work_xy) == 0:
        return None, None
    lo, hi = np.asarray(work_xy, np.float64).min(axis=0), np.asarray(work_xy, np.float64).max(axis=0)
    box = tuple(round(float(v), 1) for v in (*lo, *hi))
    if work_size is None or not work_size[0] or not work_size[1]:
        return box, None
    share = (min(hi[0], work_size[0]) - max(lo[0], 0.0)) * (min(hi[1], work_size[1]) - max(lo[1], 0.0))
    return box, round(float(max(0.0, share) / (float(work_size[0]) * float(work_size[1]))), 3)


def _with_pdq(found: Located, distance: int) -> Located:
    from dataclasses import replace

    return replace(found, extra=replace(found.extra, pdq_distance=distance))
