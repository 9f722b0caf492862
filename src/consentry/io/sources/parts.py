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
one can be resumed on the other.  Other datasets (folders, CSV and JSONL
manifests, text datasets) keep one sequence over the dataset
(:data:`SEQUENTIAL`); their items are read by the driver, as before.

A tar shard cannot be cut at a byte offset without reading it from the
start, so its parts follow one another: the outcome of one part says where
the next begins (:class:`TarStart`: the byte offset of its first member in
an uncompressed shard, which the next part seeks to; a compressed shard is
decompressed from its start again and the earlier samples are passed over
unread), and which sample keys it met (:class:`ShardKeys`).  A zip's parts
follow one another too (:class:`ZipCursor`).  Parquet parts are independent
(row ranges of row groups).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from consentry.domain.seqset import SHARD_STRIDE  # positions per shard: seq = shard × SHARD_STRIDE + position
from consentry.io.sources.archives import (
    ArchiveLimitError, ArchiveLimits, CountingReader, GuardedStream, member_key, unsafe_name_reason,
)
from consentry.io.sources.fetch import FetchJob, FetchOptions
from consentry.io.sources.items import Dataset, DatasetItem
from consentry.io.sources.manifest import ParquetManifest
from consentry.io.sources.webdataset import (
    _END_OK, WebDataset, _decompressing_reader, _hidden, _reason, _SafeTarInfo, _Sample,
)
from consentry.io.sources.ziparchive import ZipArchive

__all__ = ["SHARD_STRIDE", "SEQUENTIAL", "PER_SHARD", "Part", "TarStart", "ZipCursor", "PartReading", "ShardKeys",
           "numbering_of", "numbered_items", "parts_of", "read_part"]

#: Item numberings: one sequence over the dataset, or per shard (stored in the scan's options as ``numbering``).
SEQUENTIAL = "sequential"
PER_SHARD = "shard"
#: Samples (tar) or rows (Parquet) in one part handed to a worker.
PART_ITEMS = 16


