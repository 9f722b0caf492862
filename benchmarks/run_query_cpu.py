"""CPU per identify in a batch of queries, optionally beside another checkout's code, and whether both give the same matches.

    python benchmarks/run_query_cpu.py --registry benchmarks/work/music/bench.db --total-hours 12 \\
        --queries benchmarks/work/music/seed1_subset_40_40.jsonl --positives 80 --negatives 20 --excerpts 40 \\
        --rounds 3 --compare-src /tmp/base/src --work benchmarks/work/music/querycpu --out FILE

What it builds (once, in ``--work``; delete the folder to build again):

- with ``--total-hours H``: a copy of ``--registry`` with synthetic hours added until the index holds
  H hours, made as ``scale_index.py`` makes its synthetic hours (whole keys of half B of the works, each
  copied Poisson times; seed 7 + H); without it, the registry itself is searched;
- the queries, written as 8-kHz mono WAV files (so a query's decoding is a file read, as in
  scale_index.py): ``--excerpts`` clean 10-s excerpts of half A's works (seed 11), then the first
  ``--positives`` and ``--negatives`` 10-s queries of ``--queries`` (a make_queries.py file: the SoX
  variants) in a fixed shuffled order (seed 5), each decoded to 8 kHz once.

What is timed: ``Registry.identify(path)`` of every query, one at a time in one process, after one
untimed warm-up query, ``--rounds`` times; CPU time (``time.process_time``: this process's user +
system time) per call.  Reported per code: the mean and median over all calls, and the mean over
queries of each query's smallest CPU time of the rounds (the least disturbed by other jobs).  With
``--compare-src DIR`` the same is run with ``PYTHONPATH=DIR`` (another checkout's ``src``), the two
codes alternating ``--pairs`` times, each in a fresh process; the matches of the first round are
compared, field by field, between the codes and between pairs (``same_matches``).  On a shared
machine read the CPU times, and only as a ratio of codes measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import run_info  # noqa: E402

SYNTHETIC_SEED = 7


def build(args) -> tuple[Path, Path]:
    """The registry to search and the list of query files (built once in ``args.work``)."""
    import scale_index as si
    from consentry import engines
    from consentry.engines.music.params import DEFAULT_PARAMS, ENGINE_NAME
    from consentry.io.decode import decode_audio
    from consentry.services.registry import Registry

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    qlist = work / "queries.jsonl"
    registry = Path(args.registry)
    params = DEFAULT_PARAMS
    engine = engines.get("music", params=params)
    with Registry.open(registry, create=False, params=params) as reg:
        works = [w for w in reg.works() if (w.engine_version, w.param_hash) == (params.version, params.param_hash())]
        segs = reg.store.index_segments(engine=ENGINE_NAME, engine_version=params.version, param_hash=params.param_hash())
        keys = np.concatenate([np.asarray(s.keys) for s in segs])
        fp = np.concatenate([engine.fp_ids(np.asarray(s.values)) for s in segs])
    real_h = sum(w.duration_s for w in works) / 3600
    if args.total_hours:
        copy = work / "search.db"
        if not copy.exists():
            import shutil

            shutil.copy(registry, copy)
            shutil.copytree(str(registry) + ".index", str(copy) + ".index")
            b_ids = np.array(sorted(w.fp_id for w in works if si.half_of(w.work_id) == "B"), dtype=np.int64)
            keys_b, counts_b = np.unique(keys[np.isin(fp, b_ids)], return_counts=True)
            with Registry.open(copy, params=params) as reg:
                stem, n = si.write_synthetic_segment(reg.store, engine, args.total_hours - real_h,
                                                     keys.size / (real_h * 3600), keys_b, counts_b,
                                                     seed=SYNTHETIC_SEED + int(args.total_hours))
                reg.store.adopt_segment(stem, engine=ENGINE_NAME, engine_version=params.version,
                                        param_hash=params.param_hash())
        registry = copy
    if not qlist.exists():
        rows = []
        rng = np.random.default_rng(11)
        half_a = [w for w in works if si.half_of(w.work_id) == "A"]
        for i in range(args.excerpts):
            w = half_a[int(rng.integers(len(half_a)))]
            start = float(rng.uniform(0, max(0.0, w.duration_s - 10.5)))
            audio = decode_audio(w.source, sample_rate_hz=params.sample_rate_hz, start_s=start, max_duration_s=10.0)
            path = work / f"a{i:03d}.wav"
            si.write_wav(path, audio.samples, params.sample_rate_hz)
            rows.append({"path": str(path), "kind": "clean excerpt, half A"})
        if args.queries:
            qs = [json.loads(line) for line in open(args.queries) if line.strip()]
            qs = [q for q in qs if q.get("duration_s", 10.0) == 10.0]
            random.Random(5).shuffle(qs)
            picked = ([q for q in qs if q["expected"] == "positive"][: args.positives]
                      + [q for q in qs if q["expected"] == "negative"][: args.negatives])
            for j, q in enumerate(picked):
                audio = decode_audio(q["path"], sample_rate_hz=params.sample_rate_hz)
                path = work / f"q{j:03d}.wav"
                si.write_wav(path, audio.samples, params.sample_rate_hz)
                rows.append({"path": str(path), "kind": f"{q['expected']}: {q['variant']}", "from": q["path"]})
        qlist.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return registry, qlist


def measure(registry: str, qlist: str, rounds: int, out: str) -> None:
    """Child: time every query ``rounds`` times and write CPU times and the first round's matches to ``out``."""
    import consentry
    from consentry.services.registry import Registry

    rows = [json.loads(line) for line in open(qlist)]
    cpu = np.zeros((rounds, len(rows)))
    matches = []
    with Registry.open(registry, create=False) as reg:
        reg.identify(rows[0]["path"])
        for r in range(rounds):
            for i, q in enumerate(rows):
                c = time.process_time()
                found = reg.identify(q["path"])
                cpu[r, i] = time.process_time() - c
                if r == 0:
                    matches.append([m.as_dict() for m in found])
    Path(out).write_text(json.dumps({"code": str(Path(consentry.__file__).parents[1]), "cpu_s": cpu.tolist(),
                                     "matches": matches, "load_average": os.getloadavg()[0]}, default=str))


