"""Pure parts of the audit: item decisions, coverage, exposure (17 U.S.C. 412), the ledger's hash chain;
and the registry's schema migration, terms versions and append-only tables."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from hypothesis import given, strategies as st

from consentry.domain.audit import (
    coverage_histogram, covered_seconds, decide_item, estimate_exposure, statutory_eligibility,
)
from consentry.domain.ledger import GENESIS_HASH, chain_entry, verify_chain
from consentry.domain.works import Terms
from consentry.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStore, _statements

from test_store import make_work  # noqa: E402


def test_item_decision_precedence():
    assert decide_item([]) == "unknown"
    assert decide_item(["allow"]) == "allowed"
    assert decide_item(["allow", "license"]) == "licensable"
    assert decide_item(["license", "deny", "allow"]) == "refused"
    with pytest.raises(KeyError):
        decide_item(["maybe"])


def test_covered_seconds_is_the_union():
    assert covered_seconds([]) == 0.0
    assert covered_seconds([(0, 10), (5, 15), (20, 25)]) == 20.0
    assert covered_seconds([(3, 3), (4, 2)]) == 0.0
    assert covered_seconds([(0, 10), (1, 2)]) == 10.0


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), max_size=30))
def test_covered_seconds_matches_a_fine_grid(intervals):
    got = covered_seconds(intervals)
    assert 0.0 <= got <= 100.0 + 1e-9
    # Reference: sample the line at 0.01 s; the union differs by at most 2 grid cells per interval edge.
    import numpy as np

    grid = np.arange(0, 100, 0.01) + 0.005
    inside = np.zeros(grid.size, bool)
    for a, b in intervals:
        inside |= (grid >= a) & (grid < b)
    assert abs(inside.sum() * 0.01 - got) <= 0.02 * (len(intervals) + 1)


def test_coverage_histogram_edges_and_one():
    h = coverage_histogram([0.0, 0.05, 0.5, 0.99, 1.0])
    assert h["edges"][0] == 0.0 and h["edges"][-1] == 1.0 and len(h["counts"]) == 10
    assert h["counts"][0] == 2 and h["counts"][5] == 1 and h["counts"][9] == 2
    assert sum(coverage_histogram([])["counts"]) == 0


@pytest.mark.parametrize("registered, published, began, expected", [
    (None, None, "2026-01-01", "unknown"),
    ("2020-01-10", None, "2026-01-01", "eligible"),                 # registered before the use began
    ("2026-01-01", None, "2026-01-01", "eligible"),                 # on the same day
    ("2026-02-01", None, "2026-01-01", "ineligible"),               # registered after, no publication known
    ("2026-02-01", "2025-12-15", "2026-01-01", "eligible"),         # within three months of publication
    ("2026-03-15", "2025-12-15", "2026-01-01", "eligible"),         # exactly three months
    ("2026-03-16", "2025-12-15", "2026-01-01", "ineligible"),       # one day late
    ("2026-02-01", "2026-01-20", "2026-01-01", "ineligible"),       # unpublished when the use began
])
def test_statutory_eligibility_follows_412(registered, published, began, expected):
    d = lambda s: date.fromisoformat(s) if s else None  # noqa: E731
    got, reason = statutory_eligibility(registered_on=d(registered), published_on=d(published), began_on=d(began))
    assert got == expected
    assert reason


def test_exposure_ranges():
    works = [
        {"work_id": "a", "title": "A", "creator": "x", "copyright_registered_on": "2020-01-01"},
        {"work_id": "b", "title": "B", "creator": "x", "copyright_registered_on": "2030-01-01"},
        {"work_id": "c", "title": "C", "creator": "y"},
    ]
    ex = estimate_exposure(works, began_on=date(2026, 11, 23))
    assert (ex["works_refused"], ex["eligible"], ex["ineligible"], ex["unknown_registration"]) == (3, 1, 1, 1)
    assert ex["range_usd"] == {"min": 750, "max": 30_000, "wilful_max": 150_000}
    assert ex["range_usd_if_unknown_eligible"] == {"min": 1500, "max": 60_000, "wilful_max": 300_000}
    assert "not legal advice" in ex["note"]
    assert estimate_exposure([], began_on=date(2026, 1, 1))["range_usd"]["max"] == 0


# -- ledger chain ------------------------------------------------------------------
def _chain(n: int) -> list[dict]:
    out, prev = [], GENESIS_HASH
    for i in range(1, n + 1):
        e = chain_entry(seq=i, recorded_at=f"2026-11-23T10:00:0{i % 10}+00:00", body={"work_id": f"w{i}", "amount": 10.0 * i}, prev_hash=prev)
        out.append(e)
        prev = e["entry_hash"]
    return out


def test_intact_chain_verifies():
    entries = _chain(5)
    head = f"5:{entries[-1]['entry_hash']}"
    assert verify_chain(entries, head=head) == (5, [])
    assert verify_chain([], head=None) == (0, [])


@pytest.mark.parametrize("tamper", ["alter_body", "alter_time", "delete_middle", "delete_last", "swap", "insert"])
def test_tampering_is_detected(tamper):
    entries = _chain(5)
    head = f"5:{entries[-1]['entry_hash']}"
    if tamper == "alter_body":
        entries[1] = {**entries[1], "body_json": entries[1]["body_json"].replace("20.0", "2.0")}
    elif tamper == "alter_time":
        entries[2] = {**entries[2], "recorded_at": "2020-01-01T00:00:00+00:00"}
    elif tamper == "delete_middle":
        del entries[2]
    elif tamper == "delete_last":
        del entries[-1]
    elif tamper == "swap":
        entries[1], entries[2] = entries[2], entries[1]
    elif tamper == "insert":
        entries.insert(2, chain_entry(seq=3, recorded_at="x", body={}, prev_hash=entries[1]["entry_hash"]))
    _, problems = verify_chain(entries, head=head)
    assert problems, tamper


def test_a_published_earlier_head_allows_later_entries():
    entries = _chain(5)
    early = f"3:{entries[2]['entry_hash']}"
    assert verify_chain(entries, head=early, head_is_last=False)[1] == []
    assert verify_chain(entries, head=early, head_is_last=True)[1]
    assert verify_chain(entries, head=f"3:{'f' * 64}", head_is_last=False)[1]
    assert verify_chain(entries, head="garbage", head_is_last=False)[1]


# -- store: migration, terms versions, append-only ----------------------------------
def test_a_version_1_registry_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for stmt in _statements(MIGRATIONS[1]):
        conn.execute(stmt)
    conn.execute("INSERT INTO schema_version VALUES (1, '2026-01-01')")
    conn.execute("INSERT INTO meta VALUES ('format', 'consentry-registry')")
    conn.execute("INSERT INTO works VALUES ('w1', 1, 'ab', 'Old song', 'Ana', '/x.wav', 10.0, '2026-01-01', "
                 "'consentry-music-landmark', '1', 'h', 5, NULL)")
    conn.execute("INSERT INTO terms VALUES ('w1', 1, 'deny', NULL, NULL, '2026-01-01')")
    conn.commit()
    conn.close()
    store = SQLiteStore.open(path)
    w = store.get_work("w1")
    assert (w.title, w.terms.decision, w.terms_version, w.copyright_registered_on) == ("Old song", "deny", 1, None)
    assert store.stats()["schema_version"] == SCHEMA_VERSION
    assert store.list_scans() == []
    # Old terms rows (no per-use detail) read as training-only versions; a new version adds uses.
    assert store.work_terms("w1").uses["ai_training"].decision == "deny"
    from consentry.domain.usage import TermsVersion, UseTerms

    store.set_work_terms("w1", store.work_terms("w1").with_uses({"voice_likeness": UseTerms("deny")}))
    assert [v for v, _, _ in store.terms_history("w1")] == [1, 2]
    store.close()


def test_terms_versions_append_and_cannot_be_rewritten(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
    import numpy as np

    (w,) = store.add_works([(make_work(1), np.array([1, 2], np.uint32), lambda fp: np.array([fp, fp], np.uint64))])
    w2 = store.set_terms(w.work_id, Terms("license", 50, "EUR"))
    assert (w2.terms_version, w2.terms.describe()) == (2, "license 50 EUR")
    history = store.terms_history(w.work_id)
    assert [v for v, _, _ in history] == [1, 2] and history[0][1].uses["ai_training"].decision == "deny"
    assert history[1][1].uses["ai_training"].describe() == "license 50 EUR per-work"
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("UPDATE terms SET decision = 'allow' WHERE work_id = ?", (w.work_id,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("DELETE FROM terms")
    w3 = store.set_work_dates(w.work_id, copyright_registered_on="2024-05-01", first_published_on=None)
    assert w3.copyright_registered_on == "2024-05-01" and w3.first_published_on is None
    store.close()


def test_ledger_rows_are_append_only_and_chained(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
    store.append_ledger([{"work_id": "a", "amount": 1.0}, {"work_id": "b", "amount": 2.0}], recorded_at="2026-11-23T00:00:00+00:00")
    store.append_ledger([{"work_id": "c", "amount": 3.0}], recorded_at="2026-11-23T00:00:01+00:00")
    entries = list(store.iter_ledger())
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[1]["prev_hash"] == entries[0]["entry_hash"]
    assert verify_chain(entries, head=store.ledger_head()) == (3, [])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("UPDATE ledger_entries SET body = '{}' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("DELETE FROM ledger_entries WHERE seq = 3")
    store.close()
