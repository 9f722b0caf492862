"""The image engine's deciding constants are what their committed command printed (benchmarks/fits/image_rule_v4.json).

``benchmarks/run_image.py --seed 1 --calibrate 3000`` measures the best chance keypoint score of 3,000
queries of the calibration negatives (never-registered images that share none with the test negatives);
``min_inliers`` is two above the largest, the chance tail is fitted to the scores of at least 3, and
``pdq_max_distance`` is at most four below the closest chance PDQ match (docs/images.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from consentry.engines.image import ENGINE_NAME, ENGINE_VERSION, ImageEngineParams

RECORD = Path(__file__).resolve().parents[2] / "benchmarks" / "fits" / "image_rule_v4.json"


def test_the_shipped_rule_is_the_recorded_calibration():
    record = json.loads(RECORD.read_text())
    name, version, _ = record["engine"].split("/")
    assert (name, version) == (ENGINE_NAME, ENGINE_VERSION)
    cal = record["calibration"]
    scores = cal["best_score_counts"]
    assert sum(scores.values()) == cal["queries"] >= 2900
    # The rule as the command states it, recomputed from the recorded scores.
    assert cal["max_chance_score"] == max(float(s) for s in scores)
    assert cal["min_inliers"] == int(cal["max_chance_score"]) + 2
    tail = [(float(s) - 3.0, n) for s, n in scores.items() if float(s) >= 3.0]
    assert round(sum(d * n for d, n in tail) / sum(n for _, n in tail), 2) == cal["chance_inliers_per_e"]
    p = ImageEngineParams()
    assert p.min_inliers == cal["min_inliers"]
    assert (p.chance_inliers_at, p.chance_inliers_per_e) == (cal["chance_inliers_at"], cal["chance_inliers_per_e"])
    assert p.pdq_max_distance <= cal["pdq_max_distance"]
