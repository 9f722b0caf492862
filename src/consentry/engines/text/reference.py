"""A slow, plain-Python reference of the text engine's words, shingles and winnowing.

Written from the definitions (``docs/text.md``) one character and one window
at a time, using the Unicode database directly rather than the shipped
table; ``tests/engines/test_text_engine.py`` checks that the fast path
(:mod:`.winnowing`) gives the same hashes, offsets and winnowed positions.
"""

from __future__ import annotations

import re
import unicodedata

from .fold import JOINERS, _SOLO_RANGES, _fold_char

MASK = (1 << 64) - 1
#: White space skipped between two Han/kana characters.
SPACES = "\t\n\x0b\x0c\r \u3000"
B = 0x100000001B3
C = 0x9E3779B97F4A7C15


def mix64(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def _kind(ch: str) -> str:
    cp = ord(ch)
    if cp > 0xFFFF or 0xD800 <= cp <= 0xDFFF:
        return "sep"
    if ch in JOINERS:
        return "join"
    if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return "drop"
    if not _fold_char(ch):
        return "join" if unicodedata.category(ch)[0] in "PS" else "sep"
    return "solo" if any(lo <= cp <= hi for lo, hi in _SOLO_RANGES) else "word"


def words(text: str) -> list[tuple[int, int, int]]:
    """``(hash, start_char, end_char)`` of each normalised word."""
    kinds = [_kind(c) for c in text]
    i = 0
    while i < len(text):
        if kinds[i] != "join":
            i += 1
            continue
        j = i
        while j < len(text) and kinds[j] == "join":
            j += 1
        # A run of punctuation and symbols between two word characters is removed; elsewhere it separates.
        inner = i > 0 and j < len(text) and kinds[i - 1] == "word" and kinds[j] == "word"
        for t in range(i, j):
            kinds[t] = "drop" if inner else "sep"
        i = j
    for m in re.finditer(r"[-\u00ad\u2010][ \t]*\r?\n[ \t]*(?=\w)", text):
        if m.start() > 0 and kinds[m.start() - 1] == "word":
            for i in range(m.start(), m.end()):
                kinds[i] = "drop"
    # White space between two Han/kana characters (dropped characters aside) is skipped (version 3).
    live = [i for i, k in enumerate(kinds) if k != "drop"]
    t = 0
    while t < len(live):
        u = t
        while u < len(live) and kinds[live[u]] == "sep" and text[live[u]] in SPACES:
            u += 1
        if u > t and t > 0 and u < len(live) and kinds[live[t - 1]] == "solo" and kinds[live[u]] == "solo":
            for v in range(t, u):
                kinds[live[v]] = "space"
        t = max(u, t + 1)
    out: list[tuple[int, int, int]] = []
    current: list[tuple[int, str]] = []   # (char index, folded code points) of the word being read

    def close() -> None:
        if current:
            folded = "".join(f for _, f in current)
            h = 0
            for pos, ch in enumerate(folded):
                h = (h + (ord(ch) * pow(B, pos, 1 << 64) + 1)) & MASK
            out.append((mix64(h ^ ((len(folded) * C) & MASK)), current[0][0], current[-1][0] + 1))
            current.clear()

    current_kind = ""
    for i, (ch, k) in enumerate(zip(text, kinds)):
        if k in ("drop", "space"):
            continue
        if k == "sep":
            close()
            continue
        if k != current_kind:   # Han/kana against other letters
            close()
        current_kind = k
        folded = _fold_char(ch)[:4]
        current.append((i, folded))
        if k == "solo" and mix64(ord(folded[0])) & 1:   # the cut bit: a chunk ends after this character
            close()
    close()
    return out


def shingles(ws: list[tuple[int, int, int]], k: int) -> list[tuple[int, int, int]]:
    """``(hash, start_char, end_char)`` of every run of ``k`` words."""
    out = []
    for i in range(len(ws) - k + 1):
        acc = 0
        for t in range(k):
            acc = (acc * B + ws[i + t][0]) & MASK
        out.append((mix64(acc), ws[i][1], ws[i + k - 1][2]))
    return out


def winnow(hashes: list[int], window: int) -> list[int]:
    """Positions of the rightmost smallest hash of every window, each once, sorted."""
    if not hashes:
        return []
    if len(hashes) <= window:
        m = min(hashes)
        return [max(i for i, h in enumerate(hashes) if h == m)]
    kept = set()
    for s in range(len(hashes) - window + 1):
        win = hashes[s:s + window]
        m = min(win)
        kept.add(s + max(i for i, h in enumerate(win) if h == m))
    return sorted(kept)
