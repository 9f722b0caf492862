"""The web app's routes over real HTTP (uvicorn on 127.0.0.1), as a browser without JavaScript would use them:
sign-in and sign-up forms, CSRF, another creator's work, upload errors shown as messages, terms forms, scans and
disputes, claims (answer, evidence, resolve) and the claims JSON API, admin pages, security headers, escaping."""

from __future__ import annotations

import io
import re
import zipfile

import httpx
import pytest
from serverkit import PASSWORD, LiveServer, make_world, server_settings, wait_job

from consentry import Registry

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("web-world"))


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    settings = server_settings(tmp_path_factory.mktemp("web-data"), world.registry, max_audio_bytes=2 * 1024 * 1024)
    with LiveServer(settings) as s:
        yield s


def browser(server: LiveServer, email: str | None = None) -> tuple[httpx.Client, str | None]:
    """A client that behaves like a browser without JavaScript (asks for HTML), signed in through the form."""
    c = server.client()
    c.headers.update(HTML)
    if email is None:
        return c, None
    r = c.post("/app/signin", data={"email": email, "password": PASSWORD, "next": "/app/works"})
    assert r.status_code == 303 and r.headers["location"] == "/app/works", r.text[:300]
    page = c.get("/app").text
    return c, re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)


def alert(html: str) -> str:
    m = re.search(r'role="alert"[^>]*>(.*?)</p>', html, re.S)
    assert m, html[:2000]
    return m.group(1).strip()


def test_pages_need_sign_in_and_show_the_form(server):
    c, _ = browser(server)
    r = c.get("/app/works")
    assert r.status_code == 401 and 'action="/app/signin"' in r.text and 'value="/app/works"' in r.text
    # an API client gets the API's one-line JSON, not a page
    r = server.client().get("/app/works")
    assert r.status_code == 401 and set(r.json()) == {"detail"}
    assert c.get("/app").status_code == 200 and c.get("/app/signup").status_code == 200


def test_sign_in_errors_and_safe_redirects(server):
    c, _ = browser(server)
    r = c.post("/app/signin", data={"email": "ana@example.org", "password": "wrong password", "next": "/app"})
    assert r.status_code == 401 and "password" in alert(r.text).lower()
    assert 'value="ana@example.org"' in r.text and "wrong password" not in r.text
    r = c.post("/app/signin", data={"email": "", "password": ""})
    assert r.status_code == 400 and alert(r.text)
    for hostile in ("//evil.example/app", "https://evil.example/", "/app\\@evil", "javascript:alert(1)"):
        fresh, _ = browser(server)
        r = fresh.post("/app/signin", data={"email": "ben@example.org", "password": PASSWORD, "next": hostile})
        assert r.status_code == 303 and r.headers["location"] == "/app", hostile
    # a sign-in form posted from another site is refused (login CSRF)
    r = c.post("/app/signin", data={"email": "ben@example.org", "password": PASSWORD},
               headers={"Origin": "http://evil.example"})
    assert r.status_code == 403


def test_sign_up_validates_and_signs_in(server, world):
    c, _ = browser(server)
    base = {"role": "creator", "creator": "Nia Sol", "email": "nia@example.org", "password": PASSWORD,
            "password2": PASSWORD}
    r = c.post("/app/signup", data={**base, "password": "short", "password2": "short"})
    assert r.status_code == 400 and "10" in alert(r.text)
    r = c.post("/app/signup", data={**base, "password2": "another password"})
    assert r.status_code == 400 and "differ" in alert(r.text)
    r = c.post("/app/signup", data={**base, "creator": "Ana Lima"})  # a catalogue already registered
    assert r.status_code == 409 and "administrator" in alert(r.text)
    r = c.post("/app/signup", data={**base, "role": "admin"})
    assert r.status_code == 400
    r = c.post("/app/signup", data={**base, "creator": "<b>Nia</b> \u202eSol"})
    assert r.status_code in (303, 400)
    if r.status_code == 303:  # a name with markup is shown escaped, never as markup
        assert "<b>Nia</b>" not in c.get("/app").text
        c.post("/app/signout", data={"csrf_token": re.search(r'csrf_token" value="(\w+)', c.get("/app").text).group(1)})
        base["email"] = "nia2@example.org"
        base["creator"] = "Nia Sol 2"
    r = c.post("/app/signup", data=base)
    assert r.status_code == 303 and c.get("/app").status_code == 200 and "Nia Sol" in c.get("/app").text
    c, _ = browser(server)
    r = c.post("/app/signup", data=base)
    assert r.status_code == 409 and "already" in alert(r.text)


