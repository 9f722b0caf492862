"""Check AI outputs against the registry: copied recordings, reused melodies, cloned voices.

Use cases behind ``consentry check``, ``consentry voices`` and
``consentry evidence verify --rematch`` (see docs/check.md):

>>> from consentry import Registry
>>> from consentry.services.check.service import prepare_check, check_output
>>> with Registry.open("consentry.db") as reg:                 # doctest: +SKIP
...     ctx = prepare_check(reg)
...     result = check_output(ctx, "generated_song.wav")
...     print(result.as_dict())

An output is read in chunks of :data:`CHUNK_S` seconds (plus an overlap of
:data:`CHUNK_OVERLAP_S`), so memory stays bounded whatever its length; at
most :data:`MAX_CHECK_DURATION_S` of it are checked, and the result says so
when an output is longer.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from consentry import __version__
from consentry.io.decode import decode_audio, iter_audio_files
from consentry.domain.errors import ConsentryError, DecodeError, InputError
from consentry.domain.hashing import sha256_and_size
from consentry.engines.music.params import ENGINE_NAME, ENGINE_VERSION
from consentry.runtime.interrupts import POLL_S, Interrupted, deferred_interrupts, polled, raise_if_stopping
from consentry.runtime.pools import WorkerCount, process_pool, worker_count
from consentry.store.sqlite import utc_now
from consentry.store.sqlite_check import EnrolledVoice, notes_to_json
from consentry.runtime.threads import limit_worker_threads

#: Outputs are decoded and analysed this many seconds at a time (bounded memory).
CHUNK_S = 300.0
#: Each chunk reads this much further, so that a copied segment or a note at a boundary is whole in one chunk.
CHUNK_OVERLAP_S = 20.0
#: Longest part of an output that is checked (seconds); the rest is reported as not checked.
MAX_CHECK_DURATION_S = 4 * 3600.0
#: Shorter outputs are an error: nothing can be identified in them.
MIN_OUTPUT_S = 1.0
#: Per-output false-alarm budget of the melody check, shared among all stored melodies.
MELODY_FALSE_ALARM_PER_OUTPUT = 0.01
MELODY_SAMPLE_RATE_HZ = 22050
#: The melody check aligns at most this many notes of an output at a time (windows overlap by the second).
MELODY_WINDOW_NOTES = 1500
MELODY_WINDOW_OVERLAP_NOTES = 100
#: A melody finding whose output phrase has at least this share of equal rhythm steps AND of steps of at most two
#: semitones carries :data:`MELODY_REGULAR_CAUTION`.  Not fitted: set between the two groups measured in session 7
#: (docs/melody.md, "Limits"): Irish jigs and reels 76 % and 60 %, where the check matched 67 of 85 outputs holding
#: no registered tune; game music 13-21 % and 32-33 %.  A caution changes no decision.
MELODY_REGULAR_SHARE = 0.5
MELODY_REGULAR_CAUTION = ("an even-rhythm, stepwise phrase: unrelated tunes of this kind (dance tunes over stock "
                          "figures) align by chance far more often than the false-alarm rate says; do not rely on "
                          "this finding alone")
#: A melody finding that the composition-adjusted null (consentry.engines.melody.composition.COMPOSITION_NULL: each
#: pair judged by its own event frequencies) does not find within the check's budget carries this caution when the
#: even-and-stepwise one does not apply; ``false_alarm_adjusted`` gives that null's probability. Measured on the
#: development sets after the session-8 held-out run (benchmarks/RESULTS.md, "A null that knows how predictable a
#: pair is"): of the shipped check's false
#: findings it marks 1,126 of 1,142 on Ryan's dance tunes and 2,889 of 2,892 on the fiddle tunes together with the
#: even/stepwise caution (783 and 2,264 alone); of its true findings, 62 of 74 and 41 of 48 there (14 and 23 alone)
#: and on the game-music dev set 3 of 9, as before. It changes no decision.
MELODY_PREDICTABLE_CAUTION = ("the two melodies share so many steps and rhythms that unrelated pairs like them align "
                              "this well by chance more often than the false-alarm rate says (predictability-adjusted "
                              "false-alarm probability above the budget); do not rely on this finding alone")
# The voice check's pieces live in consentry.services.check.voice (re-exported here, where callers import them).
from consentry.services.check.voice import (  # noqa: E402,F401
    VOICE_SLICE_S, VOICE_WINDOW_S, VOICE_HOP_S, VOICE_MIN_WINDOW_SPEECH_S, VOICE_SAMPLE_RATE_HZ, VOICE_NARROW_BAND_DB,
    VOICE_NARROW_BAND_PENALTY, VOICE_NARROW_OUTPUT_SHARE, VOICE_NARROW_BAND_CAUTION, EnrollOutcome, enroll_voices,
    _VoiceWindow, upper_band_db, _voice_windows, _voice_check,
)
#: A recording finding lists at most this many of its hash matches (the strongest), with the total count.
MATCHED_HASHES_SHOWN = 200


# ---------------------------------------------------------------- melodies of works
def transcribe_notes_json(path: str | os.PathLike, *, max_duration_s: float | None = None) -> dict:
    """Transcribe a file's notes: ``{"notes_json": ...}`` or ``{"melody_error": reason}`` (never raises on content)."""
    from consentry.engines.melody import ModelUnavailable, transcribe

    try:
        audio = decode_audio(path, sample_rate_hz=MELODY_SAMPLE_RATE_HZ, max_duration_s=max_duration_s)
        return {"notes_json": notes_to_json(transcribe(audio.samples, sample_rate_hz=MELODY_SAMPLE_RATE_HZ))}
    except DecodeError as exc:
        return {"melody_error": exc.reason}
    except (ModelUnavailable, ConsentryError) as exc:
        return {"melody_error": str(exc)}
    except MemoryError:
        return {"melody_error": "too large to transcribe in memory"}


