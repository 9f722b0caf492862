"""The pieces of the small-registry voice benchmark (benchmarks/voice_reference.py, voice_channel.py) that decide
what it reports: the reference-cohort statistic, the telephone channel, the dev folds, the registries drawn and
the dev rule.  Made-up numbers and synthesised tones; no speaker model or Debian data is needed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import voice_reference as vr  # noqa: E402
from run_voice import may_be_same  # noqa: E402
from voice_channel import telephone  # noqa: E402


@pytest.mark.parametrize("floor", [0.01, 0.1, None])
def test_reference_normalised_agrees_with_its_slow_reference(floor):
    rng = np.random.default_rng(6)
    scores = rng.uniform(-0.1, 0.9, size=(7, 4))
    cohort = rng.uniform(-0.1, 0.6, size=(7, 9))
    keep = rng.uniform(size=(4, 9)) < 0.7
    keep[:, :2] = True  # at least two members each
    fast = vr.reference_normalised(scores, cohort, keep, spread_floor=floor)
    assert np.allclose(fast, vr.reference_normalised_reference(scores, cohort, keep, spread_floor=floor), atol=1e-12)


def test_reference_normalised_ranks_a_window_by_how_it_stands_out_from_the_cohort():
    # Window 0 sounds like every member as much as like creator 0; window 1 like creator 1 only.
    scores = np.array([[0.7, 0.2], [0.2, 0.7]])
    cohort = np.array([[0.7, 0.68, 0.72], [0.1, 0.15, 0.2]])
    keep = np.ones((2, 3), bool)
    z = vr.reference_normalised(scores, cohort, keep)
    assert abs(z[0, 0]) < 1e-9 and z[1, 1] > 10
    centred = vr.reference_normalised(scores, cohort, keep, spread_floor=None)
    assert centred[1, 1] == pytest.approx(0.7 - 0.15) and centred[0, 0] == pytest.approx(0.0)
    keep[1] = [True, False, False]
    with pytest.raises(ValueError, match="at least 2 members"):
        vr.reference_normalised(scores, cohort, keep)
    with pytest.raises(ValueError, match="do not fit"):
        vr.reference_normalised(scores, cohort[:, :2], np.ones((2, 3), bool))


def test_a_member_that_sounds_like_the_creator_is_left_out_of_its_cohort():
    members = np.eye(3)
    creator = [np.array([[0.9, np.sqrt(1 - 0.81), 0.0]])]  # 0.9 like member 0, 0.44 like member 1
    keep = vr.keep_mask(creator, members)
    assert keep.tolist() == [[False, False, True]]


@pytest.mark.parametrize("channel", ["band", "g711"])
def test_the_telephone_channel_keeps_the_voice_band_and_drops_what_lies_outside(channel):
    rate = 16_000
    t = np.arange(2 * rate) / rate
    inside = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    outside = (0.3 * np.sin(2 * np.pi * 5000 * t)).astype(np.float32)
    low = (0.3 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    mid = slice(rate // 2, 3 * rate // 2)  # away from the resamplers' edges

    def power(x: np.ndarray) -> float:
        return float(np.mean(np.asarray(x[mid], np.float64) ** 2))

    kept = telephone(inside, channel=channel)
    assert kept.shape == inside.shape and kept.dtype == np.float32
    assert power(kept) == pytest.approx(power(inside), rel=0.1)
    assert power(telephone(outside, channel=channel)) < 1e-4 * power(outside)
    assert power(telephone(low, channel=channel)) < 1e-2 * power(low)
    if channel == "g711":  # 8-bit companding leaves a noise the band channel does not have
        residual = power(kept - telephone(inside, channel="band"))
        assert 1e-7 < residual < 1e-2 * power(inside)
    with pytest.raises(ValueError, match="not one of"):
        telephone(inside, channel="radio")


def test_dev_folds_keep_a_language_in_one_fold_and_spread_each_data_set():
    names = ["klettres/de", "ktuberling/de", "klettres/en", "klettres/en_GB", "klettres/fr", "klettres/it",
             "ktuberling/ca", "ktuberling/sl", "fillets/cs-big-fish", "fillets/cs-small-fish", "fillets/nl-big-fish"]
    folds = vr.language_folds(names)
    assert set(folds) == set(names) and set(folds.values()) == {0, 1}
    for a in names:
        for b in names:
            if may_be_same(a, b) and not (a.startswith("fillets/") and b.startswith("fillets/")):
                assert folds[a] == folds[b], (a, b)
    for dataset in ("klettres", "ktuberling"):
        assert {folds[n] for n in names if n.startswith(dataset)} == {0, 1}
    assert vr.language_folds(list(reversed(names))) == folds


def test_registries_hold_the_pasted_voice_or_no_voice_that_may_be_it():
    pool = ["klettres/de", "ktuberling/de", "klettres/fr", "klettres/it", "ktuberling/ca", "ktuberling/sl"]
    output = {"probe": "klettres/de", "present": ["klettres/fr"]}
    rng = np.random.default_rng(0)
    for n in (1, 3, 7):
        found, false = vr.registries(output, pool, n, rng)
        assert "klettres/de" in found and len(found) == min(n, 5)
        assert not any(may_be_same(s, "klettres/de") for s in false)  # ktuberling/de may be the same person
        assert len(false) == min(n, 4)
        if n == 1:
            assert false != ["klettres/fr"]  # one voice that is heard in the output would compare nothing


def _cell(found: int, false: int, n: int = 100) -> dict:
    return {"found": [found, n], "outputs_with_a_false_match": [false, n]}


def test_the_dev_rule_needs_as_many_found_and_no_more_false_matches_than_the_check():
    def sizes(check, **others):
        rules = {"check_before": _cell(*check)} | {k: _cell(*v) for k, v in others.items()}
        rules |= {k: _cell(0, 100) for k in vr.CANDIDATES if k not in rules}
        return {"wide": {"1": rules}}

    assert vr.dev_winner(sizes((80, 5), reference_centred=(80, 5))) is None  # no better
    assert vr.dev_winner(sizes((80, 5), reference_centred=(79, 0))) is None  # finds fewer
    assert vr.dev_winner(sizes((80, 5), reference_centred=(80, 4))) == "reference_centred"
    assert vr.dev_winner(sizes((80, 5), reference_centred=(81, 5))) == "reference_centred"
    assert vr.dev_winner(sizes((80, 5), reference_centred=(90, 3), reference_floor=(85, 2))) == "reference_floor"
    assert vr.dev_winner(sizes((80, 5), best_window_refit=(85, 2), reference_floor=(85, 2))) == "best_window_refit"