def test_csrf_is_required_on_every_form(server, world):
    c, csrf = browser(server, "ana@example.org")
    wid = world.works["ana1"]
    form = {"ai_training.decision": "allow"}
    r = c.post(f"/app/works/{wid}/terms", data=form)
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post(f"/app/works/{wid}/terms", data={**form, "csrf_token": "0" * 64})
    assert r.status_code == 403
    r = c.post("/app/works", files={"files": ("a.wav", world.clips["ana1"].read_bytes())})
    assert r.status_code == 403 and "CSRF" in r.text
    assert c.post("/app/signout").status_code == 403
    # A multipart body does not put off the check on a route that reads no upload (its CSRF field is never read):
    # without this, any form action could be posted as multipart/form-data with no token.
    r = c.post(f"/app/works/{wid}/terms", files={"x": ("x.txt", b"x")}, data=form)
    assert r.status_code == 403 and "CSRF" in r.text
    assert c.post("/app/signout", files={"x": ("x.txt", b"x")}).status_code == 403
    assert c.delete(f"/api/v1/works/{wid}", headers={"content-type": "multipart/form-data; boundary=x"},
                    ).status_code == 403
    assert c.get(f"/api/v1/works/{wid}").status_code == 200  # still there
    r = c.post(f"/app/works/{wid}/terms", data={**form, "csrf_token": csrf})
    assert r.status_code == 303
    assert "allow" in c.get(f"/app/works/{wid}").text


def test_another_creators_work_is_refused(server, world):
    c, csrf = browser(server, "ana@example.org")
    ben = world.works["ben1"]
    r = c.get(f"/app/works/{ben}")
    assert r.status_code == 404 and "no such work" in alert(r.text)  # as an unknown id (tests/adapters/api/test_server_hardening.py)
    r = c.post(f"/app/works/{ben}/terms", data={"ai_training.decision": "deny", "csrf_token": csrf})
    assert r.status_code == 404
    r = c.post("/app/terms", data={"creator": "Ben Ode", "ai_training.decision": "deny", "csrf_token": csrf})
    assert r.status_code == 303  # a creator's default terms form always acts on its own name
    with Registry.open(world.registry) as reg:
        assert reg.store.creator_terms("Ben Ode") is None
        assert reg.work(ben).terms.decision == "allow"
    works_page = c.get("/app/works").text
    assert world.works["ana1"] in works_page and ben not in works_page
    assert c.get("/app/works/ffffffffffffffff").status_code == 404
    assert c.get("/app/works/..%2F..%2Fetc%2Fpasswd").status_code in (400, 404)


def test_terms_form_errors_are_messages_and_change_nothing(server, world):
    c, csrf = browser(server, "ana@example.org")
    wid = world.works["ana2"]
    with Registry.open(world.registry) as reg:
        before = reg.work(wid).terms_version
    bad = [{"ai_training.decision": "license", "ai_training.price": "-5", "ai_training.currency": "EUR"},
           {"ai_training.decision": "license", "ai_training.price": "ten", "ai_training.currency": "EUR"},
           {"ai_training.decision": "license", "ai_training.price": "5", "ai_training.currency": "euro"},
           {"ai_training.decision": "sell"},
           {"valid_from": "yesterday", "ai_training.decision": "deny"},
           {}]
    for form in bad:
        r = c.post(f"/app/works/{wid}/terms", data={**form, "csrf_token": csrf})
        assert r.status_code == 400, (form, r.status_code)
        message = alert(r.text)
        assert message and "\n" not in message and "Traceback" not in r.text
    with Registry.open(world.registry) as reg:
        assert reg.work(wid).terms_version == before
    r = c.post(f"/app/works/{wid}/terms", data={"ai_generative.decision": "license", "ai_generative.price": "12.5",
                                                "ai_generative.currency": "usd", "ai_generative.unit": "per-minute",
                                                "csrf_token": csrf})
    assert r.status_code == 303
    assert "license 12.5 USD per-minute" in c.get(f"/app/works/{wid}").text


