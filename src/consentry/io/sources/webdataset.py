"""WebDataset tar shards: one item per sample, read as a stream.

A WebDataset is a list of tar files ("shards"); consecutive members that
share a key (the member path up to the first dot of its last component) form
one sample: ``dir/0001.flac`` and ``dir/0001.json`` are the sample
``dir/0001``.  Each sample yields one item, its audio member: the first
member with an audio suffix, else the first whose content sniffs as audio.

Shards are read front to back (``tarfile`` stream mode over a decompressing
reader), never loaded whole, never extracted.  A gzip, bzip2 or xz shard is
decompressed by the standard library behind a :class:`GuardedStream` that
enforces the archive's total and ratio caps on every read.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from consentry.io.decode.audio import AUDIO_EXTENSIONS
from consentry.io.sources.archives import (
    ArchiveLimitError, ArchiveLimits, CountingReader, GuardedStream, member_key, unsafe_name_reason,
)
from consentry.io.sources.items import Dataset, DatasetItem, atomic_output, format_bytes
from consentry.formats.sniff import SNIFF_BYTES, is_audio_media, sniff_media
from consentry.io.sources.items import other_media_extensions

__all__ = ["WebDataset", "ShardRead", "TarStart", "TAR_SUFFIXES", "is_tar_name", "shard_stem"]

#: Shard file suffixes read (lower case).
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
#: Memory an xz shard's decoder may use (bytes); real encoders need far less.
_XZ_MEMLIMIT = 256 * 1024 * 1024
#: Read unit (bytes) for members.
_CHUNK = 1024 * 1024
_HEADER_LIMIT = 1024 * 1024
_LONG_HEADER_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                      tarfile.SOLARIS_XHDTYPE)
_END_OK = "end-of-archive marker"


def is_tar_name(path: str | os.PathLike) -> bool:
    """Whether a file name has a tar shard suffix (:data:`TAR_SUFFIXES`)."""
    return os.fspath(path).lower().endswith(TAR_SUFFIXES)


def shard_stem(path: str | os.PathLike) -> str:
    """A shard's name without its tar suffix: ``train-000.tar.gz`` gives ``train-000``."""
    name = os.path.basename(os.fspath(path))
    for suffix in TAR_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


class _SafeTarInfo(tarfile.TarInfo):
    """A ``TarInfo`` that refuses oversized extended headers and notes how the archive ended.

    ``tarfile`` reads a pax or GNU long-name header's payload whole; a
    hostile header could claim gigabytes.  ``tarfile`` also ends iteration
    silently on a header cut short; recording which header error ended it
    tells a clean end (a zero block) from a truncated shard.
    """

    @classmethod
    def fromtarfile(cls, tar):
        try:
            return super().fromtarfile(tar)
        except tarfile.EOFHeaderError:
            tar.consentry_end = _END_OK
            raise
        except (tarfile.EmptyHeaderError, tarfile.TruncatedHeaderError):
            tar.consentry_end = "the shard ends without an end-of-archive marker (truncated?)"
            raise
        except tarfile.InvalidHeaderError as exc:
            tar.consentry_end = f"invalid tar header ({exc})"
            raise

    def _proc_member(self, tar):
        if self.type in _LONG_HEADER_TYPES and self.size > _HEADER_LIMIT:
            raise tarfile.ReadError(f"extended header of {format_bytes(self.size)} refused")
        return super()._proc_member(tar)


@dataclass
class _Sample:
    """Members of one sample seen so far."""

    key: str
    item_id: str
    first_member: str
    extensions: list[str] = field(default_factory=list)
    refusal: str | None = None
    audio_name: str | None = None
    audio_data: bytes | None = None
    audio_by_extension: bool = False

    def item(self) -> DatasetItem:
        if self.refusal is not None:
            return DatasetItem(item_id=self.item_id, name=self.first_member, error=self.refusal)
        if self.audio_name is None:
            listed = ", ".join(dict.fromkeys(ext or "(no extension)" for ext in self.extensions))
            return DatasetItem(item_id=self.item_id, name=self.first_member, error=f"not audio (members: {listed})")
        size = len(self.audio_data) if self.audio_data is not None else None
        return DatasetItem(item_id=self.item_id, name=self.audio_name, data=self.audio_data, size=size)


