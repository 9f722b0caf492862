"""JSONL rows read by the Ray workers themselves (issue 20; docs/cluster.md, consentry/io/sources/lineparts.py).

A JSONL manifest of audio (base64 bytes and paths), a text dataset of
JSONL files (plain and gzip) and one of Parquet files are scanned on a real local cluster (its own,
started by ``test_cluster``'s fixture) with the driver forbidden to make any
row's item: the workers count the rows of each byte range, then read them.
The items, seqs, findings, summary and clean manifest are the local scan's;
a scan begun locally and interrupted is resumed on the cluster to the local
result, and one whose worker is killed ends complete; a text row that is
not UTF-8 stops the scan with the local error (a manifest that is not UTF-8:
``test_cluster_csv.py``, refused before the scan is stored).
"""

from __future__ import annotations

import base64
import gzip
import json

import numpy as np
import pytest
from conftest import notes
from test_cluster import (  # noqa: F401 - cluster: fixture
    SR, TERMS, WORK_S, _copy_registry, _items, _kill_a_worker_once, cluster,
)
from test_cluster_archives import _register_works, _wav
from textkit import passage, prose

from consentry import Registry
from consentry.cluster.executor import RayExecutor
from consentry.domain.errors import InputError
from consentry.io.sources import lineparts
from consentry.io.sources.manifest import JsonlManifest
from consentry.io.sources.text import TextRowsDataset
from consentry.runtime.interrupts import Interrupted
from consentry.services.scan import scan_dataset, write_clean_manifest

SAME = ("totals", "works", "creators", "licence_cost", "coverage_histogram", "errors", "signals", "dataset_fingerprint",
        "exposure", "skipped", "options")


def works_and_texts(root, *, notes_seed: int, prose_seed: int) -> tuple:
    """A registry at ``root/r.db`` of five audio works (``TERMS``) and two texts (a.txt denied, b.txt allowed);
    returns its path, the works' signals and the texts (also used by test_cluster_csv.py)."""
    signals = {name: notes(notes_seed + i, duration_s=WORK_S, sr=SR) for i, name in enumerate(TERMS)}
    texts = {"a.txt": prose(prose_seed, 1500), "b.txt": prose(prose_seed + 1, 1500)}
    reg_path = root / "r.db"
    with Registry.open(reg_path) as reg:
        _register_works(reg, root, signals)
        for name, terms in (("a.txt", "deny"), ("b.txt", "allow")):
            (root / name).write_text(texts[name], encoding="utf-8")
            reg.register([root / name], creator="Bea Roth", terms=terms, workers=1)
    return reg_path, signals, texts


def clip_of(i: int, signals: dict, rng, *, unregistered_seed: int) -> np.ndarray:
    """Clip ``i``: every fifth 9 s of unregistered music, the others 9 s of a work with a little noise."""
    if i % 5 == 4:
        return notes(unregistered_seed + i, duration_s=9.0, sr=SR)
    start = float(rng.uniform(0, WORK_S - 10))
    x = signals[["denied_2", "licensed", "allowed", "licensed_2"][i % 5]][int(start * SR):int((start + 9) * SR)]
    return x + 0.01 * rng.standard_normal(x.size).astype(np.float32)


