"""The cloned-voice part of ``consentry check`` and ``consentry voices enroll`` (see docs/check.md, docs/voice.md).

Re-exported by :mod:`consentry.services.check.service`, which runs it for each output chunk:

- :func:`enroll_voices` stores a creator's CAM++ print of each sample and, since 2026-12-07, the print of its
  telephone-band copy (:mod:`consentry.engines.voice.band`) as a second row under the band engine id;
- :func:`_voice_windows` prints an output's speech windows and measures their upper band;
- :func:`_voice_check` decides, per enrolled creator, on the best window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from consentry.domain.errors import DecodeError, InputError
from consentry.domain.hashing import sha256_and_size
from consentry.io.decode import decode_audio, iter_audio_files
from consentry.store.sqlite import utc_now
from consentry.store.sqlite_check import EnrolledVoice

#: The voice check embeds an output this many seconds at a time and averages the prints (bounded memory).
VOICE_SLICE_S = 60.0
#: The voice check compares windows of this length, this far apart, with the enrolled voices (seconds).
VOICE_WINDOW_S = 3.0
VOICE_HOP_S = 1.5
#: A window enters the voice check when the voice-activity detector kept at least this much speech in it (seconds;
#: 1.5 until 2026-12-07: 0.5 finds more brief voices at the same false-match rate, benchmarks/run_voice.py --windowed).
VOICE_MIN_WINDOW_SPEECH_S = 0.5
VOICE_SAMPLE_RATE_HZ = 16000
#: A voice finding whose window holds less than this share of its power (dB) in 4.2-7.5 kHz, against 0.1-7.5 kHz,
#: carries a caution: telephone-band or low-rate audio, where CAM++ prints of different people come out alike
#: (the check falsely matched 59-95 of 96 such dev outputs: docs/voice.md).  On 3-s windows (docs/voice.md,
#: "Telephone-band audio"), 84 % of Asterisk telephone-prompt windows fall below it, and 5-8 % of the windows of
#: wideband speech (KDE, fillets-ng) and of music outputs.
VOICE_NARROW_BAND_DB = -40.0
#: With ``voice_band_prints`` (docs/voice.md, "A second, telephone-band print"): in an output where at least
#: VOICE_NARROW_OUTPUT_SHARE of the speech windows are under VOICE_NARROW_BAND_DB, those windows' similarities are
#: lowered by VOICE_NARROW_BAND_PENALTY before the best window is taken (fitted on dev telephone outputs at 1 %
#: of them with a false match, benchmarks/voice_bandwise.py, session 7).
VOICE_NARROW_BAND_PENALTY = 0.2079
VOICE_NARROW_OUTPUT_SHARE = 0.5
VOICE_NARROW_BAND_CAUTION = ("little sound above 4.2 kHz in this window (telephone-band or low-rate audio): there, "
                             "different people's voice prints come out alike and the check's false-match rate is "
                             "far above the probability given (docs/voice.md)")

# ---------------------------------------------------------------- enrolment
@dataclass(frozen=True)
class EnrollOutcome:
    path: str
    voice: EnrolledVoice | None = None
    new: bool = False
    error: str | None = None
    #: The telephone-band print of the same sample (consentry.engines.voice.band), or why there is none.
    band_voice: EnrolledVoice | None = None
    band_new: bool = False
    band_error: str | None = None


def enroll_voices(registry, *, creator: str, paths: Iterable[str | os.PathLike],
                  band_print: bool = True) -> list[EnrollOutcome]:
    """Enrol one voice print per sample file for ``creator``, and (``band_print``) its telephone-band print.

    A file without speech, or that cannot be decoded, gets an error outcome
    (one line naming the file) and nothing is stored for it; the others go on.
    The telephone-band print (the sample through
    :func:`consentry.engines.voice.band.telephone_band`) is stored as its own
    voice row under the band engine id; a sample whose band-limited copy the
    speech gate refuses keeps its wideband print only (``band_error`` says why).
    Enrolling a file again stores nothing new but a missing band print: that is
    how voices enrolled before band prints get theirs.
    """
    from consentry.engines.voice.band import band_engine_id, telephone_band
    from consentry.engines.voice.model import load_voice_model, voice_print
    from consentry.services.check.service import CHUNK_S  # samples are read up to the check's chunk length

    if not creator or not creator.strip():
        raise InputError("--creator: give the name of the person whose voice this is")
    model = load_voice_model()
    out = []
    for f in iter_audio_files(paths):
        try:
            audio = decode_audio(f, sample_rate_hz=VOICE_SAMPLE_RATE_HZ, max_duration_s=CHUNK_S)
            vp = voice_print(audio.samples, sample_rate_hz=VOICE_SAMPLE_RATE_HZ, model=model)
            if not vp.has_speech:
                out.append(EnrollOutcome(str(f), error=f"{f}: {vp.no_speech_reason}; nothing enrolled for this file"))
                continue
            digest = sha256_and_size(f)[0]
            voice, new = registry.store.add_voice(
                creator=creator.strip(), engine=vp.engine, vector=vp.vector, source_name=f.name,
                source_sha256=digest, source=str(f.resolve()), duration_s=vp.duration_s, speech_s=vp.speech_s,
                enrolled_at=utc_now())
            band = dict(band_voice=None, band_new=False, band_error=None)
            if band_print:
                bp = voice_print(telephone_band(audio.samples, sample_rate_hz=VOICE_SAMPLE_RATE_HZ),
                                 sample_rate_hz=VOICE_SAMPLE_RATE_HZ, model=model)
                if bp.has_speech:
                    band["band_voice"], band["band_new"] = registry.store.add_voice(
                        creator=creator.strip(), engine=band_engine_id(bp.engine), vector=bp.vector,
                        source_name=f.name, source_sha256=digest, source=str(f.resolve()), duration_s=bp.duration_s,
                        speech_s=bp.speech_s, enrolled_at=utc_now())
                else:
                    band["band_error"] = f"{f}: telephone-band copy: {bp.no_speech_reason}; no telephone-band print"
            out.append(EnrollOutcome(str(f), voice=voice, new=new, **band))
        except DecodeError as exc:
            out.append(EnrollOutcome(str(f), error=f"{f}: {exc.reason}; nothing enrolled for this file"))
        except OSError as exc:
            out.append(EnrollOutcome(str(f), error=f"{f}: {exc.strerror or exc}; nothing enrolled for this file"))
    return out


@dataclass(frozen=True)
class BandPrintOutcome:
    """:func:`add_band_prints` for one enrolled voice: its new telephone-band print, or why there is none."""

    voice_id: str
    creator: str
    source: str | None
    band_voice: EnrolledVoice | None = None
    error: str | None = None


def add_band_prints(registry, *, creator: str | None = None) -> list[BandPrintOutcome]:
    """Telephone-band prints for the enrolled voices (of the current model) that have none, from their samples.

    Each voice's sample is read again from the path stored when it was
    enrolled; a sample no longer there, or changed since (another SHA-256),
    is named in an error outcome and nothing is stored for it (enrolling a
    copy of the sample again adds the print too).  Voices of an older model
    are left alone (they are not compared; enrol them again).
    """
    from pathlib import Path

    from consentry.engines.voice.band import band_engine_id, telephone_band
    from consentry.engines.voice.model import load_voice_model, voice_print
    from consentry.services.check.service import CHUNK_S

    model = load_voice_model()
    every = registry.store.list_voices()
    band = band_engine_id(model.engine)
    have = {(v.creator, v.source_sha256) for v in every if v.engine == band}
    out = []
    for v in every:
        if v.engine != model.engine or (v.creator, v.source_sha256) in have or creator not in (None, v.creator):
            continue
        path = Path(v.source) if v.source else None
        fail = None
        if path is None or not path.is_file():
            fail = f"{v.source or v.source_name}: the sample of voice {v.voice_id} is not there any more"
        elif sha256_and_size(path)[0] != v.source_sha256:
            fail = f"{path}: changed since voice {v.voice_id} was enrolled from it"
        if fail is not None:
            out.append(BandPrintOutcome(v.voice_id, v.creator, v.source, error=f"{fail}; enrol the sample again "
                                                                            f"(consentry voices enroll)"))
            continue
        try:
            audio = decode_audio(path, sample_rate_hz=VOICE_SAMPLE_RATE_HZ, max_duration_s=CHUNK_S)
        except DecodeError as exc:
            out.append(BandPrintOutcome(v.voice_id, v.creator, v.source, error=f"{path}: {exc.reason}"))
            continue
        bp = voice_print(telephone_band(audio.samples, sample_rate_hz=VOICE_SAMPLE_RATE_HZ),
                         sample_rate_hz=VOICE_SAMPLE_RATE_HZ, model=model)
        if not bp.has_speech:
            out.append(BandPrintOutcome(v.voice_id, v.creator, v.source,
                                        error=f"{path}: telephone-band copy: {bp.no_speech_reason}"))
            continue
        made, _ = registry.store.add_voice(creator=v.creator, engine=band, vector=bp.vector, source_name=v.source_name,
                                           source_sha256=v.source_sha256, source=v.source, duration_s=bp.duration_s,
                                           speech_s=bp.speech_s, enrolled_at=utc_now())
        have.add((v.creator, v.source_sha256))
        out.append(BandPrintOutcome(v.voice_id, v.creator, v.source, band_voice=made))
    return out


# ---------------------------------------------------------------- the check of one output
@dataclass(frozen=True)
class _VoiceWindow:
    """A window of an output for the voice check: times in the output, and its CAM++ print.

    ``vector`` is None when the speech gate took the window for music.
    """

    start_s: float
    end_s: float
    speech_s: float
    vector: np.ndarray | None
    upper_band_db: float | None = None


def upper_band_db(samples: np.ndarray, sample_rate_hz: int) -> float | None:
    """Power in 4.2-7.5 kHz against 0.1-7.5 kHz, in dB (None for silence or a rate too low to say)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 256 or sample_rate_hz < 15000:
        return None
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate_hz)
    total = float(power[(freqs >= 100.0) & (freqs < 7500.0)].sum())
    if total <= 1e-6 * x.size:
        return None
    upper = float(power[(freqs >= 4200.0) & (freqs < 7500.0)].sum())
    return round(10.0 * float(np.log10(max(upper, 1e-30) / total)), 1)


