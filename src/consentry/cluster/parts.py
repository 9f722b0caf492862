"""Workers that read the dataset themselves: a scan's shards handed out in parts (issue 20).

For tar shards, zips, crawl archives, Parquet files and JSONL rows the driver does not read the items: it
hands each worker a :class:`~consentry.io.sources.parts.Part` (a shard and a
range of positions in it), and the worker opens the shard on the storage
every node sees, reads the items of its range, scans each with the scan's
own ``work`` function and sends back the results, what it skipped, and,
for a tar shard, where the next part begins.  The driver decides and
stores the results as they come, exactly as for items it read itself.

Memory of the driver: the shard list, at most :data:`PARTS_PER_WORKER` parts
in flight per worker, and, for each tar shard being read, the sample keys
met so far (a part returns its own; a key met twice gets the id a whole
read gives it, :class:`~consentry.io.sources.parts.ShardKeys`).  The
parts of one tar shard follow one another (each starts where the one
before ended); different shards run side by side, so a dataset needs at
least as many shards as workers to keep them all busy (WebDataset sets
have thousands); with fewer, uncompressed shards, a zip and crawl archives
(WARC/WET, text shards: :mod:`consentry.io.sources.textparts`) are listed
first by a worker each (``list_shard``, nothing decoded) and their parts read
side by side, and compressed shards are read by a feeder actor, which sends
the items (``RayExecutor.map_parts``).  Parquet parts are
independent.  So are the byte ranges of JSONL files (manifests and text
datasets, :mod:`consentry.io.sources.lineparts`) and the parts of CSV and
Arrow files (:mod:`consentry.io.sources.rowparts`), read in two passes
(:func:`first_pass`): the workers first count each JSONL range's lines and
rows, or list each CSV or Arrow file (where every part's rows begin), the
driver numbers the parts, then hands them out (text rows worked in batches,
as locally).  A scan makes the first pass before it is stored
(:meth:`~consentry.cluster.executor.RayExecutor.first_pass`), so a file that
opening it locally would refuse leaves no scan behind, as locally.

A worker that dies is restarted by Ray and its parts run again.  A part
whose worker is lost for good is listed on a fresh worker without decoding
anything, then each of its items runs alone on a fresh worker of its own;
the one that kills that worker too is ``lost(task, reason)``, an item
error (as for items the driver read, :mod:`consentry.cluster.executor`).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from consentry.cluster import ClusterError
from consentry.domain.seqset import SHARD_STRIDE

#: Parts sent to a worker before its earlier ones come back.
PARTS_PER_WORKER = 2


def sequential_streams(dataset) -> int | None:
    """How many parts of ``dataset`` can run at once: its tar shards (a zip is one), its crawl archives, None for
    no bound (Parquet)."""
    from consentry.io.sources.text import TextWebDataset, WarcDataset
    from consentry.io.sources.webdataset import WebDataset
    from consentry.io.sources.ziparchive import ZipArchive

    if isinstance(dataset, (WebDataset, TextWebDataset)):
        return len(dataset.shards)
    if isinstance(dataset, WarcDataset):
        return len(dataset.files)
    if isinstance(dataset, ZipArchive):
        return 1
    return None


def run_part(work: Callable[[dict], dict], make_task: Callable, part, skip: frozenset) -> dict:
    """On a worker: read ``part`` and ``work`` each item whose position is not in ``skip`` (already stored).

    Returns ``{"results": [...], "skipped": {reason: count}, "next": Part or None, "keys": [...]}``, and
    ``"raise"``: the exception the reader raised, if it stopped (a text row that is not UTF-8, a damaged
    Parquet row group), after the results of the items before it: the driver raises it, as a local scan's
    reader does.  Text rows are worked in batches, as locally.
    """
    from consentry.io.sources.parts import read_part
    from consentry.services.scan_text import batched, batches_rows

    reading = read_part(part, wanted=lambda position: position not in skip)
    stopped: list[BaseException] = []

    def items():
        try:
            yield from reading
        except Exception as exc:  # noqa: BLE001 - the reader's own: the driver raises it (the work's are bugs)
            stopped.append(_portable(exc))

    tasks = (make_task(seq, item) for seq, item in items())
    if part.kind in ("warc", "texttar") or \
            (part.kind in ("lines", "rows", "textparquet") and batches_rows(part.options["reader"])):
        tasks = batched(tasks)  # texts in memory: batched as a local scan batches them
    results = [work(task) for task in tasks]
    outcome = {"results": results, "skipped": reading.skipped, "next": reading.next, "keys": reading.keys}
    return {**outcome, "raise": stopped[0]} if stopped else outcome


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (it goes back to the driver), else a RuntimeError with its message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any exception class that cannot be rebuilt
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def list_part(part, skip: frozenset) -> dict:
    """On a worker: the items of ``part`` not in ``skip``, as ``(seq, item_id, name)``, nothing decoded."""
    from consentry.domain.errors import InputError
    from consentry.io.sources.parts import read_part

    reading = read_part(part, wanted=lambda position: position not in skip, read_audio=False)
    try:
        listed = [(seq, item.item_id, item.name) for seq, item in reading]
    except InputError as exc:
        return {"input_error": str(exc)}
    return {"listed": listed, "skipped": reading.skipped, "next": reading.next, "keys": reading.keys}


def first_call(what: str, *args):
    """On a worker: a first-pass call, ``what(*args)``: ``"count_range"`` (a JSONL range's rows,
    :func:`~consentry.io.sources.lineparts.count_range`) or ``"list_rows"`` (a CSV or Arrow file's,
    :func:`~consentry.io.sources.rowparts.list_rows`); or ``{"input_error": message}`` when the reader
    refuses the input."""
    from consentry.domain.errors import InputError
    from consentry.io.sources import lineparts, rowparts

    fn = {"count_range": lineparts.count_range, "list_rows": rowparts.list_rows}[what]
    try:
        return fn(*args)
    except InputError as exc:
        return {"input_error": str(exc)}


def needs_first_pass(parts) -> bool:
    """Whether ``parts`` are rows of JSONL, CSV or Arrow files not yet counted or listed."""
    from consentry.io.sources.lineparts import LineParts
    from consentry.io.sources.rowparts import RowParts

    return (isinstance(parts, LineParts) and parts.counts is None) or \
        (isinstance(parts, RowParts) and parts.listings is None)


def first_pass(workers, parts, *, alone: Callable, lost_ok: bool) -> None:
    """Count the rows of each byte range of JSONL files, or list each CSV or Arrow file, on the workers
    (nothing decoded): what the parts are numbered by.  Raises what opening the files locally refuses."""
    from consentry.io.sources.lineparts import LineParts

    if isinstance(parts, LineParts):
        calls = [("first_call", "count_range", rng, parts.reader) for rng in parts.ranges]
        parts.counts = _first_pass(workers, calls, alone=alone, lost_ok=lost_ok, what=_counting)
        parts.refuse_text()  # a manifest not UTF-8 past the part its opening checked: refused as opening it does
    else:
        parts.listings = _first_pass(workers, [("first_call", *call) for call in parts.calls()], alone=alone,
                                     lost_ok=lost_ok, what=lambda call: f"listing the rows of {call[4]}")


def _counting(call) -> str:
    rng = call[2]
    return f"counting the lines of {rng.path} (bytes {rng.begin}-{rng.end if rng.end is not None else 'end'})"


def _checked(outcome):
    """``outcome``, unless it reports the reader's refusal of the input (an :class:`InputError`) or the
    exception that stopped the reader: then that, raised here."""
    if isinstance(outcome, dict) and "input_error" in outcome:
        from consentry.domain.errors import InputError

        raise InputError(outcome["input_error"])
    if isinstance(outcome, dict) and "raise" in outcome:
        raise outcome["raise"]
    return outcome


def map_parts(executor, work: Callable[[dict], dict], parts: Iterable, *, done: set[int], dataset, make_task: Callable,
              lost: Callable[[dict, str], dict] | None, new_worker: Callable, alone: Callable,
              list_shards: bool = False, workers=None) -> Iterator[list[dict]]:
    """Run the parts on ``executor``'s workers; yields lists of results as parts finish (possibly empty).

    ``done`` holds the seqs already stored (they are read past, not
    scanned); what workers skip is counted into ``dataset.skipped``.
    ``list_shards``: the tar shards (or the zip) are listed first and their
    parts read side by side (a few large shards; :func:`listable`).
    ``new_worker()`` starts a worker actor, ``alone(fn, *args)`` runs one call
    on a fresh worker of its own (None when that worker dies).  Of a worker
    lost for good, every part it held is read again alone, finished or not
    (:class:`~consentry.cluster.executor.Workers`, ``keep_finished=False``;
    ``workers``: those that made the first pass, if one was made before).

    A reader that stops (a text row that is not UTF-8, a damaged Parquet row
    group; a CSV file its listing found it stops in) stops the scan with its
    own exception, raised here once the parts already handed out are in and
    stored (no later part is handed out), as a local scan stops on it.
    """
    from consentry.cluster.executor import Workers
    from consentry.io.sources.parts import ShardKeys
    from consentry.runtime.interrupts import raise_if_stopping

    dataset.skipped = {}
    shard_keys = ShardKeys()  # a tar sample key met in an earlier part of its shard: the id a whole read gives
    workers = workers or Workers(executor, new_worker, PARTS_PER_WORKER)
    follow: list = []   # next parts of shards being read: before new shards, so few shards are open at once
    exhausted = False
    stopped: list[BaseException] = []  # what stopped a reader: raised once the parts in flight are in

    def skip_of(part) -> frozenset:
        """The positions of ``part`` already stored (a compressed shard's part spans the whole shard: the stored
        seqs in its range are looked up, not its billion positions)."""
        if not done:
            return frozenset()
        low, high = part.seq(part.lo), part.seq(min(part.hi, part.lo + SHARD_STRIDE - 1))
        stored = done.between(low, high) if hasattr(done, "between") else (s for s in done if low <= s <= high)
        return frozenset(s - part.seq(0) for s in stored)

    def count_skipped(skipped: dict) -> None:
        for reason, n in skipped.items():
            dataset.skipped[reason] = dataset.skipped.get(reason, 0) + n

    try:
        if needs_first_pass(parts):  # JSONL, CSV, Arrow rows: counted or listed first (scan_dataset does it earlier)
            first_pass(workers, parts, alone=alone, lost_ok=lost is not None)
        elif list_shards:  # a few large tar shards: listed, then their parts read side by side
            parts = _listed(workers, list(parts), alone=alone, lost_ok=lost is not None)
        fresh = iter(parts)
        while True:
            while workers.room() and not stopped:
                raise_if_stopping()
                part = follow.pop(0) if follow else None
                if part is None and not exhausted:
                    part = next(fresh, None)
                    exhausted = part is None
                if part is None:
                    break
                if part.kind in ("parquet", "lines", "rows", "textparquet") and done and \
                        all(p in done for p in range(part.lo, part.hi)):
                    continue  # every row stored; an independent part has nothing else to say
                workers.send("run_part", part, make_task, part, skip_of(part))
            if not workers.busy():
                if stopped:
                    raise stopped[0]
                refusal = getattr(parts, "refusal", None)
                if refusal is not None:  # a CSV or Arrow file the reader stops in: its own, after the rows before
                    raise refusal
                return
            finished, suspects = workers.collect(lost_ok=lost is not None, keep_finished=False)
            results: list[dict] = []
            for part, outcome in finished:
                results += _settled(outcome, part, shard_keys)
                count_skipped(outcome["skipped"])
                if "raise" in outcome:
                    stopped.append(outcome["raise"])
                elif outcome["next"] is not None:
                    follow.append(outcome["next"])
            for part in suspects:
                results += _part_alone(part, skip_of(part), work=work, make_task=make_task, lost=lost, alone=alone,
                                       count_skipped=count_skipped, follow=follow, shard_keys=shard_keys)
            yield results
    finally:
        workers.close()


def _settled(outcome: dict, part, shard_keys) -> list[dict]:
    """A part's results, each tar sample whose key an earlier part of its shard met renamed as a whole read names it."""
    if part.kind != "tar":
        return outcome["results"]
    if part.options.get("listed"):  # the listing named them
        renamed = part.options["renamed"]
    else:
        renamed = shard_keys.settle(part, outcome.get("keys") or [], last=outcome["next"] is None)
    for r in outcome["results"]:
        if r["seq"] in renamed:
            r["item_id"] = renamed[r["seq"]]
    return outcome["results"]


