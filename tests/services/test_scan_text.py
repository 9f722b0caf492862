"""A scan's text rows in batches (services/scan_text.py, issue 18): grouping, and the same items as one row at a time."""

from __future__ import annotations

import json

import pytest

from consentry import Registry
from consentry.services import scan_text
from consentry.services.scan import _error, scan_dataset
from textkit import passage, prose


def _rows(n: int, size: int, **extra) -> list[dict]:
    return [{"seq": i, "item_id": f"row:{i}", "name": f"t row {i}", "data": b"x" * size, **extra} for i in range(n)]


def _stored_items(reg, summary: dict) -> list[dict]:
    """A scan's stored items, without the scan id and the temporary file names their signals were read from."""
    out = []
    for it in reg.store.iter_scan_items(summary["scan_id"]):
        it = {k: v for k, v in it.items() if k != "scan_id"}
        for s in (it.get("signals") or {}).get("embedded", []):
            s.pop("source", None)   # names the temporary file the signals were read from
            s.pop("location", None)
        out.append(it)
    return out


def test_rows_are_grouped_up_to_the_batch_limits_and_large_or_file_items_go_alone(monkeypatch):
    monkeypatch.setattr(scan_text, "TEXT_BATCH_ITEMS", 4)
    tasks = _rows(10, 10)
    out = list(scan_text.batched(tasks))
    assert [len(t["batch"]) if "batch" in t else 1 for t in out] == [4, 4, 2]
    assert [t["seq"] for t in out] == [0, 4, 8] and out[1]["item_id"] == "row:4"
    assert [r for t in out for r in t["batch"]] == tasks  # every row once, in order
    big = {"seq": 3, "item_id": "row:3", "name": "big", "data": b"y" * (scan_text.TEXT_BATCH_BYTES + 1)}
    on_disk = {"seq": 5, "item_id": "f", "name": "f", "path": "/x/f.txt"}
    mixed = _rows(3, 10) + [big] + [dict(r, seq=4 + i) for i, r in enumerate(_rows(1, 10))] + [on_disk]
    out = list(scan_text.batched(mixed))
    assert [t.get("name") for t in out] == ["t row 0", "big", "t row 0", "f"]
    assert len(out[0]["batch"]) == 3 and "batch" not in out[2]  # a lone row stays a plain task
    monkeypatch.setattr(scan_text, "TEXT_BATCH_ITEMS", 1000)
    monkeypatch.setattr(scan_text, "TEXT_BATCH_BYTES", 25)
    assert [len(t["batch"]) for t in scan_text.batched(_rows(6, 10))] == [3, 3]


