"""Standard MIDI files for the real-music melody benchmark: read, alter, write, render.

Used by ``benchmarks/run_melody_real.py`` only (not by consentry). Written
here from the Standard MIDI File 1.0 layout: a header chunk (format, track
count, ticks per quarter note) and track chunks of delta-timed events
(channel messages with running status, meta events, SysEx).

A file is read into a :class:`Song`: its notes in seconds (the tempo map of
all tracks applied) and the channel events that shape the sound (program,
controllers, pitch bend), also in seconds. A song is written back as a
format-0 file at a fixed 120 beats per minute and 480 ticks per beat (960
ticks per second), so times survive to about a millisecond.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["MidiNote", "Song", "read_midi", "write_midi", "render", "skyline_indices", "DRUM_CHANNEL"]

#: Channel 10 (index 9) is the General MIDI percussion channel: its "pitches" are drums.
DRUM_CHANNEL = 9
_TICKS_PER_BEAT_OUT = 480
_US_PER_BEAT_OUT = 500_000  # 120 bpm
_TICKS_PER_S_OUT = _TICKS_PER_BEAT_OUT * 1_000_000 / _US_PER_BEAT_OUT


@dataclass(frozen=True)
class MidiNote:
    """One note: onset and offset (seconds), MIDI pitch, velocity (1-127), channel (0-15)."""

    start_s: float
    end_s: float
    pitch: int
    velocity: int
    channel: int


@dataclass
class Song:
    """Notes and sound-shaping channel events of a MIDI file, times in seconds.

    Attributes
    ----------
    notes : list of MidiNote
        Sorted by onset.
    controls : list of (float, bytes)
        Program changes (0xCn), controllers (0xBn) and pitch bends (0xEn),
        each with its time (seconds), sorted by time.
    """

    notes: list[MidiNote]
    controls: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return max((n.end_s for n in self.notes), default=0.0)


def _vlq(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos


def _chunks(data: bytes):
    pos = 0
    while pos + 8 <= len(data):
        kind, length = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 8 + length


_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}


def read_midi(path: str | Path) -> Song:
    """Read a Standard MIDI File (format 0 or 1, ticks-per-beat timing).

    Raises
    ------
    ValueError
        If the file is not a MIDI file this reader handles (the message names the file).
    """
    data = Path(path).read_bytes()
    chunks = list(_chunks(data))
    if not chunks or chunks[0][0] != b"MThd" or len(chunks[0][1]) < 6:
        raise ValueError(f"{path}: not a Standard MIDI File")
    fmt, _ntrk, division = struct.unpack(">HHH", chunks[0][1][:6])
    if division & 0x8000 or fmt not in (0, 1):
        raise ValueError(f"{path}: SMPTE timing or format {fmt} is not handled")
    tempos: list[tuple[int, int]] = []          # (tick, microseconds per beat)
    events: list[tuple[int, int, bytes]] = []   # (tick, order, channel message)
    order = 0
    for kind, body in chunks[1:]:
        if kind != b"MTrk":
            continue
        pos, tick, status = 0, 0, 0
        while pos < len(body):
            delta, pos = _vlq(body, pos)
            tick += delta
            b = body[pos]
            if b == 0xFF:
                mtype = body[pos + 1]
                length, pos = _vlq(body, pos + 2)
                if mtype == 0x51 and length == 3:
                    tempos.append((tick, int.from_bytes(body[pos:pos + 3], "big")))
                pos += length
                if mtype == 0x2F:
                    break
                continue
            if b in (0xF0, 0xF7):
                length, pos = _vlq(body, pos + 1)
                pos += length
                continue
            if b & 0x80:
                status = b
                pos += 1
            n = _DATA_BYTES.get(status >> 4)
            if n is None:
                raise ValueError(f"{path}: bad MIDI event 0x{status:02x} at byte {pos}")
            events.append((tick, order, bytes([status]) + body[pos:pos + n]))
            order += 1
            pos += n
    tempos.sort()
    to_s = _tick_clock(tempos, division)
    events.sort()
    notes: list[MidiNote] = []
    controls: list[tuple[float, bytes]] = []
    sounding: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for tick, _, msg in events:
        t = to_s(tick)
        kind, ch = msg[0] >> 4, msg[0] & 0x0F
        if kind == 0x9 and msg[2] > 0:
            sounding.setdefault((ch, msg[1]), []).append((t, msg[2]))
        elif kind in (0x8, 0x9):
            started = sounding.get((ch, msg[1]))
            if started:
                t0, vel = started.pop(0)
                if t > t0:
                    notes.append(MidiNote(t0, t, msg[1], vel, ch))
        elif kind in (0xB, 0xC, 0xE):
            controls.append((t, msg))
    notes.sort(key=lambda n: (n.start_s, -n.pitch))
    return Song(notes=notes, controls=controls)


def _tick_clock(tempos: list[tuple[int, int]], division: int):
    """A function from ticks to seconds under a tempo map (default 120 bpm before the first tempo)."""
    marks = [(0, 0.0, 500_000)]
    for tick, us in tempos:
        t0, s0, us0 = marks[-1]
        marks.append((tick, s0 + (tick - t0) * us0 / 1e6 / division, us))

    def to_s(tick: int) -> float:
        lo = 0
        for k in range(len(marks)):
            if marks[k][0] <= tick:
                lo = k
            else:
                break
        t0, s0, us = marks[lo]
        return s0 + (tick - t0) * us / 1e6 / division

    return to_s


def _vlq_bytes(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def write_midi(song: Song, path: str | Path) -> None:
    """Write ``song`` as a format-0 file (120 bpm, 480 ticks per beat)."""
    evs: list[tuple[int, int, bytes]] = []
    for t, msg in song.controls:
        evs.append((round(t * _TICKS_PER_S_OUT), 0, msg))
    for n in song.notes:
        on = round(n.start_s * _TICKS_PER_S_OUT)
        off = max(on + 1, round(n.end_s * _TICKS_PER_S_OUT))
        evs.append((on, 2, bytes([0x90 | n.channel, n.pitch, max(1, min(127, n.velocity))])))
        evs.append((off, 1, bytes([0x80 | n.channel, n.pitch, 0])))
    evs.sort(key=lambda e: (e[0], e[1]))
    track = bytearray(b"\x00\xFF\x51\x03" + _US_PER_BEAT_OUT.to_bytes(3, "big"))
    last = 0
    for tick, _, msg in evs:
        track += _vlq_bytes(max(0, tick - last)) + msg
        last = max(last, tick)
    track += b"\x00\xFF\x2F\x00"
    out = b"MThd" + struct.pack(">IHHH", 6, 0, 1, _TICKS_PER_BEAT_OUT) + b"MTrk" + struct.pack(">I", len(track)) + track
    Path(path).write_bytes(out)


def render(midi: str | Path, wav: str | Path, *, soundfont: str | Path, sample_rate_hz: int = 22050,
           gain: float = 0.4) -> None:
    """Render a MIDI file to a WAV file with FluidSynth (``apt-get install fluidsynth``).

    Raises
    ------
    RuntimeError
        If fluidsynth is missing or fails (the message names the file).
    """
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RuntimeError("fluidsynth not found: apt-get install fluidsynth")
    cmd = [exe, "-ni", "-q", "-g", str(gain), "-r", str(sample_rate_hz), "-F", str(wav), str(soundfont), str(midi)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not Path(wav).exists():
        raise RuntimeError(f"{midi}: fluidsynth failed: {done.stderr.strip()[:300]}")


def skyline_indices(notes: list[MidiNote], *, onset_window_s: float = 0.05) -> list[list[int]]:
    """Onset groups of the pitched notes (drums left out), highest note first in each group.

    Notes starting within ``onset_window_s`` of a group's first note join it
    (the rule of ``consentry.engines.melody.contour.melody_from_notes``). The
    first index of each group is the group's skyline note: the benchmark's
    ground-truth melody.
    """
    pitched = [k for k, n in enumerate(notes) if n.channel != DRUM_CHANNEL]
    pitched.sort(key=lambda k: notes[k].start_s)
    groups: list[list[int]] = []
    i = 0
    while i < len(pitched):
        t0 = notes[pitched[i]].start_s
        j = i
        while j < len(pitched) and notes[pitched[j]].start_s - t0 <= onset_window_s:
            j += 1
        groups.append(sorted(pitched[i:j], key=lambda k: -notes[k].pitch))
        i = j
    return groups


def with_notes(song: Song, notes: list[MidiNote], controls: list[tuple[float, bytes]] | None = None) -> Song:
    """A copy of ``song`` with other notes (and controls)."""
    return replace(song, notes=sorted(notes, key=lambda n: (n.start_s, -n.pitch)),
                   controls=list(song.controls if controls is None else controls))
