"""The index split into shards by work: files on disk, lookups in one shard, and the merge.

A registry's index is a list of segments (``consentry.store.segments``),
each holding the postings of many works sorted by key.  A *shard layout*
splits every segment by work: posting ``i`` of segment ``s`` goes to shard
``fp_id % n_shards``, where ``fp_id`` is the work's fingerprint id, keeping
its order.  Shard ``k`` then holds, for each segment ``s``, a smaller sorted
segment with the same keys and postings plus the original position of every
posting.  A lookup in every shard, merged by :func:`merge_lookups`, gives the
postings one :func:`~consentry.engines.music.postings.lookup` over the whole
index gives, in the same order, with the same too-common ranges skipped (the
count of a range is the sum over the shards), so verification sees the very
same hits and the matches are identical.

On disk (``DIR`` is the layout's folder; every array is a ``.npy`` file,
memory-mapped by readers)::

    DIR/layout.json                          # see LAYOUT_FORMAT below
    DIR/shard-0003/seg-0001.keys.npy         # uint32, sorted
    DIR/shard-0003/seg-0001.values.npy       # uint64 postings (the engine's packing)
    DIR/shard-0003/seg-0001.pos.npy          # int64, the posting's position in segment 1
    DIR/shard-0003/seg-0001.dir.npy          # int64 bucket directory (``build_directory``)

``layout.json``::

    {"format": "consentry-index-shards", "version": 1,
     "engine": {"engine": ..., "engine_version": ..., "param_hash": ...},
     "n_shards": 4, "assign": "fp_id % n_shards",
     "segments": [{"stem": "seg-…", "n_entries": 123456}, …],      # the registry's segments, in index order
     "shards": [[{"n_entries": 30000, "shift": 9}, …], …]}           # per shard, per segment

A layout is written to a temporary folder and renamed into place when
complete, so a reader never sees half a layout.  It names the segments it
was cut from; when the registry's segments change (a registration, a
compaction) the layout is stale and is cut again (:func:`layout_dir` names a
new folder for the new segments).  Re-sharding is cutting a layout with
another ``n_shards``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from consentry.store.segments import IndexSegment, build_directory

LAYOUT_FORMAT = "consentry-index-shards"
LAYOUT_VERSION = 1
#: Postings read from a segment at a time while cutting a layout (memory stays bounded).
CHUNK_ENTRIES = 4_000_000


class ShardLayoutError(ValueError):
    """A shard layout is missing, damaged, or was cut from other segments."""


@dataclass(frozen=True)
class ShardSegment:
    """One segment's postings held by one shard.

    Attributes
    ----------
    segment : IndexSegment
        Keys (uint32, sorted), values (uint64) and directory, memory-mapped.
    positions : ndarray of int64, shape (n,)
        Position of each posting in the registry's segment (ascending).
    """

    segment: IndexSegment
    positions: np.ndarray


def segments_digest(stems: Sequence[tuple[str, int]], engine_key: dict) -> str:
    """A short digest of the segments a layout is cut from (stems and sizes, in order) and the engine."""
    h = hashlib.sha256(json.dumps([engine_key, [list(s) for s in stems]], sort_keys=True).encode())
    return h.hexdigest()[:16]


def layout_dir(root: str | os.PathLike, stems: Sequence[tuple[str, int]], engine_key: dict, n_shards: int) -> Path:
    """The folder of the layout of these segments in ``n_shards`` shards, under ``root``."""
    return Path(root) / f"{segments_digest(stems, engine_key)}-{int(n_shards)}"


def cut_layout(
    root: str | os.PathLike,
    segments: Sequence[IndexSegment],
    stems: Sequence[tuple[str, int]],
    *,
    n_shards: int,
    engine_key: dict,
    fp_id_of: Callable[[np.ndarray], np.ndarray],
) -> Path:
    """Split ``segments`` into ``n_shards`` shards by work and write the layout; returns its folder.

    An existing complete layout of the same segments and shard count is
    kept as it is.

    Parameters
    ----------
    root : path
        Folder of the registry's layouts (one sub-folder per layout).
    segments : sequence of IndexSegment
        The registry's segments, in index order (may be memory-mapped).
    stems : sequence of (str, int)
        Each segment's stem and number of entries, as the store lists them.
    n_shards : int
        At least 1.
    engine_key : dict
        ``{"engine", "engine_version", "param_hash"}`` of the segments.
    fp_id_of : callable(ndarray of uint64) -> ndarray of int64
        The work's fingerprint id of each posting (the engine's unpacking).
    """
    n_shards = int(n_shards)
    if n_shards < 1:
        raise ShardLayoutError(f"index shards: {n_shards}; give 1 or more")
    if len(segments) != len(stems) or any(len(seg) != n for seg, (_, n) in zip(segments, stems)):
        raise ShardLayoutError("index segments changed while the layout was being cut; try again")
    final = layout_dir(root, stems, engine_key, n_shards)
    if (final / "layout.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".cut-", dir=final.parent))
    try:
        shard_meta: list[list[dict]] = [[] for _ in range(n_shards)]
        for k in range(n_shards):
            (tmp / f"shard-{k:04d}").mkdir()
        for s, seg in enumerate(segments):
            for k, meta in enumerate(_cut_segment(tmp, s, seg, n_shards=n_shards, fp_id_of=fp_id_of)):
                shard_meta[k].append(meta)
        doc = {"format": LAYOUT_FORMAT, "version": LAYOUT_VERSION, "engine": dict(engine_key),
               "n_shards": n_shards, "assign": "fp_id % n_shards",
               "segments": [{"stem": stem, "n_entries": int(n)} for stem, n in stems], "shards": shard_meta}
        (tmp / "layout.json").write_text(json.dumps(doc, indent=1))
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished the same layout first
            if not (final / "layout.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _cut_segment(folder: Path, s: int, seg: IndexSegment, *, n_shards: int, fp_id_of) -> list[dict]:
    """Write segment ``s``'s postings into each shard's folder (two passes: count, then fill)."""
    n = len(seg)
    counts = np.zeros(n_shards, dtype=np.int64)
    for a in range(0, n, CHUNK_ENTRIES):
        shard = fp_id_of(np.asarray(seg.values[a:a + CHUNK_ENTRIES])) % n_shards
        counts += np.bincount(shard, minlength=n_shards)
    out_arrays = []
    for k in range(n_shards):
        stem = folder / f"shard-{k:04d}" / f"seg-{s:04d}"
        c = int(counts[k])
        out_arrays.append(tuple(np.lib.format.open_memmap(f"{stem}.{kind}.npy", mode="w+", dtype=dtype, shape=(c,))
                                for kind, dtype in (("keys", np.uint32), ("values", np.uint64), ("pos", np.int64))))
    filled = np.zeros(n_shards, dtype=np.int64)
    for a in range(0, n, CHUNK_ENTRIES):
        values = np.asarray(seg.values[a:a + CHUNK_ENTRIES])
        keys = np.asarray(seg.keys[a:a + CHUNK_ENTRIES])
        shard = fp_id_of(values) % n_shards
        for k in range(n_shards):
            rows = np.flatnonzero(shard == k)
            if rows.size == 0:
                continue
            f = int(filled[k])
            keys_k, values_k, pos_k = out_arrays[k]
            keys_k[f:f + rows.size] = keys[rows]
            values_k[f:f + rows.size] = values[rows]
            pos_k[f:f + rows.size] = rows + a
            filled[k] += rows.size
    metas = []
    for k in range(n_shards):
        keys_k, values_k, pos_k = out_arrays[k]
        directory, shift = build_directory(keys_k)
        stem = folder / f"shard-{k:04d}" / f"seg-{s:04d}"
        for arr in out_arrays[k]:
            arr.flush()
        np.save(f"{stem}.dir.npy", directory, allow_pickle=False)
        metas.append({"n_entries": int(counts[k]), "shift": int(shift)})
        del keys_k, values_k, pos_k
    return metas


def read_layout(folder: str | os.PathLike) -> dict:
    """The layout's ``layout.json``, checked."""
    path = Path(folder) / "layout.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ShardLayoutError(f"{folder}: no shard layout here (layout.json missing)") from None
    except (OSError, ValueError) as exc:
        raise ShardLayoutError(f"{path}: unreadable shard layout ({exc})") from None
    if doc.get("format") != LAYOUT_FORMAT or doc.get("version") != LAYOUT_VERSION:
        raise ShardLayoutError(f"{path}: not a version-{LAYOUT_VERSION} shard layout")
    if len(doc.get("shards", ())) != doc.get("n_shards"):
        raise ShardLayoutError(f"{path}: damaged shard layout (shard count)")
    return doc


