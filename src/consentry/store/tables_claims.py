"""Store methods for claims and disputes (schema version 6; see schema_claims.py).

Portable SQL only (``?`` placeholders, no ``INSERT OR REPLACE``, no
``lastrowid``): the same mixin runs on SQLite and PostgreSQL.  A claim's
state changes and the event that records it are written in one transaction;
the event's ``seq`` must be the next one and its ``from_state`` the state
stored, so two parties acting at once cannot both win.
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

from consentry.domain.claims import ACTIVE_STATES, Claim, ClaimError, ClaimEvent, ClaimNotFoundError

CLAIM_COLUMNS = ("claim_id", "kind", "state", "party_a", "party_a_kind", "party_b", "work_a", "work_b", "scan_id",
                 "item_id", "basis", "opened_at", "answer_due_at", "decision_due_at", "closed_at", "updated_at")
EVENT_COLUMNS = ("claim_id", "seq", "at", "role", "actor", "account_id", "action", "from_state", "to_state", "note",
                 "evidence")


def _claim_values(claim: Claim) -> list:
    return [claim.claim_id, claim.kind, claim.state, claim.party_a, claim.party_a_kind, claim.party_b, claim.work_a,
            claim.work_b, claim.scan_id, claim.item_id, json.dumps(dict(claim.basis), sort_keys=True), claim.opened_at,
            claim.answer_due_at, claim.decision_due_at, claim.closed_at, claim.updated_at]


def _event_values(e: ClaimEvent) -> list:
    return [e.claim_id, e.seq, e.at, e.role, e.actor, e.account_id, e.action, e.from_state, e.to_state, e.note,
            json.dumps(dict(e.evidence), sort_keys=True) if e.evidence else None]


class ClaimsTablesMixin:
    """Claims and their events; needs ``self._conn`` and ``self.transaction``."""

    # -- writing ------------------------------------------------------------------
    def add_claims(self, claims: Sequence[Claim]) -> None:
        """Insert new claims with their events, all in one transaction."""
        if not claims:
            return
        with self.transaction() as c:
            self._insert_claims(c, claims)

    @staticmethod
    def _insert_claims(c, claims: Sequence[Claim]) -> None:
        """Insert claims and their events on connection ``c``, inside the caller's transaction."""
        for claim in claims:
            c.execute(f"INSERT INTO claims ({', '.join(CLAIM_COLUMNS)}) VALUES ({', '.join('?' * len(CLAIM_COLUMNS))})",
                      _claim_values(claim))
            for e in claim.events:
                c.execute(f"INSERT INTO claim_events ({', '.join(EVENT_COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})", _event_values(e))

    def record_claim_event(self, claim: Claim, event: ClaimEvent) -> None:
        """Store ``claim`` (its new state) and append ``event``, if nobody acted on the claim meanwhile.

        Raises
        ------
        ClaimError
            The stored claim is no longer in ``event.from_state`` or has
            events past ``event.seq - 1`` (someone else acted first).
        """
        with self.transaction() as c:
            row = c.execute("SELECT state FROM claims WHERE claim_id = ?", (claim.claim_id,)).fetchone()
            if row is None:
                raise ClaimNotFoundError(f"no claim with id {claim.claim_id!r}; see `consentry claims list`")
            (last,) = c.execute("SELECT COALESCE(MAX(seq), 0) FROM claim_events WHERE claim_id = ?",
                                (claim.claim_id,)).fetchone()
            if row[0] != event.from_state or int(last) != event.seq - 1:
                raise ClaimError(f"claim {claim.claim_id} changed meanwhile (now {row[0]}); show it again and retry")
            c.execute("UPDATE claims SET state = ?, decision_due_at = ?, closed_at = ?, updated_at = ? WHERE claim_id = ?",
                      (claim.state, claim.decision_due_at, claim.closed_at, claim.updated_at, claim.claim_id))
            c.execute(f"INSERT INTO claim_events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})",
                      _event_values(event))

    # -- reading ------------------------------------------------------------------
    def _claims_from_rows(self, rows) -> list[Claim]:
        rows = list(rows)
        if not rows:
            return []
        events: dict[str, list[ClaimEvent]] = {r[0]: [] for r in rows}
        ids = list(events)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for e in self._conn.execute(
                    f"SELECT {', '.join(EVENT_COLUMNS)} FROM claim_events WHERE claim_id IN ({', '.join('?' * len(chunk))}) "
                    "ORDER BY claim_id, seq", chunk):
                d = dict(zip(EVENT_COLUMNS, e))
                d["seq"] = int(d["seq"])
                d["evidence"] = json.loads(d["evidence"]) if d["evidence"] else None
                events[d["claim_id"]].append(ClaimEvent(**d))
        out = []
        for r in rows:
            d = dict(zip(CLAIM_COLUMNS, r))
            d["basis"] = json.loads(d["basis"]) if d["basis"] else {}
            out.append(Claim(**d, events=tuple(events[d["claim_id"]])))
        return out

    def get_claim(self, claim_id: str) -> Claim:
        """The claim whose id is ``claim_id`` or starts with it (unambiguously, at least 6 characters)."""
        cols = ", ".join(CLAIM_COLUMNS)
        if not isinstance(claim_id, str) or not claim_id or len(claim_id) > 64:
            raise ClaimNotFoundError(f"claim id {str(claim_id)[:64]!r}: not a claim id; see `consentry claims list`")
        rows = self._conn.execute(f"SELECT {cols} FROM claims WHERE claim_id = ?", (claim_id,)).fetchall()
        if not rows and len(claim_id) >= 6:
            prefix = claim_id.replace("%", "").replace("_", "")
            rows = self._conn.execute(f"SELECT {cols} FROM claims WHERE claim_id LIKE ? ORDER BY claim_id LIMIT 2",
                                      (prefix + "%",)).fetchall()
            if len(rows) > 1:
                raise ClaimNotFoundError(f"claim id {claim_id!r} is ambiguous; give more of it")
        if not rows:
            raise ClaimNotFoundError(f"no claim with id {claim_id!r}; see `consentry claims list`")
        return self._claims_from_rows(rows)[0]

    def list_claims(self, *, party: str | None = None, states: Iterable[str] | None = None,
                    work_ids: Iterable[str] | None = None, kind: str | None = None,
                    scan_id: str | None = None) -> list[Claim]:
        """Claims, oldest first, filtered by a party's name (A or B), states, works (A or B), kind or scan."""
        where, args = [], []
        if party is not None:
            where.append("(party_a = ? OR party_b = ?)")
            args += [party, party]
        if states is not None:
            states = list(states)
            if not states:
                return []
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args += states
        if work_ids is not None:
            work_ids = list(work_ids)
            if not work_ids:
                return []
            marks = ", ".join("?" * len(work_ids))
            where.append(f"(work_a IN ({marks}) OR work_b IN ({marks}))")
            args += work_ids + work_ids
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if scan_id is not None:
            where.append("scan_id = ?")
            args.append(scan_id)
        sql = f"SELECT {', '.join(CLAIM_COLUMNS)} FROM claims"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._claims_from_rows(self._conn.execute(sql + " ORDER BY opened_at, claim_id", args).fetchall())

    def active_ownership_claims(self) -> list[Claim]:
        """Open and contested ownership claims (what makes works' terms disputed)."""
        return self.list_claims(states=ACTIVE_STATES, kind="ownership")

    def live_works_with_sha256(self, sha256: str) -> list:
        """Every live work whose content has this SHA-256 (several creators may have registered it)."""
        rows = self._conn.execute("SELECT work_id FROM works WHERE sha256 = ? AND removed_at IS NULL ORDER BY fp_id",
                                  (sha256,)).fetchall()
        return [self.get_work(r[0]) for r in rows]

    def scan_item_work_ids(self, scan_id: str, item_id: str) -> list[str] | None:
        """Works found in one item of a stored scan (best first), or None when the scan has no such item."""
        rows = self._conn.execute("SELECT seq FROM scan_items WHERE scan_id = ? AND item_id = ? ORDER BY seq",
                                  (scan_id, item_id)).fetchall()
        if not rows:
            return None
        out: list[str] = []
        for (seq,) in rows:
            for (work_id,) in self._conn.execute(
                    "SELECT work_id FROM scan_findings WHERE scan_id = ? AND seq = ? ORDER BY score DESC", (scan_id, seq)):
                if work_id not in out:
                    out.append(work_id)
        return out
