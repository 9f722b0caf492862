"""The speaker encoder's front end: 16 kHz samples in, mel power frames out.

These are the conventions the Resemblyzer GE2E encoder was trained with
(read from its ``hparams.py`` and ``audio.py``; the code here is written
from those descriptions and from the definitions of the scales):

- samples: mono float32 at 16 kHz, loudness raised (never lowered) to an
  RMS of -30 dBFS, long pauses removed by a voice-activity detector;
- frames: 25 ms windows (400 samples) every 10 ms (160 samples), periodic
  Hann window, frames centred on ``k * 160`` with the signal padded by
  reflection at both ends (``1 + n // 160`` frames), FFT size 400;
- features: *power* (squared magnitude) summed by 40 triangular mel filters
  from 0 Hz to 8 kHz on the Slaney mel scale (linear below 1 kHz, log
  above), each filter scaled to unit area (``2 / bandwidth_hz``). No log:
  the network was trained on linear mel power.

Voice-activity detection
------------------------
Resemblyzer uses WebRTC's VAD, a compiled extension Consentry does not
install. :func:`speech_mask` is a small detector written here, on the same
30 ms grid and with the same smoothing (moving average of 8 windows,
rounded) and pause bridging (dilation by 7 windows, so pauses of up to
about 200 ms are kept). A window counts as speech when it is

- *voiced*: the normalised autocorrelation of its pre-emphasised samples has
  a local peak above ``0.45`` at a lag of 2.5--16 ms (a 62--400 Hz pitch),
  and it is no more than 40 dB below the loudest window; or
- *loud*: at least 15 dB above the clip's noise floor (the 10th percentile
  of window energies) and above -60 dBFS.

Energies are those of the first difference of the samples (a +6 dB/octave
tilt), so that the slow wander of brown noise does not pass for syllables.

White, pink or brown noise has no pitch peak and no loud windows above its
own floor, so it yields no speech; a steady tone, or an instrument, is
voiced and does count (see ``docs/voice.md``).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "SAMPLE_RATE_HZ",
    "WINDOW_SAMPLES",
    "HOP_SAMPLES",
    "N_MELS",
    "hz_to_mel",
    "mel_to_hz",
    "mel_filterbank",
    "mel_filterbank_reference",
    "mel_power_frames",
    "mel_power_frames_reference",
    "normalise_loudness",
    "speech_mask",
]

#: Sample rate the encoder expects (Hz).
SAMPLE_RATE_HZ = 16_000
#: Analysis window: 25 ms (samples).
WINDOW_SAMPLES = 400
#: Hop between frames: 10 ms (samples).
HOP_SAMPLES = 160
#: Number of mel bands.
N_MELS = 40
#: Loudness target of the volume normalisation (dBFS, RMS).
TARGET_DBFS = -30.0
#: VAD window: 30 ms (samples).
VAD_WINDOW_SAMPLES = 480
#: VAD smoothing: moving-average width (windows).
VAD_AVERAGE_WINDOWS = 8
#: VAD pause bridging: dilation width (windows).
VAD_DILATION_WINDOWS = 7

_INT16_MAX = 2**15 - 1
_MEL_BREAK_HZ = 1000.0
_MEL_LINEAR_HZ_PER_MEL = 200.0 / 3.0
_MEL_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(frequency_hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale: linear (66.7 Hz per mel) below 1 kHz, logarithmic above.

    Parameters
    ----------
    frequency_hz : float or numpy.ndarray
        Frequencies (Hz).

    Returns
    -------
    numpy.ndarray of float64
        Mels, same shape; 1 kHz is 15 mel and 6.4 kHz is 42 mel.
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    linear = f / _MEL_LINEAR_HZ_PER_MEL
    break_mel = _MEL_BREAK_HZ / _MEL_LINEAR_HZ_PER_MEL
    with np.errstate(divide="ignore"):
        logarithmic = break_mel + np.log(np.maximum(f, 1e-10) / _MEL_BREAK_HZ) / _MEL_LOG_STEP
    return np.where(f >= _MEL_BREAK_HZ, logarithmic, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel` (mels in, Hz out, float64)."""
    m = np.asarray(mel, dtype=np.float64)
    break_mel = _MEL_BREAK_HZ / _MEL_LINEAR_HZ_PER_MEL
    return np.where(
        m >= break_mel,
        _MEL_BREAK_HZ * np.exp(_MEL_LOG_STEP * (m - break_mel)),
        m * _MEL_LINEAR_HZ_PER_MEL,
    )


