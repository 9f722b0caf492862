"""Compiled loops for the text engine's hot path (Numba), with the same output as the NumPy code they replace.

The word pass, the shingle hashes, the window minima and the key search run
here (:mod:`._loops`), one pass over the text or the keys, when Numba is
installed (a dependency of the package; :data:`AVAILABLE` is False without
it and the NumPy code in :mod:`.winnowing` and :mod:`.match` runs instead)
and the process has read enough text for their load to pay (:func:`ready`).  Each
function says which NumPy function it equals; ``tests/engines/test_text_kernels.py``
compares them on random and real text, and ``tests/engines/test_text_engine.py``
compares both with the plain-Python reference.  Compiled code is cached on
disk by Numba (``cache=True``), so a process compiles it once per install.
"""

from __future__ import annotations

import importlib.util

import numpy as np

#: Whether Numba is installed (found without importing it: importing it and loading the cached loops costs
#: one to two seconds, paid once per process, see :func:`ready`).
AVAILABLE = importlib.util.find_spec("numba") is not None
#: A process loads the compiled loops once it has read this many characters of text with the NumPy path
#: (their load then pays for itself); a one-shot ``identify`` of a short text never loads them.
LOAD_AFTER_CHARS = 8_000_000
_built = False
_seen = 0

_B = np.uint64(0x100000001B3)
_C = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_ONE, _ZERO = np.uint64(1), np.uint64(0)
_SEP, _WORD, _JOIN, _DROP, _SOLO = 0, 1, 2, 3, 4


def ready(chars: int = 0) -> bool:
    """Whether to run the compiled loops: Numba is installed and they are loaded, or loaded now because
    this process has read :data:`LOAD_AFTER_CHARS` characters of text (``chars`` more now)."""
    global _seen
    if _built or not AVAILABLE:
        return AVAILABLE and _built
    _seen += chars
    return load() if _seen >= LOAD_AFTER_CHARS else False


def load() -> bool:
    """Load the compiled loops now (Numba compiles them, or loads its cache); False when Numba is missing
    or fails to import (the NumPy path runs)."""
    global AVAILABLE, _built
    if AVAILABLE and not _built:
        try:
            from . import _loops  # noqa: F401
        except ImportError:  # pragma: no cover - a broken Numba install
            AVAILABLE = False
        _built = True
    return AVAILABLE


#: The loops :mod:`._loops` defines (after :func:`ready`).
_NAMES = ("words_kernel", "shingles_kernel", "minima_kernel", "find_ranges_kernel", "gather_kernel", "distinct_kernel",
          "presence_kernel", "batch_minima_kernel", "batch_layout_kernel", "distinct_in_order_kernel",
          "chains_kernel")


#: Bits of a segment's presence bitmap per key (about 1 in 8 bits set), between these sizes in bits.
_BITS_PER_KEY, _MIN_BITS, _MAX_BITS = 8, 1 << 16, 1 << 30
_presence_cache: dict[int, tuple] = {}


def presence(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """The presence bitmap of a segment's sorted uint32 ``keys`` and its shift (:func:`._loops.find_ranges_kernel`),
    built once per keys array and kept while the array lives.

    Returns
    -------
    bitmap : ndarray of uint8, shape (bits / 8,)
        Bit ``key >> shift`` set for every key: about ``_BITS_PER_KEY`` bits per key, so that a key the
        segment does not hold is told absent, most of the time, by one read of a small array.
    shift : int
    """
    import weakref

    hit = _presence_cache.get(id(keys))
    if hit is not None and hit[0]() is keys:
        return hit[1], hit[2]
    n = int(keys.shape[0])
    bits = min(_MAX_BITS, max(_MIN_BITS, 1 << max(0, (n * _BITS_PER_KEY - 1).bit_length())))
    shift = 32 - (bits.bit_length() - 1)
    bitmap = np.zeros(bits // 8, np.uint8)
    from . import _loops

    _loops.presence_kernel(np.asarray(keys), shift, bitmap)
    key_id = id(keys)
    _presence_cache[key_id] = (weakref.ref(keys, lambda _ref: _presence_cache.pop(key_id, None)), bitmap, shift)
    return bitmap, shift


def __getattr__(name: str):
    if name in _NAMES and load():
        from . import _loops

        return getattr(_loops, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
