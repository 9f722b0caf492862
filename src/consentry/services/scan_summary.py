"""A scan's summary, computed from its stored items: what each work found costs, per creator, per currency.

:func:`summarize_scan` makes the summary that docs/scan-format.md describes
(:class:`consentry.services.results.ScanSummary`) from the scan's row, its
terms snapshot and its findings; :func:`licence_amount` is the one rule for
what the use of a licensed work costs, by the licence's unit (the scan and the
training filter both use it).
"""

from __future__ import annotations

from datetime import date

from consentry import __version__
from consentry.domain.audit import coverage_histogram, covered_seconds, estimate_exposure
from consentry.domain.money import add_money, money
from consentry.domain.terms import UNIT_MEDIUM
from consentry.services.results import ScanSummary


def licence_amount(*, price: float, unit: str | None, items: int, covered_s: float,
                   words: float | None = None, medium: str | None = None) -> tuple[float, float]:
    """(quantity, amount) owed for one licensed work used in a dataset, by the licence's unit.

    per-work and per-training-run: one; per-item and per-article: the items it is in;
    per-minute: the minutes of the dataset it covers (to the hundredth); per-1000-words: the words of
    the dataset's texts its passages cover (``words``, the findings' matched words), in thousands (to
    the thousandth).  Given the work's ``medium``, a unit that measures another medium (per-minute of a
    text or an image, per-1000-words of a recording) counts the items it is in, as per-item does.
    """
    if medium is not None and UNIT_MEDIUM.get(unit or "", medium) != medium:
        unit = "per-item"
    if unit in ("per-item", "per-article"):
        quantity = float(items)
    elif unit == "per-1000-words":
        quantity = round((words or 0.0) / 1000.0, 3)
    elif unit == "per-minute":
        quantity = round(covered_s / 60.0, 2)
    else:
        quantity = 1.0
    return quantity, money(price * quantity)


def _words_by_work(store, scan_id: str, works: dict[str, dict]) -> dict[str, int]:
    """Matched words of the text findings of each work licensed per 1,000 words (read only when one is)."""
    wanted = {wid for wid, w in works.items() if w["decision"] == "license" and w["unit"] == "per-1000-words"}
    if not wanted:
        return {}
    out = dict.fromkeys(wanted, 0)
    for item in store.iter_scan_items(scan_id, decisions=("licensable",)):
        for f in item.get("findings", ()):
            if f.get("work_id") in wanted:
                out[f["work_id"]] += int((f.get("detail") or {}).get("matched_words") or 0)
    return out


