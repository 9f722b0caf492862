"""The Consentry server: :func:`create_app` builds the FastAPI application from :class:`ServerSettings`.

Routers per area live in :mod:`consentry.adapters.api.routes`; the dependencies every
route uses (who is asking, may they, CSRF, rate limits) in
:mod:`consentry.adapters.api.deps` -- the web app (``consentry.adapters.web``) mounts its
router on the same application and reuses them (see :func:`create_app`'s
``extra_routers``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from consentry import __version__
from consentry.domain.accounts import AuthError, Conflict, PermissionDenied, Throttled
from consentry.domain.errors import (
    ConsentryError, FieldError, InputError, RegistryError, ScanNotFoundError, WorkNotFoundError,
)
from consentry.services.jobs import JobRunner
from consentry.runtime.pools import worker_count
from consentry.services.uploads import UnsupportedUpload, UploadTooLarge, remove_stale_parts
from consentry.adapters.api.publicfiles import PublishCache
from consentry.adapters.api.ratelimit import RateLimiter
from consentry.adapters.api.settings import ServerSettings

ACTION_KEY = "x-consentry-action"

log = logging.getLogger("consentry.server")


class NotFound(InputError):
    """No such resource (HTTP 404)."""


class RegistryPool:
    """Open registries shared by request threads: at most ``size``, each used by one thread at a time."""

    def __init__(self, spec: str, *, size: int) -> None:
        self.spec = spec
        self.size = size
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._made = 0
        self._all: list = []
        self._lock = threading.Lock()

    def open_new(self):
        from consentry.services.registry import Registry

        return Registry.open(self.spec)

    @contextmanager
    def registry(self) -> Iterator[object]:
        reg = None
        try:
            reg = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                if self._made < self.size:
                    self._made += 1
                    make = True
                else:
                    make = False
            if make:
                try:
                    reg = self.open_new()
                except BaseException:
                    with self._lock:
                        self._made -= 1
                    raise
                with self._lock:
                    self._all.append(reg)
            else:
                reg = self._idle.get(timeout=60)
        try:
            yield reg
        finally:
            reg.end_open_transaction()
            self._idle.put(reg)

    def close(self) -> None:
        with self._lock:
            for reg in self._all:
                try:
                    reg.close()
                except Exception:  # noqa: BLE001
                    pass
            self._all.clear()


@dataclass
class ServerContext:
    """What the routes share: settings, registry connections, the job runner, caches, rate limits."""

    settings: ServerSettings
    pool: RegistryPool
    jobs: JobRunner
    publish: PublishCache
    limiter: RateLimiter = field(default_factory=RateLimiter)
    recovered: list = field(default_factory=list)
    identify_slots: threading.BoundedSemaphore | None = None

    def __post_init__(self) -> None:
        if self.identify_slots is None:
            slots = worker_count(self.settings.identify_concurrency)  # at most one per core
            if slots.lowered:
                log.warning("%s", slots.describe(option="identify_concurrency"))
            self.identify_slots = threading.BoundedSemaphore(slots.workers)


def status_for(exc: Exception) -> int:
    """The HTTP status of a domain error (shared by the API's JSON errors and the web app's pages)."""
    if isinstance(exc, Throttled):
        return 429
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, (NotFound, WorkNotFoundError, ScanNotFoundError)):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, UploadTooLarge):
        return 413
    if isinstance(exc, UnsupportedUpload):
        return 415
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, RegistryError):
        return 503
    return 500


def one_line(text: str) -> str:
    """An error detail on one line, at most 1,000 characters (API and web app)."""
    return " ".join(str(text).split())[:1000]


def validation_detail(exc: RequestValidationError) -> str:
    """A request-validation error in a line that names the fields (API and web app)."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
    return one_line("; ".join(parts) or "invalid request")


def _wants_page(request: Request) -> bool:
    """A browser asking for a page (text/html) outside the API, with the web app installed: it gets an HTML 404."""
    import importlib.util

    return ("text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")
            and importlib.util.find_spec("consentry.adapters.web") is not None)


def install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON ``{"detail": "<one line>"}`` with a fitting status."""

    @app.exception_handler(ConsentryError)
    async def consentry_error(request: Request, exc: ConsentryError):
        status = status_for(exc)
        headers = {}
        if isinstance(exc, Throttled):
            headers["Retry-After"] = str(int(exc.retry_after_s + 0.999))
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="consentry"'
        detail = exc.worded(str) if isinstance(exc, FieldError) else str(exc)  # fields as the request body names them
        return JSONResponse({"detail": one_line(detail)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404 and _wants_page(request):
            from consentry.adapters.web import not_found_page  # only when the web app is installed (_wants_page checks)

            return not_found_page(request)
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        return JSONResponse({"detail": one_line(detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); the server log has the details"},
                            status_code=500)


#: Sent with every answer that does not set its own (the web app's pages send a stricter policy): no script
#: from anywhere, styles only inline or from here (reports and terms pages carry their stylesheet), no framing.
CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = ((b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"))


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP answer (API, public files, reports, the API docs),
    each unless the route set that header itself."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {bytes(k).lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _docs_page(app: FastAPI) -> str:
    """The API's operations from the OpenAPI document, as one self-contained page (no script, nothing fetched)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from pathlib import Path

    doc = app.openapi()
    groups: dict[str, list] = {}
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            if not isinstance(op, dict):
                continue
            params = [f"{p.get('name')}{'' if p.get('required') else '?'} ({p.get('in')})" for p in op.get("parameters", [])]
            body = ", ".join(((op.get("requestBody") or {}).get("content") or {}).keys())
            summary = (op.get("description") or op.get("summary") or "").strip().split("\n")[0]
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append({"method": method.upper(), "path": path, "summary": summary,
                                               "action": op.get(ACTION_KEY), "params": params, "body": body})
    env = Environment(loader=FileSystemLoader(str(Path(__file__).parent / "templates")), autoescape=select_autoescape(default=True))
    info = doc.get("info", {})
    return env.get_template("docs.html.j2").render(
        title=info.get("title", ""), version=info.get("version", ""), description=info.get("description", ""),
        openapi_url=app.openapi_url, openapi_version=doc.get("openapi", ""), groups=sorted(groups.items()))


