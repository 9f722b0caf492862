"""The registry shared by `consentry serve` and command-line commands beside it: no write is lost (issue 15).

A process that holds an SQLite connection and opens and closes the database
file with a plain handle loses its POSIX locks; another process then takes
itself for the last user, checkpoints and deletes the WAL under the first
one's feet.  These tests run the real server and the real CLI as separate
processes, as an operator would, and then read the registry back.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import notes, write_wav

from consentry import Registry
from consentry.io import heldfiles
from consentry.domain.errors import InputError

SR = 22050
PASSWORD = "a long test password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(registry: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), *args],
                          capture_output=True, text=True, timeout=timeout)


def _integrity(registry: Path) -> str:
    # read-only, through SQLite, after every Consentry process has stopped
    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def served_registry(tmp_path):
    """A registry with an admin and an API token, served by `consentry serve` in its own process."""
    registry = tmp_path / "reg.db"
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    made = _cli(registry, "accounts", "create", "--email", "admin@example.org", "--role", "admin", "--password-file", str(pw))
    assert made.returncode == 0, made.stderr
    tok = _cli(registry, "tokens", "create", "--account", "admin@example.org", "--name", "t",
               "--scope", "identify,works:read,works:write", "--json")
    assert tok.returncode == 0, tok.stderr
    secret = json.loads(tok.stdout)["secret"]
    port = _free_port()
    env = {**os.environ, "CONSENTRY_ANONYMOUS_BURST": "10000", "CONSENTRY_ANONYMOUS_RATE_PER_S": "1000",
           "CONSENTRY_RATE_BURST": "10000", "CONSENTRY_STORE_MELODIES": "0", "CONSENTRY_REGISTRY_CONNECTIONS": "16"}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), "serve",
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--job-threads", "2"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError("the server did not start: " + (tmp_path / "server.log").read_text(errors="replace"))
        time.sleep(0.2)
    try:
        yield registry, url, secret, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()


def test_cli_beside_the_server_loses_no_write(served_registry, tmp_path):
    registry, url, secret, server = served_registry
    media = tmp_path / "media"
    media.mkdir()
    songs = [write_wav(media / f"song{i}.wav", notes(100 + i, duration_s=6.0), sample_rate_hz=SR) for i in range(6)]
    clip = write_wav(tmp_path / "clip.wav", notes(100, duration_s=6.0)[SR:5 * SR], sample_rate_hz=SR)
    auth = {"Authorization": f"Bearer {secret}"}

    # Background jobs make the server open connections of its own beside its request pool.
    with httpx.Client(base_url=url, headers=auth, timeout=120) as client:
        with open(clip, "rb") as fh:
            r = client.post("/api/v1/identify/jobs", files={"file": ("clip.wav", fh, "audio/wav")})
        assert r.status_code == 202, r.text
        first_job = r.json()["job_id"]

    signups: list[str] = []
    failures: list[str] = []

    def sign_up(i: int) -> None:
        email = f"user{i}@example.org"
        try:
            for _ in range(200):  # the server bounds password hashes at once: a busy answer is retried, as a client would
                r = httpx.post(url + "/api/v1/accounts/signup", timeout=120,
                               json={"email": email, "password": PASSWORD, "role": "licensee"})
                if r.status_code != 429:
                    break
                time.sleep(min(float(r.headers.get("Retry-After") or 0.2), 0.5))
            if r.status_code == 201:
                signups.append(email)
            else:
                failures.append(f"{email}: {r.status_code} {r.text}")
        except httpx.HTTPError as exc:
            failures.append(f"{email}: {exc}")

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    pw = tmp_path / "pw"
    cli_accounts = []
    for i in range(5):
        email = f"cli{i}@example.org"
        made = _cli(registry, "accounts", "create", "--email", email, "--role", "licensee", "--password-file", str(pw))
        assert made.returncode == 0, made.stderr
        cli_accounts.append(email)
        if i == 2:
            reg = _cli(registry, "register", *map(str, songs), "--creator", "Ana Lima", "--terms", "deny",
                       "--workers", "1", "--json")
            assert reg.returncode == 0, reg.stderr
            stats = _cli(registry, "stats", "--json")
            assert stats.returncode == 0, stats.stderr
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures

    # The server still works after the CLI came and went: a second job runs, and sees the CLI's works.
    with httpx.Client(base_url=url, headers=auth, timeout=120) as client:
        with open(clip, "rb") as fh:
            r = client.post("/api/v1/identify/jobs", files={"file": ("clip.wav", fh, "audio/wav")})
        assert r.status_code == 202, r.text
        for job_id in (first_job, r.json()["job_id"]):
            deadline = time.monotonic() + 120
            while (job := client.get(f"/api/v1/jobs/{job_id}").json())["status"] not in ("succeeded", "failed"):
                assert time.monotonic() < deadline, f"job {job_id} stuck in {job['status']}"
                time.sleep(0.2)
            assert job["status"] == "succeeded", job
        for email in cli_accounts + signups[:3]:
            r = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
            assert r.status_code in (200, 201), (email, r.status_code, r.text)

    server.send_signal(signal.SIGINT)
    server.wait(timeout=30)
    assert _integrity(registry) == "ok"
    with Registry.open(registry, create=False) as reg:
        emails = {a["email"] for a in reg.store.list_accounts()}
        assert set(cli_accounts) <= emails, set(cli_accounts) - emails
        assert set(signups) <= emails, set(signups) - emails
        assert len(signups) == 16
        assert {w.title for w in reg.works()} >= {f"song{i}" for i in range(6)}
        actions = [r["action"] for r in reg.store.audit_records()]
        assert actions.count("accounts.signup") == 16 and actions.count("accounts.create") == 6


def test_opening_the_registry_again_keeps_the_first_connections_locks(tmp_path):
    """In one process, a second open of the registry must not drop the first connection's locks (the root cause)."""
    registry = tmp_path / "reg.db"
    with Registry.open(registry) as first:
        with Registry.open(registry, create=False):
            pass
        # Another process may now try to take the database for itself: it must find it in use.
        probe = subprocess.run([sys.executable, "-c", (
            "import sqlite3,sys\n"
            "c=sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
            "c.execute('PRAGMA journal_mode')\n"
            "try:\n"
            "    c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE'); print('exclusive')\n"
            "except sqlite3.OperationalError as e:\n"
            "    print('busy')\n"), str(registry)], capture_output=True, text=True, timeout=60)
        assert probe.stdout.strip() == "busy", probe.stdout + probe.stderr
        assert first.works() == []


