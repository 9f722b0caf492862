"""CAM++'s front end: Kaldi-compatible log-mel filterbank features at 16 kHz (pure NumPy).

Split from :mod:`consentry.engines.voice.campplus` (the network), which imports these;
the features must match the ones the checkpoint was trained on to the float32 rounding.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["FRAME_SAMPLES", "HOP_SAMPLES", "N_FFT", "N_MELS", "SAMPLE_RATE_HZ", "fbank", "n_frames"]

#: The only sample rate the model knows (Hz).
SAMPLE_RATE_HZ = 16_000
#: Samples per analysis frame (25 ms) and between frame starts (10 ms).
FRAME_SAMPLES = 400
HOP_SAMPLES = 160
#: FFT size (the frame is zero-padded to it) and mel bands.
N_FFT = 512
N_MELS = 80
#: Band edges of the mel filterbank (Hz).
LOW_FREQ_HZ = 20.0
HIGH_FREQ_HZ = 8000.0
PREEMPHASIS = 0.97
POVEY_EXPONENT = 0.85




def _kaldi_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_filterbank() -> np.ndarray:
    """Kaldi's triangular mel filters, shape (N_FFT // 2 + 1, N_MELS), float64."""
    n_bins = N_FFT // 2  # Kaldi leaves the Nyquist bin out
    bin_mel = _kaldi_mel(np.arange(n_bins) * SAMPLE_RATE_HZ / N_FFT)[:, None]
    low, high = _kaldi_mel(LOW_FREQ_HZ), _kaldi_mel(HIGH_FREQ_HZ)
    step = (high - low) / (N_MELS + 1)
    left = low + step * np.arange(N_MELS)
    centre, right = left + step, left + 2 * step
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    banks = np.zeros((n_bins + 1, N_MELS))
    banks[:n_bins] = np.maximum(0.0, np.minimum(rising, falling))
    return banks


_FILTERBANK = _mel_filterbank()
_POVEY_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME_SAMPLES) / (FRAME_SAMPLES - 1))) ** POVEY_EXPONENT
_LOG_FLOOR = float(np.finfo(np.float32).eps)
_FBANK_BLOCK_FRAMES = 4096


def n_frames(n_samples: int) -> int:
    """Frames :func:`fbank` makes of ``n_samples`` samples (whole frames only)."""
    return 0 if n_samples < FRAME_SAMPLES else 1 + (n_samples - FRAME_SAMPLES) // HOP_SAMPLES


def _log_mel(clips: np.ndarray) -> np.ndarray:
    """Log-mel energies of equal-length clips, (k, n) float -> (k, frames, 80) float32."""
    clips = np.asarray(clips, dtype=np.float64)
    count = n_frames(clips.shape[1])
    out = np.empty((clips.shape[0], count, N_MELS), np.float32)
    if count == 0:
        return out
    all_frames = sliding_window_view(clips, FRAME_SAMPLES, axis=1)[:, ::HOP_SAMPLES]
    for start in range(0, count, _FBANK_BLOCK_FRAMES):  # bounded memory for long inputs
        frames = all_frames[:, start:min(count, start + _FBANK_BLOCK_FRAMES)]
        frames = frames - frames.mean(axis=2, keepdims=True)
        frames[:, :, 1:] -= PREEMPHASIS * frames[:, :, :-1]  # the right side is a copy: old values
        frames[:, :, 0] *= 1.0 - PREEMPHASIS
        frames *= _POVEY_WINDOW
        spectrum = np.fft.rfft(frames, n=N_FFT, axis=2)
        mel = (spectrum.real ** 2 + spectrum.imag ** 2) @ _FILTERBANK
        out[:, start:start + frames.shape[1]] = np.log(np.maximum(mel, _LOG_FLOOR))
    return out


def fbank(samples: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Kaldi-style log-mel filterbank energies, as CAM++ was trained on.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Mono audio as floats in [-1, 1]; NaN and infinite samples count as 0.
    sample_rate_hz : int
        Must be 16000 (Hz); resample before calling.

    Returns
    -------
    numpy.ndarray of float32, shape (frames, 80)
        ``frames = 1 + (n - 400) // 160`` for ``n >= 400``, else 0; natural
        log of mel power, *not* mean-normalised (see the module docstring).

    Raises
    ------
    ValueError
        If the rate is not 16 kHz or ``samples`` is not one-dimensional.
    """
    if sample_rate_hz != SAMPLE_RATE_HZ:
        raise ValueError(f"CAM++ features need {SAMPLE_RATE_HZ} Hz audio, got {sample_rate_hz} Hz; resample first")
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples of shape (n,), got shape {x.shape}")
    return _log_mel(np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)[None])[0]
