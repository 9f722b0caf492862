"""The SQLite store: schema, atomic batches, segments, readers during a write."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import sqlite3
import time
from dataclasses import replace

import numpy as np
import pytest

from consentry.errors import NotARegistryError, RegistryError, WorkNotFoundError
from consentry.fingerprint.music.postings import pack_postings, unpack_postings
from consentry.registry.models import Terms, Work
from consentry.store.segments import IndexSegment, build_directory
from consentry.store.sqlite import SCHEMA_VERSION, SQLiteStore


def make_work(i: int, terms: Terms = Terms()) -> Work:
    sha = hashlib.sha256(str(i).encode()).hexdigest()
    return Work(
        work_id=sha[:16], fp_id=0, sha256=sha, title=f"Work {i}", creator="Ana Lima", source=f"/music/{i}.wav",
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


def test_add_works_assigns_ids_and_is_idempotent(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
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
    store.close()


def test_terms_are_kept_with_work(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
    w, k, v = batch_entry(5)
    w = replace(w, terms=Terms("license", 12.5, "eur"))
    (added,) = store.add_works([(w, k, v)])
    got = store.get_work(added.work_id)
    assert got.terms == Terms("license", 12.5, "EUR")
    assert got.terms.describe() == "license 12.5 EUR"
    store.close()


def test_failed_batch_leaves_nothing(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
    store.add_works([batch_entry(1)])

    def boom(fp_id):
        raise RuntimeError("worker died")

    w, k, _ = batch_entry(2)
    with pytest.raises(RuntimeError):
        store.add_works([batch_entry(3), (w, k, boom)])
    assert [x.title for x in store.list_works()] == ["Work 1"]
    assert len(segments(store)) == 1
    # The next writer cleans files a crash may have left without a row.
    (store.index_dir / "seg-deadbeefdeadbeef.keys.npy").write_bytes(b"junk")
    store.add_works([batch_entry(4)])
    assert not (store.index_dir / "seg-deadbeefdeadbeef.keys.npy").exists()
    store.close()


def test_get_work_by_prefix_and_missing(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
    (w,) = store.add_works([batch_entry(7)])
    assert store.get_work(w.work_id[:10]).work_id == w.work_id
    with pytest.raises(WorkNotFoundError, match="no work with id"):
        store.get_work("ffff0000")
    store.close()


def test_remove_and_compact(tmp_path):
    store = SQLiteStore.open(tmp_path / "r.db")
    a, b = store.add_works([batch_entry(1)]) + store.add_works([batch_entry(2)])
    store.remove_work(a.work_id)
    assert [w.work_id for w in store.list_works()] == [b.work_id]
    assert store.removed_fp_ids() == {a.fp_id}
    merged = store.compact(engine="e", engine_version="1", param_hash="p", unpack_fp_id=lambda v: unpack_postings(v)[0])
    assert merged == 2
    (seg,) = segments(store)
    keys, values = seg.keys, seg.values
    assert set(unpack_postings(values)[0].tolist()) == {b.fp_id}
    assert len(list(store.index_dir.glob("seg-*.npy"))) == 3
    # Content registered again after removal gets a new record; the old one stays.
    (again,) = store.add_works([batch_entry(1)])
    assert again.work_id == a.work_id + "-2" and again.fp_id > b.fp_id
    assert len(store.list_works(include_removed=True)) == 3
    store.close()


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


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.db"
    SQLiteStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(RegistryError, match="newer Consentry"):
        SQLiteStore.open(path)


def test_missing_registry_without_create(tmp_path):
    with pytest.raises(RegistryError, match="no registry here"):
        SQLiteStore.open(tmp_path / "absent.db", create=False)


def _slow_writer(path, n_batches):
    store = SQLiteStore.open(path)
    for i in range(n_batches):
        store.add_works([batch_entry(100 + i, n=20000)])
        time.sleep(0.02)
    store.close()


def test_reader_during_writer(tmp_path):
    path = tmp_path / "r.db"
    store = SQLiteStore.open(path)
    store.add_works([batch_entry(1)])
    writer = mp.get_context("spawn").Process(target=_slow_writer, args=(str(path), 15))
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
    store.close()


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
