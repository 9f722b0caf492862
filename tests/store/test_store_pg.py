"""The PostgreSQL store: the SQL translation, connection errors, locking, the segment cache, end to end.

The store tests shared with SQLite are in tests/store/test_store.py (parametrized
over both backends).  Here: what only PostgreSQL has, and a differential test
that runs one script of every portable construct on SQLite as is and on
PostgreSQL translated, and compares every result.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import notes, write_wav
from test_store import batch_entry, compact, segments

from consentry import Registry
from consentry.domain.errors import NotARegistryError, RegistryError
from consentry.store import postgres
from consentry.store.pg_schema import NotPortableError, translate_migrations, translate_query
from consentry.store.postgres import PgConnection, PostgresStore, default_cache_dir, default_local_base, mask_url
from consentry.store.schema import MIGRATIONS, SCHEMA_VERSION
from consentry.store.sqlite import SQLiteStore

SR = 22050


def open_pg(url: str, tmp_path: Path, **kw) -> PostgresStore:
    return PostgresStore.open(url, cache_dir=tmp_path / "cache", local_base=tmp_path / "home", **kw)


# -- the translation, without a server -------------------------------------------------------
@pytest.mark.parametrize("sql, expected", [
    ("SELECT a FROM t WHERE b = ? AND c = '?'", "SELECT a FROM t WHERE b = %s AND c = '?'"),
    ("SELECT '50%' || ? FROM t", "SELECT '50%%' || %s FROM t"),
    ("SELECT a FROM t WHERE b LIKE ?", "SELECT a FROM t WHERE b ILIKE %s ESCAPE ''"),
    ("SELECT a FROM t WHERE b NOT LIKE ? || '%' ESCAPE '!'", "SELECT a FROM t WHERE b NOT ILIKE %s || '%%' ESCAPE '!'"),
    ("SELECT a FROM t WHERE b IS ? OR c IS NOT d.e OR f IS NOT NULL",
     "SELECT a FROM t WHERE b IS NOT DISTINCT FROM %s OR c IS DISTINCT FROM d.e OR f IS NOT NULL"),
    ("SELECT IFNULL(a, 0), MAX(a, b), MAX(a), min(a, b, c) FROM t",
     "SELECT COALESCE(a, 0), GREATEST(a, b), MAX(a), LEAST(a, b, c) FROM t"),
    ("SELECT CAST(a AS INTEGER), CAST(b AS REAL), CAST(c AS BLOB), CAST(d AS TEXT) FROM t",
     "SELECT CAST(a AS BIGINT), CAST(b AS DOUBLE PRECISION), CAST(c AS BYTEA), CAST(d AS TEXT) FROM t"),
    ("SELECT a FROM t WHERE a == 1", "SELECT a FROM t WHERE a = 1"),
    ("SELECT a FROM t ORDER BY a, b DESC, c NULLS LAST, t.seq DESC LIMIT 1",
     "SELECT a FROM t ORDER BY a NULLS FIRST, b DESC NULLS LAST, c NULLS LAST, t.seq DESC LIMIT 1"),
    ("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
     "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT DO NOTHING"),
    ("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING a", "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING a"),
    ("SELECT x'00ff'", "SELECT '\\x00ff'::bytea"),
    ("SELECT [odd name], `other` FROM t -- comment; with a semicolon\n", 'SELECT "odd name", "other" FROM t'),
    ("SELECT CURRENT_TIMESTAMP", "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"),
    ("INSERT INTO total (format, date) VALUES (?, ?)", "INSERT INTO total (format, date) VALUES (%s, %s)"),
    ("SELECT a % 2, x.max(1) FROM t", "SELECT a %% 2, x.max(1) FROM t"),
])
def test_queries_are_translated(sql, expected):
    assert translate_query(sql, not_null={"seq"}) == expected


@pytest.mark.parametrize("sql, reason", [
    ("INSERT OR REPLACE INTO t VALUES (1)", "INSERT OR REPLACE"),
    ("REPLACE INTO t VALUES (1)", "INSERT OR REPLACE"),
    ("SELECT datetime('now')", "SQLite-only"),
    ("SELECT group_concat(a) FROM t", "SQLite-only"),
    ("SELECT json_extract(a, '$.x') FROM t", "SQLite-only"),
    ("SELECT a FROM t WHERE b GLOB ?", "SQLite-only"),
    ("SELECT a FROM t WHERE b = :name", "placeholder"),
    ("SELECT a FROM t WHERE b = ?2", "placeholder"),
    ("SELECT 'unterminated", "unterminated"),
    ("SELECT (a FROM t", "unbalanced"),
    ("SELECT 1; SELECT 2", "one statement"),
])
def test_non_portable_queries_are_refused(sql, reason):
    with pytest.raises(NotPortableError, match=reason):
        translate_query(sql)


@pytest.mark.parametrize("ddl, reason", [
    ("CREATE TABLE t (a VARCHAR(10))", "not portable"),
    ("CREATE TABLE t (a BOOLEAN)", "type BOOLEAN"),
    ("CREATE TABLE t (a)", "type"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)", "AUTOINCREMENT"),
    ("CREATE TABLE t (a TEXT COLLATE NOCASE)", "COLLATE"),
    ("CREATE TABLE t (a TEXT) WITHOUT ROWID", "not portable"),
    ("CREATE TABLE t (a TEXT UNIQUE ON CONFLICT REPLACE)", "ON CONFLICT"),
    ("CREATE TABLE t (a TEXT DEFAULT (datetime('now')))", "SQLite-only"),
    ("CREATE TABLE t (user TEXT)", "reserved in PostgreSQL"),
    ("CREATE TABLE t (a INTEGER GENERATED ALWAYS AS (1))", "generated"),
    ("CREATE TABLE t AS SELECT 1", "no AS SELECT"),
    ("CREATE VIEW v AS SELECT 1", "not in the portable subset"),
    ("CREATE TEMP TRIGGER x BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END", "temporary"),
    ("CREATE TRIGGER x INSTEAD OF DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END", "BEFORE and AFTER"),
    ("CREATE TRIGGER x BEFORE DELETE ON t BEGIN DELETE FROM u; END", "only portable body"),
    ("CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT RAISE(IGNORE); END", "RAISE needs"),
    ("DROP TRIGGER never_made", "no such trigger"),
    ("VACUUM", "not in the portable subset"),
])
def test_non_portable_migrations_are_refused(ddl, reason):
    with pytest.raises(NotPortableError, match=reason):
        translate_migrations({1: ddl})


def test_every_schema_version_translates():
    out = translate_migrations(MIGRATIONS)
    assert sorted(out) == list(range(1, SCHEMA_VERSION + 1))
    assert all(out[v] for v in out)
    text = "\n".join(s for v in out.values() for s in v)
    assert "RAISE(" not in text and " INTEGER " not in text.replace("chunk INTEGER", "")
    assert "BIGINT" in text and "DOUBLE PRECISION" in text and "BYTEA" in text


def test_url_password_is_masked():
    assert mask_url("postgresql://ana:s3cr%2Ft@db.example:5433/reg?sslmode=require") == \
        "postgresql://ana:***@db.example:5433/reg?sslmode=require"
    assert mask_url("postgres://ana@db/reg?password=hunter2&application_name=x") == \
        "postgres://ana@db/reg?password=***&application_name=x"
    assert mask_url("postgresql://db/reg") == "postgresql://db/reg"
    assert "hunter2" not in mask_url("postgresql://a:hunter2@[::1/reg")


def test_default_folders_follow_the_environment(tmp_path):
    assert default_cache_dir({"CONSENTRY_CACHE_DIR": str(tmp_path / "c")}) == tmp_path / "c"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "consentry"
    assert default_cache_dir({}).parts[-2:] == (".cache", "consentry")
    assert default_local_base({"CONSENTRY_HOME": str(tmp_path / "h")}) == tmp_path / "h"
    assert default_local_base({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "consentry"
    assert default_local_base({}).parts[-3:] == (".local", "share", "consentry")


# -- differential: one script of every portable construct, on both databases --------------------
CONSTRUCTS = """
CREATE TABLE IF NOT EXISTS people (
    person_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    email TEXT CONSTRAINT email_shape CHECK (email IS NULL OR email LIKE '%@%'),
    score REAL DEFAULT -1.5,
    active INTEGER NOT NULL DEFAULT TRUE CHECK (active IN (0, 1)),
    photo BLOB,
    joined_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    note TEXT DEFAULT 'it''s; fine -- really'
);
CREATE TABLE memberships (
    person_id INTEGER NOT NULL REFERENCES people(person_id) ON DELETE CASCADE,
    club TEXT NOT NULL,
    since TEXT,
    level INTEGER DEFAULT (1 + 1),
    PRIMARY KEY (person_id, club),
    CONSTRAINT level_range CHECK (level BETWEEN 0 AND 10)
);
CREATE TABLE events (
    seq INTEGER NOT NULL,
    person_id INTEGER,
    kind TEXT NOT NULL,
    body TEXT,
    FOREIGN KEY (person_id) REFERENCES people (person_id) ON DELETE SET NULL,
    UNIQUE (person_id, seq)
);
/* a block comment; with a semicolon */
CREATE UNIQUE INDEX IF NOT EXISTS people_live_email ON people (email) WHERE active = 1 AND email IS NOT NULL;
CREATE INDEX events_kind ON events (kind DESC, seq);
ALTER TABLE people ADD COLUMN nickname TEXT DEFAULT NULL;
ALTER TABLE events ADD status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'done'));
CREATE TRIGGER events_append_only BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only; 100% sure'); END;
CREATE TRIGGER events_body_frozen BEFORE UPDATE OF body, kind ON events FOR EACH ROW
    BEGIN SELECT RAISE(ABORT, 'an event''s body cannot change'); END;
