"""The SQLite files this process holds open, so that no reader opens them with a plain handle.

On Linux (and every POSIX system), closing *any* file descriptor of a file
releases every POSIX advisory lock the process holds on that file, including
the locks SQLite takes through its own descriptors.  A process that holds an
SQLite connection and then opens and closes the same database, ``-wal`` or
``-shm`` file with a plain ``open()`` silently loses its locks: another
process then believes it is the last user of the database, checkpoints it and
deletes the WAL while this process still writes to it, and writes are lost or
the file is corrupted (SQLite's "How To Corrupt An SQLite Database File",
section 2.2.1).

Locks belong to the process, so this record is per process too:
:class:`consentry.store.sqlite.SQLiteStore` notes each database it opens
(:func:`hold`) and forgets it on close (:func:`release`), and every reader of a
user-named file asks :func:`held_by_this_process` before it opens the file:
the registry's own files are refused with one line instead of being read.

Files are compared by device and inode (``os.stat``), which never opens them,
so a registry reached through another name or a hard link is still caught.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

#: The files SQLite keeps beside a database in WAL mode.
SIDECAR_SUFFIXES = ("", "-wal", "-shm", "-journal")

_lock = threading.Lock()
_held: Counter[str] = Counter()  # absolute database path -> open connections in this process


def hold(database: str | os.PathLike) -> None:
    """Note that this process holds a connection to ``database`` (call once per connection)."""
    with _lock:
        _held[os.path.abspath(database)] += 1


def release(database: str | os.PathLike) -> None:
    """Note that one connection to ``database`` was closed."""
    key = os.path.abspath(database)
    with _lock:
        if _held[key] <= 1:
            _held.pop(key, None)
        else:
            _held[key] -= 1


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def held_by_this_process(path: str | os.PathLike) -> str | None:
    """The database whose file ``path`` is, if this process holds a connection to it; else ``None``.

    ``path`` is matched against each held database and its ``-wal``,
    ``-shm`` and ``-journal`` files by device and inode; nothing is opened.
    """
    with _lock:
        databases = list(_held)
    if not databases:
        return None
    target = _identity(path)
    if target is None:
        return None
    for database in databases:
        for suffix in SIDECAR_SUFFIXES:
            if _identity(database + suffix) == target:
                return database
    return None


def held_reason(path: str | os.PathLike) -> str | None:
    """Why ``path`` must not be read (a reason without the file's name), or ``None`` when it may be."""
    database = held_by_this_process(path)
    if database is None:
        return None
    return (f"is a file of the registry {database}, which this command has open; "
            "Consentry never reads its own registry as an input (name another file)")


def refuse_held(path: str | os.PathLike, label: str | os.PathLike | None = None) -> None:
    """Raise :class:`~consentry.domain.errors.InputError` if ``path`` is a registry file this process holds.

    ``label`` is the input as the user named it (default: ``path``).
    """
    reason = held_reason(path)
    if reason is not None:
        from consentry.domain.errors import InputError

        raise InputError(f"{label if label is not None else path}: {reason}")
