"""The Store protocol: what the services need from persistent storage.

SQLite (:mod:`consentry.store.sqlite`) is the embedded default.  Another
implementation must pass the same tests (``tests/test_store.py``).
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol, Sequence

import numpy as np

from ..registry.models import Work
from .segments import IndexSegment


class Store(Protocol):
    """Works, their terms, and the fingerprint index segments."""

    def close(self) -> None: ...

    # -- works -------------------------------------------------------------
    def find_by_sha256(self, sha256: str) -> Work | None: ...

    def get_work(self, work_id: str) -> Work: ...

    def list_works(self, *, include_removed: bool = False) -> list[Work]: ...

    def works_by_fp_id(self, fp_ids: Iterable[int]) -> dict[int, Work]: ...

    def remove_work(self, work_id: str) -> Work: ...

    def add_works(self, batch: Sequence[tuple[Work, np.ndarray, Callable[[int], np.ndarray]]]) -> list[Work]:
        """Register (work, keys, make_values) triples atomically; the store assigns fp ids."""
        ...

    def removed_fp_ids(self) -> set[int]: ...

    # -- index -------------------------------------------------------------
    def index_segments(self, *, engine: str, engine_version: str, param_hash: str) -> list[IndexSegment]: ...

    def compact(self, *, engine: str, engine_version: str, param_hash: str, unpack_fp_id: Callable[[np.ndarray], np.ndarray]) -> int: ...

    def stats(self) -> dict: ...
