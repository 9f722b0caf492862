"""A scan's terms snapshot in rows (schema 8): stored once per distinct set of terms, read per work."""

from __future__ import annotations

import json

import pytest

from consentry.store.sqlite_audit import ScanTerms


def _scan(scan_id: str, snapshot, created_at: str = "2026-12-07T00:00:00+00:00") -> dict:
    return {
        "scan_id": scan_id, "created_at": created_at, "finished_at": None, "status": "running",
        "source_spec": "/data/set", "source_kind": "folder", "source_name": "set", "dataset_fingerprint": None,
        "engine": "e", "engine_version": "1", "param_hash": "p", "options": {},
        "terms_snapshot": snapshot, "terms_snapshot_at": created_at, "summary": None,
    }


def _terms(n: int, decision: str = "deny") -> dict:
    return {f"w-{i:05d}": {"title": f"Work {i} é 'q'", "creator": "Ana", "decision": decision, "price": None,
                           "terms_version": 1, "uses": {"ai_training": {"decision": decision}}} for i in range(n)}


def _count(store, table: str) -> int:
    with store.snapshot():
        return store._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_scans_under_the_same_terms_share_one_stored_set(store_factory):
    store = store_factory()
    first, changed = _terms(300), _terms(300)
    changed["w-00007"] = {**changed["w-00007"], "decision": "license", "price": 2.5, "terms_version": 2}
    store.create_scan(_scan("s-1", first))
    store.create_scan(_scan("s-2", dict(reversed(list(first.items())))))  # same terms, other order: same set
    store.create_scan(_scan("s-3", changed))
    store.create_scan(_scan("s-4", {}))
    assert _count(store, "terms_sets") == 3
    assert _count(store, "terms_set_works") == 600
    s1, s2, s3, s4 = (store.get_scan(s)["terms_snapshot"] for s in ("s-1", "s-2", "s-3", "s-4"))
    assert isinstance(s1, ScanTerms)
    assert s1 == first and s2 == first and s3 == changed and dict(s4) == {}
    assert len(s1) == 300 and len(s4) == 0
    # Looked up one work at a time, as a scan does.
    assert s3["w-00007"]["decision"] == "license" and s1["w-00007"]["decision"] == "deny"
    assert "w-00007" in s3 and "w-99999" not in s3 and s3.get("w-99999", {}) == {}
    with pytest.raises(KeyError):
        s1["w-99999"]
    # A listing carries no terms.
    assert all("terms_snapshot" not in s for s in store.list_scans())


def test_a_scan_reads_only_the_terms_it_asks_for(tmp_path):
    from consentry.store.sqlite import SQLiteStore

    store = SQLiteStore.open(tmp_path / "r.db", create=True)
    try:
        store.create_scan(_scan("s-1", _terms(5000)))
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        terms = store.get_scan("s-1")["terms_snapshot"]
        terms.prefetch(["w-00003", "w-04000", "w-00003", "nope"])
        assert terms["w-00003"]["title"] == "Work 3 é 'q'" and terms["w-04000"]["creator"] == "Ana"
        assert terms.get("nope") is None and len(terms) == 5000
        reads = [s for s in statements if "FROM terms_set" in s]
        # One read for the three works asked (answered from memory after), one for the count; never the whole set.
        assert len(reads) == 2
        assert all("work_id IN" in s or "FROM terms_sets" in s for s in reads)
    finally:
        store._conn.set_trace_callback(None)
        store.close()


def test_scans_made_before_schema_8_keep_their_inline_snapshot(store_factory):
    store = store_factory()
    old = _terms(3)
    with store.transaction() as c:  # as an older Consentry stored it: the snapshot inline, no terms set
        c.execute(
            "INSERT INTO scans (scan_id, created_at, status, source_spec, source_kind, source_name, engine, "
            "engine_version, param_hash, options, terms_snapshot, terms_snapshot_at) "
            "VALUES ('old-1', '2026-11-01T00:00:00+00:00', 'complete', '/d', 'folder', 'd', 'e', '1', 'p', '{}', ?, "
            "'2026-11-01T00:00:00+00:00')", (json.dumps(old),))
    scan = store.get_scan("old-1")
    assert scan["terms_set"] is None and scan["terms_snapshot"] == old and len(scan["terms_snapshot"]) == 3
    assert scan["terms_snapshot"]["w-00001"]["decision"] == "deny"
    assert [s["scan_id"] for s in store.list_scans()] == ["old-1"]


def test_a_missing_terms_set_is_damage_not_an_empty_snapshot(tmp_path):
    from consentry.domain.errors import RegistryError
    from consentry.store.sqlite import SQLiteStore

    store = SQLiteStore.open(tmp_path / "r.db", create=True)
    try:
        store.create_scan(_scan("s-1", _terms(10)))
        store.create_scan(_scan("s-2", _terms(5)))
        with store.transaction() as c:  # damage, as a bad restore or a hand edit could leave it
            c.execute("DELETE FROM terms_set_works WHERE set_no = 2 AND work_id = 'w-00001'")
            c.execute("UPDATE scans SET terms_set = 99 WHERE scan_id = 's-1'")
        lost = store.get_scan("s-1")["terms_snapshot"]
        for use in (len, lambda t: t.get("w-00001"), lambda t: "w-00001" in t):
            with pytest.raises(RegistryError, match="terms set 99 a scan was made under is missing"):
                use(lost)
        short = store.get_scan("s-2")["terms_snapshot"]
        assert short["w-00002"]["title"] == "Work 2 é 'q'"
        with pytest.raises(RegistryError, match="holds 4 works of 5"):
            dict(short)
    finally:
        store.close()
