"""A scan's items on local worker processes, surviving an item that kills its worker.

A decoder that crashes on a hostile file, or the kernel's out-of-memory killer,
takes the worker process with it and breaks the whole process pool.  Failing
the scan there would fail its resume too (the same item comes first again), so
the items that were in flight are tried again one at a time, each in a pool of
its own: an item that kills its worker a second time is stored as an item
error (:data:`WORKER_DIED`) and the scan goes on with a new pool.  Items that
only shared the broken pool are scanned as usual.  A pool whose workers
cannot even start (the initializer fails) is not an item's fault: that is
raised.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable

from consentry.runtime.interrupts import POLL_S, polled, raise_if_stopping
from consentry.runtime.pools import process_pool

#: The error stored for an item whose worker died twice while reading it.
WORKER_DIED = "the worker process reading it died twice (a decoder crash or out of memory); not scanned"


class WorkersCannotStart(RuntimeError):
    """The scan's worker processes die before they take any item (their set-up fails)."""


def run_in_pool(work: Callable[[dict], dict], tasks: Iterable[dict], *, workers: int, initializer: Callable,
                initargs: tuple, store: Callable[[list[dict]], None], lost: Callable[[dict, str], dict]) -> None:
    """Run ``work(task)`` for every task on ``workers`` processes and ``store`` the results as they finish.

    At most ``2 * workers`` tasks are in flight.  ``store`` gets lists of
    results (possibly empty, at least every ``POLL_S`` seconds, so Ctrl-C is
    acted on between them).  ``lost(task, reason)`` makes the result of a
    task whose worker died twice (see the module docstring).
    """
    tasks = iter(tasks)
    exhausted = False
    while True:
        suspects: list[dict] = []
        with polled(), process_pool(workers, initializer=initializer, initargs=initargs) as pool:
            running: dict[Future, dict] = {}
            while running or not exhausted:
                while not exhausted and len(running) < 2 * workers and not suspects:
                    raise_if_stopping()
                    task = next(tasks, None)
                    if task is None:
                        exhausted = True
                        break
                    try:
                        running[pool.submit(work, task)] = task
                    except BrokenProcessPool:  # a worker died before this task went in: it is tried alone too
                        suspects.append(task)
                if not running and not suspects:
                    break
                finished, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED) if running else (set(), set())
                results = _collect({f: running.pop(f) for f in finished}, suspects)
                if suspects:
                    # the pool is broken: what had finished is kept, the rest is tried again alone
                    results += _collect(running, suspects)
                    running = {}
                store(results)
                if suspects:
                    break
        for task in suspects:
            raise_if_stopping()   # a signal to the whole process group kills the workers too: stop, do not blame
            result = _alone(work, task, initializer=initializer, initargs=initargs)
            store([result if result is not None else lost(task, WORKER_DIED)])
        if exhausted:
            return


def _collect(futures: dict[Future, dict], suspects: list[dict]) -> list[dict]:
    """The results of the finished ``futures``; the tasks of those lost with a broken pool go to ``suspects``."""
    results = []
    for f, task in futures.items():
        if f.done() and not f.cancelled() and f.exception() is None:
            results.append(f.result())
        elif f.done() and not f.cancelled() and not isinstance(f.exception(), BrokenProcessPool):
            raise f.exception()
        else:
            suspects.append(task)
    return results


def _alone(work: Callable[[dict], dict], task: dict, *, initializer: Callable, initargs: tuple) -> dict | None:
    """``work(task)`` in a pool of one fresh worker; ``None`` when the worker dies on it."""
    with polled(), process_pool(1, initializer=initializer, initargs=initargs) as solo:
        try:  # the worker's set-up must succeed before the item is blamed
            probe = solo.submit(int)
            _wait(probe)
            probe.result()
        except BrokenProcessPool:
            raise WorkersCannotStart("the scan's worker processes die before taking any item "
                                     "(see the messages above)") from None
        try:
            future = solo.submit(work, task)
            _wait(future)
            return future.result()
        except BrokenProcessPool:
            return None


def _wait(future: Future) -> None:
    while not wait([future], timeout=POLL_S).done:
        raise_if_stopping()
