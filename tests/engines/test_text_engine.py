"""The text engine (consentry.engines.text): normalisation, hashing, winnowing, search, documents, hostile input.

Texts are made here: sentences drawn with a fixed seed from a vocabulary
written for these tests, and documents (HTML, EPUB, DOCX, PDF) built around
them with the libraries the engine reads them with (the PDF by hand).
"""

from __future__ import annotations

import io
import json
import random
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest

from consentry.engines.base import Extent, Located, MediaEngine
from consentry.engines.text import TextEngine, TextExtra, TextEngineParams
from consentry.engines.text import reference as ref
from consentry.engines.text import winnowing as W
from consentry.engines.text.fold import TABLE_PATH, build_fold_table
from consentry.engines.text.read import extract_text, sniff_kind
from consentry.store.segments import IndexSegment, build_directory

from textkit import _docx, _epub, _html, passage, prose, segment_of

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "text.npz"


@pytest.fixture(scope="module")
def engine() -> TextEngine:
    return TextEngine()


@pytest.fixture(scope="module")
def works() -> dict[int, str]:
    return {i: prose(100 + i, 1500) for i in range(1, 6)}


@pytest.fixture(scope="module")
def index(engine, works):
    return [segment_of(engine, works)]


# ---------------------------------------------------------------- normalisation and hashing
def test_case_punctuation_unicode_hyphenation_and_line_breaks_do_not_change_the_words():
    original = "Don\u2019t STOP: the well-known exam-\n  ple, \ufb01nd the Caf\u00e9\u2026 (see \u00a7 3)"
    variants = [
        "dont stop the wellknown example find the cafe see 3",
        "DON'T\n\nSTOP -- the WELL-KNOWN example; find the CAFE\u0301 [see 3]",
        unicodedata.normalize("NFD", original),
        unicodedata.normalize("NFKC", original).upper(),
        "\uff24\uff4f\uff4e\u2019t stop the well\u00adknown example find the caf\u00e9 see 3",
    ]
    base = W.words(original).hashes
    assert len(base) == 10
    for v in variants:
        np.testing.assert_array_equal(W.words(v).hashes, base, err_msg=v)
    assert not np.array_equal(W.words("dont stop the well known example find the cafe see 3").hashes, base)


def test_punctuation_deleted_inside_words_does_not_change_them():
    """Engine version 2: a run of punctuation and symbols between two word characters is removed, so a copy with
    its punctuation deleted (as `re.sub(r"[^\\w\\s]", "", text)` does) has the same words; elsewhere they separate."""
    original = "Call :meth:`loop.is_closed()` or f(x) on 1,000 U.S.A. files/dirs -- \u00abdone\u00bb"
    deleted = "Call methloopisclosed or fx on 1000 USA filesdirs  done"
    assert W.words(original).hashes.tolist() == W.words(deleted).hashes.tolist()
    got = [original[a:b] for a, b in zip(W.words(original).start_char.tolist(), W.words(original).end_char.tolist())]
    assert got == ["Call", "meth:`loop.is_closed", "or", "f(x", "on", "1,000", "U.S.A", "files/dirs", "done"]
    assert W.words("and/or").hashes.tolist() != W.words("and or").hashes.tolist()  # the cost: spaces differ
    for text in (original, deleted, "\u309f \u30ff\u309f x\u309fy"):                   # and agree with the reference
        w = W.words(text)
        assert list(zip(w.hashes.tolist(), w.start_char.tolist(), w.end_char.tolist())) == ref.words(text)
    assert len(W.words("\u309f")) == 1  # a kana folding to two letters is one word (version 1: two)


def test_word_offsets_point_into_the_original_text():
    text = "  \u201cHello,\u201d she\u00a0said \u2014 exam-\n ple \ufb01ne \u65e5\u672c  "
    w = W.words(text)
    got = [text[a:b] for a, b in zip(w.start_char.tolist(), w.end_char.tolist())]
    assert got == ["Hello", "she", "said", "exam-\n ple", "\ufb01ne", "\u65e5\u672c"]  # 日 has no cut bit


