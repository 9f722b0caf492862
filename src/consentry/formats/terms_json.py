"""A Consentry terms JSON (``/terms/works/<id>.json``) read back as ``terms-json`` signals (pure).

The page may hold the work's entry of the terms export (docs/terms-model.md:
``{"work_id", "terms": {"uses": {...}}, "terms_version", ...}``) or a terms
version itself (``{"uses": {...}}``); each use's ``decision`` (and price,
currency, unit, contact, licence URL) becomes one signal.
"""

from __future__ import annotations

import json

from consentry.domain.usage import USES
from consentry.domain.signals import Signal, SignalProblem
from consentry.domain.terms import DECISIONS

__all__ = ["terms_json_signals"]

_KEPT = ("price", "currency", "unit", "contact", "licence_url")


def _find_uses(doc: dict) -> tuple[dict | None, dict]:
    for holder in (doc, doc.get("terms"), doc.get("effective_terms"), doc.get("work")):
        if isinstance(holder, dict):
            if isinstance(holder.get("uses"), dict):
                return holder["uses"], holder
            if isinstance(holder.get("terms"), dict) and isinstance(holder["terms"].get("uses"), dict):
                return holder["terms"]["uses"], holder["terms"]
    return None, {}


def terms_json_signals(data: bytes, *, document_url: str, location: str,
                       work_id: str | None = None) -> tuple[list[Signal], list[SignalProblem]]:
    """Signals of one terms JSON (never raises)."""
    where = f"terms JSON {document_url}"
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return [], [SignalProblem("terms-json", f"unreadable signal at {document_url}: not JSON", "not JSON")]
    if not isinstance(doc, dict):
        return [], [SignalProblem("terms-json", f"unreadable signal at {document_url}: not a JSON object",
                                  "not a JSON object")]
    uses, holder = _find_uses(doc)
    if uses is None:
        return [], [SignalProblem("terms-json", f"unreadable signal at {document_url}: no 'uses' object",
                                  "no 'uses' object with per-use terms")]
    problems: list[SignalProblem] = []
    found_id = doc.get("work_id")
    if found_id is None and isinstance(doc.get("work"), dict):
        found_id = doc["work"].get("work_id")
    if work_id and isinstance(found_id, str) and found_id != work_id:
        problems.append(SignalProblem("terms-json", where, f"terms JSON is for work {found_id[:40]!r}, "
                                                          f"not {work_id!r}"))
    version = doc.get("terms_version")
    if isinstance(version, int):
        where += f" (terms version {version})"
    signals: list[Signal] = []
    for use in USES:
        terms = uses.get(use)
        if terms is None:
            continue
        decision = terms.get("decision") if isinstance(terms, dict) else terms
        if decision not in DECISIONS:
            problems.append(SignalProblem("terms-json", where, f"use {use}: decision {str(decision)[:40]!r} is not "
                                                              "deny, allow or license"))
            continue
        detail = {k: terms[k] for k in _KEPT if isinstance(terms, dict) and terms.get(k) is not None
                  and isinstance(terms[k], (str, int, float))}
        for key in ("valid_from", "valid_until", "jurisdiction"):
            if isinstance(holder.get(key), str):
                detail[key] = holder[key]
        if isinstance(found_id, str):
            detail["work_id"] = found_id
        signals.append(Signal(use, decision, "terms-json", where, location, detail))
    unknown = [k for k in uses if k not in USES]
    if unknown:
        problems.append(SignalProblem("terms-json", where, f"unknown use(s) ignored: {', '.join(map(str, unknown))[:200]}"))
    return signals, problems
