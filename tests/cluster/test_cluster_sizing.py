"""docs/cluster.md's "Sizing on paper" holds every figure benchmarks/cluster_sizing.py computes from its inputs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import cluster_sizing as cs  # noqa: E402


def _section() -> str:
    text = (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    start = text.index("## Sizing on paper")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_every_computed_figure_is_in_the_doc():
    section = _section()
    missing = []
    for group, values in cs.figures().items():
        for key, value in values.items():
            # the figure as a whole number: no digit, comma-digit or point-digit glued to either side
            pattern = r"(?<![\d.,])" + re.escape(value) + r"(?![\d]|[.,]\d)"
            if not re.search(pattern, section):
                missing.append(f"{group}.{key} = {value}")
    assert not missing, "docs/cluster.md sizing section lacks: " + "; ".join(missing)


def test_the_doc_states_the_assumed_price():
    assert f"${cs.ASSUMED['usd_per_core_hour']:.2f} per core-hour" in _section()


def test_figures_follow_their_inputs(monkeypatch):
    base = cs.figures()
    monkeypatch.setitem(cs.ASSUMED, "usd_per_core_hour", cs.ASSUMED["usd_per_core_hour"] * 2)
    doubled = cs.figures()
    assert doubled["audio_low"]["core_hours"] == base["audio_low"]["core_hours"]
    # two significant figures each, so equal to within rounding
    twice = 2 * float(base["audio_low"]["usd_per_tb"])
    assert float(doubled["audio_low"]["usd_per_tb"]) == pytest.approx(twice, rel=0.03)
    monkeypatch.setitem(cs.MEASURED, "image_query_1m_s", 2 * cs.MEASURED["image_query_1m_s"])
    assert cs.figures()["image_1m"]["core_hours"] != base["image_1m"]["core_hours"]


def test_sig_rounds_to_significant_figures():
    assert cs._sig(123_456) == "123,000"
    assert cs._sig(0.2812, 2) == "0.28"
    assert cs._sig(14.0) == "14"
    assert cs._power(1.736e7) == "1.74·10⁷"
