"""Issue 15: two creators registering the same recording at the same time get an ownership claim, every time.

The "already registered by another creator?" question is answered where the
batch is committed, under the writer lock and in its transaction
(``store.add_works(..., claims_for=...)``), against what other registrations
committed since this one read the registry. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from conftest import notes, write_wav

from consentry import Registry
from consentry.store.sqlbase import SQLStore

SR = 22050


@pytest.fixture
def song(tmp_path):
    x = notes(4242, duration_s=20.0, sr=SR)
    return {"full": write_wav(tmp_path / "song.wav", x, sample_rate_hz=SR),
            "copy": write_wav(tmp_path / "song-copy.wav", x, sample_rate_hz=SR),  # the same bytes, another name
            "excerpt": write_wav(tmp_path / "excerpt.wav", x[3 * SR: 17 * SR], sample_rate_hz=SR)}


def _register_together(spec: str, jobs: list[tuple[str, str]], monkeypatch) -> list:
    """Register each (file, creator) from its own thread and registry connection, both past their first read of
    the registry before either commits (a barrier in front of ``add_works``, where the writer lock is taken)."""
    barrier = threading.Barrier(len(jobs), timeout=60)
    original = SQLStore.add_works

    def add_works_after_everyone_read(self, batch, **kwargs):
        barrier.wait()
        return original(self, batch, **kwargs)

    monkeypatch.setattr(SQLStore, "add_works", add_works_after_everyone_read)
    results: list = [None] * len(jobs)

    def run(i: int, path: str, creator: str) -> None:
        try:
            with Registry.open(spec) as reg:
                results[i] = reg.register([path], creator=creator, workers=1)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i, str(p), c)) for i, (p, c) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    monkeypatch.setattr(SQLStore, "add_works", original)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


@pytest.mark.parametrize("kind", ["same-file", "excerpt"])
def test_registering_at_the_same_time_opens_one_claim(backend, registry_spec, song, kind, monkeypatch, request):
    other = song["copy"] if kind == "same-file" else song["excerpt"]
    for run in range(3):  # every run, not most
        spec = registry_spec if run == 0 else _fresh(registry_spec, backend, run, request)
        with Registry.open(spec):
            pass  # made (and migrated) before the race
        results = _register_together(spec, [(song["full"], "Ana Lima"), (other, "Bo Berg")], monkeypatch)
        assert [len(r.registered) for r in results] == [1, 1]
        opened = [c for r in results for c in r.claims]
        with Registry.open(spec) as reg:
            stored = reg.store.list_claims()
        assert len(opened) == 1 and len(stored) == 1, (run, opened, stored)
        claim = stored[0]
        assert claim.kind == "ownership" and {claim.party_a, claim.party_b} == {"Ana Lima", "Bo Berg"}
        assert claim.basis["match"] == ("sha256" if kind == "same-file" else "fingerprint")
        assert {claim.work_a, claim.work_b} == {r.registered[0].work_id for r in results}


def _fresh(spec: str, backend: str, run: int, request) -> str:
    """Another empty registry beside the first (a new database of the same server for PostgreSQL)."""
    if backend == "sqlite":
        return spec.replace(".db", f"-{run}.db")
    return request.getfixturevalue("pg_server").new_database()


def test_two_processes_registering_the_same_file(backend, registry_spec, song, request):
    """The reported race as users meet it: two `consentry register` commands at once, three times."""
    env = {**os.environ, "COLUMNS": "160"}
    for run in range(3):
        spec = registry_spec if run == 0 else _fresh(registry_spec, backend, run, request)
        with Registry.open(spec):
            pass
        cmds = [[sys.executable, "-m", "consentry.adapters.cli.main", "--registry", spec, "register", str(path),
                 "--creator", creator, "--no-melody", "--workers", "1", "--json"]
                for path, creator in ((song["full"], "Ana Lima"), (song["copy"], "Bo Berg"))]
        procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for c in cmds]
        outs = [p.communicate(timeout=300) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        claims = [c for out, _ in outs for c in json.loads(out).get("claims", [])]
        with Registry.open(spec) as reg:
            stored = reg.store.list_claims()
        assert len(claims) == 1 and len(stored) == 1, (run, outs)
        assert {stored[0].party_a, stored[0].party_b} == {"Ana Lima", "Bo Berg"}


def test_files_of_one_call_are_still_not_compared_with_each_other(tmp_path, song, monkeypatch):
    """Batches of one `register` call, with creators from the files' tags, open no claim between themselves."""
    import consentry.services.registry as services

    artists = {"song.wav": "Ana Lima", "excerpt.wav": "Bo Berg"}
    monkeypatch.setattr(services, "read_tags", lambda path: {"artist": artists[path.name]})
    with Registry.open(tmp_path / "one-call.db") as reg:
        summary = reg.register([song["full"], song["excerpt"]], batch_size=1, workers=1)
        assert [w.creator for w in summary.registered] == ["Ana Lima", "Bo Berg"]
        assert summary.claims == [] and reg.store.list_claims() == []
