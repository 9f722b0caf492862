"""Top-1 hit rate per variant, false positives on negatives, query latency.

A positive query is a hit when the best match is the file the excerpt was cut
from and the matched line puts the excerpt's start within 2 s of where it was
cut (``work_start_s - query_start_s * speed`` is the offset of the query's
time zero in the work).  A negative query is a false positive when anything
at all is reported.  Latency is the in-process time of ``identify`` (decode
included), after a warm-up query.

    python benchmarks/run_accuracy.py --registry benchmarks/work/bench.db \\
        --queries benchmarks/work/queries_seed1/queries.jsonl --out benchmarks/work/acc_seed1.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from consentry import Registry  # noqa: E402

TARGETS = {"clean": 0.99, "mp3_64k": 0.99, "noise_10db": 0.99, "phone": 0.99, "reverb": 0.99, "short_5s": 0.95}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", default="benchmarks/work/bench.db")
    ap.add_argument("--queries", required=True)
    ap.add_argument("--min-score", type=float, default=None, help="override the engine's threshold")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    queries = [json.loads(line) for line in open(args.queries)]
    outcomes = []
    with Registry.open(args.registry, create=False) as reg:
        reg.identify(queries[0]["path"])
        for q in queries:
            t = time.perf_counter()
            matches = reg.identify(q["path"], min_score=args.min_score)
            elapsed = time.perf_counter() - t
            top = matches[0] if matches else None
            row = {**q, "latency_s": elapsed, "top": top.as_dict() if top else None,
                   "n_matches": len(matches)}
            if q["expected"] == "positive":
                row["right_work"] = bool(top and top.source == q["source_file"])
                offset = (top.work_start_s - top.query_start_s * top.speed) if top else None
                row["offset_error_s"] = None if offset is None else offset - q["source_start_s"]
                row["hit"] = row["right_work"] and abs(row["offset_error_s"]) <= 2.0
            else:
                row["false_positive"] = bool(matches)
            outcomes.append(row)
    by_variant = defaultdict(list)
    for o in outcomes:
        if o["expected"] == "positive":
            by_variant[o["variant"]].append(o)
    print("| variant | queries | top-1 | right work (any offset) | target |")
    print("|---|---|---|---|---|")
    summary = {}
    for variant, rows in by_variant.items():
        hit = np.mean([r["hit"] for r in rows])
        work = np.mean([r["right_work"] for r in rows])
        target = TARGETS.get(variant, 0.97)
        summary[variant] = {"queries": len(rows), "top1": hit, "right_work": work, "target": target}
        print(f"| {variant} | {len(rows)} | {hit:.1%} | {work:.1%} | {'≥'}{target:.0%}{'' if hit >= target else ' (missed)'} |")
    neg = [o for o in outcomes if o["expected"] == "negative"]
    fp = np.mean([o["false_positive"] for o in neg]) if neg else float("nan")
    print(f"\nfalse positives: {sum(o['false_positive'] for o in neg)} of {len(neg)} negative queries ({fp:.2%})")
    lat = defaultdict(list)
    for o in outcomes:
        lat[o["duration_s"]].append(o["latency_s"])
    for d, values in sorted(lat.items()):
        print(f"latency for {d:g}-s queries: p50 {1000 * np.percentile(values, 50):.0f} ms, "
              f"p95 {1000 * np.percentile(values, 95):.0f} ms ({len(values)} queries)")
    scores_neg = [o["top"]["score"] for o in neg if o["top"]]
    if scores_neg:
        print(f"negative scores above threshold: {sorted(scores_neg)}")
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "false_positive_rate": fp, "outcomes": outcomes}, indent=1))


if __name__ == "__main__":
    main()
