"""Scans as data sources: the scan contract (docs/scan-format.md) checked, and the totals over scans."""

from __future__ import annotations

import math
from typing import Any

from consentry.domain.terms import ITEM_DECISIONS
from consentry.domain.errors import InputError
from consentry.reporting.format import sum_money as _sum_money
from consentry.reporting.summary.declaration import _describe


# ---------------------------------------------------------------------------
# Scans: the datasets Consentry checked
# ---------------------------------------------------------------------------

_DECISION_KEYS = ITEM_DECISIONS


def _scan_error(index: int, scan: Any, message: str) -> InputError:
    scan_id = scan.get("scan_id") if isinstance(scan, dict) else None
    label = f"scan {index + 1}" + (f" ({scan_id})" if isinstance(scan_id, str) else "")
    return InputError(f"{label}: {message}; pass scan summaries as described in docs/scan-format.md")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _amount(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _money(index: int, scan: dict, value: Any, key: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(c, str) and _amount(a) for c, a in value.items()):
        raise _scan_error(index, scan, f"{key} must map currency codes to amounts >= 0")
    return {c: float(a) for c, a in value.items()}


def _dataset_from_scan(index: int, scan: Any) -> tuple[dict, list[dict]]:
    """One scanned dataset as a data source, and the registered works the scan found."""
    if not isinstance(scan, dict):
        raise _scan_error(index, scan, f"must be a mapping, not {_describe(scan)}")
    for key in ("scan_id", "status", "created_at"):
        if not isinstance(scan.get(key), str) or not scan[key]:
            raise _scan_error(index, scan, f"{key} must be text")
    src = scan.get("source")
    if not isinstance(src, dict):
        raise _scan_error(index, scan, "source must be a mapping with spec, kind and name")
    totals = scan.get("totals")
    if not isinstance(totals, dict):
        raise _scan_error(index, scan, "totals is missing")
    for key in ("items", "bytes", *_DECISION_KEYS):
        if not _count(totals.get(key)):
            raise _scan_error(index, scan, f"totals.{key} must be a whole number >= 0, not {totals.get(key)!r}")
    if not _amount(totals.get("audio_s")):
        raise _scan_error(index, scan, f"totals.audio_s must be a number of seconds >= 0, not {totals.get('audio_s')!r}")
    registry = scan.get("registry") if isinstance(scan.get("registry"), dict) else {}
    if not _count(registry.get("works")):
        raise _scan_error(index, scan, "registry.works must be the number of registered works checked against")
    engine = scan.get("engine") if isinstance(scan.get("engine"), dict) else {}
    if not isinstance(engine.get("name"), str) or engine.get("version") is None:
        raise _scan_error(index, scan, "engine must give the identification engine's name and version")
    works = scan.get("works") or []
    if not isinstance(works, list) or not all(isinstance(w, dict) and isinstance(w.get("work_id"), str) for w in works):
        raise _scan_error(index, scan, "works must be a list of found works, each with a work_id")
    for w in works:
        if w.get("decision") == "license" and w.get("price") is not None and not _amount(w.get("price")):
            raise _scan_error(index, scan, f"work {w['work_id']}: price must be a number >= 0")

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    spec = text(src.get("spec"))
    audio_s = float(totals["audio_s"])
    media = _media(index, scan, totals.get("media"), audio_s=audio_s, items=totals["items"])
    dataset = {
        "scan_id": scan["scan_id"],
        "scan_status": scan["status"],
        "created_at": scan["created_at"],
        "scanned_at": text(scan.get("finished_at")) or scan["created_at"],
        "name": text(src.get("name")) or spec or scan["scan_id"],
        "kind": text(src.get("kind")),
        "spec": spec,
        "modality": max(media, key=lambda m: media[m]["items"]) if media else "audio",  # the main one
        "modalities": sorted(media) or ["audio"],
        "media": media,  # template modality -> {"items", "size", "unit"} (size: seconds, characters, images)
        "items": totals["items"],
        "audio_s": round(audio_s, 3),
        "audio_hours": round(audio_s / 3600.0, 2),
        "bytes": totals["bytes"],
        "dataset_fingerprint": text(scan.get("dataset_fingerprint")),
        "registry_works": registry["works"],
        "engine": {"name": engine["name"], "version": str(engine["version"])},
        **{key: totals[key] for key in _DECISION_KEYS},
        "refused_works": len({w["work_id"] for w in works if w.get("decision") == "deny"}),
        "licensable_works": len({w["work_id"] for w in works if w.get("decision") == "license"}),
        "licence_cost": _money(index, scan, scan.get("licence_cost"), "licence_cost"),
        "category": None,
        "category_section": None,
        "link": None,
        "description": None,
    }
    return dataset, works


#: The registry's media as the template's modalities, and the unit each is measured in here.
_TEMPLATE_MODALITY = {"music": "audio", "text": "text", "image": "image"}
_UNIT = {"audio": "s", "text": "char", "image": "image"}


def _media(index: int, scan: dict, value: Any, *, audio_s: float, items: int) -> dict[str, dict]:
    """The items a scan read per template modality (``totals.media``, docs/scan-format.md).

    Scans made before there were other media have no ``media``: their items
    are audio.  Images are counted (the template sizes images by number);
    text is measured in characters; audio in seconds.
    """
    if value is None:
        return {"audio": {"items": items, "size": audio_s, "unit": "s"}} if items else {}
    if not isinstance(value, dict):
        raise _scan_error(index, scan, "totals.media must map each medium to its items and size")
    out: dict[str, dict] = {}
    for medium, m in value.items():
        if not isinstance(m, dict) or not _count(m.get("items")) or not _amount(m.get("size", 0.0)):
            raise _scan_error(index, scan, f"totals.media.{medium} must give items (a whole number) and size (>= 0)")
        modality = _TEMPLATE_MODALITY.get(medium, "other")
        entry = out.setdefault(modality, {"items": 0, "size": 0.0, "unit": _UNIT.get(modality, "")})
        entry["items"] += m["items"]
        entry["size"] += float(m["items"] if modality == "image" else m.get("size", 0.0))
    return out


def _totals(datasets: list[dict], works_by_scan: dict[str, list[dict]], notes: list[str]) -> dict:
    totals: dict[str, Any] = {"datasets": len(datasets)}
    for key in ("items", "bytes", *_DECISION_KEYS):
        totals[key] = sum(d[key] for d in datasets)
    audio_s = sum(d["audio_s"] for d in datasets)
    totals["audio_s"] = round(audio_s, 3)
    totals["audio_hours"] = round(audio_s / 3600.0, 2)
    media: dict[str, dict] = {}
    for d in datasets:
        for modality, m in d["media"].items():
            entry = media.setdefault(modality, {"items": 0, "size": 0.0, "unit": m["unit"]})
            entry["items"] += m["items"]
            entry["size"] += m["size"]
    totals["media"] = media

    # Distinct works across scans: a work found in two datasets is one work (and one licence).
    latest: dict[str, dict] = {}
    consistent = True
    for d in datasets:  # oldest scan first, so a later scan's terms win
        found = works_by_scan[d["scan_id"]]
        for w in found:
            latest[w["work_id"]] = w
        own = _sum_money([
            {w["currency"]: float(w["price"])}
            for w in {w["work_id"]: w for w in found}.values()
            if w.get("decision") == "license" and w.get("price") is not None and isinstance(w.get("currency"), str)
        ])
        if any(abs(own.get(c, 0.0) - d["licence_cost"].get(c, 0.0)) > 0.005 for c in set(own) | set(d["licence_cost"])):
            consistent = False
    totals["refused_works"] = sum(1 for w in latest.values() if w.get("decision") == "deny")
    totals["licensable_works"] = sum(1 for w in latest.values() if w.get("decision") == "license")
    if consistent:
        totals["licence_cost"] = _sum_money([
            {w["currency"]: float(w["price"])}
            for w in latest.values()
            if w.get("decision") == "license" and w.get("price") is not None and isinstance(w.get("currency"), str)
        ])
        totals["licence_cost_basis"] = "distinct licensable works across all scans, at the price in force at the latest scan"
    else:
        totals["licence_cost"] = _sum_money([d["licence_cost"] for d in datasets])
        totals["licence_cost_basis"] = "sum of the scans' licence costs (the scans' work lists do not match their costs)"
        notes.append(
            "The licence cost is the sum of the scans' own figures: their lists of found works do not add up to "
            "their licence costs, so works found in more than one dataset could not be counted once. Check the scans."
        )
    works_checked = sorted({d["registry_works"] for d in datasets})
    totals["registry_works"] = {"min": works_checked[0], "max": works_checked[-1]} if works_checked else None
    totals["engines"] = sorted({f"{d['engine']['name']} version {d['engine']['version']}" for d in datasets})
    totals["incomplete_scans"] = [d["scan_id"] for d in datasets if d["scan_status"] != "complete"]
    return totals
