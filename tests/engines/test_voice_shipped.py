"""benchmarks/voice_shipped.py: the shipped check's configuration on the Asterisk set, and the voice-pair figures.
Made-up prints; no speaker model or Debian data is needed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import voice_bandwise as vb  # noqa: E402
import voice_shipped as vs  # noqa: E402


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _output(probe, prints, *, half="fresh", at_s=10.0):
    k = len(prints)
    return {"half": half, "probe": probe, "present": [], "at_s": at_s, "voice_s": 5, "background": "speech",
            "starts": np.arange(k) * 1.5, "speech_s": np.full(k, 2.0), "campplus": np.asarray(prints, float)}


def test_a_telephone_copy_is_found_through_the_band_print_and_the_pools_follow_the_held_out_draws():
    e = np.eye(6)
    wide = {"enrolled": {"klettres/de": {"half": "B", "campplus": e[3], "campplus_extra": [e[5]]},
                         "klettres/nl": {"half": "A", "campplus": e[4], "campplus_extra": []}}}
    fresh = {"enrolled": {"asterisk/fr": {"half": "fresh", "campplus": e[0], "campplus_extra": []},
                          "asterisk/ru": {"half": "fresh", "campplus": e[1], "campplus_extra": []}}}
    # "fr" pasted, heard only as its band print (e[2]) in band-limited windows.
    o = _output("asterisk/fr", [_unit([0, 0, 1, 0, 0, 0.1]), _unit([0, 0, 1, 0.05, 0, 0])])
    fresh["outputs"] = [o]
    levels = {vb._key(o): np.array([-70.0, -65.0])}
    r = vs.asterisk_report(wide, fresh, levels, {"klettres/de": _unit([0, 0, 0, 1, 0, 1])},
                           {"asterisk/fr": e[2]}, 0.2079, 0.5)
    assert r["pools"] == {"1": 2, "3": 2, "7": 2, "21": 3}  # half A is never in the Asterisk registries
    assert r["voices_with_band_print"] == {"asterisk": [1, 2], "half_B": [1, 1]}
    assert r["narrow_outputs"] == [1, 1]
    for n in ("1", "3", "7", "21"):
        cell = r["by_registry_size"][n]
        assert cell["check_now"]["found"][0] == 0 and cell["two_prints"]["found"][0] == 1
        assert cell["two_prints"]["outputs_with_a_false_match"][0] == 0
    assert r["totals"]["two_prints"] == (4, 0, 4) and r["shipped_false_matches"] == []


def test_narrow_outputs_count_only_outputs_at_the_share_of_kept_windows():
    a = _output("x", np.eye(4), at_s=1.0)
    a["speech_s"] = np.array([2.0, 2.0, 2.0, 0.1])  # the last window is left out: too little speech
    b = _output("x", np.eye(4), at_s=2.0)
    levels = {vb._key(a): np.array([-70.0, -20.0, -20.0, -70.0]), vb._key(b): np.array([-70.0, -70.0, np.nan, -20.0])}
    assert vs.narrow_outputs([a, b], levels, 0.5) == [1, 2]  # a: 1 of 3 kept; b: 2 of 4 (NaN counts as wideband)


def test_voice_pairs_place_a_pair_between_other_people_and_other_clips_of_one_voice():
    rng = np.random.default_rng(4)
    base = {s: _unit(rng.standard_normal(16)) for s in ("klettres/pt_BR", "klettres/tn", "klettres/lt", "klettres/de")}
    enrolled = {s: {"half": "B", "campplus": v, "campplus_extra": [_unit(v + 0.3 * rng.standard_normal(16))]}
                for s, v in base.items()}
    enrolled["klettres/tn"]["campplus"] = _unit(base["klettres/pt_BR"] + 0.2 * rng.standard_normal(16))
    out = vs.voice_pairs({"enrolled": enrolled}, ["klettres/pt_BR", "klettres/tn"])
    pair = out["pairs"]["klettres/pt_BR ~ klettres/tn"]
    assert pair["first_clips"] > 0.6 and pair["cross_language_pairs_at_or_above"] == 1  # the top of 6 pairs
    assert out["different_language_voices"]["pairs"] == 6 and out["same_voice_other_clip"]["pairs"] == 4
    assert len(out["own_clips"]["klettres/pt_BR"]) == 1
    assert 0 <= out["same_voice_below"]["klettres/pt_BR ~ klettres/tn"] <= 4


def test_false_matches_name_the_voice_that_matched_in_the_draw_without_the_pasted_one():
    e = np.eye(4)
    enrolled = {"asterisk/fr": {"half": "fresh", "campplus": e[0], "campplus_extra": []},
                "asterisk/ru": {"half": "fresh", "campplus": e[1], "campplus_extra": []}}
    # "fr" pasted, but its one kept window sounds like "ru" (wideband, so no penalty).
    o = _output("asterisk/fr", [_unit([0, 0.7, 0.714, 0])])  # 0.70 from "ru"
    levels = {vb._key(o): np.array([-20.0])}
    out = vs.false_matches([o], enrolled, sorted(enrolled), levels, 1)
    assert [(r["rule"], list(r["false"])) for r in out] == [("check_now", ["asterisk/ru"]),
                                                            ("two_prints", ["asterisk/ru"])]
    assert out[0]["windows_band_limited"] == [0, 1] and abs(out[0]["false"]["asterisk/ru"] - 0.7) < 0.01
    levels[vb._key(o)] = np.array([-70.0])  # band-limited: lowered by the penalty, under the threshold
    assert [r["rule"] for r in vs.false_matches([o], enrolled, sorted(enrolled), levels, 1)] == ["check_now"]


def test_frame_f0_reads_the_pitch_of_a_harmonic_tone_and_skips_silence():
    rate = 16_000
    t = np.arange(rate) / rate
    x = sum(np.sin(2 * np.pi * 220.0 * k * t) / k for k in (1, 2, 3))
    x[rate // 2:] = 0.0  # half a second of silence: no frame
    f0 = vs.frame_f0(x, rate)
    assert 40 <= len(f0) <= 50 and abs(np.median(f0) - 220.0) < 5.0