def test_a_batch_whose_worker_died_twice_is_an_error_of_each_of_its_rows():
    batch = {"seq": 0, "item_id": "row:0", "name": "t row 0", "batch": _rows(3, 5)}
    lost = _error(batch, "the worker died")
    assert [(r["item_id"], r["decision"], r["error"]) for r in lost["batch"]] == \
        [(f"row:{i}", "error", "the worker died") for i in range(3)]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_text_dataset_gives_the_same_items_batched_as_one_row_at_a_time(tmp_path, monkeypatch, workers):
    works = {name: prose(seed, 1500) for name, seed in (("a.txt", 31), ("b.txt", 32))}
    folder = tmp_path / "w"
    folder.mkdir()
    for name, text in works.items():
        (folder / name).write_text(text, encoding="utf-8")
    rows = [{"text": prose(600 + i, 120 + 40 * (i % 5))} for i in range(30)]
    rows[3]["text"] += " " + passage(works["a.txt"], 200, 120)[0]
    rows[11]["text"] = passage(works["b.txt"], 40, 90)[0] + "\n\n" + passage(works["a.txt"], 900, 60)[0]
    rows[17]["text"] = ""                                                   # empty: an item error
    rows[20]["text"] = ("<!DOCTYPE html><html><head><meta name='tdm-reservation' content='1'></head><body><p>"
                        + passage(works["b.txt"], 700, 100)[0] + "</p></body></html>")   # HTML with TDMRep
    rows[25]["text"] = "\x01\x02\x03\x04 binary \x05\x06\x07\x08" * 20       # not text after all
    # Rows the one-sniff path must hand to the whole item path (services/scan_text._RowSniffer):
    rows[5]["text"] = "ID3 tags name the song. " + rows[5]["text"]      # an audio magic number (ID3) at the start
    rows[7]["text"] = "BM " + rows[7]["text"]                             # a BMP's first two bytes
    rows[8]["text"] = "RIFF" + rows[8]["text"]                            # a RIFF header without a form type
    rows[13]["text"] = "<b>x</b> " + prose(77, 120) + " <p>" + passage(works["b.txt"], 300, 80)[0]  # HTML only past 512 bytes
    rows[22]["text"] = prose(78, 120) + "\x01\x02" * 300                  # text for 512 bytes, binary in 4 KiB
    ds = tmp_path / "rows.jsonl"
    ds.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def items(batch_items: int) -> list[dict]:
        monkeypatch.setattr(scan_text, "TEXT_BATCH_ITEMS", batch_items)
        return _stored_items(reg, scan_dataset(reg, str(ds), workers=workers))

    with Registry.open(tmp_path / "r.db") as reg:
        reg.register([folder / "a.txt"], creator="A", terms="deny", workers=1)
        reg.register([folder / "b.txt"], creator="B", terms="allow", workers=1)
        one_by_one, batched = items(1), items(7)
    assert len(batched) == 30 and batched == one_by_one
    by_id = {it["item_id"]: it for it in batched}
    assert by_id["row:3"]["decision"] == "refused" and by_id["row:11"]["decision"] == "refused"
    assert len(by_id["row:11"]["findings"]) == 2
    assert by_id["row:17"]["decision"] == "error" and by_id["row:25"]["decision"] in ("error", "unknown")
    assert by_id["row:20"]["decision"] == "allowed"
    assert by_id["row:20"]["signals"]["verdicts"]["tdm"] == "deny"
    assert sum(1 for it in batched if it["findings"]) == 4
    assert by_id["row:13"]["findings"]   # read as plain text (its first 512 bytes), as one row at a time
    assert by_id["row:5"]["decision"] == "error" and by_id["row:22"]["decision"] == "error"


def test_rows_sniffed_once_give_what_the_whole_item_path_gives(tmp_path, monkeypatch):
    """identify_batch (one sniff per row) against identify_item (every engine's sniffer) row by row,
    including names whose suffix belongs to a medium and rows with magic numbers."""
    from consentry.services.scan import identify_item

    work = prose(41, 1200)
    (tmp_path / "w.txt").write_text(work, encoding="utf-8")
    copy = passage(work, 100, 120)[0]
    cases = [("r row 0", copy), ("x.wav", copy), ("y.jpg", copy), ("z.txt", copy), ("page.html", copy),
             ("r row 5", "<html><body><p>" + copy + "</p></body></html>"), ("r row 6", "fLaC" + copy),
             ("r row 7", "\ufeff" + copy), ("r row 8", prose(42, 80)), ("r row 9", "OggS" + copy),
             ("r row 10", "\xff\xfb\x90\x00" + copy), ("r row 11", "%PDF-1.4 " + copy)]
    tasks = []
    for i, (name, text) in enumerate(cases):
        data = text.encode("latin-1") if name == "r row 10" else text.encode("utf-8")
        tasks.append({"seq": i, "item_id": f"row:{i}", "name": name, "data": data, "min_score": None,
                      "embedded_signals": False})
    with Registry.open(tmp_path / "r.db") as reg:
        reg.register([tmp_path / "w.txt"], creator="A", terms="deny", workers=1)
        alone = [identify_item(reg, t) for t in tasks]
        whole_path = []
        monkeypatch.setattr("consentry.services.scan.identify_item",
                            lambda r, t: whole_path.append(t["name"]) or identify_item(r, t))
        batched = scan_text.identify_batch(reg, {"seq": 0, "item_id": "row:0", "name": "r row 0", "batch": tasks})
    assert batched["batch"] == alone
    assert whole_path == ["x.wav", "y.jpg", "r row 6", "r row 9", "r row 10", "r row 11"]   # the others: one sniff
    found = [r["item_id"] for r in alone if r.get("findings")]
    assert "row:0" in found and "row:3" in found and "row:1" not in found   # x.wav: read as audio, not text


