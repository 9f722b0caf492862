"""An image's features: PDQ hash, ORB keypoints, and how they are packed into index postings.

Index keys (uint32) carry a 2-bit tag in their top bits.  No key depends on
the work's id (the store assigns ids after the keys are made, and may
renumber them): a work's record is reached through a 30-bit *record id*, a
hash of its content, that its band postings carry.

====  ====================================  =====================================================
tag   key                                   value (``fp_id << 38 | payload``, 38-bit payload)
====  ====================================  =====================================================
0     ``key_bits`` bits of an ORB            x, y in image pixels >> ``shift`` (10 bits each),
      descriptor                             ``shift`` (4 bits, the smallest with the longest
                                             side >> shift < 1024), angle (32 bins, 5 bits),
                                             pyramid octave (3 bits), ``check_bits`` more
                                             descriptor bits (6)
1     PDQ band: ``band << 16 | 16 bits``     the work's record id (30 bits)
2     the record: ``record id``              ``chunk << 34 | 34 bits``: the whole PDQ hash,
                                             width and height (pixels), PDQ quality, in 9 chunks
====  ====================================  =====================================================

A registered image is ``index_keypoints`` keypoint postings, 16 PDQ bands
(none when the PDQ quality is too low to trust) and 9 record postings: at
the defaults 145 postings of 12 bytes.  ``fp_id`` is the top 26 bits of
every value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import ImageEngineParams

__all__ = [
    "FP_ID_BITS", "Keypoints", "PdqHash", "TAG_BAND", "TAG_KEYPOINT", "TAG_RECORD", "RECORD_CHUNKS",
    "band_keys", "coordinate_shift", "descriptor_keys", "grey", "iscc_image_code", "keypoint_payload",
    "stable_keypoints", "views_survived",
    "mirrored_keypoints", "orb_keypoints", "pack_record", "pdq_hash", "record_id", "stretched",
    "described_at",
    "unpack_keypoint_payload", "unpack_record",
]

FP_ID_BITS = 26
PAYLOAD_BITS = 38
TAG_KEYPOINT = np.uint32(0)
TAG_BAND = np.uint32(1 << 30)
TAG_RECORD = np.uint32(2 << 30)
TAG_MASK = np.uint32(3 << 30)
PDQ_BANDS = 16
RECORD_CHUNK_BITS = 34
#: 256 PDQ bits + width (16) + height (16) + quality (7) = 295 bits in chunks of 34.
RECORD_CHUNKS = 9
ANGLE_BINS = 32


@dataclass(frozen=True)
class Keypoints:
    """ORB keypoints of a working image.

    Attributes
    ----------
    xy : ndarray of float32, shape (n, 2)
        Positions in working pixels (x right, y down).
    angle_deg : ndarray of float32, shape (n,)
        Orientation, degrees in [0, 360).
    octave : ndarray of int16, shape (n,)
        Pyramid level the keypoint was found at (0 = full working size).
    descriptors : ndarray of uint8, shape (n, 32)
        The 256-bit ORB descriptors.
    size : ndarray of float32, shape (n,), or None
        OpenCV's keypoint diameter (working pixels), to describe the same keypoints again.
    """

    xy: np.ndarray
    angle_deg: np.ndarray
    octave: np.ndarray
    descriptors: np.ndarray
    size: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.xy.shape[0])


@dataclass(frozen=True)
class PdqHash:
    """A 256-bit PDQ hash: ``bits`` uint8 (256,) of 0/1 in the PDQ reference's order, and its quality (0-100)."""

    bits: np.ndarray
    quality: int

    def hex(self) -> str:
        """The hash as 64 hex digits, as the PDQ reference prints it (most significant word first)."""
        words = np.packbits(self.bits[::-1].astype(np.uint8))  # bit 255 first
        return words.tobytes().hex()


