"""The compiled alignment loops (engines/melody/_align_loops.py) against the NumPy path, bit for bit.

Tables are compared as raw float64 bits and pointers exactly; ``match_contours`` results field by field.
"""

from __future__ import annotations

import numpy as np
import pytest

from consentry.engines.melody import Melody, align, contour_of
from consentry.engines.melody.align import (
    Scoring, _local_alignment_compiled, _PairTable, best_local_score, local_alignment, match_contours,
)
from consentry.engines.melody.synthetic import alter_melody, random_walk_melody, tonal_melody

pytestmark = pytest.mark.skipif(not align.LOOPS.available, reason="numba is not installed")


def _same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return (a[0].shape == b[0].shape and np.array_equal(a[0].view(np.int64), b[0].view(np.int64))
            and a[1].dtype == b[1].dtype and np.array_equal(a[1], b[1]))


def _matrix(rng: np.random.Generator, m: int, n: int, integer: bool) -> np.ndarray:
    """Scores; integer-valued ones make ties between candidates and with the left-gap chain common."""
    return rng.integers(-3, 4, size=(m, n)).astype(float) if integer else rng.normal(0.0, 2.0, size=(m, n))


@pytest.mark.parametrize("integer", [False, True])
def test_table_kernel_equals_numpy_on_random_matrices(integer):
    rng = np.random.default_rng(21 + integer)
    shapes = [(0, 0), (0, 5), (5, 0), (1, 1), (1, 7), (7, 1), (2, 2)]
    shapes += [tuple(rng.integers(1, 40, 2)) for _ in range(60)]
    ties = 0
    for m, n in shapes:
        s = _matrix(rng, m, n, integer)
        drop, insert = _matrix(rng, m, n, integer), _matrix(rng, m, n, integer)
        if m and n:
            drop[:, 0] = -1e6
            insert[0, :] = -1e6
        for gap in (-2.5, -1.0, -0.7):
            for merges in (None, (drop, insert)):
                want = local_alignment(s, gap=gap, merges=merges)
                assert _same(want, _local_alignment_compiled(s, gap=gap, merges=merges)), (m, n, gap, merges is None)
                if integer and m and n:
                    ties += int(np.sum((want[0][1:, 1:] > 0) & (want[1][1:, 1:] != 3)))
    if integer:
        assert ties > 1000  # the pointer choice was exercised on many positive cells


def _pair(seed: int, n_query: int, n_reference: int):
    """A query holding an altered phrase of a reference between unrelated notes, as contours."""
    rng = np.random.default_rng(seed)
    reference = tonal_melody(rng, n_notes=n_reference)
    k0 = int(rng.integers(0, max(1, n_reference - 20)))
    phrase = Melody(reference.onsets_s[k0:k0 + 16], reference.pitches[k0:k0 + 16])
    copy = alter_melody(rng, phrase, transpose_semitones=int(rng.integers(-5, 6)),
                        tempo_ratio=float(rng.uniform(0.8, 1.25)),
                        start_s=30.0, n_drop=int(rng.integers(0, 2)), n_semitone_errors=int(rng.integers(0, 2)))
    before = random_walk_melody(rng, n_notes=n_query // 2)
    before = Melody(before.onsets_s[before.onsets_s < 29.5], before.pitches[before.onsets_s < 29.5])
    after = random_walk_melody(rng, n_notes=n_query // 2, start_s=float(copy.onsets_s[-1]) + 0.5)
    query = Melody(np.concatenate([before.onsets_s, copy.onsets_s, after.onsets_s]),
                   np.concatenate([before.pitches, copy.pitches, after.pitches]))
    return contour_of(query), contour_of(reference)


@pytest.mark.parametrize("scoring", [Scoring(), Scoring(merge=None), Scoring(merge=-1.0, gap=-1.5)])
def test_pair_kernel_equals_numpy_tables_with_blocked_phrases(scoring):
    loops = align.LOOPS.load()
    rng = np.random.default_rng(5)
    for seed in range(12):
        q, r = _pair(seed, int(rng.integers(2, 120)), int(rng.integers(2, 90)))
        numpy_table, compiled = _PairTable(q, r, scoring, loops=None), _PairTable(q, r, scoring, loops=loops)
        for _ in range(4):
            score, i, j, ptr, h = numpy_table.fill()
            assert _same((h, ptr), compiled.fill(full=True)[4:2:-1]), seed
            # Three rows kept: the same best cell, score (bits) and pointers.
            got = compiled.fill()
            assert got[4] is None and got[1:3] == (i, j)
            assert _same((np.float64(score), ptr), (np.float64(got[0]), got[3]))
            assert score == h.max()
            assert compiled.fill(pointers=False)[:4] == (got[0], i, j, None)  # the score pass of match_contours
            # Block a random stretch on each side (as after a reported phrase), near the edges too.
            q0, r0 = int(rng.integers(0, len(q))), int(rng.integers(0, len(r)))
            q1, r1 = min(len(q) - 1, q0 + int(rng.integers(0, 6))), min(len(r) - 1, r0 + int(rng.integers(0, 6)))
            numpy_table.block(q0, q1, r0, r1)
            compiled.block(q0, q1, r0, r1)


def test_match_contours_and_best_score_identical_with_and_without_loops(monkeypatch):
    loops = align.LOOPS.load()
    pairs = [_pair(seed, 150, 80) for seed in range(20)]
    found = {}
    for name, module in (("numpy", None), ("compiled", loops)):
        monkeypatch.setattr(align.LOOPS, "loaded", module)
        monkeypatch.setattr(align.LOOPS, "available", module is not None)
        found[name] = [([vars(p) for p in match_contours(q, r, max_false_alarm=0.5, min_notes=4, max_phrases=3)],
                        best_local_score(q, r)) for q, r in pairs]
    np.testing.assert_equal(found["compiled"], found["numpy"])  # every field, pairs included (NaN equals NaN)
    assert sum(len(phrases) for phrases, _ in found["numpy"]) >= 20  # phrases found and blocked, not only misses


def test_loops_load_only_after_enough_cells(monkeypatch):
    monkeypatch.setattr(align.LOOPS, "loaded", None)
    monkeypatch.setattr(align.LOOPS, "seen", 0.0)
    assert align.loops_ready(align.LOOPS.load_after - 1) is None
    assert align.loops_ready(1) is not None
