"""What the index stores for each hash of a registered work, and lookups.

An index segment (``consentry.store.segments``) holds parallel arrays sorted by key:

- ``keys``: uint32 hash keys (see :func:`extract.pack_key`);
- ``values``: uint64 postings, bit-packed as
  ``fp_id << 38 | anchor_frame << 14 | round(anchor_midi * 64)``, where
  ``fp_id`` (26 bits) is the work's numeric fingerprint id in the registry,
  ``anchor_frame`` (24 bits) the frame of the quad's first peak in the work
  and ``anchor_midi`` its pitch in 1/64 semitone.

The arrays may be memory-mapped; lookups only touch the pages they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

FP_ID_BITS = 26
FRAME_BITS = 24
MIDI_BITS = 14
MIDI_SCALE = 64.0
MAX_FP_ID = (1 << FP_ID_BITS) - 1
MAX_FRAME = (1 << FRAME_BITS) - 1


def pack_postings(fp_id: int, anchor_frame: np.ndarray, anchor_midi: np.ndarray) -> np.ndarray:
    """Pack one work's postings.

    Parameters
    ----------
    fp_id : int
        The work's fingerprint id, 0 < fp_id <= MAX_FP_ID.
    anchor_frame : ndarray of int, shape (m,)
        Frames; must be <= MAX_FRAME (about 74 hours at 62.5 frames/s).
    anchor_midi : ndarray of float, shape (m,)
        Pitches in MIDI numbers, 0 <= midi < 256.

    Returns
    -------
    ndarray of uint64, shape (m,)
    """
    if not 0 < fp_id <= MAX_FP_ID:
        raise ValueError(f"fp_id {fp_id} out of range")
    frame = np.asarray(anchor_frame, dtype=np.uint64)
    if frame.size and int(frame.max()) > MAX_FRAME:
        raise ValueError("work too long for the index (more than 2**24 frames)")
    midi = np.clip(np.round(np.asarray(anchor_midi, dtype=np.float64) * MIDI_SCALE), 0, (1 << MIDI_BITS) - 1)
    return (np.uint64(fp_id) << np.uint64(FRAME_BITS + MIDI_BITS)) | (frame << np.uint64(MIDI_BITS)) | midi.astype(np.uint64)


def unpack_postings(values: np.ndarray):
    """Inverse of :func:`pack_postings`: (fp_id int64, frame int64, midi float64) arrays."""
    v = np.asarray(values, dtype=np.uint64)
    fp_id = (v >> np.uint64(FRAME_BITS + MIDI_BITS)).astype(np.int64)
    frame = ((v >> np.uint64(MIDI_BITS)) & np.uint64(MAX_FRAME)).astype(np.int64)
    midi = (v & np.uint64((1 << MIDI_BITS) - 1)).astype(np.float64) / MIDI_SCALE
    return fp_id, frame, midi


@dataclass(frozen=True)
class Hits:
    """Postings found for a query, one row per (query quad, posting).

    Attributes
    ----------
    owner : ndarray of int64, shape (h,)
        Query quad index.
    fp_id, frame : ndarray of int64, shape (h,)
    midi : ndarray of float64, shape (h,)
    key : ndarray of uint32, shape (h,), or None
        The index key of each posting (the work's hash), when
        :func:`lookup` was asked for it (``with_keys=True``).
    """

    owner: np.ndarray
    fp_id: np.ndarray
    frame: np.ndarray
    midi: np.ndarray
    key: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.owner.shape[0])


class SegmentLike(Protocol):
    """What :func:`lookup` needs of an index segment (see ``consentry.store.segments``)."""

    values: np.ndarray
    keys: np.ndarray

    def find_ranges(self, key_lo: np.ndarray, key_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def lookup(
    segments: Sequence[SegmentLike],
    key_lo: np.ndarray,
    key_hi: np.ndarray,
    owner: np.ndarray,
    *,
    max_postings_per_range: int,
    with_keys: bool = False,
    max_postings_total: int | None = None,
) -> Hits:
    """Find the postings of each inclusive key range in every segment.

    Parameters
    ----------
    segments : sequence of SegmentLike
        Sorted keys with their uint64 postings.
    key_lo, key_hi : ndarray of uint32, shape (r,)
    owner : ndarray of int64, shape (r,)
        The query quad each range belongs to.
    max_postings_per_range : int
        A range with more postings than this in one segment is skipped: such a
        hash is too common to say anything (a stop word).
    with_keys : bool
        Also read the index key of every posting found (:attr:`Hits.key`).
    max_postings_total : int, optional
        Gather at most this many postings in all (engine version 2): the
        ranges are counted first in every segment, then taken rarest first
        (fewest postings over all segments) while the total stays within the
        budget.  A rare key says more about which work it is than a common
        one, so the budget drops the least informative hits first, and the
        work per query stays bounded however large the index grows.

    Returns
    -------
    Hits
    """
    parts_t, parts_v, parts_k = [], [], []
    # Looking keys up in ascending order keeps reads of a memory map local.
    order = np.argsort(key_lo, kind="stable")
    points = key_hi is key_lo  # engine version 2: the segments then search each key once
    key_lo, owner = key_lo[order], owner[order]
    key_hi = key_lo if points else key_hi[order]
    found = []
    for seg in segments:
        if key_lo.shape[0] == 0:
            break
        # Points (version 2): a segment that has find_points answers most absent keys from a bitmap.
        lo, hi = seg.find_points(key_lo) if points and hasattr(seg, "find_points") else seg.find_ranges(key_lo, key_hi)
        counts = hi - lo
        counts[counts > max_postings_per_range] = 0
        found.append((seg, lo, counts))
    if max_postings_total is not None and found:
        per_range = np.sum([c for _, _, c in found], axis=0)
        if int(per_range.sum()) > max_postings_total:
            rarest = np.argsort(per_range, kind="stable")
            over = rarest[np.cumsum(per_range[rarest]) > max_postings_total]
            for _, _, counts in found:
                counts[over] = 0
    for seg, lo, counts in found:
        total = int(counts.sum())
        if total == 0:
            continue
        nz = counts > 0
        lo, counts, own = lo[nz], counts[nz], owner[nz]
        starts = np.cumsum(counts) - counts
        pos = np.repeat(lo - starts, counts) + np.arange(total)
        # np.asarray first: a plain view of a memory map indexes faster than the memmap object.
        parts_v.append(np.asarray(seg.values)[pos])
        parts_t.append(np.repeat(own, counts))
        if with_keys:
            parts_k.append(np.asarray(np.asarray(seg.keys)[pos], dtype=np.uint32))
    if not parts_t:
        z = np.zeros(0, dtype=np.int64)
        return Hits(z, z, z, np.zeros(0), np.zeros(0, np.uint32) if with_keys else None)
    vals = np.concatenate(parts_v)
    fp_id, frame, midi = unpack_postings(vals)
    return Hits(np.concatenate(parts_t), fp_id, frame, midi, np.concatenate(parts_k) if with_keys else None)
