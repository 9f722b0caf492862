"""Request and response bodies of the API (the OpenAPI document is made from these)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_serializer

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
class UseTermsOut(BaseModel):
    """One use's terms, as every terms document of the API gives them."""

    decision: Decision
    price: Optional[float] = None
    currency: Optional[str] = None
    unit: Optional[Unit] = None
    contact: Optional[str] = None
    licence_url: Optional[str] = None

    @model_serializer(mode="wrap")
    def _set_fields_only(self, handler):
        # A use's terms name only what is set (docs/terms-model.md): no null price on a deny.
        return {k: v for k, v in handler(self).items() if v is not None}


class TrainingTermsOut(BaseModel):
    """A work's AI-training terms, in short."""

    model_config = ConfigDict(extra="allow")
    decision: Decision
    price: Optional[float] = None
    currency: Optional[str] = None


class WorkOut(BaseModel):
    work_id: str
    title: str
    creator: Optional[str] = None
    sha256: str
    duration_s: float
    registered_at: str
    removed_at: Optional[str] = None
    terms_version: int
    terms: TrainingTermsOut = Field(description="The AI-training terms (decision, price, currency).")
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


class TermsBodyOut(BaseModel):
    """A version of terms: each use's terms, validity and jurisdiction."""

    uses: dict[Use, UseTermsOut] = Field(default_factory=dict)
    valid_from: Optional[str] = None
    valid_until: Optional[str] = None
    jurisdiction: Optional[str] = None


class PartyOut(BaseModel):
    """A party to an ownership dispute: its work and creator, and that work's own terms."""

    model_config = ConfigDict(extra="allow")
    work_id: str
    creator: Optional[str] = None


class TermsOut(BaseModel):
    work_id: Optional[str] = None
    creator: Optional[str] = None
    version: int
    uses: dict[Use, UseTermsOut]
    valid_from: Optional[str] = None
    valid_until: Optional[str] = None
    jurisdiction: Optional[str] = None
    source: Optional[dict[str, str]] = Field(None, description="Where each use's terms come from: work, creator, default "
                                             "or disputed.")
    disputed: Optional[bool] = Field(None, description="A work under an active ownership claim: its terms are the "
                                     "strictest of the parties' until the claim is decided (docs/claims.md).")
    claims: Optional[list[str]] = Field(None, description="While disputed: the active claims.")
    note: Optional[str] = Field(None, description="While disputed: what the dispute is.")
    own_terms: Optional[TermsBodyOut] = Field(None, description="While disputed: the work's own terms.")
    own_source: Optional[dict[str, str]] = Field(None, description="While disputed: where the work's own terms come from.")
    parties: Optional[list[PartyOut]] = Field(None, description="While disputed: each party's work, creator and terms.")


class TermsVersionOut(BaseModel):
    """One stored version of a work's terms (append-only)."""

    model_config = ConfigDict(extra="allow")
    version: int
    recorded_at: Optional[str] = None
    uses: dict[Use, UseTermsOut] = Field(default_factory=dict)
    valid_from: Optional[str] = None
    valid_until: Optional[str] = None
    jurisdiction: Optional[str] = None


class TermsHistoryOut(BaseModel):
    versions: list[TermsVersionOut]


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
class MatchOut(BaseModel):
    """A registered work found in a query (docs/engines.md): music gives seconds, speed and pitch; other media give
    their own located fields (``query_start_char``..., ``query_box``...), kept as they are. The server's path of
    the work's file is never shown."""

    model_config = ConfigDict(extra="allow")
    work_id: str
    title: str
    creator: Optional[str] = None
    terms: str = Field(description="The terms in force, in words (the strictest of the parties while disputed).")
    score: float
    confidence: float
    medium: str = "music"
    query_start_s: Optional[float] = None
    query_end_s: Optional[float] = None
    work_start_s: Optional[float] = None
    work_end_s: Optional[float] = None
    speed: Optional[float] = None
    pitch_shift_semitones: Optional[float] = None
    disputed_claims: list[str] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _own_fields_only(self, handler):
        # Other media have no seconds, speed or pitch: leave those fields out rather than send nulls.
        out = handler(self)
        if out.get("medium", "music") != "music":
            for k in MUSIC_ONLY:
                if out.get(k) is None:
                    out.pop(k, None)
        return out


MUSIC_ONLY = ("query_start_s", "query_end_s", "work_start_s", "work_end_s", "speed", "pitch_shift_semitones")


class IdentifyOut(BaseModel):
    name: str
    medium: str = Field("music", description="music, text or image: the query's medium, sniffed by content.")
    duration_s: Optional[float] = Field(None, description="Seconds of audio (music queries only).")
    matches: list[MatchOut]
    unsearched_works: Optional[int] = Field(
        None, description="Texts and images only: registered works of the query's medium that were not searched, "
                          "because an older version of its engine fingerprinted them (`consentry reindex`).")


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
    band_print: bool = Field(False, description="The sample also has a telephone-band print (300-3400 Hz), which "
                                                "the check compares with band-limited outputs (docs/voice.md).")


# -- ledger ---------------------------------------------------------------------------------
class LedgerUseIn(_In):
    run: str = Field(max_length=200)
    scan_id: Optional[str] = Field(None, max_length=100)
    work_ids: Optional[list[str]] = Field(None, max_length=10_000)
    used_on: Optional[str] = Field(None, max_length=10)
    note: Optional[str] = Field(None, max_length=2000)


class _UseLineOut(BaseModel):
    """What a ledger entry and a statement line share: one licensed work, its terms and what its use costs."""

    model_config = ConfigDict(extra="allow")
    work_id: Optional[str] = None
    title: Optional[str] = None
    terms_version: Optional[int] = None
    price: Optional[float] = None
    currency: Optional[str] = None
    unit: Optional[str] = None
    uses: Optional[float] = None
    amount: Optional[float] = None
    items: Optional[int] = None
    run: Optional[str] = None
    scan_id: Optional[str] = None


class LedgerEntryOut(_UseLineOut):
    """One entry of the hash-chained ledger: a use of a licensed work by a training run (docs/audit.md)."""

    seq: int
    entry_id: str
    recorded_at: str
    entry_hash: str
    kind: str
    used_on: Optional[str] = None
    dataset_fingerprint: Optional[str] = None
    creator: Optional[str] = None
    note: Optional[str] = None


class LedgerEntriesOut(BaseModel):
    entries: list[LedgerEntryOut]


class StatementLineOut(_UseLineOut):
    """One line of a statement: a work, what its use costs, and the ledger entries behind it (none for a scan)."""

    work_id: str
    entry_ids: list[str] = Field(default_factory=list)
    recorded_at: Optional[str] = None


class StatementBasisOut(BaseModel):
    kind: Literal["scan", "ledger"]
    scan_id: Optional[str] = None
    run: Optional[str] = None


class StatementOut(BaseModel):
    """What one creator is owed, from a scan (what would be owed) or from the ledger (what was recorded)."""

    creator: str
    generated_at: str
    basis: StatementBasisOut
    totals: dict[str, float] = Field(description="Amount per currency code, to the cent.")
    lines: list[StatementLineOut]


class StatementsOut(BaseModel):
    statements: list[StatementOut]


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
