"""Texts for the text tests, made here (no corpus): prose, passages, EPUB/DOCX/HTML wrappers, a segment."""

from __future__ import annotations
import io
import random
from pathlib import Path
import numpy as np
from consentry.engines.text import TextEngine
from consentry.store.segments import IndexSegment, build_directory


VOCAB = ("the a of and river lantern quietly archive measure harbour ledger orchard weaving signal copper meadow "
         "distant ferry glass winter record ballad thistle morning engine spiral granite patient velvet author "
         "consent licence reader island pocket summer letter window garden silver thunder station ribbon "
         "village captain shadow number market mirror bridge canvas marble violet pepper rocket forest").split()


def prose(seed: int, n_words: int) -> str:
    """Sentences of ``n_words`` words drawn from VOCAB, capitalised and punctuated, wrapped at about 70 columns."""
    rng = random.Random(seed)
    out, line, sentence = [], [], 0
    for i in range(n_words):
        w = rng.choice(VOCAB)
        if sentence == 0:
            w = w.capitalize()
        sentence += 1
        if sentence >= rng.randint(8, 16) or i == n_words - 1:
            w += rng.choice([".", ".", "!", "?"])
            sentence = 0
        elif rng.random() < 0.08:
            w += ","
        line.append(w)
        if sum(len(x) + 1 for x in line) > 70:
            out.append(" ".join(line))
            line = []
    out.append(" ".join(line))
    return "\n".join(out) + "\n"


def segment_of(engine: TextEngine, works: dict[int, str]) -> IndexSegment:
    parts = [engine.postings(engine.fingerprint(engine.signal(t)), fp_id=i) for i, t in works.items()]
    keys = np.concatenate([k for k, _ in parts])
    values = np.concatenate([v for _, v in parts])
    order = np.argsort(keys, kind="stable")
    k = np.ascontiguousarray(keys[order])
    return IndexSegment(k, np.ascontiguousarray(values[order]), *build_directory(k))


def passage(text: str, start_word: int, n_words: int) -> tuple[str, int, int]:
    """``n_words`` whitespace words of ``text`` from ``start_word``: (passage, start char, end char)."""
    spans = [(m.start(), m.end()) for m in __import__("re").finditer(r"\S+", text)]
    a, b = spans[start_word][0], spans[start_word + n_words - 1][1]
    return text[a:b], a, b


def _docx(paragraphs: list[str]) -> bytes:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _epub(chapters: list[str]) -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title("A test book")
    book.set_language("en")
    items = []
    for i, ch in enumerate(chapters):
        c = epub.EpubHtml(title=f"Chapter {i}", file_name=f"c{i}.xhtml", lang="en")
        c.content = "<html><body>" + "".join(f"<p>{line}</p>" for line in ch.split("\n") if line) + "</body></html>"
        book.add_item(c)
        items.append(c)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = items
    path = Path(__import__("tempfile").mkdtemp()) / "b.epub"
    epub.write_epub(str(path), book)
    return path.read_bytes()


def _html(body_text: str) -> bytes:
    paras = "".join(f"<p>{line}</p>" for line in body_text.split("\n") if line)
    return ("<!DOCTYPE html><html><head><title>Post</title><script>var x = 1;</script></head><body>"
            "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/about'>About us</a></nav>"
            f"<article><h1>A post</h1>{paras}</article>"
            "<footer>Copyright the publisher. All rights reserved. Contact us. Privacy policy.</footer>"
            "</body></html>").encode()


def write_warc(path, records: list[tuple[str, str, bytes, str]], *, gz: bool) -> None:
    """A WARC file of ``(kind, uri, payload, content type)`` records (``response`` with HTTP headers)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=gz)
        for kind, uri, payload, ctype in records:
            if kind == "response":
                headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
                w.write_record(w.create_warc_record(uri, "response", payload=io.BytesIO(payload), http_headers=headers))
            else:
                w.write_record(w.create_warc_record(uri, kind, payload=io.BytesIO(payload),
                                                    warc_headers_dict={"Content-Type": ctype}))
