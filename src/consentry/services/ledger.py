"""The ledger of licensed uses as every adapter sees it: record a use (with its audit record, given an actor),
read the entries and the statements an account may read.

Built on :mod:`consentry.services.accounting` (the hash-chained ledger and the statements); the CLI (``ledger``,
``statements``), the API (``/api/v1/ledger/...``) and the web app's statements page call these.
"""

from __future__ import annotations

from typing import Iterable

from consentry.services.results import LedgerEntry, Statement


def _controlled_works(registry, principal) -> set[str]:
    """The ids of the works a creator account controls (registered through it, or its name bound by an admin)."""
    from consentry.services.accounts import controlled_work_ids

    return controlled_work_ids(registry.store, principal, registry.works(include_removed=True))


def record_use(registry, *, by, run: str, scan_id: str | None = None, work_ids: Iterable[str] | None = None,
               used_on: str | None = None, note: str | None = None) -> list[LedgerEntry]:
    """Record that training run ``run`` used licensable works (from a scan, or named works): append-only,
    hash-chained entries (:func:`consentry.services.accounting.record_use`). A signed-in account (``by.principal``)
    owns the entries it recorded; audit ``ledger.record``. Returns the entries."""
    from consentry.services.accounting import record_use as append
    from consentry.services.accounts import iso, now_utc
    from consentry.services.works import record_change

    entries = append(registry, run=run, scan_id=scan_id, work_ids=list(work_ids) if work_ids is not None else None,
                     used_on=used_on, note=note)
    ids = [e["entry_id"] for e in entries]
    if by.principal is not None:
        registry.store.set_owner("ledger", ids, account_id=by.principal.account_id, at=iso(now_utc()))
    record_change(registry, by, "ledger.record", target_kind="ledger", target_id=ids[0] if len(ids) == 1 else None,
                  details={"run": run, "scan_id": scan_id, "entry_ids": ids})
    return entries


def ledger_head(registry) -> str | None:
    """The hash of the ledger's last entry (None while empty)."""
    return registry.store.ledger_head()


def entries_for(registry, principal=None) -> list[LedgerEntry]:
    """Ledger entries, oldest first: all (``principal`` None or an admin), a creator account's works' entries, or
    the entries a licensee recorded."""
    from consentry.services.accounting import ledger_entries

    out = ledger_entries(registry)
    if principal is None or principal.is_admin:
        return out
    if principal.role == "creator":  # the entries of the works it controls (docs/server.md, roles)
        mine = _controlled_works(registry, principal)
        return [e for e in out if e.get("creator") == principal.creator and e.get("work_id") in mine]
    mine = registry.store.owned_ids("ledger", account_id=principal.account_id)
    return [e for e in out if e["entry_id"] in mine]


def statements_for(registry, principal=None, *, run: str | None = None) -> list[Statement]:
    """What licensees owe, per creator, from the ledger: every creator's, or a creator account's own (only for the
    works it controls)."""
    from consentry.services.accounting import ledger_statements

    if principal is not None and principal.role == "creator":
        return [s for s in ledger_statements(registry, run=run, work_ids=_controlled_works(registry, principal))
                if s["creator"] == principal.creator]
    return ledger_statements(registry, run=run)
