"""What the SQLite and PostgreSQL stores share: every query, written once.

:class:`SQLStore` holds the works, terms, index and migration logic in the
portable SQL of :mod:`consentry.store.schema`, and mixes in the table mixins
(scans and ledger, voices and melodies, the server's tables, claims).  It
reaches the database only through ``self._conn``, an object that behaves like
:class:`sqlite3.Connection` for ``execute``, ``executemany``, iteration of
results, ``fetchone`` / ``fetchall`` and ``in_transaction``: a real one in
:class:`~consentry.store.sqlite.SQLiteStore`, an adapter over psycopg in
:class:`~consentry.store.postgres.PostgresStore`.

A subclass provides the hooks (``_begin_write``, ``_begin_snapshot``,
``_commit``, ``_rollback``, ``writer_lock``, ``_schema_version``,
``_apply_migration``, and the index segment storage: ``_write_segment``,
``_store_segment_data``, ``_segment_arrays``, ``_delete_segment_data``,
``_after_segments_dropped``, ``_before_write``, ``_storage_bytes``), and the
names callers use: ``path``, ``location`` (safe to show), ``spec`` (reopens
the same registry, e.g. in a worker process) and ``local_dir`` (where local
files such as the evidence signing key live).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from consentry.domain.clock import now_iso
from consentry.domain.errors import FieldError, NotARegistryError, RegistryError, WorkNotFoundError
from consentry.domain.works import Terms, Work
from consentry.domain.usage import TermsVersion, UseTerms
from consentry.store.schema import SCHEMA_VERSION
from consentry.store import tiers
from consentry.store.segments import IndexSegment
from consentry.store.sqlite_audit import AuditTablesMixin
from consentry.store.sqlite_check import CheckTablesMixin
from consentry.store.tables_claims import ClaimsTablesMixin
from consentry.store.tables_service import ServiceTablesMixin

MAGIC = "consentry-registry"


utc_now = now_iso  # the one clock (consentry.domain.clock); the name is kept for importers


class SQLStore(AuditTablesMixin, CheckTablesMixin, ServiceTablesMixin, ClaimsTablesMixin):
    """Works, terms and the fingerprint index of one registry, over a DB-API-like connection."""

    _conn: Any
    path: Any
    location: str
    spec: str
    local_dir: Path

    def __init__(self) -> None:
        self._segments: dict[str, IndexSegment] = {}

    # -- hooks -------------------------------------------------------------------
    def _begin_write(self) -> None:
        raise NotImplementedError

    def _begin_snapshot(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the registry's writer lock (blocks while another writer works)."""
        raise NotImplementedError
        yield

    def _schema_version(self) -> int | None:
        """The registry's schema version; None for an empty database."""
        raise NotImplementedError

    def _apply_migration(self, version: int) -> None:
        """Run the statements of one schema version (inside the migration's transaction)."""
        raise NotImplementedError

    def _write_segment(self, keys: np.ndarray, values: np.ndarray) -> Any:
        """Prepare a segment's arrays (keys sorted) before its transaction; returns a handle with ``stem`` and ``shift``."""
        raise NotImplementedError

    def _store_segment_data(self, c, written: Any) -> None:
        """Store the prepared arrays in the same transaction as the segment's row (nothing when they live in files)."""

    def _segment_arrays(self, stem: str, n_entries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys, values, directory) of a committed segment, memory-mapped."""
        raise NotImplementedError

    def _segment_name(self, stem: str) -> str:
        """How messages name a segment (``stem=""``: the whole index)."""
        return f"{self.location} index segment {stem}".rstrip()

    def _delete_segment_data(self, c, stems: Sequence[str]) -> None:
        """Drop stored arrays of segments whose rows are deleted (in the same transaction)."""

    def _after_segments_dropped(self, stems: Sequence[str]) -> None:
        """Clean up after a committed compaction (e.g. delete files)."""

    def _before_write(self) -> None:
        """Called under the writer lock before a registration batch (e.g. to delete files a crash left)."""

    def _storage_bytes(self) -> tuple[int, int]:
        """(index bytes, database bytes) for :meth:`stats`."""
        raise NotImplementedError

    def _stats_registry(self) -> str:
        return self.location

    # -- opening -----------------------------------------------------------------
    def _check_or_migrate(self) -> None:
        version = self._schema_version()
        if version == SCHEMA_VERSION:
            return
        if version is not None and version > SCHEMA_VERSION:
            raise RegistryError(
                f"{self.location}: made by a newer Consentry (schema {version}, this one knows {SCHEMA_VERSION}); upgrade Consentry"
            )
        with self.writer_lock():
            version = self._schema_version()
            if version is not None and version > SCHEMA_VERSION:
                raise RegistryError(
                    f"{self.location}: made by a newer Consentry (schema {version}, this one knows {SCHEMA_VERSION}); upgrade Consentry"
                )
            if version == SCHEMA_VERSION:
                return
            with self.transaction():
                if version is None:
                    self._conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
                    version = 0
                for v in range(version + 1, SCHEMA_VERSION + 1):
                    self._apply_migration(v)
                    self._conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (v, utc_now()))
                self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (MAGIC,))

    def close(self) -> None:
        self._segments.clear()
        self._conn.close()

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write transaction (writers queue for it, one at a time); yields the connection."""
        self._begin_write()
        try:
            yield self._conn
        except BaseException:
            self._rollback()
            raise
        else:
            self._commit()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read several things from one consistent state of the registry (nests: inner snapshots join the outer one)."""
        if self._conn.in_transaction:
            yield
            return
        self._begin_snapshot()
        try:
            yield
        finally:
            self._commit()

    # -- works -----------------------------------------------------------------
    _WORK_COLS = (
        "w.work_id, w.fp_id, w.sha256, w.title, w.creator, w.source, w.duration_s, w.registered_at, "
        "w.engine, w.engine_version, w.param_hash, w.n_hashes, w.removed_at, t.decision, t.price, t.currency, "
        "t.version, w.copyright_registered_on, w.first_published_on"
    )
    _WORK_FROM = (
        "FROM works w JOIN terms t ON t.work_id = w.work_id "
        "AND t.version = (SELECT MAX(version) FROM terms WHERE work_id = w.work_id)"
    )

    @staticmethod
    def _row_to_work(r) -> Work:
        return Work(
            work_id=r[0], fp_id=r[1], sha256=r[2], title=r[3], creator=r[4], source=r[5], duration_s=r[6],
            registered_at=r[7], engine=r[8], engine_version=r[9], param_hash=r[10], n_hashes=r[11],
            removed_at=r[12], terms=Terms(decision=r[13], price=r[14], currency=r[15]),
            terms_version=r[16], copyright_registered_on=r[17], first_published_on=r[18],
        )

    def find_by_sha256(self, sha256: str) -> Work | None:
        r = self._conn.execute(
            f"SELECT {self._WORK_COLS} {self._WORK_FROM} WHERE w.sha256 = ? AND w.removed_at IS NULL ORDER BY w.fp_id LIMIT 1",
            (sha256,),
        ).fetchone()
        return self._row_to_work(r) if r else None

    def get_work(self, work_id: str) -> Work:
        rows = self._conn.execute(
            f"SELECT {self._WORK_COLS} {self._WORK_FROM} WHERE w.work_id = ? OR w.work_id LIKE ? ORDER BY w.work_id LIMIT 2",
            (work_id, work_id.replace("%", "").replace("_", "") + "%"),
        ).fetchall()
        exact = [r for r in rows if r[0] == work_id]
        if exact:
            return self._row_to_work(exact[0])
        if len(rows) == 1 and len(work_id) >= 4:
            return self._row_to_work(rows[0])
        if len(rows) > 1:
            raise WorkNotFoundError(f"work id {work_id!r} is ambiguous; give more of it")
        raise WorkNotFoundError(f"no work with id {work_id!r} in {self.location}; see `consentry works list`")

    def list_works(self, *, include_removed: bool = False) -> list[Work]:
        where = "" if include_removed else "WHERE w.removed_at IS NULL"
        rows = self._conn.execute(f"SELECT {self._WORK_COLS} {self._WORK_FROM} {where} ORDER BY w.fp_id").fetchall()
        return [self._row_to_work(r) for r in rows]

    def works_by_fp_id(self, fp_ids: Iterable[int]) -> dict[int, Work]:
        ids = sorted({int(i) for i in fp_ids})
        out: dict[int, Work] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self._conn.execute(f"SELECT {self._WORK_COLS} {self._WORK_FROM} WHERE w.fp_id IN ({marks})", chunk):
                out[r[1]] = self._row_to_work(r)
        return out

    def removed_fp_ids(self) -> set[int]:
        return {r[0] for r in self._conn.execute("SELECT fp_id FROM works WHERE removed_at IS NOT NULL")}

    def remove_work(self, work_id: str) -> Work:
        """Mark a work removed: it is no longer matched; its index entries go at the next compaction."""
        work = self.get_work(work_id)
        with self.transaction() as c:
            c.execute("UPDATE works SET removed_at = ? WHERE work_id = ? AND removed_at IS NULL", (utc_now(), work.work_id))
        return self.get_work(work.work_id)

    def set_terms(self, work_id: str, terms: Terms) -> Work:
        """Append a new terms version that changes only the AI-training terms (other uses kept)."""
        current = self.work_terms(work_id)
        training = UseTerms(decision=terms.decision, price=terms.price, currency=terms.currency)
        return self.set_work_terms(work_id, current.with_uses({"ai_training": training}))

    def set_work_terms(self, work_id: str, version: TermsVersion) -> Work:
        """Append a new terms version for a work (older versions are kept).

        ``version.uses`` must include ``ai_training`` (a work's training terms
        are always its own); other uses left out fall back to the creator's
        default terms.
        """
        if "ai_training" not in version.uses:
            raise FieldError("uses", "a work's terms must say what AI training may do ({uses} ai_training)")
        work = self.get_work(work_id)
        t = version.uses["ai_training"]
        with self.transaction() as c:
            (last,) = c.execute("SELECT MAX(version) FROM terms WHERE work_id = ?", (work.work_id,)).fetchone()
            c.execute(
                "INSERT INTO terms (work_id, version, decision, price, currency, recorded_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (work.work_id, int(last) + 1, t.decision, t.price, t.currency, utc_now(), json.dumps(version.as_dict())),
            )
        return self.get_work(work.work_id)

    @staticmethod
    def _version_from_row(decision, price, currency, detail) -> TermsVersion:
        if detail:
            return TermsVersion.from_dict(json.loads(detail))
        return training_only(Terms(decision=decision, price=price, currency=currency))

    def work_terms(self, work_id: str) -> TermsVersion:
        """The terms version in force for a work, as the work sets it (uses it leaves out are not filled in)."""
        work = self.get_work(work_id)
        r = self._conn.execute(
            "SELECT decision, price, currency, detail FROM terms WHERE work_id = ? ORDER BY version DESC LIMIT 1",
            (work.work_id,),
        ).fetchone()
        return self._version_from_row(*r)

    def terms_history(self, work_id: str) -> list[tuple[int, TermsVersion, str]]:
        """Every terms version of a work, oldest first: (version, terms, recorded_at)."""
        work = self.get_work(work_id)
        rows = self._conn.execute(
            "SELECT version, decision, price, currency, detail, recorded_at FROM terms WHERE work_id = ? ORDER BY version",
            (work.work_id,),
        ).fetchall()
        return [(r[0], self._version_from_row(*r[1:5]), r[5]) for r in rows]

    def all_work_terms(self) -> dict[str, TermsVersion]:
        """The terms version in force for every work (removed ones included), by work id."""
        rows = self._conn.execute(
            "SELECT t.work_id, t.decision, t.price, t.currency, t.detail FROM terms t "
            "WHERE t.version = (SELECT MAX(version) FROM terms WHERE work_id = t.work_id)"
        ).fetchall()
        return {r[0]: self._version_from_row(*r[1:]) for r in rows}

    # -- creators' default terms -------------------------------------------------
    def set_creator_terms(self, creator: str, version: TermsVersion) -> int:
        """Append a version of a creator's default terms; returns its number."""
        with self.transaction() as c:
            (last,) = c.execute("SELECT COALESCE(MAX(version), 0) FROM creator_terms WHERE creator = ?", (creator,)).fetchone()
            c.execute("INSERT INTO creator_terms (creator, version, detail, recorded_at) VALUES (?, ?, ?, ?)",
                      (creator, int(last) + 1, json.dumps(version.as_dict()), utc_now()))
        return int(last) + 1

    def creator_terms(self, creator: str) -> tuple[int, TermsVersion] | None:
        """The creator's default terms in force, with their version number, or None."""
        r = self._conn.execute(
            "SELECT version, detail FROM creator_terms WHERE creator = ? ORDER BY version DESC LIMIT 1", (creator,)
        ).fetchone()
        return (r[0], TermsVersion.from_dict(json.loads(r[1]))) if r else None

    def creator_terms_history(self, creator: str) -> list[tuple[int, TermsVersion, str]]:
        rows = self._conn.execute(
            "SELECT version, detail, recorded_at FROM creator_terms WHERE creator = ? ORDER BY version", (creator,)
        ).fetchall()
        return [(r[0], TermsVersion.from_dict(json.loads(r[1])), r[2]) for r in rows]

    def all_creator_terms(self) -> dict[str, tuple[int, TermsVersion]]:
        rows = self._conn.execute(
            "SELECT c.creator, c.version, c.detail FROM creator_terms c "
            "WHERE c.version = (SELECT MAX(version) FROM creator_terms WHERE creator = c.creator)"
        ).fetchall()
        return {r[0]: (r[1], TermsVersion.from_dict(json.loads(r[2]))) for r in rows}

    def set_work_dates(self, work_id: str, *, copyright_registered_on: str | None, first_published_on: str | None) -> Work:
        """Record the copyright registration and first publication dates of a work (None leaves a date unchanged)."""
        work = self.get_work(work_id)
        with self.transaction() as c:
            if copyright_registered_on is not None:
                c.execute("UPDATE works SET copyright_registered_on = ? WHERE work_id = ?", (copyright_registered_on, work.work_id))
            if first_published_on is not None:
                c.execute("UPDATE works SET first_published_on = ? WHERE work_id = ?", (first_published_on, work.work_id))
        return self.get_work(work.work_id)

    def _free_work_id(self, wanted: str, taken: set[str] = frozenset()) -> str:
        """``wanted``, or ``wanted-N`` when another work (or one of ``taken``) already holds it."""
        candidate, n = wanted, 1
        while candidate in taken or self._conn.execute("SELECT 1 FROM works WHERE work_id = ?", (candidate,)).fetchone():
            n += 1
            candidate = f"{wanted}-{n}"
        return candidate

    def add_works(
        self,
        batch: Sequence[tuple[Work, np.ndarray, Callable[[int], np.ndarray]]],
        *,
        claims_for: Callable[[list[Work]], Sequence[Any]] | None = None,
    ) -> list[Work]:
        """Register a batch of works with their index entries, all or nothing.

        Parameters
        ----------
        batch : sequence of (work, keys, make_values)
            ``work.fp_id`` is ignored: the store assigns it; ``keys`` are the
            work's uint32 hash keys and ``make_values(fp_id)`` returns the
            matching uint64 postings.
        claims_for : callable(list of Work) -> sequence of Claim, optional
            Called with the works accepted, under the writer lock and inside
            the transaction that inserts them (after they are inserted; reads
            through this store see them and every batch committed before):
            the claims it returns are inserted in the same transaction. So the
            question "did another creator register this already?" and the
            insert are one step, whoever commits first (docs/claims.md).

        Returns
        -------
        list of Work, with their assigned ``fp_id``, in the order given.
        Works whose content the same creator already registered are left out.
        """
        if not batch:
            return []
        with self.writer_lock():
            self._before_write()
            row = self._conn.execute("SELECT COALESCE(MAX(fp_id), 0) FROM works").fetchone()
            next_id = int(row[0]) + 1
            accepted: list[Work] = []
            keys_parts, value_parts = [], []
            seen: set = set()
            taken: set[str] = set()
            for work, keys, make_values in batch:
                # Same content by another creator is a work of its own (and a claim; docs/claims.md).
                if (work.sha256, work.creator) in seen or any(
                        w.creator == work.creator for w in self.live_works_with_sha256(work.sha256)):
                    continue
                seen.add((work.sha256, work.creator))
                w = replace(work, fp_id=next_id, work_id=self._free_work_id(work.work_id, taken))
                taken.add(w.work_id)
                next_id += 1
                keys_parts.append(np.asarray(keys, dtype=np.uint32))
                value_parts.append(make_values(w.fp_id))
                accepted.append(w)
            if not accepted:
                return []
            # One segment per engine (a batch may mix media: music, text, images), each under its engine's id.
            groups: dict[tuple[str, str, str], list[int]] = {}
            for i, w in enumerate(accepted):
                groups.setdefault((w.engine, w.engine_version, w.param_hash), []).append(i)
            segments = []
            for engine_key, members in groups.items():
                keys = np.concatenate([keys_parts[i] for i in members])
                values = np.concatenate([value_parts[i] for i in members])
                order = np.argsort(keys, kind="stable")
                if keys.size:
                    segments.append((self._write_segment(keys[order], values[order]), int(keys.size), engine_key))
            with self.transaction() as c:
                for w in accepted:
                    c.execute(
                        "INSERT INTO works (work_id, fp_id, sha256, title, creator, source, duration_s, registered_at, "
                        "engine, engine_version, param_hash, n_hashes, copyright_registered_on, first_published_on) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (w.work_id, w.fp_id, w.sha256, w.title, w.creator, w.source, w.duration_s, w.registered_at,
                         w.engine, w.engine_version, w.param_hash, w.n_hashes, w.copyright_registered_on,
                         w.first_published_on),
                    )
                    c.execute(
                        "INSERT INTO terms (work_id, version, decision, price, currency, recorded_at, detail) VALUES (?, 1, ?, ?, ?, ?, ?)",
                        (w.work_id, w.terms.decision, w.terms.price, w.terms.currency, w.registered_at,
                         json.dumps(training_only(w.terms).as_dict())),
                    )
                for written, n_entries, engine_key in segments:
                    self._insert_segment(c, written, n_entries, *engine_key)
                if claims_for is not None:
                    self._insert_claims(c, list(claims_for(accepted)))
            return accepted

    def reindex_works(self, batch: Sequence[tuple[int, int, np.ndarray, np.ndarray]], *, engine: str,
                      engine_version: str, param_hash: str) -> int:
        """Give works new fingerprints made by another engine version, all or nothing.

        Parameters
        ----------
        batch : sequence of (fp_id, n_hashes, keys, values)
            Each work's new uint32 keys and uint64 postings (the work keeps its
            ``fp_id``).  They go into one new segment under ``engine``,
            ``engine_version`` and ``param_hash``, and the works' rows name that
            engine, in one transaction; the works' old postings stay in their old
            segments (searched only while a work still names their engine) until
            :meth:`drop_segments`.

        Returns
        -------
        int: the number of works updated.
        """
        if not batch:
            return 0
        with self.writer_lock():
            self._before_write()
            keys = np.concatenate([np.asarray(k, dtype=np.uint32) for _, _, k, _ in batch])
            values = np.concatenate([np.asarray(v, dtype=np.uint64) for _, _, _, v in batch])
            order = np.argsort(keys, kind="stable")
            written = self._write_segment(keys[order], values[order]) if keys.size else None
            with self.transaction() as c:
                for fp_id, n_hashes, _, _ in batch:
                    c.execute("UPDATE works SET engine = ?, engine_version = ?, param_hash = ?, n_hashes = ? WHERE fp_id = ?",
                              (engine, engine_version, param_hash, int(n_hashes), int(fp_id)))
                if written is not None:
                    self._insert_segment(c, written, int(keys.size), engine, engine_version, param_hash)
            return len(batch)

    def drop_segments(self, *, engine: str, engine_version: str, param_hash: str) -> int:
        """Drop every index segment made under this engine id (after a re-index); returns how many."""
        with self.writer_lock():
            stems = [r[0] for r in self._segment_rows(engine, engine_version, param_hash)]
            if not stems:
                return 0
            with self.transaction() as c:
                self._delete_segment_data(c, stems)
                c.executemany("DELETE FROM index_segments WHERE stem = ?", [(s,) for s in stems])
            self._after_segments_dropped(stems)
            return len(stems)

    def add_segment(self, keys: np.ndarray, values: np.ndarray, *, engine: str, engine_version: str, param_hash: str) -> str:
        """Add a raw index segment (used by compaction and benchmarks); keys need not be sorted."""
        order = np.argsort(keys, kind="stable")
        with self.writer_lock():
            written = self._write_segment(np.asarray(keys)[order], np.asarray(values)[order])
            with self.transaction() as c:
                self._insert_segment(c, written, int(keys.size), engine, engine_version, param_hash)
        return written.stem

    def _insert_segment(self, c, written: Any, n: int, engine: str, engine_version: str, param_hash: str) -> None:
        c.execute(
            "INSERT INTO index_segments (stem, n_entries, dir_shift, engine, engine_version, param_hash, created_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (written.stem, n, written.shift, engine, engine_version, param_hash, utc_now()),
        )
        self._store_segment_data(c, written)

    # -- index segments -------------------------------------------------------
    def _segment_rows(self, engine: str | None = None, engine_version: str | None = None, param_hash: str | None = None,
                      *, rows: list | None = None):
        """The index_segments rows of an engine (None: any), in index order; from ``rows`` when given (all rows)."""
        if rows is None:
            sql = "SELECT stem, n_entries, engine, engine_version, param_hash, dir_shift FROM index_segments"
            rows = self._conn.execute(sql + " ORDER BY segment_id").fetchall()
        return [
            r for r in rows
            if (engine is None or r[2] == engine) and (engine_version is None or r[3] == engine_version)
            and (param_hash is None or r[4] == param_hash)
        ]

    def _open_segment(self, stem: str, n_entries: int, shift: int) -> IndexSegment:
        keys, values, directory = self._segment_arrays(stem, n_entries)
        if (keys.shape != values.shape or keys.shape[0] != n_entries or keys.dtype != np.uint32
                or values.dtype != np.uint64 or directory.dtype != np.int64 or directory.ndim != 1
                or directory.shape[0] < 2 or (n_entries and int(directory[-1]) != n_entries)):
            raise RegistryError(f"{self._segment_name(stem)}: damaged index segment; re-register the works or restore a backup")
        return IndexSegment(keys, values, directory, int(shift))

    def index_segment_stems(self, *, engine: str, engine_version: str, param_hash: str) -> list[tuple[str, int]]:
        """``(stem, entries)`` of each committed segment of the engine, in index order (what a shard layout names)."""
        with self.snapshot():
            return [(r[0], int(r[1])) for r in self._segment_rows(engine, engine_version, param_hash)]

    def index_segments(self, *, engine: str, engine_version: str, param_hash: str) -> list[IndexSegment]:
        """Memory-mapped segments committed by this engine (version and parameters)."""
        for attempt in range(3):
            try:
                with self.snapshot():
                    every = self._segment_rows()
                    rows = self._segment_rows(engine, engine_version, param_hash, rows=every)
                    out = []
                    for stem, n_entries, *_, shift in rows:
                        if stem not in self._segments:
                            self._segments[stem] = self._open_segment(stem, n_entries, shift)
                        out.append(self._segments[stem])
                # Forget the segments that are gone (merged or dropped), of any engine; the other engines'
                # live ones stay open (an identify asks for each engine version in turn: forgetting the
                # others' made every query open every segment again).
                live = {r[0] for r in every}
                for stem in [s for s in self._segments if s not in live]:
                    del self._segments[stem]
                return out
            except FileNotFoundError:
                # A compaction replaced the segments between our read and open.
                continue
            except (ValueError, OSError) as exc:
                raise RegistryError(f"{self._segment_name('')}: damaged index segment ({exc}); "
                                    "re-register the works or restore a backup") from None
        raise RegistryError(f"{self.location}: index segments keep changing; try again")

    def compact(self, *, engine: str, engine_version: str, param_hash: str, unpack_fp_id: Callable[[np.ndarray], np.ndarray],
                stems: Sequence[str] | None = None) -> int:
        """Merge all segments of the engine into one (or only ``stems``, when given), dropping removed works' entries.

        Returns the number of segments merged (0 when fewer than two of
        ``stems`` are still there: another writer merged them first).
        """
        with self.writer_lock():
            rows = self._segment_rows(engine, engine_version, param_hash)
            if stems is not None:
                wanted = set(stems)
                rows = [r for r in rows if r[0] in wanted]
                if len(rows) < 2:
                    return 0
            elif len(rows) < 2 and not self.removed_fp_ids():
                return 0
            removed = np.array(sorted(self.removed_fp_ids()), dtype=np.int64)
            keys_parts, value_parts = [], []
            for stem, n_entries, *_ in rows:
                k, v, _ = self._segment_arrays(stem, n_entries)
                k, v = np.array(k), np.array(v)
                if removed.size:
                    keep = ~np.isin(unpack_fp_id(v), removed)
                    k, v = k[keep], v[keep]
                keys_parts.append(k)
                value_parts.append(v)
            keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.uint32)
            values = np.concatenate(value_parts) if value_parts else np.zeros(0, np.uint64)
            order = np.argsort(keys, kind="stable")
            written = self._write_segment(keys[order], values[order])
            stems = [r[0] for r in rows]
            with self.transaction() as c:
                self._delete_segment_data(c, stems)
                c.executemany("DELETE FROM index_segments WHERE stem = ?", [(s,) for s in stems])
                self._insert_segment(c, written, int(keys.size), engine, engine_version, param_hash)
            self._after_segments_dropped(stems)
            return len(rows)

    def merge_tiers(self, *, engine: str, engine_version: str, param_hash: str,
                    unpack_fp_id: Callable[[np.ndarray], np.ndarray]) -> int:
        """Merge the engine's segments where segments of about one size pile up (:mod:`consentry.store.tiers`).

        Registration calls this after each run; returns the number of segments merged.
        """
        merged = 0
        for _ in range(64):  # each merge empties a tier; 64 bounds a race with other writers
            rows = self._segment_rows(engine, engine_version, param_hash)
            chosen = tiers.segments_to_merge([int(r[1]) for r in rows])
            if not chosen:
                break
            merged += self.compact(engine=engine, engine_version=engine_version, param_hash=param_hash,
                                   unpack_fp_id=unpack_fp_id, stems=[rows[i][0] for i in chosen])
        return merged

    def terms_recorded_at(self) -> dict[str, str]:
        """When each work's terms in force were recorded: work_id -> ISO time of its latest terms version."""
        return dict(self._conn.execute(
            "SELECT t.work_id, t.recorded_at FROM terms t WHERE t.version = (SELECT MAX(version) FROM terms WHERE "
            "work_id = t.work_id)").fetchall())

    def indexed_engine_ids(self) -> list[tuple[str, str, str]]:
        """``(engine, engine_version, param_hash)`` of every engine id that has committed index segments."""
        return [tuple(r) for r in self._conn.execute(
            "SELECT DISTINCT engine, engine_version, param_hash FROM index_segments ORDER BY 1, 2, 3")]

    def works_indexed_elsewhere(self, *, engine: str, engine_version: str, param_hash: str) -> int:
        """Live works of the engine named ``engine`` fingerprinted by another version or parameters of it.

        Their index entries are in that version's segments, which a search of
        this version's segments does not read (``consentry reindex`` moves
        them).  Cheap when there are none: the segments are looked at first.
        """
        other = self._conn.execute(
            "SELECT 1 FROM index_segments WHERE engine = ? AND NOT (engine_version = ? AND param_hash = ?) LIMIT 1",
            (engine, engine_version, param_hash)).fetchone()
        if other is None:
            return 0
        return int(self._conn.execute(
            "SELECT COUNT(*) FROM works WHERE engine = ? AND removed_at IS NULL "
            "AND NOT (engine_version = ? AND param_hash = ?)", (engine, engine_version, param_hash)).fetchone()[0])

    def change_stamp(self) -> str:
        """A string that changes whenever a work, a removal, a terms version or a claim event is added (a cache key).

        Claim events count because an ownership claim opening or closing changes
        the terms reported (the strictest of the parties' while disputed).
        """
        row = self._conn.execute(
            "SELECT (SELECT COUNT(*) FROM works), (SELECT COUNT(*) FROM works WHERE removed_at IS NOT NULL), "
            "(SELECT COUNT(*) FROM terms), (SELECT COUNT(*) FROM creator_terms), (SELECT MAX(registered_at) FROM works), "
            "(SELECT COUNT(*) FROM claim_events)"
        ).fetchone()
        return "/".join(str(x) for x in row)

    def end_open_transaction(self) -> None:
        """Roll back a transaction a caller left open (a pooled connection goes back clean); never raises."""
        conn = getattr(self, "_conn", None)
        if getattr(conn, "in_transaction", False):
            try:
                conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - a broken connection is replaced by its pool
                pass

    def stats(self) -> dict:
        c = self._conn
        with self.snapshot():
            n_works, hours = c.execute(
                "SELECT COUNT(*), COALESCE(SUM(duration_s), 0) / 3600.0 FROM works WHERE removed_at IS NULL").fetchone()
            n_removed = c.execute("SELECT COUNT(*) FROM works WHERE removed_at IS NOT NULL").fetchone()[0]
            segs = c.execute("SELECT COUNT(*), COALESCE(SUM(n_entries), 0) FROM index_segments").fetchone()
            engines = [
                {"engine": r[0], "engine_version": r[1], "param_hash": r[2], "works": r[3], "size": float(r[4] or 0.0)}
                for r in c.execute(
                    "SELECT engine, engine_version, param_hash, COUNT(*), SUM(duration_s) FROM works "
                    "WHERE removed_at IS NULL "
                    "GROUP BY engine, engine_version, param_hash ORDER BY engine, engine_version, param_hash"
                )
            ]
            index_bytes, db_bytes = self._storage_bytes()
        return {
            "registry": self._stats_registry(),
            "schema_version": SCHEMA_VERSION,
            "works": int(n_works),
            "removed_works": int(n_removed),
            "hours": float(hours),
            "index_segments": int(segs[0]),
            "index_entries": int(segs[1]),
            "index_bytes": int(index_bytes),
            "database_bytes": int(db_bytes),
            "engines": engines,
        }

    def _require_registry_tables(self, tables: set[str], what: str) -> int | None:
        """Schema version from the set of table names found (None when there are none)."""
        if not tables:
            return None
        if "schema_version" not in tables:
            raise NotARegistryError(f"{self.location}: {what}, but not a Consentry registry")
        row = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)


def training_only(terms: Terms) -> TermsVersion:
    return TermsVersion(uses={"ai_training": UseTerms(decision=terms.decision, price=terms.price, currency=terms.currency)})
