"""Worker pools: how many workers to start, and how to stop them at once.

Every pool Consentry starts (register, scan, the melody backfill, the
server's jobs) is at most ``min(requested, cores, items)`` wide (design.md,
"Bounded everything"): more processes than cores only share the same cores
and multiply the memory, and more than items sit idle.  ``register --workers
100000`` on two files once forked 3,300 processes, used 24 GB and hung
(issue 15).  When a request is lowered, :meth:`WorkerCount.describe` says so
in one line.

A process pool made with :func:`process_pool` ignores Ctrl-C in its workers
(the parent decides what to do), and when its block is left by an exception
(Ctrl-C, SIGTERM, an error) the work not yet started is cancelled and the
workers are terminated and reaped at once, instead of being waited for: a
worker in the middle of a long decode does not hold up the exit, and no
worker is left behind.

>>> from consentry.runtime.pools import worker_count
>>> worker_count(100000, items=2, cores=2).describe(items_name="files")
'--workers 100000 lowered to 2 (2 cores, 2 files)'
"""

from __future__ import annotations

import gc
import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:  # imported where a pool is made: multiprocessing costs a one-shot command that makes none
    from concurrent.futures import ProcessPoolExecutor

#: Seconds terminated workers get to exit before they are killed.
TERMINATE_WAIT_S = 0.5


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count); at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class WorkerCount:
    """How many workers a pool gets, and what limited it.

    Attributes
    ----------
    requested : int or None
        What was asked for (None: as many as useful).
    workers : int
        What the pool gets (at least 1).
    cores : int
        Cores usable by this process.
    items : int or None
        Units of work to share out (None: unknown, e.g. a streamed dataset).
    """

    requested: int | None
    workers: int
    cores: int
    items: int | None = None

    @property
    def lowered(self) -> bool:
        """Whether the pool gets fewer workers than were requested."""
        return self.requested is not None and self.workers < self.requested

    def describe(self, *, option: str = "--workers", items_name: str = "items") -> str:
        """One line for the user, e.g. ``--workers 100000 lowered to 2 (2 cores, 2 files)``."""
        why = [f"{self.cores} core{'' if self.cores == 1 else 's'}"]
        if self.items is not None:
            why.append(f"{self.items} {items_name}")
        return f"{option} {self.requested} lowered to {self.workers} ({', '.join(why)})"

    def as_dict(self) -> dict:
        return {"requested": self.requested, "used": self.workers, "cores": self.cores, "items": self.items}


def worker_count(requested: int | None, *, items: int | None = None, cores: int | None = None) -> WorkerCount:
    """Workers for a pool: ``min(requested, cores, items)``, at least 1.

    Parameters
    ----------
    requested : int or None
        Workers asked for (None: one per core).
    items : int, optional
        Units of work to share out; None when unknown (then cores alone cap).
    cores : int, optional
        Cores to use at most (default: :func:`usable_cores`).
    """
    cores = max(1, cores if cores is not None else usable_cores())
    n = cores if requested is None else min(int(requested), cores)
    if items is not None:
        n = min(n, int(items))
    return WorkerCount(requested=requested, workers=max(1, n), cores=cores, items=items)


def _start_worker(initializer: Callable | None, initargs: tuple) -> None:
    """Initializer of every pool worker: Ctrl-C is the parent's to handle, SIGTERM ends the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the parent's Python handler
    if initializer is not None:
        initializer(*initargs)


@contextmanager
def _frozen_for_fork() -> Iterator[None]:
    """Fork inside this block with the parent's objects out of the workers' garbage collection.

    A forked worker must never free what the parent's threads were using.
    An FFmpeg filter graph (PyAV's audio resampler holds one) that the parent
    left as cyclic garbage owns slice threads that do not exist in the child;
    a worker's garbage collection that freed it waited for them forever (a
    registration hung so in CI).  So the parent's garbage is collected first,
    and what remains is frozen (:func:`gc.freeze`), so that no worker's
    collection ever frees an object of the parent's; the parent unfreezes
    them once the workers exist.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def process_pool(workers: int, *, initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[ProcessPoolExecutor]:
    """A process pool of ``workers`` processes that stops at once when its block raises.

    Leaving the block normally waits for the submitted work, as
    ``with ProcessPoolExecutor(...)`` does.  Leaving it by an exception
    (KeyboardInterrupt included) cancels what has not started and ends the
    workers with :func:`stop_pool` before the exception goes on.
    ``initializer(*initargs)`` runs in each worker, which ignores SIGINT.
    """
    from consentry.runtime.interrupts import deferred_interrupts

    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(initializer, tuple(initargs)))
    try:
        # The workers are forked on the first submit.  A signal handler that raised inside Python's
        # at-fork hooks would have its exception dropped, so signals wait until the workers exist.
        with deferred_interrupts(), _frozen_for_fork():
            pool.submit(int)
        yield pool
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def stop_pool(pool: ProcessPoolExecutor, *, wait_s: float = TERMINATE_WAIT_S) -> None:
    """Cancel a pool's pending work, terminate its workers and reap them; returns within about ``5 * wait_s``.

    Workers busy with a task are not waited for.  Those that do not exit
    ``wait_s`` seconds after SIGTERM are killed.
    """
    # ProcessPoolExecutor has no public handle on its workers before Python 3.14 (terminate_workers).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.terminate()
    deadline = time.monotonic() + wait_s
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in processes:
        if p.exitcode is None:
            p.kill()
            p.join(4 * wait_s)  # a killed process dies at once; a machine under load may take a moment to reap it
    # The pool's manager thread closes its wake-up pipe as it ends.  Python 3.11's exit hook wakes every pool's
    # manager thread and can write to that pipe just as it is closed ("OSError: Bad file descriptor", a traceback
    # after the one-line interrupted message; seen in CI under load): wait for the thread, so the pipe is closed
    # before the hook runs and the hook passes it over.
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None and manager.is_alive():
        manager.join(4 * wait_s)
