"""The media-engine interface: what a medium (music, text, images) provides to the rest of Consentry.

An engine is pure: samples, text or pixels in; fingerprints, index postings
and located matches out.  It does no I/O beyond :meth:`MediaEngine.decode`
(which hands the input to :mod:`consentry.io.decode` or the medium's own
reader) and reads no global settings: its parameters are a frozen dataclass
passed in when it is made.  Everything above the engines (registry, scans,
checks, reports, evidence, claims, ledger) talks to a medium only through
this module's types.  See ``docs/engines.md``.

The flow, for any medium::

    signal = engine.decode(path_or_bytes)           # Signal: samples, text, pixels
    fp = engine.fingerprint(signal)                 # Fingerprint: keys + per-key data
    keys, values = engine.postings(fp, fp_id=7)     # what a store segment holds
    found = engine.locate(engine.decode(query), segments)   # list[Located]
    facts = engine.evidence_facts(found[0])         # JSON-safe facts for a bundle

:meth:`~MediaEngine.locate` is :meth:`~MediaEngine.query_print`, then
:meth:`~MediaEngine.candidates` (index lookup), then
:meth:`~MediaEngine.verify` (geometry, scoring), in one call; the three steps
are public so that a caller can, for example, look up once and verify twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
import math
from typing import TYPE_CHECKING, Any, BinaryIO, Generic, Mapping, Protocol, Sequence, TypeVar, Union, runtime_checkable

if TYPE_CHECKING:  # numpy is imported by the engines that use it, not by the interface
    import numpy as np

__all__ = [
    "EngineId",
    "Extent",
    "Fingerprint",
    "Located",
    "MediaEngine",
    "SegmentLike",
    "Signal",
    "Source",
]

#: What :meth:`MediaEngine.decode` accepts: a path, the file's bytes, or an open binary file.
Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]

ExtraT = TypeVar("ExtraT")


@dataclass(frozen=True)
class EngineId:
    """Name, version and parameter hash: what is stored with every fingerprint and index segment.

    Two fingerprints are only ever compared when all three are equal.  The
    name says the algorithm (``"consentry-music-landmark"``), the version
    changes whenever its output changes, and the parameter hash covers the
    engine's frozen parameters.
    """

    name: str
    version: str
    param_hash: str

    def __str__(self) -> str:
        return f"{self.name}/{self.version}/{self.param_hash}"

    def as_dict(self) -> dict[str, str]:
        """``{"name", "version", "param_hash"}`` (the keys reports and evidence use)."""
        return {"name": self.name, "version": self.version, "param_hash": self.param_hash}

    def store_key(self) -> dict[str, str]:
        """``{"engine", "engine_version", "param_hash"}``: the keyword arguments of the store's segment calls.

        >>> store.index_segments(**engine.id.store_key())  # doctest: +SKIP
        """
        return {"engine": self.name, "engine_version": self.version, "param_hash": self.param_hash}


@dataclass(frozen=True)
class Signal:
    """A decoded input in the form the engine fingerprints.

    Attributes
    ----------
    medium : str
        The engine's medium (``"music"``, ``"text"``, ``"image"``).
    data : Any
        The signal: for audio an ndarray of float32, shape (n,), mono at
        ``rate``; for text a ``str`` (the extracted, not yet normalised text);
        for images an ndarray of uint8, shape (height, width, channels).
    rate : float
        Samples per unit of ``extent``: Hz for audio; 1 for text (characters)
        and images (pixels).
    extent : tuple of float
        Size along each axis in the medium's unit: ``(duration_s,)``,
        ``(n_chars,)``, ``(width_px, height_px)``.
    unit : str
        ``"s"``, ``"char"`` or ``"px"``.
    """

    medium: str
    data: Any
    rate: float
    extent: tuple[float, ...]
    unit: str

    @property
    def size(self) -> float:
        """The amount of input searched, for the engine's decision rule: seconds, characters or pixels."""
        return float(math.prod(self.extent)) if self.extent else 0.0


