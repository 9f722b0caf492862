"""The server applies the claims' deadline rules on its own (docs/claims.md, docs/server.md)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from consentry.services.claims import detect_ownership_conflicts
from consentry.services.registry import Registry

from serverkit import LiveServer, make_world, server_settings


def test_an_unanswered_claim_past_its_deadline_is_resolved_by_the_server(tmp_path):
    w = make_world(tmp_path)
    with Registry.open(w.registry) as reg:
        copy = reg.register([w.media / "ana1.wav"], creator="Ben Ode", title="copy", workers=1)
        assert len(copy.claims) == 1  # opened now, answer due in 30 days
        fresh = copy.claims[0]
        # A second conflict, opened 40 days ago: its answer is overdue.
        old = datetime.now(timezone.utc) - timedelta(days=40)
        late = reg.register([w.media / "ben1.wav"], creator="Ana Lima", title="late", workers=1, detect_claims=False)
        (overdue,) = detect_ownership_conflicts(reg, late.registered, now=old)
    with LiveServer(server_settings(tmp_path, w.registry, claims_sweep_s=0.2)) as srv, srv.client(w.tokens["admin"]) as c:
        deadline = time.monotonic() + 30
        while c.get(f"/api/v1/claims/{overdue.claim_id}").json()["state"] == "open":
            assert time.monotonic() < deadline, "the overdue claim was not expired by the server"
            time.sleep(0.1)
        assert c.get(f"/api/v1/claims/{overdue.claim_id}").json()["state"] == "resolved_a"
        assert c.get(f"/api/v1/claims/{fresh.claim_id}").json()["state"] == "open"  # not yet due: untouched
        records = c.get("/api/v1/audit", params={"action": "claims.deadline"}).json()
        assert [r["target_id"] for r in records] == [overdue.claim_id]
        assert records[0]["actor"] == "system"


def test_works_uploaded_to_the_server_get_their_melody_stored(tmp_path):
    """By default the server stores each registered work's melody, as `consentry register` does."""
    from consentry.services.check.engines import melody_engine_id

    from serverkit import wait_job

    w = make_world(tmp_path)
    with LiveServer(server_settings(tmp_path, w.registry, store_melodies=True)) as srv, srv.client(w.tokens["ana"]) as c:
        data = (w.media / "ana1.wav").read_bytes()[:44] + bytes(reversed((w.media / "ana1.wav").read_bytes()[44:]))
        r = c.post("/api/v1/works", files={"files": ("reversed.wav", data, "audio/wav")})
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["job_id"])
        assert job["status"] == "succeeded", job
        (work_id,) = [x["work_id"] for x in job["result"]["works"]]
        assert job["result"]["melody_errors"] == []
    with LiveServer(server_settings(tmp_path, w.registry)) as srv, srv.client(w.tokens["ben"]) as c:
        # Ben uploads Ana's song: registered for Ben, with an ownership claim, written to the audit log.
        r = c.post("/api/v1/works", files={"files": ("mine.wav", (w.media / "ana1.wav").read_bytes(), "audio/wav")})
        job = wait_job(c, r.json()["job_id"])
        (claim,) = job["result"]["claims"]
        assert claim["party_a"]["work_id"] == w.works["ana1"] and claim["state"] == "open"
        with srv.client(w.tokens["admin"]) as admin:
            (rec,) = admin.get("/api/v1/audit", params={"action": "claims.open"}).json()
        assert rec["target_id"] == claim["claim_id"] and rec["actor"] == "ben@example.org"
    with Registry.open(w.registry) as reg:
        assert work_id in reg.store.work_melodies(engine=melody_engine_id())
