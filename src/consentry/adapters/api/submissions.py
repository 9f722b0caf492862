"""Uploads that become jobs: the one implementation behind the API's routes and the web app's forms.

The API routes (``routes/works.py``, ``routes/audit.py``) and the web pages
(``adapters/web/routes.py``) accept the same multipart forms and submit the
same jobs; both call these functions, so the checks (creator, terms, price,
dates, URL lists, local paths in manifests) and the audit records are the
same whichever door an upload comes through.  Each returns the job's public
form (:func:`.routes._common.job_out`).
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from consentry.adapters.api.deps import client_ip, ensure_allowed, get_ctx, read_upload_form
from consentry.adapters.api.models import ScanUrlsIn
from consentry.adapters.api.routes._common import job_out, record, submit_upload_job
from consentry.domain.accounts import Principal
from consentry.domain.errors import InputError
from consentry.domain.usage import UseTerms
from consentry.domain.works import Terms, parse_date


def creator_for(principal: Principal, requested: str | None, action: str) -> str:
    """The creator an upload is for: a creator account's own name, or the one an admin names."""
    if principal.role == "creator":
        if requested not in (None, "", principal.creator):
            ensure_allowed(action, principal, owner_creator=requested)
        return principal.creator
    if not requested or not requested.strip():
        raise InputError("creator: name the creator these are for")
    from consentry.services.accounts import normalize_creator

    return normalize_creator(requested)


def _with_registry(request: Request, call):
    with get_ctx(request).pool.registry() as reg:
        return call(reg)


def the_file(form, field: str):
    files = form.files_named(field) or form.files
    if len(files) != 1:
        raise InputError(f"{field}: send exactly one file in the '{field}' field")
    return files[0]


def _the_files(form, what: str) -> list:
    """The files of the form's ``files`` field (or all its files); none is an error naming ``what`` is wanted."""
    files = form.files_named("files") or form.files
    if not files:
        raise InputError(f"files: send at least one {what} in the 'files' field")
    return files


def float_field(form, name: str) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name} {raw!r}: not a number") from None
    if not (0 <= value < 1e6):
        raise InputError(f"{name} {raw!r}: give a number between 0 and 1000000")
    return value


def bool_field(form, name: str, default: bool) -> bool:
    raw = form.get(name)
    if raw in (None, ""):
        return default
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise InputError(f"{name} {raw!r}: give true or false")


def submit_job(request: Request, principal: Principal, form, files, *, purpose: str, kind: str, params: dict,
                check=None) -> dict:
    """A ``kind`` job on one uploaded file (``check(path)`` validates it before it is recorded)."""
    return submit_upload_job(
        request, principal, form, files, purpose=purpose, kind=kind,
        validate=(lambda path: check(str(path))) if check is not None else None,
        params_of=lambda paths, uploads: {"path": paths[0], "name": uploads[0]["original_name"],
                                          "upload_id": uploads[0]["upload_id"], **params})


def refuse_local_references(path: str) -> None:
    """A manifest sent to the server may hold URLs or audio bytes, never paths of the server's files."""
    import re

    from consentry.io.sources import open_dataset

    ds = open_dataset(path)
    if ds.kind not in ("csv", "jsonl", "parquet"):
        return
    url = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
    for item in ds.items():
        if item.data is not None:
            continue
        local = item.path is not None or (item.name != item.item_id and (not url.match(item.name)
                                                                          or item.name.lower().startswith("file:")))
        if local:
            raise InputError(f"manifest {item.item_id}: names a file path ({item.name[:100]!r}); a manifest sent to the "
                             "server may list only http(s) URLs or hold the audio bytes")


async def submit_works(request: Request, principal: Principal) -> dict:
    """``POST /works`` and the web app's upload page: files to register, as a job (the job's public form)."""
    form = await read_upload_form(request, purpose="audio")
    try:
        files = _the_files(form, "file to register (audio, a text or an image)")
        creator = creator_for(principal, form.get("creator"), "works:create")
        if principal.role != "creator":
            # An admin's upload under a name that a signed-up account holds, unbound, would give the works that
            # account's default terms, which it could not change: refused (services.accounts).
            from consentry.services.accounts import refuse_unbound_holder

            await run_in_threadpool(_with_registry, request, lambda reg: refuse_unbound_holder(reg, creator))
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


