"""What happens to music on its way into a training set or out of a generator.

Pure functions on mono float32 arrays (plus PyAV for lossy codecs, in
memory).  Used by the demo, the tests and the benchmark.  The time stretch
is a phase vocoder with identity phase locking (Laroche & Dolson 1999),
written here.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import numpy as np
import soxr
from scipy import signal

VARIANTS: dict[str, str] = {
    "clean": "unchanged",
    "mp3_64k": "MP3 at 64 kbit/s",
    "noise_10db": "pink noise at 10 dB SNR",
    "speed_+3": "3% faster, pitch up with it (like a turntable)",
    "speed_-3": "3% slower, pitch down with it",
    "pitch_+2st": "pitch up 2 semitones, tempo kept",
    "pitch_-2st": "pitch down 2 semitones, tempo kept",
    "tempo_+5": "5% faster, pitch kept",
    "tempo_-5": "5% slower, pitch kept",
    "phone": "telephone: 300-3400 Hz, 8 kHz, 8-bit mu-law",
    "reverb": "room reverb",
}


def _safe(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    peak = np.abs(x).max() if x.size else 0.0
    if peak > 0.99:
        x = x * (0.99 / peak)
    return x.astype(np.float32)


def write_wav(path: str | Path, samples: np.ndarray, *, sample_rate_hz: int) -> Path:
    """Write mono 16-bit PCM WAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(pcm.tobytes())
    return Path(path)


_CODECS = {"mp3": ("libmp3lame", "mp3", ".mp3", 1152), "aac": ("aac", "adts", ".aac", 1024), "opus": ("libopus", "ogg", ".opus", 960)}


def encode_to_bytes(samples: np.ndarray, *, sample_rate_hz: int, codec: str = "mp3", bitrate_kbps: int = 64) -> tuple[bytes, str]:
    """Encode mono samples with a lossy codec, in memory.

    Returns
    -------
    (bytes, suffix) : the file's bytes and a suffix such as ``".mp3"``.
    """
    if codec not in _CODECS:
        raise ValueError(f"codec {codec!r}: use one of {', '.join(_CODECS)}")
    name, fmt, suffix, frame_size = _CODECS[codec]
    rate = sample_rate_hz
    x = np.asarray(samples, dtype=np.float32)
    if codec == "opus" and rate not in (8000, 12000, 16000, 24000, 48000):
        x = soxr.resample(x, rate, 48000).astype(np.float32)
        rate = 48000
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(name, rate=rate)
        stream.layout = "mono"
        stream.bit_rate = bitrate_kbps * 1000
        fmt_name = stream.codec_context.codec.audio_formats[0].name
        converter = av.AudioResampler(format=fmt_name, layout="mono", rate=rate)
        pts = 0
        for i in range(0, x.shape[0], frame_size):
            chunk = np.ascontiguousarray(np.clip(x[i:i + frame_size], -1, 1)[None, :])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            pts += chunk.shape[1]
            for f in converter.resample(frame):
                for packet in stream.encode(f):
                    out.mux(packet)
        for f in converter.resample(None):
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue(), suffix


def encode_decode(samples: np.ndarray, *, sample_rate_hz: int, codec: str = "mp3", bitrate_kbps: int = 64) -> np.ndarray:
    """Lossy round trip, aligned to the input (encoder delay removed) and of the same length."""
    from .decode import decode_audio

    data, suffix = encode_to_bytes(samples, sample_rate_hz=sample_rate_hz, codec=codec, bitrate_kbps=bitrate_kbps)
    y = decode_audio(data, sample_rate_hz=sample_rate_hz, name=f"<{codec}>").samples
    x = np.asarray(samples, dtype=np.float32)
    # Find the codec delay by cross-correlation over the first seconds.
    n = min(x.shape[0], y.shape[0], 4 * sample_rate_hz)
    max_lag = min(4096, n // 2)
    if n > 2 * max_lag > 0:
        corr = signal.correlate(y[: n], x[: n - max_lag], mode="valid")
        lag = int(np.argmax(corr[: max_lag + 1]))
        y = y[lag:]
    out = np.zeros_like(x)
    m = min(x.shape[0], y.shape[0])
    out[:m] = y[:m]
    return out


def add_pink_noise(samples: np.ndarray, *, snr_db: float, seed: int) -> np.ndarray:
    """Add pink (1/f power) noise so that signal power / noise power = ``snr_db`` over the clip."""
    x = np.asarray(samples, dtype=np.float64)
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(x.shape[0]))
    f = np.arange(spec.shape[0], dtype=np.float64)
    f[0] = 1.0
    pink = np.fft.irfft(spec / np.sqrt(f), n=x.shape[0])
    p_sig = np.mean(x**2)
    p_noise = np.mean(pink**2)
    if p_sig == 0 or p_noise == 0:
        return _safe(x)
    pink *= np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))
    return _safe(x + pink)


