"""SQLite store: the embedded default.

Layout on disk, for a registry ``NAME`` (default ``consentry.db``):

- ``NAME``: the SQLite database (WAL mode): works, terms, index segments,
  schema version (see ``MIGRATIONS``);
- ``NAME.index/``: the fingerprint index, as immutable segments
  ``seg-<hex>.{keys,values,dir}.npy`` (see :mod:`consentry.store.segments`),
  memory-mapped by readers.  A segment exists for readers only once its row is committed in
  ``index_segments``; files without a row (left by a crash) are deleted by the
  next writer;
- ``NAME.lock``: taken (``flock``) by the one writer at a time.

A registration batch writes its segment files first, then inserts the works,
their terms and the segment row in one transaction: a crash at any point
leaves either the whole batch or nothing.  The queries themselves are shared
with the PostgreSQL store (:mod:`consentry.store.sqlbase`).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from consentry.io import heldfiles
from consentry.domain.errors import NotARegistryError, RegistryError
from consentry.store.schema import MIGRATIONS, SCHEMA_VERSION  # noqa: F401  (re-exported)
from consentry.store.segments import build_directory
from consentry.store.sqlbase import MAGIC, SQLStore, training_only, utc_now  # noqa: F401  (re-exported)

__all__ = ["MAGIC", "MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore", "training_only", "utc_now"]


def _statements(script: str) -> Iterator[str]:
    """Split an SQL script into complete statements (trigger bodies hold semicolons)."""
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                yield buf.strip()
            buf = ""
    if buf.strip(" \n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buf[:60]!r}")


@dataclass(frozen=True)
class _SegmentFiles:
    """A segment whose files are written but not yet committed."""

    stem: str
    shift: int


class SQLiteStore(SQLStore):
    """Works, terms and the index of one registry file.

    Open with :meth:`open`; many processes may read while one registers.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        super().__init__()
        self.path = path
        self.index_dir = Path(str(path) + ".index")
        self.lock_path = Path(str(path) + ".lock")
        self._conn = conn
        self._held = True
        heldfiles.hold(path)

    @property
    def location(self) -> str:
        """The registry file, as given (what messages show)."""
        return str(self.path)

    @property
    def spec(self) -> str:
        """What :meth:`consentry.services.registry.Registry.open` needs to open this registry again."""
        return str(self.path)

    @property
    def local_dir(self) -> Path:
        """The folder that holds the registry file (local files such as the evidence signing key go here)."""
        return self.path.resolve().parent

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, *, create: bool = True) -> "SQLiteStore":
        """Open (and create or migrate, under the writer lock) a registry."""
        p = Path(path).expanduser()
        if p.is_dir():
            raise NotARegistryError(f"{p}: is a folder; give a registry file such as {p / 'consentry.db'}")
        exists = p.exists() and p.stat().st_size > 0
        if not exists and not create:
            raise RegistryError(f"{p}: no registry here; register works first to create one")
        if not exists and not p.parent.exists():
            raise RegistryError(f"{p}: folder {p.parent} does not exist")
        # The file is never opened with a plain handle: closing one would drop the POSIX locks
        # that this process's other connections to it hold (see consentry.io.heldfiles).  SQLite
        # itself says whether it is a database: reading its schema fails otherwise.
        try:
            conn = sqlite3.connect(p, timeout=30.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise NotARegistryError(f"{p}: cannot be opened as a registry ({exc})") from None
        try:
            if exists:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise NotARegistryError(f"{p}: not a Consentry registry (not an SQLite database); name another file with --registry") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise NotARegistryError(f"{p}: cannot be opened as a registry ({exc})") from None
        store = cls(p, conn)
        try:
            store._check_or_migrate()
        except sqlite3.DatabaseError as exc:
            store.close()
            raise NotARegistryError(f"{p}: damaged or not a registry ({exc})") from None
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        """Close the connection (and stop counting it among this process's holders of the file)."""
        try:
            super().close()
        finally:
            if self._held:
                self._held = False
                heldfiles.release(self.path)

    def _schema_version(self) -> int | None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return self._require_registry_tables(tables, "an SQLite database")

    def _apply_migration(self, version: int) -> None:
        for statement in _statements(MIGRATIONS[version]):
            self._conn.execute(statement)

    # -- transactions and locking -------------------------------------------
    def _begin_write(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def _begin_snapshot(self) -> None:
        self._conn.execute("BEGIN DEFERRED")

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def _rollback(self) -> None:
        self._conn.execute("ROLLBACK")

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the registry's writer lock (blocks while another writer works)."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # -- index segments: .npy files beside the database ---------------------------
    def new_segment_stem(self) -> str:
        """A fresh segment stem; its files only count once the segment is committed."""
        self.index_dir.mkdir(exist_ok=True)
        return "seg-" + uuid.uuid4().hex[:16]

    @staticmethod
    def _save_array(final: Path, arr: np.ndarray) -> None:
        tmp = final.with_name(final.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)

    def _write_segment(self, keys: np.ndarray, values: np.ndarray) -> _SegmentFiles:
        """Write a segment's files (keys sorted); they count once its row commits."""
        stem = self.new_segment_stem()
        keys = keys.astype(np.uint32)
        directory, shift = build_directory(keys)
        self._save_array(self.index_dir / f"{stem}.keys.npy", keys)
        self._save_array(self.index_dir / f"{stem}.values.npy", values.astype(np.uint64))
        self._save_array(self.index_dir / f"{stem}.dir.npy", directory)
        return _SegmentFiles(stem, shift)

    def adopt_segment(self, stem: str, *, engine: str, engine_version: str, param_hash: str) -> None:
        """Commit a segment whose ``STEM.keys.npy`` (sorted) and ``STEM.values.npy`` were written
        into :attr:`index_dir` by the caller (for indexes too large to sort in memory)."""
        with self.writer_lock():
            keys = np.load(self.index_dir / f"{stem}.keys.npy", mmap_mode="r", allow_pickle=False)
            directory, shift = build_directory(keys)
            self._save_array(self.index_dir / f"{stem}.dir.npy", directory)
            with self.transaction() as c:
                self._insert_segment(c, _SegmentFiles(stem, shift), int(keys.shape[0]), engine, engine_version, param_hash)

    def _segment_arrays(self, stem: str, n_entries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        def load(suffix: str) -> np.ndarray:
            return np.load(self.index_dir / f"{stem}.{suffix}.npy", mmap_mode="r", allow_pickle=False)

        return load("keys"), load("values"), load("dir")

    def _segment_name(self, stem: str) -> str:
        return str(self.index_dir / stem) if stem else str(self.index_dir)

    def _before_write(self) -> None:
        """Delete segment files that no committed row names (called under the writer lock)."""
        if not self.index_dir.exists():
            return
        known = {r[0] for r in self._segment_rows()}
        for f in self.index_dir.iterdir():
            stem = f.name.split(".", 1)[0]
            if f.name.startswith("seg-") and stem not in known:
                f.unlink(missing_ok=True)

    def _after_segments_dropped(self, stems: Sequence[str]) -> None:
        for stem in stems:
            for suffix in (".keys.npy", ".values.npy", ".dir.npy"):
                (self.index_dir / f"{stem}{suffix}").unlink(missing_ok=True)

    def integrity_problem(self) -> str | None:
        """SQLite's ``PRAGMA integrity_check``: ``None`` when the database is sound, else its first complaint."""
        answer = self._conn.execute("PRAGMA integrity_check").fetchone()[0]
        return None if answer == "ok" else str(answer)

    def backup_to(self, dest: str | os.PathLike) -> dict:
        """Copy the registry, consistently, while other processes keep using it.

        The database is copied with SQLite's online backup (never with a plain
        file copy, which could miss what the WAL holds and, in this process,
        would drop SQLite's locks; see :mod:`consentry.io.heldfiles`); the index
        segments that the copied rows name are linked, or copied where links
        cannot be made, into ``DEST.index/``.  The writer lock is held
        meanwhile, so no segment named by the copy is dropped under it.  The
        copy is written as ``DEST.part`` and renamed into place once complete.

        Returns ``{"registry": str, "segments": int, "bytes": int}``.

        Raises
        ------
        InputError
            If ``dest`` (or ``DEST.index``) exists, or is this registry.
        """
        import shutil

        from consentry.domain.errors import InputError

        target = Path(dest).expanduser().absolute()
        index = Path(str(target) + ".index")
        if target.exists() or index.exists():
            raise InputError(f"{target}: already exists; give a new file name for the backup")
        if not target.parent.is_dir():
            raise InputError(f"{target}: folder {target.parent} does not exist")
        part = target.with_name(target.name + ".part")
        part.unlink(missing_ok=True)
        with self.writer_lock():
            copy = sqlite3.connect(part)
            try:
                self._conn.backup(copy)
                stems = [r[0] for r in copy.execute("SELECT stem FROM index_segments")]
            finally:
                copy.close()
            index_part = Path(str(part) + ".index")
            shutil.rmtree(index_part, ignore_errors=True)
            index_part.mkdir()
            size = part.stat().st_size
            for stem in stems:
                for suffix in (".keys.npy", ".values.npy", ".dir.npy"):
                    source, copied = self.index_dir / f"{stem}{suffix}", index_part / f"{stem}{suffix}"
                    try:
                        os.link(source, copied)
                    except OSError:
                        shutil.copyfile(source, copied)
                    size += copied.stat().st_size
            os.replace(index_part, index)
            os.replace(part, target)
        return {"registry": str(target), "segments": len(stems), "bytes": size}

    def _storage_bytes(self) -> tuple[int, int]:
        index_bytes = sum(f.stat().st_size for f in self.index_dir.glob("seg-*.npy")) if self.index_dir.exists() else 0
        db_bytes = sum(Path(str(self.path) + s).stat().st_size for s in ("", "-wal") if Path(str(self.path) + s).exists())
        return index_bytes, db_bytes

    def _stats_registry(self) -> str:
        return str(self.path.resolve())
