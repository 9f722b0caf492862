"""Works (upload-and-register as a job, list, show, remove), their terms, creators' default terms, voices."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ...accounts import Principal
from ...errors import InputError
from ...registry.models import Terms, parse_date
from ...registry.usage import UseTerms
from ..deps import act, authorize, ensure_allowed, get_ctx, lookup, read_upload_form, registry_dep
from ..models import ErrorOut, JobOut, TermsHistoryOut, TermsIn, TermsOut, VoiceOut, WorkDetailOut, WorkOut
from ._common import acted_by, submit_upload_job, work_out

router = APIRouter(tags=["works"], responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                                                404: {"model": ErrorOut}, 429: {"model": ErrorOut}})

UPLOAD_BODY = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "description": "Audio files (one work each)."},
            "terms": {"type": "string", "enum": ["deny", "allow", "license"], "default": "deny"},
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


def _creator_for(principal: Principal, requested: str | None, action: str) -> str:
    """The creator an upload is for: a creator account's own name, or the one an admin names."""
    if principal.role == "creator":
        if requested not in (None, "", principal.creator):
            ensure_allowed(action, principal, owner_creator=requested)
        return principal.creator
    if not requested or not requested.strip():
        raise InputError("creator: name the creator these are for")
    from ...accounts.service import normalize_creator

    return normalize_creator(requested)


def _refuse_unbound_holder(reg, creator: str) -> None:
    """An admin's upload under a creator name that a signed-up account holds, unbound: refused, or the works would
    take that account's default terms (it cannot change the works themselves, :func:`_owner_for`)."""
    from ...accounts.service import refuse_unbound_holder

    refuse_unbound_holder(reg.store, creator)


def _owner_for(reg, principal: Principal | None, w) -> str | None:
    """The creator name a work is owned under, as the policy sees it: for a creator account, its own name only if
    the account controls the work (:func:`consentry.accounts.service.controls_work`), else nobody's."""
    from ...accounts.service import controls_work

    if principal is not None and principal.role == "creator" and not controls_work(reg.store, principal, w):
        return None
    return w.creator


def _load_work(reg, work_id: str, principal: Principal | None, action: str):
    """The work of an id (or unambiguous prefix) from the request; someone else's is a 404, as an unknown id."""
    with lookup("work", work_id):
        w = reg.work(work_id)
    ensure_allowed(action, principal, owner_creator=_owner_for(reg, principal, w), resource=("work", work_id))
    return w


def creator_works(reg, principal: Principal, *, include_removed: bool = False) -> list:
    """The works a creator account controls (registered through it, or all of its name once an admin bound it)."""
    from ...accounts.service import controlled_work_ids

    works = reg.works(include_removed=include_removed)
    mine = controlled_work_ids(reg.store, principal, works)
    return [w for w in works if w.work_id in mine]


# -- works --------------------------------------------------------------------------------
@router.get("/works", response_model=list[WorkOut], **act("works:list"))
def list_works(principal: Principal = Depends(authorize("works:list")), reg=Depends(registry_dep),
               include_removed: bool = Query(False)) -> list[dict]:
    """Works: a creator account's own; every work for licensees and admins."""
    if principal.role == "creator":
        works = creator_works(reg, principal, include_removed=include_removed)
    else:
        works = reg.works(include_removed=include_removed)
    return [work_out(w) for w in works]