@functools.lru_cache(maxsize=4)
def mel_filterbank(
    *, sample_rate_hz: int = SAMPLE_RATE_HZ, n_fft: int = WINDOW_SAMPLES, n_mels: int = N_MELS
) -> np.ndarray:
    """Triangular mel filters of unit area, 0 Hz to Nyquist.

    Returns
    -------
    numpy.ndarray of float32, shape (n_mels, n_fft // 2 + 1)
        Weight of each FFT bin in each band. Band ``b`` rises from corner
        ``b`` to ``b + 1`` and falls to ``b + 2`` of ``n_mels + 2`` corners
        equally spaced in mel; its peak is ``2 / (corner[b+2] - corner[b])``
        (1/Hz), so each band sums power per Hz of bandwidth.
    """
    bins_hz = np.linspace(0.0, sample_rate_hz / 2, n_fft // 2 + 1)
    corners_hz = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate_hz / 2), n_mels + 2))
    widths_hz = np.diff(corners_hz)
    distance = corners_hz[:, None] - bins_hz[None, :]
    rising = -distance[:-2] / widths_hz[:-1, None]
    falling = distance[2:] / widths_hz[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (corners_hz[2:] - corners_hz[:-2]))[:, None]
    weights.setflags(write=False)
    return weights.astype(np.float32)


def mel_filterbank_reference(
    *, sample_rate_hz: int = SAMPLE_RATE_HZ, n_fft: int = WINDOW_SAMPLES, n_mels: int = N_MELS
) -> np.ndarray:
    """Slow, loop-by-loop version of :func:`mel_filterbank` (for tests)."""
    n_bins = n_fft // 2 + 1
    top_mel = float(hz_to_mel(sample_rate_hz / 2))
    corners = [float(mel_to_hz(top_mel * i / (n_mels + 1))) for i in range(n_mels + 2)]
    out = np.zeros((n_mels, n_bins))
    for band in range(n_mels):
        low, centre, high = corners[band], corners[band + 1], corners[band + 2]
        for k in range(n_bins):
            f = k * sample_rate_hz / n_fft
            if low < f <= centre:
                w = (f - low) / (centre - low)
            elif centre < f < high:
                w = (high - f) / (high - centre)
            else:
                w = 0.0
            out[band, k] = w * 2.0 / (high - low)
    return out


@functools.lru_cache(maxsize=1)
def _periodic_hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def _centred_frames(samples: np.ndarray) -> np.ndarray:
    """Frames of 400 samples centred on multiples of 160, shape (1 + n // 160, 400)."""
    half = WINDOW_SAMPLES // 2
    x = np.asarray(samples, dtype=np.float32)
    if len(x) <= half:
        # Too short to reflect: pad with zeros (only for clips under 12.5 ms).
        x = np.pad(x, (half, half))
    else:
        x = np.pad(x, (half, half), mode="reflect")
    n_frames = 1 + (len(x) - WINDOW_SAMPLES) // HOP_SAMPLES
    return np.lib.stride_tricks.sliding_window_view(x, WINDOW_SAMPLES)[::HOP_SAMPLES][:n_frames]


