"""Small helpers the routers and the web pages share: response shapes, the audit record of a request, upload
handling, a scan as a principal may see it, the published site a principal may download."""

from __future__ import annotations

from fastapi import Request

from consentry.domain.accounts import Principal
from consentry.services.accounts import audit, iso, now_utc
from consentry.services.uploads import ReceivedForm, accept_file
from consentry.adapters.api.deps import client_ip, ensure_allowed, get_ctx, lookup

WORK_FIELDS = ("work_id", "title", "creator", "sha256", "duration_s", "registered_at", "removed_at", "terms_version",
               "engine", "engine_version", "n_hashes", "copyright_registered_on", "first_published_on")


def work_out(work) -> dict:
    """A work as the API shows it (never the server path of its source file)."""
    d = work.as_dict() if hasattr(work, "as_dict") else dict(work)
    return {**{k: d.get(k) for k in WORK_FIELDS}, "terms": d["terms"]}


def job_links(job: dict) -> dict[str, str]:
    base = f"/api/v1/jobs/{job['job_id']}"
    links = {"self": base}
    result = job.get("result") or {}
    if job["kind"] == "scan" and (result.get("scan_id") or job["params"].get("scan_id")):
        sid = result.get("scan_id") or job["params"]["scan_id"]
        links.update({"scan": f"/api/v1/scans/{sid}", "report": f"/api/v1/scans/{sid}/report/html",
                      "json": f"/api/v1/scans/{sid}/report/json", "csv": f"/api/v1/scans/{sid}/report/csv",
                      "clean_manifest": f"/api/v1/scans/{sid}/clean-manifest"})
    if job["kind"] == "check":
        links["check"] = f"/api/v1/checks/{job['job_id']}"
        if result.get("evidence"):
            links["evidence"] = f"/api/v1/checks/{job['job_id']}/evidence"
    if job["kind"] == "register" and job["status"] == "succeeded":
        for w in result.get("works", [])[:100]:
            links[f"work:{w['work_id']}"] = f"/api/v1/works/{w['work_id']}"
    return links


def job_out(job: dict) -> dict:
    return {k: job.get(k) for k in ("job_id", "kind", "status", "done", "total", "created_at", "started_at",
                                    "finished_at", "error", "result")} | {"links": job_links(job)}


def record(request: Request, registry, principal: Principal | None, action: str, *, target_kind: str | None = None,
           target_id: str | None = None, details: dict | None = None, actor: str | None = None) -> None:
    """Write the audit record of a change made by this request."""
    audit(registry, principal=principal, action=action, target_kind=target_kind, target_id=target_id,
          ip=client_ip(request), details=details, actor=actor)


def acted_by(request: Request, principal: Principal | None):
    """Who makes this request's changes, for the use cases' audit records (:class:`consentry.services.works.ActedBy`)."""
    from consentry.services.works import ActedBy

    return ActedBy(principal=principal, ip=client_ip(request))


def owner_of_work(reg, principal: Principal | None, w) -> str | None:
    """The creator name a work is owned under, as the policy sees it: for a creator account, its own name only if
    the account controls the work (:func:`consentry.services.accounts.controls_work`), else nobody's."""
    from consentry.services.accounts import controls_work

    if principal is not None and principal.role == "creator" and not controls_work(reg, principal, w):
        return None
    return w.creator


def load_work(reg, work_id: str, principal: Principal | None, action: str):
    """The work of an id (or unambiguous prefix) from the request, if ``principal`` may do ``action`` on it;
    someone else's is a 404, as an unknown id (API and web alike)."""
    from consentry.adapters.api.deps import ensure_allowed, lookup

    with lookup("work", work_id):
        w = reg.work(work_id)
    ensure_allowed(action, principal, owner_creator=owner_of_work(reg, principal, w), resource=("work", work_id))
    return w


def load_job(reg, job_id: str, principal: Principal, action: str, kind: str | None = None) -> dict:
    """The job of an id from the request (of ``kind``, if given), if ``principal`` may do ``action`` on it;
    someone else's is a 404, as an unknown id."""
    from consentry.domain.accounts import no_such
    from consentry.services.jobs import get_job
    from consentry.adapters.api.app import NotFound
    from consentry.adapters.api.deps import ensure_allowed

    job = get_job(reg, job_id)
    if job is None or (kind is not None and job["kind"] != kind):
        raise NotFound(no_such(kind or "job", job_id))
    ensure_allowed(action, principal, owner_account=job["account_id"], resource=(kind or "job", job_id))
    return job