def test_the_registry_is_never_read_as_an_input(tmp_path):
    registry = tmp_path / "reg.db"
    with Registry.open(registry) as reg:
        assert heldfiles.held_by_this_process(registry) == str(registry)
        link = tmp_path / "other-name.wav"
        os.link(registry, link)
        summary = reg.register([registry, link], creator="Ana Lima", workers=1)
        assert not summary.registered and len(summary.errors) == 2
        assert all("registry" in reason and "never reads its own registry" in reason for _, reason in summary.errors)
        with pytest.raises(InputError, match="never reads its own registry"):
            reg.identify(link)
        from consentry.io.sources import open_dataset

        with pytest.raises(InputError, match="never reads its own registry"):
            open_dataset(str(registry))
        # a folder scan skips the registry's files, whatever their names
        bare = tmp_path / "data" / "registry"
        bare.parent.mkdir()
        os.link(registry, bare)
        ds = open_dataset(str(bare.parent))
        assert [item.name for item in ds.items()] == []
        assert any("registry" in reason for reason in ds.skipped)
    assert heldfiles.held_by_this_process(registry) is None


def test_backup_beside_a_writer_is_complete_and_consistent(tmp_path):
    registry = tmp_path / "reg.db"
    songs = [write_wav(tmp_path / f"s{i}.wav", notes(200 + i, duration_s=15.0), sample_rate_hz=SR) for i in range(3)]
    with Registry.open(registry) as reg:
        reg.register(songs[:2], creator="Ana Lima", workers=1)
        # a registration in another process while the backup runs: each sees all or nothing of the other
        writer = subprocess.Popen([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), "register",
                                   str(songs[2]), "--creator", "Ben Ode", "--workers", "1", "--no-melody"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        done = reg.backup(tmp_path / "copy.db")
        assert writer.wait(timeout=300) == 0, writer.stderr.read()
        assert done["works"] in (2, 3) and done["segments"] >= 1
        with pytest.raises(InputError, match="already exists"):
            reg.backup(tmp_path / "copy.db")
    assert _integrity(tmp_path / "copy.db") == "ok"
    with Registry.open(tmp_path / "copy.db", create=False) as copy:
        assert len(copy.works()) == done["works"]
        found = copy.identify(songs[0])
        assert found and found[0].creator == "Ana Lima"
    r = _cli(registry, "backup", str(tmp_path / "copy2.db"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["works"] == 3
