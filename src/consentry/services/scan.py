"""Use case: audit a training dataset against the registry (``consentry scan``).

Every item of the dataset (a folder, a manifest, WebDataset shards, a zip) is
read, decoded and searched for registered works segment by segment, exactly
as :meth:`Registry.identify` does; the terms in force when the scan started
(a snapshot stored with the scan) decide the item: ``refused``,
``licensable``, ``allowed`` or ``unknown``, or ``error`` with the reason.
Results are stored in the registry as items finish, so an interrupted scan
resumes where it stopped (``resume=True``) and a report can be regenerated or
compared later.  Shapes: docs/scan-format.md.

>>> from consentry import Registry
>>> from consentry.services.scan import scan_dataset
>>> reg = Registry.open("consentry.db")                                   # doctest: +SKIP
>>> scan = scan_dataset(reg, "train.parquet", workers=2)                  # doctest: +SKIP
>>> scan["totals"]["refused"]                                             # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from consentry import __version__
from consentry.domain.errors import ConsentryError, DecodeError, InputError
from consentry.engines.music.params import ENGINE_NAME, ENGINE_VERSION, MusicEngineParams
from consentry.runtime.interrupts import Interrupted, deferred_interrupts, polled, raise_if_stopping
from consentry.runtime.pools import WorkerCount, worker_count
from consentry.domain.audit import covered_seconds, decide_item
from consentry.store.sqlite import utc_now
from consentry.store.sqlite_audit import FINDING_COLUMNS, ScanTerms
from consentry.runtime.threads import limit_worker_threads
from consentry.services.results import ScanSummary
from consentry.services.scan_summary import summarize_scan
from consentry.services.scan_pool import run_in_pool

#: Items longer than this are searched in windows of ``WINDOW_S`` (memory stays bounded).
WINDOW_S = 600.0
WINDOW_OVERLAP_S = 20.0
#: Longest item scanned (seconds of audio); longer items are an item error.
MAX_ITEM_DURATION_S = 6 * 3600.0
#: Largest item read (bytes).
MAX_ITEM_BYTES = 2 << 30

ProgressCallback = Callable[[int, str], None]


def new_scan_id() -> str:
    return f"s-{datetime.now(timezone.utc).strftime('%Y%m%d')}-{secrets.token_hex(4)}"


# -- per item (runs in worker processes) ----------------------------------------
_WORKER: dict = {}


def _init_worker(registry_path: str, params: MusicEngineParams, index=None) -> None:
    from consentry.services.registry import Registry

    limit_worker_threads()  # (SIGINT is ignored by every pool worker: consentry.runtime.pools)
    registry = Registry.open(registry_path, create=False, params=params)
    # On a cluster, a sharded index (consentry.cluster.index.ShardedIndex) may serve the lookups.
    _WORKER["registry"] = index.attach(registry) if index is not None else registry


def _error(task: dict, reason: str, **extra) -> dict:
    if "batch" in task:  # a batch of text rows whose worker died twice (services/scan_text.py)
        return {"batch": [_error(t, reason, **extra) for t in task["batch"]]}
    return {"seq": task["seq"], "item_id": task["item_id"], "name": task["name"], "decision": "error",
            "error": reason, "findings": [], **extra}


def identify_item(registry, task: dict) -> dict:
    """Read, decode and identify one dataset item; never raises for a bad item.

    ``task`` holds ``seq``, ``item_id``, ``name``, and ``path`` or ``data``
    (or ``error``), plus ``min_score``.  Returns an item dict whose findings
    carry ``work_id`` and the match geometry (no terms: the caller decides).
    """
    from consentry.io.decode import decode_audio
    from consentry.io.sources import is_audio_media, sniff_media

    if task.get("error"):
        return _error(task, task["error"])
    try:
        data = task.get("data")
        if data is None:
            path = Path(task["path"])
            size = path.stat().st_size
            if size > MAX_ITEM_BYTES:
                return _error(task, f"larger than {MAX_ITEM_BYTES >> 20} MiB; not scanned", bytes=size)
            data = path.read_bytes()
    except OSError as exc:
        return _error(task, f"cannot read: {exc.strerror or exc}")
    sha = hashlib.sha256(data).hexdigest()
    facts = {"sha256": sha, "bytes": len(data)}
    if not data:
        return _error(task, "empty", **facts)
    if task.get("embedded_signals", True):
        try:
            found = signals_of_file(data if task.get("path") is None else None, task.get("path"), task["name"])
        except Exception as exc:  # noqa: BLE001 - a reader bug must not lose the item
            found = {"embedded": [], "problems": [{"format": "file", "source": task["name"], "message": f"signals not read: {exc}"}],
                     "verdicts": {}}
        if found:
            facts["signals"] = found
    other = _other_engine(data, task["name"])
    if other is not None:
        return _identify_other(registry, other, task, data, facts)
    media = sniff_media(data[:64])
    if not is_audio_media(media) and media != "application/octet-stream":
        return _error(task, f"not audio ({media})", **facts)
    params = registry.params
    try:
        audio = decode_audio(data, sample_rate_hz=params.sample_rate_hz, max_duration_s=MAX_ITEM_DURATION_S + 1,
                             name=task["name"])
    except DecodeError as exc:
        reason = exc.reason if is_audio_media(media) else f"not audio or unreadable ({exc.reason})"
        return _error(task, reason, **facts)
    except MemoryError:
        return _error(task, "too large to decode in memory", **facts)
    del data
    duration = audio.duration_s
    if duration > MAX_ITEM_DURATION_S:
        return _error(task, f"longer than {MAX_ITEM_DURATION_S / 3600:g} hours; split it to scan it", duration_s=duration, **facts)
    findings = []
    samples = audio.samples
    sr = params.sample_rate_hz
    step = int((WINDOW_S - WINDOW_OVERLAP_S) * sr)
    starts = [0] if samples.size <= WINDOW_S * sr else range(0, samples.size, step)
    for start in starts:
        window = samples[start:start + int(WINDOW_S * sr)]
        if window.size < sr // 2:
            continue
        offset = start / sr
        try:
            matches = registry.identify_samples(np.ascontiguousarray(window), min_score=task.get("min_score"),
                                                searched_s=duration)
        except ConsentryError as exc:
            return _error(task, str(exc), duration_s=duration, **facts)
        for m in matches:
            findings.append({
                "work_id": m.work_id, "score": m.score, "confidence": m.confidence,
                "query_start_s": round(m.query_start_s + offset, 3), "query_end_s": round(m.query_end_s + offset, 3),
                "work_start_s": m.work_start_s, "work_end_s": m.work_end_s,
                "speed": m.speed, "pitch_shift_semitones": m.pitch_shift_semitones,
            })
    return {"seq": task["seq"], "item_id": task["item_id"], "name": task["name"], "duration_s": round(duration, 3),
            "error": None, "findings": findings, **facts}


def _other_engine(data: bytes, name: str):
    """The engine of an item that is not music (text, images, ...), or None: the music path then reads it."""
    from consentry.services.media import HEAD_BYTES, engine_for_head

    engine = engine_for_head(data[:HEAD_BYTES], name=name)
    return None if engine is None or engine.medium == "music" else engine


def _identify_other(registry, engine, task: dict, data: bytes, facts: dict) -> dict:
    """:func:`identify_item` for a medium other than music, through its engine (:mod:`consentry.services.media`).

    Each finding keeps the columns of a music finding, holding the extent
    along the first axis in the item's unit (characters, pixels) and speed 1,
    pitch 0, plus ``medium`` and ``detail`` (the engine's own fields; schema 7).
    """
    from consentry.services.media import identify_signal

    try:
        signal = engine.decode(data, name=task["name"])
        matches = identify_signal(registry, engine, signal, min_score=task.get("min_score"))
    except DecodeError as exc:
        return _error(task, exc.reason, **facts)
    except ConsentryError as exc:
        return _error(task, str(exc), **facts)
    except MemoryError:
        return _error(task, "too large to read in memory", **facts)
    return _other_result(task, engine, signal, matches, facts)


def _other_result(task: dict, engine, signal, matches, facts: dict) -> dict:
    """The item result of :func:`_identify_other` from its engine's matches."""
    findings = []
    for m in matches:
        q, w = _first_axis(m.detail, "query"), _first_axis(m.detail, "work")
        findings.append({
            "work_id": m.work_id, "score": m.score, "confidence": m.confidence,
            "query_start_s": q[0], "query_end_s": q[1], "work_start_s": w[0], "work_end_s": w[1],
            "speed": 1.0, "pitch_shift_semitones": 0.0, "medium": engine.medium,
            "detail": _with_thumbnail(m.detail, signal) if engine.medium == "image" else m.detail,
        })
    return {"seq": task["seq"], "item_id": task["item_id"], "name": task["name"], "duration_s": 0.0,
            "medium": engine.medium, "size": signal.size, "unit": signal.unit,
            "error": None, "findings": findings, **facts}


def _with_thumbnail(detail: dict, signal) -> dict:
    """An image finding's detail with ``item_thumbnail``: the item, its matched region outlined (the reports show it)."""
    from consentry.reporting.thumbnails import outlined_thumbnail

    try:
        thumb = outlined_thumbnail(signal.data, extent=signal.extent, boxes=[detail.get("query_box")])
    except (ValueError, OSError):  # a picture the report cannot show is not a reason to lose the finding
        return detail
    return {**detail, "item_thumbnail": thumb}


def _first_axis(detail: dict, side: str) -> tuple[float, float]:
    from consentry.services.media import first_axis

    return first_axis(detail, side)


def signals_of_file(data: bytes | None, path: str | None, name: str) -> dict | None:
    """AI-use signals embedded in an item (C2PA, XMP, tags), or None when it carries none.

    Returns ``{"embedded": [signal dicts], "problems": [...], "verdicts": {use: decision}}``, plus
    ``"ai_generated": [label dicts]`` when the item declares itself made by generative AI (C2PA
    actions or IPTC XMP ``DigitalSourceType``, see :class:`consentry.domain.signals.AiGeneratedLabel`).
    """
    import tempfile

    try:
        from consentry.services.embed import read_embedded_signals
    except ImportError:  # embedding support not installed
        return None
    from consentry.domain.signals import combine

    temporary = None
    if path is not None:
        reading = read_embedded_signals(path)
    else:
        with tempfile.NamedTemporaryFile(suffix=Path(name).suffix[:12] or ".bin") as tmp:
            tmp.write(data)
            tmp.flush()
            temporary = tmp.name
            reading = read_embedded_signals(tmp.name)
    signals, problems = reading
    ai_generated = [label.as_dict() for label in getattr(reading, "ai_generated", [])]
    if path is None:
        for label in ai_generated:
            label["location"] = name
    if not signals and not problems and not ai_generated:
        return None
    verdicts = combine(signals)
    out = {"embedded": [s.as_dict() for s in signals], "problems": [p.as_dict() for p in problems],
           "verdicts": {u: v.decision for u, v in verdicts.items() if v.decision != "unspecified"}}
    if temporary is not None:  # the item was read from a temporary copy: name the item, not the copy
        for key in ("embedded", "problems"):
            out[key] = _renamed(_renamed(out[key], temporary, name), os.path.basename(temporary), name)
    if ai_generated:
        out["ai_generated"] = ai_generated
    return out


def _renamed(value, old: str, new: str):
    """``value`` (JSON-like) with ``old`` replaced by ``new`` in every string it holds."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, old, new) for k, v in value.items()}
    return value


def signals_of_url(url: str, cache: dict) -> dict | None:
    """AI-use signals published for an item's URL (robots.txt, TDMRep, headers, ...; cached per site)."""
    from consentry.services.verify import FetchPolicy, verify_target

    report = verify_target(url, policy=FetchPolicy(cache=cache))
    if not report.signals and not report.problems:
        return None
    return {"web": [s.as_dict() for s in report.signals], "web_problems": [p.as_dict() for p in report.problems],
            "web_verdicts": {u: v.decision for u, v in report.verdicts.items() if v.decision != "unspecified"}}


def _identify_in_worker(task: dict) -> dict:
    return _identify_task(_WORKER["registry"], task)


def _identify_task(registry, task: dict) -> dict:
    """One task: an item (:func:`identify_item`) or a batch of text rows (:mod:`.scan_text`)."""
    if "batch" in task:
        from consentry.services.scan_text import identify_batch

        return identify_batch(registry, task)
    return identify_item(registry, task)


def decide_result(result: dict, snapshot: ScanTerms) -> dict:
    """Give an identified item its decision under the terms ``snapshot`` (work_id -> terms)."""
    if result.get("decision") == "error":
        result.setdefault("covered_s", 0.0)
        return result
    if not result["findings"]:  # most items of a text dataset
        result["decision"], result["covered_s"] = "unknown", 0.0
        return result
    snapshot.prefetch(f["work_id"] for f in result["findings"])  # one read for the works of this item
    findings = [f for f in result["findings"] if f["work_id"] in snapshot]
    result["findings"] = findings
    result["decision"] = decide_item(snapshot[f["work_id"]]["decision"] for f in findings)
    result["covered_s"] = round(covered_seconds((f["query_start_s"], f["query_end_s"]) for f in findings), 3)
    return result


# -- the scan -------------------------------------------------------------------
def terms_snapshot(registry) -> dict:
    """The terms of every live work, as in force now: work_id -> dict.

    ``decision``, ``price``, ``currency`` and ``unit`` are the AI-training
    terms (what a scan decides by); ``uses`` holds the effective terms of
    every use.
    """
    from consentry import engines

    out = {}
    export, works = registry._terms_export()
    dates = {w.work_id: w for w in works}
    media: dict[str, str] = {}  # engine name -> medium, asked once per engine (not once per work)
    for w in export["works"]:
        training = w["terms"]["uses"]["ai_training"]
        work = dates[w["work_id"]]
        out[w["work_id"]] = {
            "title": w["title"], "creator": w["creator"], "decision": training["decision"],
            "price": training.get("price"), "currency": training.get("currency"), "unit": training.get("unit"),
            "terms_version": w["terms_version"], "uses": w["terms"]["uses"],
            "copyright_registered_on": work.copyright_registered_on, "first_published_on": work.first_published_on,
        }
        medium = media.get(work.engine) or media.setdefault(work.engine, engines.medium_of_engine(work.engine))
        if medium != "music":  # a text work (issue 18): its findings are in characters, not seconds
            out[w["work_id"]]["medium"] = medium
        if "dispute" in w:  # under an ownership claim: the strictest of the parties' terms (docs/claims.md)
            out[w["work_id"]]["disputed"] = True
            out[w["work_id"]]["claims"] = w["dispute"]["claims"]
    return out


def _tasks(ds, done: set[int], min_score, embedded_signals: bool, numbering: str = "sequential") -> Iterator[dict]:
    from consentry.services.scan_text import batched, batches_rows

    tasks = _item_tasks(ds, done, min_score, embedded_signals, numbering)
    return batched(tasks) if batches_rows(ds) else tasks


def _item_tasks(ds, done: set[int], min_score, embedded_signals: bool, numbering: str) -> Iterator[dict]:
    from consentry.io.sources.parts import numbered_items  # seq: per shard for tar shards and Parquet (issue 20)

    for seq, item in numbered_items(ds, numbering, wanted=lambda seq: seq not in done):
        if seq not in done:
            yield task_of(seq, item, min_score=min_score, embedded_signals=embedded_signals)


def task_of(seq: int, item, *, min_score, embedded_signals: bool) -> dict:
    """The task :func:`identify_item` takes for one dataset item (made by a cluster's workers too)."""
    task = {"seq": seq, "item_id": item.item_id, "name": item.name, "min_score": min_score,
            "embedded_signals": embedded_signals}
    if item.error:
        task["error"] = item.error
    elif item.data is not None:
        task["data"] = item.data
    elif item.path is not None:
        task["path"] = str(item.path)
    else:
        task["error"] = "nothing to read"
    return task


def scan_dataset(
    registry,
    source: str | os.PathLike,
    *,
    workers: int | None = None,
    resume: bool = False,
    min_score: float | None = None,
    fetch_urls: bool = False,
    path_column: str | None = None,
    text_column: str | None = None,
    fetch=None,
    limits=None,
    progress: ProgressCallback | None = None,
    on_scan_id: Callable[[str, bool], None] | None = None,
    embedded_signals: bool = True,
    check_web_signals: bool = False,
    on_workers: Callable[[WorkerCount], None] | None = None,
    executor=None,
) -> ScanSummary:
    """Scan a dataset against ``registry`` and store the results; returns the scan summary.

    Parameters
    ----------
    registry : consentry.services.registry.Registry
    source : str or path
        A folder, an audio file, a CSV/JSONL/Parquet manifest (of paths, or
        of texts), WebDataset tar shards (globs and ``{000..127}`` brace
        patterns), a zip archive, a WARC/WET crawl archive.
    workers : int, optional
        Processes that decode and identify (default: all cores; never more
        than the cores, as the number of items is not known ahead).  With 1,
        everything runs in this process.
    resume : bool
        Continue the newest unfinished scan of the same source (same engine)
        instead of starting a new one; finished items are not redone.
    min_score : float, optional
        Engine threshold (default: the engine's calibrated one).
    fetch_urls : bool
        Download http(s) items of a manifest (off by default).
    text_column : str, optional
        Read ``source`` as a text dataset whose texts are in this column
        (:func:`consentry.io.sources.open_dataset`); text datasets (a text
        column, WARC/WET, Hugging Face folders) are recognised without it.
    progress : callable(done_items, item_id), optional
    on_scan_id : callable(scan_id, resumed), optional
        Called once the scan is stored (before the first item).
    embedded_signals : bool, default True
        Read the AI-use signals embedded in each item (C2PA, XMP, tags).
    check_web_signals : bool, default False
        For items with an http(s) URL, read the signals published for it
        (robots.txt, TDMRep, headers, ...), fetched once per site.
    on_workers : callable(WorkerCount), optional
        Called once the number of processes is known (``.lowered``: fewer
        than ``workers`` asked for).
    executor : optional
        Where the items are read and identified instead of local processes
        (this process still decides and stores every item): an object with
        ``start(registry) -> WorkerCount``, ``map(work, tasks, initializer=,
        initargs=, lost=)`` yielding lists of finished results (possibly
        empty, at least every ``POLL_S``; ``lost(task, reason)`` is the result
        of an item that kills its worker), ``index`` (None, or a sharded index for the
        workers) and ``describe() -> dict`` (the summary's ``executor``), such
        as :class:`consentry.cluster.executor.RayExecutor` (docs/cluster.md).

    Returns
    -------
    dict
        The scan summary (docs/scan-format.md).

    Raises
    ------
    consentry.runtime.interrupts.Interrupted
        On Ctrl-C or SIGTERM once the scan is stored, with ``kept =
        {"scan_id": ..., "items": ...}`` (items stored, each whole); the scan
        is marked ``interrupted`` and ``resume=True`` goes on from there.
    """
    from consentry.io.sources import ArchiveLimits, FetchOptions, open_dataset
    from consentry.io.sources.parts import SEQUENTIAL, numbering_of, parts_of

    ds = open_dataset(source, fetch_urls=fetch_urls, fetch=fetch or FetchOptions(), limits=limits or ArchiveLimits(),
                      path_column=path_column, text_column=text_column,
                      check_text=not hasattr(executor, "map_parts"))  # on a cluster, the workers check a manifest's text
    # Items are streamed: their number is not known here.  A cluster is joined before the scan is stored.
    count = executor.start(registry) if executor is not None else worker_count(workers)
    parts = parts_of(ds) if hasattr(executor, "map_parts") else None
    if parts is not None:  # rows of JSONL/CSV/Arrow files counted or listed by the workers: refused as opening does
        executor.first_pass(parts, _identify_in_worker, initializer=_init_worker,
                            initargs=(registry.spec, registry.params, executor.index))
    store = registry.store
    scan = None
    if resume:
        scan = store.find_resumable_scan(source_spec=ds.spec, engine=ENGINE_NAME, engine_version=ENGINE_VERSION,
                                         param_hash=registry.param_hash)
    if scan is None:
        from consentry.services.media import unsearched_by_medium

        now = utc_now()
        with store.snapshot():
            snapshot = terms_snapshot(registry)
            unsearched = unsearched_by_medium(registry)  # works an older engine version indexed: not found
        scan = {
            "scan_id": new_scan_id(), "created_at": now, "finished_at": None, "status": "running",
            "source_spec": ds.spec, "source_kind": ds.kind, "source_name": ds.name, "dataset_fingerprint": None,
            "engine": ENGINE_NAME, "engine_version": ENGINE_VERSION, "param_hash": registry.param_hash,
            "options": {"min_score": min_score, "fetch_urls": fetch_urls, "path_column": path_column,
                        **({"text_column": text_column} if text_column is not None else {}),
                        "embedded_signals": embedded_signals, "check_web_signals": check_web_signals,
                        "tool_version": __version__, "registry_works": len(snapshot),
                        **({"numbering": numbering_of(ds)} if numbering_of(ds) != SEQUENTIAL else {}),
                        **({"unsearched_works": unsearched} if unsearched else {})},
            "terms_snapshot": snapshot, "terms_snapshot_at": now, "summary": None,
        }
        store.create_scan(scan)
        del snapshot  # the stored terms set is read per work found from here on (schema 8)
        scan = store.get_scan(scan["scan_id"])
        done: set[int] = set()
        resumed = False
    else:
        store.update_scan(scan["scan_id"], status="running")
        done = store.done_seqs(scan["scan_id"])
        min_score = scan["options"].get("min_score")
        embedded_signals = scan["options"].get("embedded_signals", embedded_signals)
        check_web_signals = scan["options"].get("check_web_signals", check_web_signals)
        resumed = True
    scan_id, snapshot = scan["scan_id"], scan["terms_snapshot"]
    numbering = scan["options"].get("numbering", SEQUENTIAL)  # scans begun before issue 20's parts: one sequence
    if on_scan_id:
        on_scan_id(scan_id, resumed)

    n_done = len(done)
    if progress:
        progress(n_done, "")

    web_cache: dict = {}

    def store_results(results: list[dict]) -> None:
        nonlocal n_done
        raise_if_stopping()
        results = [r for res in results for r in (res["batch"] if "batch" in res else (res,))]
        if not results:
            return
        if check_web_signals:
            for r in results:
                if r["name"].startswith(("http://", "https://")):
                    try:
                        web = signals_of_url(r["name"], web_cache)
                    except Exception as exc:  # noqa: BLE001 - a reader bug must not lose the item
                        web = {"web": [], "web_problems": [{"format": "web", "source": r["name"], "message": str(exc)}],
                               "web_verdicts": {}}
                    if web:
                        r["signals"] = {**(r.get("signals") or {}), **web}
        with deferred_interrupts():
            store.add_scan_items(scan_id, [decide_result(r, snapshot) for r in results])
        n_done += len(results)
        if progress:
            progress(n_done, results[-1]["item_id"])

    if on_workers:
        on_workers(count)
    n_workers = count.workers
    try:
        tasks = _tasks(ds, done, min_score, embedded_signals, numbering)
        parts = parts if parts is not None and numbering == numbering_of(ds) else None  # a scan begun before parts
        if parts is not None:  # the workers read the shards themselves (docs/cluster.md)
            with polled():
                for results in executor.map_parts(_identify_in_worker, parts, done=done, dataset=ds, make_task=partial(
                        task_of, min_score=min_score, embedded_signals=embedded_signals), initializer=_init_worker,
                        initargs=(registry.spec, registry.params, executor.index), lost=_error):
                    store_results(results)
        elif executor is not None:
            with polled():
                for results in executor.map(_identify_in_worker, tasks, initializer=_init_worker,
                                            initargs=(registry.spec, registry.params, executor.index), lost=_error):
                    store_results(results)
        elif n_workers == 1:
            for task in tasks:
                store_results([_identify_task(registry, task)])
        else:
            # Ctrl-C is acted on between waits; an item that kills its worker becomes an item error.
            run_in_pool(_identify_in_worker, tasks, workers=n_workers, initializer=_init_worker,
                        initargs=(registry.spec, registry.params), store=store_results, lost=_error)
    except KeyboardInterrupt as exc:
        with deferred_interrupts():
            store.update_scan(scan_id, status="interrupted")
        raise Interrupted.after(exc, scan_id=scan_id, items=n_done) from None
    except BaseException:
        store.update_scan(scan_id, status="interrupted")
        raise

    fingerprint = hashlib.sha256()
    for item_id, sha in store.iter_item_hashes(scan_id):
        fingerprint.update(f"{item_id}\t{sha or '-'}\n".encode("utf-8", "surrogatepass"))
    store.update_scan(scan_id, status="complete", finished_at=utc_now(), dataset_fingerprint=fingerprint.hexdigest())
    summary = summarize_scan(registry, scan_id)
    summary["skipped"] = dict(getattr(ds, "skipped", None) or {})  # not media, by reason (docs/sources.md)
    summary["executor"] = executor.describe() if executor is not None else {"kind": "local", "workers": n_workers}
    store.update_scan(scan_id, summary=summary)
    return summary


# -- reading stored scans -------------------------------------------------------------
def scans_of(registry, principal=None) -> list[dict]:
    """Stored scans, newest first: every scan (``principal`` None or an admin), or those the account started."""
    scans = registry.store.list_scans()
    if principal is not None and not principal.is_admin:
        mine = registry.store.owned_ids("scan", account_id=principal.account_id)
        scans = [s for s in scans if s["scan_id"] in mine]
    return scans


def get_scan(registry, scan_id: str) -> dict:
    """The stored scan of an id or unambiguous prefix (``ScanNotFoundError`` otherwise)."""
    return registry.store.get_scan(scan_id)


def scan_owner(registry, scan_id: str) -> str | None:
    """The account that started a scan (None: made on the command line)."""
    return registry.store.owner_of("scan", scan_id)


def findings_by_work(registry, scan_id: str) -> Iterator[tuple[str, int, float, float]]:
    """A scan's findings as ``(work_id, item seq, query start s, query end s)``."""
    return registry.store.scan_findings_by_work(scan_id)


def scan_summary(registry, scan_id: str) -> ScanSummary:
    """The stored summary of a finished scan, or one computed now for an unfinished one."""
    scan = registry.store.get_scan(scan_id)
    if scan["status"] == "complete" and scan["summary"] is not None:
        return scan["summary"]
    return summarize_scan(registry, scan["scan_id"])


def scan_items(registry, scan_id: str, *, decisions=None) -> Iterator[dict]:
    """Items of a stored scan in dataset order, with findings described by the terms snapshot (streamed)."""
    scan = registry.store.get_scan(scan_id)
    snapshot = scan["terms_snapshot"]
    for item in registry.store.iter_scan_items(scan["scan_id"], decisions=decisions):
        duration = item["duration_s"] if item.get("medium") is None else item.get("size")  # in the item's unit
        item["coverage"] = round(min(1.0, item["covered_s"] / duration), 4) if duration else 0.0
        for f in item["findings"]:
            t = snapshot.get(f["work_id"], {})
            for key in ("title", "creator", "decision", "terms_version", "price", "currency"):
                f[key] = t.get(key)
            f["disputed"] = bool(t.get("disputed"))
        item["findings"] = [{k: f[k] for k in ("work_id", "title", "creator", "decision", "terms_version", "price",
                                                "currency", *FINDING_COLUMNS[1:], "disputed", "medium", "detail")
                             if k in f} for f in item["findings"]]
        if any(f["disputed"] for f in item["findings"]):
            item["disputed"] = True
        yield item


def compare_scans(registry, old: str, new: str) -> dict:
    """What changed between two scans: item decisions, works found, dataset fingerprint."""
    a, b = scan_summary(registry, old), scan_summary(registry, new)
    diff = registry.store.compare_scan_items(a["scan_id"], b["scan_id"])
    works_a = {w["work_id"]: w for w in a["works"]}
    works_b = {w["work_id"]: w for w in b["works"]}
    return {
        "old": a["scan_id"], "new": b["scan_id"],
        "same_dataset": a["dataset_fingerprint"] is not None and a["dataset_fingerprint"] == b["dataset_fingerprint"],
        "totals": {"old": a["totals"], "new": b["totals"]},
        **diff,
        "works_gone": [works_a[k] for k in works_a if k not in works_b],
        "works_new": [works_b[k] for k in works_b if k not in works_a],
        "terms_changed": [
            {"work_id": k, "title": works_b[k]["title"], "old": works_a[k]["decision"], "new": works_b[k]["decision"],
             "old_version": works_a[k]["terms_version"], "new_version": works_b[k]["terms_version"]}
            for k in works_a if k in works_b and works_a[k]["terms_version"] != works_b[k]["terms_version"]
        ],
    }


def dropped_decisions(*, accept_licensed: bool, keep_unreadable: bool) -> tuple[str, ...]:
    """Item decisions that a clean manifest leaves out."""
    out = ["refused"]
    if not accept_licensed:
        out.append("licensable")
    if not keep_unreadable:
        out.append("error")
    return tuple(out)


def write_clean_manifest(registry, scan_id: str, out: str | os.PathLike, *, accept_licensed: bool = False,
                         keep_unreadable: bool = False, fetch_urls: bool = False, path_column: str | None = None) -> dict:
    """Write the scanned dataset without refused items (and licensable ones unless accepted).

    Items that could not be read are left out too unless ``keep_unreadable``:
    what was not checked is not known to be clean.  Returns counts and the
    format written.
    """
    from consentry.io.sources import open_dataset

    scan = registry.store.get_scan(scan_id)
    if scan["status"] != "complete":
        raise InputError(f"scan {scan['scan_id']} is {scan['status']}; finish it (`consentry scan … --resume`) before writing a clean manifest")
    ds = open_dataset(scan["source_spec"], fetch_urls=fetch_urls, path_column=path_column or scan["options"].get("path_column"),
                      text_column=scan["options"].get("text_column"))
    dropped_ids = registry.store.scan_item_ids(scan["scan_id"], decisions=dropped_decisions(
        accept_licensed=accept_licensed, keep_unreadable=keep_unreadable))
    counts = {"kept": 0, "dropped": 0}

    def keep(item_id: str) -> bool:
        ok = item_id not in dropped_ids
        counts["kept" if ok else "dropped"] += 1
        return ok

    fmt = ds.write_clean_manifest(Path(out), keep=keep)
    return {"path": str(out), "format": fmt, **counts}