def _part_alone(part, skip: frozenset, *, work, make_task, lost, alone, count_skipped, follow,
                shard_keys) -> list[dict]:
    """A part whose worker was lost for good: the whole part on a fresh worker, else item by item."""
    outcome = _checked(alone("run_part", make_task, part, skip))
    if outcome is None:
        listing = _checked(alone("list_part", part, skip))
        if listing is None:
            raise ClusterError(f"Ray workers die while listing {part.path} (positions {part.lo}-{part.hi - 1}), "
                               "without decoding anything; the items stored so far are kept")
        results = []
        listed = frozenset(seq - part.seq(0) for seq, _id, _name in listing["listed"])  # the part's items not stored
        for seq, item_id, name in listing["listed"]:
            position = seq - part.seq(0)
            one = _checked(alone("run_part", make_task, part, (listed - {position}) | skip))
            if one is not None:
                results += one["results"]
            else:
                results.append(lost({"seq": seq, "item_id": item_id, "name": name}, _worker_died()))
        outcome = {"results": results, "skipped": listing["skipped"], "next": listing["next"], "keys": listing["keys"]}
    count_skipped(outcome["skipped"])
    if outcome["next"] is not None:
        follow.append(outcome["next"])
    return _settled(outcome, part, shard_keys)


def _first_pass(workers, calls: list[tuple], *, alone: Callable, lost_ok: bool, what: Callable) -> list:
    """The outcomes of ``calls`` (``(method, *args)`` of a worker), in order: a first pass over the dataset
    (counting the rows of JSONL ranges, listing tar shards), which decodes nothing."""
    from consentry.runtime.interrupts import raise_if_stopping

    out: list = [None] * len(calls)
    todo = iter(enumerate(calls))
    exhausted = False
    while True:
        while not exhausted and workers.room():
            raise_if_stopping()
            job = next(todo, None)
            if job is None:
                exhausted = True
                break
            workers.send(job[1][0], job[0], *job[1][1:])
        if not workers.busy():
            return out
        finished, suspects = workers.collect(lost_ok=lost_ok, keep_finished=True)
        for i, outcome in finished:
            out[i] = _checked(outcome)
        for i in suspects:  # nothing is decoded: a worker that dies on it alone too is not an item's fault
            outcome = alone(*calls[i])
            if outcome is None:
                raise ClusterError(f"Ray workers die while {what(calls[i])}; the items stored so far are kept")
            out[i] = _checked(outcome)


