"""`consentry accounts` and `consentry tokens`: the first admin, tokens shown once, revocation, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from consentry import Registry
from consentry.domain.accounts import AuthError
from consentry.services.accounts import principal_from_token
from consentry.adapters.cli.main import app


def cli(registry, *args, input=None):
    return CliRunner().invoke(app, ["--registry", str(registry), *args], input=input)


def test_first_admin_tokens_and_revocation(tmp_path):
    reg = tmp_path / "r.db"
    pw = tmp_path / "pw"
    pw.write_text("a long admin password\nignored second line\n")
    r = cli(reg, "accounts", "create", "--email", "Root@Example.org", "--role", "admin", "--password-file", str(pw), "--json")
    assert r.exit_code == 0, r.output
    admin = json.loads(r.output)
    assert admin["email"] == "root@example.org" and admin["role"] == "admin"
    r = cli(reg, "accounts", "create", "--email", "ana@example.org", "--role", "creator", "--creator", "Ana Lima",
            input="another password\nanother password\n")
    assert r.exit_code == 0 and "(creator Ana" in r.output
    r = cli(reg, "tokens", "create", "--account", "ana@example.org", "--name", "uploader", "--scope", "works:read,works:write",
            "--json")
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    secret = made["secret"]
    assert made["token"]["scopes"] == ["works:read", "works:write"]
    listed = cli(reg, "tokens", "list", "--json").output
    assert secret not in listed and made["token"]["token_id"] in listed
    with Registry.open(reg) as registry:
        assert principal_from_token(registry.store, secret).creator == "Ana Lima"
    assert cli(reg, "tokens", "revoke", made["token"]["token_id"]).exit_code == 0
    with Registry.open(reg) as registry:
        try:
            principal_from_token(registry.store, secret)
            raise AssertionError("a revoked token still works")
        except AuthError as exc:
            assert "revoked" in str(exc)
        actions = [r["action"] for r in registry.store.audit_records()]
        assert actions == ["tokens.revoke", "tokens.create", "accounts.create", "accounts.create"]
        assert {r["actor"] for r in registry.store.audit_records()} == {f"cli:{__import__('getpass').getuser()}"}
        # The same record as the API's (consentry.services.account_views.create_token): account, name, scopes, expiry.
        (made_rec,) = registry.store.audit_records(action="tokens.create")
        assert made_rec["details"] == {"account_id": made["token"]["account_id"], "name": "uploader",
                                       "scopes": ["works:read", "works:write"], "expires_at": made["token"]["expires_at"]}
    r = cli(reg, "accounts", "disable", "ana@example.org", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["disabled_at"]
    rows = [json.loads(line) for line in cli(reg, "accounts", "list", "--json").output.splitlines()]
    assert {a["email"] for a in rows} == {"root@example.org", "ana@example.org"}
    assert all("password_hash" not in a for a in rows)


def test_errors_are_one_line(tmp_path):
    reg = tmp_path / "r.db"
    pw = tmp_path / "pw"
    pw.write_text("a long admin password\n")
    base = [sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(reg)]
    ok = subprocess.run([*base, "accounts", "create", "--email", "a@example.org", "--role", "admin",
                         "--password-file", str(pw)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for args, words in (
        (["accounts", "create", "--email", "a@example.org", "--role", "licensee", "--password-file", str(pw)], "already"),
        (["accounts", "create", "--email", "b@example.org", "--role", "admin", "--password-file", str(tmp_path / "nope")],
         "cannot read"),
        (["tokens", "create", "--account", "a@example.org", "--name", "x", "--scope", "fly"], "unknown"),
    ):
        r = subprocess.run([*base, *args], capture_output=True, text=True)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr, r.stderr