_HAN_KANA = "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u30a2\u30a4\u30a6\u30a8\u30aa\u30ab\u30ad\u6f22\u5b57\u4e2d"


def test_han_and_kana_are_cut_into_chunks_by_their_content():
    """Engine version 3: a run of Han/kana ends a chunk after each character whose cut bit is set, and only there
    (or where other letters, punctuation or the text's end follow); white space between two of them is skipped."""
    rng = random.Random(11)
    cut = W.cut_bits()
    from consentry.engines.text.fold import SOLO, fold_table
    assert 0.45 < cut[fold_table()[0] == SOLO].mean() < 0.55   # about half of all Han/kana characters
    text = "".join(rng.choice(_HAN_KANA) for _ in range(400))
    w = W.words(text)
    chunks = [text[a:b] for a, b in zip(w.start_char.tolist(), w.end_char.tolist())]
    assert "".join(chunks) == text
    assert all(cut[ord(c[-1])] for c in chunks[:-1]) and all(not cut[ord(ch)] for c in chunks for ch in c[:-1])
    assert 1.5 < len(text) / len(chunks) < 2.5
    # Re-flowed: line breaks and (ideographic) spaces anywhere between two Han/kana characters change nothing.
    flowed = "\n".join(text[i:i + 37] for i in range(0, len(text), 37)).replace(text[100], text[100] + " \u3000", 1)
    assert W.words(flowed).hashes.tolist() == w.hashes.tolist()
    # An inserted character changes the chunks up to the next cut only: the rest keeps its words.
    edited = text[:200] + "\u6f22" + text[200:]
    e = W.words(edited)
    assert e.hashes[e.start_char >= 231].tolist() == w.hashes[w.start_char >= 230].tolist()
    assert e.hashes[e.start_char < 200].tolist()[:-1] == w.hashes[w.start_char < 200].tolist()[:-1]
    # Punctuation, Latin letters and digits end a chunk; so does a NUL (texts of a batch are joined by one).
    for sep in ("\u3001", "a", "7", "\x00"):
        got = W.words("\u65e5" + sep + "\u65e5")
        assert got.start_char.tolist()[:1] == [0] and got.end_char.tolist()[:1] == [1], repr(sep)
    for t in (text[:60], flowed[:90], "\u65e5 a \u65e5\n\u672c", "\u65e5\u0301 \u672c", "ｱｲ\u65e5\u00ad\u672c"):
        ww = W.words(t)
        assert list(zip(ww.hashes.tolist(), ww.start_char.tolist(), ww.end_char.tolist())) == ref.words(t), repr(t)


def _random_texts(n: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "abcXY 09\n\t.,-'\u2019\u00e9\u0301\ufb01\u00df\u65e5\u00ad\u200b\U0001F600\u00a0\uff21(/_:\u309f" \
        "\u672c\u8a9e\u306e\u30a2\u3000\u3002\u3099"
    return [""] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120))) for _ in range(n)]


def test_fast_path_agrees_with_the_plain_python_reference():
    for text in _random_texts(300) + [prose(3, 400)]:
        w = W.words(text)
        assert list(zip(w.hashes.tolist(), w.start_char.tolist(), w.end_char.tolist())) == ref.words(text), repr(text)
        for k, window in ((1, 1), (3, 4), (5, 20)):
            sh = W.shingles(w, shingle_words=k)
            rs = ref.shingles(ref.words(text), k)
            assert list(zip(sh.hashes.tolist(), sh.start_char.tolist(), sh.end_char.tolist())) == rs
            assert W.winnow(sh.hashes, window=window).tolist() == ref.winnow([h for h, _, _ in rs], window)


def test_winnowing_keeps_a_shared_hash_of_every_long_enough_common_run():
    rng = np.random.default_rng(3)
    h = rng.integers(0, 2**63, 2000, dtype=np.uint64)
    window = 8
    kept = set(W.winnow(h, window=window).tolist())
    assert all(any(p in kept for p in range(s, s + window)) for s in range(0, 2000 - window + 1))
    assert 1.6 / (window + 1) < len(kept) / 2000 < 2.4 / (window + 1)


