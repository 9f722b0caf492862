"""Accounts, API tokens, web sessions, login throttling and the audit log, over a store.

Secrets are never stored: passwords as argon2id hashes (re-hashed at the next
sign-in when the parameters change), API tokens and session ids as the
SHA-256 of a 256-bit random secret (a high-entropy secret needs no slow
hash).  Every function takes the registry (what the adapters hold) or, from the services below it, the store,
and the settings it needs explicitly.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from consentry.services.results import AccountView, TokenView
from consentry.domain.accounts import ROLES, SIGNUP_ROLES, AuthError, Conflict, Principal, Throttled, check_scopes
from consentry.domain.clock import iso, now as now_utc  # noqa: F401  (the one clock; names kept for importers)
from consentry.domain.errors import InputError
from consentry.store import store_of


def _on_store(fn):
    """Let a use case be called with the registry or with its store (:func:`consentry.store.store_of`)."""
    @functools.wraps(fn)
    def call(holder, *args, **kwargs):
        return fn(store_of(holder), *args, **kwargs)
    return call


TOKEN_PREFIX = "cst_"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{2,63}$")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
MAX_CREATOR_CHARS = 200


@dataclass(frozen=True)
class AuthSettings:
    """How passwords are hashed, how long sessions live and when sign-in is throttled.

    Attributes
    ----------
    argon2_time_cost, argon2_memory_kib, argon2_parallelism : int
        argon2id parameters; a stored hash made with others is re-hashed at
        the next successful sign-in.
    session_max_age_s : float
        A session ends this long after sign-in (seconds).
    session_idle_s : float
        ... or after this long without a request (seconds).
    login_max_failures : int
        Failed sign-ins for one e-mail address (or ``4 x`` that from one IP
        address) within ``login_window_s`` before sign-in is locked.
    login_lock_s : float
        First lock (seconds); it doubles with every further failure, up to an hour.
    max_concurrent_hashes : int
        Passwords hashed or verified at once in this process (each argon2 call
        takes ``argon2_memory_kib`` of memory and a core for a while).
    hash_wait_s : float
        How long (seconds) a sign-in, sign-up or password change waits for a
        free slot before it is refused as busy (429) instead of queueing.
    """

    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    session_max_age_s: float = 7 * 24 * 3600.0
    session_idle_s: float = 2 * 3600.0
    login_max_failures: int = 5
    login_window_s: float = 900.0
    login_lock_s: float = 30.0
    max_concurrent_hashes: int = 4
    hash_wait_s: float = 2.0

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.argon2_time_cost, memory_cost=self.argon2_memory_kib,
                              parallelism=self.argon2_parallelism)




def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


# ---------------------------------------------------------------- validation
def normalize_email(email: str) -> str:
    e = unicodedata.normalize("NFC", str(email or "")).strip().lower()
    if len(e) > 254 or not _EMAIL.match(e):
        raise InputError(f"e-mail {str(email)[:80]!r}: not an e-mail address such as ana@example.org")
    return e


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"password: use at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InputError(f"password: at most {MAX_PASSWORD_CHARS} characters")
    if "\x00" in password:
        raise InputError("password: must not hold a NUL character")
    return password


def normalize_creator(name: str | None) -> str:
    n = unicodedata.normalize("NFC", str(name or "")).strip()
    if not n or len(n) > MAX_CREATOR_CHARS or any(unicodedata.category(ch).startswith("C") for ch in n):
        raise InputError(f"creator {str(name)[:80]!r}: give the creator's name (1-{MAX_CREATOR_CHARS} printable characters)")
    return n


def public_account(row: dict) -> AccountView:
    """An account without its password hash."""
    return {k: row[k] for k in ("account_id", "email", "role", "creator", "display_name", "created_at", "disabled_at")}


# ---------------------------------------------------------------- accounts
@_on_store
def create_account(store, *, email: str, password: str, role: str, creator: str | None = None,
                   display_name: str | None = None, auth: AuthSettings = AuthSettings(),
                   existing_creators: set[str] | None = None) -> AccountView:
    """Create an account; returns it (without the password hash).

    Parameters
    ----------
    role : {"creator", "licensee", "admin"}
    creator : str
        For a creator account, the creator name it is bound to (works whose
        ``creator`` equals it are its works).  No two accounts bind the same
        name.
    existing_creators : set of str, optional
        For open sign-up: the creator names that already have works in the
        registry; a creator account may not be bound to one of them by
        sign-up (else anybody could take over a catalogue registered on the
        command line) -- an admin creates such accounts.

    Raises
    ------
    InputError, Conflict
    """
    email = normalize_email(email)
    check_password(password)
    if role not in ROLES:
        raise InputError(f"role {role!r}: choose from {', '.join(ROLES)}")
    if role == "creator":
        creator = normalize_creator(creator)
        if existing_creators is not None and creator.casefold() in {c.casefold() for c in existing_creators if c}:
            raise Conflict(f"creator {creator!r} already has works in this registry; ask an administrator to create "
                           "the account bound to it")
        taken = [a["creator"] for a in store.list_accounts() if a["creator"]]
        if creator.casefold() in {t.casefold() for t in taken}:
            raise Conflict(f"creator {creator!r} is already bound to another account")
    elif creator is not None:
        raise InputError(f"creator: only creator accounts are bound to a creator name, not {role} accounts")
    if store.account_by_email(email) is not None:
        raise Conflict(f"e-mail {email!r} already has an account; sign in instead")
    row = {"account_id": new_id("acct"), "email": email, "role": role, "creator": creator,
           "display_name": (display_name or "").strip()[:200] or None,
           "password_hash": hash_password(password, auth=auth), "created_at": iso(now_utc()), "disabled_at": None}
    store.add_account(row)
    if role == "creator" and existing_creators is None:  # made by an admin (or on the command line): bound
        bind_creator(store, row)
    return public_account(row)


# ---------------------------------------------------------------- who controls a work
@_on_store
def bind_creator(store, account: dict) -> None:
    """An admin binds a creator account to its creator name: it then controls every work under the name,
    whoever registered it (see :func:`controls_work`)."""
    if account.get("role") != "creator" or not account.get("creator"):
        raise InputError(f"account {account.get('email')!r}: only a creator account is bound to a creator name")
    store.set_owner("creator", [account["creator"].casefold()], account_id=account["account_id"], at=iso(now_utc()))


@_on_store
def creator_bound(store, account_id: str, creator: str) -> bool:
    """Whether an admin bound ``account_id`` to the creator name (at creation or later)."""
    return store.owner_of("creator", creator.casefold()) == account_id


@_on_store
def unbound_holder(store, creator: str) -> dict | None:
    """The creator account that holds ``creator`` (case-insensitively) without an admin's binding, if any: works
    registered by anyone else under that name would take the defaults that account set (see :func:`controls_work`)."""
    for a in store.list_accounts():
        if a["role"] == "creator" and a["creator"] and a["creator"].casefold() == creator.casefold():
            return None if creator_bound(store, a["account_id"], a["creator"]) else a
    return None


@_on_store
def refuse_unbound_holder(store, creator: str | None) -> None:
    """:class:`Conflict` when a signed-up account holds ``creator`` unbound: bind it first, or use another name."""
    holder = unbound_holder(store, creator) if creator else None
    if holder is not None:
        raise Conflict(f"creator {creator!r} is held by the account {holder['email']} that signed up with the name and "
                       "is not bound to it: bind it first (consentry accounts bind), or register under another name")


@_on_store
def record_registrant(store, work_ids, *, account_id: str) -> None:
    """Record the account through which works were registered (the works' registrant)."""
    ids = list(work_ids)
    if ids:
        store.set_owner("work", ids, account_id=account_id, at=iso(now_utc()))


@_on_store
def record_control_of_earlier_registrations(store) -> None:
    """Fill in who controls what for a registry made before the rule of :func:`controls_work` (idempotent; the
    server runs it at start): the account of each finished registration job registered its new works, and each
    creator account an admin made (``accounts.create`` in the audit log) is bound to its name."""
    for job in store.list_jobs(kind="register", statuses=("succeeded",), limit=1_000_000):
        ids = [w["work_id"] for w in (job.get("result") or {}).get("works", []) if not w.get("already_registered")]
        record_registrant(store, ids, account_id=job["account_id"])
    for rec in store.audit_records(action="accounts.create", limit=1_000_000):
        account = store.get_account(rec["target_id"]) if rec.get("target_id") else None
        if account and account["role"] == "creator" and account["creator"]:
            if store.owner_of("creator", account["creator"].casefold()) is None:
                bind_creator(store, account)


@_on_store
def controlled_work_ids(store, principal, works) -> set[str]:
    """The ids of ``works`` that a creator account controls (:func:`controls_work`), in two queries."""
    if principal is None or principal.role != "creator" or not principal.creator:
        return set()
    named = [w for w in works if w.creator == principal.creator]
    if named and creator_bound(store, principal.account_id, principal.creator):
        return {w.work_id for w in named}
    registered = store.owned_ids("work", account_id=principal.account_id)
    return {w.work_id for w in named if w.work_id in registered}


@_on_store
def controls_work(store, principal, work) -> bool:
    """Whether a creator account controls a work (may change its terms, remove it, read it as its own).

    Typing a creator name at sign-up gives no work: a creator account controls
    a work under its creator name only if the work was registered through that
    account, or an admin bound the account to the name (``accounts create
    --creator``, ``accounts bind``).  A work someone else (an admin, the
    command line) registered under a name a signed-up account holds is not
    that account's until an admin binds it.
    """
    return work.work_id in controlled_work_ids(store, principal, [work])


def signup_roles() -> tuple[str, ...]:
    return SIGNUP_ROLES


@_on_store
def find_account(store, ref: str) -> dict:
    """An account by id or e-mail (InputError if none)."""
    row = store.get_account(ref)
    if row is None and "@" in ref:
        try:
            row = store.account_by_email(normalize_email(ref))
        except InputError:
            row = None
    if row is None:
        raise InputError(f"account {ref!r}: no such account (give an account id or e-mail; see `consentry accounts list`)")
    return row


@_on_store
def disable_account(store, ref: str) -> AccountView:
    """Disable an account: it can no longer sign in; its sessions and tokens stop working."""
    row = find_account(store, ref)
    at = iso(now_utc())
    if row["disabled_at"] is None:
        store.update_account(row["account_id"], disabled_at=at)
        store.revoke_account_sessions(row["account_id"], at=at)
    return public_account(store.get_account(row["account_id"]))


@_on_store
def enable_account(store, ref: str) -> AccountView:
    """Enable a disabled account again: it can sign in (its old sessions and revoked tokens stay ended)."""
    row = find_account(store, ref)
    if row["disabled_at"] is not None:
        store.update_account(row["account_id"], disabled_at=None)
    return public_account(store.get_account(row["account_id"]))


# ---------------------------------------------------------------- password hashing, bounded
_HASH_SLOTS: dict[int, threading.BoundedSemaphore] = {}
_HASH_SLOTS_LOCK = threading.Lock()


@contextmanager
def hash_slot(auth: AuthSettings):
    """One of ``auth.max_concurrent_hashes`` slots for an argon2 call, or :class:`Throttled` (busy) after
    ``auth.hash_wait_s``: a flood of sign-ins cannot pile up hashes (memory, cores) without bound."""
    n = max(1, int(auth.max_concurrent_hashes))
    with _HASH_SLOTS_LOCK:
        slots = _HASH_SLOTS.setdefault(n, threading.BoundedSemaphore(n))
    if not slots.acquire(timeout=max(0.0, auth.hash_wait_s)):
        raise Throttled("the server is busy checking passwords; try again in a moment", retry_after_s=1.0)
    try:
        yield
    finally:
        slots.release()


def hash_password(password: str, *, auth: AuthSettings = AuthSettings()) -> str:
    """The argon2id hash of a password (in a bounded slot, :func:`hash_slot`)."""
    with hash_slot(auth):
        return auth.hasher().hash(password)


# ---------------------------------------------------------------- sign-in and throttling
_DUMMY_HASHES: dict[tuple, str] = {}
#: Makes a throttle counter's check and increment one step (per process; one server process per data folder).
_THROTTLE_LOCK = threading.Lock()


def _dummy_hash(auth: AuthSettings) -> str:
    key = (auth.argon2_time_cost, auth.argon2_memory_kib, auth.argon2_parallelism)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = auth.hasher().hash(secrets.token_hex(16))
    return _DUMMY_HASHES[key]


def _throttle_check(store, key: str, now: datetime) -> None:
    row = store.login_failure(key)
    if row and row["locked_until"]:
        until = parse_iso(row["locked_until"])
        if until > now:
            raise Throttled("too many failed sign-ins; wait and try again", retry_after_s=(until - now).total_seconds())


def _throttle_undo(store, key: str, *, max_failures: int) -> None:
    """Take back one counted attempt (it succeeded, or was not tried because the server was busy)."""
    row = store.login_failure(key)
    if row is None or int(row["failures"]) <= 0:
        return
    failures = int(row["failures"]) - 1
    store.put_login_failure(key, failures=failures, first_at=row["first_at"],
                            locked_until=row["locked_until"] if failures >= max_failures else None)


def _throttle_fail(store, key: str, now: datetime, *, max_failures: int, auth: AuthSettings) -> None:
    row = store.login_failure(key)
    if row is None or (now - parse_iso(row["first_at"])).total_seconds() > auth.login_window_s:
        failures, first = 1, now
    else:
        failures, first = int(row["failures"]) + 1, parse_iso(row["first_at"])
    locked = None
    if failures >= max_failures:
        lock_s = min(3600.0, auth.login_lock_s * 2 ** (failures - max_failures))
        locked = iso(now + timedelta(seconds=lock_s))
    store.put_login_failure(key, failures=failures, first_at=iso(first), locked_until=locked)


@_on_store
def authenticate(store, *, email: str, password: str, ip: str | None, auth: AuthSettings = AuthSettings(),
                 now: datetime | None = None) -> dict:
    """The account for an e-mail and password, or :class:`AuthError` / :class:`Throttled`.

    The password is verified even for an unknown e-mail (against a dummy
    hash) so that the time taken does not tell which addresses exist.  A
    hash made with other argon2 parameters is replaced.
    """
    now = now or now_utc()
    try:
        email = normalize_email(email)
    except InputError:
        email = str(email or "")[:254].strip().lower()
    keys = [(f"email:{email}", auth.login_max_failures)]
    if ip:
        keys.append((f"ip:{ip}", 4 * auth.login_max_failures))
    # Check and count the attempt in one step, before the password is verified: parallel attempts cannot all
    # pass the check while the first ones are still hashing.  A success takes its count back.
    with _THROTTLE_LOCK:
        for key, _ in keys:
            _throttle_check(store, key, now)
        for key, limit in keys:
            _throttle_fail(store, key, now, max_failures=limit, auth=auth)
    row = store.account_by_email(email)
    hasher = auth.hasher()
    ok = False
    try:
        with hash_slot(auth):
            ok = hasher.verify(row["password_hash"] if row else _dummy_hash(auth), str(password or "")[:MAX_PASSWORD_CHARS])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    except Throttled:  # busy: the password was not checked, so the attempt does not count
        with _THROTTLE_LOCK:
            for key, limit in keys:
                _throttle_undo(store, key, max_failures=limit)
        raise
    if not ok or row is None or row["disabled_at"] is not None:
        if row is not None and row["disabled_at"] is not None and ok:
            raise AuthError("this account is disabled; ask an administrator")
        raise AuthError("wrong e-mail or password")
    with _THROTTLE_LOCK:
        store.clear_login_failures(keys[0][0])
        for key, limit in keys[1:]:
            _throttle_undo(store, key, max_failures=limit)
    if hasher.check_needs_rehash(row["password_hash"]):
        store.update_account(row["account_id"], password_hash=hash_password(password, auth=auth))
    return row


@_on_store
def set_password(store, ref: str, password: str, *, auth: AuthSettings = AuthSettings()) -> AccountView:
    row = find_account(store, ref)
    store.update_account(row["account_id"], password_hash=hash_password(check_password(password), auth=auth))
    store.revoke_account_sessions(row["account_id"], at=iso(now_utc()))
    return public_account(row)


# ---------------------------------------------------------------- API tokens
@_on_store
def create_token(store, *, account: dict, name: str, scopes: list[str] | tuple[str, ...],
                 expires_in_days: float | None = 90.0, now: datetime | None = None) -> tuple[TokenView, str]:
    """Make an API token; returns (token row without the secret hash, the secret -- shown once)."""
    now = now or now_utc()
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InputError("token name: give a short name (1-100 characters) saying what the token is for")
    scopes = check_scopes(account["role"], list(scopes))
    if expires_in_days is not None and not (0 < expires_in_days <= 3650):
        raise InputError("expires_in_days: give a number of days between 0 and 3650 (or none for no expiry)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = {"token_id": new_id("tok"), "account_id": account["account_id"], "name": name,
           "secret_sha256": sha256_hex(secret), "scopes": " ".join(scopes), "created_at": iso(now),
           "expires_at": iso(now + timedelta(days=expires_in_days)) if expires_in_days is not None else None,
           "revoked_at": None, "last_used_at": None}
    store.add_token(row)
    return public_token(row), secret


def public_token(row: dict) -> TokenView:
    return {"token_id": row["token_id"], "account_id": row["account_id"], "name": row["name"],
            "scopes": row["scopes"].split(), "created_at": row["created_at"], "expires_at": row["expires_at"],
            "revoked_at": row["revoked_at"], "last_used_at": row["last_used_at"]}


@_on_store
def revoke_token(store, token_id: str, *, account_id: str | None = None) -> TokenView:
    """Revoke a token (of ``account_id`` unless None = an admin acting on any)."""
    row = store.get_token(token_id)
    if row is None or (account_id is not None and row["account_id"] != account_id):
        raise InputError(f"token {token_id!r}: no such token of this account")
    store.revoke_token(row["token_id"], at=iso(now_utc()))
    return public_token(store.get_token(row["token_id"]))


@_on_store
def principal_from_token(store, secret: str, *, now: datetime | None = None, touch_every_s: float = 60.0) -> Principal:
    """The principal of a Bearer token, or :class:`AuthError` saying what is wrong with it."""
    now = now or now_utc()
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise AuthError("not a Consentry API token (they start with 'cst_')")
    digest = sha256_hex(secret)
    row = store.token_by_secret(digest)
    if row is None or not hmac.compare_digest(row["secret_sha256"], digest):
        raise AuthError("unknown API token")
    if row["revoked_at"] is not None:
        raise AuthError("this API token was revoked; make a new one")
    if row["expires_at"] is not None and parse_iso(row["expires_at"]) <= now:
        raise AuthError(f"this API token expired on {row['expires_at']}; make a new one")
    account = store.get_account(row["account_id"])
    if account is None or account["disabled_at"] is not None:
        raise AuthError("the account of this API token is disabled")
    if row["last_used_at"] is None or (now - parse_iso(row["last_used_at"])).total_seconds() >= touch_every_s:
        store.touch_token(row["token_id"], at=iso(now))
    return Principal(account_id=account["account_id"], email=account["email"], role=account["role"],
                     creator=account["creator"], via="token", scopes=frozenset(row["scopes"].split()),
                     token_id=row["token_id"])


# ---------------------------------------------------------------- web sessions
@_on_store
def create_session(store, *, account: dict, ip: str | None, user_agent: str | None, auth: AuthSettings = AuthSettings(),
                   now: datetime | None = None) -> str:
    """Start a session; returns the session id (the cookie's value; only its hash is stored)."""
    now = now or now_utc()
    session_id = secrets.token_urlsafe(32)
    store.add_session({"session_sha256": sha256_hex(session_id), "account_id": account["account_id"],
                       "created_at": iso(now), "expires_at": iso(now + timedelta(seconds=auth.session_max_age_s)),
                       "last_seen_at": iso(now), "revoked_at": None, "ip": ip,
                       "user_agent": (user_agent or "")[:300] or None})
    return session_id


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session: derived from its id, so nothing more is stored."""
    return hmac.new(session_id.encode("utf-8"), b"consentry-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_id: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(session_id), str(sent))


@_on_store
def principal_from_session(store, session_id: str, *, auth: AuthSettings = AuthSettings(),
                           now: datetime | None = None, touch_every_s: float = 30.0) -> Principal:
    """The principal of a session cookie, or :class:`AuthError` (expired, idle too long, signed out)."""
    now = now or now_utc()
    if not session_id or len(session_id) > 200:
        raise AuthError("no valid session; sign in")
    digest = sha256_hex(session_id)
    row = store.session_by_id_hash(digest)
    if row is None or row["revoked_at"] is not None:
        raise AuthError("signed out; sign in again")
    if parse_iso(row["expires_at"]) <= now:
        raise AuthError("the session expired; sign in again")
    idle = (now - parse_iso(row["last_seen_at"])).total_seconds()
    if idle > auth.session_idle_s:
        store.revoke_session(digest, at=iso(now))
        raise AuthError("the session ended after a time without activity; sign in again")
    account = store.get_account(row["account_id"])
    if account is None or account["disabled_at"] is not None:
        raise AuthError("this account is disabled")
    if idle >= touch_every_s:
        store.touch_session(digest, at=iso(now))
    return Principal(account_id=account["account_id"], email=account["email"], role=account["role"],
                     creator=account["creator"], via="session", scopes=frozenset(), session_sha256=digest)


@_on_store
def end_session(store, session_id: str) -> None:
    store.revoke_session(sha256_hex(session_id), at=iso(now_utc()))


# ---------------------------------------------------------------- audit log
@_on_store
def audit(store, *, principal: Principal | None, action: str, target_kind: str | None = None,
          target_id: str | None = None, ip: str | None = None, details: dict | None = None,
          actor: str | None = None) -> None:
    """Append one record to the audit log (who, what, when, target, from where, details)."""
    store.append_audit([{
        "at": iso(now_utc()), "account_id": principal.account_id if principal else None,
        "actor": actor or (principal.email if principal else None), "action": action,
        "target_kind": target_kind, "target_id": target_id, "ip": ip, "details": details or {},
    }])
