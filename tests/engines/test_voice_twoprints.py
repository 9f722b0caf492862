"""benchmarks/voice_twoprints.py: the two-print registry and the rule written down before its held-out run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import voice_twoprints as vt  # noqa: E402


def test_with_second_adds_a_print_only_where_there_is_one():
    enrolled = {"a": {"half": "A", "campplus": np.ones(3)}, "b": {"half": "B", "campplus": np.zeros(3)}}
    out = vt.with_second(enrolled, {"a": np.full(3, 2.0)})
    assert [list(v) for v in out["a"]["campplus_extra"]] == [[2.0, 2.0, 2.0]] and out["b"]["campplus_extra"] == []
    assert "campplus_extra" not in enrolled["a"]  # the caller's dict is left alone


def _cells(sizes):
    """``by_size``-shaped counts: size -> rule -> found / outputs with a false match ([k, m])."""
    return {str(n): {rule: {"found": [f, m], "outputs_with_a_false_match": [x, m]}
                     for rule, (f, x) in rules.items()} for n, (m, rules) in sizes.items()}


@pytest.mark.parametrize("tel_found, tel_false, wide_found, wide_false, wins", [
    (13, 0, 82, 0, True),     # found more, no false match, wideband kept
    (13, 1, 82, 0, False),    # a false match beyond 1 % of 66 draws
    (6, 0, 82, 0, False),     # fewer than 10 % of the draws found
    (13, 0, 81, 0, False),    # a wideband voice lost (81 < 99 % of 82)
    (13, 0, 82, 1, False),    # a wideband false match more
])
def test_the_held_out_rule_written_before_scoring(tel_found, tel_false, wide_found, wide_false, wins):
    tel = {"x": _cells({1: (66, {"check_now": (0, 0), "two_prints": (tel_found, tel_false)})})}
    wide = {"y": _cells({1: (126, {"check_now": (82, 0), "two_prints": (wide_found, wide_false)})})}
    v = vt.verdict(tel, wide)
    assert v["wins"] is wins
    assert v["totals"]["telephone"]["two_prints"] == (tel_found, tel_false, 66)


def test_the_false_match_allowance_is_one_percent_of_the_draws_or_the_checks_count():
    tel = {"x": _cells({n: (66, {"check_now": (0, 1 if n == 1 else 0), "two_prints": (20, 1 if n < 7 else 0)})
                        for n in (1, 3, 7, 21)})}  # 264 draws: 2.64 allowed, two_prints has 2
    wide = {"y": _cells({1: (126, {"check_now": (82, 0), "two_prints": (82, 0)})})}
    assert vt.verdict(tel, wide)["checks"]["telephone_false_at_most"]


def test_the_float_wav_reads_back_sample_for_sample(tmp_path):
    """The end-to-end run writes its outputs and enrolment clips as float WAV, so the check reads what was made."""
    from consentry.io.decode import decode_audio

    x = np.random.default_rng(2).uniform(-0.95, 0.95, 16_000 * 2 + 3).astype(np.float32)  # the decoder clips to +-1
    back = decode_audio(vt.write_float_wav(tmp_path / "x.wav", x, 16_000), sample_rate_hz=16_000).samples
    assert back.shape == x.shape and np.array_equal(back.astype(np.float32), x)
