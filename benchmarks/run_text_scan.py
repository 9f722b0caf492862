"""`consentry scan` of a JSONL text dataset through the service, rows batched and one at a time (issue 18).

    nice -n 10 .venv/bin/python benchmarks/run_text_scan.py --mb 60 --out benchmarks/work/text-scan.json

``benchmarks/run_text.py`` times the engine alone; this times the whole scan
service (``services.scan.scan_dataset`` with one worker, in this process):
reading the JSONL, per row the SHA-256, the sniffers, the embedded-signal
readers, the decoder, the search, the decision and the store.  Registry: the
registered documents of ``run_text.py``'s development corpus (same cache),
registered as a file of articles (one work per row) in a temporary folder.
Datasets, built with ``--seed`` from the unrelated documents (5 % of rows
with a 200-word registered passage):

- ``documents``: one row per whole document (about 27 KB on average);
- ``paragraphs``: the same text cut into rows of about 2 KB.

Each dataset is scanned twice in the same process, in alternating order
(``--repeat``): rows batched (:mod:`consentry.services.scan_text`, the
default) and one row at a time (``TEXT_BATCH_ITEMS = 1``).  A small scan
first loads what every scan loads once (imports, Numba's compiled loops).
Speeds are MB of JSONL per CPU-second of this process (``time.process_time``),
the machine being shared.  With ``--profile`` the batched scan of the
paragraphs is profiled (cProfile, by internal time) into the output.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import run_text  # noqa: E402
from consentry.engines.text import TextEngine  # noqa: E402


def write_rows(path: Path, texts: list[str]) -> int:
    size = 0
    with path.open("w", encoding="utf-8") as fh:
        for t in texts:
            line = json.dumps({"text": t}, ensure_ascii=False) + "\n"
            fh.write(line)
            size += len(line.encode("utf-8"))
    return size


def datasets(unrelated: list[str], registered: list[str], rng: random.Random, mb: float) -> dict[str, list[str]]:
    docs, total = [], 0
    while total < mb * 1e6:
        text = rng.choice(unrelated)
        if rng.random() < 0.05:
            text = text[: len(text) // 2] + " " + (run_text.passage(rng, rng.choice(registered), 200) or "") + " " + \
                text[len(text) // 2:]
        docs.append(text)
        total += len(text.encode("utf-8"))
    paragraphs = []
    for text in docs:
        i = 0
        while i < len(text):
            j = text.find(" ", i + 2000)
            j = len(text) if j < 0 else j
            paragraphs.append(text[i:j])
            i = j
    return {"documents": docs, "paragraphs": paragraphs}


def scan_once(registry, path: Path, *, batched: bool) -> dict:
    from consentry.services import scan_text
    from consentry.services.scan import scan_dataset

    saved = scan_text.TEXT_BATCH_ITEMS
    scan_text.TEXT_BATCH_ITEMS = saved if batched else 1
    try:
        t0, w0 = time.process_time(), time.time()
        summary = scan_dataset(registry, str(path), workers=1)
        cpu, wall = time.process_time() - t0, time.time() - w0
    finally:
        scan_text.TEXT_BATCH_ITEMS = saved
    mb = path.stat().st_size / 1e6
    return {"mb": round(mb, 2), "items": summary["totals"]["items"], "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "mb_per_cpu_s": round(mb / cpu, 2), "refused": summary["totals"]["refused"],
            "errors": summary["totals"]["error"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=60.0, help="MB of text in each dataset")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--cache", type=Path, default=HERE / "work" / "text-corpus.jsonl")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from machine import run_info

    from consentry.services.registry import Registry

    engine = TextEngine()
    docs, _ = run_text.drop_untranslated(run_text.build_corpus(args.cache, engine))
    registered = [d["text"] for d in docs if run_text.is_registered(d)]
    unrelated = [d["text"] for d in docs if not run_text.is_registered(d)]
    work = Path(tempfile.mkdtemp(prefix="consentry-text-scan-"))
    result: dict = {"machine": run_info(), "engine": str(engine.id), "seed": args.seed}
    try:
        articles = work / "works.jsonl"
        with articles.open("w", encoding="utf-8") as fh:
            for i, t in enumerate(registered):
                fh.write(json.dumps({"title": f"doc {i}", "creator": "corpus", "text": t}, ensure_ascii=False) + "\n")
        registry = Registry.open(work / "registry.db")
        t0 = time.time()
        summary = registry.register([articles], terms="deny", workers=1)
        result["registry"] = {"works": len(summary.registered), "mb": round(articles.stat().st_size / 1e6, 2),
                              "register_wall_s": round(time.time() - t0, 1)}
        print(f"registered {result['registry']}", flush=True)
        rng = random.Random(args.seed)
        sets = datasets(unrelated, registered, rng, args.mb)
        warm = work / "warm.jsonl"
        write_rows(warm, sets["documents"][:400])
        scan_once(registry, warm, batched=True)   # imports and compiled loops, once per process
        result["datasets"] = {}
        for name, texts in sets.items():
            path = work / f"{name}.jsonl"
            write_rows(path, texts)
            runs = {"batched": [], "one_row_at_a_time": []}
            for rep in range(args.repeat):
                for batched in ((True, False) if rep % 2 == 0 else (False, True)):
                    r = scan_once(registry, path, batched=batched)
                    runs["batched" if batched else "one_row_at_a_time"].append(r)
                    print(f"{name} {'batched' if batched else 'one row at a time'}: {r}", flush=True)
            best = {k: max(v, key=lambda r: r["mb_per_cpu_s"]) for k, v in runs.items()}
            result["datasets"][name] = {"runs": runs, "rows": len(texts),
                                        "speedup_batched": round(best["batched"]["mb_per_cpu_s"]
                                                                 / best["one_row_at_a_time"]["mb_per_cpu_s"], 2)}
            if args.profile and name == "paragraphs":
                prof = cProfile.Profile()
                prof.enable()
                scan_once(registry, path, batched=True)
                prof.disable()
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
                result["profile_paragraphs_batched"] = out.getvalue().splitlines()
        registry.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(json.dumps({k: v for k, v in result.items() if k != "profile_paragraphs_batched"}, indent=1)[:3000])
    if args.profile:
        print("\n".join(result["profile_paragraphs_batched"][:45]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
