"""The stores: schema, atomic batches, segments, readers during a write, the mixins' tables.

Most tests run on both backends through the ``store_factory`` fixture
(SQLite, and PostgreSQL on a throw-away server); the SQLite-only ones check
its files (WAL, the file header, the index folder).
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import sqlite3
import time
from dataclasses import replace

import numpy as np
import pytest

from consentry.domain.errors import NotARegistryError, RegistryError, WorkNotFoundError
from consentry.engines.music.postings import pack_postings, unpack_postings
from consentry.domain.ledger import verify_chain
from consentry.domain.works import Terms, Work
from consentry.domain.usage import TermsVersion, UseTerms
from consentry.store.segments import IndexSegment, build_directory
from consentry.store.sqlite import SCHEMA_VERSION, SQLiteStore
from consentry.domain.errors import ScanNotFoundError


def make_work(i: int, terms: Terms = Terms(), creator: str | None = "Ana Lima") -> Work:
    sha = hashlib.sha256(str(i).encode()).hexdigest()
    return Work(
        work_id=sha[:16], fp_id=0, sha256=sha, title=f"Work {i}", creator=creator, source=f"/music/{i}.wav",
        duration_s=60.0, registered_at="2026-11-23T00:00:00+00:00", engine="e", engine_version="1", param_hash="p",
        n_hashes=100, terms=terms,
    )


def batch_entry(i: int, n: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed + i)
    keys = rng.integers(0, 2**20, n).astype(np.uint32)
    frames = rng.integers(0, 3000, n)
    midis = rng.uniform(45, 105, n)
    return make_work(i), keys, (lambda fp, f=frames, m=midis: pack_postings(fp, f, m))


def segments(store):
    return store.index_segments(engine="e", engine_version="1", param_hash="p")


def compact(store) -> int:
    return store.compact(engine="e", engine_version="1", param_hash="p", unpack_fp_id=lambda v: unpack_postings(v)[0])


# -- SQLite only: its files ------------------------------------------------------------------
def test_new_registry_has_schema_and_wal(tmp_path):
    path = tmp_path / "r.db"
    store = SQLiteStore.open(path)
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    # Re-opening does not migrate again.
    SQLiteStore.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_not_a_registry(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("hello, not a database\n")
    with pytest.raises(NotARegistryError, match="notes.db"):
        SQLiteStore.open(text)
    assert text.read_text() == "hello, not a database\n"
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(NotARegistryError, match="not a Consentry registry"):
        SQLiteStore.open(other)
    with pytest.raises(NotARegistryError, match="is a folder"):
        SQLiteStore.open(tmp_path)


def test_damaged_segment_is_reported(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
    store.add_works([batch_entry(1)])
    (f,) = store.index_dir.glob("*.keys.npy")
    f.write_bytes(b"\x93NUMPY garbage")
    store.close()
    store = SQLiteStore.open(tmp_path / "r.db")
    with pytest.raises(RegistryError, match="damaged index segment"):
        segments(store)
    store.close()


def test_crash_leftover_segment_files_are_deleted(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
    store.add_works([batch_entry(1)])
    (store.index_dir / "seg-deadbeefdeadbeef.keys.npy").write_bytes(b"junk")
    store.add_works([batch_entry(4)])
    assert not (store.index_dir / "seg-deadbeefdeadbeef.keys.npy").exists()
    assert len(list(store.index_dir.glob("seg-*.npy"))) == 6
    store.close()


# -- both backends ------------------------------------------------------------------------------
def test_add_works_assigns_ids_and_is_idempotent(store_factory):
    store = store_factory()
    added = store.add_works([batch_entry(1), batch_entry(2)])
    assert [w.fp_id for w in added] == [1, 2]
    again = store.add_works([batch_entry(2), batch_entry(3)])
    assert [w.title for w in again] == ["Work 3"]
    assert len(store.list_works()) == 3
    segs = segments(store)
    assert len(segs) == 2
    keys, values = segs[0].keys, segs[0].values
    assert np.all(np.diff(keys.astype(np.int64)) >= 0)
    fp, frame, midi = unpack_postings(values)
    assert set(fp.tolist()) == {1, 2}
    assert store.works_by_fp_id([1, 3, 99]).keys() == {1, 3}
    assert store.find_by_sha256(added[0].sha256).work_id == added[0].work_id
    assert store.find_by_sha256("0" * 64) is None


def test_same_content_by_two_creators_in_one_batch(store_factory):
    store = store_factory()
    w, k, v = batch_entry(1)
    other = replace(w, creator="Bea Costa")
    added = store.add_works([(w, k, v), (other, k, v)])
    assert [a.creator for a in added] == ["Ana Lima", "Bea Costa"]
    assert added[0].work_id != added[1].work_id and added[1].work_id.startswith(added[0].work_id)


def test_terms_are_kept_with_work(store_factory):
    store = store_factory()
    w, k, v = batch_entry(5)
    w = replace(w, terms=Terms("license", 12.5, "eur"))
    (added,) = store.add_works([(w, k, v)])
    got = store.get_work(added.work_id)
    assert got.terms == Terms("license", 12.5, "EUR")
    assert got.terms.describe() == "license 12.5 EUR"


def test_failed_batch_leaves_nothing(store_factory):
    store = store_factory()
    store.add_works([batch_entry(1)])

    def boom(fp_id):
        raise RuntimeError("worker died")

    w, k, _ = batch_entry(2)
    with pytest.raises(RuntimeError):
        store.add_works([batch_entry(3), (w, k, boom)])
    assert [x.title for x in store.list_works()] == ["Work 1"]
    assert len(segments(store)) == 1
    # A failure inside the transaction (a constraint) rolls back the works and the segment.
    w4, k4, v4 = batch_entry(4)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_works([(replace(w4, title=None), k4, v4)])
    assert [x.title for x in store.list_works()] == ["Work 1"]
    assert len(segments(store)) == 1
    assert not store._conn.in_transaction
    store.add_works([batch_entry(4)])
    assert len(segments(store)) == 2


def test_get_work_by_prefix_and_missing(store_factory):
    store = store_factory()
    (w,) = store.add_works([batch_entry(7)])
    assert store.get_work(w.work_id[:10]).work_id == w.work_id
    assert store.get_work(w.work_id[:10].upper()).work_id == w.work_id  # LIKE ignores ASCII case, as in SQLite
    with pytest.raises(WorkNotFoundError, match="no work with id"):
        store.get_work("ffff0000")
    for hostile in ("%", "d4%", "\\", "' OR 1=1 --", "?", "%s", "é" * 5000):
        with pytest.raises(WorkNotFoundError):
            store.get_work(hostile)


def test_remove_and_compact(store_factory):
    store = store_factory()
    a, b = store.add_works([batch_entry(1)]) + store.add_works([batch_entry(2)])
    store.remove_work(a.work_id)
    assert [w.work_id for w in store.list_works()] == [b.work_id]
    assert store.removed_fp_ids() == {a.fp_id}
    assert compact(store) == 2
    (seg,) = segments(store)
    assert set(unpack_postings(seg.values)[0].tolist()) == {b.fp_id}
    if store_factory.backend == "sqlite":
        assert len(list(store.index_dir.glob("seg-*.npy"))) == 3
    else:
        assert store._conn.execute("SELECT COUNT(*) FROM index_segment_arrays").fetchone()[0] == 3
    # Content registered again after removal gets a new record; the old one stays.
    (again,) = store.add_works([batch_entry(1)])
    assert again.work_id == a.work_id + "-2" and again.fp_id > b.fp_id
    assert len(store.list_works(include_removed=True)) == 3
    stats = store.stats()
    assert (stats["works"], stats["removed_works"], stats["index_segments"], stats["schema_version"]) == (2, 1, 2, SCHEMA_VERSION)
    assert stats["index_entries"] == 200 and stats["index_bytes"] > 200 * 12 and stats["database_bytes"] > 0
    assert stats["engines"] == [{"engine": "e", "engine_version": "1", "param_hash": "p", "works": 2, "size": 120.0}]


def test_compact_of_everything_removed_leaves_an_empty_segment(store_factory):
    store = store_factory()
    (a,) = store.add_works([batch_entry(1)])
    store.remove_work(a.work_id)
    assert compact(store) == 1
    (seg,) = segments(store)
    assert len(seg) == 0
    start, stop = seg.find_ranges(np.array([5], np.uint32), np.array([9], np.uint32))
    assert start.tolist() == stop.tolist() == [0]
    store.close()
    assert len(segments(store_factory())) == 1


def test_asking_for_another_engine_keeps_this_engines_segments_open(store_factory):
    # An identify asks for each engine version in turn; each must not make the store open the other's again.
    store = store_factory()
    store.add_works([batch_entry(1)])
    (first,) = segments(store)
    assert store.index_segments(engine="e", engine_version="2", param_hash="q") == []
    (again,) = segments(store)
    assert again is first
    store.add_works([batch_entry(2)])
    assert [s is first for s in segments(store)] == [True, False]
    assert compact(store) == 2
    (merged,) = segments(store)
    assert merged is not first and len(merged) == 200
    start, stop = merged.find_ranges(first.keys[:5], first.keys[:5])
    assert (stop > start).all()
    store.close()


def test_reopen_sees_everything(store_factory):
    store = store_factory()
    store.add_works([batch_entry(1), batch_entry(2)])
    before = [len(s) for s in segments(store)]
    store.close()
    store = store_factory()
    assert [w.title for w in store.list_works()] == ["Work 1", "Work 2"]
    assert [len(s) for s in segments(store)] == before


def test_newer_schema_is_refused(store_factory):
    store = store_factory()
    with store.transaction() as c:
        c.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    store.close()
    with pytest.raises(RegistryError, match="newer Consentry"):
        store_factory()


def test_missing_registry_without_create(store_factory):
    with pytest.raises(RegistryError, match="no registry here"):
        store_factory("absent", create=False)


def test_terms_history_and_creator_terms(store_factory):
    store = store_factory()
    (w,) = store.add_works([batch_entry(1)])
    w2 = store.set_terms(w.work_id, Terms("license", 50, "EUR"))
    assert (w2.terms_version, w2.terms.describe()) == (2, "license 50 EUR")
    history = store.terms_history(w.work_id)
    assert [v for v, _, _ in history] == [1, 2] and history[0][1].uses["ai_training"].decision == "deny"
    assert store.all_work_terms()[w.work_id].uses["ai_training"].describe() == "license 50 EUR per-work"
    version = TermsVersion().with_uses({"voice_likeness": UseTerms("deny")})
    assert store.set_creator_terms("Ana Lima", version) == 1
    assert store.set_creator_terms("Ana Lima", version.with_uses({"ai_training": UseTerms("allow")})) == 2
    number, current = store.creator_terms("Ana Lima")
    assert number == 2 and current.uses["ai_training"].decision == "allow"
    assert [v for v, _, _ in store.creator_terms_history("Ana Lima")] == [1, 2]
    assert set(store.all_creator_terms()) == {"Ana Lima"}
    assert store.creator_terms("Nobody") is None
    w3 = store.set_work_dates(w.work_id, copyright_registered_on="2024-05-01", first_published_on=None)
    assert (w3.copyright_registered_on, w3.first_published_on) == ("2024-05-01", None)


def test_append_only_tables_refuse_changes(store_factory):
    store = store_factory()
    (w,) = store.add_works([batch_entry(1)])
    store.set_terms(w.work_id, Terms("allow"))
    store.set_creator_terms("Ana Lima", TermsVersion().with_uses({"ai_training": UseTerms("deny")}))
    store.append_ledger([{"work_id": "a", "amount": 1.0}, {"work_id": "b", "amount": 2.0}], recorded_at="2026-11-23T00:00:00+00:00")
    voice, _ = store.add_voice(creator="Ana Lima", engine="v1", vector=np.ones(4, np.float32), source_name="a.wav",
                               source_sha256="ab" * 32, source=None, duration_s=3.0, speech_s=2.5, enrolled_at="2026")
    refused = [
        ("UPDATE terms SET decision = 'deny' WHERE work_id = ?", (w.work_id,)),
        ("DELETE FROM terms", ()),
        ("UPDATE creator_terms SET detail = '{}'", ()),
        ("DELETE FROM creator_terms", ()),
        ("UPDATE ledger_entries SET body = '{}' WHERE seq = 1", ()),
        ("DELETE FROM ledger_entries WHERE seq = 2", ()),
        ("UPDATE voices SET creator = 'Mallory'", ()),
    ]
    for sql, args in refused:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._conn.execute(sql, args)
        # ... also inside a transaction, which the refusal rolls back.
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            with store.transaction() as c:
                c.execute("INSERT INTO meta (key, value) VALUES ('scratch', 'x')")
                c.execute(sql, args)
        assert store._conn.execute("SELECT value FROM meta WHERE key = 'scratch'").fetchone() is None
    assert [v for v, _, _ in store.terms_history(w.work_id)] == [1, 2]
    entries = list(store.iter_ledger())
    assert verify_chain(entries, head=store.ledger_head()) == (2, [])
    assert [v.voice_id for v in store.list_voices()] == [voice.voice_id]


def test_scans_items_findings_and_ledger(store_factory):
    store = store_factory()
    (w,) = store.add_works([batch_entry(1)])
    snapshot = {w.work_id: {"decision": "deny", "title": "Work 1 'quoted' 50% ?"}}
    for n, scan_id in enumerate(["s-1", "s-2"]):
        store.create_scan({
            "scan_id": scan_id, "created_at": "2026-11-23T00:00:00+00:00", "finished_at": None, "status": "running",
            "source_spec": "/data/set", "source_kind": "folder", "source_name": "set", "dataset_fingerprint": None,
            "engine": "e", "engine_version": "1", "param_hash": "p", "options": {"min_score": 10 + n},
            "terms_snapshot": snapshot, "terms_snapshot_at": "2026-11-23T00:00:00+00:00", "summary": None,
        })
    # Same creation second: the later one is newer (insertion order breaks the tie, on both stores).
    assert [s["scan_id"] for s in store.list_scans()] == ["s-2", "s-1"]
    assert store.find_resumable_scan(source_spec="/data/set", engine="e", engine_version="1", param_hash="p")["scan_id"] == "s-2"
    assert store.get_scan("s-1")["terms_snapshot"] == snapshot
    finding = {"work_id": w.work_id, "score": 20.0, "confidence": 0.99, "query_start_s": 1.0, "query_end_s": 9.5,
               "work_start_s": 11.0, "work_end_s": 19.5, "speed": 1.0, "pitch_shift_semitones": 0.0}
    items = [
        {"seq": 0, "item_id": "a.wav", "name": "a.wav", "decision": "refused", "duration_s": 10.0, "covered_s": 8.5,
         "sha256": "aa", "bytes": 1000, "findings": [finding], "signals": {"robots": "deny"}},
        {"seq": 1, "item_id": "b.wav", "name": "b.wav", "decision": "unknown", "duration_s": 5.0, "sha256": "bb",
         "bytes": 3 * 2**40, "findings": []},
        {"seq": 2, "item_id": "c.bin", "name": "c.bin", "decision": "error", "error": "not audio", "findings": []},
    ]
    assert store.add_scan_items("s-1", items) == 3
    # Storing an item again replaces it (a resumed scan redoes the items in flight).
    assert store.add_scan_items("s-1", [{**items[1], "decision": "allowed", "findings": [finding]}]) == 1
    assert store.done_seqs("s-1") == {0, 1, 2}
    got = list(store.iter_scan_items("s-1"))
    assert [i["decision"] for i in got] == ["refused", "allowed", "error"]
    assert got[0]["findings"] == [finding] and got[0]["signals"] == {"robots": "deny"} and got[1]["bytes"] == 3 * 2**40
    assert [i["seq"] for i in store.iter_scan_items("s-1", decisions=["error"])] == [2]
    totals = store.scan_totals("s-1")
    assert (totals["items"], totals["refused"], totals["error"], totals["bytes"]) == (3, 1, 1, 1000 + 3 * 2**40)
    assert isinstance(totals["bytes"], int) and isinstance(totals["audio_s"], float)
    assert list(store.scan_findings_by_work("s-1")) == [(w.work_id, 0, 1.0, 9.5), (w.work_id, 1, 1.0, 9.5)]
    assert list(store.scan_coverages("s-1")) == [0.85, 0.0]
    assert store.scan_error_reasons("s-1") == {"count": 1, "by_reason": {"not audio": 1},
                                               "examples": [{"item_id": "c.bin", "error": "not audio"}]}
    assert list(store.iter_item_signals("s-1")) == [("a.wav", "refused", {"robots": "deny"})]
    assert store.scan_item_ids("s-1", decisions=["refused", "allowed"]) == {"a.wav", "b.wav"}
    store.add_scan_items("s-2", [{**items[0], "decision": "allowed"}])
    diff = store.compare_scan_items("s-1", "s-2")
    assert diff == {"changed": [{"item_id": "a.wav", "old": "refused", "new": "allowed"}], "only_old": 2, "only_new": 0}
    store.update_scan("s-1", status="complete", finished_at="2026-11-23T01:00:00+00:00", summary={"ok": True})
    assert store.get_scan("s-1")["summary"] == {"ok": True}
    with pytest.raises(ScanNotFoundError, match="ambiguous"):
        _ambiguous(store)
    with pytest.raises(ScanNotFoundError, match="no scan"):
        store.get_scan("s-2%")
    store.append_ledger([{"n": i} for i in range(3)], recorded_at="2026-11-23T00:00:00+00:00")
    assert store.ledger_tail()[0] == 3 and store.ledger_head().startswith("3:")


def _ambiguous(store):
    # Both scans start with "s-" and the prefix is long enough to be tried as one.
    store.create_scan({
        "scan_id": "s-20261123-aaaa", "created_at": "2026-11-23T00:00:00+00:00", "finished_at": None,
        "status": "running", "source_spec": "x", "source_kind": "folder", "source_name": "x",
        "dataset_fingerprint": None, "engine": "e", "engine_version": "1", "param_hash": "p", "options": {},
        "terms_snapshot": {}, "terms_snapshot_at": "2026", "summary": None})
    store.create_scan({
        "scan_id": "s-20261123-aaab", "created_at": "2026-11-23T00:00:00+00:00", "finished_at": None,
        "status": "running", "source_spec": "x", "source_kind": "folder", "source_name": "x",
        "dataset_fingerprint": None, "engine": "e", "engine_version": "1", "param_hash": "p", "options": {},
        "terms_snapshot": {}, "terms_snapshot_at": "2026", "summary": None})
    return store.get_scan("s-20261123-aaa")


def test_voices_and_melodies(store_factory):
    store = store_factory()
    a, b = store.add_works([batch_entry(1), batch_entry(2)])
    vec = np.linspace(-1, 1, 256).astype(np.float32)
    v1, new1 = store.add_voice(creator="Ana Lima", engine="v1", vector=vec, source_name="a.wav", source_sha256="a" * 64,
                               source="/x/a.wav", duration_s=3.0, speech_s=2.5, enrolled_at="2026")
    again, new2 = store.add_voice(creator="Ana Lima", engine="v1", vector=vec * 0, source_name="a.wav",
                                  source_sha256="a" * 64, source=None, duration_s=3.0, speech_s=2.5, enrolled_at="2027")
    assert (new1, new2) == (True, False) and again.voice_id == v1.voice_id
    store.add_voice(creator="Bea", engine="v2", vector=vec[::-1], source_name="b.wav", source_sha256="b" * 64,
                    source=None, duration_s=4.0, speech_s=4.0, enrolled_at="2026")
    voices = store.list_voices()
    assert [v.creator for v in voices] == ["Ana Lima", "Bea"]
    assert voices[0].vector.dtype == np.float32 and np.array_equal(voices[0].vector, vec)
    assert [v.engine for v in store.list_voices(engine="v2")] == ["v2"]
    store.put_work_melodies([(a.work_id, "m1", "[[0,1,60,0.5]]"), (b.work_id, "m1", "[]")], computed_at="2026")
    store.put_work_melodies([(a.work_id, "m1", "[[0,2,62,0.5]]")], computed_at="2027")
    assert store.work_melodies(engine="m1") == {a.work_id: [[0, 2, 62, 0.5]], b.work_id: []}
    store.remove_work(b.work_id)
    assert store.work_melodies(engine="m1") == {a.work_id: [[0, 2, 62, 0.5]]}
    assert store.works_without_melody(engine="m1") == []
    assert store.works_without_melody(engine="m2") == [a.work_id]


def test_odd_text_round_trips(store_factory):
    store = store_factory()
    odd = ["'; DROP TABLE works; --", "50% off ? %s %(x)s", "emoji 🎵 and ünïcödé", "back\\slash", "tab\there", "x" * 100_000,
           "right-to-left \u202e", "$consentry$"]
    entries = []
    for i, title in enumerate(odd):
        w, k, v = batch_entry(10 + i)
        entries.append((replace(w, title=title, creator=title[:50]), k, v))
    store.add_works(entries)
    assert [w.title for w in store.list_works()] == odd
    store.close()
    assert [w.title for w in store_factory().list_works()] == odd


def test_text_with_nul_is_refused_without_damage(store_factory):
    store = store_factory()
    store.add_works([batch_entry(1)])
    w, k, v = batch_entry(2)
    try:
        store.add_works([(replace(w, title="bad\x00title"), k, v)])
    except Exception as exc:  # PostgreSQL cannot store NUL in text: a one-line input error
        assert store_factory.backend == "postgres"
        assert "NUL" in str(exc) and "\n" not in str(exc)
        assert "bad" in str(exc)
    else:
        assert store_factory.backend == "sqlite"
    titles = [x.title for x in store.list_works()]
    assert titles[0] == "Work 1" and len(titles) == (2 if store_factory.backend == "sqlite" else 1)
    assert len(segments(store)) == len(titles)


def test_snapshots_nest_and_transactions_do_not(store_factory):
    store = store_factory()
    with store.snapshot():
        with store.snapshot():
            assert store.list_works() == []
        assert store._conn.in_transaction
    assert not store._conn.in_transaction
    with pytest.raises(sqlite3.OperationalError):
        with store.snapshot():
            with store.transaction():
                pass
    assert not store._conn.in_transaction
    store.add_works([batch_entry(1)])
    assert len(store.list_works()) == 1


def _slow_writer(factory_args, n_batches):
    backend, folder, url = factory_args
    if backend == "sqlite":
        store = SQLiteStore.open(url)
    else:
        from consentry.store.postgres import PostgresStore

        store = PostgresStore.open(url, cache_dir=folder + "/writer-cache", local_base=folder + "/home")
    for i in range(n_batches):
        store.add_works([batch_entry(100 + i, n=20000)])
        time.sleep(0.02)
    store.close()


def test_reader_during_writer(store_factory):
    store = store_factory()
    store.add_works([batch_entry(1)])
    args = (store_factory.backend, str(store_factory.folder), store_factory.spec())
    writer = mp.get_context("spawn").Process(target=_slow_writer, args=(args, 15))
    writer.start()
    seen = []
    try:
        while writer.is_alive():
            with store.snapshot():
                works = store.list_works()
                segs = segments(store)
            # Every committed work has its segment; nothing half-written is visible.
            assert len(segs) == len(works)
            total = sum(len(s) for s in segs)
            assert total == 100 + 20000 * (len(works) - 1)
            seen.append(len(works))
            time.sleep(0.01)
    finally:
        writer.join(60)
    assert writer.exitcode == 0
    assert len(store.list_works()) == 16
    assert len(set(seen)) > 1, "the reader should have seen the registry grow"


# -- pure --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 7, 1000, 100_000])
def test_directory_ranges_agree_with_binary_search(n):
    rng = np.random.default_rng(n)
    keys = np.sort(rng.integers(0, 2**28, n).astype(np.uint32))
    if n > 10:
        keys[n // 2: n // 2 + 5] = keys[n // 2]  # a run of equal keys
    directory, shift = build_directory(keys)
    seg = IndexSegment(keys, np.arange(n, dtype=np.uint64), directory, shift)
    lo = np.concatenate([rng.integers(0, 2**28, 500), keys[:50].astype(np.int64), [0, 2**28 - 1]]).astype(np.uint32)
    hi = (lo.astype(np.int64) + rng.integers(0, 3, lo.size)).astype(np.uint32)
    start, stop = seg.find_ranges(lo, hi)
    assert np.array_equal(start, np.searchsorted(keys, lo, side="left"))
    assert np.array_equal(stop, np.searchsorted(keys, hi, side="right"))


@pytest.mark.parametrize("n", [1, 50, 5000, 200_000])
@pytest.mark.parametrize("at_once", [None, 97])
def test_point_lookups_agree_with_binary_search_in_small_and_crowded_buckets(n, at_once, monkeypatch):
    # Engine version 2 looks up points (lo == hi); a common key makes a bucket far larger than
    # SMALL_BUCKET (searched by bisection), the others are read whole. Targets sorted or not,
    # repeated, below the first key, above the last; also taken a few at a time (a long query).
    from consentry.store import segments as segments_module
    from consentry.store.segments import SMALL_BUCKET

    if at_once:
        monkeypatch.setattr(segments_module, "MAX_TARGETS_AT_ONCE", at_once)

    rng = np.random.default_rng(n + 1)
    keys = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    common = keys[: max(1, n // 3)].copy()
    keys = np.sort(np.concatenate([keys, np.repeat(common[:3], 3 * SMALL_BUCKET)]))
    directory, shift = build_directory(keys)
    assert np.diff(directory).max() > SMALL_BUCKET
    seg = IndexSegment(keys, np.arange(keys.size, dtype=np.uint64), directory, shift)
    targets = np.concatenate([keys[rng.integers(0, keys.size, 300)], rng.integers(0, 2**32, 300, dtype=np.uint64)
                              .astype(np.uint32), np.array([0, 2**32 - 1, keys[0], keys[-1]], np.uint32)])
    for t in (targets, np.sort(targets)):
        start, stop = seg.find_ranges(t, t)
        assert np.array_equal(start, np.searchsorted(keys, t, side="left"))
        assert np.array_equal(stop, np.searchsorted(keys, t, side="right"))
        start, stop = seg.find_ranges(t, t.copy())  # equal arrays, not the same object
        assert np.array_equal(stop - start, np.searchsorted(keys, t, side="right") - np.searchsorted(keys, t))


@pytest.mark.parametrize("n", [0, 1, 5000, 200_000])
def test_point_runs_are_the_same_before_and_after_the_presence_bitmap(n):
    # find_points gives each present key its run and every absent key an empty one, by the bucket search
    # on its first calls and through the presence bitmap from PRESENCE_AFTER_CALLS on.
    from consentry.store.segments import PRESENCE_AFTER_CALLS, presence_bitmap

    rng = np.random.default_rng(n + 7)
    keys = np.sort(np.concatenate([rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32),
                                   np.repeat(np.uint32(2**32 - 1), min(n, 3))]))
    directory, shift = build_directory(keys)
    seg = IndexSegment(keys, np.arange(keys.size, dtype=np.uint64), directory, shift)
    present = keys[rng.integers(0, keys.size, 200)] if n else np.zeros(0, np.uint32)
    targets = np.concatenate([present, rng.integers(0, 2**32, 2000, dtype=np.uint64).astype(np.uint32),
                              np.array([0, 2**32 - 1], np.uint32)])
    want = np.searchsorted(keys, targets, side="right") - np.searchsorted(keys, targets, side="left")
    for call in range(1, PRESENCE_AFTER_CALLS + 2):
        start, stop = seg.find_points(targets)
        assert np.array_equal(stop - start, want), call
        there = want > 0
        assert np.array_equal(start[there], np.searchsorted(keys, targets[there], side="left")), call
    assert ("bitmap" in seg._points) == (n > 0)
    if n:
        bitmap, bshift = presence_bitmap(keys)
        bit = keys.astype(np.int64) >> bshift
        assert ((bitmap[bit >> 3] >> (bit & 7).astype(np.uint8)) & 1).all()  # every key's bit is set
        assert np.unpackbits(bitmap).sum() == np.unique(bit).size  # and no other
