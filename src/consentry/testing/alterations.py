"""What happens to music on its way into a training set or out of a generator.

Pure functions on mono float32 sample arrays, used by the demo, the tests
and the benchmark to make altered copies of registered music: lossy codecs
(PyAV, in memory), pink noise, speed, tempo and pitch changes, a telephone
line, room reverb, and splicing an excerpt into other audio.  Every result
is float32 and never exceeds 1.0 in magnitude: a result that would is scaled
down as a whole (to a peak of 0.99).

Time stretch
------------
:func:`change_tempo` is a phase vocoder with identity phase locking
(Laroche and Dolson, "Improved phase vocoder time-scale modification of
audio", IEEE Trans. Speech and Audio Processing 7(3), 1999), written here:

1. Analysis frames (periodic Hann window, about 93 ms, 4x overlap at the
   output) are taken every ``hop_out * factor`` input samples.
2. Each frame's spectral peaks (bins larger than their two neighbours on
   each side) are found; every other bin belongs to the nearest peak.
3. A peak's phase advances by its instantaneous frequency (from the
   analysis phase difference, unwrapped around the bin frequency) times the
   synthesis hop; every bin in the peak's region keeps the phase offset it
   had from the peak in the analysis frame.  This keeps the bins of one
   partial coherent, so partials stay sharp and the "phasiness" of the
   plain phase vocoder is much reduced.
4. Frames are overlap-added every ``hop_out`` samples and normalised by the
   summed squared window.

:func:`shift_pitch` stretches by ``2 ** (semitones / 12)`` and resamples
back to the original length with soxr.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Callable

import av
import numpy as np
import soxr
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

__all__ = [
    "VARIANTS",
    "add_pink_noise",
    "add_reverb",
    "apply_variant",
    "change_speed",
    "change_tempo",
    "encode_decode",
    "encode_to_bytes",
    "excerpt",
    "mix_excerpt",
    "phone_band",
    "shift_pitch",
    "write_wav",
]

#: The alterations :func:`apply_variant` knows, name -> one-line description.
VARIANTS: dict[str, str] = {
    "clean": "unchanged",
    "mp3_64k": "MP3 at 64 kbit/s (encoded and decoded again)",
    "noise_10db": "pink noise added at 10 dB signal-to-noise ratio",
    "speed_+3": "played 3% faster: tempo and pitch up together, like a turntable",
    "speed_-3": "played 3% slower: tempo and pitch down together",
    "pitch_+2st": "pitch up 2 semitones, tempo kept",
    "pitch_-2st": "pitch down 2 semitones, tempo kept",
    "tempo_+5": "5% faster, pitch kept",
    "tempo_-5": "5% slower, pitch kept",
    "phone": "telephone line: 300-3400 Hz band, 8 kHz, 8-bit mu-law",
    "reverb": "room reverb (RT60 0.6 s, 35% wet)",
}

_PEAK_LIMIT = 0.99


def _as_mono(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples (a 1-D array), got shape {x.shape}")
    return x.astype(np.float64)


def _limited(x: np.ndarray) -> np.ndarray:
    """``x`` as float32, scaled down as a whole if its peak exceeds 0.99."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > _PEAK_LIMIT:
        x = x * (_PEAK_LIMIT / peak)
    return np.asarray(x, dtype=np.float32)


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or zero-padded at the end to ``n`` samples."""
    if x.size >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - x.size, dtype=x.dtype)])


# ---------------------------------------------------------------------------
# Files and codecs
# ---------------------------------------------------------------------------


def write_wav(path: str | Path, samples: np.ndarray, *, sample_rate_hz: int) -> Path:
    """Write mono samples as a 16-bit PCM WAV file (stdlib :mod:`wave`).

    Parameters
    ----------
    path : str or Path
        File to write (overwritten).
    samples : numpy.ndarray, shape (n,)
        Mono samples, nominally in [-1, 1]; values outside are clipped.
    sample_rate_hz : int
        Sample rate written in the header, Hz.

    Returns
    -------
    Path
        ``path``, for convenience.
    """
    x = np.clip(_as_mono(samples), -1.0, 1.0)
    pcm = np.round(x * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate_hz))
        out.writeframes(pcm.tobytes())
    return Path(path)


# codec -> (FFmpeg encoder, container format, file suffix, samples per frame, sample format)
_CODECS: dict[str, tuple[str, str, str, int, str]] = {
    "mp3": ("libmp3lame", "mp3", ".mp3", 1152, "fltp"),
    "aac": ("aac", "adts", ".aac", 1024, "fltp"),
    "opus": ("libopus", "ogg", ".opus", 960, "flt"),
}


def _codec(codec: str) -> tuple[str, str, str, int, str]:
    if codec not in _CODECS:
        raise ValueError(f"unknown codec {codec!r}; use one of: {', '.join(_CODECS)}")
    return _CODECS[codec]


def encode_to_bytes(samples: np.ndarray, *, sample_rate_hz: int, codec: str = "mp3",
                    bitrate_kbps: int = 64) -> tuple[bytes, str]:
    """Encode mono samples with a lossy codec, in memory.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples in [-1, 1] (clipped if outside).
    sample_rate_hz : int
        Their sample rate, Hz.  A rate the codec does not take is first
        resampled (soxr) to the next higher one it does (Opus: 8, 12, 16, 24,
        48 kHz; MP3: 8 to 48 kHz).
    codec : {"mp3", "aac", "opus"}
        MP3 (LAME), AAC (FFmpeg's encoder, ADTS stream) or Opus (in Ogg).
    bitrate_kbps : int
        Target bit rate, kbit/s.

    Returns
    -------
    data : bytes
        The encoded file.
    suffix : str
        A file suffix for it: ".mp3", ".aac" or ".opus".
    """
    encoder, container_format, suffix, frame_size, sample_format = _codec(codec)
    x = np.clip(_as_mono(samples), -1.0, 1.0).astype(np.float32)
    rate = int(sample_rate_hz)
    rates = av.Codec(encoder, "w").audio_rates or ()
    if rates and rate not in rates:  # e.g. Opus at 22.05 kHz, MP3 at 96 kHz
        supported = sorted(rates)
        target = next((r for r in supported if r >= rate), supported[-1])
        x = soxr.resample(x, rate, target, quality="HQ").astype(np.float32)
        rate = target
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        # Opus's unconstrained VBR overshoots the target by half on dense music.
        options = {"vbr": "constrained"} if codec == "opus" else {}
        stream = container.add_stream(encoder, rate=rate, options=options)
        stream.layout = "mono"
        stream.bit_rate = int(bitrate_kbps) * 1000
        for start in range(0, x.size, frame_size):
            chunk = np.ascontiguousarray(x[None, start:start + frame_size])
            frame = av.AudioFrame.from_ndarray(chunk, format=sample_format, layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue(), suffix


def _decode_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of an in-memory file to mono float32 at its own rate."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        blocks = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                blocks.append(out.to_ndarray()[0])
        for out in resampler.resample(None):
            blocks.append(out.to_ndarray()[0])
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return samples.astype(np.float32), rate


def _delay_samples(reference: np.ndarray, delayed: np.ndarray, *, max_lag: int) -> int:
    """Lag in samples (-max_lag..max_lag) by which ``delayed`` trails ``reference``.

    Found by cross-correlating the start of both (``reference`` sets how
    much); 0 when the reference is silent.
    """
    n = reference.size
    shifted = _fit_length(np.concatenate([np.zeros(max_lag), delayed]), n + 2 * max_lag)
    correlation = signal.fftconvolve(shifted, reference[::-1], mode="valid")  # 2 * max_lag + 1 lags
    if not np.any(correlation):
        return 0
    return int(np.argmax(correlation)) - max_lag


def encode_decode(samples: np.ndarray, *, sample_rate_hz: int, codec: str = "mp3", bitrate_kbps: int = 64) -> np.ndarray:
    """Lossy round trip: encode with ``codec`` and decode again, in memory.

    The decoded signal is brought back to ``sample_rate_hz`` (soxr) if the
    codec changed the rate, delayed back into line with the input (the
    encoder's priming delay is found by cross-correlating the first seconds
    with the input, searching 4096 samples either way) and cut or
    zero-padded to the input's length.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples in [-1, 1].
    sample_rate_hz : int
        Their sample rate, Hz.
    codec : {"mp3", "aac", "opus"}
        See :func:`encode_to_bytes`.
    bitrate_kbps : int
        Target bit rate, kbit/s.

    Returns
    -------
    numpy.ndarray of float32, shape (n,)
        The decoded samples, aligned with the input.
    """
    x = _as_mono(samples)
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    data, _ = encode_to_bytes(x, sample_rate_hz=sample_rate_hz, codec=codec, bitrate_kbps=bitrate_kbps)
    y, rate = _decode_bytes(data)
    y = y.astype(np.float64)
    if rate != sample_rate_hz:
        y = soxr.resample(y, rate, sample_rate_hz, quality="HQ")
    lag = _delay_samples(x[: 5 * int(sample_rate_hz)], y, max_lag=4096)
    y = y[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), y])
    return _limited(_fit_length(y, x.size))


# ---------------------------------------------------------------------------
# Noise, speed, tempo, pitch
# ---------------------------------------------------------------------------


def add_pink_noise(samples: np.ndarray, *, snr_db: float, seed: int) -> np.ndarray:
    """Add pink (1/f) noise at a given signal-to-noise ratio.

    The noise has power spectral density proportional to 1/f (-3 dB per
    octave) over the top nine octaves below the Nyquist frequency (from
    about 21.5 Hz at 22.05 kHz) and none below, where it would only be
    inaudible rumble.  It is scaled so that the mean power of ``samples``
    divided by the mean power of the noise, over the whole clip, is
    ``snr_db``.  If the sum would exceed 0.99 in magnitude, the sum is
    scaled down as a whole (the SNR is kept).

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples.
    snr_db : float
        Signal-to-noise ratio, dB.
    seed : int
        Seed of the noise (``numpy.random.default_rng``).

    Returns
    -------
    numpy.ndarray of float32, shape (n,)
        ``samples`` plus noise; a silent input is returned unchanged (no SNR
        is defined for it).
    """
    x = _as_mono(samples)
    signal_power = float(np.mean(x**2)) if x.size else 0.0
    if signal_power == 0.0 or x.size < 4:
        return x.astype(np.float32)
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(x.size))
    relative = np.arange(spectrum.size) / (spectrum.size - 1)  # frequency / Nyquist
    corner = 2.0**-9
    amplitude = np.zeros(spectrum.size)
    band = relative >= corner
    amplitude[band] = 1.0 / np.sqrt(relative[band])
    noise = np.fft.irfft(spectrum * amplitude, n=x.size)
    noise *= np.sqrt(signal_power / (np.mean(noise**2) * 10.0 ** (snr_db / 10.0)))
    return _limited(x + noise)


def change_speed(samples: np.ndarray, *, factor: float, sample_rate_hz: int) -> np.ndarray:
    """Play faster or slower, like a turntable: tempo and pitch change together.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples.
    factor : float
        Speed ratio (> 0): 1.03 is 3% faster and about half a semitone
        higher (every frequency times 1.03).
    sample_rate_hz : int
        Sample rate of input and output, Hz.

    Returns
    -------
    numpy.ndarray of float32, shape (about n / factor,)
    """
    if not factor > 0:
        raise ValueError(f"factor must be positive, got {factor!r}")
    x = _as_mono(samples)
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    y = soxr.resample(x, float(sample_rate_hz) * factor, float(sample_rate_hz), quality="VHQ")
    return _limited(y)


def _frame_length(sample_rate_hz: int) -> int:
    """Phase vocoder frame: the power of two nearest to 93 ms (2048 samples at 22.05 kHz)."""
    return int(2 ** round(np.log2(0.0929 * sample_rate_hz)))


def _peak_owners(magnitude: np.ndarray) -> np.ndarray:
    """For each bin of each frame, the index of the spectral peak whose region it is in.

    Parameters
    ----------
    magnitude : numpy.ndarray, shape (frames, bins)

    Returns
    -------
    numpy.ndarray of int64, shape (frames, bins)
        A peak is a bin larger than its two neighbours on each side; a bin
        belongs to the nearest peak (regions split half-way between peaks).
        In a frame without peaks every bin is its own owner.
    """
    frames, bins = magnitude.shape
    index = np.broadcast_to(np.arange(bins), (frames, bins))
    is_peak = np.zeros((frames, bins), dtype=bool)
    if bins >= 5:
        core = magnitude[:, 2:-2]
        is_peak[:, 2:-2] = ((core > magnitude[:, 1:-3]) & (core > magnitude[:, :-4])
                            & (core >= magnitude[:, 3:-1]) & (core >= magnitude[:, 4:]))
    below = np.maximum.accumulate(np.where(is_peak, index, -1), axis=1)  # nearest peak at or below
    above = np.minimum.accumulate(np.where(is_peak, index, 2 * bins)[:, ::-1], axis=1)[:, ::-1]
    take_below = (below >= 0) & ((above >= bins) | (index - below <= above - index))
    return np.where(take_below, below, np.where(above < bins, above, index))


def _time_stretch(x: np.ndarray, *, factor: float, n_fft: int, block_frames: int = 256) -> np.ndarray:
    """Phase vocoder with identity phase locking; float64 in, float64 out of length round(len / factor).

    Analysis frame k is centred on input sample ``k * hop_out * factor``
    (rounded), synthesis frame k on output sample ``k * hop_out``.  Frames
    are processed in blocks of ``block_frames`` to bound memory.
    """
    n_out = int(round(x.size / factor))
    if x.size == 0 or n_out == 0:
        return np.zeros(n_out)
    hop_out = n_fft // 4
    half = n_fft // 2
    n_frames = int(np.ceil(n_out / hop_out)) + 1
    starts = np.round(np.arange(n_frames) * (hop_out * factor)).astype(np.int64)
    padded = np.zeros(max(int(starts[-1]) + n_fft, x.size + half))
    padded[half:half + x.size] = x
    frames = sliding_window_view(padded, n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    omega = 2 * np.pi * np.arange(half + 1) / n_fft  # bin frequencies, radians per sample
    out = np.zeros((n_frames - 1) * hop_out + n_fft)
    norm = np.zeros_like(out)
    window_sq = window**2
    previous_phase: np.ndarray | None = None
    synth_phase: np.ndarray | None = None
    for first in range(0, n_frames, block_frames):
        last = min(first + block_frames, n_frames)
        spectrum = np.fft.rfft(frames[starts[first:last]] * window, axis=1)
        magnitude = np.abs(spectrum)
        phase = np.angle(spectrum)
        rows = np.arange(last - first)[:, None]
        owners = _peak_owners(magnitude)
        locked_offset = phase - phase[rows, owners]
        # Instantaneous frequency from the phase change over the actual analysis step.
        before = np.vstack([phase[:1] if previous_phase is None else previous_phase[None], phase[:-1]])
        step = np.diff(starts[max(first - 1, 0):last]).astype(np.float64)
        if first == 0:
            step = np.r_[hop_out * factor, step]
        deviation = phase - before - omega * step[:, None]
        deviation -= 2 * np.pi * np.round(deviation / (2 * np.pi))
        advance = (omega + deviation / step[:, None]) * hop_out
        out_phase = np.empty_like(phase)
        for i in range(last - first):
            if synth_phase is None:
                synth_phase = phase[i]
            else:
                peak_phase = synth_phase + advance[i]
                synth_phase = peak_phase[owners[i]] + locked_offset[i]
            out_phase[i] = synth_phase
        previous_phase = phase[-1]
        synthesised = np.fft.irfft(magnitude * np.exp(1j * out_phase), n=n_fft, axis=1) * window
        for i in range(last - first):
            at = (first + i) * hop_out
            out[at:at + n_fft] += synthesised[i]
            norm[at:at + n_fft] += window_sq
        # Keep phases small so that float64 keeps its precision on long inputs.
        synth_phase = np.remainder(synth_phase, 2 * np.pi)
    out /= np.maximum(norm, 1e-3)
    return out[half:half + n_out]


def change_tempo(samples: np.ndarray, *, factor: float, sample_rate_hz: int) -> np.ndarray:
    """Time-stretch with the pitch kept (phase vocoder with identity phase locking).

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples.
    factor : float
        Tempo ratio (> 0): 1.05 is 5% faster, 0.95 is 5% slower.
    sample_rate_hz : int
        Sample rate, Hz; sets the analysis frame (about 93 ms).

    Returns
    -------
    numpy.ndarray of float32, shape (round(n / factor),)
        Event at input time t is at output time t / factor; frequencies are
        unchanged.
    """
    if not factor > 0:
        raise ValueError(f"factor must be positive, got {factor!r}")
    x = _as_mono(samples)
    return _limited(_time_stretch(x, factor=factor, n_fft=_frame_length(sample_rate_hz)))


def shift_pitch(samples: np.ndarray, *, semitones: float, sample_rate_hz: int) -> np.ndarray:
    """Shift the pitch with the tempo kept.

    The input is time-stretched by ``2 ** (semitones / 12)`` (phase vocoder,
    as :func:`change_tempo`) and then resampled by the same ratio (soxr), which
    brings the duration back and moves every frequency.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples.
    semitones : float
        Shift in equal-tempered semitones; +12 doubles every frequency.
    sample_rate_hz : int
        Sample rate, Hz.

    Returns
    -------
    numpy.ndarray of float32, shape (n,)
    """
    x = _as_mono(samples)
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    ratio = 2.0 ** (semitones / 12.0)
    stretched = _time_stretch(x, factor=1.0 / ratio, n_fft=_frame_length(sample_rate_hz))
    y = soxr.resample(stretched, float(sample_rate_hz) * ratio, float(sample_rate_hz), quality="VHQ")
    return _limited(_fit_length(y, x.size))


# ---------------------------------------------------------------------------
# Telephone, room, mixing
# ---------------------------------------------------------------------------

_MU = 255.0


def _mu_law_round_trip(x: np.ndarray) -> np.ndarray:
    """8-bit mu-law (mu = 255) encode and decode of samples in [-1, 1]."""
    compressed = np.sign(x) * np.log1p(_MU * np.abs(x)) / np.log1p(_MU)
    code = np.round(compressed * 127.0) / 127.0  # 255 levels: a sign and 127 magnitudes
    return np.sign(code) * np.expm1(np.abs(code) * np.log1p(_MU)) / _MU


def phone_band(samples: np.ndarray, *, sample_rate_hz: int) -> tuple[np.ndarray, int]:
    """A telephone line: 300-3400 Hz, 8 kHz sampling, 8-bit mu-law.

    A causal Butterworth band-pass (4th order per edge, second-order
    sections), resampling to 8000 Hz (soxr), then mu-law companding to 8
    bits and back.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples.
    sample_rate_hz : int
        Their sample rate, Hz (above 6800, so that 3400 Hz is below Nyquist).

    Returns
    -------
    samples : numpy.ndarray of float32, shape (about n * 8000 / sample_rate_hz,)
    sample_rate_hz : int
        Always 8000.
    """
    if sample_rate_hz <= 6800:
        raise ValueError(f"phone_band needs a sample rate above 6800 Hz, got {sample_rate_hz}")
    x = _as_mono(samples)
    if x.size == 0:
        return np.zeros(0, dtype=np.float32), 8000
    sos = signal.butter(4, [300.0, 3400.0], btype="bandpass", fs=sample_rate_hz, output="sos")
    band = signal.sosfilt(sos, x)
    if sample_rate_hz != 8000:
        band = soxr.resample(band, float(sample_rate_hz), 8000.0, quality="HQ")
    return _limited(_mu_law_round_trip(np.clip(band, -1.0, 1.0))), 8000


def _room_impulse_response(*, sample_rate_hz: int, rt60_s: float, seed: int) -> np.ndarray:
    """A synthetic room impulse response without the direct sound; float64, unit energy.

    A few early reflections (3-40 ms, random signs, weaker when later) and
    a late tail of noise from about 20 ms on whose level falls 60 dB in
    ``rt60_s``; its high frequencies (above about 2 kHz) die away twice as
    fast, as in a real room.
    """
    sr = sample_rate_hz
    rng = np.random.default_rng(seed)
    n = max(int(rt60_s * sr), int(0.05 * sr))
    t = np.arange(n) / sr
    noise_dark = np.fft.rfft(rng.standard_normal(n))
    noise_bright = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    lowpass = 1.0 / np.sqrt(1.0 + (f / 2000.0) ** 2)
    dark = np.fft.irfft(noise_dark * lowpass, n=n)
    bright = np.fft.irfft(noise_bright * (1.0 - lowpass), n=n)
    decay = 3.0 * np.log(10.0) / rt60_s  # amplitude -60 dB after rt60_s
    onset = np.clip((t - 0.015) / 0.01, 0.0, 1.0)
    tail = onset * (dark * np.exp(-decay * t) + bright * np.exp(-2.0 * decay * t))
    tail /= np.sqrt(np.sum(tail**2))
    response = 0.7 * tail
    delays_s = np.sort(rng.uniform(0.003, 0.04, 8))
    for delay_s in delays_s:
        gain = rng.uniform(0.4, 1.0) * np.exp(-decay * delay_s) * rng.choice([-1.0, 1.0])
        response[int(delay_s * sr)] += 0.25 * gain
    return response / np.sqrt(np.sum(response**2))


def add_reverb(samples: np.ndarray, *, sample_rate_hz: int, rt60_s: float = 0.6, wet: float = 0.35,
               seed: int = 0) -> np.ndarray:
    """Room reverb: convolution with a synthetic impulse response (FFT convolution).

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples.
    sample_rate_hz : int
        Sample rate, Hz.
    rt60_s : float
        Reverberation time, seconds: the time the tail takes to fall 60 dB.
    wet : float
        Share of reverberant sound, 0..1; the reverberant part is scaled to
        the input's RMS level before mixing ``(1 - wet) * dry + wet * reverb``.
    seed : int
        Seed of the room (``numpy.random.default_rng``).

    Returns
    -------
    numpy.ndarray of float32, shape (n,)
        The reverberant signal; the tail after the input's end is cut.
    """
    if not rt60_s > 0:
        raise ValueError(f"rt60_s must be positive, got {rt60_s!r}")
    if not 0.0 <= wet <= 1.0:
        raise ValueError(f"wet must be between 0 and 1, got {wet!r}")
    x = _as_mono(samples)
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    response = _room_impulse_response(sample_rate_hz=sample_rate_hz, rt60_s=rt60_s, seed=seed)
    reverberant = signal.fftconvolve(x, response)[: x.size]
    level = np.sqrt(np.mean(reverberant**2))
    if level > 0:
        reverberant *= np.sqrt(np.mean(x**2)) / level
    return _limited((1.0 - wet) * x + wet * reverberant)


def excerpt(samples: np.ndarray, *, start_s: float, duration_s: float, sample_rate_hz: int) -> np.ndarray:
    """A stretch of ``samples``: ``duration_s`` seconds from ``start_s``.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono samples.
    start_s, duration_s : float
        Start and length, seconds (start >= 0, duration >= 0).
    sample_rate_hz : int
        Sample rate, Hz.

    Returns
    -------
    numpy.ndarray of float32, shape (round(duration_s * sample_rate_hz),) or shorter
        A copy; shorter when the input ends first.
    """
    if start_s < 0 or duration_s < 0:
        raise ValueError(f"start_s and duration_s must not be negative, got {start_s!r}, {duration_s!r}")
    x = np.asarray(samples)
    first = int(round(start_s * sample_rate_hz))
    return np.array(x[first:first + int(round(duration_s * sample_rate_hz))], dtype=np.float32)


def mix_excerpt(host: np.ndarray, excerpt: np.ndarray, *, at_s: float, sample_rate_hz: int,
                excerpt_gain_db: float = 0.0, overlay: bool = False) -> np.ndarray:
    """Put ``excerpt`` into ``host`` from ``at_s`` on, with 50 ms fades.

    By default the excerpt is spliced in: the host cross-fades (equal power,
    50 ms) into the excerpt at ``at_s`` and back out at its end, as in a DJ
    mix or an edit.  With ``overlay=True`` the excerpt is added on top of the
    host instead (fading in and out over 50 ms), as a sample under other
    sound.  The host is extended with silence if the excerpt runs past its
    end.

    Parameters
    ----------
    host : numpy.ndarray, shape (n,)
        Mono samples of the other audio.
    excerpt : numpy.ndarray, shape (m,)
        Mono samples to place.
    at_s : float
        Where the excerpt starts in the host, seconds (>= 0).
    sample_rate_hz : int
        Sample rate of both, Hz.
    excerpt_gain_db : float
        Gain applied to the excerpt, dB.
    overlay : bool
        Add the excerpt to the host instead of replacing the host there.

    Returns
    -------
    numpy.ndarray of float32, shape (max(n, round(at_s * sample_rate_hz) + m),)
    """
    if at_s < 0:
        raise ValueError(f"at_s must not be negative, got {at_s!r}")
    y = _as_mono(host)
    part = _as_mono(excerpt) * 10.0 ** (excerpt_gain_db / 20.0)
    first = int(round(at_s * sample_rate_hz))
    end = first + part.size
    if end > y.size:
        y = np.concatenate([y, np.zeros(end - y.size)])
    fade = min(int(round(0.05 * sample_rate_hz)), part.size // 2)
    ramp = np.ones(part.size)  # the excerpt's level: 0 -> 1 -> 0
    if fade:
        rise = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade)
        ramp[:fade] = rise
        ramp[part.size - fade:] = rise[::-1]
    if overlay:
        y[first:end] += part * ramp
    else:
        y[first:end] = y[first:end] * np.sqrt(1.0 - ramp**2) + part * ramp
    return _limited(y)


# ---------------------------------------------------------------------------
# Named variants
# ---------------------------------------------------------------------------

_VARIANT_FUNCTIONS: dict[str, Callable[[np.ndarray, int, int], tuple[np.ndarray, int]]] = {
    "clean": lambda x, sr, seed: (_limited(x), sr),
    "mp3_64k": lambda x, sr, seed: (encode_decode(x, sample_rate_hz=sr, codec="mp3", bitrate_kbps=64), sr),
    "noise_10db": lambda x, sr, seed: (add_pink_noise(x, snr_db=10.0, seed=seed), sr),
    "speed_+3": lambda x, sr, seed: (change_speed(x, factor=1.03, sample_rate_hz=sr), sr),
    "speed_-3": lambda x, sr, seed: (change_speed(x, factor=0.97, sample_rate_hz=sr), sr),
    "pitch_+2st": lambda x, sr, seed: (shift_pitch(x, semitones=2.0, sample_rate_hz=sr), sr),
    "pitch_-2st": lambda x, sr, seed: (shift_pitch(x, semitones=-2.0, sample_rate_hz=sr), sr),
    "tempo_+5": lambda x, sr, seed: (change_tempo(x, factor=1.05, sample_rate_hz=sr), sr),
    "tempo_-5": lambda x, sr, seed: (change_tempo(x, factor=0.95, sample_rate_hz=sr), sr),
    "phone": lambda x, sr, seed: phone_band(x, sample_rate_hz=sr),
    "reverb": lambda x, sr, seed: (add_reverb(x, sample_rate_hz=sr, seed=seed), sr),
}
assert list(_VARIANT_FUNCTIONS) == list(VARIANTS)


def apply_variant(name: str, samples: np.ndarray, *, sample_rate_hz: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Apply one of the alterations named in :data:`VARIANTS`.

    Parameters
    ----------
    name : str
        A key of :data:`VARIANTS`, such as "mp3_64k" or "pitch_-2st".
    samples : numpy.ndarray, shape (n,)
        Mono samples.
    sample_rate_hz : int
        Their sample rate, Hz.
    seed : int
        Seed for the random parts (the noise of "noise_10db", the room of
        "reverb").

    Returns
    -------
    samples : numpy.ndarray of float32
        The altered samples.
    sample_rate_hz : int
        Their sample rate: 8000 for "phone", else the input's.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if name not in _VARIANT_FUNCTIONS:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    return _VARIANT_FUNCTIONS[name](_as_mono(samples), int(sample_rate_hz), seed)
