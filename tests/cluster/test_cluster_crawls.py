"""Crawl archives (WARC/WET) and text WebDataset shards read by the Ray workers (issue 20; docs/cluster.md,
consentry/io/sources/textparts.py).

A ``.warc.gz`` (one file, fewer than the workers: a worker lists it, then
its parts are read side by side), a plain WET holding a record that is not
UTF-8 and one with a wrong Content-Length, a ``.warc.gz`` cut short, three
uncompressed text shards (read one part after another, shards side by side)
and one compressed shard (read by a feeder actor) are scanned on a real
local cluster (``test_cluster``'s fixture) with the driver forbidden to read
any record or member.  Items, seqs, findings, summary and clean manifest are
the local scan's.  A worker killed and a driver killed mid-scan end in the
local result after resume; a scan begun locally resumes on the cluster and
one begun on the cluster resumes locally; a scan stored before these
archives were numbered per file resumes in its own numbering.
"""

from __future__ import annotations

import io
import tarfile

import pytest
from test_cluster import (  # noqa: F401 - cluster: fixture
    _copy_registry, _items, _kill_a_worker_once, cluster,
    driver_killed_and_resumed,
)
from test_cluster_rows import SAME, _seqs
from textkit import passage, prose, write_warc

from consentry import Registry
from consentry.cluster import ClusterError
from consentry.cluster.executor import RayExecutor
from consentry.io.sources import parts as source_parts
from consentry.io.sources import textparts
from consentry.io.sources.text import TextWebDataset, WarcDataset
from consentry.runtime.interrupts import Interrupted
from consentry.services import scan_text
from consentry.services.scan import scan_dataset, write_clean_manifest


def _pages(texts: dict, seed: int, n: int) -> list[tuple[str, str, bytes, str]]:
    """``n`` records ``(kind, uri, payload, content type)``: pages (some quoting a.txt, denied, or b.txt,
    allowed), images and requests (skipped), WET conversions, an empty page."""
    out = []
    for i in range(n):
        body = prose(seed + i, 60 + 20 * (i % 5))
        if i % 9 == 2:
            body += " " + passage(texts["a.txt"], (100 + 10 * i) % 1200, 110)[0]
        elif i % 9 == 6:
            body = passage(texts["b.txt"], (50 + 5 * i) % 1200, 100)[0]
        if i % 7 == 3:
            out.append(("response", f"https://e.org/{i}.png", b"\x89PNG" + bytes(20), "image/png"))
        elif i % 11 == 5:
            out.append(("request", f"https://e.org/{i}", b"GET / HTTP/1.1\r\n\r\n", "application/http"))
        elif i % 4 == 1:
            out.append(("conversion", f"https://e.org/{i}", body.encode(), "text/plain"))
        elif i == 8:
            out.append(("response", f"https://e.org/{i}", b"", "text/html"))
        else:
            out.append(("response", f"https://e.org/{i}", f"<html><body><p>{body}</p></body></html>".encode(),
                        "text/html; charset=utf-8"))
    return out




