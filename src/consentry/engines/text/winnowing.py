"""Normalised words, word shingles, winnowing and postings: the text engine's fast path (NumPy).

Normalisation (what makes two copies of a passage the same words)
-----------------------------------------------------------------
The extracted text is read one code point at a time through the character
table (:mod:`.fold`): letters and digits are folded (NFKD, combining marks
removed, case-folded, compatibility forms such as ligatures and full-width
letters expanded), punctuation and symbols *between two word characters*
are removed, a run of them at once (``don't`` = ``dont``, ``e-mail`` =
``email``, ``loop.is_closed()`` = ``loopisclosed``; :mod:`.fold`),
a hyphen at a line end followed by a word character on the next line is
removed with the line break (de-hyphenation), soft hyphens, zero-width
characters and combining marks vanish, and everything else (spaces, line
breaks, other punctuation and symbols, emoji) separates words.  So case,
punctuation, Unicode form, hyphenation and line breaks do not change the
words.

Han ideographs and kana (scripts written without spaces; ``SOLO`` in the
table) are cut into *chunks* by their content (engine version 3): a run of
them, white space between two of them ignored, ends a chunk after every
character whose *cut bit* is set (:func:`cut_bits`: the low bit of the
mixed hash of its first folded code point, set for about half of them), so
a chunk holds about two characters and the same characters are cut the same
way in every text, whatever comes before them (an inserted or deleted
character changes the chunks around it only).  Version 2 read each
character as a word, so that five-word shingles and twelve-word passages
were five and twelve characters, which unrelated texts of one script share.

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
from functools import lru_cache

import numpy as np

from . import kernels
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
#: The same, one pattern per hyphen (a literal first character is searched for much faster); a match holds
#: one hyphen, so the union of their matches is the matches of ``_DEHYPHEN``.
_DEHYPHEN_BY_CHAR = tuple((h, re.compile(re.escape(h) + r"[ \t]*\r?\n[ \t]*(?=\w)")) for h in "-\u00ad\u2010")


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


def narrow_code_points(text: str) -> np.ndarray:
    """:func:`code_points` in the narrowest unsigned type that holds them all: uint8 when every character is
    below 256 (Latin-1), uint16 when none is above U+FFFF, else uint32 (shape (len(text),) each).

    Python keeps such strings one or two bytes a character already, so the Latin-1 and UTF-16 encodings are
    copies; UTF-16 writes a character above U+FFFF as two units, which the length tells (lone surrogates are
    one unit, their own value, in both encodings with ``surrogatepass``).
    """
    try:
        return np.frombuffer(text.encode("latin-1"), np.uint8)
    except UnicodeEncodeError:
        pass
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) == 2 * len(text):
        return np.frombuffer(units, "<u2")
    return code_points(text)


def words(text: str) -> Words:
    """Normalise ``text`` into words with hashes and offsets (see the module docstring).

    Notes
    -----
    Text that is all ASCII is read one byte per character through the
    table's first 256 entries (no character folds to more than one there);
    other text one code point at a time.  A word's polynomial is taken from
    prefix sums over all its folded characters at once:
    ``sum_j c_j B**j = (P[stop] - P[first]) * B**-first`` with
    ``P[t] = sum_{u < t} c_u B**u`` (``B`` is odd, so invertible modulo 2**64).
    """
    n = len(text)
    if n == 0:
        return _no_words()
    cls_t, len_t, fold_t, _ = fold_table()
    if kernels.ready(n):
        return _words_compiled(text, cls_t, len_t, fold_t)
    if text.isascii():
        codes = np.frombuffer(text.encode("ascii"), np.uint8)
        cls = cls_t[codes]
        length = None
    else:
        cp = code_points(text)
        codes = cp.astype(np.uint16)
        if int(cp.max()) > 0xFFFF:
            codes[cp > 0xFFFF] = 0x20
        cls = cls_t[codes]
        length = len_t[codes]
    joins = np.flatnonzero(cls == JOIN)
    dropped = False
    if joins.size:
        # Runs of consecutive joiners: removed when a word character stands right before and right after the run.
        first = np.ones(joins.size, bool)
        first[1:] = joins[1:] != joins[:-1] + 1
        last = np.ones(joins.size, bool)
        last[:-1] = first[1:]
        run_start, run_end = joins[first], joins[last]
        prev_word = (run_start > 0) & (cls[np.maximum(run_start - 1, 0)] == WORD)
        next_word = (run_end < n - 1) & (cls[np.minimum(run_end + 1, n - 1)] == WORD)
        inner = (prev_word & next_word)[np.cumsum(first) - 1]
        cls[joins[~inner]] = SEP
        cls[joins[inner]] = DROP
        dropped = bool(inner.any())
    if "\n" in text:
        for m in _DEHYPHEN.finditer(text):
            if m.start() > 0 and cls[m.start() - 1] == WORD:
                cls[m.start():m.end()] = DROP
                dropped = True
    if length is not None and (cls == SOLO).any():
        _bridge_spaces(cls, cp)
    if length is None:
        # ASCII: every word character folds to one character; nothing is dropped but inner joiners and hyphens.
        if dropped:
            src = np.flatnonzero(cls != DROP)
            fcls, folded = cls[src], _ascii_fold()[codes[src]]
        else:
            src, fcls, folded = None, cls, _ascii_fold()[codes]
        return _hash_words(fcls, folded, src)
    # Each code point becomes 0 marks (dropped), 1 (a separator, or a letter folded to one) or up to 4.
    length = np.where(cls == SEP, np.uint8(1), np.where(cls == DROP, np.uint8(0), length))
    multi = np.flatnonzero(length > 1)
    if multi.size == 0:
        src = np.flatnonzero(length)
        fcls = cls[src]
        folded = fold_t[:, 0][codes[src]]
        last_of_char = None
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
        folded = fold_t.reshape(-1)[codes[src].astype(np.int64) * fold_t.shape[1] + k]
        last_of_char = np.ones(total, bool)
        last_of_char[:-1] = src[1:] != src[:-1]
    cut = None
    solo = fcls == SOLO
    if solo.any():
        cut = solo & cut_bits()[codes[src]]
        if last_of_char is not None:
            cut &= last_of_char
    return _hash_words(fcls, folded, src, cut)


#: White space that does not end a chunk of Han ideographs and kana when such a character follows it
#: (a re-flowed Japanese or Chinese text breaks its lines anywhere).
SPACES = "\t\n\x0b\x0c\r \u3000"
_SPACE_CODES = np.array([ord(c) for c in SPACES], np.uint32)


@lru_cache(maxsize=1)
def cut_bits() -> np.ndarray:
    """Each BMP code point's cut bit, bool of shape (65536,): a chunk of Han ideographs and kana ends after a
    character whose bit is set (the module docstring).  The low bit of :func:`mix64` of its first folded code
    point; read for ``SOLO`` characters only."""
    _, _, fold_t, _ = fold_table()
    return (mix64(fold_t[:, 0].astype(np.uint64)) & np.uint64(1)).astype(bool)


def _bridge_spaces(cls: np.ndarray, cp: np.ndarray) -> None:
    """Set to DROP, in place, each run of :data:`SPACES` between two ``SOLO`` characters (characters already
    DROP in between are skipped on both sides, as the word pass skips them)."""
    live = np.flatnonzero(cls != DROP)
    lc = cls[live]
    space = (lc == SEP) & np.isin(cp[live], _SPACE_CODES)
    if not space.any():
        return
    at = np.flatnonzero(space)
    first = np.ones(at.size, bool)
    first[1:] = at[1:] != at[:-1] + 1
    last = np.ones(at.size, bool)
    last[:-1] = first[1:]
    run_start, run_end = at[first], at[last]
    before = (run_start > 0) & (lc[np.maximum(run_start - 1, 0)] == SOLO)
    after = (run_end < lc.size - 1) & (lc[np.minimum(run_end + 1, lc.size - 1)] == SOLO)
    inner = (before & after)[np.cumsum(first) - 1]
    cls[live[at[inner]]] = DROP


def _words_compiled(text: str, cls_t, len_t, fold_t) -> Words:
    """:func:`words` through :func:`.kernels.words_kernel` (one pass over the text)."""
    cp = narrow_code_points(text)
    lo, hi = [], []
    if "\n" in text:
        for hyphen, pattern in _DEHYPHEN_BY_CHAR:
            if hyphen in text:
                for m in pattern.finditer(text):
                    s = m.start()
                    if s > 0 and ord(text[s - 1]) <= 0xFFFF and cls_t[ord(text[s - 1])] == WORD:
                        lo.append(s)
                        hi.append(m.end())
    if len(lo) > 1:
        order = np.argsort(lo)
        lo_a, hi_a = np.asarray(lo, np.int64)[order], np.asarray(hi, np.int64)[order]
    else:
        lo_a, hi_a = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    for cap in (cp.shape[0] + 2, 4 * cp.shape[0] + 2):
        out_h = np.empty(cap, np.uint64)
        out_s = np.empty(cap, np.int64)
        out_e = np.empty(cap, np.int64)
        nw = kernels.words_kernel(cp, cls_t, len_t, fold_t, _ascii_fold()[:128], cut_bits(), lo_a, hi_a,
                                  out_h, out_s, out_e)
        if nw >= 0:
            return Words(out_h[:nw], out_s[:nw], out_e[:nw])
    raise AssertionError("unreachable: a text folds to at most 4 marks per character")


@lru_cache(maxsize=1)
def _ascii_fold() -> np.ndarray:
    """Folded code of each ASCII byte (0 for non-word bytes), uint64 of shape (256,)."""
    cls_t, len_t, fold_t, _ = fold_table()
    if (len_t[:128][cls_t[:128] == WORD] != 1).any() or \
            ((cls_t[:128] != SEP) & (cls_t[:128] != WORD) & (cls_t[:128] != JOIN)).any():
        raise RuntimeError("fold_table.npz: an ASCII word character does not fold to exactly one, or one is dropped")
    out = np.zeros(256, np.uint64)
    out[:128] = np.where(cls_t[:128] == WORD, fold_t[:128, 0], 0)
    return out


#: Powers ``B**t`` and ``B**-t`` (mod 2**64) kept for texts up to this many folded characters.
_POWER_CACHE_LIMIT = 1 << 20
_B_INV = np.uint64(pow(int(_B), -1, 1 << 64))
_power_cache: tuple[np.ndarray, np.ndarray] = (np.ones(1, np.uint64), np.ones(1, np.uint64))


def _power_tables(m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(B**t, B**-t)`` for t in 0 .. m-1 at least (uint64, wrapping)."""
    global _power_cache
    if m > _POWER_CACHE_LIMIT:
        return _powers(_B, m), _powers(_B_INV, m)
    if _power_cache[0].shape[0] < m:
        size = min(_POWER_CACHE_LIMIT, max(1 << 16, 1 << (m - 1).bit_length()))
        _power_cache = (_powers(_B, size), _powers(_B_INV, size))
    return _power_cache


