"""Archives and Parquet rows read by the Ray workers themselves (issue 20; docs/cluster.md).

The driver lists the shards and hands out parts; the workers open the tar
shards, the zip and the Parquet file, read, decode and identify.  Checked on a real
local cluster (its own, started by ``test_cluster``'s fixture): the same
decisions, findings, skip counts, summary and clean manifest as a local
scan, with the driver forbidden to read any item; a worker killed mid-scan
and a driver killed mid-scan both end in the local scan's result; an item
that kills its worker every time is an item error and the rest of its part
is scanned.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import notes, write_wav
from test_cluster import (  # noqa: F401 - cluster: fixture
    SR, TERMS, WORK_S, _copy_registry, _items, _kill_a_worker_once, cluster,
    driver_killed_and_resumed,
)

from consentry import Registry
from consentry.cluster.executor import WORKER_DIED, RayExecutor
from consentry.io.sources import open_dataset
from consentry.io.sources import parts as parts_module
from consentry.io.sources.manifest import ParquetManifest
from consentry.io.sources.parts import SHARD_STRIDE, parts_of
from consentry.io.sources.webdataset import WebDataset
from consentry.io.sources.ziparchive import ZipArchive
from consentry.runtime.interrupts import Interrupted
from consentry.services.scan import scan_dataset, task_of, write_clean_manifest

SAME = ("totals", "works", "creators", "licence_cost", "coverage_histogram", "errors", "signals", "dataset_fingerprint",
        "exposure", "skipped")


def _wav(signal_: np.ndarray) -> bytes:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        write_wav(Path(tmp.name), signal_, sample_rate_hz=SR)
        return Path(tmp.name).read_bytes()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _register_works(reg, root: Path, signals: dict) -> None:
    """The works of ``TERMS`` (one WAV each, written to ``root``), each with its own terms."""
    for name in TERMS:
        write_wav(root / f"{name}.wav", signals[name], sample_rate_hz=SR)
    s = reg.register([root / f"{n}.wav" for n in TERMS], creator="Ana Lima", terms=TERMS["denied"], workers=1)
    assert len(s.registered) == len(TERMS), s.errors
    for w in s.registered:
        reg.set_terms(w.work_id, TERMS[w.title])


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """A registry of five works; tar shards (plain, gzip, truncated) and a Parquet file of clips of them."""
    root = tmp_path_factory.mktemp("archives")
    signals = {name: notes(50 + i, duration_s=WORK_S, sr=SR) for i, name in enumerate(TERMS)}
    reg_path = root / "r.db"
    with Registry.open(reg_path) as reg:
        _register_works(reg, root, signals)
    rng = np.random.default_rng(11)
    names = ["denied_2", "licensed", "allowed", "licensed_2"]  # works whose 9-s excerpts are found

    def clip(i: int) -> bytes:
        if i % 5 == 4:  # no registered work in it
            return _wav(notes(700 + i, duration_s=9.0, sr=SR))
        start = float(rng.uniform(0, WORK_S - 10))
        x = signals[names[i % 5]][int(start * SR):int((start + 9) * SR)]
        return _wav(x + 0.01 * rng.standard_normal(x.size).astype(np.float32))

    shards = root / "shards"
    shards.mkdir()
    n = 0
    with tarfile.open(shards / "train-000.tar", "w") as tar:
        for k in range(6):
            _add(tar, f"s{n:03d}.wav", clip(n))
            _add(tar, f"s{n:03d}.json", b"{}")
            n += 1
            if k == 2:
                _add(tar, ".hidden", b"x")
        _add(tar, "s001.flac", clip(1))  # a key met three parts before: the id a whole read gives (@member)
        _add(tar, "notes.txt", b"no audio here")
    with tarfile.open(shards / "train-001.tar", "w:gz") as tar:  # compressed (read by its content)
        for _ in range(4):
            _add(tar, f"s{n:03d}.wav", clip(n))
            n += 1
    full = io.BytesIO()
    with tarfile.open(fileobj=full, mode="w") as tar:
        for _ in range(3):
            _add(tar, f"s{n:03d}.wav", clip(n))
            n += 1
    with tarfile.open(fileobj=io.BytesIO(full.getvalue())) as tar:
        cut = tar.getmembers()[-1].offset_data + 1000
    (shards / "train-002.tar").write_bytes(full.getvalue()[:cut])  # cut inside its last member
    audio = [{"bytes": clip(i), "path": f"row{i}.wav"} if i != 3 else None for i in range(9)]
    table = pa.table({"audio": pa.array(audio, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))})
    pq.write_table(table, root / "rows.parquet", row_group_size=4)
    import zipfile

    with zipfile.ZipFile(root / "clips.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(7):
            archive.writestr(f"clips/c{i}.wav", clip(20 + i))
            if i == 2:
                archive.writestr("clips/readme.txt", b"not audio")
                archive.writestr("clips/.hidden.wav", b"x")
        archive.writestr("clips/c1.wav", clip(30))  # a second member of the same name: refused
    specs = {"tar": str(shards / "train-{000..002}.tar"), "parquet": str(root / "rows.parquet"),
             "zip": str(root / "clips.zip")}
    local = {}
    with Registry.open(reg_path) as reg:
        for kind, spec in specs.items():
            summary = scan_dataset(reg, spec, workers=1)
            write_clean_manifest(reg, summary["scan_id"], root / f"local-{kind}.clean")
            local[kind] = (summary, _items(reg, summary["scan_id"]))
    return root, reg_path, specs, local


def _forbid_reading_in_this_process(monkeypatch) -> None:
    """The driver must not read an item: the readers' item methods fail here (the workers are other processes)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the driver read an item")

    monkeypatch.setattr(WebDataset, "_take_audio", refuse)
    monkeypatch.setattr(ParquetManifest, "_resolve", refuse)
    monkeypatch.setattr(ZipArchive, "_attempt", refuse)


