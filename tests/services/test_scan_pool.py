"""An item that kills its worker process (a decoder crash, the OOM killer) is an item error; the scan goes on.

Before, a dead worker broke the process pool and failed the scan, and its resume
failed the same way on the same item, so such a dataset could never be scanned.
"""

from __future__ import annotations

import os

import pytest
from conftest import notes, write_wav

from consentry import Registry
from consentry.domain.works import Terms
from consentry.services import scan as scan_module
from consentry.services.scan import scan_dataset, scan_items
from consentry.services.scan_pool import WORKER_DIED, WorkersCannotStart, run_in_pool

SR = 22050


def _crash_on_poison(task: dict) -> dict:
    """The work of the tests: the worker process dies on a task named ``poison`` (no Python exception)."""
    if task["name"].startswith("poison"):
        os._exit(3)
    return {"seq": task["seq"], "name": task["name"], "pid": os.getpid()}


def _no_setup() -> None:
    return None


def _failing_setup() -> None:
    os._exit(4)


def _lost(task: dict, reason: str) -> dict:
    return {"seq": task["seq"], "name": task["name"], "error": reason}


def _run(names: list[str], workers: int = 2, initializer=_no_setup) -> dict[int, dict]:
    stored: list[dict] = []
    tasks = [{"seq": i, "name": n} for i, n in enumerate(names)]
    run_in_pool(_crash_on_poison, tasks, workers=workers, initializer=initializer, initargs=(), store=stored.extend,
                lost=_lost)
    by_seq = {r["seq"]: r for r in stored}
    assert len(by_seq) == len(stored), "an item was stored twice"
    return by_seq


def test_every_item_is_stored_once_and_the_poison_is_an_item_error():
    names = [f"item{i}" for i in range(12)]
    names[3] = "poison-a"
    names[9] = "poison-b"
    got = _run(names)
    assert sorted(got) == list(range(12))
    for i, name in enumerate(names):
        if name.startswith("poison"):
            assert got[i]["error"] == WORKER_DIED
        else:
            assert "error" not in got[i] and got[i]["name"] == name


def test_no_poison_means_one_pool_and_no_lost_item():
    got = _run([f"item{i}" for i in range(8)])
    assert sorted(got) == list(range(8)) and not any("error" in r for r in got.values())
    assert len({r["pid"] for r in got.values()}) <= 2   # the two workers of one pool did all of it


def test_poison_as_the_last_item_and_alone():
    assert _run(["a", "b", "poison"])[2]["error"] == WORKER_DIED
    assert _run(["poison"], workers=1)[0]["error"] == WORKER_DIED


def test_workers_that_cannot_start_are_not_blamed_on_an_item():
    with pytest.raises(WorkersCannotStart):
        _run(["a", "b"], initializer=_failing_setup)


def test_a_scan_with_an_item_that_kills_its_worker_completes(tmp_path, monkeypatch):
    work = notes(31, duration_s=20.0, sr=SR)
    reg_path = tmp_path / "r.db"
    data = tmp_path / "data"
    data.mkdir()
    write_wav(tmp_path / "work.wav", work, sample_rate_hz=SR)
    write_wav(data / "a_copy.wav", work[4 * SR:12 * SR], sample_rate_hz=SR)
    write_wav(data / "b_crash.wav", notes(32, duration_s=6.0, sr=SR), sample_rate_hz=SR)
    write_wav(data / "c_other.wav", notes(33, duration_s=6.0, sr=SR), sample_rate_hz=SR)
    real = scan_module.identify_item

    def crashing(registry, task):
        if task["name"].endswith("b_crash.wav"):
            os._exit(5)   # as a decoder crash would: the process is gone, no exception
        return real(registry, task)

    # The pool's workers are forked from this process, so they run the patched function.
    monkeypatch.setattr(scan_module, "identify_item", crashing)
    with Registry.open(reg_path) as reg:
        assert reg.register([tmp_path / "work.wav"], creator="Ana Lima", terms=Terms("deny"), workers=1).registered
        summary = scan_dataset(reg, data, workers=2)
        items = {i["item_id"]: i for i in scan_items(reg, summary["scan_id"])}
    assert summary["status"] == "complete"
    decisions = {name: item["decision"] for name, item in items.items()}
    assert decisions == {"a_copy.wav": "refused", "b_crash.wav": "error", "c_other.wav": "unknown"}
    assert items["b_crash.wav"]["error"] == WORKER_DIED
    assert summary["totals"]["items"] == 3
