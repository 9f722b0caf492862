"""Many texts searched in one pass: :meth:`TextEngine.locate_many <consentry.engines.text.TextEngine.locate_many>`.

A dataset of short rows spends most of its time in the fixed cost of each
NumPy call, not in the text: so the texts of a batch are joined with a NUL
between them (a separator that no normalisation rule crosses: joiners and
line-end hyphens need a word character or a line break beside them), their
words are read and hashed once, the shingles that cross from one text to
the next are left out, every text's window minima come from one pass over
its shingles padded with ``winnow_window - 1`` largest hashes, and the
anchors of all texts, then the shingles near the anchors that are seeds, are
looked up in one search each.  Only texts with seeds, and of those only the
seeds of works that could make a passage there (``min_seeds`` seeds of that
work, as much seed weight, an anchor among them), are verified one by one.
The result is that of :meth:`locate` on each text
(``tests/engines/test_text_batch.py``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import kernels
from .match import Seeds, TextQuery, lookup, sorted_unique
from .winnowing import Shingles, shingles, window_minima, words

_PAD = np.uint64(0xFFFFFFFFFFFFFFFF)
#: How far below ``min_seeds`` a (text, work) pair's seed weight must be for none of its passages to count.
_WEIGHT_SLACK = 1e-6


def batch_minima(hashes: np.ndarray, first: np.ndarray, count: np.ndarray, window: int) -> list[np.ndarray]:
    """Each text's window minima (:func:`.winnowing.window_minima`), as global shingle positions.

    Parameters
    ----------
    hashes : ndarray of uint64, shape (n,)
        Shingle hashes of all texts; text ``j``'s are ``hashes[first[j]:first[j] + count[j]]``.
    first, count : ndarray of int64, shape (t,)
    window : int

    Returns
    -------
    list of t ndarrays of int64: positions in ``hashes``.
    """
    t = first.shape[0]
    if t == 0:
        return []
    if kernels.ready():  # one compiled pass over every text's shingles, no padding
        flat, ends = batch_minima_flat(hashes, first, count, window)
        return np.split(flat, ends[:-1])
    if hashes.size and (hashes == _PAD).any():  # a real hash equal to the padding: no ties to reason about
        return [first[j] + window_minima(hashes[first[j]:first[j] + count[j]], window=window) for j in range(t)]
    slot = count + (window - 1)
    start = np.cumsum(slot) - slot                       # where each text's shingles begin in the padded array
    total = int(slot.sum())
    padded = np.full(total, _PAD, np.uint64)
    origin = np.full(total, -1, np.int64)
    # Shingle i of text j sits at start[j] + (i - first[j]).
    owner = np.repeat(np.arange(t), count)
    own = start[owner] + (np.arange(hashes.size, dtype=np.int64) - first[owner])
    padded[own] = hashes
    origin[own] = np.arange(hashes.size, dtype=np.int64)
    wm = window_minima(padded, window=window) if total > window else None
    out = []
    for j in range(t):
        c = int(count[j])
        if c == 0:
            out.append(np.zeros(0, np.int64))
        elif wm is None:
            out.append(first[j] + window_minima(hashes[first[j]:first[j] + c], window=window))
        else:
            s = int(start[j])
            out.append(origin[wm[s:s + max(1, c - window + 1)]])
    return out


def batch_minima_flat(hashes: np.ndarray, first: np.ndarray, count: np.ndarray,
                      window: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`batch_minima` as one array: ``(flat, ends)``, text ``j``'s minima being ``flat[ends[j - 1]:ends[j]]``
    (from 0 for the first text; int64, shapes (sum of sizes,) and (t,)).  ``flat`` never decreases (each text's
    positions do not, and the texts follow each other), so it needs no sorting."""
    if not kernels.ready() or first.shape[0] == 0:
        parts = batch_minima(hashes, first, count, window)
        sizes = np.array([p.size for p in parts], np.int64)
        return (np.concatenate(parts) if parts else np.zeros(0, np.int64)), np.cumsum(sizes)
    sizes = np.where(count == 0, 0, np.maximum(1, count - window + 1))
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]), np.int64)
    kernels.batch_minima_kernel(np.ascontiguousarray(hashes, np.uint64), np.asarray(first, np.int64),
                                np.asarray(count, np.int64), int(window), out)
    return out, ends


def _distinct(a: np.ndarray) -> np.ndarray:
    """:func:`.match.sorted_unique` of an int64 array, in one compiled pass when it is in order already."""
    if kernels.ready() and a.size > 1:
        out = np.empty(a.size, np.int64)
        m = kernels.distinct_in_order_kernel(np.ascontiguousarray(a, np.int64), out)
        if m >= 0:
            return out[:m]
    return sorted_unique(a)


def _layout(w, sh, text_start: np.ndarray, k: int):
    """``(n_words, hashes, start_char, end_char, item_s, count)``: each text's words (int64, shape (t,)), the
    batch's shingles whose words all belong to one text (hashes, offsets in the joined text, the text of each)
    and how many each text has (int64, shape (t,))."""
    n_texts = text_start.shape[0]
    if kernels.ready():
        n_words = np.zeros(n_texts, np.int64)
        count = np.zeros(n_texts, np.int64)
        n_sh = len(sh)
        hashes = np.empty(n_sh, np.uint64)
        start = np.empty(n_sh, np.int64)
        end = np.empty(n_sh, np.int64)
        item_s = np.empty(n_sh, np.int64)
        kept = kernels.batch_layout_kernel(w.start_char, w.end_char, sh.hashes, k, text_start, n_words, count,
                                           hashes, start, end, item_s)
        return n_words, hashes[:kept], start[:kept], end[:kept], item_s[:kept], count
    item_w = np.searchsorted(text_start, w.start_char, side="right") - 1
    n_words = np.bincount(item_w, minlength=n_texts)
    n_sh = len(sh)
    inside = item_w[:n_sh] == item_w[k - 1:k - 1 + n_sh] if n_sh else np.zeros(0, bool)
    keep = np.flatnonzero(inside)
    item_s = item_w[keep]
    count = np.bincount(item_s, minlength=n_texts).astype(np.int64)
    return n_words, sh.hashes[keep], sh.start_char[keep], sh.end_char[keep], item_s, count


