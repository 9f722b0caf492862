"""Use case: what licensees owe creators, recorded in an append-only, hash-chained ledger.

A scan says which licensable works a dataset contains and at what price (the
terms snapshot of the scan).  ``record_use`` declares that a training run used
them: one ledger entry per work, chained by hash to the entry before
(:mod:`consentry.domain.ledger`), so that altering or deleting an old entry
is detected by :func:`verify_ledger`.  Statements per creator are made from a
scan (what would be owed) or from the ledger (what was recorded as owed).
"""

from __future__ import annotations

import json

from consentry.domain.clock import now_iso, today_iso
from consentry.domain.errors import FieldError, InputError
from consentry.domain.ledger import verify_chain
from consentry.domain.works import parse_date
from consentry.reporting.format import add_money
from consentry.services.results import LedgerCheck, LedgerEntry, ScanSummary, Statement, StatementBasis
from consentry.services.scan import scan_summary


def _lines_from_scan(summary: ScanSummary) -> list[dict]:
    """Statement lines with each work's creator (:func:`_statements` groups by it and takes it out)."""
    lines = []
    for w in summary["works"]:
        if w["decision"] != "license":
            continue
        lines.append({
            "work_id": w["work_id"], "title": w["title"], "creator": w["creator"], "terms_version": w["terms_version"],
            "price": w["price"], "currency": w["currency"], "unit": w.get("unit") or "per-work",
            "uses": w.get("quantity", 1), "amount": w["amount"] if w.get("amount") is not None else w["price"],
            "items": w["items"], "entry_ids": [], "recorded_at": None, "run": None, "scan_id": summary["scan_id"],
        })
    return lines


def _statements(lines: list[dict], *, basis: StatementBasis, generated_at: str) -> list[Statement]:
    by_creator: dict = {}
    for line in lines:
        by_creator.setdefault(line["creator"], []).append(line)
    out = []
    for creator in sorted(by_creator, key=lambda c: (c is None, str(c))):
        totals: dict[str, float] = {}
        for line in by_creator[creator]:
            totals[line["currency"]] = add_money(totals.get(line["currency"], 0.0), line["amount"])
        out.append({"creator": creator if creator is not None else "(unknown creator)", "generated_at": generated_at,
                    "basis": basis, "totals": totals,
                    "lines": [{k: v for k, v in line.items() if k != "creator"} for line in by_creator[creator]]})
    return out


def scan_statements(registry, scan_id: str) -> list[Statement]:
    """Per-creator statements of what the licensable works found by a scan would cost (one use each)."""
    summary = scan_summary(registry, scan_id)
    return _statements(_lines_from_scan(summary), basis={"kind": "scan", "scan_id": summary["scan_id"], "run": None},
                       generated_at=now_iso())


def ledger_entries(registry) -> list[LedgerEntry]:
    """Every ledger entry, its body decoded, oldest first."""
    out = []
    for e in registry.store.iter_ledger():
        body = json.loads(e["body_json"])
        out.append({"seq": e["seq"], "entry_id": e["entry_id"], "recorded_at": e["recorded_at"],
                    "entry_hash": e["entry_hash"], **body})
    return out


