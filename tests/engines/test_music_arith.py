"""The music engine's SciPy-free arithmetic gives SciPy's results bit for bit (engines/music/arith.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import fft as sfft
from scipy import ndimage, sparse

from consentry.engines.music import arith
from consentry.engines.music.extract import log_frequency_weights, log_spectrogram
from consentry.engines.music.params import V1_PARAMS


def _power_like(rng, shape):
    """Values over 20 decades, like STFT power: where float sums are not exact and order matters."""
    return (10.0 ** rng.uniform(-12, 8, shape)).astype(np.float32)


def _db_like(rng, shape):
    return (rng.standard_normal(shape) * 25 - 40).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_box_mean_equals_uniform_filter(seed):
    rng = np.random.default_rng(seed)
    for make in (_power_like, _db_like):
        x = make(rng, (int(rng.integers(1, 300)), int(rng.integers(1, 90))))
        for size in [(1, 1), (3, 1), (1, 5), (11, 13), (2, 4), (int(rng.integers(1, 20)), int(rng.integers(1, 20)))]:
            want = ndimage.uniform_filter(x, size=size, mode="nearest")
            got = arith.box_mean(x, size)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got, want), (make.__name__, x.shape, size)
        for size in (1, 2, 3, 7):
            for axis in (0, 1):
                want = ndimage.uniform_filter1d(x, size, axis=axis, mode="nearest")
                assert np.array_equal(arith.box_mean_1d(x, size, axis), want), (x.shape, size, axis)


def test_box_mean_on_float64_and_windows_longer_than_the_input():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3)) * 1e6
    for size in [(9, 1), (1, 8), (9, 8)]:
        assert np.array_equal(arith.box_mean(x, size), ndimage.uniform_filter(x, size=size, mode="nearest"))


@pytest.mark.parametrize("seed", range(4))
def test_box_max_equals_maximum_filter(seed):
    rng = np.random.default_rng(100 + seed)
    x = _db_like(rng, (int(rng.integers(1, 300)), int(rng.integers(1, 90))))
    x[rng.random(x.shape) < 0.2] = 0.0  # plateaus and ties
    for size in [(11, 7), (1, 3), (5, 1), (30, 30)]:
        assert np.array_equal(arith.box_max(x, size), ndimage.maximum_filter(x, size=size, mode="nearest"))


def test_box_filters_return_new_arrays():
    x = np.ones((3, 3), np.float32)
    for out in (arith.box_mean(x, (1, 1)), arith.box_max(x, (1, 1))):
        out[0, 0] = 5.0
        assert x[0, 0] == 1.0


@pytest.mark.parametrize("version", ["1", "2"])
def test_sparse_product_equals_scipy_csr(version):
    params = V1_PARAMS if version == "1" else _v2_params()
    weights = log_frequency_weights(params)
    rng = np.random.default_rng(3)
    power = _power_like(rng, (257, weights.shape[0]))
    want = np.asarray(sparse.csr_matrix(weights).__rmatmul__(power), dtype=np.float32)
    got = power @ arith.SparseColumns(weights)
    assert got.dtype == np.float32
    assert np.array_equal(got, want)


@pytest.mark.parametrize("n_fft", [256, 1024, 2048])
def test_rfft_rows_equals_scipy(n_fft):
    rng = np.random.default_rng(n_fft)
    frames = rng.standard_normal((200, n_fft)).astype(np.float32)
    want = sfft.rfft(frames, axis=1)
    got = arith.rfft_rows(frames)
    assert got.dtype == want.dtype == np.complex64
    assert np.array_equal(got, want)


def test_rfft_rows_loads_scipys_extension_without_the_scipy_packages():
    """In a fresh process the FFT comes from SciPy's pocketfft module and ``scipy.fft`` stays unimported."""
    code = (
        "import sys, numpy as np\n"
        "from consentry.engines.music import arith\n"
        "assert arith._pocketfft() is not None, 'extension not loaded'\n"
        "x = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)\n"
        "y = arith.rfft_rows(x)\n"
        "print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))\n"
        "np.save(sys.stdout.buffer, y)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    listing, _, payload = out.partition(b"\n")
    assert listing == b"[]"
    import io

    y = np.load(io.BytesIO(payload))
    x = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    assert np.array_equal(y, sfft.rfft(x, axis=1))


def test_log_spectrogram_of_real_audio_equals_the_scipy_pipeline():
    """The whole chain on a synthetic piece, against the SciPy calls it replaced."""
    from consentry.testing.synth import synthesise_piece

    params = _v2_params()
    samples = synthesise_piece(11, duration_s=8, sample_rate_hz=params.sample_rate_hz)
    got = log_spectrogram(samples, params)
    x = np.asarray(samples, np.float32)
    window = np.hanning(params.n_fft).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, params.n_fft)[:: params.hop]
    spec = sfft.rfft(frames * window, axis=1)
    power = spec.real.astype(np.float32) ** 2 + spec.imag.astype(np.float32) ** 2
    mapped = np.asarray(sparse.csr_matrix(log_frequency_weights(params)).__rmatmul__(power), dtype=np.float32)
    mapped = ndimage.uniform_filter1d(mapped, params.smooth_frames, axis=0, mode="nearest")
    want = (10.0 * np.log10(mapped + 1e-10)).astype(np.float32)
    assert np.array_equal(got, want)


def _v2_params():
    from consentry.engines.music.params import MusicEngineParams2

    return MusicEngineParams2()
