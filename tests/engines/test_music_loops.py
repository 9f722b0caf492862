"""The music engine's compiled loops (engines/music/_loops.py) give the NumPy code's numbers bit for bit."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

from consentry.engines.music import arith, extract  # noqa: E402
from consentry.engines.music.params import DEFAULT_PARAMS, V1_PARAMS  # noqa: E402


@pytest.fixture()
def loops(monkeypatch):
    """The compiled loops, loaded for this test (the module state is restored afterwards)."""
    monkeypatch.setattr(arith.LOOPS, "loaded", None)
    monkeypatch.setattr(arith.LOOPS, "load_after", 0.0)
    module = arith.LOOPS.load()
    assert module is not None
    return module


@pytest.fixture()
def no_loops(monkeypatch):
    monkeypatch.setattr(arith.LOOPS, "loaded", None)
    monkeypatch.setattr(arith.LOOPS, "load_after", float("inf"))


def _power_like(rng, shape):
    """Values over 20 decades, like STFT power: where float sums are not exact and order matters."""
    return (10.0 ** rng.uniform(-12, 8, shape)).astype(np.float32)


def _db_like(rng, shape):
    return (rng.standard_normal(shape) * 25 - 40).astype(np.float32)


SHAPES = [(1, 1), (1, 181), (2, 181), (5, 3), (11, 7), (40, 181), (257, 181), (3, 40)]


@pytest.mark.parametrize("shape", SHAPES)
def test_running_means_equal_box_mean_1d(loops, shape):
    rng = np.random.default_rng(sum(shape))
    for make in (_power_like, _db_like):
        x = make(rng, shape)
        for size in (1, 2, 3, 11, 13, 20):
            out = np.empty_like(x)
            loops.box_mean_rows(x, size, out)
            assert np.array_equal(out, arith.box_mean_1d(x, size, axis=0)), (make.__name__, shape, size)
            loops.box_mean_cols(x, size, out)
            assert np.array_equal(out, arith.box_mean_1d(x, size, axis=1)), (make.__name__, shape, size)


@pytest.mark.parametrize("shape", SHAPES)
def test_peak_candidates_are_the_numpy_masks_nonzero(loops, shape):
    rng = np.random.default_rng(7 + sum(shape))
    x = _db_like(rng, shape)
    x[:, : shape[1] // 3] = np.round(x[:, : shape[1] // 3] / 10) * 10  # plateaus: ties in the neighbourhood
    background = arith.box_mean(x, (11, 13))
    for rt, rb in ((5, 3), (1, 1), (2, 4), (7, 2)):
        floor = np.float32(float(x.max()) - 60.0)
        want = (x == arith.box_max(x, (2 * rt + 1, 2 * rb + 1))) & (x > float(x.max()) - 60.0)
        want &= x > background + 1e-3
        t, b = loops.peak_candidates(x, background, rt, rb, floor)
        want_t, want_b = np.nonzero(want)
        assert t.dtype == want_t.dtype and b.dtype == want_b.dtype
        assert np.array_equal(t, want_t) and np.array_equal(b, want_b), (shape, rt, rb)


def test_mapped_power_equals_the_sparse_product(loops):
    rng = np.random.default_rng(3)
    weights = extract._sparse_weights(DEFAULT_PARAMS)
    for n in (1, 7, 16, 17, 300):
        frames = rng.standard_normal((n, DEFAULT_PARAMS.n_fft)).astype(np.float32) * 10.0 ** rng.uniform(-4, 2)
        spec = arith.rfft_rows(frames)
        power = spec.real.astype(np.float32) ** 2 + spec.imag.astype(np.float32) ** 2
        want = np.asarray(power @ weights, dtype=np.float32)
        got = np.empty((n, DEFAULT_PARAMS.n_bins), dtype=np.float32)
        loops.mapped_power(spec.view(np.float32), weights.indptr, weights.rows, weights.values, got)
        assert np.array_equal(got, want), n


def _signals():
    rng = np.random.default_rng(11)
    t = np.arange(8000 * 40) / 8000
    tune = sum(np.sin(2 * np.pi * f * t) * (0.3 + 0.3 * np.sin(t * k)) for k, f in enumerate((220, 331, 497, 660)))
    return [np.zeros(8000 * 3, np.float32), np.zeros(500, np.float32),
            (rng.standard_normal(5000) * 0.1).astype(np.float32),
            (tune / 4 + rng.standard_normal(t.size) * 0.05).astype(np.float32)]


@pytest.mark.parametrize("params", [DEFAULT_PARAMS, V1_PARAMS], ids=["v2", "v1"])
def test_hashes_are_the_same_with_and_without_the_loops(monkeypatch, params):
    for samples in _signals():
        monkeypatch.setattr(arith.LOOPS, "loaded", None)
        monkeypatch.setattr(arith.LOOPS, "load_after", float("inf"))
        want = [extract.log_spectrogram(samples, params), *extract.index_hashes(samples, params)]
        query = extract.query_hashes(samples[: 8000 * 10], params)
        want += [query.key_lo, query.key_hi, query.owner]
        monkeypatch.setattr(arith.LOOPS, "load_after", 0.0)
        assert arith.loops_ready() is not None
        got = [extract.log_spectrogram(samples, params), *extract.index_hashes(samples, params)]
        query = extract.query_hashes(samples[: 8000 * 10], params)
        got += [query.key_lo, query.key_hi, query.owner]
        for a, b in zip(want, got):
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def test_loops_load_only_after_enough_audio(no_loops, monkeypatch):
    monkeypatch.setattr(arith.LOOPS, "load_after", 30.0)
    monkeypatch.setattr(arith.LOOPS, "seen", 0.0)
    clip = _signals()[3][: 8000 * 20]
    extract.index_hashes(clip, DEFAULT_PARAMS)
    assert arith.LOOPS.loaded is None  # 20 s hashed
    extract.index_hashes(clip, DEFAULT_PARAMS)
    assert arith.LOOPS.loaded is not None  # 40 s


def test_a_short_identify_does_not_import_numba():
    code = ("import sys, numpy as np\n"
            "from consentry.engines.music import extract\n"
            "from consentry.engines.music.params import DEFAULT_PARAMS\n"
            "extract.query_hashes(np.random.default_rng(0).standard_normal(80000).astype(np.float32), DEFAULT_PARAMS)\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
