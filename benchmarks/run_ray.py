"""Scans on Ray (issue 20): throughput with 1 and 2 Ray workers, Ray's overhead against a local scan, driver memory.

Self-contained: it synthesises a catalogue and datasets (``consentry.testing.synth``),
starts a Ray cluster on this machine (``ray start --head`` on 127.0.0.1 with
``--cpus`` CPUs, stopped at the end) and runs ``consentry scan`` as a user
would, one process per run:

    .venv/bin/python benchmarks/run_ray.py --seed 1 --out benchmarks/work/ray/seed1.json

- throughput: a folder of ``--items`` items and one of three times as many
  (10-s excerpts of the catalogue with noise, and unrelated pieces), each
  scanned locally (``--workers 1``, in one process; ``--workers 2``) and on
  Ray with 1 and 2 worker actors, ``--repeat`` times alternating; best of the
  runs. The difference between the two sizes is the time per item with the
  fixed costs (start, joining the cluster, the workers' imports) cancelled;
  every run of a size must give the same totals. CPU time of the driver, its
  workers and the cluster's processes is sampled too (cores a run kept busy);
- overhead: Ray with 1 worker against the local scan, per item and in fixed
  seconds;
- driver memory: peak RSS of the ``consentry scan --ray`` process (the
  registry's writer) on WebDataset shards of short items
  (``--memory-per-shard`` items a shard), for each size of ``--memory-items``;
  with ``--memory-format csvtext``, a text dataset of one CSV file of
  ``--memory-items`` rows of about 20 kB of words each (quoted, with
  newlines; listed then read by the workers since issue 20's session 6);
  with ``--memory-format warc``, one ``.warc.gz`` of as many HTML responses
  holding the same texts (listed then read by the workers since session 7);
  with ``--memory-format jsonl``, the same items as one JSONL manifest of
  base64 rows (read by the workers in two passes since issue 20's session 5).

With ``--archive``, the throughput datasets are WebDataset tar shards of
``--per-shard`` items (the same items), which the Ray workers read
themselves (issue 20, docs/cluster.md); a local scan reads them in its own
process and hands the bytes to its workers.

Figures are ratios of runs made here, in the same invocation (the machine is
shared). Needs ``pip install 'consentry[ray]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import run_info, wav_bytes
from run_scan import make_shards

HERE = Path(__file__).resolve().parent
SR = 22050


def remove_registry(path: Path) -> Path:
    """Delete a registry left by an earlier run (database, its sidecars, its index folder); returns ``path``."""
    for side in ("", "-wal", "-shm", ".lock"):
        Path(str(path) + side).unlink(missing_ok=True)
    shutil.rmtree(str(path) + ".index", ignore_errors=True)
    return path


def make_catalogue(work: Path, *, seed: int, works: int, work_s: float) -> tuple[Path, list[np.ndarray]]:
    """A registry of ``works`` synthesised pieces (half denied, half allowed); returns it and the pieces."""
    from consentry import Registry
    from consentry.testing.synth import synthesise_piece

    reg_path = remove_registry(work / "ray-bench.db")
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


def driver_peak_rss(cmd: list[str], log: Path) -> tuple[float, int, int, int]:
    """Run ``cmd`` (its standard error into ``log``); returns (seconds, exit code, peak RSS of that process, kB,
    bytes it read: ``rchar`` of /proc/PID/io, every read call, page cache or not, at its last sample)."""
    import subprocess

    t0 = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        peak = read = 0
        while proc.poll() is None:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
                for line in Path(f"/proc/{proc.pid}/io").read_text().splitlines():
                    if line.startswith("rchar:"):
                        read = max(read, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.25)
    return time.perf_counter() - t0, proc.returncode, peak, read


def pack_shards(files: list[Path], folder: Path, *, per_shard: int) -> Path:
    """The files as WebDataset shards of ``per_shard`` samples (``part-0000.tar``, ...); returns a brace pattern."""
    import tarfile

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    n_shards = (len(files) + per_shard - 1) // per_shard
    for s in range(n_shards):
        with tarfile.open(folder / f"part-{s:04d}.tar", "w") as tar:
            for f in files[s * per_shard:(s + 1) * per_shard]:
                tar.add(f, arcname=f.name)
    return folder / ("part-{0000..%04d}.tar" % (n_shards - 1))


def pack_zips(files: list[Path], folder: Path, *, per_shard: int) -> Path:
    """The files as one zip archive (stored, not deflated: WAV), the only kind a zip dataset is; refuses more
    files than ``per_shard`` (a zip dataset is one archive); returns its path."""
    import zipfile

    if len(files) > per_shard:
        raise SystemExit(f"--archive-format zip: {len(files)} items do not fit one zip of --per-shard {per_shard}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out = folder / "items.zip"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for f in files:
            archive.write(f, arcname=f.name)
    return out


def word_texts(rows: int, *, seed: int):
    """``rows`` texts of about 20 kB of random words each, in paragraphs."""
    rng = np.random.default_rng(seed)
    words = ["".join(chr(97 + c) for c in rng.integers(0, 26, size=int(rng.integers(2, 9)))) for _ in range(2000)]
    for _row in range(rows):
        picks = rng.integers(0, len(words), size=3000)
        yield "\n\n".join(" ".join(words[i] for i in picks[k:k + 100]) for k in range(0, picks.size, 100))


def csv_texts(out: Path, rows: int, *, seed: int) -> Path:
    """A CSV text dataset: a header ``id,text`` and ``rows`` rows of about 20 kB of random words, in
    paragraphs (quoted fields holding newlines); returns its path."""
    import csv

    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        for row, text in enumerate(word_texts(rows, seed=seed)):
            writer.writerow([row, text])
    return out


def warc_texts(out: Path, rows: int, *, seed: int) -> Path:
    """A crawl archive (``.warc.gz``, one gzip member per record) of ``rows`` HTML responses holding the
    texts of :func:`word_texts`; returns its path."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(out, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for row, text in enumerate(word_texts(rows, seed=seed)):
            body = ("<html><body><p>" + text.replace("\n\n", "</p><p>") + "</p></body></html>").encode()
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://example.org/{row}", "response",
                                                          payload=io.BytesIO(body), http_headers=headers))
    return out