@pytest.mark.parametrize("kind, workers", [("tar", 2), ("parquet", 2), ("zip", 1)])
def test_workers_read_the_archives_and_give_the_local_decisions(cluster, archives, tmp_path, monkeypatch, kind,  # noqa: F811
                                                               workers):
    root, reg_path, specs, local = archives
    local_summary, local_items = local[kind]
    assert {v[0] for v in local_items.values()} >= {"refused", "licensable", "allowed", "unknown", "error"}
    monkeypatch.setattr(parts_module, "PART_ITEMS", 2)  # several parts per shard and per row group
    with Registry.open(reg_path) as reg, RayExecutor(cluster.address, workers=workers) as ex:
        with monkeypatch.context() as m:
            _forbid_reading_in_this_process(m)
            summary = scan_dataset(reg, specs[kind], executor=ex)
        assert _items(reg, summary["scan_id"]) == local_items
        write_clean_manifest(reg, summary["scan_id"], tmp_path / "ray.clean")
        seqs = [it["seq"] for it in reg.store.iter_scan_items(summary["scan_id"])]
        local_seqs = [it["seq"] for it in reg.store.iter_scan_items(local_summary["scan_id"])]
    assert seqs == local_seqs
    assert {k: summary[k] for k in SAME} == {k: local_summary[k] for k in SAME}
    assert summary["options"] == local_summary["options"] and summary["options"]["numbering"] == "shard"
    assert (tmp_path / "ray.clean").read_bytes() == (root / f"local-{kind}.clean").read_bytes()
    if kind == "tar":
        assert summary["skipped"] == {"hidden member (name starts with '.')": 1}
        assert max(seqs) // SHARD_STRIDE == 2  # numbered per shard: shard 2's items
        assert "train-000.tar#s001@13" in local_items
    elif kind == "parquet":
        assert seqs == list(range(9))
    else:
        assert summary["skipped"]["hidden member (name starts with '.' or is in __MACOSX)"] == 1
        assert seqs == list(range(len(seqs)))


def test_one_zip_on_two_workers_is_listed_then_read_side_by_side(cluster, archives, monkeypatch):  # noqa: F811
    """One zip (its parts would follow one another) and two workers: a worker lists it, both read its parts."""
    _, reg_path, specs, local = archives
    monkeypatch.setattr(parts_module, "PART_ITEMS", 2)
    with Registry.open(reg_path) as reg, RayExecutor(cluster.address, workers=2) as ex:
        with monkeypatch.context() as m:
            _forbid_reading_in_this_process(m)
            summary = scan_dataset(reg, specs["zip"], executor=ex)
        assert _items(reg, summary["scan_id"]) == local["zip"][1]
    assert summary["skipped"] == local["zip"][0]["skipped"]


def test_one_compressed_shard_on_two_workers_is_read_by_a_feeder_actor(cluster, archives, tmp_path,  # noqa: F811
                                                                        monkeypatch):
    """A gzip shard has no offset to begin a part at: with fewer such shards than workers an actor reads them
    once, in order, and the workers get its items by reference; the driver reads none.  A scan begun
    locally and interrupted resumes that way to the local result."""
    root, reg_path, _, _ = archives
    one = str(root / "shards" / "train-001.tar")

    def stop_after_two(done: int, item_id: str) -> None:
        if done >= 2:
            raise KeyboardInterrupt

    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        local = scan_dataset(reg, one, workers=1)
        with pytest.raises(Interrupted) as stopped:
            scan_dataset(reg, one, workers=1, progress=stop_after_two)
        begun = stopped.value.kept["scan_id"]
        with RayExecutor(cluster.address, workers=2) as ex, monkeypatch.context() as m:
            _forbid_reading_in_this_process(m)
            summary = scan_dataset(reg, one, executor=ex)
            resumed = scan_dataset(reg, one, executor=ex, resume=True)
        assert _items(reg, summary["scan_id"]) == _items(reg, local["scan_id"]) == _items(reg, begun)
        assert resumed["scan_id"] == begun and resumed["status"] == "complete" and len(_items(reg, begun)) == 4
    assert summary["executor"]["workers"] == 2
    for ray_summary in (summary, resumed):
        assert {k: ray_summary[k] for k in SAME} == {k: local[k] for k in SAME}


