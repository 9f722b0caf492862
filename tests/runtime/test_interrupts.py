"""Resource limits and interrupts (issue 15): worker caps, Ctrl-C and SIGTERM on the real CLI.

The CLI runs as a subprocess in a session of its own; signals are sent at
several points of a run (early, while files are decoded, just after a
commit, in the middle of a commit).  Each run must end soon after the signal
(a generous bound: the machine is shared, but a hang fails), exit 130 or 143,
say what was kept, leave a registry that passes SQLite's integrity check and
holds exactly what it said was kept, leave no process behind, and the same
command run again must finish the job.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import notes, write_wav

from consentry.runtime.interrupts import Interrupted, deferred_interrupts, polled, raise_if_stopping
from consentry.runtime.pools import process_pool, usable_cores, worker_count

SR = 22050
#: A run must have exited this long after the signal (the promise is two seconds; the machine is shared).
EXIT_BOUND_S = 10.0
N_FILES = 40  # more than one register batch (32)
CORES = usable_cores()

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts processes in /proc (Linux)")

# Runs the CLI with the registry's segment insert (inside the batch's transaction) slowed
# down and announced, so that a signal can be sent in the middle of a commit.
SLOW_COMMIT = """
import sys, time
from consentry.store.sqlite import SQLiteStore
_insert = SQLiteStore._insert_segment
def _slow_insert(self, *args, **kwargs):
    sys.stderr.write("TEST: inside a commit\\n"); sys.stderr.flush()
    time.sleep(1.5)
    return _insert(self, *args, **kwargs)
SQLiteStore._insert_segment = _slow_insert
from consentry.adapters.cli.main import main
sys.argv = ["consentry", *sys.argv[1:]]
main()
"""


# -- helpers ----------------------------------------------------------------------------
_RUNS: list["Run"] = []


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test():
    """Whatever a test asserts, every process of the runs it started is killed at its end."""
    yield
    while _RUNS:
        _RUNS.pop().kill()


class Run:
    """The CLI running in its own session, its output collected as it comes."""

    def __init__(self, *args: str, registry: Path, slow_commit: bool = False) -> None:
        env = {**os.environ, "COLUMNS": "200"}
        head = [sys.executable, "-c", SLOW_COMMIT] if slow_commit else [sys.executable, "-m", "consentry.adapters.cli.main"]
        self.proc = subprocess.Popen(head + ["--registry", str(registry), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        _RUNS.append(self)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(s, buf), daemon=True)
                         for s, buf in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream, buf: list[str]) -> None:
        for line in stream:
            buf.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    def wait_until(self, condition, *, timeout_s: float = 240.0, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(f"the run ended (exit {self.proc.returncode}) before {what}: {self.stderr[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"{what} did not happen within {timeout_s:g} s")
            time.sleep(0.02)

    def signal(self, signum: int, *, group: bool) -> None:
        """``group``: the whole session, as a terminal's Ctrl-C does; else the main process only (``kill PID``)."""
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def wait_exit(self, *, bound_s: float = EXIT_BOUND_S) -> int:
        try:
            self.proc.wait(timeout=bound_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"still running {bound_s:g} s after the signal (hung): {self.stderr[-2000:]}")
        for t in self._readers:
            t.join(5)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL to the run's session (its workers too, even once the main process is gone)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)