def _voice_windows(ctx: CheckContext, body: np.ndarray, offset_s: float, out: list, res: CheckResult) -> str | None:
    """Add the voice windows of one chunk (times in the output) to ``out``; returns a no-speech reason or None.

    GE2E finds the windows with speech and its gate sets music aside; CAM++
    prints the windows that pass (consentry.engines.voice.model).
    """
    import soxr

    from consentry.engines.voice.encoder import embed_voice_windows
    from consentry.services.check.service import MELODY_SAMPLE_RATE_HZ
    from consentry.engines.voice.gate import is_speech
    from consentry.engines.voice.model import window_prints

    model = ctx.voice_model
    res.voice_engine = model.engine
    reason = None
    # Slices of VOICE_SLICE_S keep the encoder's batch (windows x frames x gates) small; they overlap by
    # one window hop less than a window, so that every window of the output is whole in one slice.
    step = int((VOICE_SLICE_S - VOICE_WINDOW_S + VOICE_HOP_S) * MELODY_SAMPLE_RATE_HZ)
    span = int(VOICE_SLICE_S * MELODY_SAMPLE_RATE_HZ)
    seen = {round(w.start_s, 3) for w in out}
    for i in range(0, max(1, body.size), step):
        piece = body[i:i + span]
        if i > 0 and piece.size < MELODY_SAMPLE_RATE_HZ * 2:
            break  # a tail under 2 s: its windows were in the previous slice
        track = embed_voice_windows(piece, sample_rate_hz=MELODY_SAMPLE_RATE_HZ, encoder=model.ge2e,
                                    window_s=VOICE_WINDOW_S, hop_s=VOICE_HOP_S,
                                    min_window_speech_s=VOICE_MIN_WINDOW_SPEECH_S)
        if not track.whole.has_speech:
            reason = reason or track.whole.no_speech_reason
            continue
        at = offset_s + i / MELODY_SAMPLE_RATE_HZ
        spans = [(w.start_s, w.end_s, w.speech_s, w.vector) for w in track.windows]
        if not spans:  # a short clip: its whole print is its only window
            spans = [(0.0, round(piece.size / MELODY_SAMPLE_RATE_HZ, 3), track.whole.speech_s, track.whole.vector)]
        fresh = [w for w in spans if round(w[0] + at, 3) not in seen]  # not seen in the overlap of two slices
        if not fresh:
            continue
        passed = is_speech(np.stack([w[3] for w in fresh]))
        gated = [w for w, p in zip(fresh, passed) if p]
        prints = iter(())
        if gated:
            x16 = soxr.resample(np.asarray(piece, dtype=np.float32), MELODY_SAMPLE_RATE_HZ, VOICE_SAMPLE_RATE_HZ)
            prints = iter(window_prints(model, x16, [(w[0], w[1]) for w in gated]))
        for w, p in zip(fresh, passed):
            start = round(w[0] + at, 3)
            seen.add(start)
            band = upper_band_db(piece[int(w[0] * MELODY_SAMPLE_RATE_HZ):int(w[1] * MELODY_SAMPLE_RATE_HZ)],
                                 MELODY_SAMPLE_RATE_HZ) if p else None
            out.append(_VoiceWindow(start, round(w[1] + at, 3), w[2], next(prints) if p else None, band))
    return reason


