"""The compiled loops of :mod:`.kernels` (Numba), imported only when a text is first searched.

Each says which NumPy function it equals; see :mod:`.kernels`.
"""

from __future__ import annotations

import numba
import numpy as np

from .kernels import _B, _C, _DROP, _JOIN, _M1, _M2, _ONE, _S27, _S30, _S31, _SEP, _SOLO, _WORD, _ZERO

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _mix(x):
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


@_jit
def _class_of(cp, cls_t):
    c = np.int64(cp)
    if c > 0xFFFF:
        return _SEP
    return np.int64(cls_t[c])


@_jit
def _is_space(c):
    """Whether code point ``c`` is one of :data:`.winnowing.SPACES` (tab, line feed, VT, form feed, CR, space,
    ideographic space)."""
    return (0x09 <= c <= 0x0D) or c == 0x20 or c == 0x3000


@_jit
def words_kernel(cp, cls_t, len_t, fold_t, fold_ascii, cut_t, drop_lo, drop_hi, out_hash, out_start, out_end):
    """:func:`.winnowing.words` on code points ``cp`` (uint8, uint16 or uint32: :func:`.winnowing.narrow_code_points`).

    ``fold_ascii``: the folded code of each ASCII character (uint64, shape (128,): ``fold_t[c, 0]`` for a word
    character, which folds to exactly one there, :func:`.winnowing._ascii_fold`), read for ``c < 128`` instead
    of the tables.  ``cut_t``: :func:`.winnowing.cut_bits` (bool, shape (65536,)): a chunk of Han ideographs and
    kana ends after a character whose bit is set; white space between two such characters is skipped (an open
    chunk stays open across it and is closed by whatever else comes next).  ``drop_lo``/``drop_hi``: sorted,
    disjoint character ranges removed by de-hyphenation (the regex stays in Python).  Writes each word's hash,
    start and end (end exclusive) into the ``out_*`` arrays (at least
    ``len(cp) + 2`` long each) and returns the number of words (at most one per character; -1 when the
    arrays hold too few).
    """
    n = cp.shape[0]
    nw = 0
    is_open = False
    open_solo = False     # the open word is a chunk of Han/kana
    h = _ZERO
    pw = _ONE
    length = _ZERO
    ws = 0
    we = 0
    hp = 0
    nd = drop_lo.shape[0]
    next_drop = np.int64(drop_lo[0]) if nd > 0 else np.int64(n)   # no range starts before it
    run_end = -1          # the joiners at i < run_end are one run, removed when run_inner
    run_inner = False
    for i in range(n):
        c = np.int64(cp[i])
        if c < 128:
            k = np.int64(cls_t[c])
            if i < next_drop:  # no de-hyphenation range begins before i: two common cases in few steps
                if k == _WORD and is_open and not open_solo:   # inside a word: what the steps below do for it
                    h = h + fold_ascii[c] * pw
                    pw = pw * _B
                    length = length + _ONE
                    we = i + 1
                    continue
        else:
            k = _class_of(c, cls_t)
            if k == _WORD and is_open and not open_solo and i < next_drop:
                for j in range(len_t[c]):
                    h = h + np.uint64(fold_t[c, j]) * pw
                    pw = pw * _B
                    length = length + _ONE
                we = i + 1
                continue
        if k == _JOIN:
            if i >= run_end:
                j = i + 1
                while j < n and _class_of(cp[j], cls_t) == _JOIN:
                    j += 1
                run_end = j
                run_inner = i > 0 and j < n and _class_of(cp[i - 1], cls_t) == _WORD and \
                    _class_of(cp[j], cls_t) == _WORD
            k = _DROP if run_inner else _SEP
        if i >= next_drop:
            while hp < nd and drop_hi[hp] <= i:
                hp += 1
            if hp < nd and drop_lo[hp] <= i:
                k = _DROP
            next_drop = np.int64(drop_lo[hp]) if hp < nd else np.int64(n)
        if k == _DROP:
            continue
        if k == _SEP:
            if is_open:
                if open_solo and _is_space(c):
                    continue
                out_hash[nw] = _mix((h + length) ^ (length * _C))
                out_start[nw] = ws
                out_end[nw] = we
                nw += 1
                is_open = False
            continue
        if is_open and open_solo != (k == _SOLO):
            out_hash[nw] = _mix((h + length) ^ (length * _C))
            out_start[nw] = ws
            out_end[nw] = we
            nw += 1
            is_open = False
        if not is_open:
            is_open = True
            open_solo = k == _SOLO
            h = _ZERO
            pw = _ONE
            length = _ZERO
            ws = i
        if c < 128:
            h = h + fold_ascii[c] * pw
            pw = pw * _B
            length = length + _ONE
        else:
            for j in range(len_t[c]):
                h = h + np.uint64(fold_t[c, j]) * pw
                pw = pw * _B
                length = length + _ONE
        we = i + 1
        if k == _SOLO and cut_t[c]:
            out_hash[nw] = _mix((h + length) ^ (length * _C))
            out_start[nw] = ws
            out_end[nw] = we
            nw += 1
            is_open = False
    if is_open:
        out_hash[nw] = _mix((h + length) ^ (length * _C))
        out_start[nw] = ws
        out_end[nw] = we
        nw += 1
    return nw


