"""Index segments: sorted keys with postings, and a bucket directory.

A segment is three ``.npy`` files (NumPy's documented format, memory-mapped by
readers) with a common stem:

- ``STEM.keys.npy``: uint32 hash keys, sorted ascending;
- ``STEM.values.npy``: uint64 postings, parallel to the keys (what they mean
  is the engine's business);
- ``STEM.dir.npy``: int64 bucket directory: entry ``b`` is the position of the
  first key ``>= b << shift``, and the last entry is the number of keys.  The
  ``shift`` is stored with the segment's row in the registry.

With the directory, finding a key range touches two directory entries and
one small bucket (about :data:`ENTRIES_PER_BUCKET` keys) instead of a binary
search over the whole, possibly uncached, key file.  (A segment with fewer
than :data:`WHOLE_SEARCH_KEYS_PER_TARGET` keys per key asked for is searched
whole: so many keys would read most of its buckets anyway.)

The SQLite store keeps these files beside the database; the PostgreSQL store
keeps the same bytes in the database and a :class:`SegmentCache` of them on
each machine, memory-mapped the same way.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

ENTRIES_PER_BUCKET = 8
_CHUNK = 50_000_000


@dataclass(frozen=True)
class IndexSegment:
    """One segment's arrays (plain arrays or memory maps)."""

    keys: np.ndarray
    values: np.ndarray
    directory: np.ndarray
    shift: int
    #: What :meth:`find_points` keeps between calls: how many it answered, and the presence bitmap.
    _points: dict = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def find_points(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``[start, stop)`` of each key's run, where only the runs of present keys matter.

        For a key of the segment, ``start`` and ``stop`` are its run, as
        :meth:`find_ranges` gives it; for an absent key ``start == stop``,
        at a position that says nothing.  From the
        :data:`PRESENCE_AFTER_CALLS`-th call on (a segment kept open for a
        batch of queries, not a one-shot look-up), a presence bitmap of the
        segment (:func:`presence_bitmap`, built once, about one byte per
        key) answers most absent keys (about 90 % of a query's) without
        reading the directory or the keys.

        Parameters
        ----------
        keys : ndarray of uint32, shape (r,)
            Sorted is fastest.

        Returns
        -------
        start, stop : ndarray of int64, shape (r,)
        """
        state = self._points
        calls = state.get("calls", 0) + 1
        state["calls"] = calls
        if len(self) == 0 or keys.size == 0 or calls < PRESENCE_AFTER_CALLS:
            return self.find_ranges(keys, keys)
        if "bitmap" not in state:  # two threads may both build it: the same bytes either way
            state["bitmap"] = presence_bitmap(np.asarray(self.keys))
        bits, shift = state["bitmap"]
        pos = keys.astype(np.int64) >> shift
        maybe = np.flatnonzero((bits[pos >> 3] >> (pos & 7).astype(np.uint8)) & 1)
        start = np.zeros(keys.shape[0], dtype=np.int64)
        stop = np.zeros(keys.shape[0], dtype=np.int64)
        if maybe.size:
            sub = keys[maybe]
            start[maybe], stop[maybe] = self.find_ranges(sub, sub)
        return start, stop

    def find_ranges(self, key_lo: np.ndarray, key_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``[start, stop)`` of the keys within each inclusive range.

        ``start`` is the first key ``>= key_lo`` and ``stop`` the first key
        ``> key_hi`` (never before ``start``), as ``np.searchsorted`` over
        the whole key array gives them.  A segment with fewer than
        :data:`WHOLE_SEARCH_KEYS_PER_TARGET` keys per range is searched whole
        (the ranges would read most of its buckets anyway).  In a larger one
        each bound is searched only in its key's bucket of the directory,
        where it lies: buckets of at most :data:`SMALL_BUCKET` keys (nearly
        all) are gathered into one sorted array and searched there; the
        buckets of very common keys by a vectorised bisection.  Either way
        only the pages of the buckets asked for are read.

        Parameters
        ----------
        key_lo, key_hi : ndarray of uint32, shape (r,)
            Sorted by ``key_lo`` is fastest (as :func:`consentry.engines.music.postings.lookup` asks).

        Returns
        -------
        start, stop : ndarray of int64, shape (r,)
        """
        n_buckets = self.directory.shape[0] - 1
        if len(self) == 0 or key_lo.size == 0:
            z = np.zeros(key_lo.shape[0], dtype=np.int64)
            return z, z
        if key_lo.shape[0] > MAX_TARGETS_AT_ONCE:  # a long query: bounded memory for the gathered buckets
            points = key_hi is key_lo
            parts = [self.find_ranges(key_lo[i:i + MAX_TARGETS_AT_ONCE],
                                      key_lo[i:i + MAX_TARGETS_AT_ONCE] if points else key_hi[i:i + MAX_TARGETS_AT_ONCE])
                     for i in range(0, key_lo.shape[0], MAX_TARGETS_AT_ONCE)]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        keys = np.asarray(self.keys)  # a plain view: indexing a memmap object costs more than the lookup
        point = key_hi is key_lo or np.array_equal(key_lo, key_hi)  # engine version 2 looks up points
        if keys.shape[0] < WHOLE_SEARCH_KEYS_PER_TARGET * key_lo.shape[0]:
            return _search(keys, key_lo, None if point else key_hi)
        directory = np.asarray(self.directory)
        b_lo = np.minimum(key_lo.astype(np.int64) >> self.shift, n_buckets - 1)
        if point:
            return _search_buckets(keys, directory, key_lo, b_lo, both=True)
        b_hi = np.minimum(key_hi.astype(np.int64) >> self.shift, n_buckets - 1)
        start, _ = _search_buckets(keys, directory, key_lo, b_lo, both=False)
        stop, _ = _search_buckets(keys, directory, key_hi, b_hi, both=False, right=True)
        return start, np.maximum(stop, start)


#: A segment with fewer keys than this per range asked for is searched whole by
#: :meth:`IndexSegment.find_ranges` (the ranges touch most of its buckets).
WHOLE_SEARCH_KEYS_PER_TARGET = 8
#: Buckets with at most this many keys are gathered and searched together by :meth:`IndexSegment.find_ranges`.
SMALL_BUCKET = 64
#: :meth:`IndexSegment.find_ranges` takes at most this many ranges at a time (the gathered buckets stay under
#: 64 times as many keys).
MAX_TARGETS_AT_ONCE = 1 << 20


#: :meth:`IndexSegment.find_points` builds the presence bitmap at its call this many (a one-shot look-up never does).
PRESENCE_AFTER_CALLS = 3
#: Bits of the presence bitmap per key (rounded up to a power of two; at most one bit per 32-bit key value).
PRESENCE_BITS_PER_KEY = 8
#: Keys read at a time while the bitmap is built (its temporaries stay under about 100 MB).
_PRESENCE_CHUNK = 1 << 22


def presence_bitmap(sorted_keys: np.ndarray) -> tuple[np.ndarray, int]:
    """A bitmap with bit ``key >> shift`` set for every key of a segment.

    ``8 * len(bitmap)`` is the power of two at or above
    :data:`PRESENCE_BITS_PER_KEY` bits per key (at most 2**32: then every key
    value has its own bit).  For uniformly spread keys (engine version 2's
    hashed keys) about 1 in 8 bits is set or fewer, so a key that is not
    there finds its bit clear about 7 times in 8.

    Parameters
    ----------
    sorted_keys : ndarray of uint32, shape (n,), sorted ascending

    Returns
    -------
    bitmap : ndarray of uint8, shape (2**bits / 8,)
        Bit ``i & 7`` of byte ``i >> 3`` is bit ``i``.
    shift : int
        ``32 - bits``.
    """
    n = int(sorted_keys.shape[0])
    bits = min(32, max(3, int(np.ceil(np.log2(max(1, n) * PRESENCE_BITS_PER_KEY)))))
    shift = 32 - bits
    bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
    for start in range(0, n, _PRESENCE_CHUNK):
        pos = np.asarray(sorted_keys[start:start + _PRESENCE_CHUNK]).astype(np.int64) >> shift
        byte = pos >> 3
        value = np.left_shift(1, pos & 7).astype(np.uint8)
        first = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])  # the keys are sorted: runs of one byte
        bitmap[byte[first]] |= np.bitwise_or.reduceat(value, first)
    return bitmap, shift


