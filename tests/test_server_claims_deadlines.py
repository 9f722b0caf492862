"""The server applies the claims' deadline rules on its own (docs/claims.md, docs/server.md)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from consentry.claims.service import detect_ownership_conflicts
from consentry.services import Registry

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
