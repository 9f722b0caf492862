"""The music engine behind the media-engine interface: an adapter over :mod:`consentry.engines.music`.

The algorithm lives, unchanged, in ``consentry/engines/music/`` (extract,
postings, match, reference, params; ``docs/engine.md``).  This class only
maps its functions onto :class:`consentry.engines.base.MediaEngine`:

=====================  ===========================================================
interface              music engine
=====================  ===========================================================
``id``                 ``consentry-music-landmark`` / ``params.version`` / ``params.param_hash()``
``sniff``              :func:`consentry.formats.sniff.sniff_media` says audio (or video with sound)
``decode``             :func:`consentry.io.decode.decode_audio` to mono float32 at ``params.sample_rate_hz``
``fingerprint``        :func:`~consentry.engines.music.extract.index_hashes`
``postings``           :func:`~consentry.engines.music.postings.pack_postings`
``query_print``        :func:`~consentry.engines.music.extract.query_hashes`
``candidates``         :func:`~consentry.engines.music.postings.lookup`
``verify``             :func:`~consentry.engines.music.match.match_segments`
``locate``             :func:`~consentry.engines.music.engine.identify_segments` (same results)
``min_score_for``      :func:`~consentry.engines.music.engine.min_score_for` (seconds searched)
=====================  ===========================================================

Times in :class:`Located` are seconds (``frame / params.frames_per_s``),
not rounded and not clipped to the work's duration (the caller knows it);
the exact frames, speed and pitch shift are in :class:`MusicExtra`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from consentry.engines.music import engine as _engine
from consentry.engines.music.extract import QueryHashes, index_hashes, query_hashes
from consentry.engines.music.match import SegmentMatch, match_segments
from consentry.engines.music.params import (DEFAULT_PARAMS, ENGINE_NAME, ENGINE_VERSION, V1_PARAMS, MusicEngineParams,
                                            MusicEngineParams2)
from consentry.engines.music.postings import Hits, lookup, pack_postings, unpack_postings
from consentry.engines.base import EngineId, Extent, Fingerprint, Located, SegmentLike, Signal, Source

__all__ = ["MusicEngine", "MusicExtra", "MusicEngineParams", "MusicEngineParams2", "DEFAULT_PARAMS", "V1_PARAMS",
           "ENGINE_NAME", "ENGINE_VERSION"]

MEDIUM = "music"


@dataclass(frozen=True)
class MusicExtra:
    """What a music match says beyond its extents.

    Attributes
    ----------
    segment : SegmentMatch
        The engine's own result (frames, inliers, candidates), as
        :func:`consentry.engines.music.engine.identify_segments` returns it.
    speed : float
        Work time / query time (1.03 for a copy played 3% faster).
    pitch_shift_semitones : float
        The query's pitch minus the work's (semitones).
    """

    segment: SegmentMatch
    speed: float
    pitch_shift_semitones: float


@dataclass(frozen=True)
class MusicEngine:
    """The landmark-quad music engine (``docs/engine.md``) as a :class:`~consentry.engines.base.MediaEngine`.

    Parameters
    ----------
    params : MusicEngineParams
        Frozen engine parameters (default: version 2's, :data:`DEFAULT_PARAMS`;
        ``MusicEngine(V1_PARAMS)`` is version 1, for v1 registries and evidence).
    """

    params: MusicEngineParams = DEFAULT_PARAMS
    medium: str = MEDIUM

    @property
    def id(self) -> EngineId:
        return EngineId(ENGINE_NAME, self.params.version, self.params.param_hash())

    # -- input ------------------------------------------------------------------
    def sniff(self, head: bytes, *, name: str | None = None) -> bool:
        """True when the magic bytes say audio, or a video container with a sound track."""
        from consentry.formats.sniff import is_audio_media, sniff_media

        return is_audio_media(sniff_media(head))

    def decode(self, source: Source, *, max_extent: float | None = None, name: str | None = None) -> Signal:
        """Decode to mono float32 at ``params.sample_rate_hz``; ``max_extent`` in seconds.

        Raises :class:`consentry.domain.errors.DecodeError` (one line naming the input).
        """
        from consentry.io.decode import decode_audio

        audio = decode_audio(source, sample_rate_hz=self.params.sample_rate_hz, max_duration_s=max_extent, name=name)
        return self.signal(audio.samples)

    def signal(self, samples: np.ndarray) -> Signal:
        """Wrap mono float32 samples at ``params.sample_rate_hz`` (already decoded) as a :class:`Signal`."""
        sr = self.params.sample_rate_hz
        return Signal(MEDIUM, samples, float(sr), (samples.shape[0] / sr,), "s")

    def _samples(self, signal: Signal) -> np.ndarray:
        if signal.medium != MEDIUM or signal.rate != self.params.sample_rate_hz:
            raise ValueError(f"the music engine needs music at {self.params.sample_rate_hz} Hz, "
                             f"not {signal.medium} at {signal.rate:g}")
        return signal.data

    # -- fingerprints and the index ---------------------------------------------
    def fingerprint(self, signal: Signal) -> Fingerprint:
        """Hashes of a registered work: ``keys`` (uint32), ``fields["anchor_frame"]`` (int32),
        ``fields["anchor_midi"]`` (float32), all of shape (m,); empty for silence."""
        keys, frames, midis = index_hashes(self._samples(signal), self.params)
        return Fingerprint(self.id, keys, {"anchor_frame": frames, "anchor_midi": midis}, signal.extent, "s")

    def postings(self, fp: Fingerprint, *, fp_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, values)``: values are ``fp_id << 38 | anchor_frame << 14 | round(anchor_midi * 64)``."""
        if fp.engine != self.id:
            raise ValueError(f"a fingerprint of {fp.engine} cannot go into an index of {self.id}")
        return fp.keys, pack_postings(fp_id, fp.fields["anchor_frame"], fp.fields["anchor_midi"])

    def fp_ids(self, values: np.ndarray) -> np.ndarray:
        return unpack_postings(values)[0]

    # -- search -----------------------------------------------------------------
    def query_print(self, signal: Signal) -> QueryHashes:
        """Key ranges of the query's quads, expanded for pitch and tempo changes."""
        return query_hashes(self._samples(signal), self.params)

    def candidates(self, query: QueryHashes, segments: Sequence[SegmentLike], *, with_keys: bool = False) -> Hits:
        """Postings of every key range in every segment (ranges holding more than
        :data:`~consentry.engines.music.engine.MAX_POSTINGS_PER_RANGE` are stop words and skipped;
        version 2 gathers at most ``params.max_postings_per_query``, rarest keys first)."""
        return lookup(segments, query.key_lo, query.key_hi, query.owner,
                      max_postings_per_range=_engine.MAX_POSTINGS_PER_RANGE, with_keys=with_keys,
                      max_postings_total=getattr(self.params, "max_postings_per_query", None))

    def verify(self, candidates: Hits, query: QueryHashes, *, min_score: float, searched: float,
               with_evidence: bool = False, max_evidence: int | None = None) -> list[Located[MusicExtra]]:
        """Segments on one (speed, offset, pitch shift) line with at least ``min_score`` inliers, best first.

        With ``with_evidence`` the candidates must have been looked up
        ``with_keys=True``; each match's ``evidence`` is then its
        :class:`~consentry.engines.music.engine.MatchedHashes`.
        """
        found = match_segments(candidates, query.quads, self.params, min_inliers=max(3, int(math.ceil(min_score))),
                               with_hits=with_evidence)
        out = []
        for m in found:
            evidence = None
            if with_evidence:
                evidence = _engine._matched_hashes(m, candidates, query.quads, max_hashes=max_evidence)
                m = replace(m, inlier_hits=None)
            out.append(self._located(m, searched=searched, evidence=evidence))
        return out

    def locate(self, signal: Signal, segments: Sequence[SegmentLike], *, min_score: float | None = None,
               searched: float | None = None, with_evidence: bool = False,
               max_evidence: int | None = None) -> list[Located[MusicExtra]]:
        """Every segment of an indexed work found in ``signal``; the same as
        :func:`~consentry.engines.music.engine.identify_segments` (``searched`` in seconds)."""
        searched = signal.size if searched is None else searched
        threshold = self.min_score_for(searched) if min_score is None else min_score
        query = self.query_print(signal)
        hits = self.candidates(query, segments, with_keys=with_evidence)
        return self.verify(hits, query, min_score=threshold, searched=searched, with_evidence=with_evidence,
                           max_evidence=max_evidence)

    def _located(self, m: SegmentMatch, *, searched: float, evidence: Any) -> Located[MusicExtra]:
        fps = self.params.frames_per_s
        return Located(
            fp_id=int(m.fp_id),
            score=float(m.inliers),
            confidence=self.confidence(m.inliers, searched=searched),
            query=Extent.span(m.query_start_frame / fps, m.query_end_frame / fps, unit="s"),
            work=Extent.span(m.work_start_frame / fps, m.work_end_frame / fps, unit="s"),
            extra=MusicExtra(segment=m, speed=float(m.speed), pitch_shift_semitones=float(m.pitch_shift_semitones)),
            evidence=evidence,
        )

    # -- decision and evidence --------------------------------------------------
    def min_score_for(self, searched: float) -> float:
        """Fewest inliers for a match in ``searched`` seconds of audio (``docs/engine.md``, "Threshold")."""
        return _engine.min_score_for(searched, version=self.params.version)

    def confidence(self, score: float, *, searched: float) -> float:
        return _engine.confidence(score, searched_s=searched, version=self.params.version)

    def evidence_facts(self, match: Located[MusicExtra]) -> dict[str, Any]:
        """Engine id, both extents (s, to the ms), speed, pitch shift and, when asked for, the matched hashes.

        ``matched_hashes`` rows are ``{hash, query_offset_s, work_offset_s}``
        (strongest first), as ``consentry check`` writes them in a bundle;
        ``matched_hashes_total`` counts them all.
        """
        q0, q1 = match.query.as_span()
        w0, w1 = match.work.as_span()
        facts: dict[str, Any] = {
            "medium": MEDIUM, "engine": self.id.as_dict(), "fp_id": match.fp_id,
            "score": match.score, "confidence": match.confidence,
            "query_start_s": round(q0, 3), "query_end_s": round(q1, 3),
            "work_start_s": round(max(0.0, w0), 3), "work_end_s": round(w1, 3),
            "speed": round(match.extra.speed, 4), "pitch_shift_semitones": round(match.extra.pitch_shift_semitones, 2),
        }
        h = match.evidence
        if h is not None:
            fps = self.params.frames_per_s
            facts["matched_hashes"] = [
                {"hash": int(k), "query_offset_s": round(q / fps, 3), "work_offset_s": round(f / fps, 3)}
                for k, q, f in zip(h.key.tolist(), h.query_frame.tolist(), h.work_frame.tolist())]
            facts["matched_hashes_total"] = int(h.total)
        return facts