@_jit
def shingles_kernel(word_hashes, k, out):
    """:func:`.winnowing.shingles`' hashes: the mixed polynomial of every ``k`` consecutive word hashes.

    Rolled: ``acc[i + 1] = (acc[i] - h[i] * B**(k-1)) * B + h[i + k]``, exact in the wrapping uint64 arithmetic
    that the polynomial ``acc[i] = sum_t h[i + t] * B**(k-1-t)`` is taken in (so equal to it bit for bit)."""
    n = word_hashes.shape[0] - k + 1
    if n <= 0:
        return n
    top = _ONE
    for t in range(k - 1):
        top = top * _B
    acc = _ZERO
    for t in range(k):
        acc = acc * _B + word_hashes[t]
    out[0] = _mix(acc)
    for i in range(1, n):
        acc = (acc - word_hashes[i - 1] * top) * _B + word_hashes[i + k - 1]
        out[i] = _mix(acc)
    return n


@_jit
def minima_kernel(hashes, window, out):
    """:func:`.winnowing.window_minima` for ``len(hashes) > window``: the rightmost minimum of each window."""
    n = hashes.shape[0]
    best = -1
    for i in range(n - window + 1):
        last = i + window - 1
        if best < i:
            best = i
            for p in range(i + 1, last + 1):
                if hashes[p] <= hashes[best]:
                    best = p
        elif hashes[last] <= hashes[best]:
            best = last
        out[i] = best
    return n - window + 1


@_jit
def find_ranges_kernel(keys, directory, shift, query_keys, lo_out, hi_out, presence, presence_shift):
    """Each query key's run ``[lo, hi)`` in sorted ``keys``, through the segment's bucket directory
    (``np.searchsorted`` left and right, restricted to the key's bucket).

    ``presence``: a bitmap (uint8) with bit ``key >> presence_shift`` set for every key of the segment
    (:func:`presence_kernel`); a key whose bit is clear is absent, and its run ``[0, 0)`` is given
    without reading the directory or the keys.  An empty ``presence`` reads them for every key.
    """
    n_buckets = directory.shape[0] - 1
    use_bits = presence.shape[0] > 0
    for i in range(query_keys.shape[0]):
        q = np.int64(query_keys[i])
        if use_bits:
            bit = q >> presence_shift
            if (presence[bit >> 3] >> (bit & 7)) & 1 == 0:
                lo_out[i] = 0
                hi_out[i] = 0
                continue
        b = q >> shift
        if b >= n_buckets:
            b = n_buckets - 1
        lo = np.int64(directory[b])
        hi = np.int64(directory[b + 1])
        a, z = lo, hi
        while a < z:
            m = (a + z) >> 1
            if np.int64(keys[m]) < q:
                a = m + 1
            else:
                z = m
        start = a
        z = hi
        while a < z:
            m = (a + z) >> 1
            if np.int64(keys[m]) <= q:
                a = m + 1
            else:
                z = m
        lo_out[i] = start
        hi_out[i] = a


