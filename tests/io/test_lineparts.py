"""JSONL rows read in byte ranges (issue 20): counted, then read, range by range, they are the whole read's rows.

Each file here is read whole by its dataset's reader (``ds.items()``) and in
parts (:class:`LineParts`: ranges counted, then each part read on its own, as
a cluster's workers do), with ranges of a few bytes (cut inside lines, inside
a byte order mark, inside multi-byte characters) up to the whole file; the
items, their ids, data and errors (with their line numbers) and their seqs
must be the same.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sources import wav_bytes

from consentry.domain.errors import InputError
from consentry.io.sources import lineparts, manifest, open_dataset, text
from consentry.io.sources.lineparts import LineParts, count_range
from consentry.io.sources.parts import SEQUENTIAL, numbered_items, parts_of, read_part

SIZES = (1, 2, 7, 40, 333, 10**6)


def _item(item) -> tuple:
    return item.item_id, item.name, item.data, item.error, str(item.path) if item.path else None


def _in_parts(ds, part_bytes: int, *, wanted=lambda seq: True) -> list:
    """Every part of ``ds``, counted and read one at a time: [(seq, item)]."""
    files = lineparts.line_files(ds)
    parts = LineParts(ds, files, part_bytes=part_bytes)
    parts.counts = [count_range(r, ds) for r in parts.ranges]  # what the workers send back in the first pass
    out = []
    for part in parts:
        reading = read_part(part, wanted=wanted)
        out += [(seq, _item(item)) for seq, item in reading]
        assert reading.next is None and reading.skipped == {}
    return out


def _check_same_ways(ds, sizes=SIZES) -> list:
    whole = [(seq, _item(item)) for seq, item in numbered_items(ds, SEQUENTIAL)]
    assert isinstance(parts_of(ds, SEQUENTIAL), LineParts)
    for size in sizes:
        assert _in_parts(ds, size) == whole, size
    return whole


def _manifest_lines(root: Path) -> list[str]:
    wav = wav_bytes(200)
    (root / "clip.wav").write_bytes(wav)
    b64 = base64.b64encode(wav).decode()
    return [json.dumps({"audio": {"bytes": b64, "path": "a.wav"}}), "", "   ",
            json.dumps({"audio": "clip.wav", "note": "é ü 漢字"}), "{not json", json.dumps({"audio": {"bytes": "!!"}}),
            "[1, 2]", json.dumps({"audio": None}), json.dumps({"audio": "missing.wav"}),
            json.dumps({"audio": "http://example.com/x.wav"}), json.dumps({"audio": {"bytes": b64}})]


def test_a_jsonl_manifest_read_in_ranges_gives_the_whole_reads_rows(tmp_path):
    lines = _manifest_lines(tmp_path)
    (tmp_path / "m.jsonl").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))  # BOM, CRLF, no last \n
    whole = _check_same_ways(open_dataset(tmp_path / "m.jsonl"))
    assert [seq for seq, _ in whole] == list(range(9))
    errors = [i[3] for _, i in whole]
    assert errors[0] is None and whole[1][1][4] == str(tmp_path / "clip.wav")
    assert errors[2].startswith("m.jsonl line 5: not valid JSON") and "line 7" in errors[4]


def test_resumed_ranges_pass_over_the_rows_already_scanned(tmp_path):
    (tmp_path / "m.jsonl").write_text("\n".join(_manifest_lines(tmp_path)) + "\n", encoding="utf-8")
    ds = open_dataset(tmp_path / "m.jsonl")
    whole = _check_same_ways(ds, sizes=(50,))
    done = {0, 3, 4, 8}
    assert _in_parts(ds, 50, wanted=lambda seq: seq not in done) == [w for w in whole if w[0] not in done]


def test_an_overlong_line_is_one_row_error_in_every_range(tmp_path, monkeypatch):
    monkeypatch.setattr(manifest, "MAX_LINE_BYTES", 64)
    lines = _manifest_lines(tmp_path)
    lines[3] = json.dumps({"audio": "clip.wav", "pad": "x" * 300})
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole = _check_same_ways(open_dataset(tmp_path / "m.jsonl"), sizes=(1, 13, 64, 200, 10**6))
    assert sum("longer than" in (i[3] or "") for _, i in whole) >= 2


def test_text_rows_of_several_files_and_a_gzip_file_keep_one_sequence(tmp_path):
    data = tmp_path / "ds" / "data"
    data.mkdir(parents=True)
    rows = [{"text": f"Row {n}: the river lantern, quietly. Ünïcödé ✓ {'word ' * n}"} for n in range(12)]
    (data / "train-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:5]) + "\n\n", encoding="utf-8")
    (data / "train-1.jsonl").write_text(json.dumps(rows[5]) + "\n" + "{broken\n" + json.dumps({"text": 3}) + "\n",
                                        encoding="utf-8")
    (data / "train-2.jsonl").write_bytes(b"")
    with gzip.open(data / "train-3.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows[6:]))
    ds = open_dataset(tmp_path / "ds")
    assert isinstance(ds, text.TextRowsDataset)
    whole = _check_same_ways(ds)
    assert [seq for seq, _ in whole] == list(range(14))
    assert [i[0] for _, i in whole][4:8] == ["train-0.jsonl#row:4", "train-1.jsonl#row:0", "train-1.jsonl#row:1",
                                            "train-1.jsonl#row:2"]
    assert whole[13][1][0] == "train-3.jsonl.gz#row:5"


def test_a_text_row_that_is_not_utf8_stops_the_read_with_the_readers_error(tmp_path):
    path = tmp_path / "t.jsonl"
    good = b"".join(b'{"text": "row %d"}\n' % n for n in range(60))  # opening reads the first 50 rows
    path.write_bytes(good + b'\n{"text": "tw\xff"}\n{"text": "three"}\n')
    ds = open_dataset(path, text_column="text")
    with pytest.raises(InputError) as whole:
        list(ds.items())
    for size in (1, 5, 100):
        with pytest.raises(InputError) as parts:
            _in_parts(ds, size)
        assert str(parts.value) == str(whole.value) and "line 62" in str(whole.value)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(
           st.builds(lambda s: json.dumps({"text": s}, ensure_ascii=False), st.text(max_size=30)),
           st.sampled_from(["", " ", "\t", "{", "[]", "null", '{"text": null}', '{"other": "x"}', "\ufeff"])),
           max_size=25),
       newline=st.sampled_from(["\n", "\r\n"]), last_newline=st.booleans(), bom=st.booleans(),
       size=st.integers(1, 120))
def test_random_text_rows_read_in_ranges_give_the_whole_reads_rows(tmp_path_factory, lines, newline, last_newline,
                                                                    bom, size):
    root = tmp_path_factory.mktemp("rows")
    body = newline.join(['{"text": "the first row names the column"}', *lines]) + (newline if last_newline else "")
    (root / "t.jsonl").write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))
    ds = open_dataset(root / "t.jsonl", text_column="text")
    _check_same_ways(ds, sizes=(size, 10**6))



def _refusal(path: Path, size: int) -> str | None:
    """The error a manifest opened unchecked (as on a cluster) gives once its ranges are counted, or None."""
    ds = open_dataset(path, check_text=False)
    try:
        _in_parts(ds, size)
    except InputError as exc:
        return str(exc)
    return None


def test_a_manifest_checked_by_its_ranges_is_refused_as_when_opened(tmp_path, monkeypatch):
    """On a cluster the driver checks the first MiB of a JSONL manifest and the workers the rest, range by range;
    the file's first problem is refused with the message opening it here gives."""
    monkeypatch.setattr(manifest, "_TEXT_PREFIX", 64)
    good = b"".join(b'{"audio": "a%d.wav"}\n' % n for n in range(8))
    cases = {"latin": good + b'{"audio": "caf\xe9.wav"}\n' + good,
             "nul after a bad byte": good + b'{"audio": "\xff"}\n{"audio": "x\x00"}\n',
             "nul first": good + b'{"audio": "x\x00\xff"}\n',
             "cut character at the end": good + b'{"audio": "a.wav"}\xe2\x82',
             "utf-16 later": good + '{"audio": "b.wav"}\n'.encode("utf-16-le")}
    for name, data in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(data)
        with pytest.raises(InputError) as opened:
            open_dataset(path)
        for size in (1, 7, 50, 10**6):
            assert _refusal(path, size) == str(opened.value), (name, size)
    (tmp_path / "fine.jsonl").write_bytes(good + "{\"audio\": \"é.wav\"}\n".encode() * 20)
    assert _refusal(tmp_path / "fine.jsonl", 5) is None


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), size=st.integers(1, 80))
def test_the_first_text_problem_by_ranges_is_the_whole_files(data, size):
    """text_problem over a file's line ranges, first range first, finds what it finds over the whole file."""
    import io

    from consentry.io.sources.manifest import text_problem

    whole = text_problem(io.BytesIO(data))
    lines, found, begin = 0, None, 0
    while begin < len(data) and found is None:
        handle = io.BytesIO(data)
        end = min(len(data), begin + size)
        while end < len(data) and data[end - 1:end] != b"\n":  # ranges end where a line begins
            end += 1
        handle.seek(begin)
        problem = text_problem(handle, end=end)
        if problem is not None:
            found = (lines + problem[0], problem[1])
        lines += data.count(b"\n", begin, end)
        begin = end
    assert found == whole


