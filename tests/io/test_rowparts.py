"""CSV and Arrow rows listed, then read in parts (consentry/io/sources/rowparts.py, issue 20).

Read part by part from where each file's listing says they begin, the rows
are exactly those of a whole read (ids, names, errors, bytes, paths, order),
whatever the part sizes: quoted fields holding newlines, CR and CRLF line
ends, blank lines, a byte order mark, malformed quoting, text the reader
stops in; Hypothesis writes CSV files.
"""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.domain.errors import InputError
from consentry.io.sources import open_dataset
from consentry.io.sources.parts import read_part
from consentry.io.sources.rowparts import RowParts, list_rows
from consentry.io.sources.text import open_text_dataset


def _row(item) -> tuple:
    return item.item_id, item.name, item.error, item.data, str(item.path)


def _whole(ds) -> tuple[list, str | None]:
    """The rows of a whole read, and the message it stops with (None: read to the end)."""
    rows: list = []
    try:
        for n, item in enumerate(ds.items()):
            rows.append((n, *_row(item)))
    except InputError as exc:
        return rows, str(exc)
    return rows, None


def _by_parts(ds, files, **sizes) -> tuple[list, str | None]:
    parts = RowParts(ds, files, **sizes)
    rows = [(seq, *_row(item)) for part in parts for seq, item in read_part(part)]
    return rows, str(parts.refusal) if parts.refusal is not None else None


SIZES = [dict(part_rows=1), dict(part_rows=2), dict(part_rows=3, part_bytes=1), dict(part_rows=1000, part_bytes=7),
         dict(part_rows=1000)]


def test_a_csv_manifest_read_in_parts_gives_the_whole_reads_rows(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"RIFF....WAVE")
    text = ('title,audio\n' 'one,a.wav\n' '\n' '"two\nlines, quoted",a.wav\r\n' 'three,"b\r\n.wav"\n' 'four,\n'
            '\u00e9,a.wav\r' '"bad"quote,a.wav\n' 'five,a.wav\n' 'six,"never closed\n' 'seven,a.wav\n')
    (tmp_path / "m.csv").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    for check_text in (True, False):  # False: a cluster's driver checked the first MiB only
        ds = open_dataset(tmp_path / "m.csv", check_text=check_text)
        whole = _whole(ds)
        assert len(whole[0]) == 8 and whole[1] is None
        assert [r[1] for r in whole[0]] == [f"row:{n}" for n in range(8)]
        for sizes in SIZES:
            assert _by_parts(ds, [ds.path], **sizes) == whole, sizes


def test_listing_cuts_parts_by_rows_and_by_bytes(tmp_path):
    (tmp_path / "m.csv").write_text("audio\n" + "".join(f'"x{n}\n{"y" * n}.wav"\n' for n in range(40)),
                                    encoding="utf-8")
    ds = open_dataset(tmp_path / "m.csv")
    by_rows = list_rows(ds, 0, str(ds.path), 8, 10**9, csv.field_size_limit())
    assert [s.row for s in by_rows.starts] == [0, 8, 16, 24, 32] and by_rows.rows == 40
    assert all(a.end == b.offset for a, b in zip(by_rows.starts, by_rows.starts[1:])) and by_rows.starts[-1].end is None
    by_bytes = list_rows(ds, 0, str(ds.path), 1000, 100, csv.field_size_limit())
    assert len(by_bytes.starts) > 5
    assert all(b.offset - a.offset >= 100 and b.offset - a.offset < 100 + 60
               for a, b in zip(by_bytes.starts, by_bytes.starts[1:]))
    data = (tmp_path / "m.csv").read_bytes()
    assert all(data[s.offset - 1:s.offset] == b"\n" and data[s.offset:s.offset + 2] == b'"x' for s in by_bytes.starts)


def test_a_manifest_not_utf8_past_the_checked_part_is_refused_by_its_listing(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"audio\n" + b"a.wav\n" * 300_000 + b"caf\xe9.wav\n")  # past the first MiB
    with pytest.raises(InputError) as opened:
        open_dataset(path)
    ds = open_dataset(path, check_text=False)
    with pytest.raises(InputError) as listed:
        list_rows(ds, 0, str(path), 1024, 10**9, csv.field_size_limit())
    assert str(listed.value) == str(opened.value) and "line 300002" in str(opened.value)