@_jit
def presence_kernel(keys, presence_shift, out):
    """Set bit ``key >> presence_shift`` of the bitmap ``out`` (uint8, zeroed) for every key."""
    for i in range(keys.shape[0]):
        bit = np.int64(keys[i]) >> presence_shift
        out[bit >> 3] |= np.uint8(1 << (bit & 7))


@_jit
def gather_kernel(values, lo, hi, want_check, max_per_key, out_q, out_fp, out_start, too_many):
    """The postings of each query key's run ``[lo, hi)`` whose check bits agree (rows in query order);
    a run longer than ``max_per_key`` marks ``too_many`` and is not read.  Returns the rows written.

    The same rows as ``match.lookup``'s NumPy path: ``fp_id = v >> 38``, ``start = (v >> 12) & (2**26 - 1)``,
    ``check = v & 4095``.
    """
    m = 0
    for i in range(lo.shape[0]):
        c = hi[i] - lo[i]
        if c <= 0:
            continue
        if c > max_per_key:
            too_many[i] = True
            continue
        want = np.uint64(want_check[i])
        for p in range(lo[i], hi[i]):
            v = np.uint64(values[p])
            if (v & np.uint64(4095)) == want:
                out_q[m] = i
                out_fp[m] = np.int64(v >> np.uint64(38))
                out_start[m] = np.int64((v >> np.uint64(12)) & np.uint64(67108863))
                m += 1
    return m


@_jit
def distinct_kernel(q, fp, works_per_q):
    """``works_per_q[i]``: distinct ``fp`` among the rows with ``q == i`` (rows grouped by ``q``)."""
    n = q.shape[0]
    a = 0
    while a < n:
        b = a + 1
        while b < n and q[b] == q[a]:
            b += 1
        if b - a == 1:
            works_per_q[q[a]] = 1
        else:
            s = np.sort(fp[a:b])
            d = 1
            for t in range(1, s.shape[0]):
                if s[t] != s[t - 1]:
                    d += 1
            works_per_q[q[a]] = d
        a = b


@_jit
def batch_minima_kernel(hashes, first, count, window, out):
    """:func:`.batch.batch_minima` flattened: text ``j``'s window minima (``first[j] + window_minima(hashes[first[j]:
    first[j] + count[j]], window)``: the rightmost minimum of each window, or of all its hashes when it has no
    more than ``window``) written one text after the other into ``out``; returns how many were written."""
    k = 0
    for j in range(first.shape[0]):
        a = first[j]
        n = count[j]
        if n == 0:
            continue
        if n <= window:
            best = a
            for p in range(a + 1, a + n):
                if hashes[p] <= hashes[best]:
                    best = p
            out[k] = best
            k += 1
            continue
        m = minima_kernel(hashes[a:a + n], window, out[k:])
        for t in range(k, k + m):
            out[t] += a
        k += m
    return k


