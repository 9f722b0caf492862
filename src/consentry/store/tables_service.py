"""Store methods for the server's tables (schema version 5; see schema_service.py).

Rows go in and come out as plain dicts keyed by column name; the policy
(who may do what, how long a session lives, when a login is throttled) lives
in :mod:`consentry.accounts`, not here.  Portable SQL only (``?``
placeholders, no ``INSERT OR REPLACE``, no ``lastrowid``), so the same mixin
runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

ACCOUNT_COLUMNS = ("account_id", "email", "role", "creator", "display_name", "password_hash", "created_at", "disabled_at")
TOKEN_COLUMNS = ("token_id", "account_id", "name", "secret_sha256", "scopes", "created_at", "expires_at", "revoked_at",
                 "last_used_at")
SESSION_COLUMNS = ("session_sha256", "account_id", "created_at", "expires_at", "last_seen_at", "revoked_at", "ip",
                   "user_agent")
AUDIT_COLUMNS = ("seq", "at", "account_id", "actor", "action", "target_kind", "target_id", "ip", "details")
UPLOAD_COLUMNS = ("upload_id", "account_id", "purpose", "original_name", "media_type", "bytes", "sha256", "stored_name",
                  "created_at")
JOB_COLUMNS = ("job_id", "kind", "account_id", "status", "params", "created_at", "started_at", "finished_at", "done",
               "total", "attempts", "result", "error")
_JOB_JSON = {"params", "result"}


def _insert(c, table: str, columns: Sequence[str], row: dict) -> None:
    c.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
              [row.get(k) for k in columns])


class ServiceTablesMixin:
    """Accounts, tokens, sessions, audit log, uploads, jobs; needs ``self._conn`` and ``self.transaction``."""

    # -- accounts ------------------------------------------------------------
    def add_account(self, row: dict) -> None:
        """Insert an account (``row`` holds the columns of ``ACCOUNT_COLUMNS``)."""
        with self.transaction() as c:
            _insert(c, "accounts", ACCOUNT_COLUMNS, row)

    def _account_where(self, where: str, args: Sequence) -> list[dict]:
        rows = self._conn.execute(f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM accounts WHERE {where} ORDER BY created_at, account_id",
                                  list(args)).fetchall()
        return [dict(zip(ACCOUNT_COLUMNS, r)) for r in rows]

    def get_account(self, account_id: str) -> dict | None:
        rows = self._account_where("account_id = ?", (account_id,))
        return rows[0] if rows else None

    def account_by_email(self, email: str) -> dict | None:
        rows = self._account_where("email = ?", (email,))
        return rows[0] if rows else None

    def account_by_creator(self, creator: str) -> dict | None:
        rows = self._account_where("creator = ?", (creator,))
        return rows[0] if rows else None

    def list_accounts(self) -> list[dict]:
        return self._account_where("1 = 1", ())

    def count_accounts(self, *, role: str | None = None) -> int:
        if role is None:
            (n,) = self._conn.execute("SELECT COUNT(*) FROM accounts").fetchone()
        else:
            (n,) = self._conn.execute("SELECT COUNT(*) FROM accounts WHERE role = ?", (role,)).fetchone()
        return int(n)

    def update_account(self, account_id: str, **changes) -> None:
        """Set some of ``password_hash``, ``disabled_at``, ``display_name``."""
        allowed = {"password_hash", "disabled_at", "display_name"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"update_account: cannot change {sorted(set(changes) - allowed)}")
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self.transaction() as c:
            c.execute(f"UPDATE accounts SET {sets} WHERE account_id = ?", [*changes.values(), account_id])

    # -- API tokens ------------------------------------------------------------
    def add_token(self, row: dict) -> None:
        with self.transaction() as c:
            _insert(c, "api_tokens", TOKEN_COLUMNS, row)

    def token_by_secret(self, secret_sha256: str) -> dict | None:
        r = self._conn.execute(f"SELECT {', '.join(TOKEN_COLUMNS)} FROM api_tokens WHERE secret_sha256 = ?",
                               (secret_sha256,)).fetchone()
        return dict(zip(TOKEN_COLUMNS, r)) if r else None

    def get_token(self, token_id: str) -> dict | None:
        r = self._conn.execute(f"SELECT {', '.join(TOKEN_COLUMNS)} FROM api_tokens WHERE token_id = ?", (token_id,)).fetchone()
        return dict(zip(TOKEN_COLUMNS, r)) if r else None

    def list_tokens(self, *, account_id: str | None = None) -> list[dict]:
        cols = ", ".join(TOKEN_COLUMNS)
        if account_id is None:
            rows = self._conn.execute(f"SELECT {cols} FROM api_tokens ORDER BY created_at, token_id").fetchall()
        else:
            rows = self._conn.execute(f"SELECT {cols} FROM api_tokens WHERE account_id = ? ORDER BY created_at, token_id",
                                      (account_id,)).fetchall()
        return [dict(zip(TOKEN_COLUMNS, r)) for r in rows]

    def revoke_token(self, token_id: str, *, at: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL", (at, token_id))

    def touch_token(self, token_id: str, *, at: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?", (at, token_id))

    # -- web sessions ------------------------------------------------------------
    def add_session(self, row: dict) -> None:
        with self.transaction() as c:
            _insert(c, "web_sessions", SESSION_COLUMNS, row)

    def session_by_id_hash(self, session_sha256: str) -> dict | None:
        r = self._conn.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM web_sessions WHERE session_sha256 = ?",
                               (session_sha256,)).fetchone()
        return dict(zip(SESSION_COLUMNS, r)) if r else None

    def touch_session(self, session_sha256: str, *, at: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE web_sessions SET last_seen_at = ? WHERE session_sha256 = ?", (at, session_sha256))

    def revoke_session(self, session_sha256: str, *, at: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE web_sessions SET revoked_at = ? WHERE session_sha256 = ? AND revoked_at IS NULL",
                      (at, session_sha256))

    def revoke_account_sessions(self, account_id: str, *, at: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE web_sessions SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL", (at, account_id))

    # -- login throttling ----------------------------------------------------------
    def login_failure(self, key: str) -> dict | None:
        r = self._conn.execute("SELECT key, failures, first_at, locked_until FROM login_failures WHERE key = ?", (key,)).fetchone()
        return dict(zip(("key", "failures", "first_at", "locked_until"), r)) if r else None

    def put_login_failure(self, key: str, *, failures: int, first_at: str, locked_until: str | None) -> None:
        """Set the failure count of ``key`` (insert or update, in one transaction)."""
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM login_failures WHERE key = ?", (key,)).fetchone():
                c.execute("UPDATE login_failures SET failures = ?, first_at = ?, locked_until = ? WHERE key = ?",
                          (failures, first_at, locked_until, key))
            else:
                c.execute("INSERT INTO login_failures (key, failures, first_at, locked_until) VALUES (?, ?, ?, ?)",
                          (key, failures, first_at, locked_until))

    def clear_login_failures(self, key: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    # -- audit log --------------------------------------------------------------------
    def append_audit(self, rows: Iterable[dict]) -> None:
        """Append audit records (``details`` a dict, stored as JSON) in one transaction."""
        cols = AUDIT_COLUMNS[1:]
        with self.transaction() as c:
            for row in rows:
                values = {**row, "details": json.dumps(row.get("details") or {}, ensure_ascii=False, sort_keys=True)}
                _insert(c, "audit_log", cols, values)

    def audit_records(self, *, limit: int = 100, before_seq: int | None = None, account_id: str | None = None,
                      action: str | None = None, target_id: str | None = None) -> list[dict]:
        """Audit records, newest first, filtered."""
        where, args = ["1 = 1"], []
        for column, value in (("account_id", account_id), ("action", action), ("target_id", target_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if before_seq is not None:
            where.append("seq < ?")
            args.append(int(before_seq))
        rows = self._conn.execute(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
            [*args, int(limit)]).fetchall()
        out = []
        for r in rows:
            d = dict(zip(AUDIT_COLUMNS, r))
            d["details"] = json.loads(d["details"])
            out.append(d)
        return out

    # -- uploads ----------------------------------------------------------------------
    def add_upload(self, row: dict) -> None:
        with self.transaction() as c:
            _insert(c, "uploads", UPLOAD_COLUMNS, row)

    def get_upload(self, upload_id: str) -> dict | None:
        r = self._conn.execute(f"SELECT {', '.join(UPLOAD_COLUMNS)} FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
        return dict(zip(UPLOAD_COLUMNS, r)) if r else None

    # -- jobs -------------------------------------------------------------------------
    @staticmethod
    def _job_row(r: Sequence) -> dict:
        d = dict(zip(JOB_COLUMNS, r))
        for k in _JOB_JSON:
            if d[k] is not None:
                d[k] = json.loads(d[k])
        return d

    def add_job(self, row: dict) -> None:
        values = {**row, **{k: json.dumps(row[k]) for k in _JOB_JSON if row.get(k) is not None}}
        values.setdefault("done", 0)
        values.setdefault("attempts", 0)
        with self.transaction() as c:
            _insert(c, "jobs", JOB_COLUMNS, values)

    def get_job(self, job_id: str) -> dict | None:
        r = self._conn.execute(f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return self._job_row(r) if r else None

    def list_jobs(self, *, account_id: str | None = None, statuses: Sequence[str] | None = None,
                  kind: str | None = None, limit: int = 100) -> list[dict]:
        """Jobs, newest first."""
        where, args = ["1 = 1"], []
        if account_id is not None:
            where.append("account_id = ?")
            args.append(account_id)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args.extend(statuses)
        rows = self._conn.execute(
            f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE {' AND '.join(where)} ORDER BY created_at DESC, job_id DESC LIMIT ?",
            [*args, int(limit)]).fetchall()
        return [self._job_row(r) for r in rows]

    def update_job(self, job_id: str, **changes) -> None:
        """Set some of ``status``, ``started_at``, ``finished_at``, ``done``, ``total``, ``attempts``, ``result``, ``error``, ``params``."""
        allowed = {"status", "started_at", "finished_at", "done", "total", "attempts", "result", "error", "params"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"update_job: cannot change {sorted(set(changes) - allowed)}")
        sets = ", ".join(f"{k} = ?" for k in changes)
        values = [json.dumps(v) if k in _JOB_JSON and v is not None else v for k, v in changes.items()]
        with self.transaction() as c:
            c.execute(f"UPDATE jobs SET {sets} WHERE job_id = ?", [*values, job_id])

    # -- owners of scans and ledger entries ------------------------------------------------
    def set_owner(self, kind: str, resource_ids: Iterable[str], *, account_id: str, at: str) -> None:
        """Record ``account_id`` as the owner of resources (already owned ones keep their owner)."""
        with self.transaction() as c:
            for rid in resource_ids:
                if not c.execute("SELECT 1 FROM resource_owners WHERE kind = ? AND resource_id = ?", (kind, rid)).fetchone():
                    c.execute("INSERT INTO resource_owners (kind, resource_id, account_id, created_at) VALUES (?, ?, ?, ?)",
                              (kind, rid, account_id, at))

    def owner_of(self, kind: str, resource_id: str) -> str | None:
        r = self._conn.execute("SELECT account_id FROM resource_owners WHERE kind = ? AND resource_id = ?",
                               (kind, resource_id)).fetchone()
        return r[0] if r else None

    def owned_ids(self, kind: str, *, account_id: str) -> set[str]:
        return {r[0] for r in self._conn.execute(
            "SELECT resource_id FROM resource_owners WHERE kind = ? AND account_id = ?", (kind, account_id))}
