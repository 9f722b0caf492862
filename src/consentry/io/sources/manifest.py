"""Manifests: CSV, JSON Lines and Parquet files that list a dataset's audio.

One column of the manifest says where each row's audio is: a local path
(relative to the manifest's folder, or absolute), a ``file://`` URL, an
``http(s)://`` URL, or the audio bytes themselves, including the layout of
Hugging Face ``datasets`` Parquet files (a struct column, usually ``audio``,
with fields ``bytes`` and ``path``).  Each data row is one item with id
``row:<n>`` (``n`` counts data rows from 0; blank lines are not rows).

Manifests are read as streams (CSV and JSONL line by line, Parquet one row
group at a time in small record batches), so memory does not grow with the
number of rows; URLs are downloaded a few at a time, in row order.

Problems with one row (no value, malformed JSON, a missing file, a failed
download) are item errors; problems with the whole manifest (not UTF-8, no
usable column) raise :class:`~consentry.domain.errors.InputError`.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import json
import re
import stat
from contextlib import closing
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit
from urllib.request import url2pathname

from consentry.domain.errors import InputError
from consentry.io.sources.fetch import FetchJob, FetchOptions, fetch_in_order
from consentry.io.sources.items import Dataset, DatasetItem, atomic_output, capped_lines

__all__ = ["PATH_COLUMN_NAMES", "CsvManifest", "JsonlManifest", "ParquetManifest", "choose_column"]

#: Column names taken as the audio column, in order of preference
#: (compared without regard to case), after any struct column with a
#: ``bytes`` field.
PATH_COLUMN_NAMES = ("audio", "path", "file", "filename", "file_name", "audio_path", "audio_filepath",
                     "url", "uri", "location")
#: Longest JSON line read (bytes): room for a base64-encoded 512 MiB item.
MAX_LINE_BYTES = 768 * 1024 * 1024
#: Rows per record batch when a Parquet column holds audio bytes, and otherwise.
_BYTES_BATCH_ROWS = 16
_PATH_BATCH_ROWS = 4096
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
#: Bytes of a JSONL manifest whose text the driver checks when the workers check the rest (a Ray scan).
_TEXT_PREFIX = 1024 * 1024
#: JSONL objects whose keys are looked at to choose the column.
_JSONL_SCHEMA_LINES = 100


def choose_column(columns: list[str], *, byte_structs: list[str], usable: list[str] | None = None,
                  path_column: str | None, source: str) -> str:
    """The column that says where each row's audio is.

    Parameters
    ----------
    columns : list of str
        All column names, in the manifest's order.
    byte_structs : list of str
        Columns that are structs (objects) with a ``bytes`` field.
    usable : list of str, optional
        Columns whose type can hold a path, URL or bytes (default: all).
    path_column : str or None
        The column the user named; matched exactly, else without regard
        to case.
    source : str
        The manifest, named in errors.

    Returns
    -------
    str
        ``path_column`` if given, else the first of ``byte_structs``, else
        the first column named as in :data:`PATH_COLUMN_NAMES`.

    Raises
    ------
    InputError
        If ``path_column`` is not a column, or no column qualifies.  The
        message lists the columns that exist.
    """
    listed = ", ".join(_shown_name(c) for c in columns[:20]) if columns else "none"
    if len(columns) > 20:
        listed += f", ... ({len(columns)} in all)"
    usable_set = set(columns if usable is None else usable)
    if path_column is not None:
        if path_column in columns:
            chosen = path_column
        else:
            folded = [c for c in columns if c.strip().lower() == path_column.strip().lower()]
            if not folded:
                raise InputError(f"{source}: no column '{path_column}' (columns: {listed}); "
                                 "name one of these as the path column")
            chosen = folded[0]
        if chosen not in usable_set:
            raise InputError(f"{source}: column '{chosen}' holds neither paths, URLs nor audio bytes; "
                             "name another column as the path column")
        return chosen
    if byte_structs:
        return byte_structs[0]
    by_name = {}
    for column in columns:
        by_name.setdefault(column.strip().lower(), column)
    for wanted in PATH_COLUMN_NAMES:
        column = by_name.get(wanted)
        if column is not None and column in usable_set:
            return column
    raise InputError(f"{source}: no column holds paths, URLs or audio bytes (columns: {listed}); "
                     f"name the column to read as the path column (looked for: {', '.join(PATH_COLUMN_NAMES)})")


class _Manifest(Dataset):
    """What the three manifest formats share: resolving a row's value to an item."""

    def __init__(self, path: Path, *, fetch_urls: bool, fetch: FetchOptions) -> None:
        super().__init__(spec=str(path), name=path.stem)
        self.path = path
        self.fetch_urls = fetch_urls
        self.fetch = fetch
        self.column = ""

    def items(self) -> Iterator[DatasetItem]:
        self.skipped = {}
        return fetch_in_order(self._rows(), max_parallel=self.fetch.max_parallel, timeout_s=self.fetch.timeout_s)

    def _rows(self) -> Iterator[DatasetItem | FetchJob]:
        raise NotImplementedError

    def _input_files(self) -> list[Path]:
        return [self.path]

    def _missing(self, row: int, where: str) -> DatasetItem:
        return DatasetItem(item_id=f"row:{row}", name=f"row:{row}", error=f"{where}: no '{self.column}' value")

    def _resolve(self, row: int, value: Any, where: str) -> DatasetItem | FetchJob:
        """The item (or download job) for one row's value of the audio column.

        ``value`` is a str (a path or URL), bytes (the audio), a dict with
        ``bytes`` and/or ``path`` (a struct), or None.
        """
        item_id = f"row:{row}"
        if isinstance(value, dict):
            return self._resolve_struct(row, value, where)
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            if not data:
                return self._missing(row, where)
            return DatasetItem(item_id=item_id, name=item_id, data=data, size=len(data))
        if value is None or (isinstance(value, str) and not value.strip()):
            return self._missing(row, where)
        if not isinstance(value, str):
            kind = type(value).__name__
            return DatasetItem(item_id=item_id, name=item_id,
                               error=f"{where}: '{self.column}' is a {kind}, not a path, URL or audio bytes")
        return self._resolve_location(item_id, value.strip())

    def _resolve_struct(self, row: int, value: dict, where: str) -> DatasetItem | FetchJob:
        """A struct value: its ``bytes`` if present, else its ``path``."""
        item_id = f"row:{row}"
        data = value.get("bytes")
        path_value = value.get("path")
        name = path_value if isinstance(path_value, str) and path_value else item_id
        if isinstance(data, str) and data:
            try:
                data = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return DatasetItem(item_id=item_id, name=name,
                                   error=f"{where}: '{self.column}' bytes are not valid base64")
        if isinstance(data, (bytes, bytearray, memoryview)) and len(data):
            data = bytes(data)
            return DatasetItem(item_id=item_id, name=name, data=data, size=len(data))
        if data not in (None, b"", "") and not isinstance(data, (bytes, bytearray, memoryview)):
            return DatasetItem(item_id=item_id, name=name,
                               error=f"{where}: '{self.column}' bytes are a {type(data).__name__}, not bytes")
        if isinstance(path_value, str) and path_value.strip():
            return self._resolve_location(item_id, path_value.strip())
        return self._missing(row, where)

    def _resolve_location(self, item_id: str, value: str) -> DatasetItem | FetchJob:
        """A path or URL: a local file item, a download job, or an item error."""
        scheme_match = _SCHEME.match(value)
        if scheme_match:
            scheme = scheme_match.group(1).lower()
            if scheme in ("http", "https"):
                if not self.fetch_urls:
                    return DatasetItem(item_id=item_id, name=value,
                                       error="http URL not fetched; pass --fetch-urls to download")
                return FetchJob(item_id=item_id, url=value, options=self.fetch)
            if scheme != "file":
                return DatasetItem(item_id=item_id, name=value,
                                   error=f"unsupported URL scheme '{scheme}'; only local paths and file, http "
                                         "and https URLs are read")
            try:
                parts = urlsplit(value)
            except ValueError:
                return DatasetItem(item_id=item_id, name=value, error="not a valid file URL")
            if parts.netloc not in ("", "localhost"):
                return DatasetItem(item_id=item_id, name=value,
                                   error=f"file URL names another host ('{parts.netloc}'); only local files are read")
            path = Path(url2pathname(parts.path))
        else:
            path = Path(value)
            if not path.is_absolute():
                path = self.path.parent / path
        return _local_item(item_id, value, path)


