"""Music engine version 2's threshold and confidence, fitted on half of the negatives, measured on the other half.

    python benchmarks/calibrate_v2.py --registry benchmarks/work/music/bench.db --per-half 1000 \\
        --record benchmarks/fits/fmr_tail_v2.json
    python benchmarks/calibrate_v2.py --refit benchmarks/fits/fmr_tail_v2.json \\
        --registry benchmarks/work/music/bench.db --verify 8

(the runs behind the shipped constants: 22,000 queries, about 27 CPU-minutes,
2026-12-07; the refit of their record, no query but the 16 re-scored, 2026-12-08.)

The negatives are never-registered songs (``corpus_lists.negative_sources``),
split in two halves by a hash of the song's name, so the halves share no
song: half F (fit) and half T (test).  From each half, ``--per-half``
10-second excerpts (a song with probability proportional to its length, then
a uniform start) are each altered in every one of :data:`VARIANTS` with
Consentry's own alterations module (independent of the SoX queries of
make_queries.py), and searched in ``--registry`` with the engine the registry
uses (version 2 by default) at a low threshold (5), keeping the best score of
anything found.

Fitted on half F only, measured on half T (never used to fit):

- the threshold ``DEFAULT_MIN_SCORE_V2`` = the highest best score of half F
  plus :data:`MARGIN`, at least :data:`FLOOR` (a margin for indexes larger
  than the registry used here); half T's false matches at it, with a 95%
  upper bound;
- the false-match tail ``log P(best >= s) = a + b * s`` by the song envelope
  (:func:`fitting.fit_fmr_tail_envelope`: the slope of the pooled upper tail,
  s >= :data:`TAIL_LO`, and the intercept that puts the line over every
  song's upper 95% Wilson limit), and half T's observed rate beside it for
  s = 7..12 (``check_t``: not optimistic if the observed rate is at or below it).

The shipped tail, the engine's ``_FMR_LOG_A_V2`` and ``_FMR_LOG_B_V2`` (the
confidence of a match is ``1 - P``), is the same envelope refitted on both
halves (``envelope``), once the check on T had passed (session 8, 2026-12-08).
The pooled least-squares line of half F over s = 5.. (``fit``, shipped until
then) is still printed: it was optimistic for half T's songs.

``--record`` writes the fits, both halves' scores and each query's song (an
index into ``songs``); tests/engines/test_constants_v2.py refits them and
compares with what the engine ships.  ``--refit RECORD`` redoes only the fits
of an existing record (no query is run): it rebuilds the job list from the
record's seed, counts and variants as the run drew it, which gives each
query's song, and ``--verify K`` re-scores the K highest-scoring queries of
each half to check the rebuilt list.  With ``--workers`` the queries run in
that many processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_lists import negative_sources, stems  # noqa: E402
from fitting import fit_fmr_tail, fit_fmr_tail_envelope, wilson  # noqa: E402
from machine import run_info  # noqa: E402

VARIANTS = ["clean", "mp3_64k", "noise_10db", "speed_+3", "speed_-3", "pitch_+2st", "pitch_-2st", "tempo_+5",
            "tempo_-5", "phone", "reverb"]
MARGIN = 2
FLOOR = 10
TAIL_LO = 7
SR = 22050
_STATE: dict = {}


def _cpu_s() -> float:
    """User + system CPU seconds of this process and of its joined children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def half_of(song: Path) -> str:
    """'F' (fit) or 'T' (test), from a hash of the song's file or folder name."""
    return "F" if hashlib.sha256(song.name.encode()).digest()[0] % 2 == 0 else "T"


def _song_audio(song: Path) -> np.ndarray:
    from consentry.io.decode import decode_audio

    parts = [decode_audio(str(f), sample_rate_hz=SR).samples for f in stems(song)]
    y = np.zeros(max(p.size for p in parts), dtype=np.float32)
    for p in parts:
        y[: p.size] += p
    return y / max(1.0, float(np.abs(y).max()) / 0.999)


def draw_jobs(songs: list[Path], lengths: dict, counts: dict, variants: list[str], seed: int) -> dict:
    """Each half's queries as (song path, start s, variant, seed), in the order the run searches them."""
    rng = np.random.default_rng(seed)
    jobs: dict[str, list] = {"F": [], "T": []}
    for half in ("F", "T"):
        members = [s for s in songs if half_of(s) == half]
        w = np.array([lengths[s] - 11.0 for s in members])
        w = np.clip(w, 0, None) / np.clip(w, 0, None).sum()
        for _ in range(counts[half]):
            s = members[int(rng.choice(len(members), p=w))]
            start = float(rng.uniform(0, lengths[s] - 11.0))
            for v in variants:
                jobs[half].append((str(s), start, v, int(rng.integers(1 << 30))))
    return jobs


def song_index(jobs: dict, names: dict) -> dict:
    """Per half, each query's song as an index into that half's sorted song names (the record's ``songs``)."""
    return {f"song_{h.lower()}": [names[h].index(Path(j[0]).name) for j in jobs[h]] for h in ("F", "T")}


