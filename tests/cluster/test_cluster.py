"""Scans and the sharded index on a real Ray cluster (issue 20; docs/cluster.md).

The module starts its own cluster (``ray start --head`` on 127.0.0.1 with two
CPUs, so two worker processes at a time) and stops it at the end.  It checks:
the same dataset scanned locally and on Ray gets the same decisions, findings,
reports, clean manifest and exit code; a worker killed mid-scan and a driver
killed mid-scan both end in a complete scan; a sharded index gives the same
hits and matches as one index, with any number of shards.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import notes, write_wav

try:
    import ray  # noqa: F401
except ImportError:
    if os.environ.get("CONSENTRY_REQUIRE_RAY") == "1":   # CI: the test extra installs Ray; never skip there
        raise
    pytest.skip("Ray is not installed (pip install 'consentry[ray]')", allow_module_level=True)

from consentry import Registry  # noqa: E402
from consentry.cluster import ClusterError  # noqa: E402
from consentry.cluster.executor import WORKER_DIED, RayExecutor  # noqa: E402
from consentry.cluster.index import ShardedIndex, cut_registry_layout  # noqa: E402
from consentry.engines.music import engine  # noqa: E402
from consentry.engines.music.params import ENGINE_NAME, ENGINE_VERSION  # noqa: E402
from consentry.engines.music.postings import lookup  # noqa: E402
from consentry.domain.works import Terms  # noqa: E402
from consentry.services.scan import scan_dataset, scan_items, scan_summary, write_clean_manifest  # noqa: E402
from consentry.testing.ray_cluster import LocalCluster  # noqa: E402

SR = 22050
WORK_S = 20.0
TERMS = {"denied": Terms("deny"), "licensed": Terms("license", 100, "EUR"), "allowed": Terms("allow"),
         "denied_2": Terms("deny"), "licensed_2": Terms("license", 20, "USD")}


@pytest.fixture(scope="module")
def cluster():
    """A two-CPU Ray cluster on 127.0.0.1 for this module; this process's signal handlers as they were after."""
    import ray

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalCluster(num_cpus=2) as c:
            yield c
            if ray.is_initialized():
                ray.shutdown()
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """A registry of five works in three registration batches (three index segments), and a dataset."""
    root = tmp_path_factory.mktemp("cluster")
    signals = {name: notes(50 + i, duration_s=WORK_S, sr=SR) for i, name in enumerate(TERMS)}
    reg_path = root / "r.db"
    with Registry.open(reg_path) as reg:
        for batch in (("denied", "licensed"), ("allowed", "denied_2"), ("licensed_2",)):
            for name in batch:
                write_wav(root / f"{name}.wav", signals[name], sample_rate_hz=SR)
            s = reg.register([root / f"{n}.wav" for n in batch], creator="Ana Lima", terms=TERMS[batch[0]], workers=1)
            assert len(s.registered) == len(batch), s.errors
            for w in s.registered:
                reg.set_terms(w.work_id, TERMS[w.title])
    data = root / "dataset"
    data.mkdir()
    rng = np.random.default_rng(7)
    names = list(TERMS)
    for i in range(14):
        a = names[i % len(names)]
        start = float(rng.uniform(0, WORK_S - 9))
        clip = signals[a][int(start * SR):int((start + 8) * SR)]
        if i % 4 == 3:  # two works in one item
            b = names[(i + 2) % len(names)]
            clip = np.concatenate([clip, signals[b][int(2 * SR):int(9 * SR)]])
        write_wav(data / f"item{i:02d}.wav", clip + 0.01 * rng.standard_normal(clip.size).astype(np.float32),
                  sample_rate_hz=SR)
    for i in range(3):
        write_wav(data / f"other{i}.wav", notes(900 + i, duration_s=7.0, sr=SR), sample_rate_hz=SR)
    (data / "photo.wav").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(800))
    (data / "empty.wav").write_bytes(b"")
    with Registry.open(reg_path) as reg:
        local = scan_dataset(reg, data, workers=1)
        local_items = _items(reg, local["scan_id"])
    return root, reg_path, data, signals, local, local_items


def _items(reg, scan_id: str) -> dict:
    """Each item's decision, error and findings (work and geometry), by item id."""
    return {it["item_id"]: (it["decision"], it["error"], it["sha256"],
                            sorted((f["work_id"], f["score"], f["query_start_s"], f["query_end_s"], f["work_start_s"],
                                    f["speed"], f["pitch_shift_semitones"]) for f in it["findings"]))
            for it in scan_items(reg, scan_id)}


