"""Downloading the ``http(s)`` URLs a manifest lists, safely and in order.

:func:`fetch_url` downloads one URL with the standard library
(:mod:`http.client`) under hard limits: one deadline for the whole request
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
import http.client
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator
from urllib.parse import quote, urljoin, urlsplit

from .items import DatasetItem, format_bytes

__all__ = ["FetchOptions", "FetchError", "FetchJob", "fetch_url", "fetch_in_order"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Bytes asked of the socket per read.
_READ_BYTES = 64 * 1024
#: Extra time (s) the reader waits for a worker beyond its deadline before it
#: gives up on it (a DNS lookup cannot be interrupted).
_GRACE_S = 10.0
#: Characters left as they are when a URL's path is made ASCII.
_SAFE_URL_CHARS = "/%:@!$&'()*+,;=~-._?#[]"


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
    deadline = time.monotonic() + options.timeout_s
    seen = {url}
    current = url
    for _ in range(options.max_redirects + 1):
        location = _get(current, options=options, deadline=deadline)
        if isinstance(location, bytes):
            return location
        try:
            target = urljoin(current, location)
            scheme = urlsplit(target).scheme.lower()
        except ValueError:
            raise FetchError(f"redirected to an invalid URL ({_one_line(location)[:200]})") from None
        if scheme not in ("http", "https"):
            raise FetchError(f"redirected to a URL that is not http or https ({_one_line(target)[:200]})")
        if target in seen:
            raise FetchError(f"redirect loop (back to {_one_line(target)[:200]})")
        seen.add(target)
        current = target
    raise FetchError(f"more than {options.max_redirects} redirects")


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


def _get(url: str, *, options: FetchOptions, deadline: float) -> bytes | str:
    """One GET: the body (bytes) of a 2xx answer, or the ``Location`` (str) of a redirect."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError(_one_line(f"not a valid URL ({exc})")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs can be downloaded, not '{scheme}'")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise FetchError("the URL has an invalid port") from None
    if not host:
        raise FetchError("the URL names no host")
    target = quote(parts.path or "/", safe=_SAFE_URL_CHARS) + (f"?{quote(parts.query, safe=_SAFE_URL_CHARS)}"
                                                              if parts.query else "")
    remaining = _remaining(deadline, options)
    try:
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=remaining,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(host, port, timeout=remaining)
    except (http.client.InvalidURL, ValueError) as exc:
        raise FetchError(_one_line(f"not a valid URL ({exc})")[:300]) from None
    expired = threading.Event()

    def abort() -> None:
        # The deadline passed: wake any blocked read by shutting the socket.
        expired.set()
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(remaining, abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("GET", target, headers={
            "User-Agent": options.user_agent, "Accept-Encoding": "identity", "Connection": "close"})
        _set_timeout(connection, deadline, options)
        response = connection.getresponse()
        if response.status in _REDIRECT_STATUSES and response.getheader("Location"):
            return response.getheader("Location").strip()
        if not 200 <= response.status < 300:
            raise FetchError(_one_line(f"HTTP {response.status} {response.reason}".strip()))
        return _read_body(response, connection, options=options, deadline=deadline, expired=expired)
    except FetchError:
        if expired.is_set():
            raise FetchError(f"timed out after {options.timeout_s:g} s") from None
        raise
    except Exception as exc:
        if expired.is_set() or time.monotonic() >= deadline or isinstance(exc, (socket.timeout, TimeoutError)):
            raise FetchError(f"timed out after {options.timeout_s:g} s") from None
        raise FetchError(_describe(exc, host=host, port=port or (443 if scheme == "https" else 80))) from None
    finally:
        watchdog.cancel()
        connection.close()


def _read_body(response: http.client.HTTPResponse, connection: http.client.HTTPConnection, *,
               options: FetchOptions, deadline: float, expired: threading.Event) -> bytes:
    """The body, stopping at the deadline or past the size cap."""
    declared = response.getheader("Content-Length")
    declared_size = int(declared) if declared and declared.strip().isdigit() else None
    if declared_size is not None and declared_size > options.max_bytes:
        raise FetchError(f"response is {format_bytes(declared_size)}, over the {format_bytes(options.max_bytes)} "
                         "download limit; not downloaded")
    chunks: list[bytes] = []
    received = 0
    while True:
        _set_timeout(connection, deadline, options)
        chunk = response.read1(_READ_BYTES)
        if expired.is_set():
            raise FetchError(f"timed out after {options.timeout_s:g} s")
        if not chunk:
            break
        received += len(chunk)
        if received > options.max_bytes:
            raise FetchError(f"response is larger than the {format_bytes(options.max_bytes)} download limit; "
                             "stopped reading")
        chunks.append(chunk)
    if declared_size is not None and received < declared_size:
        raise FetchError(f"response ended early ({received} of {declared_size} bytes)")
    return b"".join(chunks)


def _remaining(deadline: float, options: FetchOptions) -> float:
    """Seconds left before the deadline; a :class:`FetchError` when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(f"timed out after {options.timeout_s:g} s")
    return left


def _set_timeout(connection: http.client.HTTPConnection, deadline: float, options: FetchOptions) -> None:
    """Bound the next socket operation by the time left."""
    left = _remaining(deadline, options)
    if connection.sock is not None:
        connection.sock.settimeout(left)


def _describe(exc: BaseException, *, host: str, port: int) -> str:
    """One line for a network or protocol failure."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host '{host}'"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _one_line(f"TLS certificate of {host} not trusted ({exc.verify_message})")
    if isinstance(exc, ssl.SSLError):
        return _one_line(f"TLS error with {host} ({exc.reason or exc})")
    if isinstance(exc, http.client.IncompleteRead):
        return "response ended early"
    if isinstance(exc, http.client.HTTPException):
        return _one_line(f"bad HTTP response from {host} ({type(exc).__name__}: {exc})")[:300]
    if isinstance(exc, UnicodeError):
        return f"cannot encode host or path of the URL ({exc.reason if hasattr(exc, 'reason') else exc})"
    if isinstance(exc, OSError):
        return _one_line(f"network error with {host}:{port} ({exc.strerror or exc})")
    return _one_line(f"download failed ({type(exc).__name__}: {exc})")[:300]


def _one_line(text: str) -> str:
    """``text`` with line breaks replaced by spaces."""
    return " ".join(text.split())
