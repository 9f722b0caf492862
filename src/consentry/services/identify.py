"""One identify: every registered work found in a query's samples, with disputed terms applied.

Used by ``register`` (conflicts), ``identify``, ``scan``, ``check``, the
jobs, the API and the training filter (through
:meth:`consentry.services.registry.Registry.identify_samples` or directly), so a work
under an active ownership claim is reported with the strictest terms of the
parties (docs/claims.md) whichever way it is found.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from consentry.domain.errors import ConsentryError
from consentry.domain.works import Match, Work


def identify_samples(registry, samples: np.ndarray, *, min_score: float | None = None,
                     searched_s: float | None = None) -> list[Match]:
    """Every live registered work that occurs in ``samples``, as the engine orders them.

    Parameters
    ----------
    registry : consentry.services.registry.Registry
        The registry searched (its store, engine parameters and parameter hash).
    samples : ndarray of float32, shape (n,)
        Mono audio at ``registry.params.sample_rate_hz``.
    min_score : float, optional
        Fewest inliers to report (default: the engine's threshold for ``searched_s``).
    searched_s : float, optional
        Duration (seconds) of the whole query these samples are a piece of
        (default: theirs); the threshold grows with it.

    Returns
    -------
    list of Match
        ``terms`` is the work's terms, or the strictest terms of its dispute
        while an ownership claim is active (``disputed_claims`` names the claims).
    """
    return [m for m, _ in _identify(registry, samples, min_score=min_score, searched_s=searched_s, with_hashes=False)]


def identify_samples_with_hashes(registry, samples: np.ndarray, *, min_score: float | None = None,
                                 searched_s: float | None = None) -> list[tuple[Match, object]]:
    """Like :func:`identify_samples`, each match with the engine's hash matches behind it.

    Returns ``[(match, hashes)]``: ``hashes`` is the engine's ``MatchedHashes``
    (arrays ``key``, ``query_frame``, ``work_frame``, in frames of
    ``registry.params.frames_per_s``).
    """
    return _identify(registry, samples, min_score=min_score, searched_s=searched_s, with_hashes=True)


def _searches(registry) -> list[tuple[object, list]]:
    """``(params, segments)`` to search: the registry's engine version, then each older built-in version
    whose segments are still in the store (works not yet re-indexed with ``consentry reindex``)."""
    from consentry.engines.music.params import ENGINE_NAME, KNOWN_PARAMS

    params = registry.params
    out = [(params, registry.store.index_segments(engine=ENGINE_NAME, engine_version=params.version,
                                                  param_hash=registry.param_hash))]
    for other in KNOWN_PARAMS:
        if other.param_hash() == registry.param_hash:
            continue
        segments = registry.store.index_segments(engine=ENGINE_NAME, engine_version=other.version,
                                                 param_hash=other.param_hash())
        if segments:
            out.append((other, segments))
    return out


def _identify(registry, samples: np.ndarray, *, min_score: float | None, searched_s: float | None,
              with_hashes: bool) -> list[tuple[Match, object]]:
    from consentry.engines.music import engine

    if searched_s is None:
        searched_s = samples.shape[0] / registry.params.sample_rate_hz
    found = []
    for params, segments in _searches(registry):
        if not segments:
            continue
        got = engine.identify_segments(samples, segments, params, min_score=min_score, searched_s=searched_s,
                                       with_hashes=with_hashes)
        found += [(m, h, params) for m, h in (got if with_hashes else [(m, None) for m in got])]
    if not found:
        return []
    works = registry.store.works_by_fp_id(m.fp_id for m, _, _ in found)
    disputes = disputed_terms(registry, [w for w in works.values() if w.removed_at is None])
    out = []
    for m, hashes, params in found:
        w = works.get(m.fp_id)
        if w is None or w.removed_at is not None:
            continue
        if (w.engine_version, w.param_hash) != (params.version, params.param_hash()):
            continue  # re-indexed since: its current fingerprint is searched with its own engine
        fps = params.frames_per_s
        conf = engine.confidence(m.inliers, searched_s=searched_s, version=params.version)
        terms_text, claim_ids = disputes.get(w.work_id, (w.terms.describe(), ()))
        out.append((Match(
            work_id=w.work_id,
            title=w.title,
            source=w.source,
            creator=w.creator,
            terms=terms_text,
            disputed_claims=claim_ids,
            score=float(m.inliers),
            confidence=conf,
            query_start_s=round(m.query_start_frame / fps, 3),
            query_end_s=round(m.query_end_frame / fps, 3),
            work_start_s=round(max(0.0, m.work_start_frame / fps), 3),
            work_end_s=round(min(w.duration_s, m.work_end_frame / fps), 3),
            speed=round(m.speed, 4),
            pitch_shift_semitones=round(m.pitch_shift_semitones, 2),
        ), hashes))
    if len({id(p) for _, _, p in found}) > 1:  # scores of two engine versions do not compare: confidence does
        out.sort(key=lambda pair: (-pair[0].confidence, -pair[0].score))
    return out


def disputed_terms(registry, works: Sequence[Work]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``work_id -> (terms text, claim ids)`` for the given works that are in an active ownership claim.

    A disputed work is reported with the strictest AI-training terms of
    the parties (docs/claims.md), never with whichever was registered first.
    """
    if not works:
        return {}
    from consentry.domain.disputes import STRICTNESS, dispute_groups

    groups = dispute_groups(registry.store.active_ownership_claims())
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for w in works:
        g = groups.get(w.work_id)
        if g is None:
            continue
        parties = []
        for wid in g["works"]:
            try:
                other = w if wid == w.work_id else registry.store.get_work(wid)
            except ConsentryError:
                continue
            if other.removed_at is None:
                parties.append(other)
        if len(parties) < 2:
            continue
        worst = max(parties, key=lambda p: (STRICTNESS[p.terms.decision], p.terms.price or 0.0))
        claims = tuple(g["claims"])
        out[w.work_id] = (f"disputed ({', '.join(claims)}): {worst.terms.describe()} until decided", claims)
    return out
