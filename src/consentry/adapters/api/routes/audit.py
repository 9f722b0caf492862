"""Identify, dataset scans, output checks, the ledger, publish downloads and jobs."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from consentry.domain.accounts import Principal
from consentry.adapters.api import submissions
from consentry.adapters.api.deps import (
    act, authorize, get_ctx, read_upload_form, registry_dep,
)
from consentry.adapters.api.models import (
    ErrorOut, IdentifyOut, JobOut, LedgerEntriesOut, LedgerUseIn, ScanOut, ScanUrlsIn, StatementsOut,
)
from consentry.services.uploads import upload_row
from consentry.adapters.api.routes._common import (
    acted_by, job_out, load_job, load_scan, public_summary, scan_out, site_for,
)

router = APIRouter(responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                              404: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut},
                              429: {"model": ErrorOut}})


def _one_file_body(field: str, description: str, extra: dict | None = None) -> dict:
    props = {field: {"type": "string", "format": "binary", "description": description}, "csrf_token": {"type": "string"}}
    props.update(extra or {})
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": [field], "properties": props}}}}}


# -- identify -------------------------------------------------------------------------
@router.post("/identify", response_model=IdentifyOut, tags=["identify"],
             **act("identify", openapi_extra=_one_file_body("file", "An audio clip (at most identify_max_s seconds), a text or an image.",
                                          {"min_score": {"type": "number"}})))
async def identify_clip(request: Request, principal: Principal = Depends(authorize("identify"))) -> dict:
    """Identify a short clip now: every registered work in it, best first (longer clips: POST /identify/jobs)."""
    from consentry.services.jobs import identify_upload
    from consentry.services.uploads import check_file

    ctx = get_ctx(request)
    form = await read_upload_form(request, purpose="identify")
    try:
        f = submissions.the_file(form, "file")
        check_file(f, purpose="audio")
        min_score = submissions.float_field(form, "min_score")
        cap = ctx.settings.identify_max_s

        def run() -> dict:
            with ctx.identify_slots, ctx.pool.registry() as reg:
                return identify_upload(reg, str(f.path), f.original_name, min_score=min_score, max_duration_s=cap)

        return await run_in_threadpool(run)
    finally:
        form.discard()


@router.post("/identify/jobs", status_code=202, response_model=JobOut, tags=["identify"],
             **act("identify", openapi_extra=_one_file_body("file", "An audio file of any length, a text or an image.", {"min_score": {"type": "number"}})))
async def identify_job(request: Request, principal: Principal = Depends(authorize("identify"))) -> dict:
    """Identify a long recording in the background (poll the job)."""
    return await submissions.submit_identify(request, principal)


# -- scans ------------------------------------------------------------------------------
@router.post("/scans", status_code=202, response_model=JobOut, tags=["scans"],
             **act("scans:create", openapi_extra=_one_file_body("dataset", "A zip or tar archive, a CSV/JSONL/Parquet manifest, or an audio file.",
                                          {"fetch_urls": {"type": "boolean"}})))
async def upload_scan(request: Request, principal: Principal = Depends(authorize("scans:create"))) -> dict:
    """Upload a dataset and scan it against the registry (a background job with progress)."""
    return await submissions.submit_scan_upload(request, principal)


@router.post("/scans/urls", status_code=202, response_model=JobOut, tags=["scans"], **act("scans:create"))
def scan_urls(body: ScanUrlsIn, request: Request, principal: Principal = Depends(authorize("scans:create"))) -> dict:
    """Scan a list of audio URLs (downloaded only with `fetch: true`, when the server allows it)."""
    return submissions.submit_url_scan(body, request, principal)


@router.get("/scans", response_model=list[ScanOut], tags=["scans"], **act("scans:read"))
def list_scans(principal: Principal = Depends(authorize("scans:read")), reg=Depends(registry_dep)) -> list[dict]:
    """The account's scans, newest first (admins: every scan)."""
    from consentry.services.scan import scans_of

    return [{k: s.get(k) for k in ("scan_id", "status", "created_at", "finished_at", "source_name")}
            for s in scans_of(reg, principal)]