def test_the_shipped_character_table_is_what_the_build_command_makes():
    import unicodedata as ud

    with np.load(TABLE_PATH, allow_pickle=False) as z:
        if str(z["unicode_version"]) != ud.unidata_version:
            pytest.skip(f"table built with Unicode {z['unicode_version']}, this Python has {ud.unidata_version}")
        built = build_fold_table()
        for name in ("cls", "length", "folded"):
            np.testing.assert_array_equal(z[name], built[name], err_msg=name)


def test_golden_vector(engine):
    golden = np.load(GOLDEN, allow_pickle=False)
    assert str(golden["engine"]) == str(engine.id)
    from tools_golden import text_expected  # noqa: F401  (tools/golden_text.py, put on the path below)

    got = text_expected({"work": golden["work"], "query": golden["query"]})
    for name in ("keys", "start_char", "check", "match"):
        np.testing.assert_array_equal(got[name], golden[name], err_msg=name)
    assert str(got["word_sha256"]) == str(golden["word_sha256"])


@pytest.fixture(autouse=True, scope="module")
def _tools_on_path():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("tools_golden", Path(__file__).parents[2] / "tools" / "golden_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["tools_golden"] = module
    yield
    sys.modules.pop("tools_golden", None)


def test_parameters_hash_only_what_changes_the_index():
    p = TextEngineParams()
    assert TextEngineParams(min_passage_words=40, common_min_works=3).param_hash() == p.param_hash()
    assert TextEngineParams(winnow_window=12).param_hash() != p.param_hash()
    assert TextEngineParams(shingle_words=4).param_hash() != p.param_hash()
    with pytest.raises(ValueError):
        TextEngineParams(shingle_words=0)


# ---------------------------------------------------------------- the interface
def test_the_engine_implements_the_interface_with_every_keyword(engine):
    import inspect

    assert isinstance(engine, MediaEngine) and engine.medium == "text"
    for name, member in vars(MediaEngine).items():
        if name.startswith("_") or not callable(member):
            continue
        wanted = list(inspect.signature(member).parameters)[1:]
        got = inspect.signature(getattr(engine, name)).parameters
        assert not [p for p in wanted if p not in got], name


def test_fingerprint_postings_and_fp_ids(engine, works):
    fp = engine.fingerprint(engine.signal(works[1]))
    assert fp.engine == engine.id and fp.unit == "char" and fp.extent == (float(len(works[1])),)
    n_words = len(W.words(works[1]))
    assert 1.5 / 21 < len(fp) / n_words < 2.5 / 21  # about 2 / (w + 1) of the shingles
    keys, values = engine.postings(fp, fp_id=77)
    assert keys.dtype == np.uint32 and values.dtype == np.uint64
    assert set(engine.fp_ids(values).tolist()) == {77}
    fp_id, start, check = W.unpack_postings(values)
    np.testing.assert_array_equal(start, fp.fields["start_char"])
    np.testing.assert_array_equal(check, fp.fields["check"])
    other = TextEngine(TextEngineParams(winnow_window=12))
    with pytest.raises(ValueError, match="cannot go into an index"):
        engine.postings(other.fingerprint(other.signal(works[1])), fp_id=1)
    with pytest.raises(ValueError, match="needs text"):
        engine.fingerprint(engine.signal(works[1]).__class__("music", np.zeros(3), 8000.0, (1.0,), "s"))


def _found(engine, index, query: str, **kw) -> list[Located]:
    return engine.locate(engine.signal(query), index, **kw)


@pytest.mark.parametrize("form", ["verbatim", "renormalised", "inside_unrelated", "replaced_10pct", "excerpt_40"])
def test_a_passage_is_found_and_located_in_both_texts(engine, works, index, form):
    rng = random.Random(form)
    text = works[3]
    n = 40 if form == "excerpt_40" else 150
    p, a, b = passage(text, 600, n)
    query = {
        "verbatim": p,
        "renormalised": " ".join("".join(c for c in p.lower() if c.isalnum() or c.isspace()).split()),
        "inside_unrelated": prose(999, 1000) + " " + p + " " + prose(998, 1000),
        "replaced_10pct": " ".join(rng.choice(["zebra", "quartz", "nimbus"]) if rng.random() < 0.1 else x
                                   for x in p.split()),
        "excerpt_40": p,
    }[form]
    found = _found(engine, index, query, with_evidence=True)
    assert found and found[0].fp_id == 3
    m = found[0]
    assert isinstance(m.extra, TextExtra) and m.work.unit == m.query.unit == "char"
    w0, w1 = m.work.as_span()
    assert a - 10 <= w0 and w1 <= b + 10 and w1 - w0 > 0.3 * (b - a)  # inside the copied stretch of the work
    q0, q1 = m.query.as_span()
    # The query extent holds the same words as the work extent it is aligned with.
    assert set(W.words(query[int(q0):int(q1)]).hashes.tolist()) & set(W.words(text[int(w0):int(w1)]).hashes.tolist())
    assert m.extra.seeds >= engine.params.min_seeds and m.score == m.extra.matched_words
    for s in m.evidence:  # every seed's key is the query's own shingle at that offset
        sub = W.shingles(W.words(query[s.query_start_char:s.query_end_char]), shingle_words=5)
        assert W.key_of(sub.hashes).tolist() == [s.key]


def test_unrelated_text_finds_nothing(engine, index):
    for seed in range(20):
        assert _found(engine, index, prose(5000 + seed, 300)) == []


def test_align_refines_extents_and_marks_the_differences(engine, works, index):
    text = works[2]
    p, a, b = passage(text, 300, 120)
    words_ = p.split()
    words_[60] = "XYLOPHONE"
    query = "Some words before. " + " ".join(words_) + " Some words after."
    m = _found(engine, index, query)[0]
    al = engine.align(query, text, m)
    assert al is not None
    assert (al.work_start_char, al.work_end_char) == (a, b)
    assert query[al.query_start_char:al.query_end_char] == " ".join(words_)
    assert al.matched_words == len(W.words(p)) - 1
    assert [op[0] for op in al.ops if op[0] != "equal"] == ["replace"]
    refined = engine.aligned(m, al)
    assert refined.extra.aligned and refined.work.as_span() == (a, b)
    shared = engine.with_work_length(refined, len(text))
    assert shared.extra.work_share == round((b - a) / len(text), 4)
    facts = engine.evidence_facts(shared)
    json.dumps(facts)
    assert facts["work_start_char"] == a and facts["medium"] == "text" and facts["engine"] == engine.id.as_dict()
    # Why it counted: it holds anchors of the query; a copy with a word replaced is not exact.
    assert facts["anchor_seeds"] >= engine.params.min_anchor_seeds and facts["exact"] is False


def test_the_user_sets_how_long_a_passage_must_be(engine, works, index):
    p, _, _ = passage(works[4], 200, 40)
    assert _found(engine, index, p)
    assert _found(engine, index, p, min_score=500) == []
    strict = TextEngine(TextEngineParams(min_passage_words=500))
    assert strict.id == engine.id  # same index
    assert strict.locate(strict.signal(p), index) == []


def test_text_shared_by_many_registered_works_makes_no_finding(engine):
    notice = ("This work is licensed under the terms of the Example Public Licence, version two, as published by "
              "the Free Example Foundation; you may copy, share and adapt it provided that this notice, the name "
              "of the author and a link to the licence are kept in every copy you make of it.")
    works = {i: prose(300 + i, 400) + "\n" + notice + "\n" for i in range(1, 11)}
    index = [segment_of(engine, works)]
    assert _found(engine, index, "A reply quoting the notice: " + notice) == []
    m = _found(engine, index, notice + " " + passage(works[4], 100, 120)[0])
    assert [x.fp_id for x in m] == [4] and m[0].extra.common_shingles > 0
    # Not common under a higher bar, the notice's shingles reach all ten works, each seed weighing 1/10.
    lenient = TextEngine(TextEngineParams(common_min_works=50))
    q = lenient.query_print(lenient.signal(notice))
    seeds = lenient.candidates(q, index)
    assert seeds.common_shingles == 0 and set(seeds.fp_id.tolist()) == set(works)
    held = seeds.works_holding.tolist()
    assert max(held) == 10 and held.count(10) > len(held) / 2  # (a notice's edges are winnowed per work)
    assert lenient.locate(lenient.signal(notice), index) == []  # 1/10 a seed: far too light


def test_seeds_of_text_two_registered_works_share_weigh_half(engine):
    shared = " ".join(prose(555, 60).split())
    works = {1: prose(601, 300) + shared + prose(602, 300), 2: prose(603, 300) + shared + prose(604, 300)}
    index = [segment_of(engine, works)]
    found = engine.locate(engine.signal(shared), index, with_evidence=True)
    assert {m.fp_id for m in found} == {1, 2}
    for m in found:
        weight = sum(1 / s.works_holding for s in m.evidence)
        assert weight >= engine.params.min_seeds and 2 in {s.works_holding for s in m.evidence}


def test_two_works_and_two_passages_in_one_query(engine, works, index):
    p1 = passage(works[1], 100, 80)[0]
    p2 = passage(works[5], 900, 80)[0]
    p3 = passage(works[1], 1200, 80)[0]
    found = _found(engine, index, p1 + "\n\n" + prose(77, 200) + p2 + "\n" + p3)
    assert sorted(m.fp_id for m in found) == [1, 1, 5]


def test_the_sqlite_store_keeps_text_segments_under_the_text_engine_id(engine, works, tmp_path):
    from consentry.store.sqlite import SQLiteStore

    store = SQLiteStore.open(tmp_path / "r.db", create=True)
    try:
        keys, values = engine.postings(engine.fingerprint(engine.signal(works[2])), fp_id=2)
        store.add_segment(keys, values, **engine.id.store_key())
        segments = store.index_segments(**engine.id.store_key())
        p, a, b = passage(works[2], 500, 100)
        (m,) = engine.locate(engine.signal("Quoted: " + p), segments)
        assert m.fp_id == 2 and a - 10 <= m.work.start[0] and m.work.end[0] <= b + 10
    finally:
        store.close()


# ---------------------------------------------------------------- documents


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a text layer, written by hand (Helvetica, one line per Tj)."""
    content = "BT /F1 10 Tf 40 800 Td 12 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*" for line in lines) + " ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
            b"/Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content.encode("latin-1") + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize("kind", ["text", "html", "epub", "pdf", "docx", "utf16", "latin1"])
def test_documents_are_sniffed_by_content_and_their_text_found(engine, works, index, kind):
    p = passage(works[5], 700, 150)[0]
    lines = [" ".join(p.split()[i:i + 12]) for i in range(0, 150, 12)]
    data = {
        "text": p.encode(), "html": _html("\n".join(lines)), "epub": _epub(["\n".join(lines[:6]), "\n".join(lines[6:])]),
        "pdf": _pdf(lines), "docx": _docx(lines), "utf16": "\ufeff".encode("utf-16-le") + p.encode("utf-16-le"),
        "latin1": ("Caf\u00e9 na\u00efve. " + p).encode("latin-1"),
    }[kind]
    assert sniff_kind(data[:512]) == {"utf16": "text", "latin1": "text"}.get(kind, kind)
    assert engine.sniff(data[:512], name="whatever.bin")
    sig = engine.decode(data, name=f"doc.{kind}")
    assert sig.medium == "text" and sig.unit == "char" and sig.size == len(sig.data)
    if kind == "html":
        assert "Home" not in sig.data and "Privacy" not in sig.data and "var x" not in sig.data
    found = engine.locate(sig, index)
    assert found and found[0].fp_id == 5 and found[0].extra.matched_words >= 100


def test_decode_reads_a_path_and_bounds_the_characters(engine, works, tmp_path):
    path = tmp_path / "w.md"
    path.write_text("# Title\n\n" + works[1], encoding="utf-8")
    assert engine.decode(path).data.startswith("# Title")
    assert engine.decode(path, max_extent=100).size == 100


# ---------------------------------------------------------------- hostile input
def _bomb(kind: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if kind == "epub":
            z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        else:
            z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml" if kind == "docx" else "OEBPS/c.xhtml", b"\0" * (60 * 1024 * 1024))
    return buf.getvalue()


@pytest.mark.parametrize("case", ["empty", "garbage", "nul_text", "zip_bomb_epub", "zip_bomb_docx", "truncated_pdf",
                                  "not_a_pdf", "broken_docx", "other_zip", "too_big", "missing_file"])
def test_hostile_inputs_give_one_line_errors_naming_the_input(engine, case, tmp_path, monkeypatch):
    from consentry.engines.text import read

    rng = np.random.default_rng(1)
    data = {
        "empty": lambda: b"", "garbage": lambda: bytes(rng.integers(0, 256, 5000, dtype=np.uint8)),
        "nul_text": lambda: b"text\x00with\x00nuls\x00" * 100,
        "zip_bomb_epub": lambda: _bomb("epub"), "zip_bomb_docx": lambda: _bomb("docx"),
        "truncated_pdf": lambda: _pdf(["some words on a line"] * 40)[:300],
        "not_a_pdf": lambda: b"%PDF-1.7\n" + b"\xff\xfe" * 300,
        "broken_docx": lambda: _docx(["hello there"])[:900], "other_zip": lambda: _zip_of({"a.txt": "hello"}),
        "too_big": lambda: b"a few words " * 100, "missing_file": lambda: None,
    }[case]()
    if case == "too_big":
        monkeypatch.setattr(read, "MAX_INPUT_BYTES", 100)
    source = tmp_path / "nope.txt" if data is None else data
    with pytest.raises(Exception) as info:
        engine.decode(source, name=None if data is None else f"input-{case}")
    message = str(info.value)
    assert type(info.value).__name__ == "DecodeError", message
    assert "\n" not in message and ("nope.txt" in message or f"input-{case}" in message), message
    if case.startswith("zip_bomb"):
        assert "zip bomb" in message


def _zip_of(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


def test_huge_and_odd_texts_are_handled(engine, index):
    big = prose(4242, 200_000)
    sig = engine.signal(big)
    assert engine.locate(sig, index) == []
    fp = engine.fingerprint(sig)
    assert len(fp) > 0
    for odd in ["", " \n\t ", "...!!!", "\U0001F600" * 1000, "\ud800 lone surrogate \udfff", "\u65e5" * 5000,
                "a" * 1_000_000]:
        engine.locate(engine.signal(odd), index)
        engine.fingerprint(engine.signal(odd))


def test_identify_fields_and_a_title_for_the_services(engine, works, index):
    from types import SimpleNamespace

    p, a, b = passage(works[2], 400, 100)
    m = _found(engine, index, "Quoted: " + p)[0]
    fields = engine.match_fields(m, work=SimpleNamespace(duration_s=float(len(works[2]))))
    assert set(fields) >= {"query_start_char", "query_end_char", "work_start_char", "work_end_char",
                           "matched_words", "work_share"}
    assert a - 10 <= fields["work_start_char"] < fields["work_end_char"] <= b + 10
    assert fields["work_share"] == round((fields["work_end_char"] - fields["work_start_char"]) / len(works[2]), 4)
    json.dumps(fields)
    assert engine.title_of(engine.signal("\n  # A Title \nbody text")) == "A Title"
    assert engine.title_of(engine.signal("The Lantern Keeper\n\nIt was night.")) == "The Lantern Keeper"
    assert engine.title_of(engine.signal("It was a dark night, and the keeper slept.\nThen")) is None
    assert engine.title_of(engine.signal("x" * 500)) is None
    assert engine.sniff_order > 50 and ".md" in engine.extensions
