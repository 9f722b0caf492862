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
search over the whole, possibly uncached, key file.

The SQLite store keeps these files beside the database; the PostgreSQL store
keeps the same bytes in the database and a :class:`SegmentCache` of them on
each machine, memory-mapped the same way.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
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

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def find_ranges(self, key_lo: np.ndarray, key_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``[start, stop)`` of the keys within each inclusive range.

        Parameters
        ----------
        key_lo, key_hi : ndarray of uint32, shape (r,)

        Returns
        -------
        start, stop : ndarray of int64, shape (r,)
        """
        n_buckets = self.directory.shape[0] - 1
        if len(self) == 0 or key_lo.size == 0:
            z = np.zeros(key_lo.shape[0], dtype=np.int64)
            return z, z
        b_lo = np.minimum(key_lo.astype(np.int64) >> self.shift, n_buckets - 1)
        b_hi = np.minimum(key_hi.astype(np.int64) >> self.shift, n_buckets - 1)
        first = np.asarray(self.directory[b_lo], dtype=np.int64)
        last = np.asarray(self.directory[b_hi + 1], dtype=np.int64)
        start = _bisect(self.keys, key_lo.astype(np.int64), first, last, right=False)
        stop = _bisect(self.keys, key_hi.astype(np.int64), start, last, right=True)
        return start, stop


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