def _local_item(item_id: str, name: str, path: Path) -> DatasetItem:
    """An item for a local file, or an item error if it is missing or not a file."""
    shown = str(path) if str(path).isprintable() else repr(str(path))  # error messages stay on one line
    try:
        info = path.stat()
    except FileNotFoundError:
        return DatasetItem(item_id=item_id, name=name, error=f"no such file ({shown})")
    except OSError as exc:
        return DatasetItem(item_id=item_id, name=name, error=f"cannot read ({exc.strerror or exc})")
    except ValueError:
        return DatasetItem(item_id=item_id, name=name, error="not a valid path (holds a NUL character)")
    if stat.S_ISDIR(info.st_mode):
        return DatasetItem(item_id=item_id, name=name, error=f"is a folder, not a file ({shown})")
    if not stat.S_ISREG(info.st_mode):
        return DatasetItem(item_id=item_id, name=name, error="not a regular file (a fifo, socket or device)")
    return DatasetItem(item_id=item_id, name=name, path=path, size=info.st_size)


def check_utf8(path: Path, *, kind: str, prefix: int | None = None) -> bool:
    """Check that a text manifest is UTF-8 throughout (or its first ``prefix`` bytes), reading it in chunks.

    Returns
    -------
    bool
        Whether the file starts with a UTF-8 byte order mark.

    Raises
    ------
    InputError
        If the file cannot be read or is not UTF-8 (naming the line of the
        first problem); NUL bytes count as not UTF-8 text: they are how
        UTF-16 without a byte order mark, or a binary file, shows (and would
        otherwise end up in column names and error messages).
    """
    try:
        with open(path, "rb") as handle:
            bom = handle.read(3) == codecs.BOM_UTF8
            handle.seek(0)
            problem = text_problem(handle, end=prefix, partial=prefix is not None)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if problem is not None:
        raise not_utf8(path, *problem, kind=kind)
    return bom