def tail_fits(rec: dict) -> dict:
    """The song-envelope tail fitted on half F, half T's rates beside it, and the envelope of both halves."""
    f, t = np.array(rec["half_f"]), np.array(rec["half_t"])
    names_f = [rec["songs"]["F"][i] for i in rec["song_f"]]
    names_t = [rec["songs"]["T"][i] for i in rec["song_t"]]
    env_f = fit_fmr_tail_envelope(f, names_f, lo=TAIL_LO)
    check = []
    for s in range(7, 13):
        k = int((t >= s).sum())
        stated = float(np.exp(env_f["a"] + env_f["b"] * s)) if env_f["a"] is not None else None
        check.append({"score": s, "k": k, "n": int(t.size), "wilson": list(wilson(k, int(t.size))),
                      "stated": stated, "optimistic": stated is None or k / t.size > stated})
    both = fit_fmr_tail_envelope(np.concatenate([f, t]), names_f + names_t, lo=TAIL_LO)
    return {"tail_lo": TAIL_LO, "envelope_f": env_f, "check_t": check, "envelope": both}


def print_tails(rec: dict) -> None:
    """Observed P(best >= s) on both halves beside the pooled half-F line and the two envelopes."""
    f, t = np.array(rec["half_f"]), np.array(rec["half_t"])
    lines = {"pooled F": rec["fit"], "envelope F": rec["envelope_f"], "envelope F+T": rec["envelope"]}
    print("\nscore  half F (95% CI)               half T (95% CI)               "
          + "  ".join(f"{k:>12s}" for k in lines))
    for s in range(5, 13):
        cells = []
        for x in (f, t):
            k = int((x >= s).sum())
            lo, hi = wilson(k, int(x.size))
            cells.append(f"{k:5d} = {k / x.size:.2e} ({lo:.1e}-{hi:.1e})")
        tails = [np.exp(v["a"] + v["b"] * s) if v.get("a") is not None else float("nan") for v in lines.values()]
        print(f"{s:5d}  " + "  ".join(cells) + "  " + "  ".join(f"{p:12.2e}" for p in tails))
    bad = [c["score"] for c in rec["check_t"] if c["optimistic"]]
    print(f"envelope of half F: a = {rec['envelope_f']['a']}, b = {rec['envelope_f']['b']} (set by "
          f"{rec['envelope_f']['binding']}); on half T " + (f"optimistic at s = {bad}" if bad else
                                                          "not optimistic at any s in 7..12"))
    print(f"envelope of both halves (the engine's _FMR_LOG_A_V2, _FMR_LOG_B_V2): a = {rec['envelope']['a']}, "
          f"b = {rec['envelope']['b']} (set by {rec['envelope']['binding']})")