def _copy_registry(reg_path: Path, dest: Path) -> Path:
    """A copy of the registry, so each test that changes one starts from the same."""
    with Registry.open(reg_path) as reg:
        reg.backup(dest)
    return dest


def test_ray_scan_gives_the_local_scans_decisions(cluster, catalogue, tmp_path):
    _, reg_path, data, _, local, local_items = catalogue
    assert {v[0] for v in local_items.values()} >= {"refused", "licensable", "allowed", "unknown", "error"}
    with Registry.open(reg_path) as reg, RayExecutor(cluster.address, workers=2) as ex:
        summary = scan_dataset(reg, data, executor=ex)
        assert _items(reg, summary["scan_id"]) == local_items
        for name, scan_id in (("local", local["scan_id"]), ("ray", summary["scan_id"])):
            write_clean_manifest(reg, scan_id, tmp_path / f"{name}.txt")
    assert summary["executor"] == {"kind": "ray", "address": cluster.address, "workers": 2, "index_shards": 0}
    assert local["executor"] == {"kind": "local", "workers": 1}
    same = ("totals", "works", "creators", "licence_cost", "coverage_histogram", "errors", "signals",
            "dataset_fingerprint", "exposure")
    assert {k: summary[k] for k in same} == {k: local[k] for k in same}
    assert (tmp_path / "ray.txt").read_text() == (tmp_path / "local.txt").read_text()


def test_ray_scan_through_index_shards(cluster, catalogue):
    _, reg_path, data, _, local, local_items = catalogue
    with Registry.open(reg_path) as reg, RayExecutor(cluster.address, workers=2, index_shards=3) as ex:
        summary = scan_dataset(reg, data, executor=ex)
        assert _items(reg, summary["scan_id"]) == local_items
    assert summary["executor"]["index_shards"] == 3


@pytest.mark.parametrize("index_shards", [0, 2])
def test_a_work_registered_during_a_scan_is_not_found_by_it(cluster, catalogue, tmp_path, index_shards):  # noqa: F811
    """A scan decides by the works of its start (its terms snapshot): one registered while it runs is not found
    by it, whether the workers search the live index (no shards) or the shards cut at its start."""
    _, reg_path, data, _, _, local_items = catalogue
    assert local_items["other0.wav"][0] == "unknown"
    reg_copy = _copy_registry(reg_path, tmp_path / "r.db")
    registered = []

    def register_other0(done: int, item_id: str) -> None:  # items are scanned in name order: other0.wav is 16th
        if done >= 2 and not registered:
            with Registry.open(reg_copy) as writer:
                s = writer.register([data / "other0.wav"], creator="Cy Late", terms=Terms("deny"), workers=1)
            registered.extend(w.work_id for w in s.registered)

    with Registry.open(reg_copy) as reg:
        with RayExecutor(cluster.address, workers=2, index_shards=index_shards) as ex:
            summary = scan_dataset(reg, data, executor=ex, progress=register_other0)
        assert len(registered) == 1
        assert _items(reg, summary["scan_id"]) == local_items  # other0.wav: still unknown
        assert registered[0] in {m.work_id for m in reg.identify(data / "other0.wav")}  # found from now on


def _queries(signals: dict) -> list[np.ndarray]:
    """Excerpts of registered works (some altered, one mixing two) and an unrelated clip, at 8 kHz."""
    from consentry.io.decode import decode_audio
    import io
    import wave

    def at_8k(x: np.ndarray) -> np.ndarray:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        return decode_audio(buf.getvalue(), sample_rate_hz=8000, name="q.wav").samples

    rng = np.random.default_rng(3)
    out = []
    for name, x in signals.items():
        a = float(rng.uniform(0, WORK_S - 12))
        clip = x[int(a * SR):int((a + 12) * SR)]
        out.append(at_8k(clip + 0.01 * rng.standard_normal(clip.size).astype(np.float32)))
    out.append(at_8k(np.concatenate([signals["denied"][: 9 * SR], signals["allowed"][4 * SR: 13 * SR]])))
    out.append(at_8k(notes(77, duration_s=8.0, sr=SR)))
    return out