def test_signals_of_a_row_name_the_row_not_the_temporary_copy():
    """A row's embedded signals (here TDMRep in an HTML row) are read from a temporary copy; they name the row."""
    import json as _json

    from consentry.services.scan import signals_of_file

    html = (b'<!doctype html><html><head><meta name="tdm-reservation" content="1">'
            b'<title>A</title></head><body><p>Words of an article.</p></body></html>')
    out = signals_of_file(html, None, "articles.jsonl#3.html")
    text = _json.dumps(out)
    assert out["verdicts"]["ai_training"] == "deny"
    assert "tmp" not in text and "TDMRep in articles.jsonl#3.html" in text


def _crawl(path, pages: list[tuple[str, bytes, str]]) -> None:
    """A WARC file of HTTP responses ``(uri, body, content type)``."""
    import io as _io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=path.name.endswith(".gz"))
        for uri, body, ctype in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(uri, "response", payload=_io.BytesIO(body), http_headers=headers))


def test_crawl_archives_and_text_shards_give_the_same_items_batched_as_one_record_at_a_time(tmp_path, monkeypatch):
    """WARC records and text WebDataset members are batched like rows, with the items of one at a time."""
    import io as _io
    import tarfile

    works = {name: prose(seed, 1500) for name, seed in (("a.txt", 51), ("b.txt", 52))}
    folder = tmp_path / "w"
    folder.mkdir()
    for name, text in works.items():
        (folder / name).write_text(text, encoding="utf-8")
    html = ("<!DOCTYPE html><html><head><meta name='tdm-reservation' content='1'></head><body><article><p>"
            + passage(works["b.txt"], 500, 120)[0] + "</p></article></body></html>").encode()
    pages = [(f"https://example.org/{i}", prose(700 + i, 150).encode(), "text/plain") for i in range(12)]
    pages[2] = ("https://example.org/copied", (prose(790, 80) + " " + passage(works["a.txt"], 300, 120)[0]).encode(),
                "text/plain; charset=utf-8")
    pages[6] = ("https://example.org/tdm.html", html, "text/html")
    pages[9] = ("https://example.org/song.mp3", b"ID3" + prose(791, 60).encode(), "text/plain")  # an audio name
    crawl = tmp_path / "crawl.warc.gz"
    _crawl(crawl, pages)
    members = {f"s{i:03d}.txt": prose(800 + i, 140).encode() for i in range(10)}
    members["s004.txt"] = passage(works["b.txt"], 100, 150)[0].encode()
    members["s005.html"] = html
    members["s007.json"] = json.dumps({"text": passage(works["a.txt"], 1000, 90)[0]}).encode()
    shard = tmp_path / "t-000.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, _io.BytesIO(data))

    def items(source, batching: bool) -> list[dict]:
        monkeypatch.setattr(scan_text, "batches_rows", lambda ds: batching and type(ds).__name__ in (
            "WarcDataset", "TextWebDataset", "TextRowsDataset"))
        column = "text" if source == shard else None   # a tar is read as text shards with a text column
        return _stored_items(reg, scan_dataset(reg, str(source), workers=1, text_column=column))

    with Registry.open(tmp_path / "r.db") as reg:
        reg.register([folder / "a.txt"], creator="A", terms="deny", workers=1)
        reg.register([folder / "b.txt"], creator="B", terms="allow", workers=1)
        real_batch, calls = scan_text.identify_batch, []
        monkeypatch.setattr(scan_text, "identify_batch", lambda reg_, task: calls.append(len(task["batch"]))
                            or real_batch(reg_, task))
        for source, n, found in ((crawl, 12, 2), (shard, 12, 3)):
            calls.clear()
            one_by_one = items(source, False)
            assert calls == []
            batched = items(source, True)
            assert calls == [n]   # one batch of every record or member (the whole path for some, inside it)
            assert len(batched) == n and batched == one_by_one
            assert sum(1 for it in batched if it["findings"]) == found, [it["item_id"] for it in batched]
        by_name = {it["name"]: it for it in batched}
        assert by_name["s005.html"]["signals"]["verdicts"]["tdm"] == "deny"
    # The real batches_rows batches both kinds.
    from consentry.io.sources.text import open_text_dataset

    monkeypatch.undo()
    assert scan_text.batches_rows(open_text_dataset(crawl))
    assert scan_text.batches_rows(open_text_dataset(shard, text_column="text"))