def _search(sorted_keys: np.ndarray, key_lo: np.ndarray, key_hi: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``np.searchsorted`` of ``key_lo`` (left) and ``key_hi`` (right; ``None``: the same points), stop never
    before start.  For points, only the targets whose key is present are searched a second time: for the others
    (most of a query's) both bounds are the same."""
    t = np.asarray(key_lo, dtype=sorted_keys.dtype)
    start = np.searchsorted(sorted_keys, t, side="left").astype(np.int64, copy=False)
    if key_hi is not None:
        stop = np.searchsorted(sorted_keys, np.asarray(key_hi, dtype=sorted_keys.dtype), side="right")
        return start, np.maximum(stop.astype(np.int64, copy=False), start)
    stop = start.copy()
    there = start < sorted_keys.shape[0]
    there[there] = sorted_keys[start[there]] == t[there]
    stop[there] = np.searchsorted(sorted_keys, t[there], side="right")
    return start, stop


def _search_buckets(keys: np.ndarray, directory: np.ndarray, targets: np.ndarray, bucket: np.ndarray, *,
                    both: bool, right: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The first position of sorted ``keys`` whose key is ``>= target`` (``> target`` when ``right``), each
    target searched only within its ``bucket`` of the directory (where the answer lies); with ``both``, also
    the first position ``> target`` (the two bounds of a point).

    The distinct small buckets are gathered into one sorted array (buckets are disjoint, consecutive runs of
    ``keys``); a target's position in it, less its bucket's start there, is its position in the bucket.
    """
    first = directory[bucket]
    last = directory[bucket + 1]
    one = np.empty(targets.shape[0], dtype=np.int64)
    two = np.empty(targets.shape[0], dtype=np.int64) if both else None
    small = (last - first) <= SMALL_BUCKET
    every = bool(small.all())
    if small.any():
        b = bucket if every else bucket[small]
        if b.size < 2 or bool((b[1:] >= b[:-1]).all()):  # sorted targets (as lookups give them): no sort
            new = np.empty(b.size, dtype=bool)
            new[:1] = True
            np.not_equal(b[1:], b[:-1], out=new[1:])
            uniq, which = b[new], np.cumsum(new) - 1
        else:
            uniq, which = np.unique(b, return_inverse=True)
        u_first = directory[uniq]
        u_size = directory[uniq + 1] - u_first
        u_start = np.cumsum(u_size) - u_size  # where each distinct bucket begins in the gathered array
        gathered = keys[np.repeat(u_first - u_start, u_size) + np.arange(int(u_start[-1] + u_size[-1]))]
        t = targets if every else targets[small]
        base = (first if every else first[small]) - u_start[which]
        if both:
            lo, hi = _search(gathered, t, None)
        else:
            lo, hi = np.searchsorted(gathered, np.asarray(t, dtype=keys.dtype), side="right" if right else "left"), None
        one[small if not every else slice(None)] = lo + base
        if both:
            two[small if not every else slice(None)] = hi + base
    if not every:
        big = ~small
        t, f, l = targets[big].astype(np.int64), first[big], last[big]
        one[big] = _bisect(keys, t, f, l, right=right)
        if both:
            two[big] = _bisect(keys, t, one[big], l, right=True)
    return one, two


def _bisect(keys: np.ndarray, targets: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, right: bool) -> np.ndarray:
    """Vectorised binary search of each target within its own ``[lo, hi)`` of sorted ``keys``.

    Returns the first position whose key is ``>= target`` (``> target`` when
    ``right``), like ``np.searchsorted`` restricted to the slice.
    """
    lo = lo.copy()
    hi = hi.copy()
    active = np.flatnonzero(lo < hi)
    while active.size:
        mid = (lo[active] + hi[active]) >> 1
        k = np.asarray(keys[mid]).astype(np.int64)
        t = targets[active]
        go_right = (k <= t) if right else (k < t)
        lo[active] = np.where(go_right, mid + 1, lo[active])
        hi[active] = np.where(go_right, hi[active], mid)
        active = active[lo[active] < hi[active]]
    return lo


def build_directory(keys: np.ndarray, *, entries_per_bucket: int = ENTRIES_PER_BUCKET) -> tuple[np.ndarray, int]:
    """Bucket directory of sorted uint32 ``keys`` (see the module docstring).

    Returns
    -------
    directory : ndarray of int64, shape (n_buckets + 1,)
    shift : int
    """
    n = int(keys.shape[0])
    if n == 0:
        return np.zeros(2, dtype=np.int64), 0
    bits = max(1, int(keys[-1]).bit_length())
    target = max(1, n // entries_per_bucket)
    dir_bits = min(bits, max(0, int(np.ceil(np.log2(target)))))
    shift = bits - dir_bits
    n_buckets = (int(keys[-1]) >> shift) + 1
    counts = np.zeros(n_buckets, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        chunk = np.asarray(keys[start:start + _CHUNK]).astype(np.int64) >> shift
        counts += np.bincount(chunk, minlength=n_buckets)
    directory = np.zeros(n_buckets + 1, dtype=np.int64)
    np.cumsum(counts, out=directory[1:])
    return directory, shift


class SegmentCache:
    """A local, content-addressed folder of ``.npy`` files (the PostgreSQL store's segment arrays).

    A file is named by the SHA-256 of its bytes (``ROOT/ab/abcdef….npy``), so
    any number of processes and registries may share one cache: a file is
    written to a temporary name and renamed into place, and two processes
    writing the same array write the same bytes.  Deleting the folder (or any
    file in it) at any time is safe: what is missing is fetched again.

    Parameters
    ----------
    root : path
        The cache folder (created when first written).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / f"{sha256}.npy"

    def find(self, sha256: str, n_bytes: int) -> Path | None:
        """The cached file with this digest, if present with the right size."""
        p = self.path(sha256)
        try:
            return p if p.stat().st_size == n_bytes else None
        except FileNotFoundError:
            return None

    def _temp(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=folder)
        return os.fdopen(fd, "wb"), Path(name)

    def save_array(self, arr: np.ndarray) -> tuple[str, int, Path]:
        """Write ``arr`` in ``.npy`` format; returns (SHA-256 of the file, its size in bytes, its path)."""
        fh, tmp = self._temp(self.root)
        try:
            with fh:
                writer = _HashingWriter(fh)
                np.save(writer, np.ascontiguousarray(arr), allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
            sha = writer.sha.hexdigest()
            final = self.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return sha, writer.n_bytes, final
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def fill(self, sha256: str, n_bytes: int, chunks: Iterable[bytes]) -> Path:
        """Write the file made of ``chunks`` into the cache, checking its size and digest.

        Raises
        ------
        ValueError
            If the bytes are not what ``sha256`` and ``n_bytes`` say (nothing is kept).
        """
        final = self.path(sha256)
        fh, tmp = self._temp(final.parent)
        try:
            with fh:
                writer = _HashingWriter(fh)
                for chunk in chunks:
                    writer.write(chunk)
                    if writer.n_bytes > n_bytes:
                        break
                fh.flush()
                os.fsync(fh.fileno())
            if writer.n_bytes != n_bytes or writer.sha.hexdigest() != sha256:
                raise ValueError(f"array {sha256[:16]}…: got {writer.n_bytes} bytes with another digest, "
                                 f"expected {n_bytes} bytes")
            os.replace(tmp, final)
            return final
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def discard(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)


class _HashingWriter:
    """A write-only file object that also hashes and counts what passes through."""

    def __init__(self, fh) -> None:
        self._fh = fh
        self.sha = hashlib.sha256()
        self.n_bytes = 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.sha.update(view)
        self.n_bytes += view.nbytes
        self._fh.write(view)
        return view.nbytes
