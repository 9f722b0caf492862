"""The result of ``consentry verify``: one verdict per use, the signals behind it and what could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field

from consentry.domain.usage import USES
from consentry.domain.signals import AiGeneratedLabel, Signal, SignalProblem, Verdict, combine

__all__ = ["ResourceReport", "VerifyReport", "merge_verdicts"]


@dataclass(frozen=True)
class ResourceReport:
    """The verdicts for one judged path (or file) and the signals that apply to it."""

    path: str
    location: str
    verdicts: dict[str, Verdict]
    signals: tuple[Signal, ...]
    problems: tuple[SignalProblem, ...]

    @classmethod
    def build(cls, path: str, location: str, signals: list[Signal], problems: list[SignalProblem]) -> "ResourceReport":
        return cls(path, location, combine(signals), tuple(signals), tuple(_unique(problems)))

    def as_dict(self) -> dict:
        return {"path": self.path, "location": self.location,
                "verdicts": {u: v.as_dict() for u, v in self.verdicts.items()},
                "problems": [p.as_dict() for p in self.problems]}


def merge_verdicts(resources: list[ResourceReport]) -> dict[str, Verdict]:
    """One verdict per use over several resources: deny beats license beats allow.

    Contradictions are only those found within one resource (two works with
    different terms do not contradict each other).
    """
    if len(resources) == 1:
        return dict(resources[0].verdicts)
    out = {}
    for use in USES:
        signals = tuple(s for r in resources for s in r.verdicts[use].signals)
        decisions = {s.decision for s in signals}
        decision = next((d for d in ("deny", "license", "allow") if d in decisions), "unspecified")
        contradictions = tuple(c for r in resources for c in r.verdicts[use].contradictions)
        out[use] = Verdict(use=use, decision=decision, signals=signals, contradictions=contradictions)
    return out


def _verdict_summary(verdict: Verdict) -> dict:
    """Decision, the sources that said something, and the lowest price offered when it is a licence."""
    out = {"decision": verdict.decision,
           "sources": [s.source for s in verdict.signals if s.decision != "unspecified"]}
    if verdict.decision == "license":
        priced = [s for s in verdict.signals if s.decision == "license"
                  and isinstance(s.detail.get("price"), (int, float))]
        if priced:
            cheapest = min(priced, key=lambda s: s.detail["price"])
            out["price"] = cheapest.detail["price"]
            if cheapest.detail.get("currency"):
                out["currency"] = cheapest.detail["currency"]
    return out


def _unique(problems: list[SignalProblem]) -> list[SignalProblem]:
    seen, out = set(), []
    for p in problems:
        key = (p.format, p.source, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


@dataclass(frozen=True)
class VerifyReport:
    """Everything ``verify`` found about a target.

    Attributes
    ----------
    target : str
        As given.
    kind : str
        ``url``, ``folder`` or ``file``.
    verdicts : dict of str to Verdict
        One per use (over every judged resource).
    signals : list of Signal
        Every signal found, in the order read.
    problems : list of SignalProblem
        Every signal document that could not be read, or only in part.
    resources : list of ResourceReport
        Per judged path: its own verdicts.
    documents : list of dict
        What was read: URL or file, status, bytes, truncated, error.
    crawlers : str
        Where the AI crawler list came from.
    ai_generated : list of AiGeneratedLabel
        For a file: its own declarations that it was made by generative AI
        (C2PA actions, IPTC XMP ``DigitalSourceType``); empty when it makes none.
    """

    target: str
    kind: str
    verdicts: dict[str, Verdict]
    signals: list[Signal]
    problems: list[SignalProblem]
    resources: list[ResourceReport] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)
    crawlers: str = ""
    ai_generated: list[AiGeneratedLabel] = field(default_factory=list)

    @property
    def declared_ai_generated(self) -> bool:
        """Whether the target declares itself made by generative AI (any :attr:`ai_generated` label)."""
        return bool(self.ai_generated)

    @property
    def contradictions(self) -> list[tuple[Signal, Signal]]:
        """Every pair of applicable signals that disagree, per use, naming both sources."""
        return [pair for use in self.verdicts for pair in self.verdicts[use].contradictions]

    def describe_contradictions(self) -> list[str]:
        """One line per contradiction: ``use: A says x, B says y``."""
        return [f"{a.use}: {a.source} says {a.decision}, {b.source} says {b.decision}"
                for a, b in self.contradictions]

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "kind": self.kind,
            "verdicts": {u: _verdict_summary(v) for u, v in self.verdicts.items()},
            "contradictions": [{"use": a.use, "a": a.as_dict(), "b": b.as_dict()} for a, b in self.contradictions],
            "signals": [s.as_dict() for s in self.signals],
            "problems": [p.as_dict() for p in self.problems],
            "resources": [r.as_dict() for r in self.resources],
            "documents": list(self.documents),
            "crawlers": self.crawlers,
            "declared_ai_generated": self.declared_ai_generated,
            "ai_generated": [label.as_dict() for label in self.ai_generated],
        }