@router.post("/works", status_code=202, response_model=JobOut, **act("works:create", openapi_extra=UPLOAD_BODY))
async def upload_works(request: Request, principal: Principal = Depends(authorize("works:create"))) -> dict:
    """Upload audio files and register them (a background job: poll its `links.self`)."""
    form = await read_upload_form(request, purpose="audio")
    try:
        files = form.files_named("files") or form.files
        if not files:
            raise InputError("files: send at least one audio file in the 'files' field")
        creator = _creator_for(principal, form.get("creator"), "works:create")
        if principal.role != "creator":
            await run_in_threadpool(_with_registry, request, lambda reg: _refuse_unbound_holder(reg, creator))
        decision = (form.get("terms") or "deny").strip()
        try:
            price = float(form.get("price")) if form.get("price") not in (None, "") else None
        except ValueError:
            raise InputError(f"price {form.get('price')!r}: not a number") from None
        currency = form.get("currency") or None
        Terms(decision=decision, price=price, currency=currency)  # validates (InputError)
        UseTerms(decision=decision, price=price, currency=currency)
        title = (form.get("title") or "").strip() or None
        if title is not None and len(files) != 1:
            raise InputError(f"title names one work, but {len(files)} files were sent; leave it out")
        dates = {k: parse_date(form.get(k) or None, what=k) for k in ("copyright_registered_on", "first_published_on")}
        melody = get_ctx(request).settings.store_melodies
        return await run_in_threadpool(
            submit_upload_job, request, principal, form, files, purpose="audio", kind="register",
            params_of=lambda paths, uploads: {
                "paths": paths, "uploads": uploads, "creator": creator, "title": title[:300] if title else None,
                "terms": {"decision": decision, "price": price, "currency": currency}, "melody": melody, **dates})
    finally:
        form.discard()


def _with_registry(request: Request, call):
    with get_ctx(request).pool.registry() as reg:
        return call(reg)


@router.get("/works/{work_id}", response_model=WorkDetailOut, **act("works:read"))
def show_work(work_id: str, principal: Principal = Depends(authorize("works:read")), reg=Depends(registry_dep)) -> dict:
    """A work and the terms in force for every use."""
    w = _load_work(reg, work_id, principal, "works:read")
    return {"work": work_out(w), "terms": _work_terms(reg, w)}


@router.delete("/works/{work_id}", response_model=WorkOut, **act("works:delete"))
def remove_work(work_id: str, request: Request, principal: Principal = Depends(authorize("works:delete")),
                reg=Depends(registry_dep)) -> dict:
    """Remove a work: it is no longer matched (its record stays, marked removed)."""
    from ...usecases.works import remove_work as remove

    w = _load_work(reg, work_id, principal, "works:delete")
    return work_out(remove(reg, w.work_id, by=acted_by(request, principal)))


# -- terms ----------------------------------------------------------------------------------
def _work_terms(reg, w) -> dict:
    """The terms in force (disputes applied, docs/claims.md): the same answer as ``consentry terms show``."""
    from ...usecases.works import work_terms as terms_of

    return terms_of(reg, w.work_id).as_dict()


def _changes(body: TermsIn) -> dict:
    return {use: UseTerms(**t.model_dump()) for use, t in body.uses.items()}


@router.get("/works/{work_id}/terms", response_model=TermsOut, **act("works:read"))
def work_terms(work_id: str, principal: Principal = Depends(authorize("works:read")), reg=Depends(registry_dep)) -> dict:
    """The terms in force for every use of a work, and where each comes from."""
    return _work_terms(reg, _load_work(reg, work_id, principal, "works:read"))


@router.put("/works/{work_id}/terms", response_model=TermsOut, **act("terms:write"))
def set_work_terms(work_id: str, body: TermsIn, request: Request, principal: Principal = Depends(authorize("terms:write")),
                   reg=Depends(registry_dep)) -> dict:
    """Change some uses' terms (and validity, jurisdiction): a new version is appended, the old ones stay."""
    w = _load_work(reg, work_id, principal, "terms:write")
    changes = _changes(body)
    if not changes and body.valid_from is None and body.valid_until is None and body.jurisdiction is None:
        raise InputError("nothing to change: give uses, valid_from, valid_until or jurisdiction")
    from ...usecases.works import set_work_terms as set_terms

    return set_terms(reg, w.work_id, changes, by=acted_by(request, principal), valid_from=body.valid_from,
                     valid_until=body.valid_until, jurisdiction=body.jurisdiction,
                     requested=body.model_dump(exclude_none=True)).as_dict()


