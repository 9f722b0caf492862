"""Re-fingerprint a registry's works with the current engine of their medium (``consentry reindex``).

A registry made with engine version 1 keeps working after an upgrade: its
works stay searchable with version 1 (``services.identify`` searches each
version's segments with its own engine) until they are re-indexed.  This use
case re-reads each such work from its stored source, checks that the file is
still the one registered (SHA-256), fingerprints it with the registry's engine
and stores the new postings and the work's new engine id together, a batch at
a time.  So it can be stopped at any point and run again: what was committed
is kept, and the next run goes on with the works that still name the old
engine.  When no live work names an old engine any more, the old segments are
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from consentry.domain.errors import DecodeError
from consentry.domain.hashing import sha256_and_size
from consentry.engines.music import engine
from consentry.engines.music.params import ENGINE_NAME, KNOWN_PARAMS
from consentry.io.decode import decode_audio
from consentry.runtime.interrupts import deferred_interrupts, raise_if_stopping

#: Works re-fingerprinted per committed batch.
BATCH_WORKS = 8


@dataclass
class ReindexSummary:
    """What one run of :func:`reindex` did.

    Attributes
    ----------
    reindexed : int
        Works given a fingerprint of the current engine in this run.
    remaining : int
        Live works that still name another engine (failed ones included).
    failed : list of (work_id, reason)
        Works whose source could not be read or has changed since it was registered.
    dropped_segments : int
        Old index segments dropped at the end (only once nothing is left).
    engine : str
        ``name/version/param_hash`` of the engine the works now use.
    """

    reindexed: int = 0
    remaining: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    dropped_segments: int = 0
    engine: str = ""
    #: ``name/version/param_hash`` -> works given a fingerprint of that engine in this run (every medium's).
    engines: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"reindexed": self.reindexed, "remaining": self.remaining, "dropped_segments": self.dropped_segments,
                "engine": self.engine, "engines": dict(self.engines),
                "failed": [{"work_id": w, "reason": r} for w, r in self.failed]}


def works_to_reindex(registry) -> list:
    """Live works whose fingerprint was made by another engine version or parameters than their medium's engine
    now uses (:meth:`Registry.current_engine`): music works against the registry's music engine, texts and images
    against the default engine of their medium (a work of another medium's old version is not found until it is
    re-indexed)."""
    return [w for w in registry.works()
            if registry.current_engine(w.engine) not in (None, (w.engine_version, w.param_hash))]


def reindex(registry, *, progress: Callable[[int, int], None] | None = None) -> ReindexSummary:
    """Re-fingerprint every live work that names another version of its medium's engine, from its stored source.

    Music works get the registry's music engine, texts and images their
    medium's current engine.  Old segments are dropped once no live work names
    their engine id (music: only when nothing is left to re-index).

    Parameters
    ----------
    registry : consentry.services.registry.Registry
    progress : callable(done, total), optional
        Called after each work.

    Returns
    -------
    ReindexSummary
    """
    params = registry.params
    summary = ReindexSummary(engine=f"{ENGINE_NAME}/{params.version}/{registry.param_hash}")
    todo = works_to_reindex(registry)
    total = len(todo)
    music_id = (ENGINE_NAME, params.version, registry.param_hash)
    batches: dict[tuple[str, str, str], list] = {}  # engine id -> works re-fingerprinted with it, not yet stored

    def commit(engine_id: tuple[str, str, str]) -> None:
        batch = batches.pop(engine_id, [])
        with deferred_interrupts():
            done = registry.store.reindex_works(
                batch, engine=engine_id[0], engine_version=engine_id[1], param_hash=engine_id[2])
        summary.reindexed += done
        name = "/".join(engine_id)
        summary.engines[name] = summary.engines.get(name, 0) + done

    for i, work in enumerate(todo, 1):
        raise_if_stopping()
        reason = _source_problem(work)
        if reason is None:
            if work.engine == ENGINE_NAME:
                engine_id = music_id
                try:
                    audio = decode_audio(work.source, sample_rate_hz=params.sample_rate_hz)
                    keys, frames, midis = engine.index_hashes(audio.samples, params)
                    entry = (work.fp_id, int(keys.size), keys, engine.pack_postings(work.fp_id, frames, midis))
                except DecodeError as exc:
                    reason = exc.reason
            else:
                engine_id, entry, reason = _other_medium_entry(work)
            if reason is None:
                batches.setdefault(engine_id, []).append(entry)
                if len(batches[engine_id]) >= BATCH_WORKS:
                    commit(engine_id)
        if reason is not None:
            summary.failed.append((work.work_id, reason))
        if progress is not None:
            progress(i, total)
    for engine_id in list(batches):
        commit(engine_id)
    left = works_to_reindex(registry)
    summary.remaining = len(left)
    if summary.remaining == 0:
        for other in KNOWN_PARAMS:
            if other.param_hash() != registry.param_hash:
                summary.dropped_segments += registry.store.drop_segments(
                    engine=ENGINE_NAME, engine_version=other.version, param_hash=other.param_hash())
    # Texts' and images' old versions: their segments go once no live work names them (they are never searched).
    named = {(w.engine, w.engine_version, w.param_hash) for w in left}
    for name, version, param_hash in registry.store.indexed_engine_ids():
        if name == ENGINE_NAME or registry.current_engine(name) in (None, (version, param_hash)):
            continue
        if (name, version, param_hash) not in named:
            summary.dropped_segments += registry.store.drop_segments(
                engine=name, engine_version=version, param_hash=param_hash)
    if summary.reindexed:  # each batch wrote a segment: merge where small ones pile up
        registry.compact(tiered=True)
    return summary


def _other_medium_entry(work):
    """``(engine id, (fp_id, n_hashes, keys, values), None)`` for a text's or an image's work made again with its
    medium's current engine, or ``(None, None, reason)``."""
    from consentry import engines
    from consentry.services.media import fingerprint_path

    engine_now = engines.by_engine_name(work.engine)
    result = fingerprint_path(work.source, engine_now.medium)
    if "error" in result:
        return None, None, result["error"]
    keys, values = engine_now.postings(result["fingerprint"], fp_id=work.fp_id)
    engine_id = (engine_now.id.name, engine_now.id.version, engine_now.id.param_hash)
    return engine_id, (work.fp_id, int(len(keys)), keys, values), None


def _source_problem(work) -> str | None:
    """Why a work's stored source cannot be re-read as the registered file, or None."""
    try:
        sha, _ = sha256_and_size(work.source)
    except OSError as exc:
        return f"its source {work.source} cannot be read ({exc.strerror or exc}); put the file back there and run again"
    if sha != work.sha256:
        return f"its source {work.source} has changed since it was registered (SHA-256 differs); restore the file"
    return None