def grey(rgb: np.ndarray) -> np.ndarray:
    """Luminance (ITU-R BT.601 weights), uint8 (h, w), of RGB uint8 (h, w, 3)."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def stretched(grey_px: np.ndarray, *, max_gain: float, fence_iqr: float = 0.0, fence_min_span: int = 0) -> np.ndarray:
    """Grey levels stretched so that the 0.5th..99.5th percentiles span 0..255, by at most ``max_gain``.

    Faint pictures (dark or pale gradients, low-contrast art) then give
    keypoints too; ORB's descriptor bits compare intensities and do not
    change under the stretch, only which corners pass the FAST threshold.
    The stretch is centred on the percentiles' midpoint when the gain is capped.

    With ``fence_iqr`` k > 0 the percentiles are those of the grey levels
    within Tukey's fences, ``[q1 - k (q3 - q1), q3 + k (q3 - q1)]`` (q1, q3:
    the quartiles): a minority of pixels far from the picture's own levels (a
    dark text box laid over a pale picture, the black corners of a rotated
    copy) then no longer sets the gain; they are clipped like any level
    outside the percentiles.  When the fenced percentiles lie fewer than
    ``fence_min_span`` levels apart, those of all levels are used: a mostly
    flat picture (a white diagram, whose quartiles are both 255) would
    otherwise be stretched by ``max_gain`` about its background level, which
    makes its compression noise into corners.

    Parameters
    ----------
    grey_px : ndarray of uint8, shape (h, w)
    max_gain : float
        Largest factor applied (1: none).
    fence_iqr : float
        k of the fences (0: every level counts).
    fence_min_span : int
        Fewest grey levels between the fenced percentiles for them to be used (0: any span).
    """
    import cv2

    if max_gain <= 1.0 or grey_px.size == 0:
        return grey_px
    counts = np.bincount(grey_px.ravel(), minlength=256)
    lo, hi = _percentile_levels(counts)
    if fence_iqr > 0:
        cdf = np.cumsum(counts)
        q1 = int(np.searchsorted(cdf, 0.25 * cdf[-1], side="left"))
        q3 = int(np.searchsorted(cdf, 0.75 * cdf[-1], side="left"))
        spread = fence_iqr * (q3 - q1)
        levels = np.arange(256)
        f_lo, f_hi = _percentile_levels(np.where((levels >= q1 - spread) & (levels <= q3 + spread), counts, 0))
        if f_hi - f_lo >= fence_min_span:
            lo, hi = f_lo, f_hi
    gain = min(max_gain, 255.0 / max(1, hi - lo))
    if gain <= 1.0:
        return grey_px
    mid = 0.5 * (lo + hi)
    lut = np.clip(np.round((np.arange(256) - mid) * gain + 127.5), 0, 255).astype(np.uint8)
    return cv2.LUT(grey_px, lut)


def _percentile_levels(counts: np.ndarray) -> tuple[int, int]:
    """The 0.5th and 99.5th percentile grey levels of a histogram (counts, shape (256,))."""
    cdf = np.cumsum(counts)
    return (int(np.searchsorted(cdf, 0.005 * cdf[-1], side="right")),
            int(np.searchsorted(cdf, 0.995 * cdf[-1], side="left")))


def _orb(params: ImageEngineParams, n: int):
    import cv2

    return cv2.ORB_create(nfeatures=n, scaleFactor=params.orb_scale_factor, nlevels=params.orb_levels,
                          edgeThreshold=params.orb_edge_px, patchSize=params.orb_edge_px,
                          fastThreshold=params.orb_fast_threshold)


def _detected(grey_px: np.ndarray, *, n: int, params: ImageEngineParams):
    """``(orb, kps, xy float32 (k, 2), order)``: ORB's keypoints (up to ``orb_detect_factor * n``) and the grid order.

    ``order`` (int64, (k,)) takes them round-robin over ``grid_cells`` x ``grid_cells`` cells, strongest
    first in each cell; None when the image is too small or has no keypoints.
    """
    import cv2

    cv2.setNumThreads(1)
    h, w = grey_px.shape
    if min(h, w) <= 2 * params.orb_edge_px + 1:
        return None
    orb = _orb(params, params.orb_detect_factor * n)
    kps = orb.detect(grey_px, None)
    if not kps:
        return None
    xy = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)
    response = np.array([k.response for k in kps], dtype=np.float64)
    return orb, kps, xy, _grid_order(xy, (h, w), params.grid_cells, -response)


def _grid_order(xy: np.ndarray, shape: tuple[int, int], g: int, *rank_keys: np.ndarray) -> np.ndarray:
    """Indices of points ``xy`` (working pixels) round-robin over a g x g grid, each cell ordered by ``rank_keys``.

    ``rank_keys`` as for ``np.lexsort`` (last is primary; smaller first): rank 0 of every cell, then rank 1, ...
    """
    h, w = shape
    cell = (np.minimum(xy[:, 1] * g // h, g - 1) * g + np.minimum(xy[:, 0] * g // w, g - 1)).astype(np.int64)
    order = np.lexsort((*rank_keys, cell))
    first = np.r_[0, np.flatnonzero(np.diff(cell[order])) + 1]
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size) - np.repeat(first, np.diff(np.r_[first, order.size]))
    return np.lexsort((*rank_keys, rank))


def orb_keypoints(grey_px: np.ndarray, *, n: int, params: ImageEngineParams) -> Keypoints:
    """The ``n`` strongest ORB keypoints of a grey working image, spread over a grid.

    Detects up to ``params.orb_detect_factor * n`` keypoints, then takes them round-robin over
    ``params.grid_cells`` x ``params.grid_cells`` cells, strongest first in
    each cell, so that every part of the image keeps some (a crop then still
    holds keypoints of the registered image); descriptors are computed for
    the chosen ones only.  Deterministic (OpenCV runs single-threaded here).

    Parameters
    ----------
    grey_px : ndarray of uint8, shape (h, w)
    n : int
        Keypoints wanted.
    params : ImageEngineParams
    """
    found = _detected(grey_px, n=n, params=params)
    if found is None:
        return _no_keypoints()
    orb, kps, _, order = found
    pick = np.sort(order[:n])
    return _described(orb, grey_px, [kps[i] for i in pick.tolist()])


def stable_keypoints(grey_px: np.ndarray, *, n: int, params: ImageEngineParams) -> Keypoints:
    """The ``n`` keypoints of a registered image whose index keys best survive re-sampling, spread over a grid.

    A copy found in the wild is the picture re-sampled at another scale and
    pixel grid (a crop is shown larger at the same working size), and a
    keypoint's 256 descriptor bits then differ in 10-15 % of places: most
    stored keys (``key_bits`` bits, looked up within ``query_key_flips``) are
    lost.  Candidates (``stable_candidates`` times ``n``, chosen as
    :func:`orb_keypoints` chooses) are therefore looked for again in views of
    the image itself, resized by each of ``params.stable_view_scales``, with
    the query's own detector (:func:`orb_keypoints` with ``query_keypoints``); a
    candidate *survives* a view when a view keypoint lies within
    ``ransac_work_px`` view pixels of where it maps, and its key and check
    bits would be found by the lookup (at most ``query_key_flips`` and
    ``max_check_distance`` bits apart).  The ``n`` kept are taken round-robin
    over the grid as before, by views survived, then strength.  No view is
    fitted to data: the scales are those the alterations bring (docs/images.md).

    Parameters
    ----------
    grey_px : ndarray of uint8, shape (h, w)
    n : int
        Keypoints wanted.
    params : ImageEngineParams
    """
    import cv2

    found = _detected(grey_px, n=n, params=params)
    if found is None:
        return _no_keypoints()
    orb, kps, _, order = found
    ks, desc = orb.compute(grey_px, [kps[i] for i in np.sort(order[: params.stable_candidates * n]).tolist()])
    if desc is None or not ks:
        return _no_keypoints()
    cand = _keypoints_of(ks, desc)
    strength = -np.array([k.response for k in ks], np.float64)
    if len(cand) <= n or not params.stable_view_scales:
        return _subset(cand, np.sort(_grid_order(cand.xy, grey_px.shape, params.grid_cells, strength)[:n]))
    survived = views_survived(grey_px, cand, params=params)
    keep = _grid_order(cand.xy, grey_px.shape, params.grid_cells, strength, -survived)[:n]
    return _subset(cand, np.sort(keep))


def views_survived(grey_px: np.ndarray, kp: Keypoints, *, params: ImageEngineParams) -> np.ndarray:
    """In how many views of the image (``params.stable_view_scales``) each keypoint would be found again.

    A view is the grey image resized by the scale (area averaging down, bilinear up) and searched
    by the query's detector (:func:`orb_keypoints`, ``query_keypoints``); a keypoint survives it when
    a view keypoint lies within ``params.ransac_work_px`` view pixels of where it maps, with a key at
    most ``query_key_flips`` bits and check bits at most ``max_check_distance`` bits away, and an
    orientation within ``max_rotation_deg`` (what the lookup of :mod:`.search` would accept).

    Parameters
    ----------
    grey_px : ndarray of uint8, shape (h, w)
    kp : Keypoints
        Keypoints of ``grey_px`` (working pixels) with their descriptors.
    params : ImageEngineParams

    Returns
    -------
    ndarray of int64, shape (len(kp),)
    """
    import cv2

    keys, check = descriptor_keys(kp.descriptors, params)
    survived = np.zeros(len(kp), np.int64)
    h, w = grey_px.shape
    for s in params.stable_view_scales:
        vw, vh = max(1, int(round(w * s))), max(1, int(round(h * s)))
        view = cv2.resize(grey_px, (vw, vh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        vk = orb_keypoints(view, n=params.query_keypoints, params=params)
        if len(vk) == 0 or len(kp) == 0:
            continue
        vkeys, vcheck = descriptor_keys(vk.descriptors, params)
        at = kp.xy * np.float32([vw / w, vh / h])
        near = np.hypot(at[:, None, 0] - vk.xy[None, :, 0], at[:, None, 1] - vk.xy[None, :, 1]) <= params.ransac_work_px
        turn = np.abs((kp.angle_deg[:, None] - vk.angle_deg[None, :] + 180.0) % 360.0 - 180.0)
        ok = near & (_popcount(keys[:, None] ^ vkeys[None, :]) <= params.query_key_flips) & \
            (_popcount(check[:, None] ^ vcheck[None, :]) <= params.max_check_distance) & (turn <= params.max_rotation_deg)
        survived += ok.any(axis=1)
    return survived


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint32 (any shape), as int64."""
    b = np.ascontiguousarray(x, dtype=np.uint32)
    return np.unpackbits(b.view(np.uint8).reshape(*b.shape, 4), axis=-1).sum(axis=-1).astype(np.int64)