@dataclass
class MelodyBackfill:
    """What :func:`compute_missing_melodies` did."""

    computed: list[str] = field(default_factory=list)  # work ids
    errors: list[tuple[str, str]] = field(default_factory=list)  # (work id, reason)
    seconds: float = 0.0


def compute_missing_melodies(registry, *, workers: int | None = None,
                             progress: Callable[[int, int, str], None] | None = None,
                             on_workers: Callable[[WorkerCount], None] | None = None) -> MelodyBackfill:
    """Transcribe and store the melody of every live work that has none under the current melody engine.

    Reads each work's ``source`` file (where it was registered from); a
    work whose file is gone is listed in ``errors``. Commits every 16 works.
    ``workers``: processes (default: all cores; at most one per core and one
    per work); ``on_workers`` is called with the number used.  On Ctrl-C or
    SIGTERM raises :class:`consentry.runtime.interrupts.Interrupted` with ``kept =
    {"melodies": ...}`` (stored); running it again does the rest.
    """
    from consentry.services.check.engines import melody_engine_id
    from consentry.engines.melody import ModelUnavailable

    started = time.perf_counter()
    try:
        engine = melody_engine_id()
    except ModelUnavailable as exc:
        raise InputError(f"cannot compute melodies: {exc}") from None
    out = MelodyBackfill()
    todo = [registry.store.get_work(w) for w in registry.store.works_without_melody(engine=engine)]
    pending: list[tuple[str, str, str]] = []

    def accept(work, result: dict) -> None:
        raise_if_stopping()
        if "notes_json" in result:
            pending.append((work.work_id, engine, result["notes_json"]))
            out.computed.append(work.work_id)
        else:
            out.errors.append((work.work_id, f"{work.source}: {result['melody_error']}"))
        if len(pending) >= 16:
            with deferred_interrupts():
                registry.store.put_work_melodies(pending, computed_at=utc_now())
                stored[0] += len(pending)
                pending.clear()
        if progress:
            progress(len(out.computed) + len(out.errors), len(todo), work.title)

    stored = [0]
    count = worker_count(workers, items=len(todo))
    if on_workers:
        on_workers(count)
    try:
        if count.workers == 1:
            for w in todo:
                accept(w, transcribe_notes_json(w.source))
        else:
            with polled(), process_pool(count.workers, initializer=limit_worker_threads) as pool:
                futures = {pool.submit(transcribe_notes_json, w.source): w for w in todo}
                running = set(futures)
                while running:
                    finished, running = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
                    raise_if_stopping()
                    for fut in finished:
                        accept(futures[fut], fut.result())
    except KeyboardInterrupt as exc:
        raise Interrupted.after(exc, melodies=stored[0]) from None
    registry.store.put_work_melodies(pending, computed_at=utc_now())
    out.seconds = time.perf_counter() - started
    return out


