"""PostgreSQL store: one registry shared by many machines and processes.

Open with a URL, ``postgresql://user[:password]@host[:port]/database``
(``postgres://`` too; any libpq parameter may follow as ``?key=value``, and
libpq's environment variables and ``~/.pgpass`` apply).  The database must
exist; an empty one becomes a registry on first use.  See docs/postgres.md.

- Schema: the migrations of :mod:`consentry.store.schema`, translated by
  :mod:`consentry.store.pg_schema`, plus two tables of the PostgreSQL store
  itself that hold the index segments' arrays (``index_segment_arrays``: one
  row per array with its SHA-256 and size; ``index_segment_chunks``: the
  ``.npy`` bytes in chunks of :data:`CHUNK_BYTES`).  They are written in the
  same transaction as the works they index, so a crash leaves all or nothing.
- Queries: the same as SQLite's (:mod:`consentry.store.sqlbase` and the table
  mixins), run through :class:`PgConnection`, which behaves like
  :class:`sqlite3.Connection` for what they use and translates each
  statement once (cached).  Errors are raised as subclasses of sqlite3's
  exceptions (an append-only trigger raises :class:`sqlite3.IntegrityError`
  as in SQLite), so code written for one store handles both.
- Index segments are read through a local, content-addressed cache
  (:class:`~consentry.store.segments.SegmentCache`, default
  ``$CONSENTRY_CACHE_DIR``, else ``$XDG_CACHE_HOME/consentry``, else
  ``~/.cache/consentry``), memory-mapped like SQLite's segment files.
- Writers: one at a time, by a session advisory lock (the writer lock, held
  for a whole registration batch) and a transaction advisory lock taken by
  every write transaction (as SQLite's ``BEGIN IMMEDIATE`` does).  Both are
  keyed by the schema, so registries in different schemas of one database do
  not wait for each other.  Readers never wait: :meth:`snapshot` is a
  REPEATABLE READ transaction.
- Local files (e.g. the evidence signing key) live in :attr:`PostgresStore.local_dir`:
  ``$CONSENTRY_HOME/<database id>``, else ``$XDG_DATA_HOME/consentry/<database id>``,
  else ``~/.local/share/consentry/<database id>``; the database id is a UUID
  stored in the registry's ``meta`` table when it is created.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import numpy as np

from consentry.domain.errors import InputError, NotARegistryError, RegistryError
from consentry.store import is_postgres_url  # noqa: F401  (re-exported; defined where it loads no driver)
from consentry.store.pg_schema import (
    NotPortableError, _Catalog, split_statements, translate_migrations, translate_query, translate_statement,
)
from consentry.store.schema import MIGRATIONS
from consentry.store.segments import SegmentCache, build_directory
from consentry.store.sqlbase import SQLStore

try:  # psycopg is a dependency, but keep `import consentry` working without it
    import psycopg
    from psycopg import pq
    from psycopg.adapt import Loader
except ImportError:  # pragma: no cover
    psycopg = None
    Loader = object

#: Size of the rows that hold a segment array's bytes.
CHUNK_BYTES = 16 << 20

#: First keys of the two advisory locks (the second key is the schema's hash).
WRITER_LOCK_KEY = 0x436E7331
WRITE_TRANSACTION_LOCK_KEY = 0x436E7332

#: The PostgreSQL store's own tables, created with schema version 1.
PG_ADDITIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE index_segment_arrays (
            stem TEXT NOT NULL REFERENCES index_segments(stem) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('keys', 'values', 'dir')),
            sha256 TEXT NOT NULL,
            n_bytes BIGINT NOT NULL,
            PRIMARY KEY (stem, kind)
        )""",
        """CREATE TABLE index_segment_chunks (
            stem TEXT NOT NULL,
            kind TEXT NOT NULL,
            chunk INTEGER NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (stem, kind, chunk),
            FOREIGN KEY (stem, kind) REFERENCES index_segment_arrays(stem, kind) ON DELETE CASCADE
        )""",
        # The arrays are dense binary: storing them uncompressed saves PostgreSQL a futile try.
        "ALTER TABLE index_segment_chunks ALTER COLUMN data SET STORAGE EXTERNAL",
        "INSERT INTO meta (key, value) VALUES ('database_id', gen_random_uuid()::text)",
    ],
}