def documents(texts: dict, seed: int, *, joiner: str = " ", lead_in: str = "") -> list[str]:
    """14 made-up documents: two hold a passage of a.txt (denied), one is a passage of b.txt (allowed), one is empty."""
    docs = [prose(seed + i, 80 + 30 * (i % 4)) for i in range(14)]
    docs[2] += joiner + passage(texts["a.txt"], 200, 120)[0]
    docs[6] = passage(texts["b.txt"], 40, 90)[0]
    docs[9] = ""
    docs[12] = lead_in + passage(texts["a.txt"], 700, 100)[0]
    return docs


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """A registry of five audio works and two texts; a JSONL manifest of clips, folders of JSONL and Parquet texts."""
    root = tmp_path_factory.mktemp("rows")
    reg_path, signals, texts = works_and_texts(root, notes_seed=80, prose_seed=31)
    rng = np.random.default_rng(5)

    def clip(i: int) -> bytes:
        return _wav(clip_of(i, signals, rng, unregistered_seed=800))

    (root / "on-disk.wav").write_bytes(clip(1))
    lines = [json.dumps({"audio": {"bytes": base64.b64encode(clip(i)).decode(), "path": f"c{i}.wav"}})
             for i in range(6)]
    lines[2:2] = ["", json.dumps({"audio": "on-disk.wav"}), "{not json", json.dumps({"audio": None})]
    (root / "clips.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    data = root / "texts" / "data"
    data.mkdir(parents=True)
    docs = [{"text": d} for d in documents(texts, 600)]
    (data / "train-0.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs[:8]) + "\n", encoding="utf-8")
    with gzip.open(data / "train-1.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(d) + "\n" for d in docs[8:]))
    import pyarrow as pa
    import pyarrow.parquet as pq

    pdata = root / "ptexts" / "data"
    pdata.mkdir(parents=True)
    for k, chunk in enumerate((docs[:9], docs[9:])):
        pq.write_table(pa.table({"text": [d["text"] for d in chunk]}), pdata / f"train-{k}.parquet", row_group_size=4)
    specs = {"manifest": str(root / "clips.jsonl"), "text": str(root / "texts"), "parquet-text": str(root / "ptexts")}
    return root, reg_path, specs, local_scans(reg_path, specs, root)


def local_scans(reg_path, specs: dict, root) -> dict:
    """Each spec scanned locally: kind -> (summary, items, seqs); its clean manifest at ``root/local-<kind>.clean``."""
    local = {}
    with Registry.open(reg_path) as reg:
        for kind, spec in specs.items():
            summary = scan_dataset(reg, spec, workers=1)
            write_clean_manifest(reg, summary["scan_id"], root / f"local-{kind}.clean")
            local[kind] = (summary, _items(reg, summary["scan_id"]), _seqs(reg, summary["scan_id"]))
    return local


def _seqs(reg, scan_id: str) -> list[tuple[int, str]]:
    return [(it["seq"], it["item_id"]) for it in reg.store.iter_scan_items(scan_id)]


def _forbid_reading_rows_in_this_process(monkeypatch) -> None:
    """The driver must not count or make rows: those functions fail here (the workers are other processes)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the driver read a row")

    monkeypatch.setattr(JsonlManifest, "_rows", refuse)
    monkeypatch.setattr(TextRowsDataset, "_jsonl_items", refuse)
    monkeypatch.setattr(TextRowsDataset, "_item", refuse)  # every row of a text dataset, Parquet ones too
    monkeypatch.setattr(lineparts, "count_range", refuse)  # the first pass too


@pytest.mark.parametrize("kind", ["manifest", "text", "parquet-text"])
def test_workers_read_jsonl_rows_and_give_the_local_decisions(cluster, rows, tmp_path, monkeypatch, kind):  # noqa: F811
    root, reg_path, specs, local = rows
    decisions = {v[0] for v in local[kind][1].values()}
    assert decisions >= ({"refused", "licensable", "allowed", "unknown", "error"} if kind == "manifest"
                         else {"refused", "allowed", "unknown", "error"})
    monkeypatch.setattr(lineparts, "PART_BYTES", 700)  # many ranges, cut inside rows
    monkeypatch.setattr(lineparts, "TEXT_PART_ROWS", 3)  # Parquet: several parts per row group
    summary = scan_on_ray_as_locally(cluster, reg_path, specs[kind], local[kind], root / f"local-{kind}.clean",
                                     tmp_path, monkeypatch, forbid=_forbid_reading_rows_in_this_process)
    assert summary["executor"]["kind"] == "ray"


def scan_on_ray_as_locally(cluster, reg_path, spec: str, local: tuple, local_clean, tmp_path, monkeypatch, *,
                           forbid) -> dict:
    """Scan ``spec`` on the cluster with the driver's readers refused by ``forbid(monkeypatch)``; the items, seqs,
    summary and clean manifest must be the local scan's (``local``: its summary, items and seqs)."""
    local_summary, local_items, local_seqs = local
    with Registry.open(reg_path) as reg, RayExecutor(cluster.address, workers=2) as ex:
        with monkeypatch.context() as m:
            forbid(m)
            summary = scan_dataset(reg, spec, executor=ex)
        assert _items(reg, summary["scan_id"]) == local_items
        assert _seqs(reg, summary["scan_id"]) == local_seqs
        write_clean_manifest(reg, summary["scan_id"], tmp_path / "ray.clean")
    assert {k: summary[k] for k in SAME} == {k: local_summary[k] for k in SAME}
    assert (tmp_path / "ray.clean").read_bytes() == local_clean.read_bytes()
    return summary


def test_a_scan_begun_locally_resumes_on_the_cluster(cluster, rows, tmp_path, monkeypatch):  # noqa: F811
    root, reg_path, specs, local = rows
    local_summary, local_items, local_seqs = local["manifest"]
    monkeypatch.setattr(lineparts, "PART_BYTES", 900)

    def stop_after_three(done: int, item_id: str) -> None:
        if done >= 3:
            raise KeyboardInterrupt

    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg:
        with pytest.raises(Interrupted) as stopped:
            scan_dataset(reg, specs["manifest"], workers=1, progress=stop_after_three)
        scan_id = stopped.value.kept["scan_id"]
        assert 3 <= len(_seqs(reg, scan_id)) < len(local_seqs)
        with RayExecutor(cluster.address, workers=2) as ex, monkeypatch.context() as m:
            _forbid_reading_rows_in_this_process(m)
            summary = scan_dataset(reg, specs["manifest"], executor=ex, resume=True)
        assert summary["scan_id"] == scan_id and summary["status"] == "complete"
        assert _items(reg, scan_id) == local_items and _seqs(reg, scan_id) == local_seqs
    assert {k: summary[k] for k in SAME} == {k: local_summary[k] for k in SAME}


def test_a_worker_killed_mid_scan_of_jsonl_rows_ends_complete(cluster, rows, tmp_path, monkeypatch):  # noqa: F811
    root, reg_path, specs, local = rows
    local_summary, local_items, local_seqs = local["manifest"]
    monkeypatch.setattr(lineparts, "PART_BYTES", 700)
    killed: list[int] = []
    progress = _kill_a_worker_once(cluster, killed)

    with Registry.open(_copy_registry(reg_path, tmp_path / "r.db")) as reg, \
            RayExecutor(cluster.address, workers=2) as ex:
        summary = scan_dataset(reg, specs["manifest"], executor=ex, progress=progress)
        assert killed and summary["status"] == "complete"
        assert _items(reg, summary["scan_id"]) == local_items and _seqs(reg, summary["scan_id"]) == local_seqs


def test_a_text_row_that_is_not_utf8_stops_the_cluster_scan_as_locally(cluster, rows, tmp_path):  # noqa: F811
    _, reg_path, _, _ = rows
    path = tmp_path / "bad.jsonl"
    good = b"".join(b'{"text": "row %d of plain words"}\n' % n for n in range(60))  # opening reads the first 50
    path.write_bytes(good + b'{"text": "caf\xe9"}\n' + good)
    with Registry.open(reg_path) as reg:
        with pytest.raises(InputError) as locally:
            scan_dataset(reg, path, text_column="text", workers=1)
        with RayExecutor(cluster.address, workers=2) as ex, pytest.raises(InputError) as on_ray:
            scan_dataset(reg, path, text_column="text", executor=ex)
    assert str(on_ray.value) == str(locally.value) and "line 61" in str(locally.value)
