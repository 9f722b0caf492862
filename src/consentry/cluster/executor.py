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

    def first_call(self, what: str, *args):
        """A first-pass call: a JSONL range's rows counted, a CSV or Arrow file's listed
        (:func:`consentry.cluster.parts.first_call`)."""
        from consentry.cluster.parts import first_call

        return first_call(what, *args)

    def list_shard(self, first):
        """All the parts of a tar shard or a zip, listed here (:func:`consentry.io.sources.parts.list_shard`)."""
        from consentry.io.sources.parts import list_shard

        return list_shard(first)

    def pid(self) -> int:
        return os.getpid()



class ShardFeeder:
    """Ray actor body: reads a dataset's compressed tar shards (fewer than the workers) from start to end, once,
    and hands out its items' tasks a few at a time, each put in Ray's object store by this actor.

    The driver passes the references on to the scan workers and never reads
    an item; the workers fetch the bytes from here.  (A compressed shard has
    no offset a part could begin at: cut into parts, each would decompress
    the shard again from its start.)  ``done``: seqs already stored.
    """

    def __init__(self, dataset, done, make_task: Callable) -> None:
        from consentry.io.sources.parts import PER_SHARD, numbered_items

        self._dataset = dataset
        self._done = done
        self._make_task = make_task
        self._items = numbered_items(dataset, PER_SHARD, wanted=lambda seq: seq not in done)

    def take(self, n: int) -> list[dict]:
        """The next ``n`` items' ``{"seq", "item_id", "name", "stored": ref of the task}`` (fewer at the end)."""
        ray = import_ray()
        out: list[dict] = []
        for seq, item in self._items:
            if seq in self._done:
                continue
            task = self._make_task(seq, item)
            out.append({"seq": seq, "item_id": task["item_id"], "name": task["name"], "stored": ray.put(task)})
            if len(out) >= n:
                break
        return out

    def skipped(self) -> dict[str, int]:
        return dict(self._dataset.skipped)


def _arg(task: dict):
    """What a worker's ``run`` is sent for ``task``: the task, or the reference a :class:`ShardFeeder` stored."""
    return task.get("stored", task)


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


