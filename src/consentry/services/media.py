"""Every medium through the media-engine interface: which engine reads an input, its registration, its identify.

Music keeps its own tuned paths in :mod:`consentry.services.registry` (worker
processes, melodies, conflict matches) and :mod:`consentry.services.identify`;
every other medium (text, images, ...) goes through the functions here, which
use only :class:`consentry.engines.base.MediaEngine`. So a new medium is its
engine package and one line in :data:`consentry.engines._BUILTIN`: register,
identify, scan and check find it by sniffing (docs/engines.md, "Adding a
medium").

A match of another medium is a :class:`~consentry.domain.works.Match` with
``medium`` set, the music fields (seconds, speed, pitch) left empty, and the
medium's own located fields in ``detail`` (its engine's
:meth:`match_fields`, or the two extents when it has none).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from consentry import engines
from consentry.domain.errors import ConsentryError, DecodeError, InputError
from consentry.domain.works import Match, Terms, Work

#: Bytes read from the start of an input to choose its engine.
HEAD_BYTES = 4096


def read_head(path: str | os.PathLike, n: int = HEAD_BYTES) -> bytes:
    """The first ``n`` bytes of a user-named file (never one of the registry's own files).

    Raises :class:`InputError` (one line naming the file) when it cannot be read.
    """
    from consentry.io.heldfiles import refuse_held

    refuse_held(path)
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None


def engine_for_head(head: bytes, *, name: str | None = None) -> engines.MediaEngine | None:
    """The engine whose sniffer claims ``head``, or None (:func:`consentry.engines.for_head`)."""
    return engines.for_head(head, name=name)


def engine_for_path(path: str | os.PathLike) -> engines.MediaEngine | None:
    """The engine that reads the file at ``path`` (by content), or None."""
    return engine_for_head(read_head(path), name=os.path.basename(os.fspath(path)))


def folder_extensions() -> frozenset[str]:
    """Lower-cased file suffixes that folder walks pick up for the non-music media (:func:`consentry.engines.extensions`)."""
    return engines.extensions()


# -- registration ---------------------------------------------------------------------------------------------------


def fingerprint_path(path: str, medium: str, *, match_in=None) -> dict:
    """Worker: decode and fingerprint one input of ``medium`` (picklable result, as for music).

    Returns ``{"path", "medium", "size", "unit", "fingerprint"}`` or ``{"path", "error"}``
    (a one-line reason; the caller names the file).  With ``match_in`` (a registry), also
    ``"matches"``: the registered works found in the input (:func:`conflict_matches`, for ownership
    claims, docs/claims.md); ``"warning"`` when the engine says no copy of the input could ever be identified
    (its optional ``unfindable_reason``: an image of a single colour).
    """
    engine = engines.get(medium)
    try:
        signal = engine.decode(path, name=os.path.basename(path))
        fp = engine.fingerprint(signal)
    except DecodeError as exc:
        return {"path": path, "error": exc.reason}
    except ConsentryError as exc:
        return {"path": path, "error": str(exc).removeprefix(f"{path}: ")}
    except MemoryError:
        return {"path": path, "error": "too large to read in memory"}
    if len(fp) == 0:
        return {"path": path, "error": f"nothing distinctive to identify it by (empty or too short {medium})"}
    title_of = getattr(engine, "title_of", None)  # optional: a title the document itself gives (HTML, EPUB, tags)
    result = {"path": path, "medium": medium, "size": float(signal.size), "unit": signal.unit, "fingerprint": fp,
              "title": title_of(signal) if title_of is not None else None}
    unfindable = getattr(engine, "unfindable_reason", None)
    if unfindable is not None and (why := unfindable(fp)):
        result["warning"] = why
    if match_in is not None:
        try:
            result["matches"] = conflict_matches(match_in, engine, signal)
        except ConsentryError as exc:
            return {"path": path, "error": str(exc).removeprefix(f"{path}: ")}
    return result


def conflict_matches(registry, engine: engines.MediaEngine, signal) -> list[dict]:
    """The registered works ``engine`` finds in an input being registered, as the ownership check takes them
    (plain dicts, cheap to send between processes): ``work_id``, ``creator``, ``score``, ``confidence``, the
    extents along the first axis in the input's unit under ``query_start_s`` .. ``work_end_s`` (characters
    for a text, as its work's ``duration_s`` holds), and that ``unit``; for an image also :func:`box_fields`
    (its shares are of areas)."""
    out = []
    # An image's boxes span the matched points unless the registered file gives the work's size (refine).
    for m in identify_signal(registry, engine, signal, refine=engine.medium == "image"):
        q, w = first_axis(m.detail, "query"), first_axis(m.detail, "work")
        out.append({"work_id": m.work_id, "creator": m.creator, "query_start_s": q[0], "query_end_s": q[1],
                    "work_start_s": w[0], "work_end_s": w[1], "score": m.score, "confidence": m.confidence,
                    "unit": signal.unit, **box_fields(m.detail)})
    return out


def box_fields(detail: dict) -> dict:
    """An image match's ``query_box`` and ``work_box`` (``[x0, y0, x1, y1]`` pixels), for the ownership
    check; ``{}`` for other media."""
    if not (detail.get("query_box") and detail.get("work_box")):
        return {}
    return {"query_box": list(detail["query_box"]), "work_box": list(detail["work_box"])}


def first_axis(detail: dict, side: str) -> tuple[float, float]:
    """``(start, end)`` along the first axis of a located match's ``query``/``work`` side (``detail``: the
    engine's match fields), in its unit: characters of a text, pixels of an image."""
    ext = detail.get(f"{side}_extent")
    if ext:
        return float(ext["start"][0]), float(ext["end"][0])
    if f"{side}_start_char" in detail:
        return float(detail[f"{side}_start_char"]), float(detail[f"{side}_end_char"])
    box = detail.get(f"{side}_box")
    if box:
        return float(box[0]), float(box[2])
    return 0.0, 0.0


def pending_work(result: dict, path: Path, sha: str, *, creator: str | None, title: str | None, terms: Terms,
                 dates: dict, registered_at: str):
    """``(work, keys, make_values)`` for :meth:`consentry.store.sqlbase.SQLStore.add_works` from a worker result."""
    engine = engines.get(result["medium"])
    fp = result["fingerprint"]
    keys, _ = engine.postings(fp, fp_id=0)
    work = Work(
        work_id=sha[:16], fp_id=0, sha256=sha,
        title=title or result.get("title") or path.stem,
        creator=creator,
        source=str(path.resolve()),
        duration_s=float(result["size"]),
        registered_at=registered_at,
        engine=engine.id.name, engine_version=engine.id.version, param_hash=engine.id.param_hash,
        n_hashes=int(len(fp)), terms=terms, **dates,
    )
    return work, keys, lambda fp_id: engine.postings(fp, fp_id=fp_id)[1]


# -- identify -------------------------------------------------------------------------------------------------------


def identify_path(registry, path: str | os.PathLike, *, engine: engines.MediaEngine | None = None,
                  min_score: float | None = None) -> list[Match]:
    """Every registered work of the input's medium found in the file at ``path``, best first (disputes applied)."""
    engine = engine or engine_for_path(path)
    if engine is None:
        raise InputError(f"{path}: not a medium Consentry reads (known: {', '.join(engines.media())})")
    signal = engine.decode(path, name=os.path.basename(os.fspath(path)))
    return identify_signal(registry, engine, signal, min_score=min_score, refine=True)


def unsearched_works(registry, engine: engines.MediaEngine) -> int:
    """Live works of ``engine``'s medium fingerprinted by an older version (or other parameters) of its engine.

    :func:`identify_signal` searches the current version's index only, so these
    works are not found until ``consentry reindex`` fingerprints them again;
    identify and scan say so (music searches its older built-in versions
    itself: :mod:`consentry.services.identify`).
    """
    return registry.store.works_indexed_elsewhere(**engine.id.store_key())


def unsearched_by_medium(registry) -> dict[str, int]:
    """:func:`unsearched_works` of every medium but music that has an index, where not 0 (``{medium: works}``)."""
    out: dict[str, int] = {}
    for name in sorted({e for e, _, _ in registry.store.indexed_engine_ids()}):
        try:
            engine = engines.by_engine_name(name)
        except (KeyError, ImportError):
            continue
        if engine.medium != "music":
            n = unsearched_works(registry, engine)
            if n:
                out[engine.medium] = out.get(engine.medium, 0) + n
    return out


def unsearched_note(medium: str, count: int) -> str:
    """The one-line warning for :func:`unsearched_works`."""
    return (f"warning: {count} registered {medium} work(s) were fingerprinted by an older version of the {medium} "
            f"engine and are not searched until `consentry reindex` fingerprints them again")


def identify_signal(registry, engine: engines.MediaEngine, signal, *, min_score: float | None = None,
                    searched: float | None = None, with_evidence: bool = False, refine: bool = False) -> list[Match]:
    """The registered works ``engine`` locates in ``signal``, as matches with disputed terms applied.

    With ``refine`` and an engine that has ``refine(signal, located, work_signal)`` (text: word
    alignment), each match is refined with the registered work's own file when it is still at its path
    with the registered content (identify and check; a scan does not re-read works item by item).

    With ``with_evidence``, each match's ``detail["evidence"]`` holds the
    engine's :meth:`evidence_facts` (JSON-safe, for evidence bundles).
    """
    segments = registry.store.index_segments(**engine.id.store_key())
    if not segments:
        return []
    located = engine.locate(signal, segments, min_score=min_score, searched=searched, with_evidence=with_evidence)
    return _matches(registry, engine, signal, located, refine=refine, with_evidence=with_evidence)


def identify_signals(registry, engine: engines.MediaEngine, signals: Sequence, *,
                     min_score: float | None = None) -> list[list[Match]]:
    """:func:`identify_signal` of each of ``signals`` (no refinement, no evidence), searched together when the
    engine has ``locate_many`` (text: a scan's rows, ``docs/text.md``): the same matches, one lookup per batch."""
    if not signals:
        return []
    segments = registry.store.index_segments(**engine.id.store_key())
    if not segments:
        return [[] for _ in signals]
    many = getattr(engine, "locate_many", None)
    if many is not None:
        located = many(signals, segments, min_score=min_score)
    else:
        located = [engine.locate(s, segments, min_score=min_score) for s in signals]
    return [_matches(registry, engine, s, found, refine=False, with_evidence=False) if found else []
            for s, found in zip(signals, located)]


def _matches(registry, engine, signal, located, *, refine: bool, with_evidence: bool) -> list[Match]:
    """Located matches as :class:`Match` rows of live works, disputed terms applied (:func:`identify_signal`)."""
    from consentry.services.identify import disputed_terms

    if not located:
        return []
    works = registry.store.works_by_fp_id(m.fp_id for m in located)
    disputes = disputed_terms(registry, [w for w in works.values() if w.removed_at is None])
    out = []
    work_signals: dict[str, Any] = {}
    for m in located:
        w = works.get(m.fp_id)
        if w is None or w.removed_at is not None:
            continue
        if refine and getattr(engine, "refine", None) is not None:
            m = _refined(engine, signal, m, w, work_signals)
        terms_text, claim_ids = disputes.get(w.work_id, (w.terms.describe(), ()))
        detail = match_fields(engine, m, work=w)
        if with_evidence:
            detail["evidence"] = engine.evidence_facts(m)
        out.append(Match(work_id=w.work_id, title=w.title, source=w.source, creator=w.creator, terms=terms_text,
                         disputed_claims=claim_ids, score=float(m.score), confidence=float(m.confidence),
                         medium=engine.medium, detail=detail))
    return out


#: At most this many works' files are read again per query to refine matches (text: word alignment).
MAX_REFINED_WORKS = 8


def _refined(engine, signal, located, work: Work, cache: dict):
    """``engine.refine(signal, located, work_signal)`` with the registered work's own file, when it is still at
    its path with the registered content (SHA-256); the located match as it is otherwise."""
    from consentry.domain.hashing import sha256_and_size

    if work.work_id not in cache:
        work_signal = None
        if len(cache) < MAX_REFINED_WORKS:
            try:
                if sha256_and_size(work.source)[0] == work.sha256:
                    work_signal = engine.decode(work.source, name=work.source)
            except (OSError, ConsentryError, ValueError):
                work_signal = None
        cache[work.work_id] = work_signal
    work_signal = cache[work.work_id]
    if work_signal is None:
        return located
    try:
        return engine.refine(signal, located, work_signal)
    except (ValueError, MemoryError):
        return located


def match_fields(engine: engines.MediaEngine, located, *, work: Work | None = None) -> dict[str, Any]:
    """A located match's own JSON fields: the engine's ``match_fields(located, work=...)`` when it has one.

    Otherwise the two extents: ``{"query_extent": {...}, "work_extent": {...}}``
    with ``start``, ``end`` (lists, one number per axis) and ``unit``.
    """
    own = getattr(engine, "match_fields", None)
    if own is not None:
        return dict(own(located, work=work))
    return {"query_extent": _extent(located.query), "work_extent": _extent(located.work)}


def _extent(e) -> dict[str, Any]:
    return {"start": [round(float(x), 3) for x in e.start], "end": [round(float(x), 3) for x in e.end],
            "unit": e.unit}


def non_music(results: Sequence[Match]) -> list[Match]:
    """The matches of media other than music (their music fields are empty)."""
    return [m for m in results if m.medium != "music"]
