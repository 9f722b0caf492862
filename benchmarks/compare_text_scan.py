"""The scan service on text rows, this tree against an earlier commit, in alternating processes (issue 18).

    nice -n 10 .venv/bin/python benchmarks/compare_text_scan.py --before a4c8838 --mb 12 --rounds 3 \
        --out benchmarks/work/text-s5-compare.json

``run_text_scan.py`` times one tree; a change's gain on a shared machine
needs both trees timed in the same run.  The commit ``--before`` is
extracted (``git archive``: ``src`` and ``benchmarks``) into a temporary
folder; one registry and the datasets of ``run_text_scan.py`` (whole
documents, ~2 KB paragraphs; ``--seed``) are made once with this tree's
code; then each round runs one process per tree, before first in odd
rounds and after first in even ones.  A process imports ``consentry`` from its
tree, scans a warm-up file (imports, Numba's compiled loops; and the word pass of an
ASCII and a non-ASCII text, so that neither of its compiled forms loads in a timed scan), then scans
each dataset ``--reps`` times batched with one worker, and reports CPU
time (``time.process_time``) and wall time per scan, and a digest of the
stored items (they must be equal: the same findings and decisions).
Speeds are MB of JSONL per CPU-second; best and median over all scans of a
tree and dataset.
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
DATASETS = ("documents", "paragraphs")


def side(tree: Path, work: Path, reps: int, registry_db: Path | None = None) -> None:
    """One process: scan the datasets in ``work`` with the code of ``tree``; JSON lines on stdout."""
    sys.path.insert(0, str(tree / "src"))
    from consentry.services.registry import Registry
    from consentry.services.scan import scan_dataset

    registry = Registry.open(registry_db or work / "registry.db", create=False)
    scan_dataset(registry, str(work / "warm.jsonl"), workers=1)
    from consentry.engines.text import winnowing

    for text in ("plain ascii words " * 50, "caf\u00e9 words " * 50):  # both compiled word passes (uint8, uint32)
        winnowing.words(text)                                        # loaded here, not in a timed scan
    for rep in range(reps):
        for name in DATASETS:
            path = work / f"{name}.jsonl"
            t0, w0 = time.process_time(), time.time()
            summary = scan_dataset(registry, str(path), workers=1)
            cpu, wall = time.process_time() - t0, time.time() - w0
            digest = hashlib.sha256()
            for item in registry.store.iter_scan_items(summary["scan_id"]):
                digest.update(json.dumps(item, sort_keys=True, default=str).encode())
            mb = path.stat().st_size / 1e6
            print(json.dumps({"dataset": name, "rep": rep, "mb": round(mb, 2), "items": summary["totals"]["items"],
                              "refused": summary["totals"]["refused"], "cpu_s": round(cpu, 3),
                              "wall_s": round(wall, 3), "mb_per_cpu_s": round(mb / cpu, 2),
                              "digest": digest.hexdigest()[:16]}), flush=True)
    registry.close()


def prepare(work: Path, mb: float, seed: int, cache: Path, registry_db: Path | None = None) -> dict:
    """The registry (the development corpus's registered documents, one work per row; or ``registry_db``, made
    beforehand, which holds them) and the datasets."""
    import random

    sys.path.insert(0, str(HERE.parent / "src"))
    sys.path.insert(0, str(HERE))
    import run_text
    import run_text_scan
    from consentry.engines.text import TextEngine
    from consentry.services.registry import Registry

    engine = TextEngine()
    docs, _ = run_text.drop_untranslated(run_text.build_corpus(cache, engine))
    registered = [d["text"] for d in docs if run_text.is_registered(d)]
    unrelated = [d["text"] for d in docs if not run_text.is_registered(d)]
    articles = work / "works.jsonl"
    with articles.open("w", encoding="utf-8") as fh:
        for i, t in enumerate(registered):
            fh.write(json.dumps({"title": f"doc {i}", "creator": "corpus", "text": t}, ensure_ascii=False) + "\n")
    if registry_db is None:
        with Registry.open(work / "registry.db") as registry:
            registry.register([articles], terms="deny", workers=1)
    sets = run_text_scan.datasets(unrelated, registered, random.Random(seed), mb)
    out = {"registry_mb": round(articles.stat().st_size / 1e6, 2), "registry_works": len(registered)} \
        if registry_db is None else {"registry": str(registry_db)}
    for name in DATASETS:
        run_text_scan.write_rows(work / f"{name}.jsonl", sets[name])
        out[f"{name}_rows"] = len(sets[name])
    run_text_scan.write_rows(work / "warm.jsonl", sets["documents"][:400])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="the earlier commit (git revision)")
    ap.add_argument("--after", help="the later commit (default: this working tree)")
    ap.add_argument("--mb", type=float, default=12.0, help="MB of text in each dataset")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2, help="scans of each dataset per process")
    ap.add_argument("--cache", type=Path, default=HERE / "work" / "text-corpus.jsonl")
    ap.add_argument("--registry", type=Path, default=None,
                    help="scan against this registry (e.g. run_text_gb.py's 1 GB one) instead of the dev registry; "
                         "both trees must read its schema; the scans' records are added to it")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--side", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side is not None:
        side(args.side, args.work, args.reps, args.registry)
        return 0
    if not args.before:
        ap.error("--before REV is needed")
    from machine import run_info

    root = HERE.parent
    rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", args.before], check=True,
                         capture_output=True, text=True).stdout.strip()
    after_rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", args.after or "HEAD"], check=True,
                               capture_output=True, text=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="consentry-text-compare-"))

    def extract(revision: str, folder: Path) -> Path:
        folder.mkdir()
        archive = subprocess.run(["git", "-C", str(root), "archive", revision, "src", "benchmarks"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        return folder

    try:
        before = extract(rev, tmp / "before")
        after = extract(after_rev, tmp / "after") if args.after else root
        work = tmp / "work"
        work.mkdir()
        result: dict = {"machine": run_info(), "before": rev,
                        "after": after_rev if args.after else f"{after_rev} + working tree", "seed": args.seed,
                        "registry": str(args.registry) if args.registry else "dev (made here)",
                        "data": prepare(work, args.mb, args.seed, args.cache, args.registry), "runs": []}
        print(json.dumps(result["data"]), flush=True)
        for r in range(args.rounds):
            order = [("before", before), ("after", after)]
            for label, tree in (order if r % 2 == 0 else order[::-1]):
                proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--side", str(tree),
                                       "--work", str(work), "--reps", str(args.reps)]
                                      + (["--registry", str(args.registry)] if args.registry else []),
                                      check=True, capture_output=True, text=True)
                for line in proc.stdout.splitlines():
                    run = {"tree": label, "round": r, **json.loads(line)}
                    result["runs"].append(run)
                    print(json.dumps(run), flush=True)
        summary = {}
        for name in DATASETS:
            row = {}
            for label in ("before", "after"):
                speeds = [x["mb_per_cpu_s"] for x in result["runs"] if x["tree"] == label and x["dataset"] == name]
                row[label] = {"scans": len(speeds), "best": max(speeds), "median": statistics.median(speeds)}
            digests = {x["digest"] for x in result["runs"] if x["dataset"] == name}
            row["same_items"] = len(digests) == 1
            row["gain_best"] = round(row["after"]["best"] / row["before"]["best"], 3)
            row["gain_median"] = round(row["after"]["median"] / row["before"]["median"], 3)
            summary[name] = row
        result["summary"] = summary
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
