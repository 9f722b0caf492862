"""Many texts searched in one pass: :meth:`TextEngine.locate_many <consentry.engines.text.TextEngine.locate_many>`.

A dataset of short rows spends most of its time in the fixed cost of each
NumPy call, not in the text: so the texts of a batch are joined with a NUL
between them (a separator that no normalisation rule crosses: joiners and
line-end hyphens need a word character or a line break beside them), their
words are read and hashed once, the shingles that cross from one text to
the next are left out, every text's window minima come from one pass over
its shingles padded with ``winnow_window - 1`` largest hashes, and the
anchors of all texts, then the shingles near the anchors that are seeds, are
looked up in one search each.  Only texts with seeds, and among them only
those where some work has ``min_seeds`` seeds, are verified one by one.  The result is that of :meth:`locate` on each text
(``tests/engines/test_text_batch.py``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import kernels
from .match import Seeds, TextQuery, lookup, sorted_unique
from .winnowing import Shingles, shingles, window_minima, words

_PAD = np.uint64(0xFFFFFFFFFFFFFFFF)


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
        sizes = np.where(count == 0, 0, np.maximum(1, count - window + 1))
        ends = np.cumsum(sizes)
        out = np.empty(int(ends[-1]), np.int64)
        kernels.batch_minima_kernel(np.ascontiguousarray(hashes, np.uint64), np.asarray(first, np.int64),
                                    np.asarray(count, np.int64), int(window), out)
        return np.split(out, ends[:-1])
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
    item_w = np.searchsorted(text_start, w.start_char, side="right") - 1
    n_words = np.bincount(item_w, minlength=n_texts)
    n_sh = len(sh)
    inside = item_w[:n_sh] == item_w[k - 1:k - 1 + n_sh] if n_sh else np.zeros(0, bool)
    keep = np.flatnonzero(inside)
    hashes = sh.hashes[keep]
    item_s = item_w[keep]
    count = np.bincount(item_s, minlength=n_texts).astype(np.int64)
    first = np.cumsum(count) - count
    minima = batch_minima(hashes, first, count, window)
    anchors = sorted_unique(np.concatenate(minima)) if minima else np.zeros(0, np.int64)
    joint = TextQuery(Shingles(hashes, sh.start_char[keep], sh.end_char[keep]), len(w), len(joined))
    seeds = lookup(joint, segments, p, anchors)
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
    items, starts = np.unique(seed_item, return_index=True)
    stops = np.append(starts[1:], seed_item.size)
    # A text none of whose works has min_seeds seeds has no passage (match.chains returns none at once): it is
    # not set up for verifying (most texts with seeds, in rows that share phrases with the registry).
    stride = int(fields[1].max()) + 1   # fp ids are below it: (text, work) pairs as one int64
    pairs, per_pair = np.unique(seed_item.astype(np.int64) * stride + fields[1].astype(np.int64), return_counts=True)
    enough = np.unique(pairs[per_pair >= p.min_seeds] // stride)
    wanted = np.isin(items, enough)
    items, starts, stops = items[wanted], starts[wanted], stops[wanted]
    c_lo = np.searchsorted(common_item, items, side="left")
    c_hi = np.searchsorted(common_item, items, side="right")
    for j, s0, s1, k0, k1 in zip(items.tolist(), starts.tolist(), stops.tolist(), c_lo.tolist(), c_hi.tolist()):
        a, c, off = int(first[j]), int(count[j]), int(text_start[j])
        local = TextQuery(Shingles(hashes[a:a + c], joint.shingles.start_char[a:a + c] - off,
                                   joint.shingles.end_char[a:a + c] - off),
                          int(n_words[j]), int(lengths[j]), minima[j] - a)
        common_at = seeds.common_at[k0:k1] - a
        qs, fp, wc, key, held = (f[s0:s1] for f in fields)
        local_seeds = Seeds(qs - a, fp, wc, key, held, int(common_at.size), common_at)
        searched = float(lengths[j])
        threshold = engine.min_score_for(searched) if min_score is None else min_score
        out[j] = engine.verify(local_seeds, local, min_score=threshold, searched=searched)
    return out
