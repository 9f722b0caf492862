"""Notes to a melody, and a melody to a key- and tempo-invariant contour.

Melody: the skyline
-------------------
Notes whose onsets lie within ``onset_window_s`` of each other form one
onset group; the melody keeps the highest note of each group among those at
least ``min_relative_amplitude`` times as strong as the group's strongest
and not at a harmonic (12, 19, 24, 28, 31, 34 or 36 semitones) above a
stronger note of the group (so an overtone the transcriber mistook for a
note does not win). This is the classic
"skyline" reduction: in most Western music the tune is on top.

Melody: the top voice (an option, ``line="top_voice"``)
-------------------------------------------------------
The skyline takes an inner voice's note wherever the tune holds while an
inner voice moves (a chorale's soprano on a half note over moving alto
quavers), so the skyline of one tune depends on its harmonisation. The
top voice leaves out an onset group whose chosen note lies under a higher
note still sounding: one of the kept notes of an earlier group that began
more than ``held_s`` before the group and ends more than ``held_s`` after
it. On transcribed audio this depends on the transcribed offsets (a
release tail that outlasts the next onset hides it). It is measured in
benchmarks/RESULTS.md ("top voice"); the check uses the skyline.

Contour: one event per pair of successive melody notes
------------------------------------------------------
Event ``j`` (``j = 0 .. n-2``) is the step from note ``j`` to note ``j+1``:

- ``intervals[j] = pitch[j+1] - pitch[j]`` in semitones, clipped to ±24.
  Transposing the whole melody leaves it unchanged.
- ``rhythm[j] = round(log2(ioi[j] / ioi[j-1]) / RHYTHM_STEP_OCT)``, where
  ``ioi[j] = onset[j+1] - onset[j]`` (seconds): the change of inter-onset
  interval in quarter octaves, clipped to ±8. Playing faster or slower
  leaves it unchanged. The first event has no previous IOI: ``rhythm_known``
  is False there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from consentry.engines.melody.transcribe import Note

__all__ = ["Contour", "Melody", "RHYTHM_STEP_OCT", "contour_of", "melody_from_notes"]

#: Quantisation step of IOI ratios (octaves): a quarter octave, ±19% in time.
RHYTHM_STEP_OCT = 0.25
#: Largest |interval| kept (semitones) and largest |rhythm| (steps).
MAX_INTERVAL = 24
MAX_RHYTHM = 8


@dataclass(frozen=True)
class Melody:
    """A monophonic melody.

    Attributes
    ----------
    onsets_s : numpy.ndarray of float64, shape (n,)
        Note onsets (seconds), strictly increasing.
    pitches : numpy.ndarray of int16, shape (n,)
        MIDI note numbers.
    """

    onsets_s: np.ndarray
    pitches: np.ndarray

    def __len__(self) -> int:
        return int(self.onsets_s.size)

    @classmethod
    def from_arrays(cls, onsets_s: Iterable[float], pitches: Iterable[int]) -> "Melody":
        """A melody from onsets (seconds) and MIDI pitches, sorted by onset; equal onsets keep the highest."""
        t = np.asarray(list(onsets_s), dtype=np.float64)
        p = np.asarray(list(pitches), dtype=np.int16)
        if t.shape != p.shape:
            raise ValueError("onsets_s and pitches must have the same length")
        order = np.lexsort((-p, t))
        t, p = t[order], p[order]
        keep = np.ones(t.size, dtype=bool)
        keep[1:] = np.diff(t) > 0
        return cls(onsets_s=t[keep], pitches=p[keep])


@dataclass(frozen=True)
class Contour:
    """Key- and tempo-invariant events of a melody (see the module docstring).

    Attributes
    ----------
    intervals : numpy.ndarray of int16, shape (n-1,)
        Semitones from each note to the next.
    rhythm : numpy.ndarray of int16, shape (n-1,)
        Quantised log2 IOI ratios (steps of :data:`RHYTHM_STEP_OCT`).
    rhythm_known : numpy.ndarray of bool, shape (n-1,)
        False for the first event, which has no previous IOI.
    melody : Melody
        The melody the events come from (for times and pitches).
    """

    intervals: np.ndarray
    rhythm: np.ndarray
    rhythm_known: np.ndarray
    melody: Melody

    def __len__(self) -> int:
        return int(self.intervals.size)


def melody_from_notes(
    notes: Iterable[Note],
    *,
    onset_window_s: float = 0.05,
    min_relative_amplitude: float = 0.5,
    line: str = "skyline",
    held_s: float = 0.05,
    drop_overtones: bool = True,
) -> Melody:
    """Melody of a note list: the highest strong note of each onset group (skyline), or the top voice.

    Parameters
    ----------
    notes : iterable of Note
    onset_window_s : float
        Notes starting within this time of a group's first note join it (seconds).
    min_relative_amplitude : float
        Only notes at least this fraction of the group's strongest compete.
    line : {"skyline", "top_voice"}
        ``"top_voice"`` also leaves out a group whose highest kept note lies under a higher kept note of an
        earlier group still sounding (see the module docstring).
    held_s : float
        With ``"top_voice"``: a note hides a group when it began more than this before the group's onset and
        ends more than this after it (seconds).
    drop_overtones : bool
        Leave out a note at a harmonic interval above a stronger note of its group (the default). False keeps
        it: in four-part writing the melody often doubles the bass two octaves up, and the filter then drops
        it (benchmarks/RESULTS.md, "The top voice").

    Returns
    -------
    Melody
        Empty for an empty note list.
    """
    if line not in ("skyline", "top_voice"):
        raise ValueError(f"line must be 'skyline' or 'top_voice', not {line!r}")
    onsets: list[float] = []
    pitches: list[int] = []
    sounding: list[Note] = []    # kept notes of earlier groups that may still hide a later one (top voice)
    for t0, real in onset_groups(notes, onset_window_s=onset_window_s,
                                 min_relative_amplitude=min_relative_amplitude, drop_overtones=drop_overtones):
        top = max(real, key=lambda n: n.midi_pitch)
        if line == "top_voice":
            sounding = [n for n in sounding if n.end_s > t0 + held_s]
            hidden = any(n.midi_pitch > top.midi_pitch and n.start_s < t0 - held_s for n in sounding)
            sounding.extend(real)
            if hidden:
                continue
        onsets.append(t0)
        pitches.append(top.midi_pitch)
    return Melody(onsets_s=np.asarray(onsets, dtype=np.float64), pitches=np.asarray(pitches, dtype=np.int16))


def onset_groups(notes: Iterable[Note], *, onset_window_s: float, min_relative_amplitude: float,
                 drop_overtones: bool = True) -> Iterator[tuple[float, list[Note]]]:
    """The onset groups of a note list, in time order: ``(onset_s, notes)`` for each.

    A group is a note and every later one starting within ``onset_window_s``
    seconds of it; of these, the notes at least ``min_relative_amplitude`` of
    the loudest, without (if ``drop_overtones``) those that sit at a harmonic
    of a stronger note of the group (unless all do), in the order of the
    sorted list.
    """
    notes = sorted(notes, key=lambda n: n.start_s)
    i = 0
    while i < len(notes):
        t0 = notes[i].start_s
        j = i
        while j < len(notes) and notes[j].start_s - t0 <= onset_window_s:
            j += 1
        group = notes[i:j]
        loudest = max(n.amplitude for n in group)
        strong = [n for n in group if n.amplitude >= min_relative_amplitude * loudest]
        yield t0, ([n for n in strong if not _is_overtone(n, group)] if drop_overtones else []) or strong
        i = j


#: Semitones from a fundamental to its 2nd..8th harmonics (rounded).
_HARMONIC_SEMITONES = frozenset({12, 19, 24, 28, 31, 34, 36})


def _is_overtone(note: Note, group: list[Note]) -> bool:
    """True if ``note`` sits at a harmonic of a stronger note of its onset group (a transcription artefact)."""
    return any(
        note.midi_pitch - other.midi_pitch in _HARMONIC_SEMITONES and other.amplitude > note.amplitude
        for other in group
    )


def contour_of(melody: Melody) -> Contour:
    """The events of a melody (see the module docstring); empty for fewer than two notes."""
    p = melody.pitches.astype(np.int32)
    t = melody.onsets_s
    if p.size < 2:
        empty = np.zeros(0, dtype=np.int16)
        return Contour(intervals=empty, rhythm=empty.copy(), rhythm_known=np.zeros(0, bool), melody=melody)
    intervals = np.clip(np.diff(p), -MAX_INTERVAL, MAX_INTERVAL).astype(np.int16)
    ioi = np.maximum(np.diff(t), 1e-3)
    rhythm = np.zeros(ioi.size, dtype=np.int16)
    rhythm[1:] = np.clip(np.rint(np.log2(ioi[1:] / ioi[:-1]) / RHYTHM_STEP_OCT), -MAX_RHYTHM, MAX_RHYTHM)
    known = np.ones(ioi.size, dtype=bool)
    known[0] = False
    return Contour(intervals=intervals, rhythm=rhythm, rhythm_known=known, melody=melody)
