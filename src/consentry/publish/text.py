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

import math
import re
import unicodedata
import urllib.parse
from decimal import Decimal, localcontext

from ..errors import InputError

#: Longest title, name or jurisdiction shown anywhere (characters); longer
#: text is cut and ends with an ellipsis.
MAX_TEXT_CHARS = 1000
#: Longest text put into a robots.txt / ai.txt comment (characters).
MAX_COMMENT_CHARS = 80

#: Work and creator ids become path segments and file names: letters, digits,
#: ``_`` and ``-`` only, never ``.`` (so never ``..``), at most 128 characters.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")

# Bidirectional embeddings, overrides and isolates: they can make text read
# differently from what it is ("trojan source"), so they are dropped.
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
_NONCHARACTERS = {"\ufffe", "\uffff"}


def clean_text(value: object, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """One line of displayable text from an untrusted value.

    Control characters, line and paragraph separators become spaces; lone
    surrogates become U+FFFD; bidirectional controls and the XML
    non-characters U+FFFE/U+FFFF are dropped; runs of white space collapse to
    one space; the result is cut to ``max_chars`` characters (ending with
    "…"). ``None`` gives ``""``. The result is valid in UTF-8, XML 1.0, HTML
    and JSON, and contains no CR or LF.
    """
    if value is None:
        return ""
    text = str(value)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cs":
            out.append("\ufffd")
        elif ch in _BIDI_CONTROLS or ch in _NONCHARACTERS:
            continue
        elif cat in ("Cc", "Zl", "Zp") or ch.isspace():
            out.append(" ")
        else:
            out.append(ch)
    line = " ".join("".join(out).split())
    if len(line) > max_chars:
        line = line[: max(1, max_chars - 1)].rstrip() + "…"
    return line


def comment_text(value: object) -> str:
    """Text fit for a ``#`` comment in robots.txt or ai.txt: one short line."""
    return clean_text(value, max_chars=MAX_COMMENT_CHARS)


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


def format_decimal(value: float | int) -> str:
    """A price as a plain decimal string with at least two decimals ("40.00", "0.015").

    The shortest decimal that reads back as the same float, so no precision
    is lost (``0.015`` stays ``0.015``, not ``0.01``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    with localcontext() as ctx:
        ctx.prec = 400
        dec = Decimal(repr(float(value)))
        if dec.as_tuple().exponent > -2:  # type: ignore[operator]
            dec = dec.quantize(Decimal("0.01"))
        return format(dec, "f")


def same_amount(text: object, value: float | int) -> bool:
    """True when the decimal string ``text`` is the same amount as ``value``."""
    try:
        return Decimal(str(text)) == Decimal(repr(float(value)))
    except Exception:  # noqa: BLE001 - any unreadable amount is simply "not the same"
        return False
