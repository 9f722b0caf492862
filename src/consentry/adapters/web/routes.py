"""The web app's pages (under ``/app``): thin adapters over the API's route functions and the services.

Each route names its action (the authorisation policy's, as the API's do)
and depends on :func:`consentry.adapters.api.deps.authorize` for it; changes are
HTML forms (urlencoded or multipart) carrying the session's CSRF token, and
answer with a redirect (303) to the page that shows the result.  The same
changes are made by JavaScript through the JSON API where it adds something
(upload progress, job polling).
"""

from __future__ import annotations

import hashlib
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from consentry.domain.accounts import Principal
from consentry.services import accounts
from consentry.domain.accounts import PermissionDenied
from consentry.adapters.api.deps import (
    SESSION_COOKIE, act, authorize, check_origin, client_ip, get_ctx, read_form, registry_dep,
)
from consentry.adapters.api.models import ScanUrlsIn, TermsIn
from consentry.adapters.api import submissions
from consentry.adapters.api import claim_views
from consentry.adapters.api.routes._common import (
    acted_by, allow_creator_terms, job_out, load_job, load_work, record, scan_out, site_for, terms_in, work_out,
)
from consentry.services import claims
from consentry.domain.terms import DECISIONS, UNITS, USE_LABELS, USES
from consentry.domain.errors import InputError
from consentry.adapters.web.render import STATIC, WebRoute, render, safe_next, see_other, web_message

router = APIRouter(prefix="/app", route_class=WebRoute, include_in_schema=False)
#: The site's front door (``/``): the landing page, outside ``/app`` (the API, the terms files have their own paths).
front_router = APIRouter(route_class=WebRoute, include_in_schema=False)

STATIC_FILES = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}


def page(action: str):
    """The route's authorisation dependency (the policy's ``action``)."""
    return Depends(authorize(action))


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site, or from an opaque origin (``Origin: null``): sign-in and sign-up
    have no session, hence no CSRF token yet.  :func:`authorize` checks the same on every change."""
    check_origin(request)


async def form_of(request: Request) -> dict[str, str]:
    """The urlencoded form (read once, bounded; the CSRF check may have read it already), text fields only."""
    form = await read_form(request)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def one_line_validation(exc: ValidationError) -> InputError:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{loc or 'form'}: {err.get('msg', 'invalid')}")
    return InputError("; ".join(parts))


# ---------------------------------------------------------------- names and findings for people
#: What each kind of job is, for its page's title.
JOB_WORDS = {"register": "Registering", "scan": "Scan of", "check": "Check of", "enroll": "Enrolling voice samples",
             "identify": "Identifying"}


def job_title(job: dict, name: str | None) -> str:
    """A job's page title from what it works on ("Check of generated_song.wav"), the id only when nothing else."""
    words = JOB_WORDS.get(job["kind"], job["kind"].capitalize())
    if name:
        return f"{words} {name}" if words.endswith("of") else f"{words}: {name}"
    return f"{words} (job {job['job_id']})"


def dataset_names(reg) -> dict[str, str]:
    """scan id -> the name the licensee gave the dataset (the uploaded file's name, or the URL list's name)."""
    from consentry.services.jobs import jobs_of

    names = {}
    for job in jobs_of(reg, kind="scan", limit=10_000):
        params = job.get("params") or {}
        scan_id = params.get("scan_id") or (job.get("result") or {}).get("scan_id")
        if scan_id and params.get("name"):
            names.setdefault(scan_id, params["name"])
    return names


def scan_name(scan: dict, names: dict[str, str]) -> str:
    """A scan as people name it: the dataset's name, else the source's name, else the scan id."""
    return names.get(scan["scan_id"]) or scan.get("source_name") or scan["scan_id"]