CREATE TRIGGER events_done_final BEFORE UPDATE ON events WHEN OLD.status = 'done'
    BEGIN SELECT RAISE(FAIL, 'done events are final'); END;
CREATE TRIGGER people_no_rename BEFORE UPDATE ON people
    BEGIN SELECT RAISE(ABORT, 'names are permanent') WHERE NEW.name IS NOT OLD.name; END;
CREATE TRIGGER memberships_no_banned BEFORE INSERT ON memberships
    BEGIN SELECT RAISE(ABORT, 'banned club') WHERE NEW.club = 'banned'; END;
CREATE TABLE scratch (x TEXT);
CREATE INDEX scratch_x ON scratch (x);
DROP INDEX scratch_x;
CREATE TRIGGER scratch_t BEFORE DELETE ON scratch BEGIN SELECT RAISE(ABORT, 'no'); END;
DROP TRIGGER scratch_t;
ALTER TABLE scratch RENAME TO scratch2;
ALTER TABLE scratch2 RENAME COLUMN x TO y;
ALTER TABLE scratch2 ADD COLUMN z INTEGER;
ALTER TABLE scratch2 DROP COLUMN z;
CREATE TRIGGER scratch_u BEFORE UPDATE ON scratch2 BEGIN SELECT RAISE(ABORT, 'no'); END;
DROP TABLE scratch2;
INSERT INTO people (name) VALUES ('seed');
"""

STEPS = [
    ("INSERT INTO people (name, email, score, photo) VALUES (?, ?, ?, ?)", ("ana", "ana@x.org", 2.5, b"\x00\x01\xff")),
    ("INSERT INTO people (name, email) VALUES (?, ?)", ("bea", "not-an-email")),
    ("INSERT INTO people (person_id, name, score) VALUES (?, ?, ?)", (10, "explicit", None)),
    ("INSERT INTO people (name, score, nickname) VALUES (?, ?, ?)", ("after explicit", 0.1 + 0.2, "Z")),
    ("INSERT INTO people (name, score) VALUES (?, ?)", ("Big", 2.0 ** 62)),
    ("INSERT OR IGNORE INTO people (name) VALUES (?)", ("ana",)),
    ("INSERT INTO people (name) VALUES (?)", ("ana",)),
    ("INSERT INTO people (name, email) VALUES (?, ?)", ("ana2", "ana@x.org")),
    ("INSERT INTO people (name, email, active) VALUES (?, ?, ?)", ("ana3", "ana@x.org", 0)),
    ("INSERT INTO people (name, active) VALUES (?, ?)", ("bad flag", 2)),
    ("UPDATE people SET name = ? WHERE name = ?", ("anna", "ana")),
    ("UPDATE people SET score = score * 2, nickname = ? WHERE name = ?", ("50% ?", "ana")),
    ("INSERT INTO memberships (person_id, club, since) VALUES (?, ?, ?)", (2, "chess", "2020")),
    ("INSERT INTO memberships (person_id, club) VALUES (?, ?)", (2, "banned")),
    ("INSERT INTO memberships (person_id, club) VALUES (?, ?)", (99, "ghosts")),
    ("INSERT INTO memberships (person_id, club, level) VALUES (?, ?, ?)", (2, "go", 11)),
    ("INSERT INTO memberships (person_id, club, since) VALUES (?, ?, ?) "
     "ON CONFLICT (person_id, club) DO UPDATE SET since = excluded.since", (2, "chess", "2021")),
    ("INSERT INTO events (seq, person_id, kind, body) VALUES (?, ?, ?, ?)", (1, 2, "a", "x")),
    ("INSERT INTO events (seq, person_id, kind, body) VALUES (?, ?, ?, ?)", (2, 2, "b", None)),
    ("INSERT INTO events (seq, person_id, kind) VALUES (?, ?, ?)", (1, 2, "dup")),
    ("UPDATE events SET body = ? WHERE seq = ?", ("y", 1)),
    ("UPDATE events SET status = 'done' WHERE seq = ?", (1,)),
    ("UPDATE events SET status = 'new' WHERE seq = ?", (1,)),
    ("DELETE FROM events WHERE seq = ?", (2,)),
    ("DELETE FROM people WHERE person_id = ?", (2,)),   # SET NULL updates a 'done' event: refused
    ("DELETE FROM people WHERE name = ?", ("explicit",)),
    ("INSERT INTO people (name) VALUES (?)", ("after delete",)),
    ("SELECT person_id, name, email, score, active, photo, note, nickname FROM people ORDER BY person_id", ()),
    ("SELECT rowid, person_id FROM people ORDER BY rowid", ()),
    ("INSERT INTO people (name) VALUES (?)", ("élan",)),
    ("SELECT name FROM people ORDER BY name", ()),
    ("SELECT name FROM people WHERE name > ? ORDER BY name DESC", ("B",)),
    ("SELECT name FROM people WHERE name LIKE ? ORDER BY name", ("A%",)),
    ("SELECT name FROM people WHERE name LIKE ? OR name LIKE ? ORDER BY name", ("É%", "EL%")),
    ("SELECT name FROM people WHERE nickname LIKE ? ESCAPE '!' ORDER BY name", ("50!% %",)),
    ("SELECT name, score IS NULL, score > 1 FROM people ORDER BY score, name", ()),
    ("SELECT name FROM people ORDER BY nickname DESC, person_id", ()),
    ("SELECT COUNT(*), SUM(active), MAX(score), MIN(name), COUNT(nickname) FROM people", ()),
    ("SELECT SUM(level), AVG(level), SUM(score) FROM memberships JOIN people USING (person_id)", ()),
    ("SELECT MAX(score, 0), IFNULL(nickname, 'none'), CAST('42' AS INTEGER), 7 / 2, 7 / 2.0 FROM people "
     "WHERE name = ?", ("ana",)),
    ("SELECT person_id FROM people WHERE nickname IS ? ORDER BY person_id", (None,)),
    ("SELECT person_id FROM people WHERE nickname IS NOT ? ORDER BY person_id", ("Z",)),
    ("SELECT ? || name FROM people ORDER BY person_id LIMIT ? OFFSET ?", ("50% ", 2, 1)),
    ("SELECT name FROM people WHERE photo = ?", (b"\x00\x01\xff",)),
    ("SELECT COUNT(*) FROM people WHERE joined_at LIKE '____-__-__ __:__:__'", ()),
    ("SELECT seq, person_id, kind, body, status FROM events ORDER BY rowid", ()),
    ("SELECT person_id, club, since, level FROM memberships ORDER BY person_id, club", ()),
    ("SELECT 1 WHERE 'abc' == 'abc' AND x'00ff' = x'00FF'", ()),
    ("SELECT COUNT(*) FROM people WHERE name IN (?, ?, ?)", ("ana", "Big", "nobody")),
]


def _run_steps(conn, steps) -> list:
    """Each step's rows, or "refused" when a constraint or trigger refused it."""
    results = []
    for sql, args in steps:
        try:
            results.append([tuple(r) for r in conn.execute(sql, args).fetchall()])
        except sqlite3.IntegrityError:
            results.append("refused")
    return results


