"""Zip archives: one item per audio member, with zip-bomb defences.

Members are read in archive order (the central directory's), in memory,
never extracted.  Besides the rules every archive follows (see
:mod:`consentry.io.sources.archives`), a zip member is refused when:

* its declared ratio (uncompressed / compressed size) is over
  ``max_ratio`` (for members over ``ratio_floor_bytes``);
* its data overlaps another member's (the "overlapping files" bomb, where
  many entries share one compressed stream);
* its name repeats an earlier member's (two entries, one name: which one a
  tool reads is up to the tool).

While decompressing, the member, ratio and archive caps are enforced again
on the bytes actually produced, because declared sizes can lie.  Encrypted
members and unsupported compression methods are item errors.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Callable, Iterator

from consentry.io.decode.audio import AUDIO_EXTENSIONS
from consentry.domain.errors import InputError
from consentry.io.sources.archives import ArchiveLimitError, ArchiveLimits, unsafe_name_reason
from consentry.io.sources.items import Dataset, DatasetItem, atomic_output, format_bytes
from consentry.formats.sniff import SNIFF_BYTES, is_audio_media, sniff_media
from consentry.io.sources.items import other_media_extensions

__all__ = ["ZipArchive"]

#: Read unit (bytes) while decompressing a member.
_CHUNK = 1024 * 1024
#: Size of a zip local file header without its name and extra field (bytes).
_LOCAL_HEADER_BYTES = 30


class _Refused(Exception):
    """A member went past a cap while it was decompressed."""


class ZipArchive(Dataset):
    """A zip archive of audio files (``kind="zip"``).

    Parameters
    ----------
    path : Path
        The archive.
    limits : ArchiveLimits
        Caps for the archive and each member.

    Raises
    ------
    InputError
        If the archive cannot be opened (no central directory: not a zip,
        or truncated).

    Notes
    -----
    ``item_id`` is ``"<zip file name>#<member name>"``.  Members without an
    audio suffix are counted in ``skipped``; members without any suffix are
    taken when their content sniffs as audio.
    """

    kind = "zip"

    def __init__(self, path: Path, *, limits: ArchiveLimits) -> None:
        super().__init__(spec=str(path), name=path.stem)
        self.path = path
        self.limits = limits
        try:
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        except Exception as exc:  # BadZipFile, OSError, and whatever a damaged directory raises
            raise InputError(f"{path}: not a readable zip archive ({_reason(exc)}); check or re-create the file") from None

    def items(self) -> Iterator[DatasetItem]:
        self.skipped = {}
        for item, _member in self._entries(read_audio=True):
            yield item

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        """JSON lines ``{"id", "archive", "member"}`` of the kept members (archive path absolute)."""
        with self._counts_set_aside(), atomic_output(out_path, inputs=[self.path]) as handle:
            for item, member in self._entries(read_audio=False):
                if member is None or not keep(item.item_id):
                    continue
                record = {"id": item.item_id, "archive": str(self.path), "member": member}
                handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        return "jsonl"

    def _input_files(self) -> list[Path]:
        return [self.path]

    def _entries(self, *, read_audio: bool, cursor=None) -> Iterator[tuple[DatasetItem, str | None]]:
        """Items with their member names (None for an archive-level error).

        With ``cursor`` (:class:`consentry.io.sources.parts.ZipCursor`), reading begins at member
        ``cursor.index`` with ``cursor.total`` bytes counted against the archive's cap, and stops before
        the next member once ``cursor.full()``, leaving there the member and the count to go on from.
        """
        prefix = self.path.name
        try:
            archive = zipfile.ZipFile(self.path)
        except Exception as exc:
            yield DatasetItem(item_id=prefix, name=str(self.path),
                              error=f"not a readable zip archive ({_reason(exc)})"), None
            return
        with archive:
            infos = archive.infolist()
            overlapping = _overlapping(infos)
            first = cursor.index if cursor is not None else 0
            seen: set[str] = {i.filename for i in infos[:first] if not i.filename.endswith("/")}
            total = cursor.total if cursor is not None else 0
            for index, info in enumerate(infos):
                if index < first:
                    continue
                if cursor is not None and cursor.full():
                    cursor.stop(index=index, total=total)
                    if cursor.stopped:  # (a cursor that lists the archive notes the place and goes on)
                        return
                name = info.filename
                if name.endswith("/"):  # a folder (ZipInfo.is_dir() fails on an empty name)
                    continue
                item_id = f"{prefix}#{name}" if name not in seen else f"{prefix}#{name}@{index}"
                duplicate = name in seen
                seen.add(name)
                refusal = self._refusal(info, duplicate=duplicate, overlapping=index in overlapping)
                if refusal is not None:
                    yield DatasetItem(item_id=item_id, name=name,
                                      error=f"refused zip member '{name}': {refusal} (archive {prefix})"), name
                    continue
                base = name.rstrip("/").rpartition("/")[2]
                if base.startswith(".") or name.startswith("__MACOSX/"):
                    self._skip("hidden member (name starts with '.' or is in __MACOSX)")
                    continue
                if info.flag_bits & 0x1:
                    yield DatasetItem(item_id=item_id, name=name,
                                      error="encrypted zip member (needs a password; decrypt the archive first)"), name
                    continue
                extension = os.path.splitext(base)[1].lower()
                if extension and extension not in AUDIO_EXTENSIONS and extension not in other_media_extensions():
                    self._skip(f"not audio by extension ({extension})")
                    continue
                try:
                    if not extension:
                        head = self._attempt(archive, info, budget=self.limits.max_total_bytes - total,
                                             head_only=True)
                        if isinstance(head, str):
                            yield DatasetItem(item_id=item_id, name=name, error=head), name
                            continue
                        total += len(head)
                        media = sniff_media(head)
                        if not is_audio_media(media):
                            self._skip(f"no extension, not audio ({media})")
                            continue
                    if not read_audio:
                        yield DatasetItem(item_id=item_id, name=name, size=info.file_size), name
                        continue
                    data = self._attempt(archive, info, budget=self.limits.max_total_bytes - total, head_only=False)
                    if isinstance(data, str):
                        yield DatasetItem(item_id=item_id, name=name, error=data), name
                        continue
                    total += len(data)
                    yield DatasetItem(item_id=item_id, name=name, data=data, size=len(data)), name
                except ArchiveLimitError as exc:
                    yield DatasetItem(item_id=prefix, name=str(self.path),
                                      error=f"refused the rest of the archive at member '{name}': {exc}"), None
                    return

    def _attempt(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, budget: int,
                 head_only: bool) -> bytes | str:
        """The member's bytes (see :meth:`_read`), or the item error (str) when it cannot be read.

        Raises
        ------
        ArchiveLimitError
            When the archive's total cap is passed (the rest is not read).
        """
        try:
            return self._read(archive, info, budget=budget, head_only=head_only)
        except ArchiveLimitError:
            raise
        except _Refused as exc:
            return f"refused zip member '{info.filename}': {exc} (archive {self.path.name})"
        except Exception as exc:  # bad CRC, bad compressed data, unsupported method, truncation
            return f"cannot read zip member ({_reason(exc)})"

    def _refusal(self, info: zipfile.ZipInfo, *, duplicate: bool, overlapping: bool) -> str | None:
        """Why a member is refused from its directory entry, or None."""
        reason = unsafe_name_reason(info.filename)
        if reason is not None:
            return reason
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            return "symbolic link"
        if kind in (stat.S_IFCHR, stat.S_IFBLK):
            return "device file"
        if kind == stat.S_IFIFO:
            return "fifo"
        if kind == stat.S_IFSOCK:
            return "socket"
        if duplicate:
            return "another member has the same name"
        if overlapping:
            return "its data overlaps another member's (a zip bomb?)"
        limits = self.limits
        if info.file_size > limits.max_member_bytes:
            return f"{format_bytes(info.file_size)} is over the {format_bytes(limits.max_member_bytes)} member limit"
        if limits.ratio_exceeded(uncompressed=info.file_size, compressed=info.compress_size):
            ratio = info.file_size / max(info.compress_size, 1)
            return f"declared compression ratio {ratio:.0f}:1 is over the {limits.max_ratio:g}:1 limit (a zip bomb?)"
        return None

    def _read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, budget: int, head_only: bool) -> bytes:
        """A member's bytes (or its first :data:`SNIFF_BYTES`), caps enforced on what comes out."""
        limits = self.limits
        cap = limits.max_member_bytes
        chunks, produced = [], 0
        with archive.open(info) as handle:
            while True:
                want = SNIFF_BYTES - produced if head_only else _CHUNK
                if want <= 0:
                    break
                chunk = handle.read(want)
                if not chunk:
                    break
                produced += len(chunk)
                if produced > budget:
                    raise ArchiveLimitError(
                        f"decompresses to more than the {format_bytes(limits.max_total_bytes)} archive limit")
                if produced > cap:
                    raise _Refused(f"decompresses to more than the {format_bytes(cap)} member limit")
                if limits.ratio_exceeded(uncompressed=produced, compressed=info.compress_size):
                    raise _Refused(f"decompresses more than {limits.max_ratio:g}:1 (a zip bomb?)")
                chunks.append(chunk)
        return b"".join(chunks)


def _overlapping(infos: list[zipfile.ZipInfo]) -> set[int]:
    """Indices of members whose local header starts inside an earlier member's data."""
    order = sorted(range(len(infos)), key=lambda i: infos[i].header_offset)
    flagged: set[int] = set()
    end = -1
    for index in order:
        info = infos[index]
        if info.header_offset < end:
            flagged.add(index)
            continue
        try:
            name_bytes = len(info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"))
        except UnicodeEncodeError:
            name_bytes = len(info.orig_filename.encode("utf-8", "surrogateescape"))
        end = info.header_offset + _LOCAL_HEADER_BYTES + name_bytes + info.compress_size
    return flagged


def _reason(exc: BaseException) -> str:
    """A short one-line reason for an exception (control characters from the input become spaces)."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(exc)).split()) or type(exc).__name__
    return text[:200]