def _voice_check(ctx: CheckContext, windows: list, reason: str | None) -> tuple[list[dict], str | None]:
    """Per enrolled creator, the best window of the output and the decision on it; and a note when none is speech.

    Windows that fail the speech gate (music) are left out.  A creator's
    score in a window is its enrolled voices' best CAM++ similarity there;
    the decision statistic is the best window's similarity (``statistic``
    "best_window"), judged by
    :func:`consentry.engines.voice.score.window_threshold` of the number of
    creators compared (calibrated for a maximum over windows, per output),
    whatever their number.  With ``ctx.voice_band_prints`` a creator's
    telephone-band prints are among its voices, and in an output where at
    least ``VOICE_NARROW_OUTPUT_SHARE`` of the speech windows are under
    ``VOICE_NARROW_BAND_DB`` those windows' similarities are lowered by
    ``VOICE_NARROW_BAND_PENALTY`` first (``score`` is then the lowered one,
    ``band_penalty`` says so).  (From 2026-12-07 17:00 to 19:34 UTC, more than
    ``COHORT_MIN`` creators were judged by a cohort-normalised score; it
    falsely matched 19-45 % of outputs whose voice is not enrolled, a case its
    threshold was not fitted on: docs/voice.md.)  ``similarity`` is the
    chosen window's CAM++ similarity; ``whole_score`` is the similarity of the
    mean print of all speech windows; ``creators_compared`` says how many
    creators the threshold was set for.
    """
    from consentry.engines.voice import decide
    from consentry.engines.voice.score import WINDOW_CALIBRATION, window_threshold

    if not windows:
        return [], reason or "no speech found"
    speech = [w for w in windows if w.vector is not None]
    if not speech:
        return [], (f"no speech found: the {len(windows)} stretch(es) with voice-like sound look like "
                    f"music to the speech gate")
    vectors = np.stack([w.vector for w in speech]).astype(np.float64)
    whole = vectors.sum(axis=0)
    whole /= float(np.linalg.norm(whole)) or 1.0
    band_on = bool(getattr(ctx, "voice_band_prints", False))  # contexts made before band prints have none
    compared = ctx.voices + (list(ctx.band_voices) if band_on else [])
    enrolled = np.stack([v.vector for v in compared]).astype(np.float64)
    raw = vectors @ enrolled.T  # (windows, voices)
    sims, penalised = raw, np.zeros(len(speech), bool)
    if band_on:
        narrow = np.array([w.upper_band_db is not None and w.upper_band_db < VOICE_NARROW_BAND_DB for w in speech])
        if narrow.mean() >= VOICE_NARROW_OUTPUT_SHARE:
            penalised = narrow
            sims = raw - VOICE_NARROW_BAND_PENALTY * narrow[:, None]
    whole_s = enrolled @ whole
    creators = list(dict.fromkeys(v.creator for v in compared))
    members = {c: [j for j, v in enumerate(compared) if v.creator == c] for c in creators}
    per_creator = np.stack([sims[:, members[c]].max(axis=1) for c in creators], axis=1)  # (windows, creators)
    # Per window and creator, the voice that gave the creator's similarity there.
    voice_of = np.stack([np.asarray(members[c])[sims[:, members[c]].argmax(axis=1)] for c in creators], axis=1)
    statistic, scored = "best_window", per_creator
    model_engine = ctx.voice_model.engine if getattr(ctx, "voice_model", None) is not None else None
    threshold, calibration = window_threshold(len(creators)), WINDOW_CALIBRATION
    best_w = scored.argmax(axis=0)
    out = []
    for k, creator in enumerate(creators):
        d = decide(float(scored[best_w[k], k]), threshold=threshold, calibration=calibration)
        j = int(voice_of[best_w[k], k])
        w = speech[int(best_w[k])]
        unrelated = sorted(round(float(scored[:, i].max()), 4) for i in range(len(creators)) if i != k)
        band_fields = {}
        if band_on:
            band_fields = {"print": "wideband" if compared[j].engine == model_engine else "telephone_band",
                           "telephone_print": creator not in ctx.band_prints_missing,
                           **({"band_penalty": VOICE_NARROW_BAND_PENALTY} if penalised[best_w[k]] else {})}
        out.append({"voice_id": compared[j].voice_id, "creator": creator, "score": round(d.score, 4),
                    "statistic": statistic, "similarity": round(float(raw[best_w[k], j]), 4), **band_fields,
                    "threshold": d.threshold, "probability": round(d.probability, 4), "is_match": d.is_match,
                    "window_start_s": w.start_s, "window_end_s": w.end_s, "window_speech_s": w.speech_s,
                    "whole_score": round(float(whole_s[j]), 4), "speech_windows": len(speech),
                    "creators_compared": len(creators), "unrelated_scores": unrelated,
                    **({"upper_band_db": w.upper_band_db} if w.upper_band_db is not None else {}),
                    **({"caution": VOICE_NARROW_BAND_CAUTION}
                       if w.upper_band_db is not None and w.upper_band_db < VOICE_NARROW_BAND_DB else {})})
    return sorted(out, key=lambda f: -f["score"]), None