def test_every_construct_behaves_the_same_on_both(pg_url, tmp_path):
    lite = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    lite.execute("PRAGMA foreign_keys=ON")
    lite.executescript(CONSTRUCTS)
    import psycopg

    raw = psycopg.connect(pg_url, autocommit=True, cursor_factory=psycopg.ClientCursor)
    pgc = PgConnection(raw, location="test")
    with raw.transaction():
        for statement in translate_migrations({1: CONSTRUCTS})[1]:
            raw.execute(statement)
    pgc.refresh_catalog()
    expected = _run_steps(lite, STEPS)
    got = _run_steps(pgc, STEPS)
    for (sql, _), e, g in zip(STEPS, expected, got):
        assert g == e, sql
    # The defaults and the trigger messages, which the comparison above does not show.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", pgc.execute("SELECT joined_at FROM people").fetchone()[0])
    assert pgc.execute("SELECT note FROM people WHERE name = 'seed'").fetchone()[0] == "it's; fine -- really"
    with pytest.raises(sqlite3.IntegrityError, match="events are append-only; 100% sure"):
        pgc.execute("DELETE FROM events")
    with pytest.raises(sqlite3.IntegrityError, match="an event's body cannot change"):
        pgc.execute("UPDATE events SET kind = 'z'")
    # Errors other than refusals keep sqlite3's classes too.
    with pytest.raises(sqlite3.OperationalError):
        pgc.execute("SELECT no_such_column FROM people")
    with pytest.raises(NotPortableError, match="lastrowid"):
        pgc.execute("INSERT INTO people (name) VALUES ('x')").lastrowid
    assert pgc.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'scratch2'").fetchone() == (0,)
    raw.close()
    lite.close()


