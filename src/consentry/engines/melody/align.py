"""Local alignment of two contours: find a borrowed phrase, anywhere, in any key and tempo.

Scoring
-------
Each pair of events (one from the query, one from the reference) gets a
substitution score, the sum of a pitch part and a rhythm part
(:class:`Scoring`):

- pitch: same interval ``+interval_exact`` (``+unison_exact`` when both are
  repeated notes, which are common and so say less); off by one semitone
  ``+interval_near`` (a sung or transcribed note a semitone off); otherwise
  ``interval_miss``;
- rhythm: same quantised IOI ratio ``+rhythm_exact``, one step off
  ``rhythm_near``, otherwise ``rhythm_miss``; 0 when either is unknown.

A gap (an event of one side left out) costs ``gap``. A note dropped from
one side merges two of its events into one whose interval is their sum;
a *merge* step pairs such a merged event (two successive events of one
side, scored as one: the summed interval, and the IOI ratio of the merged
inter-onset interval to the one before it) with one event of the other
side, at its substitution score plus ``merge`` (``merge=None`` turns merge
steps off). A dropped note then costs about one event's score instead of
two mismatches and a gap; an added note is the same step the other way
round. Smith-Waterman finds the highest-scoring pair of stretches, so a
phrase of 8 notes inside 3 minutes is found as well as a whole song.

The fast version fills the dynamic-programming table one query row at a
time with NumPy: the chain of horizontal gaps within a row, ``H[j] =
max(E[j], H[j-1] + gap)``, is ``max_k<=j (E[k] - gap*k) + gap*j``, a running
maximum (:func:`numpy.maximum.accumulate`); the merge steps look one and
two rows back. :func:`_local_alignment_reference` is the plain double loop
it must agree with. Once a process has aligned ``LOOPS.load_after``
table cells, :func:`match_contours` and :func:`best_local_score` fill the
same table with compiled loops (:mod:`._align_loops`, Numba), which score
each cell when they reach it (no score matrices) and do the same
floating-point operations in the same order: the same table and pointers,
bit for bit, at a fraction of the CPU time.

What a score means
------------------
The best local score of two unrelated sequences of ``m`` and ``n`` events
follows an extreme-value (Gumbel) law whose location grows with
``log(m*n)`` (Karlin and Altschul, 1990): ``P(S >= s) = 1 - exp(-K m n
exp(-lambda s))``. :func:`fit_null` estimates ``lambda`` and ``K`` by maximum
likelihood from unrelated pairs; :data:`NULL_MODEL` holds the values measured
with ``benchmarks/run_melody.py --calibrate`` (see docs/melody.md). A phrase
is reported as a match when this false-alarm probability is at most
``max_false_alarm`` (default 1%) and it spans at least ``min_notes`` notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from consentry.engines.melody.contour import Contour
from consentry.runtime.compiled import DeferredLoops

if TYPE_CHECKING:
    from consentry.engines.melody.composition import CompositionNull

__all__ = [
    "NULL_MODEL",
    "NullModel",
    "PhraseMatch",
    "Scoring",
    "best_local_score",
    "fit_null",
    "local_alignment",
    "match_contours",
    "merge_scores",
    "merged_events",
    "substitution_scores",
]


@dataclass(frozen=True)
class Scoring:
    """Substitution and gap scores (dimensionless)."""

    interval_exact: float = 2.0
    unison_exact: float = 1.0
    interval_near: float = 0.5
    interval_miss: float = -2.0
    rhythm_exact: float = 1.0
    rhythm_near: float = 0.0
    rhythm_miss: float = -1.0
    gap: float = -2.5
    #: Added to the substitution score of a merge step (two events of one side against one of the
    #: other: a dropped or added note); None: no merge steps. -2.5 was the best of -2, -2.5 and -3 on
    #: development detection trials (``run_melody.py --calibrate --merge X --use-fitted
    #: --detection-seed 4004``; 85.4% against 81.1% without merge steps), see docs/melody.md.
    merge: float | None = -2.5


@dataclass(frozen=True)
class NullModel:
    """Gumbel law of the best local score of unrelated melodies: ``P(S>=s) = 1-exp(-K m n e^(-lambda s))``.

    Attributes
    ----------
    lam : float
        ``lambda`` (per score unit).
    k : float
        ``K`` (dimensionless).
    """

    lam: float
    k: float

    def false_alarm(self, score: float | np.ndarray, m: int | np.ndarray, n: int | np.ndarray) -> np.ndarray | float:
        """Probability that unrelated contours of ``m`` and ``n`` events score at least ``score``."""
        e = self.k * np.asarray(m, float) * np.asarray(n, float) * np.exp(-self.lam * np.asarray(score, float))
        out = -np.expm1(-e)
        return float(out) if np.ndim(out) == 0 else out

    def for_pair(self, query: Contour, reference: Contour, scoring: Scoring) -> "NullModel":
        """The law a pair is judged by: this one for every pair (a CompositionNull's depends on the pair)."""
        return self

    def threshold(self, m: int, n: int, *, max_false_alarm: float) -> float:
        """Smallest score whose false-alarm probability is at most ``max_false_alarm``."""
        e = -np.log1p(-max_false_alarm)
        return float(np.log(self.k * max(m, 1) * max(n, 1) / e) / self.lam)


#: Measured with ``benchmarks/run_melody.py --calibrate`` (docs/melody.md) for the default
#: :class:`Scoring` (merge steps at -2.5): lambda by maximum likelihood on 3,000 unrelated pairs,
#: K from the 1% tail of the hardest family (tonal-tonal). Without merge steps it was (0.7533, 0.06652).
NULL_MODEL = NullModel(lam=0.7372, k=0.05687)

#: Score of a blocked cell (an event already used by a reported phrase).
_BLOCKED = -1.0e6


@dataclass(frozen=True)
class PhraseMatch:
    """A phrase of the reference found in the query.

    Attributes
    ----------
    query_start_s, query_end_s : float
        Onsets of the first and last matched notes in the query (seconds).
    reference_start_s, reference_end_s : float
        The same in the reference (seconds).
    n_notes : int
        Notes of the query within the phrase.
    n_matched_notes : int
        Notes paired one to one with the reference (paired steps + 1; a merge step is one).
    score : float
        Local alignment score.
    false_alarm : float
        Probability that unrelated melodies of these lengths score as high.
    transposition_semitones : int
        Query pitch minus reference pitch (median over paired notes).
    tempo_ratio : float
        Reference duration / query duration of the phrase: 1.25 means the
        query plays it 1.25 times as fast.
    significant : bool
        ``false_alarm <= max_false_alarm`` and ``n_matched_notes >= min_notes``.
    pairs : list of (int, int)
        Paired note indices (query, reference) in the two melodies.
    """

    query_start_s: float
    query_end_s: float
    reference_start_s: float
    reference_end_s: float
    n_notes: int
    n_matched_notes: int
    score: float
    false_alarm: float
    transposition_semitones: int
    tempo_ratio: float
    significant: bool
    pairs: list[tuple[int, int]] = field(repr=False, default_factory=list)


def _pair_scores(q: tuple[np.ndarray, np.ndarray, np.ndarray], r: tuple[np.ndarray, np.ndarray, np.ndarray],
                 scoring: Scoring) -> np.ndarray:
    """Scores of events ``q`` against events ``r``, each ``(intervals, rhythm, rhythm_known)``: shape (len q, len r)."""
    qi = q[0].astype(np.int32)[:, None]
    ri = r[0].astype(np.int32)[None, :]
    d = np.abs(qi - ri)
    unison = (qi == 0) & (ri == 0)
    pitch = np.where(d == 0, np.where(unison, scoring.unison_exact, scoring.interval_exact),
                     np.where(d == 1, scoring.interval_near, scoring.interval_miss))
    dr = np.abs(q[1].astype(np.int32)[:, None] - r[1].astype(np.int32)[None, :])
    rhythm = np.where(dr == 0, scoring.rhythm_exact, np.where(dr == 1, scoring.rhythm_near, scoring.rhythm_miss))
    known = q[2][:, None] & r[2][None, :]
    return pitch + np.where(known, rhythm, 0.0)


def substitution_scores(query: Contour, reference: Contour, scoring: Scoring = Scoring()) -> np.ndarray:
    """Score of every query event against every reference event.

    Returns
    -------
    numpy.ndarray of float64, shape (len(query), len(reference))
    """
    return _pair_scores((query.intervals, query.rhythm, query.rhythm_known),
                        (reference.intervals, reference.rhythm, reference.rhythm_known), scoring)


def merged_events(contour: Contour) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events ``j-1`` and ``j`` of a contour merged into one (the note between them left out), for each ``j``.

    Returns
    -------
    intervals : numpy.ndarray of int16, shape (n,)
        ``intervals[j-1] + intervals[j]``, clipped to ±MAX_INTERVAL.
    rhythm : numpy.ndarray of int16, shape (n,)
        Quantised log2 ratio of the merged inter-onset interval (note ``j-1`` to ``j+1``) to the one
        before it (note ``j-2`` to ``j-1``).
    rhythm_known : numpy.ndarray of bool, shape (n,)
        False where there is no IOI before the merged one (``j < 2``).
    valid : numpy.ndarray of bool, shape (n,)
        False at ``j = 0``, which has no event before it.
    """
    from consentry.engines.melody.contour import MAX_INTERVAL, MAX_RHYTHM, RHYTHM_STEP_OCT

    n = len(contour)
    iv = np.zeros(n, dtype=np.int16)
    rh = np.zeros(n, dtype=np.int16)
    known = np.zeros(n, dtype=bool)
    valid = np.zeros(n, dtype=bool)
    if n >= 2:
        iv[1:] = np.clip(contour.intervals[:-1].astype(np.int32) + contour.intervals[1:], -MAX_INTERVAL, MAX_INTERVAL)
        valid[1:] = True
    if n >= 3:
        t = contour.melody.onsets_s
        merged = np.maximum(t[3:n + 1] - t[1:n - 1], 1e-3)   # j = 2..n-1: note j-1 to note j+1
        before = np.maximum(t[1:n - 1] - t[0:n - 2], 1e-3)   # note j-2 to note j-1
        rh[2:] = np.clip(np.rint(np.log2(merged / before) / RHYTHM_STEP_OCT), -MAX_RHYTHM, MAX_RHYTHM)
        known[2:] = True
    return iv, rh, known, valid


def merge_scores(query: Contour, reference: Contour, scoring: Scoring = Scoring()
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """Scores of the merge steps, or None when ``scoring.merge`` is None.

    Returns
    -------
    drop : numpy.ndarray of float64, shape (len(query), len(reference))
        ``drop[i, j]``: query event ``i`` against reference events ``j-1, j`` merged (a note of the
        reference missing from the query), plus ``scoring.merge``; ``_BLOCKED`` at ``j = 0``.
    insert : numpy.ndarray of float64, shape (len(query), len(reference))
        ``insert[i, j]``: query events ``i-1, i`` merged against reference event ``j`` (a note added
        in the query), plus ``scoring.merge``; ``_BLOCKED`` at ``i = 0``.
    """
    if scoring.merge is None:
        return None
    q_events = (query.intervals, query.rhythm, query.rhythm_known)
    r_events = (reference.intervals, reference.rhythm, reference.rhythm_known)
    rm, qm = merged_events(reference), merged_events(query)
    drop = np.where(rm[3][None, :], _pair_scores(q_events, rm[:3], scoring) + scoring.merge, _BLOCKED)
    insert = np.where(qm[3][:, None], _pair_scores(qm[:3], r_events, scoring) + scoring.merge, _BLOCKED)
    return drop, insert


# Traceback pointers.
_STOP, _DIAG, _UP, _LEFT, _MERGE_REFERENCE, _MERGE_QUERY = 0, 1, 2, 3, 4, 5


def local_alignment(s: np.ndarray, *, gap: float, merges: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Smith-Waterman table with linear gaps, filled one row at a time with NumPy.

    Parameters
    ----------
    s : numpy.ndarray of float, shape (m, n)
        Substitution scores.
    gap : float
        Score of a gap (negative).
    merges : (drop, insert) or None
        Scores of the merge steps, each shape (m, n) (:func:`merge_scores`): cell ``(i, j)`` may also
        come from ``(i-1, j-2)`` with ``drop[i-1, j-1]`` or from ``(i-2, j-1)`` with ``insert[i-1, j-1]``.

    Returns
    -------
    h : numpy.ndarray of float64, shape (m+1, n+1)
        Best score of an alignment ending at each cell (row/column 0 are 0).
    pointer : numpy.ndarray of int8, shape (m+1, n+1)
        0 start, 1 diagonal, 2 up (query event unpaired), 3 left (reference event unpaired),
        4 merge of two reference events, 5 merge of two query events.
    """
    m, n = s.shape
    h = np.zeros((m + 1, n + 1), dtype=np.float64)
    ptr = np.zeros((m + 1, n + 1), dtype=np.int8)
    idx = np.arange(1, n + 1, dtype=np.float64)
    cand = np.full((5, n), _BLOCKED)
    cand[0] = 0.0
    for i in range(1, m + 1):
        cand[1] = h[i - 1, :-1] + s[i - 1]
        cand[2] = h[i - 1, 1:] + gap
        if merges is not None:
            cand[3, 1:] = h[i - 1, :-2] + merges[0][i - 1, 1:]
            if i >= 2:
                cand[4] = h[i - 2, :-1] + merges[1][i - 1]
        e = cand.max(axis=0)
        row = np.maximum.accumulate(e - gap * idx) + gap * idx
        row = np.maximum(row, e)
        h[i, 1:] = row
        # Ties go to the first: start, diagonal, up, merges (as before merges existed).
        best = np.where(e <= 0.0, _STOP, np.argmax(cand[1:], axis=0) + 1)
        best = np.where(best == 3, _MERGE_REFERENCE, np.where(best == 4, _MERGE_QUERY, best))
        ptr[i, 1:] = np.where(row > e + 1e-9, _LEFT, best)
    return h, ptr


def _local_alignment_reference(s: np.ndarray, *, gap: float,
                               merges: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The plain double loop of Smith-Waterman (slow; for tests). Returns the (m+1, n+1) table."""
    m, n = s.shape
    h = np.zeros((m + 1, n + 1))
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            best = max(0.0, h[i - 1, j - 1] + s[i - 1, j - 1], h[i - 1, j] + gap, h[i, j - 1] + gap)
            if merges is not None and j >= 2:
                best = max(best, h[i - 1, j - 2] + merges[0][i - 1, j - 1])
            if merges is not None and i >= 2:
                best = max(best, h[i - 2, j - 1] + merges[1][i - 1, j - 1])
            h[i, j] = best
    return h


def best_local_score(query: Contour, reference: Contour, scoring: Scoring = Scoring()) -> float:
    """The best local alignment score (0 when either contour is empty)."""
    if len(query) == 0 or len(reference) == 0:
        return 0.0
    return _PairTable(query, reference, scoring).fill(pointers=False)[0]


#: The compiled loops (:mod:`._align_loops`), loaded once a process has aligned ``LOOPS.load_after`` table
#: cells (query events x reference events) with NumPy, about a second of NumPy work: a one-shot comparison
#: never imports Numba (importing it and loading the loops costs about half a CPU second with Numba's on-disk
#: cache, two without, once per process).
LOOPS = DeferredLoops("consentry.engines.melody._align_loops", load_after=10_000_000)


def loops_ready(cells: int = 0):
    """The compiled loops if loaded, or loaded now because this process has aligned ``LOOPS.load_after``
    cells (``cells`` more now); else None (the NumPy code runs)."""
    return LOOPS.ready(cells)


def _scoring_array(scoring: Scoring) -> np.ndarray:
    """The scores the compiled loops read, float64, shape (9,): pitch by semitones apart (0, 1, more, and 3:
    two repeated notes), rhythm by steps apart (0, 1, more, and 3: unknown, 0.0), and the merge score (0 when
    merge steps are off)."""
    return np.array([scoring.interval_exact, scoring.interval_near, scoring.interval_miss, scoring.unison_exact,
                     scoring.rhythm_exact, scoring.rhythm_near, scoring.rhythm_miss, 0.0,
                     0.0 if scoring.merge is None else scoring.merge], dtype=np.float64)


def _local_alignment_compiled(s: np.ndarray, *, gap: float, merges: tuple[np.ndarray, np.ndarray] | None = None
                              ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`local_alignment` with the compiled loop (:func:`._align_loops.table_kernel`): the same arrays."""
    loops = LOOPS.load()
    s = np.ascontiguousarray(s, dtype=np.float64)
    m, n = s.shape
    h = np.zeros((m + 1, n + 1), dtype=np.float64)
    ptr = np.zeros((m + 1, n + 1), dtype=np.int8)
    drop, insert = (s, s) if merges is None else (np.ascontiguousarray(a, dtype=np.float64) for a in merges)
    loops.table_kernel(s, float(gap), drop, insert, merges is not None, h, ptr)
    return h, ptr


class _PairTable:
    """The alignment table of one pair of contours, filled again after the events of a phrase are blocked.

    With the compiled loops (``loops``, default :func:`loops_ready`) no score matrix is built: blocked events
    are kept as masks. Without them, the NumPy matrices of :func:`substitution_scores` and
    :func:`merge_scores` are blocked and :func:`local_alignment` fills the table.
    """

    def __init__(self, query: Contour, reference: Contour, scoring: Scoring, loops=False):
        m, n = len(query), len(reference)
        self.gap = scoring.gap
        self.loops = loops_ready(m * n) if loops is False else loops
        if self.loops is None:
            self.s = substitution_scores(query, reference, scoring)
            self.merges = merge_scores(query, reference, scoring)
            return
        self.q = (query.intervals, query.rhythm, query.rhythm_known)
        self.r = (reference.intervals, reference.rhythm, reference.rhythm_known)
        self.qm, self.rm = merged_events(query), merged_events(reference)
        self.sc = _scoring_array(scoring)
        self.use_merges = scoring.merge is not None
        self.blocked_q = np.zeros((3, m), dtype=bool)   # rows of the substitution, drop, insert matrices
        self.blocked_r = np.zeros((3, n), dtype=bool)   # their columns

    def fill(self, *, full: bool = False, pointers: bool = True
             ) -> tuple[float, int, int, np.ndarray | None, np.ndarray | None]:
        """The best score of :func:`local_alignment`'s table, its cell ``i, j`` (the first that holds it, as
        :func:`numpy.argmax` finds it), the pointers (int8, (m+1, n+1)), and the table itself (float64,
        (m+1, n+1)). The compiled loops keep only three rows of the table unless ``full`` (None then), and
        make no pointers without ``pointers`` (None then)."""
        if self.loops is None:
            h, ptr = local_alignment(self.s, gap=self.gap, merges=self.merges)
            i, j = np.unravel_index(int(np.argmax(h)), h.shape)
            return float(h[i, j]), int(i), int(j), ptr, h
        m, n = self.blocked_q.shape[1], self.blocked_r.shape[1]
        h = np.zeros((m + 1 if full else 3, n + 1), dtype=np.float64)
        ptr = np.zeros((m + 1, n + 1) if pointers else (1, 1), dtype=np.int8)
        score, i, j = self.loops.pair_kernel(self.q, self.r, self.qm, self.rm, self.sc, float(self.gap),
                                             self.use_merges, self.blocked_q, self.blocked_r, h, ptr, pointers)
        return float(score), i, j, (ptr if pointers else None), (h if full else None)

    def block(self, q0: int, q1: int, r0: int, r1: int) -> None:
        """Block query events ``q0..q1`` and reference events ``r0..r1`` (a reported phrase) on both sides."""
        if self.loops is not None:
            # The same rows and columns as the NumPy matrices below.
            self.blocked_q[0, q0:q1 + 1] = self.blocked_q[1, q0:q1 + 1] = self.blocked_q[2, q0:q1 + 2] = True
            self.blocked_r[0, r0:r1 + 1] = self.blocked_r[1, r0:r1 + 2] = self.blocked_r[2, r0:r1 + 1] = True
            return
        s = self.s.copy()
        s[q0:q1 + 1, :] = _BLOCKED
        s[:, r0:r1 + 1] = _BLOCKED
        self.s = s
        if self.merges is not None:
            # A merged event ending at event k also holds event k-1.
            drop, insert = self.merges[0].copy(), self.merges[1].copy()
            drop[q0:q1 + 1, :] = _BLOCKED
            drop[:, r0:r1 + 2] = _BLOCKED
            insert[q0:q1 + 2, :] = _BLOCKED
            insert[:, r0:r1 + 1] = _BLOCKED
            self.merges = (drop, insert)


def _traceback(ptr: np.ndarray, i: int, j: int) -> list[tuple[int, int, int, int]]:
    """Paired steps of the alignment ending at cell (i, j), in order.

    Each step is ``(first query event, last query event, first reference event, last reference
    event)``: one event each for a diagonal step, two on one side for a merge step.
    """
    steps = []
    while i > 0 and j > 0:
        p = ptr[i, j]
        if p == _STOP:
            break
        if p == _DIAG:
            steps.append((i - 1, i - 1, j - 1, j - 1))
            i, j = i - 1, j - 1
        elif p == _MERGE_REFERENCE:
            steps.append((i - 1, i - 1, j - 2, j - 1))
            i, j = i - 1, j - 2
        elif p == _MERGE_QUERY:
            steps.append((i - 2, i - 1, j - 1, j - 1))
            i, j = i - 2, j - 1
        elif p == _UP:
            i -= 1
        else:
            j -= 1
    steps.reverse()
    return steps


def match_contours(
    query: Contour,
    reference: Contour,
    *,
    scoring: Scoring = Scoring(),
    null_model: NullModel | CompositionNull = NULL_MODEL,
    max_false_alarm: float = 0.01,
    min_notes: int = 6,
    max_phrases: int = 3,
) -> list[PhraseMatch]:
    """Phrases of ``reference`` found in ``query``, best first.

    After each phrase, its events are blocked on both sides and the table
    recomputed, so the next phrase is another passage. Only significant
    phrases are returned (see :class:`PhraseMatch`); for the raw score of
    any pair, significant or not, use :func:`best_local_score`.

    Parameters
    ----------
    query, reference : Contour
    null_model : NullModel or CompositionNull
        The law of chance scores; a CompositionNull's depends on the pair's event frequencies.
    max_false_alarm : float
        Largest false-alarm probability (per query-reference comparison) of a reported phrase.
    min_notes : int
        Fewest notes paired one to one in a reported phrase.
    max_phrases : int
        Most phrases reported.
    """
    m, n = len(query), len(reference)
    if m == 0 or n == 0:
        return []
    table = _PairTable(query, reference, scoring)
    null_model = null_model.for_pair(query, reference, scoring)
    found: list[PhraseMatch] = []
    for _ in range(max_phrases):
        # Most pairs score too low to report: their table is filled without pointers (compiled loops).
        score, i, j, ptr, _ = table.fill(pointers=False)
        if score <= 0:
            break
        false_alarm = null_model.false_alarm(score, m, n)
        if not false_alarm <= max_false_alarm:
            break  # what the test below decides, before the traceback
        if ptr is None:
            score, i, j, ptr, _ = table.fill()
        steps = _traceback(ptr, int(i), int(j))
        if not steps:
            break
        phrase = _phrase(query, reference, steps, score, false_alarm)
        ok = phrase.false_alarm <= max_false_alarm and phrase.n_matched_notes >= min_notes
        if not ok:
            break
        found.append(PhraseMatch(**{**phrase.__dict__, "significant": True}))
        table.block(steps[0][0], steps[-1][1], steps[0][2], steps[-1][3])
    return found


def _phrase(query: Contour, reference: Contour, steps: list[tuple[int, int, int, int]], score: float,
            false_alarm: float) -> PhraseMatch:
    """A :class:`PhraseMatch` (not yet judged) from the aligned steps (see :func:`_traceback`)."""
    qt, qp = query.melody.onsets_s, query.melody.pitches.astype(np.int32)
    rt, rp = reference.melody.onsets_s, reference.melody.pitches.astype(np.int32)
    # Events a..b join notes a and b+1: a paired step pairs its first notes and its last notes
    # (the note inside a merged pair of events has no partner).
    note_pairs = sorted({(qa, ra) for qa, _, ra, _ in steps} | {(qb + 1, rb + 1) for _, qb, _, rb in steps})
    npairs = np.asarray(note_pairs)
    q0, q1 = steps[0][0], steps[-1][1] + 1
    r0, r1 = steps[0][2], steps[-1][3] + 1
    q_dur = qt[q1] - qt[q0]
    r_dur = rt[r1] - rt[r0]
    transposition = int(np.rint(np.median(qp[npairs[:, 0]] - rp[npairs[:, 1]])))
    return PhraseMatch(
        query_start_s=float(qt[q0]), query_end_s=float(qt[q1]),
        reference_start_s=float(rt[r0]), reference_end_s=float(rt[r1]),
        n_notes=q1 - q0 + 1, n_matched_notes=len(steps) + 1, score=score, false_alarm=float(false_alarm),
        transposition_semitones=transposition,
        tempo_ratio=float(r_dur / q_dur) if q_dur > 0 else float("nan"),
        significant=False, pairs=note_pairs,
    )


def fit_null(scores: np.ndarray, m: np.ndarray, n: np.ndarray) -> NullModel:
    """Maximum-likelihood ``lambda`` and ``K`` of the Gumbel law from unrelated pairs.

    Parameters
    ----------
    scores : numpy.ndarray of float, shape (t,)
        Best local scores of ``t`` unrelated pairs.
    m, n : numpy.ndarray of int, shape (t,)
        Their lengths in events.
    """
    from scipy.optimize import minimize

    s = np.asarray(scores, float)
    log_mn = np.log(np.asarray(m, float) * np.asarray(n, float))

    def nll(params: np.ndarray) -> float:
        lam, log_k = np.exp(params[0]), params[1]
        z = lam * s - log_k - log_mn
        return -float(np.sum(np.log(lam) - z - np.exp(-z)))

    x0 = np.array([np.log(np.pi / np.sqrt(6) / max(s.std(), 1e-6)), 0.0])
    x0[1] = float(np.mean(np.exp(x0[0]) * s - log_mn)) - 0.5772
    res = minimize(nll, x0, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 2000})
    return NullModel(lam=float(np.exp(res.x[0])), k=float(np.exp(res.x[1])))
