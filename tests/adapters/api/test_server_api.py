"""The server's API over real HTTP (uvicorn on 127.0.0.1): accounts, sessions and CSRF, tokens, works and terms,
uploads (caps, sniffing, hostile names and archives), identify, scans, checks, ledger, publish, public files,
rate limits and the audit log."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest
from conftest import notes, write_wav
from serverkit import PASSWORD, SR, LiveServer, make_world, server_settings, wait_job

from consentry import Registry


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("server-world"))


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    settings = server_settings(tmp_path_factory.mktemp("server-data"), world.registry,
                               max_audio_bytes=3 * 1024 * 1024, max_identify_bytes=1024 * 1024, identify_max_s=14.0)
    with LiveServer(settings) as s:
        yield s


def one_line_error(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    assert "\n" not in body["detail"] and body["detail"]
    return body["detail"]


def login(server: LiveServer, email: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    c = server.client()
    r = c.post("/api/v1/session", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]


# ---------------------------------------------------------------- sessions, CSRF, sign-up, tokens
def test_session_login_csrf_and_logout(server, world):
    c, csrf = login(server, "ana@example.org")
    cookie = c.cookies.get("consentry_session")
    set_cookie = c.post("/api/v1/session", json={"email": "ana@example.org", "password": PASSWORD},
                        headers={"X-CSRF-Token": csrf}).headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "secure" not in set_cookie
    c.cookies.set("consentry_session", cookie)
    me = c.get("/api/v1/session").json()
    assert me["account"]["creator"] == "Ana Lima" and me["via"] == "session" and me["csrf_token"] == csrf
    assert "password_hash" not in json.dumps(me)
    body = {"uses": {"ai_generative": {"decision": "deny"}}}
    wid = world.works["ana1"]
    r = c.put(f"/api/v1/works/{wid}/terms", json=body)
    assert r.status_code == 403 and "CSRF" in one_line_error(r)
    r = c.put(f"/api/v1/works/{wid}/terms", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403
    r = c.put(f"/api/v1/works/{wid}/terms", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["uses"]["ai_generative"]["decision"] == "deny"
    # a multipart request with a session must carry the token as a form field (or header)
    r = c.post("/api/v1/works", files={"files": ("a.wav", world.clips["ana1"].read_bytes(), "audio/wav")})
    assert r.status_code == 403 and "CSRF" in one_line_error(r)
    assert c.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    stale = server.client()
    stale.cookies.set("consentry_session", cookie)
    r = stale.get("/api/v1/works")
    assert r.status_code == 401 and "signed out" in one_line_error(r)


def test_wrong_password_is_refused_then_throttled(server):
    c = server.client()
    email = "throttle@example.org"
    assert c.post("/api/v1/accounts/signup", json={"email": email, "password": PASSWORD, "role": "licensee"}).status_code == 201
    codes = [c.post("/api/v1/session", json={"email": email, "password": "wrong password!"}).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    r = c.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "too many failed sign-ins" in one_line_error(r)
    r = c.post("/api/v1/session", json={"email": "nobody@example.org", "password": "whatever123"})
    assert r.status_code == 401 and one_line_error(r) == "wrong e-mail or password"


def test_signup_rules(server, world):
    c = server.client()
    r = c.post("/api/v1/accounts/signup", json={"email": "new@example.org", "password": PASSWORD, "role": "creator",
                                                 "creator": "Cleo Vance"})
    assert r.status_code == 201 and r.json()["creator"] == "Cleo Vance"
    # nobody takes over a catalogue that is already registered, or an e-mail already used
    r = c.post("/api/v1/accounts/signup", json={"email": "x@example.org", "password": PASSWORD, "role": "creator",
                                                 "creator": "ana lima"})
    assert r.status_code == 409 and "administrator" in one_line_error(r)
    r = c.post("/api/v1/accounts/signup", json={"email": "NEW@example.org", "password": PASSWORD, "role": "licensee"})
    assert r.status_code == 409
    r = c.post("/api/v1/accounts/signup", json={"email": "admin2@example.org", "password": PASSWORD, "role": "admin"})
    assert r.status_code == 422
    for bad in ({"email": "not-an-email", "password": PASSWORD, "role": "licensee"},
                {"email": "short@example.org", "password": "short", "role": "licensee"},
                {"email": "c@example.org", "password": PASSWORD, "role": "creator", "creator": "bad\x00name"},
                {"email": "c@example.org", "password": PASSWORD, "role": "creator"}):
        r = c.post("/api/v1/accounts/signup", json=bad)
        assert r.status_code == 400, (bad, r.text)
        one_line_error(r)


def test_tokens_scopes_expiry_and_revocation(server, world):
    admin = server.client(world.tokens["lic"])
    r = admin.post("/api/v1/tokens", json={"name": "ci", "scopes": ["identify"], "expires_in_days": 1})
    assert r.status_code == 201
    secret, tid = r.json()["secret"], r.json()["token"]["token_id"]
    assert secret.startswith("cst_") and secret not in json.dumps(admin.get("/api/v1/tokens").json())
    narrow = server.client(secret)
    assert narrow.get("/api/v1/session").json()["scopes"] == ["identify"]
    r = narrow.get("/api/v1/works")
    assert r.status_code == 403 and "works:read" in one_line_error(r)
    r = admin.post("/api/v1/tokens", json={"name": "x", "scopes": ["works:write"]})
    assert r.status_code == 400 and "licensee" in one_line_error(r)
    r = narrow.post("/api/v1/tokens", json={"name": "y", "scopes": ["identify"]})
    assert r.status_code == 403  # the narrow token lacks the "tokens" scope
    assert admin.delete(f"/api/v1/tokens/{tid}").json()["revoked_at"]
    r = narrow.get("/api/v1/session")
    assert r.status_code == 401 and "revoked" in one_line_error(r)
    assert server.client("cst_" + "A" * 43).get("/api/v1/session").status_code == 401
    r = server.client().get("/api/v1/session", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401 and "Bearer" in one_line_error(r)


def test_expired_token_is_refused(server, world):
    from datetime import datetime, timedelta, timezone

    from consentry.services.accounts import create_token

    with Registry.open(world.registry) as reg:
        _, secret = create_token(reg.store, account=world.accounts["lic"], name="old", scopes=["identify"],
                                 expires_in_days=1, now=datetime.now(timezone.utc) - timedelta(days=2))
    r = server.client(secret).get("/api/v1/session")
    assert r.status_code == 401 and "expired" in one_line_error(r)


# ---------------------------------------------------------------- works, terms, uploads
def test_upload_register_terms_and_remove(server, world):
    ana = server.client(world.tokens["ana"])
    x = notes(41, duration_s=15.0)
    wav = io.BytesIO()
    write_wav(world.root / "new.wav", x, sample_rate_hz=SR)
    wav = (world.root / "new.wav").read_bytes()
    r = ana.post("/api/v1/works", files={"files": ("../../etc/passwd", wav, "text/plain")},
                 data={"terms": "license", "price": "12.5", "currency": "eur"})
    assert r.status_code == 202, r.text
    job = wait_job(ana, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    (work,) = job["result"]["works"]
    assert work["creator"] == "Ana Lima" and work["title"] == "passwd" and "source" not in work
    assert job["links"][f"work:{work['work_id']}"] == f"/api/v1/works/{work['work_id']}"
    # the file was stored under a server-chosen name inside the uploads folder, nowhere else
    stored = list((server.settings.uploads_dir).iterdir())
    assert stored and all(p.name.startswith("up-") for p in stored)
    assert not (server.settings.data_dir.parent / "etc").exists()
    shown = ana.get(f"/api/v1/works/{work['work_id']}").json()
    assert shown["terms"]["uses"]["ai_training"] == {"decision": "license", "price": 12.5, "currency": "EUR", "unit": "per-work"}
    # the public terms are rebuilt for the new work
    page = server.client().get(f"/terms/works/{work['work_id']}.json")
    assert page.status_code == 200 and page.headers["etag"]
    assert server.client().get(f"/api/v1/public/works/{work['work_id']}/terms").json()["work_id"] == work["work_id"]
    r = ana.put(f"/api/v1/works/{work['work_id']}/terms", json={"uses": {"ai_training": {"decision": "deny"}}})
    assert r.status_code == 200 and r.json()["version"] == 2
    hist = ana.get(f"/api/v1/works/{work['work_id']}/terms/history").json()["versions"]
    assert [v["version"] for v in hist] == [1, 2]
    r = ana.put(f"/api/v1/works/{work['work_id']}/terms", json={"uses": {"ai_training": {"decision": "license"}}})
    assert r.status_code == 400 and "price" in one_line_error(r)
    r = ana.put(f"/api/v1/works/{work['work_id']}/terms", json={"uses": {"bogus_use": {"decision": "deny"}}})
    assert r.status_code == 422
    # registering the same content again is reported, not registered twice
    r = ana.post("/api/v1/works", files={"files": ("again.wav", wav, "audio/wav")})
    again = wait_job(ana, r.json()["job_id"])
    assert again["result"]["works"][0]["already_registered"] is True
    assert ana.delete(f"/api/v1/works/{work['work_id']}").json()["removed_at"]
    assert work["work_id"] not in [w["work_id"] for w in ana.get("/api/v1/works").json()]


def test_creator_sees_only_own_works_and_cannot_touch_others(server, world):
    ana = server.client(world.tokens["ana"])
    assert {w["creator"] for w in ana.get("/api/v1/works").json()} == {"Ana Lima"}
    r = ana.get(f"/api/v1/works/{world.works['ben1']}")
    assert r.status_code == 404 and "no such work" in one_line_error(r)  # as an unknown id
    assert ana.delete(f"/api/v1/works/{world.works['ben1']}").status_code == 404
    r = ana.put("/api/v1/creators/Ben Ode/terms", json={"uses": {"tdm": {"decision": "allow"}}})
    assert r.status_code == 403
    r = ana.post("/api/v1/works", files={"files": ("a.wav", world.clips["ana1"].read_bytes())}, data={"creator": "Ben Ode"})
    assert r.status_code == 403
    r = ana.put("/api/v1/creators/Ana Lima/terms", json={"uses": {"tdm": {"decision": "allow"}}})
    assert r.status_code == 200 and r.json()["uses"]["tdm"]["decision"] == "allow"
    assert server.client(world.tokens["lic"]).get("/api/v1/creators/Ana Lima/terms").json()["version"] >= 1
    lic = server.client(world.tokens["lic"])
    assert len({w["creator"] for w in lic.get("/api/v1/works").json()}) == 2
    assert lic.post("/api/v1/works", files={"files": ("a.wav", b"RIFF")}).status_code == 403


def test_bad_uploads_are_refused_with_one_line(server, world):
    ana = server.client(world.tokens["ana"])
    big = b"RIFF" + b"\0" * (4 * 1024 * 1024)
    r = ana.post("/api/v1/works", files={"files": ("big.wav", big, "audio/wav")})
    assert r.status_code == 413 and "big.wav" in one_line_error(r)
    r = ana.post("/api/v1/works", files={"files": ("doc.wav", b"%PDF-1.7\n" + b"x" * 1000, "audio/wav")})
    assert r.status_code == 415 and "application/pdf" in one_line_error(r) and "not audio" in one_line_error(r)
    r = ana.post("/api/v1/works", files={"files": ("empty.wav", b"", "audio/wav")})
    assert r.status_code == 400 and "empty" in one_line_error(r)
    r = ana.post("/api/v1/works", data={"terms": "deny"})
    assert r.status_code == 400
    r = ana.post("/api/v1/works", files={"files": ("a.wav", world.clips["ana1"].read_bytes())}, data={"terms": "maybe"})
    assert r.status_code == 400 and "maybe" in one_line_error(r)
    r = ana.post("/api/v1/works", content=b"not multipart", headers={"content-type": "application/octet-stream"})
    assert r.status_code == 400 and "multipart" in one_line_error(r)
    # a body cut off in the middle of a part
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.wav\"\r\n"
            b"Content-Type: audio/wav\r\n\r\nRIFF\x24\x00\x00\x00WAVEfmt ")
    r = ana.post("/api/v1/works", content=body, headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 400 and "truncated" in one_line_error(r)
    # truncated audio passes the sniff and fails in the job with the file named
    clip = world.clips["ana2"].read_bytes()
    r = ana.post("/api/v1/works", files={"files": ("cut.wav", clip[:600], "audio/wav")})
    job = wait_job(ana, r.json()["job_id"])  # its only file failed: the job failed (docs/server.md, "Job outcomes")
    assert job["status"] == "failed" and job["result"]["works"] == [] and job["result"]["failed"] == 1
    assert "cut.wav" in job["result"]["errors"][0]["error"] and job["error"].startswith("every file failed (1 of 1): cut.wav: ")
    assert not list(server.settings.incoming_dir.glob(".part-*"))  # nothing left half-written


def test_identify_sync_and_as_job(server, world):
    lic = server.client(world.tokens["lic"])
    r = lic.post("/api/v1/identify", files={"file": ("q.wav", world.clips["ben1"].read_bytes())})
    assert r.status_code == 200, r.text
    best = r.json()["matches"][0]
    assert best["work_id"] == world.works["ben1"] and best["source_name"] == "ben1.wav"
    # the server never shows where a work's file lies on its disk (issue 15)
    assert "source" not in best and str(world.root) not in r.text
    long_clip = write_wav(world.root / "long.wav", notes(9, duration_s=16.0), sample_rate_hz=SR)
    r = lic.post("/api/v1/identify", files={"file": ("long.wav", long_clip.read_bytes())})
    assert r.status_code == 400 and "identify/jobs" in one_line_error(r)
    r = lic.post("/api/v1/identify", files={"file": ("big.wav", b"RIFF" + b"\0" * (2 * 1024 * 1024))})
    assert r.status_code == 413
    r = lic.post("/api/v1/identify", files={"file": ("junk.wav", b"RIFF\x10\x00\x00\x00WAVEjunkjunk" + b"\x01" * 100)})
    assert r.status_code == 400 and "junk.wav" in one_line_error(r)
    r = lic.post("/api/v1/identify/jobs", files={"file": ("q.wav", world.clips["ana1"].read_bytes())})
    job = wait_job(lic, r.json()["job_id"])
    assert job["status"] == "succeeded" and job["result"]["matches"][0]["work_id"] == world.works["ana1"]
    assert "source" not in job["result"]["matches"][0] and str(world.root) not in json.dumps(job)
    other = server.client(world.tokens["admin"]).get(f"/api/v1/jobs/{job['job_id']}")
    assert other.status_code == 200
    assert server.client(world.tokens["ana"]).get(f"/api/v1/jobs/{job['job_id']}").status_code == 404


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_scan_upload_reports_clean_manifest_and_ledger(server, world):
    lic = server.client(world.tokens["lic"])
    unrelated = write_wav(world.root / "unrelated.wav", notes(77, duration_s=8.0), sample_rate_hz=SR).read_bytes()
    data = _zip({"a/ana1.wav": world.clips["ana1"].read_bytes(), "a/ana2.wav": world.clips["ana2"].read_bytes(),
                 "b/other.wav": unrelated, "../evil.wav": unrelated})
    r = lic.post("/api/v1/scans", files={"dataset": ("dataset.zip", data, "application/zip")})
    assert r.status_code == 202, r.text
    job = wait_job(lic, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    scan_id = job["result"]["scan_id"]
    totals = job["result"]["totals"]
    assert totals["refused"] == 1 and totals["licensable"] == 1 and totals["error"] == 1  # ../evil.wav refused
    for key in ("report", "json", "csv", "clean_manifest"):
        assert key in job["links"]
    summary = lic.get(f"/api/v1/scans/{scan_id}").json()
    assert summary["summary"]["totals"]["items"] == 4
    assert str(server.settings.data_dir) not in json.dumps(summary)
    html = lic.get(f"/api/v1/scans/{scan_id}/report/html")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"] and str(server.settings.data_dir) not in html.text
    assert lic.get(f"/api/v1/scans/{scan_id}/report/json").json()["scan"]["scan_id"] == scan_id
    assert "ana1" in lic.get(f"/api/v1/scans/{scan_id}/report/csv").text
    clean = lic.get(f"/api/v1/scans/{scan_id}/clean-manifest")
    assert clean.status_code == 200 and clean.headers["x-consentry-kept"] == "1"
    assert [json.loads(line)["member"] for line in clean.text.splitlines()] == ["b/other.wav"]
    # The manifest names the archive the user sent, not where the server keeps it.
    assert [json.loads(line)["archive"] for line in clean.text.splitlines()] == ["dataset.zip"]
    assert str(server.settings.data_dir) not in clean.text
    assert [s["scan_id"] for s in lic.get("/api/v1/scans").json()] == [scan_id]
    assert server.client(world.tokens["admin"]).get(f"/api/v1/scans/{scan_id}").status_code == 200
    ben_lic = server.client(world.tokens["ben"])
    assert ben_lic.get(f"/api/v1/scans/{scan_id}").status_code == 403  # a creator account may not read scans at all (role)
    statements = lic.get(f"/api/v1/scans/{scan_id}/statements").json()["statements"]
    assert statements[0]["creator"] == "Ana Lima" and statements[0]["totals"] == {"EUR": 25.0}
    # the licensee records the use; the creator sees what is owed
    r = lic.post("/api/v1/ledger/uses", json={"run": "model-v1", "scan_id": scan_id})
    assert r.status_code == 201 and r.json()["entries"][0]["work_id"] == world.works["ana2"]
    r = lic.post("/api/v1/ledger/uses", json={"run": "model-v1", "scan_id": scan_id})
    assert r.status_code == 400 and "already" in one_line_error(r)
    assert len(lic.get("/api/v1/ledger/entries").json()["entries"]) == 1
    ana = server.client(world.tokens["ana"])
    st = ana.get("/api/v1/ledger/statements").json()["statements"]
    assert [s["creator"] for s in st] == ["Ana Lima"] and st[0]["totals"] == {"EUR": 25.0}
    assert server.client(world.tokens["ben"]).get("/api/v1/ledger/statements").json()["statements"] == []
    assert lic.get("/api/v1/ledger/statements").status_code == 403


def test_hostile_manifests_and_archives(server, world):
    lic = server.client(world.tokens["lic"])
    with Registry.open(world.registry) as reg:
        (n_uploads,) = reg.store._conn.execute("SELECT COUNT(*) FROM uploads").fetchone()
    n_files = len(list(server.settings.uploads_dir.iterdir()))
    for manifest, name in ((b"path\n/etc/passwd\n", "m.csv"), (b'{"path": "../../reg.db"}\n', "m.jsonl"),
                           (b'{"audio": "file:///etc/passwd"}\n', "m.jsonl")):
        r = lic.post("/api/v1/scans", files={"dataset": (name, manifest)})
        assert r.status_code == 400 and "file path" in one_line_error(r), r.text
    with Registry.open(world.registry) as reg:  # refused: nothing recorded, nothing kept
        assert reg.store._conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == n_uploads
    assert len(list(server.settings.uploads_dir.iterdir())) == n_files
    r = lic.post("/api/v1/scans", files={"dataset": ("x.pdf", b"%PDF-1.4 " + b"a" * 100)})
    assert r.status_code == 415
    r = lic.post("/api/v1/scans/urls", json={"urls": ["http://example.org/a.wav"], "fetch": True})
    assert r.status_code == 400 and "allow_url_fetch" in one_line_error(r)
    r = lic.post("/api/v1/scans/urls", json={"urls": ["file:///etc/passwd"]})
    assert r.status_code == 400
    r = lic.post("/api/v1/scans/urls", json={"urls": ["http://example.org/a.wav"]})
    job = wait_job(lic, r.json()["job_id"])  # its only item could not be checked: the job failed, saying why
    assert job["status"] == "failed" and job["result"]["totals"]["error"] == 1
    assert job["error"].startswith("every item failed (1 of 1): row:0: http URL not fetched")
    # a zip bomb member is an item error, not a crash
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.wav", b"\0" * (50 * 1024 * 1024))
    r = lic.post("/api/v1/scans", files={"dataset": ("bomb.zip", bomb.getvalue())})
    job = wait_job(lic, r.json()["job_id"])
    assert job["status"] == "failed" and job["result"]["totals"]["error"] == 1
    assert job["result"]["errors"][0]["name"].endswith("bomb.wav") and job["result"]["scan_id"]
    # a damaged archive is refused, named as it was sent, never by the server's path (issue 15)
    r = lic.post("/api/v1/scans", files={"dataset": ("my data.zip", b"PK\x03\x04" + b"\x07" * 200)})
    assert r.status_code == 400 and one_line_error(r).startswith("my data.zip: "), r.text
    assert str(server.settings.data_dir) not in r.text and "up-" not in r.text, r.text


def test_check_output_and_evidence(server, world):
    lic = server.client(world.tokens["lic"])
    r = lic.post("/api/v1/checks", files={"file": ("output.wav", world.clips["ana1"].read_bytes())},
                 data={"melody": "false", "voice": "false"})
    assert r.status_code == 202, r.text
    job = wait_job(lic, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["recording"][0]["work_id"] == world.works["ana1"]
    assert job["result"]["output"] == "output.wav"
    bundle = lic.get(job["links"]["evidence"])
    assert bundle.status_code == 200 and bundle.content[:2] == b"PK"
    assert lic.get(f"/api/v1/checks/{job['job_id']}").json()["status"] == "succeeded"
    assert server.client(world.tokens["ana"]).get(f"/api/v1/checks/{job['job_id']}/evidence").status_code == 404
    r = lic.post("/api/v1/checks", files={"file": ("not.wav", b"GIF89a" + b"\0" * 100)})
    assert r.status_code == 415 and "image/gif" in one_line_error(r)


def test_voice_enrolment_job_reports_files_without_speech(server, world):
    ana = server.client(world.tokens["ana"])
    r = ana.post("/api/v1/voices", files={"files": ("tones.wav", world.clips["ana1"].read_bytes())})
    job = wait_job(ana, r.json()["job_id"])
    assert job["status"] in ("succeeded", "failed")
    if job["status"] == "succeeded":
        assert job["result"]["voices"] or job["result"]["errors"][0]["name"] == "tones.wav"
    assert ana.get("/api/v1/voices").status_code == 200
    assert server.client(world.tokens["lic"]).get("/api/v1/voices").status_code == 403


def test_voice_enrolment_job_reports_the_telephone_band_print(server, world, tmp_path):
    import subprocess

    sample = tmp_path / "ana-voice.wav"
    subprocess.run(["espeak-ng", "-v", "en+m3", "-w", str(sample), "The quick brown fox jumps over the lazy dog "
                    "while the children watch from the window."], check=True, capture_output=True)
    ana = server.client(world.tokens["ana"])
    r = ana.post("/api/v1/voices", files={"files": ("ana-voice.wav", sample.read_bytes())})
    job = wait_job(ana, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    (voice,) = job["result"]["voices"]
    assert voice["source_name"] == "ana-voice.wav" and voice["band_print"] is True and "band_print_error" not in voice
    listed = [v for v in ana.get("/api/v1/voices").json() if v["source_sha256"] == voice["source_sha256"]]
    assert [(v["voice_id"], v["band_print"]) for v in listed] == [(voice["voice_id"], True)]  # one row, not two


def test_publish_files_public_and_for_creators(server, world):
    anon = server.client()
    robots = anon.get("/robots.txt")
    assert robots.status_code == 200 and robots.headers["content-type"].startswith("text/plain")
    assert anon.get("/robots.txt", headers={"if-none-match": robots.headers["etag"]}).status_code == 304
    assert anon.get("/ai.txt").status_code == 200
    assert anon.get("/.well-known/tdmrep.json").json()
    assert anon.get("/rsl.xml").headers["content-type"].startswith("application/rsl+xml")
    assert "Ana Lima" in anon.get("/terms/index.html").text
    assert anon.get("/api/v1/public/creators/ana-lima/terms").json()["name"] == "Ana Lima"
    for hostile in ("/terms/../reg.db", "/terms/%2e%2e/%2e%2e/etc/passwd", "/terms/works/nope.json", "/server/nginx.conf",
                    "/headers.json", "/tdm/policies/..%2F..%2Freg.db"):
        assert anon.get(hostile).status_code == 404, hostile
    ana = server.client(world.tokens["ana"])
    z = zipfile.ZipFile(io.BytesIO(ana.get("/api/v1/publish/site.zip").content))
    assert "robots.txt" in z.namelist() and f"terms/works/{world.works['ana1']}.json" in z.namelist()
    assert f"terms/works/{world.works['ben1']}.json" not in z.namelist()
    snippet = ana.get("/api/v1/publish/headers/nginx")
    assert snippet.status_code == 200 and world.works["ana1"] in snippet.text
    assert ana.get("/api/v1/publish/headers/iis").status_code == 422
    # the cache is rebuilt when terms change, not per request
    cache = server.app.state.ctx.publish
    builds = cache.builds
    for _ in range(3):
        anon.get("/robots.txt")
    assert cache.builds == builds


def test_rate_limit_answers_429_with_retry_after(world, tmp_path):
    settings = server_settings(tmp_path, world.registry, rate_per_s=0.5, rate_burst=3, anonymous_rate_per_s=0.5,
                               anonymous_burst=2)
    with LiveServer(settings) as s:
        lic = s.client(world.tokens["lic"])
        codes = [lic.get("/api/v1/works").status_code for _ in range(5)]
        assert codes[:3] == [200] * 3 and codes[-1] == 429
        r = lic.get("/api/v1/works")
        assert int(r.headers["retry-after"]) >= 1 and "rate limit" in one_line_error(r)
        anon = s.client()
        assert [anon.get("/robots.txt").status_code for _ in range(3)][-1] == 429
        assert s.client(world.tokens["ana"]).get("/api/v1/works").status_code == 200  # per token, not global


def test_signup_closed(world, tmp_path):
    with LiveServer(server_settings(tmp_path, world.registry, signup=False)) as s:
        r = s.client().post("/api/v1/accounts/signup", json={"email": "z@example.org", "password": PASSWORD, "role": "licensee"})
        assert r.status_code == 403 and "closed" in one_line_error(r)


def test_admin_accounts_and_audit_log_record_each_change(server, world):
    admin = server.client(world.tokens["admin"])
    r = admin.post("/api/v1/accounts", json={"email": "dora@example.org", "password": PASSWORD, "role": "creator",
                                              "creator": "Dora Vale"})
    assert r.status_code == 201
    dora = r.json()["account_id"]
    c, _ = login(server, "dora@example.org")
    assert admin.post(f"/api/v1/accounts/{dora}/disable").json()["disabled_at"]
    assert c.get("/api/v1/session").status_code == 401
    assert server.client().post("/api/v1/session", json={"email": "dora@example.org", "password": PASSWORD}).status_code == 401
    assert admin.post("/api/v1/accounts/acct-nope/disable").status_code == 404
    assert {a["email"] for a in admin.get("/api/v1/accounts").json()} >= {"ana@example.org", "dora@example.org"}
    records = admin.get("/api/v1/audit", params={"limit": 1000}).json()
    actions = {r["action"] for r in records}
    for expected in ("accounts.signup", "accounts.create", "accounts.disable", "session.create", "tokens.create",
                     "tokens.revoke", "terms.set", "works.register", "works.remove", "uploads.create", "scans.create",
                     "ledger.record", "creator_terms.set"):
        assert expected in actions, expected
    rec = next(r for r in records if r["action"] == "accounts.disable")
    assert rec["actor"] == "admin@example.org" and rec["ip"] == "127.0.0.1" and rec["target_id"] == dora and rec["at"]
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(seqs, reverse=True)
    page = admin.get("/api/v1/audit", params={"limit": 2, "before_seq": seqs[0]}).json()
    assert [r["seq"] for r in page] == seqs[1:3]
    assert server.client(world.tokens["ana"]).get("/api/v1/audit").status_code == 403
    # append-only in the database itself
    import sqlite3

    con = sqlite3.connect(world.registry)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit_log SET actor = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit_log")
    con.close()


def test_openapi_document_and_errors_are_json(server):
    doc = server.client().get("/openapi.json").json()
    assert doc["info"]["title"] == "Consentry" and "/api/v1/works" in doc["paths"]
    r = server.client().get("/api/v1/nothing-here")
    assert r.status_code == 404 and one_line_error(r)
    r = server.client().post("/api/v1/session", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and one_line_error(r)


def test_password_rehash_when_parameters_change(world, tmp_path):
    from consentry.services.accounts import AuthSettings, authenticate

    with Registry.open(world.registry) as reg:
        old = reg.store.account_by_email("ben@example.org")["password_hash"]
        stronger = AuthSettings(argon2_time_cost=2, argon2_memory_kib=16, argon2_parallelism=1)
        authenticate(reg.store, email="ben@example.org", password=PASSWORD, ip=None, auth=stronger)
        new = reg.store.account_by_email("ben@example.org")["password_hash"]
        assert new != old and "t=2" in new
        authenticate(reg.store, email="ben@example.org", password=PASSWORD, ip=None, auth=stronger)
        assert reg.store.account_by_email("ben@example.org")["password_hash"] == new


def test_nothing_stored_for_a_request_refused_midway(server, world):
    """A refused upload leaves no upload row and no file; the registry's works are unchanged."""
    with Registry.open(world.registry) as reg:
        before = len(reg.works(include_removed=True))
        (n_up,) = reg.store._conn.execute("SELECT COUNT(*) FROM uploads").fetchone()
    ana = server.client(world.tokens["ana"])
    r = ana.post("/api/v1/works", files=[("files", ("ok.wav", world.clips["ana1"].read_bytes())),
                                         ("files", ("bad.bin", bytes(range(256)) * 4))])  # no engine reads it
    assert r.status_code == 415
    with Registry.open(world.registry) as reg:
        assert len(reg.works(include_removed=True)) == before
        assert reg.store._conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == n_up
    assert not list(Path(server.settings.incoming_dir).glob(".part-*"))


