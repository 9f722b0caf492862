"""Dataset scans end to end: decisions under the terms in force, stored scans, reports, clean
manifests, --fail-on, resume after interruption and kill -9, workers, hostile sources,
TrainingFilter, the ledger and the training-content summary."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import notes, write_wav

from consentry import Registry
from consentry.domain.works import Terms
from consentry.services.scan import compare_scans, scan_dataset, scan_items, scan_summary, write_clean_manifest

SR = 22050
WORK_S = 24.0


def run(*args: str, registry: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), *args],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """A registry of four works with different terms, and their signals."""
    root = tmp_path_factory.mktemp("scan")
    signals = {name: notes(seed, duration_s=WORK_S, sr=SR) for name, seed in
               (("denied", 11), ("licensed_eur", 12), ("licensed_usd", 13), ("allowed", 14))}
    reg_path = root / "r.db"
    with Registry.open(reg_path) as reg:
        for name, terms in (("denied", Terms("deny")), ("licensed_eur", Terms("license", 100, "EUR")),
                            ("licensed_usd", Terms("license", 50, "USD")), ("allowed", Terms("allow"))):
            f = write_wav(root / f"{name}.wav", signals[name], sample_rate_hz=SR)
            s = reg.register([f], creator="Ana Lima" if name != "licensed_usd" else "Bo Chen", terms=terms, workers=1,
                             copyright_registered_on="2020-01-01" if name == "denied" else None)
            assert len(s.registered) == 1, s.errors
    return root, reg_path, signals


def excerpt(x: np.ndarray, a: float, b: float) -> np.ndarray:
    return x[int(a * SR):int(b * SR)]


def make_dataset(folder: Path, signals: dict) -> dict[str, str]:
    """Items and the decision each must get."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    expected = {}
    write_wav(folder / "a_denied.wav", excerpt(signals["denied"], 8, 16), sample_rate_hz=SR)
    expected["a_denied.wav"] = "refused"
    write_wav(folder / "b_eur.wav", excerpt(signals["licensed_eur"], 4, 12), sample_rate_hz=SR)
    expected["b_eur.wav"] = "licensable"
    mix = np.concatenate([excerpt(signals["allowed"], 4, 14), excerpt(signals["licensed_usd"], 12, 22)])
    write_wav(folder / "sub" / "c_mix.wav", mix, sample_rate_hz=SR)
    expected["sub/c_mix.wav"] = "licensable"
    write_wav(folder / "sub" / "d_allowed.wav", excerpt(signals["allowed"], 4, 12), sample_rate_hz=SR)
    expected["sub/d_allowed.wav"] = "allowed"
    write_wav(folder / "e_unrelated.wav", notes(999, duration_s=8.0, sr=SR), sample_rate_hz=SR)
    expected["e_unrelated.wav"] = "unknown"
    (folder / "f_photo.wav").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(2000))
    expected["f_photo.wav"] = "error"
    (folder / "g_empty.wav").write_bytes(b"")
    expected["g_empty.wav"] = "error"
    (folder / "notes.log").write_text("transcripts")  # .log: no engine reads it (.txt is text, issue 18)
    return expected


@pytest.fixture(scope="module")
def scanned(catalogue):
    root, reg_path, signals = catalogue
    expected = make_dataset(root / "dataset", signals)
    with Registry.open(reg_path) as reg:
        summary = scan_dataset(reg, root / "dataset", workers=1)
    return root, reg_path, signals, expected, summary


def test_scan_decides_each_item_under_its_terms(scanned):
    root, reg_path, _, expected, summary = scanned
    with Registry.open(reg_path) as reg:
        items = {it["item_id"]: it for it in scan_items(reg, summary["scan_id"])}
    assert {k: v["decision"] for k, v in items.items()} == expected
    mix = items["sub/c_mix.wav"]
    assert {f["title"] for f in mix["findings"]} == {"allowed", "licensed_usd"}
    usd = next(f for f in mix["findings"] if f["title"] == "licensed_usd")
    assert 9.0 <= usd["query_start_s"] <= 11.5 and usd["query_end_s"] >= 16.0   # the second half of the item
    assert 11.0 <= usd["work_start_s"] <= 14.0
    assert usd["decision"] == "license" and usd["price"] == 50 and usd["currency"] == "USD" and usd["terms_version"] == 1
    assert 0.6 <= mix["coverage"] <= 1.0
    assert items["f_photo.wav"]["error"] == "not audio (image/jpeg)"
    assert items["g_empty.wav"]["error"] == "empty"
    assert all(len(it["sha256"]) == 64 for k, it in items.items() if k != "g_empty.wav")


