"""Where a JSONL text scan's CPU time goes, stage by stage, for one tree or two in alternating processes (issue 18).

    nice -n 10 .venv/bin/python benchmarks/profile_text_scan.py --registry /work/scratch/text-s8/gb/registry.db \
        --dataset /work/scratch/text-s8/gb/paragraphs.jsonl --before 8f9310a --rounds 3 \
        --out benchmarks/work/text-s8-stages.json

Each round runs one process per tree (this tree, and with ``--before`` that commit's ``src`` extracted with
``git archive``; before first in odd rounds, after first in even ones).  A process imports ``consentry`` from its
tree, opens a copy of the registry (made once, with its index folder; the scans are stored into it), scans the
dataset's first 400 rows (imports, Numba's compiled loops), searches the whole dataset once untimed (the
memory-mapped index read in), and times each stage with ``time.process_time`` over the whole dataset, every stage in
a separate pass so that no stage's timer sits inside another's:

- ``read_rows``: the dataset's items as the scan makes its tasks (``open_dataset``, JSON parsing, the text's
  UTF-8 encoding, batching: ``services.scan._tasks``);
- ``sniff_decode``: per row what ``scan_text.identify_batch`` does before the engine (the row sniffer, which
  decodes UTF-8 text in the same pass; the row's SHA-256);
- ``engine``: ``TextEngine.locate_many`` on each batch's texts, and inside it (a second pass, the engine's
  module functions wrapped by timers, so the sub-stages add up to a little more than ``engine``): ``words``
  (Unicode folding and word hashing), ``shingles``, ``layout`` (words and shingles sorted out by text, where the
  tree has it), ``minima`` or ``minima_flat`` (winnowing), ``lookup`` (index search and postings), ``verify``
  (seed chaining and the passage rule, per text with seeds) and the rest (``glue``);
- ``matches``: ``services.media.identify_signals``' turning located passages into matches (the works read);
- ``identify_batch``: the whole of ``scan_text.identify_batch`` on every batch (all of the above and the
  per-row results);
- ``scan_parts`` (one more scan, service calls wrapped by timers): ``terms_snapshot``, ``create_scan`` (the
  scan stored with its terms), ``_identify_task`` (the batches: sniff, decode, engine, per-row results),
  ``decide_result``, ``add_scan_items`` (the store's writes), ``iter_item_hashes`` and ``summarize_scan`` (the
  dataset fingerprint and summary at the end), ``update_scan`` and ``rest`` (reading the rows, batching, the loop);
- ``scan``: ``scan_dataset`` with one worker (the above, plus the terms snapshot,
  per-item decisions and the store's writes): ``scan - identify_batch - read_rows`` is the services' share;
  ``terms_snapshot`` (``services.scan.terms_snapshot`` alone, once) is the part of it paid once per scan.

Every stage's time is the median over ``--reps`` passes in the process; MB are the JSONL file's bytes.
``--profile`` adds a cProfile of one scan (by internal time, top 40) to this tree's output.  The digest of the
stored scan items (decisions and findings) must agree between the trees.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _median_cpu(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def side(tree: Path, registry_db: Path, dataset: Path, reps: int, profile: bool) -> None:
    """One process: the stage times of ``tree``'s code on ``dataset``; one JSON line on stdout."""
    sys.path.insert(0, str(tree / "src"))
    from consentry.engines import text as text_engine
    from consentry.engines.text import batch
    from consentry.io.sources import open_dataset
    from consentry.services import media, scan_text
    from consentry.services.registry import Registry
    from consentry.services.scan import _tasks, scan_dataset, terms_snapshot

    work = Path(tempfile.mkdtemp(prefix="text-stages-"))
    try:
        registry = Registry.open(registry_db, create=False)
        warm = work / "warm.jsonl"
        with dataset.open("rb") as src, warm.open("wb") as dst:
            for _, line in zip(range(400), src):
                dst.write(line)
        scan_dataset(registry, str(warm), workers=1)
        from consentry.engines.text import winnowing

        for text in ("plain ascii words " * 50, "caf\u00e9 words " * 50):  # both compiled word passes
            winnowing.words(text)
        mb = dataset.stat().st_size / 1e6
        engine = scan_text._RowSniffer().engine
        segments = registry.store.index_segments(**engine.id.store_key())

        def tasks() -> list[dict]:
            ds = open_dataset(str(dataset))
            return list(_tasks(ds, set(), None, True))

        batches = [t for t in tasks() if "batch" in t]
        sniffer = scan_text._RowSniffer()
        texts = []
        for t in batches:
            texts.append([sniffer.read(sub["data"], sub["name"])[1] for sub in t["batch"]])
        rows = sum(len(t["batch"]) for t in batches)

        def sniff() -> None:
            s = scan_text._RowSniffer()
            for t in batches:
                for sub in t["batch"]:
                    s.read(sub["data"], sub["name"])
                    hashlib.sha256(sub["data"]).hexdigest()

        signals = [[engine.signal(x) for x in group] for group in texts]
        located: list = []

        def locate() -> None:
            located.clear()
            for group in signals:
                located.append(engine.locate_many(group, segments))

        def matches() -> None:
            for group, found in zip(signals, located):
                for s, f in zip(group, found):
                    if f:
                        media._matches(registry, engine, s, f, refine=False, with_evidence=False)

        def identify() -> None:
            for t in batches:
                scan_text.identify_batch(registry, t)

        scan_ids = []

        def scan() -> None:
            scan_ids.append(scan_dataset(registry, str(dataset), workers=1)["scan_id"])

        def digest(scan_id: str) -> str:
            d = hashlib.sha256()
            for item in registry.store.iter_scan_items(scan_id):
                d.update(json.dumps(item, sort_keys=True, default=str).encode())
            return d.hexdigest()[:16]

        locate()   # the index's pages read in once (a scan of a large dataset pays that once), not timed
        out = {"tree": str(tree), "mb": round(mb, 2), "rows": rows, "batches": len(batches), "reps": reps}
        stages = {"read_rows": tasks, "sniff_decode": sniff, "engine": locate, "matches": matches,
                  "identify_batch": identify}
        for name, fn in stages.items():
            out[name] = round(_median_cpu(fn, reps), 3)
        t0 = time.process_time()
        scan()
        scan_times = [time.process_time() - t0]
        for _ in range(reps - 1):
            t0 = time.process_time()
            scan()
            scan_times.append(time.process_time() - t0)
        out["scan"] = round(statistics.median(scan_times), 3)
        t0 = time.process_time()
        snapshot = terms_snapshot(registry)
        out["terms_snapshot"] = round(time.process_time() - t0, 3)
        out["registry_works"] = len(snapshot)
        out["digests"] = sorted({digest(s) for s in scan_ids})
        out["found_rows"] = sum(1 for group in located for f in group if f)

        # Sub-stages of the engine: module functions of batch.py wrapped by timers (one more pass).
        spent: dict[str, float] = {}

        def timed(name, fn):
            def wrapper(*a, **k):
                t0 = time.process_time()
                try:
                    return fn(*a, **k)
                finally:
                    spent[name] = spent.get(name, 0.0) + time.process_time() - t0
            return wrapper

        wrapped = {"words": "words", "shingles": "shingles", "layout": "_layout", "minima": "batch_minima",
                   "minima_flat": "batch_minima_flat", "lookup": "lookup"}
        saved = {attr: getattr(batch, attr) for attr in wrapped.values() if hasattr(batch, attr)}
        for name, attr in wrapped.items():
            if attr in saved:
                setattr(batch, attr, timed(name, saved[attr]))
        verify = text_engine.TextEngine.verify
        text_engine.TextEngine.verify = timed("verify", verify)
        try:
            t0 = time.process_time()
            locate()
            total = time.process_time() - t0
        finally:
            for attr, fn in saved.items():
                setattr(batch, attr, fn)
            text_engine.TextEngine.verify = verify
        out["engine_parts"] = {k: round(v, 3) for k, v in spent.items()}
        out["engine_parts"]["glue"] = round(total - sum(spent.values()), 3)
        out["engine_parts"]["total"] = round(total, 3)

        # A scan's parts (one more scan): the service calls it makes, wrapped by timers.  ``_identify_task`` holds
        # sniff, decode, engine and per-row results; ``rest`` is the scan less the wrapped calls: reading the rows
        # (JSON), batching them, the loop.  The store's calls are wrapped on the store object itself.
        spent.clear()
        from consentry.services import scan as scan_module

        module_calls = [(scan_module, n) for n in ("terms_snapshot", "decide_result", "_identify_task",
                                                   "summarize_scan") if hasattr(scan_module, n)]
        saved_calls = [(m, n, getattr(m, n)) for m, n in module_calls]
        for m, n, fn in saved_calls:
            setattr(m, n, timed(n, fn))
        store = registry.store
        for n in ("create_scan", "add_scan_items", "update_scan"):
            setattr(store, n, timed(n, getattr(store, n)))
        hashes = store.iter_item_hashes
        store.iter_item_hashes = timed("iter_item_hashes", lambda *a, **k: list(hashes(*a, **k)))
        try:
            t0 = time.process_time()
            scan_dataset(registry, str(dataset), workers=1)
            total = time.process_time() - t0
        finally:
            for m, n, fn in saved_calls:
                setattr(m, n, fn)
            for n in ("create_scan", "add_scan_items", "update_scan", "iter_item_hashes"):
                delattr(store, n)
        out["scan_parts"] = {k: round(v, 3) for k, v in spent.items()}
        out["scan_parts"]["rest"] = round(total - sum(spent.values()), 3)
        out["scan_parts"]["total"] = round(total, 3)
        if profile:
            import cProfile
            import io
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            scan_dataset(registry, str(dataset), workers=1)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(40)
            out["profile"] = buf.getvalue().splitlines()
        registry.close()
        print(json.dumps(out), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--registry", type=Path, required=True,
                    help="a registry holding the text works (copied with its index; the copy takes the scans)")
    ap.add_argument("--dataset", type=Path, required=True, help="a JSONL file with a text column")
    ap.add_argument("--before", help="a commit to compare with (its src, by git archive)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3, help="passes per stage in each process (median)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--side", nargs=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        side(Path(args.side[0]), args.registry, args.dataset, args.reps, args.profile)
        return 0
    sys.path.insert(0, str(HERE))
    from machine import run_info

    trees = {"after": HERE.parent}
    tmp = None
    copy = Path(tempfile.mkdtemp(prefix="text-registry-"))
    shutil.copyfile(args.registry, copy / "registry.db")
    shutil.copytree(Path(str(args.registry) + ".index"), copy / "registry.db.index")
    if args.before:
        tmp = Path(tempfile.mkdtemp(prefix="text-before-"))
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", args.before, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        trees["before"] = tmp
    runs = []
    try:
        for r in range(args.rounds):
            order = list(trees) if r % 2 else list(trees)[::-1]
            for name in order:
                cmd = [sys.executable, str(Path(__file__).resolve()), "--registry", str(copy / "registry.db"), "--dataset",
                       str(args.dataset), "--reps", str(args.reps), "--side", str(trees[name])]
                if args.profile and name == "after" and r == 0:
                    cmd.append("--profile")
                w0 = time.time()
                proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
                run = {"tree": name, "round": r, "process_wall_s": round(time.time() - w0, 1),
                       **{k: v for k, v in json.loads(proc.stdout.splitlines()[-1]).items() if k != "tree"}}
                runs.append(run)
                print(json.dumps({k: v for k, v in run.items() if k != "profile"}), flush=True)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = {}
    for name in trees:
        mine = [r for r in runs if r["tree"] == name]
        med = {k: round(statistics.median(r[k] for r in mine), 3)
               for k in ("read_rows", "sniff_decode", "engine", "matches", "identify_batch", "scan", "terms_snapshot")}
        med["scan_mb_per_cpu_s"] = round(mine[0]["mb"] / med["scan"], 2)
        med["engine_mb_per_cpu_s"] = round(mine[0]["mb"] / med["engine"], 2)
        med["digests"] = sorted({d for r in mine for d in r["digests"]})
        med["scan_parts"] = {k: round(statistics.median(r["scan_parts"].get(k, 0.0) for r in mine), 3)
                             for k in mine[0]["scan_parts"]}
        med["engine_parts"] = {k: round(statistics.median(r["engine_parts"].get(k, 0.0) for r in mine), 3)
                               for k in mine[0]["engine_parts"]}
        summary[name] = med
    result = {"machine": run_info(), "registry": str(args.registry), "dataset": str(args.dataset),
              "before": args.before, "runs": runs, "summary": summary}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