# ---------------------------------------------------------------- the check
@dataclass
class CheckContext:
    """What every output of one run is checked against (read once from the registry)."""

    registry: object
    melodies: list  # (Work, Contour)
    melody_engine: str | None
    melody_skipped: str | None
    voices: list[EnrolledVoice]
    voice_model: object | None  # consentry.engines.voice.model.VoiceModel
    voice_skipped: str | None
    works: dict = field(default_factory=dict)
    #: Run an output's voice windows in a second thread beside its melody (off where processes already share the cores).
    two_threads: bool = True
    #: Compare telephone-band prints too, with the band penalty (docs/voice.md, "A second, telephone-band print").
    voice_band_prints: bool = False
    #: With ``voice_band_prints``: the enrolled telephone-band prints (``voices`` holds the wideband ones).
    band_voices: list = field(default_factory=list)
    #: With ``voice_band_prints``: creators whose voices have no telephone-band print (enrolled before them).
    band_prints_missing: list = field(default_factory=list)


def prepare_check(registry, *, melody: bool = True, voice: bool = True,
                  voice_band_prints: bool = True) -> CheckContext:
    """Read the stored melodies and enrolled voices; load the models the checks need.

    A check whose model is not installed, or that has nothing to compare
    with, is skipped with a reason (the others still run).  With
    ``voice_band_prints`` (the default since 2026-12-07 22:00 UTC: it passed
    its held-out rule, docs/voice.md) the enrolled voices' telephone-band
    prints are compared too (:func:`_voice_check`); creators without one are
    listed in ``band_prints_missing`` and every result says so.
    """
    from consentry.engines.voice.band import band_engine_id
    from consentry.engines.melody import ModelUnavailable as MelodyUnavailable, contour_of, melody_from_notes
    from consentry.engines.melody.transcribe import Note
    from consentry.engines.voice import ModelUnavailable as VoiceUnavailable
    from consentry.engines.voice.model import load_voice_model
    from consentry.services.check.engines import melody_engine_id

    works = {w.work_id: w for w in registry.works()}
    melodies, melody_engine, melody_skipped = [], None, None
    if not melody:
        melody_skipped = "not asked for (--no-melody)"
    else:
        try:
            melody_engine = melody_engine_id()
            for work_id, notes in registry.store.work_melodies(engine=melody_engine).items():
                mel = melody_from_notes([Note(n[0], n[1], int(n[2]), n[3]) for n in notes])
                if work_id in works and len(mel) >= 2:
                    melodies.append((works[work_id], contour_of(mel)))
            if not melodies:
                melody_skipped = "no work has a stored melody (register with --melody, or run: consentry works melodies)"
        except MelodyUnavailable as exc:
            melody_skipped = str(exc)
    voices, model, voice_skipped, missing, banded = [], None, None, [], []
    if not voice:
        voice_skipped = "not asked for (--no-voice)"
    else:
        try:
            model = load_voice_model()
            every = registry.store.list_voices()
            band = band_engine_id(model.engine)
            voices = [v for v in every if v.engine == model.engine]
            if voices and voice_band_prints:
                banded = [v for v in every if v.engine == band]
                have = {v.creator for v in banded}
                missing = sorted({v.creator for v in voices} - have)
            if not voices:
                older = len([v for v in every if v.engine != band])
                voice_skipped = ("no voice enrolled (consentry voices enroll)" if not older else
                                 f"no voice enrolled for the current voice model ({model.engine}); {older} voice "
                                 f"print(s) were made by another model and are not compared: enrol the samples again "
                                 f"(consentry voices enroll)")
        except VoiceUnavailable as exc:
            voice_skipped = str(exc)
    return CheckContext(registry=registry, melodies=melodies, melody_engine=melody_engine, melody_skipped=melody_skipped,
                        voices=voices, voice_model=model, voice_skipped=voice_skipped, works=works,
                        voice_band_prints=voice_band_prints, band_voices=banded, band_prints_missing=missing)


