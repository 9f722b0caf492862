"""The melody null model shipped in consentry.engines.melody.align is what its committed command fits.

``benchmarks/run_melody.py --calibrate --record benchmarks/fits/melody_null.json``
writes the best local scores of its 3,000 unrelated calibration pairs (seed
1001, made-up melodies of consentry.engines.melody.synthetic) with the
scoring it used. This test runs the same fit (``run_melody.fit_null_model``)
on the recorded scores and compares it with ``NULL_MODEL``, and checks that
the record was made with the scoring that ships: a change of ``Scoring``
makes the record stale until the command is run again.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "benchmarks" / "fits" / "melody_null.json"
sys.path.insert(0, str(ROOT / "benchmarks"))

from consentry.engines.melody.align import NULL_MODEL, Scoring  # noqa: E402


@pytest.fixture(scope="module")
def record() -> dict:
    if not RECORD.exists():
        pytest.fail(f"{RECORD} is missing: run benchmarks/run_melody.py --calibrate --record {RECORD}")
    return json.loads(RECORD.read_text())


def test_record_was_made_with_the_shipped_scoring(record):
    assert record["scoring"] == dataclasses.asdict(Scoring())
    assert record["seed"] == 1001 and len(record["score"]) == len(record["m"]) == len(record["n"]) == 3000


def test_shipped_null_model_is_the_fit_of_the_record(record):
    import run_melody

    null = {key: np.asarray(record[key]) for key in ("score", "m", "n", "kind")}
    model, fitted = run_melody.fit_null_model(null)
    assert fitted == record["fitted"]
    assert (model.lam, model.k) == (NULL_MODEL.lam, NULL_MODEL.k)


PITCH_SET_RECORD = ROOT / "benchmarks" / "fits" / "melody_pitch_sets.json"


def test_pitch_set_null_is_the_fit_of_its_record():
    """PITCH_SET_NULL is what ``run_melody_real.py --pitch-sets ... --fit-on dev,held-out --record`` fitted, for
    the pitch sets and scoring that ship (benchmarks/RESULTS.md, "Pitch-set melodies")."""
    import melody_pitchsets

    from consentry.engines.melody.pitchsets import PITCH_SET_NULL, SetScoring, pitch_sets_from_notes

    if not PITCH_SET_RECORD.exists():
        pytest.fail(f"{PITCH_SET_RECORD} is missing: see benchmarks/RESULTS.md, 'Pitch-set melodies'")
    record = json.loads(PITCH_SET_RECORD.read_text())
    assert record["setup"].get("matcher", "pitch_sets") == "pitch_sets"
    assert dataclasses.replace(SetScoring(), **record["setup"].get("scoring", {})) == SetScoring()
    defaults = {k: v.default for k, v in __import__("inspect").signature(pitch_sets_from_notes).parameters.items()
                if v.kind is v.KEYWORD_ONLY}
    assert {**defaults, **record["setup"].get("sets", {})} == defaults
    null, _ = melody_pitchsets.fit_null(record["score"], record["m"], record["n"])
    assert null == record["null"] == {"lam": PITCH_SET_NULL.lam, "k": PITCH_SET_NULL.k}


SKYLINE_REAL_RECORD = ROOT / "benchmarks" / "fits" / "melody_skyline_real.json"


def test_skyline_null_fitted_on_real_music_is_the_fit_of_its_record():
    """The shipped matcher's null refitted on real music (the dev half's unrelated output-work pairs, session 6)
    is what ``run_melody_real.py --fit-on dev --record`` wrote. It is a benchmarked alternative, not the check's
    null: at equal false-match rates on dev it finds no more phrases (benchmarks/RESULTS.md, "A skyline null
    fitted on real music")."""
    import melody_pitchsets

    if not SKYLINE_REAL_RECORD.exists():
        pytest.fail(f"{SKYLINE_REAL_RECORD} is missing: see benchmarks/RESULTS.md, 'A skyline null fitted on "
                    "real music'")
    record = json.loads(SKYLINE_REAL_RECORD.read_text())
    assert record["setup"] == {"matcher": "skyline", "null": "fit"} and record["halves"] == ["dev"]
    assert record["scoring"] == dataclasses.asdict(Scoring())
    assert len(record["score"]) == len(record["m"]) == len(record["n"]) == record["fit"]["unrelated_pairs"]
    null, fit = melody_pitchsets.fit_null(record["score"], record["m"], record["n"])
    assert (null, fit) == (record["null"], record["fit"])


def test_found_at_equal_false_outputs_moves_the_cut_below_each_false_match():
    """found_at_false_outputs: at F false outputs the cut lies at the (F+1)-th smallest false p, and a positive is
    found when its own located phrase lies strictly below it."""
    import melody_pitchsets

    null = {"lam": 1.0, "k": 1.0}     # p = 1 - exp(-m n e^-s): with m = n = 1, a higher score is a smaller p

    def row(output, kind, score, *, own=False, located=False, pairs=8):
        return {"output": output, "kind": kind, "score": score, "m": 1, "n": 1, "own": own, "located": located,
                "pairs": pairs}

    rows = [row(0, "pos", 9.0, own=True, located=True), row(0, "pos", 1.0),
            row(1, "pos", 5.0, own=True, located=True), row(1, "pos", 7.0),   # its false phrase beats it
            row(2, "pos", 6.0, own=True, located=False),                      # own tune, elsewhere: false
            row(3, "neg", 4.0), row(4, "neg", 8.0, pairs=3)]                 # too few notes: not counted
    curve = melody_pitchsets.found_at_false_outputs(rows, null=null, most_false=3)
    assert [c["found"]["k"] for c in curve] == [1, 1, 2, 2]
    assert [c["false_outputs"]["k"] for c in curve] == [0, 1, 2, 3]
    assert curve[0]["found"]["n"] == 3 and curve[0]["false_outputs"]["n"] == 5


TOP_VOICE_RECORD = ROOT / "benchmarks" / "fits" / "melody_top_voice.json"


def test_top_voice_null_is_the_fit_of_its_record():
    """The top-voice line's null (session 7) is what ``run_melody_real.py --half dev,chorales,freedoom --fit-on
    dev,chorales,freedoom --record benchmarks/fits/melody_top_voice.json`` fitted on the three development halves'
    unrelated output-work pairs, with the scoring that ships (benchmarks/RESULTS.md, "The top voice")."""
    import melody_pitchsets

    if not TOP_VOICE_RECORD.exists():
        pytest.fail(f"{TOP_VOICE_RECORD} is missing: see benchmarks/RESULTS.md, 'The top voice'")
    record = json.loads(TOP_VOICE_RECORD.read_text())
    assert record["setup"] == {"matcher": "skyline", "melody": {"line": "top_voice"}, "null": "fit"}
    assert record["halves"] == ["dev", "chorales", "freedoom"]
    assert record["scoring"] == dataclasses.asdict(Scoring())
    assert len(record["score"]) == len(record["m"]) == len(record["n"]) == record["fit"]["unrelated_pairs"]
    null, fit = melody_pitchsets.fit_null(record["score"], record["m"], record["n"])
    assert (null, fit) == (record["null"], record["fit"])
