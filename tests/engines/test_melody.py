"""Melody matching: transcription (basic-pitch ONNX), contours, local alignment, calibration, bad input.

Melodies are synthesised here (harmonic tones with an envelope); nothing is
downloaded. Transcription tests are skipped when basic-pitch's model file or
onnxruntime is missing; the alignment tests always run.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from consentry.engines.melody import NULL_MODEL, Melody, contour_of, match_melodies, melody_from_notes
from consentry.engines.melody.align import (
    Scoring, _local_alignment_reference, best_local_score, local_alignment, match_contours, merge_scores,
    merged_events, substitution_scores,
)
from consentry.engines.melody.synthetic import alter_melody, random_walk_melody, tonal_melody
from consentry.engines.melody.transcribe import ModelUnavailable, Note, find_model_path

SR = 22050


def _model_available() -> str | None:
    """None if transcription can run, else the reason it cannot."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed (pip install onnxruntime)"
    try:
        find_model_path()
    except ModelUnavailable as exc:
        return str(exc)
    return None


_SKIP = _model_available()
needs_model = pytest.mark.skipif(_SKIP is not None, reason=f"transcription unavailable: {_SKIP}")


def synthesise(notes: list[tuple[float, float, int]], *, duration_s: float, seed: int = 0) -> np.ndarray:
    """Harmonic tones (6 partials, 1/h^1.2) with 10 ms attack, decay and 20 ms release; float32, peak 0.8."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(duration_s * SR))
    for start, end, midi in notes:
        i, n = int(start * SR), int((end - start) * SR)
        n = min(n, x.size - i)
        t = np.arange(n) / SR
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        env = np.minimum(1, t / 0.01) * np.exp(-t * rng.uniform(1.5, 3)) * np.minimum(1, (n - np.arange(n)) / (0.02 * SR))
        x[i:i + n] += sum(np.sin(2 * np.pi * h * f0 * t) / h ** 1.2 for h in range(1, 7)) * env
    return (0.8 * x / max(np.abs(x).max(), 1e-12)).astype(np.float32)


def _notes_of(melody: Melody, *, last_s: float = 0.5, legato: float = 0.9) -> list[tuple[float, float, int]]:
    ends = np.append(melody.onsets_s[1:], melody.onsets_s[-1] + last_s)
    starts = melody.onsets_s
    return [(float(a), float(a + legato * (b - a)), int(p)) for a, b, p in zip(starts, ends, melody.pitches)]


def _note_f_measure(truth, found, *, onset_tol_s: float = 0.05) -> float:
    """Onset-and-pitch note F-measure (mir_eval's 'no offset' criterion: same pitch, onset within 50 ms)."""
    used = set()
    hits = 0
    for start, _, pitch in truth:
        for k, n in enumerate(found):
            if k not in used and n.midi_pitch == pitch and abs(n.start_s - start) <= onset_tol_s:
                used.add(k)
                hits += 1
                break
    if hits == 0:
        return 0.0
    precision, recall = hits / len(found), hits / len(truth)
    return 2 * precision * recall / (precision + recall)


# A registered tune: 16 notes, C major, two bars of mixed note values.
_TUNE_PITCHES = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 69, 71, 72, 71, 69, 67]
_TUNE_BEATS = [0.5, 1.0, 0.5, 1.5, 0.5, 1.0, 0.5, 1.5, 0.5, 1.0, 0.5, 1.5, 0.5, 1.0, 0.5, 1.5]


def _tune(*, start_s: float = 0.3, beat_s: float = 0.5) -> Melody:
    onsets = start_s + np.concatenate([[0], np.cumsum(_TUNE_BEATS[:-1])]) * beat_s
    return Melody(onsets_s=onsets, pitches=np.asarray(_TUNE_PITCHES, np.int16))


# ---------------------------------------------------------------------------
# Alignment (no model needed)
# ---------------------------------------------------------------------------


def test_fast_alignment_agrees_with_reference_loop():
    rng = np.random.default_rng(0)
    for m, n, gap in ((1, 1, -1.0), (5, 9, -2.5), (13, 4, -0.7), (20, 31, -2.5)):
        s = rng.normal(0.0, 2.0, size=(m, n))
        h, _ = local_alignment(s, gap=gap)
        np.testing.assert_allclose(h, _local_alignment_reference(s, gap=gap))