@dataclass
class CheckResult:
    """The outcome of the three checks for one output (or an error)."""

    output: str
    error: str | None = None
    duration_s: float = 0.0
    checked_s: float = 0.0
    sha256: str | None = None
    recording: list[dict] = field(default_factory=list)
    copied_share: float = 0.0
    recording_min_score: int | None = None  # the engine's threshold for this output's length
    melody: list[dict] = field(default_factory=list)
    melody_false_alarm_per_comparison: float | None = None
    voice: list[dict] = field(default_factory=list)  # best score per enrolled creator, best first
    voice_note: str | None = None
    voice_engine: str | None = None
    skipped: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)

    @property
    def voice_matches(self) -> list[dict]:
        return [v for v in self.voice if v["is_match"]]

    @property
    def has_findings(self) -> bool:
        return bool(self.recording or self.melody or self.voice_matches)

    def as_dict(self) -> dict:
        """The JSON line of ``consentry check --json`` (melody note lists left out)."""
        if self.error is not None:
            return {"output": self.output, "error": self.error}
        brief = ("query_notes", "reference_notes", "pairs")
        return {
            "output": self.output, "sha256": self.sha256, "duration_s": round(self.duration_s, 3),
            "checked_s": round(self.checked_s, 3),
            "recording": [{k: v for k, v in m.items() if k != "matched_hashes"} for m in self.recording],
            "copied_share": round(self.copied_share, 4), "recording_min_score": self.recording_min_score,
            "melody": [{k: v for k, v in m.items() if k not in brief} for m in self.melody],
            "melody_false_alarm_per_comparison": self.melody_false_alarm_per_comparison,
            "voice": [{k: v for k, v in m.items() if k != "unrelated_scores"} for m in self.voice],
            "voice_note": self.voice_note, "skipped": self.skipped, "notes": self.notes,
            "findings": len(self.recording) + len(self.melody) + len(self.voice_matches),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def _identify_with_hashes(reg, samples: np.ndarray, *, offset_s: float, searched_s: float) -> list[dict]:
    """Recording findings in ``samples`` (the one identify, disputes applied), each with all its hash matches.

    Times in the output are shifted by ``offset_s`` (where the chunk starts);
    the threshold is the engine's for ``searched_s`` seconds (the output as
    far as it is known: :func:`_check_output` applies the whole output's
    threshold once its length is known).
    ``matched_hashes`` holds every distinct match here, as
    ``{hash, query_offset_s, work_offset_s}``; :func:`_finish_recordings` keeps the strongest.
    """
    from consentry.services.identify import identify_samples_with_hashes

    fps = reg.params.frames_per_s
    out = []
    for m, h in identify_samples_with_hashes(reg, samples, searched_s=searched_s):
        out.append({
            "work_id": m.work_id, "title": m.title, "source_name": given_name(reg, m.source), "creator": m.creator,
            "terms": m.terms, "disputed_claims": list(m.disputed_claims), "score": m.score, "confidence": m.confidence,
            "query_start_s": round(m.query_start_s + offset_s, 3), "query_end_s": round(m.query_end_s + offset_s, 3),
            "work_start_s": m.work_start_s, "work_end_s": m.work_end_s,
            "speed": m.speed, "pitch_shift_semitones": m.pitch_shift_semitones,
            "matched_hashes": [{"hash": int(k), "query_offset_s": round(q / fps + offset_s, 3),
                                "work_offset_s": round(f / fps, 3)}
                               for k, q, f in zip(h.key.tolist(), h.query_frame.tolist(), h.work_frame.tolist())],
        })
    return out


def _finish_recordings(findings: list[dict]) -> list[dict]:
    """Keep each finding's :data:`MATCHED_HASHES_SHOWN` strongest hash matches and count them all.

    Strongest: closest to the finding's line (work time = work start + speed x
    (output time - output start)), then earliest.
    """
    for f in findings:
        unique = {(h["hash"], h["query_offset_s"], h["work_offset_s"]): h for h in f.get("matched_hashes") or []}
        q0, w0, speed = f["query_start_s"], f["work_start_s"], f["speed"]
        ranked = sorted(unique.values(), key=lambda h: (round(abs(h["work_offset_s"] - w0 - speed * (h["query_offset_s"] - q0)), 4),
                                                        h["query_offset_s"], h["work_offset_s"], h["hash"]))
        f["matched_hashes"] = ranked[:MATCHED_HASHES_SHOWN]
        f["matched_hashes_total"] = len(unique)
    return findings


def _merge_recordings(matches: list[dict]) -> list[dict]:
    """Join pieces of one copied segment that a chunk boundary split (same work, contiguous, same alignment)."""
    out: list[dict] = []
    for m in sorted(matches, key=lambda m: (m["work_id"], m["query_start_s"])):
        prev = out[-1] if out else None
        if (prev is not None and prev["work_id"] == m["work_id"] and m["query_start_s"] <= prev["query_end_s"] + 1.0
                and abs((m["work_start_s"] - prev["work_start_s"])
                        - (m["query_start_s"] - prev["query_start_s"]) * prev["speed"]) < 1.0):
            prev["query_end_s"] = max(prev["query_end_s"], m["query_end_s"])
            prev["work_end_s"] = max(prev["work_end_s"], m["work_end_s"])
            prev["score"] = max(prev["score"], m["score"])
            prev["confidence"] = max(prev["confidence"], m["confidence"])
            prev["matched_hashes"] = prev.get("matched_hashes", []) + m.get("matched_hashes", [])
            continue
        out.append(dict(m))
    return sorted(_finish_recordings(out), key=lambda m: -m["score"])


def _covered_s(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -np.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _melody_notes(mel) -> list[list[float]]:
    """``[[onset_s, next_onset_s, midi], ...]`` of a skyline melody (the last note lasts 0.5 s)."""
    t, p = mel.onsets_s, mel.pitches
    ends = np.append(t[1:], t[-1] + 0.5) if t.size else t
    return [[round(float(a), 3), round(float(b), 3), int(c)] for a, b, c in zip(t, ends, p)]


def _iter_chunks(path: str, sample_rate_hz: int) -> Iterator[tuple[float, np.ndarray, bool]]:
    """``(offset_s, samples, is_last)`` chunks of :data:`CHUNK_S` (+ overlap) seconds, up to the check's limit."""
    offset = 0.0
    while True:
        audio = decode_audio(path, sample_rate_hz=sample_rate_hz, start_s=offset, max_duration_s=CHUNK_S + CHUNK_OVERLAP_S)
        last = audio.duration_s < CHUNK_S + CHUNK_OVERLAP_S - 0.05 or offset + CHUNK_S >= MAX_CHECK_DURATION_S
        yield offset, audio.samples, last
        if last:
            return
        offset += CHUNK_S


def check_output(ctx: CheckContext, path: str | os.PathLike) -> CheckResult:
    """Run the three checks on one output file; bad input gives a result with ``error`` (never raises on content)."""
    path = str(path)
    try:
        return _check_output(ctx, path)
    except DecodeError as exc:
        return CheckResult(output=path, error=exc.reason)
    except ConsentryError as exc:
        return CheckResult(output=path, error=str(exc))
    except OSError as exc:
        return CheckResult(output=path, error=f"{path}: {exc.strerror or exc}")
    except MemoryError:
        return CheckResult(output=path, error=f"{path}: too large to check in memory")


def _check_output(ctx: CheckContext, path: str) -> CheckResult:
    reg = ctx.registry
    res = CheckResult(output=path, sha256=sha256_and_size(path)[0])
    timings = {"recording": 0.0, "melody": 0.0, "voice": 0.0}
    started = time.perf_counter()
    sr = reg.params.sample_rate_hz
    recordings: list[dict] = []
    # 1. copied recordings, at the engine's rate, chunk by chunk.
    t = time.perf_counter()
    for offset, samples, last in _iter_chunks(path, sr):
        n = samples.size / sr
        if offset == 0.0 and n < MIN_OUTPUT_S:
            raise InputError(f"{path}: too short to check ({n:.2f} s; at least {MIN_OUTPUT_S:g} s needed)")
        res.duration_s = offset + n
        for d in _identify_with_hashes(reg, samples, offset_s=offset, searched_s=offset + n):
            if not last and d["query_start_s"] - offset >= CHUNK_S:
                continue  # the next chunk sees it whole
            recordings.append(d)
        if last and offset + CHUNK_S >= MAX_CHECK_DURATION_S and n >= CHUNK_S:
            res.notes.append(f"only the first {MAX_CHECK_DURATION_S / 3600:g} h were checked; split longer outputs")
    timings["recording"] = time.perf_counter() - t
    res.checked_s = min(res.duration_s, MAX_CHECK_DURATION_S)
    # One decision rule for identify, scan and check: the threshold of the whole output's length.
    from consentry.engines.music import engine

    res.recording_min_score = engine.min_score_for(res.checked_s)
    recordings = [d for d in recordings if d["score"] >= res.recording_min_score]
    for d in recordings:
        d["confidence"] = engine.confidence(d["score"], searched_s=res.checked_s)
    res.recording = _merge_recordings(recordings)
    res.copied_share = (_covered_s([(m["query_start_s"], m["query_end_s"]) for m in res.recording]) / res.checked_s
                        if res.checked_s > 0 else 0.0)

    # 2 and 3 share one decode at 22050 Hz per chunk.
    do_melody = ctx.melody_skipped is None
    do_voice = ctx.voice_skipped is None
    if ctx.melody_skipped:
        res.skipped["melody"] = ctx.melody_skipped
    if ctx.voice_skipped:
        res.skipped["voice"] = ctx.voice_skipped
    if do_melody or do_voice:
        from consentry.engines.melody import transcribe

        notes = []
        voice_windows = []  # _VoiceWindow with times in the output
        voice_reason = None

        def voice_chunk(body: np.ndarray, offset: float) -> tuple[str | None, float]:
            t = time.perf_counter()
            return _voice_windows(ctx, body, offset, voice_windows, res), time.perf_counter() - t

        # The voice windows of a chunk run in a second thread while the melody is transcribed: both spend
        # their time in code that releases the GIL (NumPy products, onnxruntime), so one output uses two cores.
        pool = ThreadPoolExecutor(max_workers=1) if (do_melody and do_voice and ctx.two_threads) else None
        try:
            for offset, samples, last in _iter_chunks(path, MELODY_SAMPLE_RATE_HZ):
                body = samples if last else samples[: int(CHUNK_S * MELODY_SAMPLE_RATE_HZ)]
                pending = pool.submit(voice_chunk, body, offset) if pool is not None and do_voice else None
                if do_melody:
                    t = time.perf_counter()
                    for note in transcribe(samples, sample_rate_hz=MELODY_SAMPLE_RATE_HZ):
                        if last or note.start_s < CHUNK_S:
                            notes.append(type(note)(note.start_s + offset, note.end_s + offset, note.midi_pitch,
                                                    note.amplitude))
                    timings["melody"] += time.perf_counter() - t
                if do_voice:
                    reason, spent = pending.result() if pending is not None else voice_chunk(body, offset)
                    voice_reason = reason or voice_reason
                    timings["voice"] += spent
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        if do_melody:
            t = time.perf_counter()
            res.melody = _melody_check(ctx, notes, res)
            timings["melody"] += time.perf_counter() - t
        if do_voice:
            t = time.perf_counter()
            res.voice, res.voice_note = _voice_check(ctx, voice_windows, voice_reason)
            if ctx.voice_band_prints and ctx.band_prints_missing:
                res.notes.append(f"telephone-band print missing for {len(ctx.band_prints_missing)} creator(s) "
                                 f"({', '.join(ctx.band_prints_missing[:5])}"
                                 f"{', ...' if len(ctx.band_prints_missing) > 5 else ''}): a telephone copy of "
                                 f"their voice is seldom found. Voices enrolled before band prints get theirs with "
                                 f"consentry voices band-prints; a sample whose band-limited copy the speech gate "
                                 f"refused has none (enrol a longer or cleaner one)")
            timings["voice"] += time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    res.seconds = timings
    return res


def _melody_check(ctx: CheckContext, notes: list, res: CheckResult) -> list[dict]:
    from consentry.engines.melody import contour_of, match_contours, melody_from_notes

    from consentry.engines.melody import Melody

    mel = melody_from_notes(notes)
    # Long outputs are aligned in overlapping windows of the query melody, so the
    # alignment tables (query events x reference events) stay bounded; the
    # false-alarm budget is shared among the windows too.
    starts = list(range(0, max(1, len(mel) - MELODY_WINDOW_OVERLAP_NOTES), MELODY_WINDOW_NOTES - MELODY_WINDOW_OVERLAP_NOTES))
    budget = MELODY_FALSE_ALARM_PER_OUTPUT / max(1, len(ctx.melodies)) / len(starts)
    res.melody_false_alarm_per_comparison = budget
    if len(mel) < 7:
        return []
    q_notes = _melody_notes(mel)
    found = []
    for w0 in starts:
        window = Melody(mel.onsets_s[w0:w0 + MELODY_WINDOW_NOTES], mel.pitches[w0:w0 + MELODY_WINDOW_NOTES])
        if len(window) < 7:
            continue
        query = contour_of(window)
        for work, ref in ctx.melodies:
            for ph in match_contours(query, ref, max_false_alarm=budget):
                if any(f["work_id"] == work.work_id and abs(f["query_start_s"] - ph.query_start_s) < 0.5 for f in found):
                    continue  # the same phrase seen again in the overlap of two windows
                found.append(_phrase_finding(work, ph, q_notes, ref, w0))
                found[-1]["false_alarm_adjusted"] = _adjusted_false_alarm(query, ref, ph.score)
    for f in found:
        f.update(_regularity(mel, [q for q, _ in f["pairs"]]))
        if "caution" not in f and f["false_alarm_adjusted"] > budget:
            f["caution"] = MELODY_PREDICTABLE_CAUTION
    return sorted(found, key=lambda f: f["false_alarm"])


def _adjusted_false_alarm(query, ref, score: float) -> float:
    """The false-alarm probability of a phrase's ``score`` under COMPOSITION_NULL, for this pair of contours."""
    from consentry.engines.melody.composition import COMPOSITION_NULL, composition_lambda

    return float(COMPOSITION_NULL.false_alarm(score, len(query), len(ref), composition_lambda(query, ref)))


def _regularity(mel, query_notes: list[int]) -> dict:
    """How even and stepwise the output's phrase is (the notes from its first matched note to its last), and the
    caution such a phrase's finding carries (:data:`MELODY_REGULAR_SHARE`)."""
    from consentry.engines.melody import Melody, contour_of

    if not query_notes:
        return {}
    a, b = min(query_notes), max(query_notes) + 2  # pairs index events (note to next note): the phrase's notes
    c = contour_of(Melody(mel.onsets_s[a:b], mel.pitches[a:b]))
    if c.intervals.size < 2:
        return {}
    even = float(np.mean(c.rhythm[c.rhythm_known] == 0)) if c.rhythm_known.any() else 0.0
    stepwise = float(np.mean(np.abs(c.intervals) <= 2))
    out = {"even_rhythm_share": round(even, 3), "stepwise_share": round(stepwise, 3)}
    if even >= MELODY_REGULAR_SHARE and stepwise >= MELODY_REGULAR_SHARE:
        out["caution"] = MELODY_REGULAR_CAUTION
    return out


def _phrase_finding(work, ph, q_notes: list, ref, offset: int) -> dict:
    return {
        "work_id": work.work_id, "title": work.title, "creator": work.creator, "terms": work.terms.describe(),
        "query_start_s": round(ph.query_start_s, 3), "query_end_s": round(ph.query_end_s, 3),
        "reference_start_s": round(ph.reference_start_s, 3), "reference_end_s": round(ph.reference_end_s, 3),
        "n_notes": int(ph.n_notes), "n_matched_notes": int(ph.n_matched_notes), "score": float(ph.score),
        "false_alarm": float(ph.false_alarm), "transposition_semitones": int(ph.transposition_semitones),
        "tempo_ratio": round(float(ph.tempo_ratio), 4) if np.isfinite(ph.tempo_ratio) else None,
        "query_notes": q_notes, "reference_notes": _melody_notes(ref.melody),
        "pairs": [[int(a) + offset, int(b)] for a, b in ph.pairs],
    }


# ---------------------------------------------------------------- many outputs, evidence, rematch
def iter_outputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The files to check: files as given, folders searched recursively for audio files and the other media's."""
    from consentry.services.media import folder_extensions

    return list(iter_audio_files(paths, extensions=folder_extensions()))


def evidence_findings(ctx: CheckContext, res: CheckResult, *, all_voices: bool = False) -> tuple[dict, list[dict]]:
    """The ``findings`` dict docs/evidence.md asks for, and the reference files it points at."""
    reg = ctx.registry
    voice = res.voice if all_voices else res.voice_matches
    work_ids = sorted({f["work_id"] for f in res.recording + res.melody})
    terms = {}
    for wid in work_ids:
        w = reg.store.get_work(wid)
        terms[wid] = {"terms_version": w.terms_version, **w.terms.as_dict(),
                      "uses": reg.store.work_terms(wid).as_dict()}
    engines = [{"name": ENGINE_NAME, "version": ENGINE_VERSION, "params_hash": reg.param_hash, "check": "recording"}]
    if ctx.melody_engine:
        name, version, params = ctx.melody_engine.split("/")
        engines.append({"name": name, "version": version, "params_hash": params, "check": "melody",
                        "false_alarm_per_comparison": res.melody_false_alarm_per_comparison})
    if res.voice_engine:
        name, version, params = res.voice_engine.split("/")
        engines.append({"name": name, "version": version, "params_hash": params, "check": "voice"})
    findings = {"recording": res.recording, "melody": res.melody, "voice": voice, "engines": engines, "terms": terms,
                "output_duration_s": round(res.duration_s, 3), "copied_share": round(res.copied_share, 4),
                "tool_version": __version__}
    references = [{"id": wid, "path": (src := reg.store.get_work(wid).source), "kind": "work",
                   "name": given_name(reg, src)} for wid in work_ids]
    by_id = {v.voice_id: v for v in ctx.voices + ctx.band_voices}
    references += [{"id": f["voice_id"], "path": by_id[f["voice_id"]].source, "kind": "voice"}
                   for f in voice if f["voice_id"] in by_id]
    return findings, references


def given_name(registry, source: str | None) -> str | None:
    """The file name a work's owner gave it: an uploaded work's original name (its stored file is named by the
    server, ``up-….wav``), else the base name of its source."""
    if not source:
        return None
    path = Path(source)
    if path.name.startswith("up-"):
        row = registry.store.get_upload(path.name.split(".", 1)[0])
        if row and row.get("original_name"):
            return Path(str(row["original_name"])).name
    return path.name


def write_evidence(ctx: CheckContext, res: CheckResult, out_dir: str | os.PathLike, *, pdf: bool = True,
                   output_name: str | None = None) -> Path:
    """Write the signed evidence bundle of one checked output with findings (docs/evidence.md).

    ``output_name``: the output's file name as its sender knows it (a server
    passes the upload's name); facts.json and the bundle's file name use it
    instead of the name of ``res.output``, which may be a server-made path.
    """
    from consentry.services.evidence import write_bundle

    findings, references = evidence_findings(ctx, res)
    return write_bundle(out_dir, output_path=res.output, findings=findings, references=references,
                        registry_dir=ctx.registry.local_dir, tool_version=__version__, pdf=pdf,
                        output_name=output_name)


def rematch_with(ctx: CheckContext) -> Callable[[Path, dict], dict]:
    """A ``rematch(output_path, facts)`` for :func:`consentry.services.evidence.verify_bundle` that re-runs the three checks."""
    def rematch(output_path: Path, facts: dict) -> dict:
        # A bundle whose voice findings name no ``print`` was made before telephone-band prints: re-run as it ran.
        claimed = (facts.get("findings") or {}).get("voice") if isinstance(facts.get("findings"), dict) else None
        run = ctx
        if ctx.voice_band_prints and claimed and not any(isinstance(v, dict) and "print" in v for v in claimed):
            run = dataclasses.replace(ctx, voice_band_prints=False)
        res = check_output(run, output_path)
        if res.error is not None:
            raise InputError(res.error)
        return evidence_findings(run, res, all_voices=True)[0]
    return rematch