def test_sharded_index_gives_the_same_hits_and_matches_as_one_index(cluster, catalogue):
    _, reg_path, _, signals, _, _ = catalogue
    from consentry.cluster import connect
    from consentry.engines.music.extract import query_hashes

    connect(cluster.address)
    with Registry.open(reg_path) as reg:
        key = {"engine": ENGINE_NAME, "engine_version": ENGINE_VERSION, "param_hash": reg.param_hash}
        segments = reg.store.index_segments(**key)
        assert len(segments) == 3
        queries = _queries(signals)
        single = [engine.identify_segments(q, segments, reg.params, with_hashes=True) for q in queries]
        assert sum(bool(m) for m in single) >= 4 and not single[-1]   # most excerpts found, the other clip not
        plain = [reg.identify_samples(q) for q in queries]
        for n_shards in (1, 3):
            index = ShardedIndex.start(reg, n_shards=n_shards)
            try:
                assert index.n_shards == n_shards
                for q, want in zip(queries, single):
                    got = engine.identify_segments(q, index, reg.params, with_hashes=True)
                    assert [m for m, _ in got] == [m for m, _ in want]
                    for (_, h1), (_, h2) in zip(got, want):
                        assert all(np.array_equal(getattr(h1, f), getattr(h2, f)) for f in ("key", "query_frame", "work_frame"))
                # Hits themselves, with a cap low enough that ranges are skipped as too common.
                qh = query_hashes(queries[0], reg.params)
                # And under a total budget (engine version 2: the rarest ranges first).
                for cap, budget in ((1, None), (3, None), (20000, None), (20000, 10), (3, 5)):
                    a = lookup(segments, qh.key_lo, qh.key_hi, qh.owner, max_postings_per_range=cap, with_keys=True,
                               max_postings_total=budget)
                    b = index.lookup(qh.key_lo, qh.key_hi, qh.owner, max_postings_per_range=cap, with_keys=True,
                                     max_postings_total=budget)
                    assert len(a) > 0 or cap == 1
                    if (cap, budget) == (20000, None):
                        everything = len(a)
                    elif budget is not None:
                        assert len(a) < everything   # the budget dropped ranges
                    for f in ("owner", "fp_id", "frame", "midi", "key"):
                        assert np.array_equal(getattr(a, f), getattr(b, f)), (n_shards, cap, budget, f)
                # The identify use case through the shards: the same matches, terms and all.
                attached = index.attach(reg)
                assert [attached.identify_samples(q) for q in queries] == plain
            finally:
                index.stop()


def test_layouts_follow_the_registry_and_reshard(catalogue, tmp_path):
    _, reg_path, _, _, _, _ = catalogue
    reg_copy = _copy_registry(reg_path, tmp_path / "r.db")
    with Registry.open(reg_copy) as reg:
        two = cut_registry_layout(reg, n_shards=2, root=tmp_path / "layouts")
        assert cut_registry_layout(reg, n_shards=2, root=tmp_path / "layouts") == two   # reused
        three = cut_registry_layout(reg, n_shards=3, root=tmp_path / "layouts")        # re-sharded
        assert three != two
        doc = json.loads((three / "layout.json").read_text())
        sizes = [sum(p["n_entries"] for p in shard) for shard in doc["shards"]]
        assert sum(sizes) == sum(s["n_entries"] for s in doc["segments"]) and min(sizes) > 0
        write_wav(tmp_path / "new.wav", notes(4242, duration_s=10.0, sr=SR), sample_rate_hz=SR)
        assert reg.register([tmp_path / "new.wav"], creator="Bo", terms=Terms("deny"), workers=1).registered
        after = cut_registry_layout(reg, n_shards=2, root=tmp_path / "layouts")         # a new segment: a new layout
        assert after not in (two, three)
        assert len(json.loads((after / "layout.json").read_text())["segments"]) == 4


def _kill_a_worker_once(cluster, killed: list[int]):
    """A scan's ``progress`` callback that SIGKILLs one Ray scan worker once two items are stored (its pid into
    ``killed``), for the tests of a worker killed mid-scan (items, archives, JSONL rows)."""
    def progress(done: int, item_id: str) -> None:
        if done >= 2 and not killed:
            pids = cluster.worker_pids("ScanWorker")
            assert pids, "no Ray scan worker found to kill"
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    return progress


def test_worker_killed_mid_scan_ends_complete(cluster, catalogue, tmp_path):
    _, reg_path, data, _, _, local_items = catalogue
    killed: list[int] = []
    progress = _kill_a_worker_once(cluster, killed)

    reg_copy = _copy_registry(reg_path, tmp_path / "r.db")
    with Registry.open(reg_copy) as reg:
        with RayExecutor(cluster.address, workers=2) as ex:
            try:
                summary = scan_dataset(reg, data, executor=ex, progress=progress)
            except ClusterError:  # the worker was lost for good: the scan resumes
                summary = scan_dataset(reg, data, executor=ex, resume=True)
        assert killed
        assert summary["status"] == "complete"
        assert _items(reg, summary["scan_id"]) == local_items