def _findings_for_people(reg, matches, *, item_s=None, cache: dict | None = None) -> list[dict]:
    """Matches grouped into one finding per work (segments under it), each with the work's length and its terms
    in force in words (what each use allows), for the finding macros of the templates.  ``cache`` keeps each
    work's details between calls (a scan page shows many items)."""
    from consentry.reporting.findings import group_matches, terms_lines
    from consentry.reporting.thumbnails import safe_data_uri
    from consentry.services.works import work_terms

    cache = {} if cache is None else cache
    found = group_matches(matches)
    for f in found:
        f["item_s"] = item_s
        wid = f["work_id"]
        if wid not in cache:
            try:
                w = reg.work(wid)
                cache[wid] = (w.duration_s, terms_lines(work_terms(reg, w.work_id).as_dict().get("uses") or {},
                                                        USE_LABELS))
            except InputError:  # removed since: the finding stays, without the work's details
                cache[wid] = (None, [])
        f["work_s"], f["terms_lines"] = cache[wid]
        # An image item found in a scan: its thumbnail with the matched region outlined (docs/scan-format.md).
        f["thumbnail"] = safe_data_uri((f.get("detail") or {}).get("item_thumbnail"))
    return found


# ---------------------------------------------------------------- static files
@router.get("/static/{asset}", **act("public:read"))
def static_file(asset: str, request: Request, principal: Optional[Principal] = page("public:read")):
    """The app's own CSS and JavaScript (a fixed list: nothing else on disk is reachable)."""
    from consentry.adapters.api.app import NotFound

    if asset not in STATIC_FILES:
        raise NotFound(f"{asset[:100]!r}: no such file")
    path = STATIC / asset
    etag = '"' + hashlib.sha256(path.read_bytes()).hexdigest()[:20] + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return FileResponse(path, media_type=STATIC_FILES[asset],
                        headers={"ETag": etag, "Cache-Control": "public, max-age=300"})


# ---------------------------------------------------------------- landing, sign-in, sign-up, sign-out
@front_router.get("/", **act("public:read"))
def front_door(request: Request, principal: Optional[Principal] = page("public:read")):
    """``/``: the landing page (what Consentry is, sign in, sign up); a signed-in account goes on to its overview."""
    if principal is not None:
        return see_other("/app")
    return render(request, "landing.html.j2", title="Your works, your terms for AI", signup=get_ctx(request).settings.signup)


@router.get("", **act("public:read"))
def home(request: Request, principal: Optional[Principal] = page("public:read"), reg=Depends(registry_dep)):
    """The overview of the signed-in account (or what Consentry is, with sign-in and sign-up)."""
    if principal is None:
        return render(request, "landing.html.j2", title="Your works, your terms for AI", signup=get_ctx(request).settings.signup)
    from consentry.services.jobs import jobs_of

    jobs = [dict(job_out(j), name=(j.get("params") or {}).get("name")) for j in
            jobs_of(reg, account_id=principal.account_id, limit=10)]
    ctx = {"jobs": jobs}
    actor = claim_views.claim_actor(principal)
    ctx["active_claims"] = claim_views.visible_claims(
        reg, claims.list_claims(reg, actor=None if principal.is_admin else actor, states=["active"]), principal)
    if principal.role == "creator":
        from consentry.services.works import works_of

        ctx["works"] = works_of(reg, principal)
    if principal.is_admin:
        from consentry.services.account_views import list_accounts

        ctx["accounts"] = list_accounts(reg)
    return render(request, "home.html.j2", title="Overview", **ctx)


@router.get("/signin", **act("public:read"))
def signin_page(request: Request, principal: Optional[Principal] = page("public:read"),
                next: str = Query("/app", max_length=500)):
    return render(request, "signin.html.j2", title="Sign in", error=None, next=safe_next(next), email="")


