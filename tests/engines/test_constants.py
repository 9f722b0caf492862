"""Every constant that decides a finding is what its committed command printed (benchmarks/fits/).

Each record in benchmarks/fits/ was written by the benchmark command it
names (``--record``), on the data it names, fitted on half A of a split
by a hash of the speaker's or track's name; benchmarks/RESULTS.md, "Where
each constant comes from", lists them.  These tests run the same fitting
function (benchmarks/fitting.py) on the data in the record and compare its
answer with the value the engine ships.

What they do not do: re-run the commands, which need the Debian corpus
and speech packages and take minutes to an hour.  So they catch a shipped
constant that drifted from its fit, or a fit that no longer gives the
shipped value; they cannot catch data that changed under the command.  A
changed engine (other fingerprints, other scores) makes its records stale:
the record names the engine it was made with, and the engine-identity test
below fails until the command is run again.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FITS = ROOT / "benchmarks" / "fits"
sys.path.insert(0, str(ROOT / "benchmarks"))

import fitting  # noqa: E402

from consentry.engines.music import engine  # noqa: E402
from consentry.engines.music import params as music_params  # noqa: E402
from consentry.engines.voice import gate_weights, score  # noqa: E402


def record(name: str) -> dict:
    return json.loads((FITS / name).read_text())


def music_engine_id() -> str:
    """Version 1 of the music engine: the one whose rule ``min_score_for`` and ``false_match_rate`` give by default."""
    v1 = getattr(music_params, "V1_PARAMS", music_params.DEFAULT_PARAMS)
    version = getattr(music_params, "ENGINE_VERSION_1", music_params.ENGINE_VERSION)
    return f"{music_params.ENGINE_NAME}/{version}/{v1.param_hash()}"


# ---------------------------------------------------------------- music engine, version 1
# ``SCORE_PER_DOUBLING`` and ``DEFAULT_MIN_SCORE``, ``_FMR_LOG_A/_B`` are version 1's rule (version 2 has its
# own base, step and tail, checked in tests/engines/test_constants_v2.py).
def test_music_records_were_made_with_the_shipped_engine():
    """A record fitted on another engine's scores says nothing about this one: re-run its command."""
    for name, command in (("score_per_doubling.json", "benchmarks/fit_length_rule.py"),
                          ("fmr_tail.json", "benchmarks/calibrate.py")):
        assert record(name)["engine"] == music_engine_id(), (
            f"benchmarks/fits/{name} was made with {record(name)['engine']}, the engine is now {music_engine_id()}:"
            f" run {command} --record benchmarks/fits/{name} and ship what it prints")


def test_score_per_doubling_is_what_fit_length_rule_chooses_on_half_a():
    rec = record("score_per_doubling.json")
    fit = fitting.fit_score_per_doubling(rec["rows"])
    assert fit["step"] == rec["fit"]["step"]
    assert engine.SCORE_PER_DOUBLING == pytest.approx(fit["step"], abs=1e-9)
    assert fit["outputs"]["A"] > 100 and fit["outputs"]["B"] > 100
    # The rule the fit searched is the engine's rule, for every length in the data and beyond.
    for seconds in sorted({r["duration_s"] for r in rec["rows"]}) + [5.0, 10.4, 600.0, 3600.0, 14_400.0]:
        assert engine.min_score_for(seconds, version="1") == fitting.min_score_with_step(
            seconds, engine.SCORE_PER_DOUBLING, base=engine.DEFAULT_MIN_SCORE)


def test_no_half_a_output_reaches_its_threshold_and_a_smaller_step_would_let_one_through():
    rec = record("score_per_doubling.json")
    half_a = [r for r in rec["rows"] if r["half"] == "A"]
    assert all(r["best"] < engine.min_score_for(r["duration_s"], version="1") for r in half_a)
    if engine.SCORE_PER_DOUBLING > 0:
        smaller = round(engine.SCORE_PER_DOUBLING - 0.1, 10)
        assert any(r["best"] >= fitting.min_score_with_step(r["duration_s"], smaller) for r in half_a)