def refit(path: str, corpus: Path, out: str, verify: int, registry: str | None) -> None:
    """Redo the tail fits of an existing record from its scores and its rebuilt job list (no queries)."""
    from consentry.io.decode import decode_audio

    rec = json.loads(Path(path).read_text())
    songs = negative_sources(corpus)
    for h in ("F", "T"):
        if sorted(s.name for s in songs if half_of(s) == h) != rec["songs"][h]:
            sys.exit(f"calibrate_v2: the songs of half {h} in {corpus} are not the record's {rec['songs'][h]}")
    lengths = {s: max(decode_audio(str(f), sample_rate_hz=8000).duration_s for f in stems(s)) for s in songs}
    jobs = draw_jobs(songs, lengths, rec["excerpts"], rec["variants"], rec["seed"])
    if [len(jobs["F"]), len(jobs["T"])] != [len(rec["half_f"]), len(rec["half_t"])]:
        sys.exit(f"calibrate_v2: the rebuilt job list does not have the record's length ({path})")
    if verify:
        if registry is None:
            sys.exit("calibrate_v2: --verify needs --registry (the registry the record was made with)")
        _init(registry, [str(s) for s in songs])
        for h, key in (("F", "half_f"), ("T", "half_t")):
            for i in np.argsort(-np.array(rec[key]), kind="stable")[:verify]:
                got = _best_score(jobs[h][int(i)])
                if got != rec[key][int(i)]:
                    sys.exit(f"calibrate_v2: half {h} query {int(i)} scores {got} now, {rec[key][int(i)]} in "
                             f"the record: the rebuilt job list is not the run's")
        print(f"re-scored the {verify} highest queries of each half: all as recorded")
    rec.update(song_index(jobs, rec["songs"]))
    rec.update(tail_fits(rec))
    rec["refit"] = {"date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                    "command": "python " + " ".join(sys.argv)}
    print_tails(rec)
    Path(out).write_text(json.dumps(rec, indent=1) + "\n")
    print(f"wrote {out}")


def _init(registry: str, songs: list[str]) -> None:
    from consentry.services.registry import Registry
    from consentry.runtime.threads import limit_worker_threads

    limit_worker_threads()
    reg = Registry.open(registry, create=False)
    _STATE["reg"] = reg
    _STATE["songs"] = {s: _song_audio(Path(s)) for s in songs}


def _best_score(job: tuple[str, float, str, int]) -> float:
    """Best score of anything found in one altered excerpt (0 if nothing reaches 5)."""
    from machine import wav_bytes

    from consentry.io.decode import decode_audio
    from consentry.testing import alterations as alt

    song, start_s, variant, seed = job
    clip = alt.excerpt(_STATE["songs"][song], start_s=start_s, duration_s=10.0, sample_rate_hz=SR)
    y, ysr = alt.apply_variant(variant, clip, sample_rate_hz=SR, seed=seed)
    y8 = decode_audio(wav_bytes(y, sample_rate_hz=ysr), sample_rate_hz=8000, name="clip").samples
    return max((m.score for m in _STATE["reg"].identify_samples(y8, min_score=5)), default=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", default="-", help="a registry of the registered corpus (run_registration.py)")
    ap.add_argument("--corpus", default="benchmarks/corpus")
    ap.add_argument("--per-half", type=int, default=1000, help="excerpts per half (each in every variant)")
    ap.add_argument("--fit-excerpts", type=int, default=None, help="excerpts of half F (default: --per-half)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated alterations (default: all)")
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--record", default=None, help="write the fit and the scores here (JSON)")
    ap.add_argument("--refit", default=None, metavar="RECORD",
                    help="redo the tail fits of this record, run no query (writes --record, default RECORD)")
    ap.add_argument("--verify", type=int, default=0, help="with --refit: re-score the K best queries of each half")
    args = ap.parse_args()
    if args.refit:
        refit(args.refit, Path(args.corpus), args.record or args.refit, args.verify,
              args.registry if args.registry != "-" else None)
        return

    from consentry.engines.music.params import ENGINE_NAME
    from consentry.io.decode import decode_audio
    from consentry.services.registry import Registry

    with Registry.open(args.registry, create=False) as reg:
        engine = f"{ENGINE_NAME}/{reg.params.version}/{reg.param_hash}"
    songs = negative_sources(Path(args.corpus))
    lengths = {s: max(decode_audio(str(f), sample_rate_hz=8000).duration_s for f in stems(s)) for s in songs}
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        sys.exit(f"calibrate_v2: unknown variants {unknown}; choose from {VARIANTS}")
    counts = {"F": args.fit_excerpts or args.per_half, "T": args.per_half}
    jobs = draw_jobs(songs, lengths, counts, variants, args.seed)
    scores = {}
    t0, c0 = time.perf_counter(), _cpu_s()
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(args.registry, [str(s) for s in songs])) as pool:
        for half in ("F", "T"):
            got = []
            for got_one in pool.map(_best_score, jobs[half], chunksize=16):
                got.append(got_one)
                if len(got) % 500 == 0:
                    print(f"half {half}: {len(got)}/{len(jobs[half])} queries, {time.perf_counter() - t0:.0f} s",
                          file=sys.stderr, flush=True)
            scores[half] = np.array(got)
            print(f"half {half}: {scores[half].size} negative queries from "
                  f"{len({j[0] for j in jobs[half]})} songs; best score max {scores[half].max():.0f}", flush=True)
    seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
    print(f"{sum(v.size for v in scores.values())} queries in {seconds:.0f} s wall, {cpu:.0f} CPU-s "
          f"(this process and its {args.workers} workers)", flush=True)
    hits = scores["F"][scores["F"] >= 5]
    if np.unique(hits).size < 2:  # too few chance scores to fit a line: say so, keep the scores
        fit = {"a": None, "b": None, "points": int(np.unique(hits).size), "n": int(scores["F"].size),
               "max": float(scores["F"].max())}
    else:
        fit = fit_fmr_tail(scores["F"], lo=5, hi=int(hits.max()))
    threshold = max(FLOOR, int(scores["F"].max()) + MARGIN)
    t = scores["T"]
    false = int((t >= threshold).sum())
    upper = 1 - 0.05 ** (1 / t.size) if false == 0 else None
    print(f"\nfit on half F ({scores['F'].size} queries, s = 5 to its highest score): log P(best >= s) = "
          f"{fit['a']} + {fit['b']} * s; "
          f"threshold {threshold} (max {scores['F'].max():.0f} + {MARGIN})")
    print(f"half T ({t.size} queries, no song shared with F): {false} at or above {threshold}"
          + (f" (95% upper bound {upper:.2e} per query)" if upper is not None else ""))
    names = {h: sorted(Path(s).name for s in songs if half_of(s) == h) for h in ("F", "T")}
    rec = {**run_info(), "engine": engine, "fit": fit, "threshold": threshold, "margin": MARGIN, "floor": FLOOR,
           "variants": variants, "excerpts": counts, "seed": args.seed,
           "seconds": round(seconds, 1), "cpu_s": round(cpu, 1), "songs": names,
           "half_f": scores["F"].tolist(), "half_t": t.tolist(), **song_index(jobs, names),
           "test": {"queries": int(t.size), "false_matches": false, "upper_95": upper}}
    rec.update(tail_fits(rec))
    print_tails(rec)
    if args.record:
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(json.dumps(rec, indent=1) + "\n")
        print(f"wrote {args.record}")


if __name__ == "__main__":
    main()
