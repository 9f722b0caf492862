"""Settings of ``consentry serve``, passed explicitly to :func:`consentry.adapters.api.app.create_app`.

Every field can be set from the environment (``CONSENTRY_<FIELD>`` in upper
case, e.g. ``CONSENTRY_PUBLIC_URL``); the command's options override them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

from consentry.services.accounts import AuthSettings
from consentry.domain.errors import InputError
from consentry.services.uploads import UploadLimits

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """How one Consentry server runs.

    Attributes
    ----------
    registry : str
        The registry: an SQLite file, or a ``postgresql://`` URL.
    data_dir : Path
        Uploads, job outputs (reports, evidence bundles) and the server lock.
        One server process per data folder.
    public_url : str
        Where the server is reached (used in the published files, and an
        ``https://`` URL makes the session cookie ``Secure``).
    signup : bool
        Whether anyone may make a creator or licensee account.
    max_audio_bytes, max_dataset_bytes, max_identify_bytes : int
        Largest file accepted for a work, voice sample or AI output; for a
        dataset archive or manifest; for a clip identified synchronously (bytes).
    max_files_per_request : int
        Most files in one upload request.
    identify_max_s : float
        Longest clip identified synchronously (seconds); longer ones go to
        ``POST /api/v1/identify/jobs``.
    rate_per_s, rate_burst : float
        Token bucket per API token or signed-in account (requests per
        second, and how many may come at once).
    anonymous_rate_per_s, anonymous_burst : float
        The same per client IP address, for anonymous requests and sign-in.
    job_threads : int
        Background jobs run at once (at most one per core: a larger value is
        lowered, with a warning in the log).
    scan_workers : int
        Processes one scan uses (1: in the server process; at most one per
        core).
    ray_address : str
        Send scans to this Ray cluster (``host:port`` of its head, or
        ``auto``); empty: scans run on this machine (docs/cluster.md).
    ray_workers : int
        Worker actors one scan uses on the cluster (0: one per CPU of the cluster).
    index_shards : int
        Serve the index of a scan on the cluster from this many shard
        actors (0: each worker maps the whole index).
    store_melodies : bool
        Transcribe and store each registered work's melody, so that the
        output check can find re-used melodies (on by default, as
        ``consentry register``, with the basic-pitch model that ships inside
        consentry; a work whose melody cannot be transcribed is still
        registered).
    evidence_pdf : bool
        Add a PDF (headless Chromium) to evidence bundles.
    allow_url_fetch : bool
        Let users ask the server to download the URLs of a manifest.  Off by
        default: the server would fetch whatever URL a user names.
    registry_connections : int
        Registry connections kept for requests.
    identify_concurrency : int
        Synchronous identifications computed at once (default and most: the
        number of cores); more requests wait their turn instead of thrashing
        the CPU.
    trust_forwarded_for : bool
        Take the client address from ``X-Forwarded-For`` (only behind a proxy
        you run, which sets it).
    claims_sweep_s : float
        How often (seconds) the server applies the claims' deadline rules
        (``consentry.services.claims.expire_overdue``): at start, then every
        ``claims_sweep_s``.
    header_timeout_s : float
        A connection whose request head (request line and headers) is not
        complete this long (seconds) after it was opened, or after the
        previous response, is closed (:mod:`consentry.adapters.api.serving`).
    """

    registry: str = "consentry.db"
    data_dir: Path = Path("consentry-data")
    public_url: str = "http://127.0.0.1:8000"
    signup: bool = True
    max_audio_bytes: int = 200 * MIB
    max_dataset_bytes: int = 4096 * MIB
    max_identify_bytes: int = 20 * MIB
    max_files_per_request: int = 100
    identify_max_s: float = 60.0
    rate_per_s: float = 20.0
    rate_burst: float = 100.0
    anonymous_rate_per_s: float = 5.0
    anonymous_burst: float = 60.0
    job_threads: int = 2
    scan_workers: int = 1
    ray_address: str = ""
    ray_workers: int = 0
    index_shards: int = 0
    store_melodies: bool = True
    evidence_pdf: bool = False
    allow_url_fetch: bool = False
    registry_connections: int = 16
    identify_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    trust_forwarded_for: bool = False
    claims_sweep_s: float = 3600.0
    header_timeout_s: float = 10.0
    auth: AuthSettings = field(default_factory=AuthSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        for name in ("max_audio_bytes", "max_dataset_bytes", "max_identify_bytes", "max_files_per_request",
                     "job_threads", "scan_workers", "registry_connections", "identify_concurrency"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name}: must be at least 1")
        for name in ("ray_workers", "index_shards"):
            if int(getattr(self, name)) < 0:
                raise InputError(f"{name}: must be 0 or more")
        for name in ("identify_max_s", "rate_per_s", "rate_burst", "anonymous_rate_per_s", "anonymous_burst",
                     "claims_sweep_s", "header_timeout_s"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"{name}: must be greater than 0")
        if not self.public_url.startswith(("http://", "https://")):
            raise InputError(f"public URL {self.public_url!r}: give an http:// or https:// URL")

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def incoming_dir(self) -> Path:
        return self.data_dir / "incoming"

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    def limits(self, purpose: str) -> UploadLimits:
        cap = {"dataset": self.max_dataset_bytes, "identify": self.max_identify_bytes}.get(purpose, self.max_audio_bytes)
        files = 1 if purpose in ("dataset", "identify", "output") else self.max_files_per_request
        return UploadLimits(max_file_bytes=cap, max_files=files)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "ServerSettings":
        """Settings from ``CONSENTRY_*`` variables, then ``overrides`` (None values ignored)."""
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            if f.name == "auth":
                continue
            key = f"CONSENTRY_{f.name.upper()}"
            if f.name == "registry":
                key = "CONSENTRY_REGISTRY"
            raw = env.get(key)
            if raw is None:
                continue
            values[f.name] = _parse(f.name, raw, type(getattr(cls(), f.name)))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> "ServerSettings":
        return replace(self, **changes)


def _parse(name: str, raw: str, kind: type):
    try:
        if kind is bool:
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if issubclass(kind, Path):
            return Path(raw)
        return raw
    except ValueError:
        raise InputError(f"CONSENTRY_{name.upper()}={raw!r}: not a valid {kind.__name__}") from None
