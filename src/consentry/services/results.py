"""The shapes of the services' JSON-like results: accounts, tokens, scan summaries, statements, the ledger.

These results are documents: a scan summary is stored and published as JSON
(docs/scan-format.md), a ledger entry's body is hashed as canonical JSON,
statements go to CSV, HTML and the API unchanged.  They are therefore typed
as :class:`typing.TypedDict` classes rather than converted to and from
dataclasses: the type names every key and its type (for readers, editors and
type checkers) and the value stays the JSON it is.  Keys that not every
result has are ``NotRequired``.

``tests/services/test_results.py`` runs the real services and checks their
results against these shapes key by key (no key missing, none undeclared,
nested shapes too), and checks that the API's response models
(``adapters/api/models.py``) declare every key the services return.
"""

# No ``from __future__ import annotations`` here: TypedDict reads NotRequired from evaluated annotations only.
from typing import Any, Literal, NotRequired, Optional, TypedDict


Decision = Literal["allow", "deny", "license"]


# -- accounts and tokens (docs/server.md) ------------------------------------------------------
class AccountView(TypedDict):
    """An account as the services hand it out: never its password hash."""

    account_id: str
    email: str
    role: Literal["creator", "licensee", "admin"]
    creator: Optional[str]
    display_name: Optional[str]
    created_at: str
    disabled_at: Optional[str]


class TokenView(TypedDict):
    """An API token as the services hand it out: never its secret or the secret's hash."""

    token_id: str
    account_id: str
    name: str
    scopes: list[str]
    created_at: str
    expires_at: Optional[str]
    revoked_at: Optional[str]
    last_used_at: Optional[str]


# -- scans (docs/scan-format.md) ---------------------------------------------------------------
class ScanTool(TypedDict):
    name: str
    version: str


class ScanSource(TypedDict):
    spec: Optional[str]  #: the source as given (the API replaces a server path by the upload's name)
    kind: Optional[str]
    name: Optional[str]


class ScanRegistryRef(TypedDict):
    path: str
    works: int  #: works in the terms snapshot


class ScanEngineRef(TypedDict):
    name: Optional[str]
    version: Optional[str]
    param_hash: Optional[str]


class ScanWork(TypedDict):
    """A registered work found in the dataset, under the scan's terms snapshot."""

    work_id: str
    title: Optional[str]
    creator: Optional[str]
    decision: Optional[Decision]
    terms_version: Optional[int]
    price: Optional[float]
    currency: Optional[str]
    unit: Optional[str]
    items: int  #: dataset items it was found in
    covered_s: float  #: seconds of the work found (characters for a text, the medium's own unit)
    amount: Optional[float]  #: what its use costs (licensed works), to the cent
    medium: NotRequired[str]
    words: NotRequired[int]
    quantity: NotRequired[float]  #: the licence's units counted (items, minutes, articles, thousands of words)
    disputed: NotRequired[bool]
    claims: NotRequired[list[str]]


class ScanCreator(TypedDict):
    creator: Optional[str]
    works: int
    items: int
    refused_works: int
    licensable_works: int
    amount: dict[str, float]  #: per currency code


class CoverageHistogram(TypedDict):
    """Items by the share of them that registered works cover: ``counts[i]`` between ``edges[i]`` and ``edges[i+1]``."""

    edges: list[float]
    counts: list[int]


class ScanErrorExample(TypedDict):
    item_id: str
    error: Optional[str]


class ScanErrors(TypedDict):
    count: int
    by_reason: dict[str, int]
    examples: list[ScanErrorExample]  #: the first few, in dataset order


class ScanSummary(TypedDict):
    """A scan summary: what :func:`consentry.services.scan.scan_summary` returns and the JSON report holds."""

    scan_id: str
    status: str
    created_at: str
    finished_at: Optional[str]
    tool: ScanTool
    source: ScanSource
    dataset_fingerprint: Optional[str]
    registry: ScanRegistryRef
    engine: ScanEngineRef
    options: dict[str, Any]
    terms_snapshot_at: Optional[str]
    totals: dict[str, Any]  #: item counts per decision, sizes per medium (docs/scan-format.md)
    works: list[ScanWork]
    creators: list[ScanCreator]
    licence_cost: dict[str, float]
    exposure: dict[str, Any]
    coverage_histogram: CoverageHistogram
    errors: ScanErrors
    signals: dict[str, Any]
    skipped: NotRequired[dict[str, int]]  #: files that are no medium's, by reason (set when the scan ends)
    executor: NotRequired[dict[str, Any]]  #: where the items ran: {"kind": "local", "workers": n} or Ray's (set when the scan ends)


# -- statements and the ledger (docs/audit.md) ---------------------------------------------------
class StatementBasis(TypedDict):
    kind: Literal["scan", "ledger"]
    scan_id: Optional[str]
    run: Optional[str]


class StatementLine(TypedDict):
    """One licensed work on a statement: its terms, its uses and what they cost."""

    work_id: str
    title: Optional[str]
    terms_version: Optional[int]
    price: Optional[float]
    currency: Optional[str]
    unit: str
    uses: Optional[float]
    amount: Optional[float]
    items: Optional[int]
    entry_ids: list[str]  #: the ledger entries behind the line (none for a scan)
    recorded_at: Optional[str]
    run: Optional[str]
    scan_id: Optional[str]


class Statement(TypedDict):
    """What one creator is owed, from a scan (what would be owed) or from the ledger (what was recorded)."""

    creator: str
    generated_at: str
    basis: StatementBasis
    totals: dict[str, float]  #: amount per currency code, to the cent
    lines: list[StatementLine]


class LedgerEntry(TypedDict):
    """A ledger entry: its place in the hash chain and its body (a use of a licensed work by a training run)."""

    seq: int
    entry_id: str
    recorded_at: str
    entry_hash: str
    kind: str
    run: Optional[str]
    used_on: Optional[str]
    scan_id: Optional[str]
    dataset_fingerprint: Optional[str]
    work_id: Optional[str]
    title: Optional[str]
    creator: Optional[str]
    terms_version: Optional[int]
    price: Optional[float]
    currency: Optional[str]
    unit: Optional[str]
    uses: Optional[float]
    amount: Optional[float]
    items: Optional[int]
    note: Optional[str]


class LedgerCheck(TypedDict):
    """The outcome of checking the ledger's hash chain."""

    entries: int
    head: Optional[str]  #: ``"SEQ:HASH"`` of the last entry
    ok: bool
    problems: list[str]
