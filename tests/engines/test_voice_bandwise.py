"""The pieces of benchmarks/voice_bandwise.py that decide what it reports: the upper-band level of cached windows,
the penalty on band-limited windows, its fit, the registries' counts, the two-print registry and the rules written
down before scoring.  Made-up prints and synthesised noise; no speaker model or Debian data is needed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import voice_bandwise as vb  # noqa: E402
from voice_channel import telephone  # noqa: E402

from consentry.services.check.service import VOICE_NARROW_BAND_DB  # noqa: E402


def test_window_levels_tell_a_telephone_channel_from_wideband_sound():
    rng = np.random.default_rng(3)
    x = (0.1 * rng.standard_normal(16_000 * 10)).astype(np.float32)
    x[16_000 * 7:] = 0.0  # the last window is silent
    starts = np.array([0.0, 1.5, 3.0, 7.0])
    wide = vb.window_levels_at(x, starts)
    narrow = vb.window_levels_at(telephone(x, sample_rate_hz=16_000, channel="band"), starts)
    assert np.all(wide[:3] > VOICE_NARROW_BAND_DB) and np.all(narrow[:3] < VOICE_NARROW_BAND_DB)
    assert np.isnan(wide[3])  # silence: the check's measure says nothing


def _output(probe, present, starts, speech_s, prints, *, half="A", at_s=10.0):
    return {"half": half, "probe": probe, "present": present, "at_s": at_s, "voice_s": 5, "background": "speech",
            "starts": np.asarray(starts, float), "speech_s": np.asarray(speech_s, float),
            "campplus": np.asarray(prints, float)}


def test_the_penalty_lowers_only_the_kept_windows_under_the_level():
    o = _output("a", [], [0.0, 1.5, 3.0, 4.5], [2.0, 0.1, 2.0, 2.0], np.eye(4))
    levels = {vb._key(o): np.array([-20.0, -60.0, -60.0, np.nan])}  # window 1 is left out (too little speech)
    sims = np.full((3, 2), 0.8)
    out = vb.penalised(levels, 0.25)(sims, o, None)
    assert np.allclose(out[:, 0], [0.8, 0.55, 0.8]) and np.allclose(out[:, 1], out[:, 0])
    # With a least share of band-limited windows per output: 1 of 3 kept windows is not enough for 0.5.
    assert np.array_equal(vb.penalised(levels, 0.25, 0.5)(sims, o, None), sims)
    assert np.allclose(vb.penalised(levels, 0.25, 0.3)(sims, o, None), out)


def _rows_at(pairs):
    """Rows whose non-targets have a best wideband window and a best band-limited one: (outputs, voices, 2)."""
    def rows_at(delta):
        return [{"nontargets": list(np.maximum(p[:, 0], p[:, 1] - delta))} for p in pairs]
    return rows_at


def test_fit_penalty_finds_the_least_penalty_that_meets_the_rate():
    rng = np.random.default_rng(11)
    pairs = np.stack([rng.uniform(0.2, 0.55, size=(300, 4)), rng.uniform(0.4, 0.95, size=(300, 4))], axis=-1)
    rows_at = _rows_at(list(pairs))
    fit = vb.fit_penalty(rows_at, 0.59)
    grid = np.arange(0, 10_001) / 1e4
    least = next(g for g in grid if vb.false_share(rows_at(g), 0.59) <= vb.PER_OUTPUT_RATE)
    assert abs(fit["penalty"] - least) <= 1e-4 + 1e-12
    assert vb.false_share(rows_at(fit["penalty"]), 0.59) <= vb.PER_OUTPUT_RATE
    assert fit["outputs_with_a_false_match"] <= 3 and fit["outputs"] == 300
    # Rows already under the rate need no penalty.
    assert vb.fit_penalty(_rows_at([p * 0.5 for p in pairs]), 0.59)["penalty"] == 0.0


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def test_by_size_counts_a_narrow_band_match_only_without_the_penalty():
    # Voice "fr" is pasted; in window 1 (band-limited) "de" looks like it as much as "fr" does.
    a, b, c = _unit([1, 0, 0, 0]), _unit([0, 1, 0, 0]), _unit([0, 0, 1, 0])
    enrolled = {s: {"half": "A", "campplus": v, "campplus_extra": []}
                for s, v in (("klettres/fr", a), ("klettres/de", b), ("klettres/it", c))}
    o = _output("klettres/fr", [], [0.0, 1.5], [2.0, 2.0], [_unit([1, 0.2, 0, 0]), _unit([1, 1, 0, 0.1])])
    levels = {vb._key(o): np.array([-20.0, -70.0])}
    out = vb.by_size([o], enrolled, sorted(enrolled), levels, {"now": 0.0, "step": 0.2}, (1, 3), seed=1)
    # Found by the wideband window either way; "de" (0.70 in the narrow window) is a false match without the penalty,
    # and only in the draws that hold it.
    for n in ("1", "3"):
        assert out[n]["now"]["found"][:2] == [1, 1] and out[n]["step"]["found"][:2] == [1, 1]
        assert out[n]["step"]["outputs_with_a_false_match"][0] == 0
    assert out["3"]["now"]["outputs_with_a_false_match"][0] == 1  # both others are in a registry of 3 without "fr"


def test_both_prints_adds_the_telephone_print_where_the_gate_kept_it():
    wide = {"enrolled": {"x": {"half": "A", "campplus": [1.0, 0.0], "campplus_extra": [[0.5, 0.5]]},
                         "y": {"half": "A", "campplus": [0.0, 1.0], "campplus_extra": []},
                         "z": {"half": "B", "campplus": [1.0, 1.0], "campplus_extra": []}}}
    phone = {"enrolled": {"x": {"half": "A", "campplus": [0.9, 0.1], "campplus_extra": []}}}
    both = vb.both_prints(wide, phone)
    assert sorted(both) == ["x", "y"]  # half A only
    assert both["x"]["campplus_extra"] == [[0.9, 0.1]] and both["y"]["campplus_extra"] == []
    assert wide["enrolled"]["x"]["campplus_extra"] == [[0.5, 0.5]]  # the cache is not changed


def _cell(found, false, m=100):
    return {"found": [found, m], "outputs_with_a_false_match": [false, m]}


def _conditions(wide_step_found, phone_step_found=60, phone_step_false=1):
    return {"wide": {"1": {"check_now": _cell(80, 0), "band_step": _cell(wide_step_found, 0)}},
            "g711_phone": {"1": {"check_now": _cell(95, 60), "band_step": _cell(phone_step_found, phone_step_false)}},
            "g711_wide_enrolment": {"1": {"check_now": _cell(1, 0), "band_step": _cell(0, 0)}}}


@pytest.mark.parametrize("wide_found, phone_found, phone_false, wins", [
    (80, 60, 1, True),    # fewer false matches, wideband kept, half the telephone voices still found
    (79, 60, 1, False),   # 79 of 80 is 98.75 %: under 99 %
    (80, 40, 1, False),   # 40 of 95 telephone voices: under half
    (80, 60, 60, False),  # no fewer false matches
])
def test_the_dev_rule_written_before_scoring(wide_found, phone_found, phone_false, wins):
    verdict = vb.dev_verdict(_conditions(wide_found, phone_found, phone_false))
    assert verdict["wins"] is wins
    assert verdict["totals"]["telephone"]["band_step"] == (phone_found, phone_false, 200)


def test_a_half_b_telephone_cache_is_refused_as_dev(tmp_path):
    import pickle

    from voice_channel import CHANNEL_RECIPE, channel_outputs

    cache = tmp_path / "b.pkl"
    made = {"enrolled": {}, "outputs": [], "engine": "x", "recipe": CHANNEL_RECIPE, "channel": "g711", "half": "B"}
    cache.write_bytes(pickle.dumps(made))
    with pytest.raises(SystemExit, match="half B"):
        channel_outputs(cache, channel="g711")  # dev (half A) is the default
    assert channel_outputs(cache, channel="g711", half="B")["half"] == "B"
    del made["half"]  # the caches made before the argument are half A's
    cache.write_bytes(pickle.dumps(made))
    assert channel_outputs(cache, channel="g711")["outputs"] == []


def test_the_shipped_band_penalty_is_the_fit_of_its_recorded_dev_rows():
    """benchmarks/fits/voice_band_penalty.json (``voice_bandwise.py --record``): fitting its rows again gives the
    penalty the check ships, at the check's level and the threshold of the dev registries."""
    import json

    from consentry.engines.voice.score import window_threshold
    from consentry.services.check.service import VOICE_NARROW_BAND_PENALTY

    rec = json.loads((Path(__file__).resolve().parents[2] / "benchmarks/fits/voice_band_penalty.json").read_text())
    assert rec["level_db"] == VOICE_NARROW_BAND_DB and rec["threshold"] == window_threshold(7)
    assert len(rec["rows"]) >= 150 and {r["condition"] for r in rec["rows"]} == {"g711_phone", "band_phone"}
    fit = vb.fit_penalty(lambda d: vb.recorded_rows(rec["rows"], d), rec["threshold"], rate=rec["rate"])
    assert fit["penalty"] == rec["fit"]["penalty"] == VOICE_NARROW_BAND_PENALTY
    # Without the penalty most of these rows have a false match (the reason for it).
    assert vb.false_share(vb.recorded_rows(rec["rows"], 0.0), rec["threshold"]) > 0.5


def test_split_maxima_give_the_penalised_best_window():
    """A recorded row (best wideband and best band-limited similarity) scored with a penalty equals the penalty
    applied to the windows themselves."""
    rng = np.random.default_rng(8)
    o = {"half": "A", "probe": "p", "at_s": 1.0, "voice_s": 5, "background": "speech",
         "speech_s": np.array([2.0, 0.2, 1.0, 2.5, 1.5])}
    levels = {vb._key(o): np.array([-50.0, -20.0, np.nan, -45.0, -10.0])}
    sims = rng.uniform(-0.2, 0.9, (4, 3))  # the 4 kept windows x 3 voices
    wide = vb.split_maxima(levels, True)(sims, o, None).max(axis=0)
    narrow = vb.split_maxima(levels, False)(sims, o, None).max(axis=0)
    for d in (0.0, 0.1, 0.2079, 0.6):
        direct = vb.penalised(levels, d)(sims, o, None).max(axis=0)
        assert np.allclose(np.maximum(wide, narrow - d), direct)