def _cli(*args: str, registry: Path, ray_address: str | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("RAY_ADDRESS", None)
    if ray_address:
        env["RAY_ADDRESS"] = ray_address
    return subprocess.Popen([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


def _kill_once_two_are_stored(driver: subprocess.Popen, registry: Path, *, timeout_s: float) -> tuple[int, str]:
    """SIGKILL the scanning ``driver`` once at least two items of its scan are stored in the SQLite ``registry``;
    returns (items stored then, the unfinished scan's id).  The driver must still be running at that point."""
    deadline = time.monotonic() + timeout_s
    stored = 0
    while time.monotonic() < deadline and driver.poll() is None:
        with sqlite3.connect(f"file:{registry}?mode=ro", uri=True) as db:
            stored = db.execute("SELECT count(*) FROM scan_items WHERE scan_id IN "
                                "(SELECT scan_id FROM scans WHERE status != 'complete')").fetchone()[0]
        if stored >= 2:
            break
        time.sleep(0.05)
    assert driver.poll() is None, driver.communicate()
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(10)
    with sqlite3.connect(f"file:{registry}?mode=ro", uri=True) as db:
        (killed_scan,), = db.execute("SELECT scan_id FROM scans WHERE status != 'complete'").fetchall()
    return stored, killed_scan


def driver_killed_and_resumed(cluster, source: str, reg_copy: Path, clean_out: Path, n_items: int) -> tuple[str, dict, list]:
    """A Ray scan of ``source`` (one worker) whose driver is SIGKILLed once two items are stored, resumed from the
    CLI with ``--fail-on refused`` and a clean manifest written to ``clean_out``.  Checks what every such resume
    must show (exit 2, the same scan, complete, on Ray); returns (scan id, its summary, its items)."""
    driver = _cli("scan", source, "--ray", cluster.address, "--workers", "1", registry=reg_copy,
                  start_new_session=True)
    stored, killed_scan = _kill_once_two_are_stored(driver, reg_copy, timeout_s=120)
    assert 2 <= stored < n_items
    resumed = _cli("scan", source, "--ray", cluster.address, "--resume", "--fail-on", "refused",
                   "--clean-manifest", str(clean_out), registry=reg_copy)
    out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 2, err  # refused items found: the exit code a local scan gives
    assert f"resuming scan {killed_scan}" in err
    with Registry.open(reg_copy) as reg:
        summary = scan_summary(reg, killed_scan)
        assert summary["status"] == "complete" and summary["executor"]["kind"] == "ray"
        items = _items(reg, killed_scan)
    return killed_scan, summary, items


def test_driver_killed_mid_scan_resumes_to_the_same_result(cluster, catalogue, tmp_path):
    _, reg_path, data, _, local, local_items = catalogue
    reg_copy = _copy_registry(reg_path, tmp_path / "r.db")
    # The registry named relative to the driver's folder: the workers must open the same one.
    driver = _cli("scan", str(data), "--ray", cluster.address, "--workers", "1", registry=Path(reg_copy.name),
                  cwd=reg_copy.parent, start_new_session=True)
    stored, killed_scan = _kill_once_two_are_stored(driver, reg_copy, timeout_s=90)
    assert 2 <= stored < len(local_items)
    # Resumed with --ray auto: the cluster named by RAY_ADDRESS.
    resumed = _cli("scan", str(data), "--ray", "auto", "--resume", "--fail-on", "refused",
                   "--clean-manifest", str(tmp_path / "clean.txt"), registry=Path(reg_copy.name), cwd=reg_copy.parent,
                   ray_address=cluster.address)
    out, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 2, err      # refused items found: the exit code a local scan gives
    assert f"resuming scan {killed_scan}" in err
    with Registry.open(reg_copy) as reg:
        summary = scan_summary(reg, killed_scan)
        assert summary["status"] == "complete" and summary["executor"]["kind"] == "ray"
        assert summary["executor"]["address"].endswith(":" + cluster.address.rsplit(":", 1)[1])
        assert _items(reg, killed_scan) == local_items
        write_clean_manifest(reg, killed_scan, tmp_path / "again.txt")
    assert (tmp_path / "clean.txt").read_text() == (tmp_path / "again.txt").read_text()
    assert summary["totals"] == local["totals"]


def test_server_scan_jobs_go_to_the_cluster_when_set(cluster, catalogue, tmp_path):
    from consentry.services.accounts import create_account
    from consentry.adapters.api.settings import ServerSettings
    from consentry.services.jobs import JobContext, run_scan

    _, reg_path, data, _, _, local_items = catalogue
    reg_copy = _copy_registry(reg_path, tmp_path / "r.db")
    settings = ServerSettings.from_env({"CONSENTRY_RAY_ADDRESS": cluster.address, "CONSENTRY_RAY_WORKERS": "2"},
                                       registry=str(reg_copy), data_dir=tmp_path / "srv")
    with Registry.open(reg_copy) as reg:
        account = create_account(reg.store, email="lic@example.org", password="a long enough password 1",
                                 role="licensee")
        job = {"job_id": "job-ray", "account_id": account["account_id"], "params": {"path": str(data), "name": "dataset"}}
        out = run_scan(JobContext(job=job, registry=reg, settings=settings, resumed=False,
                                  progress=lambda done, total: None, set_params=lambda params: None))
        summary = reg.store.get_scan(out["scan_id"])["summary"]
        assert summary["executor"] == {"kind": "ray", "address": cluster.address, "workers": 2, "index_shards": 0}
        assert _items(reg, out["scan_id"]) == local_items


def test_an_unreachable_cluster_is_a_one_line_error(catalogue):
    import socket

    _, reg_path, data, _, _, _ = catalogue
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = _cli("scan", str(data), "--ray", f"127.0.0.1:{port}", registry=reg_path)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert err.strip().splitlines()[-1].startswith(f"error: --ray 127.0.0.1:{port}: no Ray cluster answers"), err


def _crash_on_poison(task: dict) -> dict:
    """A worker's work for the test below: its process dies on a task named ``poison`` (no Python exception)."""
    if task["name"] == "poison":
        os._exit(3)
    return {"seq": task["seq"], "name": task["name"]}


def test_an_item_that_kills_its_worker_is_an_item_error(cluster):
    """Ray restarts the worker and re-runs the item; when the item kills it every time, it is tried alone on a
    fresh worker and becomes the caller's item error, and every other item (those queued on the dead worker
    too) is still done, once."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    names = [f"item{i}" for i in range(10)]
    names[4] = "poison"
    with RayExecutor(cluster.address, workers=2) as ex:
        ex.start(None)
        got = [r for batch in ex.map(_crash_on_poison, [{"seq": i, "name": n} for i, n in enumerate(names)],
                                     lost=lambda task, reason: {"seq": task["seq"], "error": reason})
               for r in batch]
        assert sorted(r["seq"] for r in got) == list(range(10))
        by_seq = {r["seq"]: r for r in got}
        assert by_seq[4]["error"] == WORKER_DIED
        assert all(by_seq[i] == {"seq": i, "name": n} for i, n in enumerate(names) if i != 4)
        # Without ``lost`` the caller hears of it: the scan stops and resumes later, as before.
        with pytest.raises(ClusterError):
            for _ in ex.map(_crash_on_poison, [{"seq": 0, "name": "poison"}]):
                pass


def test_a_postgresql_registry_scans_on_the_cluster_as_locally(cluster, catalogue, pg_url):
    """The registry a cluster is meant to use (docs/cluster.md): PostgreSQL, which the workers open by its URL.

    The catalogue's five works are registered into a fresh PostgreSQL database; the dataset scanned on the
    cluster gets the local scan's decisions and findings (the workers keep their segment caches where a
    worker process keeps them by default, as on the nodes of a real cluster).
    """
    root, _, data, _, _, _ = catalogue
    with Registry.open(pg_url) as reg:
        for name, terms in TERMS.items():
            assert reg.register([root / f"{name}.wav"], creator="Ana Lima", terms=terms, workers=1).registered
        local = scan_dataset(reg, data, workers=1)
        local_items = _items(reg, local["scan_id"])
        with RayExecutor(cluster.address, workers=2) as ex:
            on_ray = scan_dataset(reg, data, executor=ex)
        assert on_ray["executor"]["kind"] == "ray" and on_ray["scan_id"] != local["scan_id"]
        assert _items(reg, on_ray["scan_id"]) == local_items
    assert {v[0] for v in local_items.values()} >= {"refused", "licensable", "allowed", "unknown", "error"}
    assert on_ray["totals"] == local["totals"] and on_ray["works"] == local["works"]
