"""One bounded HTTP(S) GET, shared by manifest downloads and signal verification.

:func:`bounded_get` follows redirects and yields the final response under
hard limits: one deadline for the whole request (connection, every redirect,
headers and body together, enforced by a watchdog that shuts the socket, so
a server that trickles bytes cannot stretch it), at most ``max_redirects``
redirects and none in a loop, only ``http`` and ``https`` (also for redirect
targets), no proxies. Every failure is an :class:`HttpFailure` whose message
is one line. Callers decide what a status or a body means:
:mod:`consentry.io.sources.fetch` (a dataset item) and
:mod:`consentry.services.verify.fetch` (a signal document).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote, urljoin, urlsplit

__all__ = ["HttpFailure", "HttpResponse", "bounded_get", "one_line"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Bytes asked of the socket per read.
_READ_BYTES = 64 * 1024
#: Characters left as they are when a URL's path is made ASCII.
_SAFE_URL_CHARS = "/%:@!$&'()*+,;=~-._?#[]"


class HttpFailure(Exception):
    """The request failed; ``str()`` is one line saying why.

    ``url`` is the URL being requested when a request failed (after any
    redirects), set by :func:`bounded_get`; ``None`` for a refused redirect.
    """

    url: str | None = None


def one_line(text: str) -> str:
    return " ".join(str(text).split())


class HttpResponse:
    """The final (non-redirect) response of :func:`bounded_get`; valid inside its ``with`` block."""

    def __init__(self, response: http.client.HTTPResponse, clock: "_Clock", final_url: str):
        self._response = response
        self._clock = clock
        self.status: int = response.status
        self.reason: str = response.reason or ""
        self.final_url = final_url

    def getheader(self, name: str) -> str | None:
        return self._response.getheader(name)

    def getheaders(self) -> list[tuple[str, str]]:
        return self._response.getheaders()

    def read(self, max_bytes: int) -> tuple[bytes, bool]:
        """The body, at most ``max_bytes`` of it, and whether it went on past that.

        Reads at most ``max_bytes + 1`` bytes, within the deadline.
        """
        chunks: list[bytes] = []
        received = 0
        while received <= max_bytes:
            self._clock.bound_next_operation()
            chunk = self._response.read1(min(_READ_BYTES, max_bytes + 1 - received))
            self._clock.check()
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        body = b"".join(chunks)
        return body[:max_bytes], received > max_bytes


class _Clock:
    """The request's deadline and the connection it bounds."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.expired = threading.Event()
        self.connection: http.client.HTTPConnection | None = None

    def timed_out(self) -> HttpFailure:
        return HttpFailure(f"timed out after {self.timeout_s:g} s")

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out()
        return left

    def check(self) -> None:
        if self.expired.is_set():
            raise self.timed_out()

    def bound_next_operation(self) -> None:
        left = self.remaining()
        if self.connection is not None and self.connection.sock is not None:
            self.connection.sock.settimeout(left)

    def abort(self) -> None:
        # The deadline passed: wake any blocked read by shutting the socket.
        self.expired.set()
        sock = self.connection.sock if self.connection is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@contextmanager
def bounded_get(url: str, *, timeout_s: float, max_redirects: int, user_agent: str) -> Iterator[HttpResponse]:
    """GET ``url``, following redirects, and yield the final response (see the module docstring).

    Errors raised while the caller reads the response inside the ``with``
    block become :class:`HttpFailure` too. To refuse a response, the caller
    raises :class:`HttpFailure` itself; it passes through as it is, or as
    "timed out" when the deadline has passed meanwhile.
    """
    clock = _Clock(timeout_s)
    seen = {url}
    current = url
    for _ in range(max_redirects + 1):
        try:
            location = yield from _one_hop(current, clock, user_agent)
        except HttpFailure as exc:
            exc.url = current
            raise
        if location is None:
            return
        try:
            redirect = urljoin(current, location)
            redirect_scheme = urlsplit(redirect).scheme.lower()
        except ValueError:
            raise HttpFailure(f"redirected to an invalid URL ({one_line(location)[:200]})") from None
        if redirect_scheme not in ("http", "https"):
            raise HttpFailure(f"redirected to a URL that is not http or https ({one_line(redirect)[:200]})")
        if redirect in seen:
            raise HttpFailure(f"redirect loop (back to {one_line(redirect)[:200]})")
        seen.add(redirect)
        current = redirect
    raise HttpFailure(f"more than {max_redirects} redirects")


def _one_hop(url: str, clock: _Clock, user_agent: str):
    """One request: yields the response if it is final (and returns None), else returns the ``Location``."""
    host, port, scheme, target = _parse(url)
    try:
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=clock.remaining(),
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(host, port, timeout=clock.remaining())
    except (http.client.InvalidURL, ValueError) as exc:
        raise HttpFailure(one_line(f"not a valid URL ({exc})")[:300]) from None
    clock.connection = connection
    watchdog = threading.Timer(clock.remaining(), clock.abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("GET", target, headers={
            "User-Agent": user_agent, "Accept-Encoding": "identity", "Connection": "close"})
        clock.bound_next_operation()
        response = connection.getresponse()
        if response.status in _REDIRECT_STATUSES and response.getheader("Location"):
            return response.getheader("Location").strip()
        yield HttpResponse(response, clock, url)
        return None
    except HttpFailure:
        if clock.expired.is_set():
            raise clock.timed_out() from None
        raise
    except Exception as exc:
        if clock.expired.is_set() or time.monotonic() >= clock.deadline or isinstance(
                exc, (socket.timeout, TimeoutError)):
            raise clock.timed_out() from None
        raise HttpFailure(_describe(exc, host=host, port=port or (443 if scheme == "https" else 80))) from None
    finally:
        watchdog.cancel()
        connection.close()


def _parse(url: str) -> tuple[str, int | None, str, str]:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise HttpFailure(one_line(f"not a valid URL ({exc})")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise HttpFailure(f"only http and https URLs are supported, not '{scheme}'")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise HttpFailure("the URL has an invalid port") from None
    if not host:
        raise HttpFailure("the URL names no host")
    target = quote(parts.path or "/", safe=_SAFE_URL_CHARS)
    if parts.query:
        target += "?" + quote(parts.query, safe=_SAFE_URL_CHARS)
    return host, port, scheme, target


def _describe(exc: BaseException, *, host: str, port: int) -> str:
    """One line for a network or protocol failure."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host '{host}'"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return one_line(f"TLS certificate of {host} not trusted ({exc.verify_message})")
    if isinstance(exc, ssl.SSLError):
        return one_line(f"TLS error with {host} ({exc.reason or exc})")
    if isinstance(exc, http.client.IncompleteRead):
        return "response ended early"
    if isinstance(exc, http.client.HTTPException):
        return one_line(f"bad HTTP response from {host} ({type(exc).__name__}: {exc})")[:300]
    if isinstance(exc, UnicodeError):
        return f"cannot encode host or path of the URL ({exc.reason if hasattr(exc, 'reason') else exc})"
    if isinstance(exc, OSError):
        return one_line(f"network error with {host}:{port} ({exc.strerror or exc})")
    return one_line(f"request failed ({type(exc).__name__}: {exc})")[:300]
