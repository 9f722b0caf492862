"""What a benchmark ran on and when, for the record in RESULTS.md.

Imported by the ``run_*.py`` scripts beside it (Python puts a script's own
folder first on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import shlex
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
