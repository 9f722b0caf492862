"""CSV and Arrow rows read by a cluster's workers: each file listed once, then read in parts (issue 20).

The items of a CSV manifest (audio as paths or URLs) and of a text dataset
of CSV or Arrow files are rows numbered from 0 over the dataset (one
sequence, :data:`~consentry.io.sources.parts.SEQUENTIAL`; item ids
``row:<n>``, or ``<file>#row:<n>`` for several files).  A CSV row cannot be
found from a byte offset (a quoted field may hold newlines, so a line start
is not always a row start), so each file is *listed* first, by one worker
(docs/cluster.md):

1. the worker reads the file whole with the reader's own CSV parse
   (:func:`list_rows`) and notes where every :data:`PART_ROWS`-th row begins
   (its byte offset and line number), or earlier when the part would pass
   :data:`PART_BYTES`; an Arrow file is listed by its record batches (row
   counts only, nothing copied: the file is memory-mapped);
2. the driver numbers the parts over the files (:class:`RowParts`) and hands
   them out; a worker reads a CSV part from its offset to where the next
   begins (:func:`read_rows_part`, the reader's own row code), an Arrow part
   from its record batch.

The listing also does what opening the file locally does (a CSV manifest's
UTF-8 check, past the first MiB the driver checked): a refusal there comes
back before the scan is stored.  A text file the reader stops in (not UTF-8,
not readable CSV or Arrow) is listed up to that row: the rows before it are
read, and then the scan stops with the reader's own exception, as locally.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from consentry.domain.errors import InputError
from consentry.io.sources.fetch import FetchJob
from consentry.io.sources.items import Dataset, DatasetItem

__all__ = ["PART_ROWS", "PART_BYTES", "RowStart", "RowListing", "RowParts", "row_files", "list_rows", "read_rows_part",
           "text_range", "ByteCount"]

#: Rows in one part (a CSV part also ends before it passes :data:`PART_BYTES`).
PART_ROWS = 1024
#: Bytes of CSV text in one part, at most (plus the row that passes it).
PART_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class RowStart:
    """Where a part of a file's rows begins: CSV, the byte ``offset`` and ``line`` (from 1) of its first row
    and the ``end`` offset of its last (None: the file's end); Arrow, the record batch ``offset`` and the
    rows of it before the part (``skip``).  ``row``: the part's first row, counted in the file from 0."""

    file_no: int
    path: str
    offset: int
    row: int
    line: int = 1
    end: int | None = None
    skip: int = 0


@dataclass
class RowListing:
    """A file as listed by a worker: the starts of its parts, its rows, and what stopped the reader, if it
    stops in the file (``refusal``: its exception; ``rows`` then counts the rows before it)."""

    starts: list[RowStart] = field(default_factory=list)
    rows: int = 0
    refusal: BaseException | None = None


class ByteCount:
    """Bytes and lines a reader has taken from a file so far (:meth:`lines` counts them as they go by);
    ``first``: the count where the reader's first data row begins (:meth:`mark`, after the header)."""

    def __init__(self, start: int = 0) -> None:
        self.bytes = start
        self.lines_taken = 0
        self.first: tuple[int, int] | None = None

    def lines(self, handle) -> Iterator[str]:
        for line in handle:
            self.bytes += len(line.encode("utf-8", "surrogatepass"))
            self.lines_taken += 1
            yield line

    def now(self) -> tuple[int, int]:
        return self.bytes, self.lines_taken

    def mark(self) -> None:
        self.first = self.now()


def text_range(start: RowStart):
    """A text handle on the bytes ``[start.offset, start.end)`` of a UTF-8 file, lines as ``newline=""`` reads
    them (the CSV readers'); read into memory (a part is at most :data:`PART_BYTES` and a row)."""
    path = Path(start.path)
    try:
        with open(path, "rb") as fh:
            fh.seek(start.offset)
            data = fh.read() if start.end is None else fh.read(start.end - start.offset)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")


def row_files(ds: Dataset) -> list[Path] | None:
    """The CSV or Arrow files of ``ds`` whose rows the workers list and read, or None (another kind)."""
    from consentry.io.sources.manifest import CsvManifest
    from consentry.io.sources.text import TextRowsDataset

    if isinstance(ds, CsvManifest):
        return [ds.path]
    if isinstance(ds, TextRowsDataset) and ds.kind in ("csv", "arrow"):
        return list(ds.files)
    return None


class RowParts:
    """The parts of a dataset of CSV or Arrow rows, numbered once its files are listed.

    Set ``listings`` (a :class:`RowListing` per file, :func:`list_rows`, by
    a cluster's workers) first; otherwise they are listed here.  Iterating
    gives the :class:`~consentry.io.sources.parts.Part` of each range of
    rows, in the dataset's order, up to the first file the reader stops in;
    its exception is then ``refusal`` (the caller raises it once the parts
    before it are read).
    """

    def __init__(self, ds: Dataset, files: list[Path], *, part_rows: int | None = None,
                 part_bytes: int | None = None) -> None:
        self.reader = ds
        self.files = files
        self.part_rows = part_rows or PART_ROWS
        self.part_bytes = part_bytes or PART_BYTES
        self.listings: list[RowListing] | None = None
        self.refusal: BaseException | None = None
        self.options = {"reader": ds, "field_limit": csv.field_size_limit()}  # the driver's CSV field cap

    def calls(self) -> list[tuple]:
        """The first pass: ``("list_rows", *args)`` listing each file (:func:`list_rows`, run on the workers)."""
        return [("list_rows", self.reader, file_no, str(path), self.part_rows, self.part_bytes,
                 self.options["field_limit"]) for file_no, path in enumerate(self.files)]

    def __iter__(self):
        from consentry.io.sources.parts import Part

        listings = self.listings if self.listings is not None else [list_rows(*args) for _fn, *args in self.calls()]
        seq = 0
        for file_no, listing in enumerate(listings):
            bounds = [start.row for start in listing.starts[1:]] + [listing.rows]
            for start, hi in zip(listing.starts, bounds):
                if hi > start.row:
                    yield Part("rows", 0, start.path, seq + start.row, seq + hi, start=start, group=file_no,
                               group_start=seq, options=self.options)
            if listing.refusal is not None:
                self.refusal = listing.refusal
                return
            seq += listing.rows


def list_rows(reader: Dataset, file_no: int, path: str, part_rows: int, part_bytes: int,
              field_limit: int) -> RowListing:
    """On a worker: the parts of one CSV or Arrow file of ``reader`` (see the module docstring).

    Raises
    ------
    InputError
        What opening the file locally refuses (a CSV manifest that is not
        UTF-8 past the part the driver checked).
    """
    from consentry.io.sources.manifest import CsvManifest, check_utf8

    counted = ByteCount()
    if isinstance(reader, CsvManifest):
        if not reader.text_checked:
            check_utf8(Path(path), kind="CSV")
        csv.field_size_limit(field_limit)
        counted.bytes = 3 if reader._bom else 0
        records = reader._records(at=counted)
        if next(records, None) is None:  # the header (opening found one)
            return RowListing()
        counted.mark()
        return _cut(file_no, path, counted, (counted.now() for _record in records), part_rows, part_bytes)
    if reader.kind == "csv":
        with open(path, "rb") as fh:
            counted.bytes = 3 if fh.read(3) == codecs.BOM_UTF8 else 0  # dropped by the reader's "utf-8-sig"
        return _cut(file_no, path, counted, (counted.now() for _item in reader._csv_items(Path(path), at=counted)),
                    part_rows, part_bytes)
    listing = RowListing()
    try:
        _arrow_listing(listing, reader, file_no, path, part_rows)
    except Exception as exc:  # noqa: BLE001 - unreadable or damaged: the reader stops there too (a text dataset)
        listing.refusal = exc
    return listing


def _cut(file_no: int, path: str, counted: ByteCount, ends: Iterator[tuple[int, int]], part_rows: int,
         part_bytes: int) -> RowListing:
    """The listing of a CSV file: ``ends`` gives the ``(bytes, lines)`` read once each row is read, the first
    row beginning at ``counted.first``.  A row the reader refuses ends the listing there (``refusal``), the
    last part ending where that row begins (so reading it does not meet the refusal)."""
    listing = RowListing()
    start = None  # (bytes, lines) read before the next row
    try:
        for end in ends:
            offset, lines = start = start or counted.first
            if not listing.starts or listing.rows - listing.starts[-1].row >= part_rows \
                    or offset - listing.starts[-1].offset >= part_bytes:
                if listing.starts:
                    listing.starts[-1] = replace(listing.starts[-1], end=offset)
                listing.starts.append(RowStart(file_no, path, offset, listing.rows, line=lines + 1))
            listing.rows += 1
            start = end
    except InputError as exc:
        listing.refusal = exc
        if listing.starts:
            listing.starts[-1] = replace(listing.starts[-1], end=start[0])
    return listing


def _arrow_listing(listing: RowListing, reader: Dataset, file_no: int, path: str, part_rows: int) -> None:
    """An Arrow file's parts into ``listing``: ranges of ``part_rows`` rows of a record batch (only the
    batches' row counts are read; the file is memory-mapped); up to a batch the reader cannot read."""
    for batch_no, n in enumerate(_batch_rows(reader, Path(path))):
        for skip in range(0, n, part_rows):
            listing.starts.append(RowStart(file_no, path, batch_no, listing.rows + skip, skip=skip))
        listing.rows += n


def _batches(reader: Dataset, path: Path):
    arrow = reader._arrow_reader(path)
    if hasattr(arrow, "num_record_batches"):
        return (arrow.get_batch(i) for i in range(arrow.num_record_batches))
    return iter(arrow)


def _batch_rows(reader: Dataset, path: Path) -> Iterator[int]:
    for batch in _batches(reader, path):
        yield batch.num_rows


def read_rows_part(part, wanted: Callable[[int], bool]) -> Iterator[tuple[int, DatasetItem]]:
    """The rows of a part whose position (their seq) is ``wanted``, made by the dataset's own reader."""
    from consentry.io.sources.manifest import CsvManifest

    reader, start = part.options["reader"], part.start
    if isinstance(reader, CsvManifest):
        csv.field_size_limit(part.options["field_limit"])
        rows = reader._rows(start=start)
    elif reader.kind == "csv":
        rows = reader._csv_items(Path(part.path), start=start)
    else:
        rows = _arrow_rows(reader, part)
    position = part.lo
    while position < part.hi:
        item = next(rows, None)
        if item is None:
            break
        if wanted(position):
            yield position, item() if isinstance(item, FetchJob) else item
        position += 1
    rows.close()


def _arrow_rows(reader: Dataset, part) -> Iterator[DatasetItem]:
    """The rows of an Arrow part, made as the reader makes them (:meth:`TextRowsDataset._arrow_items`)."""
    from itertools import islice

    path, start = Path(part.path), part.start
    batch = next(islice(_batches(reader, path), start.offset, None))
    values = batch.column(batch.schema.get_field_index(reader.column)).slice(start.skip, part.hi - part.lo)
    for row, value in enumerate(values.to_pylist(), start.row):
        yield reader._item(path, row, value, f"{path.name} row {row}")
