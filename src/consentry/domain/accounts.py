"""Accounts, roles, token scopes and the authorisation policy (pure: no I/O).

One function, :func:`decide`, says whether a principal (an account acting
through an API token or a web session, or nobody) may perform an action on a
resource, given who owns the resource.  Every HTTP route names its action
(:data:`ACTIONS`), so the policy is read in one place; docs/server.md has the
table.

Roles
-----
``creator``
    Bound to one creator name; manages only the works whose ``creator`` is
    that name, their terms, the creator's default terms and voices; may
    check AI outputs and read what licensees owe them.
``licensee``
    An AI developer, dataset curator, platform or auditor: identifies,
    scans datasets, checks outputs, reads works and public terms, records
    licensed uses in the ledger.  There is no separate auditor role: an
    auditor is a licensee whose tokens carry only read scopes.
``admin``
    Everything, including accounts and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consentry.domain.errors import ConsentryError, InputError

ROLES: tuple[str, ...] = ("creator", "licensee", "admin")
SIGNUP_ROLES: tuple[str, ...] = ("creator", "licensee")

#: Scopes an API token may carry (a token can do what its account's role allows AND its scopes allow).
SCOPES: tuple[str, ...] = ("works:read", "works:write", "identify", "scan", "check", "ledger", "tokens", "admin",
                           "claims")
SCOPE_HELP = {
    "works:read": "list and read works, terms, voices; download publish files",
    "works:write": "register and remove works, change terms, enrol voices",
    "identify": "identify audio clips",
    "scan": "scan datasets and read scan reports",
    "check": "check AI outputs and download evidence",
    "ledger": "read statements and record licensed uses",
    "tokens": "create, list and revoke the account's own tokens",
    "admin": "accounts and the audit log (admin accounts only)",
    "claims": "read and answer the claims the account is a party to; dispute scan findings",
}
#: Scopes each role can use; a token asking for others is refused when it is made.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "creator": frozenset({"works:read", "works:write", "check", "ledger", "tokens", "claims"}),
    "licensee": frozenset({"works:read", "identify", "scan", "check", "ledger", "tokens", "claims"}),
    "admin": frozenset(SCOPES),
}

ANONYMOUS = "anonymous"


class AuthError(ConsentryError):
    """Not signed in, or the credentials are wrong, expired or revoked (HTTP 401)."""


class PermissionDenied(ConsentryError):
    """Signed in, but not allowed to do this (HTTP 403)."""


class Throttled(ConsentryError):
    """Too many attempts; try again after ``retry_after_s`` seconds (HTTP 429)."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1.0, float(retry_after_s))


class Conflict(InputError):
    """The request clashes with what is stored, e.g. an e-mail address already taken (HTTP 409)."""


@dataclass(frozen=True)
class Principal:
    """Who is making a request.

    ``via`` is ``"token"`` or ``"session"``; ``scopes`` limits a token (a
    session has every scope of its role).
    """

    account_id: str
    email: str
    role: str
    creator: str | None
    via: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None
    session_sha256: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Rule:
    """Who may perform one action.

    Attributes
    ----------
    roles : frozenset of str
        Roles allowed; ``"anonymous"`` in it makes the action public.
    scope : str or None
        Scope a token needs (None: any token of an allowed role).
    owned : str or None
        ``"creator"``: the resource belongs to a creator name, and a creator
        account may act only on its own; ``"account"``: the resource belongs
        to an account (a job, a scan, a ledger entry), and only that account
        (or an admin) may act on it; ``"party"``: the resource (a claim)
        belongs to its parties, and only a party (or an admin) may act on
        it; None: no owner.
    """

    roles: frozenset[str]
    scope: str | None = None
    owned: str | None = None
    description: str = ""

    @property
    def public(self) -> bool:
        return ANONYMOUS in self.roles


def _rule(roles: str, scope: str | None = None, owned: str | None = None, description: str = "") -> Rule:
    return Rule(frozenset(roles.split()), scope, owned, description)


