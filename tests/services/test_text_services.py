"""Text works through the services (issue 18): register (documents and files of articles), identify, scan, licences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentry import Registry
from consentry.domain.works import Terms
from textkit import _docx, _epub, _html, passage, prose


@pytest.fixture
def library(tmp_path) -> dict:
    folder = tmp_path / "works"
    folder.mkdir()
    texts = {"novel.txt": "The Lantern Keeper\n\n" + prose(1, 3000), "essay.md": "# On Copper\n\n" + prose(2, 2000)}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "post.html").write_bytes(_html(prose(3, 1500)))
    (folder / "book.epub").write_bytes(_epub([prose(4, 800), prose(5, 800)]))
    (folder / "memo.docx").write_bytes(_docx(prose(6, 900).split("\n")))
    return {"folder": folder, "texts": texts, "db": tmp_path / "r.db", "tmp": tmp_path}


def test_documents_register_as_text_works_and_a_copy_is_identified_by_character_offsets(library):
    with Registry.open(library["db"]) as reg:
        s = reg.register([library["folder"]], creator="Ana Lima", terms="deny", workers=1)
        assert not s.errors, s.errors
        by_name = {Path(w.source).name: w for w in s.registered}
        assert set(by_name) == {"novel.txt", "essay.md", "post.html", "book.epub", "memo.docx"}
        assert all(w.engine == "consentry-text-winnow" for w in s.registered) and s.audio_s == 0.0
        assert by_name["essay.md"].title == "On Copper" and by_name["novel.txt"].title == "The Lantern Keeper"
        assert by_name["essay.md"].duration_s == float(len(library["texts"]["essay.md"]))
        essay = library["texts"]["essay.md"]
        p, a, b = passage(essay, 300, 120)
        q = library["tmp"] / "output.txt"
        q.write_text("The model wrote: " + p.lower() + " That is all.", encoding="utf-8")
        [m] = reg.identify(q)
        d = m.as_dict()
        assert d["medium"] == "text" and d["work_id"] == by_name["essay.md"].work_id and d["terms"] == "deny"
        # Aligned with the registered file: the copied stretch exactly, in both texts.
        assert (d["work_start_char"], d["work_end_char"]) == (a, b)
        assert q.read_text()[d["query_start_char"]:d["query_end_char"]] == p.lower()
        assert d["matched_words"] == 120 and d["work_share"] == round((b - a) / len(essay), 4)
        [r] = reg.identify_many([str(q)])
        out = r.as_dict()
        assert out["medium"] == "text" and out["unit"] == "char" and len(out["matches"]) == 1
        # The CLI's table gives the passage in characters (aligned), as the JSON does.
        import os
        import subprocess
        import sys

        out = subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(library["db"]),
                              "identify", str(q)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"},
                             timeout=300)
        assert out.returncode == 0 and f"chars {d['query_start_char']:,}-{d['query_end_char']:,} = {a:,}-{b:,}" in out.stdout
        # Unrelated text finds nothing; the same files again are duplicates.
        q.write_text(prose(99, 500))
        assert reg.identify(q) == []
        again = reg.register([library["folder"]], creator="Ana Lima", workers=1)
        assert len(again.duplicates) == 5 and not again.registered


def _articles(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_a_file_of_articles_registers_one_work_per_row(tmp_path):
    rows = [{"headline": f"Story {i}", "author": f"Reporter {i % 2}", "published": f"2026-0{1 + i % 9}-1{i % 9}T08:00:00Z",
             "body": prose(700 + i, 400)} for i in range(6)]
    rows.append({"headline": "Empty", "body": ""})
    rows.append({"headline": "Bad date", "body": prose(800, 300), "published": "yesterday"})
    f = tmp_path / "archive.jsonl"
    _articles(f, rows)
    with Registry.open(tmp_path / "r.db") as reg:
        s = reg.register([f], terms="license", price=2.0, currency="USD")
        assert len(s.registered) == 6 and len(s.errors) == 2, s.errors
        assert all(str(f.resolve()) in e[0] for e in s.errors) and "no text" in s.errors[0][1]
        w = {x.title: x for x in s.registered}["Story 3"]
        assert (w.creator, w.first_published_on, w.source) == ("Reporter 1", "2026-04-13", f"{f.resolve()}#row:3")
        assert w.duration_s == float(len(rows[3]["body"]))
        q = tmp_path / "q.txt"
        q.write_text(passage(rows[3]["body"], 50, 80)[0])
        [m] = reg.identify(q)
        assert m.work_id == w.work_id and m.medium == "text"
        again = reg.register([f])
        assert len(again.duplicates) == 6 and not again.registered
        with pytest.raises(Exception, match="--title"):
            reg.register([f], title="One title")


def test_a_text_dataset_scan_decides_each_row_and_prices_text_licences(tmp_path):
    works = {"a.txt": prose(11, 2000), "b.txt": prose(12, 2000), "c.txt": prose(13, 2000)}
    folder = tmp_path / "w"
    folder.mkdir()
    for name, text in works.items():
        (folder / name).write_text(text)
    rows = [{"id": i, "content": prose(900 + i, 300)} for i in range(12)]
    rows[2]["content"] += " " + passage(works["a.txt"], 100, 150)[0]
    rows[5]["content"] = passage(works["b.txt"], 500, 200)[0]
    rows[8]["content"] = passage(works["b.txt"], 900, 100)[0] + "\n" + passage(works["c.txt"], 10, 100)[0]
    ds = tmp_path / "train.jsonl"
    _articles(ds, rows)
    from consentry.services.scan import scan_dataset

    with Registry.open(tmp_path / "r.db") as reg:
        s = reg.register([folder / "a.txt"], creator="A", terms="deny")
        wa = s.registered[0]
        wb = reg.register([folder / "b.txt"], creator="B", terms=Terms("license", price=3.0, currency="USD")).registered[0]
        wc = reg.register([folder / "c.txt"], creator="C", terms="allow").registered[0]
        from consentry.domain.usage import UseTerms
        from consentry.services.works import ActedBy, set_work_terms

        set_work_terms(reg, wb.work_id, {"ai_training": UseTerms("license", price=3.0, currency="USD",
                                                                 unit="per-1000-words")}, by=ActedBy(name="cli:test"))
        summary = scan_dataset(reg, str(ds), workers=1)
        assert summary["source"]["kind"] == "jsonl"
        assert summary["totals"]["items"] == 12 and summary["totals"]["refused"] == 1
        assert summary["totals"]["licensable"] == 2 and summary["totals"]["error"] == 0
        works_found = {w["work_id"]: w for w in summary["works"]}
        assert set(works_found) == {wa.work_id, wb.work_id, wc.work_id}
        assert works_found[wb.work_id]["items"] == 2
        assert {w["medium"] for w in works_found.values()} == {"text"}  # covered_s holds characters
        b = works_found[wb.work_id]
        # 200 + 100 words copied; a scan counts from each passage's first seed to its last (no re-reading of works)
        assert b["unit"] == "per-1000-words" and 240 <= b["words"] <= 300
        assert b["quantity"] == round(b["words"] / 1000, 3) and b["amount"] == round(3.0 * b["quantity"], 2)
        items = list(reg.store.iter_scan_items(summary["scan_id"]))
        f = items[5]["findings"][0]
        assert f["medium"] == "text" and f["detail"]["matched_words"] >= 150
        assert items[5]["medium"] == "text" and items[5]["unit"] == "char"
        # The HTML report words a text item's stretches in characters, not seconds.
        from consentry.reporting.scan_report import render_scan_html

        html = render_scan_html(summary, reg.store.iter_scan_items(summary["scan_id"]))
        assert "characters " in html and "s</td>" not in html.split("characters ", 1)[1][:200]
        # A CSV whose text column has another name: --text-column.
        csv = tmp_path / "t.csv"
        csv.write_text("n,body_text\n1,\"" + passage(works["a.txt"], 700, 100)[0].replace('"', "'") + "\"\n",
                       encoding="utf-8")
        s2 = scan_dataset(reg, str(csv), workers=1, text_column="body_text")
        assert s2["totals"]["refused"] == 1 and s2["options"]["text_column"] == "body_text"


def test_text_licence_units():
    from consentry.domain.terms import UNITS
    from consentry.services.scan_summary import licence_amount

    assert {"per-article", "per-1000-words"} <= set(UNITS)
    assert licence_amount(price=2.0, unit="per-article", items=3, covered_s=900.0) == (3.0, 6.0)
    assert licence_amount(price=5.0, unit="per-1000-words", items=3, covered_s=9000.0, words=2500) == (2.5, 12.5)
    from consentry.formats.mapping import RSL_PAYMENT_TYPE
    from consentry.formats.tdmrep import UNIT_WORDS

    assert all(u in UNIT_WORDS and u in RSL_PAYMENT_TYPE for u in UNITS)
