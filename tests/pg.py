"""A throw-away PostgreSQL server for the tests.

:func:`start_server` runs ``initdb`` and ``pg_ctl`` from PATH or
``/usr/lib/postgresql/*/bin`` on a temporary data folder, listening on
127.0.0.1 (a free port) and on a unix socket inside that folder, with
``fsync=off`` and ``full_page_writes=off`` (the data is thrown away).  When
the tests run as root, the server runs as the ``postgres`` user (PostgreSQL
refuses to run as root).  :meth:`PostgresServer.new_database` makes a fresh,
empty database per test, so tests never see each other's rows.

Without PostgreSQL binaries the tests that need the server are skipped with
the reason, unless ``CONSENTRY_REQUIRE_POSTGRES=1`` (CI sets it): then they
fail.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "consentry_test"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or the server did not start."""


def find_binaries() -> tuple[str, str]:
    """Paths of ``initdb`` and ``pg_ctl`` (PATH first, then the Debian layout, newest version first)."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl

    def version(folder: str) -> tuple:
        parts = Path(folder).parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        i, p = os.path.join(folder, "initdb"), os.path.join(folder, "pg_ctl")
        if os.access(i, os.X_OK) and os.access(p, os.X_OK):
            return i, p
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; "
                              "install the Debian package postgresql")


def _others_can_enter(folder: Path) -> bool:
    """Whether every folder from / down to ``folder`` may be entered by other users."""
    folder = folder.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [folder, *folder.parents])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A running throw-away server; stop it with :meth:`stop`."""

    root: Path
    port: int
    pg_ctl: str
    run_as: list[str]
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _watchdog: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def url(self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None) -> str:
        """A TCP URL of a database on this server."""
        auth = f"{user}:{password}@" if password else f"{user}@"
        return f"postgresql://{auth}127.0.0.1:{self.port}/{database}"

    def admin(self):
        """An autocommit psycopg connection as the superuser (close it after use)."""
        import psycopg

        return psycopg.connect(self.url(), autocommit=True)

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database and return its URL.

        Its default collation is ICU's en-US where available, as on most
        production servers (where text does not sort byte by byte as in
        SQLite), so the tests see what the store must handle.
        """
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        with self.admin() as conn:
            try:
                conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                             "LOCALE 'C.UTF-8'")
            except psycopg.Error:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait(10)
        subprocess.run([*self.run_as, self.pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer:
    """initdb a temporary cluster and start it (see the module docstring)."""
    initdb, pg_ctl = find_binaries()
    run_as: list[str] = []
    parent = None
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root and there is no 'postgres' user to run the server as") from None
        run_as = ["runuser", "-u", "postgres", "--"]
        # The server's user must reach the folder: keep out of a private $TMPDIR (such as one under /root).
        if not _others_can_enter(Path(tempfile.gettempdir())):
            parent = "/tmp"
    root = Path(tempfile.mkdtemp(prefix="consentry-pg-", dir=parent))
    if run_as:
        os.chmod(root, 0o755)
    server = PostgresServer(root=root, port=_free_port(), pg_ctl=pg_ctl, run_as=run_as)
    server.data_dir.mkdir()
    server.socket_dir.mkdir()
    if run_as:
        for p in (server.data_dir, server.socket_dir):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    try:
        subprocess.run([*run_as, initdb, "-D", str(server.data_dir), "-U", SUPERUSER, "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        options = (f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={server.socket_dir} "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=60 "
                   "-c shared_buffers=32MB")
        subprocess.run([*run_as, pg_ctl, "start", "-D", str(server.data_dir), "-o", options, "-l",
                        str(server.data_dir / "server.log"), "-w", "-t", "60"],
                       check=True, capture_output=True, timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        text = detail.decode("utf-8", "replace").strip().splitlines()
        server.stop()
        raise PostgresUnavailable(f"the test PostgreSQL server did not start: {text[-1] if text else exc}") from None
    # Should this process die without stopping the server (killed, timed out), a watchdog does.
    server._watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(server.root), pg_ctl, *run_as],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return server


_WATCHDOG = """
import os, shutil, subprocess, sys, time
pid, root, pg_ctl, run_as = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
subprocess.run([*run_as, pg_ctl, "stop", "-D", os.path.join(root, "data"), "-m", "immediate", "-w"], capture_output=True)
shutil.rmtree(root, ignore_errors=True)
"""


def require_postgres() -> bool:
    """True when the environment says the PostgreSQL tests must run (CI)."""
    return os.environ.get("CONSENTRY_REQUIRE_POSTGRES") == "1"


class StoreFactory:
    """Opens registries of one backend for a test: ``open_store(name="r", create=True)``.

    The same ``name`` opens the same registry again (a file in the test's
    folder for SQLite, a database of the test server for PostgreSQL), so a
    test can close and reopen it, or hand :meth:`spec` to another process.
    Everything opened is closed (and the databases dropped) by :meth:`cleanup`.
    """

    def __init__(self, backend: str, folder: Path, server: PostgresServer | None = None) -> None:
        self.backend = backend
        self.folder = folder
        self.server = server
        self._urls: dict[str, str] = {}
        self._opened: list = []

    def spec(self, name: str = "r") -> str:
        """The registry's path or URL (what ``Registry.open`` and ``--registry`` take)."""
        if self.backend == "sqlite":
            return str(self.folder / f"{name}.db")
        if name not in self._urls:
            self._urls[name] = self.server.new_database()
        return self._urls[name]

    @property
    def cache_dir(self) -> Path:
        return self.folder / "pg-cache"

    @property
    def local_base(self) -> Path:
        return self.folder / "pg-home"

    def __call__(self, name: str = "r", *, create: bool = True):
        if self.backend == "sqlite":
            from consentry.store.sqlite import SQLiteStore

            store = SQLiteStore.open(self.spec(name), create=create)
        else:
            from consentry.store.postgres import PostgresStore

            store = PostgresStore.open(self.spec(name), create=create, cache_dir=self.cache_dir,
                                       local_base=self.local_base)
        self._opened.append(store)
        return store

    def cleanup(self) -> None:
        for store in self._opened:
            try:
                store.close()
            except Exception:  # noqa: BLE001 - already closed, or its connection was dropped by a test
                pass
        for url in self._urls.values():
            self.server.drop_database(url)
