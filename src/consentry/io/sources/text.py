"""Text datasets: the readers a text scan uses (``docs/text.md``, "Datasets").

:func:`open_text_dataset` turns what a user names into a reader whose items
hold the text (or the document) to check, one per row, member, file or
record:

==================  ===================================================================================
source              items
==================  ===================================================================================
``.jsonl``/``.json`` one per line; the text column found by name (:data:`TEXT_COLUMN_NAMES`) or
 ``.ndjson``         ``text_column``; ``.gz`` compressed too
``.csv``            one per row, the same column rules
``.parquet``        one per row (pyarrow, batch by batch), string or binary column
Hugging Face folder a folder of ``*.parquet`` / ``*.jsonl`` files (``data/train-00000-of-00004.parquet``)
                    or of ``save_to_disk`` Arrow files (``data-00000-of-00001.arrow``), read in name order
WebDataset shards   ``.tar`` members ending in ``.txt``, ``.md``, ``.html`` or ``.json`` (its text column)
WARC / WET          ``.warc``, ``.warc.gz``, ``.wet``, ``.wet.gz``: ``response`` records whose payload is
                    HTML or text, and WET ``conversion`` records (the page's plain text); warcio
folder              every document in it (text, Markdown, HTML, EPUB, PDF, DOCX, recognised by content)
==================  ===================================================================================

Item ids: ``row:<n>`` (manifests, from 0), ``<file>#row:<n>`` (several
files), ``<shard>#<member>``, ``<file>#record:<n>`` (WARC, the n-th record
read), the relative path (folders).  An item's ``data`` is UTF-8 text (rows,
WET records) or the document's bytes; a row without text is an item error,
never a stop.  Memory stays flat: one line, row batch, member or record at
a time.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import os
from pathlib import Path
from typing import Callable, Iterator

from consentry.domain.errors import InputError
from consentry.io.sources.archives import ArchiveLimits
from consentry.io.sources.items import Dataset, DatasetItem, atomic_output, capped_lines

__all__ = ["TEXT_COLUMN_NAMES", "open_text_dataset", "choose_text_column", "TextRowsDataset",
           "TextWebDataset", "WarcDataset", "DocumentFolder"]

#: Column names taken as the text, in order of preference (compared without regard to case).
TEXT_COLUMN_NAMES = ("text", "content", "body", "article", "document", "raw_content", "markdown", "story",
                     "passage", "html", "output", "completion", "response")
#: Suffixes of documents in folders and tar shards.
DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".xhtml", ".epub", ".pdf", ".docx")
MAX_LINE_BYTES = 64 * 1024 * 1024
_CSV_FIELD_BYTES = 64 * 1024 * 1024


def choose_text_column(columns: list[str], *, text_column: str | None, source: str) -> str:
    """The column holding each row's text: ``text_column`` if given (exact, else ignoring case), else
    the first of :data:`TEXT_COLUMN_NAMES` present.

    Raises
    ------
    InputError
        Naming the columns that exist, when none qualifies.
    """
    listed = ", ".join(columns[:20]) or "none"
    if text_column is not None:
        if text_column in columns:
            return text_column
        folded = [c for c in columns if c.strip().lower() == text_column.strip().lower()]
        if not folded:
            raise InputError(f"{source}: no column '{text_column}' (columns: {listed}); name one with --text-column")
        return folded[0]
    by_name = {c.strip().lower(): c for c in reversed(columns)}
    for wanted in TEXT_COLUMN_NAMES:
        if wanted in by_name:
            return by_name[wanted]
    raise InputError(f"{source}: no text column (columns: {listed}); name it with --text-column "
                     f"(looked for: {', '.join(TEXT_COLUMN_NAMES[:8])}, ...)")


def _text_value(value, where: str) -> tuple[bytes | None, str | None]:
    """``(utf-8 bytes, None)`` of a cell, or ``(None, error)``."""
    if value is None:
        return None, f"{where}: no text (empty cell)"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass"), None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):  # a list of paragraphs
        return "\n\n".join(value).encode("utf-8", "surrogatepass"), None
    return None, f"{where}: the text column holds a {type(value).__name__}, not text"


class TextRowsDataset(Dataset):
    """JSONL, CSV or Parquet files with one text per row (one file, or the files of a Hugging Face folder).

    Parameters
    ----------
    files : list of Path
        Read in this order.
    kind : str
        ``"jsonl"``, ``"csv"``, ``"parquet"`` or ``"arrow"`` (one kind for all files).
    text_column : str, optional
        The column to read; found by name otherwise (in the first file).
    """

    def __init__(self, files: list[Path], *, kind: str, spec: str, name: str, text_column: str | None) -> None:
        super().__init__(spec=spec, name=name)
        self.kind = kind
        self.files = files
        self.columns = self._columns(files[0])
        self.column = choose_text_column(self.columns, text_column=text_column, source=str(files[0]))
        if kind != "jsonl":  # files with a schema or header: each must hold the column (a JSONL row may lack it)
            for path in files[1:]:
                if self.column not in (columns := self._columns(path)):
                    listed = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
                    raise InputError(f"{path}: no column '{self.column}', which {files[0].name} has "
                                     f"(columns: {listed}); every file of the dataset needs it")

    # -- schema ----------------------------------------------------------------
    def _columns(self, path: Path) -> list[str]:
        if self.kind == "parquet":
            return list(self._parquet(path).schema_arrow.names)
        if self.kind == "arrow":
            return list(self._arrow_reader(path).schema.names)
        if self.kind == "csv":
            with self._open_text(path) as fh:
                header = next(csv.reader(fh), None)
            if not header:
                raise InputError(f"{path}: empty CSV (no header row)")
            return header
        columns: dict[str, None] = {}
        for n, (_, raw) in enumerate(self._jsonl_lines(path)):
            try:
                record = json.loads(raw) if raw is not None else None
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict):
                for key in record:
                    columns.setdefault(key)
            if n >= 50:
                break
        if not columns:
            raise InputError(f"{path}: no line holds a JSON object; a JSONL dataset has one object per line")
        return list(columns)

    # -- items -----------------------------------------------------------------
    def _id(self, path: Path, row: int) -> str:
        return f"row:{row}" if len(self.files) == 1 else f"{path.name}#row:{row}"

    def items(self) -> Iterator[DatasetItem]:
        self.skipped = {}
        for path in self.files:
            yield from {"jsonl": self._jsonl_items, "csv": self._csv_items, "parquet": self._parquet_items,
                        "arrow": self._arrow_items}[self.kind](path)

    def _item(self, path: Path, row: int, value, where: str) -> DatasetItem:
        item_id = self._id(path, row)
        data, error = _text_value(value, where)
        if error:
            return DatasetItem(item_id=item_id, name=item_id, error=error)
        return DatasetItem(item_id=item_id, name=f"{path.name} row {row}", data=data, size=len(data))

    @staticmethod
    def _open_text(path: Path):
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            return opener(path, "rt", encoding="utf-8-sig", errors="strict", newline="")
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None

    @staticmethod
    def _jsonl_lines(path: Path, raw_lines: Iterator[tuple[int, bytes | None]] | None = None
                     ) -> Iterator[tuple[int, str | None]]:
        """``(line number, text)`` of the file's rows, or of ``raw_lines`` read from a range of it (a cluster)."""
        if raw_lines is None:
            opener = gzip.open if path.name.endswith(".gz") else open
            try:
                handle = opener(path, "rb")
            except OSError as exc:
                raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
            with handle:
                raw_lines = capped_lines(handle, max_bytes=MAX_LINE_BYTES, label=path)
                yield from TextRowsDataset._jsonl_lines(path, raw_lines)
            return
        for number, raw in raw_lines:
            if raw is None:
                yield number, None
                continue
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{path}: not UTF-8 text (line {number}); save it as UTF-8") from None

    def _jsonl_items(self, path: Path, raw_lines=None, first_row: int = 0) -> Iterator[DatasetItem]:
        for row, (line, raw) in enumerate(self._jsonl_lines(path, raw_lines), first_row):
            where = f"{path.name} line {line}"
            if raw is None:
                yield DatasetItem(item_id=self._id(path, row), name=where,
                                  error=f"{where}: line longer than {MAX_LINE_BYTES // 2**20} MiB")
                continue
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                yield DatasetItem(item_id=self._id(path, row), name=where,
                                  error=f"{where}: not valid JSON ({getattr(exc, 'msg', exc)})")
                continue
            if not isinstance(record, dict):
                yield DatasetItem(item_id=self._id(path, row), name=where, error=f"{where}: not a JSON object")
                continue
            yield self._item(path, row, record.get(self.column), where)

    def _csv_items(self, path: Path, start=None, at=None) -> Iterator[DatasetItem]:
        """The file's rows; ``start``: those of a part (a cluster's, :mod:`consentry.io.sources.rowparts`)
        from its offset; ``at``: counts the bytes read, noting where the first row begins (a listing)."""
        from consentry.io.sources.rowparts import text_range

        csv.field_size_limit(_CSV_FIELD_BYTES)
        with self._open_text(path) as fh:
            reader = csv.reader(at.lines(fh) if at is not None else fh)
            try:
                header = next(reader)
                col = header.index(self.column)
                if at is not None:
                    at.mark()
                if start is not None:
                    fh = text_range(start)
                    reader = csv.reader(fh)
                for row, record in enumerate(reader, start.row if start is not None else 0):
                    where = f"{path.name} row {row}"
                    value = record[col] if col < len(record) else None
                    yield self._item(path, row, value or None, where)
            except UnicodeDecodeError:
                raise InputError(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
            except csv.Error as exc:
                raise InputError(f"{path}: not a readable CSV file ({exc})") from None

    @staticmethod
    def _parquet(path: Path):
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow's many errors, as one line
            raise InputError(f"{path}: not a readable Parquet file ({' '.join(str(exc).split())[:160]})") from None

    @classmethod
    def _parquet_batches(cls, path: Path, *, row_groups: list[int] | None = None, **options) -> Iterator:
        """``ParquetFile.iter_batches(batch_size=256, **options)`` one row group at a time; a damaged row group
        is a one-line error naming the file, the group and its rows (pyarrow's own messages span lines)."""
        parquet = cls._parquet(path)
        meta = parquet.metadata
        starts = list(itertools.accumulate((meta.row_group(g).num_rows for g in range(meta.num_row_groups)), initial=0))
        for group in range(meta.num_row_groups) if row_groups is None else row_groups:
            batches = parquet.iter_batches(batch_size=256, row_groups=[group], **options)
            while True:
                try:
                    batch = next(batches, None)
                except Exception as exc:  # noqa: BLE001 - pyarrow's many errors, as one line
                    raise InputError(f"{path}: damaged Parquet data in row group {group} (rows {starts[group]}-"
                                     f"{starts[group + 1] - 1}: {' '.join(str(exc).split())[:160]})") from None
                if batch is None:
                    break
                yield batch

    def _parquet_items(self, path: Path) -> Iterator[DatasetItem]:
        row = 0
        for batch in self._parquet_batches(path, columns=[self.column]):
            for value in batch.column(0).to_pylist():
                yield self._item(path, row, value, f"{path.name} row {row}")
                row += 1

    @staticmethod
    def _arrow_reader(path: Path):
        import pyarrow as pa

        try:
            return pa.ipc.open_stream(pa.memory_map(str(path)))
        except Exception:  # noqa: BLE001 - then try the file format
            try:
                return pa.ipc.open_file(pa.memory_map(str(path)))
            except Exception as exc:  # noqa: BLE001
                raise InputError(f"{path}: not a readable Arrow file ({' '.join(str(exc).split())[:160]})") from None

    def _arrow_items(self, path: Path) -> Iterator[DatasetItem]:
        reader = self._arrow_reader(path)
        batches = (reader.get_batch(i) for i in range(reader.num_record_batches)) \
            if hasattr(reader, "num_record_batches") else reader
        row = 0
        for batch in batches:
            for value in batch.column(batch.schema.get_field_index(self.column)).to_pylist():
                yield self._item(path, row, value, f"{path.name} row {row}")
                row += 1

    def records(self) -> Iterator[tuple[str, str, dict | None, str | None]]:
        """``(item_id, where, record, error)`` per row: the whole row as a dict (JSONL object, CSV row by
        header, Parquet/Arrow row), or None with a one-line error (registering articles reads title, creator
        and date columns beside the text)."""
        for path in self.files:
            if self.kind == "jsonl":
                for row, (line, raw) in enumerate(self._jsonl_lines(path)):
                    where = f"{path.name} line {line}"
                    try:
                        record = json.loads(raw) if raw is not None else None
                    except (ValueError, RecursionError) as exc:
                        yield self._id(path, row), where, None, f"{where}: not valid JSON ({getattr(exc, 'msg', exc)})"
                        continue
                    if not isinstance(record, dict):
                        yield self._id(path, row), where, None, f"{where}: not a JSON object"
                        continue
                    yield self._id(path, row), where, record, None
            elif self.kind == "csv":
                csv.field_size_limit(_CSV_FIELD_BYTES)
                with self._open_text(path) as fh:
                    try:
                        for row, record in enumerate(csv.DictReader(fh)):
                            yield self._id(path, row), f"{path.name} row {row}", dict(record), None
                    except (UnicodeDecodeError, csv.Error) as exc:
                        raise InputError(f"{path}: not a readable UTF-8 CSV file ({exc})") from None
            else:
                if self.kind == "parquet":
                    batches = self._parquet_batches(path)
                else:
                    reader = self._arrow_reader(path)
                    batches = (reader.get_batch(i) for i in range(reader.num_record_batches)) \
                        if hasattr(reader, "num_record_batches") else reader
                row = 0
                for batch in batches:
                    for record in batch.to_pylist():
                        yield self._id(path, row), f"{path.name} row {row}", record, None
                        row += 1

    # -- clean copy ------------------------------------------------------------
    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        """Kept rows, as JSONL (the original lines for JSONL input, ``{column: text}`` otherwise)."""
        with self._counts_set_aside(), atomic_output(out_path, inputs=list(self.files)) as handle:
            for path in self.files:
                if self.kind == "jsonl":
                    for row, (_, raw) in enumerate(self._jsonl_lines(path)):
                        if raw is not None and keep(self._id(path, row)):
                            handle.write(raw.rstrip("\n").encode("utf-8", "surrogatepass") + b"\n")
                    continue
                items = {"csv": self._csv_items, "parquet": self._parquet_items, "arrow": self._arrow_items}[self.kind]
                for item in items(path):
                    if item.data is not None and keep(item.item_id):
                        record = {self.column: item.data.decode("utf-8", "replace")}
                        handle.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        return "jsonl"

    def _input_files(self) -> list[Path]:
        return list(self.files)


class TextWebDataset(Dataset):
    """WebDataset tar shards whose samples hold text (``.txt``/``.md``/``.html``/documents, or ``.json``)."""

    kind = "webdataset"

    def __init__(self, shards: list[Path], *, spec: str, name: str, text_column: str | None,
                 limits: ArchiveLimits | None = None) -> None:
        super().__init__(spec=spec, name=name)
        self.shards = shards
        self.text_column = text_column
        self.limits = limits or ArchiveLimits()

    def items(self) -> Iterator[DatasetItem]:
        from consentry.io.sources.textparts import TextShardRead  # the loop a cluster's workers read parts with

        self.skipped = {}
        for shard in self.shards:
            yield from (item for _position, item in TextShardRead(self, shard).entries())

    def _json_member(self, item_id: str, name: str, data: bytes) -> DatasetItem:
        try:
            record = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return DatasetItem(item_id=item_id, name=name, error=f"{name}: not valid JSON ({exc})")
        if isinstance(record, str):
            return DatasetItem(item_id=item_id, name=name, data=record.encode("utf-8", "surrogatepass"))
        if not isinstance(record, dict):
            return DatasetItem(item_id=item_id, name=name, error=f"{name}: neither a JSON object nor a string")
        try:
            column = choose_text_column(list(record), text_column=self.text_column, source=name)
        except InputError as exc:
            return DatasetItem(item_id=item_id, name=name, error=str(exc))
        value, error = _text_value(record.get(column), name)
        return DatasetItem(item_id=item_id, name=name, data=value, error=error, size=len(value) if value else None)

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        return self._write_jsonl_index(out_path, keep, lambda item: {"item_id": item.item_id})

    def _input_files(self) -> list[Path]:
        return list(self.shards)


class WarcDataset(Dataset):
    """Web crawl archives (WARC, and WET as Common Crawl ships them), read with warcio.

    Items: each ``response`` record with an HTML or text payload (the HTTP
    body; HTML is read as the text engine reads HTML, boilerplate dropped),
    each ``resource`` record likewise, and each WET ``conversion`` record
    (plain text).  ``name`` is the record's ``WARC-Target-URI``.
    """

    kind = "warc"

    def __init__(self, files: list[Path], *, spec: str, name: str, max_record_bytes: int = 64 * 1024 * 1024) -> None:
        super().__init__(spec=spec, name=name)
        self.files = files
        self.max_record_bytes = max_record_bytes

    def items(self) -> Iterator[DatasetItem]:
        from consentry.io.sources.textparts import WarcRead  # the loop a cluster's workers read parts with

        self.skipped = {}
        for path in self.files:
            yield from (item for _position, item in WarcRead(self, path).entries())

    def _record_item(self, path: Path, n: int, record) -> DatasetItem | None:
        kind = record.rec_type
        if kind not in ("response", "resource", "conversion"):
            self._skip(f"WARC {kind} record")
            return None
        uri = record.rec_headers.get_header("WARC-Target-URI") or f"{path.name} record {n}"
        item_id = f"{path.name}#record:{n}"
        if kind == "response":
            if record.http_headers is None:
                self._skip("response without HTTP headers")
                return None
            ctype = (record.http_headers.get_header("Content-Type") or "").lower()
            if not any(t in ctype for t in ("html", "text/plain", "xml")):
                self._skip(f"response of type {ctype.split(';')[0] or 'unknown'}")
                return None
        data = record.content_stream().read(self.max_record_bytes + 1)
        if len(data) > self.max_record_bytes:
            return DatasetItem(item_id=item_id, name=uri, error=f"{uri}: record larger than {self.max_record_bytes:,} bytes")
        return DatasetItem(item_id=item_id, name=uri, data=data, size=len(data))

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        return self._write_jsonl_index(out_path, keep, lambda item: {"item_id": item.item_id, "url": item.name})

    def _input_files(self) -> list[Path]:
        return list(self.files)


class DocumentFolder(Dataset):
    """Every document under a folder, in path order, recognised by content (text engine's sniff)."""

    kind = "folder"

    def __init__(self, root: Path) -> None:
        super().__init__(spec=str(root.resolve()), name=root.name or str(root))
        self.root = root

    def items(self) -> Iterator[DatasetItem]:
        from consentry.engines.text.read import sniff_kind

        self.skipped = {}
        for path in sorted(p for p in self.root.rglob("*") if p.is_file() and not p.is_symlink()):
            rel = path.relative_to(self.root).as_posix()
            try:
                with open(path, "rb") as fh:
                    head = fh.read(512)
            except OSError as exc:
                yield DatasetItem(item_id=rel, name=str(path), error=f"{path}: cannot read ({exc.strerror or exc})")
                continue
            if sniff_kind(head) is None:
                self._skip("not a text document")
                continue
            yield DatasetItem(item_id=rel, name=str(path), path=path, size=path.stat().st_size)

    def write_clean_manifest(self, out_path, *, keep: Callable[[str], bool]) -> str:
        return self._write_jsonl_index(out_path, keep, lambda item: {"path": str(item.path)})

    def _input_files(self) -> list[Path]:
        return []


#: Suffixes only text datasets have (crawl archives, compressed JSON Lines).
TEXT_ONLY_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".arc.gz", ".jsonl.gz", ".json.gz", ".arrow")

