"""Domain objects of the registry: works, terms, matches.

Plain frozen dataclasses; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from consentry.domain.terms import DECISIONS, Decision  # noqa: F401  (declared once there; importable from here)
from consentry.domain.errors import FieldError, InputError, quote


@dataclass(frozen=True)
class Terms:
    """The terms on which AI may use a work.

    ``decision`` is ``deny`` (no use), ``allow`` (free use) or ``license``
    (use against payment of ``price`` in ``currency``, an ISO 4217 code, per
    work).
    """

    decision: str = "deny"
    price: float | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        check_decision(self.decision)
        if self.decision == "license":
            object.__setattr__(self, "currency", check_price(self.price, self.currency))
        elif self.price is not None:
            raise FieldError("price", f"{{price}} is only meaningful with {{decision}} license, not {self.decision}")

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.decision == "license":
            return f"license {self.price:g} {self.currency}"
        return self.decision


def check_decision(decision: str) -> None:
    """FieldError unless ``decision`` is one of :data:`DECISIONS`."""
    if decision not in DECISIONS:
        raise FieldError("decision", f"{{decision}} {quote(decision)}: must be one of {', '.join(DECISIONS)}")


def check_price(price, currency) -> str:
    """The currency code (upper case) of a licence at ``price`` (a finite number >= 0) in ``currency``.

    Raises
    ------
    FieldError
        The price is missing, not a number, infinite or negative, or the currency is not a three-letter code.
    """
    if price is None or isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) \
            or price < 0:
        raise FieldError("price", "{decision} license needs {price}, a number >= 0")
    if not currency or len(currency) != 3 or not currency.isalpha():
        raise FieldError("currency", f"{{currency}} {quote(currency)}: give a three-letter ISO 4217 code such as EUR or USD")
    return currency.upper()


@dataclass(frozen=True)
class Work:
    """A registered work.

    ``work_id`` is stable (derived from the content's SHA-256); ``fp_id`` is
    the compact number the fingerprint index uses for it.  ``terms`` are the
    terms in force (version ``terms_version``; older versions stay in the
    registry).  ``copyright_registered_on`` (the effective date of a US
    copyright registration) and ``first_published_on`` are ISO dates
    (``YYYY-MM-DD``) when known; the exposure estimate uses them
    (17 U.S.C. 412).
    """

    work_id: str
    fp_id: int
    sha256: str
    title: str
    creator: str | None
    source: str
    duration_s: float
    registered_at: str
    engine: str
    engine_version: str
    param_hash: str
    n_hashes: int = 0
    terms: Terms = field(default_factory=Terms)
    removed_at: str | None = None
    terms_version: int = 1
    copyright_registered_on: str | None = None
    first_published_on: str | None = None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["terms"] = self.terms.as_dict()
        return d


def parse_date(value: str | None, *, what: str | None = None, field: str | None = None) -> str | None:
    """An ISO date ``YYYY-MM-DD`` (or None).

    A bad date is a :class:`~consentry.domain.errors.FieldError` for ``field`` (each adapter names it), or an
    InputError naming ``what`` as given.
    """
    if value is None or value == "":
        return None
    from datetime import date

    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        if field is not None:
            raise FieldError(field, f"{{{field}}} {quote(value)}: give a date as YYYY-MM-DD") from None
        raise InputError(f"{what} {value!r}: give a date as YYYY-MM-DD") from None


@dataclass(frozen=True)
class Match:
    """A registered work found inside a query, with the matched segment.

    Music: times are in seconds; ``speed`` is work time / query time;
    ``pitch_shift_semitones`` is the query's pitch minus the work's.  Other
    media (``medium`` ``"text"``, ``"image"``) leave those five fields None
    and give their own located fields in ``detail`` (character offsets, pixel
    boxes; their engine's ``match_fields``, see docs/engines.md), which
    :meth:`as_dict` puts at the top level of the match's JSON.
    """

    work_id: str
    title: str
    source: str
    creator: str | None
    terms: str
    score: float
    confidence: float
    query_start_s: float | None = None
    query_end_s: float | None = None
    work_start_s: float | None = None
    work_end_s: float | None = None
    speed: float | None = None
    pitch_shift_semitones: float | None = None
    #: Active ownership claims on this work (docs/claims.md); ``terms`` then
    #: gives the strictest terms of the parties, not this work's own.
    disputed_claims: tuple[str, ...] = ()
    #: The medium of the work and of the query: "music", "text", "image".
    medium: str = "music"
    #: The medium's own located fields (empty for music).
    detail: dict = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["disputed_claims"] = list(self.disputed_claims)
        detail = d.pop("detail")
        if self.medium != "music":
            for k in MUSIC_MATCH_FIELDS:
                d.pop(k)
            d.update(detail)
        return d


#: The fields of a :class:`Match` that only music fills.
MUSIC_MATCH_FIELDS = ("query_start_s", "query_end_s", "work_start_s", "work_end_s", "speed", "pitch_shift_semitones")
