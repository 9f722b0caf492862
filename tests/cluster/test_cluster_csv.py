"""CSV and Arrow rows read by the Ray workers (issue 20; docs/cluster.md, consentry/io/sources/rowparts.py),
and a reader's refusal on a cluster ending as it ends locally.

A CSV manifest of audio paths (quoted fields holding newlines, a blank line,
a byte order mark), a text dataset of CSV files and one of Arrow files are
scanned on a real local cluster (``test_cluster``'s fixture) with the driver
forbidden to make or list any row: one worker lists each file (where its
parts begin), then the workers read the parts.  Items, seqs, findings,
summary and clean manifest are the local scan's.  A manifest that opening
refuses (not UTF-8 past its first MiB) leaves no scan behind, as locally; a
text file the reader stops in, and a damaged Parquet row group, stop the
scan with the local error, the rows before it stored and none after.
"""

from __future__ import annotations

import codecs
import csv
import io

import numpy as np
import pytest
from test_cluster import _copy_registry, cluster  # noqa: F401 - cluster: fixture
from test_cluster_archives import _wav
from test_cluster_rows import _seqs, clip_of, documents, local_scans, scan_on_ray_as_locally, works_and_texts
from textkit import prose

from consentry import Registry
from consentry.cluster.executor import RayExecutor
from consentry.domain.errors import InputError
from consentry.io.sources import open_dataset, rowparts
from consentry.io.sources.manifest import CsvManifest
from consentry.io.sources.text import TextRowsDataset, open_text_dataset
from consentry.services.scan import scan_dataset, scans_of


@pytest.fixture(scope="module")
def csvrows(tmp_path_factory):
    """A registry of five audio works and two texts; a CSV manifest of clips, folders of CSV and Arrow texts."""
    import pyarrow as pa

    root = tmp_path_factory.mktemp("csvrows")
    reg_path, signals, texts = works_and_texts(root, notes_seed=90, prose_seed=41)
    rng = np.random.default_rng(7)
    (root / "clips").mkdir()
    for i in range(6):
        (root / "clips" / f"c{i}.wav").write_bytes(_wav(clip_of(i, signals, rng, unregistered_seed=900)))
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["title", "audio"])
    for i in range(6):
        writer.writerow([f"clip {i}\nsecond line, quoted" if i % 2 else f"clip {i}", f"clips/c{i}.wav"])
        if i == 2:
            out.write("\r\n")  # a blank line: not a row
            writer.writerows([["missing", "clips/none.wav"], ["no audio", ""], ["é\r\nacute", "clips/c1.wav"]])
    (root / "clips.csv").write_bytes(codecs.BOM_UTF8 + out.getvalue().encode("utf-8"))

    docs = documents(texts, 700, joiner="\n\n", lead_in="a line\nthen ")
    cdata = root / "ctexts" / "data"
    cdata.mkdir(parents=True)
    for k, chunk in enumerate((docs[:8], docs[8:])):
        out = io.StringIO(newline="")
        csv.writer(out).writerows([["id", "text"], *([str(i), d] for i, d in enumerate(chunk))])
        (cdata / f"train-{k}.csv").write_text(out.getvalue(), encoding="utf-8", newline="")
    adata = root / "atexts"
    adata.mkdir()
    table = pa.table({"text": docs})
    with pa.ipc.new_stream(str(adata / "data-00000-of-00002.arrow"), table.schema) as writer:  # save_to_disk's kind
        for batch in table.slice(0, 9).to_batches(max_chunksize=4):
            writer.write_batch(batch)
    with pa.ipc.new_file(str(adata / "data-00001-of-00002.arrow"), table.schema) as writer:
        writer.write_table(table.slice(9))
    specs = {"manifest": str(root / "clips.csv"), "csv-text": str(root / "ctexts"), "arrow-text": str(adata)}
    return root, reg_path, specs, local_scans(reg_path, specs, root)