def test_upload_errors_are_shown_as_messages(server, world, tmp_path):
    c, csrf = browser(server, "ana@example.org")
    cases = [
        (("model.ckpt", bytes(range(256)) * 20), 415, "not audio"),   # a text or an image would be taken
        (("empty.wav", b""), 400, "empty"),
        (("big.wav", b"RIFF" + b"\0" * (3 * 1024 * 1024)), 413, "big.wav"),
        (("../../etc/passwd.wav", b"RIFF\x24\x00\x00\x00WAVEfmt garbage"), None, None),
    ]
    for (name, data), status, words in cases:
        r = c.post("/app/works", data={"csrf_token": csrf, "terms": "deny"}, files={"files": (name, data)})
        if status is None:  # accepted as a job (sniffed as WAV) whose registration then fails on the content
            assert r.status_code == 303
            job = c.get(r.headers["location"])
            assert job.status_code == 200
            continue
        assert r.status_code == status, (name, r.status_code, r.text[:300])
        assert words in alert(r.text).lower() or words in alert(r.text)
    r = c.post("/app/works", data={"csrf_token": csrf, "terms": "license", "price": "-1", "currency": "EUR"},
               files={"files": ("a.wav", world.clips["ana1"].read_bytes())})
    assert r.status_code == 400 and "price" in alert(r.text).lower()
    r = c.post("/app/works", data={"csrf_token": csrf}, files={})
    assert r.status_code == 400


def test_upload_without_javascript_registers_and_shows_the_job(server, world, tmp_path):
    from conftest import notes, write_wav

    c, csrf = browser(server, "ben@example.org")
    wav = write_wav(tmp_path / "x.wav", notes(77, duration_s=12.0), sample_rate_hz=22050)
    r = c.post("/app/works", data={"csrf_token": csrf, "terms": "allow"},
               files={"files": ("<img src=x onerror=alert(1)>.wav", wav.read_bytes(), "audio/wav")})
    assert r.status_code == 303 and r.headers["location"].startswith("/app/jobs/")
    job_id = r.headers["location"].rsplit("/", 1)[1]
    api = server.client(world.tokens["ben"])
    assert wait_job(api, job_id)["status"] == "succeeded"
    page = c.get(f"/app/jobs/{job_id}").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert "Registered" in page
    # another account's job page is refused
    other, _ = browser(server, "ana@example.org")
    assert other.get(f"/app/jobs/{job_id}").status_code == 404