@_jit
def batch_layout_kernel(word_start, word_end, shingle_hashes, k, text_start, n_words, count, out_hash, out_start,
                        out_end, out_item):
    """A batch's words and shingles sorted out by text (:func:`.batch.locate_many`'s NumPy lines, in two passes).

    Word ``i`` belongs to text ``searchsorted(text_start, word_start[i], side="right") - 1`` (``text_start``
    strictly increasing from 0, ``word_start`` increasing: one merge walk); ``n_words[j]`` counts text ``j``'s
    words.  Shingle ``i`` (words ``i .. i + k - 1``) is kept when its first and last word belong to one text: its
    hash, ``word_start[i]``, ``word_end[i + k - 1]`` and text are written at the next place of the ``out_*``
    arrays and ``count`` of its text is raised.  ``n_words`` and ``count`` come zeroed.  Returns the shingles kept.
    """
    m = word_start.shape[0]
    t = text_start.shape[0]
    item = np.empty(m, np.int64)
    j = 0
    for i in range(m):
        s = word_start[i]
        while j + 1 < t and text_start[j + 1] <= s:
            j += 1
        item[i] = j
        n_words[j] += 1
    kept = 0
    for i in range(m - k + 1):
        it = item[i]
        if it == item[i + k - 1]:
            out_hash[kept] = shingle_hashes[i]
            out_start[kept] = word_start[i]
            out_end[kept] = word_end[i + k - 1]
            out_item[kept] = it
            count[it] += 1
            kept += 1
    return kept


@_jit
def distinct_in_order_kernel(a, out):
    """:func:`.match.sorted_unique` of an int64 array ``a`` already in order: its distinct values written into
    ``out`` (as long as ``a``); returns how many, or -1 when ``a`` is not in order (nothing then to use)."""
    m = 0
    for i in range(a.shape[0]):
        if i == 0 or a[i] != a[i - 1]:
            if i > 0 and a[i] < a[i - 1]:
                return -1
            out[m] = a[i]
            m += 1
    return m


@_jit
def chains_kernel(fp, qi, wc, hold, qstart, max_gap, drift_chars, drift_per_char, chain_of, weight, done_order):
    """:func:`.match.chains`' grouping of seeds into passages, for seeds sorted by work, query shingle and work
    offset (``fp``, ``qi``, ``wc``, ``hold`` int64 of shape (n,); ``qstart``: the query shingles' first
    characters).  Each work's seeds are taken in turn: a seed joins the open passage whose last seed it
    follows in both texts with the smallest drift ``|(w - qc) - (last_w - last_qc)|`` (the first such on ties)
    if the drift is at most ``drift_chars + drift_per_char * (qc - last_qc)``, else opens one; a passage more
    than ``max_gap`` shingles behind the seed is closed.  Writes each seed's passage (numbered as opened) into
    ``chain_of``, each passage's weight (``1 / max(1, hold)`` summed in seed order) into ``weight`` and the
    passages in the order ``chains`` lists them (closed ones as they close, then the open ones, work by work)
    into ``done_order``; returns the number of passages."""
    n = fp.shape[0]
    open_ids = np.empty(n, np.int64)
    last_q = np.empty(n, np.int64)
    last_qc = np.empty(n, np.int64)
    last_w = np.empty(n, np.int64)
    n_chains = 0
    n_done = 0
    i = 0
    while i < n:
        j = i
        while j < n and fp[j] == fp[i]:
            j += 1
        n_open = 0
        for r in range(i, j):
            q = qi[r]
            w = wc[r]
            qc = qstart[q]
            best = -1
            best_err = 0
            keep = 0
            for t in range(n_open):
                c = open_ids[t]
                if q - last_q[c] > max_gap:
                    done_order[n_done] = c
                    n_done += 1
                    continue
                open_ids[keep] = c
                keep += 1
                if q <= last_q[c] or w <= last_w[c]:
                    continue
                err = abs((w - qc) - (last_w[c] - last_qc[c]))
                if err <= drift_chars + drift_per_char * (qc - last_qc[c]) and (best < 0 or err < best_err):
                    best = c
                    best_err = err
            n_open = keep
            if best < 0:
                best = n_chains
                n_chains += 1
                weight[best] = 0.0
                open_ids[n_open] = best
                n_open += 1
            chain_of[r] = best
            weight[best] += 1.0 / max(1, hold[r])
            last_q[best] = q
            last_qc[best] = qc
            last_w[best] = w
        for t in range(n_open):
            done_order[n_done] = open_ids[t]
            n_done += 1
        i = j
    return n_chains
