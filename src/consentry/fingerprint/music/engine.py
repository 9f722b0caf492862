"""The music landmark engine's public face: hash a work, search an index.

Pure functions: samples and arrays in, results out; no I/O, no global
settings.  See :mod:`.extract` for hashing, :mod:`.postings` for the index
layout and :mod:`.match` for verification.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .extract import index_hashes, query_hashes
from .match import SegmentMatch, match_segments
from .params import ENGINE_NAME, ENGINE_VERSION, MusicEngineParams
from .postings import SegmentLike, lookup, pack_postings, unpack_postings

__all__ = [
    "ENGINE_NAME",
    "ENGINE_VERSION",
    "DEFAULT_MIN_SCORE",
    "confidence",
    "false_match_rate",
    "identify_segments",
    "index_hashes",
    "pack_postings",
    "unpack_postings",
]

#: Fewest consistent hash matches (distinct inlier anchors) reported as a
#: match.  From benchmarks/calibrate.py (data kept apart from the benchmark):
#: the best score of 320 unrelated 10-s queries never reached 13; 14 leaves a
#: margin for larger indexes.  See benchmarks/RESULTS.md.
DEFAULT_MIN_SCORE = 14
#: A posting list longer than this is a stop word and skipped.
MAX_POSTINGS_PER_RANGE = 20000

# The chance that an unrelated 10-s query scores at least s falls off
# exponentially: log P = _FMR_LOG_A + _FMR_LOG_B * s, fitted on the same
# calibration run for s = 5..12 (P(>=6) = 0.51, P(>=12) = 0.006).
_FMR_LOG_A = 3.595
_FMR_LOG_B = -0.715


def false_match_rate(score: float) -> float:
    """Estimated probability that a 10-s query of unrelated music scores at least ``score``."""
    return float(min(1.0, math.exp(_FMR_LOG_A + _FMR_LOG_B * score)))


def confidence(score: float) -> float:
    """Confidence in [0, 1] that a match is real: 1 - :func:`false_match_rate`.

    At the default threshold (14) it is 0.998; at 20, 0.99998.
    """
    return round(1.0 - false_match_rate(score), 6)


def identify_segments(
    samples: np.ndarray,
    segments: Sequence[SegmentLike],
    params: MusicEngineParams,
    *,
    min_score: float | None = None,
) -> list[SegmentMatch]:
    """Segments of indexed works found in ``samples``.

    Parameters
    ----------
    samples : ndarray of float32, shape (n,)
        Mono query audio at ``params.sample_rate_hz``.
    segments : sequence of SegmentLike
        Index segments made under the same ``params`` (``consentry.store.segments.IndexSegment``).
    min_score : float, optional
        Fewest inliers to report (default :data:`DEFAULT_MIN_SCORE`).

    Returns
    -------
    list of SegmentMatch, best first.
    """
    threshold = DEFAULT_MIN_SCORE if min_score is None else min_score
    qh = query_hashes(samples, params)
    hits = lookup(segments, qh.key_lo, qh.key_hi, qh.owner, max_postings_per_range=MAX_POSTINGS_PER_RANGE)
    return match_segments(hits, qh.quads, params, min_inliers=max(3, int(math.ceil(threshold))))
