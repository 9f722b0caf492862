"""DeferredLoops: an engine's compiled loops are imported only after enough work, and never without Numba."""

from __future__ import annotations

import sys

from consentry.runtime.compiled import DeferredLoops


def test_loads_once_the_work_counted_reaches_its_bound(tmp_path, monkeypatch):
    (tmp_path / "consentry_test_loops_mod.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "consentry_test_loops_mod", raising=False)
    loops = DeferredLoops("consentry_test_loops_mod", load_after=10)
    loops.available = True  # as if Numba were installed: the module here needs nothing
    assert loops.ready(4) is None and loops.ready(5) is None
    assert "consentry_test_loops_mod" not in sys.modules  # 9 units: not imported yet
    module = loops.ready(1)
    assert module is not None and module.VALUE == 7 and loops.loaded is module
    assert loops.ready() is module  # once loaded, whatever is counted


def test_without_numba_nothing_is_imported_and_the_numpy_code_runs():
    loops = DeferredLoops("consentry_no_such_module_anywhere", load_after=0)
    loops.available = False
    assert loops.ready(1e9) is None and loops.load() is None


def test_a_module_that_cannot_be_imported_marks_the_loops_unavailable():
    loops = DeferredLoops("consentry_no_such_module_anywhere", load_after=0)
    loops.available = True
    assert loops.ready() is None
    assert loops.available is False


def test_use_switches_between_the_compiled_module_and_numpy():
    loops = DeferredLoops("math", load_after=float("inf"))
    import math

    loops.use(math)
    assert loops.ready() is math
    loops.use(None)
    assert loops.ready(1e12) is None