def test_false_match_tail_is_the_least_squares_fit_of_calibrates_negatives():
    rec = record("fmr_tail.json")
    fit = fitting.fit_fmr_tail(rec["negatives"])
    assert (fit["a"], fit["b"]) == (rec["fit"]["a"], rec["fit"]["b"])
    assert (engine._FMR_LOG_A, engine._FMR_LOG_B) == (fit["a"], fit["b"])
    assert len(rec["negatives"]) >= 300


def test_default_threshold_lies_above_every_calibration_negative():
    rec = record("fmr_tail.json")
    assert engine.DEFAULT_MIN_SCORE > max(rec["negatives"])


# ---------------------------------------------------------------- voice
def test_speech_gate_ships_what_fit_gate_printed():
    rec = record("gate.json")["fit"]
    assert list(gate_weights.WEIGHTS) == rec["weights"]
    assert (gate_weights.BIAS, gate_weights.THRESHOLD) == (rec["bias"], rec["threshold"])


def test_speech_gate_refits_from_its_recorded_half_a_windows():
    """The fit again, on half A's window prints as recorded (as float16: the weights agreed to 4e-6 when made)."""
    data = np.load(FITS / "gate.npz")
    fit = fitting.fit_speech_gate(data["x"].astype(np.float64), data["is_speech"])
    assert np.abs(np.array(fit["weights"]) - np.array(gate_weights.WEIGHTS)).max() < 1e-4
    assert fit["bias"] == pytest.approx(gate_weights.BIAS, abs=1e-4)
    assert fit["threshold"] == pytest.approx(gate_weights.THRESHOLD, abs=1e-4)
    meta = record("gate.json")["measured"]["windows"]
    assert int(data["is_speech"].sum()) == meta["train_speech"]
    assert int((~data["is_speech"]).sum()) == meta["train_music"]


def test_window_threshold_and_its_companions_are_the_half_a_fit_of_run_voice_windowed():
    rec = record("voice_window.json")
    fit = fitting.fit_window_threshold(rec["rows_half_A"])
    assert fit["threshold"] == rec["fit"]["threshold"]
    assert score.WINDOW_THRESHOLD == fit["threshold"]
    assert score.WINDOW_THRESHOLD_VOICES == fit["voices"]
    assert score.WINDOW_THRESHOLD_TAIL == fit["tail_scale"]
    assert (score.WINDOW_CALIBRATION.slope, score.WINDOW_CALIBRATION.offset) == (
        fit["calibration"]["slope"], fit["calibration"]["offset"])


def test_window_threshold_was_fitted_on_the_windows_the_check_takes():
    """The record's statistic and least speech per window are the check's (a threshold fitted on other windows
    would not hold for these)."""
    from consentry.services.check.service import VOICE_MIN_WINDOW_SPEECH_S

    rec = record("voice_window.json")
    assert rec["statistic"] == "best_window"
    assert rec["min_window_speech_s"] == VOICE_MIN_WINDOW_SPEECH_S


def test_cohort_threshold_and_its_companions_are_the_half_a_fit_of_run_voice_windowed():
    """The check's statistic with more than COHORT_MIN creators (services/check/service.py), fitted by the same
    command on the same half-A outputs, its rows kept in the record's ``cohort``."""
    rec = record("voice_window.json")["cohort"]
    fit = fitting.fit_window_threshold(rec["rows_half_A"])
    assert rec["statistic"] == "cohort" and rec["cohort_min"] == score.COHORT_MIN
    assert fit["threshold"] == rec["fit"]["threshold"] == score.COHORT_THRESHOLD
    assert score.COHORT_THRESHOLD_VOICES == fit["voices"]
    assert score.COHORT_THRESHOLD_TAIL == fit["tail_scale"]
    assert (score.COHORT_CALIBRATION.slope, score.COHORT_CALIBRATION.offset) == (
        fit["calibration"]["slope"], fit["calibration"]["offset"])
    rows = rec["rows_half_A"]
    assert sum(max(r["nontargets"], default=-np.inf) >= score.COHORT_THRESHOLD for r in rows) <= 0.01 * len(rows)
    assert len(rows) == len(record("voice_window.json")["rows_half_A"])


