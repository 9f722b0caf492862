"""Alterations (consentry.testing.alterations): each does what it says, to the right frequencies, times and levels."""

from __future__ import annotations

import io
import wave

import av
import numpy as np
import pytest

from consentry.testing import alterations as alt
from consentry.testing.synth import synthesise_piece

SR = 22050


def sine(freq_hz: float, seconds: float, *, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def harmonic_tone(f0_hz: float, seconds: float, *, n: int = 8) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.15 * sum(np.sin(2 * np.pi * f0_hz * h * t + h) / h for h in range(1, n + 1))).astype(np.float32)


def peak_hz(x: np.ndarray, sr: int = SR) -> float:
    """Frequency of the strongest spectral peak, Hz (parabolic interpolation on the log spectrum)."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size)))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / x.size


def energy_near(x: np.ndarray, freqs_hz: list[float], *, within_hz: float, sr: int = SR) -> float:
    """Share of the energy of ``x`` within ``within_hz`` of any of ``freqs_hz``."""
    power = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size))) ** 2
    f = np.fft.rfftfreq(x.size, 1 / sr)
    near = np.zeros(f.size, dtype=bool)
    for freq in freqs_hz:
        near |= np.abs(f - freq) <= within_hz
    return float(power[near].sum() / power.sum())


def level_at(x: np.ndarray, freq_hz: float, sr: int) -> float:
    """Amplitude spectrum of ``x`` at the bin nearest ``freq_hz`` (window-normalised)."""
    window = np.hanning(x.size)
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * window)) * 2 / window.sum()
    f = np.fft.rfftfreq(x.size, 1 / sr)
    k = int(np.argmin(np.abs(f - freq_hz)))
    return float(spec[max(k - 2, 0):k + 3].max())


def click_track(seconds: float, at_s: list[float]) -> np.ndarray:
    """Quiet tone with short noise bursts at ``at_s``."""
    rng = np.random.default_rng(0)
    x = sine(330.0, seconds, amplitude=0.1).astype(np.float64)
    n = int(0.05 * SR)
    for t in at_s:
        i = int(t * SR)
        x[i:i + n] += 0.6 * rng.standard_normal(n) * np.exp(-np.arange(n) / SR * 80)
    return x.astype(np.float32)


def onset_s(x: np.ndarray, *, near_s: float, sr: int = SR) -> float:
    """Time of the sharpest rise of high-frequency energy within 0.2 s of ``near_s``."""
    hp = np.diff(x.astype(np.float64)) ** 2
    smooth = np.convolve(hp, np.ones(64) / 64, mode="same")
    lo, hi = int((near_s - 0.2) * sr), int((near_s + 0.2) * sr)
    rise = np.diff(smooth[lo:hi])
    return (lo + int(np.argmax(rise))) / sr


# ---------------------------------------------------------------------------
# Pitch, tempo, speed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("semitones", [2.0, -2.0, 0.5])
def test_shift_pitch_moves_the_peak_and_keeps_the_length(semitones):
    x = sine(440.0, 2.0)
    y = alt.shift_pitch(x, semitones=semitones, sample_rate_hz=SR)
    assert y.shape == x.shape and y.dtype == np.float32
    expected = 440.0 * 2 ** (semitones / 12)
    assert abs(peak_hz(y[SR // 4:-SR // 4]) / expected - 1) < 0.01
    assert 0.4 < np.abs(y[SR // 4:-SR // 4]).max() < 0.6  # level kept


@pytest.mark.parametrize("factor", [1.05, 0.95])
def test_change_tempo_keeps_the_pitch_and_changes_the_length(factor):
    x = sine(440.0, 3.0)
    y = alt.change_tempo(x, factor=factor, sample_rate_hz=SR)
    assert y.dtype == np.float32
    assert y.size == round(x.size / factor)
    assert abs(peak_hz(y[SR // 4:-SR // 4]) / 440.0 - 1) < 0.002
    assert 0.45 < np.abs(y[SR // 4:-SR // 4]).max() < 0.55


def test_change_tempo_by_one_reconstructs_the_input():
    """The reference check of the phase vocoder: with factor 1 every phase is the analysis phase."""
    x = synthesise_piece(2, duration_s=3.0)
    y = alt.change_tempo(x, factor=1.0, sample_rate_hz=SR)
    assert np.max(np.abs(y - x)) < 1e-5


@pytest.mark.parametrize("factor", [1.05, 0.95, 1.2])
def test_time_stretch_keeps_partials_sharp(factor):
    f0 = 220.0
    x = harmonic_tone(f0, 3.0)
    y = alt.change_tempo(x, factor=factor, sample_rate_hz=SR)
    middle = y[SR // 2:SR // 2 + SR]
    # Within 3 Hz of the eight partials (one-second window: 1 Hz bins): all the energy, as in the input.
    assert energy_near(middle, [f0 * h for h in range(1, 9)], within_hz=3.0) > 0.999
    for h in (1, 3, 5):  # each partial is where it was, with its level
        band = middle.astype(np.float64)
        assert abs(level_at(band, f0 * h, SR) / (0.15 / h) - 1) < 0.1, h


def test_shift_pitch_keeps_partials_sharp():
    f0 = 220.0
    y = alt.shift_pitch(harmonic_tone(f0, 3.0), semitones=-2.0, sample_rate_hz=SR)
    shifted = f0 * 2 ** (-2 / 12)
    assert energy_near(y[SR // 2:SR // 2 + SR], [shifted * h for h in range(1, 9)], within_hz=3.0) > 0.999


def test_tempo_moves_events_and_pitch_shift_does_not():
    times = [1.0, 2.0, 3.5]
    x = click_track(4.5, times)
    fast = alt.change_tempo(x, factor=1.05, sample_rate_hz=SR)
    shifted = alt.shift_pitch(x, semitones=2.0, sample_rate_hz=SR)
    for t in times:
        assert abs(onset_s(fast, near_s=t / 1.05) - t / 1.05) < 0.015, t
        assert abs(onset_s(shifted, near_s=t) - t) < 0.015, t


def test_time_stretch_has_little_pre_echo():
    """Identity phase locking keeps a drum hit's energy after its onset, not smeared before it."""
    x = click_track(3.0, [1.0, 2.0]).astype(np.float64) - sine(330.0, 3.0, amplitude=0.1)
    y = alt.change_tempo(x.astype(np.float32), factor=1.05, sample_rate_hz=SR).astype(np.float64)
    for t in (1.0, 2.0):
        at = int(t / 1.05 * SR)
        before = np.mean(y[at - int(0.06 * SR):at - int(0.015 * SR)] ** 2)
        after = np.mean(y[at:at + int(0.03 * SR)] ** 2)
        assert 10 * np.log10(before / after) < -15