def _forbid_reading_rows_in_this_process(monkeypatch) -> None:
    """The driver must not list or make rows: those functions fail here (the workers are other processes)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the driver read a row")

    monkeypatch.setattr(CsvManifest, "_data_records", refuse)
    monkeypatch.setattr(TextRowsDataset, "_csv_items", refuse)
    monkeypatch.setattr(TextRowsDataset, "_arrow_items", refuse)
    monkeypatch.setattr(TextRowsDataset, "_item", refuse)
    monkeypatch.setattr(rowparts, "list_rows", refuse)  # the listing too


@pytest.mark.parametrize("kind", ["manifest", "csv-text", "arrow-text"])
def test_workers_list_and_read_csv_and_arrow_rows_with_the_local_decisions(cluster, csvrows, tmp_path, monkeypatch,
                                                                            kind):  # noqa: F811
    root, reg_path, specs, local = csvrows
    assert {v[0] for v in local[kind][1].values()} >= ({"refused", "licensable", "unknown", "error"}
                                                    if kind == "manifest" else {"refused", "allowed", "unknown", "error"})
    monkeypatch.setattr(rowparts, "PART_ROWS", 3)  # several parts a file, cut after quoted newlines
    scan_on_ray_as_locally(cluster, reg_path, specs[kind], local[kind], root / f"local-{kind}.clean", tmp_path,
                           monkeypatch, forbid=_forbid_reading_rows_in_this_process)


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_a_manifest_refused_past_its_first_mib_leaves_no_scan_as_locally(cluster, csvrows, tmp_path, suffix):  # noqa: F811
    """The driver checks the first MiB; the workers check the rest in the first pass, before the scan is stored."""
    _, reg_path, _, _ = csvrows
    path = tmp_path / f"late.{suffix}"
    row = (lambda n: b'{"audio": "clip%06d.wav"}\n' % n) if suffix == "jsonl" else (lambda n: b"clip%06d.wav\n" % n)
    good = b"".join(row(n) for n in range(60_000))  # 1.4-1.6 MB of good rows
    header = b"" if suffix == "jsonl" else b"audio\n"
    path.write_bytes(header + good + row(7).replace(b"clip", b"caf\xe9") + good[:1000])
    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        before = len(scans_of(reg))
        with pytest.raises(InputError) as locally:
            scan_dataset(reg, path, workers=1)
        assert len(scans_of(reg)) == before
        with RayExecutor(cluster.address, workers=2) as ex, pytest.raises(InputError) as on_ray:
            scan_dataset(reg, path, executor=ex)
        assert len(scans_of(reg)) == before
    line = 60_001 + (suffix == "csv")
    assert str(on_ray.value) == str(locally.value) and f"line {line}" in str(locally.value)


def test_a_csv_text_file_the_reader_stops_in_stops_the_cluster_scan_there(cluster, csvrows, tmp_path,
                                                                           monkeypatch):  # noqa: F811
    _, reg_path, _, _ = csvrows
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"text\n" + b"".join(b"row %d of plain words\n" % n for n in range(3000)))
    (folder / "b.csv").write_bytes(b"text\n" + b"".join(b"row %d of plain words\n" % n for n in range(3000))
                                   + b"caf\xe9\n" + b"more words\n")
    (folder / "c.csv").write_bytes(b"text\nlater\n")
    ds = open_text_dataset(folder)
    readable = 0
    with pytest.raises(InputError):
        for _item in ds.items():
            readable += 1
    assert 3000 < readable < 6000  # the rows of a.csv and b.csv's before where its reader stops
    monkeypatch.setattr(rowparts, "PART_ROWS", 500)
    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        ids: list[str] = []
        with pytest.raises(InputError) as locally:
            scan_dataset(reg, folder, workers=1, on_scan_id=lambda scan_id, _resumed: ids.append(scan_id))
        with RayExecutor(cluster.address, workers=2) as ex, pytest.raises(InputError) as on_ray:
            scan_dataset(reg, folder, executor=ex, on_scan_id=lambda scan_id, _resumed: ids.append(scan_id))
        local_id, ray_id = ids
        statuses = {s["scan_id"]: s["status"] for s in scans_of(reg)}
        assert statuses[local_id] == statuses[ray_id] == "interrupted"
        stored = [seq for seq, _id in _seqs(reg, ray_id)]
        local_stored = {seq for seq, _id in _seqs(reg, local_id)}
    assert str(on_ray.value) == str(locally.value)
    assert sorted(stored) == list(range(readable))  # every row before the stop, none after (c.csv never read)
    assert local_stored <= set(stored)


def test_a_damaged_parquet_text_row_group_stops_both_scans_with_the_same_error(cluster, csvrows, tmp_path):  # noqa: F811
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, reg_path, _, _ = csvrows
    folder = tmp_path / "ptexts"
    folder.mkdir()
    path = folder / "train-0.parquet"
    pq.write_table(pa.table({"text": [prose(60 + i, 40) for i in range(12)]}), path, row_group_size=4,
                   compression="NONE")
    group = pq.ParquetFile(path).metadata.row_group(1).column(0)
    raw = bytearray(path.read_bytes())
    start = group.dictionary_page_offset or group.data_page_offset
    raw[start:start + 24] = b"\xff" * 24  # the second row group's page header: not thrift
    path.write_bytes(bytes(raw))
    assert open_dataset(folder, text_column="text")  # the footer is whole: opening takes it
    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        ids: list[str] = []
        with pytest.raises(Exception) as locally:
            scan_dataset(reg, folder, workers=1, on_scan_id=lambda scan_id, _resumed: ids.append(scan_id))
        with RayExecutor(cluster.address, workers=2) as ex, pytest.raises(Exception) as on_ray:
            scan_dataset(reg, folder, executor=ex, on_scan_id=lambda scan_id, _resumed: ids.append(scan_id))
        statuses = [s["status"] for s in scans_of(reg) if s["scan_id"] in ids]
    assert type(on_ray.value) is type(locally.value) and str(on_ray.value) == str(locally.value)
    assert "Ray" not in str(on_ray.value) and statuses == ["interrupted", "interrupted"]
    assert isinstance(locally.value, InputError) and "\n" not in str(locally.value)  # one line, naming the file
    assert str(locally.value).startswith(f"{path}: damaged Parquet data in row group 1 (rows 4-7: ")
