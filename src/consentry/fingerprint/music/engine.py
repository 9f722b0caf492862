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
    "identify_segments",
    "index_hashes",
    "pack_postings",
    "unpack_postings",
]

#: Fewest consistent hash matches (inliers) reported as a match.  Chosen from
#: the distribution of best scores of unrelated audio (docs/engine.md).
DEFAULT_MIN_SCORE = 12
#: A posting list longer than this is a stop word and skipped.
MAX_POSTINGS_PER_RANGE = 20000

# Logistic calibration of inliers -> probability of a true match, fitted on
# synthetic and real positives/negatives (docs/engine.md).
_CONF_MID = 9.0
_CONF_SLOPE = 0.9


def confidence(inliers: float) -> float:
    """Probability-like confidence in [0, 1] that a match with this many inliers is real."""
    return round(1.0 / (1.0 + math.exp(-_CONF_SLOPE * (inliers - _CONF_MID))), 4)


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
