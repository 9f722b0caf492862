"""The voice check's decision statistic (services/check/service.py ``_voice_check``), on made-up prints.

The check decides on the best window's similarity whatever the number of creators enrolled (the cohort-normalised
score it used with more than ``COHORT_MIN`` creators from 2026-12-07 17:00 to 19:34 UTC falsely matched outputs
whose voice is not enrolled: docs/voice.md); these tests build the window and enrolled prints by hand, so no
speaker model is needed.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from consentry.engines.voice.score import (COHORT_MIN, WINDOW_THRESHOLD, cohort_normalised_reference,
                                           cohort_threshold, window_threshold)
from consentry.services.check.service import _voice_check, _VoiceWindow

DIM = 192


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def off(rng, size: float) -> np.ndarray:
    """A random direction of length ``size``."""
    return size * unit(rng.normal(size=DIM)).astype(np.float64)


def registry(n_creators: int, seed: int = 0, *, second_voice_of: int | None = None):
    """A context with one print per creator (two for ``second_voice_of``), and the shared direction they lean to."""
    rng = np.random.default_rng(seed)
    shared = unit(rng.normal(size=DIM)).astype(np.float64)
    voices = []
    for i in range(n_creators):
        for k in range(2 if i == second_voice_of else 1):
            voices.append(SimpleNamespace(voice_id=f"v{i}-{k}", creator=f"creator {i}",
                                          vector=unit(shared + off(rng, 1.2))))
    return SimpleNamespace(voices=voices), unit(shared), rng


def window(start_s: float, vector: np.ndarray) -> _VoiceWindow:
    return _VoiceWindow(start_s, start_s + 3.0, 2.0, vector)


def test_many_creators_are_judged_by_the_similarity_of_their_best_window():
    ctx, shared, rng = registry(COHORT_MIN + 2)
    target = ctx.voices[3].vector
    windows = [window(0.0, unit(shared + off(rng, 0.3))),  # sounds like everyone a little
               window(1.5, unit(target + off(rng, 0.4))),
               window(3.0, None)]  # gated out as music
    found, note = _voice_check(ctx, windows, None)
    assert note is None and len(found) == COHORT_MIN + 2
    speech = np.stack([w.vector for w in windows[:2]]).astype(np.float64)
    sims = speech @ np.stack([v.vector for v in ctx.voices]).astype(np.float64).T
    by_creator = {f["creator"]: f for f in found}
    for i in range(COHORT_MIN + 2):
        f = by_creator[f"creator {i}"]
        assert f["statistic"] == "best_window" and f["threshold"] == window_threshold(COHORT_MIN + 2)
        assert f["score"] == f["similarity"] == pytest.approx(float(sims[:, i].max()), abs=1e-4)
        assert f["creators_compared"] == COHORT_MIN + 2 and f["speech_windows"] == 2
        assert len(f["unrelated_scores"]) == COHORT_MIN + 1
    top = found[0]
    assert top["creator"] == "creator 3" and top["is_match"] and top["window_start_s"] == 1.5


def test_a_voice_that_is_not_enrolled_matches_no_creator_however_many_are_enrolled():
    """Why the cohort statistic left the check: a voice near one creator a little more than the others, but
    far from all of them, stands out from the cohort (a high cohort score) though its similarity is low."""
    ctx, shared, rng = registry(COHORT_MIN + 6, seed=3)
    stranger = unit(0.35 * ctx.voices[5].vector + off(rng, 1.0))
    windows = [window(0.0, stranger)]
    found, _ = _voice_check(ctx, windows, None)
    sims = np.asarray(stranger, np.float64) @ np.stack([v.vector for v in ctx.voices]).astype(np.float64).T
    cohort = cohort_normalised_reference(sims[None, :])[0]
    assert cohort.argmax() == 5 and cohort[5] >= cohort_threshold(len(ctx.voices))  # the old rule: a match
    assert sims.max() < WINDOW_THRESHOLD and not any(f["is_match"] for f in found)


def test_few_creators_are_judged_by_the_best_window_similarity():
    ctx, shared, rng = registry(COHORT_MIN - 5)
    windows = [window(0.0, unit(ctx.voices[1].vector + off(rng, 0.2))), window(1.5, unit(shared + off(rng, 1.0)))]
    found, _ = _voice_check(ctx, windows, None)
    speech = np.stack([w.vector for w in windows]).astype(np.float64)
    best = (speech @ np.stack([v.vector for v in ctx.voices]).astype(np.float64).T).max(axis=0)
    assert {f["statistic"] for f in found} == {"best_window"}
    assert {f["threshold"] for f in found} == {window_threshold(COHORT_MIN - 5)} == {WINDOW_THRESHOLD}
    assert sorted(f["score"] for f in found) == pytest.approx(sorted(best), abs=1e-4)
    assert all(f["score"] == f["similarity"] for f in found)
    assert found[0]["creator"] == "creator 1" and found[0]["is_match"]


def test_a_creator_with_two_voices_is_scored_by_the_voice_nearer_the_window():
    ctx, shared, rng = registry(COHORT_MIN + 1, seed=4, second_voice_of=2)
    second = next(v for v in ctx.voices if v.voice_id == "v2-1")
    found, _ = _voice_check(ctx, [window(6.0, unit(second.vector + off(rng, 0.3)))], None)
    assert len(found) == COHORT_MIN + 1  # creators, not voices
    assert found[0]["creator"] == "creator 2" and found[0]["voice_id"] == "v2-1" and found[0]["is_match"]


def test_no_speech_window_is_a_note_not_a_finding():
    ctx, _, _ = registry(COHORT_MIN + 1)
    found, note = _voice_check(ctx, [window(0.0, None), window(1.5, None)], None)
    assert found == [] and "2 stretch(es)" in note and "music" in note


def test_the_check_summary_names_a_cohort_score_as_such():
    """A cohort score is not a similarity: the run's HTML summary says which one it shows (a finding of the
    check before 19:34 UTC, or re-read from an evidence bundle, may hold one)."""
    from consentry.reporting.check_report import render_check_html

    ctx, shared, rng = registry(COHORT_MIN + 2)
    few, _ = _voice_check(SimpleNamespace(voices=ctx.voices[:4]), [window(1.5, ctx.voices[3].vector)], None)
    old = dict(few[0], statistic="cohort", score=4.2)

    def result(voices):
        return SimpleNamespace(error=None, output="gen.wav", duration_s=60.0, has_findings=True, copied_share=0.0,
                               recording=[], melody=[], voice_matches=[f for f in voices if f["is_match"]],
                               voice_note=None, skipped={})

    html = render_check_html([result([old])], checked_at="2026-12-07T17:00:00+00:00")
    assert "creator 3: cohort score 4.200" in html and "similarity" not in html
    html = render_check_html([result(few)], checked_at="2026-12-07T17:00:00+00:00")
    assert f"creator 3: similarity {few[0]['score']:.3f}" in html and "cohort score" not in html


def test_the_upper_band_measure_tells_telephone_band_audio_from_wideband():
    """Speech-like noise at 22,050 Hz against the same through an 8-kHz channel (nothing above 4 kHz)."""
    import soxr

    from consentry.services.check.service import VOICE_NARROW_BAND_DB, upper_band_db

    rng = np.random.default_rng(7)
    sr = 22050
    wide = rng.normal(size=3 * sr) * np.repeat(rng.uniform(0.2, 1.0, size=30), sr // 10)  # syllable-like bursts
    phone = soxr.resample(soxr.resample(wide, sr, 8000), 8000, sr)
    assert upper_band_db(wide, sr) > -10.0  # white-ish: 3.3 of 7.4 kHz, about -3.5 dB
    assert upper_band_db(phone, sr) < VOICE_NARROW_BAND_DB
    assert upper_band_db(np.zeros(3 * sr), sr) is None  # silence says nothing
    assert upper_band_db(phone[:8000 * 3], 8000) is None  # a rate that cannot hold 4.2-7.5 kHz


def test_a_finding_in_a_telephone_band_window_carries_a_caution_in_every_view():
    from consentry.reporting.check_report import render_check_html
    from consentry.services.check.service import VOICE_NARROW_BAND_CAUTION

    ctx, _, rng = registry(3)
    target = ctx.voices[1].vector
    narrow = _VoiceWindow(1.5, 4.5, 2.0, unit(target + off(rng, 0.1)), -52.3)
    found, _ = _voice_check(ctx, [narrow], None)
    best = next(f for f in found if f["creator"] == "creator 1")
    assert best["is_match"] and best["upper_band_db"] == -52.3 and best["caution"] == VOICE_NARROW_BAND_CAUTION
    wide, _ = _voice_check(ctx, [_VoiceWindow(1.5, 4.5, 2.0, narrow.vector, -21.0)], None)
    assert all("caution" not in f for f in wide) and wide[0]["upper_band_db"] == -21.0
    unknown, _ = _voice_check(ctx, [window(1.5, narrow.vector)], None)  # no measure (e.g. an older window)
    assert all("caution" not in f and "upper_band_db" not in f for f in unknown)
    result = SimpleNamespace(error=None, output="call.wav", duration_s=60.0, has_findings=True, copied_share=0.0,
                             recording=[], melody=[], voice_matches=[best], voice_note=None, skipped={})
    html = render_check_html([result], checked_at="2026-12-07T20:30:00+00:00")
    assert "caution: little sound above 4.2 kHz in this window (telephone-band or low-rate audio)" in html
    from consentry.services.evidence.bundle import render_report

    views = dict(facts={"findings": {"voice": [best]}}, recording=[], melody=[],
                 voice=[dict(item=best, picture=None)], duration_s=60.0, copied_share=0.0)
    report = render_report(views, fingerprint="x", pdf_status="not made").decode()
    assert "<tr><th>Caution</th><td>little sound above 4.2 kHz" in report and "(power above 4.2 kHz: -52.3 dB)" in report