def _hash_words(fcls: np.ndarray, folded: np.ndarray, src: np.ndarray | None,
                cut: np.ndarray | None = None) -> Words:
    """Words of the folded marks: ``fcls`` their classes (SEP, WORD or SOLO), ``folded`` their codes (0 for
    separators), ``src`` each mark's code point in the text (None: the marks are the text's characters),
    ``cut`` whether a chunk of ``SOLO`` marks ends after each mark (None: none does)."""
    m = fcls.shape[0]
    if m == 0:
        return _no_words()
    is_word = fcls != SEP
    starts = is_word.copy()
    starts[1:] &= ~is_word[:-1]
    solo = fcls == SOLO
    if solo.any():
        # A word ends where Han/kana meets other letters, and a chunk of Han/kana after a cut character.
        starts[1:] |= is_word[1:] & is_word[:-1] & (solo[1:] != solo[:-1])
        if cut is not None:
            starts[1:] |= cut[:-1] & is_word[1:]
    first = np.flatnonzero(starts)
    if first.size == 0:
        return _no_words()
    last = np.empty(m, bool)
    last[-1] = True
    last[:-1] = ~is_word[1:] | starts[1:]
    stop = np.flatnonzero(last & is_word) + 1
    pw, inv = _power_tables(m)
    prefix = np.zeros(m + 1, np.uint64)
    with np.errstate(over="ignore"):
        np.multiply(folded, pw[:m], out=prefix[1:], dtype=np.uint64, casting="unsafe")
        np.cumsum(prefix, out=prefix)
        lengths = (stop - first).astype(np.uint64)
        h = (prefix[stop] - prefix[first]) * inv[first] + lengths
        hashes = mix64(h ^ (lengths * _C))
    if src is None:
        return Words(hashes, first.astype(np.int64), stop.astype(np.int64))
    return Words(hashes, src[first], src[stop - 1] + 1)


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
    if kernels.ready():
        out = np.empty(n, np.uint64)
        kernels.shingles_kernel(w.hashes, k, out)
        return Shingles(out, w.start_char[:n], w.end_char[k - 1:])
    acc = np.zeros(n, np.uint64)
    with np.errstate(over="ignore"):
        for t in range(k):
            acc = acc * _B + w.hashes[t:t + n]
    return Shingles(mix64(acc), w.start_char[:n], w.end_char[k - 1:])


