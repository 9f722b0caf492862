"""What a benchmark ran on and when, for the record in RESULTS.md; and the
helpers the ``run_*.py`` scripts share (a copy of a registry, a timed CLI run).

Imported by the ``run_*.py`` scripts beside it (Python puts a script's own
folder first on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def debian_version() -> str | None:
    try:
        return Path("/etc/debian_version").read_text().strip()
    except OSError:
        return None


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def run_info() -> dict:
    """The command line, the UTC date and time, and the machine."""
    return {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": memory_gib(),
            "os": f"{platform.system()} {platform.release()}",
            "debian": debian_version(),
            "python": platform.python_version(),
            "load_average_at_start": load_average(),
        },
        "packages": {name: package_version(name) for name in ("consentry", "av", "numpy", "scipy", "soxr")},
    }


def copy_registry(src: Path, dst: Path) -> Path:
    """Copy a registry (database and index folder) to ``dst``, replacing what is there."""
    # A stale -wal beside a fresh copy would be replayed into it: remove the sidecars too.
    for side in ("", "-wal", "-shm", "-journal", ".lock"):
        Path(str(dst) + side).unlink(missing_ok=True)
    shutil.rmtree(str(dst) + ".index", ignore_errors=True)
    shutil.copy(src, dst)
    shutil.copytree(str(src) + ".index", str(dst) + ".index")
    return dst


def cli(*args: str, registry: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``consentry --registry REGISTRY ARGS...``; (wall seconds, the process). Exit codes 0 and 2 are fine."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), *args],
                       capture_output=True, text=True)
    if r.returncode not in (0, 2):
        raise SystemExit(f"consentry {' '.join(args[:2])} failed: {r.stderr.strip()[-800:]}")
    return time.perf_counter() - t0, r


def wav_bytes(samples, *, sample_rate_hz: int) -> bytes:
    """Mono float samples in [-1, 1] (shape (n,)) as a 16-bit PCM WAV file's bytes (clipped at full scale)."""
    import io
    import wave

    import numpy as np

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()
