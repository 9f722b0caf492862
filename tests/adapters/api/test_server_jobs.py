"""Background jobs survive a server restart: a real `consentry serve` process is killed (SIGKILL) in the middle
of a scan and started again; the scan resumes, finished jobs keep their results, and jobs that cannot run again
fail with a message that says so."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import write_wav
from serverkit import SR, make_world, wait_job

from consentry import Registry
from consentry.services.jobs import MAX_ATTEMPTS, RESTART_MESSAGE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, registry: Path, data_dir: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CONSENTRY_SCAN_WORKERS": "1", "CONSENTRY_JOB_THREADS": "2"}
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


def _dataset(root: Path, n_items: int) -> bytes:
    rng = np.random.default_rng(5)
    clips = [write_wav(root / f"n{i}.wav", (0.2 * rng.standard_normal(3 * SR)).astype(np.float32), sample_rate_hz=SR)
             for i in range(6)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(n_items):
            z.write(clips[i % len(clips)], f"items/{i:04d}.wav")
    return buf.getvalue()


def test_restart_mid_scan_resumes_and_keeps_finished_work(tmp_path):
    world = make_world(tmp_path / "world")
    data_dir = tmp_path / "data"
    n_items = 150
    server = ServerProcess(world.registry, data_dir, tmp_path / "server.log")
    try:
        lic = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {world.tokens['lic']}"}, timeout=60)
        done_job = wait_job(lic, lic.post("/api/v1/identify/jobs", files={"file": ("q.wav", world.clips["ana1"].read_bytes())}).json()["job_id"])
        assert done_job["status"] == "succeeded"
        job_id = lic.post("/api/v1/scans", files={"dataset": ("big.zip", _dataset(tmp_path, n_items))}).json()["job_id"]
        deadline = time.monotonic() + 120
        while True:
            job = lic.get(f"/api/v1/jobs/{job_id}").json()
            if job["status"] == "running" and job["done"] >= 10:
                break
            assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
            time.sleep(0.05)
        server.kill()
    finally:
        server.stop()
    with Registry.open(world.registry) as reg:
        interrupted = reg.store.get_job(job_id)
        scan_id = interrupted["params"]["scan_id"]
        stored_before = len(reg.store.done_seqs(scan_id))
        assert interrupted["status"] == "running" and 0 < stored_before < n_items
        # two more jobs a killed server could leave behind: one whose upload is gone, one interrupted too often
        base = {k: interrupted[k] for k in ("account_id", "created_at")}
        reg.store.add_job({**base, "job_id": "job-gone", "kind": "identify", "status": "queued",
                           "params": {"path": str(data_dir / "uploads" / "up-missing.wav"), "name": "x.wav"}})
        again = shutil.copy(world.clips["ben1"], data_dir / "uploads" / "up-again.wav")
        reg.store.add_job({**base, "job_id": "job-tired", "kind": "identify", "status": "running",
                           "attempts": MAX_ATTEMPTS, "params": {"path": str(again), "name": "y.wav"}})
        reg.store.add_job({**base, "job_id": "job-rerun", "kind": "identify", "status": "running", "attempts": 1,
                           "params": {"path": str(again), "name": "z.wav"}})
    server = ServerProcess(world.registry, data_dir, tmp_path / "server2.log")
    try:
        lic = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {world.tokens['lic']}"}, timeout=60)
        job = wait_job(lic, job_id)
        assert job["status"] == "succeeded", job
        assert job["result"]["scan_id"] == scan_id and job["result"]["resumed"] is True
        assert job["result"]["totals"]["items"] == n_items and job["done"] == n_items
        assert lic.get(f"/api/v1/jobs/{done_job['job_id']}").json() == done_job  # finished work is not lost
        gone = wait_job(lic, "job-gone")
        assert gone["status"] == "failed" and gone["error"].startswith(RESTART_MESSAGE) and "gone" in gone["error"]
        tired = wait_job(lic, "job-tired")
        assert tired["status"] == "failed" and RESTART_MESSAGE in tired["error"]
        rerun = wait_job(lic, "job-rerun")
        assert rerun["status"] == "succeeded" and rerun["result"]["matches"][0]["work_id"] == world.works["ben1"]
        report = lic.get(f"/api/v1/scans/{scan_id}/report/json").json()
        seqs = [it["seq"] for it in report["items"]]
        assert seqs == list(range(n_items))  # each item once: nothing redone twice, nothing lost
    finally:
        server.stop()
    with Registry.open(world.registry) as reg:
        assert reg.store.get_scan(scan_id)["status"] == "complete"
        assert len(reg.store.list_scans()) == 1


def test_second_server_on_the_same_data_dir_is_refused(tmp_path):
    from consentry.adapters.api import ServerSettings
    from consentry.services.jobs import JobRunner, ServerBusy

    world = make_world(tmp_path / "world")
    settings = ServerSettings(registry=str(world.registry), data_dir=tmp_path / "data")
    first = JobRunner(open_registry=lambda: Registry.open(world.registry), settings=settings)
    first.start()
    try:
        second = JobRunner(open_registry=lambda: Registry.open(world.registry), settings=settings)
        with pytest.raises(ServerBusy, match="another consentry server"):
            second.start()
    finally:
        first.shutdown()


def test_job_store_round_trip(tmp_path):
    with Registry.open(tmp_path / "r.db") as reg:
        s = reg.store
        s.add_account({"account_id": "a1", "email": "a@example.org", "role": "licensee", "creator": None,
                       "display_name": None, "password_hash": "x", "created_at": "2026-01-01T00:00:00+00:00",
                       "disabled_at": None})
        s.add_job({"job_id": "j1", "kind": "scan", "account_id": "a1", "status": "queued", "params": {"é": [1, 2]},
                   "created_at": "2026-01-01T00:00:00+00:00"})
        s.update_job("j1", status="succeeded", result={"ok": True}, done=3, total=3)
        job = s.get_job("j1")
        assert job["params"] == {"é": [1, 2]} and job["result"] == {"ok": True} and job["done"] == job["total"] == 3
        assert [j["job_id"] for j in s.list_jobs(account_id="a1", statuses=("succeeded",))] == ["j1"]
        with pytest.raises(ValueError):
            s.update_job("j1", kind="check")
        import sqlite3

        with pytest.raises(sqlite3.IntegrityError):
            s.add_job({"job_id": "j2", "kind": "bogus", "account_id": "a1", "status": "queued", "params": {},
                       "created_at": "2026-01-01T00:00:00+00:00"})
        json.dumps(s.list_jobs())


def test_clean_stop_queues_running_jobs_to_resume(tmp_path):
    """A server stopping cleanly (SIGTERM) stops jobs at their next progress report and queues them to resume."""
    import threading

    from consentry.adapters.api import ServerSettings
    from consentry.services.jobs import JobRunner

    started = threading.Event()

    def slow(ctx):
        started.set()
        for i in range(10_000):
            ctx.progress(i, 10_000)
            time.sleep(0.01)
        return {}

    reg_path = tmp_path / "r.db"
    with Registry.open(reg_path) as reg:
        reg.store.add_account({"account_id": "a1", "email": "a@example.org", "role": "licensee", "creator": None,
                               "display_name": None, "password_hash": "x", "created_at": "2026-01-01T00:00:00+00:00",
                               "disabled_at": None})
        runner = JobRunner(open_registry=lambda: Registry.open(reg_path), handlers={"scan": slow},
                           settings=ServerSettings(registry=str(reg_path), data_dir=tmp_path / "data"))
        runner.start()
        job = runner.submit(reg.store, kind="scan", account_id="a1", params={})
        assert started.wait(30)
        runner.shutdown(wait=True)
        stopped = reg.store.get_job(job["job_id"])
        assert stopped["status"] == "queued" and stopped["params"]["resume"] is True and stopped["attempts"] == 0


def test_a_failed_job_names_uploads_as_sent_never_by_server_path(tmp_path):
    """A job's error is read by its owner: the uploaded file's own name, no path of the server's data folder."""
    from consentry.adapters.api import ServerSettings
    from consentry.domain.errors import InputError
    from consentry.services.jobs import JobRunner

    data = tmp_path / "data"
    stored = data / "uploads" / "up-0123456789abcdef.zip"
    other = data / "incoming" / ".part-xyz"

    def failing(ctx):
        raise InputError(f"{ctx.params['path']}: not a readable zip archive; beside {other}")

    def crashing(ctx):
        raise RuntimeError(f"cannot read {ctx.params['paths'][0]}")

    reg_path = tmp_path / "r.db"
    with Registry.open(reg_path) as reg:
        reg.store.add_account({"account_id": "a1", "email": "a@example.org", "role": "licensee", "creator": None,
                               "display_name": None, "password_hash": "x", "created_at": "2026-01-01T00:00:00+00:00",
                               "disabled_at": None})
        runner = JobRunner(open_registry=lambda: Registry.open(reg_path), handlers={"scan": failing, "register": crashing},
                           settings=ServerSettings(registry=str(reg_path), data_dir=data))
        runner.start()
        try:
            one = runner.submit(reg.store, kind="scan", account_id="a1", params={"path": str(stored), "name": "my data.zip"})
            two = runner.submit(reg.store, kind="register", account_id="a1",
                                params={"paths": [str(stored)], "uploads": [{"upload_id": "up-0123456789abcdef",
                                                                              "original_name": "song.zip"}]})
            deadline = time.monotonic() + 60
            while {reg.store.get_job(j["job_id"])["status"] for j in (one, two)} != {"failed"}:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            runner.shutdown(wait=True)
        first, second = (reg.store.get_job(j["job_id"])["error"] for j in (one, two))
    assert first == "my data.zip: not a readable zip archive; beside .part-xyz", first
    assert second == "internal error: RuntimeError: cannot read song.zip", second