def window_minima(hashes: np.ndarray, *, window: int) -> np.ndarray:
    """Position of the smallest hash of every ``window`` consecutive hashes, the rightmost on ties.

    Parameters
    ----------
    hashes : ndarray of uint64, shape (n,)
    window : int

    Returns
    -------
    ndarray of int64, shape (n - window + 1,): entry ``i`` is the position of
    the rightmost minimum of ``hashes[i:i + window]``.  Fewer hashes than
    ``window``: shape (1,), the rightmost minimum of all; none: shape (0,).

    Notes
    -----
    A sparse table: minima of spans of 1, 2, 4, ... hashes, each the smaller
    of two half spans (the right one on ties, so the rightmost minimum wins),
    and the window the smaller of two overlapping power-of-two spans: about
    ``3 * log2(window)`` passes over the array.
    """
    h = np.asarray(hashes, np.uint64)
    n = h.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    if n <= window:
        return np.array([n - 1 - int(np.argmin(h[::-1]))], np.int64)
    if kernels.ready():
        out = np.empty(n - window + 1, np.int64)
        kernels.minima_kernel(h, window, out)
        return out
    val, pos = h, np.arange(n, dtype=np.int64)
    span = 1
    while span * 2 <= window:
        val, pos = _rightmost_min(val[:-span], pos[:-span], val[span:], pos[span:])
        span *= 2
    if span < window:
        d = window - span
        val, pos = _rightmost_min(val[:-d], pos[:-d], val[d:], pos[d:])
    return pos


def _rightmost_min(a_val: np.ndarray, a_pos: np.ndarray, b_val: np.ndarray, b_pos: np.ndarray):
    """Elementwise the smaller of two (value, position) pairs, ``b`` (the right span) on ties."""
    right = b_val <= a_val
    return np.where(right, b_val, a_val), np.where(right, b_pos, a_pos)


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
    return np.unique(window_minima(hashes, window=window))


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
