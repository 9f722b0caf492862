"""A scan's text rows in batches: many rows of a text dataset searched in one pass (issue 18).

A text dataset (JSONL, CSV, Parquet, Hugging Face files with a text column;
also the records of a web crawl archive and the members of text WebDataset
shards, read into memory the same way) is mostly short rows, and a row costs
little next to the fixed cost of each engine call.  So :func:`batched` groups consecutive rows into one task of at
most :data:`TEXT_BATCH_BYTES` bytes and :data:`TEXT_BATCH_ITEMS` rows, and
:func:`identify_batch` reads each row as :func:`.scan.identify_item` does and
locates all of them at once (:func:`.media.identify_signals`, the text
engine's ``locate_many``): the same findings, item by item, as one row at a
time.  A row of more than :data:`TEXT_BATCH_BYTES` is a task of its own.

Plain-text rows carry no embedded signal Consentry reads (TDMRep is read
from HTML and EPUB; C2PA does not take plain text), so only HTML and EPUB
rows are given to the embedded-signal readers (which need a file).

Each row is sniffed once (:class:`_RowSniffer`): a row that starts with no
magic number the music and image sniffers know (:func:`.formats.sniff.sniff_magic`)
is not given to them, and the text sniffer's kind of document serves the
decoder and the TDMRep check.  A row the sniffer is not sure of (a magic
number, a name whose suffix belongs to another medium, an engine sniffed
before text that it does not know, no text) takes the whole item path.

A batch is one task for the worker pool: a batch whose worker dies twice
is stored as that error for each of its rows (``scan._error``).
"""

from __future__ import annotations

import hashlib
import os
from typing import Iterable, Iterator

from consentry.services.media import HEAD_BYTES

#: Most bytes of rows in one batch (memory: at most twice the workers' batches are in flight).
TEXT_BATCH_BYTES = 1 << 20
#: Most rows in one batch.
TEXT_BATCH_ITEMS = 1024


def batches_rows(ds) -> bool:
    """Whether the dataset's items are texts held in memory (and so are batched): rows of a text column, the
    records of web crawl archives (WARC/WET) and the members of text WebDataset shards."""
    from consentry.io.sources.text import TextRowsDataset, TextWebDataset, WarcDataset

    return isinstance(ds, (TextRowsDataset, TextWebDataset, WarcDataset))


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


class _RowSniffer:
    """The text engine's kind of document of a row (``"text"``, ``"html"``), when :func:`.scan._other_engine`
    would choose the text engine for it; None otherwise (the row then takes the whole item path).
    A row of UTF-8 text without control characters is decoded in the same pass (``sniff_utf8``).

    :func:`consentry.engines.for_head` asks the engines in their sniff order (music, images, then text),
    or only the engine owning the name's suffix.  Without a magic number (:func:`sniff_magic`; a BMP's
    ``BM`` is taken as one) neither music nor images claims a row, so only the text sniffer is asked: on the
    first 512 bytes (the kind the decoder would sniff) and, for a longer row, on the 4 KiB the engine's
    sniffer reads (both must say text).
    """

    def __init__(self) -> None:
        from consentry import engines

        self.engine = engines.get("text")
        before = []
        for e in engines.in_sniff_order():
            if e.medium == "text":
                break
            before.append(e.medium)
        #: Whether every engine asked before text is one this sniffer knows to pass over.
        self.known_order = set(before) <= {"music", "image"}
        from consentry.io.decode.audio import AUDIO_EXTENSIONS

        #: Suffixes some medium owns (a row's name, ``"data.jsonl row 7"``, has none of them).
        self.owned = frozenset(AUDIO_EXTENSIONS) | engines.extensions()
        self.owners: dict[str, str | None] = {}
        from consentry.engines.text.read import sniff_kind, sniff_utf8
        from consentry.formats.sniff import sniff_magic

        self._sniff_kind, self._sniff_utf8, self._sniff_magic = sniff_kind, sniff_utf8, sniff_magic

    def read(self, data: bytes, name: str) -> tuple[str, str | None] | None:
        """``(kind, text)``: the row's kind, and its text when it is plain UTF-8 text read already
        (:func:`~consentry.engines.text.read.sniff_utf8`; None: the decoder reads it); None when the row
        takes the whole item path."""
        suffix = os.path.splitext(name)[1].lower()
        owner = None
        if suffix in self.owned:
            if suffix not in self.owners:
                from consentry import engines

                self.owners[suffix] = engines._suffix_owner(name)  # noqa: SLF001 - for_head's rule for names
            owner = self.owners[suffix]
        if owner not in (None, "text") or (owner is None and not self.known_order):
            return None
        if data[:2] == b"BM" or self._sniff_magic(data[:512]) is not None:
            return None
        read = self._sniff_utf8(data)
        if read is not None:
            return read
        kind = self._sniff_kind(data[:512])
        if kind not in ("text", "html"):
            return None
        if len(data) > 512 and self._sniff_kind(data[:HEAD_BYTES]) is None:
            return None
        return kind, None


def identify_batch(registry, task: dict) -> dict:
    """``{"batch": [item result, ...]}``: :func:`.scan.identify_item` of each row of a batch, in order, the
    text rows located together."""
    from consentry.domain.errors import ConsentryError, DecodeError
    from consentry.services.media import identify_signals
    from consentry.services.scan import _error, _other_result, identify_item, signals_of_file

    results: list[dict | None] = []
    texts: list[tuple[int, dict, object, dict]] = []   # (result slot, row task, signal, facts)
    sniffer = _RowSniffer()
    engine = sniffer.engine
    for sub in task["batch"]:
        data = sub.get("data")
        if sub.get("error") or not data:
            results.append(identify_item(registry, sub))   # an error or an empty row: said as for any item
            continue
        read = sniffer.read(data, sub["name"])
        if read is None:
            results.append(identify_item(registry, sub))   # not surely text: the whole item path
            continue
        kind, text = read
        facts = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        if sub.get("embedded_signals", True) and kind == "html":   # TDMRep (text_terms.text_kind: HTML or EPUB)
            try:
                found = signals_of_file(data, None, sub["name"])
            except Exception as exc:  # noqa: BLE001 - a reader bug must not lose the item (as identify_item)
                found = {"embedded": [], "problems": [{"format": "file", "source": sub["name"],
                                                       "message": f"signals not read: {exc}"}], "verdicts": {}}
            if found:
                facts["signals"] = found
        try:
            signal = engine.signal(text) if text is not None else engine.decode(data, name=sub["name"], kind=kind)
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
