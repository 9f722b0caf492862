"""Issue 15: who signed an evidence bundle, and what leaves the server with it.

A bundle re-signed with another key (creator and copied share changed, new
``signer.pub``) must fail verification by default, naming both keys, on the
command line and on the server; the claim page says whose key signed. Check
results and evidence facts carry file names, never server paths; a submitted
bundle is recorded under the name it was uploaded with.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from serverkit import PASSWORD, LiveServer, make_world, server_settings, wait_job
from typer.testing import CliRunner

from consentry import Registry
from consentry.domain.claims import open_claim
from consentry.adapters.cli.main import app
from consentry.services.evidence import canonical_json, key_fingerprint, load_or_create_signing_key
from consentry.services.evidence.keys import public_key_pem

runner = CliRunner()


def registry_key_fingerprint(folder: Path) -> str:
    """The registry's evidence key (made by the first check --evidence)."""
    return key_fingerprint(load_or_create_signing_key(folder))


def short_fingerprint(fp: str) -> str:
    """How people are shown a key: its first 16 hex digits and an ellipsis."""
    return fp.split(":")[1][:16] + "…"


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def forge(good: Path, out: Path) -> tuple[Path, Path, str]:
    """``good`` with another creator and copied share, re-signed by a new key; returns (bundle, signer.pub, fingerprint)."""
    key = Ed25519PrivateKey.generate()
    members = _members(good)
    facts = json.loads(members["facts.json"])
    for item in facts["findings"]["recording"]:
        item["creator"] = "Mallory"
    facts["findings"]["copied_share"] = 1.0
    members["facts.json"] = canonical_json(facts)
    members["facts.json.sig"] = key.sign(members["facts.json"])
    members["signer.pub"] = public_key_pem(key)
    manifest = json.loads(members["manifest.json"])
    manifest["key_fingerprint"] = key_fingerprint(key)
    for name in ("facts.json", "facts.json.sig", "signer.pub"):
        manifest["files"][name] = {"sha256": hashlib.sha256(members[name]).hexdigest(), "size_bytes": len(members[name])}
    members["manifest.json"] = canonical_json(manifest)
    members["manifest.json.sig"] = key.sign(members["manifest.json"])
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / "forged.evidence.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    pub = out / "forger.pub"
    pub.write_bytes(members["signer.pub"])
    return bundle, pub, key_fingerprint(key)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("trust-world"))
    with Registry.open(w.registry) as reg:
        claim = open_claim(kind="ownership", party_a="Ana Lima", party_a_kind="creator", party_b="Ben Ode",
                           work_a=w.works["ana1"], work_b=w.works["ben1"], basis={"match": "sha256"},
                           at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        reg.store.add_claims([claim])
        w.claim_id = claim.claim_id
    return w


@pytest.fixture(scope="module")
def cli_bundle(world):
    """A bundle from `consentry check --evidence` on the command line, and a forged copy."""
    out = world.root / "cli-ev"
    r = runner.invoke(app, ["--registry", str(world.registry), "check", str(world.clips["ana1"]), "--evidence", str(out),
                            "--no-pdf", "--no-melody", "--no-voice"])
    assert r.exit_code == 0, r.output
    good = out / "ana1-clip.evidence.zip"
    forged, pub, fp = forge(good, world.root / "forged")
    return good, forged, pub, fp


def _verify(*args: str):
    return runner.invoke(app, [*args[:2], "evidence", "verify", *args[2:]])


def test_cli_refuses_a_bundle_re_signed_with_another_key(world, cli_bundle):
    good, forged, pub, forger = cli_bundle
    ours = registry_key_fingerprint(world.registry.parent)
    assert ours and ours != forger
    r = _verify("--registry", str(world.registry), str(forged))
    assert r.exit_code == 1 and "VERIFIED" not in r.stdout, r.output
    line = next(x for x in r.stdout.splitlines() if "signer.pub: signed by unknown key" in x)
    assert short_fingerprint(forger) in line and forger in line and short_fingerprint(ours) in line
    r = _verify("--registry", str(world.registry), str(good))
    assert r.exit_code == 0 and "VERIFIED" in r.stdout and f"signed by this registry's key: {ours}" in r.stdout, r.output
    # Trusting the forger's key is an explicit choice; so is integrity only.
    r = _verify("--registry", str(world.registry), str(forged), "--trust-key", str(pub))
    assert r.exit_code == 0 and "VERIFIED" in r.stdout and "trusted explicitly" in r.stdout, r.output
    r = _verify("--registry", str(world.registry), str(forged), "--accept-any-signer")
    assert r.exit_code == 0 and "INTEGRITY ONLY" in r.stdout and "integrity only" in r.stdout, r.output
    assert short_fingerprint(forger) in r.stdout.splitlines()[0]
    # A tampered facts.json still fails whatever the signer.
    members = _members(forged)
    members["facts.json"] = members["facts.json"].replace(b"Mallory", b"Mallorz")
    tampered = forged.with_name("tampered.evidence.zip")
    with zipfile.ZipFile(tampered, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert _verify("--registry", str(world.registry), str(tampered), "--accept-any-signer").exit_code == 1


def test_cli_without_a_registry_asks_for_the_key_to_trust(world, cli_bundle, tmp_path):
    good, forged, pub, forger = cli_bundle
    nowhere = str(tmp_path / "no-registry.db")
    r = _verify("--registry", nowhere, str(good))
    assert r.exit_code == 1 and "no registry" in r.output and "--trust-key" in r.output, r.output
    ours = tmp_path / "registry.pub"
    ours.write_text(registry_key_fingerprint(world.registry.parent) + "\n")
    r = _verify("--registry", nowhere, str(good), "--trust-key", str(ours))
    assert r.exit_code == 0 and "VERIFIED" in r.stdout, r.output
    r = _verify("--registry", nowhere, str(forged), "--trust-key", str(ours))
    assert r.exit_code == 1 and "signed by unknown key" in r.stdout
    bad = tmp_path / "bad.pub"
    bad.write_text("hello")
    r = _verify("--registry", nowhere, str(good), "--trust-key", str(bad))
    # a one-line error naming the file (main() prints it; the test runner hands back the exception)
    assert r.exit_code == 1 and "bad.pub: not an Ed25519 public key" in str(r.exception)
    assert "\n" not in str(r.exception)


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    settings = server_settings(tmp_path_factory.mktemp("trust-data"), world.registry)
    with LiveServer(settings) as s:
        yield s


def test_check_results_and_facts_name_files_not_server_paths(server, world):
    lic = server.client(world.tokens["lic"])
    job = wait_job(lic, lic.post("/api/v1/checks", files={"file": ("my take.wav", world.clips["ana1"].read_bytes())},
                                 data={"melody": "false", "voice": "false"}).json()["job_id"])
    assert job["status"] == "succeeded" and job["result"]["recording"], job
    data_dir = str(server.settings.data_dir)
    shown = json.dumps(job)
    for secret in (str(world.root), data_dir, "/incoming/", ".part-"):
        assert secret not in shown, secret
    assert job["result"]["output"] == "my take.wav"
    assert job["result"]["recording"][0]["source_name"] == "ana1.wav"
    assert job["result"]["evidence"] == "my take.evidence.zip"
    r = lic.get(f"/api/v1/checks/{job['job_id']}/evidence")
    assert r.status_code == 200
    path = world.root / "server-bundle.zip"
    path.write_bytes(r.content)
    facts = _members(path)["facts.json"].decode()
    for secret in (str(world.root), data_dir, "up-", ".part-"):
        assert secret not in facts, secret
    parsed = json.loads(facts)
    assert parsed["output"]["name"] == "my take.wav"
    assert all("source" not in item and item["source_name"] == "ana1.wav" for item in parsed["findings"]["recording"])
    assert [ref["name"] for ref in parsed["references"]] == ["ana1.wav"]


def test_server_stores_who_signed_and_the_claim_page_says_it(server, world, cli_bundle):
    good, forged, _, forger = cli_bundle
    ours = registry_key_fingerprint(world.registry.parent)
    ana = server.client(world.tokens["ana"])
    r = ana.post(f"/api/v1/claims/{world.claim_id}/evidence", files={"bundle": ("session take.evidence.zip", good.read_bytes())})
    assert r.status_code == 200, r.text
    ev = r.json()["events"][-1]["evidence"]
    assert ev["verified"] is True and ev["signed_by_this_registry"] is True and ev["key_fingerprint"] == ours
    genuine = ev
    r = ana.post(f"/api/v1/claims/{world.claim_id}/evidence", files={"bundle": ("forged.evidence.zip", forged.read_bytes())})
    assert r.status_code == 200, r.text
    ev = r.json()["events"][-1]["evidence"]
    assert ev["verified"] is False and ev["signed_by_this_registry"] is False and ev["key_fingerprint"] == forger
    assert any("signed by unknown key" in line and forger in line for line in ev["failures"]), ev["failures"]
    # recorded under the names they were uploaded with, not the server's temporary names
    assert genuine["name"] == "session take.evidence.zip" and genuine["registry_key_fingerprint"] == ours
    assert ev["name"] == "forged.evidence.zip"
    c = server.client()
    c.headers.update({"Accept": "text/html"})
    assert c.post("/app/signin", data={"email": "ana@example.org", "password": PASSWORD, "next": "/app"}).status_code == 303
    page = c.get(f"/app/claims/{world.claim_id}").text
    record = page[page.index('id="events-h"'):]
    ours_short = ours.split(":")[1][:16]
    forger_short = forger.split(":")[1][:16]
    assert re.search(rf"signed by this registry \(key <code[^>]*>{ours_short}…</code>\), verified", record), record
    assert re.search(rf"signed by an unknown key <code[^>]*>{forger_short}…</code>.*— not verified", record), record
    assert "Evidence: verified" not in record and "session take.evidence.zip" in record
