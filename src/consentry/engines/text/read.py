"""Reading documents into one text: sniffing by content, and extraction with well-kept libraries.

What the extracted text is (the offsets of every text match are code-point
offsets into it, Python ``str`` indices):

=========  =====================================================================================
kind       extracted text
=========  =====================================================================================
text       the bytes decoded (BOM, else UTF-8, else the encoding ``charset_normalizer`` finds);
           Markdown is plain text here (its marks separate words, offsets are in the Markdown)
html       the main content as trafilatura extracts it (navigation, headers, footers, comments
           dropped); when it finds none, the text of ``<body>`` without scripts, styles,
           ``nav``/``header``/``footer``/``aside``, one line per block element (lxml)
epub       each spine document in reading order (ebooklib), as HTML above without the boilerplate
           step, separated by a blank line
pdf        each page's text layer (pypdf ``extract_text``), pages separated by a blank line;
           a PDF without a text layer (scanned pages) gives no text
docx       paragraphs, then tables' cells, one per line (python-docx)
=========  =====================================================================================

Limits: at most :data:`MAX_INPUT_BYTES` read; ZIP-based formats (EPUB, DOCX)
are refused when their members would expand past :data:`MAX_UNZIPPED_BYTES`
or by more than :data:`MAX_ZIP_RATIO` times (zip bombs); every failure is
one line naming the input.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

MAX_INPUT_BYTES = 512 * 1024 * 1024
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_RATIO = 200
MAX_ZIP_MEMBERS = 20_000
KINDS = ("text", "html", "epub", "pdf", "docx")

_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 header hr li "
    "main nav ol p pre section table tbody td tfoot th thead tr ul title body html".split())
_SKIP_TAGS = frozenset("script style noscript template svg head".split())
_BOILER_TAGS = frozenset("nav header footer aside form".split())


def _error(source: Any, reason: str) -> Exception:
    from ...domain.errors import DecodeError

    return DecodeError(source, reason)


def sniff_kind(head: bytes, *, name: str | None = None) -> str | None:
    """The document kind of an input whose first bytes are ``head`` (512 are enough), by content.

    Returns one of :data:`KINDS`, or None when the bytes are not a text
    document (audio, images, other archives, binary data).  ``name`` is not
    used to decide (a file's name may lie); it is accepted for the interface.
    """
    if not head:
        return None
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        if head[30:58] == b"mimetypeapplication/epub+zip":
            return "epub"
        if b"[Content_Types].xml" in head or b"word/" in head or b"docProps/" in head or b"_rels/" in head:
            return "docx"
        return None
    text = _head_text(head)
    if text is None:
        return None
    return _markup_kind(text)


def _markup_kind(text: str) -> str:
    """``"html"`` or ``"text"`` for the first bytes of a text document, decoded."""
    low = text.lstrip("\ufeff \t\r\n").lower()
    if low.startswith(("<!doctype html", "<html", "<head", "<body")) or \
            (low.startswith("<") and any(t in low for t in ("<html", "<body", "<p>", "<div", "<head", "<meta"))):
        return "html"
    return "text"


def sniff_utf8(data: bytes) -> tuple[str, str | None] | None:
    """A whole document in memory that is UTF-8 without a BOM or control characters, sniffed and read in one pass.

    Returns ``(kind, text)``: ``kind`` is :func:`sniff_kind` of its first 512
    bytes (``"text"`` or ``"html"``; :func:`sniff_kind` of its first 4 KiB is
    not None either), and ``text`` is what :func:`extract_text` gives for the
    kind ``"text"`` (None for HTML, which needs extracting).  None for any
    other bytes (empty, a BOM, a PDF or ZIP signature, not UTF-8, a control
    character anywhere): the caller then sniffs them as usual.  A scan's text
    rows are read this way (``services/scan_text.py``).

    Why the answers agree: every prefix of valid UTF-8 decodes to a prefix of
    its text (a character cut at the end left out, as :func:`_head_text`
    does), without control characters when the whole text has none.
    """
    if not data or data.startswith((b"\xef\xbb\xbf", b"%PDF-", b"PK\x03\x04")):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if data.translate(None, _NOT_CONTROL_BYTES) and _CONTROLS.search(text) is not None:
        return None
    kind = _markup_kind(data[:512].decode("utf-8", "ignore"))
    return kind, (text if kind == "text" else None)


#: Control characters that plain text does not hold: C0 but tab, line feed, form feed and carriage return; DEL; C1.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
#: Every byte but those of C0/DEL controls and 0xC2 (which leads C1 controls in UTF-8): what deleting them
#: leaves of UTF-8 text is empty when the text holds no control character (bytes.translate: ~5x the regex).
_NOT_CONTROL_BYTES = bytes(b for b in range(256) if not (b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D))
                           and b not in (0x7F, 0xC2))


def _head_text(head: bytes) -> str | None:
    """The first bytes as text, or None when they look binary."""
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                     (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(enc, "ignore")
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:  # cut inside the last character: UTF-8 still; else Latin-1
        text = head.decode("utf-8", "ignore") if e.start >= len(head) - 3 else head.decode("latin-1")
    if _CONTROLS.search(text) is None:  # most texts: none to count
        return text
    bad = len(_CONTROLS.findall(text))
    return None if bad > max(2, len(text) // 50) else text


def read_bytes(source: Any, *, name: str | None = None) -> tuple[bytes, str]:
    """The input's bytes (at most :data:`MAX_INPUT_BYTES`) and the label errors name it by."""
    if isinstance(source, (str, os.PathLike)):
        label = name or str(source)
        try:
            size = os.path.getsize(source)
            if size > MAX_INPUT_BYTES:
                raise _error(label, f"{size:,} bytes, more than the {MAX_INPUT_BYTES:,} a text document may have")
            return Path(source).read_bytes(), label
        except OSError as e:
            raise _error(label, f"cannot be read ({e.strerror or e})") from None
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        data = source.read(MAX_INPUT_BYTES + 1)
    label = name or getattr(source, "name", None) or "<bytes>"
    if len(data) > MAX_INPUT_BYTES:
        raise _error(label, f"more than the {MAX_INPUT_BYTES:,} bytes a text document may have")
    return data, str(label)


def extract_text(data: bytes, *, label: str, kind: str | None = None) -> tuple[str, str]:
    """``(text, kind)``: the extracted text of a document (see the module docstring).

    ``kind``, when given, is :func:`sniff_kind` of the document's first 512 bytes, sniffed already by the
    caller (a scan's text rows are sniffed once); None sniffs them here.

    Raises
    ------
    DecodeError
        One line naming ``label``: empty input, binary data, a damaged or
        encrypted PDF, a zip bomb, a document with no text.
    """
    if not data:
        raise _error(label, "empty: no text to read")
    kind = kind or sniff_kind(data[:512])
    if kind is None:
        raise _error(label, "not a text document (plain text, Markdown, HTML, EPUB, PDF or DOCX)")
    try:
        text = {"text": _plain, "html": _html, "epub": _epub, "pdf": _pdf, "docx": _docx}[kind](data, label)
    except Exception as e:  # the libraries' own exceptions, worded as one line
        if getattr(e, "source", None) is not None and getattr(e, "reason", None) is not None:
            raise
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise _error(label, f"not a readable {kind.upper() if kind != 'text' else 'text'} document ({reason})") from None
    return text, kind


def decode_text(data: bytes, *, label: str) -> str:
    """Bytes to ``str``: a BOM's encoding, else UTF-8, else what ``charset_normalizer`` finds."""
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                     (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(enc, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:4 * 1024 * 1024]).best()
    if best is None or best.encoding is None:
        raise _error(label, "not text in any encoding recognised (binary data?)")
    return data.decode(best.encoding, "replace")


def _plain(data: bytes, label: str) -> str:
    # The kind "text" is sniff_kind's answer for the first 512 bytes: _head_text found them text already.
    return decode_text(data, label=label)


def _html_root(data: bytes | str):
    import lxml.html

    parser = lxml.html.HTMLParser(recover=True, remove_comments=True, huge_tree=False)
    root = lxml.html.document_fromstring(data, parser=parser)
    return root


def html_block_text(root, *, drop_boilerplate: bool) -> str:
    """The text of an lxml HTML tree, one line per block element, scripts and styles left out."""
    out: list[str] = []

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower()
        if tag in _SKIP_TAGS or (drop_boilerplate and tag in _BOILER_TAGS):
            return
        block = tag in _BLOCK_TAGS
        if block:
            out.append("\n")
        if el.text and tag:
            out.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                out.append(child.tail)
        if block:
            out.append("\n")

    walk(root)
    lines = [" ".join(line.split()) for line in "".join(out).split("\n")]
    return "\n".join(line for line in lines if line)


def _html(data: bytes, label: str) -> str:
    import trafilatura

    html = decode_text(data, label=label) if not data.lstrip().startswith(b"<?xml") else data.decode("utf-8", "replace")
    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True,
                               deduplicate=False, with_metadata=False)
    if text and text.strip():
        return text
    body = _html_root(html)
    return html_block_text(body, drop_boilerplate=True)


