"""Pitch-set melodies (consentry.engines.melody.pitchsets): groups, the compiled alignment against path enumeration,
invariances, and a phrase carried by an inner voice."""

from __future__ import annotations

import numpy as np
import pytest

from consentry.engines.melody.align import NullModel
from consentry.engines.melody.pitchsets import (
    PitchSets, SetScoring, _align_reference, align_pitch_sets, match_pitch_sets, pitch_sets_from_notes, rhythm_codes,
)
from consentry.engines.melody.transcribe import Note


def _random_sets(rng: np.random.Generator, groups: int, most: int) -> PitchSets:
    onsets = np.cumsum(rng.choice([0.2, 0.3, 0.45, 0.6], size=groups))
    return PitchSets.from_groups(onsets, [rng.integers(55, 67, size=rng.integers(1, most + 1))
                                          for _ in range(groups)])


def test_groups_keep_the_strongest_distinct_notes_highest_first():
    notes = [Note(0.00, 0.4, 60, 0.9), Note(0.02, 0.4, 64, 0.8), Note(0.03, 0.4, 67, 0.7),
             Note(0.04, 0.4, 55, 0.3),            # below half the loudest: left out
             Note(0.01, 0.4, 72, 0.5),            # an octave above a stronger note: an overtone, left out
             Note(0.50, 0.9, 62, 0.6), Note(0.52, 0.9, 62, 0.6)]   # the same pitch twice: once
    sets = pitch_sets_from_notes(notes, max_notes=2)
    assert sets.onsets_s.tolist() == [0.0, 0.5]
    assert sets.sizes.tolist() == [2, 1]
    assert sets.pitches.tolist() == [[64, 60], [62, -1]]
    assert pitch_sets_from_notes(notes, max_notes=4).pitches.tolist() == [[67, 64, 60], [62, -1, -1]]


def test_groups_reject_bad_input():
    with pytest.raises(ValueError, match="one non-empty group"):
        PitchSets.from_groups([0.0, 1.0], [[60], []])
    with pytest.raises(ValueError, match="increase strictly"):
        PitchSets.from_groups([1.0, 1.0], [[60], [62]])
    with pytest.raises(ValueError, match="max_notes"):
        pitch_sets_from_notes([], max_notes=0)
    assert len(pitch_sets_from_notes([])) == 0


def test_rhythm_codes_are_quantised_ioi_ratios():
    codes = rhythm_codes(np.array([0.0, 1.0, 2.0, 4.0, 4.5]), max_skip=1)
    assert codes.shape == (5, 3)
    assert codes[2, 1] == 0            # 1 s after 1 s
    assert codes[3, 1] == 4            # 2 s after 1 s: one octave = 4 quarter octaves
    assert codes[4, 1] == -8           # 0.5 s after 2 s: -2 octaves
    assert codes[3, 2] == 6            # group 1 -> 3 (3 s) after group 0 -> 1 (1 s): log2(3) / 0.25 = 6.3
    assert codes[0, 1] == codes[1, 1] == codes[1, 2] == 127


def test_compiled_alignment_equals_path_enumeration():
    rng = np.random.default_rng(5)
    scorings = [SetScoring(), SetScoring(max_skip=0), SetScoring(skip=-1.0, rhythm_miss=-0.5),
                SetScoring(interval_miss=-1.0, unison_exact=2.0, max_skip=2), SetScoring(choice=0.7, unison_exact=0.0)]
    for trial in range(80):
        scoring = scorings[trial % len(scorings)]
        q = _random_sets(rng, int(rng.integers(1, 5)), 2)
        r = _random_sets(rng, int(rng.integers(1, 5)), 3)
        assert align_pitch_sets(q, r, scoring).score == pytest.approx(_align_reference(q, r, scoring), abs=1e-9)


def test_a_phrase_in_an_inner_voice_is_found_in_its_key_and_place():
    rng = np.random.default_rng(11)
    tune = [int(x) for x in 60 + np.cumsum(rng.choice([-4, -2, -1, 1, 2, 3, 5], size=60))]
    ioi = rng.choice([0.25, 0.5, 0.75], size=60)
    # The reference: the tune with a voice a third to a sixth above it (its skyline is that voice).
    reference = PitchSets.from_groups(np.cumsum(ioi), [[p, p + int(rng.integers(3, 10))] for p in tune])
    # The query: 12 unrelated two-note chords, notes 20-39 of the tune 3 semitones up and 1.2x as fast, now with
    # another voice above it, then 8 more unrelated chords.
    noise = [[int(x) for x in rng.integers(48, 84, size=2)] for _ in range(20)]
    phrase = [[p + 3, p + 3 + int(rng.integers(3, 10))] for p in tune[20:40]]
    q_ioi = np.concatenate([np.full(12, 0.4), ioi[20:40] / 1.2, np.full(8, 0.4)])
    query = PitchSets.from_groups(np.cumsum(q_ioi), noise[:12] + phrase + noise[12:])
    # A lower price of choice than the default's (1.5 bits): at 1.5, two notes on each side cost the 3 points that
    # an exact interval in an exact rhythm earns, and a copy in two-note groups scores nothing.
    scoring = SetScoring(choice=0.5)
    best = align_pitch_sets(query, reference, scoring)
    assert best.transposition_semitones == 3
    copy = set(range(12, 32))
    span = set(range(best.query_first, best.query_last + 1))
    assert len(span & copy) >= 18 and len(span - copy) <= 2
    assert best.reference_last - best.query_last == 8        # reference group k + 20 is query group k + 12
    assert abs(best.reference_first - best.query_first - 8) <= 1   # (a chance step into the noise may skip)
    assert best.n_pairs >= 18
    # The tune alone, without the voice above it, scores lower than the copy above but still finds the place.
    bare = PitchSets.from_groups(np.cumsum(q_ioi[12:32]), [[p[0]] for p in phrase])
    alone = align_pitch_sets(bare, reference, scoring)
    assert alone.reference_first == 20 + alone.query_first and alone.transposition_semitones == 3


def test_scores_do_not_change_with_key_or_tempo():
    rng = np.random.default_rng(3)
    q = _random_sets(rng, 30, 3)
    r = _random_sets(rng, 60, 3)
    moved = PitchSets(onsets_s=q.onsets_s / 1.25 + 7.0, pitches=np.where(q.pitches >= 0, q.pitches + 5, -1)
                      .astype(np.int16), sizes=q.sizes)
    assert align_pitch_sets(moved, r).score == pytest.approx(align_pitch_sets(q, r).score)


def test_match_is_judged_by_the_null_model_and_the_note_count():
    rng = np.random.default_rng(7)
    tune = [int(x) for x in 62 + np.cumsum(rng.choice([-3, -2, 2, 4], size=30))]
    reference = PitchSets.from_groups(np.arange(30) * 0.5, [[p] for p in tune])
    query = PitchSets.from_groups(np.arange(10) * 0.4, [[p - 2] for p in tune[5:15]])
    lenient, strict = NullModel(lam=1.0, k=1e-9), NullModel(lam=0.01, k=10.0)
    found = match_pitch_sets(query, reference, null_model=lenient)
    assert len(found) == 1 and found[0].significant
    assert found[0].n_matched_notes == 10 and found[0].transposition_semitones == -2
    assert found[0].reference_start_s == pytest.approx(2.5) and found[0].tempo_ratio == pytest.approx(1.25)
    assert match_pitch_sets(query, reference, null_model=strict) == []
    assert match_pitch_sets(query, reference, null_model=lenient, min_notes=11) == []
    assert match_pitch_sets(PitchSets.from_groups([], []), reference, null_model=lenient) == []