@router.get("/works/{work_id}/terms/history", response_model=TermsHistoryOut, **act("works:read"))
def work_terms_history(work_id: str, principal: Principal = Depends(authorize("works:read")), reg=Depends(registry_dep)) -> dict:
    """Every terms version of a work, oldest first."""
    w = _load_work(reg, work_id, principal, "works:read")
    return {"versions": [{"version": v, "recorded_at": at, **tv.as_dict()} for v, tv, at in reg.terms_history(w.work_id)]}


@router.get("/creators/{creator}/terms", response_model=TermsOut, **act("creator_terms:read"))
def creator_terms(creator: str, principal: Principal = Depends(authorize("creator_terms:read")), reg=Depends(registry_dep)) -> dict:
    """A creator's default terms (for the uses their works leave open)."""
    from ..app import NotFound

    current = reg.store.creator_terms(creator)
    if current is None:
        raise NotFound(f"creator {creator!r}: no default terms set")
    return {"creator": creator, "version": current[0], **current[1].as_dict()}


@router.put("/creators/{creator}/terms", response_model=TermsOut, **act("terms:write"))
def set_creator_terms(creator: str, body: TermsIn, request: Request, principal: Principal = Depends(authorize("terms:write")),
                      reg=Depends(registry_dep)) -> dict:
    """Append a version of a creator's default terms (a creator account: its own only, and only while it controls
    every work under the name: the defaults apply to all of them)."""
    ensure_allowed("terms:write", principal, owner_creator=creator)
    if principal.role == "creator":
        _refuse_uncontrolled_works(reg, principal)
    changes = _changes(body)
    if not changes and body.valid_from is None and body.valid_until is None and body.jurisdiction is None:
        raise InputError("nothing to change: give uses, valid_from, valid_until or jurisdiction")
    from ...usecases.works import set_creator_terms as set_defaults

    version, tv = set_defaults(reg, creator, changes, by=acted_by(request, principal), valid_from=body.valid_from,
                               valid_until=body.valid_until, jurisdiction=body.jurisdiction,
                               requested=body.model_dump(exclude_none=True))
    return {"creator": creator, "version": version, **tv.as_dict()}


def _refuse_uncontrolled_works(reg, principal: Principal) -> None:
    from ...accounts import PermissionDenied
    from ...accounts.service import controlled_work_ids

    named = [w for w in reg.works(include_removed=True) if w.creator == principal.creator]
    if len(controlled_work_ids(reg.store, principal, named)) < len(named):
        raise PermissionDenied(f"works under {principal.creator!r} were registered by someone else; the creator's "
                               "default terms would change them too: ask an administrator to bind your account to the name")


# -- voices ----------------------------------------------------------------------------------
@router.get("/voices", response_model=list[VoiceOut], tags=["voices"], **act("voices:read"))
def list_voices(principal: Principal = Depends(authorize("voices:read")), reg=Depends(registry_dep),
                creator: Optional[str] = Query(None, max_length=200, description="Admins: one creator's voices.")) -> list[dict]:
    """Enrolled voice prints (a creator account: its own)."""
    if principal.role == "creator":
        creator = principal.creator
    return [v.as_dict() for v in reg.store.list_voices() if creator is None or v.creator == creator]


@router.post("/voices", status_code=202, response_model=JobOut, tags=["voices"], **act("voices:enroll", openapi_extra=VOICE_BODY))
async def enroll_voices(request: Request, principal: Principal = Depends(authorize("voices:enroll"))) -> dict:
    """Upload speech samples and enrol them as the creator's voice (a background job)."""
    form = await read_upload_form(request, purpose="voice")
    try:
        files = form.files_named("files") or form.files
        if not files:
            raise InputError("files: send at least one speech sample in the 'files' field")
        creator = _creator_for(principal, form.get("creator"), "voices:enroll")
        return await run_in_threadpool(
            submit_upload_job, request, principal, form, files, purpose="voice", kind="enroll",
            params_of=lambda paths, uploads: {"paths": paths, "uploads": uploads, "creator": creator})
    finally:
        form.discard()
