"""JSONL rows read by a cluster's workers: byte ranges of the files, numbered in two passes (issue 20).

The items of a JSONL manifest (audio as paths, URLs or base64 bytes) and of
a text dataset of JSONL files are rows, numbered from 0 over the dataset
(one sequence, :data:`~consentry.io.sources.parts.SEQUENTIAL`; item ids
``row:<n>``, or ``<file>#row:<n>`` for several files).  Where row *n* begins
is only known by reading every line before it, so the workers read them in
two passes (docs/cluster.md):

1. the files are cut into byte ranges of :data:`PART_BYTES` (a gzip file is
   one range: it cannot be entered in the middle); a range holds the lines
   that *begin* in it, and a worker counts them and the rows among them
   (:func:`count_range`; a row is a non-blank line, as the readers count);
2. the driver adds the counts up (:class:`LineParts`): each range becomes a
   :class:`~consentry.io.sources.parts.Part` whose positions are the scan's
   seqs of its rows, with the lines and rows of its file before it; a
   worker seeks to the range, reads its lines with the reader's own line
   rules (:func:`~consentry.io.sources.items.capped_lines`) and makes each
   row's item with the reader's own row code, so the items, ids, error
   messages and line numbers are those of a whole read.

The driver so reads no row: it lists the files' sizes and holds the counts
of each range.  The rows of a text dataset of Parquet files need no first
pass: their numbers are in the files' footers (:func:`text_parquet_parts`:
row ranges of row groups, numbered over the dataset).  A row that is not UTF-8 stops a text dataset's scan with the
reader's own error, raised in the driver when the part comes back.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, replace
from itertools import count
from pathlib import Path
from typing import Callable, Iterator

from consentry.domain.errors import InputError
from consentry.io.sources.fetch import FetchJob
from consentry.io.sources.items import Dataset, DatasetItem, capped_lines

__all__ = ["PART_BYTES", "TEXT_PART_ROWS", "LineRange", "LineParts", "line_files", "count_range", "read_lines_part",
           "text_parquet_parts", "read_text_parquet_part"]

#: Bytes of a JSONL file in one range (counted, then read, by one worker call).
PART_BYTES = 8 * 1024 * 1024
#: Rows of a Parquet text file in one part.
TEXT_PART_ROWS = 1024
#: Bytes read at a time while looking for the start of a range's first line.
_SEEK_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LineRange:
    """The lines of one JSONL file that begin in the byte range ``[begin, end)``.

    ``end`` None: to the file's end (a gzip file, read whole).  Once counted
    (:class:`LineParts`), ``lines`` and ``rows`` are the file's lines and
    rows before the range.
    """

    file_no: int
    path: str
    begin: int
    end: int | None
    lines: int = 0
    rows: int = 0

    @property
    def gz(self) -> bool:
        return self.path.endswith(".gz")


def line_files(ds: Dataset) -> list[Path] | None:
    """The JSONL files of ``ds`` whose rows the workers read in ranges, or None (another kind of dataset)."""
    from consentry.io.sources.manifest import JsonlManifest
    from consentry.io.sources.text import TextRowsDataset

    if isinstance(ds, JsonlManifest):
        return [ds.path]
    if isinstance(ds, TextRowsDataset) and ds.kind == "jsonl":
        return list(ds.files)
    return None


def _max_line_bytes(reader: Dataset) -> int:
    from consentry.io.sources import manifest, text

    return manifest.MAX_LINE_BYTES if isinstance(reader, manifest.JsonlManifest) else text.MAX_LINE_BYTES


class LineParts:
    """The parts of a dataset of JSONL rows: its byte ranges, numbered once counted.

    Iterating gives the :class:`~consentry.io.sources.parts.Part` of each
    range holding rows, in the dataset's order.  Set ``counts`` (``(lines,
    rows, problem)`` of each of ``ranges``, :func:`count_range`, counted by a
    cluster's workers) first; otherwise they are counted here.  A manifest
    found not UTF-8 is refused with the error its reader gives at opening.
    """

    def __init__(self, ds: Dataset, files: list[Path], *, part_bytes: int | None = None) -> None:
        part_bytes = part_bytes or PART_BYTES
        self.reader = ds
        self.ranges: list[LineRange] = []
        for file_no, path in enumerate(files):
            try:
                size = path.stat().st_size
            except OSError as exc:
                raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
            if path.name.endswith(".gz") or size == 0:
                self.ranges.append(LineRange(file_no, str(path), 0, None))
                continue
            self.ranges += [LineRange(file_no, str(path), begin, min(begin + part_bytes, size))
                            for begin in range(0, size, part_bytes)]
        self.counts: list[tuple] | None = None

    def __iter__(self):
        from consentry.io.sources.parts import Part

        if self.counts is None:
            self.counts = [count_range(r, self.reader) for r in self.ranges]
        self.refuse_text()
        counts = self.counts
        seq = 0
        file_no, lines, rows, file_seq = -1, 0, 0, 0
        for rng, (n_lines, n_rows, _problem) in zip(self.ranges, counts):
            if rng.file_no != file_no:
                file_no, lines, rows, file_seq = rng.file_no, 0, 0, seq
            if n_rows:
                yield Part("lines", 0, rng.path, seq, seq + n_rows, start=replace(rng, lines=lines, rows=rows),
                           group=rng.file_no, group_start=file_seq, options={"reader": self.reader})
            lines, rows, seq = lines + n_lines, rows + n_rows, seq + n_rows


    def refuse_text(self) -> None:
        """Once counted: the error the reader gives at opening a manifest that is not UTF-8, from the first
        range with a problem."""
        from consentry.io.sources.manifest import not_utf8

        lines, file_no = 0, -1
        for rng, (n_lines, _rows, problem) in zip(self.ranges, self.counts):
            lines = 0 if rng.file_no != file_no else lines
            file_no = rng.file_no
            if problem is not None:
                raise not_utf8(Path(rng.path), lines + problem[0], problem[1], kind="JSONL")
            lines += n_lines


def _open_at_line(rng: LineRange):
    """The file of ``rng``, positioned at the first line that begins at or after ``rng.begin``."""
    path = Path(rng.path)
    try:
        handle = gzip.open(path, "rb") if rng.gz else open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if rng.begin:
        handle.seek(rng.begin - 1)
        while True:  # a line begins after a newline: the first at or after begin - 1
            chunk = handle.read(_SEEK_CHUNK)
            newline = chunk.find(b"\n")
            if newline >= 0:
                handle.seek(handle.tell() - len(chunk) + newline + 1)
                break
            if not chunk:
                break
    return handle


def count_range(rng: LineRange, reader: Dataset) -> tuple[int, int, tuple[int, str] | None]:
    """On a worker: ``(lines, rows, problem)`` of the lines that begin in ``rng`` (rows: as ``reader`` counts
    them; ``problem``: for a JSONL manifest whose text the driver did not check, the first place that is
    not UTF-8 text, ``(line in the range, kind)``, :func:`~consentry.io.sources.manifest.text_problem`)."""
    from consentry.io.sources.manifest import JsonlManifest, text_problem

    rows = 0
    with _open_at_line(rng) as handle:
        begin = handle.tell()
        lines = capped_lines(handle, max_bytes=_max_line_bytes(reader), label=rng.path, end=rng.end)
        while True:
            try:
                next(lines)
            except StopIteration as stop:
                n_lines = stop.value
                break
            rows += 1
        problem = None
        if isinstance(reader, JsonlManifest) and not reader.text_checked:
            end = handle.tell()
            handle.seek(begin)
            problem = text_problem(handle, end=end)
    return n_lines, rows, problem


def read_lines_part(part, wanted: Callable[[int], bool]) -> Iterator[tuple[int, DatasetItem]]:
    """The rows of a lines part whose position (their seq) is ``wanted``, made by the dataset's own reader."""
    from consentry.io.sources.manifest import JsonlManifest

    rng, reader = part.start, part.options["reader"]
    with _open_at_line(rng) as handle:
        if isinstance(reader, JsonlManifest):
            raw = capped_lines(handle, max_bytes=_max_line_bytes(reader), number=rng.lines, end=rng.end)
            rows = reader._rows(raw, rng.rows)
        else:
            raw = capped_lines(handle, max_bytes=_max_line_bytes(reader), label=Path(rng.path), number=rng.lines,
                               end=rng.end)
            rows = reader._jsonl_items(Path(rng.path), raw, rng.rows)
        for position, item in zip(count(part.lo), rows):
            if position >= part.hi:
                break
            if wanted(position):
                yield position, item() if isinstance(item, FetchJob) else item