@router.get("/scans/{scan_id}", response_model=ScanOut, tags=["scans"], **act("scans:read"))
def show_scan(scan_id: str, principal: Principal = Depends(authorize("scans:read")), reg=Depends(registry_dep)) -> dict:
    """A scan's summary (docs/scan-format.md)."""
    return scan_out(reg, scan_id, principal)


def _temp_file_response(write, *, media_type: str, filename: str) -> FileResponse:
    fd, tmp = tempfile.mkstemp(prefix="consentry-", suffix=".out")
    os.close(fd)
    try:
        write(Path(tmp))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return FileResponse(tmp, media_type=media_type, filename=filename,
                        background=BackgroundTask(lambda: Path(tmp).unlink(missing_ok=True)))


@router.get("/scans/{scan_id}/report/{fmt}", tags=["scans"], response_class=FileResponse,
            responses={200: {"content": {"text/html": {}, "application/json": {}, "text/csv": {}}}}, **act("scans:read"))
def scan_report(scan_id: str, fmt: Literal["html", "json", "csv"], principal: Principal = Depends(authorize("scans:read")),
                reg=Depends(registry_dep)):
    """The scan report: self-contained HTML, JSON (summary and items) or CSV (one row per item)."""
    from consentry.reporting.scan_report import render_scan_html, write_scan_csv, write_scan_json
    from consentry.services.scan import scan_items, scan_summary

    scan = load_scan(reg, scan_id, principal)
    sid = scan["scan_id"]

    def write(path: Path) -> None:
        summary = public_summary(scan_summary(reg, sid))
        with open(path, "w", encoding="utf-8", newline="") as fh:
            if fmt == "html":
                fh.write(render_scan_html(summary, scan_items(reg, sid)))
            elif fmt == "json":
                write_scan_json(summary, scan_items(reg, sid), fh)
            else:
                write_scan_csv(scan_items(reg, sid), fh)

    media = {"html": "text/html; charset=utf-8", "json": "application/json", "csv": "text/csv; charset=utf-8"}[fmt]
    return _temp_file_response(write, media_type=media, filename=f"{_download_stem(reg, scan)}-report.{fmt}")


def _download_stem(reg, scan: dict) -> str:
    """A downloaded file's name from the dataset's name as its licensee gave it (the uploaded file's or the URL
    list's name, without its suffix), in safe ASCII; the scan id when there is none."""
    import re

    from consentry.services.jobs import jobs_of

    name = None
    for job in jobs_of(reg, kind="scan", limit=10_000):
        params = job.get("params") or {}
        if scan["scan_id"] in (params.get("scan_id"), (job.get("result") or {}).get("scan_id")):
            name = params.get("name")
            break
    stem = re.sub(r"\.(zip|tar|tgz|tar\.gz|csv|jsonl|ndjson|json|parquet)$", "", str(name or ""), flags=re.I)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:80]
    return stem or scan["scan_id"]


@router.get("/scans/{scan_id}/clean-manifest", tags=["scans"], response_class=FileResponse, **act("scans:read"))
def clean_manifest(scan_id: str, request: Request, principal: Principal = Depends(authorize("scans:read")),
                   reg=Depends(registry_dep), accept_licensed: bool = Query(False), keep_unreadable: bool = Query(False)):
    """The dataset without refused items (and licensable ones unless accepted), in the dataset's manifest format."""
    from consentry.services.scan import write_clean_manifest

    scan = load_scan(reg, scan_id, principal)
    fmt = {}

    def write(path: Path) -> None:
        fmt.update(write_clean_manifest(reg, scan["scan_id"], path, accept_licensed=accept_licensed,
                                        keep_unreadable=keep_unreadable))
        if fmt.get("format") == "jsonl":
            _hide_server_paths(path, reg, get_ctx(request).settings.uploads_dir)

    response = _temp_file_response(write, media_type="application/octet-stream", filename="clean")
    suffix = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}.get(fmt.get("format"), "jsonl")
    media = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}[suffix]
    response.media_type = media
    response.headers["content-type"] = media
    response.headers["content-disposition"] = f'attachment; filename="{_download_stem(reg, scan)}-clean.{suffix}"'
    response.headers["x-consentry-kept"] = str(fmt.get("kept", 0))
    response.headers["x-consentry-dropped"] = str(fmt.get("dropped", 0))
    return response


