"""Turning what a user names into a dataset reader.

:func:`open_dataset` looks at a path, glob or brace pattern and returns the
reader for it: a folder, one audio file, a CSV/JSONL/Parquet manifest,
WebDataset tar shards or a zip archive.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from consentry.io.decode.audio import AUDIO_EXTENSIONS
from consentry.domain.errors import InputError
from consentry.io.heldfiles import refuse_held
from consentry.io.sources.archives import ArchiveLimits
from consentry.io.sources.fetch import FetchOptions
from consentry.io.sources.folder import AudioFileDataset, FolderDataset
from consentry.io.sources.items import Dataset
from consentry.io.sources.manifest import CsvManifest, JsonlManifest, ParquetManifest
from consentry.io.sources.patterns import expand_shards, has_pattern
from consentry.io.sources.text import TEXT_ONLY_SUFFIXES, is_rows_folder, open_text_dataset
from consentry.formats.sniff import SNIFF_BYTES, is_audio_media, sniff_media
from consentry.io.sources.webdataset import TAR_SUFFIXES, WebDataset, is_tar_name, shard_stem
from consentry.io.sources.ziparchive import ZipArchive

__all__ = ["open_dataset"]

_WHAT_IS_READ = ("name a folder, an audio file, a .csv/.jsonl/.parquet manifest, .tar shards "
                 "(a path, glob or {000..127} pattern) or a .zip archive")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def open_dataset(spec: str | os.PathLike, *, fetch_urls: bool = False, fetch: FetchOptions | None = None,
                 limits: ArchiveLimits | None = None, path_column: str | None = None,
                 text_column: str | None = None, check_text: bool = True) -> Dataset:
    """The reader for a dataset, from the path or pattern a user gave.

    Parameters
    ----------
    spec : str or os.PathLike
        A folder; an audio file; a manifest (``.csv``, ``.jsonl`` or
        ``.ndjson``, ``.parquet``); a tar shard (``.tar``, ``.tar.gz``,
        ``.tgz``), a glob (``shards/*.tar``) or brace pattern
        (``train-{000..127}.tar``) of shards; a ``.zip`` archive; or a
        ``file://`` URL of one of these.  A file with another suffix is
        recognised by its content when it is audio, zip, tar or Parquet.
    fetch_urls : bool, default False
        Download the ``http(s)`` URLs a manifest lists; otherwise each such
        row is an item error.
    fetch : FetchOptions, optional
        Limits for downloads (timeout in seconds, size cap in bytes,
        parallel requests, redirects).
    limits : ArchiveLimits, optional
        Caps for tar shards and zip archives (bytes, ratio).
    path_column : str, optional
        The manifest column that says where the audio is; by default the
        first struct column with a ``bytes`` field, else the first column
        named ``audio``, ``path``, ``file``, ... (see
        :data:`~consentry.io.sources.manifest.PATH_COLUMN_NAMES`).
    check_text : bool, default True
        Check here that a JSONL or CSV manifest is UTF-8 throughout; False
        checks its first MiB only, for a cluster's workers check the rest
        while counting or listing its rows (``consentry.io.sources.lineparts``,
        ``consentry.io.sources.rowparts``).

    Returns
    -------
    Dataset
        With ``kind``, ``spec`` (absolute), ``name``, ``skipped``,
        ``items()`` and ``write_clean_manifest()``.

    Raises
    ------
    InputError
        One line naming the input: it does not exist, its format is not
        one of the above, a pattern is malformed or matches nothing, a
        manifest is not UTF-8, has no usable column or lacks
        ``path_column``, a zip or Parquet file cannot be opened.
    """
    fetch = fetch if fetch is not None else FetchOptions()
    limits = limits if limits is not None else ArchiveLimits()
    text = os.fspath(spec)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        raise InputError(f"empty dataset path; {_WHAT_IS_READ}")
    if _URL.match(text):
        parts = urlsplit(text)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            raise InputError(f"{text}: a dataset cannot be read from a URL; download it, or list the URLs in a "
                             "CSV/JSONL/Parquet manifest and pass --fetch-urls")
        text = url2pathname(parts.path)
    absolute = text if os.path.isabs(text) else os.path.join(os.getcwd(), text)
    path = Path(absolute)
    if not os.path.lexists(absolute) and has_pattern(text):
        # normpath could fold a ".." written inside braces into the wrong place: braces are left alone
        pattern = absolute if "{" in absolute else os.path.normpath(absolute)
        if text_column is not None:  # text WebDataset shards (they were opened as audio shards)
            return open_text_dataset(pattern, text_column=text_column, limits=limits)
        return _open_shards(pattern, limits=limits)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{text}: no such file or folder; check the path") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{text}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    path = Path(os.path.normpath(absolute))
    if text_column is not None or (stat.S_ISDIR(info.st_mode) and is_rows_folder(path)) or \
            path.name.lower().endswith(TEXT_ONLY_SUFFIXES):
        refuse_held(path, text)
        return open_text_dataset(path, text_column=text_column, limits=limits)
    if stat.S_ISDIR(info.st_mode):
        return FolderDataset(path)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{text}: not a regular file or folder (a fifo, socket or device); {_WHAT_IS_READ}")
    refuse_held(path, text)
    return _open_file(path, text, fetch_urls=fetch_urls, fetch=fetch, limits=limits, path_column=path_column,
                      check_text=check_text)


def _open_file(path: Path, text: str, *, fetch_urls: bool, fetch: FetchOptions, limits: ArchiveLimits,
               path_column: str | None, check_text: bool = True) -> Dataset:
    """The reader for one file, by suffix, else by content."""
    lower = path.name.lower()
    manifest_options = dict(fetch_urls=fetch_urls, fetch=fetch, path_column=path_column)
    manifest = {".csv": CsvManifest, ".jsonl": JsonlManifest, ".ndjson": JsonlManifest, ".parquet": ParquetManifest,
                ".pq": ParquetManifest}.get(os.path.splitext(lower)[1])
    if manifest in (JsonlManifest, CsvManifest):
        manifest_options["check_text"] = check_text
    if manifest is not None:
        try:
            return manifest(path, **manifest_options)
        except InputError as exc:
            # No column with paths or audio: a text dataset when a column holds text (issue 18).
            if path_column is not None or "no column holds" not in str(exc):
                raise
            try:
                return open_text_dataset(path, limits=limits)
            except InputError:
                raise exc from None
    if is_tar_name(lower):
        return WebDataset([path], spec=str(path), name=shard_stem(path), limits=limits)
    if lower.endswith(".zip"):
        return ZipArchive(path, limits=limits)
    if os.path.splitext(lower)[1] in AUDIO_EXTENSIONS:
        return AudioFileDataset(path)
    try:
        with open(path, "rb") as handle:
            media = sniff_media(handle.read(SNIFF_BYTES))
    except OSError as exc:
        raise InputError(f"{text}: cannot be read ({exc.strerror or exc})") from None
    if is_audio_media(media):
        return AudioFileDataset(path)
    if media == "application/zip":
        return ZipArchive(path, limits=limits)
    if media == "application/x-tar":
        return WebDataset([path], spec=str(path), name=shard_stem(path), limits=limits)
    if media == "application/vnd.apache.parquet":
        return ParquetManifest(path, **manifest_options)
    raise InputError(f"{text}: not a dataset format that can be read ({media}); {_WHAT_IS_READ}")


def _open_shards(pattern: str, *, limits: ArchiveLimits) -> WebDataset:
    """WebDataset shards from a glob or brace pattern."""
    shards = expand_shards(pattern)
    for shard in shards:
        if not is_tar_name(shard):
            raise InputError(f"{pattern}: matches {shard.name}, which is not a tar shard "
                             f"({', '.join(TAR_SUFFIXES)}); a pattern names WebDataset shards")
    return WebDataset(shards, spec=pattern, name=_pattern_name(pattern, shards), limits=limits)


def _pattern_name(pattern: str, shards: list[Path]) -> str:
    """A dataset name from a pattern: the shard name before the first brace or wildcard."""
    base = os.path.basename(pattern)
    cut = min((base.index(c) for c in "{*?[" if c in base), default=len(base))
    name = base[:cut].rstrip("-_. ")
    return name or shard_stem(shards[0])
