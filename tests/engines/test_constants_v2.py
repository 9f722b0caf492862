"""Music engine version 2's decision constants are what their committed commands fitted (their --record).

``DEFAULT_MIN_SCORE_V2`` and ``_FMR_LOG_A_V2/_B_V2``: benchmarks/calibrate_v2.py
(benchmarks/fits/fmr_tail_v2.json; the tail by ``--refit``, the song envelope); ``SCORE_PER_DOUBLING_V2``:
benchmarks/fit_length_rule.py --engine-version 2
(benchmarks/fits/score_per_doubling_v2.json).  As in tests/engines/test_constants.py,
the fits are re-run on the recorded data (benchmarks/fitting.py) and compared
with what the engine ships; the commands themselves are not re-run here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import fitting  # noqa: E402

from consentry.engines.music import engine  # noqa: E402
from consentry.engines.music.params import DEFAULT_PARAMS, ENGINE_NAME  # noqa: E402

RECORD = ROOT / "benchmarks" / "fits" / "fmr_tail_v2.json"


def record() -> dict:
    return json.loads(RECORD.read_text())


def test_the_record_was_made_with_the_shipped_version_2():
    assert record()["engine"] == f"{ENGINE_NAME}/2/{DEFAULT_PARAMS.param_hash()}", (
        "run benchmarks/calibrate_v2.py --record benchmarks/fits/fmr_tail_v2.json and ship what it prints")


def test_threshold_is_the_highest_fit_score_plus_the_margin():
    rec = record()
    half_f = np.array(rec["half_f"])
    assert engine.DEFAULT_MIN_SCORE_V2 == rec["threshold"] == max(rec["floor"], int(half_f.max()) + rec["margin"])


def _song_names(rec: dict, half: str) -> list[str]:
    return [rec["songs"][half][i] for i in rec[f"song_{half.lower()}"]]


def test_the_record_names_a_song_of_its_own_half_for_every_query():
    rec = record()
    for half, key in (("F", "half_f"), ("T", "half_t")):
        assert len(rec[f"song_{half.lower()}"]) == len(rec[key])
        assert set(_song_names(rec, half)) == set(rec["songs"][half])
    assert not set(rec["songs"]["F"]) & set(rec["songs"]["T"])


def test_tail_is_the_song_envelope_of_both_halves():
    rec = record()
    scores = np.array(rec["half_f"] + rec["half_t"])
    fit = fitting.fit_fmr_tail_envelope(scores, _song_names(rec, "F") + _song_names(rec, "T"), lo=rec["tail_lo"])
    assert (engine._FMR_LOG_A_V2, engine._FMR_LOG_B_V2) == (fit["a"], fit["b"])
    assert (fit["a"], fit["b"]) == (rec["envelope"]["a"], rec["envelope"]["b"])
    assert engine._FMR_LOG_B_V2 < 0


def test_the_envelope_bounds_every_songs_upper_limit_and_a_lower_line_would_not():
    rec = record()
    scores = np.array(rec["half_f"] + rec["half_t"])
    names = np.array(_song_names(rec, "F") + _song_names(rec, "T"))
    margins = []
    for name in set(names.tolist()):
        mine = scores[names == name]
        for s in range(rec["tail_lo"], int(mine.max()) + 1):
            k = int((mine >= s).sum())
            if k:
                margins.append(engine._FMR_LOG_A_V2 + engine._FMR_LOG_B_V2 * s
                               - np.log(fitting.wilson(k, mine.size)[1]))
    assert min(margins) >= 0 and min(margins) < 0.001


def test_the_rule_fitted_on_half_f_alone_was_not_optimistic_on_half_t():
    rec = record()
    env_f = fitting.fit_fmr_tail_envelope(np.array(rec["half_f"]), _song_names(rec, "F"), lo=rec["tail_lo"])
    assert (env_f["a"], env_f["b"]) == (rec["envelope_f"]["a"], rec["envelope_f"]["b"])
    half_t = np.array(rec["half_t"])
    for s in range(7, 13):
        assert np.mean(half_t >= s) <= np.exp(env_f["a"] + env_f["b"] * s), f"optimistic on half T at {s}"
    assert not any(row["optimistic"] for row in rec["check_t"])


def test_the_shipped_tail_is_not_below_either_halfs_observed_rate():
    rec = record()
    for key in ("half_f", "half_t"):
        scores = np.array(rec[key])
        for s in range(7, 13):
            assert np.mean(scores >= s) <= engine.false_match_rate(s, version="2"), (key, s)


def test_the_held_out_half_was_measured_at_the_shipped_threshold():
    rec = record()
    half_t = np.array(rec["half_t"])
    assert rec["test"]["queries"] == half_t.size
    assert rec["test"]["false_matches"] == int((half_t >= engine.DEFAULT_MIN_SCORE_V2).sum())


# ---------------------------------------------------------------- step per doubling of the audio searched
STEP_RECORD = ROOT / "benchmarks" / "fits" / "score_per_doubling_v2.json"


def step_record() -> dict:
    return json.loads(STEP_RECORD.read_text())


def test_the_step_record_was_made_with_the_shipped_version_2_and_its_threshold():
    rec = step_record()
    assert rec["engine"] == f"{ENGINE_NAME}/2/{DEFAULT_PARAMS.param_hash()}", (
        "run benchmarks/fit_length_rule.py --engine-version 2 --record benchmarks/fits/score_per_doubling_v2.json")
    assert rec["fit"]["base"] == engine.DEFAULT_MIN_SCORE_V2, (
        "the step was fitted from another 10-s threshold: run fit_length_rule.py --engine-version 2 --scores-from"
        " benchmarks/fits/score_per_doubling_v2.json --record benchmarks/fits/score_per_doubling_v2.json")


def test_score_per_doubling_v2_is_what_fit_length_rule_chooses_on_half_a():
    rec = step_record()
    fit = fitting.fit_score_per_doubling(rec["rows"], base=engine.DEFAULT_MIN_SCORE_V2)
    assert fit["step"] == rec["fit"]["step"]
    assert engine.SCORE_PER_DOUBLING_V2 == pytest.approx(fit["step"], abs=1e-9)
    assert fit["outputs"]["A"] > 100 and fit["outputs"]["B"] > 100
    # The rule the fit searched is version 2's rule, for every length in the data and beyond.
    for seconds in sorted({r["duration_s"] for r in rec["rows"]}) + [5.0, 10.4, 600.0, 3600.0, 14_400.0]:
        assert engine.min_score_for(seconds, version="2") == fitting.min_score_with_step(
            seconds, engine.SCORE_PER_DOUBLING_V2, base=engine.DEFAULT_MIN_SCORE_V2)


def test_no_half_a_output_reaches_its_version_2_threshold_and_a_smaller_step_would_let_one_through():
    rec = step_record()
    half_a = [r for r in rec["rows"] if r["half"] == "A"]
    assert all(r["best"] < engine.min_score_for(r["duration_s"], version="2") for r in half_a)
    if engine.SCORE_PER_DOUBLING_V2 > 0:
        smaller = round(engine.SCORE_PER_DOUBLING_V2 - 0.1, 10)
        assert any(r["best"] >= fitting.min_score_with_step(r["duration_s"], smaller, base=engine.DEFAULT_MIN_SCORE_V2)
                   for r in half_a)


def test_the_held_out_half_b_was_counted_with_the_shipped_rule():
    rec = step_record()
    half_b = [r for r in rec["rows"] if r["half"] == "B"]
    assert rec["held_out_B"]["outputs"] == len(half_b)
    assert rec["held_out_B"]["false"] == sum(r["best"] >= engine.min_score_for(r["duration_s"], version="2")
                                             for r in half_b)
