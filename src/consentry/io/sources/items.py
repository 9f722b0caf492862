"""The item a dataset reader yields, and what every dataset reader has.

A :class:`DatasetItem` is one thing a training pipeline would read: a file in
a folder, a row of a manifest, a sample of a WebDataset shard, a member of a
zip archive.  It carries either a local path to read or the bytes themselves,
or, when it cannot be read, a one-line ``error``; a problem with one item
never stops the others.

:class:`Dataset` is the common face of the readers (``kind``, ``spec``,
``name``, ``skipped``, :meth:`Dataset.items`, :meth:`Dataset.write_clean_manifest`).
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from consentry.domain.errors import InputError
from consentry.io.heldfiles import refuse_held

__all__ = ["DatasetItem", "Dataset", "DEFAULT_MAX_ITEM_BYTES", "atomic_output", "format_bytes"]

#: Default cap (bytes) of :meth:`DatasetItem.read_bytes`: 512 MiB.
DEFAULT_MAX_ITEM_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class DatasetItem:
    """One item of a dataset.

    Attributes
    ----------
    item_id : str
        Stable id of the item within its dataset: the path relative to the
        folder (POSIX separators), ``"row:<n>"`` for the n-th data row of a
        manifest (0-based), ``"<shard>#<sample key>"`` for a WebDataset
        sample, ``"<zip name>#<member name>"`` for a zip member.
    name : str
        What to call the item when talking to a person: a file path, a URL,
        an archive member's name.
    path : Path or None
        A local file holding the item, to be read by the caller.
    data : bytes or None
        The item's bytes, when they were read already (archive members,
        bytes stored in a Parquet column, downloaded URLs).
    error : str or None
        One line saying why the item cannot be read; ``path`` and ``data``
        are then None.
    size : int or None
        Size of the item (bytes), when known.
    """

    item_id: str
    name: str
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    error: str | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        # A name that is not UTF-8 (a tar member or a file name, decoded with surrogate escapes; a lone
        # "\ud800" from JSON) can be neither stored in the registry nor printed: it failed a server scan job
        # with UnicodeEncodeError (fuzz campaign, issue 15). Such characters are kept as "\udcff" escapes.
        for attr in ("item_id", "name", "error"):
            value = getattr(self, attr)
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    object.__setattr__(self, attr, value.encode("utf-8", "backslashreplace").decode("utf-8"))

    def read_bytes(self, *, max_bytes: int = DEFAULT_MAX_ITEM_BYTES) -> bytes:
        """The item's bytes, read at most up to a cap.

        Parameters
        ----------
        max_bytes : int, default 512 MiB
            Refuse items larger than this (bytes); a file is never read
            further than ``max_bytes + 1`` bytes.

        Returns
        -------
        bytes
            ``data`` if the item holds its bytes, else the contents of
            ``path``.

        Raises
        ------
        InputError
            One line naming the item: if it has an ``error``, is larger than
            ``max_bytes``, or its file cannot be read.
        """
        if self.error is not None:
            raise InputError(f"{self.name}: {self.error}")
        if self.data is not None:
            if len(self.data) > max_bytes:
                raise InputError(
                    f"{self.name}: {format_bytes(len(self.data))} is over the {format_bytes(max_bytes)} limit; "
                    "raise the limit or drop the item"
                )
            return self.data
        if self.path is None:
            raise InputError(f"{self.name}: the item holds neither a path nor bytes")
        refuse_held(self.path, self.name)
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"{self.name}: cannot read ({exc.strerror or exc})") from None
        if len(data) > max_bytes:
            raise InputError(
                f"{self.name}: larger than the {format_bytes(max_bytes)} limit; raise the limit or drop the item"
            )
        return data


class Dataset:
    """A source of :class:`DatasetItem`, read in a stable order.

    Attributes
    ----------
    kind : str
        ``"folder"``, ``"file"``, ``"csv"``, ``"jsonl"``, ``"parquet"``,
        ``"webdataset"`` or ``"zip"``.
    spec : str
        The source as given, normalised (absolute paths).
    name : str
        A short name for people: the folder's, manifest's or archive's
        stem.
    skipped : dict of str to int
        Files (or members, or lines) not taken as items, counted by reason,
        e.g. ``{"not audio by extension (.txt)": 12}``.  Filled while
        :meth:`items` runs; reset when it starts again.
    """

    kind: str = ""

    def __init__(self, *, spec: str, name: str) -> None:
        self.spec = spec
        self.name = name
        self.skipped: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} kind={self.kind!r} spec={self.spec!r}>"

    def items(self) -> Iterator[DatasetItem]:
        """The items, one at a time, in a stable order.

        A generator: nothing is read ahead beyond a small, fixed window, so
        memory does not grow with the number of items.
        """
        raise NotImplementedError

    def write_clean_manifest(self, out_path: str | os.PathLike, *, keep: Callable[[str], bool]) -> str:
        """Write the dataset without the items that are dropped.

        Parameters
        ----------
        out_path : str or os.PathLike
            File to write; replaced atomically (written beside it first).
        keep : callable
            ``keep(item_id) -> bool``: whether an item stays.

        Returns
        -------
        str
            The format written: ``"csv"``, ``"jsonl"`` or ``"parquet"``.
        """
        raise NotImplementedError

    @contextmanager
    def _counts_set_aside(self) -> Iterator[None]:
        """Keep ``skipped`` as the last :meth:`items` pass left it (for a second pass that writes)."""
        kept = self.skipped
        self.skipped = {}
        try:
            yield
        finally:
            self.skipped = kept

    def _skip(self, reason: str, count: int = 1) -> None:
        """Count a file not taken as an item."""
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def _write_jsonl_index(self, out_path: str | os.PathLike, keep: Callable[[str], bool],
                           record: Callable[[DatasetItem], dict]) -> str:
        """Write one JSON line per kept item (for sources that are not manifests)."""
        with self._counts_set_aside(), atomic_output(out_path, inputs=self._input_files()) as handle:
            for item in self.items():
                if keep(item.item_id):
                    line = json.dumps(record(item), ensure_ascii=False)
                    handle.write((line + "\n").encode("utf-8"))
        return "jsonl"

    def _input_files(self) -> list[Path]:
        """Files this dataset reads (never to be overwritten by an output)."""
        return []


@contextmanager
def atomic_output(out_path: str | os.PathLike, *, inputs: list[Path]) -> Iterator[BinaryIO]:
    """A binary file written beside its target and moved into place on success.

    Parameters
    ----------
    out_path : str or os.PathLike
        The file to create or replace.
    inputs : list of Path
        Files being read; writing over one of them is refused.

    Yields
    ------
    binary file
        Open for writing; on an exception the partial file is removed and
        the target is left as it was.

    Raises
    ------
    InputError
        If ``out_path`` is one of ``inputs``, or its folder cannot be
        written.
    """
    target = Path(out_path).absolute()
    for source in inputs:
        try:
            same = target.exists() and os.path.samefile(target, source)
        except OSError:
            same = False
        if same or target == Path(source).absolute():
            raise InputError(f"{out_path}: is the input being read; write the clean manifest to another file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_name = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise InputError(f"{out_path}: cannot write ({exc.strerror or exc}); choose another output path") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise


def format_bytes(count: int) -> str:
    """A byte count for people: ``"512 MiB"``, ``"1.5 GiB"``, ``"700 bytes"``."""
    if count < 1024:
        return f"{count} bytes"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def other_media_extensions() -> frozenset[str]:
    """File suffixes that are items of media other than audio (text, images): each engine names its own.

    See :func:`consentry.engines.extensions`; empty while only music has an engine.
    """
    from consentry import engines

    return engines.extensions()


def capped_lines(handle: BinaryIO, *, max_bytes: int, label: object = None, number: int = 0,
                 end: int | None = None) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, raw bytes)`` for each non-blank line of a binary ``handle``, reading at most ``max_bytes``
    of a line at a time; ``None`` for a longer line (skipped to its end). A UTF-8 BOM on the first line is dropped.

    With ``label``, a read error (a damaged gzip stream, a failing disk) is an :class:`InputError` naming
    ``label`` and the line; without it, the error propagates.  A range of a file (a cluster's worker,
    ``consentry.io.sources.parts``): ``handle`` at the start of a line, ``number`` the lines before it,
    and ``end`` a byte offset: no line that begins at or after it is read.  Returns the number of the
    last line read (blank or not).
    """
    import codecs
    import gzip

    file_start = number == 0 and (end is None or handle.tell() == 0)  # where a byte order mark may be
    while True:
        if end is not None and handle.tell() >= end:
            return number
        try:
            raw = handle.readline(max_bytes + 1)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            if label is None:
                raise
            raise InputError(f"{label}: cannot read line {number + 1} ({exc})") from None
        if not raw:
            return number
        number += 1
        if number == 1 and file_start and raw.startswith(codecs.BOM_UTF8):
            raw = raw[3:]
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(1024 * 1024)
            yield number, None
            continue
        if raw.strip():
            yield number, raw
