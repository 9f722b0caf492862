"""Candidate lookup and verification for text: seeds from the index, chained into located passages.

A *seed* is a query shingle whose key and check bits are found in a work's
postings.  Seeds of one work that follow each other in both texts, no more
than ``max_gap_words`` apart in the query and agreeing on the offset between
the two texts within ``drift_chars + drift_per_char * distance``, form one
*passage*.  A seed weighs ``1 / c`` when ``c`` registered works hold its
shingle: text shared by a few works must be longer to count, which keeps
short stock phrases from pairing up.  Shingles held by ``common_min_works``
or more registered works are common text (boilerplate) and are not seeds:
what is common is read from the registry's own postings at each lookup.

Anchors and missed anchors
--------------------------
Winnowing is deterministic: a registered work keeps the smallest hash of
every ``winnow_window`` consecutive shingles, so wherever a query holds the
same ``winnow_window`` shingles as the work (a copied run of at least
``shingle_words + winnow_window - 1`` words), the query's own smallest hash
of that window is a posting of the work.  The query's window minima are its
*anchors*.  Between a passage's first and last seed, every window that lies
wholly inside the passage has an anchor that a copy holds; an anchor that is
not a seed of the passage (nor common text) is *missed*: the query differs
from the work there.  A passage whose seeds lie within one window (a
*short* one) has no window wholly inside it and cannot miss an anchor: it
must be *exact* instead -- its seeds agree exactly on the offset between the
two texts (as many characters between any two of them on both sides: no
edit between its first and last seed) -- and span
``min_short_passage_words`` words.  A passage counts when
its seed weight less ``miss_weight`` per missed anchor reaches ``min_seeds``,
it spans ``min_score`` words, and it *holds an anchor*: at least
``min_anchor_seeds`` of its seeds are anchors of the query.  Two short stock
phrases that two unrelated texts happen to share, 40 or 80 words apart, miss
every anchor between them; a copy misses only where it was edited.  And a
copy of ``shingle_words + winnow_window - 1`` words or more always holds an
anchor (the window it copies has the same smallest hash on both sides),
whereas shared phrases shorter than that (template text: "of or pertaining
to a natural order of plants ... of which ... is the type") are seeds only
because the *work's* windows chose them, and often hold none.

Lookup order
------------
The anchors are looked up first (about ``2 / (winnow_window + 1)`` of the
query's shingles).  When none is a seed, nothing is found and nothing more is
read: a copy of ``shingle_words + winnow_window - 1`` words or more always
has one.  Otherwise every shingle within ``max_gap_words`` words of an
anchor that is a seed is looked up too; the seeds of a passage are those.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import kernels
from .params import TextEngineParams
from .winnowing import MAX_FP_ID, Shingles, check_of, key_of, unpack_postings, window_minima


@dataclass(frozen=True)
class TextQuery:
    """The query side: every shingle of the query text (not winnowed), with word positions.

    Attributes
    ----------
    shingles : Shingles
        Hashes and character offsets of every shingle, shape (n,).
    n_words : int
        Words in the query.
    n_chars : int
        Characters in the query's text.
    window_min : ndarray of int64, shape (max(1, n - w + 1),) or (0,), or None
        Per window of ``winnow_window`` consecutive shingles, the position of
        its smallest hash (:func:`.winnowing.window_minima`); computed from
        the shingles when None.  The distinct entries are the query's anchors.
    """

    shingles: Shingles
    n_words: int
    n_chars: int
    window_min: np.ndarray | None = None

    def minima(self, window: int) -> np.ndarray:
        """``window_min``, computed for ``window`` when not given."""
        if self.window_min is not None:
            return self.window_min
        return window_minima(self.shingles.hashes, window=window)


@dataclass(frozen=True)
class Seeds:
    """Postings the query reached, one row per (query shingle, posting) that agree on key and check.

    Attributes
    ----------
    query_shingle : ndarray of int64, shape (s,)
        Index of the query shingle (its first word's index in the query).
    fp_id : ndarray of int64, shape (s,)
    work_start_char : ndarray of int64, shape (s,)
        Where the work's shingle begins in the work's extracted text.
    key : ndarray of uint32, shape (s,)
    works_holding : ndarray of int64, shape (s,)
        How many registered works hold the seed's shingle (1 for text only that work has).
    common_shingles : int
        Query shingles skipped because the registry holds them in many works.
    common_at : ndarray of int64, shape (c,)
        Those shingles' positions in the query, sorted.
    """

    query_shingle: np.ndarray
    fp_id: np.ndarray
    work_start_char: np.ndarray
    key: np.ndarray
    works_holding: np.ndarray
    common_shingles: int
    common_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def lookup(query: TextQuery, segments: Sequence, params: TextEngineParams,
           positions: np.ndarray | None = None) -> Seeds:
    """Every posting of every segment that a query shingle reaches, common shingles left out.

    Parameters
    ----------
    positions : ndarray of int64, shape (p,), optional
        Look up only these query shingles (sorted, distinct); all when None.

    The query's keys are sorted once (radix sort) and found in each segment's
    sorted keys with one vectorised binary search per side, so a run of
    unrelated text costs one search per shingle and reads no postings.
    """
    h = query.shingles.hashes
    if positions is not None:
        h = h[positions]
    empty = np.zeros(0, np.int64)
    if h.size == 0 or not segments:
        return Seeds(empty, empty, empty, np.zeros(0, np.uint32), empty, 0)
    keys = key_of(h)
    compiled = kernels.ready() and all(hasattr(seg, "directory") for seg in segments)
    # Sorted query keys make np.searchsorted walk the segment's keys in order; the compiled search goes
    # through the segment's bucket directory and needs no order.
    order = np.arange(keys.size, dtype=np.int64) if compiled else np.argsort(keys, kind="stable")
    sk = keys if compiled else keys[order]
    want_check = check_of(h[order]).astype(np.int64)
    if compiled:
        return _lookup_compiled(sk, want_check, order if positions is None else
                                np.asarray(positions, np.int64)[order], segments, params)
    rows_q, rows_v = [], []
    too_many = np.zeros(sk.size, bool)
    for seg in segments:
        if len(seg.keys) == 0:
            continue
        lo = np.searchsorted(seg.keys, sk, side="left")
        hi = np.searchsorted(seg.keys, sk, side="right")
        cnt = (hi - lo).astype(np.int64)
        big = cnt > params.max_postings_per_key
        too_many |= big
        cnt[big] = 0
        total = int(cnt.sum())
        if total == 0:
            continue
        hit = np.flatnonzero(cnt)
        c = cnt[hit]
        q = np.repeat(hit, c)
        offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
        rows_q.append(q)
        rows_v.append(np.asarray(seg.values[np.repeat(lo[hit].astype(np.int64), c) + offs], dtype=np.uint64))
    at = order if positions is None else np.asarray(positions, np.int64)[order]
    if not rows_q:
        return Seeds(empty, empty, empty, np.zeros(0, np.uint32), empty, int(too_many.sum()),
                     np.sort(at[too_many]))
    q = np.concatenate(rows_q)
    fp, start, chk = unpack_postings(np.concatenate(rows_v))
    ok = chk == want_check[q]
    q, fp, start = q[ok], fp[ok], start[ok]
    # Common text: a shingle whose (checked) postings span at least common_min_works works.
    pairs = np.unique(q * (MAX_FP_ID + 1) + fp) if q.size else empty
    works_per_q = np.bincount(pairs // (MAX_FP_ID + 1), minlength=sk.size)
    common = too_many | (works_per_q >= params.common_min_works)
    keep = ~common[q]
    q, fp, start = q[keep], fp[keep], start[keep]
    return Seeds(at[q].astype(np.int64), fp, start, sk[q], works_per_q[q].astype(np.int64), int(common.sum()),
                 np.sort(at[common]))


def _lookup_compiled(sk: np.ndarray, want_check: np.ndarray, at: np.ndarray, segments: Sequence,
                     params: TextEngineParams) -> Seeds:
    """:func:`lookup` through the compiled key search and postings reader (:mod:`.kernels`): the same seeds."""
    n = sk.size
    too_many = np.zeros(n, bool)
    parts = []
    for seg in segments:
        if len(seg.keys) == 0:
            continue
        lo = np.empty(n, np.int64)
        hi = np.empty(n, np.int64)
        bitmap, bit_shift = kernels.presence(seg.keys)
        kernels.find_ranges_kernel(np.asarray(seg.keys), np.asarray(seg.directory), int(seg.shift), sk, lo, hi,
                                   bitmap, bit_shift)
        cnt = hi - lo
        total = int(cnt[cnt <= params.max_postings_per_key].sum())
        if total == 0 and not (cnt > params.max_postings_per_key).any():
            continue
        out_q = np.empty(total, np.int64)
        out_fp = np.empty(total, np.int64)
        out_start = np.empty(total, np.int64)
        m = kernels.gather_kernel(np.asarray(seg.values), lo, hi, want_check, params.max_postings_per_key,
                                  out_q, out_fp, out_start, too_many)
        parts.append((out_q[:m], out_fp[:m], out_start[:m]))
    empty = np.zeros(0, np.int64)
    q = np.concatenate([p[0] for p in parts]) if parts else empty
    fp = np.concatenate([p[1] for p in parts]) if parts else empty
    start = np.concatenate([p[2] for p in parts]) if parts else empty
    if len(parts) > 1:
        by_q = np.argsort(q, kind="stable")
        q, fp, start = q[by_q], fp[by_q], start[by_q]
    works_per_q = np.zeros(n, np.int64)
    if q.size:
        kernels.distinct_kernel(q, fp, works_per_q)
    common = too_many | (works_per_q >= params.common_min_works)
    keep = ~common[q]
    q, fp, start = q[keep], fp[keep], start[keep]
    return Seeds(at[q].astype(np.int64), fp, start, sk[q], works_per_q[q], int(common.sum()), np.sort(at[common]))


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """The distinct values of an int64 array, sorted (``np.unique`` without its hashing, for short arrays).

    An array in order already is not sorted again: a batch's window minima (each text's positions never
    decrease, texts one after the other) and the seeds a lookup returns are (~15 % of ``locate_many`` on
    2 KB rows went to sorting them).
    """
    a = np.asarray(a, np.int64)
    if a.size < 2:
        return np.array(a, copy=True)
    if not (a[1:] >= a[:-1]).all():
        a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))]


def find_seeds(query: TextQuery, segments: Sequence, params: TextEngineParams) -> Seeds:
    """Seeds of the query, anchors first (see "Lookup order" in the module docstring).

    The query's anchors (its window minima) are looked up; when one or more
    are seeds, so are the other shingles within ``max_gap_words`` words
    of those, and the two lookups are merged.  A shingle's outcome (its
    postings, whether it is common) does not depend on which others are
    looked up with it.
    """
    n = len(query.shingles)
    anchors = sorted_unique(query.minima(params.winnow_window))
    first = lookup(query, segments, params, anchors)
    if first.fp_id.size == 0:
        return first
    hits = sorted_unique(first.query_shingle)
    edge = np.zeros(n + 1, np.int64)
    np.add.at(edge, np.maximum(hits - params.max_gap_words, 0), 1)
    np.add.at(edge, np.minimum(hits + params.max_gap_words + 1, n), -1)
    near = np.cumsum(edge[:n]) > 0
    near[anchors] = False
    rest = lookup(query, segments, params, np.flatnonzero(near))
    return Seeds(*(np.concatenate([getattr(first, f), getattr(rest, f)])
                   for f in ("query_shingle", "fp_id", "work_start_char", "key", "works_holding")),
                 first.common_shingles + rest.common_shingles,
                 np.sort(np.concatenate([first.common_at, rest.common_at])))


@dataclass
class _Chain:
    seeds: list  # of (query_shingle, work_start_char, key, works_holding)
    last_q: int
    last_qc: int
    last_w: int


@dataclass(frozen=True)
class Chain:
    """Seeds of one work on one alignment (a candidate passage) and how it scores.

    Attributes
    ----------
    fp_id : int
    seeds : list of tuple
        ``(query_shingle, work_start_char, key, works_holding)`` in query order.
    weight : float
        Sum of ``1 / works_holding`` over the seeds.
    missed : int
        Anchors missed between the first and the last seed (module docstring).
    matched_words : int
        Query words from the first seed's first word to the last seed's last word.
    short : bool
        Whether the seeds lie within one window (no window lies wholly between the first and the last, so
        no anchor can be missed).
    anchors : int
        Seeds that are anchors of the query (the smallest hash of one of its windows), each position once.
    exact : bool
        Whether every seed has the same offset between work and query (``work_start_char - query_start_char``):
        as many characters between any two seeds on both sides.
    """

    fp_id: int
    seeds: list
    weight: float
    missed: int
    matched_words: int = 0
    short: bool = False
    anchors: int = 0
    exact: bool = False

    def score(self, miss_weight: float) -> float:
        """``weight - miss_weight * missed``."""
        return self.weight - miss_weight * self.missed

    def counts(self, params: TextEngineParams) -> bool:
        """Whether the passage counts: it holds ``min_anchor_seeds`` anchors, its score reaches ``min_seeds``
        and, when it is short, it is exact and spans ``min_short_passage_words``."""
        if self.anchors < params.min_anchor_seeds:
            return False
        if self.short and (not self.exact or self.matched_words < params.min_short_passage_words):
            return False
        return self.score(params.miss_weight) >= params.min_seeds - 1e-9


def missed_anchors(qs: Sequence[int], window_min: np.ndarray, window: int, common_at: np.ndarray) -> int:
    """The anchors of the query windows lying wholly between the first and last of the seeds at query
    shingles ``qs`` (sorted) that are neither among ``qs`` nor common text (``common_at``); 0 when no
    window lies wholly between them."""
    a, b = int(qs[0]), int(qs[-1])
    if window_min.size == 0 or b - a + 1 < window:
        return 0
    span = window_min[a:b - window + 2]
    if span.size <= _SMALL and common_at.size <= _SMALL:  # most passages: sets cost less than NumPy's calls
        expected = set(span.tolist()).difference(int(q) for q in qs)
        if expected and common_at.size:
            expected.difference_update(common_at.tolist())
        return len(expected)
    expected = np.unique(span)
    expected = expected[~np.isin(expected, np.asarray(qs, np.int64))]
    if common_at.size and expected.size:
        expected = expected[~np.isin(expected, common_at)]
    return int(expected.size)


#: Arrays up to this size are handled with Python sets in :func:`chains` and :func:`missed_anchors`.
_SMALL = 256


def chains(seeds: Seeds, query: TextQuery, params: TextEngineParams) -> list[Chain]:
    """Group each work's seeds into candidate passages (module docstring), each with its weight and missed
    anchors, whether it counts or not."""
    if seeds.fp_id.size == 0:
        return []
    if seeds.fp_id.size <= _SMALL:  # a row's few seeds: counted in Python (the same works kept)
        fp_list = seeds.fp_id.tolist()
        per_work = Counter(fp_list)
        kept = {f for f, c in per_work.items() if c >= params.min_seeds}
        if not kept:
            return []
        sel = np.fromiter((f in kept for f in fp_list), bool, len(fp_list))
    else:
        fps, counts = np.unique(seeds.fp_id, return_counts=True)
        wanted = fps[counts >= params.min_seeds]
        if wanted.size == 0:
            return []
        sel = np.isin(seeds.fp_id, wanted)
    fp, qi, wc, key = seeds.fp_id[sel], seeds.query_shingle[sel], seeds.work_start_char[sel], seeds.key[sel]
    holding = seeds.works_holding[sel]
    order = np.lexsort((wc, qi, fp))
    qstart = query.shingles.start_char
    window_min = query.minima(params.winnow_window)
    is_anchor = np.zeros(len(query.shingles), bool)
    is_anchor[window_min] = True
    if kernels.ready():
        return _chains_compiled([a[order] for a in (fp, qi, wc, key, holding)], qstart, window_min, is_anchor,
                                seeds.common_at, params)
    out: list[Chain] = []
    i, n = 0, order.size
    while i < n:
        f = int(fp[order[i]])
        j = i
        while j < n and int(fp[order[j]]) == f:
            j += 1
        open_: list[_Chain] = []
        done: list[_Chain] = []
        for r in order[i:j].tolist():
            q, w, kk, hold = int(qi[r]), int(wc[r]), int(key[r]), int(holding[r])
            qc = int(qstart[q])
            best, best_err = None, None
            still = []
            for c in open_:
                if q - c.last_q > params.max_gap_words:
                    done.append(c)
                    continue
                still.append(c)
                if q <= c.last_q or w <= c.last_w:
                    continue
                err = abs((w - qc) - (c.last_w - c.last_qc))
                if err <= params.drift_chars + params.drift_per_char * (qc - c.last_qc) and \
                        (best_err is None or err < best_err):
                    best, best_err = c, err
            open_ = still
            if best is None:
                open_.append(_Chain([(q, w, kk, hold)], q, qc, w))
            else:
                best.seeds.append((q, w, kk, hold))
                best.last_q, best.last_qc, best.last_w = q, qc, w
        done.extend(open_)
        for c in done:
            weight = sum(1.0 / max(1, s[3]) for s in c.seeds)
            if weight < params.min_seeds - 1e-9:
                continue
            out.append(_chain(f, c.seeds, weight, qstart, window_min, is_anchor, seeds.common_at, params))
        i = j
    return out


def _chain(fp_id: int, rows: list, weight: float, qstart: np.ndarray, window_min: np.ndarray, is_anchor: np.ndarray,
           common_at: np.ndarray, params: TextEngineParams) -> Chain:
    """One candidate passage of ``rows`` ``(query_shingle, work_start_char, key, works_holding)`` (query order)."""
    qs = [s[0] for s in rows]
    missed = missed_anchors(qs, window_min, params.winnow_window, common_at)
    offsets = {w - int(qstart[q]) for q, w, _, _ in rows}
    return Chain(fp_id, rows, weight, missed, qs[-1] + params.shingle_words - qs[0],
                 qs[-1] - qs[0] + 1 < params.winnow_window, int(is_anchor[sorted(set(qs))].sum()), len(offsets) == 1)


def _chains_compiled(sorted_seeds: list, qstart: np.ndarray, window_min: np.ndarray, is_anchor: np.ndarray,
                     common_at: np.ndarray, params: TextEngineParams) -> list[Chain]:
    """:func:`chains` with the grouping in a compiled loop (:func:`._loops.chains_kernel`): the same passages in
    the same order.  ``sorted_seeds``: ``fp_id``, ``query_shingle``, ``work_start_char``, ``key`` and
    ``works_holding`` of the kept seeds, sorted by work, query shingle and work offset."""
    fp, qi, wc, key, hold = sorted_seeds
    n = fp.size
    chain_of = np.empty(n, np.int64)
    weight = np.empty(n, np.float64)
    done = np.empty(n, np.int64)
    m = kernels.chains_kernel(fp.astype(np.int64), qi.astype(np.int64), wc.astype(np.int64), hold.astype(np.int64),
                              np.asarray(qstart, np.int64), int(params.max_gap_words), params.drift_chars,
                              params.drift_per_char, chain_of, weight, done)
    wanted = [c for c in done[:m].tolist() if not weight[c] < params.min_seeds - 1e-9]
    if not wanted:
        return []
    by_chain = np.argsort(chain_of, kind="stable")   # each passage's seeds in seed order
    ends = np.cumsum(np.bincount(chain_of, minlength=m))
    out = []
    for c in wanted:
        rows = by_chain[ends[c - 1] if c else 0:ends[c]]
        seeds = list(zip(qi[rows].tolist(), wc[rows].tolist(), key[rows].tolist(), hold[rows].tolist()))
        out.append(_chain(int(fp[rows[0]]), seeds, float(weight[c]), qstart, window_min, is_anchor, common_at,
                          params))
    return out


def chain_seeds(seeds: Seeds, query: TextQuery, params: TextEngineParams) -> list[Chain]:
    """The candidate passages (:func:`chains`) that count (:meth:`Chain.counts`)."""
    return [c for c in chains(seeds, query, params) if c.counts(params)]