def text_problem(handle, *, end: int | None = None, partial: bool = False) -> tuple[int, str] | None:
    """The first byte from ``handle``'s position to ``end`` (None: its end) that makes it not UTF-8 text:
    ``(line, "nul" or "utf8")``, the line counted from 1 at the position; None when there is none.

    The position must be the start of a line (a range of a file read by a cluster's worker begins
    at one): the first problem of a file is the first problem of the first of its ranges that has one.
    ``partial``: ``end`` may cut a character (a prefix of the file), which is then not a problem.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    left = end - handle.tell() if end is not None else None
    while True:
        chunk = handle.read(1024 * 1024 if left is None else min(1024 * 1024, left))
        if left is not None:
            left -= len(chunk)
        nul = chunk.find(b"\0")
        try:
            decoder.decode(chunk, final=not chunk and not partial)
        except UnicodeDecodeError as exc:
            held = len(exc.object) - len(chunk)  # bytes of an unfinished character carried from the chunk before
            if nul < 0 or exc.start - held < nul:
                return line + exc.object.count(b"\n", 0, exc.start), "utf8"
        if nul >= 0:
            return line + chunk.count(b"\n", 0, nul), "nul"
        if not chunk:
            return None
        line += chunk.count(b"\n")


def not_utf8(path: Path, line: int, problem: str, *, kind: str) -> InputError:
    """The error of a manifest that is not UTF-8 text (see :func:`text_problem`)."""
    if problem == "nul":
        return InputError(f"{path}: not UTF-8 text (line {line} holds NUL bytes: UTF-16, or not text); "
                          f"save the {kind} manifest as UTF-8")
    return InputError(f"{path}: not UTF-8 text (line {line}); save the {kind} manifest as UTF-8")


class CsvManifest(_Manifest):
    """A CSV manifest with a header row (``kind="csv"``).

    Line numbers in errors are the file's own, the header being line 1.
    The clean manifest copies the header and each kept row's original text.
    """

    kind = "csv"

    def __init__(self, path: Path, *, fetch_urls: bool, fetch: FetchOptions, path_column: str | None,
                 check_text: bool = True) -> None:
        super().__init__(path, fetch_urls=fetch_urls, fetch=fetch)
        # check_text False (a Ray scan): the first MiB here, the rest by the worker listing the file
        # (consentry.io.sources.rowparts), before the scan is stored; the same first problem is refused
        self._bom = check_utf8(path, kind="CSV", prefix=None if check_text else _TEXT_PREFIX)
        self.text_checked = check_text
        with closing(self._records()) as records:
            first = next(records, None)
        if first is not None and first[3] is not None:
            raise InputError(f"{path}: the header row is not valid CSV ({first[3]}); fix the file")
        header = first[1] if first is not None else None
        if header is None:
            raise InputError(f"{path}: empty CSV file; a manifest needs a header row and one row per item")
        self.columns = [name.strip() for name in header]
        self.column = choose_column(self.columns, byte_structs=[], path_column=path_column, source=str(path))
        self._index = self.columns.index(self.column)

    def _records(self, start=None, at=None) -> Iterator[tuple[int, list[str] | None, str, str | None]]:
        """``(first line number, fields or None, original text, error or None)`` per non-blank record.

        ``start`` (a :class:`~consentry.io.sources.rowparts.RowStart`, a part
        on a cluster): the records from its byte offset (a record's start) to
        its end; ``at`` (a :class:`~consentry.io.sources.rowparts.ByteCount`):
        counts the bytes read (a cluster's listing).
        """
        from consentry.io.sources.rowparts import text_range

        consumed: list[str] = []
        lines_read = start.line - 1 if start is not None else 0
        if start is not None:
            handle = text_range(start)
        else:
            try:
                handle = open(self.path, encoding="utf-8-sig", newline="")
            except OSError as exc:
                raise InputError(f"{self.path}: cannot read ({exc.strerror or exc})") from None

        def lines() -> Iterator[str]:
            nonlocal lines_read
            for line in (at.lines(handle) if at is not None else handle):
                lines_read += 1
                consumed.append(line)
                yield line

        with handle:
            reader = csv.reader(lines())
            while True:
                first_line = lines_read + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield first_line, None, "".join(consumed), f"malformed CSV ({exc})"
                    consumed.clear()
                    continue
                except UnicodeDecodeError:
                    raise InputError(f"{self.path}: not UTF-8 text (line {lines_read + 1}); "
                                     "save the CSV manifest as UTF-8") from None
                text = "".join(consumed)
                consumed.clear()
                if not fields:
                    continue  # a blank line is not a row
                yield first_line, fields, text, None

    def _data_records(self, start=None) -> Iterator[tuple[int, int, list[str] | None, str, str | None]]:
        """Like :meth:`_records` for data rows, with the row index first; blank lines counted as skipped
        (``start``: from a part's first row, on a cluster)."""
        records = self._records(start)
        if start is None:
            next(records, None)  # the header
        for row, (line, fields, text, error) in enumerate(records, start.row if start is not None else 0):
            yield row, line, fields, text, error

    def _rows(self, start=None) -> Iterator[DatasetItem | FetchJob]:
        name = self.path.name
        for row, line, fields, _text, error in self._data_records(start):
            where = f"{name} line {line}"
            if error is not None:
                yield DatasetItem(item_id=f"row:{row}", name=f"row:{row}", error=f"{where}: {error}")
            elif self._index >= len(fields):
                yield self._missing(row, where)
            else:
                yield self._resolve(row, fields[self._index], where)

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        """The header and the original text of each kept row, byte for byte."""
        with atomic_output(out_path, inputs=[self.path]) as handle:
            if self._bom:
                handle.write(codecs.BOM_UTF8)
            records = self._records()
            header = next(records, None)
            if header is not None:
                handle.write(header[2].encode("utf-8"))
            for row, (_line, _fields, text, _error) in enumerate(records):
                if keep(f"row:{row}"):
                    handle.write(text.encode("utf-8"))
        return "csv"


class JsonlManifest(_Manifest):
    """A JSON Lines manifest, one object per line (``kind="jsonl"``).

    The column is chosen from the keys of the first objects in the file.
    Line numbers in errors are the file's own (from 1); blank lines are not
    rows.  The clean manifest copies each kept line's original bytes.
    """

    kind = "jsonl"

    def __init__(self, path: Path, *, fetch_urls: bool, fetch: FetchOptions, path_column: str | None,
                 check_text: bool = True) -> None:
        super().__init__(path, fetch_urls=fetch_urls, fetch=fetch)
        # check_text False (a Ray scan): the first MiB here, the rest by the workers counting the rows
        # (consentry.io.sources.lineparts); the same first problem is refused
        self._bom = check_utf8(path, kind="JSONL", prefix=None if check_text else _TEXT_PREFIX)
        self.text_checked = check_text
        columns: dict[str, None] = {}
        byte_structs: dict[str, None] = {}
        seen = 0
        with closing(self._lines()) as lines:
            for _line, raw in lines:
                try:
                    record = json.loads(raw.decode("utf-8")) if raw is not None else None
                except (ValueError, RecursionError):
                    continue
                if not isinstance(record, dict):
                    continue
                for key, value in record.items():
                    columns.setdefault(key)
                    if isinstance(value, dict) and "bytes" in value:
                        byte_structs.setdefault(key)
                seen += 1
                if seen >= _JSONL_SCHEMA_LINES:
                    break
        if not seen:
            raise InputError(f"{path}: no line holds a JSON object; a JSONL manifest has one object per line")
        self.columns = list(columns)
        self.column = choose_column(self.columns, byte_structs=list(byte_structs), path_column=path_column,
                                    source=str(path))

    def _lines(self) -> Iterator[tuple[int, bytes | None]]:
        """``(line number, raw line bytes)`` per non-blank line; bytes None for a line over the length cap."""
        try:
            handle = open(self.path, "rb")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        with handle:
            yield from capped_lines(handle, max_bytes=MAX_LINE_BYTES)

    def _rows(self, lines: Iterator[tuple[int, bytes | None]] | None = None,
              first_row: int = 0) -> Iterator[DatasetItem | FetchJob]:
        """One item per row: of the whole file, or of ``lines`` from row ``first_row`` (a part, on a cluster)."""
        name = self.path.name
        for row, (line, raw) in enumerate(self._lines() if lines is None else lines, first_row):
            where = f"{name} line {line}"
            item_id = f"row:{row}"
            if raw is None:
                yield DatasetItem(item_id=item_id, name=item_id, error=f"{where}: line longer than "
                                                                      f"{MAX_LINE_BYTES // 2**20} MiB")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{self.path}: not UTF-8 text (line {line}); save the JSONL manifest as UTF-8") from None
            try:
                record = json.loads(text)
            except ValueError as exc:
                detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                yield DatasetItem(item_id=item_id, name=item_id, error=f"{where}: not valid JSON ({detail})")
                continue
            except RecursionError:
                yield DatasetItem(item_id=item_id, name=item_id, error=f"{where}: JSON nested too deeply")
                continue
            if not isinstance(record, dict):
                yield DatasetItem(item_id=item_id, name=item_id,
                                  error=f"{where}: not a JSON object (a {type(record).__name__})")
                continue
            yield self._resolve(row, record.get(self.column), where)

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        """The original bytes of each kept line (a byte order mark kept if the input had one)."""
        with atomic_output(out_path, inputs=[self.path]) as handle:
            if self._bom:
                handle.write(codecs.BOM_UTF8)
            for row, (_line, raw) in enumerate(self._lines()):
                if raw is not None and keep(f"row:{row}"):
                    handle.write(raw)
        return "jsonl"


class ParquetManifest(_Manifest):
    """A Parquet manifest (``kind="parquet"``), read with pyarrow in record batches.

    Column types read: string (a path or URL), binary (the audio), and
    structs with a ``bytes`` (binary) and/or ``path`` (string) field, as in
    Hugging Face ``datasets`` files.  Row numbers in errors count data rows
    from 0.  The clean manifest has the same schema (and metadata), written
    batch by batch.
    """

    kind = "parquet"

    def __init__(self, path: Path, *, fetch_urls: bool, fetch: FetchOptions, path_column: str | None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(path, fetch_urls=fetch_urls, fetch=fetch)
        try:
            with pq.ParquetFile(path) as parquet:
                schema = parquet.schema_arrow
        except Exception as exc:  # ArrowInvalid, OSError: not Parquet, or damaged footer
            raise InputError(f"{path}: not a readable Parquet file ({_reason(exc)}); check or re-create it") from None
        columns = list(schema.names)
        byte_structs, usable = [], []
        for field in schema:
            kind = _column_kind(field.type, pa)
            if kind is not None:
                usable.append(field.name)
            if kind == "struct" and field.type.get_field_index("bytes") >= 0:
                byte_structs.append(field.name)
        self.columns = columns
        self.column = choose_column(columns, byte_structs=byte_structs, usable=usable, path_column=path_column,
                                    source=str(path))
        self._holds_bytes = _column_kind(schema.field(self.column).type, pa) in ("binary", "struct")

    def _rows(self) -> Iterator[DatasetItem | FetchJob]:
        import pyarrow.parquet as pq

        name = self.path.name
        batch_rows = _BYTES_BATCH_ROWS if self._holds_bytes else _PATH_BATCH_ROWS
        try:
            parquet = pq.ParquetFile(self.path)
        except Exception as exc:
            raise InputError(f"{self.path}: not a readable Parquet file ({_reason(exc)})") from None
        with parquet:
            row = 0
            for group in range(parquet.metadata.num_row_groups):
                group_end = row + parquet.metadata.row_group(group).num_rows
                try:
                    for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[group],
                                                      columns=[self.column], use_threads=False):
                        for value in batch.column(0).to_pylist():
                            yield self._resolve(row, value, f"{name} row {row}")
                            row += 1
                except Exception as exc:  # a damaged row group: report it, go on with the next
                    if row < group_end:
                        yield DatasetItem(item_id=f"row:{row}", name=f"row:{row}",
                                          error=f"{name} rows {row}-{group_end - 1}: unreadable row group "
                                                f"({_reason(exc)})")
                row = group_end

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        """The kept rows with the input's schema, metadata and compression, batch by batch."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
        except Exception as exc:
            raise InputError(f"{self.path}: not a readable Parquet file ({_reason(exc)})") from None
        with parquet, atomic_output(out_path, inputs=[self.path]) as handle:
            compression = "snappy"
            if parquet.metadata.num_row_groups and parquet.metadata.num_columns:
                compression = parquet.metadata.row_group(0).column(0).compression.lower()
                if compression not in ("snappy", "gzip", "brotli", "zstd", "lz4", "none", "uncompressed"):
                    compression = "snappy"
            writer = pq.ParquetWriter(handle, parquet.schema_arrow, compression=compression)
            try:
                row = 0
                for batch in parquet.iter_batches(batch_size=_BYTES_BATCH_ROWS if self._holds_bytes
                                                  else _PATH_BATCH_ROWS, use_threads=False):
                    mask = pa.array([bool(keep(f"row:{row + i}")) for i in range(batch.num_rows)], type=pa.bool_())
                    row += batch.num_rows
                    writer.write_batch(batch.filter(mask))
            except Exception as exc:
                raise InputError(f"{self.path}: cannot be copied ({_reason(exc)}); the clean manifest was not "
                                 "written") from None
            finally:
                writer.close()
        return "parquet"


def _column_kind(arrow_type, pa) -> str | None:
    """``"string"``, ``"binary"``, ``"struct"`` (with a bytes or path field), or None if unusable."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    if pa.types.is_struct(arrow_type):
        if arrow_type.get_field_index("bytes") >= 0 or arrow_type.get_field_index("path") >= 0:
            return "struct"
    return None


def _reason(exc: BaseException) -> str:
    """A short one-line reason for an exception (control characters from the input become spaces)."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(exc)).split()) or type(exc).__name__
    return text[:200]


def _shown_name(name: str) -> str:
    """A column name as an error message shows it: control characters escaped, at most 60 characters."""
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)
    return shown if len(shown) <= 60 else shown[:57] + "..."
