"""Claims and disputes: the domain model and its state machine (pure; docs/claims.md).

A :class:`Claim` is a disagreement between two parties about a work:

- ``ownership``: two creators registered the same content (same SHA-256, or
  a fingerprint match that covers most of one of the two works). Party A,
  the *claimant*, is the creator who registered first; party B, the
  *respondent*, is the creator whose newer registration matched.
- ``finding``: a licensee (party A, the claimant) disputes a scan finding
  that says one of their dataset items holds a registered work; party B,
  the respondent, is the creator of that work.

The respondent has ``answer`` days (default 30) to answer: ``contest``
(the claim goes to an admin, who has ``decision`` days, default 30) or
``concede``. A respondent who does not answer in time loses: at the answer
deadline the system resolves the claim for the claimant. That is the rule
YouTube's Content ID applies to the party whose turn it is (a claimant who
does not respond to a dispute within 30 days loses the claim; an uploader
who does not dispute leaves the claim standing): silence never blocks the
other party for ever, and whoever must act is told the date. A contested
claim is never decided by the clock: ownership needs a person, so at the
decision deadline the system only records that the decision is overdue, and
the terms stay disputed (the strictest of the parties') until an admin
resolves it.

Every transition appends a :class:`ClaimEvent` (who, what, when, note,
evidence). Nothing here does I/O or reads a clock: ``at`` and the
:class:`ClaimRules` are passed in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Mapping

from consentry.domain.clock import iso
from consentry.domain.errors import FieldError, InputError, quote

KINDS: tuple[str, ...] = ("ownership", "finding")

#: Claim states. ``open`` and ``contested`` are active (terms are disputed);
#: the other three are final.
STATES: tuple[str, ...] = ("open", "contested", "resolved_a", "resolved_b", "withdrawn")
ACTIVE_STATES: tuple[str, ...] = ("open", "contested")
FINAL_STATES: tuple[str, ...] = ("resolved_a", "resolved_b", "withdrawn")

#: Who acts on a claim: party A (claimant), party B (respondent), an admin, or the system (deadlines).
ROLES: tuple[str, ...] = ("a", "b", "admin", "system")

STATE_WORDS = {
    "open": "open, waiting for the respondent's answer",
    "contested": "contested, waiting for an admin's decision",
    "resolved_a": "resolved for party A (the claimant)",
    "resolved_b": "resolved for party B (the respondent)",
    "withdrawn": "withdrawn",
}


class ClaimError(InputError):
    """A claim action that is not allowed (wrong state, wrong party, unknown claim)."""


class ClaimNotFoundError(ClaimError):
    """No claim with the given id."""


class NotAPartyError(ClaimError):
    """The actor is neither a party to the claim nor an admin (the server answers 403)."""


@dataclass(frozen=True)
class Transition:
    """One allowed move: ``action`` by ``role`` from ``source`` to ``target`` (``None``: stays)."""

    action: str
    role: str
    source: str
    target: str | None
    summary: str


#: The state machine. Anything not listed is refused. ``evidence`` and
#: ``note`` keep the state. ``expire`` and ``overdue`` are the system's
#: deadline actions (see :func:`due_action`).
TRANSITIONS: tuple[Transition, ...] = (
    Transition("contest", "b", "open", "contested", "the respondent disputes the claim; an admin decides"),
    Transition("concede", "b", "open", "resolved_a", "the respondent accepts the claim"),
    Transition("concede", "b", "contested", "resolved_a", "the respondent accepts the claim"),
    Transition("concede", "a", "open", "resolved_b", "the claimant accepts the respondent's side"),
    Transition("concede", "a", "contested", "resolved_b", "the claimant accepts the respondent's side"),
    Transition("withdraw", "a", "open", "withdrawn", "the claimant drops the claim (no party wins)"),
    Transition("withdraw", "a", "contested", "withdrawn", "the claimant drops the claim (no party wins)"),
    Transition("withdraw", "admin", "open", "withdrawn", "an admin dismisses the claim (e.g. a false match)"),
    Transition("withdraw", "admin", "contested", "withdrawn", "an admin dismisses the claim (e.g. a false match)"),
    Transition("resolve_a", "admin", "open", "resolved_a", "an admin decides for the claimant"),
    Transition("resolve_a", "admin", "contested", "resolved_a", "an admin decides for the claimant"),
    Transition("resolve_b", "admin", "open", "resolved_b", "an admin decides for the respondent"),
    Transition("resolve_b", "admin", "contested", "resolved_b", "an admin decides for the respondent"),
    Transition("evidence", "a", "open", None, "party A submits evidence"),
    Transition("evidence", "a", "contested", None, "party A submits evidence"),
    Transition("evidence", "b", "open", None, "party B submits evidence"),
    Transition("evidence", "b", "contested", None, "party B submits evidence"),
    Transition("evidence", "admin", "open", None, "an admin adds evidence"),
    Transition("evidence", "admin", "contested", None, "an admin adds evidence"),
    Transition("note", "a", "open", None, "party A adds a note"),
    Transition("note", "a", "contested", None, "party A adds a note"),
    Transition("note", "b", "open", None, "party B adds a note"),
    Transition("note", "b", "contested", None, "party B adds a note"),
    Transition("note", "admin", "open", None, "an admin adds a note"),
    Transition("note", "admin", "contested", None, "an admin adds a note"),
    Transition("expire", "system", "open", "resolved_a", "answer deadline passed: resolved for the claimant"),
    Transition("overdue", "system", "contested", None, "decision deadline passed: recorded as overdue (no winner)"),
)

ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(t.action for t in TRANSITIONS))


@dataclass(frozen=True)
class ClaimRules:
    """Deadlines, passed in explicitly.

    Parameters
    ----------
    answer_days : float
        Days the respondent has to answer an open claim (default 30).
    decision_days : float
        Days an admin has to decide a contested claim (default 30).
    """

    answer_days: float = 30.0
    decision_days: float = 30.0

    def __post_init__(self) -> None:
        for name in ("answer_days", "decision_days"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (0 < v <= 3650):
                raise InputError(f"{name.replace('_', ' ')} {v!r}: give a number of days between 0 and 3650")


DEFAULT_RULES = ClaimRules()


@dataclass(frozen=True)
class Actor:
    """Who acts: a creator (by name), a licensee (an account id or name), an admin, or the system.

    Build one with :meth:`creator`, :meth:`licensee`, :meth:`admin` or use
    :data:`SYSTEM`. ``account_id`` (optional) is recorded with the event.
    """

    kind: str  # "creator" | "licensee" | "admin" | "system"
    name: str
    account_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("creator", "licensee", "admin", "system"):
            raise InputError(f"actor kind {self.kind!r}: must be creator, licensee, admin or system")
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 256:
            raise InputError(f"actor name {self.name!r}: give a non-empty name of at most 256 characters")

    @classmethod
    def creator(cls, name: str, *, account_id: str | None = None) -> "Actor":
        return cls("creator", name, account_id)

    @classmethod
    def licensee(cls, name: str, *, account_id: str | None = None) -> "Actor":
        return cls("licensee", name, account_id)

    @classmethod
    def admin(cls, name: str = "admin", *, account_id: str | None = None) -> "Actor":
        return cls("admin", name, account_id)

    def describe(self) -> str:
        return self.name if self.kind in ("creator", "licensee") else f"{self.kind} {self.name}"


SYSTEM = Actor("system", "Consentry")  # opens claims at registration and applies the deadlines


@dataclass(frozen=True)
class ClaimEvent:
    """One step in a claim's history (append-only).

    ``evidence`` (for ``action == "evidence"``) holds ``file`` (where the
    copy is stored), ``sha256``, ``bytes``, ``verified`` (bool), ``failures``
    (list of lines), ``key_fingerprint`` and ``output_sha256``.
    """

    claim_id: str
    seq: int
    at: str
    role: str
    actor: str
    action: str
    from_state: str
    to_state: str
    note: str | None = None
    evidence: Mapping | None = None
    account_id: str | None = None

    def as_dict(self) -> dict:
        return {"claim_id": self.claim_id, "seq": self.seq, "at": self.at, "role": self.role, "actor": self.actor,
                "account_id": self.account_id, "action": self.action, "from_state": self.from_state,
                "to_state": self.to_state, "note": self.note, "evidence": dict(self.evidence) if self.evidence else None}


@dataclass(frozen=True)
class Claim:
    """A claim between party A (claimant) and party B (respondent) about a work.

    ``work_a`` / ``work_b`` are the parties' works (``work_a`` is ``None``
    for a finding claim, whose claimant is a licensee). ``basis`` says why
    the claim was opened (``{"match": "sha256"}``, or the fingerprint match
    with its coverage, or the scan finding). Times are ISO 8601 UTC.
    """

    claim_id: str
    kind: str
    state: str
    party_a: str
    party_a_kind: str
    party_b: str
    work_a: str | None
    work_b: str
    opened_at: str
    answer_due_at: str
    basis: Mapping = field(default_factory=dict)
    scan_id: str | None = None
    item_id: str | None = None
    decision_due_at: str | None = None
    closed_at: str | None = None
    updated_at: str | None = None
    events: tuple[ClaimEvent, ...] = ()

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def winner(self) -> str | None:
        """``"a"``, ``"b"`` or ``None``."""
        return {"resolved_a": "a", "resolved_b": "b"}.get(self.state)

    def works(self) -> tuple[str, ...]:
        return tuple(w for w in (self.work_a, self.work_b) if w)

    def role_of(self, actor: Actor) -> str | None:
        """The role ``actor`` plays on this claim: ``a``, ``b``, ``admin``, ``system`` or ``None`` (not a party)."""
        if actor.kind in ("admin", "system"):
            return actor.kind
        if actor.kind == self.party_a_kind and actor.name == self.party_a:
            return "a"
        if actor.kind == "creator" and actor.name == self.party_b:
            return "b"
        return None

    def due(self) -> str | None:
        """The next deadline: the answer date while open, the decision date while contested."""
        if self.state == "open":
            return self.answer_due_at
        if self.state == "contested":
            return self.decision_due_at
        return None

    def as_dict(self, *, with_events: bool = True) -> dict:
        d = {
            "claim_id": self.claim_id, "kind": self.kind, "state": self.state, "state_words": STATE_WORDS[self.state],
            "active": self.active,
            "party_a": {"role": "claimant", "kind": self.party_a_kind, "name": self.party_a, "work_id": self.work_a},
            "party_b": {"role": "respondent", "kind": "creator", "name": self.party_b, "work_id": self.work_b},
            "basis": dict(self.basis), "scan_id": self.scan_id, "item_id": self.item_id,
            "opened_at": self.opened_at, "answer_due_at": self.answer_due_at, "decision_due_at": self.decision_due_at,
            "due": self.due(), "closed_at": self.closed_at, "updated_at": self.updated_at, "winner": self.winner,
        }
        if with_events:
            d["events"] = [e.as_dict() for e in self.events]
        return d


# -- time -------------------------------------------------------------------------
def parse_time(value: str | datetime, *, what: str = "time", field: str | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 text (a naive time is taken as UTC).

    A bad time is a :class:`~consentry.domain.errors.FieldError` for ``field`` when given (each adapter names it),
    else an InputError naming ``what``.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            if field is not None:
                raise FieldError(field, f"{{{field}}} {quote(value)}: give an ISO 8601 time such as "
                                 "2026-01-31T12:00:00+00:00") from None
            raise InputError(f"{what} {value!r}: give an ISO 8601 time such as 2026-01-31T12:00:00+00:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def plus_days(at: str | datetime, days: float) -> str:
    return iso(parse_time(at) + timedelta(days=days))


def new_claim_id(at: str | datetime, *, token: str | None = None) -> str:
    """``c-YYYYMMDD-<8 hex>``."""
    return f"c-{parse_time(at).strftime('%Y%m%d')}-{token or secrets.token_hex(4)}"


# -- the machine ---------------------------------------------------------------------
def allowed(state: str, action: str, role: str) -> Transition | None:
    """The transition for ``action`` by ``role`` in ``state``, or None if refused."""
    for t in TRANSITIONS:
        if t.action == action and t.role == role and t.source == state:
            return t
    return None


def allowed_actions(claim: Claim, role: str | None) -> list[str]:
    """Actions ``role`` may take on ``claim`` now (system actions excluded)."""
    if role is None:
        return []
    return [t.action for t in TRANSITIONS if t.role == role and t.source == claim.state and t.role != "system"]


def open_claim(*, kind: str, party_a: str, party_a_kind: str, party_b: str, work_a: str | None, work_b: str,
               basis: Mapping, at: str, rules: ClaimRules = DEFAULT_RULES, scan_id: str | None = None,
               item_id: str | None = None, claim_id: str | None = None, note: str | None = None) -> Claim:
    """A new ``open`` claim with its first event (``open``, by the system); answer due ``rules.answer_days`` later."""
    if kind not in KINDS:
        raise ClaimError(f"claim kind {kind!r}: must be one of {', '.join(KINDS)}")
    if party_a_kind not in ("creator", "licensee"):
        raise ClaimError(f"party A kind {party_a_kind!r}: must be creator or licensee")
    if kind == "ownership" and (party_a_kind != "creator" or not work_a):
        raise ClaimError("an ownership claim is between two creators' works")
    if kind == "ownership" and party_a == party_b:
        raise ClaimError(f"an ownership claim needs two different creators, not {party_a!r} twice")
    if kind == "finding" and (scan_id is None or item_id is None):
        raise ClaimError("a finding claim names the scan and the item")
    at = iso(parse_time(at))
    cid = claim_id or new_claim_id(at)
    first = ClaimEvent(claim_id=cid, seq=1, at=at, role="system", actor=SYSTEM.name, action="open",
                       from_state="open", to_state="open", note=note)
    return Claim(claim_id=cid, kind=kind, state="open", party_a=party_a, party_a_kind=party_a_kind, party_b=party_b,
                 work_a=work_a, work_b=work_b, opened_at=at, answer_due_at=plus_days(at, rules.answer_days),
                 basis=dict(basis), scan_id=scan_id, item_id=item_id, updated_at=at, events=(first,))


def apply(claim: Claim, action: str, *, actor: Actor, at: str | datetime, rules: ClaimRules = DEFAULT_RULES,
          note: str | None = None, evidence: Mapping | None = None) -> tuple[Claim, ClaimEvent]:
    """Apply ``action`` by ``actor`` at time ``at``: the new claim and the event to append.

    Raises
    ------
    ClaimError
        ``actor`` is not a party (nor an admin), or the state machine refuses
        the action in the claim's state (the message says what is allowed).
    """
    if action not in ACTIONS:
        raise ClaimError(f"action {action!r}: must be one of {', '.join(a for a in ACTIONS if a not in ('expire', 'overdue'))}")
    role = claim.role_of(actor)
    if role is None:
        raise NotAPartyError(f"claim {claim.claim_id}: {actor.describe()} is not a party to it "
                         f"(parties: {claim.party_a} and {claim.party_b})")
    t = allowed(claim.state, action, role)
    if t is None:
        may = allowed_actions(claim, role)
        side = {"a": "party A (claimant)", "b": "party B (respondent)"}.get(role, role)
        raise ClaimError(f"claim {claim.claim_id} is {claim.state}: {side} cannot {action} it"
                         + (f"; allowed now: {', '.join(dict.fromkeys(may))}" if may else "; nothing more can be done"))
    now = parse_time(at, field="now")
    when = iso(now)
    if action == "expire" and (claim.answer_due_at is None or now < parse_time(claim.answer_due_at)):
        raise ClaimError(f"claim {claim.claim_id}: the answer is due {claim.answer_due_at}, not yet expired")
    if action == "overdue":
        if claim.decision_due_at is None or now < parse_time(claim.decision_due_at):
            raise ClaimError(f"claim {claim.claim_id}: the decision is due {claim.decision_due_at}, not yet overdue")
        if any(e.action == "overdue" for e in claim.events):
            raise ClaimError(f"claim {claim.claim_id}: already recorded as overdue")
    if action == "evidence" and not evidence:
        raise ClaimError("evidence: give an evidence bundle")
    if note is not None:
        note = " ".join(str(note).split())[:2000] or None
    if action == "note" and not note:
        raise ClaimError("note: give some text")
    target = t.target or claim.state
    seq = (claim.events[-1].seq if claim.events else 0) + 1
    event = ClaimEvent(claim_id=claim.claim_id, seq=seq, at=when, role=role, actor=actor.name, action=action,
                       from_state=claim.state, to_state=target, note=note,
                       evidence=dict(evidence) if evidence else None, account_id=actor.account_id)
    changes: dict = {"state": target, "updated_at": when, "events": claim.events + (event,)}
    if action == "contest":
        changes["decision_due_at"] = plus_days(now, rules.decision_days)
    if target in FINAL_STATES:
        changes["closed_at"] = when
    return replace(claim, **changes), event


def due_action(claim: Claim, now: str | datetime) -> str | None:
    """The system action a deadline calls for at ``now``: ``expire``, ``overdue`` or None."""
    t = parse_time(now)
    if claim.state == "open" and t >= parse_time(claim.answer_due_at):
        return "expire"
    if (claim.state == "contested" and claim.decision_due_at is not None and t >= parse_time(claim.decision_due_at)
            and not any(e.action == "overdue" for e in claim.events)):
        return "overdue"
    return None
