"""Index-side A/B of the music engine: one query's hashes looked up in several registries.

    # a prototype index, registered in this process (engine version 2's query side is unchanged):
    python benchmarks/run_music_index_ab.py register --registry benchmarks/work/music/ab_union10.db \\
        --mode union --robust-peaks-per-s 10
    # dev queries (seed 1, make_queries.py), today's index beside the prototypes:
    python benchmarks/run_music_index_ab.py compare --queries QUERIES.jsonl --out OUT.json \\
        benchmarks/work/music/bench.db benchmarks/work/music/ab_union10.db

Written for issue 17's noise gap (queries with pink noise 10 dB below them). A query is hashed once
(version 2, :func:`~consentry.engines.music.extract.query_hashes`) and looked up and verified in every
registry named, so the registries differ only by what they store, and the lookup + verification CPU of
each is measured in the same process, query by query.

The prototype indexes (``register``) keep version 2's peaks and quads and add a second kind of peak:

- ``union``: a second peak set, ranked by its contrast once a reference pink floor ``--floor-snr-db``
  below the 1-s block's power is added to the spectrogram (a peak that stops being a local maximum
  under that floor ranks after every one that stays); its own quads are stored beside version 2's
  (duplicate postings dropped).  Version 2's quads are all still there.
- ``merge``: version 2's peaks plus up to ``--robust-peaks-per-s`` more per second taken in that
  robust order, one set, one set of quads (the new peaks can enter version 2's zones).
- ``replace``: like ``merge``, but a block's extra peaks are only those the robust order ranks among
  its own top ``index_peaks_per_s`` and version 2 did not keep (where version 2's peaks lose contrast
  under the floor to others), at most ``--robust-peaks-per-s``.
- ``plain`` (the control): version 2's own ranking with ``--robust-peaks-per-s`` more peaks per second,
  so as many peaks as ``merge`` without the robust order.

A prototype registry claims version 2's parameter hash: it is for this comparison only, never for
use.  Scoring (``compare``) follows run_accuracy.py at the threshold ``--threshold`` (version 2's,
11): a strict hit is the right work, ranked first, placed within 2 s; a negative's score is the best
score of any work.  Counts carry 95% Wilson intervals.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_lists import registered_files  # noqa: E402
from machine import run_info  # noqa: E402
from run_accuracy import OFFSET_TOLERANCE_S, wilson_interval  # noqa: E402

from consentry.engines.music import engine as music_engine  # noqa: E402
from consentry.engines.music import extract  # noqa: E402
from consentry.engines.music.arith import box_max, box_mean  # noqa: E402
from consentry.engines.music.params import DEFAULT_PARAMS, ENGINE_NAME  # noqa: E402


def robust_order(logspec: np.ndarray, params, floor_snr_db: float):
    """Every local maximum of ``logspec`` (frame, bin, strength) and its rank under a reference pink floor.

    Returns
    -------
    t, b : ndarray of int64, shape (n,)
        Frame and bin of each local maximum (version 2's peak test).
    strength : ndarray of float32, shape (n,)
        Version 2's strength (dB above the local background).
    rank : ndarray of float64, shape (n,)
        Contrast (dB) once pink noise of ``floor_snr_db`` dB below the block's power is added; maxima
        that stop being maxima get ``strength - 1e9`` (after every surviving one).
    """
    n_frames, n_bins = logspec.shape
    rt, rb = params.peak_radius_frames, params.peak_radius_bins
    local_max = box_max(logspec, (2 * rt + 1, 2 * rb + 1))
    background = box_mean(logspec, (2 * rt + 1, 4 * rb + 1))
    floor = float(logspec.max()) - params.floor_db
    t, b = np.nonzero((logspec == local_max) & (logspec > floor) & (logspec > background + 1e-3))
    strength = (logspec[t, b] - background[t, b]).astype(np.float32)
    block = max(1, int(round(params.budget_block_s * params.frames_per_s)))
    centre_hz = 440.0 * 2.0 ** ((params.min_midi + np.arange(n_bins) / params.bins_per_semitone - 69.0) / 12.0)
    power = 10.0 ** (logspec.astype(np.float64) / 10.0)
    block_of_frame = np.arange(n_frames) // block
    # Pink noise: its power density goes as 1/f, so a log bin (a weighted mean of STFT bins) holds c / f.
    # A log bin is about f wide in Hz, so sum(P * f) over bins measures power on a linear axis; c is set
    # so that the floor's sum(c / f * f) is floor_snr_db below the block's mean sum(P * f).
    total = np.bincount(block_of_frame, weights=(power * centre_hz).sum(axis=1))
    c = total / np.bincount(block_of_frame) * 10.0 ** (-floor_snr_db / 10.0) / n_bins
    noisy = (10.0 * np.log10(power + c[block_of_frame][:, None] / centre_hz[None, :])).astype(np.float32)
    survives = noisy[t, b] >= box_max(noisy, (2 * rt + 1, 2 * rb + 1))[t, b]
    contrast = noisy[t, b] - box_mean(noisy, (2 * rt + 1, 4 * rb + 1))[t, b]
    rank = np.where(survives, contrast.astype(np.float64), strength.astype(np.float64) - 1e9)
    return t, b, strength, rank


def _best_per_block(t, b, rank, block: int, quota) -> np.ndarray:
    """Indices of the ``quota`` best-ranked of each block (ties: earlier frame, lower bin); -inf ranks never.

    ``quota`` is one count for every block, or an array of counts indexed by block number.
    """
    order = np.lexsort((b, t, -rank, t // block))
    order = order[np.isfinite(rank[order])]
    blk = (t // block)[order]
    starts = np.flatnonzero(np.r_[True, blk[1:] != blk[:-1]])
    place = np.arange(blk.size) - np.repeat(starts, np.diff(np.r_[starts, blk.size]))
    return order[place < (quota[blk] if isinstance(quota, np.ndarray) else quota)]


def _peaks(keep, t, b, strength, logspec, params) -> extract.Peaks:
    keep = keep[np.lexsort((b[keep], t[keep]))]
    tt, bb = t[keep], b[keep]
    midi = params.min_midi + (bb + extract._refine(logspec, tt, bb)) / params.bins_per_semitone
    return extract.Peaks(tt.astype(np.int32), midi.astype(np.float32), strength[keep])


def _quad_hashes(peaks, params):
    quads = extract.make_quads(peaks, params, fanout=params.index_fanout)
    return extract.pack_key(extract.quantise(quads.values, params), params), quads.anchor_frame, quads.anchor_midi


def prototype_index_hashes(mode: str, robust_peaks_per_s: float, floor_snr_db: float):
    """An ``index_hashes(samples, params)`` for the prototype ``mode`` (``union``, ``merge``, ``replace``, ``plain``)."""

    def index_hashes(samples, params):
        logspec = extract.log_spectrogram(samples, params)
        if mode == "plain":
            more = extract.pick_peaks(logspec, params, peaks_per_s=params.index_peaks_per_s + robust_peaks_per_s)
            return _quad_hashes(more, params)
        standard = extract.pick_peaks(logspec, params, peaks_per_s=params.index_peaks_per_s)
        if len(standard) == 0:
            return _quad_hashes(standard, params)
        t, b, strength, rank = robust_order(logspec, params, floor_snr_db)
        block = max(1, int(round(params.budget_block_s * params.frames_per_s)))
        quota = max(1, int(round(robust_peaks_per_s * params.budget_block_s)))
        if mode == "union":
            robust = _peaks(_best_per_block(t, b, rank, block, quota), t, b, strength, logspec, params)
            parts = [_quad_hashes(standard, params), _quad_hashes(robust, params)]
            keys, frames, midis = (np.concatenate(x) for x in zip(*parts))
            seen = np.stack([keys.astype(np.int64), frames.astype(np.int64), np.round(midis * 1000).astype(np.int64)], 1)
            first = np.sort(np.unique(seen, axis=0, return_index=True)[1])
            return keys[first], frames[first], midis[first]
        std_bins = np.round((standard.midi - params.min_midi) * params.bins_per_semitone).astype(np.int64)
        is_standard = np.isin(t * logspec.shape[1] + b, standard.frame.astype(np.int64) * logspec.shape[1] + std_bins)
        if mode == "replace":
            # A block's extras are the peaks that the robust order ranks among its own top (as many as
            # version 2 keeps) and version 2 did not keep, at most ``quota``: none where the orders agree.
            top = _best_per_block(t, b, rank, block, max(1, int(round(params.index_peaks_per_s * params.budget_block_s))))
            newcomers = np.bincount(t[top[~is_standard[top]]] // block, minlength=int(t.max()) // block + 1)
            extra = _best_per_block(t, b, np.where(is_standard, -np.inf, rank), block, np.minimum(newcomers, quota))
        else:
            extra = _best_per_block(t, b, np.where(is_standard, -np.inf, rank), block, quota)
        return _quad_hashes(_peaks(np.r_[np.flatnonzero(is_standard), extra], t, b, strength, logspec, params), params)

    return index_hashes


def register(a) -> None:
    from consentry import Registry

    # The registry calls engine.index_hashes; workers=1 keeps the replacement in this process.
    music_engine.index_hashes = prototype_index_hashes(a.mode, a.robust_peaks_per_s, a.floor_snr_db)
    files = [str(f) for f in registered_files(Path(a.corpus))]
    reg = Registry.open(a.registry, params=DEFAULT_PARAMS)
    t0, c0 = time.time(), time.process_time()
    summary = reg.register(files, workers=1, melody=False)
    print(f"{len(summary.registered)} registered, {len(summary.errors)} errors, "
          f"{time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")


def compare(a) -> None:
    from consentry import Registry
    from consentry.engines.music import match, postings
    from consentry.io.decode import decode_audio

    info = run_info()
    regs = []
    for path in a.registries:
        reg = Registry.open(path)
        segs = reg.store.index_segments(engine=ENGINE_NAME, engine_version=reg.params.version, param_hash=reg.param_hash)
        regs.append((path, reg, segs, None))
    params = regs[0][1].params
    segs_of = {path: segs for path, _, segs, _ in regs}
    wanted = set(a.variants.split(",")) if a.variants else None
    picked, count = [], defaultdict(int)
    for line in open(a.queries):
        q = json.loads(line)
        if wanted and q["variant"] not in wanted:
            continue
        limit = a.per_variant if q["expected"] == "positive" else a.negatives
        if count[(q["variant"], q["expected"])] < limit:
            count[(q["variant"], q["expected"])] += 1
            picked.append(q)
    rows = {path: [] for path, *_ in regs}
    cpu, hash_cpu = defaultdict(float), 0.0
    for q in picked:
        samples = decode_audio(q["path"], sample_rate_hz=params.sample_rate_hz).samples
        source = os.path.realpath(q["source_file"].replace(a.corpus_was, a.corpus) if a.corpus_was else q["source_file"])
        c0 = time.process_time()
        qh = extract.query_hashes(samples, params)
        hash_cpu += time.process_time() - c0
        for path, reg, segs, _ in regs:
            c0 = time.process_time()
            hits = postings.lookup(segs, qh.key_lo, qh.key_hi, qh.owner,
                                   max_postings_per_range=music_engine.MAX_POSTINGS_PER_RANGE,
                                   max_postings_total=params.max_postings_per_query)
            found = match.match_segments(hits, qh.quads, params, min_inliers=3)
            cpu[path] += time.process_time() - c0
            works = reg.store.works_by_fp_id(sorted({m.fp_id for m in found}))
            right = [m for m in found if os.path.realpath(works[m.fp_id].source) == source]
            other = max((m.inliers for m in found if m not in right), default=0)
            row = {"query": os.path.basename(q["path"]), "variant": q["variant"], "expected": q["expected"],
                   "score": right[0].inliers if right else 0, "other": other, "n_hits": int(len(hits))}
            if right:
                m = right[0]
                placed_s = (m.work_start_frame - m.query_start_frame * m.speed) / params.frames_per_s
                row["top"] = found[0] is m
                row["placed"] = bool(abs(placed_s - q["source_start_s"]) <= OFFSET_TOLERANCE_S)
                # Where the passage recurs in the work, the true place may be a later match of the same work.
                row["true_place_score"] = max(
                    (r.inliers for r in right
                     if abs((r.work_start_frame - r.query_start_frame * r.speed) / params.frames_per_s
                            - q["source_start_s"]) <= OFFSET_TOLERANCE_S), default=0)
            rows[path].append(row)
    summary = {}
    for path, *_ in regs:
        by = defaultdict(list)
        for r in rows[path]:
            by[(r["variant"], r["expected"])].append(r)
        per = {}
        for (variant, expected), rr in sorted(by.items()):
            if expected != "positive":
                continue
            scores = np.array([r["score"] for r in rr])
            hits = sum(r["score"] >= a.threshold and r.get("top", False) and r.get("placed", False) for r in rr)
            # Repeat-tolerant: the right work first, and a match of it at the true place reaching the threshold.
            anywhere = sum(r.get("top", False) and r.get("true_place_score", 0) >= a.threshold for r in rr)
            per[variant] = {"hits": int(hits), "n": len(rr), "ci95": wilson_interval(int(hits), len(rr)),
                            "hits_true_place_anywhere": int(anywhere),
                            "p10": float(np.percentile(scores, 10)), "median": float(np.median(scores))}
        negatives = [r["other"] for r in rows[path] if r["expected"] == "negative"]
        summary[path] = {"variants": per, "cpu_ms_per_query": 1000 * cpu[path] / max(1, len(rows[path])),
                         "query_cpu_ms_per_query": 1000 * (cpu[path] + hash_cpu) / max(1, len(rows[path])),
                         "stored_keys": int(sum(len(seg) for seg in segs_of[path])),
                         "negatives": len(negatives), "negatives_max": max(negatives, default=None),
                         "negatives_ge9": sum(s >= 9 for s in negatives),
                         "positives_other_max": max((r["other"] for r in rows[path] if r["expected"] == "positive"),
                                                    default=None)}
    Path(a.out).write_text(json.dumps({"run": info, "queries": len(picked), "summary": summary, "rows": rows}, indent=1))
    for path, s in summary.items():
        print(f"== {path}: lookup + verification {s['cpu_ms_per_query']:.1f} CPU-ms per query, with hashing"
              f" {s['query_cpu_ms_per_query']:.1f}; {s['stored_keys']:,} stored keys")
        for variant, v in s["variants"].items():
            print(f"   {variant:12s} {v['hits']}/{v['n']} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]"
                  f"  p10 {v['p10']:.0f}  median {v['median']:.0f}"
                  f"  (true place among its matches: {v['hits_true_place_anywhere']})")
        print(f"   negatives {s['negatives']}: best chance score {s['negatives_max']}, >= 9: {s['negatives_ge9']};"
              f" positives' best other work {s['positives_other_max']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("register", help="register the corpus with a prototype index")
    r.add_argument("--registry", required=True)
    r.add_argument("--corpus", default="benchmarks/corpus")
    r.add_argument("--mode", choices=("union", "merge", "replace", "plain"), required=True)
    r.add_argument("--robust-peaks-per-s", type=float, default=10.0)
    r.add_argument("--floor-snr-db", type=float, default=10.0, help="reference pink floor under the block's power (dB)")
    c = sub.add_parser("compare", help="the same queries in several registries")
    c.add_argument("registries", nargs="+")
    c.add_argument("--queries", required=True, help="queries.jsonl of make_queries.py")
    c.add_argument("--out", required=True)
    c.add_argument("--variants", default=None, help="comma-separated (default: all)")
    c.add_argument("--per-variant", type=int, default=120, help="positives per variant")
    c.add_argument("--negatives", type=int, default=100, help="negatives per variant")
    c.add_argument("--threshold", type=int, default=11)
    c.add_argument("--corpus", default="benchmarks/corpus")
    c.add_argument("--corpus-was", default=None, help="corpus folder the queries' source_file paths name, if moved")
    a = ap.parse_args()
    register(a) if a.cmd == "register" else compare(a)


if __name__ == "__main__":
    main()