def summarize_scan(registry, scan_id: str) -> ScanSummary:
    """The scan summary (docs/scan-format.md), computed from the stored items."""
    store = registry.store
    scan = store.get_scan(scan_id)
    snapshot = scan["terms_snapshot"]
    scan_id = scan["scan_id"]
    works: dict[str, dict] = {}
    current_work, current_seq, intervals = None, None, []

    def close_item() -> None:
        if current_work is not None and intervals:
            works[current_work]["covered_s"] += covered_seconds(intervals)

    for work_id, seq, q0, q1 in store.scan_findings_by_work(scan_id):
        if (work_id, seq) != (current_work, current_seq):
            close_item()
            intervals = []
            if work_id not in works:
                t = snapshot.get(work_id, {})
                works[work_id] = {
                    "work_id": work_id, "title": t.get("title"), "creator": t.get("creator"),
                    "decision": t.get("decision"), "terms_version": t.get("terms_version"),
                    "price": t.get("price"), "currency": t.get("currency"),
                    "unit": t.get("unit") or ("per-work" if t.get("decision") == "license" else None),
                    "items": 0, "covered_s": 0.0, "amount": None,
                }
                if t.get("medium"):
                    works[work_id]["medium"] = t["medium"]  # covered_s then holds characters (text)
                if t.get("disputed"):
                    works[work_id].update(disputed=True, claims=t.get("claims", []))
            works[work_id]["items"] += 1
            current_work, current_seq = work_id, seq
        intervals.append((q0, q1))
    close_item()
    words = _words_by_work(store, scan_id, works)
    for w in works.values():
        w["covered_s"] = round(w["covered_s"], 3)
        if w["work_id"] in words:
            w["words"] = words[w["work_id"]]
        if w["decision"] == "license":
            w["quantity"], w["amount"] = licence_amount(price=w["price"], unit=w["unit"], items=w["items"],
                                                        covered_s=w["covered_s"], words=w.get("words"),
                                                        medium=w.get("medium") or "music")
    work_list = sorted(works.values(), key=lambda w: (-w["items"], -w["covered_s"], w["work_id"]))

    creators: dict = {}
    licence_cost: dict[str, float] = {}
    for w in work_list:
        c = creators.setdefault(w["creator"], {"creator": w["creator"], "works": 0, "items": 0, "refused_works": 0,
                                               "licensable_works": 0, "amount": {}})
        c["works"] += 1
        c["items"] += w["items"]
        if w["decision"] == "deny":
            c["refused_works"] += 1
        elif w["decision"] == "license":
            c["licensable_works"] += 1
            c["amount"][w["currency"]] = add_money(c["amount"].get(w["currency"], 0.0), w["amount"])
            licence_cost[w["currency"]] = add_money(licence_cost.get(w["currency"], 0.0), w["amount"])
    creator_list = sorted(creators.values(), key=lambda c: (-c["items"], str(c["creator"])))

    refused = [{"work_id": w["work_id"], "title": w["title"], "creator": w["creator"],
                "copyright_registered_on": snapshot.get(w["work_id"], {}).get("copyright_registered_on"),
                "first_published_on": snapshot.get(w["work_id"], {}).get("first_published_on")}
               for w in work_list if w["decision"] == "deny"]
    began = date.fromisoformat(scan["created_at"][:10])
    return {
        "scan_id": scan_id,
        "status": scan["status"],
        "created_at": scan["created_at"],
        "finished_at": scan["finished_at"],
        "tool": {"name": "consentry", "version": scan["options"].get("tool_version", __version__)},
        "source": {"spec": scan["source_spec"], "kind": scan["source_kind"], "name": scan["source_name"]},
        "dataset_fingerprint": scan["dataset_fingerprint"],
        "registry": {"path": str(registry.path), "works": len(snapshot)},
        "engine": {"name": scan["engine"], "version": scan["engine_version"], "param_hash": scan["param_hash"]},
        "options": {k: v for k, v in scan["options"].items() if k not in ("tool_version", "registry_works")},
        "terms_snapshot_at": scan["terms_snapshot_at"],
        "totals": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in store.scan_totals(scan_id).items()},
        "works": work_list,
        "creators": creator_list,
        "licence_cost": licence_cost,
        "exposure": estimate_exposure(refused, began_on=began),
        "coverage_histogram": coverage_histogram(store.scan_coverages(scan_id)),
        "errors": store.scan_error_reasons(scan_id),
        "signals": summarize_signals(store.iter_item_signals(scan_id)),
    }


#: The training decision an item's own signals imply, compared with what the registry decided.
_TRAINING_SIGNAL_FOR_DECISION = {"refused": "deny", "licensable": "license", "allowed": "allow"}


def summarize_signals(rows) -> dict:
    """Counts of items carrying AI-use signals, and of those whose signals disagree with the registry.

    A disagreement: the item's embedded or web verdict for ``ai_training``
    differs from what the registered works found in it decide (for example,
    a file tagged "training allowed" that holds a work whose creator denies
    it).  Up to 20 examples are listed.  ``items_declared_ai_generated``
    counts the items whose own metadata declares them made by generative AI
    (C2PA actions, IPTC XMP ``DigitalSourceType``); up to 20 are listed in
    ``ai_generated_examples``.
    """
    out = {"items_with_embedded": 0, "items_with_web": 0, "items_with_problems": 0, "disagreements": 0, "examples": [],
           "items_declared_ai_generated": 0, "ai_generated_examples": []}
    for item_id, decision, sig in rows:
        if sig.get("ai_generated"):
            out["items_declared_ai_generated"] += 1
            if len(out["ai_generated_examples"]) < 20:
                first = sig["ai_generated"][0]
                out["ai_generated_examples"].append({"item_id": item_id, "source_type": first.get("source_type"),
                                                     "source": first.get("source")})
        out["items_with_embedded"] += bool(sig.get("embedded"))
        out["items_with_web"] += bool(sig.get("web"))
        out["items_with_problems"] += bool(sig.get("problems") or sig.get("web_problems"))
        expected = _TRAINING_SIGNAL_FOR_DECISION.get(decision)
        for kind in ("verdicts", "web_verdicts"):
            said = (sig.get(kind) or {}).get("ai_training")
            if expected and said and said != expected:
                out["disagreements"] += 1
                if len(out["examples"]) < 20:
                    out["examples"].append({"item_id": item_id, "decision": decision, "signal": said,
                                            "where": "embedded in the file" if kind == "verdicts" else "published for its URL"})
                break
    return out