def test_registry_schema_matches_sqlite(pg_url, tmp_path):
    """Every table, column, index and trigger of an SQLite registry exists in a PostgreSQL one."""
    lite = SQLiteStore.open(tmp_path / "r.db")
    pg = open_pg(pg_url, tmp_path)
    tables = [r[0] for r in lite._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        lite_cols = [r[1] for r in lite._conn.execute(f"PRAGMA table_info({table})")]
        pg_cols = [r[0] for r in pg._conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? "
            "ORDER BY ordinal_position", (table,))]
        assert [c for c in pg_cols if c != "rowid"] == lite_cols, table
    for kind, query in (("index", "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"),
                        ("trigger", "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")):
        names = {r[0] for r in lite._conn.execute("SELECT name FROM sqlite_master WHERE type = ? AND sql IS NOT NULL", (kind,))}
        assert names and names <= {r[0] for r in pg._conn.execute(query)}, kind
    assert pg._conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    pg.close()
    lite.close()


# -- opening: bad URLs, servers, databases --------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_urls_and_servers_give_one_line(pg_server, tmp_path):
    port = _free_port()
    cases = [
        (f"postgresql://ana:hunter2@127.0.0.1:{port}/reg", "cannot connect"),
        ("postgresql://ana:hunter2@127.0.0.1:notaport/reg", "hunter2"),
        ("postgresql://ana:hunter2@127.0.0.1:1/reg?sslmode=bogus", "sslmode"),
        (pg_server.url("no_such_database", password="hunter2"), "does not exist"),
        ("postgresql://ana@127.0.0.1:1/reg?password=hunter2&connect_timeout=2", "cannot connect"),
    ]
    for url, what in cases:
        with pytest.raises(RegistryError) as info:
            open_pg(url, tmp_path)
        message = str(info.value)
        assert "\n" not in message and "hunter2" not in message, message
        assert "***" in message or "password" not in url
        if what != "hunter2":
            assert what in message, message
    assert "create it first" in str(pytest.raises(RegistryError, open_pg, pg_server.url("nope_db"), tmp_path).value)


