"""Dependencies every route uses, and the web app can reuse.

- :func:`authorize` (``Depends(authorize("works:read"))``): who is asking
  (Bearer token, else session cookie, else anonymous), the rate limit, the
  policy's decision on role and scope (:func:`consentry.domain.accounts.decide`),
  and CSRF for session requests that change something.  Returns the
  :class:`~consentry.domain.accounts.Principal` (None when anonymous).
- :func:`ensure_allowed`: the same decision once the route has loaded the
  resource and knows its owner.
- :func:`registry_dep`: a registry connection from the pool for the request.
- :func:`read_upload_form`: a streamed multipart body, checked for CSRF.
- :func:`act`: the keyword arguments that tag a route with its action (the
  authorisation test reads the tag from every route).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from consentry.domain.accounts import AuthError, PermissionDenied, Principal, Throttled, decide
from consentry.domain.accounts import no_such
from consentry.services.accounts import csrf_ok, principal_from_session, principal_from_token
from consentry.services.uploads import ReceivedForm, receive_multipart

SESSION_COOKIE = "consentry_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ACTION_KEY = "x-consentry-action"
UPLOAD_KEY = "x-consentry-upload"


def get_ctx(request: Request):
    return request.app.state.ctx


def registry_dep(request: Request) -> Iterator[object]:
    """A registry connection for this request (returned to the pool afterwards)."""
    with get_ctx(request).pool.registry() as reg:
        yield reg


def client_ip(request: Request) -> str:
    ctx = get_ctx(request)
    if ctx.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[-1].strip()[:64]
    return request.client.host if request.client else "unknown"


def resolve_principal(request: Request, registry) -> Principal | None:
    """The principal of the request (cached on ``request.state``); AuthError for a bad Bearer token."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    ctx = get_ctx(request)
    principal = None
    request.state.session_id = None
    request.state.session_problem = None
    header = request.headers.get("authorization")
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthError("Authorization header: send 'Bearer <API token>'")
        principal = principal_from_token(registry, credentials.strip())
    else:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            try:
                principal = principal_from_session(registry, session_id, auth=ctx.settings.auth)
                request.state.session_id = session_id
            except AuthError as exc:
                request.state.session_problem = str(exc)
    request.state.principal = principal
    return principal


def _rate_limit(request: Request, principal: Principal | None) -> None:
    ctx = get_ctx(request)
    s = ctx.settings
    if principal is None:
        key, rate, burst = f"ip:{client_ip(request)}", s.anonymous_rate_per_s, s.anonymous_burst
    elif principal.token_id:
        key, rate, burst = f"token:{principal.token_id}", s.rate_per_s, s.rate_burst
    else:
        key, rate, burst = f"account:{principal.account_id}", s.rate_per_s, s.rate_burst
    wait = ctx.limiter.take(key, rate_per_s=rate, burst=burst)
    if wait > 0:
        raise Throttled(f"rate limit of {rate:g} requests/s (bursts of {burst:g}) reached; retry after {wait:.1f} s",
                        retry_after_s=wait)


def _raise_refusal(decision, request: Request) -> None:
    if decision.status == 401:
        problem = getattr(request.state, "session_problem", None)
        raise AuthError(problem or decision.reason)
    raise PermissionDenied(decision.reason)


@functools.lru_cache(maxsize=None)
def authorize(action: str):
    """The dependency for routes doing ``action``: returns the Principal (None when anonymous) or refuses."""

    async def dependency(request: Request) -> Principal | None:
        ctx = get_ctx(request)

        def resolve() -> Principal | None:
            with ctx.pool.registry() as reg:
                return resolve_principal(request, reg)

        if request.method in UNSAFE_METHODS and not request.headers.get("authorization"):
            check_origin(request)
        principal = await run_in_threadpool(resolve)
        _rate_limit(request, principal)
        decision = decide(action, principal)
        if not decision.allowed:
            _raise_refusal(decision, request)
        if principal is not None and principal.via == "session" and request.method in UNSAFE_METHODS:
            await _check_csrf(request)
        request.state.action = action
        return principal

    dependency.action = action
    dependency.__name__ = f"authorize_{action.replace(':', '_')}"
    return dependency


