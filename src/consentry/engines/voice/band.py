"""The telephone-band copy of an enrolment sample, printed as a voice's second print.

A voice enrolled from a wideband recording is almost never found in a telephone copy of it: CAM++ prints of
band-limited speech sit apart from the same speaker's wideband prints (0-1 of 96 dev outputs found,
benchmarks/voice_bandwise.py).  Enrolment therefore also prints the sample through a plain telephone band:
resampled to 8 kHz, everything outside 300-3400 Hz removed (an FFT brick wall over the whole clip), clipped to
[-1, 1] and resampled back.  No codec is simulated (mu-law, AMR, Opus differ; the band is what they share).
This is benchmarks/voice_channel.py's ``band`` channel, sample for sample (tests/engines/test_voice_band.py).

The second print is stored as its own row of ``voices`` under :func:`band_engine_id` of the model's engine id
(docs/registry-format.md); the check compares it only when asked (``consentry check --voice-band-prints``,
docs/voice.md, "A second, telephone-band print").
"""

from __future__ import annotations

import numpy as np

__all__ = ["BAND_HZ", "BAND_SUFFIX", "PHONE_RATE_HZ", "band_engine_id", "is_band_engine", "telephone_band"]

#: The pass band (Hz) and the telephone rate (Hz).
BAND_HZ = (300.0, 3400.0)
PHONE_RATE_HZ = 8_000
#: Appended to the model's engine id for a telephone-band print.
BAND_SUFFIX = "+tel300-3400"


def band_engine_id(engine: str) -> str:
    """The engine id of a telephone-band print of a model whose prints are ``engine``."""
    return engine + BAND_SUFFIX


def is_band_engine(engine: str, of: str) -> bool:
    """True when ``engine`` is the telephone-band engine id of model engine ``of``."""
    return engine == band_engine_id(of)


def telephone_band(samples: np.ndarray, *, sample_rate_hz: int) -> np.ndarray:
    """``samples`` kept to the telephone band.

    Parameters
    ----------
    samples : np.ndarray
        Mono audio, shape (n,), float in [-1, 1].
    sample_rate_hz : int
        Its rate (Hz).

    Returns
    -------
    np.ndarray
        float32, shape (n,), same rate: the audio resampled to :data:`PHONE_RATE_HZ`, its spectrum outside
        :data:`BAND_HZ` set to zero, clipped to [-1, 1] and resampled back (zero-padded or cut to ``n``).
    """
    import soxr

    x = np.asarray(samples, np.float32).reshape(-1)
    y = soxr.resample(x, sample_rate_hz, PHONE_RATE_HZ).astype(np.float64)
    spectrum = np.fft.rfft(y)
    freqs = np.fft.rfftfreq(y.size, 1.0 / PHONE_RATE_HZ)
    spectrum[(freqs < BAND_HZ[0]) | (freqs > BAND_HZ[1])] = 0.0
    y = np.clip(np.fft.irfft(spectrum, y.size), -1.0, 1.0)
    back = soxr.resample(y.astype(np.float32), PHONE_RATE_HZ, sample_rate_hz)
    out = np.zeros(x.size, np.float32)
    out[: min(x.size, back.size)] = back[: x.size]
    return out
