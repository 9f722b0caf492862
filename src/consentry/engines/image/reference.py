"""A slow, obviously correct reference for the image engine's index, to test the fast path against.

- :func:`keypoint_value` packs one keypoint posting with plain integers;
- :func:`band_key` makes one PDQ band key from a list of bits;
- :func:`pdq_near_duplicates` compares the query's PDQ hashes with *every*
  stored hash (no index) and lists the works within ``max_distance`` bits:
  the index route (multi-index hashing, one bit of probing) must find
  exactly these for ``max_distance <= 31``;
- :func:`keypoint_hits` looks every probe of every query keypoint up one by
  one and votes with plain integers: :func:`.search.candidates` must keep
  exactly these hits (with or without a budget of postings per query).
"""

from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["band_key", "keypoint_hits", "keypoint_value", "pdq_near_duplicates"]


def keypoint_value(fp_id: int, x_px: float, y_px: float, shift: int, angle_deg: float, octave: int, check: int) -> int:
    """``fp_id << 38 | check << 32 | octave << 29 | angle_bin << 24 | shift << 20 | (y >> shift) << 10 | (x >> shift)``.

    ``x_px``, ``y_px`` in image pixels.
    """
    x = min(1023, max(0, int(x_px // (1 << shift))))
    y = min(1023, max(0, int(y_px // (1 << shift))))
    angle_bin = int(angle_deg * 32.0 / 360.0 // 1) % 32
    return (fp_id << 38) | (check << 32) | (min(7, max(0, octave)) << 29) | (angle_bin << 24) | (shift << 20) \
        | (y << 10) | x


def band_key(bits: Sequence[int], band: int) -> int:
    """The index key of band ``band`` (0-15) of a 256-bit hash: tag 1, band number, its 16 bits (bit i = 2**i)."""
    value = sum(int(bits[16 * band + i]) << i for i in range(16))
    return (1 << 30) | (band << 16) | value


def pdq_near_duplicates(query_hashes: Iterable[Sequence[int]], stored: dict[int, Sequence[int]], *,
                        max_distance: int) -> dict[int, int]:
    """``fp_id -> smallest distance`` of every stored hash within ``max_distance`` bits of a query hash."""
    out: dict[int, int] = {}
    queries = [list(q) for q in query_hashes]
    for fp_id, bits in stored.items():
        d = min(sum(1 for a, b in zip(q, bits) if int(a) != int(b)) for q in queries)
        if d <= max_distance:
            out[fp_id] = d
    return out


def keypoint_hits(query, segments, params) -> list[tuple[int, int, int]]:
    """Sorted ``(side, keypoint, posting)`` of the keypoint hits kept for verification, key by key.

    Each query key and each key ``params.query_key_flips`` (0 or 1) bits from it is a probe; a
    key with more than ``max_postings_per_key`` postings in a segment counts as absent there.
    With ``max_postings_per_query`` > 0, keys are read rarest first (fewest postings, then the
    smaller key) while the postings read (each probe reads its key's) stay within it.  A hit
    needs at most ``max_check_distance`` differing check bits and an orientation at most
    ``max_rotation_deg`` (and a bin) away; works (with the side) having at least ``min_votes``
    distinct voting keypoints are kept, the ``max_candidate_works`` with most (ties: the smaller
    ``fp_id * 2 + side``).  Queries without orientation jitter only.
    """
    import math

    flips = [0] + ([1 << b for b in range(params.key_bits)] if params.query_key_flips >= 1 else [])
    probes = [(si, i, int(k) ^ f, int(c)) for si, side in enumerate(query.sides)
              for i, (k, c) in enumerate(zip(side.keys.tolist(), side.check.tolist())) for f in flips]
    postings: dict[int, list[int]] = {p[2]: [] for p in probes}
    for seg in segments:
        stored: dict[int, list[int]] = {}
        for k, v in zip(seg.keys.tolist(), seg.values.tolist()):
            stored.setdefault(int(k), []).append(int(v))
        for key, found in postings.items():
            mine = stored.get(key, [])
            found += mine if len(mine) <= params.max_postings_per_key else []
    if params.max_postings_per_query > 0:
        asked: dict[int, int] = {}
        for p in probes:
            asked[p[2]] = asked.get(p[2], 0) + 1
        spent, readable = 0, set()
        for key in sorted(postings, key=lambda k: (len(postings[k]), k)):
            spent += len(postings[key]) * asked[key]
            if spent > params.max_postings_per_query:
                break
            readable.add(key)
        postings = {k: (v if k in readable else []) for k, v in postings.items()}
    reach = min(16, int(math.ceil(params.max_rotation_deg * 32 / 360.0)) + 1)
    hits = []
    for si, i, key, check in probes:
        q_bin = int(math.floor(float(query.sides[si].keypoints.angle_deg[i]) * 32 / 360.0)) % 32
        for v in postings[key]:
            if bin(((v >> 32) & 63) ^ check).count("1") > params.max_check_distance:
                continue
            turn = (q_bin - ((v >> 24) & 31)) % 32
            if min(turn, 32 - turn) <= reach:
                hits.append((si, i, v))
    voters: dict[int, set[int]] = {}
    for si, i, v in hits:
        voters.setdefault((v >> 38) * 2 + si, set()).add(i)
    ranked = sorted((p for p, who in voters.items() if len(who) >= params.min_votes),
                    key=lambda p: (-len(voters[p]), p))[:params.max_candidate_works]
    return sorted(h for h in hits if (h[2] >> 38) * 2 + h[0] in set(ranked))