def text_parquet_parts(ds: Dataset, *, rows_per_part: int | None = None) -> Iterator:
    """The parts of a text dataset of Parquet files: ranges of :data:`TEXT_PART_ROWS` rows of a row group,
    their positions the scan's seqs (rows numbered over the dataset's files in order); footers only are read."""
    from consentry.io.sources.parts import Part

    rows_per_part = rows_per_part or TEXT_PART_ROWS
    seq = 0
    for path in ds.files:
        meta = ds._parquet(path).metadata
        file_seq, row = seq, 0
        for group in range(meta.num_row_groups):
            n = meta.row_group(group).num_rows
            for lo in range(row, row + n, rows_per_part):
                yield Part("textparquet", 0, str(path), file_seq + lo, file_seq + min(lo + rows_per_part, row + n),
                           group=group, group_start=file_seq + row, options={"reader": ds, "file_seq": file_seq})
            row += n
        seq = file_seq + meta.num_rows


def read_text_parquet_part(part, wanted: Callable[[int], bool]) -> Iterator[tuple[int, DatasetItem]]:
    """The rows of a text Parquet part whose seq is ``wanted``, made as the dataset's own reader makes them."""
    reader, path, file_seq = part.options["reader"], Path(part.path), part.options["file_seq"]
    position = part.group_start
    for batch in reader._parquet_batches(path, row_groups=[part.group], columns=[reader.column]):
        if position + batch.num_rows <= part.lo:
            position += batch.num_rows
            continue
        for value in batch.column(0).to_pylist():
            if position >= part.hi:
                return
            if position >= part.lo and wanted(position):
                row = position - file_seq
                yield position, reader._item(path, row, value, f"{path.name} row {row}")
            position += 1
