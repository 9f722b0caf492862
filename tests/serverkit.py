"""What the server tests share: a real uvicorn server on 127.0.0.1 (in a thread), a small world, polling."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from conftest import notes, write_wav

from consentry import Registry
from consentry.services.accounts import AuthSettings, create_account, create_token
from consentry.adapters.api import ServerSettings, create_app
from consentry.domain.works import Terms

#: Cheap argon2 parameters so that tests sign in fast (the defaults are for production).
FAST_AUTH = AuthSettings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
PASSWORD = "correct horse battery"
SR = 22050


class LiveServer:
    """uvicorn serving ``create_app(settings)`` on an ephemeral port of 127.0.0.1, in a thread."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


def server_settings(tmp: Path, registry: Path, **changes) -> ServerSettings:
    base = dict(registry=str(registry), data_dir=tmp / "data", public_url="http://127.0.0.1:8000", auth=FAST_AUTH,
                rate_per_s=1000.0, rate_burst=10_000.0, anonymous_rate_per_s=1000.0, anonymous_burst=10_000.0,
                job_threads=2, scan_workers=1, registry_connections=8, store_melodies=False)  # melodies: one test
    base.update(changes)
    return ServerSettings(**base)


def wait_job(client: httpx.Client, job_id: str, *, timeout_s: float = 120.0) -> dict:
    """Poll a job until it has finished; returns it."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = client.get(f"/api/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout_s} s")
        time.sleep(0.1)


@dataclass
class World:
    """A registry with works of two creators, and accounts with tokens of every role."""

    root: Path
    registry: Path
    media: Path
    works: dict = field(default_factory=dict)  # name -> work_id
    accounts: dict = field(default_factory=dict)  # name -> account row
    tokens: dict = field(default_factory=dict)  # name -> secret
    token_ids: dict = field(default_factory=dict)
    clips: dict = field(default_factory=dict)  # name -> Path


ROLE_OF = {"admin": ("admin", None), "ana": ("creator", "Ana Lima"), "ben": ("creator", "Ben Ode"),
           "lic": ("licensee", None), "lic2": ("licensee", None)}


def make_world(root: Path) -> World:
    media = root / "media"
    media.mkdir(parents=True)
    w = World(root=root, registry=root / "reg.db", media=media)
    songs = {"ana1": (1, "Ana Lima", "deny"), "ana2": (2, "Ana Lima", "license"), "ben1": (3, "Ben Ode", "allow")}
    with Registry.open(w.registry) as reg:
        for name, (seed, creator, decision) in songs.items():
            x = notes(seed, duration_s=20.0)
            path = write_wav(media / f"{name}.wav", x, sample_rate_hz=SR)
            terms = Terms(decision=decision, price=25.0 if decision == "license" else None,
                          currency="EUR" if decision == "license" else None)
            summary = reg.register([path], creator=creator, title=name, terms=terms, workers=1)
            w.works[name] = summary.registered[0].work_id
            w.clips[name] = write_wav(media / f"{name}-clip.wav", x[6 * SR: 18 * SR], sample_rate_hz=SR)
        store = reg.store
        for name, (role, creator) in ROLE_OF.items():
            w.accounts[name] = create_account(store, email=f"{name}@example.org", password=PASSWORD, role=role,
                                              creator=creator, auth=FAST_AUTH)
        from consentry.domain.accounts import ROLE_SCOPES

        for name, (role, _) in ROLE_OF.items():
            tok, secret = create_token(store, account=w.accounts[name], name="all", scopes=sorted(ROLE_SCOPES[role]))
            w.tokens[name], w.token_ids[name] = secret, tok["token_id"]
    return w
