"""Melodies as onset groups of pitch sets: find a phrase whichever voice of the arrangement carries it.

Why
---
The skyline (:mod:`.contour`) keeps one note per onset group, the highest. In a
transcribed arrangement the tune is often not on top (an accompaniment, bass or
overtone note wins, or a melody note comes out an octave off), so the skyline of
a copy and the skyline of the registered work share too few intervals to match
(benchmarks/RESULTS.md, "Where the true melody sits in the transcriptions").
Here every onset group keeps up to ``max_notes`` of its notes, and an alignment
picks one note per group on each side as it goes: an interval matches when *any*
note of one group and any note of the next give it, on both sides.

Groups
------
Notes starting within ``onset_window_s`` of a group's first note join it (as for
the skyline). A group keeps its notes at least ``min_relative_amplitude`` times
as strong as its strongest and not at a harmonic above a stronger note of the
group, at most ``max_notes`` of them (the strongest; distinct pitches), sorted by
pitch from the highest down.

Alignment
---------
A *path* is a sequence of paired notes ``(query group i, note a; reference group
j, note b)``, with ``i`` and ``j`` increasing by 1 to ``1 + max_skip`` at each
step. A step from ``(i', a', j', b')`` to ``(i, a, j, b)`` scores (dimensionless,
:class:`SetScoring`):

- pitch: the query interval ``q = pitch(a) - pitch(a')`` against the reference
  interval ``r`` (both clipped to ±24 semitones): ``unison_exact`` when both are
  0, ``interval_exact`` when equal, ``interval_near`` when one semitone apart,
  else ``interval_miss``. Equal intervals along a path mean one transposition
  throughout, so a run of exact steps follows one voice of each side;
- rhythm: the step's inter-onset interval against the inter-onset interval of
  the groups just before its first group, on each side, as a quantised log2
  ratio (:data:`.contour.RHYTHM_STEP_OCT`): ``rhythm_exact`` / ``rhythm_near``
  (one step off) / ``rhythm_miss``; 0 where a side has no group before;
- ``skip`` for every group left out on either side (``i - i' - 1 + j - j' - 1``);
- ``-choice * log2(size of group i * size of group j)``: the price of having
  picked one of several notes on each side. With many notes per group some
  pair gives an exact interval by chance at most steps, and without this price
  unrelated arrangements align end to end with a positive score at every step
  (a path of single-note groups pays nothing: the skyline's case).

A path's score is the sum of its steps; the best path ending at each pair of
notes is ``max(0, best over predecessors + step)`` (Smith-Waterman over note
pairs). :func:`align_pitch_sets` returns the best path of two melodies;
:func:`_align_reference` enumerates every path (slow; for tests).

What a score means
------------------
As for the skyline: the best score of unrelated music follows a Gumbel law in
``log(m n)`` (``m``, ``n``: the numbers of groups), with its own ``lambda`` and
``K`` (:data:`PITCH_SET_NULL`), fitted on unrelated pairs of real music by
``benchmarks/run_melody_real.py --pitch-sets ... --fit-on dev --record`` (docs/melody.md).

Measured on real music (benchmarks/RESULTS.md, "Pitch-set melodies"): on the
development half it finds no more phrases than the skyline at the same
false-match rate, and on the held-out Freedoom set 4 of 172 against 1, both far
too few to matter; the check does not use it (a benchmarked alternative).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from consentry.engines.melody.align import NullModel, PhraseMatch
from consentry.engines.melody.contour import onset_groups
from consentry.engines.melody.transcribe import Note

__all__ = [
    "PITCH_SET_NULL", "PitchSets", "SetAlignment", "SetScoring", "align_pitch_sets", "match_pitch_sets",
    "pitch_sets_from_notes",
]

#: Sentinel of an unknown rhythm code.
_UNKNOWN = 127


@dataclass(frozen=True)
class PitchSets:
    """Onset groups of notes.

    Attributes
    ----------
    onsets_s : numpy.ndarray of float64, shape (g,)
        Onset of each group (its first note's), seconds, strictly increasing.
    pitches : numpy.ndarray of int16, shape (g, k)
        MIDI pitches of each group, highest first, padded with -1.
    sizes : numpy.ndarray of int64, shape (g,)
        Notes in each group (1 to k).
    """

    onsets_s: np.ndarray
    pitches: np.ndarray
    sizes: np.ndarray

    def __len__(self) -> int:
        return int(self.onsets_s.size)

    @classmethod
    def from_groups(cls, onsets_s: Iterable[float], groups: Iterable[Iterable[int]]) -> "PitchSets":
        """Pitch sets from onsets (seconds, increasing) and each group's pitches (any order, repeats dropped)."""
        t = np.asarray(list(onsets_s), dtype=np.float64)
        sets = [sorted({int(p) for p in g}, reverse=True) for g in groups]
        if len(sets) != t.size or any(not s for s in sets):
            raise ValueError("pitch sets need one non-empty group per onset")
        if t.size > 1 and np.any(np.diff(t) <= 0):
            raise ValueError("pitch-set onsets must increase strictly")
        k = max((len(s) for s in sets), default=1)
        p = np.full((t.size, k), -1, dtype=np.int16)
        for i, s in enumerate(sets):
            p[i, :len(s)] = s
        return cls(onsets_s=t, pitches=p, sizes=np.asarray([len(s) for s in sets], dtype=np.int64))


@dataclass(frozen=True)
class SetScoring:
    """Step scores of the pitch-set alignment (dimensionless; see the module docstring)."""

    interval_exact: float = 2.0
    #: 0, not the skyline's 1: held and re-struck chord notes give repeated pitches on both sides everywhere.
    unison_exact: float = 0.0
    interval_near: float = 0.5
    interval_miss: float = -2.0
    rhythm_exact: float = 1.0
    rhythm_near: float = 0.0
    rhythm_miss: float = -1.0
    #: Score of each onset group left out, on either side.
    skip: float = -2.5
    #: Most groups left out in one step, on each side.
    max_skip: int = 1
    #: Score per bit of choice at each step (``log2`` of the two groups' note counts multiplied).
    choice: float = 1.5


#: Fitted on the 3,060 unrelated output-work pairs of run_melody_real.py's development half for the default
#: SetScoring and groups of at most 3 notes (lambda by maximum likelihood, K from the 1 % tail): the command and
#: record are in benchmarks/RESULTS.md, "Pitch-set melodies", and tests/engines/test_melody_constants.py refits it.
PITCH_SET_NULL = NullModel(lam=1.364, k=0.004806)


@dataclass(frozen=True)
class SetAlignment:
    """The best path of two pitch-set melodies.

    Attributes
    ----------
    score : float
        Its score (0 when no step scores above 0).
    query_first, query_last, reference_first, reference_last : int
        Its first and last groups on each side.
    n_pairs : int
        Paired notes on it (steps + 1).
    transposition_semitones : int
        Query pitch minus reference pitch of its last pair.
    """

    score: float
    query_first: int
    query_last: int
    reference_first: int
    reference_last: int
    n_pairs: int
    transposition_semitones: int


def pitch_sets_from_notes(
    notes: Iterable[Note],
    *,
    onset_window_s: float = 0.05,
    min_relative_amplitude: float = 0.5,
    max_notes: int = 3,
) -> PitchSets:
    """Onset groups of a note list, each keeping up to ``max_notes`` strong notes (see the module docstring).

    Parameters
    ----------
    notes : iterable of Note
    onset_window_s : float
        Notes starting within this time of a group's first note join it (seconds).
    min_relative_amplitude : float
        Only notes at least this fraction of the group's strongest are kept.
    max_notes : int
        Most notes kept per group (the strongest).
    """
    if max_notes < 1:
        raise ValueError("max_notes must be at least 1")
    onsets: list[float] = []
    groups: list[list[int]] = []
    for t0, real in onset_groups(notes, onset_window_s=onset_window_s,
                                 min_relative_amplitude=min_relative_amplitude):
        kept: list[int] = []
        for n in sorted(real, key=lambda n: (-n.amplitude, -n.midi_pitch)):
            if n.midi_pitch not in kept and len(kept) < max_notes:
                kept.append(int(n.midi_pitch))
        onsets.append(t0)
        groups.append(kept)
    if not onsets:
        return PitchSets(np.zeros(0), np.full((0, 1), -1, dtype=np.int16), np.zeros(0, dtype=np.int64))
    return PitchSets.from_groups(onsets, groups)


def rhythm_codes(onsets_s: np.ndarray, max_skip: int) -> np.ndarray:
    """Quantised IOI ratios of every step that ends at each group.

    Returns
    -------
    numpy.ndarray of int16, shape (g, max_skip + 2)
        ``[i, d]`` (``d >= 1``): ``round(log2((t[i] - t[i-d]) / (t[i-d] - t[i-d-1])) / RHYTHM_STEP_OCT)``,
        clipped to ±MAX_RHYTHM; 127 where ``i - d - 1 < 0``; column 0 unused (127).
    """
    from consentry.engines.melody.contour import MAX_RHYTHM, RHYTHM_STEP_OCT

    t = np.asarray(onsets_s, dtype=np.float64)
    out = np.full((t.size, max_skip + 2), _UNKNOWN, dtype=np.int16)
    for d in range(1, max_skip + 2):
        i = np.arange(d + 1, t.size)
        step = np.maximum(t[i] - t[i - d], 1e-3)
        before = np.maximum(t[i - d] - t[i - d - 1], 1e-3)
        out[i, d] = np.clip(np.rint(np.log2(step / before) / RHYTHM_STEP_OCT), -MAX_RHYTHM, MAX_RHYTHM)
    return out


def _scoring_array(scoring: SetScoring) -> np.ndarray:
    return np.array([scoring.interval_exact, scoring.unison_exact, scoring.interval_near, scoring.interval_miss,
                     scoring.rhythm_exact, scoring.rhythm_near, scoring.rhythm_miss, scoring.skip, scoring.choice],
                    dtype=np.float64)


def align_pitch_sets(query: PitchSets, reference: PitchSets, scoring: SetScoring = SetScoring()) -> SetAlignment:
    """The best path of ``query`` against ``reference`` (Numba; see the module docstring).

    An empty side gives score 0 and a path of no pairs.
    """
    if len(query) == 0 or len(reference) == 0:
        return SetAlignment(0.0, 0, 0, 0, 0, 0, 0)
    from consentry.engines.melody._pitchset_loop import best_path

    res = best_path(query.pitches, query.sizes, rhythm_codes(query.onsets_s, scoring.max_skip),
                    reference.pitches, reference.sizes, rhythm_codes(reference.onsets_s, scoring.max_skip),
                    _scoring_array(scoring), int(scoring.max_skip))
    score, q0, q1, r0, r1, pairs, transposition = res
    return SetAlignment(float(score), int(q0), int(q1), int(r0), int(r1), int(pairs), int(transposition))


def _step_score(q: PitchSets, r: PitchSets, qr: np.ndarray, rr: np.ndarray, prev: tuple[int, int, int, int],
                cur: tuple[int, int, int, int], scoring: SetScoring) -> float:
    """Score of one step (reference implementation; ``prev``/``cur`` are ``(i, a, j, b)``)."""
    (i0, a0, j0, b0), (i1, a1, j1, b1) = prev, cur
    qi = int(np.clip(int(q.pitches[i1, a1]) - int(q.pitches[i0, a0]), -24, 24))
    ri = int(np.clip(int(r.pitches[j1, b1]) - int(r.pitches[j0, b0]), -24, 24))
    if qi == 0 and ri == 0:
        pitch = scoring.unison_exact
    elif qi == ri:
        pitch = scoring.interval_exact
    elif abs(qi - ri) == 1:
        pitch = scoring.interval_near
    else:
        pitch = scoring.interval_miss
    cq, cr = int(qr[i1, i1 - i0]), int(rr[j1, j1 - j0])
    rhythm = 0.0
    if cq != _UNKNOWN and cr != _UNKNOWN:
        rhythm = (scoring.rhythm_exact if cq == cr else scoring.rhythm_near if abs(cq - cr) == 1
                  else scoring.rhythm_miss)
    price = scoring.choice * float(np.log2(int(q.sizes[i1]) * int(r.sizes[j1])))
    return pitch + rhythm + scoring.skip * ((i1 - i0 - 1) + (j1 - j0 - 1)) - price


def _align_reference(query: PitchSets, reference: PitchSets, scoring: SetScoring = SetScoring()) -> float:
    """The best path score by enumerating every path (exponential: for tests on a few groups only)."""
    qr, rr = rhythm_codes(query.onsets_s, scoring.max_skip), rhythm_codes(reference.onsets_s, scoring.max_skip)
    states = [(i, a, j, b) for i in range(len(query)) for a in range(int(query.sizes[i]))
              for j in range(len(reference)) for b in range(int(reference.sizes[j]))]

    def best_from(state: tuple[int, int, int, int]) -> float:
        # Best score of a path that starts at ``state`` (0: the path of this pair alone).
        i, _, j, _ = state
        best = 0.0
        for nxt in states:
            if 1 <= nxt[0] - i <= scoring.max_skip + 1 and 1 <= nxt[2] - j <= scoring.max_skip + 1:
                best = max(best, _step_score(query, reference, qr, rr, state, nxt, scoring) + best_from(nxt))
        return best

    return max((best_from(s) for s in states), default=0.0)


def match_pitch_sets(
    query: PitchSets,
    reference: PitchSets,
    *,
    scoring: SetScoring = SetScoring(),
    null_model: NullModel = PITCH_SET_NULL,
    max_false_alarm: float = 0.01,
    min_notes: int = 6,
) -> list[PhraseMatch]:
    """The best phrase of ``reference`` in ``query``, as a one-element list when it is significant, else [].

    ``significant``: its false-alarm probability (``null_model`` with the numbers of groups as lengths) is at most
    ``max_false_alarm`` and it pairs at least ``min_notes`` notes. ``pairs`` is left empty (no traceback).
    """
    best = align_pitch_sets(query, reference, scoring)
    if best.n_pairs == 0:
        return []
    p = float(null_model.false_alarm(best.score, len(query), len(reference)))
    if p > max_false_alarm or best.n_pairs < min_notes:
        return []
    qt, rt = query.onsets_s, reference.onsets_s
    q_dur = qt[best.query_last] - qt[best.query_first]
    r_dur = rt[best.reference_last] - rt[best.reference_first]
    return [PhraseMatch(
        query_start_s=float(qt[best.query_first]), query_end_s=float(qt[best.query_last]),
        reference_start_s=float(rt[best.reference_first]), reference_end_s=float(rt[best.reference_last]),
        n_notes=best.query_last - best.query_first + 1, n_matched_notes=best.n_pairs, score=best.score,
        false_alarm=p, transposition_semitones=best.transposition_semitones,
        tempo_ratio=float(r_dur / q_dur) if q_dur > 0 else float("nan"), significant=True,
    )]
