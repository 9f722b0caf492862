"""Limits and safety rules shared by the tar and zip readers.

Archives are read in memory, member by member; nothing is ever written to
the file system (no ``extract``), so a hostile archive cannot place a file
anywhere.  Members that would be dangerous to a program that does extract
(absolute names, ``..`` components, links, device files and fifos) are
refused anyway, with an item error, because a dataset that holds them is
not what it claims to be.  :class:`ArchiveLimits` bounds what is
decompressed, so that a decompression bomb costs bounded time and memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO

from consentry.io.sources.items import format_bytes

__all__ = ["ArchiveLimits", "ArchiveLimitError", "unsafe_name_reason", "member_key", "GuardedStream"]

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what is read from one archive (a tar shard or a zip file).

    Attributes
    ----------
    max_member_bytes : int, default 512 MiB
        Largest member read (bytes, uncompressed); larger members are
        refused.
    max_ratio : float, default 200.0
        Largest compression ratio (uncompressed / compressed) accepted: for
        a zip member, declared and while decompressing; for a compressed tar
        shard, of the stream read so far.
    max_total_bytes : int, default 64 GiB
        Most bytes decompressed from one archive; past it, the rest of the
        archive is refused.
    ratio_floor_bytes : int, default 1 MiB
        The ratio is not checked below this many uncompressed bytes (a
        short silent clip compresses very well and is harmless).
    """

    max_member_bytes: int = 512 * 1024 * 1024
    max_ratio: float = 200.0
    max_total_bytes: int = 64 * 1024 ** 3
    ratio_floor_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_member_bytes < 0 or self.max_total_bytes < 0 or self.ratio_floor_bytes < 0:
            raise ValueError("ArchiveLimits: byte limits must be >= 0")
        if not self.max_ratio >= 1:
            raise ValueError("ArchiveLimits.max_ratio must be >= 1")

    def ratio_exceeded(self, *, uncompressed: int, compressed: int) -> bool:
        """Whether ``uncompressed`` bytes from ``compressed`` bytes break the ratio cap."""
        return uncompressed > self.ratio_floor_bytes and uncompressed > self.max_ratio * max(compressed, 0)


class ArchiveLimitError(Exception):
    """Reading an archive went past one of its :class:`ArchiveLimits`."""


def unsafe_name_reason(name: str) -> str | None:
    """Why a member name is unsafe to extract, or None when it is safe.

    Parameters
    ----------
    name : str
        The member's name as stored in the archive (``/`` or ``\\``
        separators).

    Returns
    -------
    str or None
        ``"absolute path"``, ``"path leaves the archive"`` (a ``..``
        component) or ``"empty name"``.
    """
    if not name or name.strip("/\\") == "":
        return "empty name"
    if "\x00" in name:
        return "name holds a NUL byte"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "path leaves the archive"
    return None


def member_key(name: str) -> tuple[str, str]:
    """WebDataset's split of a member name into sample key and extension.

    The key is the name up to the first dot of its last component, the
    extension the rest with its dot: ``"dir/0001.seg.flac"`` gives
    ``("dir/0001", ".seg.flac")``.  A last component without a dot is all
    key.
    """
    folder, _, base = name.rpartition("/")
    stem, dot, extension = base.partition(".")
    key = f"{folder}/{stem}" if folder else stem
    return key, (dot + extension)


class GuardedStream:
    """A binary reader that counts and caps what an archive decompresses to.

    Parameters
    ----------
    inner : binary file
        Reader of the uncompressed bytes (a ``GzipFile``, or the raw file).
    raw : CountingReader or None
        The compressed file beneath ``inner``, whose ``count`` is the
        compressed bytes read; None when the archive is not compressed.
    limits : ArchiveLimits
        ``max_total_bytes`` and the ratio cap are enforced on every read.

    Raises
    ------
    ArchiveLimitError
        From :meth:`read`, once the output passes ``max_total_bytes`` or
        the stream's ratio passes ``max_ratio``; and once the stream has
        ended and is still read from, again and again: ``tarfile`` in
        stream mode skips a member by reading up to its declared size, so a
        forged size field (8 GiB, or 10**14 in a PAX header) at the end of a
        shard would otherwise keep it reading nothing for hours.
    """

    #: Reads that return nothing, in a row, before the stream is taken to be skipped past its end.
    MAX_EMPTY_READS = 64

    def __init__(self, inner: BinaryIO, raw: "CountingReader | None", *, limits: ArchiveLimits) -> None:
        self.inner = inner
        self.raw = raw
        self.limits = limits
        self.count = 0
        self.empty_reads = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1024 * 1024
        data = self.inner.read(size)
        if size and not data:
            self.empty_reads += 1
            if self.empty_reads > self.MAX_EMPTY_READS:
                raise ArchiveLimitError("the archive ends inside a member whose header declares more data "
                                        "(a corrupt or forged size field)")
        else:
            self.empty_reads = 0
        self.count += len(data)
        if self.count > self.limits.max_total_bytes:
            raise ArchiveLimitError(
                f"decompresses to more than the {format_bytes(self.limits.max_total_bytes)} archive limit")
        if self.raw is not None and self.limits.ratio_exceeded(uncompressed=self.count, compressed=self.raw.count):
            raise ArchiveLimitError(
                f"compressed data expands more than {self.limits.max_ratio:g}:1 (a decompression bomb?)")
        return data

    def close(self) -> None:
        """Nothing to do: the caller closes the files beneath."""


class CountingReader:
    """A binary reader that counts the bytes read from ``raw``."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to do: the caller closes ``raw``."""
