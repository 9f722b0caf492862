"""Files sent to the server: streamed to disk under caps, sniffed by content, stored under server-chosen names.

:func:`receive_multipart` reads a ``multipart/form-data`` request body chunk
by chunk (python-multipart's push parser), writing each file part straight
to a temporary file in the uploads folder; nothing is held whole in memory,
and a part that passes its cap stops the request (:class:`UploadTooLarge`,
HTTP 413).  :func:`accept_file` then checks the content (sniffed from the
first bytes, never from the client's name or ``Content-Type``) against the
purpose, and stores it as ``<upload_id><suffix>`` with a row in the store;
the client's file name is kept, sanitised, as metadata only.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import AsyncIterator

from consentry.io.decode.audio import AUDIO_EXTENSIONS
from consentry.domain.errors import ConsentryError, InputError
from consentry.store import store_of
from consentry.formats.sniff import SNIFF_BYTES, is_audio_media, sniff_media

CHUNK_BYTES = 64 * 1024

#: What each purpose accepts (checked on the sniffed media type).
PURPOSES = ("audio", "dataset", "voice", "output")

_AUDIO_SUFFIX = {
    "audio/wav": ".wav", "audio/flac": ".flac", "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/aac": ".aac",
    "audio/mp4": ".m4a", "audio/aiff": ".aiff", "video/mp4": ".mp4", "video/webm": ".webm",
    "video/x-matroska": ".mkv", "video/quicktime": ".mov",
}
_DATASET_SUFFIX = {
    "application/zip": ".zip", "application/x-tar": ".tar", "application/gzip": ".tar.gz",
    "application/vnd.apache.parquet": ".parquet", "application/json": ".jsonl",
}
_TEXT_MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


class UploadTooLarge(InputError):
    """A request or one of its files is larger than the server accepts (HTTP 413)."""


class UnsupportedUpload(InputError):
    """A file's content is not what the request needs, e.g. not audio (HTTP 415)."""


@dataclass(frozen=True)
class UploadLimits:
    """Caps on one request (bytes and counts).

    Attributes
    ----------
    max_file_bytes : int
        Largest file part (bytes).
    max_files : int
        Most file parts in one request.
    max_field_bytes : int
        Largest non-file field (bytes).
    max_fields : int
        Most non-file fields.
    """

    max_file_bytes: int = 200 * 1024 * 1024
    max_files: int = 100
    max_field_bytes: int = 64 * 1024
    max_fields: int = 50


@dataclass
class ReceivedFile:
    """One file part, written to ``path`` (a temporary name in the uploads folder)."""

    field_name: str
    original_name: str
    path: Path
    bytes: int = 0
    sha256: str = ""
    head: bytes = b""
    accepted: bool = False

    @property
    def media_type(self) -> str:
        return sniff_media(self.head)


@dataclass
class ReceivedForm:
    """The fields and files of a multipart request."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[ReceivedFile] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else default

    def files_named(self, name: str) -> list[ReceivedFile]:
        return [f for f in self.files if f.field_name == name]

    def discard(self) -> None:
        """Delete the temporary files that were not accepted."""
        for f in self.files:
            if not f.accepted:
                f.path.unlink(missing_ok=True)


def sanitize_name(name: str | None) -> str:
    """A client's file name as metadata: the last path component, printable, at most 200 characters.

    >>> sanitize_name("../../etc/passwd")
    'passwd'
    >>> sanitize_name("C:\\\\Users\\\\x\\\\song.wav")
    'song.wav'
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C")).strip().strip(".")
    return text[:200] or "upload"


