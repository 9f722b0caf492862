"""The text engine against a registry of about 1 GB of real text: scan speed, identify time, index size, memory,
false matches (issue 18).

    apt-get download linux-source-6.1 && dpkg-deb --fsys-tarfile linux-source-6.1_*_all.deb \
        | tar -x -O ./usr/src/linux-source-6.1.tar.xz > /work/scratch/text/linux-source-6.1.tar.xz
    nice -n 10 .venv/bin/python benchmarks/run_text_gb.py --kernel /work/scratch/text/linux-source-6.1.tar.xz \
        --work /work/scratch/text/gb --mb 1000 --out benchmarks/work/text-s6-gb.json

Registry (``--mb`` MB of UTF-8 text, registered through the service as a file of articles, one work per row,
then compacted into one index segment as ``consentry compact`` does):

- the registered documents of ``run_text.py``'s development corpus (34 MB: Python docs, half of GCIDE, the
  Debian Handbook in half its languages), first;
- then the Linux kernel source tree of Debian's ``linux-source-6.1`` (C, headers, reStructuredText
  documentation, scripts, Kconfig, device trees: real text nobody here wrote, each file once, no synthetic
  copies), read in the tarball's order, files that are not UTF-8 or hold a NUL left out, consecutive files of one
  directory joined into works of at most ``--work-kb`` KB (a book's chapters), until ``--mb`` is reached.

What is measured (``--work`` keeps the works file, the registry and its registration
figures between runs; delete it when done):

- registration (wall and CPU time of this process, one worker, claims not detected: one creator), then
  ``Registry.stats()``: index bytes against the registered text's bytes, and the database's size;
- scans (``scan_dataset``, one worker, rows batched), each in a fresh process (``--side``) that reports its CPU
  time, wall time and peak RSS (``VmHWM``): the datasets of ``run_text_scan.py`` (whole unrelated documents
  of the development corpus, 5 % with a 200-word registered passage, and the same cut into ~2 KB rows) of
  ``--scan-mb`` MB, and both at four times that size (memory as the dataset grows; and the rate
  once a scan's fixed costs are paid, from the two sizes' median CPU times), ``--repeat`` processes each;
- identify: a 1,000-word output (900 unrelated words and a 100-word registered passage, as ``run_text.py``)
  located against the registry's memory-mapped segments (median and 95th percentile, wall and CPU time, of
  ``--identify`` queries after a first one, which is reported apart: it pages the index in);
- with ``--queries N``: found top-1 of ``run_text.run_recall``'s forms (verbatim, re-normalised, in HTML, inside
  2,000 unrelated words, 10 % of words replaced, 40-word excerpt) for passages of works drawn from the whole
  registry (mostly kernel files; ``--recall-from dev``: the development corpus's works only), N per form
  (``--repeat 0`` leaves the scans out);
- false matches: ``--false`` 150-word passages of unrelated development documents (the half no fit drew from)
  against the whole registry, counted as ``run_text.run_false`` counts them (a finding that does not share a run
  of 12 consecutive words with the work found is false).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))


def kernel_works(tarball: Path, *, work_bytes: int):
    """``(name, text)`` works of the kernel tarball: consecutive UTF-8 files of one directory joined (a line
    naming each file before it), each work at most about ``work_bytes`` of UTF-8."""
    group, size, folder = [], 0, None
    with tarfile.open(tarball, "r|xz") as tar:
        for member in tar:
            if not member.isfile() or member.size == 0:
                continue
            data = tar.extractfile(member).read()
            if b"\x00" in data:
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            parent = member.name.rsplit("/", 1)[0]
            if group and (parent != folder or size + len(data) > work_bytes):
                yield folder, "\n\n".join(group)
                group, size = [], 0
            folder = parent
            group.append(f"{member.name}\n\n{text}")
            size += len(data)
    if group:
        yield folder, "\n\n".join(group)


def build_works(path: Path, kernel: Path, dev_registered: list[str], *, mb: float, work_kb: int) -> dict:
    """Write the works file (JSONL of articles) once; return what it holds."""
    meta = path.with_suffix(".meta.json")
    if path.is_file() and meta.is_file():
        return json.loads(meta.read_text())
    total = kernel_bytes = 0
    n_dev = n_kernel = 0
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as fh:
        for i, t in enumerate(dev_registered):
            fh.write(json.dumps({"title": f"w{n_dev + n_kernel}", "creator": "corpus", "text": t},
                                ensure_ascii=False) + "\n")
            total += len(t.encode("utf-8"))
            n_dev += 1
        for _folder, t in (kernel_works(kernel, work_bytes=work_kb * 1000) if total < mb * 1e6 else ()):
            if total >= mb * 1e6:
                break
            fh.write(json.dumps({"title": f"w{n_dev + n_kernel}", "creator": "corpus", "text": t},
                                ensure_ascii=False) + "\n")
            b = len(t.encode("utf-8"))
            total += b
            kernel_bytes += b
            n_kernel += 1
    tmp.rename(path)
    out = {"text_mb": round(total / 1e6, 1), "dev_works": n_dev, "kernel_works": n_kernel,
           "kernel_mb": round(kernel_bytes / 1e6, 1), "file_mb": round(path.stat().st_size / 1e6, 1)}
    meta.write_text(json.dumps(out))
    return out


class WorkTexts:
    """The registered texts by fp id minus one (what ``run_text.run_false`` indexes), read from the works file."""

    def __init__(self, registry, works: Path, *, first_rows: int | None = None):
        self.registry, self.works, self._offsets, self.first_rows = registry, works, [], first_rows
        with works.open("rb") as fh:
            pos = 0
            for line in fh:
                self._offsets.append(pos)
                pos += len(line)

    def __len__(self) -> int:
        """The registered works (duplicate rows get none): fp ids 1 .. n, as ``run_text.run_recall`` draws them."""
        n = self.registry.stats()["works"]
        if n not in self.registry.store.works_by_fp_id([n]):
            raise RuntimeError("fp ids are not 1 .. n: run_recall cannot draw works by index")
        if self.first_rows is not None:  # the works of the works file's first rows only (fp ids in row order)
            found = self.registry.store.works_by_fp_id(range(1, min(n, self.first_rows) + 1))
            n = max(fp for fp, w in found.items() if int(w.title[1:]) < self.first_rows)
        return n

    def __getitem__(self, i: int) -> str:
        work = self.registry.store.works_by_fp_id([i + 1])[i + 1]
        n = int(work.title[1:])
        with self.works.open("rb") as fh:
            fh.seek(self._offsets[n])
            return json.loads(fh.readline())["text"]


def peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``, MB): unlike ``ru_maxrss``, not inherited from the parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def side(work: Path, names: list[str]) -> None:
    """One process: scan each dataset once (batched, one worker); a JSON line per scan, with peak RSS and the
    CPU time of the scan's terms snapshot (a cost paid once per scan, growing with the registry's works)."""
    from consentry.services.registry import Registry
    from consentry.services.scan import scan_dataset, terms_snapshot

    registry = Registry.open(work / "registry.db", create=False)
    scan_dataset(registry, str(work / "warm.jsonl"), workers=1)
    from consentry.engines.text import winnowing

    for text in ("plain ascii words " * 50, "caf\u00e9 words " * 50):  # both compiled word passes (uint8, uint32)
        winnowing.words(text)                                        # loaded here, not in a timed scan
    t0 = time.process_time()
    terms_snapshot(registry)
    snapshot_cpu = time.process_time() - t0
    for name in names:
        path = work / f"{name}.jsonl"
        t0, w0 = time.process_time(), time.time()
        summary = scan_dataset(registry, str(path), workers=1)
        cpu, wall = time.process_time() - t0, time.time() - w0
        mb = path.stat().st_size / 1e6
        print(json.dumps({"dataset": name, "mb": round(mb, 2), "items": summary["totals"]["items"],
                          "refused": summary["totals"]["refused"], "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                          "mb_per_cpu_s": round(mb / cpu, 2), "terms_snapshot_cpu_s": round(snapshot_cpu, 2),
                          "peak_rss_mb": peak_rss_mb()}),
              flush=True)
    registry.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", type=Path, help="linux-source-6.1.tar.xz (see the module docstring)")
    ap.add_argument("--work", type=Path, required=True, help="folder for the works file and the registry")
    ap.add_argument("--mb", type=float, default=1000.0, help="MB of registered text")
    ap.add_argument("--work-kb", type=int, default=256, help="largest kernel work, KB")
    ap.add_argument("--scan-mb", type=float, default=12.0, help="MB of each scan dataset (and one 4 times larger)")
    ap.add_argument("--repeat", type=int, default=2, help="processes per scan dataset, in alternating order")
    ap.add_argument("--identify", type=int, default=50)
    ap.add_argument("--false", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=0,
                    help="found top-1 of this many queries per form of run_text.py, of passages of any registered work")
    ap.add_argument("--recall-from", choices=("all", "dev"), default="all",
                    help="draw --queries passages from every work, or from the development corpus's works only")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=HERE / "work" / "text-corpus.jsonl")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--side", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side is not None:
        side(args.work, args.side)
        return 0
    import run_text
    import run_text_scan
    from machine import run_info

    from consentry.engines.text import TextEngine
    from consentry.services.registry import Registry

    engine = TextEngine()
    docs, _ = run_text.drop_untranslated(run_text.build_corpus(args.cache, engine))
    registered = [d["text"] for d in docs if run_text.is_registered(d)]
    unrelated = [d["text"] for d in docs if not run_text.is_registered(d)]
    unrel_test = [d["text"] for d in docs if not run_text.is_registered(d) and not run_text.fit_half(d)]
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = {"machine": run_info(), "engine": str(engine.id), "seed": args.seed}
    works = args.work / "works.jsonl"
    t0 = time.time()
    result["works"] = build_works(works, args.kernel, registered, mb=args.mb, work_kb=args.work_kb)
    result["works"]["build_wall_s"] = round(time.time() - t0, 1)
    print(f"works: {result['works']}", flush=True)
    db = args.work / "registry.db"
    fresh = not db.exists()
    registry = Registry.open(db)
    registered_json = args.work / "register.json"
    if fresh:
        c0, w0 = time.process_time(), time.time()
        summary = registry.register([works], terms="deny", workers=1, detect_claims=False)
        c1, w1 = time.process_time(), time.time()
        merged = registry.compact()
        result["register"] = {"works": len(summary.registered), "cpu_s": round(c1 - c0, 1),
                              "wall_s": round(w1 - w0, 1), "compact_wall_s": round(time.time() - w1, 1),
                              "segments_merged": merged,
                              "mb_per_cpu_s": round(result["works"]["text_mb"] / (c1 - c0), 2)}
        registered_json.write_text(json.dumps(result["register"]))
    elif registered_json.is_file():
        result["register"] = json.loads(registered_json.read_text())
    print(f"registered: {result.get('register')}", flush=True)
    stats = registry.stats()
    text_bytes = result["works"]["text_mb"] * 1e6
    result["index"] = {"segments": stats["index_segments"], "entries": stats["index_entries"],
                       "index_mb": round(stats["index_bytes"] / 1e6, 1),
                       "index_share": round(stats["index_bytes"] / text_bytes, 4),
                       "database_mb": round(stats["database_bytes"] / 1e6, 1), "works": stats["works"]}
    print(f"index: {result['index']}", flush=True)

    # Scans, each dataset in a fresh process (peak RSS per process).
    rng = random.Random(args.seed)
    small = run_text_scan.datasets(unrelated, registered, rng, args.scan_mb)
    large = run_text_scan.datasets(unrelated, registered, random.Random(args.seed + 100), 4 * args.scan_mb)
    for name, texts in (("documents", small["documents"]), ("paragraphs", small["paragraphs"]),
                        ("documents_x4", large["documents"]), ("paragraphs_x4", large["paragraphs"])):
        run_text_scan.write_rows(args.work / f"{name}.jsonl", texts)
    run_text_scan.write_rows(args.work / "warm.jsonl", small["documents"][:400])
    result["scans"] = []
    order = ["documents", "paragraphs", "documents_x4", "paragraphs_x4"] if args.repeat else []
    for rep in range(args.repeat):
        for name in (order if rep % 2 == 0 else order[::-1]):
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--work", str(args.work),
                                   "--side", name], check=True, capture_output=True, text=True)
            for line in proc.stdout.splitlines():
                run = {"rep": rep, **json.loads(line)}
                result["scans"].append(run)
                print(json.dumps(run), flush=True)
    if order:
        med = {n: {k: statistics.median(r[k] for r in result["scans"] if r["dataset"] == n) for k in ("mb", "cpu_s")}
               for n in order}
        # The rate once a scan's fixed costs are paid, from the 1x and 4x datasets' median CPU times.
        for name in ("documents", "paragraphs"):
            big = med[f"{name}_x4"]
            result[f"{name}_marginal_mb_per_cpu_s"] = round(
                (big["mb"] - med[name]["mb"]) / (big["cpu_s"] - med[name]["cpu_s"]), 2)
            print(f"{name} marginal: {result[f'{name}_marginal_mb_per_cpu_s']} MB/CPU-s", flush=True)

    # Identify: a 1,000-word output against the memory-mapped segments.
    segments = registry.store.index_segments(**engine.id.store_key())
    q_rng = random.Random(args.seed + 200)
    times, cpu_times = [], []
    for _ in range(args.identify + 1):
        text = run_text.unrelated_words(q_rng, unrelated, 900) + " " + \
            (run_text.passage(q_rng, q_rng.choice(registered), 100) or "")
        sig = engine.signal(text)
        t1, c1 = time.perf_counter(), time.process_time()
        engine.locate(sig, segments)
        times.append(time.perf_counter() - t1)
        cpu_times.append(time.process_time() - c1)
    first, rest, cpu_rest = times[0], times[1:], cpu_times[1:]
    result["identify_1000_words"] = {"n": len(rest), "first_ms": round(1000 * first, 2),
                                     "median_ms": round(1000 * statistics.median(rest), 2),
                                     "p95_ms": round(1000 * sorted(rest)[int(0.95 * len(rest)) - 1], 2),
                                     "median_cpu_ms": round(1000 * statistics.median(cpu_rest), 2),
                                     "p95_cpu_ms": round(1000 * sorted(cpu_rest)[int(0.95 * len(rest)) - 1], 2)}
    print(f"identify: {result['identify_1000_words']}", flush=True)

    if args.queries:
        vocab = [w for w in run_text.unrelated_words(random.Random(args.seed + 400), unrelated, 20000).split()
                 if w.isalpha()]
        texts = WorkTexts(registry, works, first_rows=result["works"]["dev_works"] if args.recall_from == "dev" else None)
        result["recall_from"] = args.recall_from
        result["recall"] = run_text.run_recall(engine, segments, texts, unrelated, random.Random(args.seed + 500),
                                               args.queries, vocab)

    # False matches against the whole registry.
    fm = run_text.run_false(engine, segments, WorkTexts(registry, works), unrel_test, random.Random(args.seed + 300),
                            args.false)
    result["false_matches"] = fm
    print(f"false: {fm['with_a_finding']} of {args.false} with a finding, {fm['false_matches']} false", flush=True)
    result["peak_rss_mb_main"] = peak_rss_mb()
    registry.close()
    text = json.dumps(result, indent=1, ensure_ascii=False)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(json.dumps({k: v for k, v in result.items() if k != "false_matches"}, indent=1)[:4000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
