"""A job says what became of each of its files, over real HTTP (docs/server.md, "Job outcomes").

A job whose every file failed ends ``failed`` with each file's reason; one
where some failed ends ``succeeded`` with those files in ``result.errors``
and ``result.failed`` counting them; the web app's job list and job page
say so.
"""

from __future__ import annotations

import pytest
from conftest import notes, write_wav

from consentry.services.jobs import job_outcome
from serverkit import PASSWORD, SR, LiveServer, make_world, server_settings, wait_job

#: Passes the upload's sniffing (a RIFF/WAVE header), then fails to decode.
BROKEN_WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("outcome-world"))


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    with LiveServer(server_settings(tmp_path_factory.mktemp("outcome-data"), world.registry)) as s:
        yield s


def web_client(server, email: str):
    """A signed-in browser session (the web app reads the session cookie, not tokens)."""
    c = server.client()
    r = c.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


def test_a_register_job_whose_every_file_failed_ends_failed_with_each_reason(server, world):
    ana = server.client(world.tokens["ana"])
    files = [("files", ("first.wav", BROKEN_WAV, "audio/wav")), ("files", ("second.wav", BROKEN_WAV, "audio/wav"))]
    r = ana.post("/api/v1/works", files=files)
    assert r.status_code == 202, r.text
    job = wait_job(ana, r.json()["job_id"])
    assert job["status"] == "failed", job["result"]
    assert job["error"].startswith("every file failed (2 of 2): first.wav: ")
    assert "second.wav: " in job["error"] and "\n" not in job["error"]
    result = job["result"]
    assert result["failed"] == 2 and result["works"] == []
    assert [e["name"] for e in result["errors"]] == ["first.wav", "second.wav"]
    assert all(e["error"] and "/" not in e["error"] for e in result["errors"])  # a reason, and no server path
    assert not [k for k in job["links"] if k.startswith("work:")]

    web = web_client(server, "ana@example.org")
    page = web.get(f"/app/jobs/{job['job_id']}")
    assert page.status_code == 200
    assert "failed" in page.text and "first.wav" in page.text and "second.wav" in page.text
    home = web.get("/app")
    assert home.status_code == 200
    assert "2 of 2 failed" in home.text


def test_a_partly_failed_job_succeeds_and_names_the_failed_files(server, world):
    ana = server.client(world.tokens["ana"])
    good = write_wav(world.media / "new-song.wav", notes(9, duration_s=12.0), sample_rate_hz=SR).read_bytes()
    files = [("files", ("good.wav", good, "audio/wav")), ("files", ("bad.wav", BROKEN_WAV, "audio/wav"))]
    job = wait_job(ana, ana.post("/api/v1/works", files=files).json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["error"] is None
    assert job["result"]["failed"] == 1 and [e["name"] for e in job["result"]["errors"]] == ["bad.wav"]
    assert [w["name"] for w in job["result"]["works"]] == ["good.wav"]
    assert job["done"] == 2 and job["total"] == 2
    web = web_client(server, "ana@example.org")
    assert "bad.wav" in web.get(f"/app/jobs/{job['job_id']}").text
    assert "1 of 2 failed" in web.get("/app").text


def test_an_enrolment_whose_every_sample_failed_ends_failed(server, world):
    ana = server.client(world.tokens["ana"])
    r = ana.post("/api/v1/voices", files={"files": ("voice.wav", BROKEN_WAV, "audio/wav")})
    assert r.status_code == 202, r.text
    job = wait_job(ana, r.json()["job_id"])
    assert job["status"] == "failed", job["result"]
    assert job["error"].startswith("every file failed (1 of 1): voice.wav: ")
    assert job["result"]["failed"] == 1 and job["result"]["voices"] == []


def test_job_outcome_rule():
    errors = [{"name": f"f{i}.wav", "error": f"f{i}.wav: not audio"} for i in range(7)]
    every = {"errors": errors, "_failed": 7}
    out = job_outcome(every, total=7)
    assert out["status"] == "failed" and every["failed"] == 7 and "_failed" not in every
    assert out["error"] == ("every file failed (7 of 7): f0.wav: not audio; f1.wav: not audio; f2.wav: not audio; "
                            "f3.wav: not audio; f4.wav: not audio; and 2 more")
    some = {"errors": errors[:1], "_failed": 1}
    assert job_outcome(some, total=3) == {} and some["failed"] == 1
    assert job_outcome({"matches": []}, total=1) == {}  # a kind that counts no files: its handler decides
    items = {"errors": [{"name": "row:0", "error": "http URL not fetched"}], "_failed": 1, "_item_noun": "item"}
    assert job_outcome(items, total=1)["error"] == "every item failed (1 of 1): row:0: http URL not fetched"
    assert "_item_noun" not in items
    assert job_outcome({"errors": [], "_failed": 0}, total=0) == {}  # nothing to do is not a failure
