"""Accounts of the server: roles, scopes and the policy (model.py, pure) and their storage use (service.py)."""

from .model import (
    ACTIONS, ROLE_SCOPES, ROLES, SCOPES, AuthError, Conflict, Decision, PermissionDenied, Principal, Rule, Throttled,
    decide,
)
from .service import (
    AuthSettings, audit, authenticate, create_account, create_session, create_token, csrf_ok, csrf_token,
    disable_account, end_session, find_account, principal_from_session, principal_from_token, public_account,
    public_token, revoke_token, set_password,
)

__all__ = [
    "ACTIONS", "ROLE_SCOPES", "ROLES", "SCOPES", "AuthError", "Conflict", "Decision", "PermissionDenied", "Principal",
    "Rule", "Throttled", "decide", "AuthSettings", "audit", "authenticate", "create_account", "create_session",
    "create_token", "csrf_ok", "csrf_token", "disable_account", "end_session", "find_account",
    "principal_from_session", "principal_from_token", "public_account", "public_token", "revoke_token", "set_password",
]
