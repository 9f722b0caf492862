"""Claims and disputes over HTTP (docs/claims.md): list and show, answer, withdraw, notes, evidence, resolve,
and a licensee's dispute of a scan finding.  Every route calls :mod:`consentry.services.claims`; who acts is
the signed-in account (:func:`claim_actor`)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from consentry.domain.accounts import Conflict, PermissionDenied, Principal
from consentry.domain.accounts import party_of
from consentry.services import claims
from consentry.domain.claims import Actor, ClaimError, ClaimNotFoundError, NotAPartyError, allowed_actions
from consentry.domain.errors import ConsentryError, InputError
from consentry.adapters.api.deps import act, authorize, ensure_allowed, get_ctx, lookup, read_upload_form, registry_dep
from consentry.adapters.api.models import ErrorOut, _In
from consentry.adapters.api.routes._common import acted_by

router = APIRouter(tags=["claims"], responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                                                 404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}})


class AnswerIn(_In):
    contest: bool = Field(description="true: contest (an admin decides); false: concede (the claim goes to the other party).")
    note: Optional[str] = Field(None, max_length=2000)


class NoteIn(_In):
    note: Optional[str] = Field(None, max_length=2000)


class ResolveIn(_In):
    for_party: Literal["a", "b"] = Field(description="a: the claimant, b: the respondent.")
    note: Optional[str] = Field(None, max_length=2000)
    keep_losing_work: bool = Field(False, description="Keep the losing party's work registered (ownership claims).")


class DisputeIn(_In):
    item_id: str = Field(max_length=2000)
    reason: str = Field(max_length=2000)
    work_id: Optional[str] = Field(None, max_length=200, description="Only this work's finding (default: every work found in the item).")


def claim_actor(principal: Principal) -> Actor:
    """The claims service's actor for a signed-in account: a creator by its creator name, a licensee by its
    e-mail address, an admin as the admin (with the account id recorded in every event)."""
    if principal.is_admin:
        return Actor.admin(principal.email, account_id=principal.account_id)
    kind, name = party_of(principal) or ("licensee", principal.email)
    return Actor(kind, name, principal.account_id)


def claim_parties(claim) -> list[tuple[str, str]]:
    return [(claim.party_a_kind, claim.party_a), ("creator", claim.party_b)]


def parties_for(reg, claim, principal: Principal | None) -> list[tuple[str, str]]:
    """The claim's parties as far as ``principal`` may act for them: a creator account is the party its creator name
    names only on the side whose work it controls (a name typed at sign-up gives no say over works registered by
    others; :func:`consentry.services.accounts.controls_work`)."""
    if principal is None or principal.role != "creator":
        return claim_parties(claim)
    from consentry.services.accounts import controls_work

    out = []
    for kind, name, work_id in ((claim.party_a_kind, claim.party_a, claim.work_a), ("creator", claim.party_b, claim.work_b)):
        if kind == "creator" and name == principal.creator and work_id:
            try:
                work = reg.work(work_id)
            except ConsentryError:  # the work is gone: nothing to control
                continue
            if not controls_work(reg, principal, work):
                continue
        out.append((kind, name))
    return out


def visible_claims(reg, claims_found, principal: Principal) -> list:
    """Of a party's claims (by name), those it may see (:func:`parties_for`); an admin sees all."""
    if principal.is_admin:
        return list(claims_found)
    me = party_of(principal)
    return [c for c in claims_found if me in parties_for(reg, c, principal)]


@contextmanager
def claim_errors():
    """The claims service's errors as the server's: unknown claim 404, not a party 403, refused by state 409."""
    from consentry.adapters.api.app import NotFound

    try:
        yield
    except ClaimNotFoundError as exc:
        raise NotFound(str(exc)) from None
    except NotAPartyError as exc:
        raise PermissionDenied(str(exc)) from None
    except ClaimError as exc:
        raise Conflict(str(exc)) from None


def load_claim(reg, claim_id: str, principal: Principal, action: str):
    """The claim, once ``principal`` may do ``action`` on it (a party or an admin)."""
    with lookup("claim", claim_id):
        claim = claims.show_claim(reg, claim_id)
    ensure_allowed(action, principal, owner_parties=parties_for(reg, claim, principal), resource=("claim", claim_id))
    return claim


def claim_for(action: str):
    """A dependency: the claim of the path's ``claim_id`` once the caller may do ``action`` on it (a party or an
    admin), checked before the request's body is looked at."""
    auth = authorize(action)

    def dependency(claim_id: str, principal: Principal = Depends(auth), reg=Depends(registry_dep)):
        return load_claim(reg, claim_id, principal, action)

    return dependency


