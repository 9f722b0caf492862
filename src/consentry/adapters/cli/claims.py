"""CLI of claims and disputes: ``consentry claims list|show|answer|evidence|note|withdraw|resolve|expire|dispute-finding``.

Thin: :mod:`consentry.services.claims` does the work (docs/claims.md). Who
acts is said with ``--as CREATOR`` (a creator), ``--licensee NAME`` or
``--admin``; the command line trusts it (it is a tool for the registry's
operator; the server authenticates the same actors).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from consentry.domain.errors import InputError
from consentry.adapters.cli.main import _open, app, console, err_console, state

EXIT_CODES = "Exit codes: 0 ok; 1 error (unknown claim, an action the claim's state or your role does not allow, bad input)."

claims_app = typer.Typer(
    help="Claims and disputes: when two creators register the same work, or a licensee disputes a scan finding "
         "(docs/claims.md). " + EXIT_CODES,
    no_args_is_help=True)
app.add_typer(claims_app, name="claims")

AS_HELP = "Act as this creator (a party to the claim)."
LICENSEE_HELP = "Act as this licensee (the party that disputed a scan finding)."
ADMIN_HELP = "Act as the registry's admin."


def _cli_acted_by():
    """Who acts on the command line, for the audit log (``cli:<user>``; the claim's own history names the party)."""
    from consentry.adapters.cli.main import _cli_acted_by as acted_by

    return acted_by()


def _actor(as_creator: Optional[str], licensee: Optional[str], admin: bool, *, required: bool = True,
           admin_name: str = "admin"):
    from consentry.domain.claims import Actor

    given = [x for x in (as_creator, licensee, admin or None) if x]
    if len(given) > 1:
        raise InputError("give only one of --as CREATOR, --licensee NAME and --admin")
    if as_creator:
        return Actor.creator(as_creator)
    if licensee:
        return Actor.licensee(licensee)
    if admin:
        return Actor.admin(admin_name)
    if required:
        raise InputError("say who acts: --as CREATOR, --licensee NAME or --admin")
    return None


def _rules(answer_days: Optional[float], decision_days: Optional[float]):
    from consentry.domain.claims import DEFAULT_RULES, ClaimRules

    if answer_days is None and decision_days is None:
        return DEFAULT_RULES
    return ClaimRules(answer_days=answer_days if answer_days is not None else DEFAULT_RULES.answer_days,
                      decision_days=decision_days if decision_days is not None else DEFAULT_RULES.decision_days)


def _evidence_dir(given: Optional[Path], reg=None) -> Path:
    if given is not None:
        return given
    if reg is not None and "://" in str(state.registry_path):  # PostgreSQL: this machine's folder for the registry
        return Path(reg.local_dir) / "evidence"
    return Path(str(state.registry_path) + ".evidence")


def _print_claims(claims) -> None:
    table = Table()
    for col in ("claim", "kind", "state", "claimant (A)", "respondent (B)", "works", "due"):
        table.add_column(col)
    for c in claims:
        table.add_row(c.claim_id, c.kind, c.state, f"{c.party_a} [dim]({c.party_a_kind})[/]", c.party_b,
                      " vs ".join(c.works()) + (f" [dim]scan {c.scan_id} item {c.item_id}[/]" if c.scan_id else ""),
                      (c.due() or "")[:10])
    console.print(table)
    console.print(f"{len(claims)} claim(s)")


def _print_claim(c, actor=None) -> None:
    from consentry.domain.claims import STATE_WORDS, allowed_actions
    from consentry.services.evidence.verify import short_fingerprint

    table = Table(show_header=False, title=f"claim {c.claim_id}", title_justify="left")
    table.add_row("kind", c.kind)
    table.add_row("state", f"{c.state} ({STATE_WORDS[c.state]})")
    table.add_row("claimant (A)", f"{c.party_a} ({c.party_a_kind})" + (f", work {c.work_a}" if c.work_a else ""))
    table.add_row("respondent (B)", f"{c.party_b}, work {c.work_b}")
    if c.scan_id:
        table.add_row("finding", f"scan {c.scan_id}, item {c.item_id}")
    basis = dict(c.basis)
    basis.pop("segments", None)
    table.add_row("basis", json.dumps(basis, ensure_ascii=False))
    table.add_row("opened", c.opened_at)
    table.add_row("answer due", c.answer_due_at)
    if c.decision_due_at:
        table.add_row("decision due", c.decision_due_at)
    if c.closed_at:
        table.add_row("closed", c.closed_at)
    if actor is not None:
        role = c.role_of(actor)
        table.add_row("you may", ", ".join(dict.fromkeys(allowed_actions(c, role))) or "nothing now")
    console.print(table)
    events = Table(title="history", title_justify="left")
    for col in ("#", "when", "who", "action", "state", "note / evidence"):
        events.add_column(col)
    for e in c.events:
        detail = e.note or ""
        if e.evidence:
            ev = e.evidence
            detail = (detail + " " if detail else "") + (
                f"bundle {ev.get('sha256', '')[:16]} "
                + (f"signed by this registry (key {short_fingerprint(ev.get('key_fingerprint'))}) "
                   + ("VERIFIED" if ev.get("verified") else "FAILED verification")
                   if ev.get("signed_by_this_registry") else
                   f"signed by an unknown key {short_fingerprint(ev.get('key_fingerprint'))}, NOT verified"
                   if ev.get("key_fingerprint") else "FAILED verification")
                + (f": {ev['failures'][0]}" if ev.get("failures") else ""))
        events.add_row(str(e.seq), e.at, f"{e.actor} ({e.role})", e.action,
                       e.to_state if e.to_state == e.from_state else f"{e.from_state} -> {e.to_state}", detail)
    console.print(events)


def _emit(claim, as_json: bool, actor=None, message: str | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(claim.as_dict(), ensure_ascii=False))
        return
    if message:
        console.print(message, highlight=False)
    _print_claim(claim, actor)


@claims_app.command("list")
def claims_list(
    as_creator: Optional[str] = typer.Option(None, "--as", help="Only the claims of this creator (as A or B)."),
    licensee: Optional[str] = typer.Option(None, "--licensee", help="Only the claims of this licensee."),
    admin: bool = typer.Option(False, "--admin", help="All claims (the default when no party is named)."),
    claim_state: Optional[List[str]] = typer.Option(None, "--state", help="active, open, contested, resolved_a, resolved_b or withdrawn; repeatable."),
    work: Optional[str] = typer.Option(None, "--work", help="Only claims about this work (an id prefix is enough)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="ownership or finding."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines, one per claim (with its events)."),
) -> None:
    """List claims: a party's own, or all of them."""
    from consentry.services.claims import list_claims

    actor = _actor(as_creator, licensee, admin, required=False)
    with _open(create=False) as reg:
        claims = list_claims(reg, actor=actor, states=claim_state, work_id=work, kind=kind)
    if as_json:
        for c in claims:
            typer.echo(json.dumps(c.as_dict(), ensure_ascii=False))
        return
    _print_claims(claims)


@claims_app.command("show")
def claims_show(
    claim_id: str = typer.Argument(..., help="The claim (an unambiguous id prefix of 6+ characters is enough)."),
    as_creator: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
    licensee: Optional[str] = typer.Option(None, "--licensee", help=LICENSEE_HELP),
    admin: bool = typer.Option(False, "--admin", help=ADMIN_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show a claim, its deadlines and its history (and, with --as, what you may do now)."""
    from consentry.services.claims import show_claim

    actor = _actor(as_creator, licensee, admin, required=False)
    with _open(create=False) as reg:
        claim = show_claim(reg, claim_id, actor=actor)
    _emit(claim, as_json, actor)


@claims_app.command("answer")
def claims_answer(
    claim_id: str,
    as_creator: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
    licensee: Optional[str] = typer.Option(None, "--licensee", help=LICENSEE_HELP),
    contest: bool = typer.Option(False, "--contest", help="Dispute the claim (the respondent): an admin decides."),
    concede: bool = typer.Option(False, "--concede", help="Accept the other party's side (either party)."),
    note: Optional[str] = typer.Option(None, "--note", help="Why (kept in the claim's history)."),
    decision_days: Optional[float] = typer.Option(None, "--decision-days", help="Days the admin has to decide (default 30)."),
    now: Optional[str] = typer.Option(None, "--now", help="Act as of this ISO time (default: now)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Answer a claim: --contest (respondent) or --concede (either party)."""
    from consentry.services.claims import answer_claim

    if contest == concede:
        raise InputError("give --contest or --concede (one of them)")
    actor = _actor(as_creator, licensee, False)
    with _open(create=False) as reg:
        claim = answer_claim(reg, claim_id, actor=actor, contest=contest, note=note, now=now,
                             rules=_rules(None, decision_days), by=_cli_acted_by())
    _emit(claim, as_json, actor, f"claim {claim.claim_id} is now {claim.state}")


@claims_app.command("evidence")
def claims_evidence(
    claim_id: str,
    bundle: Path = typer.Argument(..., help="An evidence bundle (.evidence.zip) written by `consentry check --evidence`."),
    as_creator: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
    licensee: Optional[str] = typer.Option(None, "--licensee", help=LICENSEE_HELP),
    admin: bool = typer.Option(False, "--admin", help=ADMIN_HELP),
    note: Optional[str] = typer.Option(None, "--note"),
    evidence_dir: Optional[Path] = typer.Option(None, "--evidence-dir", envvar="CONSENTRY_EVIDENCE_DIR",
                                                help="Where submitted bundles are kept (default: REGISTRY.evidence/)."),
    now: Optional[str] = typer.Option(None, "--now", help="Act as of this ISO time (default: now)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Submit an evidence bundle: it is verified, copied under the evidence folder and recorded with its SHA-256.

    A bundle that fails verification (e.g. tampered) is kept and marked
    failing; a file that is not an evidence bundle at all is refused (exit 1).
    """
    from consentry.services.claims import submit_evidence

    actor = _actor(as_creator, licensee, admin)
    with _open(create=False) as reg:
        claim = submit_evidence(reg, claim_id, bundle, actor=actor, evidence_dir=_evidence_dir(evidence_dir, reg), note=note,
                                now=now, by=_cli_acted_by())
    ev = claim.events[-1].evidence or {}
    if not ev.get("verified"):
        err_console.print(f"[yellow]warning[/]: {bundle} does not verify; stored and marked failing: "
                          f"{(ev.get('failures') or ['?'])[0]}", highlight=False)
    _emit(claim, as_json, actor, f"evidence {ev.get('sha256', '')[:16]} added to claim {claim.claim_id}")


@claims_app.command("note")
def claims_note(
    claim_id: str,
    text: str = typer.Argument(..., help="The note."),
    as_creator: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
    licensee: Optional[str] = typer.Option(None, "--licensee", help=LICENSEE_HELP),
    admin: bool = typer.Option(False, "--admin", help=ADMIN_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a note to an active claim (the state does not change)."""
    from consentry.services.claims import add_note

    actor = _actor(as_creator, licensee, admin)
    with _open(create=False) as reg:
        claim = add_note(reg, claim_id, actor=actor, note=text, by=_cli_acted_by())
    _emit(claim, as_json, actor)


@claims_app.command("withdraw")
def claims_withdraw(
    claim_id: str,
    as_creator: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
    licensee: Optional[str] = typer.Option(None, "--licensee", help=LICENSEE_HELP),
    admin: bool = typer.Option(False, "--admin", help=ADMIN_HELP),
    note: Optional[str] = typer.Option(None, "--note"),
    now: Optional[str] = typer.Option(None, "--now", help="Act as of this ISO time (default: now)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Withdraw a claim (the claimant, or an admin dismissing it): no party wins, both keep their own terms."""
    from consentry.services.claims import withdraw_claim

    actor = _actor(as_creator, licensee, admin)
    with _open(create=False) as reg:
        claim = withdraw_claim(reg, claim_id, actor=actor, note=note, now=now, by=_cli_acted_by())
    _emit(claim, as_json, actor, f"claim {claim.claim_id} withdrawn")


@claims_app.command("resolve")
def claims_resolve(
    claim_id: str,
    for_party: str = typer.Option(..., "--for", help="a (the claimant) or b (the respondent)."),
    note: Optional[str] = typer.Option(None, "--note", help="The reasons for the decision."),
    admin_name: str = typer.Option("admin", "--admin-name", help="Who decides (recorded)."),
    keep_losing_work: bool = typer.Option(False, "--keep-losing-work", help="Do not remove the losing party's work."),
    now: Optional[str] = typer.Option(None, "--now", help="Act as of this ISO time (default: now)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Decide a claim (admin): for a or b. The losing party's work of an ownership claim is removed."""
    from consentry.domain.claims import Actor
    from consentry.services.claims import resolve_claim

    actor = Actor.admin(admin_name)
    with _open(create=False) as reg:
        claim = resolve_claim(reg, claim_id, for_party=for_party.strip().lower(), actor=actor, note=note, now=now,
                              retire_losing_work=not keep_losing_work, by=_cli_acted_by())
    _emit(claim, as_json, actor, f"claim {claim.claim_id} is now {claim.state}")


@claims_app.command("expire")
def claims_expire(
    now: Optional[str] = typer.Option(None, "--now", help="Apply the deadlines as of this ISO time (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines, one per claim changed."),
) -> None:
    """Apply the deadlines: an open claim past its answer date is resolved for the claimant; a contested
    claim past its decision date is recorded as overdue (an admin must still decide). Run it daily."""
    from consentry.services.claims import expire_overdue

    with _open(create=False) as reg:
        changed = expire_overdue(reg, now=now, by=_cli_acted_by())
    if as_json:
        for c in changed:
            typer.echo(json.dumps(c.as_dict(), ensure_ascii=False))
        return
    for c in changed:
        last = c.events[-1]
        console.print(f"claim {c.claim_id}: {last.action} -> {c.state}", highlight=False)
    console.print(f"{len(changed)} claim(s) changed")


@claims_app.command("dispute-finding")
def claims_dispute_finding(
    scan_id: str = typer.Argument(..., help="The scan (an unambiguous id prefix is enough)."),
    item_id: str = typer.Argument(..., help="The item of the scan whose finding is wrong."),
    reason: str = typer.Option(..., "--reason", help="Why the finding is wrong."),
    licensee: str = typer.Option(..., "--licensee", help="Who disputes it (you)."),
    work: Optional[str] = typer.Option(None, "--work", help="Dispute only the finding of this work (default: every work found in the item)."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines, one per claim opened."),
) -> None:
    """Dispute a scan finding (a licensee): a claim per work found in the item; its creator has 30 days to answer."""
    from consentry.domain.claims import Actor
    from consentry.services.claims import dispute_finding

    with _open(create=False) as reg:
        claims = dispute_finding(reg, scan_id, item_id, actor=Actor.licensee(licensee), reason=reason, work_id=work,
                                 by=_cli_acted_by())
    if as_json:
        for c in claims:
            typer.echo(json.dumps(c.as_dict(), ensure_ascii=False))
        return
    for c in claims:
        console.print(f"claim {c.claim_id} opened: {c.party_b} (work {c.work_b}) must answer by {c.answer_due_at[:10]}",
                      highlight=False)