def test_one_large_tar_is_listed_then_read_side_by_side_by_the_workers(cluster, archives, tmp_path,  # noqa: F811
                                                                         monkeypatch):
    """One uncompressed shard, two workers: a worker lists it, then both read its parts; the driver reads no item."""
    root, reg_path, _, _ = archives
    one = str(root / "shards" / "train-000.tar")  # a hidden member, a key met three parts before, a text member
    monkeypatch.setattr(parts_module, "PART_ITEMS", 2)
    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        local = scan_dataset(reg, one, workers=1)
        with RayExecutor(cluster.address, workers=2) as ex, monkeypatch.context() as m:
            _forbid_reading_in_this_process(m)
            summary = scan_dataset(reg, one, executor=ex)
        assert _items(reg, summary["scan_id"]) == _items(reg, local["scan_id"])
        assert [it["seq"] for it in reg.store.iter_scan_items(summary["scan_id"])] == \
            [it["seq"] for it in reg.store.iter_scan_items(local["scan_id"])]
        assert "train-000.tar#s001@13" in _items(reg, summary["scan_id"])
    assert {k: summary[k] for k in SAME} == {k: local[k] for k in SAME}
    assert summary["skipped"] == {"hidden member (name starts with '.')": 1}


def test_worker_killed_mid_scan_of_shards_ends_complete(cluster, archives, tmp_path, monkeypatch):  # noqa: F811
    _, reg_path, specs, local = archives
    monkeypatch.setattr(parts_module, "PART_ITEMS", 2)
    killed: list[int] = []
    progress = _kill_a_worker_once(cluster, killed)

    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        with RayExecutor(cluster.address, workers=2) as ex:
            summary = scan_dataset(reg, specs["tar"], executor=ex, progress=progress)
        assert killed and summary["status"] == "complete"
        assert _items(reg, summary["scan_id"]) == local["tar"][1]
        assert summary["skipped"] == local["tar"][0]["skipped"]


def test_driver_killed_mid_scan_of_shards_resumes_to_the_same_result(cluster, archives, tmp_path):  # noqa: F811
    root, reg_path, specs, local = archives
    local_summary, local_items = local["tar"]
    reg_copy = _copy_registry(reg_path, tmp_path / "r.db")
    _, summary, items = driver_killed_and_resumed(cluster, specs["tar"], reg_copy, tmp_path / "clean.jsonl",
                                                  len(local_items))
    assert items == local_items
    assert {k: summary[k] for k in SAME} == {k: local_summary[k] for k in SAME}
    assert (tmp_path / "clean.jsonl").read_bytes() == (root / "local-tar.clean").read_bytes()


def _crash_on_poison(task: dict) -> dict:
    """A worker's work for the test below: its process dies on the item named ``poison.wav``."""
    if task["name"] == "poison.wav":
        os._exit(3)
    return {"seq": task["seq"], "item_id": task["item_id"], "name": task["name"]}


def test_an_archive_item_that_kills_its_worker_is_an_item_error(cluster, tmp_path):  # noqa: F811
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    names = [f"a{i}.wav" for i in range(7)]
    names[3] = "poison.wav"
    with tarfile.open(tmp_path / "p.tar", "w") as tar:
        for name in names:
            _add(tar, name, b"RIFF" + bytes(40))
    ds = open_dataset(tmp_path / "p.tar")
    with RayExecutor(cluster.address, workers=1) as ex:  # one worker, one shard: the worker reads the shard
        ex.start(None)
        got = [r for batch in ex.map_parts(
            _crash_on_poison, parts_of(ds, items_per_part=3), done=set(), dataset=ds,
            make_task=partial(task_of, min_score=None, embedded_signals=False),
            lost=lambda task, reason: {**task, "error": reason}) for r in batch]
    by_seq = {r["seq"]: r for r in got}
    assert sorted(by_seq) == list(range(7)) and len(got) == 7  # every item once
    assert by_seq[3] == {"seq": 3, "item_id": "p.tar#poison", "name": "poison.wav", "error": WORKER_DIED}
    assert all(by_seq[i] == {"seq": i, "item_id": f"p.tar#a{i}", "name": f"a{i}.wav"} for i in range(7) if i != 3)
    assert json.dumps(got)  # plain results, as a scan stores them
