"""Normalised words, word shingles, winnowing and postings: the text engine's fast path (NumPy).

Normalisation (what makes two copies of a passage the same words)
-----------------------------------------------------------------
The extracted text is read one code point at a time through the character
table (:mod:`.fold`): letters and digits are folded (NFKD, combining marks
removed, case-folded, compatibility forms such as ligatures and full-width
letters expanded), apostrophes, hyphens and full stops *between two word
characters* are removed (``don't`` = ``dont``, ``e-mail`` = ``email``),
a hyphen at a line end followed by a word character on the next line is
removed with the line break (de-hyphenation), soft hyphens, zero-width
characters and combining marks vanish, and everything else (spaces, line
breaks, punctuation, symbols, emoji) separates words.  Han ideographs and kana
are one word each.  So case, punctuation, Unicode form, hyphenation and
line breaks do not change the words.

Offsets
-------
Every word keeps ``start_char`` and ``end_char`` (end exclusive): code-point
offsets in the text it came from (Python ``str`` indices), so a match maps
back to the original text exactly.

Hashes
------
A word's hash is a polynomial over its folded code points modulo 2**64,
mixed with the SplitMix64 finaliser; a shingle's hash is the same
polynomial over its ``k`` word hashes, mixed again.  The index key is the
hash's top 32 bits, and the next 12 bits are a check stored in the posting
(44 bits in all decide a lookup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .fold import DROP, JOIN, SEP, SOLO, WORD, fold_table

_B = np.uint64(0x100000001B3)           # odd: invertible modulo 2**64
_C = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
FP_ID_BITS = 26
CHAR_BITS = 26
CHECK_BITS = 12
MAX_FP_ID = (1 << FP_ID_BITS) - 1
#: The largest character offset a posting holds: a longer work is refused (split it).
MAX_CHAR = (1 << CHAR_BITS) - 1
#: A hyphen ending a line before a word on the next (the word before it is checked by the caller).
_DEHYPHEN = re.compile(r"[-\u00ad\u2010][ \t]*\r?\n[ \t]*(?=\w)")


@dataclass(frozen=True)
class Words:
    """The normalised words of a text.

    Attributes
    ----------
    hashes : ndarray of uint64, shape (m,)
        Each word's mixed hash.
    start_char, end_char : ndarray of int64, shape (m,)
        The word's code-point offsets in the text (end exclusive).
    """

    hashes: np.ndarray
    start_char: np.ndarray
    end_char: np.ndarray

    def __len__(self) -> int:
        return int(self.hashes.shape[0])


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 (wrapping arithmetic), elementwise."""
    x = np.asarray(x, np.uint64)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _M1
        x = x ^ (x >> np.uint64(27))
        x = x * _M2
        return x ^ (x >> np.uint64(31))


def _powers(base: np.uint64, n: int) -> np.ndarray:
    p = np.empty(max(n, 1), np.uint64)
    p[0] = 1
    if n > 1:
        p[1:] = base
        with np.errstate(over="ignore"):
            p = np.cumprod(p, dtype=np.uint64)
    return p