def test_a_database_with_other_tables_is_not_a_registry(pg_server, pg_url, tmp_path):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("CREATE TABLE invoices (id BIGINT PRIMARY KEY, amount NUMERIC)")
        c.execute("INSERT INTO invoices VALUES (1, 9.99)")
    with pytest.raises(NotARegistryError, match="not a Consentry registry"):
        open_pg(pg_url, tmp_path)
    with psycopg.connect(pg_url, autocommit=True) as c:
        tables = c.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()
        assert tables == [("invoices",)]
        assert c.execute("SELECT id, amount::text FROM invoices").fetchall() == [(1, "9.99")]
    # An empty database is not one either when asked not to create.
    empty = pg_server.new_database()
    with pytest.raises(RegistryError, match="no registry here"):
        open_pg(empty, tmp_path, create=False)
    pg_server.drop_database(empty)


def test_lost_connection_is_one_line_and_reopening_works(pg_server, pg_url, tmp_path):
    store = open_pg(pg_url, tmp_path)
    store.add_works([batch_entry(1)])
    pid = store._conn.raw.info.backend_pid
    with pg_server.admin() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(RegistryError, match="lost the connection") as info:
        store.list_works()
    assert "\n" not in str(info.value)
    store.close()
    again = open_pg(pg_url, tmp_path)
    assert [w.title for w in again.list_works()] == ["Work 1"]
    again.close()


