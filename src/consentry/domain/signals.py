"""What a signal says about one use of a work, and the verdict several signals give together (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from consentry.domain.usage import USES

DECISIONS: tuple[str, ...] = ("deny", "allow", "license", "unspecified")
FORMATS: tuple[str, ...] = (
    "robots.txt", "ai.txt", "tdmrep", "content-usage", "rsl", "x-robots-tag", "html-meta", "terms-json",
    "c2pa", "xmp", "id3", "vorbis", "mp4",
)


@dataclass(frozen=True)
class Signal:
    """One statement, found in one place, about one use.

    ``decision`` is ``deny``, ``allow``, ``license`` or ``unspecified``;
    ``format`` one of :data:`FORMATS`; ``source`` says exactly where (file,
    line, header, assertion); ``location`` is the URL, path or file the
    statement applies to; ``detail`` holds the rest (user agent, price,
    currency, licence URL, signer, ...).
    """

    use: str
    decision: str
    format: str
    source: str
    location: str
    detail: dict = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if self.use not in USES:
            raise ValueError(f"unknown use {self.use!r}")
        if self.decision not in DECISIONS:
            raise ValueError(f"unknown decision {self.decision!r}")
        if self.format not in FORMATS:
            raise ValueError(f"unknown signal format {self.format!r}")

    def as_dict(self) -> dict:
        return {"use": self.use, "decision": self.decision, "format": self.format, "source": self.source,
                "location": self.location, "detail": dict(self.detail)}


@dataclass(frozen=True)
class SignalProblem:
    """A signal that could not be read: never a crash, always a finding."""

    format: str
    source: str
    message: str

    def __post_init__(self) -> None:
        # Both quote what a hostile document holds: a CR, NUL or ESC in it is shown escaped, so that a
        # problem stays one clean line on a terminal and in a report (fuzz campaign, issue 15).
        for name in ("source", "message"):
            value = getattr(self, name)
            if isinstance(value, str) and any(ord(c) < 32 or c == "\x7f" for c in value):
                object.__setattr__(self, name, "".join(ascii(c)[1:-1] if ord(c) < 32 or c == "\x7f" else c
                                                       for c in value))

    def as_dict(self) -> dict:
        return {"format": self.format, "source": self.source, "message": self.message}


#: IPTC Digital Source Type codes (cv.iptc.org/newscodes/digitalsourcetype/) that declare a work made
#: by generative AI: wholly, or composited with AI-made parts. C2PA actions (``digitalSourceType``)
#: and IPTC XMP (``Iptc4xmpExt:DigitalSourceType``) both use them.
AI_DIGITAL_SOURCE_TYPES: tuple[str, ...] = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
_IPTC_DST_PREFIXES = ("http://cv.iptc.org/newscodes/digitalsourcetype/",
                      "https://cv.iptc.org/newscodes/digitalsourcetype/")


def ai_source_type(value: object) -> str | None:
    """The code (``trainedAlgorithmicMedia`` ...) if ``value`` is an IPTC digital source type declaring AI, else None.

    The full URI is what the standards write (``http://``, also accepted with
    ``https://``); a bare code is accepted too.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    for prefix in _IPTC_DST_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    else:
        if "/" in text or ":" in text:
            return None
    text = text.rstrip("/")
    return text if text in AI_DIGITAL_SOURCE_TYPES else None


@dataclass(frozen=True)
class AiGeneratedLabel:
    """A file's own declaration that it was made by generative AI (a provenance label, not a use term).

    ``source_type`` is the IPTC code (one of :data:`AI_DIGITAL_SOURCE_TYPES`),
    ``value`` the value as written, ``format`` ``c2pa`` or ``xmp``, ``source``
    where exactly (``C2PA c2pa.actions.v2 c2pa.created in song.wav``,
    ``XMP Iptc4xmpExt:DigitalSourceType in photo.jpg``), ``detail`` the rest
    (for C2PA: signer, validation state, action).
    """

    source_type: str
    value: str
    format: str
    source: str
    location: str
    detail: dict = field(default_factory=dict, hash=False, compare=False)

    def as_dict(self) -> dict:
        return {"source_type": self.source_type, "value": self.value, "format": self.format, "source": self.source,
                "location": self.location, "detail": dict(self.detail)}


@dataclass(frozen=True)
class Verdict:
    """The combined verdict for one use, the signals behind it and their contradictions."""

    use: str
    decision: str
    signals: tuple[Signal, ...]
    contradictions: tuple[tuple[Signal, Signal], ...]

    def as_dict(self) -> dict:
        return {
            "use": self.use, "decision": self.decision, "signals": [s.as_dict() for s in self.signals],
            "contradictions": [{"a": a.as_dict(), "b": b.as_dict()} for a, b in self.contradictions],
        }


def combine(signals: Iterable[Signal], *, uses: Iterable[str] = USES) -> dict[str, Verdict]:
    """One verdict per use: deny beats license beats allow; unspecified says nothing.

    Every pair of signals about the same use with different (specified)
    decisions is a contradiction.
    """
    by_use: dict[str, list[Signal]] = {u: [] for u in uses}
    for s in signals:
        by_use.setdefault(s.use, []).append(s)
    out = {}
    for use, found in by_use.items():
        said = [s for s in found if s.decision != "unspecified"]
        decisions = {s.decision for s in said}
        decision = next((d for d in ("deny", "license", "allow") if d in decisions), "unspecified")
        contradictions = tuple(
            (a, b) for i, a in enumerate(said) for b in said[i + 1:] if a.decision != b.decision
        )
        out[use] = Verdict(use=use, decision=decision, signals=tuple(found), contradictions=contradictions)
    return out
