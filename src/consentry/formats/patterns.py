"""Path patterns as RFC 9309 defines them (pure): ``*`` wildcards, a final ``$`` anchor, percent-encoding.

The same matching is used by robots.txt, ai.txt, ``tdmrep.json`` locations
(TDMRep reuses the robots.txt rules), RSL ``<content url>`` and the
``headers.json`` of a published folder.

Before comparison both the pattern and the path are normalised as RFC 9309
§2.2.2 asks: octets outside ASCII (and controls and spaces) are
percent-encoded as UTF-8, a percent-encoded *unreserved* character
(``A-Z a-z 0-9 - . _ ~``) is decoded, every other percent-encoding is kept
(with upper-case hex digits).  ``%2F`` therefore never matches ``/``.

``*`` and ``$`` are special in a pattern only as written: a rule that means
the character itself writes ``%2A`` or ``%24`` (RFC 9309 §2.2.3:
``/path/file-with-a-%2A.html`` matches ``/path/file-with-a-*.html``,
``/path/foo-%24`` matches ``/path/foo-$``).  So a path's ``*`` and ``$`` (which
have no special meaning in a URL) are compared in their encoded form
``%2A``/``%24``, and so is a ``$`` in a pattern that is not its last
character (a literal).  A pattern's own ``*`` and final ``$`` stay wildcard and
anchor.
"""

from __future__ import annotations

import re

__all__ = ["normalize_path", "normalize_pattern", "pattern_matches", "pattern_length", "PatternIndex"]

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset(b"0123456789abcdefABCDEF")
#: Patterns longer than this (characters) are cut: nothing longer is a sensible path.
MAX_PATTERN_CHARS = 4096


_LITERAL_IN_PATH = {0x2A: "%2A", 0x24: "%24"}


def _normalize(text: str, *, literal_specials: bool = False) -> str:
    """Percent-normalise ``text``; ``literal_specials`` encodes ``*`` and ``$`` (a path's, never special)."""
    data = text.encode("utf-8", "surrogatepass")
    out: list[str] = []
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x25 and i + 2 < n and data[i + 1] in _HEX and data[i + 2] in _HEX:
            value = int(data[i + 1:i + 3], 16)
            if value in _UNRESERVED:
                out.append(chr(value))
            else:
                out.append("%" + data[i + 1:i + 3].decode("ascii").upper())
            i += 3
            continue
        if b < 0x21 or b >= 0x7F:
            out.append(f"%{b:02X}")
        elif literal_specials and b in _LITERAL_IN_PATH:
            out.append(_LITERAL_IN_PATH[b])
        else:
            out.append(chr(b))
        i += 1
    return "".join(out)


def normalize_path(path: str) -> str:
    """A URL path (with its ``?query``) ready for comparison with normalised patterns.

    An empty path is ``/``.  Its ``*`` and ``$`` come out as ``%2A`` and
    ``%24``: what a rule writes to match them as characters.
    """
    if not path:
        return "/"
    return _normalize(path, literal_specials=True)


def normalize_pattern(pattern: str) -> str:
    """A robots.txt-style pattern ready for :func:`pattern_matches`.

    ``*`` and a final ``$`` are kept (wildcard, anchor); a ``$`` elsewhere is
    a literal and comes out as ``%24``; ``%2A`` and ``%24`` stay encoded
    (literal characters, RFC 9309 §2.2.3).
    """
    pattern = pattern[:MAX_PATTERN_CHARS]
    if pattern.endswith("$"):
        return _normalize(pattern[:-1], literal_specials=False).replace("$", "%24") + "$"
    return _normalize(pattern).replace("$", "%24")


def pattern_length(pattern: str) -> int:
    """How specific a normalised pattern is: its length in octets (RFC 9309 §2.2.2)."""
    return len(pattern)


def pattern_matches(pattern: str, path: str) -> bool:
    """Whether a normalised ``pattern`` matches a normalised ``path`` from its start.

    ``*`` matches any run of characters (also none); ``$`` at the very end
    anchors the pattern at the end of the path; ``$`` elsewhere is a literal
    character.  Runs in O(len(path) x number of ``*``).
    """
    anchored = pattern.endswith("$")
    if anchored:
        pattern = pattern[:-1]
    parts = pattern.split("*")
    if len(parts) == 1:
        return path == pattern if anchored else path.startswith(pattern)
    first, middle, last = parts[0], parts[1:-1], parts[-1]
    if not path.startswith(first):
        return False
    pos = len(first)
    for segment in middle:
        if not segment:
            continue
        found = path.find(segment, pos)
        if found < 0:
            return False
        pos = found + len(segment)
    if anchored:
        return len(path) - len(last) >= pos and path.endswith(last)
    return not last or path.find(last, pos) >= 0


class PatternIndex:
    """Normalised patterns indexed so that matching one path does not test them all.

    A site with thousands of works has thousands of ``Disallow: /works/<id>/``
    lines per group; most have no ``*``, so the patterns matching a path are
    among its prefixes (or equal to it, when anchored with ``$``) and are found
    by dictionary look-ups. Patterns with ``*`` are tested one by one with
    :func:`pattern_matches`. The result is what testing every pattern with
    :func:`pattern_matches` gives, in the order the entries were given.

    Parameters
    ----------
    patterns : sequence of str
        Normalised patterns (:func:`normalize_pattern`); entry ``i`` is reported as ``i``.
    """

    def __init__(self, patterns) -> None:
        self._prefix: dict[str, list[int]] = {}
        self._exact: dict[str, list[int]] = {}
        self._wild: list[tuple[int, str]] = []
        for i, pattern in enumerate(patterns):
            anchored = pattern.endswith("$")
            body = pattern[:-1] if anchored else pattern
            if "*" in body:
                self._wild.append((i, pattern))
            else:
                (self._exact if anchored else self._prefix).setdefault(body, []).append(i)
        self._lengths = sorted({len(k) for k in self._prefix})

    def matches(self, path: str) -> list[int]:
        """The indices of the patterns matching the normalised ``path``, ascending."""
        out = list(self._exact.get(path, ()))
        for n in self._lengths:
            if n > len(path):
                break
            out.extend(self._prefix.get(path[:n], ()))
        out.extend(i for i, pattern in self._wild if pattern_matches(pattern, path))
        out.sort()
        return out


def regex_reference(pattern: str) -> re.Pattern:
    """The slow, obviously-correct reference for :func:`pattern_matches` (tests only)."""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    expr = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(expr + ("$" if anchored else ""), re.DOTALL)