@pytest.mark.parametrize("rows_per_part", [1, 3, 1024])
def test_text_parquet_files_read_in_row_ranges_give_the_whole_reads_rows(tmp_path, rows_per_part):
    """A text dataset of Parquet files needs no counting pass: row ranges of row groups, one sequence."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from consentry.io.sources.lineparts import text_parquet_parts

    data = tmp_path / "ds" / "data"
    data.mkdir(parents=True)
    texts = [f"Row {n}: the river lantern ✓ {'word ' * n}" if n % 6 else None for n in range(23)]
    pq.write_table(pa.table({"text": texts[:15], "n": list(range(15))}), data / "train-0.parquet", row_group_size=7)
    pq.write_table(pa.table({"text": texts[15:], "n": list(range(8))}), data / "train-1.parquet", row_group_size=5)
    ds = open_dataset(tmp_path / "ds")
    assert isinstance(ds, text.TextRowsDataset) and ds.kind == "parquet"
    whole = [(seq, _item(item)) for seq, item in numbered_items(ds, SEQUENTIAL)]
    assert [seq for seq, _ in whole] == list(range(23)) and whole[16][1][0] == "train-1.parquet#row:1"
    parts = list(text_parquet_parts(ds, rows_per_part=rows_per_part))
    assert len(parts) == sum(-(-n // rows_per_part) for n in (7, 7, 1, 5, 3))
    got = [(seq, _item(item)) for part in reversed(parts) for seq, item in read_part(part)]
    assert sorted(got, key=lambda pair: pair[0]) == whole
    done = {0, 5, 15, 22}
    got = [(seq, _item(item)) for part in parts for seq, item in read_part(part, wanted=lambda s: s not in done)]
    assert got == [w for w in whole if w[0] not in done]
    assert [p.kind for p in parts_of(ds, SEQUENTIAL)] == ["textparquet"] * 5  # what a cluster's scan is given
