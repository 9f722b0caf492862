"""The sharded index on Ray: one actor per shard, a query fanned out to all and merged.

>>> from consentry.cluster.index import ShardedIndex
>>> index = ShardedIndex.start(registry, n_shards=4, root="/shared/consentry-shards")   # doctest: +SKIP
>>> worker_registry = index.attach(Registry.open(spec))        # identify now looks up through the shards  # doctest: +SKIP

Each :class:`IndexShard` actor memory-maps one shard of a layout cut by
:func:`consentry.cluster.shards.cut_layout` (the folder must be readable by
every node: shared storage, or the same path on each).  :meth:`ShardedIndex.lookup`
has the signature and the result of the engine's
:func:`~consentry.engines.music.postings.lookup`, so the engine's
``identify_segments`` takes a :class:`ShardedIndex` where it takes a list of
segments, and verification sees the same hits (``tests/cluster/test_cluster.py``
checks the matches against one index).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from consentry.cluster import ClusterError, import_ray
from consentry.cluster.shards import (
    ShardLayoutError, allowed_cells, cut_layout, lookup_shard, merge_lookups, open_shard, read_layout,
)

#: Calls one shard actor serves at once (threads; NumPy releases the GIL in the lookups).
SHARD_CONCURRENCY = 4


class IndexShard:
    """Ray actor body: serves lookups in shard ``k`` of the layout in ``folder``."""

    def __init__(self, folder: str, k: int) -> None:
        self.parts = open_shard(folder, k)

    def size(self) -> int:
        """Postings held (entries of every segment part)."""
        return sum(len(p.segment) for p in self.parts)

    def lookup(self, ranges: np.ndarray, max_postings_per_range: int, with_keys: bool, counts_only: bool = False,
               allowed: np.ndarray | None = None) -> dict:
        """See :func:`consentry.cluster.shards.lookup_shard`; ``ranges`` is ``[key_lo, key_hi]``, shape (2, r)."""
        return lookup_shard(self.parts, ranges[0], ranges[1], max_postings_per_range=max_postings_per_range,
                            with_keys=with_keys, counts_only=counts_only, allowed=allowed)


class ShardedIndex:
    """Handles to the shard actors of one layout; picklable, so workers can hold it.

    Attributes
    ----------
    folder : str
        The layout's folder.
    engine_key : dict
        ``{"engine", "engine_version", "param_hash"}`` the layout was cut for.
    shards : list
        Ray actor handles, shard ``k`` at position ``k``.
    """

    def __init__(self, folder: str, engine_key: dict, shards: list, n_segments: int) -> None:
        self.folder = folder
        self.engine_key = dict(engine_key)
        self.shards = list(shards)
        self.n_segments = int(n_segments)

    @property
    def n_shards(self) -> int:
        return len(self.shards)

    @classmethod
    def start(cls, registry, *, n_shards: int, root: str | os.PathLike | None = None) -> "ShardedIndex":
        """Cut (or reuse) the layout of ``registry``'s index in ``n_shards`` shards and start one actor per shard.

        ``root`` is the folder of layouts (default: ``shards/`` in the
        registry's local folder); it must be readable by every node.
        The actors ask for no CPU of their own (they mostly wait on page
        reads), so scan workers can use every CPU.
        """
        ray = import_ray()
        folder = cut_registry_layout(registry, n_shards=n_shards, root=root)
        doc = read_layout(folder)
        actor = ray.remote(num_cpus=0, max_restarts=2, max_task_retries=2,
                           max_concurrency=SHARD_CONCURRENCY)(IndexShard)
        shards = [actor.remote(str(folder), k) for k in range(doc["n_shards"])]
        try:
            ray.get([s.size.remote() for s in shards])
        except Exception as exc:  # noqa: BLE001 - an actor that cannot open its shard
            for s in shards:
                ray.kill(s)
            raise ClusterError(f"{folder}: an index shard could not be opened on the cluster ({_first_line(exc)}); "
                               "the folder must be readable by every node") from None
        return cls(str(folder), doc["engine"], shards, len(doc["segments"]))

    def stop(self) -> None:
        """End the shard actors."""
        ray = import_ray()
        for s in self.shards:
            ray.kill(s)
        self.shards = []

    def lookup(self, key_lo: np.ndarray, key_hi: np.ndarray, owner: np.ndarray, *, max_postings_per_range: int,
               with_keys: bool = False, max_postings_total: int | None = None):
        """The engine's ``lookup`` over the whole index, answered by the shards (same hits, same order).

        Without a budget, one round: every shard returns its counts and
        postings.  With ``max_postings_total``, two: the counts, then only
        the postings of the ranges the budget keeps, so no shard sends
        what the budget drops.

        Parameters
        ----------
        key_lo, key_hi : ndarray of uint32, shape (r,)
        owner : ndarray of int64, shape (r,)
        max_postings_per_range : int
        with_keys : bool
        max_postings_total : int, optional

        Returns
        -------
        consentry.engines.music.postings.Hits
        """
        from consentry.engines.music.postings import Hits, unpack_postings

        ray = import_ray()
        order = np.argsort(key_lo, kind="stable")
        ranges = np.stack([np.asarray(key_lo)[order], np.asarray(key_hi)[order]]).astype(np.uint32)
        owner = np.asarray(owner)[order]
        ref = ray.put(ranges)
        cap, n = int(max_postings_per_range), ranges.shape[1]
        try:
            if max_postings_total is None:
                parts = ray.get([s.lookup.remote(ref, cap, bool(with_keys)) for s in self.shards])
                allowed = allowed_cells(parts, self.n_segments, n, max_postings_per_range=cap)
            else:
                counts = ray.get([s.lookup.remote(ref, cap, False, True) for s in self.shards])
                allowed = allowed_cells(counts, self.n_segments, n, max_postings_per_range=cap,
                                        max_postings_total=int(max_postings_total))
                allowed_ref = ray.put(allowed)
                parts = ray.get([s.lookup.remote(ref, cap, bool(with_keys), False, allowed_ref) for s in self.shards])
        except Exception as exc:  # noqa: BLE001 - the actor died beyond its restarts
            raise ClusterError(f"index shard lost ({_first_line(exc)}); run again to restart the shards") from None
        hit_range, values, keys = merge_lookups(parts, allowed, with_keys=with_keys)
        fp_id, frame, midi = unpack_postings(values)
        return Hits(owner[hit_range].astype(np.int64), fp_id, frame, midi, keys)

    def attach(self, registry):
        """``registry`` with its index looked up through these shards (the rest of the store as it is)."""
        attached = type(registry)(_ShardedStore(registry.store, self), params=registry.params)
        if attached.param_hash != self.engine_key["param_hash"]:
            raise ClusterError(f"{self.folder}: the shard layout was cut for engine parameters "
                               f"{self.engine_key['param_hash']}, not {attached.param_hash}")
        return attached


class _ShardedStore:
    """A store whose index segments are a :class:`ShardedIndex` (every other call goes to ``store``)."""

    def __init__(self, store, index: ShardedIndex) -> None:
        self._store = store
        self._index = index

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def index_segments(self, *, engine: str, engine_version: str, param_hash: str):
        """The sharded index for the engine it was cut for; the store's own segments for any other
        (an older engine version's segments, kept until ``consentry reindex``)."""
        asked = {"engine": engine, "engine_version": engine_version, "param_hash": param_hash}
        if asked != self._index.engine_key:
            return self._store.index_segments(**asked)
        return self._index


def cut_registry_layout(registry, *, n_shards: int, root: str | os.PathLike | None = None) -> Path:
    """Cut (or find) the shard layout of ``registry``'s current index; returns its folder.

    This is also how a registry is re-sharded: the same segments in another
    number of shards make another layout beside the first.
    """
    from consentry.engines.music.params import ENGINE_NAME
    from consentry.engines.music.postings import unpack_postings

    key = {"engine": ENGINE_NAME, "engine_version": registry.params.version, "param_hash": registry.param_hash}
    store = registry.store
    root = Path(root) if root is not None else Path(registry.local_dir) / "shards"
    for _ in range(3):
        stems = store.index_segment_stems(**key)
        segments = store.index_segments(**key)
        try:
            return cut_layout(root, segments, stems, n_shards=n_shards, engine_key=key,
                              fp_id_of=lambda v: unpack_postings(v)[0])
        except ShardLayoutError as exc:
            if "changed while" not in str(exc):
                raise ClusterError(str(exc)) from None
    raise ClusterError(f"{registry.location}: index segments keep changing; try again")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[-1] if text else type(exc).__name__)[:200]