def _write_shard(path, texts: dict, seed: int, n: int) -> None:
    mode = "w:gz" if path.name.endswith(".gz") else "w"
    with tarfile.open(path, mode) as tar:
        for i, (kind, uri, payload, _ctype) in enumerate(_pages(texts, seed, n)):
            name = f"doc{i:03d}." + ("jpg" if uri.endswith(".png") else "json" if kind == "conversion" else "html")
            data = b'{"text": %s}' % json_string(payload) if name.endswith(".json") else payload
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def json_string(payload: bytes) -> bytes:
    import json

    return json.dumps(payload.decode("utf-8")).encode()


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    """A registry of two texts; crawl archives and text shards; each scanned locally: kind -> (spec, column,
    (summary, items, seqs)), clean manifests at ``root/local-<kind>.clean``."""
    root = tmp_path_factory.mktemp("crawls")
    texts = {"a.txt": prose(51, 1500), "b.txt": prose(52, 1500)}
    reg_path = root / "r.db"
    with Registry.open(reg_path) as reg:
        for name, terms in (("a.txt", "deny"), ("b.txt", "allow")):
            (root / name).write_text(texts[name], encoding="utf-8")
            reg.register([root / name], creator="Bea Roth", terms=terms, workers=1)
    write_warc(root / "crawl.warc.gz", _pages(texts, 300, 40), gz=True)
    wet = [("conversion", f"https://e.org/w{i}", prose(400 + i, 90).encode(), "text/plain") for i in range(14)]
    wet[2] = (*wet[2][:2], wet[2][2] + b" " + passage(texts["a.txt"], 300, 110)[0].encode(), "text/plain")
    wet[4] = ("conversion", "https://e.org/latin1", "Caf\xe9 cr\xe8me, a page saved as Latin-1. ".encode("latin-1")
              * 8, "text/plain")
    write_warc(root / "wet.warc", wet, gz=False)
    plain = (root / "wet.warc").read_bytes()   # record 11 says it is 9 bytes shorter than it is
    at = plain.index(b"Content-Length: ", plain.index(b"https://e.org/w11"))
    end = plain.index(b"\r\n", at)
    (root / "wet.warc").write_bytes(plain[:at + 16] + str(int(plain[at + 16:end]) - 9).encode() + plain[end:])
    good = (root / "crawl.warc.gz").read_bytes()
    (root / "cut.warc.gz").write_bytes(good[:len(good) * 3 // 4])
    for k in range(3):
        _write_shard(root / f"t-{k:03d}.tar", texts, 500 + 40 * k, 17 + 3 * k)
    _write_shard(root / "z-000.tar.gz", texts, 700, 21)
    specs = {"warc": (str(root / "crawl.warc.gz"), None), "wet": (str(root / "wet.warc"), None),
             "cut": (str(root / "cut.warc.gz"), None), "tars": (str(root / "t-{000..002}.tar"), "text"),
             "tgz": (str(root / "z-000.tar.gz"), "text")}
    local = {}
    with Registry.open(reg_path) as reg:
        for kind, (spec, column) in specs.items():
            summary = scan_dataset(reg, spec, workers=1, text_column=column)
            write_clean_manifest(reg, summary["scan_id"], root / f"local-{kind}.clean")
            local[kind] = (summary, _items(reg, summary["scan_id"]), _seqs(reg, summary["scan_id"]))
    return root, reg_path, specs, local


def _forbid_reading_records_in_this_process(monkeypatch) -> None:
    """The driver must not read a record or member: the reading loops fail here (the workers are other processes)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the driver read a record")

    monkeypatch.setattr(textparts.WarcRead, "entries", refuse)
    monkeypatch.setattr(textparts.TextShardRead, "entries", refuse)
    monkeypatch.setattr(WarcDataset, "_record_item", refuse)
    monkeypatch.setattr(TextWebDataset, "_json_member", refuse)


def test_the_local_scans_hold_what_the_cluster_must_match(crawls):
    _, _, _, local = crawls
    for kind in ("warc", "tars", "tgz"):
        decisions = {v[0] for v in local[kind][1].values()}
        assert {"refused", "allowed", "unknown"} <= decisions, (kind, decisions)
    assert local["warc"][0]["skipped"] == {"response of type image/png": 6, "WARC request record": 3}
    errors = {kind: [v[1] for v in local[kind][1].values() if v[1]] for kind in ("wet", "cut")}
    assert any("wrong Content-Length" in e for e in errors["wet"]), errors
    assert any("the archive ends inside" in e or "refused the rest" in e for e in errors["cut"]), errors
    assert all("\n" not in e for e in errors["wet"] + errors["cut"])
    latin = [v for item_id, v in local["wet"][1].items() if v[0] != "error" and item_id.endswith("#record:4")]
    assert latin, "the Latin-1 WET record is scanned (the text engine finds its encoding)"


@pytest.mark.parametrize("kind", ["warc", "wet", "cut", "tars", "tgz"])
def test_workers_read_crawls_and_text_shards_as_locally(cluster, crawls, tmp_path, monkeypatch, kind):  # noqa: F811
    root, reg_path, specs, local = crawls
    spec, column = specs[kind]
    local_summary, local_items, local_seqs = local[kind]
    monkeypatch.setattr(source_parts, "TEXT_PART_ITEMS", 6)  # several parts a file
    with Registry.open(reg_path) as reg, RayExecutor(cluster.address, workers=2) as ex:
        with monkeypatch.context() as m:
            _forbid_reading_records_in_this_process(m)
            summary = scan_dataset(reg, spec, executor=ex, text_column=column)
        assert _items(reg, summary["scan_id"]) == local_items
        assert _seqs(reg, summary["scan_id"]) == local_seqs
        write_clean_manifest(reg, summary["scan_id"], tmp_path / "ray.clean")
        assert reg.store.get_scan(summary["scan_id"])["options"]["numbering"] == "shard"
    assert {k: summary[k] for k in SAME} == {k: local_summary[k] for k in SAME}
    assert (tmp_path / "ray.clean").read_bytes() == (root / f"local-{kind}.clean").read_bytes()
    assert summary["executor"]["kind"] == "ray"


def _stop_after(n: int):
    def progress(done: int, item_id: str) -> None:
        if done >= n:
            raise KeyboardInterrupt

    return progress


@pytest.mark.parametrize("kind", ["warc", "tars"])
def test_scans_resume_from_local_to_the_cluster_and_back(cluster, crawls, tmp_path, monkeypatch, kind):  # noqa: F811
    root, reg_path, specs, local = crawls
    spec, column = specs[kind]
    local_summary, local_items, local_seqs = local[kind]
    monkeypatch.setattr(source_parts, "TEXT_PART_ITEMS", 5)
    monkeypatch.setattr(scan_text, "TEXT_BATCH_ITEMS", 2)  # a local scan stores its texts a few at a time
    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        with pytest.raises(Interrupted) as stopped:   # begun locally
            scan_dataset(reg, spec, workers=1, text_column=column, progress=_stop_after(3))
        scan_id = stopped.value.kept["scan_id"]
        assert 3 <= len(_seqs(reg, scan_id)) < len(local_seqs)
        with RayExecutor(cluster.address, workers=2) as ex, monkeypatch.context() as m:
            _forbid_reading_records_in_this_process(m)
            summary = scan_dataset(reg, spec, executor=ex, resume=True, text_column=column)
        assert summary["scan_id"] == scan_id and summary["status"] == "complete"
        assert _items(reg, scan_id) == local_items and _seqs(reg, scan_id) == local_seqs
        assert {k: summary[k] for k in SAME if k != "skipped"} == {k: local_summary[k] for k in SAME if k != "skipped"}

        with RayExecutor(cluster.address, workers=2) as ex, pytest.raises(Interrupted) as stopped:  # begun on Ray
            scan_dataset(reg, spec, executor=ex, text_column=column, progress=_stop_after(3))
        scan_id = stopped.value.kept["scan_id"]
        assert 3 <= len(_seqs(reg, scan_id)) < len(local_seqs)
        summary = scan_dataset(reg, spec, workers=1, resume=True, text_column=column)
        assert summary["scan_id"] == scan_id and summary["status"] == "complete"
        assert _items(reg, scan_id) == local_items and _seqs(reg, scan_id) == local_seqs


def test_a_scan_numbered_before_resumes_in_its_own_numbering(cluster, crawls, tmp_path, monkeypatch):  # noqa: F811
    """A crawl scan stored by an earlier Consentry (one sequence over the items, no ``numbering``) resumes on the
    cluster in that numbering (the driver reads the records, as it did then), to the local items."""
    root, reg_path, specs, local = crawls
    spec, _ = specs["warc"]
    local_items = local["warc"][1]
    monkeypatch.setattr(scan_text, "TEXT_BATCH_ITEMS", 2)
    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        with monkeypatch.context() as m, pytest.raises(Interrupted) as stopped:
            m.setattr(source_parts, "numbering_of", lambda ds: source_parts.SEQUENTIAL)   # as before
            scan_dataset(reg, spec, workers=1, progress=_stop_after(4))
        scan_id = stopped.value.kept["scan_id"]
        assert "numbering" not in reg.store.get_scan(scan_id)["options"]
        with RayExecutor(cluster.address, workers=2) as ex:
            summary = scan_dataset(reg, spec, executor=ex, resume=True)
        assert summary["scan_id"] == scan_id and summary["status"] == "complete"
        assert _items(reg, scan_id) == local_items
        assert [seq for seq, _ in _seqs(reg, scan_id)] == list(range(len(local_items)))   # one sequence, as then


def test_a_worker_killed_mid_scan_of_a_crawl_ends_complete(cluster, crawls, tmp_path, monkeypatch):  # noqa: F811
    root, reg_path, specs, local = crawls
    _, local_items, local_seqs = local["warc"]
    monkeypatch.setattr(source_parts, "TEXT_PART_ITEMS", 3)
    killed: list[int] = []
    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg, \
            RayExecutor(cluster.address, workers=2) as ex:
        try:
            summary = scan_dataset(reg, specs["warc"][0], executor=ex, progress=_kill_a_worker_once(cluster, killed))
        except ClusterError:  # the worker was lost for good: the scan resumes
            summary = scan_dataset(reg, specs["warc"][0], executor=ex, resume=True)
        assert killed and summary["status"] == "complete"
        assert _items(reg, summary["scan_id"]) == local_items and _seqs(reg, summary["scan_id"]) == local_seqs


def test_a_driver_killed_mid_scan_of_a_crawl_resumes_to_the_same_result(cluster, crawls, tmp_path):  # noqa: F811
    root, reg_path, _, _ = crawls
    texts = {name: (root / name).read_text(encoding="utf-8") for name in ("a.txt", "b.txt")}
    big = tmp_path / "big.warc.gz"   # parts of 128 records: several, so the driver is killed between them
    write_warc(big, _pages(texts, 900, 700), gz=True)
    reg_copy = _copy_registry(reg_path, tmp_path / "r.db")
    with Registry.open(reg_copy) as reg:
        local = scan_dataset(reg, big, workers=1)
        write_clean_manifest(reg, local["scan_id"], tmp_path / "local.clean")
        local_items = _items(reg, local["scan_id"])
    _, summary, items = driver_killed_and_resumed(cluster, str(big), reg_copy, tmp_path / "clean.jsonl",
                                                  len(local_items))
    assert items == local_items
    assert {k: summary[k] for k in SAME if k != "options"} == {k: local[k] for k in SAME if k != "options"}
    assert (tmp_path / "clean.jsonl").read_bytes() == (tmp_path / "local.clean").read_bytes()
