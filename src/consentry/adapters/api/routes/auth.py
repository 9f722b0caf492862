"""Sign-in (sessions), sign-up, API tokens; admin: accounts and the audit log."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request, Response

from consentry.domain.accounts import PermissionDenied, Principal
from consentry.services import accounts
from consentry.adapters.api.deps import SESSION_COOKIE, act, authorize, client_ip, get_ctx, registry_dep
from consentry.adapters.api.models import (
    AccountCreateIn, AccountOut, AuditRecordOut, ErrorOut, SessionIn, SessionOut, SignupIn, TokenCreatedOut, TokenIn,
    TokenOut,
)
from consentry.services import account_views as account_reads
from consentry.services.works import creator_names
from consentry.adapters.api.routes._common import acted_by, record

router = APIRouter(tags=["accounts"], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 429: {"model": ErrorOut}})


@router.post("/session", response_model=SessionOut, **act("session:create"))
def sign_in(body: SessionIn, request: Request, response: Response, principal: Optional[Principal] = Depends(authorize("session:create")),
            reg=Depends(registry_dep)) -> dict:
    """Sign in with e-mail and password: sets the session cookie (HttpOnly, SameSite=Lax) and returns the CSRF token."""
    settings = get_ctx(request).settings
    row = accounts.authenticate(reg, email=body.email, password=body.password, ip=client_ip(request), auth=settings.auth)
    session_id = accounts.create_session(reg, account=row, ip=client_ip(request),
                                         user_agent=request.headers.get("user-agent"), auth=settings.auth)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(settings.auth.session_max_age_s), httponly=True,
                        samesite="lax", secure=settings.secure_cookies, path="/")
    who = Principal(account_id=row["account_id"], email=row["email"], role=row["role"], creator=row["creator"], via="session")
    record(request, reg, who, "session.create", target_kind="account", target_id=row["account_id"])
    return {"account": accounts.public_account(row), "via": "session", "csrf_token": accounts.csrf_token(session_id),
            "scopes": []}


@router.get("/session", response_model=SessionOut, **act("session:read"))
def who_am_i(request: Request, principal: Principal = Depends(authorize("session:read")), reg=Depends(registry_dep)) -> dict:
    """The signed-in account (by session or token), its token's scopes and the session's CSRF token."""
    row = account_reads.get_account(reg, principal.account_id)
    session_id = getattr(request.state, "session_id", None)
    return {"account": accounts.public_account(row), "via": principal.via,
            "csrf_token": accounts.csrf_token(session_id) if session_id else None, "scopes": sorted(principal.scopes)}


@router.delete("/session", status_code=204, response_class=Response, **act("session:delete"))
def sign_out(request: Request, principal: Principal = Depends(authorize("session:delete")), reg=Depends(registry_dep)):
    """Sign out: the session is revoked on the server and the cookie cleared."""
    session_id = getattr(request.state, "session_id", None)
    if session_id:
        accounts.end_session(reg, session_id)
        record(request, reg, principal, "session.delete", target_kind="account", target_id=principal.account_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/accounts/signup", status_code=201, response_model=AccountOut, **act("accounts:signup"))
def sign_up(body: SignupIn, request: Request, principal: Optional[Principal] = Depends(authorize("accounts:signup")),
            reg=Depends(registry_dep)) -> dict:
    """Open sign-up for creator and licensee accounts (when the server allows it)."""
    settings = get_ctx(request).settings
    if not settings.signup:
        raise PermissionDenied("sign-up is closed on this server; ask an administrator for an account")
    account = accounts.create_account(reg, email=body.email, password=body.password, role=body.role,
                                      creator=body.creator, display_name=body.display_name, auth=settings.auth,
                                      existing_creators=creator_names(reg))
    record(request, reg, principal, "accounts.signup", target_kind="account", target_id=account["account_id"],
           details={"role": account["role"], "creator": account["creator"]}, actor=account["email"])
    return account


# -- tokens --------------------------------------------------------------------------------
@router.get("/tokens", response_model=list[TokenOut], **act("tokens:manage"))
def list_tokens(principal: Principal = Depends(authorize("tokens:manage")), reg=Depends(registry_dep),
                all_accounts: bool = Query(False, description="Admins: every account's tokens.")) -> list[dict]:
    """The account's API tokens (never their secrets)."""
    account_id = None if (all_accounts and principal.is_admin) else principal.account_id
    return [accounts.public_token(t) for t in account_reads.list_tokens(reg, account_id=account_id)]