def change_speed(samples: np.ndarray, *, factor: float, sample_rate_hz: int) -> np.ndarray:
    """Play faster by ``factor`` (tempo and pitch together); output length ~ len / factor."""
    return _safe(soxr.resample(np.asarray(samples, np.float32), sample_rate_hz * factor, sample_rate_hz, quality="HQ"))


def change_tempo(samples: np.ndarray, *, factor: float, sample_rate_hz: int, n_fft: int = 2048) -> np.ndarray:
    """Time-stretch with the pitch kept: ``factor`` 1.05 is 5% faster (length ~ len / factor).

    Phase vocoder with identity phase locking: each bin keeps its phase
    relation to the spectral peak it belongs to, which keeps partials sharp.
    """
    x = np.asarray(samples, dtype=np.float64)
    hop_out = n_fft // 4
    hop_in = hop_out * factor
    window = np.hanning(n_fft)
    pad = np.concatenate([np.zeros(n_fft), x, np.zeros(n_fft)])
    n_frames = int((pad.shape[0] - n_fft) / hop_in) + 1
    positions = np.round(np.arange(n_frames) * hop_in).astype(int)
    positions = positions[positions + n_fft <= pad.shape[0]]
    frames = np.stack([pad[p:p + n_fft] for p in positions]) * window
    spec = np.fft.rfft(frames, axis=1)
    mag, phase = np.abs(spec), np.angle(spec)
    omega = 2 * np.pi * np.arange(spec.shape[1]) / n_fft
    out_len = (len(positions) - 1) * hop_out + n_fft
    y = np.zeros(out_len)
    norm = np.zeros(out_len)
    synth_phase = phase[0].copy()
    bins = np.arange(spec.shape[1])
    for k in range(len(positions)):
        if k > 0:
            step = positions[k] - positions[k - 1]
            dphi = phase[k] - phase[k - 1] - omega * step
            dphi = (dphi + np.pi) % (2 * np.pi) - np.pi
            inst = omega + dphi / max(step, 1)
            peak_phase = synth_phase + inst * hop_out
            # Identity phase locking: bins follow the nearest spectral peak.
            m = mag[k]
            is_peak = np.r_[False, (m[1:-1] > m[:-2]) & (m[1:-1] >= m[2:]), False]
            peaks = np.flatnonzero(is_peak)
            if peaks.size:
                edges = (peaks[:-1] + peaks[1:]) / 2
                owner = peaks[np.searchsorted(edges, bins)]
                synth_phase = peak_phase[owner] + phase[k] - phase[k][owner]
            else:
                synth_phase = peak_phase
        frame = np.fft.irfft(mag[k] * np.exp(1j * synth_phase), n=n_fft) * window
        start = k * hop_out
        y[start:start + n_fft] += frame
        norm[start:start + n_fft] += window**2
    y /= np.maximum(norm, 1e-3)
    trim = int(round(n_fft / factor))
    target = int(round(x.shape[0] / factor))
    return _safe(y[trim:trim + target])


def shift_pitch(samples: np.ndarray, *, semitones: float, sample_rate_hz: int) -> np.ndarray:
    """Shift the pitch by ``semitones`` with the tempo kept; same length as the input."""
    ratio = 2.0 ** (semitones / 12.0)
    stretched = change_tempo(samples, factor=1.0 / ratio, sample_rate_hz=sample_rate_hz)
    y = soxr.resample(stretched, sample_rate_hz * ratio, sample_rate_hz, quality="HQ")
    n = np.asarray(samples).shape[0]
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, y.shape[0])] = y[:n]
    return _safe(out)


