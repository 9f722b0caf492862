"""AI-use terms per use (training, generative use, voice, TDM, search), versioned (pure; docs/terms-model.md).

A work's terms version may name some uses and leave the others to the
creator's default terms, and those to the registry defaults.
:func:`resolve_terms` gives the effective terms of every use and where each
came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from consentry.domain.terms import DECISIONS, UNITS, USE_LABELS, USES  # noqa: F401  (declared once there)
from consentry.domain.errors import FieldError, quote
from consentry.domain.works import Terms, check_decision, check_price, parse_date

_URL = re.compile(r"^(https?://[^\s<>\"]+|mailto:[^\s<>\"]+)$")


@dataclass(frozen=True)
class UseTerms:
    """The terms of one use: deny, allow, or license at ``price`` ``currency`` per ``unit``."""

    decision: str = "deny"
    price: float | None = None
    currency: str | None = None
    unit: str | None = None
    contact: str | None = None
    licence_url: str | None = None

    def __post_init__(self) -> None:
        check_decision(self.decision)
        if self.decision == "license":
            object.__setattr__(self, "currency", check_price(self.price, self.currency))
            object.__setattr__(self, "unit", self.unit or "per-work")
            if self.unit not in UNITS:
                raise FieldError("unit", f"{{unit}} {quote(self.unit)}: choose one of {', '.join(UNITS)}")
        else:
            if self.price is not None or self.currency is not None or self.unit is not None:
                field = next(k for k in ("price", "currency", "unit") if getattr(self, k) is not None)
                raise FieldError(field, "{price}, {currency} and {unit} only go with {decision} license, "
                                 f"not {self.decision}")
        for name in ("contact", "licence_url"):
            value = getattr(self, name)
            if value is not None and not _URL.match(value):
                raise FieldError(name, f"{{{name}}} {quote(value)}: give an https:// or mailto: address")

    def as_dict(self) -> dict:
        d = {"decision": self.decision}
        for k in ("price", "currency", "unit", "contact", "licence_url"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "UseTerms":
        return cls(**{k: d.get(k) for k in ("decision", "price", "currency", "unit", "contact", "licence_url")})

    def describe(self) -> str:
        if self.decision == "license":
            return f"license {self.price:g} {self.currency} {self.unit}"
        return self.decision


@dataclass(frozen=True)
class TermsVersion:
    """A set of per-use terms with validity and jurisdiction (some uses may be left to defaults)."""

    uses: Mapping[str, UseTerms] = field(default_factory=dict)
    valid_from: str | None = None
    valid_until: str | None = None
    jurisdiction: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.uses) - set(USES)
        if unknown:
            names = ", ".join(sorted(unknown)).replace("{", "{{").replace("}", "}}")
            raise FieldError("uses", f"unknown use(s) {names}: uses are {', '.join(USES)}")
        object.__setattr__(self, "valid_from", parse_date(self.valid_from, field="valid_from"))
        object.__setattr__(self, "valid_until", parse_date(self.valid_until, field="valid_until"))
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise FieldError("valid_until", f"{{valid_until}} {self.valid_until} is before {{valid_from}} {self.valid_from}")
        if self.jurisdiction is not None and (not self.jurisdiction.strip() or len(self.jurisdiction) > 64):
            raise FieldError("jurisdiction", f"{{jurisdiction}} {quote(self.jurisdiction)}: give a short code such as "
                             "EU, US or worldwide")

    def as_dict(self) -> dict:
        return {"uses": {u: self.uses[u].as_dict() for u in USES if u in self.uses},
                "valid_from": self.valid_from, "valid_until": self.valid_until, "jurisdiction": self.jurisdiction}

    @classmethod
    def from_dict(cls, d: Mapping) -> "TermsVersion":
        return cls(uses={u: UseTerms.from_dict(t) for u, t in (d.get("uses") or {}).items()},
                   valid_from=d.get("valid_from"), valid_until=d.get("valid_until"), jurisdiction=d.get("jurisdiction"))

    def with_uses(self, changes: Mapping[str, UseTerms], **fields) -> "TermsVersion":
        """A new version: these uses changed, the rest kept (``fields`` may change validity/jurisdiction)."""
        uses = dict(self.uses)
        uses.update(changes)
        kept = {"valid_from": self.valid_from, "valid_until": self.valid_until, "jurisdiction": self.jurisdiction}
        kept.update({k: v for k, v in fields.items() if v is not None})
        return TermsVersion(uses=uses, **kept)


def registry_defaults(training: Terms) -> dict[str, UseTerms]:
    """The uses a work registered with ``training`` terms gets when nothing else says otherwise."""
    base = UseTerms(decision=training.decision, price=training.price, currency=training.currency)
    return {"ai_training": base, "ai_generative": base, "tdm": base,
            "voice_likeness": UseTerms("deny"), "search_indexing": UseTerms("allow")}


def resolve_terms(work_version: TermsVersion, creator_default: TermsVersion | None,
                  training: Terms) -> tuple[TermsVersion, dict[str, str]]:
    """Effective terms of every use and where each came from (``work``, ``creator`` or ``default``)."""
    defaults = registry_defaults(training)
    uses, source = {}, {}
    for use in USES:
        if use in work_version.uses:
            uses[use], source[use] = work_version.uses[use], "work"
        elif creator_default is not None and use in creator_default.uses:
            uses[use], source[use] = creator_default.uses[use], "creator"
        else:
            uses[use], source[use] = defaults[use], "default"
    pick = lambda name: getattr(work_version, name) or (getattr(creator_default, name) if creator_default else None)  # noqa: E731
    return TermsVersion(uses=uses, valid_from=pick("valid_from"), valid_until=pick("valid_until"),
                        jurisdiction=pick("jurisdiction")), source


def creator_slug(name: str | None, taken: set[str]) -> str:
    """A URL-safe id for a creator, unique among ``taken`` (which it joins)."""
    base = re.sub(r"[^a-z0-9]+", "-", (name or "unknown-creator").lower()).strip("-")[:48] or "creator"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug
