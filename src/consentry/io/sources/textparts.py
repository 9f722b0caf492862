"""The reading loops of web crawl archives (WARC/WET) and text WebDataset shards, from any record (issue 20).

:class:`~consentry.io.sources.text.WarcDataset` and
:class:`~consentry.io.sources.text.TextWebDataset` read their files with
these loops, whole; a cluster's workers read them in parts
(:mod:`consentry.io.sources.parts`) with the same loops, begun at a
:class:`RecordStart` and stopped before the record at ``hi``.  So an
item's identity must not depend on what was read before its part: items
are numbered per file,

    seq = file number × SHARD_STRIDE + position,

where the position of a WARC record is its index among the file's
records (the ``n`` of its id ``<file>#record:<n>``), and that of a tar
member its index among the shard's members, counted whether or not it
gives an item (a request record, an image member, a directory).  The
file's own error, if any (the rest of it refused), comes at the position
of the record or member it stopped at.

Where a part may begin: at any WARC record (a ``.warc.gz`` holds one gzip
member per record; a file gzipped whole is refused by warcio at its
second record, so no part begins after its first), and at any member of
an uncompressed tar shard without global pax headers.  A compressed
shard is read in one part (:func:`~consentry.io.sources.parts.parts_of`).
"""

from __future__ import annotations

import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from consentry.domain.errors import InputError
from consentry.domain.seqset import SHARD_STRIDE
from consentry.io.sources.items import DatasetItem

__all__ = ["RecordStart", "WarcRead", "TextShardRead"]


@dataclass(frozen=True)
class RecordStart:
    """Where a part of a crawl archive or text shard begins: the byte ``offset`` of its first record (None:
    not seekable there, read from the file's start), that record's ``position``, and the bytes of the shard
    taken before it (``total``, counted against the archive's cap; tar only)."""

    offset: int | None = 0
    position: int = 0
    total: int = 0


def _one_line(exc: BaseException) -> str:
    """``exc``'s message on one line of printable characters (warcio quotes a damaged record's first bytes)."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(str(exc).split()))[:160]


class _Read:
    """What both loops share: the range ``[lo, hi)``, ``wanted``, and where the next part and noted parts begin."""

    def __init__(self, *, start: RecordStart | None, lo: int, hi: int | None, wanted: Callable[[int], bool] | None,
                 cut: int | None) -> None:
        self.start = start or RecordStart()
        self.lo, self.hi = lo, hi
        self._asked = wanted
        self.cut = cut
        self.next_start: RecordStart | None = None
        self.starts: list[RecordStart] = []

    def _wanted(self, position: int) -> bool:
        return self.lo <= position and (self._asked is None or self._asked(position))

    def _boundary(self, here: RecordStart) -> bool:
        """At a record's start: True when the part ends here (``next_start`` set); notes the cuts."""
        if self.hi is not None and here.position >= self.hi:
            self.next_start = here
            return True
        if self.cut and here.position > self.start.position and here.position % self.cut == 0:
            self.starts.append(here)
        return False


class WarcRead(_Read):
    """One read of a WARC/WET file: the items of its records at positions ``[lo, hi)``, from ``start``.

    Parameters
    ----------
    rules : WarcDataset
        Its ``_record_item`` makes each record's item (or skips it, counted in its ``skipped``).
    path : Path
    start : RecordStart, optional
        The offset and position of the first record read (default: the file's start).
    lo, hi : int
        Positions given (``hi`` None: to the file's end); the read stops at the record at ``hi``.
    wanted : callable, optional
        ``wanted(position)`` False: the record is read but its item not given (already scanned).
    cut : int, optional
        Note where every ``cut``-th record begins (``starts``: a listing of the file cut into parts).

    :meth:`entries` yields ``(position, item)``; after it, ``next_start`` is where the record at ``hi``
    begins (None: the file ended, or stopped, before it).
    """

    def __init__(self, rules, path: Path, *, start: RecordStart | None = None, lo: int = 0, hi: int | None = None,
                 wanted: Callable[[int], bool] | None = None, cut: int | None = None) -> None:
        super().__init__(start=start, lo=lo, hi=hi, wanted=wanted, cut=cut)
        self.rules, self.path = rules, path

    def _stop(self, position: int, reason: str) -> Iterator[tuple[int, DatasetItem]]:
        if self._wanted(position):
            yield position, DatasetItem(item_id=f"{self.path.name}#record:{position}", name=str(self.path),
                                        error=f"{self.path}: {reason}")

    def entries(self) -> Iterator[tuple[int, DatasetItem]]:
        path, start = self.path, self.start
        try:
            handle = open(path, "rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
        with handle:
            n = start.position
            size = os.fstat(handle.fileno()).st_size
            cut_short = False
            try:
                handle.seek(start.offset or 0)
                records = _quiet_iterator(handle)
                for record in records:
                    if n >= SHARD_STRIDE - 1:
                        raise InputError(f"more than {SHARD_STRIDE - 1:,} records; split the archive")
                    if self._boundary(RecordStart(records.offset, n)):
                        return
                    n += 1
                    item = self.rules._record_item(path, n - 1, record)
                    warned = records.err_count
                    records.read_to_end()  # (warcio's next step) counts a record not followed by a blank line
                    if records.err_count > warned and item is not None:
                        item = DatasetItem(item_id=item.item_id, name=item.name, error=f"{path}: record {n - 1} "
                                           "is not followed by a blank line (a wrong Content-Length?); not scanned")
                    elif _member_cut_short(records, handle, size):
                        cut_short = True
                        if item is not None:
                            item = DatasetItem(item_id=item.item_id, name=item.name, error=f"{path}: record {n - 1} "
                                               "is cut short: the archive ends inside its gzip member (truncated?)")
                    if item is not None and self._wanted(n - 1):
                        yield n - 1, item
            except Exception as exc:  # noqa: BLE001 - warcio fails with many types on damaged records: one line
                yield from self._stop(n, f"refused the rest of the archive at record {n} ({_one_line(exc)})")
                return
            if cut_short:
                yield from self._stop(n, f"the archive ends inside the gzip member of record {n - 1} (truncated?); "
                                         "the records before it were read")
            elif 0 <= records.offset < size:  # warcio ends quietly in a gzip member cut short
                yield from self._stop(n, f"the archive ends inside record {n}, {size - records.offset:,} bytes "
                                         "cut short (truncated?); the records before it were read")


def _member_cut_short(records, handle, size: int) -> bool:
    """Whether the record just read to its end is the last of a gzip file whose member ends before its gzip end
    (warcio reads such a record quietly, cut short)."""
    reader = records.reader
    decompressor = getattr(reader, "decompressor", None)
    if decompressor is None or not hasattr(decompressor, "eof") or handle.tell() < size or reader.rem_length():
        return False
    return not decompressor.eof


def _quiet_iterator(handle):
    """warcio's ``ArchiveIterator`` over ``handle`` from where it stands, without the multi-line warning warcio
    writes to stderr for a record not followed by a blank line (a bad Content-Length: the next record then
    fails, as a one-line error)."""
    from warcio.archiveiterator import ArchiveIterator

    class Quiet(ArchiveIterator):
        INC_RECORD = ""

    return Quiet(handle)


class TextShardRead(_Read):
    """One read of a text WebDataset shard: the items of its members at positions ``[lo, hi)``, from ``start``.

    ``rules`` (a :class:`~consentry.io.sources.text.TextWebDataset`) gives the limits and reads a ``.json``
    member's text; the other parameters and attributes are :class:`WarcRead`'s.  A start without an offset
    (a shard not seekable there) reads the shard from its start, passing over the members before ``lo``.
    The shard is read through the WebDataset reader's guards (``GuardedStream``: the total and ratio caps,
    and a forged member size that would keep tarfile skipping nothing for hours; ``_SafeTarInfo``:
    oversized extended headers, a shard cut at a header).
    """

    def __init__(self, rules, shard: Path, *, start: RecordStart | None = None, lo: int = 0, hi: int | None = None,
                 wanted: Callable[[int], bool] | None = None, cut: int | None = None) -> None:
        super().__init__(start=start, lo=lo, hi=hi, wanted=wanted, cut=cut)
        self.rules, self.shard = rules, shard

    def _stop(self, position: int, reason: str) -> Iterator[tuple[int, DatasetItem]]:
        if self._wanted(position):
            yield position, DatasetItem(item_id=f"{self.shard.name}#", name=str(self.shard),
                                        error=f"{self.shard}: {reason}")

    def entries(self) -> Iterator[tuple[int, DatasetItem]]:
        from consentry.io.sources.archives import ArchiveLimitError, CountingReader, GuardedStream
        from consentry.io.sources.text import DOCUMENT_SUFFIXES
        from consentry.io.sources.webdataset import _END_OK, _decompressing_reader, _reason, _SafeTarInfo

        shard, rules = self.shard, self.rules
        start = self.start if self.start.offset else RecordStart()
        position, total = start.position, start.total
        try:
            raw = open(shard, "rb")
        except OSError as exc:
            yield from self._stop(position, f"not a readable tar shard ({exc.strerror or exc})")
            return
        with raw:
            try:
                if start.offset:
                    raw.seek(start.offset)
                    stream = GuardedStream(CountingReader(raw), None, limits=rules.limits)
                    stream.count = start.offset
                else:
                    stream = _decompressing_reader(raw, limits=rules.limits)
                tar = tarfile.open(fileobj=stream, mode="r|", tarinfo=_SafeTarInfo)
            except ArchiveLimitError as exc:
                yield from self._stop(position, f"refused the shard: {exc}")
                return
            except Exception as exc:  # noqa: BLE001 - any failure to read the first header: not a tar
                yield from self._stop(position, f"not a readable tar shard ({_reason(exc)})")
                return
            seekable = stream.raw is None  # an uncompressed stream
            base = start.offset or 0
            with tar:
                try:
                    while True:
                        member = tar.next()
                        tar.members.clear()  # stream mode would keep every header: memory must stay flat
                        if member is None:
                            end = getattr(tar, "consentry_end", _END_OK)
                            if end != _END_OK:
                                yield from self._stop(position, f"refused the rest of the shard ({end})")
                            return
                        if position >= SHARD_STRIDE - 1:
                            raise tarfile.TarError(f"more than {SHARD_STRIDE - 1:,} members; split the shard")
                        offset = base + member.offset if seekable and not tar.pax_headers else None
                        if position >= self.lo and self._boundary(RecordStart(offset, position, total)):
                            return
                        position += 1
                        here = position - 1
                        if not member.isfile():
                            continue
                        suffix = os.path.splitext(member.name)[1].lower()
                        if suffix not in DOCUMENT_SUFFIXES and suffix != ".json":
                            if here >= self.lo:
                                rules._skip(f"not text by extension ({suffix or 'none'})")
                            continue
                        item_id = f"{shard.name}#{member.name}"
                        limits = rules.limits
                        if member.size > limits.max_member_bytes or total + member.size > limits.max_total_bytes:
                            if self._wanted(here):
                                yield here, DatasetItem(item_id=item_id, name=member.name, error=f"{member.name}: "
                                                        f"{member.size:,} bytes is over the archive limits")
                            continue
                        fh = tar.extractfile(member)
                        data = fh.read(member.size + 1) if fh is not None else b""
                        total += len(data)
                        if not self._wanted(here):
                            continue
                        if suffix == ".json":
                            yield here, rules._json_member(item_id, member.name, data)
                        else:
                            yield here, DatasetItem(item_id=item_id, name=member.name, data=data, size=len(data))
                except ArchiveLimitError as exc:
                    yield from self._stop(position, f"refused the rest of the shard: {exc}")
                except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                    yield from self._stop(position, f"refused the rest of the shard ({_reason(exc)})")