def test_fast_alignment_agrees_with_reference_loop_with_merge_steps():
    rng = np.random.default_rng(1)
    for m, n in ((1, 1), (2, 3), (5, 9), (13, 4), (20, 31)):
        s = rng.normal(0.0, 2.0, size=(m, n))
        drop, insert = rng.normal(0.0, 2.0, size=(m, n)), rng.normal(0.0, 2.0, size=(m, n))
        drop[:, 0] = -1e6
        insert[0, :] = -1e6
        h, _ = local_alignment(s, gap=-2.5, merges=(drop, insert))
        np.testing.assert_allclose(h, _local_alignment_reference(s, gap=-2.5, merges=(drop, insert)))


def test_merged_events_sum_two_intervals_and_their_ioi():
    c = contour_of(_tune())
    iv, rh, known, valid = merged_events(c)
    assert iv.tolist()[1:] == (c.intervals[:-1] + c.intervals[1:]).tolist()
    assert not valid[0] and valid[1:].all() and not known[:2].any() and known[2:].all()
    # Merged event 2 spans notes 1..3 (IOIs 1 + 0.5 beats) after notes 0..1 (0.5 beats): round(log2(3) * 4) = 6;
    # merged event 3 spans notes 2..4 (0.5 + 1.5 beats) after notes 1..2 (1 beat): log2(2) * 4 = 4.
    assert rh[2:4].tolist() == [6, 4]


def test_merge_step_pairs_across_a_dropped_note():
    """With merge steps a dropped note costs one step: the notes on both sides of it stay paired."""
    reference = _tune(beat_s=0.4)
    keep = [k for k in range(len(reference)) if k != 7]
    query = Melody(reference.onsets_s[keep] * 1.1 + 3.0, reference.pitches[keep] + 2)
    q, r = contour_of(query), contour_of(reference)
    with_merge, without = Scoring(merge=-1.0), Scoring(merge=None)
    assert merge_scores(q, r, without) is None
    assert best_local_score(q, r, with_merge) > best_local_score(q, r, without)
    found = match_contours(q, r, scoring=with_merge, max_false_alarm=1.0, min_notes=2, max_phrases=1)
    assert found and found[0].transposition_semitones == 2
    pairs = dict(found[0].pairs)
    assert pairs[6] == 6 and pairs[7] == 8  # query note 7 is the reference's note 8: note 7 was dropped


def test_contour_golden_vector():
    c = contour_of(_tune())
    assert c.intervals.tolist() == [2, 2, 1, 2, -2, -1, -2, -2, 7, 2, 2, 1, -1, -2, -2]
    # IOI ratios 2, 1/2, 3, 1/3, ... in quarter octaves: log2(2)*4 = 4, log2(3)*4 = 6.34 -> 6.
    assert c.rhythm.tolist() == [0, 4, -4, 6, -6, 4, -4, 6, -6, 4, -4, 6, -6, 4, -4]
    assert c.rhythm_known.tolist() == [False] + [True] * 14


def test_contour_is_invariant_to_key_and_tempo():
    a = contour_of(_tune())
    b = contour_of(alter_melody(np.random.default_rng(0), _tune(), transpose_semitones=5, tempo_ratio=1.25))
    assert a.intervals.tolist() == b.intervals.tolist()
    assert a.rhythm.tolist() == b.rhythm.tolist()


def _phrase_in_unrelated(seed: int, *, phrase_range: tuple[int, int], transpose: int, tempo: float,
                         start_s: float, **errors: int):
    """A registered melody, and a ~30 s query holding an altered phrase of it between unrelated notes."""
    rng = np.random.default_rng(seed)
    reference = tonal_melody(rng, n_notes=60)
    k0, k1 = phrase_range
    phrase = Melody(reference.onsets_s[k0:k1], reference.pitches[k0:k1])
    copy = alter_melody(rng, phrase, transpose_semitones=transpose, tempo_ratio=tempo, start_s=start_s, **errors)
    before = random_walk_melody(rng, n_notes=60)
    before = Melody(before.onsets_s[before.onsets_s < start_s - 0.4], before.pitches[before.onsets_s < start_s - 0.4])
    after = random_walk_melody(rng, n_notes=60, start_s=float(copy.onsets_s[-1]) + 0.5)
    after = Melody(after.onsets_s[after.onsets_s < 30.0], after.pitches[after.onsets_s < 30.0])
    query = Melody(np.concatenate([before.onsets_s, copy.onsets_s, after.onsets_s]),
                   np.concatenate([before.pitches, copy.pitches, after.pitches]))
    return reference, phrase, query