def test_client_file_names_are_metadata_only():
    from consentry.services.uploads import sanitize_name

    assert sanitize_name("../../etc/passwd") == "passwd"
    assert sanitize_name("C:\\Windows\\system32\\evil.wav") == "evil.wav"
    assert sanitize_name("\u202eevil\x00\nname.wav") == "evilname.wav"
    assert sanitize_name("..") == "upload" and sanitize_name("") == "upload" and sanitize_name(None) == "upload"
    assert len(sanitize_name("é" * 5000)) == 200


def test_odd_encodings_in_multipart(server, world):
    ana = server.client(world.tokens["ana"])
    body = (b"--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n\xff\xfe\xfa\r\n"
            b"--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--B--\r\n")
    r = ana.post("/api/v1/works", content=body, headers={"content-type": "multipart/form-data; boundary=B"})
    assert r.status_code == 400 and "UTF-8" in one_line_error(r)
    body = (b"--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\xe2\x80\xae../x\xc3\xa9.wav\"\r\n\r\n"
            + world.clips["ana1"].read_bytes() + b"\r\n--B--\r\n")
    r = ana.post("/api/v1/works", content=body, headers={"content-type": "multipart/form-data; boundary=B"})
    assert r.status_code == 202
    job = wait_job(ana, r.json()["job_id"])
    assert job["status"] == "succeeded"
