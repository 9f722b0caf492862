"""The music landmark engine's public face: hash a work, search an index.

Pure functions: samples and arrays in, results out; no I/O, no global
settings.  See :mod:`.extract` for hashing, :mod:`.postings` for the index
layout and :mod:`.match` for verification.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial
from typing import Sequence

import numpy as np

from consentry.engines.music.extract import index_hashes, query_hashes
from consentry.engines.music.match import SegmentMatch, match_segments
from consentry.engines.music.params import ENGINE_NAME, ENGINE_VERSION, MusicEngineParams
from consentry.engines.music.postings import SegmentLike, lookup, pack_postings, unpack_postings

__all__ = [
    "ENGINE_NAME",
    "ENGINE_VERSION",
    "DEFAULT_MIN_SCORE",
    "confidence",
    "false_match_rate",
    "identify_segments",
    "index_hashes",
    "min_score_for",
    "MatchedHashes",
    "pack_postings",
    "unpack_postings",
]

#: Fewest consistent hash matches (distinct inlier anchors) reported as a
#: match in a query of up to :data:`REFERENCE_QUERY_S` seconds.  From
#: benchmarks/calibrate.py (data kept apart from the benchmark): the best
#: score of 320 unrelated 10-s queries never reached 13 (2026-11-23 and
#: again 2026-12-07, benchmarks/fits/fmr_tail.json); 14 leaves a margin
#: for larger indexes.  See benchmarks/RESULTS.md.
DEFAULT_MIN_SCORE = 14
#: Length of the queries the threshold and the confidence were calibrated on (s).
REFERENCE_QUERY_S = 10.0
#: Score added to the threshold each time the audio searched doubles past
#: :data:`REFERENCE_QUERY_S` (see :func:`min_score_for`).  Printed by
#: ``benchmarks/fit_length_rule.py`` (its data in benchmarks/fits/score_per_doubling.json;
#: tests/engines/test_constants.py refits it).
SCORE_PER_DOUBLING = 1.3
#: A posting list longer than this is a stop word and skipped.
MAX_POSTINGS_PER_RANGE = 20000

# The chance that an unrelated 10-s query scores at least s falls off
# exponentially: log P = _FMR_LOG_A + _FMR_LOG_B * s, least squares over
# s = 5..12 on the negatives of ``benchmarks/calibrate.py --excerpts 320``
# (P(>=6) = 0.58, P(>=12) = 0.003), as it prints them; its data are in
# benchmarks/fits/fmr_tail.json and tests/engines/test_constants.py refits them.
_FMR_LOG_A = 4.187
_FMR_LOG_B = -0.775


#: Version 2's decision rule, each constant as its committed command printed
#: it (benchmarks/RESULTS.md, "Music engine v2"; tests/engines/test_constants_v2.py
#: refits them from the records in benchmarks/fits/).  Threshold for 10-s
#: queries and false-match tail: ``benchmarks/calibrate_v2.py`` (fitted on
#: half F of the never-registered songs, measured on half T; record
#: fmr_tail_v2.json, 2026-12-07, the full run ``--per-half 1000``: half F's
#: 11,000 altered 10-s excerpts of 7 songs scored at most 9, so 9 + 2; half T,
#: 11,000 of 5 other songs: none at 11, 4 at 10).  The tail bounds the
#: worst song, not the average (``fitting.fit_fmr_tail_envelope``, refitted
#: on the record by ``calibrate_v2.py --refit``, 2026-12-08): chance scores
#: depend on the music by an order of magnitude (one song of each half made
#: nearly all its scores of 7 or more), so its slope is the pooled upper
#: tail's (s >= 7) and its intercept puts the line over every song's upper
#: 95 % Wilson limit.  Fitted on half F alone, it was not optimistic on half T
#: at any s = 7..12 (T's observed rate 0.22-0.49 of it where T has data);
#: the shipped line is the same rule on both halves (set by the song
#: "Feelings", 4 of its 4,180 queries at 10).  The line it replaces, least
#: squares over half F (5.881, -1.735), stated P(>= 9) = 0.00006 where
#: half T showed 0.00073.
DEFAULT_MIN_SCORE_V2 = 11
_FMR_LOG_A_V2 = 7.462
_FMR_LOG_B_V2 = -1.347
#: Version 2's step per doubling of the audio searched:
#: ``benchmarks/fit_length_rule.py --engine-version 2`` (half A of
#: run_check.py false-alarms' outputs; record score_per_doubling_v2.json).
#: It prints 0: no unregistered output of 30 s to 6 min came within one
#: point of the 10-s threshold (best chance score 10 of 199 half-A outputs;
#: half B: 9 of 161, none at 11).  So version 2's threshold does not grow up
#: to the lengths measured; longer audio (an hour, a dataset item) is not
#: measured (benchmarks/RESULTS.md, "Music engine v2").
SCORE_PER_DOUBLING_V2 = 0.0


def _rule(version: str | None) -> tuple[int, float, float, float]:
    """(threshold at 10 s, step per doubling, tail intercept, tail slope) of an engine version
    (default: :data:`ENGINE_VERSION`, 2)."""
    if version is None:
        version = ENGINE_VERSION
    if str(version) == "1":
        return DEFAULT_MIN_SCORE, SCORE_PER_DOUBLING, _FMR_LOG_A, _FMR_LOG_B
    return DEFAULT_MIN_SCORE_V2, SCORE_PER_DOUBLING_V2, _FMR_LOG_A_V2, _FMR_LOG_B_V2


def false_match_rate(score: float, *, version: str | None = None) -> float:
    """Estimated probability that a 10-s query of unrelated music scores at least ``score``
    (with engine ``version``'s calibration; default: the current version)."""
    _, _, a, b = _rule(version)
    return float(min(1.0, math.exp(a + b * score)))


def min_score_for(searched_s: float, *, version: str | None = None) -> int:
    """The engine's decision rule: fewest inliers for a match in ``searched_s`` seconds of audio.

    Unrelated audio offers more chances of a chance alignment the longer it
    is: the best chance score of a whole 3-6-minute track reaches 14-20
    where a 10-s excerpt stays under 13 (benchmarks/RESULTS.md, "Recording
    check false alarms").  So the threshold grows with the length searched:
    :data:`DEFAULT_MIN_SCORE` up to :data:`REFERENCE_QUERY_S`, then
    :data:`SCORE_PER_DOUBLING` more per doubling, rounded up (with a
    tolerance of 0.1, so that a query a few percent over 10 s keeps 14)::

        min_score = ceil(14 + 1.3 * log2(searched_s / 10) - 0.1)

    (10 s: 14, 30 s: 16, 60 s: 18, 3 min: 20, 5 min: 21, 10 min: 22,
    1 h: 25).  The step 1.3 is the smallest (on a 0.1 grid) that leaves no
    false finding on half A of the unregistered tracks of
    ``benchmarks/run_check.py false-alarms`` (whole tracks and 30-s
    excerpts, searched in the 41 Wesnoth works), as
    ``benchmarks/fit_length_rule.py`` fits it; half B is measured with it
    (0 of 161 outputs).  It was 1.4 on the scores of the matcher before
    its joint offset x pitch-shift candidates; the calibrated tail alone (``log P`` falls 0.775 per point)
    would give 0.89 per doubling if chance alignments in different 10-s
    stretches were independent, but in a long query a line gathers
    coincidences over minutes.
    Version 2 (``version="2"``) has its own base and step,
    :data:`DEFAULT_MIN_SCORE_V2` and :data:`SCORE_PER_DOUBLING_V2`, fitted
    the same way by benchmarks/calibrate_v2.py and
    ``fit_length_rule.py --engine-version 2``.
    ``searched_s`` is the length of the whole query (file, output or dataset
    item), also when it is searched in pieces, so that the rate of false
    findings per query stays within the calibrated budget whatever its
    length.  ``identify``, the dataset scan and ``consentry check`` all use
    this rule.

    Parameters
    ----------
    searched_s : float
        Duration of the whole query (seconds).
    version : str, optional
        Engine version whose rule applies (default: the current one, 2).

    Returns
    -------
    int
    """
    base, step = _rule(version)[:2]
    ratio = max(1.0, float(searched_s) / REFERENCE_QUERY_S) if math.isfinite(searched_s) else 1.0
    return int(math.ceil(base + step * math.log2(ratio) - 0.1))


def confidence(score: float, *, searched_s: float = REFERENCE_QUERY_S, version: str | None = None) -> float:
    """Confidence in [0, 1] that a match is real: 1 - the chance of its score in ``searched_s`` seconds.

    The chance is :func:`false_match_rate` per :data:`REFERENCE_QUERY_S` of
    audio searched, times the number of such stretches.  For a 10-s query
    at version 1's threshold (14) it is 0.9987; at 20, 0.99999; version 2
    at its threshold (11), 0.99936, at 14, 0.99999 (its own tail, which
    bounds the worst song of benchmarks/calibrate_v2.py's negatives rather
    than their average: see :data:`DEFAULT_MIN_SCORE_V2`).
    """
    n = max(1.0, float(searched_s) / REFERENCE_QUERY_S) if math.isfinite(searched_s) else 1.0
    return round(max(0.0, 1.0 - n * false_match_rate(score, version=version)), 6)


@dataclass(frozen=True)
class MatchedHashes:
    """The hash matches behind one segment: evidence a third party can check.

    Each row is one hash of the work (as stored in the index) that the
    query also holds, on the segment's line (same pitch shift, same time
    map).  Rows are ordered strongest first: closest to the segment's line
    ``work_frame = speed * query_frame + offset``, then by query time.

    Attributes
    ----------
    key : ndarray of uint32, shape (k,)
        The work's hash key (see :func:`.extract.pack_key`).
    query_frame, work_frame : ndarray of int64, shape (k,)
        Anchor frames of the hash in the query and in the work
        (``/ params.frames_per_s`` gives seconds).
    total : int
        How many distinct matches support the segment (``k <= total`` when
        capped by ``max_hashes``).
    """

    key: np.ndarray
    query_frame: np.ndarray
    work_frame: np.ndarray
    total: int

    def __len__(self) -> int:
        return int(self.key.shape[0])


def _matched_hashes(m: SegmentMatch, hits, quads, *, max_hashes: int | None) -> MatchedHashes:
    rows = m.inlier_hits
    key = hits.key[rows].astype(np.int64)
    qf = quads.anchor_frame[hits.owner[rows]].astype(np.int64)
    wf = hits.frame[rows].astype(np.int64)
    # One row per distinct (key, query frame, work frame): several query
    # ranges may reach the same posting.
    triples = np.unique(np.stack([key, qf, wf], axis=1), axis=0)
    key, qf, wf = triples[:, 0], triples[:, 1], triples[:, 2]
    offset = m.work_start_frame - m.speed * m.query_start_frame
    resid = np.abs(wf - (m.speed * qf + offset))
    order = np.lexsort((key, wf, qf, np.round(resid, 6)))
    if max_hashes is not None:
        order = order[: max(0, int(max_hashes))]
    return MatchedHashes(key=key[order].astype(np.uint32), query_frame=qf[order], work_frame=wf[order],
                         total=int(triples.shape[0]))


def identify_segments(
    samples: np.ndarray,
    segments: Sequence[SegmentLike],
    params: MusicEngineParams,
    *,
    min_score: float | None = None,
    searched_s: float | None = None,
    with_hashes: bool = False,
    max_hashes: int | None = None,
) -> list[SegmentMatch] | list[tuple[SegmentMatch, MatchedHashes]]:
    """Segments of indexed works found in ``samples``.

    Parameters
    ----------
    samples : ndarray of float32, shape (n,)
        Mono query audio at ``params.sample_rate_hz``.
    segments : sequence of SegmentLike
        Index segments made under the same ``params`` (``consentry.store.segments.IndexSegment``);
        or an index with a ``lookup`` method that takes :func:`.postings.lookup`'s arguments
        after ``segments`` and gives the same hits (``consentry.cluster.index.ShardedIndex``).
    min_score : float, optional
        Fewest inliers to report (default: :func:`min_score_for` of
        ``searched_s``).
    searched_s : float, optional
        Duration of the whole query that ``samples`` belong to (seconds);
        default: the duration of ``samples``.  A caller that searches a long
        query in pieces passes the whole duration, so that every piece is
        judged by the same threshold.
    with_hashes : bool
        Also return the hash matches behind each segment.  The segments are
        the same either way; asking costs one more read of the index keys.
    max_hashes : int, optional
        With ``with_hashes``: keep at most this many of each segment's
        matches, the strongest (all by default; ``total`` counts them all).

    Returns
    -------
    list of SegmentMatch, best first; with ``with_hashes``, a list of
    (SegmentMatch, MatchedHashes) pairs.
    """
    if min_score is None:
        threshold = min_score_for(searched_s if searched_s is not None else samples.shape[0] / params.sample_rate_hz,
                                  version=params.version)
    else:
        threshold = min_score
    qh = query_hashes(samples, params)
    find = segments.lookup if hasattr(segments, "lookup") else partial(lookup, segments)
    budget = {}
    if getattr(params, "max_postings_per_query", None) is not None:
        budget["max_postings_total"] = params.max_postings_per_query
    hits = find(qh.key_lo, qh.key_hi, qh.owner, max_postings_per_range=MAX_POSTINGS_PER_RANGE, with_keys=with_hashes,
                **budget)
    found = match_segments(hits, qh.quads, params, min_inliers=max(3, int(math.ceil(threshold))),
                           with_hits=with_hashes)
    if not with_hashes:
        return found
    return [(replace(m, inlier_hits=None), _matched_hashes(m, hits, qh.quads, max_hashes=max_hashes)) for m in found]