def summary(cpu: np.ndarray) -> dict:
    return {"cpu_mean_ms": round(1000 * float(cpu.mean()), 1), "cpu_p50_ms": round(1000 * float(np.median(cpu)), 1),
            "cpu_p95_ms": round(1000 * float(np.percentile(cpu, 95)), 1),
            "cpu_min_of_rounds_mean_ms": round(1000 * float(cpu.min(axis=0).mean()), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", help="a registry of music engine version 2 (required)")
    ap.add_argument("--total-hours", type=float, default=None, help="add synthetic hours up to this total")
    ap.add_argument("--queries", default=None, help="make_queries.py queries.jsonl (development seed)")
    ap.add_argument("--positives", type=int, default=80)
    ap.add_argument("--negatives", type=int, default=20)
    ap.add_argument("--excerpts", type=int, default=40, help="clean 10-s excerpts of half A's works")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=2, help="with --compare-src: runs of each code, alternating")
    ap.add_argument("--compare-src", default=None, help="another checkout's src folder, run the same way")
    ap.add_argument("--work", default="benchmarks/work/music/querycpu")
    ap.add_argument("--out", default=None)
    ap.add_argument("--child", nargs=3, metavar=("REGISTRY", "QUERIES", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        measure(args.child[0], args.child[1], args.rounds, args.child[2])
        return

    if not args.registry:
        ap.error("--registry is required")
    info = run_info()
    registry, qlist = build(args)
    here = str(Path(__file__).resolve().parents[1] / "src")
    codes = [("this checkout", here)] + ([("compare", str(Path(args.compare_src).resolve()))] if args.compare_src else [])
    runs: dict[str, list[dict]] = {name: [] for name, _ in codes}
    for p in range(args.pairs if args.compare_src else 1):
        for name, src in (codes if p % 2 == 0 else codes[::-1]):
            out = Path(args.work) / f"run-{name.replace(' ', '_')}-{p}.json"
            env = {**os.environ, "PYTHONPATH": src}
            subprocess.run([sys.executable, __file__, "--rounds", str(args.rounds), "--child", str(registry), str(qlist),
                            str(out)], env=env, check=True)
            runs[name].append(json.loads(out.read_text()))
    first = runs["this checkout"][0]["matches"]
    same = all(r["matches"] == first for rs in runs.values() for r in rs)
    result = {**info, "registry": str(registry), "queries": str(qlist), "n_queries": len(first), "rounds": args.rounds,
              "same_matches": same, "codes": {}}
    for name, rs in runs.items():
        cpu = np.concatenate([np.asarray(r["cpu_s"]) for r in rs])
        result["codes"][name] = {"src": rs[0]["code"], **summary(cpu),
                                 "per_run": [{**summary(np.asarray(r["cpu_s"])), "load_average": r["load_average"]}
                                             for r in rs]}
        s = result["codes"][name]
        print(f"{name:14s} CPU per identify: mean {s['cpu_mean_ms']} ms, p50 {s['cpu_p50_ms']}, p95 {s['cpu_p95_ms']}, "
              f"mean of each query's best round {s['cpu_min_of_rounds_mean_ms']} ({rs[0]['code']})")
    print(f"{len(first)} queries x {args.rounds} rounds; the same matches from every run: {same}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