@router.post("/tokens", status_code=201, response_model=TokenCreatedOut, **act("tokens:manage"))
def create_token(body: TokenIn, request: Request, principal: Principal = Depends(authorize("tokens:manage")),
                 reg=Depends(registry_dep)) -> dict:
    """Make an API token with scopes and an expiry; the secret is in this response only."""
    from consentry.domain.accounts import check_scopes

    row = account_reads.get_account(reg, principal.account_id)
    check_scopes(row["role"], body.scopes)
    if principal.via == "token" and not set(body.scopes) <= principal.scopes:
        raise PermissionDenied("a token cannot make a token with scopes it does not have itself")
    token, secret = account_reads.create_token(reg, by=acted_by(request, principal), account=row, name=body.name,
                                               scopes=body.scopes, expires_in_days=body.expires_in_days)
    return {"token": token, "secret": secret}


@router.delete("/tokens/{token_id}", response_model=TokenOut, **act("tokens:manage"))
def revoke_token(token_id: str, request: Request, principal: Principal = Depends(authorize("tokens:manage")),
                 reg=Depends(registry_dep)) -> dict:
    """Revoke one of the account's tokens (admins: any token)."""
    from consentry.domain.accounts import PermissionDenied as Denied
    from consentry.adapters.api.app import NotFound
    from consentry.domain.accounts import no_such
    from consentry.adapters.api.deps import ensure_allowed

    existing = account_reads.get_token(reg, token_id)
    if existing is None:
        raise NotFound(no_such("token", token_id))
    ensure_allowed("tokens:manage", principal, owner_account=existing["account_id"], resource=("token", token_id))
    if existing["account_id"] != principal.account_id and not principal.is_admin:
        raise Denied("this token belongs to another account")
    return account_reads.revoke_token(reg, token_id, by=acted_by(request, principal))


# -- admin: accounts and the audit log ------------------------------------------------------------
@router.get("/accounts", response_model=list[AccountOut], **act("accounts:admin"))
def list_accounts(principal: Principal = Depends(authorize("accounts:admin")), reg=Depends(registry_dep)) -> list[dict]:
    """Every account (admins)."""
    return [accounts.public_account(a) for a in account_reads.list_accounts(reg)]


@router.post("/accounts", status_code=201, response_model=AccountOut, **act("accounts:admin"))
def create_account(body: AccountCreateIn, request: Request, principal: Principal = Depends(authorize("accounts:admin")),
                   reg=Depends(registry_dep)) -> dict:
    """Create an account of any role (admins), e.g. a creator account bound to a catalogue already registered."""
    return account_reads.create_account(reg, by=acted_by(request, principal), email=body.email, password=body.password,
                                        role=body.role, creator=body.creator, display_name=body.display_name,
                                        auth=get_ctx(request).settings.auth)


@router.post("/accounts/{account_id}/disable", response_model=AccountOut, **act("accounts:admin"))
def disable_account(account_id: str, request: Request, principal: Principal = Depends(authorize("accounts:admin")),
                    reg=Depends(registry_dep)) -> dict:
    """Disable an account: its sessions end and its tokens stop working."""
    from consentry.adapters.api.app import NotFound

    if account_reads.get_account(reg, account_id) is None:
        raise NotFound(f"account {account_id!r}: no such account")
    return account_reads.disable_account(reg, account_id, by=acted_by(request, principal))


@router.post("/accounts/{account_id}/bind", response_model=AccountOut, **act("accounts:admin"))
def bind_account(account_id: str, request: Request, principal: Principal = Depends(authorize("accounts:admin")),
                 reg=Depends(registry_dep)) -> dict:
    """Bind a creator account to its creator name (admins): it then controls every work under the name, whoever
    registered it.  An account made by open sign-up controls only the works registered through it until then."""
    from consentry.adapters.api.app import NotFound

    if account_reads.get_account(reg, account_id) is None:
        raise NotFound(f"account {account_id!r}: no such account")
    return accounts.public_account(account_reads.bind_account(reg, account_id, by=acted_by(request, principal)))


@router.get("/audit", response_model=list[AuditRecordOut], tags=["audit"], **act("audit:read"))
def read_audit(principal: Principal = Depends(authorize("audit:read")), reg=Depends(registry_dep),
               limit: int = Query(100, ge=1, le=1000), before_seq: Optional[int] = Query(None, ge=0, le=2**62),
               account_id: Optional[str] = Query(None, max_length=100), action: Optional[str] = Query(None, max_length=100),
               target_id: Optional[str] = Query(None, max_length=200)) -> list[dict]:
    """The audit log, newest first (admins): who changed what, when, from where."""
    return account_reads.audit_log(reg, limit=limit, before_seq=before_seq, account_id=account_id, action=action,
                                   target_id=target_id)

