"""Process pools fork safely: a worker never frees what the parent's threads were using."""
from __future__ import annotations

import gc
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np
import pytest

from consentry.runtime.pools import process_pool

TIMEOUT_S = 60


def _collect_in_worker() -> int:
    return gc.collect()


def _resampler_left_as_cyclic_garbage() -> None:
    """A PyAV resampler whose FFmpeg filter graph (and its slice threads) has run, left in a reference cycle."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=8000)
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 4410), dtype=np.float32), format="flt", layout="mono")
    frame.sample_rate = 44100
    resampler.resample(frame)  # builds the graph
    cycle: list = [resampler]
    cycle.append(cycle)


def test_a_worker_collecting_the_parents_filter_graph_does_not_hang():
    """Before the fix, the worker's gc.collect() freed the parent's graph and waited forever on its threads."""
    was_enabled = gc.isenabled()
    gc.disable()  # the cycle stays as garbage until the pool forks, as it can between two collections
    try:
        _resampler_left_as_cyclic_garbage()
        with process_pool(1) as pool:
            future = pool.submit(_collect_in_worker)
            try:
                collected = future.result(timeout=TIMEOUT_S)
            except FutureTimeout:
                pytest.fail("a pool worker hung collecting garbage inherited from the parent")
        assert collected >= 0
        assert gc.get_freeze_count() == 0  # the parent's objects are collectable again once the workers exist
    finally:
        if was_enabled:
            gc.enable()
