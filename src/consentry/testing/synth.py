"""Deterministic synthesised music for the demo, the tests and the benchmark.

:func:`synthesise_piece` turns a seed into a short piece of music: melody,
accompaniment, bass line and drums.  Everything about the piece comes from
the seed: key (tonic and mode), tempo (70-160 BPM), metre, swing, a chord
progression of 4-8 chords that loops with variations, the accompaniment
style (held pads under lighter stabs or arpeggios, rhythmic stabs, or
arpeggios), the bass rhythm, the drum
pattern and drum sounds, and the timbre of every instrument (harmonic
spectrum with its own tilt and formant, ADSR envelope, vibrato, sometimes
FM).  Two seeds therefore share no passage, which the identification tests
rely on: unrelated pieces must not match each other.

Same seed and same arguments give the same samples, bit for bit: the only
source of randomness is ``numpy.random.default_rng(seed)`` (and generators
spawned from it, one per part, so that each part's choices do not depend
on how many random numbers another part drew).

Notes are rendered one at a time but vectorised over their samples, from a
single-period wavetable holding the instrument's harmonics below 0.45 times
the sample rate (built once per instrument and pitch), so a minute of music
takes a fraction of a second.

:func:`piece_title` gives each seed a made-up title such as
"Amber Harbour"; distinct seeds get distinct titles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MODES", "piece_title", "synthesise_piece"]

#: Scales used for keys: semitones above the tonic of the seven degrees.
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}

_TABLE_SIZE = 8192  # samples in one wavetable period (a power of two)
_STEPS_PER_BEAT = 4  # the rhythmic grid is in sixteenth notes

# ---------------------------------------------------------------------------
# Titles
# ---------------------------------------------------------------------------

_ADJECTIVES = (
    "Amber", "Quiet", "Northern", "Electric", "Paper", "Velvet", "Hollow", "Golden", "Restless", "Salt",
    "Midnight", "Glass", "Wandering", "Copper", "Distant", "Silver", "Crimson", "Gentle", "Winter", "Hidden",
    "Bright", "Autumn", "Lonely", "Silent", "Scarlet", "Emerald", "Sleeping", "Burning", "Frozen", "Morning",
    "Secret", "Slow", "Faded", "Little", "Open", "Evening", "Coral", "Cobalt", "Lucky", "Southern",
)
_NOUNS = (
    "Harbour", "Lanterns", "Orchard", "Tide", "Comet", "Staircase", "Meadow", "Signal", "Ferry", "Garden",
    "Station", "Horizon", "River", "Letters", "Mirrors", "Engine", "Lighthouse", "Avenue", "Sparrows", "Valley",
    "Carousel", "Window", "Island", "Bridges", "Compass", "Echoes", "Balcony", "Orbit", "Postcards", "Rooftops",
    "Canyon", "Market", "Satellite", "Fountain", "Kites", "Harvest", "Tramline", "Glacier", "Parade", "Embers",
)
_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
          (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def _roman(number: int) -> str:
    out = []
    for value, letters in _ROMAN:
        count, number = divmod(number, value)
        out.append(letters * count)
    return "".join(out)


def piece_title(seed: int) -> str:
    """A made-up, deterministic title for the piece of ``seed``.

    Seeds 0 to 1599 map one-to-one onto "Adjective Noun" pairs (scrambled, so
    neighbouring seeds get unrelated titles); larger seeds reuse the pairs
    with a Roman numeral ("Amber Harbour II"), so distinct seeds always get
    distinct titles.

    Parameters
    ----------
    seed : int
        Non-negative seed, as for :func:`synthesise_piece`.

    Returns
    -------
    str
        The title, letters and spaces only (safe in a file name).
    """
    seed = _check_seed(seed)
    n_pairs = len(_ADJECTIVES) * len(_NOUNS)  # 1600
    cycle, k = divmod(seed, n_pairs)
    # 997 is coprime with 1600, so this is a permutation of 0..1599.
    index = (997 * k + 311) % n_pairs
    adjective, noun = divmod(index, len(_NOUNS))
    title = f"{_ADJECTIVES[adjective]} {_NOUNS[noun]}"
    return title if cycle == 0 else f"{title} {_roman(cycle + 1)}"


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# ---------------------------------------------------------------------------
# Instruments
# ---------------------------------------------------------------------------


def _midi_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


@dataclass
class _Voice:
    """A pitched instrument: harmonic spectrum, envelope, vibrato, FM."""

    tilt: float  # harmonic h has amplitude h ** -tilt before the formant
    formant_hz: float  # centre of a resonance in the spectral envelope
    formant_octaves: float  # its width (standard deviation, in octaves)
    formant_gain: float  # its height (linear, added to 1)
    even_gain: float  # even harmonics scaled by this (low: hollow, clarinet-like)
    n_harmonics: int
    attack_s: float
    decay_s: float
    sustain: float  # level after the decay, 0..1
    release_s: float
    fade_per_s: float = 0.0  # exponential fade under the whole note (plucked sounds)
    vibrato_cents: float = 0.0
    vibrato_hz: float = 5.0
    vibrato_delay_s: float = 0.25
    fm_ratio: float = 0.0  # modulator frequency / note frequency; 0: no FM
    fm_index: float = 0.0  # peak modulation index (radians)
    fm_index_decay_per_s: float = 0.0
    tables: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    def amplitudes(self, f0_hz: float, sample_rate_hz: int) -> np.ndarray:
        """Harmonic amplitudes, shape (n,), for a note at ``f0_hz``, band-limited."""
        limit = (0.35 if self.fm_index else 0.45) * sample_rate_hz
        n = max(1, min(self.n_harmonics, int(limit // f0_hz)))
        h = np.arange(1, n + 1, dtype=np.float64)
        octaves = np.log2(h * f0_hz / self.formant_hz)
        amps = h ** -self.tilt * (1.0 + self.formant_gain * np.exp(-0.5 * (octaves / self.formant_octaves) ** 2))
        amps[1::2] *= self.even_gain
        return amps / np.sqrt(np.sum(amps**2))

    def table(self, midi: int, sample_rate_hz: int) -> np.ndarray:
        """One period of the waveform of note ``midi``, shape (_TABLE_SIZE,), float64."""
        key = (midi, sample_rate_hz)
        if key not in self.tables:
            amps = self.amplitudes(_midi_hz(midi), sample_rate_hz)
            spectrum = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex128)
            spectrum[1:amps.size + 1] = -0.5j * _TABLE_SIZE * amps  # sum of a_h sin(h phase)
            self.tables[key] = np.fft.irfft(spectrum, n=_TABLE_SIZE)
        return self.tables[key]

    def render(self, notes: int | list[int], *, duration_s: float, sample_rate_hz: int, velocity: float) -> np.ndarray:
        """One note (or a chord: a list of MIDI notes) held for ``duration_s`` plus its release.

        Returns float64 samples, shape (n,); each note has peak level ``velocity``.
        """
        sr = sample_rate_hz
        hold = max(duration_s, 0.02)
        n_hold = int(hold * sr)
        n_release = max(1, int(self.release_s * sr))
        t = np.arange(n_hold + n_release) / sr
        if self.vibrato_cents:
            # Frequency f0 * (1 + depth(t) * sin(2 pi v t)), integrated in closed form
            # (depth rises slowly, so treating it as constant is accurate).
            depth = np.clip((t - self.vibrato_delay_s) * (1 / 0.3), 0.0, 1.0) * (self.vibrato_cents * np.log(2) / 1200)
            omega = 2 * np.pi * self.vibrato_hz
            periods_at_1hz = t + depth * (1.0 - np.cos(omega * t)) / omega
        else:
            periods_at_1hz = t
        if self.fm_index:
            fm_index = self.fm_index / (2 * np.pi) * np.exp(-self.fm_index_decay_per_s * t)
        wave = np.zeros_like(t)
        for midi in [notes] if isinstance(notes, (int, np.integer)) else notes:
            cycles = periods_at_1hz * _midi_hz(midi)
            if self.fm_index:
                cycles += fm_index * np.sin(2 * np.pi * self.fm_ratio * cycles)
            cycles *= _TABLE_SIZE
            positions = cycles.astype(np.int64)
            positions &= _TABLE_SIZE - 1
            wave += self.table(int(midi), sr)[positions]
        envelope = np.interp(t, [0.0, self.attack_s, self.attack_s + self.decay_s], [0.0, velocity, velocity * self.sustain])
        envelope[n_hold:] *= np.linspace(1.0, 0.0, n_release)
        if self.fade_per_s:
            envelope *= np.exp(-self.fade_per_s * t)
        wave *= envelope
        return wave


def _lead_voice(rng: np.random.Generator) -> _Voice:
    kind = rng.choice(["additive", "additive", "hollow", "fm"])
    return _Voice(
        tilt=float(rng.uniform(0.7, 1.6)),
        formant_hz=float(rng.uniform(700, 3000)),
        formant_octaves=float(rng.uniform(0.3, 0.8)),
        formant_gain=float(rng.uniform(0.5, 4.0)),
        even_gain=float(rng.uniform(0.05, 0.3)) if kind == "hollow" else float(rng.uniform(0.6, 1.0)),
        n_harmonics=int(rng.integers(6, 16)),
        attack_s=float(rng.uniform(0.008, 0.06)),
        decay_s=float(rng.uniform(0.08, 0.4)),
        sustain=float(rng.uniform(0.45, 0.9)),
        release_s=float(rng.uniform(0.05, 0.25)),
        fade_per_s=float(rng.uniform(0.0, 1.5)),
        vibrato_cents=float(rng.uniform(6, 30)),
        vibrato_hz=float(rng.uniform(4.5, 6.5)),
        vibrato_delay_s=float(rng.uniform(0.1, 0.35)),
        fm_ratio=float(rng.choice([1.0, 2.0, 3.0])) if kind == "fm" else 0.0,
        fm_index=float(rng.uniform(0.5, 2.0)) if kind == "fm" else 0.0,
        fm_index_decay_per_s=float(rng.uniform(1.0, 6.0)),
    )


def _comp_voice(rng: np.random.Generator, style: str) -> _Voice:
    held = style == "pad"
    return _Voice(
        tilt=float(rng.uniform(1.2, 2.2)),
        formant_hz=float(rng.uniform(400, 1800)),
        formant_octaves=float(rng.uniform(0.5, 1.2)),
        formant_gain=float(rng.uniform(0.0, 2.0)),
        even_gain=float(rng.uniform(0.4, 1.0)),
        n_harmonics=int(rng.integers(4, 10)),
        attack_s=float(rng.uniform(0.08, 0.3)) if held else float(rng.uniform(0.004, 0.02)),
        decay_s=float(rng.uniform(0.2, 0.8)) if held else float(rng.uniform(0.05, 0.25)),
        sustain=float(rng.uniform(0.6, 0.9)) if held else float(rng.uniform(0.2, 0.6)),
        release_s=float(rng.uniform(0.15, 0.5)) if held else float(rng.uniform(0.05, 0.2)),
        fade_per_s=0.0 if held else float(rng.uniform(1.0, 5.0)),
        vibrato_cents=float(rng.uniform(0.0, 6.0)) if held else 0.0,
        vibrato_hz=float(rng.uniform(3.0, 5.5)),
        fm_ratio=float(rng.choice([1.0, 2.0])) if rng.random() < 0.3 else 0.0,
        fm_index=float(rng.uniform(0.3, 1.2)),
        fm_index_decay_per_s=float(rng.uniform(2.0, 8.0)),
    )


def _bass_voice(rng: np.random.Generator) -> _Voice:
    return _Voice(
        tilt=float(rng.uniform(1.0, 2.5)),
        formant_hz=float(rng.uniform(150, 600)),
        formant_octaves=float(rng.uniform(0.4, 1.0)),
        formant_gain=float(rng.uniform(0.0, 3.0)),
        even_gain=float(rng.uniform(0.3, 1.0)),
        n_harmonics=int(rng.integers(3, 9)),
        attack_s=float(rng.uniform(0.004, 0.02)),
        decay_s=float(rng.uniform(0.05, 0.3)),
        sustain=float(rng.uniform(0.3, 0.8)),
        release_s=float(rng.uniform(0.03, 0.12)),
        fade_per_s=float(rng.uniform(0.5, 4.0)),
        fm_ratio=1.0 if rng.random() < 0.3 else 0.0,
        fm_index=float(rng.uniform(0.5, 1.5)),
        fm_index_decay_per_s=float(rng.uniform(4.0, 12.0)),
    )


# ---------------------------------------------------------------------------
# Drums
# ---------------------------------------------------------------------------


def _band_noise(rng: np.random.Generator, n: int, sample_rate_hz: int, low_hz: float, high_hz: float) -> np.ndarray:
    """White noise band-limited to [low_hz, high_hz] with soft (half-octave) edges; float64, shape (n,)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sample_rate_hz)
    octaves_below = np.log2(low_hz / np.maximum(f, 1.0))
    octaves_above = np.log2(np.maximum(f, 1.0) / high_hz)
    gain = np.clip(1.0 - 2.0 * octaves_below, 0.0, 1.0) * np.clip(1.0 - 2.0 * octaves_above, 0.0, 1.0)
    noise = np.fft.irfft(spectrum * gain, n=n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


@dataclass
class _DrumKit:
    kick: list[np.ndarray]
    snare: list[np.ndarray]
    hat: list[np.ndarray]
    open_hat: list[np.ndarray]


def _drum_kit(rng: np.random.Generator, sample_rate_hz: int) -> _DrumKit:
    """Per-seed drum sounds, three takes of each (float64 arrays)."""
    sr = sample_rate_hz
    nyquist = sr / 2

    def decay(n: int, per_s: float) -> np.ndarray:
        return np.exp(-per_s * np.arange(n) / sr)

    # Kick: a sine swept down from f_start to f_end, with a short click.
    f_end, f_start = rng.uniform(42, 68), rng.uniform(110, 240)
    sweep_per_s, kick_decay = rng.uniform(18, 45), rng.uniform(7, 16)
    n_kick = int(0.35 * sr)
    t = np.arange(n_kick) / sr
    freq = f_end + (f_start - f_end) * np.exp(-sweep_per_s * t)
    kick_body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * decay(n_kick, kick_decay)
    # Snare: a short tonal body plus band-passed noise.
    snare_centre = rng.uniform(1500, min(4000, 0.3 * sr))
    snare_body_hz, snare_decay = rng.uniform(160, 260), rng.uniform(14, 28)
    n_snare = int(0.3 * sr)
    t = np.arange(n_snare) / sr
    snare_body = np.sin(2 * np.pi * snare_body_hz * t) * decay(n_snare, 35.0)
    body_mix = rng.uniform(0.2, 0.6)
    # Hi-hat: high-passed noise, closed and open.
    hat_low = min(rng.uniform(5500, 8000), 0.6 * nyquist)
    hat_decay, open_decay = rng.uniform(35, 80), rng.uniform(7, 14)
    n_hat, n_open = int(0.08 * sr), int(0.4 * sr)

    kit = _DrumKit([], [], [], [])
    for _ in range(3):
        click = _band_noise(rng, n_kick, sr, 1000, min(6000, 0.9 * nyquist)) * decay(n_kick, 400.0) * 0.15
        kit.kick.append(kick_body + click)
        noise = _band_noise(rng, n_snare, sr, snare_centre / 1.8, min(snare_centre * 1.8, 0.95 * nyquist))
        kit.snare.append(body_mix * snare_body + (1 - body_mix) * 0.5 * noise * decay(n_snare, snare_decay))
        kit.hat.append(0.5 * _band_noise(rng, n_hat, sr, hat_low, 0.98 * nyquist) * decay(n_hat, hat_decay))
        kit.open_hat.append(0.4 * _band_noise(rng, n_open, sr, hat_low, 0.98 * nyquist) * decay(n_open, open_decay))
    return kit


def _drum_pattern(rng: np.random.Generator, steps_per_bar: int) -> dict[str, np.ndarray]:
    """Velocities (0..1) per sixteenth step of one bar for kick, snare and hat."""
    kick = np.zeros(steps_per_bar)
    snare = np.zeros(steps_per_bar)
    hat = np.zeros(steps_per_bar)
    beat = _STEPS_PER_BEAT
    waltz = steps_per_bar == 3 * beat
    kick[0] = 1.0
    if waltz:
        snare[[beat, 2 * beat] if rng.random() < 0.5 else [2 * beat]] = 0.9
    elif rng.random() < 0.2:  # half time
        snare[2 * beat] = 1.0
    else:  # backbeat
        snare[[beat, 3 * beat]] = 0.9
    if not waltz and rng.random() < 0.25:  # four on the floor
        kick[::beat] = 0.95
    else:
        for step in range(1, steps_per_bar):
            strength = 0.45 if step % beat == 0 else 0.25 if step % 2 == 0 else 0.1
            if snare[step] == 0 and rng.random() < strength:
                kick[step] = rng.uniform(0.6, 0.95)
    for step in range(steps_per_bar):  # ghost notes
        if snare[step] == 0 and kick[step] == 0 and step % 2 == 1 and rng.random() < 0.12:
            snare[step] = rng.uniform(0.15, 0.3)
    hat_style = rng.choice(["eighths", "sixteenths", "offbeats"])
    if hat_style == "eighths":
        hat[::2] = 0.7
        hat[::beat] = 1.0
    elif hat_style == "sixteenths":
        hat[:] = 0.45
        hat[::2] = 0.7
        hat[::beat] = 0.9
    else:
        hat[beat // 2::beat] = 1.0
    return {"kick": kick, "snare": snare, "hat": hat}


# ---------------------------------------------------------------------------
# The piece
# ---------------------------------------------------------------------------


@dataclass
class _Plan:
    """Everything about a piece that the seed decides before any note."""

    tonic: int  # MIDI note of the tonic in the octave below middle C
    scale: np.ndarray  # semitones of the 7 degrees
    step_s: float  # one sixteenth note, seconds
    steps_per_bar: int
    swing: float  # delay of odd sixteenths, fraction of a step
    chords: list[tuple[int, int]]  # (first step, root degree) of every chord change, in time order
    seventh: bool
    bars_per_section: int

    def midi(self, degree: int, octave: int = 0) -> int:
        """MIDI note of scale ``degree`` (any integer), ``octave`` octaves above the tonic."""
        return self.tonic + 12 * (octave + degree // 7) + int(self.scale[degree % 7])

    def time_s(self, step: float) -> float:
        whole = int(np.floor(step))
        return (step + (self.swing if whole % 2 == 1 else 0.0)) * self.step_s

    def chord_at(self, step: float) -> int:
        """Root degree (0..6) of the chord sounding at ``step``."""
        index = int(np.searchsorted([s for s, _ in self.chords], step, side="right")) - 1
        return self.chords[max(index, 0)][1]

    def chord_degrees(self, root: int) -> list[int]:
        return [root, root + 2, root + 4] + ([root + 6] if self.seventh else [])


_CHORD_WEIGHTS = np.array([3.0, 1.5, 1.0, 2.5, 2.5, 2.0, 0.6])  # I ii iii IV V vi vii


def _plan(rng: np.random.Generator, duration_s: float) -> _Plan:
    """Key, tempo, metre, swing and the chord of every bar (or half bar) up to ``duration_s``."""
    tonic = 48 + int(rng.integers(0, 12))
    mode = list(MODES)[int(rng.integers(len(MODES)))]
    bpm = float(rng.uniform(70, 160))
    beats_per_bar = 3 if rng.random() < 0.2 else 4
    steps_per_bar = beats_per_bar * _STEPS_PER_BEAT
    step_s = 60.0 / bpm / _STEPS_PER_BEAT
    swing = float(rng.choice([0.0, 0.0, rng.uniform(0.1, 0.35)]))
    n_chords = int(rng.integers(4, 9))
    progression = [0]
    for _ in range(n_chords - 1):
        weights = _CHORD_WEIGHTS.copy()
        weights[progression[-1]] = 0.0
        progression.append(int(rng.choice(7, p=weights / weights.sum())))
    chords_per_bar = 2 if (n_chords >= 6 and rng.random() < 0.5) else 1
    seventh = bool(rng.random() < 0.4)
    bars_per_section = int(rng.choice([4, 8]))
    chord_steps = steps_per_bar // chords_per_bar
    n_total = int(np.ceil(duration_s / step_s / chord_steps)) + 2
    chords = []
    for i in range(n_total):
        loop, position = divmod(i, n_chords)
        root = progression[position]
        if loop % 2 == 1 and position > 0 and rng.random() < 0.3:  # variation on the repeat
            weights = _CHORD_WEIGHTS.copy()
            weights[root] = 0.0
            root = int(rng.choice(7, p=weights / weights.sum()))
        if loop % 2 == 1 and position == n_chords - 1 and rng.random() < 0.5:
            root = 4  # a dominant turnaround
        chords.append((i * chord_steps, root))
    return _Plan(
        tonic=tonic, scale=np.array(MODES[mode]), step_s=step_s, steps_per_bar=steps_per_bar, swing=swing,
        chords=chords, seventh=seventh, bars_per_section=bars_per_section,
    )


class _Mix:
    """A float64 buffer that notes are added into."""

    def __init__(self, n: int, sample_rate_hz: int):
        self.samples = np.zeros(n, dtype=np.float64)
        self.sample_rate_hz = sample_rate_hz

    def add(self, start_s: float, sound: np.ndarray, gain: float) -> None:
        i = int(round(start_s * self.sample_rate_hz))
        if i < 0 or i >= self.samples.size:
            return
        m = min(sound.size, self.samples.size - i)
        self.samples[i:i + m] += gain * sound[:m]


def _add_drums(mix: _Mix, plan: _Plan, rng: np.random.Generator, total_steps: int) -> None:
    """Kick, snare and hi-hat on the seed's one-bar pattern, with extra kicks and section-end fills."""
    sr = mix.sample_rate_hz
    kit = _drum_kit(rng, sr)
    pattern = _drum_pattern(rng, plan.steps_per_bar)
    gains = {"kick": 0.9 * rng.uniform(0.8, 1.1), "snare": 0.7 * rng.uniform(0.8, 1.1), "hat": 0.3 * rng.uniform(0.7, 1.2)}
    open_hat_step = int(rng.choice([-1, plan.steps_per_bar - 2, 2 * _STEPS_PER_BEAT - 2]))
    n_bars = int(np.ceil(total_steps / plan.steps_per_bar))
    for bar in range(n_bars):
        first = bar * plan.steps_per_bar
        section_end = (bar + 1) % plan.bars_per_section == 0
        kick = pattern["kick"].copy()
        snare = pattern["snare"].copy()
        hat = pattern["hat"].copy()
        if rng.random() < 0.15:  # an extra kick now and then
            kick[int(rng.integers(1, plan.steps_per_bar))] = rng.uniform(0.5, 0.8)
        if section_end:  # a fill: snare sixteenths rising over the last beat
            fill = np.arange(plan.steps_per_bar - _STEPS_PER_BEAT, plan.steps_per_bar)
            snare[fill] = np.linspace(0.4, 1.0, fill.size)
            hat[fill] = 0.0
        for name, sounds in (("kick", kit.kick), ("snare", kit.snare), ("hat", kit.hat)):
            velocities = kick if name == "kick" else snare if name == "snare" else hat
            for step in np.flatnonzero(velocities):
                sound = sounds[int(rng.integers(len(sounds)))]
                if name == "hat" and step == open_hat_step and not section_end:
                    sound = kit.open_hat[int(rng.integers(len(kit.open_hat)))]
                velocity = velocities[step] * rng.uniform(0.85, 1.0)
                mix.add(plan.time_s(first + step), sound, gains[name] * velocity)


def _add_bass(mix: _Mix, plan: _Plan, rng: np.random.Generator, total_steps: int) -> None:
    """A bass line on the seed's rhythm: chord roots, fifths and approach notes, MIDI 28-50."""
    voice = _bass_voice(rng)
    sr = mix.sample_rate_hz
    rhythm = [0]
    for step in range(1, plan.steps_per_bar):
        strength = 0.5 if step % _STEPS_PER_BEAT == 0 else 0.3 if step % 2 == 0 else 0.08
        if rng.random() < strength:
            rhythm.append(step)
    legato = float(rng.uniform(0.5, 0.95))
    gain = 0.55 * rng.uniform(0.85, 1.1)
    octave = -2 if plan.tonic >= 53 else -1
    for bar in range(int(np.ceil(total_steps / plan.steps_per_bar))):
        first = bar * plan.steps_per_bar
        hits = rhythm if rng.random() < 0.8 else sorted(set(rhythm) | {int(rng.integers(1, plan.steps_per_bar))})
        for i, step in enumerate(hits):
            end = hits[i + 1] if i + 1 < len(hits) else plan.steps_per_bar
            root = plan.chord_at(first + step)
            next_root = plan.chord_at(first + end)
            if step == 0 or rng.random() < 0.55:
                degree = root
            elif end == plan.steps_per_bar and next_root != root and rng.random() < 0.6:
                degree = next_root + int(rng.choice([-1, 1]))  # approach the next chord
            else:
                degree = root + int(rng.choice([4, 7, 2, -3]))
            midi = plan.midi(degree, octave)
            while midi > 50:
                midi -= 12
            while midi < 28:
                midi += 12
            duration = (end - step) * plan.step_s * legato
            note = voice.render(midi, duration_s=duration, sample_rate_hz=sr, velocity=rng.uniform(0.8, 1.0))
            mix.add(plan.time_s(first + step), note, gain)


def _add_comp(mix: _Mix, plan: _Plan, rng: np.random.Generator, total_steps: int, *, style: str,
              level: float = 1.0, centre_midi: int = 57) -> None:
    """Accompaniment following the chords: held "pad", rhythmic "stabs" or "arpeggio"."""
    voice = _comp_voice(rng, style)
    sr = mix.sample_rate_hz
    gain = {"pad": 0.16, "stabs": 0.2, "arpeggio": 0.3}[style] * level * rng.uniform(0.8, 1.15)
    stab_steps = [s for s in range(plan.steps_per_bar) if rng.random() < (0.5 if s % 2 == 0 else 0.15)] or [0]
    arp_every = int(rng.choice([2, 2, 1])) if plan.step_s > 0.1 else 2
    arp_order = str(rng.choice(["up", "down", "updown", "random"]))
    centre = centre_midi + int(rng.integers(-3, 4))  # voicings gather around this MIDI note
    changes = [(s, r) for s, r in plan.chords if s < total_steps]
    previous: list[int] | None = None
    for k, (start, root) in enumerate(changes):
        end = changes[k + 1][0] if k + 1 < len(changes) else total_steps
        # Voice leading: the inversion closest to the previous chord.
        candidates = []
        for inversion in range(4):
            notes = sorted(plan.midi(d) + (12 if i < inversion else 0) for i, d in enumerate(plan.chord_degrees(root)))
            shift = 12 * round((centre - np.mean(notes)) / 12)
            notes = [m + shift for m in notes]
            cost = abs(np.mean(notes) - centre) + (sum(abs(a - b) for a, b in zip(notes, previous)) if previous else 0)
            candidates.append((cost, notes))
        notes = min(candidates)[1]
        previous = notes
        if style == "pad":
            mix.add(plan.time_s(start), voice.render(notes, duration_s=(end - start) * plan.step_s, sample_rate_hz=sr,
                                                     velocity=rng.uniform(0.8, 1.0)), gain)
        elif style == "stabs":
            bar_start = start - start % plan.steps_per_bar
            for s in stab_steps:
                step = bar_start + s
                if start <= step < end:
                    length = 1.5 * plan.step_s * rng.uniform(0.8, 1.5)
                    mix.add(plan.time_s(step), voice.render(notes, duration_s=length, sample_rate_hz=sr,
                                                            velocity=rng.uniform(0.7, 1.0)), gain)
        else:
            sequence = notes + [notes[0] + 12]
            if arp_order == "down":
                sequence = sequence[::-1]
            elif arp_order == "updown":
                sequence = sequence + sequence[-2:0:-1]
            for i, step in enumerate(range(start, end, arp_every)):
                m = sequence[int(rng.integers(len(sequence)))] if arp_order == "random" else sequence[i % len(sequence)]
                mix.add(plan.time_s(step), voice.render(m, duration_s=arp_every * plan.step_s * 0.9, sample_rate_hz=sr,
                                                        velocity=rng.uniform(0.6, 1.0)), gain)


def _add_melody(mix: _Mix, plan: _Plan, rng: np.random.Generator, total_steps: int) -> None:
    """Phrases of a random walk on the scale, drawn to chord tones on the beat, with rests between.

    A phrase sometimes answers the previous one with the same rhythm and new
    pitches, so the melody has shape without repeating itself.
    """
    voice = _lead_voice(rng)
    sr = mix.sample_rate_hz
    gain = 0.5 * rng.uniform(0.85, 1.1)
    density = float(rng.uniform(0.35, 0.8))
    articulation = float(rng.uniform(0.55, 1.0))
    # The melody's tonic is MIDI 66-77 (the piece's tonic one or two octaves up); it moves
    # over degrees -2..9 of the scale, and every third section a third higher (at most MIDI 96).
    octave = 2 if plan.tonic < 54 else 1
    low, high = -2, 9
    degree = int(rng.integers(0, 7))
    lifts = (0, 0, 2)
    step = plan.steps_per_bar if rng.random() < 0.5 else 0
    previous_rhythm: list[int] | None = None
    while step < total_steps:
        bars = int(rng.choice([1, 2, 2, 4]))
        length = bars * plan.steps_per_bar // (2 if bars == 1 and rng.random() < 0.4 else 1)
        if previous_rhythm is not None and previous_rhythm[-1] < length and rng.random() < 0.45:
            rhythm = list(previous_rhythm)  # answer the last phrase with its rhythm, new pitches
            if rng.random() < 0.5 and len(rhythm) > 2:
                rhythm.pop(int(rng.integers(1, len(rhythm))))
        else:
            rhythm = [0]
            for s in range(1, length - 1):
                strength = 1.0 if s % _STEPS_PER_BEAT == 0 else 0.6 if s % 2 == 0 else 0.2
                if rng.random() < density * strength:
                    rhythm.append(s)
        previous_rhythm = rhythm
        section = (step // plan.steps_per_bar) // plan.bars_per_section
        lift = lifts[section % 3]
        for i, s in enumerate(rhythm):
            at = step + s
            if at >= total_steps:
                break
            move = int(rng.choice([-2, -1, -1, 0, 1, 1, 2, -3, 3, 4, -4], p=[.1, .2, .2, .06, .2, .12, .04, .02, .02, .02, .02]))
            degree += move
            if degree > high or degree < low:
                degree -= 2 * move
            degree = int(np.clip(degree, low, high))
            chord = plan.chord_degrees(plan.chord_at(at))
            if s % _STEPS_PER_BEAT == 0 and degree % 7 not in {d % 7 for d in chord} and rng.random() < 0.6:
                degree += 1 if (degree + 1) % 7 in {d % 7 for d in chord} else -1
            end = rhythm[i + 1] if i + 1 < len(rhythm) else min(length, s + int(rng.choice([2, 4, 6])))
            duration = max(end - s, 1) * plan.step_s * articulation
            jitter_s = float(rng.normal(0.0, 0.004))
            note = voice.render(plan.midi(degree + lift, octave), duration_s=duration, sample_rate_hz=sr,
                                velocity=rng.uniform(0.75, 1.0) * (1.1 if s % _STEPS_PER_BEAT == 0 else 1.0))
            mix.add(plan.time_s(at) + jitter_s, note, gain)
        rest = int(rng.choice([2, 4, 4, 6, 8]))
        step += length + rest


def synthesise_piece(seed: int, *, duration_s: float, sample_rate_hz: int = 22050) -> np.ndarray:
    """Synthesise a piece of music that is unique to ``seed``.

    Melody, accompaniment (held pad, stabs or arpeggio), bass line and drums
    (kick, snare, hi-hat) over a looping chord progression; key, mode, tempo,
    metre, patterns and timbres all come from the seed.

    Parameters
    ----------
    seed : int
        Non-negative integer that decides everything about the piece.
    duration_s : float
        Length of the result, seconds (> 0).
    sample_rate_hz : int, optional
        Sample rate of the result, Hz (at least 8000).

    Returns
    -------
    numpy.ndarray of float32, shape (round(duration_s * sample_rate_hz),)
        Mono samples, normalised to a peak of 0.8.

    Notes
    -----
    Deterministic: the same seed and arguments give bit-identical output.
    A longer duration is not a sample-exact extension of a shorter one (the
    peak normalisation depends on the whole piece), but it plays the same
    notes over their common stretch.
    """
    seed = _check_seed(seed)
    if not duration_s > 0:
        raise ValueError(f"duration_s must be positive, got {duration_s!r}")
    if int(sample_rate_hz) != sample_rate_hz or sample_rate_hz < 8000:
        raise ValueError(f"sample_rate_hz must be an integer of at least 8000, got {sample_rate_hz!r}")
    sr = int(sample_rate_hz)
    n = int(round(duration_s * sr))
    rng = np.random.default_rng(seed)
    parts = rng.spawn(6)
    plan = _plan(parts[0], duration_s)
    total_steps = int(np.ceil(duration_s / plan.step_s)) + 1
    mix = _Mix(n, sr)
    _add_drums(mix, plan, parts[1], total_steps)
    _add_bass(mix, plan, parts[2], total_steps)
    style = str(parts[3].choice(["pad", "stabs", "arpeggio"]))
    _add_comp(mix, plan, parts[3], total_steps, style=style)
    if style == "pad":  # a held pad gets a lighter rhythmic layer above it
        second = str(parts[5].choice(["stabs", "arpeggio"]))
        _add_comp(mix, plan, parts[5], total_steps, style=second, level=0.7, centre_midi=67)
    _add_melody(mix, plan, parts[4], total_steps)
    x = mix.samples
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0:
        x = x * (0.8 / peak)
    return x.astype(np.float32)