@dataclass(frozen=True)
class Fingerprint:
    """A registered work's fingerprint: one uint32 key per hash and what the index stores beside it.

    Attributes
    ----------
    engine : EngineId
        The engine (and parameters) that made it.
    keys : ndarray of uint32, shape (m,)
        Hash keys, in the order the engine made them (not sorted).
    fields : Mapping[str, ndarray]
        Per-key arrays of shape (m,) that :meth:`MediaEngine.postings`
        packs into the index values (music: ``anchor_frame`` and
        ``anchor_midi``; text: character offsets; images: keypoint positions).
    extent : tuple of float
        The work's size along each axis, in ``unit`` (as :attr:`Signal.extent`).
    unit : str
    """

    engine: EngineId
    keys: np.ndarray
    fields: Mapping[str, np.ndarray]
    extent: tuple[float, ...]
    unit: str

    def __len__(self) -> int:
        return int(self.keys.shape[0])


@dataclass(frozen=True)
class Extent:
    """A located stretch of one side of a match, along the medium's axes.

    One axis for audio (seconds) and text (character offsets in the
    extracted text), two for images (a box ``x0, y0, x1, y1`` in pixels).
    ``start`` and ``end`` have one entry per axis; ``end`` is exclusive for
    text and images and the end time for audio.

    Examples
    --------
    >>> Extent.span(12.0, 22.5, unit="s")
    Extent(start=(12.0,), end=(22.5,), unit='s')
    >>> Extent.box(10, 20, 110, 220).as_box()
    (10.0, 20.0, 110.0, 220.0)
    """

    start: tuple[float, ...]
    end: tuple[float, ...]
    unit: str

    @classmethod
    def span(cls, start: float, end: float, *, unit: str) -> "Extent":
        """A stretch on one axis: seconds (``unit="s"``) or characters (``unit="char"``)."""
        return cls((float(start),), (float(end),), unit)

    @classmethod
    def box(cls, x0: float, y0: float, x1: float, y1: float) -> "Extent":
        """An image region, ``[x0, y0, x1, y1]`` in pixels (``unit="px"``)."""
        return cls((float(x0), float(y0)), (float(x1), float(y1)), "px")

    @property
    def length(self) -> float:
        """Size along the first axis (seconds, characters, pixels of width)."""
        return self.end[0] - self.start[0]

    def as_span(self) -> tuple[float, float]:
        """``(start, end)`` of a one-axis extent."""
        if len(self.start) != 1:
            raise ValueError(f"an extent of {len(self.start)} axes is not a span")
        return self.start[0], self.end[0]

    def as_box(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of a two-axis extent."""
        if len(self.start) != 2:
            raise ValueError(f"an extent of {len(self.start)} axes is not a box")
        return self.start[0], self.start[1], self.end[0], self.end[1]


@dataclass(frozen=True)
class Located(Generic[ExtraT]):
    """One occurrence of one registered work in a query, located on both sides.

    Attributes
    ----------
    fp_id : int
        The work's numeric fingerprint id in the index (the store maps it to a work).
    score : float
        The engine's own score, compared with its decision rule
        (:meth:`MediaEngine.min_score_for`): music counts distinct inlier
        anchors; a text engine would count matched words, an image engine
        geometrically verified keypoints.
    confidence : float
        In [0, 1], from :meth:`MediaEngine.confidence` of ``score`` and the size searched.
    query, work : Extent
        Where the match lies in the query and in the work.
    extra : ExtraT
        Medium-specific facts as a frozen dataclass (music:
        :class:`consentry.engines.music.MusicExtra` with speed and pitch
        shift; text: e.g. matched words and the share of the work covered;
        images: e.g. scale, rotation and mirroring).
    evidence : object or None
        The raw matches behind this one (music:
        :class:`consentry.engines.music.engine.MatchedHashes`), when
        asked for; :meth:`MediaEngine.evidence_facts` turns them into
        JSON-safe facts.
    """

    fp_id: int
    score: float
    confidence: float
    query: Extent
    work: Extent
    extra: ExtraT
    evidence: Any = field(default=None, compare=False, repr=False)


class SegmentLike(Protocol):
    """An index segment as stores hold it (``consentry.store.segments.IndexSegment``): sorted keys, postings."""

    keys: np.ndarray
    values: np.ndarray

    def find_ranges(self, key_lo: np.ndarray, key_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class MediaEngine(Protocol):
    """What a medium implements.  Instances are immutable; parameters are fixed when one is made.

    Index format shared by every engine: a store segment holds uint32
    ``keys`` (sorted) and uint64 ``values`` of the same length; the engine
    decides what a value packs, except that :meth:`fp_ids` must recover the
    work's fingerprint id from it (the store drops and compacts works by it).
    """

    #: The medium this engine serves: ``"music"``, ``"text"``, ``"image"``.
    medium: str

    @property
    def id(self) -> EngineId:
        """Name, version and parameter hash stored with every fingerprint and segment."""
        ...

    @property
    def params(self) -> Any:
        """The engine's frozen parameters (a dataclass with units in its field names)."""
        ...

    # -- input ------------------------------------------------------------------
    def sniff(self, head: bytes, *, name: str | None = None) -> bool:
        """Whether an input whose first bytes are ``head`` (512 are enough) is this engine's medium."""
        ...

    def decode(self, source: Source, *, max_extent: float | None = None, name: str | None = None) -> Signal:
        """Read an input into the engine's signal (the one method that reads: it hands over to the decoders).

        ``max_extent`` bounds the work (seconds, characters, pixels);
        ``name`` labels bytes in error messages.  Raises
        :class:`consentry.domain.errors.DecodeError` with a one-line reason.
        """
        ...

    # -- fingerprints and the index ---------------------------------------------
    def fingerprint(self, signal: Signal) -> Fingerprint:
        """The registered side's fingerprint of ``signal``; pure and deterministic."""
        ...

    def postings(self, fp: Fingerprint, *, fp_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keys uint32, values uint64)`` of one work, to be sorted into a store segment."""
        ...

    def fp_ids(self, values: np.ndarray) -> np.ndarray:
        """The fingerprint id (int64) of each packed index value."""
        ...

    # -- search -----------------------------------------------------------------
    def query_print(self, signal: Signal) -> Any:
        """The query side's fingerprint (often more tolerant than :meth:`fingerprint`: key ranges, more hashes)."""
        ...

    def candidates(self, query: Any, segments: Sequence[SegmentLike], *, with_keys: bool = False) -> Any:
        """Every posting of every segment that the query's keys reach (chance hits included)."""
        ...

    def verify(self, candidates: Any, query: Any, *, min_score: float, searched: float,
               with_evidence: bool = False, max_evidence: int | None = None) -> list[Located]:
        """The candidates that agree on one geometry, as located matches of at least ``min_score``, best first.

        With ``with_evidence``, each match's ``evidence`` holds the raw matches
        behind it, strongest first, at most ``max_evidence`` of them (all by default).
        """
        ...

    def locate(self, signal: Signal, segments: Sequence[SegmentLike], *, min_score: float | None = None,
               searched: float | None = None, with_evidence: bool = False,
               max_evidence: int | None = None) -> list[Located]:
        """:meth:`query_print`, :meth:`candidates` and :meth:`verify` in one call.

        ``searched`` is the size of the whole query ``signal`` belongs to (it
        may be a piece of a longer one), in the medium's unit; default
        ``signal.size``.  ``min_score`` defaults to :meth:`min_score_for`
        of ``searched``.
        """
        ...

    # -- decision and evidence --------------------------------------------------
    def min_score_for(self, searched: float) -> float:
        """The decision rule: the lowest score reported for a query of size ``searched``."""
        ...

    def confidence(self, score: float, *, searched: float) -> float:
        """Confidence in [0, 1] that a match of ``score`` in ``searched`` is not chance."""
        ...

    def evidence_facts(self, match: Located) -> dict[str, Any]:
        """JSON-safe facts a third party can re-check (engine id, extents, medium fields, raw matches)."""
        ...
