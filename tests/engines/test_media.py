"""Synthesised music and the alterations used by the demo, tests and benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from consentry.testing import alterations as alt
from consentry.testing.synth import piece_title, synthesise_piece

SR = 22050


def peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1: k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / x.size


def sine(freq: float, seconds: float, sr: int = SR) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def test_synth_is_deterministic_and_distinct():
    a = synthesise_piece(5, duration_s=6.0)
    assert np.array_equal(a, synthesise_piece(5, duration_s=6.0))
    b = synthesise_piece(6, duration_s=6.0)
    assert a.dtype == np.float32 and a.shape == (6 * SR,)
    assert 0.79 < np.abs(a).max() <= 0.8
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.2
    assert piece_title(5) != piece_title(6) and piece_title(5) == piece_title(5)


def test_synth_has_bass_mid_high_and_onsets():
    x = synthesise_piece(9, duration_s=8.0)
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SR)
    for lo, hi in ((40, 250), (250, 2000), (2000, 8000)):
        assert spec[(f >= lo) & (f < hi)].sum() / spec.sum() > 0.001, (lo, hi)
    hp = np.diff(x.astype(np.float64), n=2)  # emphasises drums and attacks
    frames = hp[: hp.size // 512 * 512].reshape(-1, 512)
    energy = (frames**2).sum(axis=1)
    rises = np.flatnonzero(np.diff(energy) > 2 * np.median(energy))
    assert rises.size > 8  # drum hits and note attacks


def test_shift_pitch_moves_peak_keeps_length():
    x = sine(440.0, 2.0)
    y = alt.shift_pitch(x, semitones=2, sample_rate_hz=SR)
    assert y.shape == x.shape
    assert abs(peak_hz(y[SR // 4: -SR // 4], SR) / (440 * 2 ** (2 / 12)) - 1) < 0.01


def test_change_tempo_keeps_pitch_shortens():
    x = sine(440.0, 3.0)
    y = alt.change_tempo(x, factor=1.05, sample_rate_hz=SR)
    assert abs(y.size - x.size / 1.05) < 0.01 * x.size
    assert abs(peak_hz(y[SR // 4: -SR // 4], SR) / 440 - 1) < 0.005


def test_change_speed_moves_both():
    x = sine(440.0, 2.0)
    y = alt.change_speed(x, factor=1.03, sample_rate_hz=SR)
    assert abs(y.size - x.size / 1.03) < 5
    assert abs(peak_hz(y, SR) / (440 * 1.03) - 1) < 0.003


def test_pink_noise_snr_and_slope():
    x = sine(1000.0, 4.0)
    y = alt.add_pink_noise(x, snr_db=10, seed=1)
    noise = y.astype(np.float64) - x
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(snr - 10) < 0.2
    spec = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(noise.size, 1 / SR)
    low = spec[(f > 200) & (f < 400)].mean()
    high = spec[(f > 3200) & (f < 6400)].mean()
    assert 8 < 10 * np.log10(low / high) < 16  # about 3 dB per octave over 4 octaves


def test_phone_band():
    x = sine(100.0, 1.0) + sine(1000.0, 1.0) + sine(6000.0, 1.0)
    y, sr = alt.phone_band(x, sample_rate_hz=SR)
    assert sr == 8000 and abs(y.size - 8000) < 5
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(y.size, 1 / sr)
    at = lambda hz: spec[np.argmin(np.abs(f - hz))]  # noqa: E731
    assert at(1000) > 100 * at(100)


def test_mp3_round_trip_aligned():
    x = synthesise_piece(3, duration_s=4.0)
    y = alt.encode_decode(x, sample_rate_hz=SR, codec="mp3", bitrate_kbps=64)
    assert y.shape == x.shape
    assert np.corrcoef(x[SR:-SR], y[SR:-SR])[0, 1] > 0.9


def test_mix_excerpt_and_excerpt():
    host = np.zeros(5 * SR, np.float32)
    part = sine(440.0, 1.0)
    y = alt.mix_excerpt(host, part, at_s=2.0, sample_rate_hz=SR)
    energy = np.abs(y)
    assert energy[: 2 * SR].max() == 0 and energy[2 * SR + SR // 4: 2 * SR + SR // 2].max() > 0.4 and energy[3 * SR + 10:].max() == 0
    assert alt.excerpt(y, start_s=2.0, duration_s=1.0, sample_rate_hz=SR).shape == (SR,)


@pytest.mark.parametrize("name", list(alt.VARIANTS))
def test_every_variant_runs(name):
    x = synthesise_piece(4, duration_s=3.0)
    y, sr = alt.apply_variant(name, x, sample_rate_hz=SR, seed=2)
    assert y.dtype == np.float32 and np.abs(y).max() <= 1.0 and y.size > 0.9 * x.size * sr / SR


def test_unknown_variant():
    with pytest.raises(ValueError, match="known: clean"):
        alt.apply_variant("underwater", np.zeros(10, np.float32), sample_rate_hz=SR)