def open_shard(folder: str | os.PathLike, k: int) -> list[ShardSegment]:
    """Shard ``k`` of the layout in ``folder``: one memory-mapped :class:`ShardSegment` per registry segment."""
    doc = read_layout(folder)
    if not 0 <= k < doc["n_shards"]:
        raise ShardLayoutError(f"{folder}: no shard {k} (the layout has {doc['n_shards']})")
    out = []
    for s, meta in enumerate(doc["shards"][k]):
        stem = Path(folder) / f"shard-{k:04d}" / f"seg-{s:04d}"
        try:
            keys, values, pos, directory = (np.load(f"{stem}.{kind}.npy", mmap_mode="r", allow_pickle=False)
                                            for kind in ("keys", "values", "pos", "dir"))
        except (OSError, ValueError) as exc:
            raise ShardLayoutError(f"{stem}: damaged shard segment ({exc}); cut the layout again") from None
        n = meta["n_entries"]
        if not (keys.shape == values.shape == pos.shape == (n,)) or directory.ndim != 1 or directory.shape[0] < 2:
            raise ShardLayoutError(f"{stem}: damaged shard segment (sizes); cut the layout again")
        out.append(ShardSegment(IndexSegment(keys, values, directory, int(meta["shift"])), pos))
    return out


def lookup_shard(shard: Sequence[ShardSegment], key_lo: np.ndarray, key_hi: np.ndarray, *,
                 max_postings_per_range: int, with_keys: bool = False, counts_only: bool = False,
                 allowed: np.ndarray | None = None) -> dict:
    """Look up sorted key ranges in one shard: counts per (segment, range), and the postings.

    Parameters
    ----------
    shard : sequence of ShardSegment
        From :func:`open_shard`.
    key_lo, key_hi : ndarray of uint32, shape (r,)
        Inclusive key ranges, sorted by ``key_lo`` (the order
        :func:`~consentry.engines.music.postings.lookup` looks them up in).
    max_postings_per_range : int
        Without ``allowed``: postings of a range are not returned when this
        shard alone holds more than this many (the whole index holds more
        still: the range is skipped); its count is returned all the same.
    with_keys : bool
        Also return the key of each posting.
    counts_only : bool
        Return the counts only (the first round of a lookup under a budget).
    allowed : ndarray of bool, shape (n_segments, r), optional
        Return the postings of exactly these (segment, range) cells
        (decided from every shard's counts: :func:`allowed_cells`).

    Returns
    -------
    dict of ndarrays
        ``seg``, ``range``, ``count`` (int64, shape (c,)): every (segment,
        range) with postings here, and how many; ``hit_seg``, ``hit_range``,
        ``hit_pos`` (int64, shape (h,)), ``hit_value`` (uint64) and, with
        ``with_keys``, ``hit_key`` (uint32): the postings, with their
        position in the registry's segment.
    """
    parts: dict[str, list] = {name: [] for name in ("seg", "range", "count", "hit_seg", "hit_range", "hit_pos",
                                                     "hit_value", "hit_key")}
    for s, part in enumerate(shard):
        if len(part.segment) == 0 or key_lo.size == 0:
            continue
        lo, hi = part.segment.find_ranges(key_lo, key_hi)
        counts = hi - lo
        nz = np.flatnonzero(counts)
        if nz.size == 0:
            continue
        parts["seg"].append(np.full(nz.size, s, dtype=np.int64))
        parts["range"].append(nz.astype(np.int64))
        parts["count"].append(counts[nz].astype(np.int64))
        if counts_only:
            continue
        keep = nz[allowed[s, nz]] if allowed is not None else nz[counts[nz] <= max_postings_per_range]
        c = counts[keep]
        total = int(c.sum())
        if total == 0:
            continue
        starts = np.cumsum(c) - c
        rows = np.repeat(lo[keep] - starts, c) + np.arange(total)
        parts["hit_seg"].append(np.full(total, s, dtype=np.int64))
        parts["hit_range"].append(np.repeat(keep.astype(np.int64), c))
        parts["hit_pos"].append(np.asarray(part.positions[rows], dtype=np.int64))
        parts["hit_value"].append(np.asarray(part.segment.values[rows], dtype=np.uint64))
        if with_keys:
            parts["hit_key"].append(np.asarray(part.segment.keys[rows], dtype=np.uint32))
    dtypes = {"hit_value": np.uint64, "hit_key": np.uint32}
    out = {name: (np.concatenate(p) if p else np.zeros(0, dtype=dtypes.get(name, np.int64)))
           for name, p in parts.items()}
    if not with_keys:
        del out["hit_key"]
    return out