@dataclass(frozen=True)
class TarStart:
    """Where a read of a tar shard begins (a whole read: the defaults).

    Attributes
    ----------
    ordinal : int
        Position of the first sample to read among the shard's samples.
    offset : int or None
        Byte offset of the member that begins it in an uncompressed shard,
        to seek to; 0 or None: read the shard from its start, passing over
        the samples before ``ordinal`` unread (compressed shards, shards
        with a pax global header).
    member_index : int
        Index (among all the shard's members) of the member before it.
    last_member : str or None
        The name of the member before it (named in error messages).
    """

    ordinal: int = 0
    offset: int | None = 0
    member_index: int = -1
    last_member: str | None = None


@dataclass(frozen=True)
class _Entry:
    """A sample (or a shard-level error) with where it came from: its position among the shard's samples."""

    item: DatasetItem
    shard: Path
    key: str | None
    member: str | None
    position: int = 0


class WebDataset(Dataset):
    """WebDataset tar shards (``kind="webdataset"``).

    Parameters
    ----------
    shards : list of Path
        The shard files in order (missing ones become item errors).
    spec : str
        The path or pattern as given, made absolute.
    name : str
        Short name for people.
    limits : ArchiveLimits
        Caps per shard.

    Notes
    -----
    ``item_id`` is ``"<shard path relative to the shards' common folder>#<key>"``
    (a key repeated later in the same shard gets ``"@<member index>"``
    appended); a shard-level problem (missing, not a tar, truncated, over a
    limit) is one item whose id is the shard's relative path alone.
    """

    kind = "webdataset"

    def __init__(self, shards: list[Path], *, spec: str, name: str, limits: ArchiveLimits) -> None:
        super().__init__(spec=spec, name=name)
        self.shards = list(shards)
        self.limits = limits
        parents = [str(path.parent) for path in self.shards]
        self._root = os.path.commonpath(parents) if parents else ""

    def items(self) -> Iterator[DatasetItem]:
        self.skipped = {}
        for entry in self._entries(read_audio=True):
            yield entry.item

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        """JSON lines ``{"id", "shard", "key", "member"}`` of the kept samples (shard paths absolute)."""
        with self._counts_set_aside(), atomic_output(out_path, inputs=self.shards) as handle:
            for entry in self._entries(read_audio=False):
                if entry.key is None or not keep(entry.item.item_id):
                    continue
                record = {"id": entry.item.item_id, "shard": str(entry.shard), "key": entry.key,
                          "member": entry.member}
                handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        return "jsonl"

    def _input_files(self) -> list[Path]:
        return list(self.shards)

    def _relative(self, shard: Path) -> str:
        return Path(os.path.relpath(shard, self._root)).as_posix() if self._root else shard.name

    def _entries(self, *, read_audio: bool) -> Iterator[_Entry]:
        for shard in self.shards:
            yield from self._shard_entries(shard, read_audio=read_audio)

    def _shard_entries(self, shard: Path, *, read_audio: bool) -> Iterator[_Entry]:
        """The samples of one shard, then at most one shard-level error."""
        return ShardRead(self, shard, self._relative(shard), read_audio=read_audio).entries()

    def _refusal(self, member: tarfile.TarInfo) -> str | None:
        """Why a member is refused, or None."""
        reason = unsafe_name_reason(member.name)
        if reason is not None:
            return reason
        if member.issym():
            return f"symbolic link (to '{member.linkname}')"
        if member.islnk():
            return f"hard link (to '{member.linkname}')"
        if member.ischr() or member.isblk():
            return "device file"
        if member.isfifo():
            return "fifo"
        if not member.isreg():
            return f"unsupported member type {member.type!r}"
        if member.size > self.limits.max_member_bytes:
            return (f"{format_bytes(member.size)} is over the {format_bytes(self.limits.max_member_bytes)} "
                    "member limit")
        return None

    def _take_audio(self, tar: tarfile.TarFile, member: tarfile.TarInfo, sample: _Sample, *,
                    read_audio: bool) -> None:
        """Make ``member`` the sample's audio if it is audio (by suffix, else by content)."""
        by_extension = os.path.splitext(member.name)[1].lower() in (AUDIO_EXTENSIONS | other_media_extensions())
        if not by_extension and sample.audio_name is not None:
            return  # a sniffed audio member is already held; only a suffixed one replaces it
        handle = tar.extractfile(member)
        if handle is None:
            return
        if by_extension:
            sample.audio_name = member.name
            sample.audio_by_extension = True
            sample.audio_data = _read_all(handle, member.size) if read_audio else None
            return
        head = handle.read(min(SNIFF_BYTES, member.size))
        if is_audio_media(sniff_media(head)):
            sample.audio_name = member.name
            sample.audio_data = head + _read_all(handle, member.size - len(head)) if read_audio else None