def shards_to_jsonl(folder: Path, out: Path) -> Path:
    """The samples of the shards in ``folder`` as one JSONL manifest, a row ``{"audio": {"bytes": base64, "path"}}``
    per member (what a Hugging Face export of an audio column looks like)."""
    import base64
    import tarfile

    with open(out, "w", encoding="utf-8") as fh:
        for shard in sorted(folder.glob("*.tar")):
            with tarfile.open(shard) as tar:
                for member in tar:
                    if member.isfile():
                        data = tar.extractfile(member).read()
                        fh.write(json.dumps({"audio": {"bytes": base64.b64encode(data).decode(), "path": member.name}})
                                 + "\n")
    return out


def newest_scan(reg: Path) -> dict:
    """The summary of the newest scan stored in ``reg``."""
    from consentry import Registry
    from consentry.services.scan import scan_summary, scans_of

    with Registry.open(reg) as r:
        return scan_summary(r, scans_of(r)[0]["scan_id"])


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def scan_seconds(reg: Path, data: Path, *extra: str, cluster=None) -> tuple[float, dict, float]:
    """Run ``consentry scan``; (wall seconds, the scan's summary, CPU seconds of the driver and its workers).

    CPU time is sampled every 0.1 s for the driver, its child processes and
    (with ``cluster``) every process of the cluster (head, raylet, workers),
    counting only what each spent during the run; what a process spends
    after its last sample is not counted.
    """
    import subprocess

    cmd = [sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(reg), "scan", str(data), *extra]
    before = {pid: _cpu_s(pid) or 0.0 for pid in (cluster.processes() if cluster else [])}
    t0 = time.perf_counter()
    err_file = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file, text=True)
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        for pid in [proc.pid, *_children(proc.pid), *(cluster.processes() if cluster else [])]:
            c = _cpu_s(pid)
            if c is not None:
                cpu[pid] = max(cpu.get(pid, 0.0), c - before.get(pid, 0.0))
        time.sleep(0.1)
    t = time.perf_counter() - t0
    err_file.seek(0)
    err = err_file.read()
    err_file.close()
    if proc.returncode not in (0, 2):
        raise SystemExit(f"consentry scan {' '.join(extra)} failed: {err.strip()[-800:]}")
    return t, newest_scan(reg), sum(cpu.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--works", type=int, default=12)
    ap.add_argument("--work-s", type=float, default=60.0)
    ap.add_argument("--items", type=int, default=40, help="the small dataset; the large one has three times as many")
    ap.add_argument("--item-s", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--memory-items", type=int, nargs="*", default=[500, 5000])
    ap.add_argument("--memory-per-shard", type=int, default=250)
    ap.add_argument("--archive", action="store_true", help="throughput on tar shards instead of a folder")
    ap.add_argument("--per-shard", type=int, default=5, help="items per shard with --archive")
    ap.add_argument("--archive-format", choices=["tar", "zip"], default="tar",
                    help="with --archive: tar shards, or zip archives of --per-shard items (one zip: one dataset)")
    ap.add_argument("--memory-only", action="store_true", help="only the driver-memory runs")
    ap.add_argument("--memory-format", choices=["tar", "jsonl", "csvtext", "warc"], default="tar",
                    help="the driver-memory datasets: tar shards, one JSONL manifest of base64 rows, or one CSV of texts")
    ap.add_argument("--work", default=str(HERE / "work" / "ray"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    from consentry import Registry
    from consentry.testing.ray_cluster import LocalCluster

    info = run_info()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    reg, pieces = make_catalogue(work, seed=a.seed, works=a.works, work_s=a.work_s)
    large = work / "dataset-large"
    make_dataset(large, pieces, seed=a.seed, items=3 * a.items, item_s=a.item_s)
    small = work / "dataset-small"
    shutil.rmtree(small, ignore_errors=True)
    small.mkdir()
    for f in sorted(large.iterdir())[:a.items]:
        os.symlink(f, small / f.name)
    sizes = {"small": (small, a.items), "large": (large, 3 * a.items)}
    if a.archive:
        files = sorted(large.iterdir())
        pack = pack_zips if a.archive_format == "zip" else pack_shards
        sizes = {"small": (pack(files[:a.items], work / "shards-small", per_shard=a.per_shard), a.items),
                 "large": (pack(files, work / "shards-large", per_shard=a.per_shard), 3 * a.items)}
        for folder in (work / "shards-small", work / "shards-large"):
            for f in folder.iterdir():
                f.read_bytes()
    for f in large.iterdir():
        f.read_bytes()  # the page cache warm for every run alike
    out: dict = {**info, "seed": a.seed, "works": a.works, "items": {k: n for k, (_, n) in sizes.items()},
                 "item_s": a.item_s, "cpus": a.cpus,
                 "dataset": f"{a.archive_format} archives of {a.per_shard} items" if a.archive else "folder"}
    configs = {"local_1": ("--workers", "1"), "local_2": ("--workers", "2")}
    with LocalCluster(num_cpus=a.cpus) as cluster:
        configs.update({"ray_1": ("--ray", cluster.address, "--workers", "1"),
                        "ray_2": ("--ray", cluster.address, "--workers", "2")})
        runs = {size: {k: [] for k in configs} for size in sizes}
        cpu = {size: {k: [] for k in configs} for size in sizes}
        totals = {size: set() for size in sizes}
        for rep in range(0 if a.memory_only else a.repeat):
            for name, extra in configs.items():
                for size, (folder, n) in sizes.items():
                    t, scan, cpu_s = scan_seconds(reg, folder, *extra, cluster=cluster if name.startswith("ray") else None)
                    runs[size][name].append(round(t, 2))
                    cpu[size][name].append(round(cpu_s, 2))
                    totals[size].add(json.dumps(scan["totals"], sort_keys=True))
                    print(f"{name} {size} run {rep + 1}: {t:.1f} s, {cpu_s:.1f} CPU-s {scan['executor']}", file=sys.stderr)
        if not a.memory_only and any(len(v) != 1 for v in totals.values()):
            raise SystemExit(f"runs disagree on the totals: {totals}")
        if not a.memory_only:
            best = {size: {k: min(v) for k, v in r.items()} for size, r in runs.items()}
            extra_items = 2 * a.items
            # Time per item beyond the fixed costs (starting, joining, workers' imports): the difference of the two sizes.
            per_item = {k: (best["large"][k] - best["small"][k]) / extra_items for k in configs}
            fixed = {k: best["small"][k] - a.items * per_item[k] for k in configs}
            out["throughput"] = {
                "seconds": runs,
                "totals_large": json.loads(totals["large"].pop()),
                "marginal_ms_per_item": {k: round(1000 * v, 1) for k, v in per_item.items()},
                "marginal_hours_of_audio_per_second": {k: round(a.item_s / 3600 / v, 5) for k, v in per_item.items()},
                "speedup_ray_2_vs_1_workers": round(per_item["ray_1"] / per_item["ray_2"], 3),
                "speedup_local_2_vs_1_workers": round(per_item["local_1"] / per_item["local_2"], 3),
                "cpu_seconds": cpu,
                # CPU per item beyond the fixed costs, from the least CPU of each size (contention inflates CPU little)
                "marginal_cpu_ms_per_item": {k: round(1000 * (min(cpu["large"][k]) - min(cpu["small"][k])) / extra_items, 1)
                                             for k in configs},
                # cores a run kept busy on average (large dataset, best run): at most its workers (+ the driver's share);
                # less when other load on the machine takes the rest
                "cores_busy_large": {k: round(cpu["large"][k][runs["large"][k].index(best["large"][k])] / best["large"][k], 2)
                                     for k in configs},
            }
            out["overhead"] = {
                "ray_1_over_local_1_per_item": round(per_item["ray_1"] / per_item["local_1"], 3),
                "ray_1_over_local_1_large_dataset": round(best["large"]["ray_1"] / best["large"]["local_1"], 3),
                "fixed_seconds": {k: round(v, 2) for k, v in fixed.items()},
                "fixed_cpu_seconds": {k: round(min(cpu["small"][k]) - a.items * (min(cpu["large"][k]) - min(cpu["small"][k]))
                                               / extra_items, 2) for k in configs},
            }
        mem = []
        for n in a.memory_items:
            spec = make_shards(work / f"shards-{n}", n, per_shard=a.memory_per_shard)
            files = list((work / f"shards-{n}").iterdir())
            if a.memory_format == "csvtext":
                spec = str(csv_texts(work / f"texts-{n}.csv", n, seed=a.seed))
                files = [Path(spec)]
            if a.memory_format == "warc":
                spec = str(warc_texts(work / f"crawl-{n}.warc.gz", n, seed=a.seed))
                files = [Path(spec)]
            if a.memory_format == "jsonl":
                spec = str(shards_to_jsonl(work / f"shards-{n}", work / f"rows-{n}.jsonl"))
                files = [Path(spec)]
            mreg = remove_registry(work / f"mem-{n}.db")
            with Registry.open(reg) as r:
                r.backup(mreg)
            cmd = [sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(mreg), "scan", spec,
                   "--ray", cluster.address, "--workers", str(a.cpus)]
            log = work / f"mem-{n}.stderr"
            t, code, driver_kb, driver_read = driver_peak_rss(cmd, log)
            if code not in (0, 2):
                raise SystemExit(f"memory run of {n} items failed (exit {code}): {log.read_text()[-800:]}")
            mem.append({"items": n, "shards": -(-n // a.memory_per_shard), "seconds": round(t, 1), "items_per_second": round(n / t, 1),
                        "driver_peak_rss_mb": round(driver_kb / 1024, 1),
                        "format": a.memory_format, "dataset_mb": round(sum(f.stat().st_size for f in files) / 2**20, 1),
                        "driver_read_mb": round(driver_read / 2**20, 1)})
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