def test_borrowed_phrase_found_transposed_and_faster_symbolic():
    reference, phrase, query = _phrase_in_unrelated(3, phrase_range=(20, 28), transpose=5, tempo=1.25, start_s=12.0)
    found = match_melodies(query, reference)
    assert found, "the borrowed 8-note phrase was not found"
    best = found[0]
    assert best.significant and best.false_alarm <= 0.01
    assert best.query_start_s == pytest.approx(12.0, abs=0.01)
    assert best.reference_start_s == pytest.approx(phrase.onsets_s[0], abs=0.01)
    assert best.reference_end_s == pytest.approx(phrase.onsets_s[-1], abs=0.01)
    assert best.n_notes == 8
    assert best.transposition_semitones == 5
    assert best.tempo_ratio == pytest.approx(1.25, rel=0.01)


def test_borrowed_phrase_found_with_a_dropped_and_a_wrong_note():
    reference, phrase, query = _phrase_in_unrelated(
        4, phrase_range=(10, 24), transpose=-3, tempo=0.85, start_s=9.0, n_drop=1, n_semitone_errors=1
    )
    found = match_melodies(query, reference)
    assert found and found[0].transposition_semitones == -3
    assert abs(found[0].query_start_s - 9.0) < 1.5


def test_unrelated_melodies_not_matched_at_calibrated_threshold():
    """400 unrelated pairs (both generators, 16-300 events): false alarms at the 1% threshold stay near 1%."""
    rng = np.random.default_rng(123)
    gens = (random_walk_melody, tonal_melody)
    hits = 0
    trials = 400
    for k in range(trials):
        a = gens[k % 2](rng, n_notes=int(rng.integers(16, 300)))
        b = gens[(k // 2) % 2](rng, n_notes=int(rng.integers(16, 300)))
        hits += bool(match_melodies(a, b))
    # Binomial(400, 0.01): mean 4, P(X > 10) < 0.3%.
    assert hits <= 10, f"{hits} false alarms in {trials} unrelated pairs"


def test_null_model_threshold_and_false_alarm_agree():
    thr = NULL_MODEL.threshold(100, 200, max_false_alarm=0.01)
    assert NULL_MODEL.false_alarm(thr, 100, 200) == pytest.approx(0.01, rel=1e-6)
    assert NULL_MODEL.false_alarm(thr + 5, 100, 200) < 0.01 < NULL_MODEL.false_alarm(thr - 5, 100, 200)


def test_empty_and_tiny_melodies_give_no_match():
    empty = Melody.from_arrays([], [])
    one = Melody.from_arrays([0.0], [60])
    assert match_melodies(empty, _tune()) == []
    assert match_melodies(_tune(), one) == []
    assert best_local_score(contour_of(empty), contour_of(_tune())) == 0.0
    assert substitution_scores(contour_of(one), contour_of(_tune())).shape == (0, 15)


def test_skyline_keeps_the_top_strong_note():
    notes = [Note(0.0, 0.5, 48, 0.8), Note(0.01, 0.5, 64, 0.7), Note(0.02, 0.3, 92, 0.2), Note(0.5, 1.0, 65, 0.7)]
    mel = melody_from_notes(notes)
    assert mel.pitches.tolist() == [64, 65]
    assert mel.onsets_s.tolist() == [0.0, 0.5]


def test_top_voice_leaves_out_an_inner_voice_under_a_held_melody_note():
    # A chorale bar: the soprano holds 72 for a beat while the alto moves 64 -> 65, then both move on.
    notes = [Note(0.0, 1.0, 72, 0.8), Note(0.0, 0.5, 64, 0.8), Note(0.5, 1.0, 65, 0.8),
             Note(1.0, 1.5, 74, 0.8), Note(1.0, 1.5, 67, 0.8)]
    assert melody_from_notes(notes).pitches.tolist() == [72, 65, 74]
    top = melody_from_notes(notes, line="top_voice")
    assert top.pitches.tolist() == [72, 74]
    assert top.onsets_s.tolist() == [0.0, 1.0]


def test_top_voice_ignores_short_overlaps_and_lower_held_notes():
    # A release tail 30 ms past the next onset (under held_s) hides nothing; nor does a held bass note.
    legato = [Note(0.0, 0.53, 76, 0.8), Note(0.5, 1.0, 74, 0.8), Note(1.0, 1.5, 72, 0.8)]
    assert melody_from_notes(legato, line="top_voice").pitches.tolist() == [76, 74, 72]
    assert melody_from_notes(legato, line="top_voice", held_s=0.02).pitches.tolist() == [76, 72]
    pedal = [Note(0.0, 2.0, 48, 0.8), Note(0.5, 1.0, 67, 0.8), Note(1.0, 1.5, 69, 0.8)]
    assert melody_from_notes(pedal, line="top_voice").pitches.tolist() == [48, 67, 69]


def test_a_melody_doubling_the_bass_two_octaves_up_is_kept_without_the_overtone_filter():
    # Soprano 72 over a louder bass 48 (24 semitones: the 4th harmonic), then 74 over 50.
    notes = [Note(0.0, 0.5, 48, 0.9), Note(0.0, 0.5, 64, 0.7), Note(0.0, 0.5, 72, 0.6),
             Note(0.5, 1.0, 50, 0.9), Note(0.5, 1.0, 65, 0.7), Note(0.5, 1.0, 74, 0.6)]
    assert melody_from_notes(notes).pitches.tolist() == [64, 65]
    assert melody_from_notes(notes, drop_overtones=False).pitches.tolist() == [72, 74]


def test_top_voice_of_a_single_line_is_its_skyline():
    tune = _tune()
    notes = [Note(a, b, p, 0.8) for a, b, p in _notes_of(tune)]
    assert melody_from_notes(notes, line="top_voice").pitches.tolist() == melody_from_notes(notes).pitches.tolist()
    with pytest.raises(ValueError, match="top_voice"):
        melody_from_notes(notes, line="soprano")


# ---------------------------------------------------------------------------
# Transcription (basic-pitch's ONNX model through onnxruntime)
# ---------------------------------------------------------------------------


@needs_model
def test_transcription_recovers_most_notes():
    from consentry.engines.melody import transcribe

    truth = _notes_of(_tune())
    audio = synthesise(truth, duration_s=9.0)
    found = transcribe(audio, sample_rate_hz=SR)
    melody_notes = [n for n in found if n.amplitude >= 0.5]
    f_all, f_strong = _note_f_measure(truth, found), _note_f_measure(truth, melody_notes)
    print(f"note F-measure (onset 50 ms, pitch exact): all notes {f_all:.3f}, amplitude >= 0.5 {f_strong:.3f}")
    assert f_all >= 0.8  # the misses are overtones at low amplitude, which the skyline discards
    assert f_strong >= 0.9
    mel = melody_from_notes(found)
    assert mel.pitches.tolist() == _TUNE_PITCHES
    assert len(melody_notes) >= 15


@needs_model
def test_transcribed_phrase_found_in_30_s_of_unrelated_notes():
    from consentry.engines.melody import transcribe

    reference = _tune()
    phrase = Melody(reference.onsets_s[8:16], reference.pitches[8:16])  # 8 notes
    start = 13.0
    copy = alter_melody(np.random.default_rng(0), phrase, transpose_semitones=5, tempo_ratio=1.25, start_s=start)
    rng = np.random.default_rng(11)
    before = random_walk_melody(rng, n_notes=40, start_s=0.5)
    before = Melody(before.onsets_s[before.onsets_s < start - 0.6], before.pitches[before.onsets_s < start - 0.6])
    after = random_walk_melody(rng, n_notes=60, start_s=float(copy.onsets_s[-1]) + 0.7)
    after = Melody(after.onsets_s[after.onsets_s < 29.0], after.pitches[after.onsets_s < 29.0])
    query = Melody(np.concatenate([before.onsets_s, copy.onsets_s, after.onsets_s]),
                   np.concatenate([before.pitches, copy.pitches, after.pitches]))
    audio_query = synthesise(_notes_of(query), duration_s=30.0, seed=1)
    audio_reference = synthesise(_notes_of(reference), duration_s=9.0, seed=2)

    q = melody_from_notes(transcribe(audio_query, sample_rate_hz=SR))
    r = melody_from_notes(transcribe(audio_reference, sample_rate_hz=SR))
    found = match_melodies(q, r)
    assert found, "the borrowed phrase was not found after transcription"
    best = found[0]
    print(best)
    assert best.query_start_s == pytest.approx(start, abs=0.1)
    assert best.reference_start_s == pytest.approx(phrase.onsets_s[0], abs=0.1)
    assert best.n_matched_notes >= 7
    assert best.transposition_semitones == 5
    assert best.tempo_ratio == pytest.approx(1.25, rel=0.05)


@needs_model
@pytest.mark.parametrize(
    "case",
    ["silence", "short", "empty", "noise", "nan"],
)
def test_bad_input_gives_no_notes(case):
    from consentry.engines.melody import transcribe

    rng = np.random.default_rng(5)
    audio = {
        "silence": np.zeros(5 * SR, np.float32),
        "short": np.zeros(int(0.3 * SR), np.float32),
        "empty": np.zeros(0, np.float32),
        "noise": (0.3 * rng.standard_normal(5 * SR)).astype(np.float32),
        "nan": np.full(SR, np.nan, np.float32),
    }[case]
    notes = transcribe(audio, sample_rate_hz=SR)
    mel = melody_from_notes(notes)
    assert len(notes) <= 3, f"{case}: {len(notes)} notes"
    assert match_melodies(mel, _tune()) == []


@needs_model
def test_short_clipped_and_stereo_inputs():
    from consentry.engines.melody import transcribe

    tune = _notes_of(_tune())
    # Under 1 s: the first notes, no crash, the right pitches.
    short = synthesise(tune, duration_s=9.0)[: int(0.9 * SR)]
    assert [n.midi_pitch for n in transcribe(short, sample_rate_hz=SR) if n.amplitude >= 0.5][:2] == [60, 62]
    # Clipped hard (gain 8 then clip): the melody survives.
    audio = synthesise(tune, duration_s=9.0)
    clipped = np.clip(audio * 8.0, -1.0, 1.0)
    mel = melody_from_notes(transcribe(clipped, sample_rate_hz=SR))
    assert match_melodies(mel, _tune()), "clipped copy not matched"
    # Stereo (n, 2) at 44.1 kHz: averaged and resampled.
    stereo44 = np.repeat(synthesise(tune, duration_s=9.0)[:, None], 2, axis=1)
    import soxr

    stereo44 = soxr.resample(stereo44, SR, 44100).astype(np.float32)
    mel = melody_from_notes(transcribe(stereo44, sample_rate_hz=44100))
    assert mel.pitches.tolist() == _TUNE_PITCHES


# ---------------------------------------------------------------------------
# Golden vector stored as data (tests/data/golden/melody.npz, tools/make_golden.py)
# ---------------------------------------------------------------------------

GOLDEN_FILE = __import__("pathlib").Path(__file__).parents[1] / "data" / "golden" / "melody.npz"


@needs_model
def test_transcription_golden_vector():
    """A stored 16-note tune (int16, 11025 Hz) and the notes transcription gave when the file was made.

    The network is float32 (onnxruntime): pitches and the number of notes are
    exact; onsets and offsets may move by one model frame (256 / 22050 s);
    amplitudes by 0.02.  The contour of the melody is exact.  If this fails,
    note extraction or the model changed: bump ``MELODY_ENGINE_VERSION``
    (consentry.services.check.engines) and rewrite the file with
    ``tools/make_golden.py --only melody``.
    """
    from consentry.services.check.engines import melody_engine_id
    from consentry.engines.melody import transcribe

    golden = np.load(GOLDEN_FILE, allow_pickle=False)
    assert str(golden["engine"]) == melody_engine_id()
    rate = int(golden["sample_rate_hz"])
    found = transcribe(golden["samples"].astype(np.float32) / 32767.0, sample_rate_hz=rate)
    got = np.array([[n.start_s, n.end_s, n.midi_pitch, n.amplitude] for n in found]).reshape(-1, 4)
    expected = golden["notes"]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got[:, 2], expected[:, 2])
    np.testing.assert_allclose(got[:, :2], expected[:, :2], rtol=0, atol=256 / 22050)
    np.testing.assert_allclose(got[:, 3], expected[:, 3], rtol=0, atol=0.02)
    c = contour_of(melody_from_notes(found))
    assert c.intervals.tolist() == golden["intervals"].tolist()
    assert c.rhythm.tolist() == golden["rhythm"].tolist()
    # The tune's own contour shows through the transcription (one repeated note split in two).
    assert melody_from_notes(found).pitches.tolist()[:8] == _TUNE_PITCHES[:8]
