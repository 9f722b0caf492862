"""SQLite tables of the dataset audit: scans, their items and findings, and the ledger.

Mixed into :class:`consentry.store.sqlite.SQLiteStore` (schema version 2).
Scan items are written as they finish, each batch in one transaction, so an
interrupted scan keeps everything it finished and ``--resume`` redoes only
the items that were in flight.  Ledger entries are append-only (database
triggers refuse UPDATE and DELETE) and hash-chained
(:mod:`consentry.domain.ledger`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from typing import Iterable, Iterator, Sequence

from consentry.domain.errors import InputError, RegistryError, ScanNotFoundError
from consentry.domain.ledger import GENESIS_HASH, chain_entry
from consentry.domain.seqset import SeqSet

SCAN_COLUMNS = (
    "scan_id", "created_at", "finished_at", "status", "source_spec", "source_kind", "source_name",
    "dataset_fingerprint", "engine", "engine_version", "param_hash", "options", "terms_snapshot",
    "terms_snapshot_at", "summary", "terms_set",
)
_JSON_COLUMNS = {"options", "summary"}
#: Columns of ``scans`` read by a listing: all but the terms snapshot (inline in scans made before schema 8).
_LISTED_COLUMNS = tuple(c for c in SCAN_COLUMNS if c != "terms_snapshot")

FINDING_COLUMNS = (
    "work_id", "score", "confidence", "query_start_s", "query_end_s", "work_start_s", "work_end_s",
    "speed", "pitch_shift_semitones",
)
#: Columns of a finding of a medium other than music (schema 7): its medium, and its own fields as JSON.
OTHER_FINDING_COLUMNS = ("medium", "detail")


class ScanTerms(Mapping):
    """A scan's terms snapshot (work_id -> terms, as ``terms_snapshot`` made it), read from the store as asked.

    A scan made under schema 8 or later names a stored terms set; its terms
    are fetched per work and kept, so a scan or a report reads only those of
    the works it found.  A scan made before holds its snapshot inline as JSON,
    parsed on first use.
    """

    def __init__(self, store, set_no: int | None, inline: str | None = None):
        self._store, self._set_no, self._inline = store, set_no, inline
        self._known: dict[str, dict | None] = {}
        self._all: dict | None = None
        self._size: int | None = None

    def _stored_size(self) -> int:
        """The set's number of works; a set the scan names but the registry lacks is damage, never 'no terms'."""
        if self._size is None:
            size = self._store.terms_set_size(self._set_no)
            if size is None:
                raise RegistryError(f"{getattr(self._store, 'location', 'the registry')}: the terms set {self._set_no} a "
                                    "scan was made under is missing; the registry is damaged (restore a backup)")
            self._size = size
        return self._size

    def _whole(self) -> dict:
        if self._all is None:
            if self._set_no is None:
                self._all = json.loads(self._inline or "{}")
            else:
                whole = dict(self._store.terms_set_entries(self._set_no))
                if len(whole) != self._stored_size():
                    raise RegistryError(f"{getattr(self._store, 'location', 'the registry')}: the terms set "
                                        f"{self._set_no} holds {len(whole)} works of {self._stored_size()}; "
                                        "the registry is damaged (restore a backup)")
                self._all = whole
        return self._all

    def prefetch(self, work_ids: Iterable[str]) -> None:
        """Fetch the terms of several works in one read (those not asked before)."""
        if self._set_no is None or self._all is not None:
            return
        self._stored_size()
        wanted = [w for w in set(work_ids) if w not in self._known]
        if wanted:
            found = dict(self._store.terms_set_entries(self._set_no, wanted))
            for w in wanted:
                self._known[w] = found.get(w)

    def __getitem__(self, work_id: str) -> dict:
        if self._set_no is None or self._all is not None:
            return self._whole()[work_id]
        if work_id not in self._known:
            self.prefetch([work_id])
        terms = self._known[work_id]
        if terms is None:
            raise KeyError(work_id)
        return terms

    def __len__(self) -> int:
        if self._set_no is None or self._all is not None:
            return len(self._whole())
        return self._stored_size()

    def __iter__(self) -> Iterator[str]:
        return iter(self._whole())

    def __repr__(self) -> str:
        return f"ScanTerms(set={self._set_no!r}, works={len(self)})"