def test_security_headers_and_static_files(server):
    c, _ = browser(server)
    r = c.get("/app")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"<script>|\son\w+=", r.text), "inline script or handler"
    assert '<meta name="viewport"' in r.text and '<html lang="en">' in r.text
    css = c.get("/app/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and ":focus-visible" in css.text
    assert c.get("/app/static/app.css", headers={"If-None-Match": css.headers["etag"]}).status_code == 304
    assert c.get("/app/static/app.js").status_code == 200
    for hostile in ("routes.py", "..%2Froutes.py", "%2e%2e%2f__init__.py", "app.css%00.py", "x" * 5000):
        assert c.get(f"/app/static/{hostile}").status_code == 404, hostile


def test_every_form_control_has_a_label(server, world):
    """Server side half of the accessibility check (the browser test checks the rendered pages too)."""
    c, _ = browser(server, "ana@example.org")
    for path in ("/app", "/app/works", f"/app/works/{world.works['ana1']}", "/app/terms", "/app/voices",
                 "/app/findings", "/app/statements", "/app/publish", "/app/claims", "/app/checks"):
        html = c.get(path).text
        assert "<main" in html and "<nav" in html and "<header" in html, path
        ids = set(re.findall(r'<label for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag:
                continue
            m = re.search(r'id="([^"]+)"', tag)
            assert (m and m.group(1) in ids) or "aria-label" in tag, (path, tag)


def test_licensee_scan_dispute_and_claim_flow(server, world):
    lic, lcsrf = browser(server, "lic@example.org")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("set/a.wav", world.clips["ana2"].read_bytes())
    r = lic.post("/app/scans", data={"csrf_token": lcsrf}, files={"dataset": ("set.zip", buf.getvalue())})
    assert r.status_code == 303
    job = wait_job(server.client(world.tokens["lic"]), r.headers["location"].rsplit("/", 1)[1])
    scan_id = job["result"]["scan_id"]
    page = lic.get(f"/app/scans/{scan_id}").text
    assert "ana2" in page and "licensable" in page and f"/api/v1/scans/{scan_id}/report/html" in page
    assert lic.get(f"/api/v1/scans/{scan_id}/report/html").status_code == 200
    # a manifest naming a server path is refused with a message
    r = lic.post("/app/scans", data={"csrf_token": lcsrf}, files={"dataset": ("m.csv", b"path\n/etc/passwd\n")})
    assert r.status_code == 400 and "path" in alert(r.text)
    # another licensee cannot see or dispute the scan
    lic2, l2csrf = browser(server, "lic2@example.org")
    assert lic2.get(f"/app/scans/{scan_id}").status_code == 404
    assert lic2.post(f"/app/scans/{scan_id}/disputes", data={"csrf_token": l2csrf, "item_id": "x", "reason": "y"}).status_code == 404
    # dispute: bad item, no reason, then for real
    r = lic.post(f"/app/scans/{scan_id}/disputes", data={"csrf_token": lcsrf, "item_id": "nope", "reason": "wrong"})
    assert r.status_code == 400 and "no item" in alert(r.text)
    item_id = re.search(r'name="item_id" value="([^"]+)"', page).group(1)
    r = lic.post(f"/app/scans/{scan_id}/disputes", data={"csrf_token": lcsrf, "item_id": item_id, "reason": " "})
    assert r.status_code == 400
    r = lic.post(f"/app/scans/{scan_id}/disputes", data={"csrf_token": lcsrf, "item_id": item_id,
                                                          "reason": "this is our own re-recording"})
    assert r.status_code == 303 and r.headers["location"].startswith("/app/claims/c-")
    claim_id = r.headers["location"].rsplit("/", 1)[1]
    assert lic.post(f"/app/scans/{scan_id}/disputes", data={"csrf_token": lcsrf, "item_id": item_id,
                                                             "reason": "again"}).status_code == 409
    # the creator sees the finding and the claim, and answers; others are refused
    ana, acsrf = browser(server, "ana@example.org")
    assert "set.zip" in ana.get("/app/findings").text  # the dataset by the name its licensee gave it
    assert claim_id in ana.get("/app/claims").text
    ben, bcsrf = browser(server, "ben@example.org")
    assert ben.get(f"/app/claims/{claim_id}").status_code == 404
    assert ben.post(f"/app/claims/{claim_id}/answer", data={"csrf_token": bcsrf, "answer": "concede"}).status_code == 404
    r = ana.post(f"/app/claims/{claim_id}/answer", data={"csrf_token": acsrf, "answer": "maybe"})
    assert r.status_code == 400
    r = ana.post(f"/app/claims/{claim_id}/answer", data={"csrf_token": acsrf, "answer": "contest",
                                                         "note": "the finding is right"})
    assert r.status_code == 303
    assert "contested" in ana.get(f"/app/claims/{claim_id}").text
    r = ana.post(f"/app/claims/{claim_id}/answer", data={"csrf_token": acsrf, "answer": "contest"})
    assert r.status_code == 409 and "allowed now" in alert(r.text)
    # evidence that is not an evidence bundle is refused, nothing stored
    r = ana.post(f"/app/claims/{claim_id}/evidence", data={"csrf_token": acsrf},
                 files={"bundle": ("e.evidence.zip", b"PK\x03\x04 not really a zip")})
    assert r.status_code == 400 and alert(r.text)
    # only an admin resolves
    assert ana.post(f"/app/claims/{claim_id}/resolve", data={"csrf_token": acsrf, "for_party": "b"}).status_code == 403
    admin, xcsrf = browser(server, "admin@example.org")
    assert admin.post(f"/app/claims/{claim_id}/resolve", data={"csrf_token": xcsrf, "for_party": "c"}).status_code == 400
    r = admin.post(f"/app/claims/{claim_id}/resolve", data={"csrf_token": xcsrf, "for_party": "b", "note": "it stands"})
    assert r.status_code == 303
    api = server.client(world.tokens["lic"]).get(f"/api/v1/claims/{claim_id}").json()
    assert api["state"] == "resolved_b" and api["your_role"] == "a" and api["allowed_actions"] == []
    assert [e["action"] for e in api["events"]] == ["open", "contest", "resolve_b"]


def test_claims_api_evidence_bundle_and_hostile_ids(server, world):
    """The claims JSON API: evidence from a real check, stored and verified; unknown and hostile ids."""
    ana = server.client(world.tokens["ana"])
    lic = server.client(world.tokens["lic"])
    check = wait_job(lic, lic.post("/api/v1/checks", files={"file": ("out.wav", world.clips["ana1"].read_bytes())},
                                   data={"melody": "false", "voice": "false"}).json()["job_id"])
    assert check["status"] == "succeeded" and check["result"]["evidence"]
    bundle = lic.get(f"/api/v1/checks/{check['job_id']}/evidence").content
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("out.wav", world.clips["ana1"].read_bytes())
    scan = wait_job(lic, lic.post("/api/v1/scans", files={"dataset": ("d.zip", buf.getvalue())}).json()["job_id"])
    items = lic.get(f"/api/v1/scans/{scan['result']['scan_id']}/report/json").json()["items"]
    item_id = next(i["item_id"] for i in items if i["findings"])
    r = lic.post(f"/api/v1/scans/{scan['result']['scan_id']}/disputes", json={"item_id": item_id, "reason": "x" * 3000})
    assert r.status_code == 422 and set(r.json()) == {"detail"}
    r = lic.post(f"/api/v1/scans/{scan['result']['scan_id']}/disputes", json={"item_id": item_id, "reason": "licensed"})
    assert r.status_code == 201
    claim_id = r.json()[0]["claim_id"]
    r = lic.post(f"/api/v1/claims/{claim_id}/evidence", files={"bundle": ("../../x.zip", bundle)}, data={"note": "ours"})
    assert r.status_code == 200, r.text
    ev = r.json()["events"][-1]["evidence"]
    assert ev["verified"] is True and "file" not in ev and ev["download"].endswith("/2")
    got = ana.get(ev["download"])
    assert got.status_code == 200 and got.content == bundle
    assert server.client(world.tokens["ben"]).get(ev["download"]).status_code == 404
    r = ana.post(f"/api/v1/claims/{claim_id}/withdraw", json={})
    assert r.status_code == 409 and "allowed now" in r.json()["detail"]
    assert lic.post(f"/api/v1/claims/{claim_id}/withdraw", json={"note": "paid"}).json()["state"] == "withdrawn"
    for hostile in ("c-nope", "../../etc", "%00", "x" * 300, "c-" + "é" * 10):
        r = ana.get(f"/api/v1/claims/{hostile}")
        assert r.status_code in (404, 422), (hostile, r.status_code)
        assert set(r.json()) == {"detail"}
    assert [c["claim_id"] for c in server.client(world.tokens["ben"]).get("/api/v1/claims").json()] == []


def test_admin_pages(server, world):
    admin, csrf = browser(server, "admin@example.org")
    page = admin.get("/app/admin/accounts").text
    assert "lic2@example.org" in page
    assert admin.post(f"/app/admin/accounts/{world.accounts['admin']['account_id']}/disable",
                      data={"csrf_token": csrf}).status_code == 400
    lic2 = world.accounts['lic2']['account_id']
    # disabling asks first (what it does, and a way back); nothing changes until it is confirmed
    r = admin.post(f"/app/admin/accounts/{lic2}/disable", data={"csrf_token": csrf})
    assert r.status_code == 200 and "no longer be able to sign in" in r.text and 'name="confirm" value="1"' in r.text
    assert server.client(world.tokens["lic2"]).get("/api/v1/works").status_code == 200
    r = admin.post(f"/app/admin/accounts/{lic2}/disable", data={"csrf_token": csrf, "confirm": "1"})
    assert r.status_code == 303
    assert server.client(world.tokens["lic2"]).get("/api/v1/works").status_code == 401
    page = admin.get(r.headers["location"]).text
    assert "lic2@example.org is disabled" in page and f'action="/app/admin/accounts/{lic2}/enable"' in page
    audit = admin.get("/app/admin/audit?action=accounts.disable").text
    assert world.accounts["lic2"]["account_id"] in audit
    assert admin.get("/app/admin/audit?before_seq=-1").status_code == 422
    ana, _ = browser(server, "ana@example.org")
    assert ana.get("/app/admin/accounts").status_code == 403 and ana.get("/app/admin/audit").status_code == 403


def test_output_check_from_the_web_gives_the_evidence_bundle(server, world):
    lic, csrf = browser(server, "lic@example.org")
    r = lic.post("/app/checks", data={"csrf_token": csrf}, files={"file": ("song.wav", world.clips["ben1"].read_bytes())})
    assert r.status_code == 303
    job_id = r.headers["location"].rsplit("/", 1)[1]
    assert wait_job(server.client(world.tokens["lic"]), job_id, timeout_s=180)["status"] == "succeeded"
    page = lic.get(f"/app/jobs/{job_id}").text
    assert "ben1" in page and f"/api/v1/checks/{job_id}/evidence" in page
    assert lic.get(f"/api/v1/checks/{job_id}/evidence").headers["content-type"] == "application/zip"
    assert job_id in lic.get("/app/checks").text
    # the creator of the work found sees the check among the places the work was found
    ben, _ = browser(server, "ben@example.org")
    assert "song.wav" in ben.get("/app/findings").text
    r = lic.post("/app/checks", data={"csrf_token": csrf}, files={"file": ("weights.bin", bytes(range(256)) * 20)})
    assert r.status_code == 415 and "weights.bin" in alert(r.text)