def check_origin(request: Request) -> None:
    """Refuse a change sent by a browser from another origin (or from an opaque one: ``Origin: null``, sent by
    sandboxed frames, ``data:`` pages and some redirects).  Requests without ``Origin`` pass (API clients, older
    browsers; the session cookie is SameSite=Lax and changes need the CSRF token); so do Bearer requests, which
    :func:`authorize` does not send here (a browser never adds that header by itself)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    allowed = {request.headers.get("host", "").lower(), urlsplit(get_ctx(request).settings.public_url).netloc.lower()}
    try:
        netloc = urlsplit(origin.strip()).netloc.lower() if origin.strip().lower() != "null" else ""
    except ValueError:
        netloc = ""
    if not netloc or netloc not in allowed:
        raise PermissionDenied("this form was sent from another site (Origin "
                               f"{origin[:100]!r}); open the page on this server and send it again")


#: The largest urlencoded form body read in memory (bytes), and the largest field in it.
MAX_FORM_BYTES = 256 * 1024
MAX_FORM_FIELD_BYTES = 64 * 1024


async def read_form(request: Request):
    """The urlencoded form of the request, read once and bounded: a body over :data:`MAX_FORM_BYTES` or a field
    over :data:`MAX_FORM_FIELD_BYTES` is refused (413, naming it) before it is parsed.  Other bodies: an empty form."""
    from starlette.datastructures import FormData

    from consentry.services.uploads import UploadTooLarge

    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("application/x-www-form-urlencoded"):
        return FormData()
    if getattr(request, "_form", None) is not None:
        return request._form
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise UploadTooLarge(f"form: {int(length)} bytes is more than the {MAX_FORM_BYTES} a form may send")
    if not hasattr(request, "_body"):
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                raise UploadTooLarge(f"form: more than the {MAX_FORM_BYTES} bytes a form may send")
            chunks.append(chunk)
        request._body = b"".join(chunks)  # what Request.form() and Request.body() read from now on
    for part in request._body.split(b"&"):
        name, _, value = part.partition(b"=")
        if len(value) > MAX_FORM_FIELD_BYTES:
            shown = name[:40].decode("latin-1", "replace")
            raise UploadTooLarge(f"form field {shown!r}: longer than {MAX_FORM_FIELD_BYTES} bytes")
    return await request.form()


async def _check_csrf(request: Request) -> None:
    session_id = request.state.session_id
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = await read_form(request)
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        elif ctype.startswith("multipart/form-data") and _reads_upload_form(request):
            request.state.csrf_pending = True  # checked by read_upload_form once the fields are read
            return
    if not csrf_ok(session_id, sent):
        raise PermissionDenied(f"missing or wrong CSRF token: send the {CSRF_HEADER} header (or a {CSRF_FIELD} form "
                               "field) with the token from GET /api/v1/session")


def _reads_upload_form(request: Request) -> bool:
    """Whether the route streams a multipart upload with :func:`read_upload_form`, which checks the CSRF field.

    Only such routes may carry the token as a form field of a multipart
    body; any other route sent a multipart body must have the header, or a
    session request without a token would pass unchecked.
    """
    extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
    if extra.get(UPLOAD_KEY):
        return True
    return "multipart/form-data" in ((extra.get("requestBody") or {}).get("content") or {})


def ensure_allowed(action: str, principal: Principal | None, *, owner_creator: str | None = None,
                   owner_account: str | None = None, owner_parties=None, resource: tuple[str, str] | None = None) -> None:
    """Refuse (401/403) unless ``principal`` may do ``action`` on a resource with these owners.

    ``resource`` = (kind, the id the caller gave): the resource was looked up
    by an id from the request, and someone else's is answered with the same
    404 as an id that names nothing (:func:`consentry.domain.accounts.no_such`).
    """
    decision = decide(action, principal, owner_creator=owner_creator, owner_account=owner_account,
                      owner_parties=owner_parties, check_owner=True, hide_others=resource is not None)
    if not decision.allowed:
        if decision.status == 401:
            raise AuthError(decision.reason)
        if decision.status == 404:
            from consentry.adapters.api.app import NotFound

            raise NotFound(no_such(*resource))
        raise PermissionDenied(decision.reason)


@contextmanager
def lookup(kind: str, ref: str):
    """Look a resource up by the id the caller gave: an unknown id, or an ambiguous prefix, is the 404 of
    :func:`no_such` (the same answer as someone else's resource, see :func:`ensure_allowed`)."""
    from consentry.domain.claims import ClaimNotFoundError
    from consentry.domain.errors import WorkNotFoundError
    from consentry.domain.errors import ScanNotFoundError
    from consentry.adapters.api.app import NotFound

    try:
        yield
    except (WorkNotFoundError, ScanNotFoundError, ClaimNotFoundError):
        raise NotFound(no_such(kind, ref)) from None


def act(action: str, *, upload: bool = False, **extra) -> dict:
    """Route keyword arguments naming the route's action (read by the authorisation test and the docs).

    ``upload=True`` marks a route whose multipart body is read with
    :func:`read_upload_form` (routes that declare a multipart request body in
    ``openapi_extra`` are marked by that already).
    """
    openapi_extra = {ACTION_KEY: action, **extra.pop("openapi_extra", {})}
    if upload:
        openapi_extra[UPLOAD_KEY] = True
    return {"openapi_extra": openapi_extra, **extra}


async def read_upload_form(request: Request, *, purpose: str) -> ReceivedForm:
    """Stream a multipart body to the incoming folder under the caps of ``purpose``; checks a pending CSRF field."""
    ctx = get_ctx(request)
    length = request.headers.get("content-length")
    try:
        content_length = int(length) if length is not None else None
    except ValueError:
        content_length = None
    form = await receive_multipart(request.stream(), content_type=request.headers.get("content-type", ""),
                                   temp_dir=Path(ctx.settings.incoming_dir), limits=ctx.settings.limits(purpose),
                                   content_length=content_length)
    if getattr(request.state, "csrf_pending", False) and not csrf_ok(request.state.session_id, form.get(CSRF_FIELD)):
        form.discard()
        raise PermissionDenied(f"missing or wrong CSRF token: send the {CSRF_HEADER} header or a {CSRF_FIELD} form field")
    return form