def _mu_law(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    q = np.round((y + 1) / 2 * mu) / mu * 2 - 1
    return np.sign(q) * ((1 + mu) ** np.abs(q) - 1) / mu


def phone_band(samples: np.ndarray, *, sample_rate_hz: int) -> tuple[np.ndarray, int]:
    """A telephone line: band-pass 300-3400 Hz, 8 kHz, 8-bit mu-law. Returns (samples, 8000)."""
    sos = signal.butter(6, [300, 3400], btype="bandpass", fs=sample_rate_hz, output="sos")
    band = signal.sosfiltfilt(sos, np.asarray(samples, np.float64))
    y = soxr.resample(band, sample_rate_hz, 8000)
    peak = np.abs(y).max() or 1.0
    y = _mu_law(np.clip(y / peak * 0.9, -1, 1))
    return _safe(y), 8000


def add_reverb(samples: np.ndarray, *, sample_rate_hz: int, rt60_s: float = 0.6, wet: float = 0.35, seed: int = 0) -> np.ndarray:
    """A synthetic room: early reflections and an exponentially decaying noise tail."""
    rng = np.random.default_rng(seed)
    n_ir = int(rt60_s * sample_rate_hz)
    t = np.arange(n_ir) / sample_rate_hz
    ir = rng.standard_normal(n_ir) * np.exp(-6.91 * t / rt60_s)
    for delay_s, gain in zip(rng.uniform(0.005, 0.05, 6), rng.uniform(0.3, 0.8, 6)):
        ir[int(delay_s * sample_rate_hz)] += gain * 4
    ir /= np.sqrt(np.sum(ir**2))
    x = np.asarray(samples, np.float64)
    wet_sig = signal.fftconvolve(x, ir)[: x.shape[0]]
    y = (1 - wet) * x + wet * wet_sig * (np.std(x) / (np.std(wet_sig) or 1.0))
    return _safe(y)


def excerpt(samples: np.ndarray, *, start_s: float, duration_s: float, sample_rate_hz: int) -> np.ndarray:
    """``duration_s`` seconds from ``start_s`` (shorter at the end of the input)."""
    i = int(round(start_s * sample_rate_hz))
    return np.asarray(samples[i:i + int(round(duration_s * sample_rate_hz))], dtype=np.float32)


def mix_excerpt(host: np.ndarray, part: np.ndarray, *, at_s: float, sample_rate_hz: int, excerpt_gain_db: float = 0.0) -> np.ndarray:
    """Put ``part`` into ``host`` from ``at_s``, replacing it there, with 50 ms cross-fades."""
    y = np.asarray(host, np.float64).copy()
    p = np.asarray(part, np.float64) * 10 ** (excerpt_gain_db / 20)
    i = int(round(at_s * sample_rate_hz))
    if i + p.shape[0] > y.shape[0]:
        y = np.concatenate([y, np.zeros(i + p.shape[0] - y.shape[0])])
    fade = min(int(0.05 * sample_rate_hz), p.shape[0] // 2)
    ramp = np.ones(p.shape[0])
    if fade:
        ramp[:fade] = np.linspace(0, 1, fade)
        ramp[-fade:] = np.linspace(1, 0, fade)
    y[i:i + p.shape[0]] = y[i:i + p.shape[0]] * (1 - ramp) + p * ramp
    return _safe(y)


def apply_variant(name: str, samples: np.ndarray, *, sample_rate_hz: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Apply one of :data:`VARIANTS`; returns (samples, sample_rate_hz)."""
    sr = sample_rate_hz
    x = np.asarray(samples, np.float32)
    if name == "clean":
        return x, sr
    if name == "mp3_64k":
        return encode_decode(x, sample_rate_hz=sr, codec="mp3", bitrate_kbps=64), sr
    if name == "noise_10db":
        return add_pink_noise(x, snr_db=10, seed=seed), sr
    if name.startswith("speed_"):
        return change_speed(x, factor=1 + int(name[6:]) / 100, sample_rate_hz=sr), sr
    if name.startswith("pitch_"):
        return shift_pitch(x, semitones=float(name[6:-2]), sample_rate_hz=sr), sr
    if name.startswith("tempo_"):
        return change_tempo(x, factor=1 + int(name[6:]) / 100, sample_rate_hz=sr), sr
    if name == "phone":
        return phone_band(x, sample_rate_hz=sr)
    if name == "reverb":
        return add_reverb(x, sample_rate_hz=sr, seed=seed), sr
    raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