def mask_url(url: str) -> str:
    """The URL with its password (in the authority or as a ``password=`` parameter) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hosts = netloc.rpartition("@")
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":***"
            netloc = f"{userinfo}@{hosts}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() == "password" for k, _ in pairs):
                query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*/:")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        # Unparseable: keep only the scheme and the host part's shape.
        head = url.split("://", 1)[0]
        return f"{head}://(unparseable URL)"


def _secrets_of(url: str) -> list[str]:
    """Password strings in a URL (raw and decoded), to scrub from messages."""
    out = []
    try:
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        if ":" in userinfo:
            out.append(userinfo.split(":", 1)[1])
        out += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() == "password"]
    except ValueError:
        pass
    out += [unquote(s) for s in out]
    return sorted({s for s in out if s}, key=len, reverse=True)


def _one_line(text: str, secrets: Sequence[str] = ()) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return re.sub(r"\s+", " ", lines[0]) if lines else "unknown error"


def default_cache_dir(environ=os.environ) -> Path:
    """Where the segment cache goes unless told: $CONSENTRY_CACHE_DIR, $XDG_CACHE_HOME/consentry, ~/.cache/consentry."""
    if environ.get("CONSENTRY_CACHE_DIR"):
        return Path(environ["CONSENTRY_CACHE_DIR"]).expanduser()
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "consentry"


def default_local_base(environ=os.environ) -> Path:
    """Where registries' local folders go unless told: $CONSENTRY_HOME, $XDG_DATA_HOME/consentry, ~/.local/share/consentry."""
    if environ.get("CONSENTRY_HOME"):
        return Path(environ["CONSENTRY_HOME"]).expanduser()
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "consentry"


# -- errors: sqlite3's classes, so the shared code handles both stores ------------------------

class PostgresIntegrityError(sqlite3.IntegrityError):
    """A constraint or an append-only trigger refused a change."""


class PostgresOperationalError(sqlite3.OperationalError):
    """PostgreSQL refused a statement (syntax, a missing column, a lock or serialization failure)."""


class PostgresDatabaseError(sqlite3.DatabaseError):
    """Any other database error."""


class PostgresConnectionError(sqlite3.OperationalError, RegistryError):
    """The connection to the server was lost."""


class PostgresDataError(sqlite3.DataError, InputError):
    """A value PostgreSQL cannot store (e.g. text with a NUL character)."""


def _mapped(exc: Exception, location: str, conn=None, params: Sequence = ()) -> Exception:
    diag = getattr(exc, "diag", None)
    primary = (diag.message_primary if diag is not None else None) or _one_line(str(exc))
    if isinstance(exc, psycopg.IntegrityError):
        return PostgresIntegrityError(primary)
    if isinstance(exc, psycopg.DataError) or (isinstance(exc, psycopg.Error) and "NUL (0x00)" in str(exc)):
        if "NUL" in str(exc):
            bad = next((p for p in params if isinstance(p, str) and "\x00" in p), "")
            return PostgresDataError(f"{location}: text with a NUL character cannot be stored in PostgreSQL "
                                     f"({bad[:60]!r}); remove the character from the input")
        return PostgresDataError(f"{location}: {primary}")
    if isinstance(exc, psycopg.OperationalError):
        if conn is not None and (conn.closed or conn.broken) or exc.sqlstate is None or str(exc.sqlstate).startswith("08"):
            return PostgresConnectionError(f"{location}: lost the connection to the database ({_one_line(str(exc))}); try again")
        return PostgresOperationalError(primary)
    if isinstance(exc, (psycopg.ProgrammingError, psycopg.NotSupportedError)):
        return PostgresOperationalError(primary)
    return PostgresDatabaseError(primary)


# -- results as the SQLite code expects them ------------------------------------------------

