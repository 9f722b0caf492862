"""Request and response bodies of the API (the OpenAPI document is made from these)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from consentry.domain.terms import Decision, Unit, Use


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    detail: str = Field(description="One line saying what was wrong and what to do.")


# -- accounts, sessions, tokens ------------------------------------------------------
class AccountOut(BaseModel):
    account_id: str
    email: str
    role: Literal["creator", "licensee", "admin"]
    creator: Optional[str] = None
    display_name: Optional[str] = None
    created_at: str
    disabled_at: Optional[str] = None


class SessionIn(_In):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class SessionOut(BaseModel):
    account: AccountOut
    via: Literal["session", "token"]
    csrf_token: Optional[str] = Field(None, description="Send it as X-CSRF-Token on every change made with the session cookie.")
    scopes: list[str]


class SignupIn(_In):
    email: str = Field(max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    role: Literal["creator", "licensee"]
    creator: Optional[str] = Field(None, max_length=200, description="For a creator account: the creator name it manages.")
    display_name: Optional[str] = Field(None, max_length=200)


class AccountCreateIn(_In):
    email: str = Field(max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    role: Literal["creator", "licensee", "admin"]
    creator: Optional[str] = Field(None, max_length=200)
    display_name: Optional[str] = Field(None, max_length=200)


class TokenIn(_In):
    name: str = Field(max_length=100)
    scopes: list[str] = Field(max_length=20, description="e.g. works:read works:write identify scan check ledger tokens admin")
    expires_in_days: Optional[float] = Field(90.0, description="Days until the token expires; null for never.")


class TokenOut(BaseModel):
    token_id: str
    account_id: str
    name: str
    scopes: list[str]
    created_at: str
    expires_at: Optional[str] = None
    revoked_at: Optional[str] = None
    last_used_at: Optional[str] = None


class TokenCreatedOut(BaseModel):
    token: TokenOut
    secret: str = Field(description="The token itself: shown once, never again (only its hash is stored).")


# -- works and terms ------------------------------------------------------------------
class WorkOut(BaseModel):
    work_id: str
    title: str
    creator: Optional[str] = None
    sha256: str
    duration_s: float
    registered_at: str
    removed_at: Optional[str] = None
    terms_version: int
    terms: dict[str, Any] = Field(description="The AI-training terms (decision, price, currency).")
    engine: str
    engine_version: str
    n_hashes: int
    copyright_registered_on: Optional[str] = None
    first_published_on: Optional[str] = None


class UseTermsIn(_In):
    decision: Decision
    price: Optional[float] = None
    currency: Optional[str] = Field(None, max_length=3)
    unit: Optional[Unit] = None
    contact: Optional[str] = Field(None, max_length=500)
    licence_url: Optional[str] = Field(None, max_length=500)


class TermsIn(_In):
    uses: dict[Use, UseTermsIn] = Field(default_factory=dict)
    valid_from: Optional[str] = Field(None, max_length=10)
    valid_until: Optional[str] = Field(None, max_length=10)
    jurisdiction: Optional[str] = Field(None, max_length=100)


class TermsOut(BaseModel):
    work_id: Optional[str] = None
    creator: Optional[str] = None
    version: int
    uses: dict[str, Any]
    valid_from: Optional[str] = None
    valid_until: Optional[str] = None
    jurisdiction: Optional[str] = None
    source: Optional[dict[str, str]] = Field(None, description="Where each use's terms come from: work, creator, default "
                                             "or disputed.")
    disputed: Optional[bool] = Field(None, description="A work under an active ownership claim: its terms are the "
                                     "strictest of the parties' until the claim is decided (docs/claims.md).")
    claims: Optional[list[str]] = Field(None, description="While disputed: the active claims.")
    note: Optional[str] = Field(None, description="While disputed: what the dispute is.")
    own_terms: Optional[dict[str, Any]] = Field(None, description="While disputed: the work's own terms.")
    own_source: Optional[dict[str, str]] = Field(None, description="While disputed: where the work's own terms come from.")
    parties: Optional[list[dict[str, Any]]] = Field(None, description="While disputed: each party's work, creator and terms.")


class TermsHistoryOut(BaseModel):
    versions: list[dict[str, Any]]


class WorkDetailOut(BaseModel):
    work: WorkOut
    terms: TermsOut


# -- jobs -----------------------------------------------------------------------------------
class JobOut(BaseModel):
    job_id: str
    kind: Literal["register", "identify", "scan", "check", "enroll"]
    status: Literal["queued", "running", "succeeded", "failed"] = Field(
        description="failed: the job could not run, or every one of its files failed; succeeded: it ran, and "
                    "result.errors lists any files that failed (docs/server.md, 'Job outcomes')")
    done: int
    total: Optional[int] = None
    created_at: str
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    error: Optional[str] = Field(None, description="Why the job failed, one line (each failed file's name and reason)")
    result: Optional[dict[str, Any]] = Field(
        None, description="What the job made; for jobs on several files also errors ([{name, error}]) and failed "
                          "(how many files failed)")
    links: dict[str, str] = Field(default_factory=dict)


# -- identify, scans, checks, voices ------------------------------------------------------------
class IdentifyOut(BaseModel):
    name: str
    duration_s: float
    matches: list[dict[str, Any]]


class ScanUrlsIn(_In):
    urls: list[str] = Field(min_length=1, max_length=100_000)
    fetch: bool = Field(False, description="Download the URLs (the server must allow it).")
    name: Optional[str] = Field(None, max_length=200)


class ScanOut(BaseModel):
    scan_id: str
    status: str
    created_at: Optional[str] = None
    finished_at: Optional[str] = None
    source_name: Optional[str] = None
    summary: Optional[dict[str, Any]] = None


class VoiceOut(BaseModel):
    voice_id: str
    creator: str
    engine: str
    source_name: str
    source_sha256: str
    duration_s: float
    speech_s: float
    enrolled_at: str


# -- ledger ---------------------------------------------------------------------------------
class LedgerUseIn(_In):
    run: str = Field(max_length=200)
    scan_id: Optional[str] = Field(None, max_length=100)
    work_ids: Optional[list[str]] = Field(None, max_length=10_000)
    used_on: Optional[str] = Field(None, max_length=10)
    note: Optional[str] = Field(None, max_length=2000)


class LedgerEntriesOut(BaseModel):
    entries: list[dict[str, Any]]


class StatementsOut(BaseModel):
    statements: list[dict[str, Any]]


# -- audit -----------------------------------------------------------------------------------
class AuditRecordOut(BaseModel):
    seq: int
    at: str
    account_id: Optional[str] = None
    actor: Optional[str] = None
    action: str
    target_kind: Optional[str] = None
    target_id: Optional[str] = None
    ip: Optional[str] = None
    details: dict[str, Any]