def _check_zip(data: bytes, label: str) -> zipfile.ZipFile:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise _error(label, f"not a readable ZIP container ({e})") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise _error(label, f"{len(infos):,} members, more than {MAX_ZIP_MEMBERS:,}: refused")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise _error(label, f"would expand to {total:,} bytes (more than {MAX_UNZIPPED_BYTES:,}): refused as a zip bomb")
    for i in infos:
        if i.file_size > 1024 * 1024 and i.file_size > MAX_ZIP_RATIO * max(1, i.compress_size):
            raise _error(label, f"member {i.filename!r} expands {i.file_size // max(1, i.compress_size):,} times: "
                                "refused as a zip bomb")
    return z


def _epub(data: bytes, label: str) -> str:
    import warnings

    _check_zip(data, label)
    from ebooklib import ITEM_DOCUMENT, epub

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    parts = []
    for idref, _ in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ITEM_DOCUMENT:
            continue
        content = item.get_content()
        if not content.strip():
            continue
        text = html_block_text(_html_root(content), drop_boilerplate=False)
        if text:
            parts.append(text)
    return "\n\n".join(parts)


def _pdf(data: bytes, label: str) -> str:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                raise _error(label, "an encrypted PDF: give the unencrypted file")
        except Exception as e:
            if getattr(e, "source", None):
                raise
            raise _error(label, "an encrypted PDF: give the unencrypted file") from None
    pages = [(page.extract_text() or "").strip() for page in reader.pages]
    return "\n\n".join(p for p in pages if p)


def _docx(data: bytes, label: str) -> str:
    _check_zip(data, label)
    import docx

    doc = docx.Document(io.BytesIO(data))
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                lines.append(cell.text)
    return "\n".join(line for line in lines if line.strip())
