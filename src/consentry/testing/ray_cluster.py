"""A throw-away Ray cluster on this machine, for the tests and benchmarks (``ray start --head --block``).

>>> with LocalCluster(num_cpus=2) as cluster:             # doctest: +SKIP
...     scan_dataset(reg, "data/", executor=RayExecutor(cluster.address))

The head runs on 127.0.0.1 with ports picked free (so several clusters, of
other users of the machine too, do not collide), its own temporary folder,
no dashboard and no usage reporting.  ``--block`` keeps ``ray start`` in the
foreground as the leader of a new session; stopping sends it SIGTERM (Ray
then ends every process it started) and, after a deadline, SIGKILL to what
is still left of that session, found by session id, never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Seconds to wait for the head to start, and for it to stop before what is left is killed.
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _worker_port_range(taken: list[int], span: int = 200) -> int:
    """The first of ``span`` ports for Ray's workers: below the kernel's ephemeral range (where the ports of
    :func:`_free_ports` come from), varied by process so that clusters of parallel test runs rarely meet, and
    never over a port already given to another component (Ray refuses to start then: "the same port is used by
    multiple components")."""
    try:
        ephemeral_lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_lo = 32768
    top = max(10000 + span, ephemeral_lo - span)
    lo = 10000 + (os.getpid() * 7) % (top - 10000)
    while any(lo <= p <= lo + span for p in taken):
        lo = 10000 + (lo + span + 1 - 10000) % (top - 10000)
    return lo


def _session_pids(sid: int) -> list[int]:
    """Processes in session ``sid`` (from /proc), other than this one."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state, ppid, pgrp, session, ...
            out.append(int(entry))
    return out


class LocalCluster:
    """A Ray head on 127.0.0.1 with ``num_cpus`` CPUs (each CPU: one worker process at a time).

    Attributes
    ----------
    address : str
        ``127.0.0.1:PORT`` of the head (what ``--ray`` takes).
    pid : int
        The ``ray start --block`` process (leader of the cluster's session).
    """

    def __init__(self, *, num_cpus: int = 2, ray_bin: str | None = None) -> None:
        self.num_cpus = int(num_cpus)
        self.ray_bin = ray_bin or str(Path(sys.executable).with_name("ray"))
        self.address = ""
        self.pid = 0
        self._proc: subprocess.Popen | None = None
        self._tmp: Path | None = None

    def start(self) -> "LocalCluster":
        ports = _free_ports(8)
        worker_lo = _worker_port_range(ports)
        # Ray's socket paths must stay short (108 bytes), hence a short temporary folder.
        self._tmp = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))
        log = open(self._tmp / "head.log", "w+")
        cmd = [self.ray_bin, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(ports[0]),
               "--num-cpus", str(self.num_cpus), "--include-dashboard", "false", "--disable-usage-stats",
               "--temp-dir", str(self._tmp / "ray"), "--dashboard-agent-listen-port", str(ports[1]),
               "--dashboard-agent-grpc-port", str(ports[2]), "--runtime-env-agent-port", str(ports[3]),
               "--metrics-export-port", str(ports[4]), "--node-manager-port", str(ports[5]),
               "--object-manager-port", str(ports[6]), "--min-worker-port", str(worker_lo),
               "--max-worker-port", str(worker_lo + 200), "--object-store-memory", str(256 << 20)]
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, env=env)
        self.pid = self._proc.pid
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            text = (self._tmp / "head.log").read_text(errors="replace")
            if "Ray runtime started" in text:
                break
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ray start --head did not start: {text.strip().splitlines()[-1:] or ['no output']}")
            time.sleep(0.2)
        self.address = f"127.0.0.1:{ports[0]}"
        return self

    def processes(self) -> list[int]:
        """Every process of the cluster (head, raylet, workers)."""
        return _session_pids(self.pid) if self.pid else []

    def worker_pids(self, name: str) -> list[int]:
        """Worker processes whose title names ``name`` (e.g. ``ScanWorker``), within this cluster."""
        out = []
        for pid in self.processes():
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith(f"ray::{name}"):
                out.append(pid)
        return out

    def stop(self) -> None:
        """Stop the cluster: SIGTERM to ``ray start``, then SIGKILL to what is left of its session."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        if self.pid:
            for pid in self.processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._proc is not None:
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._proc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