def test_concurrent_first_opens_migrate_once(pg_url, tmp_path):
    stores, errors = [], []

    def opener():
        try:
            stores.append(open_pg(pg_url, tmp_path))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(stores) == 4
    assert stores[0]._conn.execute("SELECT COUNT(*) FROM schema_version").fetchone() == (SCHEMA_VERSION,)
    assert len({s.local_dir for s in stores}) == 1
    for s in stores:
        s.close()


# -- locking ------------------------------------------------------------------------------------
def _waiting_advisory_locks(admin) -> int:
    return admin.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]


def test_a_second_writer_waits_for_the_first(pg_server, pg_url, tmp_path):
    first = open_pg(pg_url, tmp_path)
    second = open_pg(pg_url, tmp_path)
    done = threading.Event()

    def write():
        second.add_works([batch_entry(2)])
        done.set()

    with first.writer_lock():
        worker = threading.Thread(target=write)
        worker.start()
        with pg_server.admin() as admin:
            for _ in range(600):
                if _waiting_advisory_locks(admin):
                    break
                threading.Event().wait(0.05)
            assert _waiting_advisory_locks(admin) == 1, "the second writer should be waiting for the lock"
        assert not done.is_set()
        # Readers do not wait, not even on the store whose writer does.
        assert first.list_works() == [] and second.list_works() == []
        first.add_works([batch_entry(1)])  # the lock is this thread's own: it may write
    worker.join(60)
    assert done.is_set()
    assert [w.title for w in first.list_works()] == ["Work 1", "Work 2"]
    first.close()
    second.close()