@router.post("/signin", **act("session:create"))
async def signin(request: Request, principal: Optional[Principal] = page("session:create")):
    """Sign in with e-mail and password: sets the session cookie and goes on to ``next``."""
    same_origin(request)
    form = await form_of(request)
    email, password = form.get("email", "").strip(), form.get("password", "")
    nxt = safe_next(form.get("next"))
    if not email or not password:
        return render(request, "signin.html.j2", status=400, principal=None, title="Sign in", next=nxt, email=email,
                      error="give your e-mail address and password")
    settings = get_ctx(request).settings

    def run():
        with get_ctx(request).pool.registry() as reg:
            row = accounts.authenticate(reg, email=email, password=password, ip=client_ip(request), auth=settings.auth)
            session_id = accounts.create_session(reg, account=row, ip=client_ip(request),
                                                 user_agent=request.headers.get("user-agent"), auth=settings.auth)
            who = Principal(account_id=row["account_id"], email=row["email"], role=row["role"], creator=row["creator"],
                            via="session")
            record(request, reg, who, "session.create", target_kind="account", target_id=row["account_id"])
            return session_id

    from consentry.domain.accounts import AuthError

    try:
        session_id = await run_in_threadpool(run)
    except AuthError as exc:
        return render(request, "signin.html.j2", status=401, principal=None, title="Sign in", next=nxt, email=email,
                      error=str(exc))
    response = see_other(nxt)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(settings.auth.session_max_age_s), httponly=True,
                        samesite="lax", secure=settings.secure_cookies, path="/")
    return response


@router.get("/signup", **act("public:read"))
def signup_page(request: Request, principal: Optional[Principal] = page("public:read")):
    settings = get_ctx(request).settings
    return render(request, "signup.html.j2", title="Create an account", error=None, form={}, signup=settings.signup)


@router.post("/signup", **act("accounts:signup"))
async def signup(request: Request, principal: Optional[Principal] = page("accounts:signup")):
    """Open sign-up (creator or licensee), then signed in at once."""
    same_origin(request)
    settings = get_ctx(request).settings
    form = await form_of(request)
    role = form.get("role", "")
    try:
        if not settings.signup:
            raise PermissionDenied("sign-up is closed on this server; ask an administrator for an account")
        if role not in ("creator", "licensee"):
            raise InputError("role: choose creator or licensee")
        if form.get("password", "") != form.get("password2", form.get("password", "")):
            raise InputError("password: the two passwords differ")
        creator = (form.get("creator") or "").strip() or None if role == "creator" else None
        if role == "creator" and not creator:
            raise InputError("creator name: give the name your works are published under")

        def run():
            from consentry.services.account_views import get_account
            from consentry.services.works import creator_names

            with get_ctx(request).pool.registry() as reg:
                account = accounts.create_account(
                    reg, email=form.get("email", ""), password=form.get("password", ""), role=role, creator=creator,
                    display_name=form.get("display_name") or None, auth=settings.auth,
                    existing_creators=creator_names(reg))
                record(request, reg, None, "accounts.signup", target_kind="account", target_id=account["account_id"],
                       details={"role": account["role"], "creator": account["creator"]}, actor=account["email"])
                row = get_account(reg, account["account_id"])
                return accounts.create_session(reg, account=row, ip=client_ip(request),
                                               user_agent=request.headers.get("user-agent"), auth=settings.auth)

        session_id = await run_in_threadpool(run)
    except (InputError, PermissionDenied) as exc:
        from consentry.adapters.api.app import status_for

        safe = {k: form.get(k, "") for k in ("email", "role", "creator", "display_name")}
        return render(request, "signup.html.j2", status=status_for(exc), principal=None, title="Create an account",
                      error=str(exc), form=safe, signup=settings.signup)
    response = see_other("/app")
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(settings.auth.session_max_age_s), httponly=True,
                        samesite="lax", secure=settings.secure_cookies, path="/")
    return response


