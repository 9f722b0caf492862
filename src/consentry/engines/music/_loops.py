"""The music engine's compiled loops (Numba), loaded only once a process has hashed enough audio.

Each loop gives, bit for bit, what the NumPy code it replaces gives (that code
is in :mod:`.arith` and :mod:`.extract` and still runs until the loops are
loaded, see :func:`.arith.loops_ready`): the same IEEE operations on the same
values in the same order, with no fast-math (Numba's default), so no sum is
reordered and no product fused into a multiply-add.  They save the large
temporary arrays (a float64 copy of the spectrogram per filter pass) and the
passes over them.  ``tests/engines/test_music_loops.py`` compares each loop
with its NumPy twin on random data; the golden vectors check the whole chain.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


#: Frames mapped together by :func:`mapped_power` (the innermost loop runs over them: vector instructions).
_GROUP = 16


@_jit
def mapped_power(spec, indptr, rows, values, out):
    """Power of each STFT frame mapped onto the log-frequency bins: ``|spec|**2 @ weights``.

    Equals ``(spec.real**2 + spec.imag**2) @ SparseColumns(weights)`` (float32): output bin ``c`` is
    ``0 + p[rows[k]] * values[k]`` added over ``k = indptr[c] .. indptr[c + 1] - 1``, input bins
    increasing, each product and sum rounded to float32.  Frames are taken :data:`_GROUP` at a time,
    each with its own sums (the order of the terms within a frame's sum is what counts).

    Parameters
    ----------
    spec : ndarray of float32, shape (n, 2 * n_lin)
        The complex64 STFT frames viewed as float32 (real and imaginary parts interleaved).
    indptr : ndarray of int64, shape (n_out + 1,)
    rows : ndarray of int64, shape (nnz,)
        Input bin of each non-zero weight, increasing within an output bin.
    values : ndarray of float32, shape (nnz,)
    out : ndarray of float32, shape (n, n_out)
        Written.
    """
    n = spec.shape[0]
    n_lin = spec.shape[1] // 2
    n_out = out.shape[1]
    power = np.empty((n_lin, _GROUP), dtype=np.float32)
    acc = np.empty(_GROUP, dtype=np.float32)
    for f0 in range(0, n, _GROUP):
        g = min(_GROUP, n - f0)
        for q in range(g):
            frame = spec[f0 + q]
            for j in range(n_lin):
                re = frame[2 * j]
                im = frame[2 * j + 1]
                power[j, q] = re * re + im * im
        for c in range(n_out):
            for q in range(_GROUP):
                acc[q] = np.float32(0.0)
            for k in range(indptr[c], indptr[c + 1]):
                w = values[k]
                p = power[rows[k]]
                for q in range(_GROUP):
                    acc[q] = acc[q] + p[q] * w
            for q in range(g):
                out[f0 + q, c] = acc[q]


@_jit
def box_mean_rows(x, size, out):
    """``arith.box_mean_1d(x, size, axis=0)`` for float32 ``x`` of shape (n, m) (n >= 1): into ``out``.

    Per column, in float64: the first window (edges repeated) summed entry by entry, then one
    ``+ (new - old)`` per step; each running sum divided by ``size`` and rounded to float32.
    """
    n, m = x.shape
    before = size // 2
    s = np.empty(m, dtype=np.float64)
    for j in range(m):
        s[j] = np.float64(x[0, j])  # the padded column's first entry is the edge value
    for k in range(1, size):
        r = min(max(k - before, 0), n - 1)
        for j in range(m):
            s[j] = s[j] + np.float64(x[r, j])
    d = np.float64(size)
    for j in range(m):
        out[0, j] = np.float32(s[j] / d)
    for i in range(1, n):
        new = min(max(i + size - 1 - before, 0), n - 1)
        old = min(max(i - 1 - before, 0), n - 1)
        for j in range(m):
            s[j] = s[j] + (np.float64(x[new, j]) - np.float64(x[old, j]))
            out[i, j] = np.float32(s[j] / d)


@_jit
def box_mean_cols(x, size, out):
    """``arith.box_mean_1d(x, size, axis=1)`` for float32 ``x`` of shape (n, m) (m >= 1): into ``out``."""
    n, m = x.shape
    before = size // 2
    d = np.float64(size)
    for i in range(n):
        s = np.float64(x[i, 0])
        for k in range(1, size):
            s = s + np.float64(x[i, min(max(k - before, 0), m - 1)])
        out[i, 0] = np.float32(s / d)
        for jj in range(1, m):
            new = min(max(jj + size - 1 - before, 0), m - 1)
            old = min(max(jj - 1 - before, 0), m - 1)
            s = s + (np.float64(x[i, new]) - np.float64(x[i, old]))
            out[i, jj] = np.float32(s / d)


@_jit
def peak_candidates(logspec, background, radius_frames, radius_bins, floor):
    """Where ``pick_peaks`` finds a peak candidate: ``np.nonzero`` of its mask, in the same (row-major) order.

    The mask is True where the value equals the maximum of its ``(2 radius_frames + 1) x
    (2 radius_bins + 1)`` neighbourhood (edges repeated), is above ``floor`` (float32) and above
    ``background + float32(1e-3)`` (float32 sum): ``(logspec == box_max(logspec, ...)) & (logspec > floor)
    & (logspec > background + 1e-3)``.  ``logspec`` must hold no NaN (the caller checks; ``np.maximum``
    would spread one over its neighbourhood).

    Returns
    -------
    t, b : ndarray of int64, shape (k,)
        Frame and bin of each candidate.
    """
    n, m = logspec.shape
    eps = np.float32(1e-3)
    width = 2 * radius_bins + 1
    pad = np.empty(m + 2 * radius_bins, dtype=np.float32)  # one row's column maxima, edges repeated
    col = pad[radius_bins:radius_bins + m]
    t = np.empty(max(1024, n * m // 64), dtype=np.int64)
    b = np.empty(t.size, dtype=np.int64)
    k = 0
    for i in range(n):
        # The maximum over the frames i - radius_frames .. i + radius_frames (clipped) of each bin ...
        first = logspec[max(i - radius_frames, 0)]
        for j in range(m):
            col[j] = first[j]
        for r in range(max(i - radius_frames, 0) + 1, min(i + radius_frames, n - 1) + 1):
            row = logspec[r]
            for j in range(m):
                col[j] = max(col[j], row[j])
        for j in range(radius_bins):
            pad[j] = col[0]
            pad[radius_bins + m + j] = col[m - 1]
        # ... then over the bins: maxima of 1, 2, 4, ... entries in place, then two overlapping ones.
        span = 1
        length = m + 2 * radius_bins
        while 2 * span <= width:
            for j in range(length - span):
                pad[j] = max(pad[j], pad[j + span])
            length -= span
            span *= 2
        here = logspec[i]
        below = background[i]
        for j in range(m):
            v = here[j]
            if (v == max(pad[j], pad[j + width - span])) & (v > floor) & (v > below[j] + eps):
                if k == t.size:  # more candidates than room: twice the room
                    t = np.concatenate((t, np.empty(t.size, dtype=np.int64)))
                    b = np.concatenate((b, np.empty(b.size, dtype=np.int64)))
                t[k] = i
                b[k] = j
                k += 1
    return t[:k].copy(), b[:k].copy()
