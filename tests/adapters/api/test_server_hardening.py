"""The server's hardening (issue 15), over real HTTP: what a page shows to whom (findings, claims on a work), one
404 for "no such id" and "not yours", sign-in throttling under parallel attempts and bounded password hashing,
Origin checks on forms, bounded form fields, API docs without third-party script, security headers on every
answer, stale partial uploads removed at start, slow request heads timed out, creator names that cannot be
squatted."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from conftest import notes, write_wav
from serverkit import FAST_AUTH, PASSWORD, SR, LiveServer, make_world, server_settings, wait_job

from consentry import Registry
from consentry.services.accounts import AuthSettings
from consentry.domain.works import Terms

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("hardening-world"))


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    settings = server_settings(tmp_path_factory.mktemp("hardening-data"), world.registry, trust_forwarded_for=True)
    with LiveServer(settings) as s:
        yield s


def browser(server: LiveServer, email: str) -> tuple[httpx.Client, str]:
    c = server.client()
    c.headers.update(HTML)
    r = c.post("/app/signin", data={"email": email, "password": PASSWORD, "next": "/app"})
    assert r.status_code == 303, r.text[:300]
    return c, re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get("/app").text).group(1)


@pytest.fixture(scope="module")
def scanned(server, world):
    """A scan by ``lic`` that finds ana2, a check by ``lic`` that finds ana1, and a dispute of the scan's finding."""
    lic = server.client(world.tokens["lic"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("set/a.wav", world.clips["ana2"].read_bytes())
    r = lic.post("/api/v1/scans", files={"dataset": ("secret-dataset.zip", buf.getvalue())})
    assert r.status_code == 202, r.text
    scan_job = wait_job(lic, r.json()["job_id"])
    scan_id = scan_job["result"]["scan_id"]
    r = lic.post("/api/v1/checks", files={"file": ("secret-output.wav", world.clips["ana1"].read_bytes())},
                 data={"melody": "false", "voice": "false"})
    assert r.status_code == 202, r.text
    check = wait_job(lic, r.json()["job_id"])
    assert check["status"] == "succeeded", check
    items = lic.get(f"/api/v1/scans/{scan_id}/report/json").json()["items"]
    item_id = next(i["item_id"] for i in items if i.get("findings"))
    r = lic.post(f"/api/v1/scans/{scan_id}/disputes", json={"item_id": item_id, "reason": "our own re-recording"})
    assert r.status_code in (200, 201), r.text
    claim_id = r.json()[0]["claim_id"] if isinstance(r.json(), list) else r.json()["claim_id"]
    return {"scan_id": scan_id, "scan_job": scan_job["job_id"], "check_job": check["job_id"], "claim_id": claim_id}


# ---------------------------------------------------------------- 1. findings: each account its own
def test_findings_page_shows_a_licensee_only_its_own_scans_and_checks(server, world, scanned):
    other, _ = browser(server, "lic2@example.org")
    page = other.get("/app/findings").text
    for secret in (scanned["scan_id"], scanned["check_job"], "secret-dataset", "secret-output"):
        assert secret not in page, secret
    # the API says the same: someone else's scan is not there
    assert server.client(world.tokens["lic2"]).get(f"/api/v1/scans/{scanned['scan_id']}").status_code == 404
    own, _ = browser(server, "lic@example.org")
    page = own.get("/app/findings").text
    assert scanned["scan_id"] in page and "secret-output" in page
    admin, _ = browser(server, "admin@example.org")
    assert scanned["scan_id"] in admin.get("/app/findings").text
    ana, _ = browser(server, "ana@example.org")
    page = ana.get("/app/findings").text
    # Where the creator's own work was found: by the dataset's name (the scan is the licensee's, not linked for it).
    assert "secret-dataset" in page and f"/app/scans/{scanned['scan_id']}" not in page
    assert "built-in method" not in page
    row = re.search(r'<a href="/app/works/[^"]+">ana2</a></td><td data-label="Dataset">[^<]*</td>'
                    r'<td data-label="Items">([^<]*)</td>', page)
    assert row and row.group(1) == "1", page[:3000]


# ---------------------------------------------------------------- 2. claims on a work page; one 404
def test_work_page_lists_claims_only_to_their_parties(server, world, scanned):
    work = world.works["ana2"]
    lic2, _ = browser(server, "lic2@example.org")
    r = lic2.get(f"/app/works/{work}")
    assert r.status_code == 200 and scanned["claim_id"] not in r.text
    for party in ("ana@example.org", "admin@example.org"):
        c, _ = browser(server, party)
        assert scanned["claim_id"] in c.get(f"/app/works/{work}").text, party


def test_not_yours_is_the_same_404_as_no_such_id(server, world, scanned):
    ana = server.client(world.tokens["ana"])
    ben_work = world.works["ben1"]
    for ref in (ben_work, ben_work[:6], "ffffffffffffffff"):
        for method, path in (("GET", f"/api/v1/works/{ref}"), ("DELETE", f"/api/v1/works/{ref}"),
                             ("GET", f"/api/v1/works/{ref}/terms")):
            r = ana.request(method, path)
            assert r.status_code == 404 and r.json() == {"detail": f"work {ref!r}: no such work"}, (method, path, r.text)
        r = ana.put(f"/api/v1/works/{ref}/terms", json={"uses": {"tdm": {"decision": "allow"}}})
        assert r.status_code == 404 and r.json() == {"detail": f"work {ref!r}: no such work"}
    lic2 = server.client(world.tokens["lic2"])
    for kind, ref, path in (("scan", scanned["scan_id"], "/api/v1/scans/{}"), ("scan", scanned["scan_id"][:8], "/api/v1/scans/{}"),
                            ("scan", "scan-nope-nope", "/api/v1/scans/{}"), ("job", scanned["scan_job"], "/api/v1/jobs/{}"),
                            ("job", "job-nope", "/api/v1/jobs/{}"), ("check", scanned["check_job"], "/api/v1/checks/{}"),
                            ("claim", scanned["claim_id"], "/api/v1/claims/{}"), ("claim", "c-nope-nope", "/api/v1/claims/{}")):
        r = lic2.get(path.format(ref))
        assert r.status_code == 404 and r.json() == {"detail": f"{kind} {ref!r}: no such {kind}"}, (path, ref, r.text)
    for ref in (ben_work, ben_work[:6], "ffffffffffffffff"):  # the claims of a work: the same answer
        r = ana.get("/api/v1/claims", params={"work_id": ref})
        assert r.status_code == 404 and r.json() == {"detail": f"work {ref!r}: no such work"}, (ref, r.text)
    assert ana.get("/api/v1/claims", params={"work_id": world.works["ana2"]}).status_code == 200
    r = lic2.delete(f"/api/v1/tokens/{world.token_ids['lic']}")
    assert r.status_code == 404 and r.json() == {"detail": f"token {world.token_ids['lic']!r}: no such token"}
    # the web pages answer the same
    ana_web, _ = browser(server, "ana@example.org")
    assert ana_web.get(f"/app/works/{ben_work}").status_code == 404
    lic2_web, _ = browser(server, "lic2@example.org")
    for path in (f"/app/scans/{scanned['scan_id']}", f"/app/jobs/{scanned['scan_job']}", f"/app/claims/{scanned['claim_id']}"):
        assert lic2_web.get(path).status_code == 404, path


# ---------------------------------------------------------------- 3. throttling under parallel attempts
@pytest.fixture(scope="module")
def slow_server(world, tmp_path_factory):
    """A server whose password checks take a while (so parallel attempts overlap)."""
    slow_auth = AuthSettings(argon2_time_cost=4, argon2_memory_kib=4096, argon2_parallelism=1)
    settings = server_settings(tmp_path_factory.mktemp("hardening-slow"), world.registry, trust_forwarded_for=True,
                               auth=slow_auth)
    with LiveServer(settings) as s:
        yield s


def _parallel(n: int, call) -> list[int]:
    barrier = threading.Barrier(n)

    def one(i: int) -> int:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


class _ConcurrencyProbe:
    """Counts argon2 verifications running at once (the server runs in this process)."""

    def __init__(self, monkeypatch) -> None:
        from argon2 import PasswordHasher

        self.now = self.most = self.calls = 0
        self.lock = threading.Lock()
        original = PasswordHasher.verify

        def verify(hasher, *args, **kwargs):
            with self.lock:
                self.now += 1
                self.calls += 1
                self.most = max(self.most, self.now)
            try:
                return original(hasher, *args, **kwargs)
            finally:
                with self.lock:
                    self.now -= 1

        monkeypatch.setattr(PasswordHasher, "verify", verify)


def test_parallel_wrong_passwords_for_one_email_are_checked_at_most_five_times(slow_server, monkeypatch):
    probe = _ConcurrencyProbe(monkeypatch)
    with httpx.Client(base_url=slow_server.url, timeout=120) as c:
        statuses = _parallel(40, lambda i: c.post("/api/v1/session", json={"email": "ben@example.org", "password": f"wrong {i:04d} guess"},
                                                 headers={"X-Forwarded-For": "10.0.0.1"}).status_code)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 5 and probe.calls <= 5, (statuses.count(401), probe.calls)
    assert probe.most <= slow_server.settings.auth.max_concurrent_hashes


def test_parallel_unknown_emails_from_one_ip_are_hashed_at_most_twenty_times(slow_server, monkeypatch):
    probe = _ConcurrencyProbe(monkeypatch)
    with httpx.Client(base_url=slow_server.url, timeout=120) as c:
        statuses = _parallel(45, lambda i: c.post("/api/v1/session", json={"email": f"nobody{i}@example.org", "password": "wrong password"},
                                                 headers={"X-Forwarded-For": "10.0.0.2"}).status_code)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 20 and probe.calls <= 20, (statuses.count(401), probe.calls)
    assert probe.most <= slow_server.settings.auth.max_concurrent_hashes
    # the server still answers at once
    t = time.monotonic()
    assert httpx.get(f"{slow_server.url}/api/v1/health", timeout=30).status_code == 200
    assert time.monotonic() - t < 10


def test_password_hashing_is_bounded_and_excess_is_refused_quickly(world, tmp_path, monkeypatch):
    auth = AuthSettings(argon2_time_cost=40, argon2_memory_kib=4096, argon2_parallelism=1, max_concurrent_hashes=1,
                        hash_wait_s=0.05, login_max_failures=1000)  # ~50 ms a check: 12 at once cannot all wait 0.05 s
    settings = server_settings(tmp_path, world.registry, trust_forwarded_for=True, auth=auth)
    probe = _ConcurrencyProbe(monkeypatch)
    with LiveServer(settings) as s, httpx.Client(base_url=s.url, timeout=120) as c:
        statuses = _parallel(12, lambda i: c.post("/api/v1/session", json={"email": f"x{i}@example.org", "password": "wrong password"},
                                                 headers={"X-Forwarded-For": f"10.0.1.{i}"}).status_code)
    assert probe.most == 1 and set(statuses) <= {401, 429} and 429 in statuses, (probe.most, statuses)


# ---------------------------------------------------------------- 4. Origin on forms
def test_forms_from_an_opaque_or_foreign_origin_are_refused(server, world):
    for origin in ("null", "https://evil.example", "http://127.0.0.1.evil.example"):
        c = server.client()
        c.headers.update(HTML)
        r = c.post("/app/signin", data={"email": "ana@example.org", "password": PASSWORD, "next": "/app"},
                   headers={"Origin": origin})
        assert r.status_code == 403 and "set-cookie" not in r.headers, (origin, r.status_code)
        r = c.post("/app/signup", data={"email": f"o{len(origin)}@example.org", "password": PASSWORD, "password2": PASSWORD,
                                        "role": "licensee"}, headers={"Origin": origin})
        assert r.status_code == 403 and "set-cookie" not in r.headers, origin
        r = c.post("/api/v1/session", json={"email": "ana@example.org", "password": PASSWORD}, headers={"Origin": origin})
        assert r.status_code == 403 and "set-cookie" not in r.headers, origin
    # a session's form from another origin, even with the CSRF token
    ana, csrf = browser(server, "ana@example.org")
    r = ana.post("/app/signout", data={"csrf_token": csrf}, headers={"Origin": "null"})
    assert r.status_code == 403
    # the same origin is fine
    c = server.client()
    r = c.post("/app/signin", data={"email": "ana@example.org", "password": PASSWORD, "next": "/app"},
               headers={"Origin": server.url})
    assert r.status_code == 303 and "consentry_session" in r.headers.get("set-cookie", "")


# ---------------------------------------------------------------- 5. bounded form fields
def test_oversized_form_fields_are_413_with_a_message(server, world):
    big = "x" * (5 * 1024 * 1024)
    c = server.client()
    for path, data in (("/app/signin", {"email": "ana@example.org", "password": big}),
                       ("/app/signup", {"email": "big@example.org", "password": big, "role": "licensee"})):
        r = c.post(path, data=data)
        assert r.status_code == 413 and "form" in r.json()["detail"], (path, r.status_code, r.text[:200])
        r = c.post(path, data=data, headers=HTML)
        assert r.status_code == 413 and 'role="alert"' in r.text
    # one field over its cap in a small enough body
    r = c.post("/app/signin", data={"email": "ana@example.org", "password": "y" * 100_000})
    assert r.status_code == 413 and "password" in r.json()["detail"]
    ana, csrf = browser(server, "ana@example.org")
    r = ana.post(f"/app/works/{world.works['ana1']}/terms", data={"csrf_token": csrf, "tdm.decision": "deny", "valid_from": big})
    assert r.status_code == 413
    # a multipart upload's text field
    r = server.client(world.tokens["ana"]).post("/api/v1/works", data={"title": big},
                                               files={"files": ("a.wav", world.clips["ana1"].read_bytes())})
    assert r.status_code == 413 and "title" in r.json()["detail"]


# ---------------------------------------------------------------- 6. API docs and security headers
def test_api_docs_are_served_without_third_party_script(server):
    c = server.client()
    r = c.get("/docs")
    assert r.status_code == 200 and "/api/v1/works" in r.text and "works:read" in r.text
    assert "<script" not in r.text.lower() and "cdn" not in r.text.lower() and "http://" not in r.text.replace(server.url, "")
    assert c.get("/redoc").status_code == 404
    assert c.get("/openapi.json").status_code == 200


def test_every_answer_carries_the_security_headers(server, world, scanned):
    lic = server.client(world.tokens["lic"])
    answers = [server.client().get(p) for p in ("/docs", "/openapi.json", "/api/v1/health", "/robots.txt",
                                                  "/terms/index.html", "/terms/index.json", "/api/v1/works", "/nope")]
    answers += [lic.get(f"/api/v1/scans/{scanned['scan_id']}/report/html"), lic.get("/api/v1/works"),
                server.client().get("/app"), server.client().get("/app/static/app.css")]
    for r in answers:
        h = r.headers
        assert h.get("x-content-type-options") == "nosniff", r.url
        assert h.get("x-frame-options") == "DENY", r.url
        assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), r.url
        assert "script-src" not in h["content-security-policy"] or "script-src 'self'" in h["content-security-policy"]
        assert "unsafe-eval" not in h["content-security-policy"]
        assert h.get("referrer-policy"), r.url


# ---------------------------------------------------------------- 7. stale partial uploads, slow request heads
def test_partial_uploads_of_a_killed_server_are_removed_at_start(world, tmp_path):
    settings = server_settings(tmp_path, world.registry)
    incoming = settings.incoming_dir
    incoming.mkdir(parents=True)
    stale = incoming / ".part-0123456789abcdef"
    stale.write_bytes(b"half an upload")
    keep = incoming / "not-a-part.txt"
    keep.write_bytes(b"x")
    with LiveServer(settings):
        assert not stale.exists() and keep.exists()


class HeadDeadlineServer(LiveServer):
    """A LiveServer run with the options ``consentry serve`` gives uvicorn."""

    def __init__(self, settings) -> None:
        from consentry.adapters.api.serving import uvicorn_options

        super().__init__(settings)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on",
                                **{**uvicorn_options(settings), "timeout_graceful_shutdown": 2})
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)