def _hide_server_paths(path: Path, registry, uploads_dir: Path) -> None:
    """Rewrite a JSON-lines clean manifest so it names uploads by the name the user gave, not by the server's path.

    Archives and shards that were uploaded are written by the dataset readers
    with their absolute path on the server (``archive``, ``shard``, ``path``
    fields); the user needs the name of the file they sent, and must not
    learn the server's folders.
    """
    root = uploads_dir.resolve()
    names: dict[str, str] = {}

    def shown(value):
        if not isinstance(value, str) or not value.startswith("/"):
            return value
        p = Path(value)
        try:
            p.resolve().relative_to(root)
        except ValueError:
            return value
        if value not in names:
            row = upload_row(registry, p.name.split(".", 1)[0])
            names[value] = (row or {}).get("original_name") or p.name
        return names[value]

    rewritten = path.with_name(path.name + ".names")
    try:
        with open(path, encoding="utf-8") as src, open(rewritten, "w", encoding="utf-8") as fh:
            for line in src:  # line by line: a clean manifest may list millions of items
                record = json.loads(line)
                for key in ("archive", "shard", "path"):
                    if key in record:
                        record[key] = shown(record[key])
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(rewritten, path)
    finally:
        rewritten.unlink(missing_ok=True)


@router.get("/scans/{scan_id}/statements", response_model=StatementsOut, tags=["scans", "ledger"], **act("scans:read"))
def scan_statements(scan_id: str, principal: Principal = Depends(authorize("scans:read")), reg=Depends(registry_dep)) -> dict:
    """What the licensable works a scan found would cost, per creator (one use each)."""
    from consentry.services.accounting import scan_statements as statements

    scan = load_scan(reg, scan_id, principal)
    return {"statements": statements(reg, scan["scan_id"])}


# -- checks --------------------------------------------------------------------------------
@router.post("/checks", status_code=202, response_model=JobOut, tags=["checks"],
             **act("checks:create", openapi_extra=_one_file_body("file", "An AI output: audio, a text (or a JSONL of text outputs) or an image.", {
                 "evidence": {"type": "boolean"}, "melody": {"type": "boolean"}, "voice": {"type": "boolean"}})))
async def upload_check(request: Request, principal: Principal = Depends(authorize("checks:create"))) -> dict:
    """Check an AI output for copied recordings, reused melodies and cloned voices (a background job)."""
    return await submissions.submit_check(request, principal)


@router.get("/checks/{job_id}", response_model=JobOut, tags=["checks"], **act("checks:read"))
def show_check(job_id: str, principal: Principal = Depends(authorize("checks:read")), reg=Depends(registry_dep)) -> dict:
    """A check's status and result (recording, melody and voice findings)."""
    return job_out(load_job(reg, job_id, principal, "checks:read", "check"))


@router.get("/checks/{job_id}/evidence", tags=["checks"], response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}}}}, **act("checks:read"))
def check_evidence(job_id: str, request: Request, principal: Principal = Depends(authorize("checks:read")),
                   reg=Depends(registry_dep)):
    """The signed evidence bundle (zip) of a check that found something."""
    from consentry.adapters.api.app import NotFound

    job = load_job(reg, job_id, principal, "checks:read", "check")
    name = (job.get("result") or {}).get("evidence")
    if job["status"] != "succeeded" or not name or "/" in name or name.startswith("."):
        raise NotFound(f"check {job_id}: no evidence bundle (the check is {job['status']} or found nothing)")
    path = get_ctx(request).settings.outputs_dir / job["job_id"] / name
    if not path.is_file():
        raise NotFound(f"check {job_id}: the evidence bundle is gone from the server")
    return FileResponse(path, media_type="application/zip", filename=name)


