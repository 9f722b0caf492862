"""How reports write values, in one place: money, times, CSV cells.

Money has one rounding rule everywhere it is shown or summed: to cents, half up, in decimal (so ``2.675``
is ``2.68``, where binary floats would give ``2.67``). Times are ISO 8601 in UTC from
:mod:`consentry.domain.clock`; durations read ``h:mm:ss``. A CSV cell never starts a spreadsheet formula.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Iterable, Mapping

from consentry.domain.clock import iso, now_iso  # the one clock, for renderers
from consentry.domain.money import CENT, add_money, sum_money, to_cents  # the one money rule

__all__ = ["CENT", "DASH", "FORMULA_PREFIXES", "add_money", "csv_safe", "format_fixed", "format_fraction", "format_hms",
           "format_money", "format_money_codes_first", "format_money_map", "format_number", "format_seconds",
           "format_signed", "format_size", "iso", "now_iso", "sum_money", "text_or_dash", "to_cents"]

#: What an absent value reads as in a report.
DASH = "\u2014"
#: A CSV cell starting with one of these is read as a formula by spreadsheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------- money


def format_money(amount: Any, currency: str | None) -> str:
    """``(1234.5, "EUR")`` -> ``"1,234.50 EUR"``: two decimals, rounded half up.

    ``None`` gives an em dash. A non-finite amount raises :class:`ValueError`
    (money that is not a number is a bug upstream, not something to print).
    """
    if amount is None:
        return DASH
    value = to_cents(amount)
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def format_money_map(amounts: Mapping[str, Any] | None) -> str:
    """``{"USD": 10, "EUR": 240}`` -> ``"240.00 EUR; 10.00 USD"`` (one entry per currency, by code)."""
    if not amounts:
        return DASH
    return "; ".join(format_money(amounts[c], c) for c in sorted(amounts))


def format_money_codes_first(amounts: Mapping[str, Any] | None, *, empty: str = "none") -> str:
    """``{"USD": 10, "EUR": 240}`` -> ``"EUR 240.00 + USD 10.00"`` (the summary's wording), ``empty`` if none."""
    if not amounts:
        return empty
    return " + ".join(f"{c} {format_money(amounts[c], None)}" for c in sorted(amounts))


# ---------------------------------------------------------------- numbers and text


def format_number(value: Any) -> str:
    """Integer-like with thousands separators; None -> em dash."""
    if value is None:
        return DASH
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return str(value)
    if v.is_integer():
        return f"{int(v):,}"
    return f"{v:,.2f}"


def format_seconds(value: Any, digits: int = 1) -> str:
    if value is None:
        return DASH
    try:
        return f"{float(value):,.{digits}f} s"
    except (TypeError, ValueError):
        return str(value)


def format_size(value: Any) -> str:
    try:
        n = float(value)
    except (TypeError, ValueError):
        return DASH
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= factor:
            return f"{n / factor:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def format_fraction(value: Any) -> str:
    """A share in 0..1 as a percentage."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return DASH
    return f"{100 * v:.1f}%" if math.isfinite(v) else DASH


def format_signed(value: Any, unit: str) -> str:
    try:
        return f"{float(value):+.1f} {unit}"
    except (TypeError, ValueError):
        return DASH


def format_fixed(value: Any, fmt: str) -> str:
    try:
        return format(float(value), fmt)
    except (TypeError, ValueError):
        return DASH


def text_or_dash(value: Any) -> str:
    """The value as text; None or "" as an em dash."""
    return DASH if value is None or value == "" else str(value)


# ---------------------------------------------------------------- times


def format_hms(seconds: Any) -> str:
    """Seconds as ``h:mm:ss`` (rounded to the second; an em dash if not a number)."""
    try:
        total = int(round(float(seconds)))
    except (TypeError, ValueError, OverflowError):
        return DASH
    h, rest = divmod(max(0, total), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def format_length(size: Any, medium: str | None = "music") -> str:
    """A work's or item's size for people, in its medium's terms.

    ``size`` is what the registry stores as ``duration_s``: seconds of music,
    characters of text, pixels (width times height) of an image.

    >>> format_length(205, "music"), format_length(20709, "text"), format_length(2073600, "image")
    ('3:25', '20,709 characters', '2.1 megapixels')
    """
    try:
        value = float(size)
    except (TypeError, ValueError):
        return DASH
    if not math.isfinite(value):
        return DASH
    if medium == "text":
        n = int(round(value))
        return f"{n:,} character{'' if n == 1 else 's'}"
    if medium == "image":
        return f"{value / 1e6:.1f} megapixels" if value >= 1e5 else f"{int(round(value)):,} pixels"
    total = int(round(max(0.0, value)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


#: How people call one and several works or items of a medium.
MEDIUM_WORDS = {"music": ("recording", "recordings"), "text": ("text", "texts"), "image": ("image", "images")}


def format_media(media: Mapping[str, Mapping[str, Any]]) -> str:
    """Counts per medium with their size: ``"2 recordings, 0.08 h of audio; 1 text, 20,709 characters"``.

    ``media`` maps a medium to ``{"n": count, "size": total in the medium's
    unit}`` (``"items"`` or ``"works"`` may stand for ``"n"``); an empty map is "".
    """
    parts = []
    for medium, m in media.items():
        try:  # a scan JSON read back may hold anything: what is not a count is left out
            n = int(m.get("n", m.get("items", m.get("works", 0))) or 0)
            size = None if m.get("size") is None else float(m["size"])
        except (AttributeError, TypeError, ValueError, OverflowError):
            continue
        one, many = MEDIUM_WORDS.get(str(medium), (f"{medium} work", f"{medium} works"))
        part = f"{n:,} {one if n == 1 else many}"
        if medium == "music" and size is not None and math.isfinite(size):
            part += f", {size / 3600:.2f} h of audio"
        elif medium == "text" and size is not None:
            part += f", {format_length(size, 'text')}"
        parts.append(part)
    return "; ".join(parts)


# ---------------------------------------------------------------- CSV


def csv_safe(value: Any) -> str | int | float:
    """A value ready for a CSV cell, safe to open in a spreadsheet.

    ``None`` -> ``""``; numbers (int, float, Decimal) stay numbers; text starting with ``=``,
    ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'`` so it is
    not evaluated as a formula. Everything else is kept verbatim.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text