def record_use(registry, *, run: str, scan_id: str | None = None, work_ids: list[str] | None = None,
               used_on: str | None = None, note: str | None = None) -> list[LedgerEntry]:
    """Record that training run ``run`` used licensable works; returns the new ledger entries.

    The works are those a scan found (``scan_id``, under the scan's terms
    snapshot) or those named (``work_ids``, under their current terms).  A
    work already recorded for the same run is refused, so recording twice
    does not double what is owed.
    """
    run = (run or "").strip()
    if not run:
        raise FieldError("run", "{run}: name the training run (for example 'model-v3 pretraining')")
    used = parse_date(used_on, field="used_on") or today_iso()
    if (scan_id is None) == (not work_ids):
        raise FieldError("scan_id", "give either {scan_id} SCAN_ID or one or more {work_ids} WORK_ID")
    if scan_id is not None:
        summary = scan_summary(registry, scan_id)
        if summary["status"] != "complete":
            raise InputError(f"scan {summary['scan_id']} is {summary['status']}; finish it before recording its use")
        lines = _lines_from_scan(summary)
        fingerprint = summary["dataset_fingerprint"]
    else:
        lines, fingerprint = [], None
        for wid in work_ids:
            w = registry.work(wid)
            training = registry.effective_terms(w.work_id)[0].uses["ai_training"]
            if training.decision != "license":
                raise InputError(f"work {w.work_id} ({w.title}): its terms are {training.describe()}, not a priced licence; nothing to record")
            if training.unit in ("per-item", "per-minute", "per-article", "per-1000-words"):
                title = str(w.title).replace("{", "{{").replace("}", "}}")
                raise FieldError("work_ids", f"work {w.work_id} ({title}) is licensed {training.unit}: record it from a "
                                 "scan ({scan_id}), which counts the items and minutes")
            lines.append({"work_id": w.work_id, "title": w.title, "creator": w.creator, "terms_version": w.terms_version,
                          "price": training.price, "currency": training.currency, "unit": training.unit, "uses": 1,
                          "amount": training.price, "items": None, "scan_id": None})
    already = {(e.get("run"), e.get("work_id")) for e in ledger_entries(registry)}
    repeated = [line["work_id"] for line in lines if (run, line["work_id"]) in already]
    if repeated:
        raise InputError(f"run {run!r} already has ledger entries for {len(repeated)} of these works (e.g. {repeated[0]}); "
                         "use another run name for another use")
    bodies = [{
        "kind": "use", "run": run, "used_on": used, "scan_id": line.get("scan_id"), "dataset_fingerprint": fingerprint,
        "work_id": line["work_id"], "title": line["title"], "creator": line["creator"],
        "terms_version": line["terms_version"], "price": line["price"], "currency": line["currency"],
        "unit": line.get("unit") or "per-work", "uses": line["uses"], "amount": line["amount"], "items": line.get("items"),
        "note": note,
    } for line in lines]
    if not bodies:
        return []
    stored = registry.store.append_ledger(bodies, recorded_at=now_iso())
    return [{"seq": e["seq"], "entry_id": e["entry_id"], "recorded_at": e["recorded_at"], "entry_hash": e["entry_hash"],
             **json.loads(e["body_json"])} for e in stored]


def ledger_statements(registry, *, run: str | None = None, work_ids: set[str] | None = None) -> list[Statement]:
    """Per-creator statements of what the ledger records as owed (all runs, or one; all works, or ``work_ids``)."""
    lines = []
    for e in ledger_entries(registry):
        if e.get("kind") != "use" or (run is not None and e.get("run") != run):
            continue
        if work_ids is not None and e.get("work_id") not in work_ids:
            continue
        lines.append({"work_id": e["work_id"], "title": e["title"], "creator": e["creator"], "unit": e.get("unit", "per-work"),
                      "terms_version": e["terms_version"], "price": e["price"], "currency": e["currency"],
                      "uses": e["uses"], "amount": e["amount"], "items": e.get("items"), "entry_ids": [e["entry_id"]],
                      "recorded_at": e["recorded_at"], "run": e["run"], "scan_id": e.get("scan_id")})
    return _statements(lines, basis={"kind": "ledger", "scan_id": None, "run": run}, generated_at=now_iso())


def verify_ledger(registry, *, head: str | None = None) -> LedgerCheck:
    """Check the ledger's hash chain against the registry's recorded head (and ``head`` if given)."""
    store = registry.store
    n, problems = verify_chain(store.iter_ledger(), head=store.ledger_head())
    if head:
        _, more = verify_chain(store.iter_ledger(), head=head, head_is_last=False)
        problems += [f"against the head you gave: {p}" for p in more]
    return {"entries": n, "head": store.ledger_head(), "ok": not problems, "problems": problems}
