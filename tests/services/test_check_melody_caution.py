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


def _check_one_work(ref_pitches, ref_onsets, q_pitches, q_onsets) -> list[dict]:
    """_melody_check of one output (notes at the given onsets) against one registered melody."""
    from types import SimpleNamespace

    from consentry.engines.melody import Note, contour_of
    from consentry.services.check.service import _melody_check

    ref = contour_of(_melody(ref_onsets, ref_pitches))
    work = SimpleNamespace(work_id="w1", title="t", creator="c", terms=SimpleNamespace(describe=lambda: "deny"))
    notes = [Note(float(t), float(t) + 0.2, int(p), 0.8) for t, p in zip(q_onsets, q_pitches)]
    return _melody_check(SimpleNamespace(melodies=[(work, ref)]), notes,
                         SimpleNamespace(melody_false_alarm_per_comparison=None))


def test_a_predictable_pair_carries_the_predictability_caution():
    """Two unrelated zigzags of thirds and fourths in even notes (few distinct events, not stepwise) align for dozens
    of notes: NULL_MODEL finds a phrase, the composition-adjusted null does not, so the finding is cautioned."""
    from consentry.services.check.service import MELODY_PREDICTABLE_CAUTION

    rng = np.random.default_rng(0)

    def zigzag(n):
        return 60 + np.concatenate([[0], np.cumsum(rng.choice([3, 4, 5], n) * np.where(np.arange(n) % 2, -1, 1))])

    found = _check_one_work(zigzag(300), np.arange(301) * 0.25, zigzag(120), np.arange(121) * 0.25)
    assert found and all(f["stepwise_share"] < 0.5 for f in found)
    for f in found:
        assert f["false_alarm"] <= 0.01 < f["false_alarm_adjusted"] and f["caution"] == MELODY_PREDICTABLE_CAUTION


def test_a_copied_varied_phrase_carries_no_caution():
    rng = np.random.default_rng(7)
    ref = 50 + np.concatenate([[0], np.cumsum(rng.integers(-7, 8, 300))]) % 30
    ref_onsets = np.cumsum(rng.choice([0.2, 0.4, 0.6, 0.8], 301))
    q = np.concatenate([70 + rng.integers(-12, 12, 40), ref[100:140] + 3, 70 + rng.integers(-12, 12, 40)])
    q_onsets = np.concatenate([np.cumsum(rng.choice([0.2, 0.4, 0.6, 0.8], 40)),
                               20.0 + ref_onsets[100:140] - ref_onsets[100],
                               40.0 + np.cumsum(rng.choice([0.2, 0.4, 0.6, 0.8], 40))])
    found = _check_one_work(ref, ref_onsets, q, q_onsets)
    assert found and found[0]["false_alarm_adjusted"] <= 0.01 and "caution" not in found[0]