def _listed(workers, firsts: list, *, alone: Callable, lost_ok: bool) -> list:
    """The first pass over a few large tar shards or a zip: each listed by a worker and cut into parts read side
    by side."""
    listings = _first_pass(workers, [("list_shard", first) for first in firsts], alone=alone, lost_ok=lost_ok,
                           what=lambda call: f"listing {call[1].path}")
    return [part for listing in listings for part in listing]


def listable(dataset) -> bool:
    """Whether ``dataset`` can be listed and then read side by side: a zip, crawl archives (WARC/WET), or
    uncompressed tar shards, audio or text (a compressed shard has no offsets to begin a part at; looked at by
    its first bytes)."""
    from consentry.io.sources.text import TextWebDataset, WarcDataset
    from consentry.io.sources.webdataset import WebDataset
    from consentry.io.sources.ziparchive import ZipArchive

    if isinstance(dataset, (ZipArchive, WarcDataset)):
        return True
    if not isinstance(dataset, (WebDataset, TextWebDataset)):
        return False
    from consentry.io.sources.parts import compressed_shard

    return not any(compressed_shard(shard) for shard in dataset.shards)


def _worker_died() -> str:
    from consentry.cluster.executor import WORKER_DIED

    return WORKER_DIED


__all__ = ["PARTS_PER_WORKER", "sequential_streams", "listable", "run_part", "list_part", "first_call", "first_pass",
           "needs_first_pass", "map_parts"]
