"""Schema version 5: the server's tables (docs/server.md).

- ``accounts``: one row per person or organisation that signs in; ``role`` is
  ``creator`` (bound to one ``creator`` name: the works whose creator equals
  it are theirs), ``licensee`` or ``admin``.  ``password_hash`` is an argon2id
  hash (PHC string), never a password.
- ``api_tokens``: tokens for machines; only the SHA-256 of the secret is
  stored (``secret_sha256``); ``scopes`` is a space-separated list.
- ``web_sessions``: sessions of the web app; only the SHA-256 of the session
  id (the cookie's value) is stored.
- ``login_failures``: failed sign-ins per key (an e-mail address or an IP
  address) for throttling.
- ``audit_log``: every change, append-only (database triggers refuse UPDATE
  and DELETE); ``seq`` is numbered by the database.
- ``uploads``: files received by the server, stored under server-chosen
  names; ``original_name`` is the client's (sanitised) name, metadata only.
- ``jobs``: background work (register, identify, scan, check, enroll) with
  progress and a JSON result; survives restarts.
- ``resource_owners``: which account made a scan or a ledger entry (rows of
  tables that predate accounts and have no owner column).
"""

SERVICE_SCHEMA = """
CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('creator', 'licensee', 'admin')),
    creator TEXT,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    CHECK ((role = 'creator') = (creator IS NOT NULL))
);
CREATE UNIQUE INDEX accounts_creator ON accounts (creator) WHERE creator IS NOT NULL;
CREATE TABLE api_tokens (
    token_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);
CREATE TABLE web_sessions (
    session_sha256 TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    revoked_at TEXT,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX web_sessions_account ON web_sessions (account_id);
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    locked_until TEXT
);
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    account_id TEXT,
    actor TEXT,
    action TEXT NOT NULL,
    target_kind TEXT,
    target_id TEXT,
    ip TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_account ON audit_log (account_id);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id);
CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE uploads (
    upload_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    purpose TEXT NOT NULL,
    original_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    stored_name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX uploads_account ON uploads (account_id);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('register', 'identify', 'scan', 'check', 'enroll')),
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    params TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT
);
CREATE INDEX jobs_account ON jobs (account_id, created_at);
CREATE INDEX jobs_status ON jobs (status);
CREATE TABLE resource_owners (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, resource_id)
);
CREATE INDEX resource_owners_account ON resource_owners (kind, account_id);
"""