def mel_power_frames(samples: np.ndarray) -> np.ndarray:
    """Mel power spectrogram, one row per 10 ms frame.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono audio at 16 kHz, float in [-1, 1].

    Returns
    -------
    numpy.ndarray of float32, shape (1 + n // 160, 40)
        Row ``k`` describes the 25 ms centred at ``k * 10`` ms.
    """
    frames = _centred_frames(samples) * _periodic_hann(WINDOW_SAMPLES)
    spectrum = np.fft.rfft(frames, n=WINDOW_SAMPLES, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power @ mel_filterbank().T


def mel_power_frames_reference(samples: np.ndarray) -> np.ndarray:
    """Slow version of :func:`mel_power_frames`: explicit DFT, float64 (for tests)."""
    x = np.asarray(samples, dtype=np.float64)
    half = WINDOW_SAMPLES // 2
    padded = np.pad(x, (half, half), mode="reflect") if len(x) > half else np.pad(x, (half, half))
    n = np.arange(WINDOW_SAMPLES)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / WINDOW_SAMPLES)
    k = np.arange(WINDOW_SAMPLES // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(k, n) / WINDOW_SAMPLES)
    filters = mel_filterbank_reference()
    rows = []
    for start in range(0, len(padded) - WINDOW_SAMPLES + 1, HOP_SAMPLES):
        spectrum = dft @ (padded[start:start + WINDOW_SAMPLES] * window)
        rows.append(filters @ np.abs(spectrum) ** 2)
    return np.array(rows)


def normalise_loudness(samples: np.ndarray, *, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise the RMS level to ``target_dbfs`` (dBFS); never lower it.

    Returns a float32 copy; digital silence is returned unchanged.
    """
    x = np.asarray(samples, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms <= 0.0:
        return x.copy()
    gain_db = target_dbfs - 20.0 * np.log10(rms)
    if gain_db <= 0.0:
        return x.copy()
    return (x * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)


def _window_voicing(windows: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Pitch-peak height of each window's normalised autocorrelation, shape (n,)."""
    emphasised = np.diff(windows, axis=1)
    emphasised = emphasised - emphasised.mean(axis=1, keepdims=True)
    n = emphasised.shape[1]
    spectrum = np.fft.rfft(emphasised, n=2 * n, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :n]
    energy = autocorr[:, :1]
    safe = np.where(energy > 0, energy, 1.0)
    normalised = autocorr / safe
    min_lag = int(sample_rate_hz / 400)
    max_lag = min(int(sample_rate_hz / 62.5), n - 2)
    middle = normalised[:, min_lag:max_lag]
    before = normalised[:, min_lag - 1:max_lag - 1]
    after = normalised[:, min_lag + 1:max_lag + 1]
    peaks = np.where((middle >= before) & (middle >= after), middle, 0.0)
    return np.where(energy[:, 0] > 0, peaks.max(axis=1), 0.0)


def speech_mask(samples: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Which samples lie in speech, after smoothing and bridging short pauses.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono audio, float in [-1, 1], at ``sample_rate_hz``.
    sample_rate_hz : int
        Sample rate (Hz).

    Returns
    -------
    numpy.ndarray of bool, shape (m,)
        ``m = n - n % window`` with 30 ms windows (the tail shorter than a
        window is dropped, as in Resemblyzer); True where speech is kept.
    """
    window = VAD_WINDOW_SAMPLES * sample_rate_hz // SAMPLE_RATE_HZ
    x = np.asarray(samples, dtype=np.float32)
    n_windows = len(x) // window
    if n_windows == 0:
        return np.zeros(0, dtype=bool)
    windows = x[: n_windows * window].reshape(n_windows, window).astype(np.float64)
    # Energy of the first difference: a flat tilt, so that the slow wander of
    # brown noise does not look like loud syllables.
    energy_db = 10.0 * np.log10(np.mean(np.diff(windows, axis=1) ** 2, axis=1) + 1e-12)
    floor_db = np.percentile(energy_db, 10)
    voicing = _window_voicing(windows, sample_rate_hz)
    voiced = (voicing > 0.45) & (energy_db > energy_db.max() - 40.0) & (energy_db > -70.0)
    loud = (energy_db > floor_db + 15.0) & (energy_db > -60.0)
    flags = (voiced | loud).astype(np.float64)
    width = VAD_AVERAGE_WINDOWS
    padded = np.concatenate([np.zeros((width - 1) // 2), flags, np.zeros(width // 2)])
    smoothed = np.convolve(padded, np.ones(width) / width, mode="valid")
    kept = np.round(smoothed).astype(bool)
    reach = VAD_DILATION_WINDOWS // 2
    if kept.any():
        kept = np.convolve(kept.astype(np.int32), np.ones(2 * reach + 1, dtype=np.int32), mode="same") > 0
    return np.repeat(kept, window)