class _NumericLoader(Loader):
    """NUMERIC (e.g. SUM of BIGINTs) as int when whole, else float, as SQLite returns them."""

    def load(self, data) -> int | float:
        text = bytes(data)
        try:
            return int(text)
        except ValueError:
            return float(text)


class _BoolLoader(Loader):
    """Booleans as 1 and 0, as SQLite returns comparisons."""

    def load(self, data) -> int:
        return 1 if bytes(data) == b"t" else 0


def _adapt_param(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


class PgCursor:
    """The results of one statement (fetched when it ran, like sqlite3's for small results)."""

    def __init__(self, cur) -> None:
        self._cur = cur

    def fetchone(self):
        return self._cur.fetchone() if self._cur.description is not None else None

    def fetchall(self) -> list:
        return self._cur.fetchall() if self._cur.description is not None else []

    def fetchmany(self, size: int = 1) -> list:
        return self._cur.fetchmany(size) if self._cur.description is not None else []

    def __iter__(self):
        if self._cur.description is None:
            return iter(())
        return iter(self._cur)

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def description(self):
        return self._cur.description

    @property
    def lastrowid(self):
        raise NotPortableError("cursor.lastrowid is SQLite-only; generate the id in Python or use RETURNING")

    def close(self) -> None:
        self._cur.close()


class PgConnection:
    """The part of :class:`sqlite3.Connection` the stores use, over a psycopg connection.

    Statements are written for SQLite (``?`` placeholders, the portable
    subset of :mod:`consentry.store.pg_schema`); each is translated once and
    the translation cached.  ``CREATE``, ``ALTER`` and ``DROP`` statements go
    through the migration translator.
    """

    def __init__(self, raw, *, location: str) -> None:
        self.raw = raw
        self.location = location
        self._cache: dict[str, str | list[str]] = {}
        self._not_null: frozenset[str] = frozenset()
        raw.adapters.register_loader("numeric", _NumericLoader)
        raw.adapters.register_loader("bool", _BoolLoader)

    def refresh_catalog(self) -> None:
        """Re-read which columns are NOT NULL everywhere (after the schema changed)."""
        rows = self._raw_execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "GROUP BY column_name HAVING bool_and(is_nullable = 'NO')").fetchall()
        self._not_null = frozenset(r[0] for r in rows)
        self._cache.clear()

    def _translate(self, sql: str) -> str | list[str]:
        text = self._cache.get(sql)
        if text is None:
            tokens = split_statements(sql)
            if len(tokens) > 1:
                raise PostgresOperationalError("You can only execute one statement at a time.")
            first = tokens[0][0].upper if tokens and tokens[0] else ""
            if first in ("CREATE", "ALTER", "DROP"):
                text = translate_statement(tokens[0], _Catalog())
            else:
                text = translate_query(sql, params=True, not_null=self._not_null)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[sql] = text
        return text

    def _raw_execute(self, sql: str, params: Sequence | None = None):
        cur = self.raw.cursor()
        try:
            cur.execute(sql, params)
        except psycopg.Error as exc:
            raise _mapped(exc, self.location, self.raw, params or ()) from exc
        return cur

    def execute(self, sql: str, params: Sequence = ()) -> PgCursor:
        if isinstance(params, dict):
            raise NotPortableError("named parameters are not portable; use ? placeholders")
        text = self._translate(sql)
        if isinstance(text, list):
            cur = None
            for statement in text:
                cur = self._raw_execute(statement)
            return PgCursor(cur)
        return PgCursor(self._raw_execute(text, [_adapt_param(p) for p in params]))

    def executemany(self, sql: str, seq_of_params) -> PgCursor:
        text = self._translate(sql)
        if isinstance(text, list):
            raise NotPortableError("executemany of a schema statement")
        rows = [[_adapt_param(p) for p in params] for params in seq_of_params]
        cur = self.raw.cursor()
        if rows:
            try:
                cur.executemany(text, rows)
            except psycopg.Error as exc:
                raise _mapped(exc, self.location, self.raw, [p for r in rows for p in r]) from exc
        return PgCursor(cur)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


