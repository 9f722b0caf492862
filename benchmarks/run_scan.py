"""Dataset-scan benchmarks: worker scaling, scan vs identify throughput, flat memory, resume after kill -9.

Run from the repository root with the project's virtual environment, after
``fetch_corpus.sh``, ``make_queries.py --seed 1`` and ``run_registration.py``
(see README.md).  The registry is copied first, so bench.db is left as it is.

    .venv/bin/python benchmarks/run_scan.py throughput --items 300      # 1 vs 2 workers, vs identify
    .venv/bin/python benchmarks/run_scan.py memory --items 1000 100000  # peak RSS as the dataset grows
    .venv/bin/python benchmarks/run_scan.py resume --items 200          # kill -9, then --resume

Every figure is a ratio of runs made here, in the same invocation, on the
same files (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
from machine import cli, copy_registry, wav_bytes

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable


def query_files(queries: Path, n: int) -> list[Path]:
    """The first ``n`` query files in a stable order that mixes variants and negatives."""
    files = sorted(p for p in queries.iterdir() if p.suffix in (".wav", ".mp3", ".flac", ".ogg", ".m4a") and p.is_file())
    step = max(1, len(files) // n)
    return files[::step][:n]


def cmd_throughput(a) -> dict:
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    reg = copy_registry(Path(a.registry), work / "scan-bench.db")
    data = work / "scan-dataset"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    files = query_files(Path(a.queries), a.items)
    for f in files:
        os.symlink(f.resolve(), data / f.name)
    # Warm the page cache for every run alike.
    for f in files:
        f.read_bytes()
    runs: dict[str, list[float]] = {"scan_1": [], "scan_2": [], "identify": []}
    audio_s = None
    for rep in range(a.repeat):
        for workers in (1, 2):
            t, r = cli("scan", str(data), "--workers", str(workers), "--json", str(work / f"scan{workers}.json"), registry=reg)
            doc = json.loads((work / f"scan{workers}.json").read_text())
            audio_s = doc["scan"]["totals"]["audio_s"]
            runs[f"scan_{workers}"].append(t)
        t, r = cli("identify", "--json", *[str(data / f.name) for f in files], registry=reg)
        runs["identify"].append(t)
    best = {k: min(v) for k, v in runs.items()}
    out = {
        "items": len(files), "audio_hours": round(audio_s / 3600, 4), "repeat": a.repeat,
        "seconds": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "hours_per_second": {k: round(audio_s / 3600 / v, 5) for k, v in best.items()},
        "speedup_2_vs_1_workers": round(best["scan_1"] / best["scan_2"], 3),
        "scan_1_worker_time_over_identify_time": round(best["scan_1"] / best["identify"], 3),
        "scan_2_workers_time_over_identify_time": round(best["scan_2"] / best["identify"], 3),
    }
    return out


def make_shards(folder: Path, n: int, *, per_shard: int = 5000, item_s: float = 1.0, sr: int = 8000) -> str:
    """``n`` short synthetic items (distinct chirps and tones in noise) as WebDataset shards; returns a brace pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    t = np.arange(int(item_s * sr)) / sr
    n_shards = (n + per_shard - 1) // per_shard
    for s in range(n_shards):
        with tarfile.open(folder / f"part-{s:04d}.tar", "w") as tf:
            for i in range(s * per_shard, min(n, (s + 1) * per_shard)):
                f0, f1 = rng.uniform(200, 1500, 2)
                x = 0.4 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * item_s))) + 0.05 * rng.standard_normal(t.size)
                data = wav_bytes(x, sample_rate_hz=sr)
                info = tarfile.TarInfo(f"{i:07d}.wav")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                meta = json.dumps({"i": i}).encode()
                info = tarfile.TarInfo(f"{i:07d}.json")
                info.size = len(meta)
                tf.addfile(info, io.BytesIO(meta))
    return str(folder / ("part-{0000..%04d}.tar" % (n_shards - 1)))


def _tree_hwm(root_pid: int) -> dict[int, int]:
    """VmHWM (peak RSS, kB) of a process and its descendants, by pid."""
    out = {}
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                out[pid] = int(line.split()[1])
        todo += [int(c) for c in children]
    return out