async def receive_multipart(body: AsyncIterator[bytes], *, content_type: str, temp_dir: Path,
                            limits: UploadLimits, content_length: int | None = None) -> ReceivedForm:
    """Parse a ``multipart/form-data`` body, streaming file parts to ``temp_dir``.

    Raises
    ------
    InputError
        Not multipart, no boundary, malformed body, too many parts.
    UploadTooLarge
        A file or field passes its cap (the request is refused as soon as it does).
    """
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

    ctype, options = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data" or not options.get(b"boundary"):
        raise InputError("send the files as multipart/form-data (with a boundary)")
    max_request = limits.max_files * limits.max_file_bytes + limits.max_fields * limits.max_field_bytes + 1024 * 1024
    if content_length is not None and content_length > max_request:
        raise UploadTooLarge(f"the upload ({human_size(content_length)}) is larger than the server accepts "
                             f"({limits.max_files} files of at most {human_size(limits.max_file_bytes)} each); "
                             "send fewer or smaller files")
    temp_dir.mkdir(parents=True, exist_ok=True)
    form = ReceivedForm()
    state: dict = {"headers": {}, "header_field": b"", "header_value": b"", "part": None, "error": None}

    def on_part_begin() -> None:
        state["headers"] = {}
        state["part"] = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["header_field"].decode("latin-1").strip().lower()] = state["header_value"]
        state["header_field"], state["header_value"] = b"", b""

    def on_headers_finished() -> None:
        disp, params = parse_options_header(state["headers"].get("content-disposition", b""))
        if disp != b"form-data" or b"name" not in params:
            raise InputError("a multipart part has no form-data name")
        name = params[b"name"].decode("utf-8", "replace")
        if b"filename" in params:
            if len(form.files) >= limits.max_files:
                raise UploadTooLarge(f"more than {limits.max_files} files in one request; send them in several requests")
            f = ReceivedFile(field_name=name, original_name=sanitize_name(params[b"filename"].decode("utf-8", "replace")),
                             path=temp_dir / f".part-{secrets.token_hex(8)}")
            form.files.append(f)
            state["part"] = {"file": f, "fh": open(f.path, "wb"), "hash": hashlib.sha256()}
        else:
            if sum(len(v) for v in form.fields.values()) >= limits.max_fields:
                raise InputError(f"more than {limits.max_fields} form fields in one request")
            state["part"] = {"name": name, "buf": bytearray()}

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = state["part"]
        chunk = data[start:end]
        if "fh" in part:
            f = part["file"]
            f.bytes += len(chunk)
            if f.bytes > limits.max_file_bytes:
                raise UploadTooLarge(f"file {f.original_name!r} is larger than the {human_size(limits.max_file_bytes)} "
                                     "this server accepts per file; send a smaller or shorter file")
            if len(f.head) < SNIFF_BYTES:
                f.head += chunk[:SNIFF_BYTES - len(f.head)]
            part["hash"].update(chunk)
            part["fh"].write(chunk)
        else:
            part["buf"] += chunk
            if len(part["buf"]) > limits.max_field_bytes:
                raise UploadTooLarge(f"form field {part['name']!r} is longer than {limits.max_field_bytes} bytes")

    def on_part_end() -> None:
        part = state["part"]
        if part is None:
            return
        if "fh" in part:
            part["fh"].close()
            part["file"].sha256 = part["hash"].hexdigest()
        else:
            try:
                value = bytes(part["buf"]).decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"form field {part['name']!r} is not UTF-8 text") from None
            form.fields.setdefault(part["name"], []).append(value)
        state["part"] = None

    try:
        parser = MultipartParser(options[b"boundary"], callbacks={
            "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
            "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        }, max_header_size=16 * 1024)
    except FormParserError as exc:  # a boundary over 256 bytes was an HTTP 500 (fuzz finding, issue 15)
        raise InputError(f"malformed multipart body ({str(exc).splitlines()[0][:120]})") from None
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > max_request:
                raise UploadTooLarge(f"the upload is larger than the {human_size(max_request)} this server accepts at once; "
                                     "send fewer or smaller files")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        _close(state)
        form.discard()
        raise InputError(f"malformed multipart body ({str(exc).splitlines()[0][:120]})") from None
    except BaseException:
        _close(state)
        form.discard()
        raise
    if state["part"] is not None:
        _close(state)
        form.discard()
        raise InputError("the multipart body ended in the middle of a part (truncated upload)")
    return form


def _close(state: dict) -> None:
    part = state.get("part")
    if part and "fh" in part:
        part["fh"].close()


def _suffix(f: ReceivedFile, purpose: str) -> str:
    media = f.media_type
    original = PurePosixPath(f.original_name.lower())
    if purpose == "dataset":
        if media in _DATASET_SUFFIX:
            if media == "application/json" and original.suffix in (".jsonl", ".ndjson"):
                return original.suffix
            return _DATASET_SUFFIX[media]
        if media == "text/plain":
            return original.suffix if original.suffix in _TEXT_MANIFEST_SUFFIXES else ".csv"
        if is_audio_media(media):
            return _AUDIO_SUFFIX.get(media, ".audio")
        raise UnsupportedUpload(f"file {f.original_name!r} is {media}; a dataset is a zip or tar archive, "
                                "a CSV/JSONL/Parquet manifest, or an audio file")
    if is_audio_media(media):
        if original.suffix in AUDIO_EXTENSIONS:
            return original.suffix
        return _AUDIO_SUFFIX.get(media, ".audio")
    if media == "application/x-empty":
        raise InputError(f"file {f.original_name!r} is empty")
    if purpose in OTHER_MEDIA_PURPOSES:
        engine = _other_medium(f)
        if engine is not None:  # a text or an image (issues 18, 19): kept under a suffix its engine reads
            if original.suffix in {s.lower() for s in getattr(engine, "extensions", ())}:
                return original.suffix
            if purpose == "output" and engine.medium == "text" and original.suffix in (".jsonl", ".ndjson"):
                return original.suffix  # a JSONL of text outputs, one per row
            return _OTHER_SUFFIX.get(media) or _MEDIUM_SUFFIX.get(engine.medium, ".bin")
        raise UnsupportedUpload(f"file {f.original_name!r} is {media}, not audio, a text or an image Consentry reads; "
                                "send an audio file (WAV, FLAC, MP3, ...), a text (TXT, HTML, PDF, EPUB, DOCX) or an image "
                                "(JPEG, PNG, WebP, TIFF, GIF, BMP)")
    raise UnsupportedUpload(f"file {f.original_name!r} is {media}, not audio; send an audio file (WAV, FLAC, MP3, ...)")


#: Upload purposes that take any medium an engine reads (works, outputs to check, clips to identify); voice
#: samples are audio only.
OTHER_MEDIA_PURPOSES = ("audio", "output")
#: Suffixes to store other media under when the sender's name has none their engine reads.
_OTHER_SUFFIX = {"text/html": ".html", "application/pdf": ".pdf", "application/epub+zip": ".epub",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
                 "text/plain": ".txt", "text/markdown": ".md", "image/jpeg": ".jpg", "image/png": ".png",
                 "image/webp": ".webp", "image/gif": ".gif", "image/tiff": ".tif", "image/bmp": ".bmp",
                 "image/heic": ".heic", "image/avif": ".avif"}
_MEDIUM_SUFFIX = {"text": ".txt", "image": ".img"}


def _other_medium(f: ReceivedFile):
    """The engine of a medium other than music whose sniffer claims ``f``'s first bytes, or None."""
    from consentry import engines
    from consentry.services.media import read_head

    try:  # the whole upload is on disk by now: its first 4 KiB, as a registration would read them
        engine = engines.for_head(read_head(f.path), name=f.original_name)
    except Exception:  # noqa: BLE001 - an engine that cannot look at the head does not claim it
        return None
    return engine if engine is not None and engine.medium != "music" else None


def human_size(n: int) -> str:
    """A size for people, in binary units written as they are usually read: ``209715200`` → ``"200 MB"``."""
    for unit, factor in (("TB", 1024 ** 4), ("GB", 1024 ** 3), ("MB", 1024 ** 2), ("kB", 1024)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def check_file(f: ReceivedFile, *, purpose: str) -> str:
    """The suffix to store ``f`` under, or an error saying why its content does not fit ``purpose``."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown upload purpose {purpose!r}")
    if f.bytes == 0:
        raise InputError(f"file {f.original_name!r} is empty")
    return _suffix(f, purpose)


def accept_file(registry, f: ReceivedFile, *, purpose: str, account_id: str, uploads_dir: Path, created_at: str,
                validate=None) -> dict:
    """Check ``f``'s content, move it to its server-chosen name and record it in ``registry`` (or a store);
    returns the upload row.

    ``validate(path)``, if given, is called on the file at its final name
    before it is recorded; if it raises, the file is deleted and nothing is
    recorded.
    """
    suffix = check_file(f, purpose=purpose)
    upload_id = f"up-{secrets.token_hex(10)}"
    stored_name = upload_id + suffix
    uploads_dir.mkdir(parents=True, exist_ok=True)
    final = uploads_dir / stored_name
    os.replace(f.path, final)
    if validate is not None:
        try:
            validate(final)
        except ConsentryError as exc:  # said to the sender: their file's name, never the server's path
            final.unlink(missing_ok=True)
            raise InputError(str(exc).replace(str(final), f.original_name)) from None
        except BaseException:
            final.unlink(missing_ok=True)
            raise
    f.path = final
    f.accepted = True
    row = {"upload_id": upload_id, "account_id": account_id, "purpose": purpose, "original_name": f.original_name,
           "media_type": f.media_type, "bytes": f.bytes, "sha256": f.sha256, "stored_name": stored_name,
           "created_at": created_at}
    store_of(registry).add_upload(row)
    return row


def remove_stale_parts(registry, *, incoming_dir: str | os.PathLike) -> list[str]:
    """Delete the partial uploads (``.part-*`` in ``incoming_dir``) a stopped server left, unless a queued or
    running job names one; call it holding the data folder's lock (no other server writes there).  Returns the
    names removed."""
    import logging

    incoming = Path(incoming_dir)
    if not incoming.is_dir():
        return []
    named = set()
    for job in store_of(registry).list_jobs(statuses=("queued", "running"), limit=100_000):
        p = job.get("params") or {}
        for path in list(p.get("paths") or []) + ([p["path"]] if p.get("path") else []):
            named.add(Path(path).name)
    removed = []
    log = logging.getLogger("consentry.server")
    for path in incoming.glob(".part-*"):
        if path.name in named or not path.is_file():
            continue
        try:
            path.unlink()
            removed.append(path.name)
        except OSError as exc:
            log.warning("cannot remove the stale partial upload %s: %s", path, exc)
    if removed:
        log.info("removed %d partial upload(s) a previous server left in %s", len(removed), incoming)
    return removed


def upload_row(registry, upload_id: str) -> dict | None:
    """The stored row of an upload, or None."""
    return store_of(registry).get_upload(upload_id)


def store_url_list(registry, *, uploads_dir: Path, urls: list[str], name: str, account_id: str,
                   created_at: str) -> dict:
    """Keep a list of URLs to scan as a JSON-lines dataset upload (one ``{"audio": url}`` per line); returns its row.

    The URLs must already be checked (http(s), one line each). ``registry`` is
    the registry (or its store) the upload is recorded in.
    """
    uploads_dir.mkdir(parents=True, exist_ok=True)
    upload_id = f"up-{secrets.token_hex(10)}"
    path = uploads_dir / f"{upload_id}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for u in urls:
            fh.write(json.dumps({"audio": u}) + "\n")
    row = {"upload_id": upload_id, "account_id": account_id, "purpose": "dataset", "original_name": name,
           "media_type": "application/json", "bytes": path.stat().st_size, "sha256": "", "stored_name": path.name,
           "created_at": created_at}
    store_of(registry).add_upload(row)
    return row


def upload_path(row: dict, uploads_dir: Path) -> Path:
    """Where an upload's bytes are (the stored name is server-made; checked anyway)."""
    name = row["stored_name"]
    if "/" in name or "\\" in name or name.startswith("."):
        raise InputError(f"upload {row['upload_id']}: damaged record")
    return uploads_dir / name
