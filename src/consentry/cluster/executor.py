"""A scan's items on a Ray cluster: worker actors do the work, the caller stores what comes back.

``consentry scan SOURCE --ray ADDRESS`` hands :func:`consentry.services.scan.scan_dataset`
a :class:`RayExecutor`.  The scan stays what it is locally: the caller's
process reads the dataset's listing, keeps the terms snapshot, decides each
item and is the registry's single writer; only reading, decoding,
fingerprinting and identifying move to the cluster.  The executor:

- starts ``N`` worker actors (one CPU each; ``N`` = ``--workers``, at most the
  cluster's CPUs), each running the scan's worker initializer once (it opens
  the registry, read-only, by the same spec: a PostgreSQL URL, or an SQLite
  file on storage every node sees) and then one item at a time;
- keeps at most :data:`IN_FLIGHT_PER_WORKER` items in flight per worker, so
  the caller's memory does not grow with the dataset, and yields what has
  finished at least every :data:`~consentry.runtime.interrupts.POLL_S`
  seconds (so Ctrl-C is acted on);
- lets Ray restart a worker that dies (``max_restarts``) and re-run its items
  (``max_task_retries``).  A worker lost for good is replaced; the items it
  held are tried again one at a time, each on a fresh worker of its own, and
  one that kills that worker too is the caller's ``lost(task, reason)``
  result (an item error in a scan: a hostile file that crashes the decoder
  must not stop the scan, nor its resume, for ever).  Without ``lost``, or
  when workers die before taking any item, the scan ends with
  :class:`~consentry.cluster.ClusterError`, is marked interrupted, and
  ``--resume`` continues it, as after a crash of the caller itself.

With ``index_shards``, the index is served by shard actors
(:class:`~consentry.cluster.index.ShardedIndex`) and the workers look up
through them instead of memory-mapping the whole index each.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator

from consentry.cluster import AUTO, ClusterError, cluster_cpus, connect, import_ray

#: Items sent to a worker before its earlier ones come back (4: a worker does not wait while the driver
#: stores a result; benchmarks/RESULTS.md, "Scans on Ray", re-run on a quiet machine).
IN_FLIGHT_PER_WORKER = 4
#: Times Ray restarts a dead worker actor (and re-runs its items) before the items are tried alone.
WORKER_RESTARTS = 3
#: The reason given to ``lost`` for an item whose worker died while reading it, alone too.
WORKER_DIED = "the Ray worker reading it died, also when it read it alone (a decoder crash or out of memory); not scanned"


class ScanWorker:
    """Ray actor body: ``initializer(*initargs)`` once, then ``work(task)`` per call.

    The worker first moves to the driver's working folder ``cwd`` when this
    node has it, so relative paths (``--registry consentry.db``) mean what
    they mean to the driver.
    """

    def __init__(self, work: Callable, initializer: Callable | None, initargs: tuple, cwd: str | None = None) -> None:
        self._work = work
        if cwd and os.path.isdir(cwd):
            os.chdir(cwd)
        if initializer is not None:
            initializer(*initargs)

    def run(self, task: dict) -> dict:
        return self._work(task)

    def run_part(self, make_task: Callable, part, skip: frozenset) -> dict:
        """Read a part of a shard here and ``work`` its items (:func:`consentry.cluster.parts.run_part`)."""
        from consentry.cluster.parts import run_part

        return run_part(self._work, make_task, part, skip)

    def list_part(self, part, skip: frozenset) -> dict:
        """The items of a part, nothing decoded (:func:`consentry.cluster.parts.list_part`)."""
        from consentry.cluster.parts import list_part

        return list_part(part, skip)

    def pid(self) -> int:
        return os.getpid()



def finished_refs(ray, running) -> list:
    """The refs of ``running`` that have finished: waits up to ``POLL_S`` for the first, then takes all done by then.

    Waiting with a timeout lets the caller look at Ctrl-C and lost workers
    between waits; taking every finished ref at once stores them in one batch.
    """
    from consentry.runtime.interrupts import POLL_S

    ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
    if ready:
        rest = [r for r in running if r not in ready]
        more, _ = ray.wait(rest, num_returns=len(rest), timeout=0) if rest else ([], [])
        ready = ready + more
    return ready


class RayExecutor:
    """Runs a scan's items on a Ray cluster (see the module docstring).

    Parameters
    ----------
    address : str
        ``host:port`` of the cluster's head, ``ray://host:port``, or ``auto``
        (``RAY_ADDRESS``, else a cluster started on this machine).
    workers : int, optional
        Worker actors (default: one per CPU of the cluster; never more).
    index_shards : int
        Serve the index from this many shard actors (0: every worker
        memory-maps the whole index, as a local scan does).
    shards_dir : path, optional
        Folder of the shard layouts (default: ``shards/`` in the registry's
        local folder); readable by every node.
    """

    kind = "ray"

    def __init__(self, address: str = AUTO, *, workers: int | None = None, index_shards: int = 0,
                 shards_dir: str | os.PathLike | None = None) -> None:
        if workers is not None and int(workers) < 1:
            raise ClusterError(f"--workers {workers}: give 1 or more")
        if int(index_shards) < 0:
            raise ClusterError(f"--index-shards {index_shards}: give 0 (no shards) or more")
        self.asked = address or AUTO
        self.requested = workers
        self.index_shards = int(index_shards)
        self.shards_dir = shards_dir
        self.address: str | None = None
        self.index = None
        self.count = None
        self._actors: list = []

    # -- lifecycle --------------------------------------------------------------------
    def connect(self) -> str:
        """Join the cluster (a one-line :class:`ClusterError` when it cannot be reached)."""
        if self.address is None:
            self.address = connect(self.asked)
        return self.address

    def start(self, registry):
        """Join the cluster and start the index shards (when asked); returns the :class:`WorkerCount`."""
        from consentry.runtime.pools import worker_count

        self.connect()
        if self.index_shards and self.index is None:
            from consentry.cluster.index import ShardedIndex

            self.index = ShardedIndex.start(registry, n_shards=self.index_shards, root=self.shards_dir)
        self.count = worker_count(self.requested, cores=cluster_cpus())
        return self.count

    def close(self) -> None:
        """End the worker and shard actors (the cluster itself keeps running)."""
        if self.address is None:
            return
        ray = import_ray()
        for a in self._actors:
            ray.kill(a)
        self._actors = []
        if self.index is not None:
            self.index.stop()
            self.index = None

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> dict:
        """What the scan JSON says of the executor: ``{"kind": "ray", "address", "workers", "index_shards"}``."""
        return {"kind": self.kind, "address": self.address or self.asked,
                "workers": self.count.workers if self.count else None, "index_shards": self.index_shards}

    # -- running ----------------------------------------------------------------------
    def map(self, work: Callable[[dict], dict], tasks: Iterable[dict], *, initializer: Callable | None = None,
            initargs: tuple = (), lost: Callable[[dict, str], dict] | None = None) -> Iterator[list[dict]]:
        """Run ``work(task)`` on the workers; yields lists of results as they finish (possibly empty).

        ``work`` and ``initializer`` must be importable module-level
        functions (Ray sends them by name).  An empty list comes at least
        every ``POLL_S`` seconds while items run, so the caller can act on
        Ctrl-C; leaving the loop early ends the workers.  ``lost(task,
        reason)`` gives the result of an item that kills its worker even when
        run alone (see the module docstring); without it such an item raises
        :class:`~consentry.cluster.ClusterError`.
        """
        from consentry.runtime.interrupts import raise_if_stopping

        ray = import_ray()
        if self.count is None:
            raise ClusterError("the Ray executor was not started (call start(registry) first)")
        actor = ray.remote(num_cpus=1, max_restarts=WORKER_RESTARTS, max_task_retries=WORKER_RESTARTS)(ScanWorker)

        def new_worker():
            return actor.remote(work, initializer, initargs, os.getcwd())

        self._actors = [new_worker() for _ in range(self.count.workers)]
        load = [0] * len(self._actors)
        running: dict = {}  # ref -> (worker index, task)
        tasks = iter(tasks)
        exhausted = False
        try:
            while True:
                while not exhausted and len(running) < IN_FLIGHT_PER_WORKER * len(self._actors):
                    raise_if_stopping()
                    task = next(tasks, None)
                    if task is None:
                        exhausted = True
                        break
                    i = min(range(len(load)), key=load.__getitem__)
                    running[self._actors[i].run.remote(task)] = (i, task)
                    load[i] += 1
                if not running:
                    return
                ready = finished_refs(ray, running)
                results: list[dict] = []
                suspects: list[dict] = []
                for ref in ready:
                    if ref not in running:  # taken with a worker lost earlier in this round
                        continue
                    i, task = running.pop(ref)
                    load[i] -= 1
                    try:
                        results.append(ray.get(ref))
                    except ray.exceptions.RayActorError as exc:
                        if lost is None:
                            raise ClusterError(f"a Ray worker was lost ({_first_line(exc)}); the items stored so "
                                               "far are kept: run the scan again with --resume") from None
                        # lost for good: its other items go with it, to be tried alone; a new worker takes its place
                        suspects.append(task)
                        for other in [r for r, (j, _t) in running.items() if j == i]:
                            _j, other_task = running.pop(other)
                            load[i] -= 1
                            if ray.wait([other], timeout=0)[0]:
                                try:
                                    results.append(ray.get(other))
                                    continue
                                except ray.exceptions.RayActorError:
                                    pass
                            suspects.append(other_task)
                        ray.kill(self._actors[i])
                        self._actors[i] = new_worker()
                    except Exception as exc:  # noqa: BLE001 - the work itself failed: a bug, not an item
                        raise ClusterError(f"a Ray worker failed ({_first_line(exc)}); the items stored so far "
                                           "are kept: run the scan again with --resume") from None
                for task in suspects:
                    result = self._alone(work, initializer, initargs, task)
                    results.append(result if result is not None else lost(task, WORKER_DIED))
                yield results
        finally:
            for a in self._actors:
                ray.kill(a)
            self._actors = []

    def map_parts(self, work: Callable[[dict], dict], parts: Iterable, *, done: set[int], dataset, make_task: Callable,
                  initializer: Callable | None = None, initargs: tuple = (),
                  lost: Callable[[dict, str], dict] | None = None) -> Iterator[list[dict]]:
        """Like :meth:`map`, but the workers read the dataset: ``parts`` are shards and ranges
        (:func:`consentry.io.sources.parts.parts_of`), ``make_task(seq, item)`` makes each item's task
        on the worker; see :mod:`consentry.cluster.parts`.

        When the dataset has fewer shards read one part after another (tar shards, a zip) than there
        are workers, the workers could not all be kept busy: the items are then read here and sent
        to the workers (:meth:`map`), numbered as the parts would number them.
        """
        from consentry.cluster.parts import map_parts, sequential_streams
        from consentry.io.sources.parts import PER_SHARD, numbered_items

        if self.count is None:
            raise ClusterError("the Ray executor was not started (call start(registry) first)")
        streams = sequential_streams(dataset)
        if streams is not None and streams < self.count.workers:
            items = numbered_items(dataset, PER_SHARD, wanted=lambda seq: seq not in done)
            tasks = (make_task(seq, item) for seq, item in items if seq not in done)
            return self.map(work, tasks, initializer=initializer, initargs=initargs, lost=lost)
        ray = import_ray()
        actor = ray.remote(num_cpus=1, max_restarts=WORKER_RESTARTS, max_task_retries=WORKER_RESTARTS)(ScanWorker)

        def new_worker():
            return actor.remote(work, initializer, initargs, os.getcwd())

        def alone(method: str, *args):
            return self._solo(work, initializer, initargs, method, *args)

        return map_parts(self, work, parts, done=done, dataset=dataset, make_task=make_task, initializer=initializer,
                         initargs=initargs, lost=lost, new_worker=new_worker, alone=alone)

    def _alone(self, work: Callable, initializer: Callable | None, initargs: tuple, task: dict) -> dict | None:
        """``work(task)`` on a fresh worker of its own that Ray does not restart; ``None`` when it dies on it."""
        return self._solo(work, initializer, initargs, "run", task)

    def _solo(self, work: Callable, initializer: Callable | None, initargs: tuple, method: str, *args) -> dict | None:
        """``method(*args)`` on a fresh worker of its own that Ray does not restart; ``None`` when it dies on it."""
        from consentry.runtime.interrupts import POLL_S, raise_if_stopping

        ray = import_ray()
        # No CPU reserved: the scan's workers hold the cluster's CPUs, and this one lives for one item.
        solo = ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(ScanWorker).remote(
            work, initializer, initargs, os.getcwd())
        try:
            try:
                ray.get(solo.pid.remote())
            except ray.exceptions.RayActorError as exc:
                raise ClusterError(f"Ray workers die before taking any item ({_first_line(exc)})") from None
            ref = getattr(solo, method).remote(*args)
            while not ray.wait([ref], timeout=POLL_S)[0]:
                raise_if_stopping()
            try:
                return ray.get(ref)
            except ray.exceptions.RayActorError:
                return None
        finally:
            ray.kill(solo)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
