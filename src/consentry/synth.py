"""Deterministic synthesised music for the demo and the tests.

Each seed gives a distinct piece: its own key, mode, tempo, chord
progression, melody, bass line, drum pattern and timbres.  Same seed and
arguments, same samples (bit for bit): only ``numpy.random.default_rng(seed)``
is used.
"""

from __future__ import annotations

import numpy as np

MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}

_ADJECTIVES = ("Amber", "Quiet", "Northern", "Electric", "Paper", "Velvet", "Hollow", "Golden", "Restless", "Salt",
               "Midnight", "Glass", "Wandering", "Copper", "Distant", "Silver")
_NOUNS = ("Harbour", "Lanterns", "Orchard", "Tide", "Comet", "Staircase", "Meadow", "Signal", "Ferry", "Garden",
          "Station", "Horizon", "River", "Letters", "Mirrors", "Engine")


def piece_title(seed: int) -> str:
    """A made-up title for the piece of ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, 7])
    return f"{_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} {_NOUNS[rng.integers(len(_NOUNS))]} {seed}"


def _pick(rng: np.random.Generator, options: tuple) -> list:
    return options[int(rng.integers(len(options)))]


def _midi_hz(m: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(m) - 69.0) / 12.0)


def _tone(freq_hz: float, n: int, sr: int, harmonics: np.ndarray, *, attack_s: float, decay_per_s: float,
          vibrato_cents: float = 0.0, vibrato_hz: float = 5.0, phase0: float = 0.0) -> np.ndarray:
    """One note: additive harmonics with an attack/decay envelope and vibrato."""
    t = np.arange(n) / sr
    if vibrato_cents:
        inst = freq_hz * 2.0 ** (vibrato_cents / 1200.0 * np.sin(2 * np.pi * vibrato_hz * t) * np.minimum(1.0, t / 0.3))
        phase = phase0 + 2 * np.pi * np.cumsum(inst) / sr
    else:
        phase = phase0 + 2 * np.pi * freq_hz * t
    out = np.zeros(n)
    nyquist = sr / 2
    for h, a in enumerate(harmonics, start=1):
        if a and h * freq_hz < nyquist * 0.95:
            out += a * np.sin(h * phase)
    env = np.minimum(1.0, t / max(attack_s, 1e-3)) * np.exp(-decay_per_s * t)
    release = min(n, int(0.03 * sr))
    if release:
        env[-release:] *= np.linspace(1.0, 0.0, release)
    return out * env


def synthesise_piece(seed: int, *, duration_s: float, sample_rate_hz: int = 22050) -> np.ndarray:
    """A piece of music: melody, chords, bass and drums.

    Parameters
    ----------
    seed : int
        Chooses everything about the piece.
    duration_s : float
        Length in seconds.
    sample_rate_hz : int

    Returns
    -------
    ndarray of float32, shape (round(duration_s * sample_rate_hz),)
        Mono, peak 0.8.
    """
    rng = np.random.default_rng(seed)
    sr = sample_rate_hz
    n = int(round(duration_s * sr))
    out = np.zeros(n + sr, dtype=np.float64)
    tonic = int(rng.integers(52, 64))
    mode = list(MODES)[int(rng.integers(len(MODES)))]
    scale = np.array(MODES[mode])
    bpm = float(rng.uniform(72, 156))
    beat = 60.0 / bpm
    bar = 4 * beat
    n_chords = int(rng.integers(4, 9))
    degrees = np.r_[0, rng.integers(0, 7, n_chords - 1)]
    swing = float(rng.uniform(0.0, 0.12))

    def scale_midi(degree: int, octave: int = 0) -> int:
        return tonic + 12 * (octave + degree // 7) + int(scale[degree % 7])

    # Timbres for melody, chords and bass: per-seed spectral envelopes.
    lead = rng.uniform(0.05, 1.0, 10) / np.arange(1, 11) ** rng.uniform(0.6, 1.4)
    lead[0] = 1.0
    pad = rng.uniform(0.1, 1.0, 6) / np.arange(1, 7) ** 1.5
    bass = np.array([1.0, 0.6, 0.3, 0.15]) * rng.uniform(0.6, 1.0, 4)
    lead_decay = float(rng.uniform(0.3, 2.5))
    vib = float(rng.uniform(5, 25))

    def add(start_s: float, sig: np.ndarray, gain: float) -> None:
        i = int(start_s * sr)
        if i >= out.shape[0]:
            return
        m = min(sig.shape[0], out.shape[0] - i)
        out[i:i + m] += gain * sig[:m]

    # Chords and bass, one chord per bar, with a varied rhythm.
    bar_idx = 0
    t = 0.0
    while t < duration_s:
        deg = int(degrees[bar_idx % n_chords])
        if bar_idx % (2 * n_chords) >= n_chords and rng.random() < 0.3:
            deg = int(rng.integers(0, 7))  # variation on the repeat
        chord = [scale_midi(deg + k, -1) for k in (0, 2, 4)]
        for m in chord:
            add(t, _tone(_midi_hz(m), int(bar * sr), sr, pad, attack_s=0.05, decay_per_s=0.8), 0.12)
        pattern = _pick(rng, ([0, 2], [0, 1.5, 2, 3], [0, 1, 2, 3], [0, 2.5, 3]))
        for b in pattern:
            add(t + b * beat, _tone(_midi_hz(scale_midi(deg, -2)), int(beat * sr), sr, bass, attack_s=0.01, decay_per_s=3.0), 0.35)
        t += bar
        bar_idx += 1

    # Melody: a random walk on the scale in phrases, with rests.
    t = 0.0
    degree = int(rng.integers(0, 7))
    durations = np.array([0.5, 1.0, 1.0, 1.5, 2.0, 0.5]) * beat
    while t < duration_s:
        phrase_len = int(rng.integers(3, 9))
        for _ in range(phrase_len):
            d = float(rng.choice(durations))
            degree = int(np.clip(degree + rng.choice([-2, -1, -1, 1, 1, 2, 3, -3]), -3, 12))
            midi = scale_midi(degree, 1)
            note = _tone(_midi_hz(midi), int(d * sr * 1.1), sr, lead, attack_s=0.015, decay_per_s=lead_decay,
                         vibrato_cents=vib, vibrato_hz=float(rng.uniform(4.5, 6.5)))
            add(t + (swing * beat if rng.random() < 0.5 else 0.0), note, 0.3)
            t += d
        t += float(rng.choice([0.5, 1.0, 2.0])) * beat

    # Drums: kick (pitch-swept sine), snare (band-passed noise), hi-hat.
    kick_len, snare_len, hat_len = int(0.25 * sr), int(0.18 * sr), int(0.05 * sr)
    tk = np.arange(kick_len) / sr
    kick = np.sin(2 * np.pi * np.cumsum(50 + 90 * np.exp(-tk * 30)) / sr) * np.exp(-tk * 12)
    noise = rng.standard_normal(snare_len + hat_len + 3)
    snare = np.diff(noise[:snare_len + 1]) * np.exp(-np.arange(snare_len) / sr * 25) * 0.5
    hat = np.diff(noise[snare_len + 1:], n=2)[:hat_len] * np.exp(-np.arange(hat_len) / sr * 80) * 0.25
    kicks = _pick(rng, ([0, 2], [0, 1.5, 2], [0, 2.5], [0, 0.75, 2]))
    snares = _pick(rng, ([1, 3], [1, 3, 3.5], [3]))
    hats = np.arange(0, 4, float(rng.choice([0.5, 0.25])))
    t = 0.0
    while t < duration_s:
        for b in kicks:
            add(t + b * beat, kick, 0.5)
        for b in snares:
            add(t + b * beat, snare, 0.35)
        for b in hats:
            add(t + b * beat, hat, 0.3 * float(rng.uniform(0.6, 1.0)))
        t += bar

    x = out[:n]
    peak = np.abs(x).max()
    if peak > 0:
        x = x * (0.8 / peak)
    return x.astype(np.float32)
