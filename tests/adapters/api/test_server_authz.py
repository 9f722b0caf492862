"""The authorisation matrix: every route of the app x anonymous / creator (owner) / other creator / licensee
(owner) / other licensee / admin / expired token / revoked token / token without the route's scope / session
without CSRF, checked against the policy (consentry.domain.accounts.decide).  The matrix is built from the app's
routes: a route without an action (or with an action the policy does not know) fails the test."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.routing import APIRoute
from serverkit import PASSWORD, LiveServer, make_world, server_settings, wait_job

from consentry import Registry
from consentry.domain.accounts import ACTIONS, SCOPES, Principal, decide
from consentry.services.accounts import create_account, create_token
from consentry.adapters.api.deps import ACTION_KEY

PRINCIPALS = ("anonymous", "ana", "ben", "lic", "lic2", "admin", "expired", "revoked", "no_scope", "session_no_csrf")


def _api_routes(routes, prefix: str = ""):
    """(full path, APIRoute) of every API route, through included routers (however FastAPI nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # FastAPI >= 0.120 keeps included routers as they are
            yield from _api_routes(route.original_router.routes, prefix + route.include_context.prefix)


def _routes(app):
    seen = 0
    for path, route in _api_routes(app.routes):
        for method in sorted(route.methods - {"HEAD"}):
            seen += 1
            yield path, route, method
    assert seen > 40, "the app's routes were not found"


def _dependency_actions(dependant) -> set[str]:
    out = set()
    for d in dependant.dependencies:
        if getattr(d.call, "action", None):
            out.add(d.call.action)
        out |= _dependency_actions(d)
    return out


@pytest.fixture(scope="module")
def matrix_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("authz")
    w = make_world(root)
    extra = {}
    with Registry.open(w.registry) as reg:
        from serverkit import FAST_AUTH

        for name in ("login", "victim"):
            extra[name] = create_account(reg.store, email=f"{name}@example.org", password=PASSWORD, role="licensee",
                                         auth=FAST_AUTH)
        extra["spare_token"] = create_token(reg.store, account=w.accounts["ana"], name="spare", scopes=["works:read"])[0]
        admin = w.accounts["admin"]
        _, extra["expired"] = create_token(reg.store, account=admin, name="old", scopes=list(SCOPES), expires_in_days=1,
                                           now=datetime.now(timezone.utc) - timedelta(days=3))
        tok, extra["revoked"] = create_token(reg.store, account=admin, name="gone", scopes=list(SCOPES))
        reg.store.revoke_token(tok["token_id"], at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        extra["minus"] = {s: create_token(reg.store, account=admin, name=f"no-{s}", scopes=[x for x in SCOPES if x != s])[1]
                          for s in SCOPES}
    w.extra = extra
    return w


@pytest.fixture(scope="module")
def matrix_server(matrix_world, tmp_path_factory):
    with LiveServer(server_settings(tmp_path_factory.mktemp("authz-data"), matrix_world.registry)) as s:
        lic = s.client(matrix_world.tokens["lic"])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("a.wav", matrix_world.clips["ana1"].read_bytes())
        scan_job = wait_job(lic, lic.post("/api/v1/scans", files={"dataset": ("d.zip", buf.getvalue())}).json()["job_id"])
        check_job = wait_job(lic, lic.post("/api/v1/checks", files={"file": ("o.wav", matrix_world.clips["ana1"].read_bytes())},
                                           data={"melody": "false", "voice": "false"}).json()["job_id"])
        assert scan_job["status"] == check_job["status"] == "succeeded"
        s.scan_id, s.check_job_id = scan_job["result"]["scan_id"], check_job["job_id"]
        # a claim between lic (a licensee disputing the scan's finding) and Ana Lima (the creator of the work found)
        items = lic.get(f"/api/v1/scans/{s.scan_id}/report/json").json()["items"]
        item_id = next(i["item_id"] for i in items if i["findings"])
        r = lic.post(f"/api/v1/scans/{s.scan_id}/disputes", json={"item_id": item_id, "reason": "a cover, not the recording"})
        assert r.status_code == 201, r.text
        s.claim_id = r.json()[0]["claim_id"]
        yield s


def test_every_route_names_a_known_action(matrix_server):
    for path, route, method in _routes(matrix_server.app):
        action = (route.openapi_extra or {}).get(ACTION_KEY)
        assert action in ACTIONS, f"{method} {path}: no authorisation rule (tag it with act(...))"
        assert _dependency_actions(route.dependant) == {action}, f"{method} {path}: checks another action"
    doc = matrix_server.client().get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op.get(ACTION_KEY) in ACTIONS, f"{method} {path}"


def _principal(world, name: str) -> Principal | None:
    if name == "anonymous":
        return None
    if name == "session_no_csrf":
        name = "admin"
    a = world.accounts[name]
    return Principal(account_id=a["account_id"], email=a["email"], role=a["role"], creator=a["creator"], via="token",
                     scopes=frozenset(SCOPES))


def _fill(path: str, world, server) -> tuple[str, dict]:
    """The URL for a route's path with its parameters naming resources, and who owns them."""
    values = {"work_id": world.works["ana1"], "creator": "Ana Lima", "token_id": world.extra["spare_token"]["token_id"],
              "account_id": world.extra["victim"]["account_id"], "scan_id": server.scan_id, "job_id": server.check_job_id,
              "fmt": "csv", "server": "nginx", "name": f"{world.works['ana2']}.json", "page": "index.json",
              "creator_id": "ana-lima", "claim_id": server.claim_id, "seq": "1", "asset": "app.css"}
    owners = {}
    params = re.findall(r"{(\w+)(?::path)?}", path)
    for p in params:
        if p in ("work_id", "creator"):
            owners["owner_creator"] = "Ana Lima"
        elif p in ("scan_id", "job_id"):
            owners["owner_account"] = world.accounts["lic"]["account_id"]
        elif p == "token_id":
            owners["owner_account"] = world.accounts["ana"]["account_id"]
        elif p == "claim_id":
            owners["owner_parties"] = [("licensee", "lic@example.org"), ("creator", "Ana Lima")]
        if p in ("work_id", "scan_id", "job_id", "token_id", "claim_id"):
            owners["hide_others"] = True  # named by id: someone else's is a 404, as an unknown id
    url = re.sub(r"{(\w+)(?::path)?}", lambda m: values[m.group(1)], path)
    return url, owners


def _request(client, method: str, url: str, route: APIRoute, headers: dict):
    body = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
    if "multipart/form-data" in body:
        return client.request(method, url, files={"note": (None, "matrix")}, headers=headers)
    if route.body_field is not None:
        return client.request(method, url, json={}, headers=headers)
    return client.request(method, url, headers=headers)


def test_authorisation_matrix(matrix_server, matrix_world):
    w, s = matrix_world, matrix_server
    admin_session = s.client()
    assert admin_session.post("/api/v1/session", json={"email": "admin@example.org", "password": PASSWORD}).status_code == 200
    failures, checked = [], 0
    for path, route, method in _routes(s.app):
        action = route.openapi_extra[ACTION_KEY]
        rule = ACTIONS[action]
        url, owners = _fill(path, w, s)
        for who in PRINCIPALS:
            headers = {}
            client = s.client()
            if who == "session_no_csrf":
                client = admin_session
            elif who in ("expired", "revoked"):
                headers["Authorization"] = f"Bearer {w.extra[who]}"
            elif who == "no_scope":
                if rule.scope is None:
                    continue
                headers["Authorization"] = f"Bearer {w.extra['minus'][rule.scope]}"
            elif who != "anonymous":
                headers["Authorization"] = f"Bearer {w.tokens[who]}"
            r = _request(client, method, url, route, headers)
            checked += 1
            if who in ("expired", "revoked"):
                expected = 401
            elif who == "no_scope":
                expected = 403
            else:
                d = decide(action, _principal(w, who), check_owner=bool(owners), **owners)
                expected = None if d.allowed else d.status
                if who == "session_no_csrf" and d.allowed and method in ("POST", "PUT", "PATCH", "DELETE"):
                    expected = 403
            ok = (r.status_code == expected) if expected else (r.status_code not in (401, 403) and r.status_code < 500)
            if not ok:
                failures.append(f"{method} {path} as {who}: got {r.status_code} ({r.text[:120]}), "
                                f"expected {expected or 'allowed'}")
            if r.status_code in (401, 403, 404):
                assert set(r.json()) == {"detail"} and "\n" not in r.json()["detail"]
    assert not failures, "\n".join(failures)
    assert checked > 300