_ALL = "creator licensee admin"
#: Every action a route may name, with its rule.  A route without an action fails the authorisation test.
ACTIONS: dict[str, Rule] = {
    "public:read": _rule(f"anonymous {_ALL}", description="published terms and machine-readable files"),
    "session:create": _rule(f"anonymous {_ALL}", description="sign in"),
    "accounts:signup": _rule(f"anonymous {_ALL}", description="open sign-up (when the settings allow it)"),
    "session:read": _rule(_ALL, description="who am I"),
    "session:delete": _rule(_ALL, description="sign out"),
    "tokens:manage": _rule(_ALL, "tokens", "account", "own API tokens"),
    "works:list": _rule(_ALL, "works:read", description="works (a creator sees their own)"),
    "works:read": _rule(_ALL, "works:read", "creator", "a work, its terms and history"),
    "works:create": _rule("creator admin", "works:write", "creator", "upload and register works"),
    "works:delete": _rule("creator admin", "works:write", "creator", "remove a work"),
    "terms:write": _rule("creator admin", "works:write", "creator", "change a work's or a creator's default terms"),
    "creator_terms:read": _rule(_ALL, "works:read", description="a creator's default terms"),
    "voices:read": _rule("creator admin", "works:read", "creator", "enrolled voices"),
    "voices:enroll": _rule("creator admin", "works:write", "creator", "enrol voice samples"),
    "identify": _rule("licensee admin", "identify", description="identify audio"),
    "scans:create": _rule("licensee admin", "scan", description="scan a dataset"),
    "scans:read": _rule("licensee admin", "scan", "account", "a scan, its report and clean manifest"),
    "checks:create": _rule(_ALL, "check", description="check an AI output"),
    "checks:read": _rule(_ALL, "check", "account", "a check's result and evidence"),
    "ledger:read": _rule(_ALL, "ledger", description="ledger entries (a creator: its works'; a licensee: what it recorded)"),
    "ledger:statements": _rule("creator admin", "ledger", description="what licensees owe, per creator"),
    "ledger:record": _rule("licensee admin", "ledger", description="record a licensed use"),
    "publish:download": _rule("creator admin", "works:read", description="publish files and server snippets"),
    "jobs:read": _rule(_ALL, None, "account", "a background job's progress and result"),
    "audit:read": _rule("admin", "admin", description="the audit log"),
    "accounts:admin": _rule("admin", "admin", description="list, create and disable accounts"),
    "claims:read": _rule(_ALL, "claims", "party", "the claims the account is a party to"),
    "claims:act": _rule(_ALL, "claims", "party", "answer, withdraw, annotate a claim or add evidence (as a party)"),
    "claims:resolve": _rule("admin", "admin", description="decide a claim"),
    "claims:dispute": _rule("licensee", "claims", "account", "dispute a finding of one of the account's scans"),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 200  # 401 or 403 when refused
    reason: str = ""


def party_of(principal: Principal) -> tuple[str, str] | None:
    """The (kind, name) under which ``principal`` is a party to claims: a creator by its creator name, a licensee
    by its e-mail address; None for an admin (who acts on every claim as the admin)."""
    if principal.role == "creator" and principal.creator:
        return ("creator", principal.creator)
    if principal.role == "licensee":
        return ("licensee", principal.email)
    return None


def decide(action: str, principal: Principal | None, *, owner_creator: str | None = None,
           owner_account: str | None = None, owner_parties=None, check_owner: bool = False,
           hide_others: bool = False) -> Decision:
    """Whether ``principal`` may perform ``action`` (on a resource owned as given).

    Parameters
    ----------
    action : str
        A key of :data:`ACTIONS`.
    principal : Principal or None
        None for an anonymous request.
    owner_creator : str, optional
        The creator name a resource belongs to (for ``owned="creator"`` rules).
    owner_account : str, optional
        The account a resource belongs to (for ``owned="account"`` rules).
    owner_parties : collection of (kind, name) pairs, optional
        The parties of a claim (for ``owned="party"`` rules; see :func:`party_of`).
    check_owner : bool
        Also decide on ownership (a route calls this once it has loaded the
        resource); without it only the role and scope are decided.
    hide_others : bool
        The resource was named by its id: refuse someone else's with status
        404, as if it did not exist (a 403 would tell that the id, or an id
        starting with it, exists).
    """
    rule = ACTIONS.get(action)
    if rule is None:
        return Decision(False, 403, f"no rule for action {action!r}")
    if principal is None:
        if rule.public:
            return Decision(True)
        return Decision(False, 401, "sign in or send an API token (Authorization: Bearer ...)")
    if principal.role not in rule.roles:
        return Decision(False, 403, f"a {principal.role} account may not do this ({rule.description or action})")
    if principal.via == "token" and rule.scope is not None and rule.scope not in principal.scopes:
        return Decision(False, 403, f"this API token lacks the scope {rule.scope!r} ({SCOPE_HELP[rule.scope]})")
    if check_owner and not principal.is_admin:
        status = 404 if hide_others else 403
        if rule.owned == "creator" and principal.role == "creator" and owner_creator != principal.creator:
            return Decision(False, status, f"this belongs to another creator; your account manages {principal.creator!r}")
        if rule.owned == "account" and owner_account != principal.account_id:
            return Decision(False, status, "this belongs to another account")
        if rule.owned == "party" and party_of(principal) not in {tuple(p) for p in (owner_parties or ())}:
            return Decision(False, status, "you are not a party to this claim")
    return Decision(True)


def no_such(kind: str, ref: str) -> str:
    """The one answer for an id that names nothing the caller may see: the same whether it names nothing at all,
    names (or starts) someone else's resource, or is an ambiguous prefix."""
    return f"{kind} {str(ref)[:100]!r}: no such {kind}"


def check_scopes(role: str, scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The scopes, validated for a token of an account of ``role`` (InputError naming the first bad one)."""
    if not scopes:
        raise InputError(f"give at least one scope ({', '.join(sorted(ROLE_SCOPES[role]))})")
    out = []
    for s in scopes:
        if s not in SCOPES:
            raise InputError(f"scope {s!r}: unknown; choose from {', '.join(SCOPES)}")
        if s not in ROLE_SCOPES[role]:
            raise InputError(f"scope {s!r}: a {role} account cannot use it; choose from {', '.join(sorted(ROLE_SCOPES[role]))}")
        if s not in out:
            out.append(s)
    return tuple(out)