async def submit_voices(request: Request, principal: Principal) -> dict:
    """``POST /voices`` and the web app: speech samples to enrol as the creator's voice, as a job."""
    form = await read_upload_form(request, purpose="voice")
    try:
        files = _the_files(form, "speech sample")
        creator = creator_for(principal, form.get("creator"), "voices:enroll")
        return await run_in_threadpool(
            submit_upload_job, request, principal, form, files, purpose="voice", kind="enroll",
            params_of=lambda paths, uploads: {"paths": paths, "uploads": uploads, "creator": creator})
    finally:
        form.discard()


async def submit_identify(request: Request, principal: Principal) -> dict:
    """``POST /identify/jobs``: a long recording, a text or an image to identify, as a job."""
    form = await read_upload_form(request, purpose="audio")
    try:
        f = the_file(form, "file")
        params = {"min_score": float_field(form, "min_score")}
        return await run_in_threadpool(submit_job, request, principal, form, [f], purpose="audio", kind="identify",
                                       params=params)
    finally:
        form.discard()


async def submit_scan_upload(request: Request, principal: Principal) -> dict:
    """``POST /scans`` and the web app: an uploaded dataset to scan, as a job."""
    ctx = get_ctx(request)
    form = await read_upload_form(request, purpose="dataset")
    try:
        f = the_file(form, "dataset")
        fetch = bool_field(form, "fetch_urls", False)
        if fetch and not ctx.settings.allow_url_fetch:
            raise InputError("fetch_urls: this server does not download URLs for scans (setting allow_url_fetch)")
        return await run_in_threadpool(submit_job, request, principal, form, [f], purpose="dataset", kind="scan",
                                       params={"fetch_urls": fetch}, check=refuse_local_references)
    finally:
        form.discard()


def submit_url_scan(body: ScanUrlsIn, request: Request, principal: Principal) -> dict:
    """``POST /scans/urls`` and the web app: a list of URLs to scan (downloaded only with ``fetch``), as a job."""
    from urllib.parse import urlsplit

    ctx = get_ctx(request)
    if body.fetch and not ctx.settings.allow_url_fetch:
        raise InputError("fetch: this server does not download URLs for scans (setting allow_url_fetch)")
    for n, u in enumerate(body.urls):
        try:
            parts = urlsplit(u)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and len(u) <= 4000
        except ValueError:
            ok = False
        if not ok or any(ch in u for ch in "\r\n\x00"):
            raise InputError(f"urls[{n}] {u[:100]!r}: not an http(s) URL")
    name = (body.name or "url-list").strip()[:200] or "url-list"
    with ctx.pool.registry() as reg:
        from consentry.domain.clock import now_iso
        from consentry.services.uploads import store_url_list

        row = store_url_list(reg, uploads_dir=ctx.settings.uploads_dir, urls=body.urls, name=name,
                             account_id=principal.account_id, created_at=now_iso())
        path = ctx.settings.uploads_dir / row["stored_name"]
        job = ctx.jobs.submit(reg, kind="scan", account_id=principal.account_id,
                              params={"path": str(path), "name": name, "upload_id": row["upload_id"],
                                      "fetch_urls": body.fetch, "ip": client_ip(request), "total_items": len(body.urls)})
        record(request, reg, principal, "uploads.create", target_kind="job", target_id=job["job_id"],
               details={"urls": len(body.urls), "purpose": "scan"})
        return job_out(job)


async def submit_check(request: Request, principal: Principal) -> dict:
    """``POST /checks`` and the web app: an AI output to check, as a job."""
    form = await read_upload_form(request, purpose="output")
    try:
        f = the_file(form, "file")
        params = {"evidence": bool_field(form, "evidence", True), "melody": bool_field(form, "melody", True),
                  "voice": bool_field(form, "voice", True)}
        return await run_in_threadpool(submit_job, request, principal, form, [f], purpose="output", kind="check",
                                       params=params)
    finally:
        form.discard()
