"""One thread per process for the numeric libraries.

NumPy's OpenBLAS starts a thread per core. Our matrix products are small, so
those threads spin rather than help: measured on 2 cores, a one-worker scan
used 1.9 cores with OpenBLAS's default and 1.0 core with one thread, in the
same wall time (benchmarks/RESULTS.md, "Dataset scan"). Parallelism comes from
our worker processes instead, which then scale with the cores.
"""

from __future__ import annotations

import os

_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def prefer_one_thread_env() -> None:
    """Ask for one BLAS/OpenMP thread unless the user chose otherwise (before NumPy is imported)."""
    for var in _VARS:
        os.environ.setdefault(var, "1")


def limit_worker_threads() -> None:
    """Limit this process's BLAS/OpenMP pools to one thread (a worker initializer; NumPy may be loaded)."""
    if any(os.environ.get(v) not in (None, "1") for v in _VARS):
        return  # the user asked for more threads; respect it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
