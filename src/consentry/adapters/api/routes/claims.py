"""Claims and disputes over HTTP (docs/claims.md): list and show, answer, withdraw, notes, evidence, resolve,
and a licensee's dispute of a scan finding.  Every route calls :mod:`consentry.services.claims`; who acts is
the signed-in account (:func:`claim_actor`)."""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from consentry.domain.accounts import Principal
from consentry.services import claims
from consentry.domain.errors import InputError
from consentry.adapters.api.deps import act, authorize, lookup, read_upload_form, registry_dep
from consentry.adapters.api.models import ErrorOut
from consentry.adapters.api.claim_views import (
    AnswerIn, DisputeIn, NoteIn, ResolveIn, act_on_claim, claim_actor, claim_errors, claim_for, claim_out, load_claim,
    scan_for_dispute, submit_evidence_form, visible_claims,
)
from consentry.adapters.api.routes._common import acted_by

router = APIRouter(tags=["claims"], responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                                                 404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}})


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


@router.post("/claims/{claim_id}/answer", **act("claims:act"))
def answer_claim(claim_id: str, body: AnswerIn, request: Request, principal: Principal = Depends(authorize("claims:act")),
                 reg=Depends(registry_dep), claim=Depends(claim_for("claims:act"))) -> dict:
    """The respondent contests (an admin decides) or concedes; either party may concede."""
    return act_on_claim(request, reg, principal, claim_id, lambda actor, by: claims.answer_claim(
        reg, claim_id, actor=actor, contest=body.contest, note=body.note, by=by))


@router.post("/claims/{claim_id}/withdraw", **act("claims:act"))
def withdraw_claim(claim_id: str, body: NoteIn, request: Request, principal: Principal = Depends(authorize("claims:act")),
                   reg=Depends(registry_dep), claim=Depends(claim_for("claims:act"))) -> dict:
    """The claimant withdraws the claim (admins: dismiss it); no party wins."""
    return act_on_claim(request, reg, principal, claim_id,
                lambda actor, by: claims.withdraw_claim(reg, claim_id, actor=actor, note=body.note, by=by))


@router.post("/claims/{claim_id}/notes", **act("claims:act"))
def note_claim(claim_id: str, body: NoteIn, request: Request, principal: Principal = Depends(authorize("claims:act")),
               reg=Depends(registry_dep), claim=Depends(claim_for("claims:act"))) -> dict:
    """Add a note to the claim's record (a party or an admin)."""
    return act_on_claim(request, reg, principal, claim_id,
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