_ROW_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".jsonl.gz": "jsonl",
                 ".json.gz": "jsonl", ".csv": "csv", ".parquet": "parquet", ".arrow": "arrow"}
_WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".arc.gz")


def _row_kind(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, kind in _ROW_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def is_rows_folder(path: Path, *, max_files: int = 10_000) -> bool:
    """Whether a folder is a Hugging Face style dataset: data files (Parquet, JSON Lines, Arrow) and no media
    files (what :func:`consentry.engines.item_extensions` names), looking at most at ``max_files`` files."""
    from consentry.engines import item_extensions

    media = item_extensions()
    rows = False
    for n, p in enumerate(path.rglob("*")):
        if n >= max_files:
            return False
        if not p.is_file() or p.name.startswith("."):
            continue
        if _row_kind(p) and p.name not in ("dataset_info.json", "state.json", "dataset_dict.json"):
            rows = True
        elif os.path.splitext(p.name)[1].lower() in media and p.name.lower() not in ("readme.md", "license.md"):
            return False
    return rows


def open_text_dataset(spec: str | os.PathLike, *, text_column: str | None = None,
                      limits: ArchiveLimits | None = None) -> Dataset:
    """The text reader for what a user named (see the module docstring).

    Raises
    ------
    InputError
        One line naming ``spec`` when it is none of the sources read.
    """
    from consentry.io.sources.patterns import expand_shards, has_pattern

    path = Path(spec)
    if has_pattern(str(spec)):
        shards = expand_shards(str(spec))
        return TextWebDataset(shards, spec=str(spec), name=path.name, text_column=text_column, limits=limits)
    if not path.exists():
        raise InputError(f"{spec}: no such file or folder")
    name = path.name.lower()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _row_kind(p) and not p.name.startswith("."))
        # A Hugging Face layout: data files of one kind (dataset_info.json / state.json are not data).
        files = [p for p in files if p.name not in ("dataset_info.json", "state.json", "dataset_dict.json")]
        kinds = {_row_kind(p) for p in files}
        if files and len(kinds) == 1:
            return TextRowsDataset(files, kind=kinds.pop(), spec=str(path.resolve()), name=path.name,
                                   text_column=text_column)
        return DocumentFolder(path)
    if name.endswith(_WARC_SUFFIXES):
        return WarcDataset([path], spec=str(path.resolve()), name=path.name)
    if name.endswith((".tar", ".tar.gz", ".tgz")):
        return TextWebDataset([path], spec=str(path.resolve()), name=path.name, text_column=text_column, limits=limits)
    kind = _row_kind(path)
    if kind is not None:
        return TextRowsDataset([path], kind=kind, spec=str(path.resolve()), name=path.stem, text_column=text_column)
    raise InputError(f"{spec}: not a text dataset (name a .jsonl/.csv/.parquet file, a folder, .tar shards "
                     "or a .warc/.wet archive)")
