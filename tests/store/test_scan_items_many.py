"""Scan items stored many at a time (store/sqlite_audit.add_scan_items, issue 18): the same rows as one at a time,
on both backends, including an item given twice in one call (the later one replaces it, with its findings)."""

from __future__ import annotations


def _scan(store, scan_id: str) -> None:
    store.create_scan({
        "scan_id": scan_id, "created_at": "2026-12-07T00:00:00+00:00", "finished_at": None, "status": "running",
        "source_spec": "/d", "source_kind": "text", "source_name": "d", "dataset_fingerprint": None,
        "engine": "e", "engine_version": "1", "param_hash": "p", "options": {}, "terms_snapshot": {},
        "terms_snapshot_at": "2026-12-07T00:00:00+00:00", "summary": None})


def _finding(work: str, score: float, start: float) -> dict:
    return {"work_id": work, "score": score, "confidence": 0.9, "query_start_s": start, "query_end_s": start + 40,
            "work_start_s": 0.0, "work_end_s": 40.0, "speed": 1.0, "pitch_shift_semitones": 0.0, "medium": "text",
            "detail": {"matched_words": int(score), "exact": True}}


def _items() -> list[dict]:
    out = []
    for seq in range(6):
        findings = [_finding(f"w{seq}", 30.0 + seq, 5.0), _finding("wx", 12.0, 90.0)] if seq % 2 == 0 else []
        out.append({"seq": seq, "item_id": f"row:{seq}", "name": f"d row {seq}", "decision": "refused" if findings
                    else "unknown", "duration_s": 0.0, "covered_s": 40.0 if findings else 0.0, "sha256": f"{seq:02x}",
                    "bytes": 2000 + seq, "findings": findings, "medium": "text", "size": 1990.0 + seq, "unit": "char",
                    **({"signals": {"verdicts": {"tdm": "deny"}}} if seq == 3 else {})})
    return out


def test_items_stored_together_read_back_as_items_stored_one_at_a_time(store_factory):
    store = store_factory()
    _scan(store, "s-many")
    _scan(store, "s-one")
    items = _items()
    assert store.add_scan_items("s-many", items) == 6
    for it in items:
        assert store.add_scan_items("s-one", [it]) == 1
    many, one = list(store.iter_scan_items("s-many")), list(store.iter_scan_items("s-one"))
    assert many == one and len(many) == 6 and [len(it["findings"]) for it in many] == [2, 0, 2, 0, 2, 0]
    assert store.add_scan_items("s-many", []) == 0
    # An item given twice in one call: the later one stands, with its own findings only; the others are kept.
    again = [dict(items[2], decision="unknown", findings=[]), dict(items[2], findings=[_finding("wy", 50.0, 1.0)]),
             dict(items[1], findings=[_finding("wz", 20.0, 2.0)], decision="refused")]
    assert store.add_scan_items("s-many", again) == 3
    got = {it["seq"]: it for it in store.iter_scan_items("s-many")}
    assert [f["work_id"] for f in got[2]["findings"]] == ["wy"] and got[2]["decision"] == "refused"
    assert [f["work_id"] for f in got[1]["findings"]] == ["wz"]
    assert got[0] == many[0] and len(got) == 6
