"""Folders of audio files, and a single audio file.

A folder is walked recursively with :func:`os.walk`: each folder's files in
name order, then its sub-folders in name order.  Symbolic links to folders
are not followed (no loops, no double counting); symbolic links to files
are.  Files whose suffix is in
:data:`~consentry.io.decode.audio.AUDIO_EXTENSIONS` are items, and so are files
without a suffix whose content sniffs as audio; every other file is counted
in ``skipped`` with its reason.  Hidden files and folders (name starting
with ``"."``) are skipped and counted, as the decoder's own folder walk does.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Iterator

from consentry.io.decode.audio import AUDIO_EXTENSIONS
from consentry.domain.errors import InputError
from consentry.io.heldfiles import held_by_this_process
from consentry.io.sources.items import Dataset, DatasetItem
from consentry.formats.sniff import SNIFF_BYTES, is_audio_media, sniff_media
from consentry.io.sources.items import other_media_extensions

__all__ = ["FolderDataset", "AudioFileDataset"]


class FolderDataset(Dataset):
    """A folder of audio files, walked recursively (``kind="folder"``).

    Parameters
    ----------
    root : Path
        The folder (absolute).

    Raises
    ------
    InputError
        If the folder cannot be listed.

    Notes
    -----
    ``item_id`` (and ``name``) is the path relative to the folder with
    ``/`` separators; ``path`` is the absolute path.  A sub-folder that
    cannot be listed is an item with an error, its id ending in ``/``.
    """

    kind = "folder"

    def __init__(self, root: Path) -> None:
        super().__init__(spec=str(root), name=root.name or str(root))
        self.root = root
        try:
            with os.scandir(root):
                pass
        except OSError as exc:
            raise InputError(f"{root}: cannot list folder ({exc.strerror or exc}); check its permissions") from None

    def items(self) -> Iterator[DatasetItem]:
        self.skipped = {}
        unlisted: list[OSError] = []
        for folder, subfolders, files in os.walk(self.root, followlinks=False, onerror=unlisted.append):
            while unlisted:
                exc = unlisted.pop(0)
                yield self._unlisted_item(exc)
            subfolders.sort()
            files.sort()
            walked = []
            for sub in subfolders:
                if sub.startswith("."):
                    self._skip("hidden folder (not read)")
                elif os.path.islink(os.path.join(folder, sub)):
                    self._skip("symbolic link to a folder (not followed)")
                else:
                    walked.append(sub)
            subfolders[:] = walked
            for file_name in files:
                item = self._file_item(Path(folder, file_name))
                if item is not None:
                    yield item
        while unlisted:
            yield self._unlisted_item(unlisted.pop(0))

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        """JSON lines ``{"id", "path"}`` of the kept files (absolute paths): a manifest ``open_dataset`` reads."""
        return self._write_jsonl_index(out_path, keep, _path_record)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _unlisted_item(self, exc: OSError) -> DatasetItem:
        folder = Path(exc.filename) if exc.filename else self.root
        rel = self._relative(folder) + "/" if folder != self.root else "./"
        return DatasetItem(item_id=rel, name=rel, error=f"cannot list folder ({exc.strerror or exc})")

    def _file_item(self, path: Path) -> DatasetItem | None:
        """The item for one file, or None (counted in ``skipped``) when it is not taken."""
        name = path.name
        if name.startswith("."):
            self._skip("hidden file (name starts with '.')")
            return None
        extension = os.path.splitext(name)[1].lower()
        if extension and extension not in AUDIO_EXTENSIONS and extension not in other_media_extensions():
            self._skip(f"not audio by extension ({extension})")
            return None
        rel = self._relative(path)
        try:
            info = path.stat()
        except OSError as exc:
            broken = path.is_symlink()
            if not extension:
                self._skip("no extension, cannot be read")
                return None
            reason = "broken symbolic link" if broken else f"cannot read ({exc.strerror or exc})"
            return DatasetItem(item_id=rel, name=rel, error=reason)
        if not stat.S_ISREG(info.st_mode):
            if not extension:
                self._skip("no extension, not a regular file")
                return None
            return DatasetItem(item_id=rel, name=rel, error="not a regular file (a fifo, socket or device)")
        if held_by_this_process(path) is not None:
            self._skip("the registry's own database file (never read)")
            return None
        if not extension:
            media = _sniff_file(path)
            if not is_audio_media(media):
                self._skip(f"no extension, not audio ({media})")
                return None
        return DatasetItem(item_id=rel, name=rel, path=path, size=info.st_size)


class AudioFileDataset(Dataset):
    """One audio file (``kind="file"``); its ``item_id`` is the file name."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        super().__init__(spec=str(path), name=path.stem)
        self.path = path

    def items(self) -> Iterator[DatasetItem]:
        self.skipped = {}
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            yield DatasetItem(item_id=self.path.name, name=self.path.name,
                              error=f"cannot read ({exc.strerror or exc})")
            return
        yield DatasetItem(item_id=self.path.name, name=self.path.name, path=self.path, size=size)

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        """JSON lines ``{"id", "path"}``: the file, if kept."""
        return self._write_jsonl_index(out_path, keep, _path_record)

    def _input_files(self) -> list[Path]:
        return [self.path]


def _path_record(item: DatasetItem) -> dict:
    """A clean-manifest line: the id and the absolute path (null for an item that has none)."""
    return {"id": item.item_id, "path": str(item.path) if item.path is not None else None}


def _sniff_file(path: Path) -> str:
    """The sniffed media type of a regular file (``"unreadable"`` if it cannot be opened)."""
    try:
        with open(path, "rb") as handle:
            return sniff_media(handle.read(SNIFF_BYTES))
    except OSError:
        return "unreadable"
