"""Text dataset readers (consentry.io.sources.text): manifests, Hugging Face folders, shards, WARC/WET, folders."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from consentry.domain.errors import InputError
from consentry.io.sources.text import (DocumentFolder, TextRowsDataset, TextWebDataset, WarcDataset,
                                       choose_text_column, open_text_dataset)

TEXTS = ["First article: the harbour lantern glowed.", "Second, a ledger of copper.", "Third text \u00e9\u65e5."]


def _items(ds):
    return [(i.item_id, i.data.decode() if i.data else None, i.error) for i in ds.items()]


def test_the_text_column_is_found_by_name_or_given():
    assert choose_text_column(["id", "Content", "url"], text_column=None, source="x") == "Content"
    assert choose_text_column(["id", "text", "content"], text_column=None, source="x") == "text"
    assert choose_text_column(["id", "Body"], text_column="body", source="x") == "Body"
    with pytest.raises(InputError, match=r"x: no text column \(columns: id, url\)"):
        choose_text_column(["id", "url"], text_column=None, source="x")
    with pytest.raises(InputError, match="no column 'nope'"):
        choose_text_column(["id", "text"], text_column="nope", source="x")


def test_jsonl_rows_with_errors_per_row_and_a_clean_copy(tmp_path):
    p = tmp_path / "d.jsonl"
    lines = [json.dumps({"id": 1, "text": TEXTS[0]}), "not json", json.dumps({"id": 3, "text": None}),
             json.dumps({"id": 4, "text": TEXTS[2]}), json.dumps(["a list"])]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ds = open_text_dataset(p)
    assert isinstance(ds, TextRowsDataset) and ds.column == "text"
    got = _items(ds)
    assert [g[0] for g in got] == ["row:0", "row:1", "row:2", "row:3", "row:4"]
    assert got[0][1] == TEXTS[0] and got[3][1] == TEXTS[2]
    assert "not valid JSON" in got[1][2] and "no text" in got[2][2] and "not a JSON object" in got[4][2]
    out = tmp_path / "clean.jsonl"
    assert ds.write_clean_manifest(out, keep=lambda i: i != "row:0") == "jsonl"
    assert out.read_text(encoding="utf-8").splitlines() == lines[1:]


def test_gzipped_jsonl_csv_and_parquet_with_a_named_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    gz = tmp_path / "d.jsonl.gz"
    gz.write_bytes(gzip.compress("".join(json.dumps({"article": t}) + "\n" for t in TEXTS).encode()))
    assert [g[1] for g in _items(open_text_dataset(gz))] == TEXTS
    c = tmp_path / "d.csv"
    c.write_text("id,story,notes\n1,\"" + TEXTS[0] + "\",x\n2,,y\n3,\"" + TEXTS[2] + "\",z\n", encoding="utf-8")
    got = _items(open_text_dataset(c, text_column="STORY"))
    assert got[0][1] == TEXTS[0] and got[1][2] and got[2][1] == TEXTS[2]
    q = tmp_path / "d.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "content": TEXTS}), q)
    ds = open_text_dataset(q)
    assert [g[1] for g in _items(ds)] == TEXTS
    out = tmp_path / "clean.jsonl"
    ds.write_clean_manifest(out, keep=lambda i: i == "row:1")
    assert [json.loads(x) for x in out.read_text().splitlines()] == [{"content": TEXTS[1]}]


def test_a_hugging_face_folder_of_parquet_or_arrow_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp_path / "hf" / "data"
    d.mkdir(parents=True)
    pq.write_table(pa.table({"text": TEXTS[:2]}), d / "train-00000-of-00002.parquet")
    pq.write_table(pa.table({"text": TEXTS[2:]}), d / "train-00001-of-00002.parquet")
    (tmp_path / "hf" / "README.md").write_text("# card")
    ds = open_text_dataset(tmp_path / "hf")
    assert isinstance(ds, TextRowsDataset) and ds.kind == "parquet"
    got = _items(ds)
    assert [g[0] for g in got] == ["train-00000-of-00002.parquet#row:0", "train-00000-of-00002.parquet#row:1",
                                   "train-00001-of-00002.parquet#row:0"]
    assert [g[1] for g in got] == TEXTS
    saved = tmp_path / "saved"
    saved.mkdir()
    table = pa.table({"text": TEXTS, "n": [1, 2, 3]})
    with pa.ipc.new_stream(str(saved / "data-00000-of-00001.arrow"), table.schema) as w:
        w.write_table(table)
    (saved / "dataset_info.json").write_text("{}")
    (saved / "state.json").write_text("{}")
    assert [g[1] for g in _items(open_text_dataset(saved))] == TEXTS


def test_a_later_file_without_the_text_column_is_refused_at_open_in_one_line(tmp_path):
    """Each CSV, Parquet or Arrow file of a dataset must hold the column the first file gave (one line, naming it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp_path / "csvs"
    d.mkdir()
    (d / "a.csv").write_text("id,text\n1,Harbour lantern.\n")
    (d / "b.csv").write_text("id,body\n2,Copper ledger.\n")
    with pytest.raises(InputError) as err:
        open_text_dataset(d)
    assert str(err.value).startswith(str(d / "b.csv")) and "no column 'text'" in str(err.value)
    assert "columns: id, body" in str(err.value) and "\n" not in str(err.value)
    p = tmp_path / "pq"
    p.mkdir()
    pq.write_table(pa.table({"text": TEXTS[:2]}), p / "train-0.parquet")
    pq.write_table(pa.table({"content": TEXTS[2:]}), p / "train-1.parquet")
    with pytest.raises(InputError, match=r"train-1\.parquet: no column 'text'"):
        open_text_dataset(p)


def test_a_damaged_parquet_row_group_is_one_line_naming_the_file_and_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"text": [f"Row {i} of the harbour ledger." for i in range(12)]}), path,
                   row_group_size=4, compression="NONE")
    column = pq.ParquetFile(path).metadata.row_group(1).column(0)
    raw = bytearray(path.read_bytes())
    start = column.dictionary_page_offset or column.data_page_offset
    raw[start:start + 24] = b"\xff" * 24  # the second row group's page header: not thrift
    path.write_bytes(bytes(raw))
    ds = open_text_dataset(path)  # the footer is whole
    seen = []
    with pytest.raises(InputError) as err:
        for item in ds.items():
            seen.append(item.item_id)
    assert seen == [f"row:{i}" for i in range(4)]
    message = str(err.value)
    assert message.startswith(f"{path}: damaged Parquet data in row group 1 (rows 4-7: ") and "\n" not in message
    with pytest.raises(InputError, match=r"damaged Parquet data in row group 1 \(rows 4-7: "):
        list(ds.records())


