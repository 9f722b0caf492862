"""TDMRep in text documents: ``<meta>`` in an HTML article, ``tdm:`` properties in an EPUB's package (issue 18).

The W3C TDM Reservation Protocol lets a publisher say, in the document
itself, whether text and data mining is reserved and where its licence
policy is:

- **HTML** (TDMRep, "HTML meta"): ``<meta name="tdm-reservation" content="1">``
  and ``<meta name="tdm-policy" content="https://…/policy.json">`` in ``<head>``;
- **EPUB** (TDMRep, "EPUB"): in the package document's ``<metadata>``,
  ``<meta property="tdm:reservation">1</meta>`` and
  ``<meta property="tdm:policy">https://…</meta>``, with the prefix
  ``tdm: http://www.w3.org/ns/tdmrep#`` declared on ``<package>``.

:func:`html_with_terms` and :func:`epub_with_terms` write them (replacing
earlier TDMRep declarations, touching nothing else: the article's body and
the book's other members are kept byte for byte); :func:`read_text_terms`
reads them back for ``verify`` and scans.  HTTP headers for articles
(``tdm-reservation``/``tdm-policy`` response headers) are written by
``consentry publish`` (formats/headers).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

__all__ = ["TextTerms", "html_with_terms", "epub_with_terms", "read_text_terms", "text_kind"]

TDM_PREFIX = "tdm: http://www.w3.org/ns/tdmrep#"
_HEAD_OPEN = re.compile(rb"<head\b[^>]*>", re.I)
_HTML_OPEN = re.compile(rb"<html\b[^>]*>", re.I)
_TDM_META = re.compile(rb"""[ \t]*<meta\s+[^>]*name\s*=\s*["']?tdm-(?:reservation|policy)["']?[^>]*>[ \t]*\r?\n?""", re.I)
_OPF_TDM = re.compile(r"""\s*<meta\s+[^>]*property\s*=\s*["']tdm:(?:reservation|policy)["'][^>]*>[^<]*</meta>""", re.I)
MAX_OPF_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class TextTerms:
    """The TDMRep declaration found in a document: ``reservation`` (0, 1 or None) and ``policy`` (a URL or None)."""

    reservation: int | None = None
    policy: str | None = None
    problems: list[str] = field(default_factory=list)


def text_kind(data: bytes) -> str | None:
    """``"html"`` or ``"epub"`` for a document these writers handle, else None (by content)."""
    from consentry.engines.text.read import sniff_kind

    kind = sniff_kind(data[:512])
    return kind if kind in ("html", "epub") else None


def _attr(value: str) -> bytes:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").encode("utf-8")


def html_with_terms(data: bytes, *, reservation: int, policy_url: str | None) -> bytes:
    """The HTML document with TDMRep ``<meta>`` elements at the start of its ``<head>`` (made if missing)."""
    if reservation not in (0, 1):
        raise ValueError("tdm-reservation is 0 or 1")
    metas = b'<meta name="tdm-reservation" content="%d">' % reservation
    if policy_url and reservation == 1:
        metas += b'\n<meta name="tdm-policy" content="' + _attr(policy_url) + b'">'
    head_end = data.lower().find(b"</head>")
    head_part = data[:head_end] if head_end >= 0 else data[:_body_start(data)]
    cleaned = _TDM_META.sub(b"", head_part)
    data = cleaned + data[len(head_part):]
    m = _HEAD_OPEN.search(data)
    if m is not None:
        return data[:m.end()] + b"\n" + metas + data[m.end():]
    h = _HTML_OPEN.search(data)
    at = h.end() if h is not None else 0
    return data[:at] + b"<head>\n" + metas + b"\n</head>" + data[at:]


def _body_start(data: bytes) -> int:
    i = data.lower().find(b"<body")
    return i if i >= 0 else len(data)


def _opf_name(z: zipfile.ZipFile) -> str:
    container = z.read("META-INF/container.xml").decode("utf-8", "replace")
    m = re.search(r"""full-path\s*=\s*["']([^"']+)["']""", container)
    if m is None:
        raise ValueError("META-INF/container.xml names no package document")
    return m.group(1)


def epub_with_terms(data: bytes, *, reservation: int, policy_url: str | None) -> bytes:
    """The EPUB with TDMRep properties in its package document; every other member copied unchanged.

    Raises
    ------
    ValueError
        One line: not a readable EPUB (no container, no package document, no ``<metadata>``).
    """
    if reservation not in (0, 1):
        raise ValueError("tdm-reservation is 0 or 1")
    from xml.sax.saxutils import escape

    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        name = _opf_name(z)
        info = z.getinfo(name)
        if info.file_size > MAX_OPF_BYTES:
            raise ValueError(f"package document {name} is larger than {MAX_OPF_BYTES:,} bytes")
        opf = z.read(name).decode("utf-8")
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a readable EPUB ({exc})") from None
    opf = _OPF_TDM.sub("", opf)
    props = f'\n    <meta property="tdm:reservation">{reservation}</meta>'
    if policy_url and reservation == 1:
        props += f'\n    <meta property="tdm:policy">{escape(policy_url)}</meta>'
    m = re.search(r"<(?:\w+:)?metadata\b[^>]*>", opf)
    if m is None:
        raise ValueError(f"the package document {name} has no <metadata>")
    opf = opf[:m.end()] + props + opf[m.end():]
    p = re.search(r"<(?:\w+:)?package\b[^>]*>", opf)
    if p is not None and "http://www.w3.org/ns/tdmrep#" not in p.group(0):
        tag = p.group(0)
        pm = re.search(r"""\sprefix\s*=\s*(["'])(.*?)\1""", tag, re.S)
        new = (tag[:pm.start(2)] + pm.group(2).strip() + " " + TDM_PREFIX + tag[pm.end(2):]) if pm \
            else tag[:-1].rstrip("/") + f' prefix="{TDM_PREFIX}">'
        opf = opf[:p.start()] + new + opf[p.end():]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as w:
        for item in z.infolist():
            payload = opf.encode("utf-8") if item.filename == name else z.read(item.filename)
            w.writestr(item, payload, compress_type=item.compress_type)
    return out.getvalue()


def read_text_terms(data: bytes) -> TextTerms:
    """The TDMRep declaration of an HTML document or an EPUB (never raises: problems are listed)."""
    kind = text_kind(data)
    if kind == "html":
        from consentry.formats.markup import parse_head

        text = data[:2_000_000].decode("utf-8", "replace")
        meta = dict(reversed(parse_head(text).meta))  # the first of each name wins
        return _terms(meta.get("tdm-reservation"), meta.get("tdm-policy"))
    if kind == "epub":
        try:
            z = zipfile.ZipFile(io.BytesIO(data))
            name = _opf_name(z)
            if z.getinfo(name).file_size > MAX_OPF_BYTES:
                return TextTerms(problems=[f"package document larger than {MAX_OPF_BYTES:,} bytes: not read"])
            opf = z.read(name).decode("utf-8", "replace")
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            return TextTerms(problems=[f"EPUB package unreadable ({exc})"])
        found = {m.group(1).lower(): m.group(2).strip() for m in re.finditer(
            r"""<meta\s+[^>]*property\s*=\s*["']tdm:(reservation|policy)["'][^>]*>([^<]*)</meta>""", opf, re.I)}
        return _terms(found.get("reservation"), found.get("policy"))
    return TextTerms()


def _terms(reservation: str | None, policy: str | None) -> TextTerms:
    if reservation is None:
        return TextTerms(policy=policy or None)
    value = reservation.strip()
    if value not in ("0", "1"):
        return TextTerms(policy=policy or None, problems=[f"tdm-reservation {value[:40]!r} is neither 0 nor 1"])
    return TextTerms(reservation=int(value), policy=(policy or "").strip() or None)
