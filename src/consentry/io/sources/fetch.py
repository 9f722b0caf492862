"""Downloading the ``http(s)`` URLs a manifest lists, safely and in order.

:func:`fetch_url` downloads one URL with :func:`consentry.io.http.bounded_get`
(the standard library's :mod:`http.client`) under hard limits: one deadline for the whole request
(connection, redirects, headers and body together, not per socket read), a
cap on the bytes kept, at most ``max_redirects`` redirects and none in a loop,
and only ``http`` and ``https``.  Every failure is a :class:`FetchError`
whose message is one line.

:func:`fetch_in_order` runs :class:`FetchJob` objects in a small thread pool,
never more than ``max_parallel`` at once, and yields results in input order;
only a fixed window of results is held, so memory does not grow with the
number of rows.

Proxies set in the environment (``HTTPS_PROXY``) are not used.
"""

from __future__ import annotations

import concurrent.futures
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

from consentry.io.http import HttpFailure, bounded_get
from consentry.io.http import one_line as _one_line
from consentry.io.sources.items import DatasetItem, format_bytes

__all__ = ["FetchOptions", "FetchError", "FetchJob", "fetch_url", "fetch_in_order"]

#: Extra time (s) the reader waits for a worker beyond its deadline before it
#: gives up on it (a DNS lookup cannot be interrupted).
_GRACE_S = 10.0


@dataclass(frozen=True)
class FetchOptions:
    """Limits for downloading URLs listed in a manifest.

    Attributes
    ----------
    timeout_s : float, default 30.0
        Deadline for one URL (seconds): connecting, every redirect, the
        headers and the whole body together.  A server that trickles bytes
        cannot stretch it.
    max_bytes : int, default 512 MiB
        Largest body kept (bytes); reading stops at the cap, whether or not
        the server sent (or lied in) a ``Content-Length``.
    max_parallel : int, default 4
        Most requests in flight at once.
    max_redirects : int, default 5
        Most redirects followed for one URL.
    user_agent : str, default "consentry-scan/0.1"
        ``User-Agent`` header sent.
    """

    timeout_s: float = 30.0
    max_bytes: int = 512 * 1024 * 1024
    max_parallel: int = 4
    max_redirects: int = 5
    user_agent: str = "consentry-scan/0.1"

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError("FetchOptions.timeout_s must be > 0")
        if self.max_bytes < 0 or self.max_parallel < 1 or self.max_redirects < 0:
            raise ValueError("FetchOptions: max_bytes >= 0, max_parallel >= 1 and max_redirects >= 0 are required")


class FetchError(Exception):
    """A URL could not be downloaded; ``str()`` is one line saying why."""


@dataclass(frozen=True)
class FetchJob:
    """A URL to download as one dataset item.

    Calling the job downloads the URL and returns the item: its ``data``
    on success, its ``error`` on failure; it never raises.
    """

    item_id: str
    url: str
    options: FetchOptions

    def __call__(self) -> DatasetItem:
        try:
            data = fetch_url(self.url, options=self.options)
        except FetchError as exc:
            return DatasetItem(item_id=self.item_id, name=self.url, error=str(exc))
        except Exception as exc:  # a bug must not stop the scan: report it on the item
            return DatasetItem(item_id=self.item_id, name=self.url, error=_one_line(f"download failed ({exc!r})"))
        return DatasetItem(item_id=self.item_id, name=self.url, data=data, size=len(data))

    def timed_out(self) -> DatasetItem:
        """The item to report when the worker did not come back in time."""
        return DatasetItem(item_id=self.item_id, name=self.url,
                           error=f"timed out after {self.options.timeout_s:g} s")


def fetch_url(url: str, *, options: FetchOptions) -> bytes:
    """Download one ``http`` or ``https`` URL under the limits of ``options``.

    Parameters
    ----------
    url : str
        The URL.
    options : FetchOptions
        Deadline (s), size cap (bytes), redirects, user agent.

    Returns
    -------
    bytes
        The body of the final ``2xx`` response.

    Raises
    ------
    FetchError
        One line: timed out, too large, an HTTP error status, a redirect
        loop or too many redirects, a redirect to another scheme, the host
        not found, the connection refused, a TLS or protocol error.
    """
    try:
        with bounded_get(url, timeout_s=options.timeout_s, max_redirects=options.max_redirects,
                         user_agent=options.user_agent) as response:
            if not 200 <= response.status < 300:
                raise HttpFailure(_one_line(f"HTTP {response.status} {response.reason}".strip()))
            declared = response.getheader("Content-Length")
            declared_size = int(declared) if declared and declared.strip().isdigit() else None
            if declared_size is not None and declared_size > options.max_bytes:
                raise HttpFailure(f"response is {format_bytes(declared_size)}, over the "
                                  f"{format_bytes(options.max_bytes)} download limit; not downloaded")
            body, more = response.read(options.max_bytes)
            if more:
                raise HttpFailure(f"response is larger than the {format_bytes(options.max_bytes)} download limit; "
                                  "stopped reading")
            if declared_size is not None and len(body) < declared_size:
                raise HttpFailure(f"response ended early ({len(body)} of {declared_size} bytes)")
            return body
    except HttpFailure as exc:
        raise FetchError(str(exc)) from None


def fetch_in_order(entries: Iterable[DatasetItem | FetchJob], *, max_parallel: int,
                   timeout_s: float) -> Iterator[DatasetItem]:
    """Yield items in input order, running :class:`FetchJob` entries in parallel.

    Parameters
    ----------
    entries : iterable of DatasetItem or FetchJob
        Read lazily; items pass through, jobs are downloaded.
    max_parallel : int
        Most jobs running at once (and most finished jobs held, waiting for
        their turn).
    timeout_s : float
        Each job's own deadline (s); a job that has not returned
        ``timeout_s`` plus a grace period after the reader started waiting
        for it is reported as timed out.

    Yields
    ------
    DatasetItem
        One per entry, in the order of ``entries``.
    """
    window: deque[tuple[DatasetItem | FetchJob, concurrent.futures.Future | None]] = deque()
    jobs_in_window = 0
    max_window = 16 * max_parallel + 64
    executor: concurrent.futures.ThreadPoolExecutor | None = None

    def pop_head() -> DatasetItem:
        nonlocal jobs_in_window
        entry, future = window.popleft()
        if future is None:
            return entry
        jobs_in_window -= 1
        try:
            return future.result(timeout=timeout_s + _GRACE_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return entry.timed_out()

    def head_ready() -> bool:
        return bool(window) and (window[0][1] is None or window[0][1].done())

    try:
        for entry in entries:
            if isinstance(entry, FetchJob):
                if executor is None:
                    executor = concurrent.futures.ThreadPoolExecutor(
                        max_workers=max_parallel, thread_name_prefix="consentry-fetch")
                while jobs_in_window >= max_parallel:
                    yield pop_head()
                window.append((entry, executor.submit(entry)))
                jobs_in_window += 1
            elif not window:
                yield entry
                continue
            else:
                window.append((entry, None))
            while len(window) > max_window or head_ready():
                yield pop_head()
        while window:
            yield pop_head()
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
