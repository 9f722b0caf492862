"""Compiled loops (Numba) that a process imports only once it has done enough work to pay for them.

Importing Numba and loading an engine's cached loops costs about half a CPU
second (two the first time they compile after an install), more than a
one-shot command spends in the loops' NumPy twins.  So an engine keeps its
NumPy code as the reference and switches to the compiled module once the
process has done ``load_after`` units of work with NumPy (seconds of audio
hashed, table cells aligned, ...).  The two give the same bits; each engine's
tests check that.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["DeferredLoops"]


class DeferredLoops:
    """An engine's compiled-loops module, imported after ``load_after`` units of work (or never without Numba).

    Parameters
    ----------
    module : str
        The module's dotted name (e.g. ``"consentry.engines.music._loops"``).
    load_after : float
        Units of work the process does with NumPy before it loads the module (``inf``: never by itself).

    Attributes
    ----------
    available : bool
        Whether Numba is installed (found without importing it; False after a failed import).
    loaded : module or None
        The compiled module once loaded.
    seen : float
        Units of work counted so far.
    """

    def __init__(self, module: str, *, load_after: float) -> None:
        self.module = module
        self.load_after = float(load_after)
        self.available = importlib.util.find_spec("numba") is not None
        self.loaded: ModuleType | None = None
        self.seen = 0.0

    def ready(self, amount: float = 0.0) -> ModuleType | None:
        """The module if loaded, or loaded now because the work counted (``amount`` more now) reached
        ``load_after``; else None (the NumPy code runs)."""
        if self.loaded is not None or not self.available:
            return self.loaded
        self.seen += amount
        return self.load() if self.seen >= self.load_after else None

    def load(self) -> ModuleType | None:
        """Load the module now (Numba compiles it or reads its cache); None when Numba is missing or fails."""
        if self.available and self.loaded is None:
            try:
                self.loaded = importlib.import_module(self.module)
            except ImportError:  # pragma: no cover - a broken Numba install
                self.available = False
        return self.loaded

    def use(self, module: ModuleType | None) -> None:
        """Run with ``module`` (the compiled loops) or, given None, with the NumPy code: for tests and A/B runs."""
        self.loaded = module
        self.available = module is not None
