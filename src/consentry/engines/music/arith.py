"""The music engine's array arithmetic without importing SciPy's packages.

The engine's fingerprints are defined bit for bit by the arithmetic of the
first implementation, which used ``scipy.fft.rfft``, ``scipy.ndimage``'s
``uniform_filter1d``, ``uniform_filter`` and ``maximum_filter`` (mode
``"nearest"``) and a SciPy CSR matrix product.  The golden vectors
(``tests/data/golden/``) hold those bits.  Importing ``scipy.fft`` or
``scipy.ndimage`` costs 150-500 ms, because both import ``scipy.special`` and
SciPy's array-API wrappers: more than the rest of a one-shot ``consentry
identify``.  This module gives the same numbers without those imports:

- :func:`rfft_rows` calls SciPy's own pocketfft extension module, loaded from
  its file (only the compiled module, not the ``scipy.fft`` package around it).
  NumPy's FFT is also pocketfft but another version of it, and its results
  differ in the last bits, which moves a peak now and then.  If the extension
  is not where SciPy 1.x keeps it, or does not answer as expected, the module
  falls back to ``scipy.fft.rfft`` (same results, slower start).
- :func:`box_mean` and :func:`box_max` repeat ``ndimage``'s filters with the
  same order of operations: per axis, lines padded with their edge values,
  a running sum in float64 (the first window summed left to right, then one
  ``+ (new - old)`` per step), divided by the window length, stored back in
  the input's dtype before the next axis.  A maximum is exact in any order.
- :class:`SparseColumns` repeats ``dense @ csr`` as SciPy computes it
  (``csc_matvecs``): each output column accumulates ``weight * input`` in the
  input's dtype, over input bins in increasing order.

``tests/engines/test_music_arith.py`` checks each function against SciPy's,
bit for bit, on random data, and the golden vectors check the whole chain.

Compiled loops (:mod:`._loops`, Numba) do the mapping onto log-frequency
bins, the smoothing and the peak neighbourhood's filters with the same
numbers and fewer passes over memory.  Importing Numba and loading them costs
about 0.4 CPU-s, so a process loads them only once it has hashed
``LOOPS.load_after`` seconds of audio (:func:`loops_ready`): a
registration or a scan does, a one-shot ``identify`` of a clip does not.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from functools import lru_cache

import numpy as np

from consentry.runtime.compiled import DeferredLoops


#: The compiled loops (:mod:`._loops`), loaded once a process has hashed ``LOOPS.load_after`` seconds of
#: audio with NumPy: 600 s (their load, about 0.4 CPU-s, is then paid back within the next few minutes).
LOOPS = DeferredLoops("consentry.engines.music._loops", load_after=600.0)


def loops_ready(seconds: float = 0.0):
    """The compiled loops if loaded, or loaded now because this process has hashed ``LOOPS.load_after``
    seconds of audio (``seconds`` more now); else None (the NumPy code runs)."""
    return LOOPS.ready(seconds)


@lru_cache(maxsize=1)
def _pocketfft():
    """SciPy's compiled pocketfft module, or None when it cannot be loaded alone."""
    if "scipy.fft" in sys.modules:  # already paid for: use the public function
        return None
    try:
        spec = importlib.util.find_spec("scipy")  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = os.path.join(spec.submodule_search_locations[0], "fft", "_pocketfft")
        name = "scipy.fft._pocketfft.pypocketfft"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "pypocketfft" + suffix)
            if os.path.isfile(path):
                break
        else:
            return None
        loader = importlib.machinery.ExtensionFileLoader(name, path)
        module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path, loader=loader))
        loader.exec_module(module)
        # The interface is private: check it answers like an FFT before trusting it.
        probe = np.arange(8, dtype=np.float32).reshape(1, 8)
        got = module.r2c(probe, (1,), True, 0, None, 1)
        if got.shape != (1, 5) or not np.allclose(got, np.fft.rfft(probe, axis=1), atol=1e-4):
            return None
        return module
    except Exception:  # noqa: BLE001 - any failure means: use scipy.fft
        return None


def rfft_rows(frames: np.ndarray) -> np.ndarray:
    """Real FFT of each row, exactly as ``scipy.fft.rfft(frames, axis=1)``.

    Parameters
    ----------
    frames : ndarray of float32, shape (n, n_fft)

    Returns
    -------
    ndarray of complex64, shape (n, n_fft // 2 + 1)
    """
    module = _pocketfft()
    if module is None:
        from scipy import fft as sfft

        return sfft.rfft(frames, axis=1)
    x = np.asarray(frames)
    if x.dtype.kind != "f" or x.dtype == np.float16:
        x = x.astype(np.float32 if x.dtype == np.float16 else np.float64)
    return module.r2c(x, (1,), True, 0, None, 1)


def _part(ndim: int, axis: int, start: int | None, stop: int | None) -> tuple:
    """The index of entries ``start:stop`` along ``axis`` of an ``ndim``-dimensional array."""
    index = [slice(None)] * ndim
    index[axis] = slice(start, stop)
    return tuple(index)


