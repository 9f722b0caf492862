"""The server's tables (schema version 5) on both stores (SQLite and PostgreSQL): accounts, tokens, sessions,
login throttling, the append-only audit log, uploads, jobs and owners; and the server itself on each backend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from conftest import notes, write_wav
from serverkit import FAST_AUTH, PASSWORD, SR, LiveServer, server_settings, wait_job

from consentry import Registry
from consentry.domain.accounts import AuthError, Conflict, Throttled
from consentry.services.accounts import (
    authenticate, create_account, create_session, create_token, disable_account, principal_from_session,
    principal_from_token,
)
from consentry.domain.errors import InputError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_accounts_tokens_sessions(store_factory):
    store = store_factory()
    ana = create_account(store, email=" Ana@Example.org ", password=PASSWORD, role="creator", creator="Ana Lima", auth=FAST_AUTH)
    assert ana["email"] == "ana@example.org" and "password_hash" not in ana
    with pytest.raises(Conflict):
        create_account(store, email="ana@example.org", password=PASSWORD, role="licensee", auth=FAST_AUTH)
    with pytest.raises(Conflict):
        create_account(store, email="b@example.org", password=PASSWORD, role="creator", creator="ANA LIMA", auth=FAST_AUTH)
    with pytest.raises(InputError):
        create_account(store, email="c@example.org", password=PASSWORD, role="licensee", creator="X", auth=FAST_AUTH)
    row = store.account_by_email("ana@example.org")
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]

    token, secret = create_token(store, account=row, name="ci", scopes=["works:read"], expires_in_days=1, now=T0)
    assert store.token_by_secret(secret) is None  # only the hash is stored
    p = principal_from_token(store, secret, now=T0 + timedelta(hours=1))
    assert p.role == "creator" and p.scopes == frozenset({"works:read"})
    assert store.get_token(token["token_id"])["last_used_at"] == (T0 + timedelta(hours=1)).isoformat(timespec="seconds")
    with pytest.raises(AuthError, match="expired"):
        principal_from_token(store, secret, now=T0 + timedelta(days=2))
    with pytest.raises(InputError, match="scope"):
        create_token(store, account=row, name="x", scopes=["admin"])

    sid = create_session(store, account=row, ip="10.0.0.1", user_agent="t", auth=FAST_AUTH, now=T0)
    assert store.session_by_id_hash(sid) is None
    assert principal_from_session(store, sid, auth=FAST_AUTH, now=T0 + timedelta(minutes=5)).via == "session"
    with pytest.raises(AuthError, match="without activity"):
        principal_from_session(store, sid, auth=FAST_AUTH, now=T0 + timedelta(hours=3))
    with pytest.raises(AuthError):
        principal_from_session(store, sid, auth=FAST_AUTH, now=T0 + timedelta(minutes=6))  # revoked by the idle timeout
    sid2 = create_session(store, account=row, ip=None, user_agent=None, auth=FAST_AUTH, now=T0)
    disable_account(store, "ana@example.org")
    with pytest.raises(AuthError):
        principal_from_session(store, sid2, auth=FAST_AUTH, now=T0 + timedelta(minutes=1))
    with pytest.raises(AuthError, match="disabled"):
        principal_from_token(store, secret, now=T0 + timedelta(hours=2))
    store.close()


def test_login_throttling_and_audit_log(store_factory):
    store = store_factory()
    create_account(store, email="lic@example.org", password=PASSWORD, role="licensee", auth=FAST_AUTH)
    for i in range(FAST_AUTH.login_max_failures):
        with pytest.raises(AuthError):
            authenticate(store, email="lic@example.org", password="wrong!", ip="10.0.0.9", auth=FAST_AUTH,
                         now=T0 + timedelta(seconds=i))
    with pytest.raises(Throttled) as exc:
        authenticate(store, email="lic@example.org", password=PASSWORD, ip="10.0.0.9", auth=FAST_AUTH, now=T0 + timedelta(seconds=6))
    assert exc.value.retry_after_s >= 1
    later = T0 + timedelta(seconds=FAST_AUTH.login_lock_s + 10)
    assert authenticate(store, email="lic@example.org", password=PASSWORD, ip="10.0.0.9", auth=FAST_AUTH, now=later)["role"] == "licensee"
    assert store.login_failure("email:lic@example.org") is None

    store.append_audit([{"at": "2026-03-01T12:00:00+00:00", "account_id": None, "actor": "cli:root", "action": "a.one",
                         "target_kind": None, "target_id": None, "ip": None, "details": {"n": 1, "é": "ü"}},
                        {"at": "2026-03-01T12:00:01+00:00", "account_id": None, "actor": "cli:root", "action": "a.two",
                         "target_kind": "work", "target_id": "w1", "ip": "::1", "details": {}}])
    records = store.audit_records(limit=10)
    assert [r["action"] for r in records] == ["a.two", "a.one"] and records[1]["details"] == {"n": 1, "é": "ü"}
    assert records[0]["seq"] > records[1]["seq"]
    assert [r["action"] for r in store.audit_records(target_id="w1")] == ["a.two"]
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            with store.transaction() as c:
                c.execute(sql)
    assert len(store.audit_records()) == 2
    store.close()


def test_uploads_jobs_owners(store_factory):
    store = store_factory()
    create_account(store, email="l@example.org", password=PASSWORD, role="licensee", auth=FAST_AUTH)
    acct = store.account_by_email("l@example.org")["account_id"]
    store.add_upload({"upload_id": "up-1", "account_id": acct, "purpose": "dataset", "original_name": "d.zip",
                      "media_type": "application/zip", "bytes": 10, "sha256": "ab", "stored_name": "up-1.zip",
                      "created_at": "2026-03-01T12:00:00+00:00"})
    assert store.get_upload("up-1")["original_name"] == "d.zip"
    store.add_job({"job_id": "job-1", "kind": "scan", "account_id": acct, "status": "queued", "params": {"path": "p"},
                   "created_at": "2026-03-01T12:00:00+00:00"})
    store.update_job("job-1", status="running", attempts=1, done=5, total=10, params={"path": "p", "scan_id": "s-1"})
    job = store.get_job("job-1")
    assert (job["status"], job["done"], job["total"], job["params"]["scan_id"]) == ("running", 5, 10, "s-1")
    assert [j["job_id"] for j in store.list_jobs(statuses=("running",))] == ["job-1"]
    store.set_owner("scan", ["s-1"], account_id=acct, at="2026-03-01T12:00:00+00:00")
    store.set_owner("scan", ["s-1"], account_id="someone-else", at="2026-03-01T12:00:00+00:00")  # first owner stays
    assert store.owner_of("scan", "s-1") == acct and store.owned_ids("scan", account_id=acct) == {"s-1"}
    assert store.owner_of("scan", "s-2") is None
    store.close()


def test_server_on_each_backend(registry_spec, tmp_path):
    """Sign-up, sign-in, upload-and-register, identify and the public files, with the registry on each backend."""
    with Registry.open(registry_spec):
        pass
    song = write_wav(tmp_path / "song.wav", notes(11, duration_s=20.0), sample_rate_hz=SR)
    with LiveServer(server_settings(tmp_path, registry_spec)) as s:
        c = s.client()
        assert c.post("/api/v1/accounts/signup", json={"email": "ana@example.org", "password": PASSWORD, "role": "creator",
                                                        "creator": "Ana Lima"}).status_code == 201
        csrf = c.post("/api/v1/session", json={"email": "ana@example.org", "password": PASSWORD}).json()["csrf_token"]
        r = c.post("/api/v1/works", files={"files": ("song.wav", song.read_bytes())}, data={"csrf_token": csrf})
        job = wait_job(c, r.json()["job_id"])
        assert job["status"] == "succeeded" and job["result"]["works"][0]["creator"] == "Ana Lima"
        assert s.client().post("/api/v1/accounts/signup", json={"email": "lic@example.org", "password": PASSWORD,
                                                        "role": "licensee"}).status_code == 201
        lic = s.client()
        lic.post("/api/v1/session", json={"email": "lic@example.org", "password": PASSWORD})
        clip = write_wav(tmp_path / "clip.wav", notes(11, duration_s=20.0)[6 * SR:18 * SR], sample_rate_hz=SR)
        r = lic.post("/api/v1/identify", files={"file": ("clip.wav", clip.read_bytes())},
                     headers={"X-CSRF-Token": lic.get("/api/v1/session").json()["csrf_token"]})
        assert r.status_code == 200 and r.json()["matches"][0]["creator"] == "Ana Lima"
        assert "Ana Lima" in s.client().get("/terms/index.html").text
