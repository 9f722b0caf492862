"""Rendering for the web app: the Jinja2 environment (autoescaped), pages, error pages and security headers.

Every web route is a :class:`WebRoute`: an error raised anywhere in it (the
authorisation dependency included) becomes an HTML page for a browser (one
that asks for ``text/html``) and the API's ``{"detail": "<one line>"}`` for
anything else, with the status the API would give.  A browser that is not
signed in gets the sign-in form (401).  Every response carries a strict
Content-Security-Policy (``script-src 'self'``; no inline script or style).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from consentry.domain.accounts import AuthError, Principal, Throttled
from consentry.services.accounts import csrf_token
from consentry.domain.errors import ConsentryError
from consentry.reporting.format import format_money

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


def _money(value, currency=None) -> str:
    return "" if value is None else format_money(value, currency)  # the reports' one rounding rule


def _terms_words(t) -> str:
    if not t:
        return "—"
    d = t.get("decision", "—")
    if d == "license" and t.get("price") is not None:
        unit = t.get("unit") or "per-work"
        return f"license {t['price']:g} {t.get('currency') or ''} {unit}".strip()
    return d


def _seconds(value) -> str:
    if value is None:
        return ""
    v = float(value)
    return f"{int(v // 60)}:{v % 60:04.1f}"


_env.filters["money"] = _money
_env.filters["terms_words"] = _terms_words
_env.filters["mmss"] = _seconds
_env.filters["pretty_json"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False, default=str)

#: Navigation per role: (path, label).
NAV = {
    "creator": [("/app", "Overview"), ("/app/works", "Works"), ("/app/terms", "Default terms"), ("/app/voices", "Voice"),
                ("/app/findings", "Where found"), ("/app/statements", "Owed to you"), ("/app/publish", "Publish"),
                ("/app/claims", "Claims"), ("/app/checks", "Check an output")],
    "licensee": [("/app", "Overview"), ("/app/scans", "Dataset scans"), ("/app/checks", "Output checks"),
                 ("/app/claims", "Claims")],
    "admin": [("/app", "Overview"), ("/app/admin/accounts", "Accounts"), ("/app/admin/audit", "Audit log"),
              ("/app/claims", "Claims"), ("/app/scans", "Scans"), ("/app/checks", "Checks")],
}


def wants_html(request: Request) -> bool:
    """A browser navigation or form submission (it asks for text/html), not an API client."""
    return "text/html" in request.headers.get("accept", "")


def page_csrf(request: Request) -> str | None:
    session_id = getattr(request.state, "session_id", None)
    return csrf_token(session_id) if session_id else None


def render(request: Request, template: str, *, status: int = 200, principal: Principal | None = None,
           title: str = "", **context) -> HTMLResponse:
    """A page of the app: ``template`` with the signed-in principal, the navigation and the CSRF token."""
    if principal is None:
        principal = getattr(request.state, "principal", None)
    html = _env.get_template(template).render(
        principal=principal, nav=NAV.get(principal.role, []) if principal else [], path=request.url.path,
        csrf=page_csrf(request) if principal else None, title=title, **context)
    return HTMLResponse(html, status_code=status)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of the app only (never another site)."""
    if not value or not value.startswith("/app") or value.startswith("//") or "\\" in value:
        return "/app"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/app"
    return value[:500]


def error_response(request: Request, exc: Exception) -> Response:
    """The response for an error in a web route: HTML for a browser, the API's JSON otherwise."""
    from consentry.adapters.api.app import _one_line, _status_for, _validation_detail

    if isinstance(exc, RequestValidationError):
        status, detail = 422, _validation_detail(exc)
    elif isinstance(exc, StarletteHTTPException):  # e.g. Starlette's own refusal of a form it cannot parse
        status, detail = exc.status_code, _one_line(exc.detail if isinstance(exc.detail, str) else "bad request")
    else:
        status, detail = _status_for(exc), _one_line(str(exc))
    headers = {}
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(int(exc.retry_after_s + 0.999))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="consentry"'
    if status == 500:
        import logging

        logging.getLogger("consentry.server").error("internal error on %s %s", request.method, request.url.path,
                                                     exc_info=exc)
        detail = f"internal error ({type(exc).__name__}); the server log has the details"
    if not wants_html(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if status == 401 and isinstance(exc, AuthError):
        nxt = request.url.path if request.method == "GET" else "/app"
        response = render(request, "signin.html.j2", status=401, principal=None, title="Sign in", error=detail,
                          next=safe_next(nxt), email="")
    else:
        principal = getattr(request.state, "principal", None)
        response = render(request, "error.html.j2", status=status, principal=principal, title="Something went wrong",
                          error=detail, status_code=status, back=_back(request))
    response.headers.update(headers)
    return response


def _back(request: Request) -> str:
    ref = request.headers.get("referer") or ""
    parts = urlsplit(ref)
    if parts.netloc == request.headers.get("host") and parts.path.startswith("/app"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/app"


class WebRoute(APIRoute):
    """A route of the web app: errors become pages (or JSON for API clients); security headers on every answer."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def web_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except (ConsentryError, RequestValidationError, StarletteHTTPException) as exc:
                response = error_response(request, exc)
            except Exception as exc:  # noqa: BLE001 - one line to the user, the details to the log
                response = error_response(request, exc)
            for k, v in SECURITY_HEADERS.items():
                response.headers.setdefault(k, v)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return web_handler