def allow_creator_terms(reg, principal: Principal, creator: str) -> None:
    """Refuse unless ``principal`` may set ``creator``'s default terms: a creator account its own only, and only
    while it controls every work under the name (the defaults apply to all of them)."""
    from consentry.domain.accounts import PermissionDenied
    from consentry.services.accounts import controlled_work_ids
    from consentry.adapters.api.deps import ensure_allowed

    ensure_allowed("terms:write", principal, owner_creator=creator)
    if principal.role != "creator":
        return
    named = [w for w in reg.works(include_removed=True) if w.creator == principal.creator]
    if len(controlled_work_ids(reg, principal, named)) < len(named):
        raise PermissionDenied(f"works under {principal.creator!r} were registered by someone else; the creator's "
                               "default terms would change them too: ask an administrator to bind your account to the name")


def terms_in(body) -> dict:
    """The per-use changes of a ``TermsIn`` body, as ``UseTerms``."""
    from consentry.domain.usage import UseTerms

    return {use: UseTerms(**t.model_dump()) for use, t in body.uses.items()}


def accept_uploads(request: Request, registry, form: ReceivedForm, files, *, purpose: str, account_id: str,
                   validate=None) -> list[dict]:
    """Check and store the given received files (all or none); returns their upload rows."""
    ctx = get_ctx(request)
    from consentry.services.uploads import check_file

    for f in files:
        check_file(f, purpose=purpose)
    return [accept_file(registry, f, purpose=purpose, account_id=account_id, uploads_dir=ctx.settings.uploads_dir,
                        created_at=iso(now_utc()), validate=validate) for f in files]


def submit_upload_job(request: Request, principal: Principal, form: ReceivedForm, files, *, purpose: str, kind: str,
                      params_of, validate=None) -> dict:
    """Store the received ``files`` (all or none), submit a ``kind`` job on them and write the upload to the audit log.

    ``params_of(paths, uploads)`` gives the job's own parameters from the
    stored files' server paths and their ``{"upload_id", "original_name"}``;
    the client's address is added. Returns the job as the API shows it.
    """
    from consentry.services.uploads import upload_path

    ctx = get_ctx(request)
    with ctx.pool.registry() as reg:
        rows = accept_uploads(request, reg, form, files, purpose=purpose, account_id=principal.account_id,
                              validate=validate)
        paths = [str(upload_path(u, ctx.settings.uploads_dir)) for u in rows]
        uploads = [{"upload_id": u["upload_id"], "original_name": u["original_name"]} for u in rows]
        params = {"ip": client_ip(request), **params_of(paths, uploads)}
        job = ctx.jobs.submit(reg, kind=kind, account_id=principal.account_id, params=params)
        record(request, reg, principal, "uploads.create", target_kind="job", target_id=job["job_id"],
               details={"uploads": uploads, "purpose": kind})
        return job_out(job)


# -- scans and the published site, for the API routes and the web pages ----------------------
def public_summary(summary: dict) -> dict:
    """A scan summary without the server's path of the uploaded dataset."""
    source = dict(summary.get("source") or {})
    if "spec" in source:
        source["spec"] = source.get("name")
    return {**summary, "source": source}


def load_scan(reg, scan_id: str, principal: Principal) -> dict:
    """The scan of an id (or unambiguous prefix) from the request; someone else's is a 404, as an unknown id."""
    from consentry.services.scan import get_scan, scan_owner

    with lookup("scan", scan_id):
        scan = get_scan(reg, scan_id)
    ensure_allowed("scans:read", principal, owner_account=scan_owner(reg, scan["scan_id"]), resource=("scan", scan_id))
    return scan


def scan_out(reg, scan_id: str, principal: Principal) -> dict:
    """A scan as ``GET /scans/{id}`` and the web app's scan page show it (its summary without server paths)."""
    from consentry.services.scan import scan_summary

    scan = load_scan(reg, scan_id, principal)
    summary = public_summary(scan_summary(reg, scan["scan_id"]))
    return {"scan_id": scan["scan_id"], "status": scan["status"], "created_at": scan["created_at"],
            "finished_at": scan["finished_at"], "source_name": scan["source_name"], "summary": summary}


def site_for(reg, request: Request, principal: Principal):
    """The published site a principal may download: a creator's own works, else everything (API and web app)."""
    from consentry.services.publish import build_site
    from consentry.adapters.api.publicfiles import export_for_creator

    ctx = get_ctx(request)
    if principal.role == "creator":
        return build_site(export_for_creator(reg.terms_export(), principal.creator), base_url=ctx.settings.public_url)
    return ctx.publish.get(reg).site