@router.post("/signout", **act("session:delete"))
def signout(request: Request, principal: Principal = page("session:delete"), reg=Depends(registry_dep)):
    session_id = getattr(request.state, "session_id", None)
    if session_id:
        accounts.end_session(reg, session_id)
        record(request, reg, principal, "session.delete", target_kind="account", target_id=principal.account_id)
    response = see_other("/app/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- jobs
@router.get("/jobs/{job_id}", **act("jobs:read"))
def job_page(job_id: str, request: Request, principal: Principal = page("jobs:read"), reg=Depends(registry_dep)):
    """A background job's progress (refreshed) and, once finished, what it made."""
    row = load_job(reg, job_id, principal, "jobs:read")
    job = job_out(row)
    ctx = {}
    if job["kind"] == "check" and job["status"] == "succeeded":
        ctx["recording"] = _findings_for_people(reg, (job.get("result") or {}).get("recording") or [],
                                                item_s=(job.get("result") or {}).get("duration_s"))
    return render(request, "job.html.j2", title=job_title(job, (row.get("params") or {}).get("name")), job=job, **ctx)


# ---------------------------------------------------------------- works and terms (creators)
@router.get("/works", **act("works:list"))
def works_page(request: Request, principal: Principal = page("works:list"), reg=Depends(registry_dep)):
    from consentry.services.works import works_of

    from consentry.services.uploads import human_size

    settings = get_ctx(request).settings
    if principal.role == "licensee":  # works are the creators' business: no upload form, nobody's catalogue
        return render(request, "works.html.j2", title="Works", works=[], licensee=True)
    works = [work_out(w) for w in works_of(reg, principal)]
    return render(request, "works.html.j2", title="Works", works=works, decisions=DECISIONS, licensee=False,
                  max_files=settings.max_files_per_request, max_bytes=settings.max_audio_bytes,
                  max_size=human_size(settings.max_audio_bytes))


@router.post("/works", **act("works:create", upload=True))
async def upload_works(request: Request, principal: Principal = page("works:create")):
    """Upload audio files (the form without JavaScript): a registration job, then its page."""
    job = await submissions.submit_works(request, principal)
    return see_other(f"/app/jobs/{job['job_id']}")


def _terms_form(form: dict[str, str]) -> TermsIn:
    """A terms change from the per-use form fields (``<use>.decision`` = keep | deny | allow | license, ...)."""
    uses = {}
    for use in USES:
        decision = (form.get(f"{use}.decision") or "keep").strip()
        if decision == "keep":
            continue
        if decision not in DECISIONS:
            raise InputError(f"{USE_LABELS.get(use, use)}: choose keep, deny, allow or license")
        t = {"decision": decision}
        if decision == "license":
            label = USE_LABELS.get(use, use)
            price = (form.get(f"{use}.price") or "").strip()
            if not price:
                raise InputError(f"{label}: a licence needs a price; give the price (0 or more) and its currency, "
                                 "or choose deny or allow")
            try:
                t["price"] = float(price.replace(",", ".")) if price.count(",") == 1 and "." not in price else float(price)
            except ValueError:
                raise InputError(f"{label}: the price {price[:40]!r} is not a number; give it as digits, "
                                 "such as 40 or 12.50") from None
            t["currency"] = (form.get(f"{use}.currency") or "").strip().upper() or None
            t["unit"] = (form.get(f"{use}.unit") or "").strip() or None
        uses[use] = t
    extra = {k: (form.get(k) or "").strip() or None for k in ("valid_from", "valid_until", "jurisdiction")}
    try:
        return TermsIn.model_validate({"uses": uses, **extra})
    except ValidationError as exc:
        raise one_line_validation(exc) from None


def _work_context(reg, principal: Principal, work_id: str) -> dict:
    from consentry.services.works import terms_history, work_terms

    w = load_work(reg, work_id, principal, "works:read")
    wid = w.work_id
    return {"work": work_out(w), "terms": work_terms(reg, wid).as_dict(), "history": terms_history(reg, wid),
            "uses": USES, "labels": USE_LABELS,
            "decisions": DECISIONS, "units": UNITS, "dispute": claims.work_dispute(reg, wid),
            "claims": claim_views.visible_claims(reg, claims.list_claims(
                reg, work_id=wid, actor=None if principal.is_admin else claim_views.claim_actor(principal)), principal)}


@router.get("/works/{work_id}", **act("works:read"))
def work_page(work_id: str, request: Request, principal: Principal = page("works:read"), reg=Depends(registry_dep)):
    ctx = _work_context(reg, principal, work_id)
    return render(request, "work.html.j2", title=ctx["work"]["title"], error=None, chosen={},
                  saved=request.query_params.get("saved") == "1", **ctx)


@router.post("/works/{work_id}/terms", **act("terms:write"))
async def work_terms(work_id: str, request: Request, principal: Principal = page("terms:write")):
    form = await form_of(request)

    def run():
        with get_ctx(request).pool.registry() as reg:
            try:
                from consentry.services.works import set_work_terms

                body = _terms_form(form)
                w = load_work(reg, work_id, principal, "terms:write")
                set_work_terms(reg, w.work_id, terms_in(body), by=acted_by(request, principal),
                               valid_from=body.valid_from, valid_until=body.valid_until,
                               jurisdiction=body.jurisdiction, requested=body.model_dump(exclude_none=True))
                return see_other(f"/app/works/{w.work_id}?saved=1")
            except InputError as exc:
                if type(exc).__name__ in ("WorkNotFoundError",):
                    raise
                ctx = _work_context(reg, principal, work_id)
                return render(request, "work.html.j2", status=400, title=ctx["work"]["title"], error=web_message(exc),
                              chosen=form, saved=False, **ctx)

    return await run_in_threadpool(run)


def _creator_of_page(principal: Principal, creator: str | None) -> str:
    if principal.role == "creator":
        return principal.creator
    if not creator:
        raise InputError("creator: name the creator (?creator=NAME)")
    return creator


@router.get("/terms", **act("creator_terms:read"))
def default_terms_page(request: Request, principal: Principal = page("creator_terms:read"), reg=Depends(registry_dep),
                       creator: Optional[str] = Query(None, max_length=200)):
    """A creator's default terms (for every use their works leave open), and the form to change them."""
    name = _creator_of_page(principal, creator)
    from consentry.services.works import creator_terms

    current = creator_terms(reg, name)
    terms = {"version": current[0], **current[1].as_dict()} if current else None
    return render(request, "default_terms.html.j2", title="Default terms", creator=name, current=terms, uses=USES,
                  labels=USE_LABELS, decisions=DECISIONS, units=UNITS, error=None, chosen={},
                  saved=request.query_params.get("saved") == "1")


@router.post("/terms", **act("terms:write"))
async def default_terms(request: Request, principal: Principal = page("terms:write")):
    form = await form_of(request)

    def run():
        with get_ctx(request).pool.registry() as reg:
            name = _creator_of_page(principal, form.get("creator"))
            from consentry.services.works import set_creator_terms

            from consentry.services.works import creator_terms

            allow_creator_terms(reg, principal, name)
            try:
                body = _terms_form(form)
                set_creator_terms(reg, name, terms_in(body), by=acted_by(request, principal), valid_from=body.valid_from,
                                  valid_until=body.valid_until, jurisdiction=body.jurisdiction,
                                  requested=body.model_dump(exclude_none=True))
            except InputError as exc:  # the form again, with the user's choices and what to change
                current = creator_terms(reg, name)
                terms = {"version": current[0], **current[1].as_dict()} if current else None
                return render(request, "default_terms.html.j2", status=400, title="Default terms", creator=name,
                              current=terms, uses=USES, labels=USE_LABELS, decisions=DECISIONS, units=UNITS,
                              error=web_message(exc), chosen=form, saved=False)
            return see_other("/app/terms?saved=1" + ("" if principal.role == "creator" else f"&creator={name}"))

    return await run_in_threadpool(run)


# ---------------------------------------------------------------- voices, findings, statements, publish
@router.get("/voices", **act("voices:read"))
def voices_page(request: Request, principal: Principal = page("voices:read"), reg=Depends(registry_dep)):
    from consentry.services.works import voice_rows

    voices = voice_rows(reg, creator=principal.creator if principal.role == "creator" else None)
    return render(request, "voices.html.j2", title="Voice", voices=voices)


@router.post("/voices", **act("voices:enroll", upload=True))
async def enroll_voice(request: Request, principal: Principal = page("voices:enroll")):
    job = await submissions.submit_voices(request, principal)
    return see_other(f"/app/jobs/{job['job_id']}")


def creator_findings(reg, creator: str | None, *, limit: int = 500, principal: Principal | None = None,
                     work_ids=None) -> dict:
    """Where ``creator``'s works were found (every creator's for None): scan findings and check findings.

    Reads every stored scan's findings and every finished check (newest
    first, at most ``limit`` rows of each).  With ``principal`` (not a
    creator), only the scans and checks it may read (the API's
    ``scans:read`` / ``checks:read`` decision: its own; an admin: all).
    ``work_ids`` narrows ``creator``'s works to those (the ones its account controls).
    """
    from consentry.domain.accounts import decide
    from consentry.services.jobs import jobs_of
    from consentry.services.scan import findings_by_work, scan_owner, scans_of

    def readable(action: str, owner: str | None) -> bool:
        return principal is None or decide(action, principal, owner_account=owner, check_owner=True).allowed

    names = dataset_names(reg)
    mine = {w.work_id: w for w in reg.works(include_removed=True)
            if (creator is None or w.creator == creator) and (work_ids is None or w.work_id in work_ids)}
    scans = []
    for s in scans_of(reg):
        if not readable("scans:read", scan_owner(reg, s["scan_id"])):
            continue
        per_work: dict[str, set] = {}
        for work_id, seq, _start, _end in findings_by_work(reg, s["scan_id"]):
            if work_id in mine:
                per_work.setdefault(work_id, set()).add(seq)
        for work_id, seqs in per_work.items():
            scans.append({"scan_id": s["scan_id"], "created_at": s["created_at"], "status": s["status"],
                          "source_name": scan_name(s, names), "work_id": work_id, "title": mine[work_id].title,
                          "n_items": len(seqs)})
        if len(scans) >= limit:
            break
    checks = []
    for job in jobs_of(reg, kind="check", statuses=("succeeded",), limit=limit):
        if not readable("checks:read", job["account_id"]):
            continue
        result = job.get("result") or {}
        found = [m for m in result.get("recording", []) if m.get("work_id") in mine]
        found += [m for m in result.get("melody", []) if m.get("work_id") in mine]
        voices = [m for m in result.get("voice", []) if m.get("is_match") and (creator is None or m.get("creator") == creator)]
        if found or voices:
            checks.append({"job_id": job["job_id"], "finished_at": job["finished_at"], "output": result.get("output"),
                           "account_id": job["account_id"], "evidence": result.get("evidence"),
                           "works": sorted({(m["work_id"], mine[m["work_id"]].title) for m in found}),
                           "voice": bool(voices)})
    return {"scans": scans, "checks": checks}


@router.get("/findings", **act("works:list"))
def findings_page(request: Request, principal: Principal = page("works:list"), reg=Depends(registry_dep)):
    """Where the creator's works were found: dataset scans and AI-output checks."""
    if principal.role == "creator":  # where its works were found, in anybody's scans and checks
        found = creator_findings(reg, principal.creator, work_ids=accounts.controlled_work_ids(
            reg, principal, reg.works(include_removed=True)))
    else:  # a licensee: its own scans and checks; an admin: all
        found = creator_findings(reg, None, principal=principal)
    return render(request, "findings.html.j2", title="Where your works were found", **found)


@router.get("/statements", **act("ledger:statements"))
def statements_page(request: Request, principal: Principal = page("ledger:statements"), reg=Depends(registry_dep)):
    from consentry.services.ledger import statements_for

    statements = statements_for(reg, principal)
    return render(request, "statements.html.j2", title="What licensees owe", statements=statements)


@router.get("/publish", **act("publish:download"))
def publish_page(request: Request, principal: Principal = page("publish:download"), reg=Depends(registry_dep)):
    """The publish files (zip) and the web-server snippets that send each work's AI-use headers."""
    site = site_for(reg, request, principal)
    snippets = {label: site.files[name].decode("utf-8") for label, name in
                (("nginx", "server/nginx.conf"), ("apache", "server/apache.htaccess"), ("caddy", "server/Caddyfile"))
                if name in site.files}
    return render(request, "publish.html.j2", title="Publish your terms", snippets=snippets,
                  files=sorted(n for n in site.files if not n.startswith("server/"))[:200])


# ---------------------------------------------------------------- scans and checks (licensees)
@router.get("/scans", **act("scans:read"))
def scans_page(request: Request, principal: Principal = page("scans:read"), reg=Depends(registry_dep)):
    from consentry.services.scan import scans_of

    names = dataset_names(reg)
    scans = [dict(s, name=scan_name(s, names)) for s in scans_of(reg, principal)]
    from consentry.services.uploads import human_size

    settings = get_ctx(request).settings
    return render(request, "scans.html.j2", title="Dataset scans", scans=scans, max_bytes=settings.max_dataset_bytes,
                  max_size=human_size(settings.max_dataset_bytes),
                  allow_fetch=get_ctx(request).settings.allow_url_fetch)


@router.post("/scans", **act("scans:create", upload=True))
async def upload_scan(request: Request, principal: Principal = page("scans:create")):
    job = await submissions.submit_scan_upload(request, principal)
    return see_other(f"/app/jobs/{job['job_id']}")


@router.post("/scans/urls", **act("scans:create"))
async def scan_urls(request: Request, principal: Principal = page("scans:create")):
    """Scan a list of URLs given in a text box (one a line)."""
    form = await form_of(request)
    urls = [u.strip() for u in (form.get("urls") or "").splitlines() if u.strip()]
    if not urls:
        raise InputError("urls: give at least one http(s) URL, one a line")
    try:
        body = ScanUrlsIn(urls=urls, fetch=form.get("fetch") in ("1", "on", "true"),
                          name=(form.get("name") or "").strip() or None)
    except ValidationError as exc:
        raise one_line_validation(exc) from None
    job = await run_in_threadpool(submissions.submit_url_scan, body, request, principal)
    return see_other(f"/app/jobs/{job['job_id']}")


@router.get("/scans/{scan_id}", **act("scans:read"))
def scan_page(scan_id: str, request: Request, principal: Principal = page("scans:read"), reg=Depends(registry_dep),
              show: str = Query("findings", pattern="^(findings|all)$")):
    """A scan: its totals, the items with findings (dispute one), and the downloads."""
    from consentry.services.scan import scan_items

    scan = scan_out(reg, scan_id, principal)
    decisions = None if show == "all" else ("refused", "licensable", "allowed")
    items, cache = [], {}
    for item in scan_items(reg, scan["scan_id"], decisions=decisions):
        item["groups"] = _findings_for_people(reg, item.get("findings") or [], item_s=item.get("duration_s"),
                                              cache=cache)
        items.append(item)
        if len(items) >= 500:
            break
    disputes = [c for c in claims.list_claims(reg, kind="finding") if c.scan_id == scan["scan_id"]]
    disputed = {(c.item_id, c.work_b) for c in disputes if c.active}
    name = scan_name(scan, dataset_names(reg))
    items_by_id = {i["item_id"]: i["name"] for i in items}
    return render(request, "scan.html.j2", title=f"Scan of {name}", scan=scan, name=name, items=items, show=show,
                  disputes=disputes, disputed=disputed, items_by_id=items_by_id,
                  can_dispute=principal.role == "licensee")


@router.post("/scans/{scan_id}/disputes", **act("claims:dispute"))
async def dispute_finding(scan_id: str, request: Request, principal: Principal = page("claims:dispute"),
                          scan=Depends(claim_views.scan_for_dispute)):
    form = await form_of(request)
    try:
        body = claim_views.DisputeIn(item_id=form.get("item_id", ""), reason=form.get("reason", ""),
                                    work_id=form.get("work_id") or None)
    except ValidationError as exc:
        raise one_line_validation(exc) from None

    def run():
        with get_ctx(request).pool.registry() as reg:
            with claim_views.claim_errors():
                return claims.dispute_finding(reg, scan["scan_id"], body.item_id, actor=claim_views.claim_actor(principal),
                                              reason=body.reason, work_id=body.work_id, by=acted_by(request, principal))

    opened = await run_in_threadpool(run)
    return see_other(f"/app/claims/{opened[0].claim_id}" if len(opened) == 1 else "/app/claims")


@router.get("/checks", **act("checks:read"))
def checks_page(request: Request, principal: Principal = page("checks:read"), reg=Depends(registry_dep)):
    from consentry.services.jobs import jobs_of

    from consentry.services.uploads import human_size

    settings = get_ctx(request).settings
    jobs = jobs_of(reg, account_id=None if principal.is_admin else principal.account_id, kind="check", limit=100)
    checks = [dict(job_out(j), name=(j.get("params") or {}).get("name")) for j in jobs]
    return render(request, "checks.html.j2", title="Check an AI output", checks=checks,
                  max_bytes=settings.max_audio_bytes, max_size=human_size(settings.max_audio_bytes))


@router.post("/checks", **act("checks:create", upload=True))
async def upload_check(request: Request, principal: Principal = page("checks:create")):
    job = await submissions.submit_check(request, principal)
    return see_other(f"/app/jobs/{job['job_id']}")


# ---------------------------------------------------------------- claims


# ---------------------------------------------------------------- admin
@router.get("/admin/accounts", **act("accounts:admin"))
def accounts_page(request: Request, principal: Principal = page("accounts:admin"), reg=Depends(registry_dep)):
    from consentry.services.account_views import list_accounts

    shown = [accounts.public_account(a) for a in list_accounts(reg)]
    emails = {a["account_id"]: a["email"] for a in shown}
    changed = None
    if request.query_params.get("disabled") in emails:
        changed = f"{emails[request.query_params['disabled']]} is disabled: it can no longer sign in"
    elif request.query_params.get("enabled") in emails:
        changed = f"{emails[request.query_params['enabled']]} is enabled again: it can sign in"
    return render(request, "accounts.html.j2", title="Accounts", accounts=shown, changed=changed)


@router.post("/admin/accounts/{account_id}/disable", **act("accounts:admin"))
async def disable_account(account_id: str, request: Request, principal: Principal = page("accounts:admin")):
    """Disable an account: first a page that asks to confirm (what disabling does), then, confirmed, disable."""
    form = await form_of(request)

    def run():
        from consentry.adapters.api.app import NotFound
        from consentry.services.account_views import disable_account as disable, get_account

        with get_ctx(request).pool.registry() as reg:
            if account_id == principal.account_id:
                raise InputError("you cannot disable your own account here; ask another administrator")
            row = get_account(reg, account_id)
            if row is None:
                raise NotFound(f"account {account_id!r}: no such account")
            if form.get("confirm") != "1":
                return render(request, "confirm_disable.html.j2", title=f"Disable {row['email']}?",
                              account=accounts.public_account(row))
            disable(reg, account_id, by=acted_by(request, principal))
            return see_other(f"/app/admin/accounts?disabled={account_id}")

    return await run_in_threadpool(run)


@router.post("/admin/accounts/{account_id}/enable", **act("accounts:admin"))
def enable_account(account_id: str, request: Request, principal: Principal = page("accounts:admin"),
                   reg=Depends(registry_dep)):
    """Enable an account an administrator disabled: it can sign in again."""
    from consentry.adapters.api.app import NotFound
    from consentry.services.account_views import enable_account as enable, get_account

    if get_account(reg, account_id) is None:
        raise NotFound(f"account {account_id!r}: no such account")
    enable(reg, account_id, by=acted_by(request, principal))
    return see_other(f"/app/admin/accounts?enabled={account_id}")


@router.get("/admin/audit", **act("audit:read"))
def audit_page(request: Request, principal: Principal = page("audit:read"), reg=Depends(registry_dep),
               action: Optional[str] = Query(None, max_length=100), account_id: Optional[str] = Query(None, max_length=100),
               before_seq: Optional[int] = Query(None, ge=0, le=2**62)):
    from consentry.services.account_views import audit_log

    records = audit_log(reg, limit=200, before_seq=before_seq, account_id=account_id or None, action=action or None)
    return render(request, "audit.html.j2", title="Audit log", records=records, action=action or "",
                  account_id=account_id or "")


# The claim pages live in their own module; importing it registers them on ``router``.
from consentry.adapters.web import claim_pages  # noqa: E402,F401