class AuditTablesMixin:
    """Scans and ledger persistence; needs ``self._conn``, ``self.transaction``, ``self.writer_lock``."""

    _conn: sqlite3.Connection

    # -- scans ---------------------------------------------------------------
    def create_scan(self, scan: dict) -> None:
        """Insert a new scan row (``scan`` holds every column of ``SCAN_COLUMNS`` but ``terms_set``).

        ``scan["terms_snapshot"]`` (work_id -> terms) is stored as a terms set:
        one row per work, kept once per distinct snapshot and shared by every
        scan made under it (schema 8).  The set and the scan are written in one
        transaction.
        """
        rows = sorted((str(w), json.dumps(t, sort_keys=True, separators=(",", ":")))
                      for w, t in scan["terms_snapshot"].items())
        digest = hashlib.sha256()
        for work_id, terms in rows:
            digest.update(f"{work_id}\0{terms}\n".encode())
        with self.transaction() as c:
            known = c.execute("SELECT set_no FROM terms_sets WHERE digest = ?", (digest.hexdigest(),)).fetchone()
            if known is not None:
                set_no = known[0]
            else:
                set_no = c.execute("SELECT COALESCE(MAX(set_no), 0) + 1 FROM terms_sets").fetchone()[0]
                c.execute("INSERT INTO terms_sets (set_no, digest, created_at, works) VALUES (?, ?, ?, ?)",
                          (set_no, digest.hexdigest(), scan["terms_snapshot_at"], len(rows)))
                for i in range(0, len(rows), 10_000):
                    c.executemany("INSERT INTO terms_set_works (set_no, work_id, terms) VALUES (?, ?, ?)",
                                  [(set_no, w, t) for w, t in rows[i:i + 10_000]])
            row = {**scan, "terms_snapshot": "{}", "terms_set": set_no}
            values = [json.dumps(row[k]) if k in _JSON_COLUMNS and row[k] is not None else row[k] for k in SCAN_COLUMNS]
            c.execute(f"INSERT INTO scans ({', '.join(SCAN_COLUMNS)}) VALUES ({', '.join('?' * len(SCAN_COLUMNS))})", values)

    def _scan_row(self, r: Sequence, columns: Sequence[str] = SCAN_COLUMNS) -> dict:
        d = dict(zip(columns, r))
        for c in _JSON_COLUMNS:
            if d[c] is not None:
                d[c] = json.loads(d[c])
        if "terms_snapshot" in d:
            d["terms_snapshot"] = ScanTerms(self, d["terms_set"], d["terms_snapshot"])
        return d

    def terms_set_size(self, set_no: int) -> int | None:
        """The number of works in a stored terms set (None: no such set)."""
        r = self._conn.execute("SELECT works FROM terms_sets WHERE set_no = ?", (set_no,)).fetchone()
        return int(r[0]) if r else None

    def terms_set_entries(self, set_no: int, work_ids: Iterable[str] | None = None) -> Iterator[tuple[str, dict]]:
        """``(work_id, terms)`` of a stored terms set: of the ``work_ids`` given that it holds, or all of it."""
        if work_ids is None:
            rows = self._conn.execute("SELECT work_id, terms FROM terms_set_works WHERE set_no = ? ORDER BY work_id",
                                      (set_no,))
            return ((w, json.loads(t)) for w, t in rows)
        wanted = sorted(set(work_ids))
        out = []
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            out += self._conn.execute(
                f"SELECT work_id, terms FROM terms_set_works WHERE set_no = ? AND work_id IN ({', '.join('?' * len(chunk))})",
                (set_no, *chunk)).fetchall()
        return ((w, json.loads(t)) for w, t in out)

    def get_scan(self, scan_id: str) -> dict:
        """The stored scan whose id is ``scan_id`` or starts with it (unambiguously)."""
        cols = ", ".join(SCAN_COLUMNS)
        r = self._conn.execute(f"SELECT {cols} FROM scans WHERE scan_id = ?", (scan_id,)).fetchone()
        if r is None and len(scan_id) >= 4:
            rows = self._conn.execute(
                f"SELECT {cols} FROM scans WHERE scan_id LIKE ? ESCAPE '!' LIMIT 2",
                (scan_id.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%",),
            ).fetchall()
            if len(rows) > 1:
                raise ScanNotFoundError(f"scan id {scan_id!r} is ambiguous; give more of it (see `consentry scans list`)")
            r = rows[0] if rows else None
        if r is None:
            raise ScanNotFoundError(f"no scan with id {scan_id!r} in {getattr(self, 'path', 'the registry')}; see `consentry scans list`")
        return self._scan_row(r)

    def list_scans(self) -> list[dict]:
        """Every stored scan, newest first (without the terms snapshot)."""
        cols = ", ".join(_LISTED_COLUMNS)
        rows = self._conn.execute(f"SELECT {cols} FROM scans ORDER BY created_at DESC, rowid DESC").fetchall()
        return [self._scan_row(r, _LISTED_COLUMNS) for r in rows]

    def find_resumable_scan(self, *, source_spec: str, engine: str, engine_version: str, param_hash: str) -> dict | None:
        """The newest unfinished scan of the same source under the same engine, if any."""
        r = self._conn.execute(
            f"SELECT {', '.join(SCAN_COLUMNS)} FROM scans WHERE source_spec = ? AND engine = ? AND engine_version = ? "
            "AND param_hash = ? AND status != 'complete' ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (source_spec, engine, engine_version, param_hash),
        ).fetchone()
        return self._scan_row(r) if r else None

    def update_scan(self, scan_id: str, **changes) -> None:
        """Set some of ``status``, ``finished_at``, ``dataset_fingerprint``, ``summary`` of a scan."""
        allowed = {"status", "finished_at", "dataset_fingerprint", "summary"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"update_scan: cannot change {sorted(set(changes) - allowed)}")
        sets = ", ".join(f"{k} = ?" for k in changes)
        values = [json.dumps(v) if k in _JSON_COLUMNS and v is not None else v for k, v in changes.items()]
        with self.transaction() as c:
            c.execute(f"UPDATE scans SET {sets} WHERE scan_id = ?", [*values, scan_id])

    def done_seqs(self, scan_id: str) -> SeqSet:
        """Positions of the items of a scan that are already stored, as ranges (memory grows with the gaps)."""
        return SeqSet.from_sorted(r[0] for r in self._conn.execute(
            "SELECT seq FROM scan_items WHERE scan_id = ? ORDER BY seq", (scan_id,)))

    def add_scan_items(self, scan_id: str, items: Iterable[dict]) -> int:
        """Store finished items (dicts as in docs/scan-format.md, findings without work details), in one transaction."""
        items = list(items)
        if not items:
            return 0
        columns = FINDING_COLUMNS + OTHER_FINDING_COLUMNS
        item_sql = (
            "INSERT INTO scan_items (scan_id, seq, item_id, name, decision, duration_s, covered_s, "
            "sha256, bytes, error, signals, medium, size, unit) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (scan_id, seq) DO UPDATE SET item_id = excluded.item_id, name = excluded.name, "
            "decision = excluded.decision, duration_s = excluded.duration_s, covered_s = excluded.covered_s, "
            "sha256 = excluded.sha256, bytes = excluded.bytes, error = excluded.error, signals = excluded.signals, "
            "medium = excluded.medium, size = excluded.size, unit = excluded.unit")
        finding_sql = (f"INSERT INTO scan_findings (scan_id, seq, {', '.join(columns)}) "
                       f"VALUES (?, ?, {', '.join('?' * len(columns))})")

        def item_row(it: dict) -> tuple:
            return (scan_id, it["seq"], it["item_id"], it["name"], it["decision"], it.get("duration_s"),
                    float(it.get("covered_s") or 0.0), it.get("sha256"), it.get("bytes"), it.get("error"),
                    json.dumps(it["signals"]) if it.get("signals") else None,
                    it.get("medium"), it.get("size"), it.get("unit"))

        def finding_rows(part: list[dict]) -> list[tuple]:
            return [(scan_id, it["seq"], *(f[k] for k in FINDING_COLUMNS), f.get("medium"),
                     json.dumps(f["detail"], sort_keys=True) if f.get("detail") else None)
                    for it in part for f in it.get("findings", ())]

        with self.transaction() as c:
            # Items of distinct seqs in three statements (a scan's text rows come ~1,000 at a time); an item given
            # twice in one call is written in turn, the later one replacing the earlier with its findings.
            parts = [items] if len({it["seq"] for it in items}) == len(items) else [[it] for it in items]
            for part in parts:
                c.executemany("DELETE FROM scan_findings WHERE scan_id = ? AND seq = ?",
                              [(scan_id, it["seq"]) for it in part])
                c.executemany(item_sql, [item_row(it) for it in part])
                rows = finding_rows(part)
                if rows:
                    c.executemany(finding_sql, rows)
        return len(items)

    def iter_scan_items(self, scan_id: str, *, decisions: Sequence[str] | None = None) -> Iterator[dict]:
        """Stored items of a scan in dataset order, each with its raw findings (streamed)."""
        where, args = "scan_id = ?", [scan_id]
        if decisions:
            where += f" AND decision IN ({', '.join('?' * len(decisions))})"
            args += list(decisions)
        items = self._conn.execute(
            f"SELECT seq, item_id, name, decision, duration_s, covered_s, sha256, bytes, error, signals, medium, size, unit "
            f"FROM scan_items WHERE {where} ORDER BY seq", args,
        )
        # Findings are read on a second cursor in the same order and merged in.
        findings = self._conn.execute(
            f"SELECT seq, {', '.join(FINDING_COLUMNS + OTHER_FINDING_COLUMNS)} FROM scan_findings WHERE scan_id = ? "
            "ORDER BY seq, score DESC",
            (scan_id,),
        )
        pending = findings.fetchone()
        for r in items:
            item = dict(zip(("seq", "item_id", "name", "decision", "duration_s", "covered_s", "sha256", "bytes", "error"), r[:9]))
            if r[9]:
                item["signals"] = json.loads(r[9])
            if r[10] not in (None, "music"):  # another medium (schema 7): its size and unit
                item.update(medium=r[10], size=r[11], unit=r[12])
            found = []
            n = len(FINDING_COLUMNS)
            while pending is not None and pending[0] <= item["seq"]:
                if pending[0] == item["seq"]:
                    f = dict(zip(FINDING_COLUMNS, pending[1:n + 1]))
                    if pending[n + 1] not in (None, "music"):
                        f["medium"] = pending[n + 1]
                        f["detail"] = json.loads(pending[n + 2]) if pending[n + 2] else {}
                    found.append(f)
                pending = findings.fetchone()
            item["findings"] = found
            yield item

    def scan_item_ids(self, scan_id: str, *, decisions: Sequence[str]) -> set[str]:
        """Ids of the items of a scan with one of ``decisions``."""
        marks = ", ".join("?" * len(decisions))
        return {
            r[0] for r in self._conn.execute(
                f"SELECT item_id FROM scan_items WHERE scan_id = ? AND decision IN ({marks})", (scan_id, *decisions)
            )
        }

    def scan_totals(self, scan_id: str) -> dict:
        """Item counts per decision, audio seconds and bytes of a scan; ``media``: items read and their size per medium."""
        out = {"items": 0, "audio_s": 0.0, "bytes": 0, "refused": 0, "licensable": 0, "allowed": 0, "unknown": 0, "error": 0}
        for decision, n, audio_s, nbytes in self._conn.execute(
            "SELECT decision, COUNT(*), COALESCE(SUM(duration_s), 0), COALESCE(SUM(bytes), 0) FROM scan_items "
            "WHERE scan_id = ? GROUP BY decision", (scan_id,),
        ):
            out[decision] = int(n)
            out["items"] += int(n)
            out["audio_s"] += float(audio_s)
            out["bytes"] += int(nbytes)
        # Items read, per medium, with their size in its unit (music items stored before schema 7 have no medium).
        media = {}
        for medium, unit, n, size in self._conn.execute(
            "SELECT COALESCE(medium, 'music'), COALESCE(unit, 's'), COUNT(*), "
            "COALESCE(SUM(COALESCE(size, duration_s)), 0) FROM scan_items "
            "WHERE scan_id = ? AND decision != 'error' GROUP BY 1, 2 ORDER BY 1, 2", (scan_id,),
        ):
            m = media.setdefault(medium, {"items": 0, "size": 0.0, "unit": unit})
            m["items"] += int(n)
            m["size"] += float(size)
        out["media"] = media
        return out

    def scan_findings_by_work(self, scan_id: str) -> Iterator[tuple[str, int, float, float]]:
        """(work_id, seq, query_start_s, query_end_s) of every finding, grouped by work then item."""
        yield from self._conn.execute(
            "SELECT work_id, seq, query_start_s, query_end_s FROM scan_findings WHERE scan_id = ? "
            "ORDER BY work_id, seq, query_start_s", (scan_id,),
        )

    def scan_coverages(self, scan_id: str) -> Iterator[float]:
        """Share of each item with findings that the findings cover."""
        for covered, duration in self._conn.execute(
            "SELECT covered_s, duration_s FROM scan_items WHERE scan_id = ? AND decision IN "
            "('refused', 'licensable', 'allowed')", (scan_id,),
        ):
            yield min(1.0, covered / duration) if duration else 0.0

    def scan_error_reasons(self, scan_id: str, *, examples: int = 20) -> dict:
        by_reason = {
            r[0]: r[1] for r in self._conn.execute(
                "SELECT error, COUNT(*) FROM scan_items WHERE scan_id = ? AND decision = 'error' GROUP BY error "
                "ORDER BY COUNT(*) DESC, error", (scan_id,),
            )
        }
        ex = [
            {"item_id": r[0], "error": r[1]} for r in self._conn.execute(
                "SELECT item_id, error FROM scan_items WHERE scan_id = ? AND decision = 'error' ORDER BY seq LIMIT ?",
                (scan_id, examples),
            )
        ]
        return {"count": sum(by_reason.values()), "by_reason": by_reason, "examples": ex}

    def iter_item_signals(self, scan_id: str) -> Iterator[tuple[str, str, dict]]:
        """(item_id, decision, signals) of the items of a scan that carry AI-use signals."""
        for item_id, decision, signals in self._conn.execute(
            "SELECT item_id, decision, signals FROM scan_items WHERE scan_id = ? AND signals IS NOT NULL ORDER BY seq", (scan_id,),
        ):
            yield item_id, decision, json.loads(signals)

    def iter_item_hashes(self, scan_id: str) -> Iterator[tuple[str, str | None]]:
        """(item_id, sha256) of every item of a scan, in dataset order."""
        yield from self._conn.execute("SELECT item_id, sha256 FROM scan_items WHERE scan_id = ? ORDER BY seq", (scan_id,))

    def compare_scan_items(self, old: str, new: str, *, limit: int = 10_000) -> dict:
        """Items (by id) whose decision differs between two scans, and items in only one of them."""
        changed = [
            {"item_id": r[0], "old": r[1], "new": r[2]} for r in self._conn.execute(
                "SELECT a.item_id, a.decision, b.decision FROM scan_items a JOIN scan_items b "
                "ON b.scan_id = ? AND b.item_id = a.item_id WHERE a.scan_id = ? AND a.decision != b.decision "
                "ORDER BY a.seq LIMIT ?", (new, old, limit),
            )
        ]
        only = {}
        for name, (x, y) in (("only_old", (old, new)), ("only_new", (new, old))):
            (only[name],) = self._conn.execute(
                "SELECT COUNT(*) FROM scan_items a WHERE a.scan_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM scan_items b WHERE b.scan_id = ? AND b.item_id = a.item_id)", (x, y),
            ).fetchone()
        return {"changed": changed, **only}

    # -- ledger ----------------------------------------------------------------
    def ledger_tail(self) -> tuple[int, str]:
        """(seq, entry_hash) of the last ledger entry, or (0, genesis hash)."""
        r = self._conn.execute("SELECT seq, entry_hash FROM ledger_entries ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(r[0]), r[1]) if r else (0, GENESIS_HASH)

    def append_ledger(self, bodies: Sequence[dict], *, recorded_at: str) -> list[dict]:
        """Append entries (hash-chained to the last one) in one transaction; returns them as stored."""
        out = []
        with self.writer_lock(), self.transaction() as c:
            r = c.execute("SELECT seq, entry_hash FROM ledger_entries ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (int(r[0]), r[1]) if r else (0, GENESIS_HASH)
            for body in bodies:
                seq += 1
                entry = chain_entry(seq=seq, recorded_at=recorded_at, body=body, prev_hash=prev)
                c.execute(
                    "INSERT INTO ledger_entries (seq, entry_id, recorded_at, body, prev_hash, entry_hash) VALUES (?,?,?,?,?,?)",
                    (entry["seq"], entry["entry_id"], entry["recorded_at"], entry["body_json"], entry["prev_hash"], entry["entry_hash"]),
                )
                prev = entry["entry_hash"]
                out.append(entry)
            c.execute("INSERT INTO meta (key, value) VALUES ('ledger_head', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      (f"{seq}:{prev}",))
        return out

    def iter_ledger(self) -> Iterator[dict]:
        """Every ledger entry as stored, in order (the body as its stored JSON text in ``body_json``)."""
        for r in self._conn.execute("SELECT seq, entry_id, recorded_at, body, prev_hash, entry_hash FROM ledger_entries ORDER BY seq"):
            yield {"seq": r[0], "entry_id": r[1], "recorded_at": r[2], "body_json": r[3], "prev_hash": r[4], "entry_hash": r[5]}

    def ledger_head(self) -> str | None:
        r = self._conn.execute("SELECT value FROM meta WHERE key = 'ledger_head'").fetchone()
        return r[0] if r else None
