"""Query latency and index size as the index grows to 100, 1,000 and 10,000 hours.

Registering 10,000 hours of real music is out of reach here, so the extra hours
are synthetic fingerprints with the real distribution: every hash key is a
mixed-radix number of seven components (see
``consentry.engines.music.extract``); the script measures the distribution
of each component over a real registry's index and draws keys with those
marginal frequencies, at the real number of hashes per hour, with postings
for made-up works of four minutes.  (Components are drawn independently: the
real joint distribution is somewhat more clustered, so real indexes of that
size would see somewhat more chance hits than these.)

For each size, the real registry (its works and index) is copied, one
synthetic segment is added beside it, and real 10-second excerpts of the
registered works are identified: the latency includes decoding, hashing,
lookup and verification, in-process, after a warm-up.

    python benchmarks/scale_index.py --registry benchmarks/work/bench.db \\
        --hours 100 1000 10000 --queries 100 --out benchmarks/work/scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from consentry import Registry  # noqa: E402
from consentry.io.decode import decode_audio  # noqa: E402
from consentry.engines.music import extract as E  # noqa: E402
from consentry.engines.music.params import ENGINE_NAME, ENGINE_VERSION  # noqa: E402
from consentry.engines.music.postings import pack_postings  # noqa: E402

WORK_S = 240.0


def component_marginals(keys: np.ndarray, params) -> list[np.ndarray]:
    """Frequency of each value of each key component, in KEY_ORDER."""
    sizes = E.component_sizes(params)
    order = E.KEY_ORDER
    digits = []
    rest = keys.astype(np.int64)
    for c in reversed(order):
        digits.append(rest % sizes[c])
        rest //= sizes[c]
    digits.reverse()
    return [np.bincount(d, minlength=sizes[c]) / d.size for d, c in zip(digits, order)]


def write_synthetic_segment(reg: Registry, hours: float, hashes_per_s: float, marginals, *, seed: int, fp_base: int) -> tuple[str, int]:
    """Write a sorted synthetic segment into the registry's index folder; returns (stem, entries)."""
    params = reg.params
    sizes = [E.component_sizes(params)[c] for c in E.KEY_ORDER]
    n_total = hours * 3600 * hashes_per_s
    rng = np.random.default_rng(seed)
    n_works = int(np.ceil(hours * 3600 / WORK_S))
    frames_per_work = int(WORK_S * params.frames_per_s)
    # Keys in ascending order: the two most significant components choose a
    # block; inside it every key's count is Poisson(n_total * p(key)).
    inner = np.ones(1)
    for m in marginals[2:]:
        inner = np.multiply.outer(inner, m).ravel()
    inner_size = inner.size
    blocks = [(a, b) for a in range(sizes[0]) for b in range(sizes[1])]
    expected_total = int(round(n_total))
    stem = reg.store.new_segment_stem()
    kpath = reg.store.index_dir / f"{stem}.keys.npy"
    vpath = reg.store.index_dir / f"{stem}.values.npy"
    # Draw the counts first (to know the size), then fill block by block.
    counts_per_block = []
    for a, b in blocks:
        p = marginals[0][a] * marginals[1][b]
        counts_per_block.append(rng.poisson(n_total * p * inner) if p > 0 else None)
    n = int(sum(int(c.sum()) for c in counts_per_block if c is not None))
    keys_out = np.lib.format.open_memmap(kpath, mode="w+", dtype=np.uint32, shape=(n,))
    vals_out = np.lib.format.open_memmap(vpath, mode="w+", dtype=np.uint64, shape=(n,))
    pos = 0
    for (a, b), counts in zip(blocks, counts_per_block):
        if counts is None:
            continue
        m = int(counts.sum())
        if m == 0:
            continue
        base = (a * sizes[1] + b) * inner_size
        keys = (base + np.repeat(np.arange(inner_size, dtype=np.int64), counts)).astype(np.uint32)
        fp = rng.integers(fp_base, fp_base + n_works, m)
        frames = rng.integers(0, frames_per_work, m)
        midi = rng.uniform(params.min_midi, params.max_midi, m)
        # pack_postings takes one fp_id; pack the id field directly for speed.
        vals = pack_postings(1, frames, midi) & np.uint64((1 << 38) - 1)
        vals |= fp.astype(np.uint64) << np.uint64(38)
        keys_out[pos:pos + m] = keys
        vals_out[pos:pos + m] = vals
        pos += m
    keys_out.flush()
    vals_out.flush()
    del keys_out, vals_out
    assert abs(n - expected_total) < 10 * np.sqrt(expected_total) + 10
    return stem, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", required=True, help="a registry with real works (from run_registration.py)")
    ap.add_argument("--hours", type=float, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default="benchmarks/work/scale")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    src = Path(args.registry)
    with Registry.open(src, create=False) as reg:
        segs = reg.store.index_segments(engine=ENGINE_NAME, engine_version=ENGINE_VERSION, param_hash=reg.param_hash)
        real_keys = np.concatenate([np.asarray(s.keys) for s in segs])
        stats = reg.stats()
        works = reg.works()
        params = reg.params
    hashes_per_s = real_keys.size / (stats["hours"] * 3600)
    marginals = component_marginals(real_keys, params)
    print(f"real registry: {stats['works']} works, {stats['hours']:.2f} h, {hashes_per_s:.1f} hashes/s", flush=True)

    rng = np.random.default_rng(args.seed)
    picks = []
    for _ in range(args.queries):
        w = works[int(rng.integers(len(works)))]
        start = float(rng.uniform(0, max(0.0, w.duration_s - 10.5)))
        picks.append((w, start))
    excerpts = [
        (w, start, decode_audio(w.source, sample_rate_hz=params.sample_rate_hz, start_s=start, max_duration_s=10.0).samples)
        for w, start in picks
    ]

    results = []
    workdir = Path(args.workdir)
    for hours in args.hours:
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        dst = workdir / "scale.db"
        shutil.copy(src, dst)
        shutil.copytree(str(src) + ".index", str(dst) + ".index")
        t0 = time.perf_counter()
        with Registry.open(dst) as reg:
            stem, n = write_synthetic_segment(reg, hours, hashes_per_s, marginals, seed=args.seed, fp_base=1_000_000)
            reg.store.adopt_segment(stem, engine=ENGINE_NAME, engine_version=ENGINE_VERSION, param_hash=reg.param_hash)
            build_s = time.perf_counter() - t0
            seg_bytes = sum(os.path.getsize(reg.store.index_dir / f"{stem}.{s}.npy") for s in ("keys", "values", "dir"))
            reg.identify_samples(excerpts[0][2])  # warm-up
            lat, hits = [], 0
            for w, start, x in excerpts:
                t = time.perf_counter()
                matches = reg.identify_samples(x)
                lat.append(time.perf_counter() - t)
                hits += bool(matches and matches[0].work_id == w.work_id)
        row = {
            "synthetic_hours": hours,
            "total_hours": hours + stats["hours"],
            "entries": n,
            "segment_bytes": seg_bytes,
            "bytes_per_hour": seg_bytes / hours,
            "build_s": round(build_s, 1),
            "queries": len(lat),
            "p50_ms": round(1000 * float(np.percentile(lat, 50)), 1),
            "p95_ms": round(1000 * float(np.percentile(lat, 95)), 1),
            "top1": hits / len(lat),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(workdir)
    print("\n| index hours | entries | MB per hour | p50 ms | p95 ms | top-1 |\n|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['total_hours']:,.0f} | {r['entries']:,} | {r['bytes_per_hour'] / 1e6:.2f} | {r['p50_ms']} | {r['p95_ms']} | {r['top1']:.3f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"hashes_per_s": hashes_per_s, "results": results}, indent=1))


if __name__ == "__main__":
    main()
