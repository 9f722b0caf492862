"""Melodies on real music (issue 21): phrases of real tunes, played by other instruments, found in the registry?

Data (Debian packages; ``bash benchmarks/fetch_melody_midi.sh`` installs them):
the MIDI tunes of openttd-openmsx (31, OpenTTD's music) and
planetblupi-music-midi (10, Planet Blupi's), and six folk tunes of abcmidi's
examples (converted with abc2midi). Every tune is cut to its first
``--cap-s`` seconds (240).

- **Registered works** are rendered with soundfont A (fluid-soundfont-gm,
  FluidR3_GM) and transcribed, as ``consentry works melodies`` would.
- **Positive outputs**: an 8-16-note phrase of a registered tune (8-16
  onsets of its skyline: the highest pitched note of each onset group, the
  ground-truth melody), cut from the MIDI with the whole arrangement,
  transposed by ±1-6 semitones, played 0.8-1.25 times as fast, with one of
  no note error / one note a semitone off / one dropped note / one inserted
  note / one dropped and one inserted note (on the skyline, never its first
  or last note), in half of them with every pitched channel moved to
  another General MIDI instrument; rendered with soundfont B
  (timgm6mb-soundfont, TimGM6mb) and put between two 8-15 s passages of an
  unregistered tune of the same half (also rendered with B).
- **Negative outputs**: 30-s windows of the unregistered tunes of the half,
  rendered with B once as written and once transposed, faster or slower and
  re-orchestrated.

Each output is checked as ``consentry check`` checks a melody
(consentry.services.check.service._melody_check): the skyline of its
transcribed notes against every registered melody of the half, with the
per-output budget ``MELODY_FALSE_ALARM_PER_OUTPUT`` shared among them. A
positive is *found* when a phrase names its tune within 2 s of where the
copy starts in the output. A *false finding* is a phrase that names another
tune (or lies outside the copy) in a positive output, or any phrase in a
negative output.

Tunes are split by a hash of their name into a development half ("dev") and
a held-out half ("held-out"), and within each half a third (by another byte
of the hash) stays unregistered. Run from the repository root:

    nice -n 10 .venv/bin/python benchmarks/run_melody_real.py --half dev
    nice -n 10 .venv/bin/python benchmarks/run_melody_real.py --half held-out      # once, at the end

The held-out half was measured once in session 3 and is spent (development data since). Session 5 added a
second held-out set, ``--half freedoom``: the 66 distinct music lumps (Standard MIDI Files) of Debian's
freedoom package, tunes that share nothing with the two halves; a third of them (by the same hash rule) stay
unregistered. ``--pitch-sets`` scores every output-work pair with the pitch-set matcher
(consentry.engines.melody.pitchsets) and/or the skyline, fits the pitch-set null on ``--fit-on`` halves and
reports found rates and false matches with Wilson intervals (benchmarks/melody_pitchsets.py):

    V='{"pitch_sets": {"sets": {"max_notes": 3}, "scoring": {"unison_exact": 0.0, "choice": 1.5}}}'
    nice -n 10 .venv/bin/python benchmarks/run_melody_real.py --half dev --fit-on dev --pitch-sets "$V" \
        --record benchmarks/fits/melody_pitch_sets.json

Session 6 fitted the skyline's null on real music (``"null": "fit"`` in a skyline entry of ``--pitch-sets``, with
``--fit-on dev --record benchmarks/fits/melody_skyline_real.json``; it is not the check's null) and added a third
held-out set, ``--half chorales``: Bach chorales from music21's corpus (benchmarks/melody_chorales.py), where
the outputs' phrases are cut from another harmonisation of the registered chorale's melody. Session 7 added a
fourth, ``--half fiddle``: dance tunes printed in both O'Neill's and Ryan's collections (benchmarks/melody_fiddle.py),
the outputs' phrases cut from Ryan's setting of the registered O'Neill tune; and ``"melody": {"line": "top_voice"}``
in a skyline entry of ``--pitch-sets`` (the top-voice line of consentry.engines.melody.contour). Session 8 added a
fifth, ``--half ryan``: Ryan's tunes not in O'Neill's (benchmarks/melody_ryan.py), phrases cut from the tune itself.

Renders, queries and transcriptions are cached in benchmarks/work/melody-real/
(``--work``), so a second run only aligns. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consentry.runtime.threads import prefer_one_thread_env  # noqa: E402

prefer_one_thread_env()

import numpy as np  # noqa: E402

import melody_midi as mm  # noqa: E402
from fitting import wilson  # noqa: E402

SOUNDFONT_A = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SOUNDFONT_B = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
MIDI_DIRS = {"openmsx": Path("/usr/share/games/openttd/baseset/openmsx"),
             "blupi": Path("/usr/share/planetblupi/music")}
ABC_DIR = Path("/usr/share/doc/abcmidi/examples")
#: Freedoom's game data (Debian package freedoom): the second held-out set of tunes (session 5), used nowhere else.
FREEDOOM_WADS = (Path("/usr/share/games/doom/freedoom1.wad"), Path("/usr/share/games/doom/freedoom2.wad"))
#: abcmidi's examples that are tunes (the others demonstrate features: drums, temperaments, detuning).
ABC_TUNES = ("araber", "baym_rebin", "boys", "coleraine", "daramud", "dergasn")
#: General MIDI programs (0-based) a re-orchestrated output moves its pitched channels to.
OTHER_PROGRAMS = (0, 4, 11, 19, 24, 40, 48, 56, 65, 71, 73, 80, 81)
ERRORS = ("none", "semitone", "drop", "insert", "drop+insert")
SR = 22050


# ---------------------------------------------------------------- tunes and the split
def tunes(work: Path) -> dict[str, Path]:
    """``{"package/name": midi path}`` of every tune (abc tunes converted into ``work``/abc)."""
    out = {}
    for pkg, folder in MIDI_DIRS.items():
        for p in sorted(folder.glob("*.mid")):
            out[f"{pkg}/{p.stem}"] = p
    (work / "abc").mkdir(parents=True, exist_ok=True)
    for name in ABC_TUNES:
        mid = work / "abc" / f"{name}.mid"
        if not mid.exists():
            subprocess.run(["abc2midi", str(ABC_DIR / f"{name}.abc"), "-o", str(mid), "-silent"],
                           capture_output=True, check=False)
        if mid.exists():
            out[f"abc/{name}"] = mid
    if not out:
        raise SystemExit("run_melody_real: no MIDI tunes found: bash benchmarks/fetch_melody_midi.sh")
    return out


def freedoom_tunes(work: Path) -> dict[str, Path]:
    """``{"freedoom/wad-LUMP": midi path}``: the music lumps (``D_*``, Standard MIDI Files) of Freedoom's two
    WADs, written into ``work``/freedoom; a lump whose bytes an earlier one already had is left out."""
    import struct

    out, seen = {}, set()
    (work / "freedoom").mkdir(parents=True, exist_ok=True)
    for wad in FREEDOOM_WADS:
        if not wad.exists():
            raise SystemExit(f"run_melody_real: {wad} missing: bash benchmarks/fetch_melody_midi.sh")
        data = wad.read_bytes()
        _, count, directory = struct.unpack("<4sii", data[:12])
        for i in range(count):
            pos, size, raw = struct.unpack("<ii8s", data[directory + 16 * i:directory + 16 * i + 16])
            lump, body = raw.rstrip(b"\0").decode("ascii"), data[pos:pos + size]
            digest = hashlib.sha256(body).hexdigest()
            if not lump.startswith("D_") or body[:4] != b"MThd" or digest in seen:
                continue
            seen.add(digest)
            mid = work / "freedoom" / f"{wad.stem}-{lump}.mid"
            if not mid.exists():
                mid.write_bytes(body)
            out[f"freedoom/{wad.stem}-{lump}"] = mid
    return out


#: Halves whose tunes and roles come from a manifest: the chorales (third held-out set, session 6, spent) from
#: benchmarks/melody_chorales.py, the fiddle tunes (fourth, session 7) from benchmarks/melody_fiddle.py, Ryan's tunes
#: (fifth, session 8) and O'Neill's (sixth, prepared in session 8, not scored) from benchmarks/melody_ryan.py.
MANIFEST_HALVES = ("chorales", "fiddle", "ryan", "oneill")
#: Phrases cut per registered tune when --phrases-per-tune is not given (what each half was measured with).
PHRASES_PER_TUNE = {"dev": 16, "held-out": 16, "freedoom": 4, "chorales": 6, "fiddle": 6, "ryan": 6, "oneill": 6}


def chorale_tunes(work: Path, half: str = "chorales") -> tuple[dict[str, Path], dict[str, str], set[str]]:
    """A manifest half's tunes (``MANIFEST_HALVES``), exported into ``work``/``half``. Returns their MIDI files,
    ``{registered tune: sibling}`` (another harmonisation or setting of its melody, where the outputs' phrases are
    cut) and the unregistered tunes."""
    manifest = work / half / "manifest.json"
    if not manifest.exists():
        raise SystemExit(f"run_melody_real: {manifest} missing: bash benchmarks/fetch_melody_midi.sh")
    roles = json.loads(manifest.read_text())["tunes"]
    files = {k: work / half / f"{k.split('/', 1)[1]}.mid" for k in roles}
    siblings = {v["of"]: k for k, v in roles.items() if v["role"] == "sibling"}
    siblings |= {k: k for k, v in roles.items() if v.get("phrases") == "self"}   # ryan: phrases of the tune itself
    return files, siblings, {k for k, v in roles.items() if v["role"] == "unregistered"}


def tune_files(half: str, work: Path) -> dict[str, Path]:
    if half in MANIFEST_HALVES:
        return chorale_tunes(work, half)[0]
    return freedoom_tunes(work) if half == "freedoom" else tunes(work)


def half_of(name: str) -> str:
    """"freedoom" / "chorales" (the second / third held-out sets) for their tunes, else "dev" or "held-out" by a
    hash of the name."""
    if name.startswith(("freedoom/", "chorales/", "fiddle/", "ryan/", "oneill/")):
        return name.split("/", 1)[0]
    return "dev" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "held-out"


def registered(name: str) -> bool:
    return hashlib.sha256(name.encode()).digest()[1] % 3 != 0


def capped(song: mm.Song, cap_s: float) -> mm.Song:
    notes = [mm.MidiNote(n.start_s, min(n.end_s, cap_s + 1.0), n.pitch, n.velocity, n.channel)
             for n in song.notes if n.start_s < cap_s]
    return mm.with_notes(song, notes, [c for c in song.controls if c[0] < cap_s])


# ---------------------------------------------------------------- alterations (MIDI level)
def controls_at(song: mm.Song, t0: float, t1: float) -> list[tuple[float, bytes]]:
    """Controls in force at ``t0`` (the last of each kind, moved to ``t0``) and those in [t0, t1)."""
    state: dict[tuple, tuple[float, bytes]] = {}
    inside = []
    for t, msg in song.controls:
        if t < t0:
            key = (msg[0], msg[1]) if msg[0] >> 4 == 0xB else (msg[0],)
            state[key] = (t0, msg)
        elif t < t1:
            inside.append((t, msg))
    return sorted(state.values(), key=lambda c: c[1][0] >> 4 != 0xC) + inside


def reorchestrate(song: mm.Song, rng: np.random.Generator) -> mm.Song:
    """Every pitched channel moved to another General MIDI program (drums kept)."""
    channels = sorted({n.channel for n in song.notes if n.channel != mm.DRUM_CHANNEL})
    new = {ch: int(rng.choice(OTHER_PROGRAMS)) for ch in channels}
    controls = [c for c in song.controls if not (c[1][0] >> 4 == 0xC and (c[1][0] & 0x0F) in new)]
    t0 = min((c[0] for c in song.controls), default=0.0)
    controls = [(t0, bytes([0xC0 | ch, p])) for ch, p in new.items()] + controls
    return mm.with_notes(song, song.notes, sorted(controls, key=lambda c: c[0]))


def transform(song: mm.Song, *, transpose: int, tempo: float, shift_s: float) -> mm.Song:
    """Transpose pitched notes, play ``tempo`` times as fast, and move everything by ``shift_s`` (after scaling)."""
    notes = [mm.MidiNote(n.start_s / tempo + shift_s, n.end_s / tempo + shift_s,
                         n.pitch if n.channel == mm.DRUM_CHANNEL else int(np.clip(n.pitch + transpose, 0, 127)),
                         n.velocity, n.channel) for n in song.notes]
    controls = [(t / tempo + shift_s, msg) for t, msg in song.controls]
    return mm.with_notes(song, notes, controls)


def phrase_excerpt(song: mm.Song, rng: np.random.Generator, *, length: int, errors: str) -> tuple[mm.Song, dict]:
    """An excerpt holding ``length`` skyline notes, with note errors applied; times start at the phrase."""
    groups = mm.skyline_indices(song.notes)
    k0 = int(rng.integers(0, len(groups) - length))
    t0 = song.notes[groups[k0][0]].start_s
    last = song.notes[groups[k0 + length - 1][0]]
    t1 = song.notes[groups[k0 + length][0]].start_s if k0 + length < len(groups) else last.end_s
    t1 = min(t1, last.start_s + 2.0)
    sky = [groups[k0 + i][0] for i in range(length)]
    notes = {k: song.notes[k] for g in groups[k0:k0 + length] for k in g}
    inner = list(range(1, length - 1))
    info = {"k0": k0, "t0_s": t0}
    if "drop" in errors:
        d = int(rng.choice(inner))
        for k in groups[k0 + d]:
            notes.pop(k, None)
        info["dropped"] = d
    if "insert" in errors:
        choices = [i for i in range(0, length - 1) if i + 1 != info.get("dropped") and i != info.get("dropped")]
        i = int(rng.choice(choices))
        a, b = song.notes[sky[i]], song.notes[sky[i + 1]]
        mid = (a.start_s + b.start_s) / 2
        step = int(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4]))
        notes[-1] = mm.MidiNote(mid, mid + max(0.06, (b.start_s - mid) * 0.9), int(np.clip(a.pitch + step, 0, 127)),
                                a.velocity, a.channel)
        info["inserted_after"] = i
    if errors == "semitone":
        s = int(rng.choice(inner))
        n = notes[sky[s]]
        notes[sky[s]] = mm.MidiNote(n.start_s, n.end_s, n.pitch + int(rng.choice([-1, 1])), n.velocity, n.channel)
        info["semitone"] = s
    cut = [mm.MidiNote(n.start_s - t0, min(n.end_s, t1 + 0.4) - t0, n.pitch, n.velocity, n.channel)
           for n in notes.values()]
    ctl = [(t - t0, msg) for t, msg in controls_at(song, t0, t1)]
    return mm.with_notes(song, cut, ctl), info


# ---------------------------------------------------------------- audio, transcription, cache
def wav_read(path: Path) -> np.ndarray:
    from consentry.io.decode import decode_audio

    return decode_audio(path, sample_rate_hz=SR).samples.astype(np.float32)


def wav_write(path: Path, x: np.ndarray) -> None:
    import wave

    y = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(SR)
        fh.writeframes(y.tobytes())


def render_song(song: mm.Song, wav: Path, soundfont: Path) -> None:
    if wav.exists():
        return
    mid = wav.with_suffix(".mid")
    mm.write_midi(song, mid)
    tmp = wav.with_suffix(".tmp.wav")
    mm.render(mid, tmp, soundfont=soundfont, sample_rate_hz=SR)
    tmp.rename(wav)


def notes_of(wav: Path, cache: Path) -> list[list[float]]:
    """Transcribed notes ``[[start_s, end_s, midi, amplitude], ...]`` of a WAV file, cached as JSON."""
    if cache.exists():
        return json.loads(cache.read_text())
    from consentry.engines.melody import transcribe_file

    notes = [[round(n.start_s, 4), round(n.end_s, 4), int(n.midi_pitch), round(float(n.amplitude), 4)]
             for n in transcribe_file(wav)]
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(notes))
    tmp.rename(cache)
    return notes


# ---------------------------------------------------------------- building the outputs
def build(half: str, args, work: Path) -> dict:
    """Render and transcribe what the half needs; returns works, positives and negatives (notes, truths)."""
    source = tune_files(half, work)
    all_tunes = {k: v for k, v in source.items() if half_of(k) == half}
    phrase_from, unreg_set = chorale_tunes(work, half)[1:] if half in MANIFEST_HALVES else ({}, None)
    for sub in ("reg", "neg", "pos"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    songs = {k: capped(mm.read_midi(p), args.cap_s) for k, p in all_tunes.items()}
    reg = sorted(k for k in songs if registered(k)) if unreg_set is None else sorted(phrase_from)
    unreg = sorted(k for k in songs if not registered(k)) if unreg_set is None else sorted(unreg_set)
    safe = {k: k.replace("/", "__") for k in songs}
    t_start = time.process_time()
    works = {}
    for k in reg:
        wav = work / "reg" / f"{safe[k]}.A.wav"
        cache = wav.with_suffix(".notes.json")
        if not cache.exists():
            render_song(songs[k], wav, SOUNDFONT_A)
        works[k] = notes_of(wav, cache)
        wav.unlink(missing_ok=True)
    negatives, backgrounds = [], {}
    for k in unreg:
        plain = work / "neg" / f"{safe[k]}.B.wav"
        render_song(songs[k], plain, SOUNDFONT_B)
        backgrounds[k] = plain
        rng = np.random.default_rng([args.seed, int(hashlib.sha256(k.encode()).hexdigest()[:8], 16)])
        transpose = int(rng.choice([-1, 1])) * int(rng.integers(1, 7))
        tempo = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
        altered = work / "neg" / f"{safe[k]}.B.t{transpose:+d}.x{tempo:.3f}.wav"
        render_song(transform(reorchestrate(songs[k], rng), transpose=transpose, tempo=tempo, shift_s=0.0),
                    altered, SOUNDFONT_B)
        for wav, how in ((plain, "as written"), (altered, f"{transpose:+d} st, x{tempo:.3f}, other instruments")):
            notes = notes_of(wav, wav.with_suffix(".notes.json"))
            end = max((n[1] for n in notes), default=0.0)
            for w0 in np.arange(0.0, max(end - args.window_s / 2, 0.0), args.window_s):
                sel = [[n[0] - w0, n[1] - w0, n[2], n[3]] for n in notes if w0 <= n[0] < w0 + args.window_s]
                negatives.append({"tune": k, "alteration": how, "start_s": float(w0), "notes": sel})
    if not backgrounds:
        raise SystemExit(f"run_melody_real: the {half} half has no unregistered tune for backgrounds")
    bg_audio = {k: wav_read(p) for k, p in backgrounds.items()}
    positives = []
    for k in reg:
        src = songs[phrase_from.get(k, k)]  # chorales: another harmonisation of the registered melody
        if len(mm.skyline_indices(src.notes)) < 20:
            continue  # too short to hold a phrase with notes around it
        for j in range(args.phrases_per_tune or PHRASES_PER_TUNE[half]):
            rng = np.random.default_rng([args.seed, int(hashlib.sha256(k.encode()).hexdigest()[:8], 16), j])
            length = int(rng.integers(8, 17))
            errors = ERRORS[int(rng.integers(0, len(ERRORS)))]
            transpose = int(rng.choice([-1, 1])) * int(rng.integers(1, 7))
            tempo = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
            other = bool(rng.integers(0, 2))
            excerpt, info = phrase_excerpt(src, rng, length=length, errors=errors)
            if other:
                excerpt = reorchestrate(excerpt, rng)
            excerpt = transform(excerpt, transpose=transpose, tempo=tempo, shift_s=0.1)
            bg = str(rng.choice(sorted(bg_audio)))
            x = bg_audio[bg]
            pieces = []
            for _ in range(2):
                n = int(rng.uniform(8, 15) * SR)
                s0 = int(rng.integers(0, max(1, x.size - n)))
                pieces.append(x[s0:s0 + n])
            key = f"{safe[k]}.{j}"
            query = work / "pos" / f"{key}.wav"
            cache = query.with_suffix(".notes.json")
            if args.cached_only and not cache.exists():
                continue
            if not cache.exists():
                phrase_wav = work / "pos" / f"{key}.phrase.wav"
                render_song(excerpt, phrase_wav, SOUNDFONT_B)
                audio = np.concatenate([pieces[0], wav_read(phrase_wav), pieces[1]])
                wav_write(query, audio)
                notes_of(query, cache)
                for p in (query, phrase_wav, phrase_wav.with_suffix(".mid")):
                    p.unlink(missing_ok=True)
            truth = [[excerpt.notes[g[0]].start_s, excerpt.notes[g[0]].pitch] for g in mm.skyline_indices(excerpt.notes)]
            positives.append({
                "truth": truth, "tune": k, "index": j, "length": length, "errors": errors, "transpose": transpose,
                "tempo": round(tempo, 4), "other_instruments": other, "background": bg,
                "copy_start_s": pieces[0].size / SR + 0.1, "reference_start_s": info["t0_s"],
                "notes": json.loads(cache.read_text()),
            })
    works_truth = {k: [[songs[k].notes[g[0]].start_s, songs[k].notes[g[0]].pitch]
                       for g in mm.skyline_indices(songs[k].notes)] for k in reg}
    return {"works": works, "works_truth": works_truth, "positives": positives, "negatives": negatives, "registered": reg,
            "unregistered": unreg, "prepare_cpu_s": round(time.process_time() - t_start, 1)}


# ---------------------------------------------------------------- the check, as consentry does it
def check_outputs(data: dict, *, matcher: dict) -> dict:
    """Every output checked against every registered melody; counts and per-output rows."""
    from consentry.engines.melody import Melody, Note, contour_of, match_contours, melody_from_notes
    from consentry.services.check.service import MELODY_FALSE_ALARM_PER_OUTPUT

    from consentry.engines.melody import NullModel, Scoring

    skyline = matcher.get("skyline", {})
    options = dict(matcher.get("options", {}))
    if "scoring" in matcher:
        options["scoring"] = Scoring(**{**Scoring().__dict__, **matcher["scoring"]})
    if "null" in matcher:
        options["null_model"] = NullModel(**matcher["null"])

    def melody(notes):
        return melody_from_notes([Note(n[0], n[1], int(n[2]), n[3]) for n in notes], **skyline)

    refs = {k: contour_of(melody(v)) for k, v in data["works"].items()}
    budget = MELODY_FALSE_ALARM_PER_OUTPUT / max(1, len(refs))

    def findings(notes):
        mel = melody(notes)
        if len(mel) < 7:
            return []
        q = contour_of(Melody(mel.onsets_s, mel.pitches))
        out = []
        for k, ref in refs.items():
            for ph in match_contours(q, ref, max_false_alarm=budget, **options):
                out.append((k, ph))
        return out

    rows = []
    for p in data["positives"]:
        found = findings(p["notes"])
        right = [ph for k, ph in found if k == p["tune"] and abs(ph.query_start_s - p["copy_start_s"]) < 2.0]
        wrong = [(k, ph) for k, ph in found if not (k == p["tune"] and abs(ph.query_start_s - p["copy_start_s"]) < 2.0)]
        rows.append({**{k: v for k, v in p.items() if k not in ("notes", "truth")}, "found": bool(right),
                     "reference_place_ok": bool(right) and any(
                         abs(ph.reference_start_s - p["reference_start_s"]) < 2.0 for ph in right),
                     "transposition_ok": bool(right) and right[0].transposition_semitones == p["transpose"],
                     "false_findings": [{"work": k, "query_start_s": round(ph.query_start_s, 2),
                                         "reference_start_s": round(ph.reference_start_s, 2),
                                         "n_notes": ph.n_matched_notes, "false_alarm": float(f"{ph.false_alarm:.3g}")}
                                        for k, ph in wrong]})
    neg_rows = []
    for n in data["negatives"]:
        found = findings(n["notes"])
        neg_rows.append({"tune": n["tune"], "alteration": n["alteration"], "start_s": n["start_s"],
                         "false_findings": [{"work": k, "query_start_s": round(ph.query_start_s, 2),
                                             "reference_start_s": round(ph.reference_start_s, 2),
                                             "n_notes": ph.n_matched_notes,
                                             "false_alarm": float(f"{ph.false_alarm:.3g}")} for k, ph in found]})
    return {"budget_per_comparison": budget, "positives": rows, "negatives": neg_rows}


def diagnose(data: dict) -> dict:
    """Where the misses come from, with the shipped matcher and budget.

    - ``symbolic``: the positives' phrases as written in the MIDI (the skyline of the altered
      excerpt) against the skyline of the registered tune's MIDI, judged at the threshold the
      transcribed output met (its length in events): what a perfect transcriber would give.
    - ``chance``: the false-alarm probability (NULL_MODEL) of the best score of every unrelated
      pair (a negative output against each work, a positive output against the other works),
      and how many positives score better against their own tune than every unrelated pair.
    """
    from consentry.engines.melody import NULL_MODEL, Melody, Note, best_local_score, contour_of, melody_from_notes
    from consentry.services.check.service import MELODY_FALSE_ALARM_PER_OUTPUT

    budget = MELODY_FALSE_ALARM_PER_OUTPUT / max(1, len(data["works"]))

    def of_pairs(rows):
        a = np.asarray(rows, float).reshape(-1, 2)
        return contour_of(Melody(a[:, 0], a[:, 1].astype(np.int16)))

    def transcribed(notes):
        return contour_of(melody_from_notes([Note(n[0], n[1], int(n[2]), n[3]) for n in notes]))

    sym_refs = {k: of_pairs(v) for k, v in data["works_truth"].items()}
    refs = {k: transcribed(v) for k, v in data["works"].items()}
    sym_found, own_p, unrelated_p = [], [], []
    for p in data["positives"]:
        q_len = max(1, len(transcribed(p["notes"])))
        s = best_local_score(of_pairs(p["truth"]), sym_refs[p["tune"]])
        sym_found.append((p["errors"], p["length"], NULL_MODEL.false_alarm(s, q_len, len(sym_refs[p["tune"]])) <= budget))
    for o in data["positives"] + data["negatives"]:
        q = transcribed(o["notes"])
        for k, ref in refs.items():
            pv = NULL_MODEL.false_alarm(best_local_score(q, ref), len(q), len(ref))
            (own_p if "truth" in o and k == o["tune"] else unrelated_p).append(pv)
    own_p, unrelated_p = np.asarray(own_p), np.asarray(unrelated_p)
    out = {"symbolic_found": share(sum(f for _, _, f in sym_found), len(sym_found))}
    for e in ERRORS:
        sub = [f for err, _, f in sym_found if err == e]
        out[f"symbolic_found_errors_{e}"] = share(sum(sub), len(sub))
    for lo, hi in ((8, 10), (11, 13), (14, 16)):
        sub = [f for _, n, f in sym_found if lo <= n <= hi]
        out[f"symbolic_found_{lo}-{hi}_notes"] = share(sum(sub), len(sub))
    out["chance"] = {
        "unrelated_pairs": int(unrelated_p.size),
        "smallest_false_alarm_probability": float(f"{unrelated_p.min():.3g}") if unrelated_p.size else None,
        "unrelated_pairs_at_or_below_0.01": share(int((unrelated_p <= 0.01).sum()), int(unrelated_p.size)),
        "positives_below_every_unrelated_pair": share(int((own_p < unrelated_p.min()).sum()), int(own_p.size)),
        "positives_at_or_below_budget": share(int((own_p <= budget).sum()), int(own_p.size)),
    }
    return out


def melody_recall(data: dict, *, tolerance_s: float = 0.07) -> dict:
    """Where the true melody sits in the transcriptions: the share of its notes found in the skyline the check
    matches, among all transcribed notes, and among all notes by pitch class only.

    A true note (the MIDI skyline, as altered and moved into the output) is found when a transcribed note of the
    same pitch (or pitch class) starts within ``tolerance_s`` of it.  For the positives (the outputs' phrases) and
    the registered works (their renders with soundfont A); means over phrases or works.
    """
    from consentry.engines.melody import melody_from_notes
    from consentry.engines.melody.transcribe import Note

    def recall(truth, notes) -> dict:
        sky = melody_from_notes([Note(n[0], n[1], int(n[2]), n[3]) for n in notes])
        lines = {"skyline": (np.asarray(sky.onsets_s), np.asarray(sky.pitches, dtype=int)),
                 "all_notes": (np.array([n[0] for n in notes]), np.array([int(n[2]) for n in notes], dtype=int))}
        out = {}
        for name, (onsets, pitches) in lines.items():
            near = [pitches[np.abs(onsets - t) <= tolerance_s] - p for t, p in truth]
            out[name] = float(np.mean([np.any(d == 0) for d in near]))
            out[name + "_pitch_class"] = float(np.mean([np.any(d % 12 == 0) for d in near]))
        return out

    def mean(rows: list[dict]) -> dict:
        return {k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0]} | {"n": len(rows)} if rows else {}

    pos = [(p["other_instruments"], recall([(p["copy_start_s"] - 0.1 + t, q) for t, q in p["truth"]], p["notes"]))
           for p in data["positives"]]
    works = [recall(data["works_truth"][k], notes) for k, notes in data["works"].items()]
    return {"tolerance_s": tolerance_s, "positives": mean([r for _, r in pos]),
            "positives_same_instruments": mean([r for o, r in pos if not o]),
            "positives_other_instruments": mean([r for o, r in pos if o]), "registered_works": mean(works)}


def share(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": round(k / max(1, n), 4), "wilson95": [round(lo, 4), round(hi, 4)]}


def summarise(res: dict) -> dict:
    pos, neg = res["positives"], res["negatives"]
    out = {"found": share(sum(r["found"] for r in pos), len(pos))}
    for e in ERRORS:
        sub = [r["found"] for r in pos if r["errors"] == e]
        out[f"found_errors_{e}"] = share(sum(sub), len(sub))
    for lo, hi in ((8, 10), (11, 13), (14, 16)):
        sub = [r["found"] for r in pos if lo <= r["length"] <= hi]
        out[f"found_{lo}-{hi}_notes"] = share(sum(sub), len(sub))
    for flag, label in ((False, "same_instruments"), (True, "other_instruments")):
        sub = [r["found"] for r in pos if r["other_instruments"] == flag]
        out[f"found_{label}"] = share(sum(sub), len(sub))
    found = [r for r in pos if r["found"]]
    out["reference_place_ok_of_found"] = share(sum(r["reference_place_ok"] for r in found), len(found))
    out["transposition_ok_of_found"] = share(sum(r["transposition_ok"] for r in found), len(found))
    out["positive_outputs_with_a_false_finding"] = share(sum(bool(r["false_findings"]) for r in pos), len(pos))
    out["negative_outputs_with_a_finding"] = share(sum(bool(r["false_findings"]) for r in neg), len(neg))
    out["all_outputs_with_a_false_finding"] = share(
        sum(bool(r["false_findings"]) for r in pos + neg), len(pos) + len(neg))
    return out


def shared_material(args, half: str, rows_of: list[list[dict]], nulls: list[dict], *, budget: float) -> list[dict]:
    """The (output tune, work) pairs falsely matched by any matcher, each with the false-alarm probability of
    the two tunes' MIDI skylines aligned (shipped skyline matcher): ``shared`` when it is within ``budget``, i.e.
    the two tunes share material as written, and the "false" match may be a true one."""
    from consentry.engines.melody import NULL_MODEL, Melody, NullModel, best_local_score, contour_of

    flagged = set()
    for rows, null in zip(rows_of, nulls):
        model = NullModel(**null)
        for r in rows:
            if (r["tune"] != r["work"] and r["pairs"] >= 6
                    and model.false_alarm(r["score"], r["m"], r["n"]) <= budget):
                flagged.add((r["tune"], r["work"]))
    source = tune_files(half, args.work)

    def midi_contour(name):
        song = capped(mm.read_midi(source[name]), args.cap_s)
        groups = mm.skyline_indices(song.notes)
        return contour_of(Melody(np.array([song.notes[g[0]].start_s for g in groups]),
                                 np.array([song.notes[g[0]].pitch for g in groups], dtype=np.int16)))

    out = []
    for a, b in sorted(flagged):
        ca, cb = midi_contour(a), midi_contour(b)
        p = float(NULL_MODEL.false_alarm(best_local_score(ca, cb), len(ca), len(cb)))
        out.append({"pair": [a, b], "midi_false_alarm": float(f"{p:.3g}"), "shared": p <= budget})
    return out


def pitch_set_report(args, halves: list[str]) -> dict:
    """``--pitch-sets``: every matcher's rows on each half, its null (fitted on ``--fit-on`` or shipped), rates."""
    import melody_pitchsets as mp

    from consentry.engines.melody import NULL_MODEL, Scoring
    from consentry.engines.melody.pitchsets import PITCH_SET_NULL
    from consentry.services.check.service import MELODY_FALSE_ALARM_PER_OUTPUT

    fit_on = [h for h in args.fit_on.split(",") if h]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    out = {"halves": halves, "fit_on": fit_on, "started": started, "load_average_1min": round(os.getloadavg()[0], 2),
           "machine": platform.processor() or platform.machine(), "seed": args.seed,
           "phrases_per_tune": {h: args.phrases_per_tune or PHRASES_PER_TUNE[h] for h in halves}, "variants": {}}
    data = {h: build(h, args, args.work) for h in dict.fromkeys(halves + fit_on)}
    for name, setup in args.pitch_sets.items():
        matcher = setup.get("matcher", "pitch_sets")
        keyed = [matcher, setup.get("sets", {}), setup.get("scoring", {})]
        keyed += [setup["melody"]] if "melody" in setup else []   # so that the caches of earlier setups still hold
        key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:12]
        rows, cpu = {}, {}
        for h, d in data.items():
            t = time.process_time()
            rows[h] = mp.pair_rows(d, matcher=matcher, setup=setup, workers=args.workers,
                                   cache=args.work / f"pairs-{h}-{key}.json")
            cpu[h] = round(time.process_time() - t, 1)
        entry = {"setup": setup, "rows_cache_key": key, "cpu_s_of_this_process": cpu}
        if isinstance(setup.get("null"), dict):
            null = setup["null"]      # a null given as {"lam", "k"}, e.g. a recorded fit measured on other tunes
        elif matcher == "skyline" and not (fit_on and setup.get("null") == "fit"):
            null = {"lam": NULL_MODEL.lam, "k": NULL_MODEL.k}
        elif fit_on:
            un = [r for h in fit_on for r in rows[h] if not r["own"]]
            null, entry["fit"] = mp.fit_null(*([r[x] for r in un] for x in ("score", "m", "n")))
            if args.record:
                args.record.write_text(json.dumps({
                    "command": "benchmarks/run_melody_real.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                    "halves": fit_on, "seed": args.seed,
                    "phrases_per_tune": {h: args.phrases_per_tune or PHRASES_PER_TUNE[h] for h in fit_on},
                    "setup": setup, "null": null, "fit": entry["fit"], "score": [r["score"] for r in un],
                    "m": [r["m"] for r in un], "n": [r["n"] for r in un],
                    **({"scoring": Scoring().__dict__} if matcher == "skyline" else {})}))
        else:
            null = {"lam": PITCH_SET_NULL.lam, "k": PITCH_SET_NULL.k}
        entry["null"] = null
        for h in halves:
            budget = MELODY_FALSE_ALARM_PER_OUTPUT / max(1, len(data[h]["works"]))
            entry[h] = {**mp.evaluate(rows[h], null=null, budget=budget),
                        "at_half_budget": mp.evaluate(rows[h], null=null, budget=budget / 2),
                        "at_zero_unrelated_false": mp.at_zero_false(rows[h], null=null),
                        "found_at_false_outputs": mp.found_at_false_outputs(rows[h], null=null)}
        entry["_rows"], entry["_null"] = rows, null
        out["variants"][name] = entry
    for h in halves:
        shared = shared_material(args, h, [out["variants"][n]["_rows"][h] for n in out["variants"]],
                                 [out["variants"][n]["_null"] for n in out["variants"]],
                                 budget=MELODY_FALSE_ALARM_PER_OUTPUT / max(1, len(data[h]["works"])))
        out.setdefault("shared_material", {})[h] = shared
        pairs = {tuple(x["pair"]) for x in shared if x["shared"]}
        for v in out["variants"].values():
            kept = [r for r in v["_rows"][h] if (r["tune"], r["work"]) not in pairs]
            v[h]["excluding_pairs_of_tunes_that_share_material"] = mp.evaluate(
                kept, null=v["_null"], budget=MELODY_FALSE_ALARM_PER_OUTPUT / max(1, len(data[h]["works"])))
    if len(out["variants"]) > 1:
        # Every matcher at once, each with an equal share of the budget (an output is checked by all of them).
        out["all_together"] = {h: mp.combined([(v["_rows"][h], v["_null"]) for v in out["variants"].values()],
                                              budget=MELODY_FALSE_ALARM_PER_OUTPUT / max(1, len(data[h]["works"])))
                               for h in halves}
    for v in out["variants"].values():
        del v["_rows"], v["_null"]
        print(json.dumps({name: {k: v for k, v in entry.items() if not k.startswith("_")}}), file=sys.stderr,
              flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", required=True,
                        help="dev: fitting; held-out: spent (session 3), development since; freedoom: the second "
                             "held-out set (session 5), spent; chorales: the third (session 6), spent; fiddle: the "
                             "fourth (session 7), spent; ryan: the fifth (session 8), spent; oneill: the sixth (prepared in "
                             "session 8, not scored); with --pitch-sets a comma-separated list")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/work/melody-real"))
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--cap-s", type=float, default=240.0, help="tunes cut to their first seconds")
    parser.add_argument("--phrases-per-tune", type=int, default=None,
                        help="phrases cut per registered tune (default per half: PHRASES_PER_TUNE)")
    parser.add_argument("--window-s", type=float, default=30.0, help="length of the negative outputs")
    parser.add_argument("--matcher", type=json.loads, default={},
                        help='JSON: {"skyline": {melody_from_notes options}, "options": {match_contours options}, '
                             '"scoring": {Scoring fields}, "null": {"lam": .., "k": ..}} (default: as shipped)')
    parser.add_argument("--variants", type=json.loads, default=None,
                        help='JSON object {name: matcher JSON}: measure each on the same outputs (development)')
    parser.add_argument("--rows", type=Path, help="write every output's row here (JSON)")
    parser.add_argument("--diagnose", action="store_true",
                        help="also the symbolic ceiling and the chance scores of unrelated pairs (shipped matcher)")
    parser.add_argument("--recall", action="store_true",
                        help="only where the true melody sits in the transcriptions (melody_recall), no matching")
    parser.add_argument("--prepare-only", action="store_true",
                        help="render and transcribe into the cache, print only the counts (no matching)")
    parser.add_argument("--pitch-sets", type=json.loads, default=None,
                        help='JSON {name: {"matcher": "pitch_sets" or "skyline", "sets": {pitch_sets_from_notes '
                             'options}, "scoring": {SetScoring fields}}}: score every output-work pair of each half '
                             'with each matcher (benchmarks/melody_pitchsets.py)')
    parser.add_argument("--fit-on", default="",
                        help="with --pitch-sets: halves whose unrelated pairs fit each pitch-set matcher's null "
                             "(comma-separated; default: none, the shipped PITCH_SET_NULL)")
    parser.add_argument("--record", type=Path,
                        help="with --pitch-sets and --fit-on (one pitch-set matcher): write the fit and its "
                             "unrelated pairs' scores here")
    parser.add_argument("--workers", type=int, default=2, help="processes scoring pairs (--pitch-sets)")
    parser.add_argument("--cached-only", action="store_true",
                        help="leave out the positives not yet rendered and transcribed (a --prepare-only cut short; "
                             "it makes them tune by tune, in the order of the tunes' names)")
    args = parser.parse_args()
    halves = args.half.split(",")
    known = tuple(PHRASES_PER_TUNE)
    if any(h not in known for h in halves) or (len(halves) > 1 and not args.pitch_sets):
        raise SystemExit(f"run_melody_real: --half {args.half}: one of " + ", ".join(known) + " "
                         "(a comma-separated list only with --pitch-sets)")
    if args.pitch_sets:
        print(json.dumps(pitch_set_report(args, halves), indent=2))
        return
    for sf in (SOUNDFONT_A, SOUNDFONT_B):
        if not sf.exists():
            raise SystemExit(f"run_melody_real: {sf} missing: bash benchmarks/fetch_melody_midi.sh")
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load0 = os.getloadavg()[0]
    data = build(args.half, args, args.work)
    if args.prepare_only:
        print(json.dumps({"half": args.half, "started": started, "prepare_cpu_s": data["prepare_cpu_s"],
                          "registered": len(data["registered"]), "unregistered": len(data["unregistered"]),
                          "positives": len(data["positives"]), "negatives": len(data["negatives"])}))
        return
    if args.recall:
        print(json.dumps({"half": args.half, "started": started, "recall": melody_recall(data)}, indent=2))
        return
    if args.variants:
        out = {"half": args.half, "started": started, "load_average_1min": round(load0, 2), "variants": {}}
        if args.diagnose:
            out["diagnosis"] = diagnose(data)
        for name, matcher in args.variants.items():
            t = time.process_time()
            res = check_outputs(data, matcher=matcher)
            out["variants"][name] = {"matcher": matcher, "check_cpu_s": round(time.process_time() - t, 1),
                                     **summarise(res)}
            print(json.dumps({name: out["variants"][name]}), file=sys.stderr, flush=True)
        print(json.dumps(out, indent=2))
        return
    t = time.process_time()
    res = check_outputs(data, matcher=args.matcher)
    result = {
        "half": args.half, "started": started, "machine": platform.processor() or platform.machine(),
        "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)], "seed": args.seed,
        "matcher": args.matcher, "registered": data["registered"], "unregistered": data["unregistered"],
        "prepare_cpu_s": data["prepare_cpu_s"], "check_cpu_s": round(time.process_time() - t, 1),
        "budget_per_comparison": res["budget_per_comparison"], **summarise(res),
        "false_findings": [{"output": r["tune"], **f} for r in res["positives"] + res["negatives"]
                           for f in r["false_findings"]],
    }
    if args.diagnose:
        result["diagnosis"] = diagnose(data)
    if args.rows:
        args.rows.write_text(json.dumps(res, indent=1))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