@functools.lru_cache(maxsize=1)
def pg_migrations() -> dict[int, list[str]]:
    """The PostgreSQL statements of every schema version (translated once per process)."""
    out = translate_migrations(MIGRATIONS)
    for version, extra in PG_ADDITIONS.items():
        out[version] = out[version] + extra
    return out


@dataclass(frozen=True)
class _CachedSegment:
    """A segment's arrays, written to the local cache, not yet committed."""

    stem: str
    shift: int
    arrays: tuple  # ((kind, sha256, n_bytes, path), ...)


class PostgresStore(SQLStore):
    """A registry in a PostgreSQL database (see the module docstring).

    Open with :meth:`open`.
    """

    def __init__(self, url: str, conn: PgConnection, *, cache: SegmentCache, local_base: Path) -> None:
        super().__init__()
        self._url = url
        self._conn = conn
        self.cache = cache
        self._local_base = local_base
        self._database_id: str | None = None
        self._dropped_arrays: list[str] = []
        self._connect_options: dict[str, Any] = {}
        self._writer_mutex = threading.RLock()
        self._writer_depth = 0
        self._lock_conn: PgConnection | None = None

    @property
    def location(self) -> str:
        """The URL with its password masked (what messages show)."""
        return self._conn.location

    @property
    def path(self) -> str:
        """The masked URL (a PostgreSQL registry has no file; use :attr:`local_dir` for local files)."""
        return self._conn.location

    @property
    def spec(self) -> str:
        """The URL as given, password included: reopens this registry (e.g. in a worker process). Never show it."""
        return self._url

    @property
    def local_dir(self) -> Path:
        """This registry's folder on this machine (not created until something is written there)."""
        return self._local_base / (self._database_id or "unknown")

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(cls, url: str, *, create: bool = True, cache_dir: str | os.PathLike | None = None,
             local_base: str | os.PathLike | None = None, connect_timeout_s: int = 10) -> "PostgresStore":
        """Connect to a PostgreSQL database and open (creating or migrating) the registry in it.

        Parameters
        ----------
        url : str
            ``postgresql://user[:password]@host[:port]/database[?param=value...]``.
        create : bool
            Make an empty database a registry (else: an error).
        cache_dir : path, optional
            The segment cache (default :func:`default_cache_dir`).
        local_base : path, optional
            Parent of the registry's local folder (default :func:`default_local_base`).
        connect_timeout_s : int
            Seconds to wait for the server (unless the URL sets ``connect_timeout``).
        """
        if psycopg is None:  # pragma: no cover
            raise RegistryError("PostgreSQL registries need psycopg: pip install 'psycopg[binary]'")
        location = mask_url(url)
        secrets = _secrets_of(url)
        try:
            info = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise RegistryError(f"{location}: not a valid PostgreSQL URL ({_one_line(str(exc), secrets)})") from None
        options: dict[str, Any] = {}
        if "connect_timeout" not in info:
            options["connect_timeout"] = connect_timeout_s
        if "application_name" not in info:
            options["application_name"] = "consentry"
        try:
            raw = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor, **options)
        except psycopg.Error as exc:
            reason = _one_line(str(exc), secrets).removeprefix("connection failed: ")
            hint = ("create it first (createdb, or CREATE DATABASE)" if "does not exist" in reason
                    else "check the URL, the credentials and that the server is running")
            raise RegistryError(f"{location}: cannot connect ({reason}); {hint}") from None
        conn = PgConnection(raw, location=location)
        store = cls(url, conn, cache=SegmentCache(Path(cache_dir) if cache_dir else default_cache_dir() / "segments"),
                    local_base=Path(local_base) if local_base else default_local_base())
        store._connect_options = options
        try:
            if store._current_schema() is None:
                raise RegistryError(f"{location}: no schema to create tables in; check the search_path setting")
            if not create and store._schema_version() is None:
                raise RegistryError(f"{location}: no registry here (the database is empty); register works first to create one")
            store._check_or_migrate()
            conn.refresh_catalog()
            store._database_id = store._read_database_id()
        except RegistryError:
            store.close()
            raise
        except sqlite3.DatabaseError as exc:
            store.close()
            raise NotARegistryError(f"{location}: damaged or not a registry ({exc})") from None
        except BaseException:
            store.close()
            raise
        return store

    def _current_schema(self) -> str | None:
        return self._conn.execute("SELECT current_schema()").fetchone()[0]

    def _schema_version(self) -> int | None:
        tables = {r[0] for r in self._conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE'")}
        return self._require_registry_tables(tables, "a PostgreSQL database that holds other tables")

    def _apply_migration(self, version: int) -> None:
        for statement in pg_migrations()[version]:
            self._conn._raw_execute(statement)

    def _read_database_id(self) -> str:
        r = self._conn.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
        if r and re.fullmatch(r"[0-9a-fA-F-]{8,64}", r[0] or ""):
            return r[0]
        # Not made by this store (e.g. restored without the row): derive a stable name from where it is.
        parts = urlsplit(self._url)
        where = f"{parts.hostname}:{parts.port}{parts.path}:{self._current_schema()}"
        return str(uuid.UUID(hashlib.sha256(where.encode()).hexdigest()[:32]))

    # -- transactions and locking -------------------------------------------
    def _lock_sql(self, function: str, key: int) -> str:
        return f"SELECT {function}({key}, hashtext(current_schema()))"

    def _begin_write(self) -> None:
        if self._conn.in_transaction:
            raise PostgresOperationalError("cannot start a transaction within a transaction")
        self._conn._raw_execute("BEGIN")
        try:
            self._conn._raw_execute(self._lock_sql("pg_advisory_xact_lock", WRITE_TRANSACTION_LOCK_KEY))
        except BaseException:
            self._rollback()
            raise

    def _begin_snapshot(self) -> None:
        self._conn._raw_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")

    def _commit(self) -> None:
        self._conn._raw_execute("COMMIT")

    def _rollback(self) -> None:
        if self._conn.raw.closed or self._conn.raw.broken:
            return
        try:
            self._conn._raw_execute("ROLLBACK")
        except PostgresConnectionError:
            pass

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the registry's writer lock (blocks while another writer works).

        A session advisory lock, taken on a connection of its own so that
        waiting for it does not hold up this store's reads (as SQLite's
        ``flock`` does not); threads of this process take turns too.
        """
        with self._writer_mutex:
            if self._writer_depth == 0:
                self._lock_connection()._raw_execute(self._lock_sql("pg_advisory_lock", WRITER_LOCK_KEY))
            self._writer_depth += 1
            try:
                yield
            finally:
                self._writer_depth -= 1
                if self._writer_depth == 0:
                    lock_conn = self._lock_conn
                    if lock_conn is not None and not (lock_conn.raw.closed or lock_conn.raw.broken):
                        try:
                            lock_conn._raw_execute(self._lock_sql("pg_advisory_unlock", WRITER_LOCK_KEY))
                        except PostgresConnectionError:
                            pass  # the server releases a lost session's locks

    def _lock_connection(self) -> "PgConnection":
        if self._lock_conn is None or self._lock_conn.raw.closed or self._lock_conn.raw.broken:
            try:
                raw = psycopg.connect(self._url, autocommit=True, cursor_factory=psycopg.ClientCursor,
                                      **self._connect_options)
            except psycopg.Error as exc:
                raise RegistryError(f"{self.location}: cannot connect for the writer lock "
                                    f"({_one_line(str(exc), _secrets_of(self._url))})") from None
            self._lock_conn = PgConnection(raw, location=self.location)
        return self._lock_conn

    def close(self) -> None:
        super().close()
        if self._lock_conn is not None:
            self._lock_conn.close()
            self._lock_conn = None

    # -- index segments: arrays in the database, cached locally ---------------------------
    def _write_segment(self, keys: np.ndarray, values: np.ndarray) -> _CachedSegment:
        stem = "seg-" + uuid.uuid4().hex[:16]
        keys = np.asarray(keys).astype(np.uint32)
        directory, shift = build_directory(keys)
        arrays = []
        for kind, arr in (("keys", keys), ("values", np.asarray(values).astype(np.uint64)), ("dir", directory)):
            sha, n_bytes, path = self.cache.save_array(arr)
            arrays.append((kind, sha, n_bytes, path))
        return _CachedSegment(stem, shift, tuple(arrays))

    def _store_segment_data(self, c, written: _CachedSegment) -> None:
        c.executemany("INSERT INTO index_segment_arrays (stem, kind, sha256, n_bytes) VALUES (?, ?, ?, ?)",
                      [(written.stem, kind, sha, n) for kind, sha, n, _ in written.arrays])
        try:
            with self._conn.raw.cursor().copy(
                    "COPY index_segment_chunks (stem, kind, chunk, data) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "int4", "bytea"])
                for kind, _, _, path in written.arrays:
                    with open(path, "rb") as fh:
                        for number, block in enumerate(iter(lambda: fh.read(CHUNK_BYTES), b"")):
                            copy.write_row((written.stem, kind, number, block))
        except psycopg.Error as exc:
            raise _mapped(exc, self.location, self._conn.raw) from exc

    def _download(self, stem: str, kind: str, sha256: str, n_bytes: int) -> Path:
        cur = psycopg.Cursor(self._conn.raw)  # server-side binding, binary results: bytea arrives as bytes
        cur.format = pq.Format.BINARY

        def chunks() -> Iterator[bytes]:
            number = 0
            while True:
                cur.execute("SELECT data FROM index_segment_chunks WHERE stem = %s AND kind = %s AND chunk = %s",
                            (stem, kind, number))
                row = cur.fetchone()
                if row is None:
                    return
                yield row[0]
                number += 1

        try:
            return self.cache.fill(sha256, n_bytes, chunks())
        except psycopg.Error as exc:
            raise _mapped(exc, self.location, self._conn.raw) from exc
        except ValueError as exc:
            raise RegistryError(f"{self._segment_name(stem)}: damaged index segment ({kind}: {exc}); "
                                "re-register the works or restore a backup") from None
        finally:
            cur.close()

    def _segment_arrays(self, stem: str, n_entries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with self.snapshot():
            rows = {r[0]: (r[1], r[2]) for r in self._conn.execute(
                "SELECT kind, sha256, n_bytes FROM index_segment_arrays WHERE stem = ?", (stem,))}
            if set(rows) != {"keys", "values", "dir"}:
                raise RegistryError(f"{self._segment_name(stem)}: damaged index segment (arrays missing); "
                                    "re-register the works or restore a backup")
            out = []
            for kind in ("keys", "values", "dir"):
                sha, n_bytes = rows[kind]
                for attempt in (0, 1):
                    path = self.cache.find(sha, n_bytes) or self._download(stem, kind, sha, n_bytes)
                    try:
                        out.append(np.load(path, mmap_mode="r", allow_pickle=False))
                        break
                    except (ValueError, OSError):
                        # A damaged cache file: fetch it again once.
                        self.cache.discard(sha)
                        if attempt:
                            raise
        return out[0], out[1], out[2]

    def _delete_segment_data(self, c, stems: Sequence[str]) -> None:
        # The rows go with their segments' (ON DELETE CASCADE); remember the arrays to uncache.
        self._dropped_arrays = [r[0] for stem in stems for r in c.execute(
            "SELECT sha256 FROM index_segment_arrays WHERE stem = ?", (stem,))]

    def _after_segments_dropped(self, stems: Sequence[str]) -> None:
        for sha in self._dropped_arrays:
            if not self._conn.execute("SELECT 1 FROM index_segment_arrays WHERE sha256 = ? LIMIT 1", (sha,)).fetchone():
                self.cache.discard(sha)
        self._dropped_arrays = []

    def _storage_bytes(self) -> tuple[int, int]:
        (index_bytes,) = self._conn.execute("SELECT COALESCE(SUM(n_bytes), 0) FROM index_segment_arrays").fetchone()
        (db_bytes,) = self._conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(index_bytes), int(db_bytes)
