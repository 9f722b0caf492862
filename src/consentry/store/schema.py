"""The registry's schema, as forward migrations (one entry per schema version).

The SQL is written in the subset that both stores understand: SQLite runs it
as is, and the PostgreSQL store translates it (see ``consentry.store.postgres``).
The subset: column types TEXT, INTEGER, REAL, BLOB; PRIMARY KEY, UNIQUE,
NOT NULL, DEFAULT, CHECK, REFERENCES; ``CREATE [UNIQUE] INDEX`` (partial
indexes with a WHERE clause allowed); ``ALTER TABLE ... ADD COLUMN``; and
append-only triggers written exactly as
``CREATE TRIGGER name BEFORE UPDATE|DELETE ON table BEGIN SELECT RAISE(ABORT, 'message'); END;``.
Timestamps are ISO 8601 UTC text; JSON is stored as TEXT.
"""

from __future__ import annotations

from consentry.store.schema_claims import CLAIMS_SCHEMA
from consentry.store.schema_service import SERVICE_SCHEMA

SCHEMA_VERSION = 8

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE works (
        work_id TEXT PRIMARY KEY,
        fp_id INTEGER NOT NULL UNIQUE,
        sha256 TEXT NOT NULL,
        title TEXT NOT NULL,
        creator TEXT,
        source TEXT NOT NULL,
        duration_s REAL NOT NULL,
        registered_at TEXT NOT NULL,
        engine TEXT NOT NULL,
        engine_version TEXT NOT NULL,
        param_hash TEXT NOT NULL,
        n_hashes INTEGER NOT NULL,
        removed_at TEXT
    );
    CREATE UNIQUE INDEX works_live_sha256 ON works (sha256) WHERE removed_at IS NULL;
    CREATE TABLE terms (
        work_id TEXT NOT NULL REFERENCES works(work_id),
        version INTEGER NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('deny', 'allow', 'license')),
        price REAL,
        currency TEXT,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (work_id, version)
    );
    CREATE TABLE index_segments (
        segment_id INTEGER PRIMARY KEY,
        stem TEXT NOT NULL UNIQUE,
        n_entries INTEGER NOT NULL,
        dir_shift INTEGER NOT NULL,
        engine TEXT NOT NULL,
        engine_version TEXT NOT NULL,
        param_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 2: dates for the exposure estimate; terms made append-only in the database
    # itself; dataset scans and their items and findings; the hash-chained ledger.
    2: """
    ALTER TABLE works ADD COLUMN copyright_registered_on TEXT;
    ALTER TABLE works ADD COLUMN first_published_on TEXT;
    CREATE TRIGGER terms_append_only_update BEFORE UPDATE ON terms
        BEGIN SELECT RAISE(ABORT, 'terms versions are append-only'); END;
    CREATE TRIGGER terms_append_only_delete BEFORE DELETE ON terms
        BEGIN SELECT RAISE(ABORT, 'terms versions are append-only'); END;
    CREATE TABLE scans (
        scan_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'interrupted', 'complete')),
        source_spec TEXT NOT NULL,
        source_kind TEXT NOT NULL,
        source_name TEXT NOT NULL,
        dataset_fingerprint TEXT,
        engine TEXT NOT NULL,
        engine_version TEXT NOT NULL,
        param_hash TEXT NOT NULL,
        options TEXT NOT NULL,
        terms_snapshot TEXT NOT NULL,
        terms_snapshot_at TEXT NOT NULL,
        summary TEXT
    );
    CREATE TABLE scan_items (
        scan_id TEXT NOT NULL REFERENCES scans(scan_id),
        seq INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        name TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('refused', 'licensable', 'allowed', 'unknown', 'error')),
        duration_s REAL,
        covered_s REAL NOT NULL DEFAULT 0,
        sha256 TEXT,
        bytes INTEGER,
        error TEXT,
        PRIMARY KEY (scan_id, seq)
    );
    CREATE INDEX scan_items_item ON scan_items (scan_id, item_id);
    CREATE TABLE scan_findings (
        scan_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        work_id TEXT NOT NULL,
        score REAL NOT NULL,
        confidence REAL NOT NULL,
        query_start_s REAL NOT NULL,
        query_end_s REAL NOT NULL,
        work_start_s REAL NOT NULL,
        work_end_s REAL NOT NULL,
        speed REAL NOT NULL,
        pitch_shift_semitones REAL NOT NULL,
        FOREIGN KEY (scan_id, seq) REFERENCES scan_items(scan_id, seq)
    );
    CREATE INDEX scan_findings_item ON scan_findings (scan_id, seq);
    CREATE INDEX scan_findings_work ON scan_findings (scan_id, work_id);
    CREATE TABLE ledger_entries (
        seq INTEGER PRIMARY KEY,
        entry_id TEXT NOT NULL UNIQUE,
        recorded_at TEXT NOT NULL,
        body TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL
    );
    CREATE TRIGGER ledger_append_only_update BEFORE UPDATE ON ledger_entries
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
    CREATE TRIGGER ledger_append_only_delete BEFORE DELETE ON ledger_entries
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
    """,
    # 3: terms per use (docs/terms-model.md): the full version a work's terms row
    # sets, as JSON (the decision columns stay the AI-training terms); creators'
    # default terms, versioned and append-only like the works' terms.
    3: """
    ALTER TABLE terms ADD COLUMN detail TEXT;
    ALTER TABLE scan_items ADD COLUMN signals TEXT;
    CREATE TABLE creator_terms (
        creator TEXT NOT NULL,
        version INTEGER NOT NULL,
        detail TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (creator, version)
    );
    CREATE TRIGGER creator_terms_append_only_update BEFORE UPDATE ON creator_terms
        BEGIN SELECT RAISE(ABORT, 'terms versions are append-only'); END;
    CREATE TRIGGER creator_terms_append_only_delete BEFORE DELETE ON creator_terms
        BEGIN SELECT RAISE(ABORT, 'terms versions are append-only'); END;
    """,
    # 4: the output check (docs/check.md): enrolled voice prints (append-only,
    # float32 little-endian vectors) and each work's transcribed melody notes
    # (replace-per-work and melody engine).
    4: """
    CREATE TABLE voices (
        voice_id TEXT PRIMARY KEY,
        creator TEXT NOT NULL,
        engine TEXT NOT NULL,
        embedding BLOB NOT NULL,
        source_name TEXT NOT NULL,
        source_sha256 TEXT NOT NULL,
        source TEXT,
        duration_s REAL NOT NULL,
        speech_s REAL NOT NULL,
        enrolled_at TEXT NOT NULL,
        UNIQUE (creator, engine, source_sha256)
    );
    CREATE TRIGGER voices_append_only_update BEFORE UPDATE ON voices
        BEGIN SELECT RAISE(ABORT, 'voice enrolments are append-only'); END;
    CREATE TABLE work_melodies (
        work_id TEXT NOT NULL REFERENCES works(work_id),
        engine TEXT NOT NULL,
        notes TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (work_id, engine)
    );
    """,
    # 5: the server (docs/server.md): accounts, API tokens, web sessions, the
    # audit log, uploads and background jobs.  See schema_service.py.
    5: SERVICE_SCHEMA,
    # 6: claims and disputes (docs/claims.md).  See schema_claims.py.
    6: CLAIMS_SCHEMA,
    # 7: scans of every medium (issue 16, docs/engines.md): an item's medium and
    # size in its unit (seconds, characters, pixels); a finding's medium and its
    # medium's own located fields as JSON. For media other than music the
    # *_start_s/*_end_s columns hold the extent along the first axis in the
    # item's unit, and speed/pitch hold 1 and 0.
    7: """
    ALTER TABLE scan_items ADD COLUMN medium TEXT;
    ALTER TABLE scan_items ADD COLUMN size REAL;
    ALTER TABLE scan_items ADD COLUMN unit TEXT;
    ALTER TABLE scan_findings ADD COLUMN medium TEXT;
    ALTER TABLE scan_findings ADD COLUMN detail TEXT;
    """,
    # 8: a scan's terms snapshot in rows (one per work), stored once per distinct
    # set of terms and shared by the scans made under it, so that a scan reads
    # only the terms of the works it finds and scans of a large, unchanged
    # catalogue do not each store it again.  Scans made before keep their
    # snapshot inline in scans.terms_snapshot (terms_set NULL); later scans
    # store '{}' there.
    8: """
    CREATE TABLE terms_sets (
        set_no INTEGER PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        works INTEGER NOT NULL
    );
    CREATE TABLE terms_set_works (
        set_no INTEGER NOT NULL REFERENCES terms_sets(set_no),
        work_id TEXT NOT NULL,
        terms TEXT NOT NULL,
        PRIMARY KEY (set_no, work_id)
    );
    ALTER TABLE scans ADD COLUMN terms_set INTEGER;
    """,
}
