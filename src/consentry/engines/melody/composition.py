"""A null that knows how predictable a pair of melodies is: composition-adjusted false-alarm probabilities.

Why
---
:data:`~consentry.engines.melody.align.NULL_MODEL` has one ``lambda`` for every pair of melodies. Two unrelated
dance tunes built from evenly timed stepwise figures (most events a step of one or two semitones in an even
rhythm) share so many events by chance that their best local score is far above that of two unrelated melodies
of the same lengths in general; the one-``lambda`` null then takes chance as evidence (benchmarks/RESULTS.md,
session 7: 257 of 325 dance-tune outputs falsely matched at a 1 % budget).

What
----
For ungapped local alignment, Karlin and Altschul's ``lambda`` is the positive root of
``sum_ab p_a q_b exp(lambda s(a, b)) = 1``, where ``p`` and ``q`` are the letter frequencies of the two
sequences and ``s`` the substitution score. :func:`composition_lambda` solves it for the pair's own event
frequencies (an event is its interval, rhythm step and whether the rhythm is known), so that a predictable pair
gets a small ``lambda``. Gaps and merge steps make the true ``lambda`` smaller than the ungapped one; the
:class:`CompositionNull` law is

    ``P(S >= s) = 1 - exp(-K m n exp(-c lambda_pair s))``,

with ``c`` and ``K`` fitted by maximum likelihood on unrelated pairs (:func:`fit_composition_null`), i.e. the
Gumbel law of :mod:`.align` on the scaled score ``lambda_pair * s``. A pair whose expected score per event is not
negative has no positive root: any score is within chance, and ``lambda_pair`` is :data:`LAMBDA_FLOOR`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from consentry.engines.melody.align import NullModel, Scoring, _pair_scores, fit_null
from consentry.engines.melody.contour import Contour

__all__ = ["COMPOSITION_NULL", "LAMBDA_FLOOR", "CompositionNull", "composition_lambda", "fit_composition_null"]

#: ``lambda_pair`` of a pair whose expected substitution score is not negative (per score unit): so small that
#: no score of such a pair is significant.
LAMBDA_FLOOR = 1.0e-3


def _events(contour: Contour) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The distinct events of a contour ``(intervals, rhythm, rhythm_known)``, each of shape (u,), and their counts."""
    rhythm = np.where(contour.rhythm_known, contour.rhythm.astype(np.int32), 0)
    keys = np.stack([contour.intervals.astype(np.int32), rhythm, contour.rhythm_known.astype(np.int32)], axis=1)
    distinct, counts = np.unique(keys, axis=0, return_counts=True)
    return (distinct[:, 0], distinct[:, 1], distinct[:, 2].astype(bool)), counts.astype(np.float64)


def _root(values: np.ndarray, weights: np.ndarray) -> float:
    """Positive root of ``sum(weights * exp(lam * values)) = 1`` (weights sum to 1), or LAMBDA_FLOOR if none."""
    if float(weights @ values) >= 0.0 or values.max() <= 0.0:
        return LAMBDA_FLOOR
    lo, hi = 0.0, 1.0
    while float(weights @ np.exp(hi * values)) < 1.0:
        lo, hi = hi, hi * 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(weights @ np.exp(mid * values)) < 1.0:
            lo = mid
        else:
            hi = mid
    return max(0.5 * (lo + hi), LAMBDA_FLOOR)


def composition_lambda(query: Contour, reference: Contour, scoring: Scoring = Scoring()) -> float:
    """Ungapped Karlin-Altschul ``lambda`` of the pair's event frequencies (per score unit).

    Parameters
    ----------
    query, reference : Contour
        Each at least one event long.
    scoring : Scoring
        The substitution scores (merge steps and gaps are not part of it).

    Returns
    -------
    float
        The positive root of ``sum_ab p_a q_b exp(lambda s(a, b)) = 1`` over the distinct events ``a`` of the
        query (frequencies ``p``) and ``b`` of the reference (``q``); :data:`LAMBDA_FLOOR` when the expected
        score is not negative.
    """
    if len(query) == 0 or len(reference) == 0:
        raise ValueError("composition_lambda: an empty contour has no event frequencies")
    q, qc = _events(query)
    r, rc = _events(reference)
    s = _pair_scores(q, r, scoring)
    w = (qc[:, None] * rc[None, :]).ravel()
    values, where = np.unique(s.ravel(), return_inverse=True)
    weights = np.bincount(where.ravel(), weights=w, minlength=values.size)
    return _root(values, weights / weights.sum())


@dataclass(frozen=True)
class CompositionNull:
    """Gumbel law of the best local score, scaled by the pair's own ``lambda``:
    ``P(S>=s) = 1-exp(-K m n e^(-c lambda_pair s))``.

    Attributes
    ----------
    c : float
        Gapped-to-ungapped ratio of ``lambda`` (dimensionless).
    k : float
        ``K`` (dimensionless).
    """

    c: float
    k: float

    def for_pair(self, query: Contour, reference: Contour, scoring: Scoring) -> NullModel:
        """The Gumbel law of this pair: ``lambda = c * composition_lambda(query, reference)``."""
        return NullModel(lam=self.c * composition_lambda(query, reference, scoring), k=self.k)

    def false_alarm(self, score, m, n, lam_pair) -> np.ndarray | float:
        """Probability that an unrelated pair of ``m`` and ``n`` events and own ``lambda`` ``lam_pair`` scores
        at least ``score`` (each argument a scalar or arrays of one shape)."""
        return NullModel(lam=self.c, k=self.k).false_alarm(np.asarray(lam_pair, float) * np.asarray(score, float),
                                                           m, n)


#: Fitted by ``benchmarks/melody_composition.py --halves dev,chorales,freedoom,fiddle --fit-on
#: dev,chorales,freedoom,fiddle --record benchmarks/fits/melody_composition_null.json`` (session 8): ``c`` by maximum
#: likelihood on 45,264 unrelated output-work pairs of real music, ``K`` the worst set's 0.1 %-tail value. Not the
#: check's null (it failed the dev rule by one phrase; benchmarks/RESULTS.md): the check uses it only for a caution.
COMPOSITION_NULL = CompositionNull(c=0.5752, k=1.886)


def fit_composition_null(scores, m, n, lam_pair) -> CompositionNull:
    """Maximum-likelihood ``c`` and ``K`` from unrelated pairs.

    Parameters
    ----------
    scores : numpy.ndarray of float, shape (t,)
        Best local scores of ``t`` unrelated pairs.
    m, n : numpy.ndarray of int, shape (t,)
        Their lengths in events.
    lam_pair : numpy.ndarray of float, shape (t,)
        Their :func:`composition_lambda`.
    """
    model = fit_null(np.asarray(lam_pair, float) * np.asarray(scores, float), m, n)
    return CompositionNull(c=model.lam, k=model.k)
