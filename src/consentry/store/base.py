"""The Store protocol: what the services need from persistent storage.

SQLite (:mod:`consentry.store.sqlite`) is the embedded default; PostgreSQL
(:mod:`consentry.store.postgres`) serves a shared deployment.  Both share
their queries (:mod:`consentry.store.sqlbase`) and pass the same tests
(``tests/store/test_store.py``, run on each backend).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Protocol, Sequence

import numpy as np

from consentry.domain.works import Work
from consentry.store.segments import IndexSegment


class Store(Protocol):
    """Works, their terms, and the fingerprint index segments."""

    #: The registry as messages show it (a path, or a URL with its password masked).
    location: str
    #: What opens the same registry again, e.g. in a worker process (may hold a password: never show it).
    spec: str
    #: This machine's folder for the registry's local files (such as the evidence signing key).
    local_dir: Path

    def close(self) -> None: ...

    # -- works -------------------------------------------------------------
    def find_by_sha256(self, sha256: str) -> Work | None: ...

    def get_work(self, work_id: str) -> Work: ...

    def list_works(self, *, include_removed: bool = False) -> list[Work]: ...

    def works_by_fp_id(self, fp_ids: Iterable[int]) -> dict[int, Work]: ...

    def remove_work(self, work_id: str) -> Work: ...

    def add_works(self, batch: Sequence[tuple[Work, np.ndarray, Callable[[int], np.ndarray]]], *,
                  claims_for: Callable[[list[Work]], Sequence] | None = None) -> list[Work]:
        """Register (work, keys, make_values) triples atomically; the store assigns fp ids.

        ``claims_for(accepted)``, under the writer lock and inside the same
        transaction, returns claims to insert with the works.
        """
        ...

    def removed_fp_ids(self) -> set[int]: ...

    # -- index -------------------------------------------------------------
    def index_segments(self, *, engine: str, engine_version: str, param_hash: str) -> list[IndexSegment]: ...
    def index_segment_stems(self, *, engine: str, engine_version: str, param_hash: str) -> list[tuple[str, int]]: ...

    def compact(self, *, engine: str, engine_version: str, param_hash: str, unpack_fp_id: Callable[[np.ndarray], np.ndarray],
                stems: Sequence[str] | None = None) -> int: ...
    def merge_tiers(self, *, engine: str, engine_version: str, param_hash: str,
                    unpack_fp_id: Callable[[np.ndarray], np.ndarray]) -> int: ...

    def stats(self) -> dict: ...

    def terms_recorded_at(self) -> dict[str, str]: ...

    def change_stamp(self) -> str: ...

    def end_open_transaction(self) -> None: ...