def test_scan_summary_totals_costs_and_exposure(scanned):
    _, reg_path, _, expected, s = scanned
    t = s["totals"]
    assert t["items"] == len(expected) == 7
    assert (t["refused"], t["licensable"], t["allowed"], t["unknown"], t["error"]) == (1, 2, 1, 1, 2)
    assert s["status"] == "complete" and len(s["dataset_fingerprint"]) == 64
    assert s["licence_cost"] == {"EUR": 100.0, "USD": 50.0}
    assert {w["title"] for w in s["works"]} == {"denied", "licensed_eur", "licensed_usd", "allowed"}
    assert next(w for w in s["works"] if w["title"] == "allowed")["items"] == 2
    creators = {c["creator"]: c for c in s["creators"]}
    assert creators["Bo Chen"]["amount"] == {"USD": 50.0} and creators["Ana Lima"]["refused_works"] == 1
    ex = s["exposure"]
    assert (ex["works_refused"], ex["eligible"]) == (1, 1) and ex["range_usd"]["max"] == 30_000
    assert sum(s["coverage_histogram"]["counts"]) == 4
    assert s["errors"]["count"] == 2 and s["errors"]["by_reason"]["not audio (image/jpeg)"] == 1
    with Registry.open(reg_path) as reg:
        stored = reg.store.list_scans()
        assert s["scan_id"] in [x["scan_id"] for x in stored]
        assert scan_summary(reg, s["scan_id"][:12]) == s        # prefix ids work; the stored summary is returned
        assert s["engine"]["param_hash"] == reg.param_hash


def test_terms_in_force_at_scan_time_are_kept(catalogue, tmp_path):
    root, reg_path, signals = catalogue
    reg_copy = tmp_path / "r.db"
    import shutil

    shutil.copy(reg_path, reg_copy)
    shutil.copytree(str(reg_path) + ".index", str(reg_copy) + ".index")
    data = tmp_path / "ds"
    make_dataset(data, signals)
    with Registry.open(reg_copy) as reg:
        first = scan_dataset(reg, data, workers=1)
        wid = next(w["work_id"] for w in first["works"] if w["title"] == "denied")
        reg.set_terms(wid, Terms("license", 10, "EUR"))
        second = scan_dataset(reg, data, workers=1)
        # The first scan still says what was in force when it ran.
        again = scan_summary(reg, first["scan_id"])
        assert again["totals"]["refused"] == 1 and next(w for w in again["works"] if w["work_id"] == wid)["terms_version"] == 1
        assert second["totals"]["refused"] == 0 and second["licence_cost"]["EUR"] == 110.0
        diff = compare_scans(reg, first["scan_id"], second["scan_id"])
        # A scan under unchanged terms stores no new terms: it shares the second scan's set (schema 8).
        third = scan_dataset(reg, data, workers=1)
        sets = [reg.store.get_scan(s["scan_id"])["terms_set"] for s in (first, second, third)]
        assert sets[0] != sets[1] == sets[2]
        assert third["totals"] == second["totals"]
    assert diff["same_dataset"] is True
    assert diff["changed"] == [{"item_id": "a_denied.wav", "old": "refused", "new": "licensable"}]
    assert diff["terms_changed"][0]["old"] == "deny" and diff["terms_changed"][0]["new_version"] == 2


