"""Scans on Ray (issue 20): throughput with 1 and 2 Ray workers, Ray's overhead against a local scan, driver memory.

Self-contained: it synthesises a catalogue and datasets (``consentry.testing.synth``),
starts a Ray cluster on this machine (``ray start --head`` on 127.0.0.1 with
``--cpus`` CPUs, stopped at the end) and runs ``consentry scan`` as a user
would, one process per run:

    .venv/bin/python benchmarks/run_ray.py --seed 1 --out benchmarks/work/ray/seed1.json

- throughput: the same folder of ``--items`` items scanned locally (``--workers
  1``, in one process, and ``--workers 2``) and on Ray with 1 and 2 worker
  actors, ``--repeat`` times alternating; best of the runs; every run must
  give the same totals;
- overhead: Ray with 1 worker against the local scan of the same items, and
  the fixed cost (joining, starting the worker actors) from a 2-item scan;
- driver memory: peak RSS of the ``consentry scan --ray`` process (the
  registry's writer) on WebDataset shards of short items, for each size of
  ``--memory-items``.

Figures are ratios of runs made here, in the same invocation (the machine is
shared). Needs ``pip install 'consentry[ray]'``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from machine import cli, run_info, wav_bytes
from run_scan import make_shards, run_and_watch

HERE = Path(__file__).resolve().parent
SR = 22050


def make_catalogue(work: Path, *, seed: int, works: int, work_s: float) -> tuple[Path, list[np.ndarray]]:
    """A registry of ``works`` synthesised pieces (half denied, half allowed); returns it and the pieces."""
    from consentry import Registry
    from consentry.testing.synth import synthesise_piece

    reg_path = work / "ray-bench.db"
    for side in ("", "-wal", "-shm"):
        Path(str(reg_path) + side).unlink(missing_ok=True)
    shutil.rmtree(str(reg_path) + ".index", ignore_errors=True)
    folder = work / "catalogue"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pieces = []
    for i in range(works):
        x = synthesise_piece(seed * 1000 + i, duration_s=work_s, sample_rate_hz=SR)
        (folder / f"work{i:03d}.wav").write_bytes(wav_bytes(x, sample_rate_hz=SR))
        pieces.append(x)
    from consentry.domain.works import Terms

    with Registry.open(reg_path) as reg:
        files = sorted(folder.iterdir())
        for terms, part in ((Terms("deny"), files[0::2]), (Terms("allow"), files[1::2])):
            reg.register(part, creator="Bench", terms=terms, workers=2)
    return reg_path, pieces


def make_dataset(folder: Path, pieces: list[np.ndarray], *, seed: int, items: int, item_s: float) -> float:
    """``items`` WAV files: excerpts of the pieces with noise (3 in 4) and unrelated pieces; returns seconds of audio."""
    from consentry.testing.synth import synthesise_piece

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    n = int(item_s * SR)
    for i in range(items):
        if i % 4 == 3:
            x = synthesise_piece(seed * 1000 + 500 + i, duration_s=item_s, sample_rate_hz=SR)
        else:
            p = pieces[int(rng.integers(len(pieces)))]
            a = int(rng.integers(0, p.size - n))
            x = p[a:a + n] + 0.02 * rng.standard_normal(n).astype(np.float32)
        (folder / f"item{i:05d}.wav").write_bytes(wav_bytes(x, sample_rate_hz=SR))
    return items * item_s


def newest_scan(reg: Path) -> dict:
    """The summary of the newest scan stored in ``reg``."""
    from consentry import Registry
    from consentry.services.scan import scan_summary, scans_of

    with Registry.open(reg) as r:
        return scan_summary(r, scans_of(r)[0]["scan_id"])


def scan_seconds(reg: Path, data: Path, *extra: str) -> tuple[float, dict]:
    t, _ = cli("scan", str(data), *extra, registry=reg)
    return t, newest_scan(reg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--works", type=int, default=12)
    ap.add_argument("--work-s", type=float, default=60.0)
    ap.add_argument("--items", type=int, default=80)
    ap.add_argument("--item-s", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--memory-items", type=int, nargs="*", default=[500, 5000])
    ap.add_argument("--work", default=str(HERE / "work" / "ray"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    from consentry.testing.ray_cluster import LocalCluster

    info = run_info()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    reg, pieces = make_catalogue(work, seed=a.seed, works=a.works, work_s=a.work_s)
    data = work / "dataset"
    audio_s = make_dataset(data, pieces, seed=a.seed, items=a.items, item_s=a.item_s)
    tiny = work / "tiny"
    make_dataset(tiny, pieces, seed=a.seed + 7, items=2, item_s=a.item_s)
    for f in data.iterdir():
        f.read_bytes()  # the page cache warm for every run alike
    out: dict = {**info, "seed": a.seed, "works": a.works, "items": a.items, "item_s": a.item_s,
                 "audio_hours": round(audio_s / 3600, 4), "cpus": a.cpus}
    with LocalCluster(num_cpus=a.cpus) as cluster:
        runs: dict[str, list[float]] = {"local_1": [], "local_2": [], "ray_1": [], "ray_2": []}
        tiny_runs: dict[str, list[float]] = {"local_1": [], "ray_1": []}
        totals = set()
        for rep in range(a.repeat):
            for name, extra in (("local_1", ("--workers", "1")), ("local_2", ("--workers", "2")),
                                ("ray_1", ("--ray", cluster.address, "--workers", "1")),
                                ("ray_2", ("--ray", cluster.address, "--workers", "2"))):
                t, scan = scan_seconds(reg, data, *extra)
                runs[name].append(round(t, 2))
                totals.add(json.dumps(scan["totals"], sort_keys=True))
                print(f"{name} run {rep + 1}: {t:.1f} s {scan['executor']}", file=sys.stderr)
            for name, extra in (("local_1", ("--workers", "1")), ("ray_1", ("--ray", cluster.address, "--workers", "1"))):
                t, _ = scan_seconds(reg, tiny, *extra)
                tiny_runs[name].append(round(t, 2))
        if len(totals) != 1:
            raise SystemExit(f"runs disagree on the totals: {sorted(totals)}")
        best = {k: min(v) for k, v in runs.items()}
        tiny_best = {k: min(v) for k, v in tiny_runs.items()}
        fixed = tiny_best["ray_1"] - tiny_best["local_1"]
        out["throughput"] = {
            "seconds": runs, "totals": json.loads(totals.pop()),
            "hours_of_audio_per_second": {k: round(audio_s / 3600 / v, 5) for k, v in best.items()},
            "speedup_ray_2_vs_1_workers": round(best["ray_1"] / best["ray_2"], 3),
            "speedup_local_2_vs_1_workers": round(best["local_1"] / best["local_2"], 3),
        }
        out["overhead"] = {
            "ray_1_over_local_1": round(best["ray_1"] / best["local_1"], 3),
            "two_item_scan_seconds": tiny_runs,
            "fixed_seconds_joining_and_starting_workers": round(fixed, 2),
            "per_item_ms_beyond_fixed": round(1000 * (best["ray_1"] - best["local_1"] - fixed) / a.items, 1),
        }
        mem = []
        for n in a.memory_items:
            spec = make_shards(work / f"shards-{n}", n)
            mreg = work / f"mem-{n}.db"
            with __import__("consentry").Registry.open(reg) as r:
                r.backup(mreg)
            cmd = [sys.executable, "-m", "consentry.cli.main", "--registry", str(mreg), "scan", spec,
                   "--ray", cluster.address, "--workers", str(a.cpus)]
            t, code, driver_kb, _ = run_and_watch(cmd)
            if code not in (0, 2):
                raise SystemExit(f"memory run of {n} items failed (exit {code})")
            mem.append({"items": n, "seconds": round(t, 1), "items_per_second": round(n / t, 1),
                        "driver_peak_rss_mb": round(driver_kb / 1024, 1)})
            print(f"memory {n}: {mem[-1]}", file=sys.stderr)
        out["driver_memory"] = mem
        if len(mem) >= 2:
            out["driver_peak_rss_largest_over_smallest"] = round(mem[-1]["driver_peak_rss_mb"] / mem[0]["driver_peak_rss_mb"], 3)
    from machine import load_average

    out["load_average_at_end"] = load_average()
    text = json.dumps(out, indent=1)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
