"""Safe text and decimals for every signal format (pure).

Everything a creator typed (titles, names, jurisdiction) is untrusted: it may
hold markup, newlines, control or bidirectional-override characters, lone
surrogates or be very long. :func:`clean_text` makes one line of displayable
text out of it; each format then escapes that line its own way (HTML and XML
by their serialisers, JSON by :mod:`json`). :func:`format_decimal` writes a
price the same way in every format, and :func:`same_amount` reads it back.
"""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal, localcontext

__all__ = ["MAX_TEXT_CHARS", "MAX_COMMENT_CHARS", "clean_text", "comment_text", "format_decimal", "same_amount"]

#: Longest title, name or jurisdiction shown anywhere (characters); longer
#: text is cut and ends with an ellipsis.
MAX_TEXT_CHARS = 1000
#: Longest text put into a robots.txt / ai.txt comment (characters).
MAX_COMMENT_CHARS = 80

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