@dataclass(frozen=True)
class TarStart:
    """Where a part of a tar shard begins.

    Attributes
    ----------
    ordinal : int
        Position of the part's first sample in the shard.
    offset : int or None
        Byte offset of the member that begins it (uncompressed shards), to
        seek to; None: read the shard from its start (compressed shards,
        shards with a pax global header).
    member_index : int
        Index (among all the shard's members) of the member before it.
    last_member : str or None
        The name of the member before it (named in error messages).
    """

    ordinal: int = 0
    offset: int | None = 0
    member_index: int = -1
    last_member: str | None = None


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

    ``kind`` is ``"tar"``, ``"zip"`` or ``"parquet"``; ``rel`` is the shard's name in
    item ids (tar); ``start`` where a tar part begins (a zip part: a :class:`ZipCursor`); ``group`` and
    ``group_start`` the Parquet row group and its first row; ``options`` the
    reader's settings (limits, column, downloads).
    """

    kind: str
    shard_no: int
    path: str
    lo: int
    hi: int
    rel: str = ""
    start: TarStart | ZipCursor | None = None
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
    """The item numbering a new scan of ``ds`` uses: :data:`PER_SHARD` for tar shards, zips and Parquet files.

    (A zip archive is one shard: its per-shard numbering is the single sequence it always had.)
    """
    return PER_SHARD if isinstance(ds, (WebDataset, ParquetManifest, ZipArchive)) else SEQUENTIAL


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
    else:
        raise ValueError(f"{ds.kind} datasets are not numbered per shard")


def parts_of(ds: Dataset, *, items_per_part: int | None = None) -> Iterator[Part] | None:
    """The parts a cluster's workers read ``ds`` in, or None when the driver reads it (see the module docstring).

    For tar shards, the first part of each shard (the next ones come from
    :attr:`PartReading.next`); for a Parquet file, every part.  Read lazily:
    the driver holds one shard's listing at a time.
    """
    items_per_part = items_per_part or PART_ITEMS
    if isinstance(ds, WebDataset):
        return (Part("tar", shard_no, str(shard), 0, items_per_part, rel=ds._relative(shard), start=TarStart(),
                     options={"limits": ds.limits})
                for shard_no, shard in enumerate(ds.shards))
    if isinstance(ds, ZipArchive):
        return iter([Part("zip", 0, str(ds.path), 0, items_per_part, start=ZipCursor(), options={"limits": ds.limits})])
    if isinstance(ds, ParquetManifest):
        return _parquet_parts(ds, items_per_part)
    return None


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
        if cursor.stopped:
            self.next = replace(part, lo=part.hi, hi=part.hi + (part.hi - part.lo),
                                start=ZipCursor(index=cursor.index, total=cursor.total))


class _TarPart:
    """The samples ``[lo, hi)`` of one tar shard, grouped exactly as :class:`WebDataset` groups them.

    ``rules`` (a :class:`WebDataset`) refuses members, takes the audio and
    counts what is skipped, so every rule is the reader's own; this class
    only adds where to begin and where to stop.  After :meth:`read`,
    ``next`` is the shard's next part, or None at its end.
    """

    def __init__(self, part: Part, rules: WebDataset, *, read_audio: bool = True) -> None:
        self.part = part
        self.rules = rules
        self.read_audio = read_audio
        self.next: Part | None = None
        self.keys: list[tuple[int, str, str]] = []  # (seq, sample key, id if the key was met before)

    def read(self, wanted: Callable[[int], bool]) -> Iterator[tuple[int, DatasetItem]]:
        part, start = self.part, self.part.start or TarStart()
        shard = Path(part.path)
        position = start.ordinal
        asked = wanted
        wanted = lambda p: p >= part.lo and asked(p)  # noqa: E731 - nothing before the part is its own

        def shard_error(reason: str):
            return part.seq(position), DatasetItem(item_id=part.rel, name=str(shard), error=reason)

        if not shard.is_file():
            if wanted(position):
                yield shard_error("shard not found" if not shard.exists() else "shard is not a regular file")
            return
        try:
            raw = open(shard, "rb")
        except OSError as exc:
            if wanted(position):
                yield shard_error(f"cannot read shard ({exc.strerror or exc})")
            return
        seek = bool(start.offset)
        with raw:
            try:
                if seek:
                    raw.seek(start.offset)
                    stream = GuardedStream(CountingReader(raw), None, limits=self.rules.limits)
                    stream.count = start.offset
                else:
                    stream = _decompressing_reader(raw, limits=self.rules.limits)
                tar = tarfile.open(fileobj=stream, mode="r|", tarinfo=_SafeTarInfo)
            except ArchiveLimitError as exc:
                if wanted(position):
                    yield shard_error(f"refused the shard: {exc}")
                return
            except Exception as exc:  # any failure to read the first header: not a tar
                if wanted(position):
                    yield shard_error(f"not a readable tar shard ({_reason(exc)})")
                return
            # from the shard's start (compressed), positions count from 0; the earlier ones are passed over
            state = {"position": position if seek else 0, "last": start.last_member if seek else None}
            try:
                yield from self._samples(tar, stream, state, wanted, base=start.offset if seek else 0, seek=seek)
            except ArchiveLimitError as exc:
                position = state["position"]
                self.next = None
                if wanted(position):
                    yield shard_error(f"refused the rest of the shard at member '{state['last']}': {exc}")
                return
            except Exception as exc:  # truncated or corrupt data, in whatever layer it shows
                position = state["position"]
                self.next = None
                where = f"at member '{state['last']}'" if state["last"] else "at its start"
                if wanted(position):
                    yield shard_error(f"truncated or corrupt tar shard {where} ({_reason(exc)}); rest of shard not read")
                return
            if self.next is not None:
                return
            position = state["position"]
            end = getattr(tar, "consentry_end", _END_OK)
            if end != _END_OK and wanted(position):
                where = f"after member '{state['last']}'" if state["last"] else "at its start"
                yield shard_error(f"truncated or corrupt tar shard {where}: {end}")

    def _samples(self, tar: tarfile.TarFile, stream: GuardedStream, state: dict, wanted: Callable[[int], bool], *,
                 base: int, seek: bool) -> Iterator[tuple[int, DatasetItem]]:
        """Group consecutive members by key (as ``WebDataset._samples``), from the part's start to its end."""
        part, rules = self.part, self.rules
        start = part.start or TarStart()
        index = start.member_index if seek else -1
        seen: set[str] = set()  # from a byte offset: this part's keys only; the driver knows the earlier ones
        sample_index = -1
        handled_before = -1 if seek else start.member_index  # members an earlier part counted already
        sample: _Sample | None = None

        def finish(done: _Sample) -> Iterator[tuple[int, DatasetItem]]:
            position = state["position"]
            if part.lo <= position:
                self.keys.append((part.seq(position), done.key, f"{part.rel}#{done.key}@{sample_index}"))
            if part.lo <= position and wanted(position):
                yield part.seq(position), done.item()
            state["position"] = position + 1

        while True:
            member = tar.next()
            tar.members.clear()  # stream mode would keep every header: memory must stay flat
            if member is None:
                break
            index += 1
            state["last"] = member.name
            if member.isdir():
                continue
            key, extension = member_key(member.name)
            if sample is not None and key != sample.key:
                yield from finish(sample)
                sample = None
                if state["position"] >= part.hi:
                    seekable = stream.raw is None and not tar.pax_headers
                    self.next = replace(part, lo=part.hi, hi=part.hi + (part.hi - part.lo), start=TarStart(
                        ordinal=state["position"], offset=base + member.offset if seekable else None,
                        member_index=index - 1, last_member=member.name))
                    return
            if sample is None:
                if _hidden(member.name) and unsafe_name_reason(member.name) is None:
                    if index > handled_before:
                        rules._skip("hidden member (name starts with '.')")
                    continue
                if state["position"] >= SHARD_STRIDE - 1:
                    raise ArchiveLimitError(f"the shard holds more than {SHARD_STRIDE - 1} samples; split it")
                item_id = f"{part.rel}#{key}" if key not in seen else f"{part.rel}#{key}@{index}"
                seen.add(key)
                sample_index = index
                sample = _Sample(key=key, item_id=item_id, first_member=member.name)
            sample.extensions.append(extension)
            refusal = rules._refusal(member)
            if refusal is not None:
                if sample.refusal is None:
                    sample.refusal = f"refused tar member '{member.name}': {refusal} (shard {part.rel})"
                continue
            if sample.refusal is None and not sample.audio_by_extension:
                position = state["position"]
                read = self.read_audio and part.lo <= position < part.hi and wanted(position)
                rules._take_audio(tar, member, sample, read_audio=read)
        if sample is not None:
            yield from finish(sample)