def run_and_watch(cmd: list[str]) -> tuple[float, int, int, int]:
    """Run ``cmd``; returns (seconds, exit code, peak RSS of the main process kB, largest peak RSS of a child kB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}
    while proc.poll() is None:
        for pid, kb in _tree_hwm(proc.pid).items():
            peaks[pid] = max(peaks.get(pid, 0), kb)
        time.sleep(0.25)
    main = peaks.pop(proc.pid, 0)
    return time.perf_counter() - t0, proc.returncode, main, max(peaks.values(), default=0)


def cmd_memory(a) -> dict:
    work = Path(a.work)
    reg = copy_registry(Path(a.registry), work / "scan-mem.db")
    rows = []
    for n in a.items:
        pattern = make_shards(work / f"shards-{n}", n)
        t, code, main_kb, child_kb = run_and_watch(
            [PY, "-m", "consentry.adapters.cli.main", "--registry", str(reg), "scan", pattern, "--workers", str(a.workers),
             "--report", str(work / f"mem-{n}.html"), "--csv", str(work / f"mem-{n}.csv")])
        if code not in (0, 2):
            raise SystemExit(f"scan of {n} items failed with {code}")
        rows.append({"items": n, "seconds": round(t, 1), "items_per_second": round(n / t, 1),
                     "peak_rss_main_mb": round(main_kb / 1024, 1), "peak_rss_worker_mb": round(child_kb / 1024, 1)})
        print(rows[-1], flush=True)
    first, last = rows[0], rows[-1]
    return {"workers": a.workers, "runs": rows,
            "main_rss_ratio_largest_over_smallest": round(last["peak_rss_main_mb"] / first["peak_rss_main_mb"], 3),
            "worker_rss_ratio_largest_over_smallest": round(last["peak_rss_worker_mb"] / first["peak_rss_worker_mb"], 3)}


def cmd_resume(a) -> dict:
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    reg = copy_registry(Path(a.registry), work / "scan-resume.db")
    data = work / "resume-dataset"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    files = query_files(Path(a.queries), a.items)
    for f in files:
        os.symlink(f.resolve(), data / f.name)
    proc = subprocess.Popen([PY, "-m", "consentry.adapters.cli.main", "--registry", str(reg), "scan", str(data), "--workers", str(a.workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    stored, last_error = 0, None
    while proc.poll() is None:
        time.sleep(0.1)
        try:
            with sqlite3.connect(reg) as conn:
                row = conn.execute("SELECT scan_id FROM scans ORDER BY created_at DESC LIMIT 1").fetchone()
                stored = conn.execute("SELECT COUNT(*) FROM scan_items WHERE scan_id = ?", (row[0],)).fetchone()[0] if row else 0
        except sqlite3.OperationalError as exc:  # not migrated yet, or busy
            last_error = str(exc)
            continue
        if stored >= len(files) * a.kill_at:
            break
    if proc.poll() is not None:
        raise SystemExit(f"the scan finished before it could be killed (stored {stored}; last error {last_error!r})")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    sys.path.insert(0, str(ROOT / "src"))
    from consentry import Registry
    from consentry.services import scan as scanning
    from consentry.services.scan import scan_dataset, scan_items

    with Registry.open(reg) as r:
        scan = r.store.list_scans()[0]
        stored_ids = {it["item_id"] for it in scan_items(r, scan["scan_id"])}
        redone: list[str] = []
        real = scanning.identify_item

        def counting(registry, task):
            redone.append(task["item_id"])
            return real(registry, task)

        scanning.identify_item = counting   # the resumed run works in this process (workers=1) so every item is seen
        t0 = time.perf_counter()
        summary = scan_dataset(r, data, workers=1, resume=True)
        resume_s = time.perf_counter() - t0
        final_ids = [x[0] for x in r.store.iter_item_hashes(summary["scan_id"])]
    return {"items": len(files), "workers_killed_run": a.workers, "stored_when_killed": len(stored_ids),
            "redone_on_resume": len(redone), "finished_items_redone": len(set(redone) & stored_ids),
            "in_flight_window_of_killed_run": 2 * a.workers, "each_item_stored_once": len(final_ids) == len(set(final_ids)) == len(files),
            "same_scan_id": summary["scan_id"] == scan["scan_id"], "status_after_kill": scan["status"],
            "resume_seconds": round(resume_s, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--registry", default="benchmarks/work/bench.db")
    p.add_argument("--queries", default="benchmarks/work/queries_seed1")
    p.add_argument("--work", default="benchmarks/work/scan")
    p.add_argument("--out", default=None, help="Write the JSON result here too.")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--items", type=int, default=300)
    t.add_argument("--repeat", type=int, default=2)
    m = sub.add_parser("memory")
    m.add_argument("--items", type=int, nargs="+", default=[1000, 100000])
    m.add_argument("--workers", type=int, default=2)
    r = sub.add_parser("resume")
    r.add_argument("--items", type=int, default=200)
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--kill-at", type=float, default=0.4, help="Kill once this share of items is stored.")
    a = p.parse_args()
    Path(a.work).mkdir(parents=True, exist_ok=True)
    result = {"throughput": cmd_throughput, "memory": cmd_memory, "resume": cmd_resume}[a.cmd](a)
    sys.path.insert(0, str(HERE))
    from machine import run_info

    result = {"benchmark": f"scan {a.cmd}", **run_info(), **result}
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