def _subset(kp: Keypoints, idx: np.ndarray) -> Keypoints:
    return Keypoints(kp.xy[idx], kp.angle_deg[idx], kp.octave[idx], np.ascontiguousarray(kp.descriptors[idx]),
                     None if kp.size is None else kp.size[idx])


def _no_keypoints() -> Keypoints:
    return Keypoints(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int16),
                     np.zeros((0, 32), np.uint8), np.zeros(0, np.float32))


def _described(orb, grey_px: np.ndarray, kps: list) -> Keypoints:
    """ORB descriptors of given OpenCV keypoints (positions, sizes and angles kept as given)."""
    kps, desc = orb.compute(grey_px, kps)
    if desc is None or not kps:
        return _no_keypoints()
    return _keypoints_of(kps, desc)


def _keypoints_of(kps, desc: np.ndarray) -> Keypoints:
    """:class:`Keypoints` of OpenCV keypoints and their descriptors (uint8 (n, 32))."""
    return Keypoints(np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2),
                     np.array([k.angle for k in kps], dtype=np.float32) % 360.0,
                     np.array([k.octave for k in kps], dtype=np.int16), np.ascontiguousarray(desc),
                     np.array([k.size for k in kps], dtype=np.float32))


def described_at(grey_px: np.ndarray, kp: Keypoints, *, turn_deg: float, params: ImageEngineParams) -> np.ndarray | None:
    """Descriptors (uint8 (n, 32)) of the same keypoints with their orientations turned by ``turn_deg``.

    A copy's keypoint orientation is off by a few degrees (resampling, JPEG,
    rotation); the bits that then change are those a query also probes with
    these descriptors' keys.  None when OpenCV does not describe every keypoint.
    """
    import cv2

    if len(kp) == 0 or kp.size is None:
        return None
    ks = [cv2.KeyPoint(float(x), float(y), float(s), float((a + turn_deg) % 360.0), 0.0, int(o))
          for (x, y), s, a, o in zip(kp.xy.tolist(), kp.size.tolist(), kp.angle_deg.tolist(), kp.octave.tolist())]
    ks, desc = _orb(params, len(ks)).compute(grey_px, ks)
    return None if desc is None or len(ks) != len(kp) else np.ascontiguousarray(desc)