def test_webdataset_text_and_json_members(tmp_path):
    shard = tmp_path / "s-000.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in [("a.txt", TEXTS[0].encode()), ("a.jpg", b"\xff\xd8"), ("b.json", json.dumps({"content": TEXTS[1]}).encode()),
                           ("c.json", b"{broken"), ("d.html", b"<html><body><p>" + TEXTS[2].encode() + b"</p></body></html>")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    ds = open_text_dataset(shard)
    assert isinstance(ds, TextWebDataset)
    got = _items(ds)
    assert [g[0] for g in got] == ["s-000.tar#a.txt", "s-000.tar#b.json", "s-000.tar#c.json", "s-000.tar#d.html"]
    assert got[0][1] == TEXTS[0] and got[1][1] == TEXTS[1] and "not valid JSON" in got[2][2]
    assert ds.skipped == {"not text by extension (.jpg)": 1}


def _warc(path: Path, *, wet: bool) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=path.name.endswith(".gz"))
        if wet:
            for i, t in enumerate(TEXTS):
                w.write_record(w.create_warc_record(f"https://example.org/{i}", "conversion",
                                                    payload=io.BytesIO(t.encode()),
                                                    warc_headers_dict={"Content-Type": "text/plain"}))
            return
        html = b"<html><body><article><p>" + TEXTS[0].encode() + b"</p></article></body></html>"
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("https://example.org/page", "response", payload=io.BytesIO(html),
                                            http_headers=headers))
        img = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("https://example.org/x.png", "response", payload=io.BytesIO(b"\x89PNG"),
                                            http_headers=img))
        w.write_record(w.create_warc_record("https://example.org/page", "request", payload=io.BytesIO(b"GET /")))


def test_warc_responses_and_wet_conversions(tmp_path):
    from consentry.engines.text import TextEngine

    warc = tmp_path / "crawl.warc.gz"
    _warc(warc, wet=False)
    ds = open_text_dataset(warc)
    assert isinstance(ds, WarcDataset)
    items = list(ds.items())
    assert [i.name for i in items] == ["https://example.org/page"]
    assert TEXTS[0] in TextEngine().decode(items[0].data, name=items[0].name).data
    assert ds.skipped == {"response of type image/png": 1, "WARC request record": 1}
    wet = tmp_path / "crawl.warc.wet.gz"
    _warc(wet, wet=True)
    assert [i.data.decode() for i in open_text_dataset(wet).items()] == TEXTS
    for name, data in [("cut.warc.gz", warc.read_bytes()[:len(warc.read_bytes()) // 2]),
                       ("garbage.warc", b"garbage that is not a web archive\n" * 10),
                       ("nonsense.warc", b"WARC/1.0\r\nWARC-Type: response\r\n\r\n" + b"\x00" * 100)]:
        (tmp_path / name).write_bytes(data)
        got = list(open_text_dataset(tmp_path / name).items())
        assert all(i.error is None or (name in i.error and "\n" not in i.error) for i in got), got
        assert any(i.error for i in got) or got == [], got


def test_a_folder_of_documents_is_read_by_content(tmp_path):
    (tmp_path / "a.txt").write_text(TEXTS[0])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.noext").write_bytes(b"<!DOCTYPE html><html><body><p>hi</p></body></html>")
    (tmp_path / "c.bin").write_bytes(bytes(range(256)) * 4)
    ds = open_text_dataset(tmp_path)
    assert isinstance(ds, DocumentFolder)
    assert [i.item_id for i in ds.items()] == ["a.txt", "sub/b.noext"]
    assert ds.skipped == {"not a text document": 1}


def test_what_is_not_a_text_dataset_is_one_line(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_text_dataset(tmp_path / "nope.jsonl")
    (tmp_path / "x.wav").write_bytes(b"RIFF")
    with pytest.raises(InputError, match=r"x\.wav: not a text dataset"):
        open_text_dataset(tmp_path / "x.wav")
    (tmp_path / "e.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="no line holds a JSON object"):
        open_text_dataset(tmp_path / "e.jsonl")
    (tmp_path / "u.jsonl").write_bytes(json.dumps({"text": "a"}).encode() + b"\n\xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8"):
        list(open_text_dataset(tmp_path / "u.jsonl").items())