def _stat_fields(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # state, ppid, pgrp, session, ...


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            f = _stat_fields(entry)
            if f is not None and int(f[1]) == pid:
                out.append(int(entry))
    return out


def session_members(sid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process, zombies included, of the session ``sid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            f = _stat_fields(entry)
            if f is not None and int(f[3]) == sid:
                out.append((int(entry), f[0]))
    return out


def assert_nothing_left(run: Run) -> None:
    """No worker (alive or zombie) of the run outlives it."""
    deadline = time.monotonic() + 5.0
    while session_members(run.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = session_members(run.proc.pid)
    if left:
        run.kill()
        pytest.fail(f"processes left behind by the run: {left}")


def query(db: Path, sql: str, *args) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        return int(query(db, sql)[0][0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def assert_registry_consistent(db: Path, *, works: int, batches: int) -> None:
    """Integrity check ok; exactly the works said to be committed, each batch with its index segment whole."""
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert count(db, "SELECT COUNT(*) FROM works") == works
    assert count(db, "SELECT COUNT(*) FROM index_segments") == batches
    assert count(db, "SELECT COUNT(*) FROM terms") == works
    if works:
        n_hashes = count(db, "SELECT SUM(n_hashes) FROM works")
        assert count(db, "SELECT SUM(n_entries) FROM index_segments") == n_hashes
        for (stem,) in query(db, "SELECT stem FROM index_segments"):
            keys = np.load(db.parent / f"{db.name}.index" / f"{stem}.keys.npy", mmap_mode="r")
            assert keys.shape[0] == count(db, f"SELECT n_entries FROM index_segments WHERE stem = '{stem}'")


def interrupted_message(run: Run) -> tuple[int, int]:
    """(batches, works) from the line ``interrupted: B batches (W works) committed; run the same command again ...``."""
    import re

    m = re.search(r"interrupted: (\d+) batch(?:es)? \((\d+) works?\) committed; run the same command again to resume",
                  run.stderr)
    assert m, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    return int(m.group(1)), int(m.group(2))


# -- media ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    """``N_FILES`` distinct 12-second files (8 melodies, each at several offsets)."""
    folder = tmp_path_factory.mktemp("interrupts") / "catalogue"
    folder.mkdir()
    base = [notes(500 + i, duration_s=12.0, sr=SR) for i in range(8)]
    for i in range(N_FILES):
        write_wav(folder / f"song{i:03d}.wav", np.roll(base[i % 8], 2000 * (i // 8 + 1)), sample_rate_hz=SR)
    return folder


def register_args(folder: Path) -> list[str]:
    return ["register", str(folder), "--creator", "Ana Lima", "--no-melody", "--workers", "2"]


def finish_and_check(run_args: list[str], db: Path, *, kept_works: int) -> None:
    """Running the same command again registers the rest, and nothing twice."""
    again = subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(db), *run_args, "--json"],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert len(out["duplicates"]) == kept_works
    assert len(out["registered"]) == N_FILES - kept_works
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert count(db, "SELECT COUNT(*) FROM works") == N_FILES
    assert count(db, "SELECT COUNT(DISTINCT sha256) FROM works") == N_FILES


# -- worker caps --------------------------------------------------------------------------
def test_worker_count_rule():
    c = worker_count(100000, items=2, cores=2)
    assert (c.workers, c.lowered) == (2, True)
    assert c.describe(items_name="files") == "--workers 100000 lowered to 2 (2 cores, 2 files)"
    assert worker_count(None, items=10, cores=4).workers == 4 and not worker_count(None, items=10, cores=4).lowered
    assert worker_count(None, items=1, cores=4).workers == 1
    assert worker_count(3, cores=8).workers == 3 and not worker_count(3, cores=8).lowered
    assert worker_count(8, items=None, cores=2).describe() == "--workers 8 lowered to 2 (2 cores)"
    assert worker_count(5, items=0, cores=2).workers == 1


def test_register_workers_capped_by_cores_and_files(catalogue, tmp_path):
    """--workers 100000 on 2 files starts at most min(cores, 2) processes, and says it lowered the request."""
    two = tmp_path / "two"
    two.mkdir()
    for f in sorted(catalogue.iterdir())[:2]:
        (two / f.name).write_bytes(f.read_bytes())
    cap = min(CORES, 2)
    db = tmp_path / "r.db"
    run = Run("register", str(two), "--no-melody", "--workers", "100000", "--json", registry=db)
    most = 0
    while run.proc.poll() is None:
        n = len(children_of(run.proc.pid))
        most = max(most, n)
        if n > cap:
            run.kill()
            pytest.fail(f"{n} worker processes started for 2 files on {CORES} cores")
        time.sleep(0.005)
    assert run.wait_exit() == 0, run.stderr
    assert most <= cap
    assert f"--workers 100000 lowered to {cap} ({CORES} core{'s' if CORES > 1 else ''}, 2 files to fingerprint)" in run.stderr
    out = json.loads(run.stdout)
    assert out["workers"] == {"requested": 100000, "used": cap, "cores": CORES, "items": 2}
    assert len(out["registered"]) == 2


# -- register: interrupts -------------------------------------------------------------------
def _ready_early(run: Run, db: Path):
    return lambda: db.exists()


def _ready_mid_decode(run: Run, db: Path):
    started = []

    def ready() -> bool:
        if not started and children_of(run.proc.pid):
            started.append(time.monotonic())
        return bool(started) and time.monotonic() - started[0] > 0.5
    return ready


def _ready_after_commit(run: Run, db: Path):
    return lambda: count(db, "SELECT COUNT(*) FROM works") > 0


@pytest.mark.parametrize("point,signum,group", [
    ("early", signal.SIGINT, True),
    ("mid-decode", signal.SIGINT, True),
    ("mid-decode", signal.SIGTERM, False),
    ("after-commit", signal.SIGTERM, False),
])
def test_register_interrupted(catalogue, tmp_path, point, signum, group):
    db = tmp_path / "r.db"
    run = Run(*register_args(catalogue), registry=db)
    ready = {"early": _ready_early, "mid-decode": _ready_mid_decode, "after-commit": _ready_after_commit}[point](run, db)
    run.wait_until(ready, what=f"the {point} point")
    run.signal(signum, group=group)
    assert run.wait_exit() == 128 + signum, run.stderr
    batches, works = interrupted_message(run)
    assert_nothing_left(run)
    if point == "after-commit":
        assert batches >= 1 and works >= 32
    assert_registry_consistent(db, works=works, batches=batches)
    finish_and_check(register_args(catalogue), db, kept_works=works)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_register_interrupted_mid_commit_keeps_the_whole_batch(catalogue, tmp_path, signum):
    """A signal in the middle of a batch's transaction lets the batch finish: all 32 works, index and terms kept."""
    db = tmp_path / "r.db"
    run = Run(*register_args(catalogue), registry=db, slow_commit=True)
    run.wait_until(lambda: "TEST: inside a commit" in run.stderr, what="the first commit")
    signalled = time.monotonic()
    run.signal(signum, group=signum == signal.SIGINT)
    assert run.wait_exit() == 128 + signum, run.stderr
    assert time.monotonic() - signalled < EXIT_BOUND_S
    batches, works = interrupted_message(run)
    assert (batches, works) == (1, 32)
    assert_nothing_left(run)
    assert_registry_consistent(db, works=32, batches=1)
    finish_and_check(register_args(catalogue), db, kept_works=32)


# -- scan: interrupts ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scan_setup(catalogue, tmp_path_factory):
    """A registry of 4 works, and a dataset of the whole catalogue (``N_FILES`` items)."""
    root = tmp_path_factory.mktemp("scan-interrupts")
    works = root / "works"
    works.mkdir()
    for f in sorted(catalogue.iterdir())[:4]:
        (works / f.name).write_bytes(f.read_bytes())
    db = root / "r.db"
    r = subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(db), "register", str(works),
                        "--no-melody", "--workers", "1"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return db, catalogue


def _copy_registry(db: Path, dest: Path) -> Path:
    """A private copy of a closed registry (the database and its index folder)."""
    import shutil

    out = dest / db.name
    shutil.copy2(db, out)
    shutil.copytree(db.parent / f"{db.name}.index", dest / f"{db.name}.index")
    return out


@pytest.mark.parametrize("point,signum,group", [
    ("early", signal.SIGTERM, False),
    ("mid-scan", signal.SIGINT, True),
    ("mid-scan", signal.SIGTERM, False),
])
def test_scan_interrupted_then_resumed(scan_setup, tmp_path, point, signum, group):
    import re

    base, dataset = scan_setup
    db = _copy_registry(base, tmp_path)
    run = Run("scan", str(dataset), "--workers", "2", registry=db)
    run.wait_until(lambda: "started scan" in run.stderr, what="the scan's start")
    if point == "mid-scan":
        run.wait_until(lambda: count(db, "SELECT COUNT(*) FROM scan_items") >= 2, what="items stored")
    run.signal(signum, group=group)
    assert run.wait_exit() == 128 + signum, run.stderr
    m = re.search(r"scan (s-[0-9a-f-]+) interrupted after (\d+) items? \(kept\); resume with consentry scan (\S+) --resume",
                  run.stderr)
    assert m, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    scan_id, items = m.group(1), int(m.group(2))
    assert m.group(3) == str(dataset)
    assert_nothing_left(run)
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT status FROM scans WHERE scan_id = ?", scan_id) == [("interrupted",)]
    assert count(db, f"SELECT COUNT(*) FROM scan_items WHERE scan_id = '{scan_id}'") == items
    if point == "mid-scan":
        assert items >= 2

    again = subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(db), "scan", str(dataset),
                            "--resume", "--json", "-", "--workers", "2"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"resuming scan {scan_id}" in again.stderr
    report = json.loads(again.stdout)
    summary = report["scan"]
    assert summary["scan_id"] == scan_id and summary["status"] == "complete"
    assert summary["totals"]["items"] == N_FILES
    assert count(db, f"SELECT COUNT(*) FROM scan_items WHERE scan_id = '{scan_id}'") == N_FILES


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_the_command_loads_is_one_line(signum):
    """Before a command runs (its modules still loading) a signal ends the CLI at once: one line, no traceback."""
    code = ("import sys; sys.argv[0] = '/usr/bin/consentry'\n"
            "import consentry.adapters.cli.main\n"
            "print('loaded', flush=True)\n"
            "import time; time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "loaded"
        p.send_signal(signum)
        _, err = p.communicate(timeout=EXIT_BOUND_S)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 128 + signum
    assert err == "interrupted before the command started; nothing was changed\n"


# -- the pieces, in this process ----------------------------------------------------------------
def test_deferred_interrupts_finish_the_block_first():
    """A Ctrl-C inside the block is raised when the block is done, not in its middle."""
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_polled_raises_only_where_the_loop_looks():
    """In a polled loop a signal marks the run as stopping; the exception comes from raise_if_stopping."""
    reached = []
    with pytest.raises(Interrupted) as caught:
        with polled():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
            reached.append("after the signal")
            with deferred_interrupts():  # a commit inside the loop is not cut either
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.1)
                reached.append("commit done")
            raise_if_stopping()
            reached.append("not reached")
    assert reached == ["after the signal", "commit done"]
    assert caught.value.exit_code == 143
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    raise_if_stopping()  # the stop request does not outlive the polled block


def test_interrupted_after_keeps_the_signal():
    exc = Interrupted.after(Interrupted(signal.SIGTERM), items=3, scan_id="s-1")
    assert (exc.exit_code, exc.kept) == (143, {"items": 3, "scan_id": "s-1"})
    assert Interrupted.after(KeyboardInterrupt(), works=0).exit_code == 130


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _ended(process, *, within_s: float = 5.0) -> bool:
    """The worker process has exited (a hang bound, not a timing).

    The pool's own management thread may reap a worker at the same moment we
    poll it; the loser of that race sees no exit code (ECHILD), so a worker
    counts as ended when it has an exit code or its /proc entry is gone.
    """
    from multiprocessing.connection import wait as wait_for

    wait_for([process.sentinel], timeout=within_s)
    return process.exitcode is not None or not os.path.exists(f"/proc/{process.pid}")


def test_process_pool_stops_busy_workers_at_once():
    """Leaving the block by an exception does not wait for workers stuck in long tasks, and reaps them."""
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with process_pool(2) as pool:
            futures = [pool.submit(_sleep, 60.0) for _ in range(4)]
            time.sleep(0.5)
            processes = list(pool._processes.values())
            raise KeyboardInterrupt
    assert time.monotonic() - started < 10.0
    assert len(processes) == 2 and all(_ended(p) for p in processes)
    # the pool's management thread settles the futures of the killed workers (BrokenProcessPool) on its own time
    from concurrent.futures import wait as settle

    settle(futures, timeout=5)
    assert all(f.cancelled() or f.done() for f in futures)