def test_cli_reports_clean_manifest_and_fail_on(scanned, tmp_path):
    root, reg_path, _, expected, summary = scanned
    r = run("scan", str(root / "dataset"), "--report", str(tmp_path / "a.html"), "--json", str(tmp_path / "a.json"),
            "--csv", str(tmp_path / "a.csv"), "--clean-manifest", str(tmp_path / "ok.jsonl"), "--workers", "1",
            registry=reg_path)
    assert r.returncode == 0, r.stderr
    assert "refused" in r.stdout and "licence cost" in r.stdout
    html = (tmp_path / "a.html").read_text()
    assert "a_denied.wav" in html and "http://" not in html.replace("http://www.w3.org", "")
    doc = json.loads((tmp_path / "a.json").read_text())
    assert len(doc["items"]) == 7 and doc["scan"]["totals"]["refused"] == 1
    rows = list(csv.DictReader(io.StringIO((tmp_path / "a.csv").read_text())))
    assert {r_["item_id"] for r_ in rows} == set(expected)
    kept = [json.loads(line)["id"] for line in (tmp_path / "ok.jsonl").read_text().splitlines()]
    assert sorted(kept) == sorted(k for k, v in expected.items() if v in ("allowed", "unknown"))

    r = run("scan", str(root / "dataset"), "--fail-on", "refused", "--workers", "1", registry=reg_path)
    assert r.returncode == 2, r.stderr
    r = run("scan", str(root / "dataset"), "--fail-on", "bogus", registry=reg_path)
    assert r.returncode == 1 and "--fail-on" in r.stderr and "Traceback" not in r.stderr
    clean = tmp_path / "clean"
    clean.mkdir()
    write_wav(clean / "x.wav", notes(4242, duration_s=6.0, sr=SR), sample_rate_hz=SR)
    r = run("scan", str(clean), "--fail-on", "any", "--workers", "1", registry=reg_path)
    assert r.returncode == 0, r.stderr

    r = run("scans", "list", "--json", registry=reg_path)
    assert r.returncode == 0 and len(r.stdout.splitlines()) >= 3
    sid = summary["scan_id"]
    r = run("scans", "show", sid, "--report", str(tmp_path / "again.html"), "--clean-manifest", str(tmp_path / "ok2.jsonl"),
            "--accept-licensed", registry=reg_path)
    assert r.returncode == 0, r.stderr
    kept2 = [json.loads(line)["id"] for line in (tmp_path / "ok2.jsonl").read_text().splitlines()]
    assert sorted(kept2) == sorted(k for k, v in expected.items() if v in ("allowed", "unknown", "licensable"))
    r = run("scans", "show", "s-nope", registry=reg_path)
    assert r.returncode == 1 and "no scan" in r.stderr


def test_two_workers_give_the_same_results(scanned):
    root, reg_path, _, expected, summary = scanned
    with Registry.open(reg_path) as reg:
        s2 = scan_dataset(reg, root / "dataset", workers=2)
        a = [(i["item_id"], i["decision"], len(i["findings"])) for i in scan_items(reg, summary["scan_id"])]
        b = [(i["item_id"], i["decision"], len(i["findings"])) for i in scan_items(reg, s2["scan_id"])]
    assert a == b
    assert s2["dataset_fingerprint"] == summary["dataset_fingerprint"]


def test_resume_after_interruption_redoes_nothing_finished(catalogue, tmp_path):
    root, reg_path, signals = catalogue
    data = tmp_path / "many"
    data.mkdir()
    for i in range(12):
        write_wav(data / f"{i:02d}.wav", notes(3000 + i, duration_s=3.0, sr=SR), sample_rate_hz=SR)
    calls = []

    def stop_after_five(done: int, item_id: str) -> None:
        calls.append(item_id)
        if done >= 5:
            raise KeyboardInterrupt

    with Registry.open(reg_path) as reg:
        with pytest.raises(KeyboardInterrupt):
            scan_dataset(reg, data, workers=1, progress=stop_after_five)
        partial = reg.store.list_scans()[0]
        assert partial["status"] == "interrupted"
        assert len(reg.store.done_seqs(partial["scan_id"])) == 5
        seen = []
        done = scan_dataset(reg, data, workers=1, resume=True, progress=lambda d, item_id: seen.append(item_id))
    assert done["scan_id"] == partial["scan_id"] and done["totals"]["items"] == 12
    assert [s for s in seen if s] == [f"{i:02d}.wav" for i in range(5, 12)]


