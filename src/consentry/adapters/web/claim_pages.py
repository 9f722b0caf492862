"""The web app's claim pages (under ``/app/claims``): list, show, answer, withdraw, note, evidence and resolve.

Split from :mod:`consentry.adapters.web.routes` (which imports this module to register the pages on its router);
the rules are in :mod:`consentry.services.claims`, shared with the API's claim routes.
"""

from __future__ import annotations

from typing import Optional

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from consentry.adapters.api.deps import act, get_ctx, registry_dep
from consentry.adapters.api import claim_views
from consentry.adapters.web.render import render, see_other
from consentry.adapters.web.routes import form_of, one_line_validation, page, router
from consentry.domain.accounts import Principal
from consentry.domain.errors import InputError
from consentry.services import claims


@router.get("/claims", **act("claims:read"))
def claims_page(request: Request, principal: Principal = page("claims:read"), reg=Depends(registry_dep),
                state: Optional[str] = Query(None, pattern="^(active|open|contested|resolved_a|resolved_b|withdrawn)$")):
    actor = None if principal.is_admin else claim_views.claim_actor(principal)
    with claim_views.claim_errors():
        found = claims.list_claims(reg, actor=actor, states=[state] if state else None)
    shown = [claim_views.claim_out(c, principal) for c in claim_views.visible_claims(reg, found, principal)]
    for c in shown:
        c["title"] = _work_title(reg, c["party_b"]["work_id"])
    return render(request, "claims.html.j2", title="Claims", claims=list(reversed(shown)), state=state)


def _work_title(reg, work_id: str | None) -> str | None:
    """A work's title (removed works too), None when there is no such work."""
    if not work_id:
        return None
    try:
        return reg.work(work_id).title
    except InputError:
        return None


@router.get("/claims/{claim_id}", **act("claims:read"))
def claim_page(claim_id: str, request: Request, principal: Principal = page("claims:read"), reg=Depends(registry_dep)):
    claim = claim_views.claim_out(claim_views.load_claim(reg, claim_id, principal, "claims:read"), principal)
    titles = {}
    for wid in (claim["party_a"]["work_id"], claim["party_b"]["work_id"]):
        if wid:
            try:
                titles[wid] = reg.work(wid).title
            except InputError:
                titles[wid] = wid
    what = "Who owns" if claim["kind"] == "ownership" else "Dispute about"
    title = titles.get(claim["party_b"]["work_id"])
    return render(request, "claim.html.j2", title=f"{what} {title}" if title else f"Claim {claim['claim_id']}",
                  claim=claim, titles=titles)


def _form_note(form) -> str | None:
    """A claim form's optional note: trimmed, at most 2,000 characters, None when empty."""
    return (form.get("note") or "").strip()[:2000] or None


async def _claim_form_action(request: Request, principal: Principal, claim_id: str, call) -> Response:
    form = await form_of(request)

    def run():
        with get_ctx(request).pool.registry() as reg:
            return call(form, reg)

    claim = await run_in_threadpool(run)
    return see_other(f"/app/claims/{claim.claim_id}")


@router.post("/claims/{claim_id}/answer", **act("claims:act"))
async def claim_answer(claim_id: str, request: Request, principal: Principal = page("claims:act"),
                      claim=Depends(claim_views.claim_for("claims:act"))):
    def call(form, reg):
        answer = form.get("answer", "")
        if answer not in ("contest", "concede"):
            raise InputError("answer: choose contest or concede")
        body = claim_views.AnswerIn(contest=answer == "contest", note=_form_note(form))
        return claim_views.change_claim(request, reg, principal, claim_id, lambda actor, by: claims.answer_claim(
            reg, claim_id, actor=actor, contest=body.contest, note=body.note, by=by))

    return await _claim_form_action(request, principal, claim_id, call)


@router.post("/claims/{claim_id}/withdraw", **act("claims:act"))
async def claim_withdraw(claim_id: str, request: Request, principal: Principal = page("claims:act"),
                        claim=Depends(claim_views.claim_for("claims:act"))):
    def call(form, reg):
        body = claim_views.NoteIn(note=_form_note(form))
        return claim_views.change_claim(request, reg, principal, claim_id, lambda actor, by: claims.withdraw_claim(
            reg, claim_id, actor=actor, note=body.note, by=by))

    return await _claim_form_action(request, principal, claim_id, call)


@router.post("/claims/{claim_id}/notes", **act("claims:act"))
async def claim_note(claim_id: str, request: Request, principal: Principal = page("claims:act"),
                    claim=Depends(claim_views.claim_for("claims:act"))):
    def call(form, reg):
        body = claim_views.NoteIn(note=_form_note(form))
        return claim_views.change_claim(request, reg, principal, claim_id, lambda actor, by: claims.add_note(
            reg, claim_id, actor=actor, note=body.note, by=by))

    return await _claim_form_action(request, principal, claim_id, call)


@router.post("/claims/{claim_id}/evidence", **act("claims:act", upload=True))
async def claim_evidence(claim_id: str, request: Request, principal: Principal = page("claims:act"),
                        claim=Depends(claim_views.claim_for("claims:act"))):
    from consentry.adapters.api.deps import read_upload_form

    form = await read_upload_form(request, purpose="evidence")
    try:
        out = await run_in_threadpool(claim_views.submit_evidence_form, request, principal, claim_id, form)
    finally:
        form.discard()
    return see_other(f"/app/claims/{out['claim_id']}")


@router.post("/claims/{claim_id}/resolve", **act("claims:resolve"))
async def claim_resolve(claim_id: str, request: Request, principal: Principal = page("claims:resolve"),
                       claim=Depends(claim_views.claim_for("claims:resolve"))):
    def call(form, reg):
        try:
            body = claim_views.ResolveIn(for_party=form.get("for_party", ""), note=_form_note(form),
                                        keep_losing_work=form.get("keep_losing_work") in ("1", "on", "true"))
        except ValidationError as exc:
            raise one_line_validation(exc) from None
        return claim_views.change_claim(request, reg, principal, claim_id, lambda actor, by: claims.resolve_claim(
            reg, claim_id, for_party=body.for_party, actor=actor, note=body.note,
            retire_losing_work=not body.keep_losing_work, by=by), action="claims:resolve")

    return await _claim_form_action(request, principal, claim_id, call)