def allowed_cells(parts: Sequence[dict], n_segments: int, n_ranges: int, *, max_postings_per_range: int,
                  max_postings_total: int | None = None) -> np.ndarray:
    """The (segment, range) cells whose postings one lookup over the whole index would gather.

    From every shard's counts: a cell with more than
    ``max_postings_per_range`` postings in all is too common and dropped; with
    ``max_postings_total``, ranges are then taken rarest first (fewest
    postings over all segments, ties in range order) while the total stays
    within it, as :func:`~consentry.engines.music.postings.lookup` does.

    Returns
    -------
    ndarray of bool, shape (n_segments, n_ranges)
    """
    counts = np.zeros((max(1, n_segments), max(0, n_ranges)), dtype=np.int64)
    for p in parts:
        np.add.at(counts, (p["seg"], p["range"]), p["count"])
    counts[counts > max_postings_per_range] = 0
    if max_postings_total is not None and counts.size:
        per_range = counts.sum(axis=0)
        if int(per_range.sum()) > max_postings_total:
            rarest = np.argsort(per_range, kind="stable")
            over = rarest[np.cumsum(per_range[rarest]) > max_postings_total]
            counts[:, over] = 0
    return counts > 0


def merge_lookups(parts: Sequence[dict], allowed: np.ndarray, *,
                  with_keys: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Merge every shard's :func:`lookup_shard` postings into what one lookup over the whole index gives.

    Postings of the ``allowed`` cells (:func:`allowed_cells`) are kept and
    ordered by segment, range (in the sorted order), then position in the
    segment: the single index's order.

    Returns
    -------
    ranges : ndarray of int64, shape (h,)
        Index of each posting's range in the sorted ranges.
    values : ndarray of uint64, shape (h,)
    keys : ndarray of uint32, shape (h,), or None without ``with_keys``
    """
    def cat(name: str, dtype) -> np.ndarray:
        arrays = [p[name] for p in parts if name in p]
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)

    hit_seg, hit_range, hit_pos = cat("hit_seg", np.int64), cat("hit_range", np.int64), cat("hit_pos", np.int64)
    values = cat("hit_value", np.uint64)
    keys = cat("hit_key", np.uint32) if with_keys else None
    keep = allowed[hit_seg, hit_range] if hit_seg.size else np.zeros(0, dtype=bool)
    order = np.lexsort((hit_pos[keep], hit_range[keep], hit_seg[keep]))
    return hit_range[keep][order], values[keep][order], (keys[keep][order] if keys is not None else None)
