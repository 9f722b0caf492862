"""Made-up melodies for calibration, tests and the benchmark (no downloads).

- :func:`random_walk_melody`: intervals drawn from a distribution like that
  of folk and pop tunes (mostly steps and repeated notes, some leaps),
  durations from common note values at a random tempo.
- :func:`tonal_melody`: a tune in a random key and mode built from a few
  motifs that repeat and move by scale degree, with a repeated bar rhythm;
  self-similar the way real melodies are, so unrelated pairs share more
  small patterns than random walks do (a harder null).
- :func:`alter_melody`: the same tune transposed, at another tempo, with
  notes dropped, added, or a semitone off.
- :func:`render_notes`: harmonic tones with an attack-decay envelope.

Everything is deterministic given the ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from consentry.engines.melody.contour import Melody

__all__ = ["alter_melody", "random_walk_melody", "render_notes", "tonal_melody"]

_STEPS = np.array([0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 7, -7, 12, -12, 6, -6, 8, -8, 9, -9])
_STEP_P = np.array([22, 13, 13, 13, 13, 4, 4, 3, 3, 3, 3, 1.5, 1.5, 0.6, 0.6, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
_BEATS = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0])
_BEATS_P = np.array([5, 38, 4, 35, 6, 12])
_MODES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 3, 5, 7, 9, 10), (0, 2, 4, 5, 7, 9, 10))


def _to_melody(beats: np.ndarray, pitches: np.ndarray, *, tempo_bpm: float, start_s: float) -> Melody:
    onsets = start_s + np.concatenate([[0.0], np.cumsum(beats[:-1])]) * 60.0 / tempo_bpm
    return Melody(onsets_s=onsets, pitches=pitches.astype(np.int16))


def random_walk_melody(rng: np.random.Generator, *, n_notes: int, start_s: float = 0.0) -> Melody:
    """A random walk in MIDI 52-86 with tune-like steps and note values at 70-160 BPM."""
    steps = rng.choice(_STEPS, size=n_notes - 1, p=_STEP_P / _STEP_P.sum())
    p = np.empty(n_notes, dtype=np.int32)
    p[0] = rng.integers(60, 77)
    for i, st in enumerate(steps, start=1):
        nxt = p[i - 1] + st
        p[i] = nxt if 52 <= nxt <= 86 else p[i - 1] - st  # reflect at the edges
    beats = rng.choice(_BEATS, size=n_notes, p=_BEATS_P / _BEATS_P.sum())
    return _to_melody(beats, p, tempo_bpm=float(rng.uniform(70, 160)), start_s=start_s)


def tonal_melody(rng: np.random.Generator, *, n_notes: int, start_s: float = 0.0) -> Melody:
    """A motif-based tune in a random key and mode at 70-160 BPM."""
    mode = np.asarray(_MODES[int(rng.integers(len(_MODES)))])
    tonic = int(rng.integers(57, 70))
    motifs = []
    for _ in range(int(rng.integers(2, 4))):
        length = int(rng.integers(3, 7))
        degrees = np.cumsum(np.concatenate([[0], rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3, 4], size=length - 1)]))
        rhythm = rng.choice(_BEATS[1:5], size=length, p=np.array([45, 5, 40, 10]) / 100)
        motifs.append((degrees, rhythm))
    degrees_out: list[int] = []
    beats_out: list[float] = []
    base = int(rng.integers(0, 5))
    while len(degrees_out) < n_notes:
        deg, rhy = motifs[int(rng.integers(len(motifs)))]
        shift = base + int(rng.choice([-2, -1, 0, 0, 1, 2]))
        degrees_out.extend(int(d) + shift for d in deg)
        beats_out.extend(float(b) for b in rhy)
        base = int(np.clip(shift, -3, 8))
    d = np.asarray(degrees_out[:n_notes])
    pitches = tonic + 12 * np.floor_divide(d, 7) + mode[np.mod(d, 7)]
    return _to_melody(np.asarray(beats_out[:n_notes]), pitches, tempo_bpm=float(rng.uniform(70, 160)),
                      start_s=start_s)


def alter_melody(
    rng: np.random.Generator,
    melody: Melody,
    *,
    transpose_semitones: int = 0,
    tempo_ratio: float = 1.0,
    n_drop: int = 0,
    n_insert: int = 0,
    n_semitone_errors: int = 0,
    start_s: float = 0.0,
) -> Melody:
    """The melody played again: transposed, ``tempo_ratio`` times as fast, with note errors.

    Dropped notes are removed (the previous note lasts longer); inserted
    notes split a note's duration in two, the new half a step away; a
    semitone error moves one note up or down by one semitone.
    """
    t = (melody.onsets_s - melody.onsets_s[0]) / tempo_ratio
    p = melody.pitches.astype(np.int32) + transpose_semitones
    n = t.size
    if n_semitone_errors:
        idx = rng.choice(n, size=min(n_semitone_errors, n), replace=False)
        p[idx] += rng.choice([-1, 1], size=idx.size)
    if n_drop:
        drop = rng.choice(np.arange(1, n), size=min(n_drop, n - 2), replace=False)
        keep = np.ones(n, bool)
        keep[drop] = False
        t, p = t[keep], p[keep]
    for _ in range(n_insert):
        k = int(rng.integers(0, t.size - 1))
        t = np.insert(t, k + 1, 0.5 * (t[k] + t[k + 1]))
        p = np.insert(p, k + 1, p[k] + int(rng.choice([-2, -1, 1, 2])))
    return Melody(onsets_s=t + start_s, pitches=p.astype(np.int16))


def render_notes(
    notes: list[tuple[float, float, int]],
    *,
    duration_s: float,
    sample_rate_hz: int = 22050,
    seed: int = 0,
) -> np.ndarray:
    """Harmonic tones from ``(start_s, end_s, midi_pitch)`` notes; float32 mono, peak 0.8.

    Each note: 6 harmonics with a random spectral tilt, a 10 ms attack, an
    exponential decay and a 20 ms release.
    """
    rng = np.random.default_rng(seed)
    x = np.zeros(int(duration_s * sample_rate_hz), dtype=np.float64)
    for start, end, midi in notes:
        i = int(start * sample_rate_hz)
        n = min(int((end - start) * sample_rate_hz), x.size - i)
        if n <= 0:
            continue
        t = np.arange(n) / sample_rate_hz
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        env = np.minimum(1.0, t / 0.01) * np.exp(-t * rng.uniform(1.0, 3.0)) * np.minimum(1.0, (n - np.arange(n)) / (0.02 * sample_rate_hz))
        tilt = rng.uniform(0.8, 1.6)
        tone = sum(np.sin(2 * np.pi * h * f0 * t) / h ** tilt for h in range(1, 7) if h * f0 < 0.45 * sample_rate_hz)
        x[i:i + n] += tone * env * rng.uniform(0.7, 1.0)
    peak = np.abs(x).max()
    return (0.8 * x / peak if peak > 0 else x).astype(np.float32)