def test_text_csv_files_read_in_parts_give_the_whole_reads_rows_and_stop(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.csv").write_text('id,text\n1,"hello\nworld"\n2,\n\n3,plain\r\n4,"x\r\ny"\n', encoding="utf-8")
    (folder / "b.csv").write_bytes(codecs.BOM_UTF8 + 'text,id\n"x, y",1\nz,2\n'.encode("utf-8"))
    ds = open_text_dataset(folder)
    whole = _whole(ds)
    assert len(whole[0]) == 7 and whole[1] is None  # a blank line is a row of a text CSV (an empty cell)
    for sizes in SIZES:
        assert _by_parts(ds, list(ds.files), **sizes) == whole, sizes
    (folder / "b.csv").write_bytes(b"text\n" + b"".join(b"row %d\n" % n for n in range(4000)) + b"caf\xe9\nafter\n")
    (folder / "c.csv").write_bytes(b"text\nnever read\n")
    ds = open_text_dataset(folder)
    whole = _whole(ds)
    assert whole[1] is not None and "not UTF-8" in whole[1] and 6 < len(whole[0]) < 4006
    for sizes in (dict(part_rows=7), dict(part_rows=1000), dict(part_rows=100, part_bytes=50)):
        assert _by_parts(ds, list(ds.files), **sizes) == whole, sizes


def test_arrow_files_read_in_parts_give_the_whole_reads_rows(tmp_path):
    import pyarrow as pa

    table = pa.table({"text": ["a", None, "c", "", "e", "f", "g"], "n": list(range(7))})
    with pa.ipc.new_stream(str(tmp_path / "data-0.arrow"), table.schema) as writer:
        for batch in table.to_batches(max_chunksize=3):
            writer.write_batch(batch)
    with pa.ipc.new_file(str(tmp_path / "data-1.arrow"), table.schema) as writer:
        for batch in table.to_batches(max_chunksize=2):
            writer.write_batch(batch)
    ds = open_text_dataset(tmp_path)
    whole = _whole(ds)
    assert len(whole[0]) == 14 and any(r[3] for r in whole[0])
    for part_rows in (1, 2, 5, 100):
        assert _by_parts(ds, list(ds.files), part_rows=part_rows) == whole, part_rows
    (tmp_path / "data-1.arrow").write_bytes(b"not arrow at all")  # the second file: the reader stops there
    whole = _whole(ds)
    assert len(whole[0]) == 7 and "not a readable Arrow file" in whole[1]
    assert _by_parts(ds, list(ds.files), part_rows=2) == whole


_cells = st.text(alphabet=st.sampled_from('ab,"\n\r é'), max_size=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.lists(_cells, min_size=0, max_size=3), max_size=12),
       ends=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=4),
       junk=st.sampled_from(["", '"', 'x"y\n', "\n\n", '"open\n']), bom=st.booleans(),
       part_rows=st.integers(1, 5), part_bytes=st.integers(1, 40))
def test_hypothesis_csv_files_read_in_parts_as_whole(tmp_path_factory, records, ends, junk, bom, part_rows,
                                                     part_bytes):
    root = tmp_path_factory.mktemp("csvs")
    out = io.StringIO(newline="")
    out.write("text,audio\n")
    for n, record in enumerate(records):
        csv.writer(out, lineterminator=ends[n % len(ends)]).writerow(record)
    out.write(junk)
    data = (codecs.BOM_UTF8 if bom else b"") + out.getvalue().encode("utf-8")
    for kind in ("manifest", "text"):
        path = root / kind / "m.csv"
        path.parent.mkdir()
        path.write_bytes(data)
        ds = open_dataset(path) if kind == "manifest" else open_text_dataset(path, text_column="text")
        files = [path]
        assert _by_parts(ds, files, part_rows=part_rows, part_bytes=part_bytes) == _whole(ds)