def create_app(settings: ServerSettings, *, extra_routers: list | None = None) -> FastAPI:
    """The server application for ``settings``.

    Parameters
    ----------
    settings : ServerSettings
    extra_routers : list of fastapi.APIRouter, optional
        Mounted after the API's routers.  By default, the ``router`` of
        :mod:`consentry.adapters.web` when that package exists (the web app).

    Notes
    -----
    Opening the app does nothing; the lifespan (uvicorn startup) opens the
    registry, takes the data folder's lock and recovers the jobs a previous
    process left.
    """
    from consentry.adapters.api.routes import ROUTERS
    from consentry.adapters.api.routes.public import public_router

    pool = RegistryPool(settings.registry, size=settings.registry_connections)
    runner = JobRunner(open_registry=pool.open_new, settings=settings)
    ctx = ServerContext(settings=settings, pool=pool, jobs=runner, publish=PublishCache(settings.public_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with pool.registry():
            pass  # create or migrate the registry before anything else
        ctx.recovered = runner.start()  # takes the data folder's lock
        with pool.registry() as reg:
            remove_stale_parts(reg, incoming_dir=settings.incoming_dir)
            from consentry.services.accounts import record_control_of_earlier_registrations

            record_control_of_earlier_registrations(reg)
        sweeper = asyncio.create_task(_sweep_claims(pool, settings.claims_sweep_s))
        try:
            yield
        finally:
            sweeper.cancel()
            runner.shutdown(wait=False)
            pool.close()

    app = FastAPI(
        title="Consentry",
        version=__version__,
        description="A consent registry and training-data auditor for creative works: register works with their "
                    "AI-use terms, publish them, and check datasets and AI outputs against them. "
                    "Authenticate with `Authorization: Bearer cst_...` (API tokens) or a session cookie "
                    "(POST /api/v1/session) plus the `X-CSRF-Token` header on changes. Errors are "
                    '`{"detail": "<one line>"}`.',
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load swagger-ui / redoc from a CDN: /docs is served here instead
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)

    from fastapi import Depends
    from fastapi.responses import HTMLResponse

    from consentry.adapters.api.deps import act, authorize

    docs_html: list[str] = []

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False, **act("public:read"))
    def api_docs(principal=Depends(authorize("public:read"))) -> HTMLResponse:
        """The API's operations, rendered here from the OpenAPI document (no third-party script)."""
        if not docs_html:
            docs_html.append(_docs_page(app))
        return HTMLResponse(docs_html[0])

    for router in ROUTERS:
        app.include_router(router, prefix="/api/v1")
    app.include_router(public_router)
    if extra_routers is None:
        extra_routers = _web_routers()
    for router in extra_routers:
        app.include_router(router)
    return app


def expire_claims_now(pool: RegistryPool) -> list:
    """Apply the claims' deadline rules once; each claim changed is written to the audit log (actor ``system``)."""
    from consentry.services.accounts import audit
    from consentry.services.claims import expire_overdue

    with pool.registry() as reg:
        changed = expire_overdue(reg)
        for claim in changed:
            audit(reg, principal=None, actor="system", action="claims.deadline", target_kind="claim",
                  target_id=claim.claim_id, details={"state": claim.state})
    return changed


async def _sweep_claims(pool: RegistryPool, every_s: float) -> None:
    """Run :func:`expire_claims_now` at start and then every ``every_s`` seconds, off the event loop."""
    log = logging.getLogger("consentry.server")
    while True:
        try:
            changed = await asyncio.to_thread(expire_claims_now, pool)
            if changed:
                log.info("claims deadlines: %d claim(s) changed", len(changed))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the sweep must not take the server down; it is tried again later
            log.warning("claims deadlines could not be applied: %s", exc)
        await asyncio.sleep(every_s)


def _web_routers() -> list:
    """The web app's router, if the web app (``consentry.adapters.web``, with a module-level ``router``) is installed."""
    import importlib.util

    if importlib.util.find_spec("consentry.adapters.web") is None:
        return []
    from consentry.adapters import web

    routers = getattr(web, "routers", None)
    if routers is not None:
        return list(routers)
    router = getattr(web, "router", None)
    return [router] if router is not None else []
