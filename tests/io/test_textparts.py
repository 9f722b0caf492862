"""Crawl archives (WARC/WET) and text WebDataset shards read in parts, as a cluster's workers read them (issue 20).

Every file is read whole (as a local scan numbers it, ``numbered_items``), in
parts that follow one another (each says where the next begins), and in the
parts a listing of the file finds, read in reverse order: the same seqs,
ids, texts, errors and skipped counts, hostile files included.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections import Counter

import pytest
from textkit import write_warc

from consentry.io.sources.archives import ArchiveLimits
from consentry.io.sources.parts import (
    PER_SHARD, SHARD_STRIDE, list_shard, numbered_items, numbering_of, parts_of, read_part,
)
from consentry.io.sources.text import TextWebDataset, WarcDataset, open_text_dataset




def _pages(n: int) -> list[tuple[str, str, bytes, str]]:
    """Responses (HTML, text, an image every fifth), requests and WET-like conversions, mixed."""
    out = []
    for i in range(n):
        if i % 5 == 3:
            out.append(("response", f"https://e.org/{i}.png", b"\x89PNG" + bytes(i), "image/png"))
        elif i % 7 == 2:
            out.append(("request", f"https://e.org/{i}", b"GET /%d HTTP/1.1\r\n\r\n" % i, "application/http"))
        elif i % 4 == 1:
            out.append(("conversion", f"https://e.org/{i}", f"Plain text of page {i}. ".encode() * (i + 1),
                        "text/plain"))
        else:
            out.append(("response", f"https://e.org/{i}", b"<html><body><p>Page %d words.</p></body></html>" % i,
                        "text/html; charset=utf-8"))
    return out


def _whole(ds) -> tuple[list, dict]:
    got = [(seq, item.item_id, item.data, item.error) for seq, item in numbered_items(ds, PER_SHARD)]
    return got, dict(ds.skipped)


def _chained(ds, size: int) -> tuple[list, dict]:
    got, skipped = [], Counter()
    for part in parts_of(ds, items_per_part=size):
        while part is not None:
            reading = read_part(part)
            got += [(seq, item.item_id, item.data, item.error) for seq, item in reading]
            skipped.update(reading.skipped)
            part = reading.next
    return got, dict(skipped)


def _listed(ds, size: int) -> tuple[list, dict, int]:
    got, skipped, n_parts = [], Counter(), 0
    for first in parts_of(ds, items_per_part=size):
        parts = list_shard(first)
        n_parts += len(parts)
        for part in reversed(parts):  # side by side: in any order
            reading = read_part(part)
            got += [(seq, item.item_id, item.data, item.error) for seq, item in reading]
            skipped.update(reading.skipped)
            assert reading.next is None
    return sorted(got, key=lambda g: g[0]), dict(skipped), n_parts


def _same_in_parts(ds, sizes=(1, 2, 3, 7, 1000)) -> list:
    whole = _whole(ds)
    assert [g[1:] for g in whole[0]] == [(i.item_id, i.data, i.error) for i in ds.items()]  # items() is the same loop
    for size in sizes:
        assert _chained(ds, size) == whole, size
        listed = _listed(ds, size)
        assert listed[:2] == whole, size
    return whole[0]


@pytest.fixture()
def crawls(tmp_path):
    """Good and hostile crawl archives: name -> path."""
    files = {}
    for name, gz in (("c.warc.gz", True), ("c.warc", False)):
        write_warc(tmp_path / name, _pages(23), gz=gz)
        files[name] = tmp_path / name
    write_warc(tmp_path / "c.wet.gz", [("conversion", f"https://e.org/{i}", f"Text {i}.".encode(), "text/plain")
                                   for i in range(9)], gz=True)
    files["c.wet.gz"] = tmp_path / "c.wet.gz"
    good = files["c.warc.gz"].read_bytes()
    for k, keep in enumerate((len(good) * 2 // 3, len(good) - 30, len(good) - 5, len(good) // 4)):
        (tmp_path / f"cut{k}.warc.gz").write_bytes(good[:keep])  # ends inside a gzip member
        files[f"cut{k}.warc.gz"] = tmp_path / f"cut{k}.warc.gz"
    plain = files["c.warc"].read_bytes()
    at = plain.index(b"Content-Length: ", plain.index(b"https://e.org/4"))
    end = plain.index(b"\r\n", at)
    length = int(plain[at + 16:end])
    for name, wrong in (("long.warc", length + 7), ("short.warc", length - 9)):
        (tmp_path / name).write_bytes(plain[:at + 16] + str(wrong).encode() + plain[end:])
        files[name] = tmp_path / name
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(plain))  # not one gzip member per record
    corrupt = bytearray(good)
    corrupt[len(good) // 2:len(good) // 2 + 12] = bytes(12)  # damaged deflate data: warcio quotes binary bytes
    (tmp_path / "corrupt.warc.gz").write_bytes(bytes(corrupt))
    files["corrupt.warc.gz"] = tmp_path / "corrupt.warc.gz"
    (tmp_path / "cutu.warc").write_bytes(plain[:len(plain) - 300])
    files["cutu.warc"] = tmp_path / "cutu.warc"
    files["whole.warc.gz"] = tmp_path / "whole.warc.gz"
    write_warc(tmp_path / "bad.wet", [("conversion", "https://e.org/x", b"caf\xe9 \xff\xfe not UTF-8", "text/plain"),
                                  ("conversion", "https://e.org/y", b"fine", "text/plain")], gz=False)
    files["bad.wet"] = tmp_path / "bad.wet"
    return files


def test_crawl_archives_read_in_parts_give_the_whole_read(crawls):
    for name in ("c.warc.gz", "c.warc", "c.wet.gz"):
        ds = open_text_dataset(crawls[name])
        assert isinstance(ds, WarcDataset) and numbering_of(ds) == PER_SHARD
        got = _same_in_parts(ds)
        assert all(error is None for *_, error in got)
        assert [seq for seq, *_ in got] == [int(item_id.rpartition(":")[2]) for _, item_id, *_ in got]
    whole, skipped = _whole(open_text_dataset(crawls["c.warc.gz"]))
    assert skipped == {"response of type image/png": 4, "WARC request record": 3}
    assert len(whole) == 23 - 7
    assert [g[0] for g in whole][:4] == [0, 1, 4, 5]   # seqs: record positions (2 is a request, 3 a PNG)
    assert _listed(open_text_dataset(crawls["c.warc"]), 5)[2] == 5   # 23 records: parts at 0, 5, 10, 15, 20


def test_hostile_crawl_archives_are_one_line_errors_in_parts_too(crawls, capfd):
    ends = ("the archive ends inside", "refused the rest of the archive at record")
    expected = {
        **{f"cut{k}.warc.gz": ends for k in range(4)},
        "long.warc": "is not followed by a blank line (a wrong Content-Length?)",
        "short.warc": "is not followed by a blank line (a wrong Content-Length?)",
        "whole.warc.gz": "refused the rest of the archive at record 1",
        "cutu.warc": ends,
        "corrupt.warc.gz": ends,
    }
    seen = set()
    for name, words in expected.items():
        got = _same_in_parts(open_text_dataset(crawls[name]))
        errors = [error for *_, error in got if error]
        said = {w for w in ((words,) if isinstance(words, str) else words) for e in errors if w in e}
        assert said, (name, errors)   # a file cut short is never read quietly as if whole
        seen |= said
        assert all(e.startswith(f"{crawls[name]}: ") and e.isprintable() for e in errors), errors
    assert ends[0] in seen   # warcio ends quietly inside a gzip member: said all the same
    cut = _whole(open_text_dataset(crawls["cut1.warc.gz"]))[0]   # cut inside the last record's gzip member
    assert [(seq, "cut short" in error) for seq, _i, _d, error in cut if error] == [(22, True), (23, False)]
    assert capfd.readouterr().err == ""   # warcio's multi-line warning on a wrong Content-Length is not written
    long_errors = [(seq, error) for seq, _i, _d, error in _whole(open_text_dataset(crawls["long.warc"]))[0] if error]
    assert [seq for seq, _ in long_errors] == [4, 5]   # the record itself, then the next one cannot be read
    # A WET record that is not UTF-8 is an item like another: its bytes, given to the text engine as they are.
    bad = _same_in_parts(open_text_dataset(crawls["bad.wet"]))
    assert [g[2] for g in bad] == [b"caf\xe9 \xff\xfe not UTF-8", b"fine"]


def _tar(path, members: list[tuple[str, bytes | None]], *, pax_global: dict | None = None,
         fmt=tarfile.GNU_FORMAT) -> None:
    """A tar of ``(name, data)`` members (data None: a directory)."""
    mode = "w:gz" if path.name.endswith(".gz") else "w"
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT if pax_global else fmt, pax_headers=pax_global) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                continue
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _members(n: int) -> list[tuple[str, bytes | None]]:
    out: list[tuple[str, bytes | None]] = [("docs", None)]
    for i in range(n):
        stem = f"docs/{'long-name-' * 12 if i == 6 else ''}{i:04d}"
        out.append((f"{stem}.txt", f"Text of document {i}. ".encode() * (i + 1)))
        if i % 3 == 0:
            out.append((f"{stem}.jpg", b"\xff\xd8" + bytes(i)))
        if i % 4 == 1:
            out.append((f"{stem}.json", b'{"text": "json %d"}' % i if i != 5 else b"{broken"))
    return out


def test_text_shards_read_in_parts_give_the_whole_read(tmp_path):
    shards = [tmp_path / "t-000.tar", tmp_path / "t-001.tar", tmp_path / "t-002.tar.gz"]
    for k, shard in enumerate(shards):
        _tar(shard, _members(11 + 4 * k))
    ds = TextWebDataset(shards, spec="t", name="t", text_column="text")
    assert numbering_of(ds) == PER_SHARD
    got = _same_in_parts(ds)
    shard_of = Counter(seq // SHARD_STRIDE for seq, *_ in got)
    assert sorted(shard_of) == [0, 1, 2]
    assert any("not valid JSON" in (error or "") for *_, error in got)
    assert _whole(ds)[1] == {"not text by extension (.jpg)": 4 + 5 + 7}
    # A compressed shard is one part; an uncompressed one of 1 + 11 + 4 + 3 = 19 members is listed in 4 of 5.
    firsts = list(parts_of(ds, items_per_part=5))
    assert firsts[2].hi == SHARD_STRIDE and len(list_shard(firsts[0])) == 4


def test_hostile_text_shards_in_parts(tmp_path):
    good = tmp_path / "g.tar"
    _tar(good, _members(12))
    data = good.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[:len(data) * 3 // 5])
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    pax = tmp_path / "pax.tar"   # a global pax header: no member after it can begin a part
    _tar(pax, _members(12), pax_global={"comment": "made for a test"})
    forged = {}
    for suffix, name in ((".tar", "f.txt"), (".tar", "f.jpg"), (".tar.gz", "f.txt")):
        buf = io.BytesIO()   # a member whose PAX size is 10**14 bytes that are not there (the fuzz finding of
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:   # audio shards): tarfile
            info = tarfile.TarInfo("a.txt")                                           # skipped nothing for hours
            info.size = 5
            tar.addfile(info, io.BytesIO(b"words"))
            info = tarfile.TarInfo(name)
            info.pax_headers = {"size": "99999999999999"}
            tar.addfile(info)
        path = tmp_path / f"forged-{name}{suffix}"
        path.write_bytes(gzip.compress(buf.getvalue()) if suffix.endswith(".gz") else buf.getvalue())
        forged[path] = None
    small = ArchiveLimits(max_member_bytes=200)
    capped = ArchiveLimits(max_member_bytes=200, max_total_bytes=3000)   # the shard is 20 kB
    for shard, limits in ((cut, None), (junk, None), (pax, None), (good, small), (good, capped), *forged.items()):
        ds = TextWebDataset([shard], spec=str(shard), name=shard.name, text_column="text", limits=limits)
        got = _same_in_parts(ds)
        errors = [error for *_, error in got if error]
        assert all("\n" not in e for e in errors)
        if shard in (cut, junk, *forged):
            assert errors and errors[-1].startswith(f"{shard}: ")
        if shard in forged:
            assert "forged size field" in errors[-1] and got[0][2] == b"words"
        if limits is small:
            assert any("over the archive limits" in e for e in errors)
        if limits is capped:
            assert ": decompresses to more than the 2.9 KiB archive limit" in errors[-1]
    first = next(parts_of(TextWebDataset([pax], spec="p", name="p", text_column="text"), items_per_part=4))
    assert [(p.lo, p.hi) for p in list_shard(first)] == [(0, SHARD_STRIDE)]