class ShardRead:
    """One read of a tar shard: its samples at positions ``[lo, hi)``, from ``start``, grouped and judged by ``rules``.

    The whole read (:meth:`WebDataset.items`, the clean manifest) and a
    cluster worker's read of one part (``consentry.io.sources.parts``) are
    this same loop: a part begins at ``start`` (seeking to its byte offset
    in an uncompressed shard) and stops before the sample at ``hi``;
    ``rules`` (a :class:`WebDataset`) refuses members, takes the audio and
    counts what is skipped.

    Parameters
    ----------
    rules : WebDataset
        Limits and member rules; its ``skipped`` counts are added to.
    shard : Path
        The shard file.
    rel : str
        The shard's name in item ids.
    start : TarStart, optional
        Where to begin (default: the shard's start).
    lo, hi : int
        Positions of the samples read (``hi`` None: to the shard's end);
        earlier samples are passed over unread, and so is the shard's error
        when it comes at an earlier position.
    wanted : callable, optional
        ``wanted(position)``: False passes a sample over unread (already
        scanned); its entry is not given.
    read_audio : bool
        False lists samples without reading their audio bytes.
    max_samples : int, optional
        Samples a shard may hold; the rest of a larger shard is refused.
    cut : int, optional
        Note where every ``cut``-th sample begins (a listing of the shard
        cut into parts, read side by side by a cluster's workers).

    After :meth:`entries` is consumed, ``next_start`` is where the sample at
    ``hi`` begins (None: the shard ended before it), ``keys`` holds
    ``(position, key, member index)`` of every sample from ``lo``, read or not,
    and with ``cut``, ``starts`` where the samples at ``cut``, ``2 * cut``, ... begin.
    """

    def __init__(self, rules: "WebDataset", shard: Path, rel: str, *, start: TarStart | None = None, lo: int = 0,
                 hi: int | None = None, wanted: Callable[[int], bool] | None = None, read_audio: bool = True,
                 max_samples: int | None = None, cut: int | None = None) -> None:
        self.rules, self.shard, self.rel = rules, shard, rel
        self.cut = cut
        self.starts: list[TarStart] = []
        self.start = start or TarStart()
        self.lo, self.hi = lo, hi
        self._asked = wanted
        self.read_audio = read_audio
        self.max_samples = max_samples
        self.next_start: TarStart | None = None
        self.keys: list[tuple[int, str, int]] = []
        self._position = self.start.ordinal
        self._last = self.start.last_member

    def _wanted(self, position: int) -> bool:
        return position >= self.lo and (self._asked is None or self._asked(position))

    def _error(self, reason: str) -> Iterator[_Entry]:
        if self._wanted(self._position):
            yield _Entry(DatasetItem(item_id=self.rel, name=str(self.shard), error=reason), self.shard, None, None,
                         self._position)

    def entries(self) -> Iterator[_Entry]:
        """The wanted samples of the range, then the shard's own error if it falls in the range."""
        shard, start = self.shard, self.start
        if not shard.is_file():
            yield from self._error("shard not found" if not shard.exists() else "shard is not a regular file")
            return
        try:
            raw = open(shard, "rb")
        except OSError as exc:
            yield from self._error(f"cannot read shard ({exc.strerror or exc})")
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
                yield from self._error(f"refused the shard: {exc}")
                return
            except Exception as exc:  # any failure to read the first header: not a tar
                yield from self._error(f"not a readable tar shard ({_reason(exc)})")
                return
            if not seek:  # from the shard's start: positions count from 0, the earlier samples are passed over
                self._position, self._last = 0, None
            try:
                yield from self._samples(tar, stream, seek=seek)
            except ArchiveLimitError as exc:
                self.next_start = None
                yield from self._error(f"refused the rest of the shard at member '{self._last}': {exc}")
                return
            except Exception as exc:  # truncated or corrupt data, in whatever layer it shows
                self.next_start = None
                where = f"at member '{self._last}'" if self._last else "at its start"
                yield from self._error(f"truncated or corrupt tar shard {where} ({_reason(exc)}); rest of shard not read")
                return
            if self.next_start is not None:
                return
            end = getattr(tar, "consentry_end", _END_OK)
            if end != _END_OK:
                where = f"after member '{self._last}'" if self._last else "at its start"
                yield from self._error(f"truncated or corrupt tar shard {where}: {end}")

    def _samples(self, tar: tarfile.TarFile, stream: GuardedStream, *, seek: bool) -> Iterator[_Entry]:
        """Group consecutive members by key; one entry per wanted sample, up to the one at ``hi``."""
        rules, rel, start = self.rules, self.rel, self.start
        base = start.offset if seek else 0
        index = start.member_index if seek else -1
        handled_before = -1 if seek else start.member_index  # members an earlier part counted already
        seen_keys: set[str] = set()  # a key met again gets a distinct id (from an offset: the driver knows earlier ones)
        sample: _Sample | None = None
        sample_index = -1

        def finish(done: _Sample) -> Iterator[_Entry]:
            position = self._position
            if position >= self.lo:
                self.keys.append((position, done.key, sample_index))
                if self._wanted(position):
                    yield _Entry(done.item(), self.shard, done.key, done.audio_name or done.first_member, position)
            self._position = position + 1

        while True:
            member = tar.next()
            tar.members.clear()  # stream mode would keep every header: memory must stay flat
            if member is None:
                break
            index += 1
            self._last = member.name
            if member.isdir():
                continue
            key, extension = member_key(member.name)
            if sample is not None and key != sample.key:
                yield from finish(sample)
                sample = None
                at_hi = self.hi is not None and self._position >= self.hi
                if at_hi or (self.cut and self._position % self.cut == 0):
                    seekable = stream.raw is None and not tar.pax_headers
                    here = TarStart(ordinal=self._position, offset=base + member.offset if seekable else None,
                                    member_index=index - 1, last_member=member.name)
                    if at_hi:
                        self.next_start = here
                        return
                    self.starts.append(here)
            if sample is None:
                if _hidden(member.name) and unsafe_name_reason(member.name) is None:
                    if index > handled_before:
                        rules._skip("hidden member (name starts with '.')")
                    continue
                if self.max_samples is not None and self._position >= self.max_samples:
                    raise ArchiveLimitError(f"the shard holds more than {self.max_samples} samples; split it")
                item_id = f"{rel}#{key}" if key not in seen_keys else f"{rel}#{key}@{index}"
                seen_keys.add(key)
                sample_index = index
                sample = _Sample(key=key, item_id=item_id, first_member=member.name)
            sample.extensions.append(extension)
            refusal = rules._refusal(member)
            if refusal is not None:
                if sample.refusal is None:
                    sample.refusal = f"refused tar member '{member.name}': {refusal} (shard {rel})"
                continue
            if sample.refusal is None and not sample.audio_by_extension:
                rules._take_audio(tar, member, sample, read_audio=self.read_audio and self._wanted(self._position))
        if sample is not None:
            yield from finish(sample)


