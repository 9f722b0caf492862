"""A scan's text rows in batches: many rows of a text dataset searched in one pass (issue 18).

A text dataset (JSONL, CSV, Parquet, Hugging Face files with a text column)
is mostly short rows, and a row costs little next to the fixed cost of each
engine call.  So :func:`batched` groups consecutive rows into one task of at
most :data:`TEXT_BATCH_BYTES` bytes and :data:`TEXT_BATCH_ITEMS` rows, and
:func:`identify_batch` reads each row as :func:`.scan.identify_item` does and
locates all of them at once (:func:`.media.identify_signals`, the text
engine's ``locate_many``): the same findings, item by item, as one row at a
time.  A row of more than :data:`TEXT_BATCH_BYTES` is a task of its own.

Plain-text rows carry no embedded signal Consentry reads (TDMRep is read
from HTML and EPUB; C2PA does not take plain text), so only HTML and EPUB
rows are given to the embedded-signal readers (which need a file).

A batch is one task for the worker pool: a batch whose worker dies twice
is stored as that error for each of its rows (``scan._error``).
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Iterator

#: Most bytes of rows in one batch (memory: at most twice the workers' batches are in flight).
TEXT_BATCH_BYTES = 1 << 20
#: Most rows in one batch.
TEXT_BATCH_ITEMS = 1024


def batches_rows(ds) -> bool:
    """Whether the dataset's items are rows of a text column (and so are batched)."""
    from consentry.io.sources.text import TextRowsDataset

    return isinstance(ds, TextRowsDataset)


def batched(tasks: Iterable[dict]) -> Iterator[dict]:
    """The tasks with consecutive rows grouped: ``{"seq", "item_id", "name", "batch": [task, ...]}``
    (the first row's seq, id and name); a lone row, or one larger than :data:`TEXT_BATCH_BYTES`, stays
    as it is."""
    group: list[dict] = []
    size = 0

    def close() -> Iterator[dict]:
        nonlocal group, size
        if len(group) == 1:
            yield group[0]
        elif group:
            head = group[0]
            yield {"seq": head["seq"], "item_id": head["item_id"], "name": head["name"], "batch": group}
        group, size = [], 0

    for task in tasks:
        n = len(task.get("data") or b"")
        if n > TEXT_BATCH_BYTES or task.get("path") is not None:
            yield from close()
            yield task
            continue
        group.append(task)
        size += n
        if size >= TEXT_BATCH_BYTES or len(group) >= TEXT_BATCH_ITEMS:
            yield from close()
    yield from close()


def identify_batch(registry, task: dict) -> dict:
    """``{"batch": [item result, ...]}``: :func:`.scan.identify_item` of each row of a batch, in order, the
    text rows located together."""
    from consentry.domain.errors import ConsentryError, DecodeError
    from consentry.formats.embed.text_terms import text_kind
    from consentry.services.media import identify_signals
    from consentry.services.scan import _error, _other_engine, _other_result, identify_item, signals_of_file

    results: list[dict | None] = []
    texts: list[tuple[int, dict, object, dict]] = []   # (result slot, row task, signal, facts)
    engine = None
    for sub in task["batch"]:
        data = sub.get("data")
        if sub.get("error") or not data:
            results.append(identify_item(registry, sub))   # an error or an empty row: said as for any item
            continue
        facts = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        row_engine = _other_engine(data, sub["name"])
        if row_engine is None or row_engine.medium != "text" or (engine is not None and row_engine.id != engine.id):
            results.append(identify_item(registry, sub))   # not text after all: the whole item path
            continue
        engine = row_engine
        if sub.get("embedded_signals", True) and text_kind(data) is not None:
            try:
                found = signals_of_file(data, None, sub["name"])
            except Exception as exc:  # noqa: BLE001 - a reader bug must not lose the item (as identify_item)
                found = {"embedded": [], "problems": [{"format": "file", "source": sub["name"],
                                                       "message": f"signals not read: {exc}"}], "verdicts": {}}
            if found:
                facts["signals"] = found
        try:
            signal = engine.decode(data, name=sub["name"])
        except DecodeError as exc:
            results.append(_error(sub, exc.reason, **facts))
            continue
        except MemoryError:
            results.append(_error(sub, "too large to read in memory", **facts))
            continue
        results.append(None)
        texts.append((len(results) - 1, sub, signal, facts))
    if texts:
        try:
            matches = identify_signals(registry, engine, [t[2] for t in texts],
                                       min_score=texts[0][1].get("min_score"))
        except ConsentryError as exc:
            matches = None
            for slot, sub, _, facts in texts:
                results[slot] = _error(sub, str(exc), **facts)
        if matches is not None:
            for (slot, sub, signal, facts), found in zip(texts, matches):
                results[slot] = _other_result(sub, engine, signal, found, facts)
    return {"batch": results}