def locate_many(engine, texts: Sequence[str], segments: Sequence, *, min_score: float | None = None) -> list[list]:
    """``[engine.locate(engine.signal(t), segments, min_score=min_score) for t in texts]``, in one pass."""
    p = engine.params
    k, window = p.shingle_words, p.winnow_window
    n_texts = len(texts)
    if n_texts == 0:
        return []
    joined = "\x00".join(texts)
    lengths = np.array([len(t) for t in texts], np.int64)
    text_start = np.cumsum(lengths + 1) - (lengths + 1)
    w = words(joined)
    sh = shingles(w, shingle_words=k)
    n_words, hashes, sh_start, sh_end, item_s, count = _layout(w, sh, text_start, k)
    first = np.cumsum(count) - count
    minima, minima_end = batch_minima_flat(hashes, first, count, window)
    minima_start = np.concatenate((np.zeros(1, np.int64), minima_end[:-1]))
    anchors = _distinct(minima)
    joint = TextQuery(Shingles(hashes, sh_start, sh_end), len(w), len(joined))
    seeds = lookup(joint, segments, p, anchors)
    anchor_rows = seeds.fp_id.size     # the seeds' first rows: those at the texts' anchors
    if seeds.fp_id.size:
        hits = sorted_unique(seeds.query_shingle)
        lo = np.maximum(hits - p.max_gap_words, first[item_s[hits]])
        hi = np.minimum(hits + p.max_gap_words + 1, first[item_s[hits]] + count[item_s[hits]])
        edge = np.zeros(hashes.size + 1, np.int64)
        np.add.at(edge, lo, 1)
        np.add.at(edge, hi, -1)
        near = np.cumsum(edge[:hashes.size]) > 0
        near[anchors] = False
        rest = lookup(joint, segments, p, np.flatnonzero(near))
        seeds = Seeds(*(np.concatenate([getattr(seeds, f), getattr(rest, f)])
                        for f in ("query_shingle", "fp_id", "work_start_char", "key", "works_holding")),
                      seeds.common_shingles + rest.common_shingles,
                      np.sort(np.concatenate([seeds.common_at, rest.common_at])))
    out: list[list] = [[] for _ in range(n_texts)]
    if seeds.fp_id.size == 0:
        return out
    seed_item = item_s[seeds.query_shingle]
    by_item = np.argsort(seed_item, kind="stable")
    seed_item = seed_item[by_item]
    fields = [getattr(seeds, f)[by_item] for f in ("query_shingle", "fp_id", "work_start_char", "key", "works_holding")]
    common_item = item_s[seeds.common_at]
    # Only the seeds of (text, work) pairs that could make a passage that counts are verified (most texts with
    # seeds, in rows that share phrases with the registry, have none): a passage is one work's seeds, so its
    # seeds, weight and anchors are at most its pair's (match.Chain.counts), and a work's passages do not
    # depend on other works' seeds.  The pair's weight is summed in another order than a passage's: it must
    # miss min_seeds by more than rounding (_WEIGHT_SLACK) to rule the pair out.
    stride = int(fields[1].max()) + 1   # fp ids are below it: (text, work) pairs as one int64
    pairs, pair_of, per_pair = np.unique(seed_item.astype(np.int64) * stride + fields[1].astype(np.int64),
                                         return_inverse=True, return_counts=True)
    weight = np.bincount(pair_of, weights=1.0 / np.maximum(1, fields[4]), minlength=pairs.size)
    at_anchor = np.bincount(pair_of[by_item < anchor_rows], minlength=pairs.size)
    can_count = (per_pair >= p.min_seeds) & (weight >= p.min_seeds - _WEIGHT_SLACK) & \
        (at_anchor >= p.min_anchor_seeds)
    row_kept = can_count[pair_of]
    if not row_kept.all():
        seed_item = seed_item[row_kept]
        fields = [f[row_kept] for f in fields]
    items, starts = np.unique(seed_item, return_index=True)
    stops = np.append(starts[1:], seed_item.size)
    c_lo = np.searchsorted(common_item, items, side="left")
    c_hi = np.searchsorted(common_item, items, side="right")
    for j, s0, s1, k0, k1 in zip(items.tolist(), starts.tolist(), stops.tolist(), c_lo.tolist(), c_hi.tolist()):
        a, c, off = int(first[j]), int(count[j]), int(text_start[j])
        local = TextQuery(Shingles(hashes[a:a + c], joint.shingles.start_char[a:a + c] - off,
                                   joint.shingles.end_char[a:a + c] - off),
                          int(n_words[j]), int(lengths[j]), minima[minima_start[j]:minima_end[j]] - a)
        common_at = seeds.common_at[k0:k1] - a
        qs, fp, wc, key, held = (f[s0:s1] for f in fields)
        local_seeds = Seeds(qs - a, fp, wc, key, held, int(common_at.size), common_at)
        searched = float(lengths[j])
        threshold = engine.min_score_for(searched) if min_score is None else min_score
        out[j] = engine.verify(local_seeds, local, min_score=threshold, searched=searched)
    return out
