"""Safe text, identifiers, URLs and decimals for every published format (pure).

Everything a creator typed (titles, names, jurisdiction) is untrusted: it may
hold markup, newlines, control or bidirectional-override characters, lone
surrogates or be very long. :func:`clean_text` makes one line of displayable
text out of it; each format then escapes that line its own way (HTML and XML
by their serialisers, JSON by :mod:`json`). Header values and server
snippets never contain such text at all: they are built only from our own
vocabulary, validated identifiers and URLs whose characters are checked here.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

from consentry.domain.errors import InputError
from consentry.formats.text import (
    MAX_COMMENT_CHARS, MAX_TEXT_CHARS, clean_text, comment_text, format_decimal, same_amount,
)

#: Work and creator ids become path segments and file names: letters, digits,
#: ``_`` and ``-`` only, never ``.`` (so never ``..``), at most 128 characters.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")

def check_id(value: object, *, what: str) -> str:
    """``value`` if it is a safe id (see :data:`ID_RE`), else :class:`InputError`."""
    if not isinstance(value, str) or not ID_RE.match(value):
        raise InputError(
            f"{what} {clean_text(repr(value), max_chars=80)}: ids must be 1-128 letters, digits, '_' or '-'; "
            "export the registry again with `consentry` (the export is damaged)"
        )
    return value


_HOST_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_IPV6_RE = re.compile(r"^\[[0-9a-f:.]+\]$")


def normalize_base_url(url: object) -> str:
    """The site's origin as ``scheme://host[:port]``, or :class:`InputError`.

    Only ``http`` and ``https``; no user name, query, fragment or path (the
    files written, robots.txt and /.well-known/tdmrep.json above all, only
    work at the root of a host). Host names are lower-cased and IDNA-encoded,
    so the result holds only ``[a-z0-9.:/-[]]`` and is safe to put verbatim
    into headers and server configuration.
    """
    hint = "give the site's origin, such as https://music.example.org"
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"--base-url is empty: {hint}")
    shown = clean_text(repr(url), max_chars=100)
    raw = url.strip()
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in raw):
        raise InputError(f"--base-url {shown}: contains spaces or control characters; {hint}")
    try:
        parts = urllib.parse.urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"--base-url {shown}: not a URL ({exc}); {hint}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InputError(f"--base-url {shown}: the scheme must be https or http; {hint}")
    if "?" in raw or "#" in raw:
        raise InputError(f"--base-url {shown}: no query (?) or fragment (#) allowed; {hint}")
    if "@" in parts.netloc:
        raise InputError(f"--base-url {shown}: no user name or password allowed; {hint}")
    if parts.path not in ("", "/"):
        raise InputError(
            f"--base-url {shown}: no path allowed (robots.txt and /.well-known/ only work at the root of a host); {hint}"
        )
    host = parts.hostname or ""
    if not host:
        raise InputError(f"--base-url {shown}: no host name; {hint}")
    if parts.netloc.startswith("["):
        host = f"[{host}]"
        if not _IPV6_RE.match(host):
            raise InputError(f"--base-url {shown}: not a valid IPv6 address; {hint}")
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise InputError(f"--base-url {shown}: the host name cannot be encoded (IDNA); {hint}") from None
        if not _HOST_RE.match(host):
            raise InputError(f"--base-url {shown}: {host!r} is not a valid host name; {hint}")
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")
