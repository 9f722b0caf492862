"""The web app as people read it (issue 22), over real HTTP as a browser without JavaScript: the front door and the
404 page, findings a musician understands (one finding per work with its segments, how sure in words and as a
number, the terms and what they forbid), people's names for datasets and checks, messages without flags or byte
counts, forms that keep the user's choices and confirm a save, roles, and the admin's disable/enable."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest
from conftest import notes, write_wav
from serverkit import SR, LiveServer, make_world, server_settings, wait_job

HTML = {"Accept": "text/html,application/xhtml+xml"}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("people-world"))


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    settings = server_settings(tmp_path_factory.mktemp("people-data"), world.registry, max_audio_bytes=2 * 1024 * 1024)
    with LiveServer(settings) as s:
        yield s


def browser(server, email=None):
    c = server.client()
    c.headers.update(HTML)
    if email is None:
        return c, None
    r = c.post("/app/signin", data={"email": email, "password": PASSWORD, "next": "/app"})
    assert r.status_code == 303, r.text[:300]
    return c, re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get("/app").text).group(1)


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def repeated_scan(server, world):
    """A licensee's scan of "lofi set.zip": one item repeats the same 8 s of work ana1 twice, with other music
    between; returns (scan_id, job)."""
    x = notes(1, duration_s=20.0)  # the signal of work ana1 (serverkit.make_world)
    other = notes(77, duration_s=6.0)
    item = np.concatenate([x[4 * SR:12 * SR], other, x[4 * SR:12 * SR]])
    wav = write_wav(world.media / "mix.wav", item, sample_rate_hz=SR)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("audio/mix.wav", wav.read_bytes())
    lic, csrf = browser(server, "lic@example.org")
    r = lic.post("/app/scans", data={"csrf_token": csrf}, files={"dataset": ("lofi set.zip", buf.getvalue())})
    assert r.status_code == 303
    job = wait_job(server.client(world.tokens["lic"]), r.headers["location"].rsplit("/", 1)[1])
    assert job["status"] == "succeeded", job
    return job["result"]["scan_id"], job


def test_front_door_and_a_404_page_inside_the_app(server):
    c, _ = browser(server)
    r = c.get("/")
    assert r.status_code == 200 and 'href="/app/signin"' in r.text and "<h1>" in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
    for path in ("/no-such-page", "/app/no-such-page"):
        r = c.get(path)
        assert r.status_code == 404 and "text/html" in r.headers["content-type"], path
        assert "<h1>Page not found</h1>" in r.text and '<nav aria-label="Main">' in r.text and 'role="alert"' in r.text
        assert r.headers["x-frame-options"] == "DENY"
    # programs keep the API's JSON
    assert server.client().get("/no-such-page").json() == {"detail": "Not Found"}
    assert c.get("/api/v1/no-such-route").headers["content-type"].startswith("application/json")
    signed_in, _ = browser(server, "ana@example.org")
    r = signed_in.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app"
    # a signed-in person's 404 keeps their menu (and their way out)
    r = signed_in.get("/app/no-such-page")
    assert r.status_code == 404 and "Sign out" in r.text and 'href="/app/signin"' not in r.text


def test_a_repeated_section_is_one_finding_with_its_segments(server, world, repeated_scan):
    scan_id, _ = repeated_scan
    lic, _ = browser(server, "lic@example.org")
    html = lic.get(f"/app/scans/{scan_id}").text
    words = text_of(html)
    # the dataset by its name, the scan id only as a detail
    assert "<h1>Scan of lofi set.zip</h1>" in html
    # stored: one match per segment; shown: one finding of the work, with both segments
    report = server.client(world.tokens["lic"]).get(f"/api/v1/scans/{scan_id}/report/json").json()
    matches = [f for i in report["items"] for f in i["findings"] if f["work_id"] == world.works["ana1"]]
    assert len(matches) == 2, matches
    assert html.count('class="finding"') == 1 and "found 2 times" in words
    assert len(re.findall(r"\d:\d\d–\d:\d\d of the item is \d:\d\d–\d:\d\d of the work", words)) == 2
    # where, as a picture a screen reader can name, and how sure in words and as a number
    assert re.search(r'<svg class="timeline" role="img" aria-label="In the item: 0:0\d to 0:0\d, 0:1\d to 0:2\d of 0:22"', html)
    assert re.search(r"how sure: (certain|almost certain|very likely|likely|possible) \(\d+(\.\d\d)? %\)", words)
    # the terms in force and what they forbid (ana1 is denied for AI training)
    assert "forbids AI training" in words and "AI training : not allowed" in words
    assert "score" not in words.lower()
    # the dispute form names the work
    assert f'name="work_id" value="{world.works["ana1"]}"' in html
    # the downloaded report says the same: one finding, found twice; the files are named after the dataset
    r = lic.get(f"/api/v1/scans/{scan_id}/report/html")
    assert "found 2 times" in r.text
    assert 'filename="lofi-set-report.html"' in r.headers["content-disposition"]
    r = lic.get(f"/api/v1/scans/{scan_id}/clean-manifest")
    assert 'filename="lofi-set-clean.jsonl"' in r.headers["content-disposition"]


def test_checks_and_scans_are_named_by_the_files_people_gave(server, world, repeated_scan):
    lic, csrf = browser(server, "lic@example.org")
    scans = text_of(lic.get("/app/scans").text)
    assert "lofi set.zip" in scans and "up-" not in scans
    r = lic.post("/app/checks", data={"csrf_token": csrf},
                 files={"file": ("my song.wav", world.clips["ana1"].read_bytes())})
    assert r.status_code == 303
    job = wait_job(server.client(world.tokens["lic"]), r.headers["location"].rsplit("/", 1)[1])
    html = lic.get(r.headers["location"]).text
    words = text_of(html)
    assert "<h1>Check of my song.wav</h1>" in html
    assert "ana1" in words and "how sure:" in words and "forbids AI training" in words
    assert "score" not in words.lower()
    if job["result"].get("evidence"):
        assert "Download the evidence" in words
    assert "my song.wav" in text_of(lic.get("/app/checks").text)


def test_terms_form_keeps_the_choices_says_what_to_do_and_confirms_the_save(server, world):
    ana, csrf = browser(server, "ana@example.org")
    wid = world.works["ana1"]
    r = ana.post(f"/app/works/{wid}/terms", data={"csrf_token": csrf, "ai_training.decision": "license",
                                                  "ai_training.currency": "EUR", "tdm.decision": "deny"})
    assert r.status_code == 400
    alert = re.search(r'role="alert"[^>]*>(.*?)</p>', r.text, re.S).group(1)
    assert "needs a price" in alert and "--" not in alert and ">=" not in alert
    # the choices are still there
    assert re.search(r'id="ai_training-decision"[^>]*>.*?<option value="license" selected', r.text, re.S)
    assert re.search(r'id="ai_training-currency"[^>]*value="EUR"', r.text)
    # a save is confirmed
    r = ana.post(f"/app/works/{wid}/terms", data={"csrf_token": csrf, "ai_training.decision": "deny"})
    assert r.status_code == 303
    page = ana.get(r.headers["location"]).text
    assert 'class="saved" role="status"' in page and "Saved" in page
    r = ana.post("/app/terms", data={"csrf_token": csrf, "voice_likeness.decision": "license",
                                     "voice_likeness.price": "ten"})
    assert r.status_code == 400 and "is not a number" in r.text
    assert re.search(r'id="voice_likeness-price"[^>]*value="ten"', r.text)


def test_upload_limits_are_shown_and_refusals_speak_the_users_language(server, world):
    ana, csrf = browser(server, "ana@example.org")
    page = ana.get("/app/works").text
    assert "up to 2 MB per file" in page and 'data-max-bytes="2097152"' in page
    r = ana.post("/app/works", data={"csrf_token": csrf},
                 files={"files": ("big.wav", b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * (3 * 1024 * 1024))})
    assert r.status_code == 413
    alert = re.search(r'role="alert"[^>]*>(.*?)</p>', r.text, re.S).group(1)
    assert "2 MB" in alert and "bytes" not in alert and "smaller" in alert


def test_a_licensee_sees_no_upload_form_and_no_catalogue(server, world):
    lic, _ = browser(server, "lic@example.org")
    page = lic.get("/app/works").text
    assert 'action="/app/works"' not in page and "ana1" not in page and "scan a dataset" in page


def test_claims_name_the_parties_and_offer_only_what_fits(server, world, repeated_scan):
    scan_id, _ = repeated_scan
    lic, csrf = browser(server, "lic@example.org")
    page = lic.get(f"/app/scans/{scan_id}").text
    item_id = re.search(r'name="item_id" value="([^"]+)"', page).group(1)
    r = lic.post(f"/app/scans/{scan_id}/disputes", data={"csrf_token": csrf, "item_id": item_id,
                                                          "work_id": world.works["ana1"], "reason": "our own take"})
    assert r.status_code == 303
    html = lic.get(r.headers["location"]).text
    words = text_of(html)
    # the claimant may withdraw, add a note or evidence; it is not offered to concede its own dispute
    assert 'value="concede"' not in html and "Withdraw the claim" in words
    for heading in ("Add evidence", "Add a note", "Withdraw the claim"):
        assert f"<h3>{heading}</h3>" in html
    # the party that opened the dispute is named, not the system
    assert "lic@example.org (the claimant) opened the dispute" in words and "Consentry (system)" not in words
    ana, _ = browser(server, "ana@example.org")
    claims = text_of(ana.get("/app/claims").text)
    assert "resolve_a" not in claims and "Finding: ana1" in claims
    admin, _ = browser(server, "admin@example.org")
    assert "decide for the claimant" in text_of(admin.get("/app/claims").text)


def test_an_admin_confirms_a_disable_and_can_enable_again(server, world):
    admin, csrf = browser(server, "admin@example.org")
    ben = world.accounts["ben"]["account_id"]
    r = admin.post(f"/app/admin/accounts/{ben}/disable", data={"csrf_token": csrf, "confirm": "1"})
    assert r.status_code == 303
    fresh, _ = browser(server)
    assert fresh.post("/app/signin", data={"email": "ben@example.org", "password": PASSWORD}).status_code == 401
    r = admin.post(f"/app/admin/accounts/{ben}/enable", data={"csrf_token": csrf})
    assert r.status_code == 303 and "is enabled again" in admin.get(r.headers["location"]).text
    assert fresh.post("/app/signin", data={"email": "ben@example.org", "password": PASSWORD}).status_code == 303
    assert ben in admin.get("/app/admin/audit?action=accounts.enable").text


def test_dates_are_for_people_and_pages_have_a_favicon(server, world):
    ana, _ = browser(server, "ana@example.org")
    html = ana.get("/app/works").text
    stamps = re.findall(r'<time datetime="([^"]+)"[^>]*>([^<]+)</time>', html)
    assert stamps and all(re.match(r"\d{4}-\d\d-\d\dT", iso) and not re.search(r"\d{4}-\d\d-\d\dT", shown)
                          and "UTC" in shown for iso, shown in stamps)
    assert '<link rel="icon" href="data:image/svg+xml,' in html
    terms = server.client().get("/terms/index.html").text
    assert '<link rel="icon" href="data:image/svg+xml,' in terms


def _check_job_page(**result) -> str:
    """The web app's page of a finished check job whose result holds ``result``."""
    from consentry.adapters.web.render import _env

    job = {"job_id": "j1", "kind": "check", "status": "succeeded",
           "result": {"output": "out.wav", "duration_s": 30.0, **result}}
    return _env.get_template("job.html.j2").render(principal=None, nav=[], path="/app/jobs/j1", csrf=None,
                                                    title="Check", job=job, recording=[])


def test_a_voice_found_in_telephone_band_audio_is_shown_with_its_caution():
    """The job page's "how sure" words would overstate a telephone-band voice finding: its caution is shown beside."""

    def page(voice: dict) -> str:
        return _check_job_page(voice=[voice])

    found = {"creator": "Ana Lima", "is_match": True, "probability": 0.97}
    html = page(dict(found, caution="little sound above 4.2 kHz in this window (telephone-band or low-rate audio)"))
    assert "the voice of Ana Lima" in html and "Careful: little sound above 4.2 kHz" in html
    assert "Careful" not in page(found)


def test_a_melody_found_in_an_even_stepwise_phrase_is_shown_with_its_caution():
    """A reused-melody finding in dance-like material carries the check's caution on the job page."""
    from consentry.services.check.service import MELODY_REGULAR_CAUTION

    def page(melody: dict) -> str:
        return _check_job_page(melody=[melody])

    found = {"work_id": "w1", "title": "The Reel", "creator": "Ana Lima", "confidence": 0.99}
    html = page(dict(found, caution=MELODY_REGULAR_CAUTION))
    assert "The Reel" in html and "Careful: an even-rhythm, stepwise phrase" in html
    assert "Careful" not in page(found)
