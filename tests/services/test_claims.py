"""Claims and disputes (docs/claims.md): the state machine, detection at registration, disputed terms, evidence."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import notes, write_wav
from typer.testing import CliRunner

from consentry import Registry
from consentry.adapters.cli.wording import cli_message
from consentry.domain.claims import (
    ACTIONS, ROLES, STATES, SYSTEM, TRANSITIONS, Actor, Claim, ClaimError, ClaimNotFoundError, ClaimRules,
    NotAPartyError, apply, due_action, open_claim, plus_days,
)
from consentry.services.claims import (
    answer_claim, dispute_finding, list_claims, resolve_claim, show_claim, submit_evidence, withdraw_claim,
    work_dispute,
)
from consentry.domain.errors import FieldError, InputError

SR = 22050
T0 = "2026-01-01T00:00:00+00:00"
ANA, BO, CY, DEE = (Actor.creator(n) for n in ("Ana Lima", "Bo Berg", "Cy Cole", "Dee Dahl"))
ADMIN = Actor.admin("root")


# -- the state machine (pure) ------------------------------------------------------------
def _claim(state: str = "open", kind: str = "ownership") -> Claim:
    c = open_claim(kind=kind, party_a="Ana Lima" if kind == "ownership" else "acme", party_b="Bo Berg",
                   party_a_kind="creator" if kind == "ownership" else "licensee",
                   work_a="w1" if kind == "ownership" else None, work_b="w2", basis={"match": "sha256"}, at=T0,
                   scan_id=None if kind == "ownership" else "s-1", item_id=None if kind == "ownership" else "i-1")
    if state == "contested":
        c = replace(c, state="contested", decision_due_at=plus_days(T0, 30))
    elif state != "open":
        c = replace(c, state=state, closed_at=T0)
    return c


ACTOR_OF_ROLE = {"a": ANA, "b": BO, "admin": ADMIN, "system": SYSTEM}
LATE = plus_days(T0, 400)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_transition_is_allowed_or_refused_as_the_table_says(state, role, action):
    claim = _claim(state)
    expected = [t for t in TRANSITIONS if (t.source, t.role, t.action) == (state, role, action)]
    kwargs = {"note": "why", "evidence": {"sha256": "ab" * 32} if action == "evidence" else None}
    if expected:
        new, event = apply(claim, action, actor=ACTOR_OF_ROLE[role], at=LATE, **kwargs)
        target = expected[0].target or state
        assert new.state == target and event.to_state == target and event.from_state == state
        assert event.seq == claim.events[-1].seq + 1 and new.events[-1] == event and event.role == role
        assert (new.closed_at is not None) == (target in ("resolved_a", "resolved_b", "withdrawn"))
        if action == "contest":
            assert new.decision_due_at == plus_days(LATE, 30)
    else:
        with pytest.raises(ClaimError) as exc:
            apply(claim, action, actor=ACTOR_OF_ROLE[role], at=LATE, **kwargs)
        assert "\n" not in str(exc.value)


def test_outsiders_and_wrong_kinds_are_refused():
    claim = _claim()
    with pytest.raises(NotAPartyError, match="not a party"):
        apply(claim, "contest", actor=CY, at=T0)
    with pytest.raises(ClaimError, match="not a party"):  # a licensee named like a creator is not that creator
        apply(claim, "contest", actor=Actor.licensee("Bo Berg"), at=T0)
    with pytest.raises(ClaimError, match="action 'delete'"):
        apply(claim, "delete", actor=ADMIN, at=T0)
    with pytest.raises(ClaimError, match="two different creators"):
        open_claim(kind="ownership", party_a="X", party_b="X", party_a_kind="creator", work_a="w1", work_b="w2",
                   basis={}, at=T0)
    with pytest.raises(InputError):
        ClaimRules(answer_days=0)
    with pytest.raises(InputError):
        Actor.creator("  ")
    finding = _claim(kind="finding")
    assert finding.role_of(Actor.licensee("acme")) == "a" and finding.role_of(BO) == "b"
    assert finding.role_of(Actor.creator("acme")) is None


def test_deadlines_with_an_injected_clock():
    rules = ClaimRules(answer_days=30, decision_days=14)
    claim = open_claim(kind="ownership", party_a="Ana Lima", party_b="Bo Berg", party_a_kind="creator", work_a="w1",
                       work_b="w2", basis={}, at=T0, rules=rules)
    assert claim.answer_due_at == "2026-01-31T00:00:00+00:00"
    assert due_action(claim, "2026-01-30T23:59:59+00:00") is None
    with pytest.raises(ClaimError, match="not yet expired"):
        apply(claim, "expire", actor=SYSTEM, at="2026-01-30T00:00:00Z")
    assert due_action(claim, "2026-01-31T00:00:00Z") == "expire"
    expired, event = apply(claim, "expire", actor=SYSTEM, at="2026-01-31T00:00:00Z")
    assert expired.state == "resolved_a" and expired.winner == "a" and event.role == "system"
    contested, _ = apply(claim, "contest", actor=BO, at="2026-01-10T00:00:00Z", rules=rules)
    assert contested.decision_due_at == "2026-01-24T00:00:00+00:00"
    assert due_action(contested, "2026-03-01T00:00:00Z") == "overdue"
    overdue, _ = apply(contested, "overdue", actor=SYSTEM, at="2026-03-01T00:00:00Z")
    assert overdue.state == "contested" and due_action(overdue, "2027-01-01T00:00:00Z") is None
    with pytest.raises(ClaimError, match="already recorded"):
        apply(overdue, "overdue", actor=SYSTEM, at="2027-01-01T00:00:00Z")
    with pytest.raises(InputError, match="ISO 8601"):
        apply(claim, "note", actor=ANA, at="yesterday", note="x")


# -- registration, disputed terms, evidence (real registry, synthesised audio) --------------
def _shifted(x: np.ndarray, factor: float) -> np.ndarray:
    """Resampled copy: played ``factor`` times faster and higher (a pitch-shifted, sped-up copy)."""
    idx = np.arange(0, x.size - 1, factor)
    return (0.9 * np.interp(idx, np.arange(x.size), x)).astype(np.float32)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("claims")
    m = root / "media"
    m.mkdir()
    song = notes(1101, duration_s=20.0, sr=SR)
    tune = notes(1102, duration_s=20.0, sr=SR)
    write_wav(m / "song.wav", song, sample_rate_hz=SR)
    write_wav(m / "tune.wav", tune, sample_rate_hz=SR)
    (m / "cy").mkdir()
    write_wav(m / "cy" / "tune-up.wav", _shifted(tune, 1.03), sample_rate_hz=SR)
    write_wav(m / "cy" / "own.wav", notes(1103, duration_s=15.0, sr=SR), sample_rate_hz=SR)
    write_wav(m / "dee.wav", notes(1104, duration_s=15.0, sr=SR), sample_rate_hz=SR)
    reg_path = root / "r.db"
    out = {"root": root, "media": m, "reg": reg_path, "song": song}
    with Registry.open(reg_path) as reg:
        s = reg.register([m / "song.wav", m / "tune.wav"], creator="Ana Lima", terms="license", price=10,
                         currency="EUR", workers=1)
        assert len(s.registered) == 2 and s.claims == []
        out["ana_song"], out["ana_tune"] = (w.work_id for w in s.registered)
        again = reg.register([m / "song.wav"], creator="Ana Lima", workers=1)
        out["again"] = again
        nameless = reg.register([m / "song.wav"], workers=1)
        out["nameless"] = nameless
        bo = reg.register([m / "song.wav"], creator="Bo Berg", terms="allow", workers=1)
        out["bo"] = bo
        cy = reg.register([m / "cy"], creator="Cy Cole", terms="allow", workers=2)  # the worker-pool path
        out["cy"] = cy
        dee = reg.register([m / "dee.wav"], creator="Dee Dahl", workers=1)
        out["dee"] = dee
    return out


def test_same_creator_twice_and_unnamed_registrant_open_nothing(world):
    for key in ("again", "nameless"):
        s = world[key]
        assert s.registered == [] and s.claims == [] and s.duplicates == [(str(world["media"] / "song.wav"), world["ana_song"])]


def test_same_file_by_another_creator_becomes_a_work_and_opens_a_claim(world):
    bo = world["bo"]
    assert len(bo.registered) == 1 and bo.duplicates == []
    bo_work = bo.registered[0]
    assert bo_work.work_id != world["ana_song"] and bo_work.sha256.startswith(world["ana_song"])
    (c,) = bo.claims
    assert c.kind == "ownership" and c.state == "open"
    assert (c.party_a, c.work_a, c.party_b, c.work_b) == ("Ana Lima", world["ana_song"], "Bo Berg", bo_work.work_id)
    assert c.basis["match"] == "sha256" and c.events[0].action == "open"


def test_pitch_shifted_copy_by_another_creator_opens_a_claim_unrelated_works_do_not(world):
    cy = world["cy"]
    assert len(cy.registered) == 2
    (c,) = cy.claims
    up = next(w for w in cy.registered if w.title == "tune-up")
    assert (c.work_a, c.work_b, c.party_b) == (world["ana_tune"], up.work_id, "Cy Cole")
    assert c.basis["match"] == "fingerprint" and max(c.basis["share_of_new"], c.basis["share_of_registered"]) >= 0.5
    assert world["dee"].claims == [] and len(world["dee"].registered) == 1


def test_listing_and_showing_is_for_parties_and_admins(world):
    with Registry.open(world["reg"]) as reg:
        assert {c.work_b for c in list_claims(reg, actor=ANA)} == {world["bo"].registered[0].work_id,
                                                                     world["cy"].claims[0].work_b}
        assert len(list_claims(reg, actor=BO)) == 1 and list_claims(reg, actor=DEE) == []
        assert len(list_claims(reg, actor=ADMIN)) == len(list_claims(reg)) == 2
        assert len(list_claims(reg, states=["active"], work_id=world["ana_song"])) == 1
        cid = world["bo"].claims[0].claim_id
        # the shortest prefix (from 12 characters) no other claim shares: ids are random, and "c-<date>-" plus one
        # character clashed with the other claim's about one run in sixteen
        others = [c.claim_id for c in list_claims(reg) if c.claim_id != cid]
        n = next(k for k in range(12, len(cid) + 1) if not any(o.startswith(cid[:k]) for o in others))
        assert show_claim(reg, cid[:n], actor=BO).claim_id == cid
        with pytest.raises(ClaimError, match="not a party"):
            show_claim(reg, cid, actor=DEE)
        for bad in ("c-nope", "../../etc/passwd", "", "x" * 5000, "c-%"):
            with pytest.raises(ClaimNotFoundError):
                show_claim(reg, bad)
        with pytest.raises(FieldError, match="^states 'maybe': choose from active") as info:
            list_claims(reg, states=["maybe"])
        assert cli_message(info.value).startswith("--state 'maybe': choose from active")  # the CLI says its flag


def test_disputed_terms_everywhere(world, tmp_path):
    from consentry.services.publish import build_site, check_site
    from consentry.reporting.scan_report import render_scan_html, write_scan_csv
    from consentry.services.scan import scan_dataset, scan_items

    runner = CliRunner()
    from consentry.adapters.cli.main import app

    bo_work = world["bo"].registered[0].work_id
    with Registry.open(world["reg"]) as reg:
        d = work_dispute(reg, world["ana_song"])
        assert d["claims"] == [world["bo"].claims[0].claim_id]
        assert [p["creator"] for p in d["parties"]] == ["Ana Lima", "Bo Berg"]
        # Ana licenses at 10 EUR, Bo allows: the strictest is Ana's licence, for both works.
        assert d["terms"]["uses"]["ai_training"] == {"decision": "license", "price": 10.0, "currency": "EUR", "unit": "per-work"}
        assert work_dispute(reg, world["dee"].registered[0].work_id) is None
        # identify: both parties' works are reported with the strictest terms and the claim, not their own.
        write_wav(tmp_path / "part.wav", world["song"][2 * SR:14 * SR], sample_rate_hz=SR)
        found = {m.work_id: m for m in reg.identify(tmp_path / "part.wav")}
        assert set(found) == {world["ana_song"], bo_work}
        for m in found.values():
            assert m.disputed_claims == (world["bo"].claims[0].claim_id,)
            assert m.terms.startswith("disputed") and "10" in m.terms and "EUR" in m.terms
            assert m.as_dict()["disputed_claims"] == [world["bo"].claims[0].claim_id]
        (dee_match,) = reg.identify(world["media"] / "dee.wav")
        assert dee_match.disputed_claims == () and not dee_match.terms.startswith("disputed")
        export = reg.terms_export()
        site = build_site(export, base_url="https://music.example.org")
        assert check_site(site, export) == []
        page = json.loads(site.files[f"terms/works/{bo_work}.json"])
        assert page["disputed"] is True and page["uses"]["ai_training"]["decision"] == "license"
        assert page["uses"]["ai_training"]["set_by"] == "disputed" and page["dispute"]["claims"]
        assert b'data-disputed="true"' in site.files[f"terms/works/{bo_work}.html"]
        undisputed = world["dee"].registered[0].work_id
        assert json.loads(site.files[f"terms/works/{undisputed}.json"])["disputed"] is False
        # A scan: an item holding the song is licensable (not allowed, as Bo's terms alone would say) and flagged.
        ds = tmp_path / "ds"
        ds.mkdir()
        write_wav(ds / "clip.wav", world["song"][4 * SR:16 * SR], sample_rate_hz=SR)
        write_wav(ds / "other.wav", notes(1199, duration_s=8.0, sr=SR), sample_rate_hz=SR)
        summary = scan_dataset(reg, ds, workers=1, embedded_signals=False)
        items = {i["item_id"]: i for i in scan_items(reg, summary["scan_id"])}
        clip = next(i for k, i in items.items() if k.endswith("clip.wav"))
        assert clip["decision"] == "licensable" and clip.get("disputed") is True
        assert {f["work_id"] for f in clip["findings"]} == {world["ana_song"], bo_work}
        assert all(f["disputed"] and f["decision"] == "license" for f in clip["findings"])
        assert all(w.get("disputed") for w in summary["works"])
        buf = io.StringIO()
        write_scan_csv(scan_items(reg, summary["scan_id"]), buf)
        rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
        assert {r["disputed"] for r in rows if r["work_id"]} == {"true"} and any(r["work_id"] == "" for r in rows)
        assert "disputed" in render_scan_html(summary, scan_items(reg, summary["scan_id"]))
        world["scan_id"], world["clip_id"] = summary["scan_id"], clip["item_id"]
        world["other_id"] = next(k for k in items if k.endswith("other.wav"))
    r = runner.invoke(app, ["--registry", str(world["reg"]), "works", "show", bo_work, "--json"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert shown["disputed"] is True and shown["dispute"]["claims"] == d["claims"]
    r = runner.invoke(app, ["--registry", str(world["reg"]), "terms", "show", bo_work, "--json"])
    shown = json.loads(r.stdout)
    assert shown["disputed"] is True and shown["claims"] == d["claims"]
    assert shown["uses"]["ai_training"]["decision"] == "license" and shown["own_terms"]["uses"]["ai_training"]["decision"] == "allow"
    assert {p["creator"]: p["terms"]["uses"]["ai_training"]["decision"] for p in shown["parties"]} == {
        "Ana Lima": "license", "Bo Berg": "allow"}
    r = runner.invoke(app, ["--registry", str(world["reg"]), "terms", "show", world["dee"].registered[0].work_id, "--json"])
    assert json.loads(r.stdout)["disputed"] is False
    r = runner.invoke(app, ["--registry", str(world["reg"]), "terms", "show", bo_work])
    assert "DISPUTED" in r.stdout


def test_one_identify_gives_disputed_terms_alike_in_identify_scan_check_and_the_api(world, tmp_path):
    """The one identify (consentry.services.identify) applies disputes whichever use case asks, and the API's work
    terms carry the dispute as ``terms show`` does (docs/claims.md: "everywhere terms are shown")."""
    from consentry.domain.accounts import Principal
    from consentry.adapters.api.models import TermsOut
    from consentry.adapters.api.routes import works as api_works
    from consentry.services.check import service as check
    from consentry.adapters.cli.main import app
    from consentry.services.scan import identify_item, terms_snapshot

    bo_work, claim = world["bo"].registered[0].work_id, world["bo"].claims[0].claim_id
    part = write_wav(tmp_path / "part.wav", world["song"][2 * SR:14 * SR], sample_rate_hz=SR)
    with Registry.open(world["reg"]) as reg:
        identified = {m.work_id: m.terms for m in reg.identify(part)}
        assert set(identified) == {world["ana_song"], bo_work}
        assert all(t.startswith("disputed") and "10" in t and "EUR" in t for t in identified.values())
        res = check.check_output(check.prepare_check(reg, melody=False, voice=False), part)
        assert res.error is None
        assert {d["work_id"]: d["terms"] for d in res.recording} == identified
        assert all(d["disputed_claims"] == [claim] for d in res.recording)
        item = identify_item(reg, {"seq": 0, "item_id": "part", "name": "part.wav", "path": str(part),
                                   "embedded_signals": False})
        assert {f["work_id"] for f in item["findings"]} == set(identified)
        snapshot = terms_snapshot(reg)
        assert all(snapshot[w]["disputed"] and snapshot[w]["decision"] == "license" and snapshot[w]["price"] == 10
                   for w in identified)
        admin = Principal(account_id="acc-admin", email="root@example.org", role="admin", creator=None, via="session")
        api = TermsOut.model_validate(api_works.work_terms(bo_work, admin, reg)).model_dump()
    r = CliRunner().invoke(app, ["--registry", str(world["reg"]), "terms", "show", bo_work, "--json"])
    assert r.exit_code == 0, r.output
    cli = json.loads(r.stdout)
    assert cli["disputed"] is True and cli["claims"] == [claim]
    assert {k: api[k] for k in cli} == cli
    assert api["uses"]["ai_training"] == {"decision": "license", "price": 10.0, "currency": "EUR", "unit": "per-work"}
    assert set(api["source"].values()) == {"disputed"} and api["own_terms"]["uses"]["ai_training"]["decision"] == "allow"


@pytest.fixture(scope="module")
def bundles(world):
    """A real evidence bundle from `consentry check --evidence`, and a tampered copy."""
    from consentry.adapters.cli.main import app

    out = world["root"] / "outputs"
    out.mkdir()
    write_wav(out / "copy.wav", np.concatenate([notes(1200, duration_s=3.0, sr=SR), world["song"][2 * SR:14 * SR]]),
              sample_rate_hz=SR)
    ev = world["root"] / "ev"
    r = CliRunner().invoke(app, ["--registry", str(world["reg"]), "check", str(out / "copy.wav"), "--evidence", str(ev),
                                 "--no-pdf", "--no-melody", "--no-voice"])
    assert r.exit_code == 0, r.output
    good = ev / "copy.evidence.zip"
    tampered = world["root"] / "tampered.evidence.zip"
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(tampered, "w") as t:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == "facts.json":
                data = data.replace(b'"copy.wav"', b'"copz.wav"')
            t.writestr(info, data)
    return good, tampered


def test_evidence_real_tampered_and_hostile(world, bundles, tmp_path):
    good, tampered = bundles
    store_dir = tmp_path / "evidence"
    cid = world["bo"].claims[0].claim_id
    with Registry.open(world["reg"]) as reg:
        claim = submit_evidence(reg, cid, good, actor=BO, evidence_dir=store_dir, note="my session files",
                                now="2026-01-02T00:00:00Z")
        ev = claim.events[-1].evidence
        assert claim.events[-1].action == "evidence" and claim.state == "open"
        assert ev["verified"] is True and ev["failures"] == [] and ev["signed_by_this_registry"] is True
        copy = Path(ev["file"])
        assert copy.parent == store_dir / cid and copy.read_bytes() == good.read_bytes()
        import hashlib

        assert ev["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest() and ev["bytes"] == good.stat().st_size
        claim = submit_evidence(reg, cid, tampered, actor=ANA, evidence_dir=store_dir)
        ev2 = claim.events[-1].evidence
        assert ev2["verified"] is False and ev2["failures"] and Path(ev2["file"]).exists()
        stored = sorted(p.name for p in (store_dir / cid).iterdir())
        # Hostile input: refused, nothing stored, no event.
        junk = tmp_path / "junk.evidence.zip"
        junk.write_bytes(b"this is not a zip" * 10)
        empty = tmp_path / "empty.zip"
        empty.write_bytes(b"")
        evil = tmp_path / "evil.zip"
        with zipfile.ZipFile(evil, "w") as z:
            z.writestr("../../etc/cron.d/evil", "* * * * * root rm -rf /")
            z.writestr("facts.json", "{}")
        notbundle = tmp_path / "other.zip"
        with zipfile.ZipFile(notbundle, "w") as z:
            z.writestr("readme.txt", "hello")
        for bad, message in ((junk, "not a zip"), (empty, "empty"), (evil, "outside the bundle"),
                             (notbundle, "not an evidence bundle"), (tmp_path / "missing.zip", "no such file"),
                             (tmp_path, "no such file")):
            with pytest.raises(InputError, match=message) as exc:
                submit_evidence(reg, cid, bad, actor=BO, evidence_dir=store_dir)
            assert "\n" not in str(exc.value)
        with pytest.raises(ClaimError, match="not a party"):
            submit_evidence(reg, cid, good, actor=DEE, evidence_dir=store_dir)
        with pytest.raises(InputError, match="limit"):
            submit_evidence(reg, cid, good, actor=BO, evidence_dir=store_dir, max_bytes=100)
        assert sorted(p.name for p in (store_dir / cid).iterdir()) == stored
        assert len(show_claim(reg, cid).events) == 3
    # Events are append-only in the database itself.
    con = sqlite3.connect(world["reg"])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE claim_events SET note = 'edited' WHERE claim_id = ?", (cid,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM claim_events WHERE claim_id = ?", (cid,))
    con.close()


def test_finding_dispute_by_a_licensee(world):
    acme = Actor.licensee("acme-ai")
    with Registry.open(world["reg"]) as reg:
        scan_id, clip = world["scan_id"], world["clip_id"]
        claims = dispute_finding(reg, scan_id, clip, actor=acme, reason="our own field recording",
                                 work_id=world["ana_song"], now=T0)
        (c,) = claims
        assert (c.kind, c.party_a, c.party_a_kind, c.party_b, c.work_b, c.item_id) == (
            "finding", "acme-ai", "licensee", "Ana Lima", world["ana_song"], clip)
        with pytest.raises(ClaimError, match="already disputed"):
            dispute_finding(reg, scan_id, clip, actor=acme, reason="again", work_id=world["ana_song"])
        with pytest.raises(InputError, match="no findings"):
            dispute_finding(reg, scan_id, world["other_id"], actor=acme, reason="x")
        with pytest.raises(InputError, match="no item"):
            dispute_finding(reg, scan_id, "../../nope", actor=acme, reason="x")
        with pytest.raises(FieldError, match="^reason: say why") as info:
            dispute_finding(reg, scan_id, clip, actor=acme, reason="   ")
        assert cli_message(info.value) == "--reason: say why the finding is wrong"
        with pytest.raises(ClaimError, match="only a licensee"):
            dispute_finding(reg, scan_id, clip, actor=BO, reason="x")
        assert [x.claim_id for x in list_claims(reg, actor=acme)] == [c.claim_id]
        # The creator contests; an admin decides for the creator; the finding's work stays registered.
        stamp = reg.change_stamp()  # the published site's cache key: every claim event changes it
        c = answer_claim(reg, c.claim_id, actor=ANA, contest=True, note="it is my song", now=T0)
        assert c.state == "contested" and reg.change_stamp() != stamp
        with pytest.raises(ClaimError, match="only an admin"):
            resolve_claim(reg, c.claim_id, for_party="a", actor=acme)
        c = resolve_claim(reg, c.claim_id, for_party="b", actor=ADMIN, note="the match is exact", now=T0)
        assert c.state == "resolved_b" and reg.work(world["ana_song"]).removed_at is None
        with pytest.raises(ClaimError, match="nothing more"):
            withdraw_claim(reg, c.claim_id, actor=acme)


def test_cli_answer_expire_resolve_and_terms_after(world, tmp_path):
    """The Cy/Ana claim through the CLI: contest, overdue; the Bo/Ana claim: expiry resolves it for Ana."""
    from consentry.adapters.cli.main import app

    runner = CliRunner()
    reg_args = ["--registry", str(world["reg"])]
    cy_claim = world["cy"].claims[0].claim_id
    bo_claim = world["bo"].claims[0].claim_id
    r = runner.invoke(app, reg_args + ["claims", "list", "--as", "Cy Cole", "--json"])
    assert r.exit_code == 0 and [json.loads(x)["claim_id"] for x in r.stdout.splitlines()] == [cy_claim]
    r = runner.invoke(app, reg_args + ["claims", "answer", cy_claim, "--as", "Ana Lima", "--contest"])
    assert r.exit_code == 1  # the claimant cannot contest
    r = runner.invoke(app, reg_args + ["claims", "answer", cy_claim, "--as", "Mallory", "--concede"])
    assert r.exit_code == 1
    r = runner.invoke(app, reg_args + ["claims", "answer", "c-unknown", "--as", "Cy Cole", "--contest"])
    assert r.exit_code == 1
    r = runner.invoke(app, reg_args + ["claims", "answer", cy_claim, "--as", "Cy Cole", "--contest", "--note", "mine",
                                       "--now", "2026-01-05T00:00:00Z", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["state"] == "contested"
    with Registry.open(world["reg"]) as reg:
        opened = reg.store.get_claim(bo_claim).opened_at
    later = plus_days(opened, 31)
    r = runner.invoke(app, reg_args + ["claims", "expire", "--now", later, "--json"])
    assert r.exit_code == 0, r.output
    changed = {json.loads(x)["claim_id"]: json.loads(x) for x in r.stdout.splitlines()}
    assert changed[bo_claim]["state"] == "resolved_a" and changed[bo_claim]["events"][-1]["role"] == "system"
    assert changed[cy_claim]["state"] == "contested" and changed[cy_claim]["events"][-1]["action"] == "overdue"
    r = runner.invoke(app, reg_args + ["claims", "expire", "--now", later, "--json"])
    assert r.stdout.strip() == ""  # idempotent
    with Registry.open(world["reg"]) as reg:
        # Bo lost by silence: his copy is removed; Ana's song is no longer disputed.
        assert reg.work(world["bo"].registered[0].work_id).removed_at is not None
        assert work_dispute(reg, world["ana_song"]) is None
        assert work_dispute(reg, world["ana_tune"]) is not None
    r = runner.invoke(app, reg_args + ["claims", "resolve", cy_claim, "--for", "c"])
    assert r.exit_code == 1
    r = runner.invoke(app, reg_args + ["claims", "resolve", cy_claim, "--for", "b", "--note", "Cy's session files", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["state"] == "resolved_b"
    r = runner.invoke(app, reg_args + ["claims", "show", cy_claim])
    assert r.exit_code == 0 and "resolved_b" in r.stdout and "overdue" in r.stdout
    with Registry.open(world["reg"]) as reg:
        assert reg.work(world["ana_tune"]).removed_at is not None
        up = next(w for w in world["cy"].registered if w.title == "tune-up")
        assert work_dispute(reg, up.work_id) is None
        # Each change made on the command line is in the audit log (actor cli:<user>), as the API's are.
        done = {(x["action"], x["target_id"]): x for x in reg.store.audit_records(limit=100)}
        assert done[("claims.contest", cy_claim)]["actor"].startswith("cli:")
        assert done[("claims.contest", cy_claim)]["details"] == {"state": "contested"}
        assert done[("claims.deadline", bo_claim)]["details"] == {"state": "resolved_a"}
        assert done[("claims.resolve_b", cy_claim)]["details"] == {"state": "resolved_b", "keep_losing_work": False}
        assert list_claims(reg, states=["active"], kind="ownership") == []
