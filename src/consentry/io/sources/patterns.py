"""Shard patterns: brace expansion as in the shell, then globbing.

WebDataset shards are named with brace patterns (``train-{000..127}.tar``)
or globs (``shards/*.tar``).  :func:`expand_braces` expands braces the way
bash does: lists ``{a,b,c}``, numeric ranges ``{0..9}`` (zero-padded when an
end is written with a leading zero: ``{000..127}`` keeps three digits), an
optional step ``{0..20..5}``, letter ranges ``{a..e}``, several and nested
groups.  :func:`expand_shards` then globs each name and lists the files.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from consentry.domain.errors import InputError

__all__ = ["MAX_PATTERN_NAMES", "has_pattern", "expand_braces", "expand_shards"]

#: Most names a pattern may expand to (a typing slip such as ``{0..99999999}``
#: should be an error, not a memory exhaustion).
MAX_PATTERN_NAMES = 100_000

_GLOB_CHARS = re.compile(r"[*?\[]")
_NUMERIC_RANGE = re.compile(r"^([+-]?\d+)\.\.([+-]?\d+)(?:\.\.([+-]?\d+))?$")
_LETTER_RANGE = re.compile(r"^([A-Za-z])\.\.([A-Za-z])(?:\.\.([+-]?\d+))?$")


def has_pattern(spec: str) -> bool:
    """Whether ``spec`` holds braces or glob characters (``{ } * ? [``)."""
    return "{" in spec or "}" in spec or bool(_GLOB_CHARS.search(spec))


def expand_braces(pattern: str, *, max_names: int = MAX_PATTERN_NAMES) -> list[str]:
    """Expand shell brace groups, in the order bash would.

    Parameters
    ----------
    pattern : str
        E.g. ``"train-{000..003}.tar"`` or ``"{train,valid}-{0..1}.tar"``.
    max_names : int, default 100,000
        Refuse patterns that expand to more names than this.

    Returns
    -------
    list of str
        The names, first group varying slowest; a pattern without braces is
        returned as the only name.

    Raises
    ------
    InputError
        If a brace is not closed or not opened, a group is neither a list
        (``{a,b}``) nor a range (``{1..9}``), or the pattern expands to more
        than ``max_names`` names.

    Examples
    --------
    >>> expand_braces("train-{000..002}.tar")
    ['train-000.tar', 'train-001.tar', 'train-002.tar']
    >>> expand_braces("{a,b}{1,2}")
    ['a1', 'a2', 'b1', 'b2']
    """
    names: list[str] = []
    _expand_into(pattern, pattern, names, max_names)
    return names


def expand_shards(spec: str) -> list[Path]:
    """The shard files a path, glob or brace pattern names, in order.

    Parameters
    ----------
    spec : str
        A path, a glob (``shards/*.tar``), a brace pattern
        (``train-{000..127}.tar``) or both.

    Returns
    -------
    list of Path
        Absolute paths: for each brace expansion in order, the files its
        glob matches in sorted order, or the name itself when it has no glob
        characters, even if that file is missing (the reader reports a
        missing shard as an item error).  Each file is listed once.

    Raises
    ------
    InputError
        If the pattern is malformed or matches no existing file at all.
    """
    found: list[Path] = []
    seen: set[str] = set()
    any_exists = False
    for name in expand_braces(spec):
        if _GLOB_CHARS.search(name):
            matches = sorted(m for m in glob.glob(name, recursive=True) if os.path.isfile(m))
        else:
            matches = [name]
        for match in matches:
            absolute = os.path.abspath(match)
            if absolute in seen:
                continue
            seen.add(absolute)
            found.append(Path(absolute))
            any_exists = any_exists or os.path.isfile(absolute)
    if not any_exists:
        raise InputError(f"{spec}: no file matches this pattern; check the path and the braces or wildcards")
    return found


def _expand_into(whole: str, pattern: str, out: list[str], max_names: int) -> None:
    """Append the expansions of ``pattern`` to ``out`` (``whole`` is named in errors)."""
    group = _first_group(whole, pattern)
    if group is None:
        if "}" in pattern:
            raise InputError(f"{whole}: a '}}' has no matching '{{'; fix the brace pattern")
        out.append(pattern)
        if len(out) > max_names:
            raise InputError(f"{whole}: expands to more than {max_names:,} names; use a narrower pattern")
        return
    start, end = group
    prefix, body, suffix = pattern[:start], pattern[start + 1:end], pattern[end + 1:]
    for alternative in _alternatives(whole, body, max_names):
        _expand_into(whole, prefix + alternative + suffix, out, max_names)


def _first_group(whole: str, pattern: str) -> tuple[int, int] | None:
    """Positions of the first top-level ``{`` and its matching ``}``, or None."""
    start = pattern.find("{")
    if start < 0:
        return None
    if "}" in pattern[:start]:
        raise InputError(f"{whole}: a '}}' has no matching '{{'; fix the brace pattern")
    depth = 0
    for index in range(start, len(pattern)):
        if pattern[index] == "{":
            depth += 1
        elif pattern[index] == "}":
            depth -= 1
            if depth == 0:
                return start, index
    raise InputError(f"{whole}: a '{{' is never closed; fix the brace pattern")


def _alternatives(whole: str, body: str, max_names: int) -> list[str]:
    """The alternatives of one brace group's body (nested groups left in place)."""
    parts = _split_top_level(body)
    if len(parts) > 1:
        return parts
    numeric = _NUMERIC_RANGE.match(body)
    if numeric:
        return _numeric_range(whole, *numeric.groups(), max_names=max_names)
    letters = _LETTER_RANGE.match(body)
    if letters:
        first, last, step = letters.groups()
        codes = _stepped(ord(first), ord(last), step)
        return [chr(code) for code in codes]
    raise InputError(
        f"{whole}: the group '{{{body}}}' is neither a list like {{a,b}} nor a range like {{000..127}}; "
        "fix the brace pattern"
    )


def _split_top_level(body: str) -> list[str]:
    """Split a group's body at the commas that are not inside a nested group."""
    parts, depth, current = [], 0, []
    for char in body:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        current.append(char)
    parts.append("".join(current))
    return parts


def _numeric_range(whole: str, first: str, last: str, step: str | None, *, max_names: int) -> list[str]:
    """``{first..last..step}``: padded to the wider end when either end has a leading zero."""
    start, stop = int(first), int(last)
    count = abs(stop - start) // max(1, abs(int(step or 1))) + 1
    if count > max_names:
        raise InputError(f"{whole}: expands to more than {max_names:,} names; use a narrower pattern")
    padded = any(re.match(r"^[+-]?0\d", end) for end in (first, last))
    width = max(len(first.lstrip("+")), len(last.lstrip("+"))) if padded else 0
    return [f"{value:0{width}d}" for value in _stepped(start, stop, step)]


def _stepped(start: int, stop: int, step: str | None) -> range:
    """From ``start`` to ``stop`` inclusive, in either direction, by ``|step|``."""
    size = max(1, abs(int(step or 1)))
    return range(start, stop + 1, size) if stop >= start else range(start, stop - 1, -size)