def mirrored_keypoints(grey_px: np.ndarray, kp: Keypoints, *, params: ImageEngineParams) -> Keypoints:
    """The same keypoints seen in the left-right mirror image, described there.

    Detection commutes with the mirror, so only the descriptors are computed
    again: a keypoint at ``(x, y)`` with angle ``a`` is at ``(w - 1 - x, y)``
    with angle ``180 - a`` in the mirror image (``grey_px`` is the image
    itself, uint8 (h, w); ``kp`` from :func:`orb_keypoints` of it).
    """
    import cv2

    if len(kp) == 0 or kp.size is None:
        return _no_keypoints()
    w = grey_px.shape[1]
    mk = [cv2.KeyPoint(float(w - 1 - x), float(y), float(s), float((180.0 - a) % 360.0), 0.0, int(o))
          for (x, y), s, a, o in zip(kp.xy.tolist(), kp.size.tolist(), kp.angle_deg.tolist(), kp.octave.tolist())]
    return _described(_orb(params, len(mk)), np.ascontiguousarray(grey_px[:, ::-1]), mk)


def descriptor_keys(desc: np.ndarray, params: ImageEngineParams) -> tuple[np.ndarray, np.ndarray]:
    """Index key and check bits of each descriptor.

    Parameters
    ----------
    desc : ndarray of uint8, shape (n, 32)

    Returns
    -------
    keys : ndarray of uint32, shape (n,)
        ``params.key_bits`` chosen descriptor bits (tag 0).
    check : ndarray of uint32, shape (n,)
        ``params.check_bits`` further bits.
    """
    bits = np.unpackbits(desc, axis=1)[:, params.descriptor_bits].astype(np.uint32)
    kb = params.key_bits
    weights_k = np.left_shift(np.uint32(1), np.arange(kb, dtype=np.uint32))
    weights_c = np.left_shift(np.uint32(1), np.arange(bits.shape[1] - kb, dtype=np.uint32))
    return (bits[:, :kb] @ weights_k).astype(np.uint32), (bits[:, kb:] @ weights_c).astype(np.uint32)


