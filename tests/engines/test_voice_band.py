"""The telephone-band copy enrolment prints as a voice's second print (consentry.engines.voice.band)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from consentry.engines.voice.band import BAND_SUFFIX, band_engine_id, is_band_engine, telephone_band

SR = 16_000


def _tone(freq_hz: float, seconds: float = 2.0, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


def test_the_band_keeps_speech_frequencies_and_removes_the_rest():
    for f, kept in ((1000.0, True), (3000.0, True), (150.0, False), (5000.0, False), (7000.0, False)):
        x = _tone(f)
        y = telephone_band(x, sample_rate_hz=SR)
        assert y.dtype == np.float32 and y.shape == x.shape
        middle = slice(SR // 4, -SR // 4)  # away from the resampler's edges
        ratio = _rms(y[middle]) / _rms(x[middle])
        assert (ratio > 0.9) if kept else (ratio < 0.02), (f, ratio)


def test_other_rates_and_odd_lengths_keep_length_and_rate():
    for rate, n in ((22_050, 22_050 * 3 + 11), (8_000, 8_001), (44_100, 500)):
        x = (0.5 * np.sin(2 * np.pi * 1200.0 * np.arange(n) / rate)).astype(np.float32)
        y = telephone_band(x, sample_rate_hz=rate)
        assert y.shape == (n,) and np.all(np.abs(y) <= 1.0 + 1e-6)


def test_it_is_the_benchmarks_band_channel_sample_for_sample():
    """The second print the product stores is the one benchmarks/voice_twoprints.py measured."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    pytest.importorskip("voice_channel")
    from voice_channel import telephone

    rng = np.random.default_rng(5)
    for n in (SR * 3 + 7, SR * 12, 999):
        x = (0.3 * rng.standard_normal(n)).astype(np.float32)
        assert np.array_equal(telephone(x, sample_rate_hz=SR, channel="band"), telephone_band(x, sample_rate_hz=SR))


def test_band_engine_ids_are_their_own_engine():
    e = "voice-campplus/1/0123456789abcdef"
    assert band_engine_id(e) == e + BAND_SUFFIX and band_engine_id(e) != e
    assert is_band_engine(band_engine_id(e), e) and not is_band_engine(e, e)
    assert not is_band_engine(band_engine_id("voice-campplus/1/fedcba9876543210"), e)