def code_points(text: str) -> np.ndarray:
    """The text's code points, uint32 of shape (len(text),) (lone surrogates kept)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def words(text: str) -> Words:
    """Normalise ``text`` into words with hashes and offsets (see the module docstring)."""
    cls_t, len_t, fold_t, _ = fold_table()
    cp = code_points(text)
    n = cp.shape[0]
    if n == 0:
        return _no_words()
    bmp = cp.astype(np.uint16)
    if n and int(cp.max()) > 0xFFFF:
        bmp[cp > 0xFFFF] = 0x20
    cls = cls_t[bmp]
    length = len_t[bmp]
    joins = np.flatnonzero(cls == JOIN)
    if joins.size:
        cls = cls.copy()
        prev_word = np.zeros(joins.size, bool)
        next_word = np.zeros(joins.size, bool)
        ok = joins > 0
        prev_word[ok] = cls[joins[ok] - 1] == WORD
        ok = joins < n - 1
        next_word[ok] = cls[joins[ok] + 1] == WORD
        inner = prev_word & next_word
        cls[joins[~inner]] = SEP
        cls[joins[inner]] = DROP
    if "\n" in text:
        for m in _DEHYPHEN.finditer(text):
            if m.start() > 0 and cls[m.start() - 1] == WORD:
                cls[m.start():m.end()] = DROP
    # Each code point becomes 0 marks (dropped), 1 (a separator, or a letter folded to one) or up to 4.
    length = np.where(cls == SEP, np.uint8(1), np.where(cls == DROP, np.uint8(0), length))
    multi = np.flatnonzero(length > 1)
    if multi.size == 0:
        keep = length > 0
        src = np.flatnonzero(keep)
        fcls = cls[keep]
        folded = fold_t[:, 0][bmp[keep]]
    else:
        total = int(length.sum(dtype=np.int64))
        first = np.cumsum(length, dtype=np.int64) - length
        nz = np.flatnonzero(length)
        src = np.zeros(total, np.int64)
        src[first[nz]] = nz
        src = np.maximum.accumulate(src)
        k = np.zeros(total, np.int64)
        for j in range(1, fold_t.shape[1]):
            sel = multi[length[multi] > j]
            k[first[sel] + j] = j
        fcls = cls[src]
        folded = fold_t.reshape(-1)[bmp[src].astype(np.int64) * fold_t.shape[1] + k]
    if src.size == 0:
        return _no_words()
    is_word = fcls != SEP
    solo = fcls == SOLO
    prev = np.empty_like(is_word)
    prev[0] = False
    prev[1:] = is_word[:-1]
    starts = ~prev
    if solo.any():
        # Every solo mark is a word, and so the mark after it begins one.
        prev_solo = np.empty_like(solo)
        prev_solo[0] = False
        prev_solo[1:] = solo[:-1]
        starts |= solo | prev_solo
    wpos = np.flatnonzero(is_word)
    if wpos.size == 0:
        return _no_words()
    wstart = starts[wpos]
    first_mark = np.flatnonzero(wstart)                   # index into wpos of each word's first mark
    idx = np.arange(wpos.size, dtype=np.int64)
    pos_in_word = idx - np.maximum.accumulate(np.where(wstart, idx, 0))
    pw = _powers(_B, int(pos_in_word.max()) + 1)
    with np.errstate(over="ignore"):
        contrib = folded[wpos].astype(np.uint64) * pw[pos_in_word] + np.uint64(1)
    h = np.add.reduceat(contrib, first_mark)
    last_mark = np.empty_like(first_mark)
    last_mark[:-1] = first_mark[1:] - 1
    last_mark[-1] = wpos.size - 1
    start_char = src[wpos[first_mark]]
    end_char = src[wpos[last_mark]] + 1
    lengths = (last_mark - first_mark + 1).astype(np.uint64)
    with np.errstate(over="ignore"):
        hashes = mix64(h ^ (lengths * _C))
    return Words(hashes, start_char, end_char)


def _no_words() -> Words:
    z = np.zeros(0, np.int64)
    return Words(np.zeros(0, np.uint64), z, z)


@dataclass(frozen=True)
class Shingles:
    """Word shingles of a text.

    Attributes
    ----------
    hashes : ndarray of uint64, shape (n,)
        Shingle ``i`` covers words ``i .. i + k - 1``; ``n = max(0, m - k + 1)``.
    start_char, end_char : ndarray of int64, shape (n,)
        Offsets of the shingle's first word's start and last word's end.
    """

    hashes: np.ndarray
    start_char: np.ndarray
    end_char: np.ndarray

    def __len__(self) -> int:
        return int(self.hashes.shape[0])


def shingles(w: Words, *, shingle_words: int) -> Shingles:
    """Hash every run of ``shingle_words`` consecutive words."""
    k = shingle_words
    n = len(w) - k + 1
    if n <= 0:
        z = np.zeros(0, np.int64)
        return Shingles(np.zeros(0, np.uint64), z, z)
    acc = np.zeros(n, np.uint64)
    with np.errstate(over="ignore"):
        for t in range(k):
            acc = acc * _B + w.hashes[t:t + n]
    return Shingles(mix64(acc), w.start_char[:n], w.end_char[k - 1:])


def winnow(hashes: np.ndarray, *, window: int) -> np.ndarray:
    """Positions kept by winnowing (Schleimer, Wilkerson & Aiken 2003): in every ``window``
    consecutive hashes the smallest, the rightmost on ties, each position once.

    Parameters
    ----------
    hashes : ndarray of uint64, shape (n,)
    window : int

    Returns
    -------
    ndarray of int64, shape (p,), sorted.  Fewer hashes than ``window``: the
    position of the smallest (rightmost on ties); none: empty.
    """
    n = hashes.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    if n <= window:
        rev = hashes[::-1]
        return np.array([n - 1 - int(np.argmin(rev))], np.int64)
    view = np.lib.stride_tricks.sliding_window_view(hashes[::-1], window)
    # Over the reversed array, argmin finds the first minimum = the rightmost one in the original.
    pos_rev = np.arange(view.shape[0], dtype=np.int64) + np.argmin(view, axis=1)
    return np.unique(n - 1 - pos_rev)


def key_of(h: np.ndarray) -> np.ndarray:
    """Index keys: the top 32 bits of shingle hashes (uint32)."""
    return (np.asarray(h, np.uint64) >> np.uint64(32)).astype(np.uint32)


def check_of(h: np.ndarray) -> np.ndarray:
    """The 12 hash bits below the key, stored in each posting (uint64)."""
    return (np.asarray(h, np.uint64) >> np.uint64(32 - CHECK_BITS)) & np.uint64((1 << CHECK_BITS) - 1)


def pack_postings(fp_id: int, start_char: np.ndarray, check: np.ndarray) -> np.ndarray:
    """One work's posting values: ``fp_id << 38 | start_char << 12 | check`` (uint64, shape (m,)).

    Raises
    ------
    ValueError
        If ``fp_id`` is not in 0 .. 2**26 - 1 (the store gives works ids from 1; 0 serves callers that want
        the keys alone) or an offset exceeds :data:`MAX_CHAR`.
    """
    if not 0 <= fp_id <= MAX_FP_ID:
        raise ValueError(f"fp_id {fp_id} out of range")
    s = np.asarray(start_char, np.int64)
    if s.size and int(s.max()) > MAX_CHAR:
        raise ValueError(f"text too long for the index (more than {MAX_CHAR + 1:,} characters): split it")
    return ((np.uint64(fp_id) << np.uint64(CHAR_BITS + CHECK_BITS)) | (s.astype(np.uint64) << np.uint64(CHECK_BITS))
            | np.asarray(check, np.uint64))


def unpack_postings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_postings`: ``(fp_id, start_char, check)``, each int64 of shape (m,)."""
    v = np.asarray(values, np.uint64)
    fp = (v >> np.uint64(CHAR_BITS + CHECK_BITS)).astype(np.int64)
    start = ((v >> np.uint64(CHECK_BITS)) & np.uint64(MAX_CHAR)).astype(np.int64)
    return fp, start, (v & np.uint64((1 << CHECK_BITS) - 1)).astype(np.int64)