def test_change_speed_moves_pitch_and_time_together():
    x = sine(440.0, 2.0)
    y = alt.change_speed(x, factor=1.03, sample_rate_hz=SR)
    assert abs(y.size - x.size / 1.03) <= 2
    assert abs(peak_hz(y[SR // 8:-SR // 8]) - 440.0 * 1.03) < 0.003 * 453.2
    slow = alt.change_speed(x, factor=0.97, sample_rate_hz=SR)
    assert abs(slow.size - x.size / 0.97) <= 2
    assert abs(peak_hz(slow[SR // 8:-SR // 8]) / (440.0 * 0.97) - 1) < 0.003




@pytest.mark.parametrize("function", [alt.change_tempo, alt.change_speed])
def test_bad_factor_is_refused(function):
    with pytest.raises(ValueError, match="factor"):
        function(sine(440.0, 0.5), factor=0.0, sample_rate_hz=SR)


# ---------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("snr_db", [10.0, 0.0, 25.0])
def test_pink_noise_has_the_requested_snr(snr_db):
    x = synthesise_piece(6, duration_s=4.0) * 0.5
    y = alt.add_pink_noise(x, snr_db=snr_db, seed=1)
    assert y.dtype == np.float32 and y.shape == x.shape
    noise = y.astype(np.float64) - x
    measured = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(measured - snr_db) < 0.2


def test_pink_noise_falls_three_db_per_octave():
    x = sine(1000.0, 8.0)
    noise = alt.add_pink_noise(x, snr_db=0.0, seed=3).astype(np.float64) - x
    power = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(noise.size, 1 / SR)
    centres = 100.0 * 2.0 ** np.arange(7)  # 100 Hz .. 6.4 kHz
    levels = [10 * np.log10(power[(f >= c / 2**0.25) & (f < c * 2**0.25)].mean()) for c in centres]
    slope = np.polyfit(np.log2(centres), levels, 1)[0]
    assert -3.5 < slope < -2.5
    assert power[f < 15].sum() < 1e-6 * power.sum()  # no sub-audio rumble


def test_pink_noise_depends_on_the_seed_only():
    x = sine(500.0, 1.0)
    a = alt.add_pink_noise(x, snr_db=10, seed=4)
    assert np.array_equal(a, alt.add_pink_noise(x, snr_db=10, seed=4))
    assert not np.array_equal(a, alt.add_pink_noise(x, snr_db=10, seed=5))


def test_loud_results_are_scaled_not_clipped():
    x = sine(440.0, 1.0, amplitude=1.0)
    loud = alt.add_pink_noise(x, snr_db=3.0, seed=0).astype(np.float64)
    assert np.abs(loud).max() <= 0.99 + 1e-6
    # The same noise on a quiet copy needs no limiting; the loud result is that, scaled as a whole.
    quiet = alt.add_pink_noise(x * 0.1, snr_db=3.0, seed=0).astype(np.float64) / 0.1
    gain = np.abs(loud).max() / np.abs(quiet).max()
    assert gain < 1.0
    np.testing.assert_allclose(loud, quiet * gain, atol=1e-5)


def test_silence_gets_no_noise():
    assert not np.any(alt.add_pink_noise(np.zeros(1000, np.float32), snr_db=10, seed=0))


# ---------------------------------------------------------------------------
# Telephone, reverb
# ---------------------------------------------------------------------------


def test_phone_band_is_8_khz_band_limited_and_companded():
    x = sine(100.0, 2.0, amplitude=0.25) + sine(1000.0, 2.0, amplitude=0.25) + sine(6000.0, 2.0, amplitude=0.25)
    y, rate = alt.phone_band(x, sample_rate_hz=SR)
    assert rate == 8000 and y.dtype == np.float32
    assert abs(y.size - round(x.size * 8000 / SR)) <= 2
    body = y[2000:-2000]
    kept = level_at(body, 1000.0, rate)
    assert kept > 0.15
    assert level_at(body, 100.0, rate) < kept / 30  # at least 30 dB down below 300 Hz
    assert level_at(body, 8000 - 6000.0, rate) < kept / 100  # 6 kHz neither kept nor folded down to 2 kHz
    # 8-bit mu-law: at most 255 distinct levels.
    assert np.unique(y).size <= 255


def test_phone_band_from_8_khz_and_too_low_a_rate():
    y, rate = alt.phone_band(sine(1000.0, 1.0, sr=8000), sample_rate_hz=8000)
    assert rate == 8000 and y.size == 8000
    with pytest.raises(ValueError, match="6800"):
        alt.phone_band(sine(1000.0, 1.0, sr=6000), sample_rate_hz=6000)


def test_reverb_adds_a_decaying_tail_and_keeps_the_length():
    x = np.zeros(2 * SR, np.float32)
    x[SR // 2] = 0.9
    y = alt.add_reverb(x, sample_rate_hz=SR, rt60_s=0.6, wet=0.5, seed=1)
    assert y.shape == x.shape and y.dtype == np.float32
    y = y.astype(np.float64)
    assert np.abs(y[: SR // 2]).max() < 1e-9  # nothing before the sound (FFT rounding aside)
    tail = y[SR // 2 + int(0.02 * SR):]

    def level_db(start_s: float) -> float:
        i = int(start_s * SR)
        return 10 * np.log10(np.mean(tail[i:i + int(0.05 * SR)] ** 2))

    drop = level_db(0.05) - level_db(0.35)  # 0.3 s of a 0.6 s RT60: about 30 dB
    assert 20 < drop < 40
    assert np.array_equal(alt.add_reverb(x, sample_rate_hz=SR, seed=1), alt.add_reverb(x, sample_rate_hz=SR, seed=1))
    assert not np.array_equal(alt.add_reverb(x, sample_rate_hz=SR, seed=1), alt.add_reverb(x, sample_rate_hz=SR, seed=2))


def test_reverb_keeps_the_music_recognisable():
    x = synthesise_piece(3, duration_s=4.0)
    y = alt.add_reverb(x, sample_rate_hz=SR)
    assert y.shape == x.shape
    assert 0.6 < np.corrcoef(x, y)[0, 1] < 0.99
    with pytest.raises(ValueError, match="wet"):
        alt.add_reverb(x, sample_rate_hz=SR, wet=1.5)


# ---------------------------------------------------------------------------
# Codecs and files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("codec", "min_correlation"), [("mp3", 0.95), ("aac", 0.95), ("opus", 0.95)])
def test_encode_decode_is_aligned_and_close(codec, min_correlation):
    x = synthesise_piece(3, duration_s=4.0)
    y = alt.encode_decode(x, sample_rate_hz=SR, codec=codec, bitrate_kbps=64)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.corrcoef(x[SR // 2:-SR // 2], y[SR // 2:-SR // 2])[0, 1] > min_correlation
    # Aligned: no other small lag fits better.
    lags = range(-20, 21)
    fits = [np.dot(x[SR + lag:3 * SR + lag], y[SR:3 * SR]) for lag in lags]
    assert abs(list(lags)[int(np.argmax(fits))]) <= 1


@pytest.mark.parametrize(("codec", "suffix"), [("mp3", ".mp3"), ("aac", ".aac"), ("opus", ".opus")])
def test_encode_to_bytes_makes_a_decodable_file_at_the_bit_rate(codec, suffix):
    x = synthesise_piece(5, duration_s=5.0)
    data, got_suffix = alt.encode_to_bytes(x, sample_rate_hz=SR, codec=codec, bitrate_kbps=64)
    assert got_suffix == suffix
    assert 0.7 < len(data) * 8 / 5.0 / 64000 < 1.3
    with av.open(io.BytesIO(data)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].codec_context.sample_rate
    assert abs(samples / rate - 5.0) < 0.1


def test_unknown_codec_is_refused():
    with pytest.raises(ValueError, match="mp3, aac, opus"):
        alt.encode_to_bytes(sine(440.0, 0.5), sample_rate_hz=SR, codec="wma")


def test_write_wav_round_trip(tmp_path):
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0], np.float32)
    path = alt.write_wav(tmp_path / "x.wav", x, sample_rate_hz=8000)
    assert path == tmp_path / "x.wav"
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, 7)
        pcm = np.frombuffer(w.readframes(7), "<i2")
    assert pcm.tolist() == [0, 16384, -16384, 32767, -32767, 32767, -32767]


# ---------------------------------------------------------------------------
# Excerpts and mixing
# ---------------------------------------------------------------------------


def test_excerpt_cuts_the_right_samples():
    x = np.arange(10 * SR, dtype=np.float32) / (10 * SR)
    y = alt.excerpt(x, start_s=2.0, duration_s=1.5, sample_rate_hz=SR)
    assert y.dtype == np.float32 and y.shape == (int(1.5 * SR),)
    assert y[0] == x[2 * SR] and y[-1] == x[int(3.5 * SR) - 1]
    assert alt.excerpt(x, start_s=9.0, duration_s=5.0, sample_rate_hz=SR).size == SR
    y[:] = 0
    assert x[2 * SR] != 0  # a copy
    with pytest.raises(ValueError):
        alt.excerpt(x, start_s=-1.0, duration_s=1.0, sample_rate_hz=SR)


def test_mix_excerpt_splices_at_the_right_time():
    host = sine(300.0, 5.0, amplitude=0.3)
    part = sine(1000.0, 1.0, amplitude=0.5)
    y = alt.mix_excerpt(host, part, at_s=2.0, sample_rate_hz=SR)
    assert y.shape == host.shape and y.dtype == np.float32
    fade = int(0.05 * SR)
    np.testing.assert_array_equal(y[: 2 * SR], host[: 2 * SR])  # host untouched before
    np.testing.assert_allclose(y[2 * SR + fade:3 * SR - fade], part[fade:-fade], atol=1e-6)  # only the excerpt
    np.testing.assert_array_equal(y[3 * SR:], host[3 * SR:])  # and host again after
    # The fades: the excerpt rises from silence over 50 ms, the host falls.
    assert abs(y[2 * SR]) < 0.3 * 0.1 + 0.5 * 0.05
    assert level_at(y[int(2.1 * SR):int(2.9 * SR)], 300.0, SR) < 1e-3


def test_mix_excerpt_extends_the_host_and_applies_gain():
    host = sine(300.0, 2.0, amplitude=0.3)
    part = sine(1000.0, 1.0, amplitude=0.5)
    y = alt.mix_excerpt(host, part, at_s=1.5, sample_rate_hz=SR, excerpt_gain_db=-6.0)
    assert y.size == int(2.5 * SR)
    middle = y[int(1.7 * SR):int(2.3 * SR)]
    assert abs(np.abs(middle).max() - 0.5 * 10 ** (-6 / 20)) < 0.01


def test_mix_excerpt_overlay_keeps_the_host():
    host = sine(300.0, 4.0, amplitude=0.3)
    part = sine(1000.0, 1.0, amplitude=0.3)
    y = alt.mix_excerpt(host, part, at_s=1.0, sample_rate_hz=SR, overlay=True)
    middle = y[int(1.2 * SR):int(1.8 * SR)]
    assert abs(level_at(middle, 300.0, SR) - 0.3) < 0.02 and abs(level_at(middle, 1000.0, SR) - 0.3) < 0.02


# ---------------------------------------------------------------------------
# Named variants
# ---------------------------------------------------------------------------

NAMES = ["clean", "mp3_64k", "noise_10db", "speed_+3", "speed_-3", "pitch_+2st", "pitch_-2st", "tempo_+5", "tempo_-5",
         "phone", "reverb"]


def test_variant_names():
    assert list(alt.VARIANTS) == NAMES
    assert all(isinstance(d, str) and d and "\n" not in d for d in alt.VARIANTS.values())


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return synthesise_piece(4, duration_s=3.0)


@pytest.mark.parametrize("name", NAMES)
def test_every_variant_runs(name, clip):
    y, rate = alt.apply_variant(name, clip, sample_rate_hz=SR, seed=2)
    assert y.dtype == np.float32 and y.ndim == 1 and np.all(np.isfinite(y))
    assert np.abs(y).max() <= 1.0
    assert rate == (8000 if name == "phone" else SR)
    expected = {"speed_+3": clip.size / 1.03, "speed_-3": clip.size / 0.97, "tempo_+5": clip.size / 1.05,
                "tempo_-5": clip.size / 0.95, "phone": clip.size * 8000 / SR}.get(name, clip.size)
    assert abs(y.size - expected) <= 2
    if name == "clean":
        np.testing.assert_array_equal(y, clip)
    else:
        assert not np.array_equal(y[: min(y.size, clip.size)], clip[: min(y.size, clip.size)])


def test_variants_with_a_seed_are_deterministic(clip):
    for name in ("noise_10db", "reverb"):
        a, _ = alt.apply_variant(name, clip, sample_rate_hz=SR, seed=7)
        b, _ = alt.apply_variant(name, clip, sample_rate_hz=SR, seed=7)
        assert np.array_equal(a, b)


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: clean, mp3_64k, .*reverb"):
        alt.apply_variant("underwater", np.zeros(10, np.float32), sample_rate_hz=SR)