def test_speakers_who_may_be_one_person_are_told_apart_only_when_named_apart():
    from run_voice import may_be_same

    assert may_be_same("klettres/uk", "ktuberling/uk")  # unnamed volunteers of one language, two packages
    assert may_be_same("klettres/en", "klettres/en_GB")
    assert may_be_same("klettres/cs", "fillets/cs-big-fish")
    assert not may_be_same("fillets/cs-big-fish", "fillets/cs-small-fish")  # credited to two actors
    assert may_be_same("asterisk/en_US_f_Allison", "asterisk/es_MX_f_Allison")  # both Allison's
    assert not may_be_same("asterisk/fr", "asterisk/fr_CA_f_June")  # Armelle Desjardins and June
    assert may_be_same("asterisk/es", "asterisk/es_MX_f_Allison")  # the Colombian prompts credit no speaker
    assert may_be_same("asterisk/ru_RU_f_IvrvoiceRU", "ktuberling/ru")
    assert not may_be_same("klettres/uk", "klettres/ru")


def test_window_threshold_fit_compares_no_voice_that_may_be_the_pasted_or_a_heard_speaker():
    """Label noise: a match to a voice that may be the pasted speaker's, or one heard in the output, is not
    false, so the fit's non-targets leave such voices out (half A has klettres/de and ktuberling/de)."""
    from run_voice import may_be_same

    rows = record("voice_window.json")["rows_half_A"]
    pairs = [(r, n) for r in rows for n in r["nontarget_names"]]
    assert len(pairs) == sum(len(r["nontargets"]) for r in rows)
    assert not [n for r, n in pairs if may_be_same(n, r["probe"]) or any(may_be_same(n, p) for p in r["present"])]
    german = [r for r in rows if r["probe"] == "klettres/de"]
    assert german and all("ktuberling/de" not in r["nontarget_names"] for r in german)


def test_window_threshold_lets_one_percent_of_half_a_outputs_match_falsely():
    rows = record("voice_window.json")["rows_half_A"]
    false = sum(max(r["nontargets"], default=0.0) >= score.WINDOW_THRESHOLD for r in rows)
    assert false <= math.floor(0.01 * len(rows))
    assert len(rows) >= 100


def test_wilson_interval_matches_its_closed_form_on_known_values():
    # 0 of 126: upper bound 3.84 / (126 + 3.84) = 2.96 %; 107 of 108: 94.9-99.8 %.
    lo, hi = fitting.wilson(0, 126)
    assert lo == 0.0 and hi == pytest.approx(1.959964 ** 2 / (126 + 1.959964 ** 2), rel=1e-9)
    lo, hi = fitting.wilson(107, 108)
    assert (round(lo, 3), round(hi, 3)) == (0.949, 0.998)


def test_whole_clip_threshold_and_calibration_are_the_fit_of_run_voice_on_the_pooled_human_trials():
    """``score.DEFAULT_THRESHOLD`` (1 % false accepts) and ``DEFAULT_CALIBRATION`` for whole clips.

    ``run_voice.py --record benchmarks/fits/voice_clip.json`` wrote every pooled same-speaker and
    different-speaker score of 3-s clips (klettres, ktuberling, fillets); fitting them again with the
    functions the command used gives the shipped values, at the precision it prints.
    """
    rec = record("voice_clip.json")
    targets, nontargets = np.array(rec["targets"]), np.array(rec["nontargets"])
    assert (len(targets), len(nontargets)) == (934, 15195)  # the trial counts the docstring of DEFAULT_CALIBRATION names
    threshold = score.threshold_at_false_accept(nontargets, false_accept_rate=rec["false_accept_rate"])
    assert round(threshold, 4) == rec["threshold_far_1pct"]
    assert math.ceil(threshold * 1e4) / 1e4 == rec["threshold_shipped"] == score.DEFAULT_THRESHOLD  # rounded up
    assert np.mean(nontargets >= score.DEFAULT_THRESHOLD) <= rec["false_accept_rate"]
    calibration = score.LogisticCalibration.fit(targets, nontargets)
    assert (round(calibration.slope, 3), round(calibration.offset, 3)) == (
        rec["calibration"]["slope"], rec["calibration"]["offset"]) == (
        score.DEFAULT_CALIBRATION.slope, score.DEFAULT_CALIBRATION.offset)
    from consentry.engines.voice.model import ENGINE_NAME, ENGINE_VERSION

    assert rec["engine"].startswith(f"{ENGINE_NAME}/{ENGINE_VERSION}/")  # the prints the check compares
