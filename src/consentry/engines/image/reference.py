"""A slow, obviously correct reference for the image engine's index, to test the fast path against.

- :func:`keypoint_value` packs one keypoint posting with plain integers;
- :func:`band_key` makes one PDQ band key from a list of bits;
- :func:`pdq_near_duplicates` compares the query's PDQ hashes with *every*
  stored hash (no index) and lists the works within ``max_distance`` bits:
  the index route (multi-index hashing, one bit of probing) must find
  exactly these for ``max_distance <= 31``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["band_key", "keypoint_value", "pdq_near_duplicates"]


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
