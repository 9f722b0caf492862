"""Token-bucket rate limits, kept in the server process (per API token, account or client IP)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Buckets of ``burst`` requests refilled at ``rate_per_s``; :meth:`take` says how long to wait (0: go).

    Parameters
    ----------
    max_keys : int
        Buckets kept; the least recently used are forgotten past it (a
        forgotten key starts again with a full bucket).
    """

    def __init__(self, *, max_keys: int = 100_000, clock=time.monotonic) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._clock = clock

    def take(self, key: str, *, rate_per_s: float, burst: float, cost: float = 1.0) -> float:
        """Take ``cost`` from ``key``'s bucket; returns 0.0, or the seconds until the request would be allowed."""
        now = self._clock()
        with self._lock:
            b = self._buckets.pop(key, None)
            if b is None:
                b = _Bucket(tokens=burst, updated=now)
            b.tokens = min(burst, b.tokens + (now - b.updated) * rate_per_s)
            b.updated = now
            self._buckets[key] = b  # most recently used last
            if len(self._buckets) > self._max_keys:
                for old in list(self._buckets)[: len(self._buckets) - self._max_keys]:
                    del self._buckets[old]
            if b.tokens >= cost:
                b.tokens -= cost
                return 0.0
            return (cost - b.tokens) / rate_per_s