def _decompressing_reader(raw, *, limits: ArchiveLimits) -> GuardedStream:
    """A reader of the shard's uncompressed bytes, capped by ``limits``."""
    magic = raw.read(6)
    raw.seek(0)
    counting = CountingReader(raw)
    if magic[:2] == b"\x1f\x8b":
        return GuardedStream(gzip.GzipFile(fileobj=counting, mode="rb"), counting, limits=limits)
    if magic[:3] == b"BZh":
        return GuardedStream(bz2.BZ2File(counting), counting, limits=limits)
    if magic == b"\xfd7zXZ\x00":
        return GuardedStream(lzma.LZMAFile(counting, memlimit=_XZ_MEMLIMIT), counting, limits=limits)
    return GuardedStream(counting, None, limits=limits)


def _read_all(handle, size: int) -> bytes:
    """Read ``size`` bytes in chunks (the member size was checked against the cap)."""
    chunks, left = [], size
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            raise tarfile.ReadError("unexpected end of data")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _hidden(name: str) -> bool:
    """Whether the last component of a member name starts with a dot."""
    return name.rstrip("/").rpartition("/")[2].startswith(".")


def _reason(exc: BaseException) -> str:
    """A short one-line reason for an exception (control characters from the input become spaces)."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(exc)).split()) or type(exc).__name__
    return text[:200]
