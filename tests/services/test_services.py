"""The use cases every adapter calls (consentry.services): CLI and API give the same answer and leave the same audit
record (issue 16)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import notes, write_wav
from typer.testing import CliRunner

from consentry import Registry

SR = 22050


def _request(ip: str = "10.0.0.7"):
    """What the API routes read of a request here: the client's address (no forwarded-for trusted)."""
    settings = SimpleNamespace(trust_forwarded_for=False)
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(ctx=SimpleNamespace(settings=settings))),
                           headers={}, client=SimpleNamespace(host=ip))


@pytest.fixture
def two_works(tmp_path):
    for i, seed in enumerate((2101, 2102)):
        write_wav(tmp_path / f"w{i}.wav", notes(seed, duration_s=6.0, sr=SR), sample_rate_hz=SR)
    reg_path = tmp_path / "r.db"
    with Registry.open(reg_path) as reg:
        s = reg.register([tmp_path / "w0.wav", tmp_path / "w1.wav"], creator="Ana Lima", workers=1)
    return reg_path, [w.work_id for w in s.registered]


def _admin():
    from consentry.domain.accounts import Principal

    return Principal(account_id="acc-admin", email="root@example.org", role="admin", creator=None, via="session")


def test_cli_and_api_set_terms_and_remove_alike_each_with_an_audit_record(two_works, monkeypatch):
    from consentry.adapters.api.models import TermsIn
    from consentry.adapters.api.routes import works as api_works
    from consentry.adapters.cli.main import app

    monkeypatch.setattr("getpass.getuser", lambda: "ana")
    reg_path, (w_cli, w_api) = two_works
    runner = CliRunner()
    r = runner.invoke(app, ["--registry", str(reg_path), "terms", "set", w_cli, "--terms", "license", "--price", "5",
                            "--currency", "EUR", "--json"])
    assert r.exit_code == 0, r.output
    by_cli = json.loads(r.stdout)
    body = TermsIn.model_validate({"uses": {"ai_training": {"decision": "license", "price": 5, "currency": "EUR"}}})
    with Registry.open(reg_path, create=False) as reg:
        by_api = api_works.set_work_terms(w_api, body, _request(), _admin(), reg)
    assert {k: v for k, v in by_cli.items() if k != "work_id"} == {k: v for k, v in by_api.items() if k != "work_id"}
    assert by_cli["disputed"] is False and by_cli["uses"]["ai_training"]["price"] == 5

    r = runner.invoke(app, ["--registry", str(reg_path), "works", "remove", w_cli, "--json"])
    assert r.exit_code == 0, r.output
    with Registry.open(reg_path, create=False) as reg:
        api_works.remove_work(w_api, _request(), _admin(), reg)
        assert all(w.removed_at for w in reg.works(include_removed=True))
        records = reg.store.audit_records(limit=20)
    done = {(x["action"], x["target_id"]): x for x in records}
    for action in ("terms.set", "works.remove"):
        cli, api = done[(action, w_cli)], done[(action, w_api)]
        assert cli["actor"] == "cli:ana" and cli["account_id"] is None
        assert api["actor"] == "root@example.org" and api["account_id"] == "acc-admin" and api["ip"] == "10.0.0.7"
    assert done[("works.remove", w_cli)]["details"] == {"title": "w0", "creator": "Ana Lima"}
    assert done[("terms.set", w_cli)]["details"]["changes"]["uses"]["ai_training"] == {
        "decision": "license", "price": 5.0, "currency": "EUR", "unit": "per-work"}


def test_cli_creator_terms_leave_an_audit_record(two_works, monkeypatch):
    from consentry.adapters.cli.main import app

    monkeypatch.setattr("getpass.getuser", lambda: "ana")
    reg_path, _ = two_works
    r = CliRunner().invoke(app, ["--registry", str(reg_path), "terms", "set", "--creator", "Ana Lima", "--use", "tdm",
                                 "--terms", "allow", "--json"])
    assert r.exit_code == 0, r.output
    with Registry.open(reg_path, create=False) as reg:
        (rec,) = reg.store.audit_records(action="creator_terms.set")
    assert rec["actor"] == "cli:ana" and rec["target_id"] == "Ana Lima" and rec["details"]["version"] == 1


def test_cli_ledger_record_leaves_the_audit_record_the_api_leaves(two_works, monkeypatch):
    from consentry.adapters.cli.main import app
    from consentry.services.ledger import entries_for, statements_for

    monkeypatch.setattr("getpass.getuser", lambda: "ana")
    reg_path, (w0, _) = two_works
    runner = CliRunner()
    r = runner.invoke(app, ["--registry", str(reg_path), "terms", "set", w0, "--terms", "license", "--price", "5",
                            "--currency", "EUR"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["--registry", str(reg_path), "ledger", "record", "--run", "model-v1", "--work", w0, "--json"])
    assert r.exit_code == 0, r.output
    (entry,) = json.loads(r.stdout)["entries"]
    with Registry.open(reg_path, create=False) as reg:
        (rec,) = reg.store.audit_records(action="ledger.record")
        assert [e["entry_id"] for e in entries_for(reg)] == [entry["entry_id"]]
        assert [s["creator"] for s in statements_for(reg)] == ["Ana Lima"]
    assert rec["actor"] == "cli:ana" and rec["target_id"] == entry["entry_id"]
    assert rec["details"] == {"run": "model-v1", "scan_id": None, "entry_ids": [entry["entry_id"]]}