def _closed_within(sock: socket.socket, seconds: float, *, drip: bytes = b"") -> bool:
    """Whether the server closes the connection within ``seconds`` (sending ``drip`` a byte at a time meanwhile)."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except socket.timeout:
            pass
        except OSError:
            return True
        if drip:
            try:
                sock.sendall(drip[:1])
            except OSError:
                return True
            drip = drip[1:] or b"X"
    return False


def test_a_connection_that_sends_its_request_head_slowly_is_closed(world, tmp_path):
    settings = server_settings(tmp_path, world.registry, header_timeout_s=1.0)
    with HeadDeadlineServer(settings) as s:
        assert httpx.get(f"{s.url}/api/v1/health", timeout=30).status_code == 200  # a normal request is served
        with socket.create_connection(("127.0.0.1", s.port)) as sock:
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            assert _closed_within(sock, 30), "a half-sent request head kept the connection open"
        with socket.create_connection(("127.0.0.1", s.port)) as sock:
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\n")
            assert _closed_within(sock, 30, drip=b"X-Slow: " + b"a" * 200), "a dripping request head kept the connection open"
        with socket.create_connection(("127.0.0.1", s.port)) as sock:  # after one request, the next head too
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            sock.settimeout(30)
            assert b"200" in sock.recv(4096).split(b"\r\n", 1)[0]
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\n")
            assert _closed_within(sock, 30, drip=b"X-Slow: " + b"a" * 200)


# ---------------------------------------------------------------- 8. creator names cannot be squatted
def test_a_creator_name_typed_at_sign_up_gives_no_works_registered_by_others(server, world):
    admin = server.client(world.tokens["admin"])
    anon = server.client()
    r = anon.post("/api/v1/accounts/signup", json={"email": "squatter@example.org", "password": PASSWORD, "role": "creator",
                                                   "creator": "Future Artist"})
    assert r.status_code == 201, r.text
    squatter_id = r.json()["account_id"]
    sq = server.client()
    assert sq.post("/api/v1/session", json={"email": "squatter@example.org", "password": PASSWORD}).status_code == 200
    csrf = sq.get("/api/v1/session").json()["csrf_token"]
    sq.headers["X-CSRF-Token"] = csrf
    # the squatter's own upload is its own
    own = write_wav(world.media / "future-own.wav", notes(11, duration_s=12.0), sample_rate_hz=SR)
    r = sq.post("/api/v1/works", files={"files": ("own.wav", own.read_bytes())})
    assert r.status_code == 202, r.text
    job = wait_job(sq, r.json()["job_id"])
    own_id = job["result"]["works"][0]["work_id"]
    assert sq.put(f"/api/v1/works/{own_id}/terms", json={"uses": {"tdm": {"decision": "allow"}}}).status_code == 200
    assert sq.put("/api/v1/creators/Future Artist/terms", json={"uses": {"tdm": {"decision": "deny"}}}).status_code == 200
    # works registered later by someone else (the command line) under the same name are not the squatter's
    other = write_wav(world.media / "future-cli.wav", notes(12, duration_s=12.0), sample_rate_hz=SR)
    with Registry.open(world.registry) as reg:
        cli_id = reg.register([other], creator="Future Artist", title="by the label", terms=Terms(decision="deny"),
                              workers=1).registered[0].work_id
    r = sq.put(f"/api/v1/works/{cli_id}/terms", json={"uses": {"ai_training": {"decision": "allow"}}})
    assert r.status_code == 404, r.text
    # nor is what licensees owe for them: the squatter's statement holds only the works it controls
    licensed = write_wav(world.media / "future-licensed.wav", notes(14, duration_s=12.0), sample_rate_hz=SR)
    with Registry.open(world.registry) as reg:
        licensed_id = reg.register([licensed], creator="Future Artist", title="licensed by the label", workers=1,
                                   terms=Terms(decision="license", price=30.0, currency="EUR")).registered[0].work_id
    lic = server.client(world.tokens["lic"])
    r = lic.post("/api/v1/ledger/uses", json={"run": "squat-check", "work_ids": [licensed_id]})
    assert r.status_code == 201, r.text
    assert sq.get("/api/v1/ledger/statements").json()["statements"] == []
    assert licensed_id not in {e["work_id"] for e in sq.get("/api/v1/ledger/entries").json()["entries"]}
    assert sq.delete(f"/api/v1/works/{cli_id}").status_code == 404
    assert sq.get(f"/api/v1/works/{cli_id}").status_code == 404
    assert cli_id not in {w["work_id"] for w in sq.get("/api/v1/works").json()}
    r = sq.put("/api/v1/creators/Future Artist/terms", json={"uses": {"ai_training": {"decision": "allow"}}})
    assert r.status_code == 403 and "bind" in r.json()["detail"]
    web, wcsrf = browser(server, "squatter@example.org")
    assert web.get(f"/app/works/{cli_id}").status_code == 404
    r = web.post(f"/app/works/{cli_id}/terms", data={"csrf_token": wcsrf, "ai_training.decision": "allow"})
    assert r.status_code == 404
    with Registry.open(world.registry) as reg:
        work = reg.work(cli_id)
        assert work.removed_at is None and reg.effective_terms(cli_id)[0].uses["ai_training"].decision == "deny"
    # a claim about that work names "Future Artist" as a party: not the squatter's to see or answer
    ana = server.client(world.tokens["ana"])
    r = ana.post("/api/v1/works", files={"files": ("copy.wav", other.read_bytes())})
    job = wait_job(ana, r.json()["job_id"])
    claim_id = job["result"]["claims"][0]["claim_id"]
    assert sq.get(f"/api/v1/claims/{claim_id}").status_code == 404
    assert sq.post(f"/api/v1/claims/{claim_id}/answer", json={"contest": False}).status_code == 404
    assert claim_id not in {c["claim_id"] for c in sq.get("/api/v1/claims").json()}
    assert claim_id not in web.get("/app/claims").text and claim_id not in web.get("/app").text
    # an admin's upload under the name, or a registration on the command line, is refused until the account is bound
    from typer.testing import CliRunner

    from consentry.adapters.cli.main import app as cli_app

    out = CliRunner().invoke(cli_app, ["--registry", str(world.registry), "register", "--no-melody", "--creator",
                                       "Future Artist", str(other)])
    assert out.exit_code == 1 and "bind" in out.output + str(out.exception), out.output  # one line from main()
    r = admin.post("/api/v1/works", files={"files": ("x.wav", other.read_bytes())}, data={"creator": "future artist"})
    assert r.status_code == 409 and "bind" in r.json()["detail"]
    # ... and so is a file whose artist tag gives the name, registered without --creator
    from mutagen.flac import FLAC

    from conftest import encode

    tagged = encode(world.media / "future-tagged.flac", notes(13, duration_s=12.0), sample_rate_hz=SR, codec="flac")
    tags = FLAC(tagged)
    tags["artist"] = "Future Artist"
    tags.save()
    with Registry.open(world.registry) as reg:
        summary = reg.register([tagged], workers=1, melody=False)
    assert not summary.registered and len(summary.errors) == 1, summary
    assert "artist tag" in summary.errors[0][1] and "bind" in summary.errors[0][1]
    # once an admin binds the account to the name, it controls the name's works
    r = admin.post(f"/api/v1/accounts/{squatter_id}/bind")
    assert r.status_code == 200, r.text
    assert sq.put(f"/api/v1/works/{cli_id}/terms", json={"uses": {"ai_training": {"decision": "deny"}}}).status_code == 200
    assert cli_id in {w["work_id"] for w in sq.get("/api/v1/works").json()}
    owed = sq.get("/api/v1/ledger/statements").json()["statements"]
    assert [s["creator"] for s in owed] == ["Future Artist"] and owed[0]["totals"] == {"EUR": 30.0}
    assert sq.get(f"/api/v1/claims/{claim_id}").status_code == 200
    # a creator account an admin made is bound from the start (the world's accounts): unchanged
    assert ana.get(f"/api/v1/works/{world.works['ana1']}").status_code == 200


def test_who_controls_a_work_is_kept_in_the_store_on_both_backends(registry_spec, tmp_path):
    """The binding and the registrant are rows of ``resource_owners`` (no schema change): the same on every store;
    a registry from before the rule gets them at the server's start (jobs and the audit log)."""
    from consentry.services.accounts import audit, create_account
    from consentry.domain.accounts import Principal
    from consentry.services.accounts import controls_work, record_control_of_earlier_registrations, record_registrant

    def principal(a):
        return Principal(account_id=a["account_id"], email=a["email"], role="creator", creator=a["creator"], via="token")

    paths = [write_wav(tmp_path / f"w{n}.wav", notes(21 + n, duration_s=8.0), sample_rate_hz=SR) for n in range(3)]
    with Registry.open(registry_spec) as reg:
        zed_work, old_work, cli_work = (reg.register([p], creator=c, title=p.stem, terms=Terms(decision="deny"),
                                                     workers=1).registered[0]
                                        for p, c in zip(paths, ("Zed", "Old Signup", "Old Admin")))
        signed_up = create_account(reg.store, email="zed@example.org", password=PASSWORD, role="creator", creator="Zed",
                                   auth=FAST_AUTH, existing_creators=set())
        assert not controls_work(reg.store, principal(signed_up), zed_work)
        record_registrant(reg.store, [zed_work.work_id], account_id=signed_up["account_id"])
        assert controls_work(reg.store, principal(signed_up), zed_work)
        bound = create_account(reg.store, email="yan@example.org", password=PASSWORD, role="creator", creator="Yan",
                               auth=FAST_AUTH)  # made by an admin: bound to the name
        later = reg.register([write_wav(tmp_path / "y.wav", notes(31, duration_s=8.0), sample_rate_hz=SR)], creator="Yan",
                             title="y", terms=Terms(decision="deny"), workers=1).registered[0]
        assert controls_work(reg.store, principal(bound), later)
        # before the rule: a signed-up account's finished registration job, an admin-made account in the audit log
        old = create_account(reg.store, email="old@example.org", password=PASSWORD, role="creator", creator="Old Signup",
                             auth=FAST_AUTH, existing_creators=set())
        reg.store.add_job({"job_id": "job-old", "kind": "register", "account_id": old["account_id"], "status": "queued",
                           "params": {}, "created_at": "2026-03-01T12:00:00+00:00"})
        reg.store.update_job("job-old", status="succeeded", result={"works": [{"work_id": old_work.work_id}]})
        admin_made = create_account(reg.store, email="adm@example.org", password=PASSWORD, role="creator",
                                    creator="Old Admin", auth=FAST_AUTH, existing_creators=set())
        audit(reg.store, principal=None, actor="cli:test", action="accounts.create", target_kind="account",
              target_id=admin_made["account_id"])
        assert not controls_work(reg.store, principal(old), old_work)
        assert not controls_work(reg.store, principal(admin_made), cli_work)
        record_control_of_earlier_registrations(reg.store)
        assert controls_work(reg.store, principal(old), old_work)
        assert controls_work(reg.store, principal(admin_made), cli_work)
        assert not controls_work(reg.store, principal(old), cli_work)
