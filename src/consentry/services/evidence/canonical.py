"""Canonical JSON: one byte string for one value, so that a signature over it can be re-checked.

The rule (also in docs/evidence.md):

- UTF-8, no byte-order mark, no trailing newline;
- object keys sorted by their Unicode code points, no duplicate keys;
- no insignificant whitespace: separators are ``,`` and ``:``;
- non-ASCII characters written as themselves, not as ``\\uXXXX`` escapes
  (only what JSON requires is escaped: ``"``, ``\\`` and control characters);
- integers in decimal; other numbers as the shortest decimal that reads
  back to the same IEEE-754 double (Python's ``repr``); NaN and the
  infinities are not allowed.

This is what ``json.dumps(value, sort_keys=True, ensure_ascii=False,
separators=(",", ":"), allow_nan=False).encode("utf-8")`` produces for
plain values, so any Python can reproduce it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import PurePath
from typing import Any

__all__ = ["canonical_json", "is_canonical", "parse_canonical", "to_plain"]


def to_plain(value: Any, *, where: str = "value") -> Any:
    """Turn ``value`` into plain JSON types (dict with str keys, list, str, int, float, bool, None).

    NumPy scalars and arrays, tuples, dataclasses and paths are converted;
    anything else, and NaN or infinite numbers, raise ``ValueError`` naming
    the place (``where``) in the structure.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not a finite number (NaN and infinity cannot be signed facts)")
        return float(value)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_plain(dataclasses.asdict(value), where=where)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            out[key] = to_plain(item, where=f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [to_plain(item, where=f"{where}[{i}]") for i, item in enumerate(value)]
    # NumPy without importing it here: scalars have .item(), arrays .tolist().
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return to_plain(value.tolist(), where=where)
    raise ValueError(f"{where}: {type(value).__name__} cannot be written as JSON")


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of a plain value (see the module docstring)."""
    return json.dumps(to_plain(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out = {}
    for key, item in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = item
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def parse_canonical(data: bytes) -> Any:
    """Parse JSON bytes strictly: UTF-8, no duplicate keys, no NaN or infinity.

    Raises ``ValueError`` (with a one-line reason) on anything else. Use
    :func:`is_canonical` to check that the bytes are also in canonical form.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    try:  # "\ud800" is valid JSON but half a UTF-16 pair: no UTF-8 (so no canonical form) holds it
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not Unicode text (a lone surrogate escape, {ascii(exc.object[exc.start:exc.end])})") from None
    return value


def is_canonical(data: bytes) -> bool:
    """Whether ``data`` is exactly the canonical encoding of the JSON it holds."""
    try:
        return canonical_json(parse_canonical(data)) == data
    except ValueError:
        return False