def coordinate_shift(width_px: int, height_px: int) -> int:
    """The smallest ``shift`` with ``max(width, height) >> shift`` below 1024 (coordinates fit 10 bits)."""
    side, shift = max(int(width_px), int(height_px), 1), 0
    while (side - 1) >> shift >= 1024:
        shift += 1
    return shift


def keypoint_payload(kp: Keypoints, check: np.ndarray, *, scale_xy: tuple[float, float], shift: int) -> np.ndarray:
    """The 38-bit payloads (uint64, shape (n,)) of keypoints.

    Parameters
    ----------
    kp : Keypoints
        In working pixels.
    check : ndarray of uint32, shape (n,)
        The check bits (``params.check_bits`` of them, at most 6).
    scale_xy : (float, float)
        Image pixels per working pixel along x and y.
    shift : int
        :func:`coordinate_shift` of the image: stored coordinates are image pixels ``>> shift``.
    """
    unit = float(1 << shift)
    x = np.clip(np.floor(kp.xy[:, 0] * scale_xy[0] / unit), 0, 1023).astype(np.uint64)
    y = np.clip(np.floor(kp.xy[:, 1] * scale_xy[1] / unit), 0, 1023).astype(np.uint64)
    a = (np.floor(kp.angle_deg * (ANGLE_BINS / 360.0)).astype(np.int64) % ANGLE_BINS).astype(np.uint64)
    o = np.clip(kp.octave, 0, 7).astype(np.uint64)
    return x | (y << np.uint64(10)) | (np.uint64(shift) << np.uint64(20)) | (a << np.uint64(24)) | \
        (o << np.uint64(29)) | (check.astype(np.uint64) << np.uint64(32))


