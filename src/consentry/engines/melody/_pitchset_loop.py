"""The compiled loop of :func:`.pitchsets.align_pitch_sets` (Numba), imported when pitch sets are first aligned.

It fills the Smith-Waterman table over note pairs row by row, keeping only the
last ``max_skip + 2`` query rows, and carries along each cell's path start and
pair count so that no traceback is needed. :func:`.pitchsets._align_reference`
enumerates the paths it must agree with.
"""

from __future__ import annotations

import numba
import numpy as np

_UNKNOWN = 127


@numba.njit(cache=True, nogil=True)
def _clip24(x):
    if x > 24:
        return 24
    if x < -24:
        return -24
    return x


@numba.njit(cache=True, nogil=True)
def best_path(qp, qk, qr, rp, rk, rr, sc, max_skip):
    """Best path of query groups ``qp`` (m, k) against reference groups ``rp`` (n, k).

    ``qk``/``rk``: notes per group; ``qr``/``rr``: rhythm codes (:func:`.pitchsets.rhythm_codes`); ``sc``: the
    scoring as :func:`.pitchsets._scoring_array` orders it. Returns ``(score, query first group, query last group,
    reference first group, reference last group, pairs, transposition)``.
    """
    m, kq = qp.shape
    n, kr = rp.shape
    exact, unison, near, miss = sc[0], sc[1], sc[2], sc[3]
    r_exact, r_near, r_miss, skip, choice = sc[4], sc[5], sc[6], sc[7], sc[8]
    rows = max_skip + 2
    h = np.zeros((rows, n, kq, kr))
    start_q = np.zeros((rows, n, kq, kr), dtype=np.int64)
    start_r = np.zeros((rows, n, kq, kr), dtype=np.int64)
    count = np.zeros((rows, n, kq, kr), dtype=np.int64)
    best = 0.0
    out = (0.0, 0, 0, 0, 0, 0, 0)
    found = False
    for i in range(m):
        slot = i % rows
        for j in range(n):
            price = choice * np.log2(np.float64(qk[i] * rk[j]))
            for a in range(qk[i]):
                pa = np.int64(qp[i, a])
                for b in range(rk[j]):
                    pb = np.int64(rp[j, b])
                    v = 0.0
                    s_q = i
                    s_r = j
                    c = 1
                    for di in range(1, max_skip + 2):
                        i0 = i - di
                        if i0 < 0:
                            break
                        slot0 = i0 % rows
                        cq = qr[i, di]
                        for dj in range(1, max_skip + 2):
                            j0 = j - dj
                            if j0 < 0:
                                break
                            cr = rr[j, dj]
                            base = skip * (di - 1 + dj - 1) - price
                            if cq != _UNKNOWN and cr != _UNKNOWN:
                                d = abs(np.int64(cq) - np.int64(cr))
                                base += r_exact if d == 0 else (r_near if d == 1 else r_miss)
                            for a0 in range(qk[i0]):
                                qi = _clip24(pa - np.int64(qp[i0, a0]))
                                for b0 in range(rk[j0]):
                                    ri = _clip24(pb - np.int64(rp[j0, b0]))
                                    if qi == 0 and ri == 0:
                                        p = unison
                                    elif qi == ri:
                                        p = exact
                                    elif abs(qi - ri) == 1:
                                        p = near
                                    else:
                                        p = miss
                                    t = h[slot0, j0, a0, b0] + p + base
                                    if t > v:
                                        v = t
                                        s_q = start_q[slot0, j0, a0, b0]
                                        s_r = start_r[slot0, j0, a0, b0]
                                        c = count[slot0, j0, a0, b0] + 1
                    h[slot, j, a, b] = v
                    start_q[slot, j, a, b] = s_q
                    start_r[slot, j, a, b] = s_r
                    count[slot, j, a, b] = c
                    if v > best or not found:
                        found = True
                        if v > best:
                            best = v
                            out = (v, s_q, i, s_r, j, c, pa - pb)
                        else:
                            out = (0.0, i, i, j, j, 1, pa - pb)
    return out
