"""The compiled loops of :mod:`.align` (Numba), imported when a process has aligned enough melody (see
:func:`.align.loops_ready`).

Both fill the same Smith-Waterman table and pointers as :func:`.align.local_alignment`, with the same
floating-point operations in the same order (no fast-math), so the tables are bit for bit the same:

- :func:`table_kernel` from given score matrices (the NumPy function's inputs);
- :func:`pair_kernel` from the two contours' events, scoring each cell when it is reached, so that no
  (m, n) score matrix is built; blocked query rows and reference columns (events of reported phrases)
  score ``_BLOCKED`` as :func:`.align.match_contours` writes it into its matrices.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)

_BLOCKED = -1.0e6
_STOP, _DIAG, _UP, _LEFT, _MERGE_REFERENCE, _MERGE_QUERY = 0, 1, 2, 3, 4, 5


@_jit
def _cell(c1, c2, c3, c4, step, running, first):
    """One cell of :func:`.align.local_alignment`'s row from its candidates (diagonal, up, merge of two
    reference events, merge of two query events: ``cand[1:]`` there) and ``step = gap * j`` (j from 1).

    ``running``: the running maximum of ``e - step`` over the row so far (``first``: none yet). Returns the
    cell's score, its pointer and the new running maximum.
    """
    e = 0.0
    e = c1 if c1 > e else e
    e = c2 if c2 > e else e
    e = c3 if c3 > e else e
    e = c4 if c4 > e else e
    x = e - step
    running = x if (first or x > running) else running
    row = running + step
    row = e if e > row else row
    # Ties go to the first of diagonal, up, merges (numpy.argmax); start when e <= 0; left when the gap
    # chain beats e.
    p, best = _DIAG, c1
    p, best = (_UP, c2) if c2 > best else (p, best)
    p, best = (_MERGE_REFERENCE, c3) if c3 > best else (p, best)
    p = _MERGE_QUERY if c4 > best else p
    p = _STOP if e <= 0.0 else p
    p = _LEFT if row > e + 1e-9 else p
    return row, p, running


@_jit
def _keep_best(best_at, row, i, j):
    """Keep the first cell in row order with the highest score (as :func:`numpy.argmax` of the table)."""
    if row > best_at[0]:
        best_at[0], best_at[1], best_at[2] = row, i, j


@_jit
def table_kernel(s, gap, drop, insert, use_merges, h, ptr):
    """:func:`.align.local_alignment` of ``s`` (float64, (m, n)) with merge scores ``drop``/``insert`` (read
    when ``use_merges``) into zeroed ``h`` (float64, (m+1, n+1)) and ``ptr`` (int8, (m+1, n+1))."""
    m, n = s.shape
    for i in range(1, m + 1):
        running = 0.0
        for j in range(n):
            c1 = h[i - 1, j] + s[i - 1, j]
            c2 = h[i - 1, j + 1] + gap
            c3 = _BLOCKED
            c4 = _BLOCKED
            if use_merges:
                if j >= 1:
                    c3 = h[i - 1, j - 1] + drop[i - 1, j]
                if i >= 2:
                    c4 = h[i - 2, j] + insert[i - 1, j]
            row, p, running = _cell(c1, c2, c3, c4, gap * np.float64(j + 1), running, j == 0)
            h[i, j + 1] = row
            ptr[i, j + 1] = p


@_jit
def _pair_score(qi, qr, qk, ri, rr, rk, sc):
    """One cell of :func:`.align._pair_scores`, ``pitch + rhythm`` (0.0 when either rhythm is unknown), each
    looked up in ``sc`` (:func:`.align._scoring_array`) without branches on the events."""
    d = min(abs(np.int32(qi) - np.int32(ri)), 2)
    k = 3 if (qi == 0 and ri == 0) else d
    dr = min(abs(np.int32(qr) - np.int32(rr)), 2)
    kr = dr if (qk and rk) else 3
    return sc[k] + sc[4 + kr]


@_jit
def pair_kernel(q, r, qm, rm, sc, gap, use_merges, blocked_q, blocked_r, h, ptr, with_ptr):
    """:func:`.align.local_alignment` of the scores of contour events ``q`` against ``r``, into zeroed ``h`` and
    ``ptr`` (int8, (m+1, n+1); left as it is unless ``with_ptr``). ``h`` holds all rows, shape (m+1, n+1), or
    only the last three, (3, n+1): row ``i`` at ``i % 3`` (rows ``i-1`` and ``i-2`` are all a row needs). Returns the best score and its cell
    ``i, j``, the first in row order that holds it, as :func:`numpy.argmax` of the whole table finds it.

    ``q``/``r``: (intervals, rhythm, rhythm_known) of each side; ``qm``/``rm``: :func:`.align.merged_events`
    (with ``valid``); ``sc``: :func:`.align._scoring_array`. ``blocked_q`` (bool, (3, m)) and ``blocked_r``
    (bool, (3, n)): the rows and columns :func:`.align.match_contours` has blocked in the substitution, drop
    and insert matrices, in that order.
    """
    q_iv, q_rh, q_kn = q
    r_iv, r_rh, r_kn = r
    qm_iv, qm_rh, qm_kn, qm_ok = qm
    rm_iv, rm_rh, rm_kn, rm_ok = rm
    merge = sc[8]
    m, n = q_iv.shape[0], r_iv.shape[0]
    rolling = h.shape[0] == 3
    no_drop = blocked_r[1] | ~rm_ok     # columns whose drop score is _BLOCKED
    best_at = np.zeros(3)
    for i in range(1, m + 1):
        a = i - 1
        up = (i - 1) % 3 if rolling else i - 1
        up2 = (i - 2) % 3 if rolling else i - 2
        hi = i % 3 if rolling else i
        no_sub, no_drop_row, no_insert_row = blocked_q[0, a], blocked_q[1, a], blocked_q[2, a] or not qm_ok[a]
        qi, qr, qk = q_iv[a], q_rh[a], q_kn[a]
        mi, mr, mk = qm_iv[a], qm_rh[a], qm_kn[a]
        running = 0.0
        for j in range(n):
            v = _BLOCKED if (no_sub or blocked_r[0, j]) else _pair_score(qi, qr, qk, r_iv[j], r_rh[j], r_kn[j], sc)
            c1 = h[up, j] + v
            c2 = h[up, j + 1] + gap
            c3 = _BLOCKED
            c4 = _BLOCKED
            if use_merges:
                if j >= 1:
                    v = (_BLOCKED if (no_drop_row or no_drop[j])
                         else _pair_score(qi, qr, qk, rm_iv[j], rm_rh[j], rm_kn[j], sc) + merge)
                    c3 = h[up, j - 1] + v
                if i >= 2:
                    v = (_BLOCKED if (no_insert_row or blocked_r[2, j])
                         else _pair_score(mi, mr, mk, r_iv[j], r_rh[j], r_kn[j], sc) + merge)
                    c4 = h[up2, j] + v
            row, p, running = _cell(c1, c2, c3, c4, gap * np.float64(j + 1), running, j == 0)
            h[hi, j + 1] = row
            if with_ptr:
                ptr[i, j + 1] = p
            _keep_best(best_at, row, i, j + 1)
    return best_at[0], int(best_at[1]), int(best_at[2])