def unpack_keypoint_payload(payload: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(xy float64 (n, 2) image pixels (cell centres), angle_bin int64, octave int64, check uint32)``."""
    p = np.asarray(payload, np.uint64)
    m10 = np.uint64(1023)
    unit = np.left_shift(1, ((p >> np.uint64(20)) & np.uint64(15)).astype(np.int64)).astype(np.float64)
    xy = (np.stack([(p & m10), (p >> np.uint64(10)) & m10], axis=1).astype(np.float64) + 0.5) * unit[:, None]
    a = ((p >> np.uint64(24)) & np.uint64(31)).astype(np.int64)
    o = ((p >> np.uint64(29)) & np.uint64(7)).astype(np.int64)
    c = ((p >> np.uint64(32)) & np.uint64(63)).astype(np.uint32)
    return xy, a, o, c


def record_id(pdq: "PdqHash", width_px: int, height_px: int, descriptors: np.ndarray) -> int:
    """A work's 30-bit record id: the first 30 bits of SHA-256 over its PDQ bits, size and descriptors."""
    import hashlib

    h = hashlib.sha256(np.packbits(pdq.bits).tobytes() + int(width_px).to_bytes(4, "little")
                       + int(height_px).to_bytes(4, "little") + np.ascontiguousarray(descriptors).tobytes())
    return int.from_bytes(h.digest()[:4], "little") & ((1 << 30) - 1)


def pdq_hash(rgb: np.ndarray) -> PdqHash:
    """The PDQ hash (``pdqhash``, Facebook's reference algorithm) of RGB uint8 (h, w, 3)."""
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb, dtype=np.uint8))
    return PdqHash(np.asarray(bits, np.uint8), int(quality))


def band_keys(bits: np.ndarray) -> np.ndarray:
    """The 16 band keys (uint32, tag 1) of a PDQ hash's bits (uint8 (256,))."""
    weights = np.left_shift(np.uint32(1), np.arange(16, dtype=np.uint32))
    values = bits.reshape(PDQ_BANDS, 16).astype(np.uint32) @ weights
    return (TAG_BAND | (np.arange(PDQ_BANDS, dtype=np.uint32) << np.uint32(16)) | values).astype(np.uint32)


def pack_record(pdq: PdqHash, width_px: int, height_px: int) -> np.ndarray:
    """A work's record payloads (uint64, shape (9,)): PDQ bits, width, height, quality, chunk number on top."""
    extra = [(min(int(width_px), 65535), 16), (min(int(height_px), 65535), 16), (max(0, min(pdq.quality, 100)), 7)]
    bits = np.concatenate([pdq.bits.astype(np.uint8)] +
                          [np.array([(v >> i) & 1 for i in range(nb)], np.uint8) for v, nb in extra])
    bits = np.concatenate([bits, np.zeros(RECORD_CHUNKS * RECORD_CHUNK_BITS - bits.size, np.uint8)])
    weights = np.left_shift(np.uint64(1), np.arange(RECORD_CHUNK_BITS, dtype=np.uint64))
    chunks = bits.reshape(RECORD_CHUNKS, RECORD_CHUNK_BITS).astype(np.uint64) @ weights
    return chunks.astype(np.uint64) | (np.arange(RECORD_CHUNKS, dtype=np.uint64) << np.uint64(RECORD_CHUNK_BITS))


def unpack_record(payloads: np.ndarray) -> tuple[PdqHash, int, int] | None:
    """Inverse of :func:`pack_record` (payloads in any order); None unless all 9 chunks are there."""
    p = np.asarray(payloads, np.uint64)
    chunk = (p >> np.uint64(RECORD_CHUNK_BITS)).astype(np.int64)
    if sorted(set(chunk.tolist())) != list(range(RECORD_CHUNKS)):
        return None
    _, first = np.unique(chunk, return_index=True)
    ordered = np.empty(RECORD_CHUNKS, np.uint64)
    ordered[chunk[first]] = p[first] & np.uint64((1 << RECORD_CHUNK_BITS) - 1)
    bits = ((ordered[:, None] >> np.arange(RECORD_CHUNK_BITS, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8).ravel()

    def num(at: int, nb: int) -> int:
        return int(sum(int(b) << i for i, b in enumerate(bits[at:at + nb])))

    return PdqHash(bits[:256].copy(), num(288, 7)), num(256, 16), num(272, 16)


def iscc_image_code(rgb: np.ndarray, *, bits: int = 64) -> str:
    """The ISCC Image-Code (``iscc-core``) of an image: grey, resized to 32 x 32 (bicubic), as ISO 24138 asks.

    The ISCC SDK also trims uniform borders first; this does not, so a code
    may differ from the SDK's for an image with a flat frame.
    """
    import iscc_core
    from PIL import Image

    small = Image.fromarray(np.ascontiguousarray(rgb)).convert("L").resize((32, 32), Image.Resampling.BICUBIC)
    return str(iscc_core.gen_image_code_v0(np.asarray(small).ravel().tolist(), bits=bits)["iscc"])
