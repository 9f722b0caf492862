"""Works (upload-and-register as a job, list, show, remove), their terms, creators' default terms, voices."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from consentry.domain.terms import DECISIONS
from consentry.domain.accounts import Principal
from consentry.adapters.api import submissions
from consentry.adapters.api.deps import act, authorize, registry_dep
from consentry.adapters.api.models import (
    ErrorOut, JobOut, TermsHistoryOut, TermsIn, TermsOut, VoiceOut, WorkDetailOut, WorkOut,
)
from consentry.adapters.api.routes._common import (
    acted_by, allow_creator_terms, load_work, terms_in, work_out,
)

router = APIRouter(tags=["works"], responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                                                404: {"model": ErrorOut}, 429: {"model": ErrorOut}})

UPLOAD_BODY = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "description": "Audio files (one work each)."},
            "terms": {"type": "string", "enum": list(DECISIONS), "default": "deny"},
            "price": {"type": "number"}, "currency": {"type": "string"},
            "title": {"type": "string", "description": "Only with one file (default: its title tag, else its name)."},
            "creator": {"type": "string", "description": "Admins: whose works these are (a creator account registers its own)."},
            "copyright_registered_on": {"type": "string"}, "first_published_on": {"type": "string"},
            "csrf_token": {"type": "string"},
        }}}}},
}
VOICE_BODY = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "description": "Speech samples."},
            "creator": {"type": "string", "description": "Admins: whose voice (a creator account enrols its own)."},
            "csrf_token": {"type": "string"},
        }}}}},
}


# -- works --------------------------------------------------------------------------------
@router.get("/works", response_model=list[WorkOut], **act("works:list"))
def list_works(principal: Principal = Depends(authorize("works:list")), reg=Depends(registry_dep),
               include_removed: bool = Query(False)) -> list[dict]:
    """Works: a creator account's own; every work for licensees and admins."""
    from consentry.services.works import works_of

    return [work_out(w) for w in works_of(reg, principal, include_removed=include_removed)]


@router.post("/works", status_code=202, response_model=JobOut, **act("works:create", openapi_extra=UPLOAD_BODY))
async def upload_works(request: Request, principal: Principal = Depends(authorize("works:create"))) -> dict:
    """Upload audio files, texts or images and register them (a background job: poll its `links.self`)."""
    return await submissions.submit_works(request, principal)


@router.get("/works/{work_id}", response_model=WorkDetailOut, **act("works:read"))
def show_work(work_id: str, principal: Principal = Depends(authorize("works:read")), reg=Depends(registry_dep)) -> dict:
    """A work and the terms in force for every use."""
    w = load_work(reg, work_id, principal, "works:read")
    return {"work": work_out(w), "terms": _work_terms(reg, w)}


@router.delete("/works/{work_id}", response_model=WorkOut, **act("works:delete"))
def remove_work(work_id: str, request: Request, principal: Principal = Depends(authorize("works:delete")),
                reg=Depends(registry_dep)) -> dict:
    """Remove a work: it is no longer matched (its record stays, marked removed)."""
    from consentry.services.works import remove_work as remove

    w = load_work(reg, work_id, principal, "works:delete")
    return work_out(remove(reg, w.work_id, by=acted_by(request, principal)))


# -- terms ----------------------------------------------------------------------------------
def _work_terms(reg, w) -> dict:
    """The terms in force (disputes applied, docs/claims.md): the same answer as ``consentry terms show``."""
    from consentry.services.works import work_terms as terms_of

    return terms_of(reg, w.work_id).as_dict()


@router.get("/works/{work_id}/terms", response_model=TermsOut, **act("works:read"))
def work_terms(work_id: str, principal: Principal = Depends(authorize("works:read")), reg=Depends(registry_dep)) -> dict:
    """The terms in force for every use of a work, and where each comes from."""
    return _work_terms(reg, load_work(reg, work_id, principal, "works:read"))


@router.put("/works/{work_id}/terms", response_model=TermsOut, **act("terms:write"))
def set_work_terms(work_id: str, body: TermsIn, request: Request, principal: Principal = Depends(authorize("terms:write")),
                   reg=Depends(registry_dep)) -> dict:
    """Change some uses' terms (and validity, jurisdiction): a new version is appended, the old ones stay."""
    from consentry.services.works import set_work_terms as set_terms

    w = load_work(reg, work_id, principal, "terms:write")
    return set_terms(reg, w.work_id, terms_in(body), by=acted_by(request, principal), valid_from=body.valid_from,
                     valid_until=body.valid_until, jurisdiction=body.jurisdiction,
                     requested=body.model_dump(exclude_none=True)).as_dict()


@router.get("/works/{work_id}/terms/history", response_model=TermsHistoryOut, **act("works:read"))
def work_terms_history(work_id: str, principal: Principal = Depends(authorize("works:read")), reg=Depends(registry_dep)) -> dict:
    """Every terms version of a work, oldest first."""
    from consentry.services.works import terms_history

    return {"versions": terms_history(reg, load_work(reg, work_id, principal, "works:read").work_id)}


@router.get("/creators/{creator}/terms", response_model=TermsOut, **act("creator_terms:read"))
def creator_terms(creator: str, principal: Principal = Depends(authorize("creator_terms:read")), reg=Depends(registry_dep)) -> dict:
    """A creator's default terms (for the uses their works leave open)."""
    from consentry.services.works import creator_terms as current_terms
    from consentry.adapters.api.app import NotFound

    current = current_terms(reg, creator)
    if current is None:
        raise NotFound(f"creator {creator!r}: no default terms set")
    return {"creator": creator, "version": current[0], **current[1].as_dict()}


@router.put("/creators/{creator}/terms", response_model=TermsOut, **act("terms:write"))
def set_creator_terms(creator: str, body: TermsIn, request: Request, principal: Principal = Depends(authorize("terms:write")),
                      reg=Depends(registry_dep)) -> dict:
    """Append a version of a creator's default terms (a creator account: its own only, and only while it controls
    every work under the name: the defaults apply to all of them)."""
    from consentry.services.works import set_creator_terms as set_defaults

    allow_creator_terms(reg, principal, creator)
    version, tv = set_defaults(reg, creator, terms_in(body), by=acted_by(request, principal), valid_from=body.valid_from,
                               valid_until=body.valid_until, jurisdiction=body.jurisdiction,
                               requested=body.model_dump(exclude_none=True))
    return {"creator": creator, "version": version, **tv.as_dict()}


# -- voices ----------------------------------------------------------------------------------
@router.get("/voices", response_model=list[VoiceOut], tags=["voices"], **act("voices:read"))
def list_voices(principal: Principal = Depends(authorize("voices:read")), reg=Depends(registry_dep),
                creator: Optional[str] = Query(None, max_length=200, description="Admins: one creator's voices.")) -> list[dict]:
    """Enrolled voice prints (a creator account: its own)."""
    if principal.role == "creator":
        creator = principal.creator
    from consentry.services.works import voice_rows

    return voice_rows(reg, creator=creator)


@router.post("/voices", status_code=202, response_model=JobOut, tags=["voices"], **act("voices:enroll", openapi_extra=VOICE_BODY))
async def enroll_voices(request: Request, principal: Principal = Depends(authorize("voices:enroll"))) -> dict:
    """Upload speech samples and enrol them as the creator's voice (a background job)."""
    return await submissions.submit_voices(request, principal)
