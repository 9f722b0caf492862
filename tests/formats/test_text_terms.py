"""TDMRep in text documents (formats/embed/text_terms, and embed/verify through services/embed), issue 18."""

from __future__ import annotations

import io
import zipfile

import pytest

from consentry.formats.embed.text_terms import epub_with_terms, html_with_terms, read_text_terms
from textkit import _epub, _html, prose

BODY = prose(41, 300)


def test_html_meta_is_written_once_and_read_back_with_the_body_untouched():
    page = _html(BODY)
    out = html_with_terms(page, reservation=1, policy_url="https://pub.example/tdm/policies/w1.json")
    t = read_text_terms(out)
    assert (t.reservation, t.policy, t.problems) == (1, "https://pub.example/tdm/policies/w1.json", [])
    assert out[out.lower().find(b"<body"):] == page[page.lower().find(b"<body"):]
    again = html_with_terms(out, reservation=0, policy_url=None)
    assert again.count(b"tdm-reservation") == 1 and read_text_terms(again).reservation == 0
    assert b"tdm-policy" not in again
    bare = html_with_terms(b"<p>just a paragraph</p>", reservation=1, policy_url=None)
    assert read_text_terms(b"<!DOCTYPE html><html>" + bare).reservation == 1
    assert read_text_terms(page).reservation is None


def test_epub_package_gets_tdm_properties_and_stays_a_readable_book():
    from consentry.engines.text import TextEngine

    book = _epub([BODY])
    out = epub_with_terms(book, reservation=1, policy_url="https://pub.example/p.json")
    t = read_text_terms(out)
    assert (t.reservation, t.policy) == (1, "https://pub.example/p.json")
    z_in, z_out = zipfile.ZipFile(io.BytesIO(book)), zipfile.ZipFile(io.BytesIO(out))
    assert z_out.namelist() == z_in.namelist() and z_out.namelist()[0] == "mimetype"
    assert z_out.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
    opf = [n for n in z_out.namelist() if n.endswith(".opf")][0]
    assert "http://www.w3.org/ns/tdmrep#" in z_out.read(opf).decode()
    assert all(z_out.read(n) == z_in.read(n) for n in z_in.namelist() if n != opf)
    assert TextEngine().decode(out).data == TextEngine().decode(book).data
    assert read_text_terms(epub_with_terms(out, reservation=0, policy_url=None)).reservation == 0
    with pytest.raises(ValueError, match="not a readable EPUB"):
        epub_with_terms(book[:200], reservation=1, policy_url=None)


def _entry(decision: str, work_id: str = "w123") -> dict:
    uses = {u: {"decision": "deny"} for u in ("ai_training", "ai_generative", "voice_likeness", "tdm", "search_indexing")}
    uses["tdm"] = {"decision": decision, **({"price": 5.0, "currency": "USD", "unit": "per-work"} if decision == "license" else {})}
    return {"work_id": work_id, "title": "A post", "creator": "Ana", "terms_version": 1, "terms": {"uses": uses}}


@pytest.mark.parametrize("decision,reservation,policy", [("deny", 1, None), ("allow", 0, None),
                                                          ("license", 1, "https://pub.example/tdm/policies/w123.json")])
def test_embed_and_read_back_through_the_services(tmp_path, decision, reservation, policy):
    from consentry.services.embed import embed_terms, read_embedded_signals

    f = tmp_path / "post.html"
    f.write_bytes(_html(BODY))
    r = embed_terms(f, _entry(decision), terms_url="https://pub.example/terms/works/w123.html", iscc=False)
    assert r.written == ["tdmrep"] and r.kind == "html"
    t = read_text_terms(f.read_bytes())
    assert (t.reservation, t.policy) == (reservation, policy)
    again = embed_terms(f, _entry(decision), terms_url="https://pub.example/terms/works/w123.html", iscc=False)
    assert again.written == []
    found = read_embedded_signals(f)
    tdm = [s for s in found.signals if s.use == "tdm"]
    assert tdm and tdm[0].decision == ("allow" if decision == "allow" else "deny") and tdm[0].format == "html-meta"
    book = tmp_path / "b.epub"
    book.write_bytes(_epub([BODY]))
    original = book.read_bytes()
    copy = tmp_path / "b-terms.epub"
    embed_terms(book, _entry(decision), terms_url="https://pub.example/terms/works/w123.html", out=copy, iscc=False)
    assert read_text_terms(copy.read_bytes()).reservation == reservation and book.read_bytes() == original


def test_a_bad_reservation_value_is_a_problem_not_an_exception(tmp_path):
    from consentry.services.embed import read_embedded_signals

    f = tmp_path / "x.html"
    f.write_bytes(b'<!DOCTYPE html><html><head><meta name="tdm-reservation" content="maybe"></head><body>x</body></html>')
    found = read_embedded_signals(f)
    assert not [s for s in found.signals if s.use == "tdm"]
    assert any("neither 0 nor 1" in p.message for p in found.problems)
