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
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from consentry.domain.accounts import AuthError, Principal, Throttled
from consentry.services.accounts import csrf_token
from consentry.domain.claims import STATE_WORDS
from consentry.domain.errors import ConsentryError, FieldError
from consentry.reporting.findings import confidence_text, segment_words, terms_lines, timeline_svg
from consentry.reporting.format import format_length, format_money, format_size

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
    if isinstance(t, str):  # terms already in words (a match's "deny", "license 25 EUR per-work")
        return t
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


def _work_length(work) -> str:
    """A work's length in its medium's terms ("3:25", "20,709 characters", "2.1 megapixels")."""
    from consentry.engines import medium_of_engine

    get = work.get if isinstance(work, dict) else (lambda key: getattr(work, key, None))
    return format_length(get("duration_s"), medium_of_engine(get("engine") or ""))


def _item_length(item: dict) -> str:
    """A scanned item's length in its medium's terms (music items keep their duration; others their size)."""
    medium = item.get("medium") or "music"
    size = item.get("duration_s") if medium == "music" or item.get("size") is None else item.get("size")
    return format_length(size, medium)


def _ago(moment: datetime, now: datetime) -> str:
    """ "3 minutes ago", "in 2 days" (a deadline), "just now"; "" beyond a week either way (the date says it)."""
    seconds = (now - moment).total_seconds()
    if abs(seconds) < 60:
        return "just now"
    for size, unit in ((86400 * 7, None), (86400, "day"), (3600, "hour"), (60, "minute")):
        if abs(seconds) >= size:
            if unit is None:
                return ""
            n = int(abs(seconds) // size)
            words = f"{n} {unit}{'' if n == 1 else 's'}"
            return f"{words} ago" if seconds > 0 else f"in {words}"
    return ""


def friendly_time(value, now: datetime | None = None) -> Markup:
    """An ISO 8601 stamp for people: ``<time>`` with "3 minutes ago · 7 Dec 2026, 05:33 UTC" (recent) or the date
    and time alone; app.js rewrites the date and time in the reader's own time zone.  Not a stamp: as it is."""
    if not value:
        return Markup("")
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return Markup(escape(str(value)))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    utc = moment.astimezone(timezone.utc)
    ago = _ago(utc, now or datetime.now(timezone.utc))
    stamp = f"{utc.day} {utc:%b %Y, %H:%M} UTC"
    text = f"{ago} · {stamp}" if ago else stamp
    return Markup('<time datetime="{}" data-ago="{}">{}</time>').format(utc.isoformat(timespec="seconds"), ago, text)


_env.filters["when"] = friendly_time
_env.filters["confidence"] = confidence_text
_env.filters["segment_words"] = segment_words
_env.filters["size"] = format_size
def _timeline(segments, side: str, total_s, label: str) -> Markup:
    """The timeline picture of ``segments`` on the ``side`` "query" (the item) or "work"."""
    spans = [(s[f"{side}_start_s"], s[f"{side}_end_s"]) for s in segments if s.get(f"{side}_start_s") is not None]
    return Markup(timeline_svg(spans, total_s=total_s, label=label))


_env.globals["timeline"] = _timeline
_env.globals["terms_lines"] = terms_lines
#: Claim actions, roles and states in words (the claims model names them for programs: resolve_a, b, ...).
_env.globals["action_words"] = {
    "contest": "contest", "concede": "concede", "withdraw": "withdraw", "resolve_a": "decide for the claimant",
    "resolve_b": "decide for the respondent", "evidence": "add evidence", "note": "add a note",
    "expire": "answer deadline passed", "overdue": "decision deadline passed", "open": "opened"}
_env.globals["state_words"] = STATE_WORDS
_env.globals["decision_words"] = {"deny": "deny (not allowed)", "allow": "allow", "license": "license (at a price)"}
_env.globals["role_words"] = {"a": "the claimant", "b": "the respondent", "admin": "administrator",
                              "system": "deadline rule"}
_env.filters["money"] = _money
_env.filters["terms_words"] = _terms_words
_env.filters["mmss"] = _seconds
_env.filters["work_length"] = _work_length
_env.filters["item_length"] = _item_length
_env.filters["pretty_json"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False, default=str)

#: Navigation per role: (path, label).
NAV = {
    "creator": [("/app", "Overview"), ("/app/works", "Works"), ("/app/terms", "Default terms"), ("/app/voices", "Voice"),
                ("/app/findings", "Where found"), ("/app/statements", "Owed to you"), ("/app/publish", "Publish"),
                ("/app/claims", "Claims"), ("/app/checks", "Check output")],
    "licensee": [("/app", "Overview"), ("/app/scans", "Dataset scans"), ("/app/checks", "Output checks"),
                 ("/app/claims", "Claims")],
    "admin": [("/app", "Overview"), ("/app/admin/accounts", "Accounts"), ("/app/admin/audit", "Audit log"),
              ("/app/claims", "Claims"), ("/app/scans", "Scans"), ("/app/checks", "Checks")],
}


#: Field names as the web app's forms call them (a :class:`FieldError` names fields neutrally).
FIELD_WORDS = {"decision": "the terms", "price": "a price", "currency": "the currency", "unit": "the unit",
               "valid_from": "valid from", "valid_until": "valid until", "jurisdiction": "the jurisdiction",
               "terms": "the terms", "uses": "the uses", "copyright_registered_on": "the copyright registration date",
               "first_published_on": "the first publication date"}


def web_message(exc: Exception) -> str:
    """An error in the web app's words: fields named as the forms name them, no option flags, no ``>=``."""
    if isinstance(exc, FieldError):
        text = exc.worded(lambda name: FIELD_WORDS.get(name, name.replace("_", " ")))
    else:
        text = str(exc)
    return text.replace(", a number >= 0", " (a number, 0 or more)").replace(">= 0", "0 or more")


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
    from consentry.adapters.api.app import one_line, status_for, validation_detail

    if isinstance(exc, RequestValidationError):
        status, detail = 422, validation_detail(exc)
    elif isinstance(exc, StarletteHTTPException):  # e.g. Starlette's own refusal of a form it cannot parse
        status, detail = exc.status_code, one_line(exc.detail if isinstance(exc.detail, str) else "bad request")
    else:
        status, detail = status_for(exc), one_line(web_message(exc) if wants_html(request) else str(exc))
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
        response = render(request, "error.html.j2", status=status, principal=principal, title=ERROR_TITLES.get(
                          status, "Something went wrong"), error=detail, status_code=status, back=_back(request))
    response.headers.update(headers)
    return response


ERROR_TITLES = {404: "Page not found", 403: "Not allowed", 413: "Too large", 429: "Too many requests"}


def _signed_in(request: Request):
    """Who is signed in on this browser (their session cookie), for the menu of a page outside every route; None
    when no one is or it cannot be told."""
    try:
        from consentry.adapters.api.deps import get_ctx, resolve_principal

        with get_ctx(request).pool.registry() as reg:
            return resolve_principal(request, reg)
    except Exception:  # noqa: BLE001 - a 404 page never fails for its menu: it shows the signed-out one
        return None


def not_found_page(request: Request) -> Response:
    """The HTML 404 page inside the app's frame, for an address that is no page at all (the API answers JSON)."""
    response = render(request, "error.html.j2", status=404, principal=_signed_in(request), title="Page not found",
                      error=f"There is no page at {request.url.path[:200]}.", status_code=404, back="/")
    for k, v in SECURITY_HEADERS.items():
        response.headers[k] = v
    response.headers["Cache-Control"] = "no-store"
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
