"""Reading datasets in parts (issue 20): a part read by a cluster's worker gives what a whole read gives.

Every tar shard here is read three ways: by the WebDataset reader itself
(``ds.items()``), whole with the per-shard numbering a scan uses
(``numbered_items``), and part by part (``read_part``, each part starting
where the one before said, by byte offset or from the shard's start); the
items, their ids, bytes and errors, their order and the counts of what was
skipped must be the same, on good, damaged and hostile shards.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sources import add_member, make_tar, wav_bytes, write

from consentry.io.sources import ArchiveLimits, open_dataset
from consentry.io.sources.parts import (
    PER_SHARD, SEQUENTIAL, SHARD_STRIDE, ShardKeys, list_shard, numbered_items, numbering_of, parts_of, read_part,
)


def _item(item) -> tuple:
    return item.item_id, item.name, item.data, item.error, item.size


def _in_parts(ds, items_per_part: int, *, wanted=lambda seq: True) -> tuple[list, dict, int]:
    """Every part of ``ds``, each read on its own as a worker reads it; (items, skipped counts, parts read)."""
    out, skipped, n_parts = [], {}, 0
    keys = ShardKeys()  # what the driver does with the keys each tar part returns
    for first in parts_of(ds, items_per_part=items_per_part):
        part = first
        while part is not None:
            reading = read_part(part, wanted=lambda position, p=part: wanted(p.seq(position)))
            got = [(seq, _item(item)) for seq, item in reading]
            renamed = keys.settle(part, reading.keys, last=reading.next is None) if part.kind == "tar" else {}
            out += [(seq, (renamed.get(seq, i[0]), *i[1:])) for seq, i in got]
            for reason, n in reading.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + n
            n_parts += 1
            part = reading.next
    return out, skipped, n_parts


def _check_same_ways(spec, *, sizes=(1, 2, 3, 16)) -> list:
    ds = open_dataset(spec)
    reference = [_item(i) for i in ds.items()]
    reference_skipped = dict(ds.skipped)
    assert numbering_of(ds) == PER_SHARD
    numbered = [(seq, _item(i)) for seq, i in numbered_items(ds, PER_SHARD)]
    assert [i for _, i in numbered] == reference and ds.skipped == reference_skipped
    seqs = [seq for seq, _ in numbered]
    assert seqs == sorted(set(seqs))  # unique, in the dataset's order
    for size in sizes:
        items, skipped, _ = _in_parts(ds, size)
        assert items == numbered, size
        assert skipped == reference_skipped, size
    return numbered


def _long_name(n: int) -> str:
    return "d" * 120 + f"/{n:04d}"


def _shards(root: Path) -> str:
    wav = wav_bytes(300)
    make_tar(root / "s-000.tar", [
        ("0001.wav", wav), ("0001.json", b"{}"), (".hidden", b"x"), ("dir/", b"", {"kind": tarfile.DIRTYPE}),
        ("0002.flac", wav), ("0003.txt", b"not audio"), ("0004", wav), ("0002.wav", wav),
        ("0005.wav", wav), ("0005.json", b"{}"), (".DS_Store", b"x"), ("../evil.wav", wav),
        (_long_name(6) + ".wav", wav), (_long_name(6) + ".json", b"{}"), ("0007.wav", wav),
        ("0008.wav", wav, {"kind": tarfile.SYMTYPE, "linkname": "0007.wav"}), ("0009.wav", wav),
        ("0001.flac", wav), ("0005.wav", wav), ("0010.wav", wav), ("0001.wav", wav),  # keys met parts before
    ])
    make_tar(root / "s-001.tar", [])
    make_tar(root / "s-002.tar", [("0100.wav", wav), (".h", b""), ("0101.wav", wav), ("0102.wav", wav),
                                  ("0100.wav", wav)], mode="w:gz")
    full = make_tar(root / "full.tar", [("0001.wav", wav), ("0002.wav", wav), ("0003.wav", wav), ("0004.wav", wav)])
    with tarfile.open(full) as tar:
        cut = {m.name: m.offset_data for m in tar.getmembers()}["0003.wav"] + 100
    write(root / "s-003.tar", full.read_bytes()[:cut])
    write(root / "s-004.tar", b"not a tar" * 100)
    # s-005.tar is missing: one item error
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "global"}) as tar:
        for n in range(5):
            add_member(tar, f"{n:04d}.wav", wav)
    write(root / "s-006.tar", buf.getvalue())
    return str(root / "s-{000..006}.tar")


def test_tar_shards_read_in_parts_give_the_whole_reads_items(tmp_path):
    numbered = _check_same_ways(_shards(tmp_path))
    by_shard = {}
    for seq, (item_id, *_rest) in numbered:
        by_shard.setdefault(seq // SHARD_STRIDE, []).append(seq % SHARD_STRIDE)
    # positions count the samples of each shard from 0; the shard's own error comes after its samples
    assert all(positions == list(range(len(positions))) for positions in by_shard.values())
    assert sorted(by_shard) == [0, 2, 3, 4, 5, 6]
    ids = [i[0] for _, i in numbered]
    assert "s-000.tar#0002@7" in ids and "s-003.tar" in ids and "s-005.tar" in ids
    assert {"s-000.tar#0001@17", "s-000.tar#0005@18", "s-000.tar#0001@20", "s-002.tar#0100@4"} <= set(ids)


def test_uncompressed_parts_seek_instead_of_reading_from_the_start(tmp_path):
    spec = _shards(tmp_path)
    ds = open_dataset(spec)
    first = next(iter(parts_of(ds, items_per_part=2)))
    reading = read_part(first)
    list(reading)
    assert reading.next.start.offset > 0 and reading.next.lo == 2 and reading.next.hi == 4
    gz = [p for p in parts_of(ds, items_per_part=1) if p.path.endswith("s-002.tar")][0]
    assert gz.hi == SHARD_STRIDE  # compressed: one part, decompressed once (a next part would start over)
    reading = read_part(gz)
    whole = [(seq, _item(item)) for seq, item in numbered_items(open_dataset(gz.path), PER_SHARD)]
    assert [(seq - gz.seq(0), _item(i)) for seq, i in reading] == whole and len(whole) > 1 and reading.next is None
    cut = read_part(replace(gz, hi=1))
    list(cut)
    assert cut.next.start.offset is None  # a part of it cut short: the next would read it from the start
    pax = [p for p in parts_of(ds, items_per_part=1) if p.path.endswith("s-006.tar")][0]
    reading = read_part(pax)
    list(reading)
    assert reading.next.start.offset is None  # a global header applies to what follows: read from the start


def test_parts_pass_over_items_already_scanned(tmp_path):
    spec = _shards(tmp_path)
    ds = open_dataset(spec)
    numbered = [(seq, _item(i)) for seq, i in numbered_items(ds, PER_SHARD)]
    done = {seq for k, (seq, _) in enumerate(numbered) if k % 3 == 0}
    items, skipped, _ = _in_parts(ds, 2, wanted=lambda seq: seq not in done)
    assert items == [(seq, i) for seq, i in numbered if seq not in done]
    assert skipped == ds.skipped  # what is skipped is counted once, whatever was done before
    local = [(seq, _item(i)) for seq, i in numbered_items(ds, PER_SHARD, wanted=lambda seq: seq not in done)]
    assert [(seq, i) for seq, i in local if seq not in done] == items


def test_parquet_parts_are_row_ranges_numbered_by_row(tmp_path):
    wav = wav_bytes(200)
    rows = [{"bytes": wav, "path": f"clip{n}.wav"} if n % 4 else None for n in range(23)]
    table = pa.table({"audio": pa.array(rows, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=7)
    ds = open_dataset(tmp_path / "t.parquet")
    numbered = [(seq, _item(i)) for seq, i in numbered_items(ds, PER_SHARD)]
    assert [seq for seq, _ in numbered] == list(range(23))
    assert [i for _, i in numbered] == [_item(i) for i in ds.items()]
    for size in (1, 3, 16):
        items, _, n_parts = _in_parts(ds, size)
        assert items == numbered
        assert n_parts == sum(-(-n // size) for n in (7, 7, 7, 2))


def test_other_datasets_keep_one_sequence(tmp_path):
    write(tmp_path / "a" / "x.wav", wav_bytes())
    ds = open_dataset(tmp_path / "a")
    assert numbering_of(ds) == SEQUENTIAL and parts_of(ds) is None
    assert [seq for seq, _ in numbered_items(ds, SEQUENTIAL)] == [0]


def _valid_tar(gz: bool) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for n in range(4):
            add_member(tar, f"{n:04d}.wav", wav_bytes(100 + n))
            add_member(tar, f"{n:04d}.json", b'{"a": 1}')
    return buf.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 6000), gz=st.booleans())
def test_damaged_shards_read_in_parts_give_the_whole_reads_items(tmp_path_factory, edits, cut, gz):
    raw = bytearray(_valid_tar(gz))
    for position, value in edits:
        raw[position % len(raw)] = value
    root = tmp_path_factory.mktemp("fuzz")
    write(root / ("shard.tar.gz" if gz else "shard.tar"), bytes(raw[:cut] if cut is not None else raw))
    _check_same_ways(str(root / ("shard.tar.gz" if gz else "shard.tar")), sizes=(1, 3))


def _zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def test_zip_parts_give_the_whole_reads_items(tmp_path):
    wav = wav_bytes(300)
    _zip(tmp_path / "a.zip", [("x/0.wav", wav), ("notes.txt", b"x"), (".hidden.wav", wav), ("__MACOSX/y.wav", wav),
                              ("1.wav", wav), ("noext", wav), ("noext2", b"not audio at all" * 20), ("2.flac", wav),
                              ("1.wav", wav), ("3.wav", wav), ("4.wav", wav)])
    numbered = _check_same_ways(str(tmp_path / "a.zip"))
    assert [seq for seq, _ in numbered] == list(range(len(numbered)))  # a zip is one shard: one sequence
    assert any(i[0] == "a.zip#1.wav@8" and "same name" in i[3] for _, i in numbered)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6))
def test_damaged_zips_read_in_parts_give_the_whole_reads_items(tmp_path_factory, edits):
    root = tmp_path_factory.mktemp("zfuzz")
    path = _zip(root / "z.zip", [(f"{n}.wav", wav_bytes(100 + n)) for n in range(5)] + [("n", wav_bytes(90))])
    raw = bytearray(path.read_bytes())
    for position, value in edits:
        raw[position % len(raw)] = value
    path.write_bytes(bytes(raw))
    try:
        open_dataset(path)
    except Exception:  # the directory itself is unreadable: the whole source is refused, no parts
        return
    _check_same_ways(str(path), sizes=(1, 2))


def _listed_in_parts(ds, items_per_part: int, *, wanted=lambda seq: True) -> tuple[list, dict]:
    """Each tar shard (or the zip) listed once, then its parts read in any order (here: last first), as workers do."""
    out, skipped = [], {}
    for first in parts_of(ds, items_per_part=items_per_part):
        for part in reversed(list_shard(first)):
            reading = read_part(part, wanted=lambda position, p=part: wanted(p.seq(position)))
            got = [(seq, _item(item)) for seq, item in reading]
            assert reading.next is None  # a listed part does not lead on
            renamed = part.options.get("renamed", {})
            out += [(seq, (renamed.get(seq, i[0]), *i[1:])) for seq, i in got]
            for reason, n in reading.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + n
    return sorted(out, key=lambda pair: pair[0]), skipped


@pytest.mark.parametrize("size", [1, 2, 3, 16])
def test_a_listed_shard_read_in_parts_side_by_side_gives_the_whole_reads_items(tmp_path, size):
    ds = open_dataset(_shards(tmp_path))
    numbered = [(seq, _item(i)) for seq, i in numbered_items(ds, PER_SHARD)]
    assert _listed_in_parts(ds, size) == (numbered, ds.skipped)
    done = {seq for k, (seq, _) in enumerate(numbered) if k % 3 == 0}
    items, _ = _listed_in_parts(ds, size, wanted=lambda seq: seq not in done)
    assert items == [(seq, i) for seq, i in numbered if seq not in done]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 6000), size=st.integers(1, 4))
def test_damaged_shards_listed_and_read_side_by_side_give_the_whole_reads_items(tmp_path_factory, edits, cut, size):
    raw = bytearray(_valid_tar(False))
    for position, value in edits:
        raw[position % len(raw)] = value
    root = tmp_path_factory.mktemp("lfuzz")
    write(root / "shard.tar", bytes(raw[:cut] if cut is not None else raw))
    ds = open_dataset(str(root / "shard.tar"))
    numbered = [(seq, _item(i)) for seq, i in numbered_items(ds, PER_SHARD)]
    assert _listed_in_parts(ds, size) == (numbered, ds.skipped)


def test_a_zip_member_with_an_empty_name_is_refused_not_a_crash(tmp_path):
    """Found by the Hypothesis test above: an edited central directory gave a member the name '' and
    ``ZipInfo.is_dir()`` raised IndexError, stopping the whole read."""
    path = _zip(tmp_path / "e.zip", [("a.wav", wav_bytes(100)), ("x", wav_bytes(100)), ("b.wav", wav_bytes(100))])
    raw = bytearray(path.read_bytes())
    header = raw.index(b"PK\x01\x02")  # the central directory's first entry ...
    while raw[header + 46:header + 47] != b"x":  # ... on to the member "x"
        header = raw.index(b"PK\x01\x02", header + 4)
    assert raw[header + 28:header + 30] == b"\x01\x00" and raw[header + 32:header + 34] == b"\x00\x00"
    raw[header + 28:header + 30], raw[header + 32:header + 34] = b"\x00\x00", b"\x01\x00"  # name '' and comment 'x'
    path.write_bytes(bytes(raw))
    numbered = _check_same_ways(str(path), sizes=(1, 2))
    errors = {i[0]: i[3] for _, i in numbered}
    assert errors["e.zip#a.wav"] is None and errors["e.zip#b.wav"] is None
    assert "empty name" in errors["e.zip#"]


def test_a_listed_zip_read_in_parts_side_by_side_gives_the_whole_reads_items(tmp_path):
    wav = wav_bytes(300)
    path = _zip(tmp_path / "a.zip", [("x/0.wav", wav), ("notes.txt", b"x"), (".hidden.wav", wav), ("1.wav", wav),
                                     ("noext", wav), ("2.flac", wav), ("1.wav", wav), ("3.wav", wav), (".h2", wav)])
    ds = open_dataset(path)
    numbered = [(seq, _item(i)) for seq, i in numbered_items(ds, PER_SHARD)]
    for size in (1, 2, 3, 16):
        assert _listed_in_parts(ds, size) == (numbered, ds.skipped), size
    small = open_dataset(path, limits=ArchiveLimits(max_total_bytes=3 * len(wav)))  # the cap counted across parts
    capped = [(seq, _item(i)) for seq, i in numbered_items(small, PER_SHARD)]
    assert any("refused the rest of the archive" in (i[3] or "") for _, i in capped)
    assert _listed_in_parts(small, 2) == (capped, small.skipped)
