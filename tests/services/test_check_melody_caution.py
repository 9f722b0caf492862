"""The melody check's caution on even-rhythm, stepwise phrases (dance tunes over stock figures; docs/melody.md)."""

from __future__ import annotations

import numpy as np

from consentry.engines.melody import Melody
from consentry.services.check.service import MELODY_REGULAR_CAUTION, _regularity


def _melody(onsets, pitches) -> Melody:
    return Melody(np.asarray(onsets, dtype=np.float64), np.asarray(pitches, dtype=np.int16))


def test_an_even_stepwise_phrase_carries_the_caution():
    # A reel-like run: even quavers, steps of one or two semitones.
    reel = _melody(np.arange(16) * 0.25, [62, 64, 66, 67, 69, 67, 66, 64, 62, 64, 66, 64, 62, 61, 62, 64])
    got = _regularity(reel, list(range(15)))
    assert got["even_rhythm_share"] == 1.0 and got["stepwise_share"] == 1.0 and got["caution"] == MELODY_REGULAR_CAUTION


def test_a_varied_phrase_and_the_edges_carry_none():
    rng = np.random.default_rng(3)
    onsets = np.cumsum(rng.choice([0.125, 0.25, 0.375, 0.5, 0.75, 1.0], 16))
    leaps = _melody(onsets, [60, 67, 64, 72, 59, 65, 71, 62, 69, 57, 64, 74, 60, 67, 55, 62])
    got = _regularity(leaps, list(range(15)))
    assert "caution" not in got and got["stepwise_share"] < 0.5
    # Even but leaping, or stepwise but uneven: one of the two is not enough.
    even_leaps = _melody(np.arange(16) * 0.25, [60, 67, 60, 67, 72, 65, 72, 60, 55, 62, 69, 62, 55, 48, 55, 62])
    assert "caution" not in _regularity(even_leaps, list(range(15)))
    uneven_steps = _melody(onsets, [60, 62, 64, 65, 67, 65, 64, 62, 60, 62, 64, 62, 60, 59, 60, 62])
    assert "caution" not in _regularity(uneven_steps, list(range(15)))
    assert _regularity(leaps, []) == {} and _regularity(leaps, [3]) == {}  # too short to say
    # Only the phrase counts: a varied phrase inside an even, stepwise output carries none.
    mixed = _melody(np.concatenate([np.arange(16) * 0.25, 4.0 + onsets]),
                    [62, 64, 66, 67, 69, 67, 66, 64, 62, 64, 66, 64, 62, 61, 62, 64] + list(leaps.pitches))
    assert "caution" in _regularity(mixed, list(range(15))) and "caution" not in _regularity(mixed, list(range(16, 31)))
