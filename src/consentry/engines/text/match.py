"""Candidate lookup and verification for text: seeds from the index, chained into located passages.

A *seed* is a query shingle whose key and check bits are found in a work's
postings.  Seeds of one work that follow each other in both texts, no more
than ``max_gap_words`` apart in the query and agreeing on the offset between
the two texts within ``drift_chars + drift_per_char * distance``, form one
*passage*; a passage whose seeds weigh at least ``min_seeds`` and that has
``min_score`` matched words is a finding.  A seed weighs ``1 / c`` when ``c``
registered works hold its shingle: text shared by a few works must be
longer to count, which keeps short stock phrases from pairing up.  Shingles held by ``common_min_works`` or more
registered works are common text (boilerplate) and are not seeds: what is
common is read from the registry's own postings at each lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .params import TextEngineParams
from .winnowing import MAX_FP_ID, Shingles, check_of, key_of, unpack_postings


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
    """

    shingles: Shingles
    n_words: int
    n_chars: int


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
    """

    query_shingle: np.ndarray
    fp_id: np.ndarray
    work_start_char: np.ndarray
    key: np.ndarray
    works_holding: np.ndarray
    common_shingles: int


def lookup(query: TextQuery, segments: Sequence, params: TextEngineParams) -> Seeds:
    """Every posting of every segment that a query shingle reaches, common shingles left out.

    The query's keys are sorted once (radix sort) and found in each segment's
    sorted keys with one vectorised binary search per side, so a run of
    unrelated text costs one search per shingle and reads no postings.
    """
    h = query.shingles.hashes
    empty = np.zeros(0, np.int64)
    if h.size == 0 or not segments:
        return Seeds(empty, empty, empty, np.zeros(0, np.uint32), empty, 0)
    keys = key_of(h)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    want_check = check_of(h[order]).astype(np.int64)
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
    n_common = int(too_many.sum())
    if not rows_q:
        return Seeds(empty, empty, empty, np.zeros(0, np.uint32), empty, n_common)
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
    return Seeds(order[q].astype(np.int64), fp, start, sk[q], works_per_q[q].astype(np.int64), int(common.sum()))


@dataclass
class _Chain:
    seeds: list  # of (query_shingle, work_start_char, key, works_holding)
    last_q: int
    last_qc: int
    last_w: int


def chain_seeds(seeds: Seeds, query: TextQuery, params: TextEngineParams) -> list[tuple[int, list]]:
    """Group each work's seeds into passages (see the module docstring).

    Returns
    -------
    list of (fp_id, seeds)
        ``seeds`` a list of ``(query_shingle, work_start_char, key, works_holding)`` in query order,
        weighing at least ``params.min_seeds``: each seed weighs ``1 / works_holding`` (text that
        several registered works share must be longer to count).
    """
    if seeds.fp_id.size == 0:
        return []
    fps, counts = np.unique(seeds.fp_id, return_counts=True)
    wanted = fps[counts >= params.min_seeds]
    if wanted.size == 0:
        return []
    sel = np.isin(seeds.fp_id, wanted)
    fp, qi, wc, key = seeds.fp_id[sel], seeds.query_shingle[sel], seeds.work_start_char[sel], seeds.key[sel]
    holding = seeds.works_holding[sel]
    order = np.lexsort((wc, qi, fp))
    qstart = query.shingles.start_char
    out: list[tuple[int, list]] = []
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
        out.extend((f, c.seeds) for c in done
                   if sum(1.0 / max(1, s[3]) for s in c.seeds) >= params.min_seeds - 1e-9)
        i = j
    return out
