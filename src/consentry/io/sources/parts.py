"""Reading a dataset in parts, shard by shard and range by range, by whichever process holds the part.

A scan on a cluster (docs/cluster.md) does not read archives in the driver:
the driver lists the *shards* (the tar files of a WebDataset, a zip archive,
the row groups of a Parquet file) and hands each worker a :class:`Part` (a
shard and a range of positions in it); the worker opens the shard itself,
reads the items of its range and scans them.  For that, an item's identity
must not depend on the items of other shards, so these datasets number their
items per shard:

    seq = shard number × :data:`SHARD_STRIDE` + position in the shard

(a tar shard: the sample's position among the shard's samples, the shard's
own error, if any, after them; a zip, one shard: the item's position, the
single sequence it always had; a Parquet file, one shard: the row number).
A local scan numbers them the same way (:func:`numbered_items`), reading
each shard whole with the same code, so the items, their ids and their
order are the same whichever process read them, and a scan interrupted on
one can be resumed on the other.  Other datasets keep one sequence over the
dataset (:data:`SEQUENTIAL`): the rows of JSONL files (manifests and text
datasets) are read by the workers in byte ranges numbered in two passes
(:mod:`consentry.io.sources.lineparts`), the rows of CSV and Arrow files
(CSV manifests and text datasets) in parts found by a worker listing each
file (:mod:`consentry.io.sources.rowparts`); the records of crawl archives
(WARC/WET) and the members of text tar shards are numbered per file, read
by the loops of :mod:`consentry.io.sources.textparts` (parts of
:data:`TEXT_PART_ITEMS` records; a compressed text shard is one part); the
files of folders are sent as paths.

A tar shard cannot be cut at a byte offset without reading it from the
start, so its parts follow one another: the outcome of one part says where
the next begins (:class:`TarStart`: the byte offset of its first member in
an uncompressed shard, which the next part seeks to), and which sample keys
it met (:class:`ShardKeys`).  A compressed shard is one part (a part after
the first would decompress it from its start again, passing over the
earlier samples: cut in parts of 16, a shard of n samples would be
decompressed n/32 times over).  A zip's parts
follow one another too (:class:`ZipCursor`).  Parquet parts are independent
(row ranges of row groups).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

from consentry.domain.seqset import SHARD_STRIDE  # positions per shard: seq = shard × SHARD_STRIDE + position
from consentry.io.sources.archives import ArchiveLimits
from consentry.io.sources.fetch import FetchJob, FetchOptions
from consentry.io.sources.items import Dataset, DatasetItem
from consentry.io.sources.lineparts import (
    LineParts, LineRange, line_files, read_lines_part, read_text_parquet_part, text_parquet_parts,
)
from consentry.io.sources.rowparts import RowParts, read_rows_part, row_files
from consentry.io.sources.text import TextRowsDataset, TextWebDataset, WarcDataset
from consentry.io.sources.textparts import RecordStart, TextShardRead, WarcRead
from consentry.io.sources.manifest import ParquetManifest
from consentry.io.sources.webdataset import ShardRead, TarStart, WebDataset
from consentry.io.sources.ziparchive import ZipArchive

__all__ = ["SHARD_STRIDE", "SEQUENTIAL", "PER_SHARD", "Part", "TarStart", "ZipCursor", "PartReading", "ShardKeys",
           "numbering_of", "numbered_items", "parts_of", "compressed_shard", "read_part", "list_shard", "list_tar",
           "list_zip", "list_records", "TEXT_PART_ITEMS"]

#: Item numberings: one sequence over the dataset, or per shard (stored in the scan's options as ``numbering``).
SEQUENTIAL = "sequential"
PER_SHARD = "shard"
#: Samples (tar) or rows (Parquet) in one part handed to a worker.
PART_ITEMS = 16
#: Records of a crawl archive (WARC/WET) or members of a text shard in one part (items are small texts, batched).
TEXT_PART_ITEMS = 128


@dataclass
class ZipCursor:
    """Where a part of a zip archive begins (``index``: a member of the central directory; ``total``: bytes
    read from the archive before it, counted against its cap) and, once read, where the next begins."""

    index: int = 0
    total: int = 0
    limit: int | None = None
    taken: int = 0
    stopped: bool = False

    def full(self) -> bool:
        return self.limit is not None and self.taken >= self.limit

    def stop(self, *, index: int, total: int) -> None:
        self.index, self.total, self.stopped = index, total, True


@dataclass(frozen=True)
class Part:
    """A range of positions ``[lo, hi)`` of one shard of a dataset, with what a worker needs to read it.

    ``kind`` is ``"tar"``, ``"zip"``, ``"parquet"``, ``"lines"``, ``"rows"`` or ``"textparquet"``; ``rel`` is
    the shard's name in item ids (tar); ``start`` where a tar part begins (a zip part: a :class:`ZipCursor`;
    JSONL rows: a :class:`~consentry.io.sources.lineparts.LineRange`; CSV and Arrow rows: a
    :class:`~consentry.io.sources.rowparts.RowStart`); ``group`` and
    ``group_start`` the Parquet row group and its first row (JSONL, CSV and Arrow rows: the file and its first
    seq); ``options`` the reader's settings (limits, column, downloads; rows: the reader itself).
    JSONL, CSV and Arrow rows keep one sequence over the dataset: their positions are the scan's seqs.
    """

    kind: str
    shard_no: int
    path: str
    lo: int
    hi: int
    rel: str = ""
    start: TarStart | ZipCursor | LineRange | None = None
    group: int = 0
    group_start: int = 0
    options: dict = field(default_factory=dict)

    def seq(self, position: int) -> int:
        """The scan's ``seq`` of a position in this part's shard."""
        return self.shard_no * SHARD_STRIDE + position


class PartReading:
    """The items of one part, as ``(seq, DatasetItem)``; then ``skipped`` and ``next`` are known.

    ``next`` is the part that follows in the same shard (tar), or None at the
    shard's end (and always for Parquet, whose parts are all listed at once).
    """

    def __init__(self, items: Iterator[tuple[int, DatasetItem]], rules: Dataset, reader=None) -> None:
        self._items = items
        self._rules = rules
        self._reader = reader

    def __iter__(self) -> Iterator[tuple[int, DatasetItem]]:
        return self._items

    @property
    def next(self) -> Part | None:
        return self._reader.next if self._reader is not None else None

    @property
    def keys(self) -> list[tuple[int, str, str]]:
        """Tar: ``(seq, sample key, id with @<member index>)`` of every sample of the part, read or not
        (for :class:`ShardKeys`); empty for other kinds."""
        return list(getattr(self._reader, "keys", ()))

    @property
    def skipped(self) -> dict[str, int]:
        return dict(self._rules.skipped)


class ShardKeys:
    """The driver's memory of the sample keys met in each tar shard being read in parts.

    A part read from a byte offset knows only its own keys; a key met in an
    earlier part of the same shard must get the id a whole read gives it
    (``<shard>#<key>@<member index>``).  Feed it each part's
    :attr:`PartReading.keys`, in the shard's order; it returns the ids to
    change, by seq.  The keys of a shard are dropped when its last part is in.
    """

    def __init__(self) -> None:
        self._seen: dict[int, set[str]] = {}

    def settle(self, part: Part, keys: list[tuple[int, str, str]], *, last: bool) -> dict[int, str]:
        seen = self._seen.setdefault(part.shard_no, set())
        renamed = {seq: repeated for seq, key, repeated in keys if key in seen}
        seen.update(key for _seq, key, _repeated in keys)
        if last:
            del self._seen[part.shard_no]
        return renamed


def numbering_of(ds: Dataset) -> str:
    """The item numbering a new scan of ``ds`` uses: :data:`PER_SHARD` for tar shards (audio and text), zips,
    Parquet files and crawl archives (WARC/WET: by record, :mod:`consentry.io.sources.textparts`).

    (A zip archive is one shard: its per-shard numbering is the single sequence it always had.)
    """
    per_shard = (WebDataset, ParquetManifest, ZipArchive, TextWebDataset, WarcDataset)
    return PER_SHARD if isinstance(ds, per_shard) else SEQUENTIAL


def numbered_items(ds: Dataset, numbering: str = SEQUENTIAL, *,
                   wanted: Callable[[int], bool] | None = None) -> Iterator[tuple[int, DatasetItem]]:
    """``(seq, item)`` for the items of ``ds``, read in this process, in the dataset's order.

    With :data:`PER_SHARD` numbering, tar shards are read with the same code
    the workers of a cluster use (one part per shard) and Parquet rows are
    numbered by row; ``ds.skipped`` is filled as by ``ds.items()``.  A tar
    sample whose seq is not ``wanted`` (already scanned) is passed over
    unread; other datasets yield every item (the caller passes them over).
    """
    if numbering != PER_SHARD:
        yield from enumerate(ds.items())
    elif isinstance(ds, WebDataset):
        ds.skipped = {}
        for shard_no, shard in enumerate(ds.shards):
            part = Part("tar", shard_no, str(shard), 0, SHARD_STRIDE, rel=ds._relative(shard), start=TarStart())
            yield from _TarPart(part, ds).read(lambda position, part=part: wanted is None or wanted(part.seq(position)))
    elif isinstance(ds, ParquetManifest):
        for item in ds.items():
            yield int(item.item_id.partition(":")[2]), item
    elif isinstance(ds, ZipArchive):
        yield from enumerate(ds.items())
    elif isinstance(ds, (TextWebDataset, WarcDataset)):  # the loops the workers read parts with, each file whole
        ds.skipped = {}
        read = TextShardRead if isinstance(ds, TextWebDataset) else WarcRead
        for file_no, path in enumerate(ds.shards if isinstance(ds, TextWebDataset) else ds.files):
            base = file_no * SHARD_STRIDE
            asked = None if wanted is None else (lambda position, base=base: wanted(base + position))
            reading = read(ds, path, wanted=asked)
            yield from ((base + position, item) for position, item in reading.entries())
    else:
        raise ValueError(f"{ds.kind} datasets are not numbered per shard")


def parts_of(ds: Dataset, numbering: str | None = None, *,
             items_per_part: int | None = None) -> Iterator[Part] | LineParts | RowParts | None:
    """The parts a cluster's workers read ``ds`` in, or None when the driver reads it (see the module docstring).

    For tar shards, the first part of each shard (the next ones come from
    :attr:`PartReading.next`); for a Parquet file, every part.  Read lazily:
    the driver holds one shard's listing at a time.  For JSONL rows, a
    :class:`~consentry.io.sources.lineparts.LineParts` (byte ranges, numbered
    once counted); for a CSV manifest and a text dataset of CSV or Arrow
    files, a :class:`~consentry.io.sources.rowparts.RowParts` (parts found
    by listing each file); for a text dataset of Parquet files, its row
    ranges.  ``numbering``: the scan's (None when no scan holds it);
    a scan whose numbering is not the one ``ds`` is read in part by (begun
    before parts) gets None.
    """
    if numbering is not None and numbering != numbering_of(ds):
        return None
    files = line_files(ds)
    if files is not None:
        return LineParts(ds, files)
    files = row_files(ds)
    if files is not None:
        return RowParts(ds, files)
    if isinstance(ds, TextRowsDataset) and ds.kind == "parquet":
        return text_parquet_parts(ds)
    text_size = items_per_part or TEXT_PART_ITEMS
    items_per_part = items_per_part or PART_ITEMS
    if isinstance(ds, WebDataset):  # a compressed shard: one part (cut, each part would decompress it again)
        return (Part("tar", shard_no, str(shard), 0, SHARD_STRIDE if compressed_shard(shard) else items_per_part,
                     rel=ds._relative(shard), start=TarStart(), options={"limits": ds.limits})
                for shard_no, shard in enumerate(ds.shards))
    if isinstance(ds, ZipArchive):
        return iter([Part("zip", 0, str(ds.path), 0, items_per_part, start=ZipCursor(), options={"limits": ds.limits})])
    if isinstance(ds, ParquetManifest):
        return _parquet_parts(ds, items_per_part)
    if isinstance(ds, TextWebDataset):  # a compressed shard: one part, as above
        return (Part("texttar", shard_no, str(shard), 0, SHARD_STRIDE if compressed_shard(shard) else text_size,
                     rel=shard.name, start=RecordStart(), options={"limits": ds.limits, "text_column": ds.text_column})
                for shard_no, shard in enumerate(ds.shards))
    if isinstance(ds, WarcDataset):  # any record can begin a part (a .warc.gz: one gzip member per record)
        return (Part("warc", file_no, str(path), 0, text_size, rel=path.name, start=RecordStart(),
                     options={"max_record_bytes": ds.max_record_bytes}) for file_no, path in enumerate(ds.files))
    return None


def compressed_shard(shard: Path) -> bool:
    """Whether a tar shard is gzip, bzip2 or xz compressed, by its first bytes (False when it cannot be read:
    its error comes from whichever process reads it)."""
    try:
        with open(shard, "rb") as fh:
            magic = fh.read(6)
    except OSError:
        return False
    return magic[:2] == b"\x1f\x8b" or magic[:3] == b"BZh" or magic == b"\xfd7zXZ\x00"


def _parquet_parts(ds: ParquetManifest, items_per_part: int) -> Iterator[Part]:
    import pyarrow.parquet as pq

    options = {"column": ds.column, "fetch_urls": ds.fetch_urls, "fetch": ds.fetch}
    with pq.ParquetFile(ds.path) as parquet:
        sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.metadata.num_row_groups)]
    row = 0
    for group, size in enumerate(sizes):
        for lo in range(row, row + size, items_per_part):
            yield Part("parquet", 0, str(ds.path), lo, min(lo + items_per_part, row + size), group=group,
                       group_start=row, options=options)
        row += size


def read_part(part: Part, *, wanted: Callable[[int], bool] = lambda _position: True,
              read_audio: bool = True) -> PartReading:
    """The items of ``part`` whose position is ``wanted``, read here (on a worker: from shared storage).

    ``read_audio`` False lists the items without reading their bytes (tar).
    Never raises for a bad shard: its problems are item errors, as
    ``ds.items()`` gives them.
    """
    if part.kind == "tar":
        rules = WebDataset([Path(part.path)], spec=part.path, name="", limits=part.options.get("limits", ArchiveLimits()))
        reader = _TarPart(part, rules, read_audio=read_audio)
        return PartReading(reader.read(wanted), rules, reader)
    if part.kind == "zip":
        rules = ZipArchive(Path(part.path), limits=part.options.get("limits", ArchiveLimits()))
        reader = _ZipPart(part, rules, read_audio=read_audio)
        return PartReading(reader.read(wanted), rules, reader)
    if part.kind in ("warc", "texttar"):
        rules, reader = _record_rules(part), _RecordPart(part)
        return PartReading(reader.read(rules, wanted), rules, reader)
    if part.kind == "lines":
        return PartReading(read_lines_part(part, wanted), SimpleNamespace(skipped={}))
    if part.kind == "textparquet":
        return PartReading(read_text_parquet_part(part, wanted), SimpleNamespace(skipped={}))
    if part.kind == "rows":
        return PartReading(read_rows_part(part, wanted), SimpleNamespace(skipped={}))
    if part.kind == "parquet":
        rules = ParquetManifest(Path(part.path), fetch_urls=part.options.get("fetch_urls", False),
                                fetch=part.options.get("fetch") or FetchOptions(),
                                path_column=part.options.get("column"))
        return PartReading(_parquet_rows(part, rules, wanted), rules)
    raise ValueError(f"unknown part kind {part.kind!r}")


def _parquet_rows(part: Part, rules: ParquetManifest, wanted: Callable[[int], bool]) -> Iterator[tuple[int, DatasetItem]]:
    """Rows ``[lo, hi)`` of one row group, read in the batches a whole read uses (the same rows fail)."""
    import pyarrow.parquet as pq

    from consentry.io.sources.manifest import _BYTES_BATCH_ROWS, _PATH_BATCH_ROWS
    from consentry.io.sources.manifest import _reason as parquet_reason

    name = rules.path.name
    batch_rows = _BYTES_BATCH_ROWS if rules._holds_bytes else _PATH_BATCH_ROWS
    with pq.ParquetFile(rules.path) as parquet:
        group_end = part.group_start + parquet.metadata.row_group(part.group).num_rows
        row = part.group_start
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[part.group],
                                              columns=[rules.column], use_threads=False):
                if row + batch.num_rows <= part.lo:
                    row += batch.num_rows
                    continue
                for value in batch.column(0).to_pylist():
                    if row >= part.hi:
                        return
                    if row >= part.lo and wanted(row):
                        item = rules._resolve(row, value, f"{name} row {row}")
                        yield row, item() if isinstance(item, FetchJob) else item
                    row += 1
        except Exception as exc:  # a damaged row group: the part holding the first unread row reports it
            if part.lo <= row < min(part.hi, group_end) and wanted(row):
                yield row, DatasetItem(item_id=f"row:{row}", name=f"row:{row}",
                                       error=f"{name} rows {row}-{group_end - 1}: unreadable row group "
                                             f"({parquet_reason(exc)})")


class _ZipPart:
    """The items ``[lo, hi)`` of a zip archive, read by :meth:`ZipArchive._entries` from the part's cursor."""

    def __init__(self, part: Part, rules: ZipArchive, *, read_audio: bool = True) -> None:
        self.part = part
        self.rules = rules
        self.read_audio = read_audio
        self.next: Part | None = None

    def read(self, wanted: Callable[[int], bool]) -> Iterator[tuple[int, DatasetItem]]:
        part = self.part
        start = part.start or ZipCursor()
        cursor = ZipCursor(index=start.index, total=start.total, limit=part.hi - part.lo)
        position = part.lo
        for item, _member in self.rules._entries(read_audio=self.read_audio, cursor=cursor):
            cursor.taken += 1
            if wanted(position):
                yield part.seq(position), item
            position += 1
        if cursor.stopped and not part.options.get("listed"):
            self.next = replace(part, lo=part.hi, hi=part.hi + (part.hi - part.lo),
                                start=ZipCursor(index=cursor.index, total=cursor.total))


class _TarPart:
    """The samples ``[lo, hi)`` of one tar shard: the WebDataset reader's own loop (:class:`ShardRead`), begun
    where the part begins and stopped at its end.  After :meth:`read`, ``next`` is the shard's next part, or
    None at its end, and ``keys`` the part's samples as :class:`ShardKeys` takes them."""

    def __init__(self, part: Part, rules: WebDataset, *, read_audio: bool = True) -> None:
        self.part = part
        self.rules = rules
        self.read_audio = read_audio
        self.next: Part | None = None
        self._reading: ShardRead | None = None

    def read(self, wanted: Callable[[int], bool]) -> Iterator[tuple[int, DatasetItem]]:
        part = self.part
        reading = self._reading = ShardRead(self.rules, Path(part.path), part.rel, start=part.start, lo=part.lo,
                                            hi=part.hi, wanted=wanted, read_audio=self.read_audio,
                                            max_samples=SHARD_STRIDE - 1)
        for entry in reading.entries():
            yield part.seq(entry.position), entry.item
        if reading.next_start is not None and not part.options.get("listed"):
            self.next = replace(part, lo=part.hi, hi=part.hi + (part.hi - part.lo), start=reading.next_start)

    @property
    def keys(self) -> list[tuple[int, str, str]]:
        """``(seq, sample key, id with @<member index>)`` of every sample of the part, read or not."""
        part = self.part
        return [(part.seq(position), key, f"{part.rel}#{key}@{index}")
                for position, key, index in (self._reading.keys if self._reading else ())]


def list_shard(first: Part) -> list[Part]:
    """All the parts of a tar shard, a zip, a crawl archive or a text shard, to be read side by side
    (:func:`list_tar`, :func:`list_zip`, :func:`list_records`)."""
    if first.kind in ("warc", "texttar"):
        return list_records(first)
    return list_tar(first) if first.kind == "tar" else list_zip(first)


def _record_rules(part: Part) -> WarcDataset | TextWebDataset:
    """The reader of a crawl archive's or text shard's part, with the dataset's settings."""
    path = Path(part.path)
    if part.kind == "warc":
        return WarcDataset([path], spec=part.path, name="", max_record_bytes=part.options["max_record_bytes"])
    return TextWebDataset([path], spec=part.path, name="", text_column=part.options.get("text_column"),
                          limits=part.options.get("limits"))


class _RecordPart:
    """The records ``[lo, hi)`` of a crawl archive or members of a text shard, read by the dataset's own loop
    (:mod:`consentry.io.sources.textparts`) from the part's start; then ``next`` is the file's next part, or
    None at its end (or after the error that refused the rest of it)."""

    def __init__(self, part: Part) -> None:
        self.part = part
        self.next: Part | None = None

    def read(self, rules, wanted: Callable[[int], bool]) -> Iterator[tuple[int, DatasetItem]]:
        part = self.part
        read = WarcRead if part.kind == "warc" else TextShardRead
        reading = read(rules, Path(part.path), start=part.start, lo=part.lo, hi=part.hi, wanted=wanted)
        for position, item in reading.entries():
            yield part.seq(position), item
        if reading.next_start is not None and not part.options.get("listed"):
            self.next = replace(part, lo=part.hi, hi=part.hi + (part.hi - part.lo), start=reading.next_start)


def list_records(first: Part) -> list[Part]:
    """All the parts of a crawl archive or text shard, found by one whole read of it (a cluster's first pass:
    the records are read, nothing is scanned), each beginning at the record the read noted.  A text shard
    not seekable at some cut (global pax headers) is one part, read whole."""
    size = first.hi - first.lo
    rules = _record_rules(first)
    read = WarcRead if first.kind == "warc" else TextShardRead
    reading = read(rules, Path(first.path), cut=size)
    for _entry in reading.entries():
        pass
    starts = [first.start or RecordStart(), *reading.starts]
    if any(start.offset is None for start in starts):
        return [replace(first, hi=SHARD_STRIDE, options={**first.options, "listed": True})]
    return [replace(first, lo=k * size, hi=(k + 1) * size, start=start, options={**first.options, "listed": True})
            for k, start in enumerate(starts)]


class _NotingCursor(ZipCursor):
    """A cursor that reads a whole zip and notes where every ``every``-th item's part would begin."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every
        self.noted: list[ZipCursor] = []

    def full(self) -> bool:
        return self.taken > 0 and self.taken % self.every == 0 and len(self.noted) < self.taken // self.every

    def stop(self, *, index: int, total: int) -> None:
        self.noted.append(ZipCursor(index=index, total=total))


def list_zip(first: Part) -> list[Part]:
    """All the parts of a zip archive, found by one read of it (a cluster's first pass; nothing decoded).

    The members are read (decompressed) once, as a whole read does, so each
    part begins with the bytes counted against the archive's cap before it,
    as when the parts follow one another; they can then be read side by side.
    """
    size = first.hi - first.lo
    rules = ZipArchive(Path(first.path), limits=first.options.get("limits", ArchiveLimits()))
    cursor = _NotingCursor(size)
    for _item, _member in rules._entries(read_audio=True, cursor=cursor):
        cursor.taken += 1
    starts = [first.start or ZipCursor(), *cursor.noted]
    return [replace(first, lo=k * size, hi=(k + 1) * size, start=start, options={**first.options, "listed": True})
            for k, start in enumerate(starts)]


def list_tar(first: Part) -> list[Part]:
    """All the parts of a tar shard, found by one read of it without its audio (a cluster's first pass).

    ``first`` is the shard's first part (:func:`parts_of`); the parts have
    its size and begin where the whole read's samples at ``hi - lo``,
    ``2 (hi - lo)``, ... begin, so they can be read side by side, each
    stopping where the next begins (``options["listed"]``).  A sample whose
    key an earlier sample of the shard has is given the whole read's id in
    ``options["renamed"]`` (seq -> id), since a part read from its offset
    does not know the keys before it.
    """
    size = first.hi - first.lo
    rules = WebDataset([Path(first.path)], spec=first.path, name="", limits=first.options.get("limits", ArchiveLimits()))
    reading = ShardRead(rules, Path(first.path), first.rel, read_audio=False, max_samples=SHARD_STRIDE - 1, cut=size)
    renamed: dict[int, dict[int, str]] = {}
    for entry in reading.entries():
        if entry.key is not None and entry.item.item_id != f"{first.rel}#{entry.key}":
            renamed.setdefault(entry.position // size, {})[first.seq(entry.position)] = entry.item.item_id
    starts = [TarStart(), *reading.starts]
    return [replace(first, lo=k * size, hi=(k + 1) * size, start=start,
                    options={**first.options, "listed": True, "renamed": renamed.get(k, {})})
            for k, start in enumerate(starts)]
