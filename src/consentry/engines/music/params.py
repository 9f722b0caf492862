"""Parameters of the music landmark engine, versions 1 and 2.

Every fingerprint stored in a registry carries the engine name, version and
the hash of these parameters; a fingerprint is only ever compared with one made
under the same three values.  Changing any default below changes
:func:`MusicEngineParams.param_hash`, and the registry then reports which works
need re-indexing.

Version 1 (:class:`MusicEngineParams`, :data:`V1_PARAMS`) is frozen: v1
registries and evidence bundles are read and re-matched with it.  Version 2
(:class:`MusicEngineParams2`, :data:`DEFAULT_PARAMS`) is what new
registrations use (``docs/engine.md``).  :func:`params_for` gives the
parameters of a stored (version, parameter hash).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import ClassVar

ENGINE_NAME = "consentry-music-landmark"
ENGINE_VERSION_1 = "1"
ENGINE_VERSION_2 = "2"
#: The version new registrations use.
ENGINE_VERSION = ENGINE_VERSION_2


@dataclass(frozen=True)
class MusicEngineParams:
    """All the knobs of the engine, with their units in the names.

    The defaults are the engine's version 1; see ``docs/engine.md`` for why each
    value was chosen.  ``version`` is a class attribute, not a field, so it is
    not part of the parameter hash (v1's hash stays ``a9373b04c01a0962``).
    """

    version: ClassVar[str] = ENGINE_VERSION_1

    #: Sample rate the audio is decoded to (Hz).  8 kHz keeps everything up to
    #: the telephone band's upper edge.
    sample_rate_hz: int = 8000
    #: STFT frame length (samples) and hop (samples): 128 ms window, 16 ms hop.
    n_fft: int = 1024
    hop: int = 128
    #: Power is averaged over this many frames before peaks are picked.
    smooth_frames: int = 3
    #: Log-frequency axis, in MIDI note numbers (69 = A4 = 440 Hz).
    min_midi: float = 45.0
    max_midi: float = 105.0
    bins_per_semitone: int = 3
    #: Half-size of the neighbourhood in which a peak must be the maximum.
    peak_radius_frames: int = 5
    peak_radius_bins: int = 3
    #: Peaks weaker than the loudest frame's level minus this are ignored (dB).
    floor_db: float = 60.0
    #: Peak budget per second of audio, for what is indexed and what is asked.
    index_peaks_per_s: float = 10.0
    query_peaks_per_s: float = 24.0
    #: Length of the blocks over which the peak budget is spent (s).
    budget_block_s: float = 1.0
    #: Target zone of a quad's anchor: later peaks between these frame
    #: distances and within this many semitones.
    zone_min_frames: int = 3
    zone_max_frames: int = 80
    zone_max_semitones: int = 12
    #: How many of the first peaks in the zone are combined into quads.
    index_fanout: int = 5
    query_fanout: int = 7
    #: Width of the band of the anchor's pitch that enters the hash (semitones).
    anchor_band_semitones: float = 6.0
    #: Step of log(time span of a quad) in the hash (natural log units).
    log_span_step: float = 0.405
    #: Number of bins of the ratios (t - t1) / (t4 - t1) in the hash.
    ratio_bins: int = 12
    #: Largest time-scale and pitch changes the query side looks for.
    max_speed_change: float = 0.10
    max_pitch_shift_semitones: float = 2.6
    #: Query-side tolerance: a value this close to a quantisation boundary is
    #: also looked up in the neighbouring bin.
    semitone_tolerance: float = 0.2
    ratio_tolerance_bins: float = 0.3
    log_span_tolerance: float = 0.05

    @property
    def frames_per_s(self) -> float:
        return self.sample_rate_hz / self.hop

    @property
    def n_bins(self) -> int:
        return int(round((self.max_midi - self.min_midi) * self.bins_per_semitone)) + 1

    def param_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the parameters as canonical JSON."""
        return _param_hash(self)


@lru_cache(maxsize=32)
def _param_hash(params: MusicEngineParams) -> str:
    # Cached: every identify asks for it several times (it is frozen, so it cannot change).
    blob = json.dumps(asdict(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MusicEngineParams2(MusicEngineParams):
    """Version 2: selective hashed keys, point lookups, rarest keys first (``docs/engine.md``).

    The fields of version 1 with version 2's values, and these:
    """

    version: ClassVar[str] = ENGINE_VERSION_2

    index_peaks_per_s: float = 10.0
    query_peaks_per_s: float = 16.0
    index_fanout: int = 4
    query_fanout: int = 6
    max_speed_change: float = 0.06
    semitone_tolerance: float = 0.1
    ratio_tolerance_bins: float = 0.25
    #: Step of the pitch differences in the key (semitones).
    semitone_step: float = 0.5
    #: A quad's other three peaks come from the ``fanout`` strongest of the
    #: anchor's zone (version 1: the first ones in time).
    zone_by_strength: bool = True
    #: Peaks are ranked by strength + this * (level - loudest level in the block) (dB per dB).
    rank_level_weight: float = 0.0
    #: Most postings gathered for one query, rarest keys first (bounds the
    #: work per query whatever the size of the index).
    max_postings_per_query: int = 200_000


V1_PARAMS = MusicEngineParams()
DEFAULT_PARAMS = MusicEngineParams2()
KNOWN_PARAMS = (V1_PARAMS, DEFAULT_PARAMS)


def params_for(version: str, param_hash: str | None = None) -> MusicEngineParams:
    """The built-in parameters of engine ``version`` (and ``param_hash``, when given).

    Raises
    ------
    KeyError
        If this Consentry has no such version and parameters (the message names those it has).
    """
    for p in KNOWN_PARAMS:
        if p.version == str(version) and (param_hash is None or p.param_hash() == param_hash):
            return p
    known = ", ".join(f"{p.version}/{p.param_hash()}" for p in KNOWN_PARAMS)
    raise KeyError(f"music engine version {version}/{param_hash or '*'} is not known here (known: {known})")