def test_write_transactions_queue_like_sqlite(pg_url, tmp_path):
    """Read-then-write transactions from many threads (each with its own store) never collide."""
    stores = [open_pg(pg_url, tmp_path) for _ in range(4)]
    stores[0].add_works([batch_entry(1)])
    work_id = stores[0].list_works()[0].work_id
    from consentry.domain.works import Terms

    def bump(store):
        for _ in range(5):
            store.set_terms(work_id, Terms("allow"))

    threads = [threading.Thread(target=bump, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [v for v, _, _ in stores[0].terms_history(work_id)] == list(range(1, 22))
    for s in stores:
        s.close()


# -- index segments in the database, cached locally -----------------------------------------------
def test_segments_are_cached_and_healed(pg_url, tmp_path, monkeypatch):
    monkeypatch.setattr(postgres, "CHUNK_BYTES", 1000)  # several chunks per array
    writer = open_pg(pg_url, tmp_path / "writer")
    writer.add_works([batch_entry(1, n=3000), batch_entry(2, n=5)])
    n_chunks = writer._conn.execute("SELECT COUNT(*) FROM index_segment_chunks WHERE kind = 'values'").fetchone()[0]
    assert n_chunks >= 24
    expected = [(np.array(s.keys), np.array(s.values)) for s in segments(writer)]
    # Another machine: an empty cache, filled from the database.
    reader = open_pg(pg_url, tmp_path / "reader")
    got = segments(reader)
    assert all(np.array_equal(k, g.keys) and np.array_equal(v, g.values) for (k, v), g in zip(expected, got))
    cached = sorted((tmp_path / "reader" / "cache").rglob("*.npy"))
    assert len(cached) == 3 and all(re.fullmatch(r"[0-9a-f]{64}\.npy", p.name) for p in cached)
    assert isinstance(got[0].keys, np.memmap)
    # A damaged or truncated cache file is fetched again.
    reader.close()
    damaged = cached[0].read_bytes()
    cached[0].write_bytes(b"\x93NUMPY garbage" + bytes(len(damaged) - 14))  # same size, unreadable
    cached[1].write_bytes(cached[1].read_bytes()[:10])  # truncated
    reader = open_pg(pg_url, tmp_path / "reader")
    got = segments(reader)
    assert all(np.array_equal(k, g.keys) for (k, _), g in zip(expected, got))
    # Damaged data in the database itself is reported, not used.
    reader.close()
    writer._conn.execute("UPDATE index_segment_chunks SET data = ? WHERE chunk = 0 AND kind = 'keys'", (b"garbage",))
    fresh = open_pg(pg_url, tmp_path / "fresh")
    with pytest.raises(RegistryError, match="damaged index segment"):
        segments(fresh)
    assert not list((tmp_path / "fresh" / "cache").rglob("*.npy*"))
    fresh.close()
    writer.close()


def test_compaction_replaces_rows_and_uncaches(pg_url, tmp_path):
    store = open_pg(pg_url, tmp_path)
    a, b = store.add_works([batch_entry(1)]) + store.add_works([batch_entry(2)])
    other = open_pg(pg_url, tmp_path / "other")
    assert len(segments(other)) == 2
    store.remove_work(a.work_id)
    assert compact(store) == 2
    assert store._conn.execute("SELECT COUNT(*) FROM index_segment_chunks").fetchone()[0] == 3
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 3
    # A reader that had the old segments sees the new one at its next look.
    (seg,) = segments(other)
    assert len(seg) == 100
    store.close()
    other.close()


# -- end to end: Registry, worker processes, the CLI ----------------------------------------------
@pytest.fixture
def pg_catalogue(tmp_path):
    cat = tmp_path / "catalogue"
    cat.mkdir()
    works = {i: notes(800 + i, duration_s=20.0, sr=SR) for i in range(3)}
    for i, x in works.items():
        write_wav(cat / f"song{i}.wav", x, sample_rate_hz=SR)
    return cat, works


def test_registry_register_identify_scan_with_workers(pg_url, pg_catalogue, tmp_path):
    from consentry.services.scan import scan_dataset

    cat, works = pg_catalogue
    with Registry.open(pg_url) as reg:
        assert reg.location == reg.path == pg_url and reg.spec == pg_url
        assert reg.local_dir.parent == tmp_path / "pg-home"
        summary = reg.register([cat], creator="Ana Lima", terms="deny", workers=2)
        assert len(summary.registered) == 3 and not summary.errors
        again = reg.register([cat], creator="Ana Lima", workers=2)
        assert len(again.duplicates) == 3 and not again.registered
        q = write_wav(tmp_path / "q.wav", works[1][4 * SR: 15 * SR], sample_rate_hz=SR)
        (match,) = reg.identify(q)
        assert match.title == "song1" and abs(match.work_start_s - match.query_start_s - 4.0) < 0.1
        data = tmp_path / "dataset"
        data.mkdir()
        write_wav(data / "a.wav", works[0][2 * SR: 13 * SR], sample_rate_hz=SR)
        write_wav(data / "b.wav", notes(999, duration_s=6.0, sr=SR), sample_rate_hz=SR)
        (data / "c.wav").write_bytes(b"not audio at all")
        result = scan_dataset(reg, data, workers=2)
        t = result["totals"]
        assert (t["items"], t["refused"], t["unknown"], t["error"]) == (3, 1, 1, 1)
        assert result["registry"]["path"] == pg_url
        stats = reg.stats()
        assert stats["works"] == 3 and stats["registry"] == pg_url and stats["works_needing_reindex"] == 0


def run_cli(*args: str, registry: str | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "160", **(env_extra or {})}
    cmd = [sys.executable, "-m", "consentry.adapters.cli.main"] + (["--registry", registry] if registry else [])
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=300)


def test_cli_with_a_postgres_registry(pg_url, pg_catalogue, tmp_path):
    cat, works = pg_catalogue
    r = run_cli("register", str(cat), "--creator", "Ana Lima", "--terms", "license", "--price", "25",
                "--currency", "EUR", "--workers", "2", "--no-melody", registry=pg_url)
    assert r.returncode == 0, r.stderr
    assert "registered 3 work(s)" in r.stdout
    # CONSENTRY_REGISTRY works as well as --registry.
    r = run_cli("works", "list", "--json", env_extra={"CONSENTRY_REGISTRY": pg_url})
    assert r.returncode == 0, r.stderr
    listed = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted(w["title"] for w in listed) == ["song0", "song1", "song2"]
    q = write_wav(tmp_path / "q.wav", works[2][3 * SR: 14 * SR], sample_rate_hz=SR)
    r = run_cli("identify", str(q), "--json", registry=pg_url)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["matches"][0]["terms"] == "license 25 EUR"
    r = run_cli("stats", "--json", registry=pg_url)
    assert r.returncode == 0 and json.loads(r.stdout)["works"] == 3
    # Errors: one line, exit 1, no password.
    port = _free_port()
    r = run_cli("works", "list", registry=f"postgresql://ana:hunter2@127.0.0.1:{port}/reg")
    assert r.returncode == 1 and "hunter2" not in r.stderr + r.stdout and "cannot connect" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_evidence_key_lives_in_the_local_folder(pg_url, tmp_path):
    from consentry.services.evidence.keys import load_or_create_signing_key

    with Registry.open(pg_url) as reg:
        folder = reg.local_dir
        assert folder == tmp_path / "pg-home" / reg.store._database_id and not folder.exists()
        load_or_create_signing_key(reg.local_dir)
        assert (folder / "evidence-key.pem").exists()
    with Registry.open(pg_url) as reg:
        assert reg.local_dir == folder