def _box_mean_along(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Running mean over ``size`` entries along ``axis`` (edges repeated), in float64, ndimage's order.

    The first window is summed entry by entry, then each step adds ``new - old``
    (one rounding), and every running sum is divided by ``size``.  The padded
    line is written in float64 as ``x`` is copied into it (one pass, not a
    conversion and then a pad).
    """
    before = size // 2
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = n + size - 1
    padded = np.empty(shape, dtype=np.float64)
    padded[_part(x.ndim, axis, before, before + n)] = x
    padded[_part(x.ndim, axis, 0, before)] = x[_part(x.ndim, axis, 0, 1)]
    padded[_part(x.ndim, axis, before + n, None)] = x[_part(x.ndim, axis, n - 1, n)]
    steps = np.empty(x.shape, dtype=np.float64)
    first = padded[_part(x.ndim, axis, 0, 1)].copy()
    for k in range(1, size):
        first += padded[_part(x.ndim, axis, k, k + 1)]
    steps[_part(x.ndim, axis, 0, 1)] = first
    np.subtract(padded[_part(x.ndim, axis, size, None)], padded[_part(x.ndim, axis, 0, shape[axis] - size)],
                out=steps[_part(x.ndim, axis, 1, None)])
    np.cumsum(steps, axis=axis, out=steps)
    steps /= size
    return steps


def box_mean(x: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """``scipy.ndimage.uniform_filter(x, size, mode="nearest")``, bit for bit.

    Parameters
    ----------
    x : ndarray of float32 or float64, any shape
    size : tuple of int, one window length (>= 1) per axis

    Returns
    -------
    ndarray of x's dtype, x's shape
        Never sharing memory with ``x``.
    """
    out = np.asarray(x)
    filtered = False
    for axis, length in enumerate(size):
        if length <= 1 or out.size == 0:
            continue
        out = _box_mean_along(out, int(length), axis).astype(out.dtype)  # a new array
        filtered = True
    return out if filtered else np.array(x)


def box_mean_1d(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d(x, size, axis, mode="nearest")``, bit for bit.

    Unlike :func:`box_mean`, a window of 1 is not skipped: SciPy runs its
    running sum then too, and its rounding shows in the last bits.
    """
    out = np.asarray(x)
    if out.size == 0:
        return np.array(out)
    return _box_mean_along(out, int(size), axis).astype(out.dtype)


def _box_max_along(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Maximum over ``size`` entries along ``axis`` (edges repeated): maxima of 1, 2, 4, ... entries, then two
    overlapping ones.  Along the axis in place, without moving it first (no transposed copies)."""
    before = size // 2
    n = x.shape[axis]
    padded = np.concatenate([np.repeat(x[_part(x.ndim, axis, 0, 1)], before, axis=axis), x,
                             np.repeat(x[_part(x.ndim, axis, n - 1, n)], size - before - 1, axis=axis)], axis=axis)
    span, best = 1, padded
    while 2 * span <= size:
        # entry i: the maximum of entries i .. i + 2 span - 1
        best = np.maximum(best[_part(x.ndim, axis, 0, best.shape[axis] - span)], best[_part(x.ndim, axis, span, None)])
        span *= 2
    return np.maximum(best[_part(x.ndim, axis, 0, n)], best[_part(x.ndim, axis, size - span, size - span + n)])


def box_max(x: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """``scipy.ndimage.maximum_filter(x, size, mode="nearest")`` (a maximum is exact in any order)."""
    out = np.array(x)
    for axis, length in enumerate(size):
        if length <= 1 or out.size == 0:
            continue
        out = _box_max_along(out, int(length), axis)
    return np.ascontiguousarray(out)


class SparseColumns:
    """A mostly-zero weight matrix applied as ``dense @ weights``, in SciPy's order of sums.

    Parameters
    ----------
    weights : ndarray of float, shape (n_in, n_out)

    Notes
    -----
    Output column ``i`` is the sum of ``weights[j, i] * dense[:, j]`` over the
    non-zero ``weights[j, i]``, added in increasing ``j`` to a zero start, each
    product and sum rounded to the dtype.  The terms are grouped by their rank
    within their column, so the loop runs over ranks (at most the largest
    number of non-zeros in a column), each a vectorised step over all columns.
    """

    __array_ufunc__ = None  # makes ``ndarray @ SparseColumns`` call __rmatmul__

    def __init__(self, weights: np.ndarray) -> None:
        w = np.asarray(weights)
        self.dtype = w.dtype
        self.n_out = int(w.shape[1])
        rows, cols = np.nonzero(w.T)  # column i's non-zeros, in increasing j
        cols, rows = rows, cols  # (j, i) pairs ordered by i then j
        rank = np.arange(rows.size) - np.searchsorted(cols, cols, side="left")
        # The same non-zeros by output column (CSC), for the compiled loop (``_loops.mapped_power``).
        self.indptr = np.searchsorted(cols, np.arange(self.n_out + 1), side="left").astype(np.int64)
        self.rows = rows.astype(np.int64)
        self.values = w[rows, cols]
        self._steps = []
        for r in range(int(rank.max()) + 1 if rank.size else 0):
            pick = rank == r
            self._steps.append((cols[pick], rows[pick], w[rows[pick], cols[pick]]))

    def __rmatmul__(self, dense: np.ndarray) -> np.ndarray:
        dense = np.asarray(dense)
        dtype = np.result_type(dense.dtype, self.dtype)
        # Work on the transposes, as SciPy does: rows are contiguous, so the gathers are cheap.
        dense_t = np.ascontiguousarray(dense.T, dtype=dtype)
        out_t = np.zeros((self.n_out, dense.shape[0]), dtype=dtype)
        for out_cols, in_cols, values in self._steps:
            out_t[out_cols] += dense_t[in_cols] * values.astype(dtype, copy=False)[:, None]
        return out_t.T