def scan_for_dispute(scan_id: str, principal: Principal = Depends(authorize("claims:dispute")),
                     reg=Depends(registry_dep)) -> dict:
    """A dependency: the scan of the path, once the caller may dispute its findings (the scan is theirs)."""
    from consentry.services.scan import get_scan, scan_owner

    with lookup("scan", scan_id):
        scan = get_scan(reg, scan_id)
    ensure_allowed("claims:dispute", principal, owner_account=scan_owner(reg, scan["scan_id"]),
                   resource=("scan", scan_id))
    return scan


def claim_out(claim, principal: Principal | None = None) -> dict:
    """A claim as the API shows it: evidence events name their stored copy by its event number, not by path."""
    d = claim.as_dict()
    for e in d["events"]:
        if e.get("evidence"):
            ev = {k: v for k, v in e["evidence"].items() if k != "file"}
            ev["download"] = f"/api/v1/claims/{claim.claim_id}/evidence/{e['seq']}"
            e["evidence"] = ev
    if principal is not None:
        role = claim.role_of(claim_actor(principal))
        d["your_role"] = role
        d["allowed_actions"] = allowed_actions(claim, role)
    return d


@router.get("/claims", **act("claims:read"))
def list_claims(principal: Principal = Depends(authorize("claims:read")), reg=Depends(registry_dep),
                state: Optional[Literal["active", "open", "contested", "resolved_a", "resolved_b", "withdrawn"]] = Query(None),
                work_id: Optional[str] = Query(None, max_length=200),
                kind: Optional[Literal["ownership", "finding"]] = Query(None)) -> list[dict]:
    """The claims the account is a party to, oldest first (admins: every claim)."""
    actor = None if principal.is_admin else claim_actor(principal)
    if work_id is not None:  # another creator's work is as unknown here as on its own route
        from consentry.domain.accounts import no_such
        from consentry.services.accounts import controls_work
        from consentry.adapters.api.app import NotFound

        with lookup("work", work_id):
            work = reg.work(work_id)
        if principal.role == "creator" and not controls_work(reg, principal, work):
            raise NotFound(no_such("work", work_id))
        work_id = work.work_id
    with claim_errors():
        found = claims.list_claims(reg, actor=actor, states=[state] if state else None, work_id=work_id, kind=kind)
    return [claim_out(c, principal) for c in visible_claims(reg, found, principal)]


@router.get("/claims/{claim_id}", **act("claims:read"))
def show_claim(claim_id: str, principal: Principal = Depends(authorize("claims:read")), reg=Depends(registry_dep)) -> dict:
    """One claim with its events, your role in it and what you may do now."""
    return claim_out(load_claim(reg, claim_id, principal, "claims:read"), principal)


def change_claim(request: Request, reg, principal: Principal, claim_id: str, call, *, action: str = "claims:act"):
    """Apply ``call(actor, by)`` (a use case of consentry.services.claims, which writes the audit record) once
    ``principal`` may do ``action`` on the claim; returns the claim after it (API and web alike)."""
    load_claim(reg, claim_id, principal, action)
    with claim_errors():
        return call(claim_actor(principal), acted_by(request, principal))


def _act(request: Request, reg, principal: Principal, claim_id: str, call) -> dict:
    return claim_out(change_claim(request, reg, principal, claim_id, call), principal)


@router.post("/claims/{claim_id}/answer", **act("claims:act"))
def answer_claim(claim_id: str, body: AnswerIn, request: Request, principal: Principal = Depends(authorize("claims:act")),
                 reg=Depends(registry_dep), claim=Depends(claim_for("claims:act"))) -> dict:
    """The respondent contests (an admin decides) or concedes; either party may concede."""
    return _act(request, reg, principal, claim_id, lambda actor, by: claims.answer_claim(
        reg, claim_id, actor=actor, contest=body.contest, note=body.note, by=by))


@router.post("/claims/{claim_id}/withdraw", **act("claims:act"))
def withdraw_claim(claim_id: str, body: NoteIn, request: Request, principal: Principal = Depends(authorize("claims:act")),
                   reg=Depends(registry_dep), claim=Depends(claim_for("claims:act"))) -> dict:
    """The claimant withdraws the claim (admins: dismiss it); no party wins."""
    return _act(request, reg, principal, claim_id,
                lambda actor, by: claims.withdraw_claim(reg, claim_id, actor=actor, note=body.note, by=by))