def test_resume_after_kill_9(catalogue, tmp_path, monkeypatch):
    from consentry.services import scan as scanning

    root, reg_path, _ = catalogue
    data = tmp_path / "many"
    data.mkdir()
    n = 40
    for i in range(n):
        write_wav(data / f"{i:03d}.wav", notes(5000 + i, duration_s=4.0, sr=SR), sample_rate_hz=SR)
    env = {**os.environ}
    cmd = [sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(reg_path), "scan", str(data), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    stored = 0
    while time.time() < deadline:
        time.sleep(0.2)
        conn = sqlite3.connect(reg_path)
        try:
            row = conn.execute("SELECT scan_id FROM scans WHERE source_spec = ? ORDER BY created_at DESC LIMIT 1", (str(data),)).fetchone()
            stored = conn.execute("SELECT COUNT(*) FROM scan_items WHERE scan_id = ?", (row[0],)).fetchone()[0] if row else 0
        finally:
            conn.close()
        if stored >= 10:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 10 <= stored < n, "the scan should have been killed part-way"
    with Registry.open(reg_path) as reg:
        partial = reg.store.list_scans()[0]
        assert partial["status"] == "running"          # killed: never marked
        stored_ids = {it["item_id"] for it in scan_items(reg, partial["scan_id"])}
        redone = []
        real = scanning.identify_item

        def counting(registry, task):
            redone.append(task["item_id"])
            return real(registry, task)

        monkeypatch.setattr(scanning, "identify_item", counting)
        done = scan_dataset(reg, data, workers=1, resume=True)
        items = list(scan_items(reg, done["scan_id"]))
    assert done["scan_id"] == partial["scan_id"]
    assert [it["item_id"] for it in items] == [f"{i:03d}.wav" for i in range(n)]   # each exactly once
    assert not set(redone) & stored_ids                        # nothing finished was redone
    assert len(redone) == n - len(stored_ids)


def test_manifests_keep_their_format(catalogue, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    root, reg_path, signals = catalogue
    expected = make_dataset(tmp_path / "files", signals)
    names = sorted(expected)
    # JSONL with relative paths, CSV with the same, Parquet with the audio bytes in a Hugging Face style struct.
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"path": f"files/{n}", "text": n}) + "\n" for n in names))
    with open(tmp_path / "m.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "text"])
        for n in names:
            w.writerow([f"files/{n}", n])
    audio = [{"bytes": (tmp_path / "files" / n).read_bytes(), "path": n} for n in names]
    pq.write_table(pa.table({"audio": audio, "text": names}), tmp_path / "m.parquet")
    with Registry.open(reg_path) as reg:
        for manifest, fmt in (("m.jsonl", "jsonl"), ("m.csv", "csv"), ("m.parquet", "parquet")):
            s = scan_dataset(reg, tmp_path / manifest, workers=1)
            decisions = {it["name"].split("/")[-1] if fmt != "parquet" else it["name"]: it["decision"]
                         for it in scan_items(reg, s["scan_id"])}
            assert {k.split("/")[-1]: v for k, v in decisions.items()} == {k.split("/")[-1]: v for k, v in expected.items()}, manifest
            out = tmp_path / f"clean.{fmt}"
            written = write_clean_manifest(reg, s["scan_id"], out)
            assert written["format"] == fmt
            keep = sorted(n for n in names if expected[n] in ("allowed", "unknown"))
            if fmt == "jsonl":
                got = [json.loads(line)["text"] for line in out.read_text().splitlines()]
            elif fmt == "csv":
                got = [r["text"] for r in csv.DictReader(io.StringIO(out.read_text()))]
            else:
                t = pq.read_table(out)
                assert t.schema == pq.read_table(tmp_path / "m.parquet").schema
                got = t.column("text").to_pylist()
            assert sorted(got) == keep, fmt


def test_hostile_tar_shards_are_item_errors(catalogue, tmp_path):
    root, reg_path, signals = catalogue
    wav = io.BytesIO()
    write_wav(tmp_path / "x.wav", excerpt(signals["denied"], 8, 16), sample_rate_hz=SR)
    good = (tmp_path / "x.wav").read_bytes()
    shard = tmp_path / "train-000.tar"
    with tarfile.open(shard, "w") as tf:
        def add(name, data=b"", **kw):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            for k, v in kw.items():
                setattr(info, k, v)
            tf.addfile(info, io.BytesIO(data) if data else None)
        add("0001.wav", good)
        add("0001.json", b'{"caption": "x"}')
        add("../../evil.wav", good)
        add("/abs/evil.wav", good)
        add("0002.wav", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        add("0003.wav", type=tarfile.CHRTYPE)
        add("0004.wav", good)
    with open(tmp_path / "train-001.tar", "wb") as fh:      # a truncated second shard
        fh.write(shard.read_bytes()[:1500])
    before = set(os.listdir(tmp_path))
    with Registry.open(reg_path) as reg:
        s = scan_dataset(reg, str(tmp_path / "train-{000..001}.tar"), workers=1)
        items = list(scan_items(reg, s["scan_id"]))
    assert set(os.listdir(tmp_path)) == before
    assert not (tmp_path.parent.parent / "evil.wav").exists()
    ok = [it for it in items if it["decision"] == "refused"]
    assert len(ok) == 2 and {it["item_id"].split("#")[1] for it in ok} == {"0001", "0004"}
    errors = [it for it in items if it["decision"] == "error"]
    assert len(errors) >= 4 and all(it["error"] for it in errors)
    assert s["totals"]["items"] == len(items)


def test_missing_source_is_one_line_error(catalogue, tmp_path):
    _, reg_path, _ = catalogue
    r = run("scan", str(tmp_path / "nowhere"), registry=reg_path)
    assert r.returncode == 1 and "nowhere" in r.stderr and "Traceback" not in r.stderr
    r = run("scan", str(tmp_path), registry=tmp_path / "no-registry.db")
    assert r.returncode == 1 and "no registry" in r.stderr


# -- TrainingFilter -----------------------------------------------------------------------
def test_training_filter_decides_every_kind_of_example(scanned):
    from consentry.services.training import TrainingFilter

    root, reg_path, signals, expected, _ = scanned
    ds = root / "dataset"
    with TrainingFilter(reg_path) as keep:
        assert keep.decide(ds / "a_denied.wav").verdict == "refused"
        assert keep.decide((ds / "b_eur.wav").read_bytes()).verdict == "licensable"
        d = keep.decide((excerpt(signals["allowed"], 4, 12), SR))
        assert d.verdict == "allowed" and d.accepted and d.matches[0].title == "allowed"
        hf = {"audio": {"array": excerpt(signals["denied"], 8, 16), "sampling_rate": SR}, "text": "x"}
        assert keep.decide(hf).verdict == "refused" and not keep(hf)
        hf_bytes = {"audio": {"bytes": (ds / "sub" / "c_mix.wav").read_bytes(), "path": "c_mix.wav"}}
        d = keep.decide(hf_bytes)
        assert d.verdict == "licensable" and d.licence_cost == {"USD": 50.0}
        assert keep.decide(ds / "f_photo.wav").verdict == "error"
        assert keep.decide({"nothing": 1}).verdict == "error"
        examples = [ds / n for n in sorted(expected)]
        kept = list(keep.filter(iter(examples)))
        assert [p.relative_to(ds).as_posix() for p in kept] == sorted(k for k, v in expected.items() if v in ("allowed", "unknown"))
        clone = pickle.loads(pickle.dumps(keep))          # as DataLoader workers receive it
        assert clone.decide(ds / "a_denied.wav").verdict == "refused"
        clone.close()
    with TrainingFilter(reg_path, accept=("allowed", "unknown", "licensable")) as keep:
        assert keep(ds / "b_eur.wav") and not keep(ds / "a_denied.wav")
    with pytest.raises(Exception, match="verdicts"):
        TrainingFilter(reg_path, accept=("fine",))


# -- ledger ---------------------------------------------------------------------------------
def test_ledger_statements_record_and_verify(catalogue, tmp_path):
    import shutil

    root, reg_path, signals = catalogue
    reg_copy = tmp_path / "r.db"
    shutil.copy(reg_path, reg_copy)
    shutil.copytree(str(reg_path) + ".index", str(reg_copy) + ".index")
    make_dataset(tmp_path / "ds", signals)
    with Registry.open(reg_copy) as reg:
        sid = scan_dataset(reg, tmp_path / "ds", workers=1)["scan_id"]
    r = run("ledger", sid, "--statements", str(tmp_path / "st"), "--json", registry=reg_copy)
    assert r.returncode == 0, r.stderr
    sts = {s["creator"]: s for s in json.loads(r.stdout)}
    assert sts["Ana Lima"]["totals"] == {"EUR": 100.0} and sts["Bo Chen"]["totals"] == {"USD": 50.0}
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == ["Ana-Lima.csv", "Ana-Lima.html", "Bo-Chen.csv", "Bo-Chen.html"]

    r = run("ledger", "record", "--scan", sid, "--run", "model-v1", "--date", "2026-11-01", registry=reg_copy)
    assert r.returncode == 0, r.stderr
    r = run("ledger", "record", "--scan", sid, "--run", "model-v1", registry=reg_copy)
    assert r.returncode == 1 and "already" in r.stderr
    r = run("ledger", "record", "--scan", sid, "--run", "model-v2", registry=reg_copy)
    assert r.returncode == 0
    r = run("ledger", "show", "--run", "model-v1", "--json", registry=reg_copy)
    assert {s["creator"]: s["totals"] for s in json.loads(r.stdout)} == {"Ana Lima": {"EUR": 100.0}, "Bo Chen": {"USD": 50.0}}
    r = run("ledger", "verify", "--json", registry=reg_copy)
    assert r.returncode == 0 and json.loads(r.stdout)["entries"] == 4
    head_after_v1 = None
    entries = [json.loads(line) for line in run("ledger", "list", "--json", registry=reg_copy).stdout.splitlines()]
    head_after_v1 = f"{entries[1]['seq']}:{entries[1]['entry_hash']}"
    r = run("ledger", "verify", "--head", head_after_v1, registry=reg_copy)
    assert r.returncode == 0, r.stderr

    # Someone with the database file lowers an old amount, bypassing the append-only trigger.
    conn = sqlite3.connect(reg_copy)
    conn.execute("DROP TRIGGER ledger_append_only_update")
    body = json.loads(conn.execute("SELECT body FROM ledger_entries WHERE seq = 1").fetchone()[0])
    body["amount"] = 1.0
    conn.execute("UPDATE ledger_entries SET body = ? WHERE seq = 1", (json.dumps(body, sort_keys=True, separators=(",", ":")),))
    conn.commit()
    conn.close()
    r = run("ledger", "verify", registry=reg_copy)
    assert r.returncode == 1 and "altered" in r.stderr

    r = run("ledger", "record", "--work", entries[0]["work_id"], "--run", "x", "--date", "23/11/2026", registry=reg_copy)
    assert r.returncode == 1 and "YYYY-MM-DD" in r.stderr


def test_summary_draft_from_a_scan(scanned, tmp_path):
    root, reg_path, _, _, summary = scanned
    for fmt in ("md", "html", "json"):
        out = tmp_path / f"summary.{fmt}"
        r = run("summary", summary["scan_id"], "--format", fmt, "--out", str(out), registry=reg_path)
        assert r.returncode == 0, r.stderr
        text = out.read_text()
        assert summary["scan_id"] in text
        if fmt == "json":
            json.loads(text)


# -- the documented examples ------------------------------------------------------------------
def _example(name: str):
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, needs", [("filter_loop", None), ("filter_torch", "torch"), ("filter_hf_datasets", "datasets")])
def test_training_filter_examples_run(scanned, name, needs):
    if needs:
        pytest.importorskip(needs)
    root, reg_path, _, expected, _ = scanned
    paths = [str(root / "dataset" / n) for n in sorted(expected) if expected[n] != "error"]
    got = _example(name).usable_files(str(reg_path), paths)
    want = [str(root / "dataset" / n) for n in sorted(expected) if expected[n] in ("allowed", "unknown")]
    assert sorted(got) == sorted(want)
