"""Reading signal documents over HTTP(S) or from a published folder, under hard limits.

:func:`fetch_document` makes one GET with :func:`consentry.io.http.bounded_get`
(the standard library's :mod:`http.client`): one deadline for the whole request (connection,
redirects, headers and body together), a cap on the bytes kept (reading stops
at the cap whether or not a ``Content-Length`` was sent; the document is then
marked ``truncated``), at most ``max_redirects`` redirects, none in a loop,
and only ``http`` and ``https``.  It never raises: a failure is a
:class:`Document` with ``error`` set.

Documents are cached per site (scheme, host and port), so verifying many URLs
of one site reads ``robots.txt`` and ``tdmrep.json`` once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from consentry.io.http import HttpFailure, bounded_get
from consentry.io.http import one_line as _one_line

__all__ = ["FetchPolicy", "Document", "fetch_document", "read_file_document", "site_key", "decode_text"]


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for reading signal documents.

    Attributes
    ----------
    timeout_s : float, default 10.0
        Deadline for one document (seconds): connecting, every redirect, the
        headers and the body together.  A server that trickles bytes cannot
        stretch it.
    max_bytes : int, default 2 MiB
        Most bytes kept of one signal document; reading stops there.
    max_redirects : int, default 5
        Most redirects followed for one document.
    cache : dict or None, default None
        Documents already read, per site; pass the same dict to several
        :func:`~consentry.services.verify.verify_target` calls to read each site's
        ``robots.txt`` once.  ``None``: a new cache per call.
    user_agent : str, default "consentry-verify/0.1"
        ``User-Agent`` header sent.
    """

    timeout_s: float = 10.0
    max_bytes: int = 2 * 1024 * 1024
    max_redirects: int = 5
    cache: dict | None = field(default=None, compare=False, hash=False)
    user_agent: str = "consentry-verify/0.1"

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError("FetchPolicy.timeout_s must be > 0")
        if self.max_bytes < 1 or self.max_redirects < 0:
            raise ValueError("FetchPolicy: max_bytes >= 1 and max_redirects >= 0 are required")


@dataclass(frozen=True)
class Document:
    """One signal document as read: status, headers (names lower-case) and body.

    ``status`` is the HTTP status of the final response (200 for a file that
    exists, 404 for one that does not, 0 when nothing was received);
    ``error`` says in one line why it could not be read (``None`` when it
    could); ``truncated`` is true when the body was cut at ``max_bytes``.
    """

    url: str
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    truncated: bool = False
    error: str | None = None
    final_url: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300

    @property
    def absent(self) -> bool:
        """The server or folder says there is no such document (4xx): not a problem."""
        return self.error is None and 400 <= self.status < 500

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    @property
    def content_type(self) -> str:
        values = self.header_values("content-type")
        return values[0].split(";")[0].strip().lower() if values else ""

    def summary(self) -> dict:
        d = {"url": self.url, "status": self.status, "bytes": len(self.body), "truncated": self.truncated}
        if self.error:
            d["error"] = self.error
        if self.final_url and self.final_url != self.url:
            d["final_url"] = self.final_url
        return d


def site_key(url: str) -> str:
    """``scheme://host:port`` of an http(s) URL: the unit the document cache is kept per."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def decode_text(body: bytes, *, charset: str | None = None) -> tuple[str, str | None]:
    """Text of a signal document, and a note when it was not clean UTF-8 (or ``charset``).

    Undecodable bytes become U+FFFD; the note counts them.
    """
    encoding = "utf-8"
    if charset:
        try:
            "".encode(charset)
            encoding = charset
        except LookupError:
            encoding = "utf-8"
    try:
        text = body.decode(encoding)
        note = None
    except UnicodeDecodeError:
        text = body.decode(encoding, errors="replace")
        note = f"not valid {encoding.upper()}: decoded leniently ({text.count(chr(0xFFFD))} bytes replaced)"
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, note


def charset_of(document: Document) -> str | None:
    for value in document.header_values("content-type"):
        for part in value.split(";")[1:]:
            key, _, val = part.partition("=")
            if key.strip().lower() == "charset" and val.strip():
                return val.strip().strip('"').lower()
    return None


def fetch_document(url: str, *, policy: FetchPolicy,
                   read_body: bool | Callable[[tuple[tuple[str, str], ...]], bool] = True) -> Document:
    """GET one ``http`` or ``https`` URL under the limits of ``policy``; never raises.

    Parameters
    ----------
    url : str
        The URL.
    policy : FetchPolicy
        Deadline (s), size cap (bytes), redirects, user agent.
    read_body : bool or callable, default True
        False: keep the status and headers only (a media file's body is not
        needed to read its headers); a callable is given the response
        headers and says whether to read the body.

    Returns
    -------
    Document
        With ``error`` set when nothing usable came back: timed out, a
        redirect loop, too many redirects, a redirect to another scheme, a
        network, TLS or protocol error.  A 4xx or 5xx answer is a document
        with that status (its body is not kept).
    """
    current = url
    try:
        with bounded_get(url, timeout_s=policy.timeout_s, max_redirects=policy.max_redirects,
                         user_agent=policy.user_agent) as response:
            current = response.final_url
            headers = tuple((k.lower(), _one_line(v)[:8192]) for k, v in response.getheaders()[:500])
            wanted = read_body(headers) if callable(read_body) else read_body
            if not 200 <= response.status < 300 or not wanted:
                return Document(url=url, status=response.status, headers=headers, final_url=current)
            body, truncated = response.read(policy.max_bytes)
            return Document(url=url, status=response.status, headers=headers, body=body, truncated=truncated,
                            final_url=current)
    except HttpFailure as exc:
        return Document(url=url, error=str(exc), final_url=exc.url)
    except Exception as exc:  # a bug or an exotic failure must stay a finding
        return Document(url=url, error=_one_line(f"read failed ({type(exc).__name__}: {exc})")[:300], final_url=current)


def read_file_document(root: Path, path: str, *, policy: FetchPolicy) -> Document:
    """A file of a published folder, as a :class:`Document` (status 200 or 404); never raises.

    ``path`` is a site path (``/robots.txt``); it may not leave ``root``
    (``..`` or a symbolic link pointing outside is refused).
    """
    url = f"{root}{path}"
    try:
        base = root.resolve()
        relative = path.split("?", 1)[0].lstrip("/")
        candidate = (base / relative).resolve()
        if candidate != base and base not in candidate.parents:
            return Document(url=url, error="path leaves the published folder; not read")
        if not candidate.is_file():
            return Document(url=url, status=404)
        with open(candidate, "rb") as handle:
            body = handle.read(policy.max_bytes + 1)
    except (OSError, ValueError) as exc:
        return Document(url=url, error=_one_line(f"cannot read file ({exc})")[:300])
    truncated = len(body) > policy.max_bytes
    return Document(url=url, status=200, body=body[:policy.max_bytes], truncated=truncated)
