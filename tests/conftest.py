"""Shared test media: made here, never downloaded."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import numpy as np
import pytest


def notes(seed: int, *, duration_s: float, sr: int = 22050) -> np.ndarray:
    """Three voices of harmonic notes with random timing, vibrato and decay (float32 mono, peak 0.8).

    A simple, fixed test signal: not music, but with the spectral and
    temporal variety the engine relies on.
    """
    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    x = np.zeros(n, dtype=np.float64)
    for voice, (lo, hi, gain) in enumerate(((-21, -9, 0.6), (-9, 8, 0.5), (3, 20, 0.35))):
        t = float(rng.uniform(0, 0.2))
        while t < duration_s:
            dur = float(rng.uniform(0.12, 0.7))
            f0 = 220.0 * 2 ** (int(rng.integers(lo, hi)) / 12)
            m = int(dur * sr)
            tt = np.arange(m) / sr
            env = np.exp(-tt * rng.uniform(1.5, 6.0)) * np.minimum(1.0, tt / 0.01)
            vib = 1 + 0.003 * np.sin(2 * np.pi * rng.uniform(4, 6) * tt)
            phase = 2 * np.pi * f0 * np.cumsum(vib) / sr
            amps = rng.uniform(0.2, 1.0, 6) / np.arange(1, 7)
            note = sum(a * np.sin(h * phase) for h, a in enumerate(amps, start=1)) * env * gain
            i = int(t * sr)
            x[i:i + m] += note[: n - i]
            t += dur + float(rng.choice([0.0, 0.0, 0.05, 0.15]))
    return (0.8 * x / np.abs(x).max()).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, *, sample_rate_hz: int, channels: int = 1) -> Path:
    """16-bit PCM WAV; a mono signal is copied to every channel."""
    x = np.clip(samples, -1, 1)
    pcm = (x * 32767).astype("<i2")
    if channels > 1:
        pcm = np.repeat(pcm[:, None], channels, axis=1).reshape(-1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(pcm.tobytes())
    return path


def encode(path: Path, samples: np.ndarray, *, sample_rate_hz: int, codec: str, bitrate: int | None = None,
           channels: int = 1, container_format: str | None = None) -> Path:
    """Encode mono samples with PyAV (codec e.g. 'libmp3lame', 'flac', 'aac', 'libopus')."""
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=sample_rate_hz)
        stream.layout = layout
        if bitrate:
            stream.bit_rate = bitrate
        fmt = stream.codec_context.codec.audio_formats[0].name
        data = np.repeat(np.clip(samples, -1, 1)[None, :], channels, axis=0).astype(np.float32)
        frame_size = 1152 if codec == "libmp3lame" else 1024
        pts = 0
        for i in range(0, data.shape[1], frame_size):
            chunk = data[:, i:i + frame_size]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=layout)
            frame.sample_rate = sample_rate_hz
            frame.pts = pts
            pts += chunk.shape[1]
            if fmt != "fltp":
                frame = av.AudioResampler(format=fmt, layout=layout, rate=sample_rate_hz).resample(frame)[0]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture
def media(tmp_path):
    """A folder factory for test media."""
    d = tmp_path / "media"
    d.mkdir()
    return d


# -- both stores: SQLite and a throw-away PostgreSQL server (tests/pg.py) ---------------------
@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the whole session (skipped without binaries, unless CONSENTRY_REQUIRE_POSTGRES=1)."""
    from pg import PostgresUnavailable, require_postgres, start_server

    try:
        server = start_server()
    except PostgresUnavailable as exc:
        if require_postgres():
            pytest.fail(f"CONSENTRY_REQUIRE_POSTGRES=1 but {exc}")
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server, tmp_path, monkeypatch):
    """URL of a fresh, empty database; processes started by the test cache segments and keep local files in tmp_path."""
    monkeypatch.setenv("CONSENTRY_CACHE_DIR", str(tmp_path / "pg-cache"))
    monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path / "pg-home"))
    url = pg_server.new_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> str:
    """Each store backend in turn."""
    return request.param


@pytest.fixture
def store_factory(backend, tmp_path, request, monkeypatch):
    """``open_store(name="r", *, create=True)``: a registry store of each backend (see tests/pg.py StoreFactory).

    ``open_store.backend`` says which; ``open_store.spec(name)`` is its path or URL.
    """
    from pg import StoreFactory

    server = request.getfixturevalue("pg_server") if backend == "postgres" else None
    if server is not None:
        monkeypatch.setenv("CONSENTRY_CACHE_DIR", str(tmp_path / "pg-cache"))
        monkeypatch.setenv("CONSENTRY_HOME", str(tmp_path / "pg-home"))
    factory = StoreFactory(backend, tmp_path, server)
    yield factory
    factory.cleanup()


@pytest.fixture
def registry_spec(backend, tmp_path, request) -> str:
    """A new registry's path (SQLite) or URL (PostgreSQL), for ``Registry.open`` and ``--registry``."""
    if backend == "sqlite":
        return str(tmp_path / "registry.db")
    return request.getfixturevalue("pg_url")