@router.post("/claims/{claim_id}/notes", **act("claims:act"))
def note_claim(claim_id: str, body: NoteIn, request: Request, principal: Principal = Depends(authorize("claims:act")),
               reg=Depends(registry_dep), claim=Depends(claim_for("claims:act"))) -> dict:
    """Add a note to the claim's record (a party or an admin)."""
    return _act(request, reg, principal, claim_id,
                lambda actor, by: claims.add_note(reg, claim_id, actor=actor, note=body.note, by=by))


EVIDENCE_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["bundle"],
    "properties": {"bundle": {"type": "string", "format": "binary", "description": "An evidence bundle (.evidence.zip)."},
                   "note": {"type": "string"}, "csrf_token": {"type": "string"}}}}}}}


@router.post("/claims/{claim_id}/evidence", **act("claims:act", openapi_extra=EVIDENCE_BODY))
async def claim_evidence(claim_id: str, request: Request, principal: Principal = Depends(authorize("claims:act")),
                         claim=Depends(claim_for("claims:act"))) -> dict:
    """Add an evidence bundle (from a check) to the claim: stored, verified, and recorded with the outcome."""
    form = await read_upload_form(request, purpose="evidence")
    try:
        return await run_in_threadpool(submit_evidence_form, request, principal, claim_id, form)
    finally:
        form.discard()


def submit_evidence_form(request: Request, principal: Principal, claim_id: str, form) -> dict:
    """Submit the one file of ``form`` (field ``bundle``) as evidence; shared with the web app."""
    ctx = get_ctx(request)
    files = form.files_named("bundle") or form.files
    if len(files) != 1:
        raise InputError("bundle: send exactly one evidence bundle in the 'bundle' field")
    note = (form.get("note") or "").strip()[:2000] or None
    with ctx.pool.registry() as reg:
        return _act(request, reg, principal, claim_id, lambda actor, by: claims.submit_evidence(
            reg, claim_id, files[0].path, actor=actor, evidence_dir=ctx.settings.data_dir / "evidence", note=note,
            name=files[0].original_name, by=by))


@router.get("/claims/{claim_id}/evidence/{seq}", response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}}}}, **act("claims:read"))
def claim_evidence_file(claim_id: str, seq: int, principal: Principal = Depends(authorize("claims:read")),
                        reg=Depends(registry_dep)):
    """The evidence bundle submitted in event ``seq`` of the claim."""
    from consentry.adapters.api.app import NotFound

    claim = load_claim(reg, claim_id, principal, "claims:read")
    try:
        path = claims.evidence_copy(claim, seq)
    except InputError as exc:
        raise NotFound(str(exc)) from None
    if not path.is_file():
        raise NotFound(f"claim {claim.claim_id}: the evidence of event {seq} is gone from the server")
    return FileResponse(path, media_type="application/zip", filename=f"{claim.claim_id}-{seq}.evidence.zip")


@router.post("/claims/{claim_id}/resolve", **act("claims:resolve"))
def resolve_claim(claim_id: str, body: ResolveIn, request: Request, principal: Principal = Depends(authorize("claims:resolve")),
                  reg=Depends(registry_dep), claim=Depends(claim_for("claims:resolve"))) -> dict:
    """An admin decides the claim for the claimant (a) or the respondent (b)."""
    load_claim(reg, claim_id, principal, "claims:resolve")
    with claim_errors():
        claim = claims.resolve_claim(reg, claim_id, for_party=body.for_party, actor=claim_actor(principal), note=body.note,
                                     retire_losing_work=not body.keep_losing_work, by=acted_by(request, principal))
    return claim_out(claim, principal)


@router.post("/scans/{scan_id}/disputes", status_code=201, tags=["claims", "scans"], **act("claims:dispute"))
def dispute_finding(scan_id: str, body: DisputeIn, request: Request, principal: Principal = Depends(authorize("claims:dispute")),
                    reg=Depends(registry_dep), scan=Depends(scan_for_dispute)) -> list[dict]:
    """Dispute a finding of one of your scans: a claim against the creator of each work found in the item."""
    with claim_errors():
        opened = claims.dispute_finding(reg, scan["scan_id"], body.item_id, actor=claim_actor(principal),
                                        reason=body.reason, work_id=body.work_id, by=acted_by(request, principal))
    return [claim_out(c, principal) for c in opened]