# -- ledger ------------------------------------------------------------------------------------
@router.get("/ledger/entries", response_model=LedgerEntriesOut, tags=["ledger"], **act("ledger:read"))
def ledger_entries(principal: Principal = Depends(authorize("ledger:read")), reg=Depends(registry_dep)) -> dict:
    """Ledger entries: a creator's works' entries, the entries a licensee recorded, or all (admins)."""
    from consentry.services.ledger import entries_for

    return {"entries": entries_for(reg, principal)}


@router.get("/ledger/statements", response_model=StatementsOut, tags=["ledger"], **act("ledger:statements"))
def ledger_statements(principal: Principal = Depends(authorize("ledger:statements")), reg=Depends(registry_dep),
                      run: Optional[str] = Query(None, max_length=200)) -> dict:
    """What licensees owe, per creator, from the ledger (a creator account: its own statement)."""
    from consentry.services.ledger import statements_for

    return {"statements": statements_for(reg, principal, run=run)}


@router.post("/ledger/uses", status_code=201, response_model=LedgerEntriesOut, tags=["ledger"], **act("ledger:record"))
def record_use(body: LedgerUseIn, request: Request, principal: Principal = Depends(authorize("ledger:record")),
               reg=Depends(registry_dep)) -> dict:
    """Record that a training run used licensable works (from one of your scans, or named works)."""
    from consentry.services.ledger import record_use as record_ledger_use

    if body.scan_id is not None:
        load_scan(reg, body.scan_id, principal)
    return {"entries": record_ledger_use(reg, by=acted_by(request, principal), run=body.run, scan_id=body.scan_id,
                                         work_ids=body.work_ids, used_on=body.used_on, note=body.note)}


# -- publish -------------------------------------------------------------------------------------
@router.get("/publish/site.zip", tags=["publish"], response_class=Response,
            responses={200: {"content": {"application/zip": {}}}}, **act("publish:download"))
def publish_zip(request: Request, principal: Principal = Depends(authorize("publish:download")), reg=Depends(registry_dep)):
    """Every publish file (robots.txt, ai.txt, TDMRep, RSL, terms pages, server snippets) as a zip (a creator: their works)."""
    from consentry.adapters.api.publicfiles import site_zip

    data = site_zip(site_for(reg, request, principal))
    return Response(data, media_type="application/zip",
                    headers={"content-disposition": 'attachment; filename="consentry-publish.zip"'})


@router.get("/publish/headers/{server}", tags=["publish"], response_class=PlainTextResponse, **act("publish:download"))
def publish_headers(server: Literal["nginx", "apache", "caddy"], request: Request,
                    principal: Principal = Depends(authorize("publish:download")), reg=Depends(registry_dep)):
    """The HTTP-header snippet for nginx, Apache or Caddy (sends each work's AI-use headers)."""
    name = {"nginx": "server/nginx.conf", "apache": "server/apache.htaccess", "caddy": "server/Caddyfile"}[server]
    return PlainTextResponse(site_for(reg, request, principal).files[name].decode("utf-8"))


# -- jobs ------------------------------------------------------------------------------------------
@router.get("/jobs", response_model=list[JobOut], tags=["jobs"], **act("jobs:read"))
def list_jobs(principal: Principal = Depends(authorize("jobs:read")), reg=Depends(registry_dep),
              status: Optional[Literal["queued", "running", "succeeded", "failed"]] = Query(None),
              limit: int = Query(50, ge=1, le=500)) -> list[dict]:
    """The account's jobs, newest first (admins: everyone's)."""
    from consentry.services.jobs import jobs_of

    jobs = jobs_of(reg, account_id=None if principal.is_admin else principal.account_id,
                   statuses=(status,) if status else None, limit=limit)
    return [job_out(j) for j in jobs]


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"], **act("jobs:read"))
def show_job(job_id: str, principal: Principal = Depends(authorize("jobs:read")), reg=Depends(registry_dep)) -> dict:
    """A job's status, progress (done of total) and result, with links to what it made."""
    return job_out(load_job(reg, job_id, principal, "jobs:read"))