class Workers:
    """A scan's worker actors and the calls in flight on them: the part the item loop (:meth:`RayExecutor.map`)
    and the parts loop (:mod:`consentry.cluster.parts`) share.

    :meth:`send` gives a call to the least loaded worker; :meth:`collect`
    waits for calls to finish and sorts them into outcomes and *suspects*:
    the calls of a worker lost for good (Ray's restarts used up), which the
    caller runs again alone.  The worker is replaced.  What is kept of a
    lost worker's other calls is the caller's choice: ``keep_finished``
    True (the item loop) keeps the outcomes of those that had finished
    before it was lost; False (the parts loop) makes them all suspects, to
    be read again alone.  Both are correct, since a finished call's outcome
    is whole; the parts loop re-reads at most ``PARTS_PER_WORKER - 1`` parts
    this way, which is how its lost-worker tests have always run.
    """

    def __init__(self, executor: "RayExecutor", new_worker: Callable, per_worker: int) -> None:
        self._ray = import_ray()
        self._new = new_worker
        self.actors = executor._actors = [new_worker() for _ in range(executor.count.workers)]
        self._executor = executor
        self._limit = per_worker * len(self.actors)
        self._load = [0] * len(self.actors)
        self._running: dict = {}  # ref -> (worker index, task)

    def room(self) -> bool:
        return len(self._running) < self._limit

    def busy(self) -> bool:
        return bool(self._running)

    def send(self, method: str, task, *args) -> None:
        """``worker.method(*args)`` on the least loaded worker; ``task`` comes back with its outcome."""
        i = min(range(len(self._load)), key=self._load.__getitem__)
        self._running[getattr(self.actors[i], method).remote(*args)] = (i, task)
        self._load[i] += 1

    def collect(self, *, lost_ok: bool, keep_finished: bool) -> tuple[list[tuple], list]:
        """``([(task, outcome), ...], suspects)`` for the calls finished within ``POLL_S`` (both may be empty).

        Without ``lost_ok`` a worker lost for good raises :class:`ClusterError`;
        so does a call that fails in the work itself (a bug, not an item).
        """
        ray = self._ray
        done: list[tuple] = []
        suspects: list = []
        for ref in finished_refs(ray, self._running):
            if ref not in self._running:  # taken with a worker lost earlier in this round
                continue
            i, task = self._running.pop(ref)
            self._load[i] -= 1
            try:
                done.append((task, ray.get(ref)))
            except ray.exceptions.RayActorError as exc:
                if not lost_ok:
                    raise ClusterError(f"a Ray worker was lost ({_first_line(exc)}); the items stored so far are "
                                       "kept: run the scan again with --resume") from None
                suspects.append(task)
                for other in [r for r, (j, _t) in self._running.items() if j == i]:
                    _j, other_task = self._running.pop(other)
                    self._load[i] -= 1
                    if keep_finished and ray.wait([other], timeout=0)[0]:
                        try:
                            done.append((other_task, ray.get(other)))
                            continue
                        except ray.exceptions.RayActorError:
                            pass
                    suspects.append(other_task)
                ray.kill(self.actors[i])
                self.actors[i] = self._new()
            except Exception as exc:  # noqa: BLE001 - the work itself failed: a bug, not an item
                raise ClusterError(f"a Ray worker failed ({_first_line(exc)}); the items stored so far are kept: "
                                   "run the scan again with --resume") from None
        return done, suspects

    def close(self) -> None:
        for a in self.actors:
            self._ray.kill(a)
        self.actors = self._executor._actors = []


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
        self._ready = None  # the workers that made a scan's first pass, kept for its parts

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
        self._actors, self._ready = [], None
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

        if self.count is None:
            raise ClusterError("the Ray executor was not started (call start(registry) first)")
        workers = Workers(self, self._worker_maker(work, initializer, initargs), IN_FLIGHT_PER_WORKER)
        tasks = iter(tasks)
        exhausted = False
        try:
            while True:
                while not exhausted and workers.room():
                    raise_if_stopping()
                    task = next(tasks, None)
                    if task is None:
                        exhausted = True
                        break
                    workers.send("run", task, _arg(task))
                if not workers.busy():
                    return
                done, suspects = workers.collect(lost_ok=lost is not None, keep_finished=True)
                results = [outcome for _task, outcome in done]
                for task in suspects:
                    result = self._alone(work, initializer, initargs, task)
                    results.append(result if result is not None else lost(task, WORKER_DIED))
                yield results
        finally:
            workers.close()

    def first_pass(self, parts, work: Callable[[dict], dict], *, initializer: Callable | None = None,
                   initargs: tuple = (), lost_ok: bool = True) -> None:
        """Count the rows of JSONL files, or list CSV and Arrow files, on the workers, before the scan is stored
        (:func:`consentry.cluster.parts.first_pass`): raises what opening the files locally refuses.  The
        workers are kept for :meth:`map_parts` (same ``work`` and ``initializer``); nothing to do for
        other parts."""
        from consentry.cluster.parts import PARTS_PER_WORKER, first_pass, needs_first_pass

        if self.count is None:
            raise ClusterError("the Ray executor was not started (call start(registry) first)")
        if not needs_first_pass(parts):
            return
        workers = Workers(self, self._worker_maker(work, initializer, initargs), PARTS_PER_WORKER)
        try:
            first_pass(workers, parts, alone=lambda method, *args: self._solo(work, initializer, initargs, method,
                                                                             *args), lost_ok=lost_ok)
        except BaseException:
            workers.close()
            raise
        self._ready = workers

    def map_parts(self, work: Callable[[dict], dict], parts: Iterable, *, done: set[int], dataset, make_task: Callable,
                  initializer: Callable | None = None, initargs: tuple = (),
                  lost: Callable[[dict, str], dict] | None = None) -> Iterator[list[dict]]:
        """Like :meth:`map`, but the workers read the dataset: ``parts`` are shards and ranges
        (:func:`consentry.io.sources.parts.parts_of`), ``make_task(seq, item)`` makes each item's task
        on the worker; see :mod:`consentry.cluster.parts`.

        When the dataset has fewer shards read one part after another (tar shards, a zip, crawl
        archives) than there are workers, the workers could not all be kept busy that way: uncompressed
        tar shards, a zip and crawl archives are then listed first (one worker a shard, nothing
        decoded) and their parts read side by side; compressed tar shards are read once, in order, by a
        :class:`ShardFeeder` actor, whose items (numbered as the parts would number them) go to the
        workers by reference (:meth:`map`).
        """
        from consentry.cluster.parts import listable, map_parts, sequential_streams

        if self.count is None:
            raise ClusterError("the Ray executor was not started (call start(registry) first)")
        streams = sequential_streams(dataset)
        few = streams is not None and streams < self.count.workers
        if few and not listable(dataset):
            return self._fed(work, dataset, done=done, make_task=make_task, initializer=initializer,
                             initargs=initargs, lost=lost)

        def alone(method: str, *args):
            return self._solo(work, initializer, initargs, method, *args)

        ready, self._ready = self._ready, None
        return map_parts(self, work, parts, done=done, dataset=dataset, make_task=make_task, lost=lost,
                         new_worker=self._worker_maker(work, initializer, initargs), alone=alone, list_shards=few,
                         workers=ready)

    def _fed(self, work: Callable, dataset, *, done, make_task: Callable, initializer: Callable | None,
             initargs: tuple, lost) -> Iterator[list[dict]]:
        """:meth:`map` of the items a :class:`ShardFeeder` reads (compressed shards fewer than the workers);
        its skip counts go into ``dataset.skipped`` at the end.  A feeder lost mid-read ends the scan with
        :class:`ClusterError` (``--resume`` goes on: the feeder passes over the stored items unread)."""
        from consentry.runtime.interrupts import POLL_S, raise_if_stopping

        ray = import_ray()
        feeder = ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(ShardFeeder).remote(
            dataset, done, make_task)

        def fetched(ref):
            while not ray.wait([ref], timeout=POLL_S)[0]:
                raise_if_stopping()
            try:
                return ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                raise ClusterError(f"the Ray actor reading {dataset.spec} was lost ({_first_line(exc)}); the items "
                                   "stored so far are kept: run the scan again with --resume") from None

        def tasks() -> Iterator[dict]:
            while True:
                batch = fetched(feeder.take.remote(IN_FLIGHT_PER_WORKER * self.count.workers))
                if not batch:
                    dataset.skipped = fetched(feeder.skipped.remote())
                    return
                yield from batch

        try:
            yield from self.map(work, tasks(), initializer=initializer, initargs=initargs, lost=lost)
        finally:
            ray.kill(feeder)

    def _worker_maker(self, work: Callable, initializer: Callable | None, initargs: tuple) -> Callable:
        """A function starting one worker actor (restarted by Ray up to :data:`WORKER_RESTARTS` times)."""
        ray = import_ray()
        actor = ray.remote(num_cpus=1, max_restarts=WORKER_RESTARTS, max_task_retries=WORKER_RESTARTS)(ScanWorker)
        cwd = os.getcwd()
        return lambda: actor.remote(work, initializer, initargs, cwd)

    def _alone(self, work: Callable, initializer: Callable | None, initargs: tuple, task: dict) -> dict | None:
        """``work(task)`` on a fresh worker of its own that Ray does not restart; ``None`` when it dies on it."""
        return self._solo(work, initializer, initargs, "run", _arg(task))

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
