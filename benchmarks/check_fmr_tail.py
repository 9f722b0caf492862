"""A blind check of music engine version 2's false-match tail on songs no fit has seen.

    nice -n 10 .venv/bin/python benchmarks/check_fmr_tail.py --registry benchmarks/work/music/bench.db \\
        --songs /usr/share/games/warzone2100/music --excerpts 1000 --out tail_check.json

The shipped tail (``engines/music/engine.py`` ``_FMR_LOG_A_V2``/``_FMR_LOG_B_V2``, the confidence of a match is
``1 - P``) was fitted by ``calibrate_v2.py`` on the 12 never-registered songs of the corpus.  This command takes
other songs (every audio file under ``--songs``, one song each; files whose name ends in ``_enhanced`` are left out,
as re-recordings of a song already there), draws ``--excerpts`` 10-second excerpts (a song with probability
proportional to its length, then a uniform start), alters each in every one of calibrate_v2's variants with the
same code, searches them in ``--registry`` at a low threshold (5) and compares the observed rate of best scores
``>= s`` with the stated ``P(s)`` for s = 7..12, pooled and per song (95 % Wilson intervals).

The tail is called *not optimistic* on these songs when, for every s = 7..12, the pooled observed rate is at most
the stated one (the rule calibrate_v2 applies to its half T).  Per song, the songs whose observed rate at s = 7 is
above the stated one are listed.  Matches at the default threshold (11) are false matches and are counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import calibrate_v2 as cal  # noqa: E402
from fitting import wilson  # noqa: E402

AUDIO = {".ogg", ".opus", ".mp3", ".flac", ".wav"}


def songs_under(root: Path) -> list[Path]:
    """Every audio file under ``root`` (one song each), sorted; ``*_enhanced`` re-recordings left out."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO
                  and not p.stem.endswith("_enhanced"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--songs", required=True, type=Path, help="a folder of never-registered songs")
    ap.add_argument("--excerpts", type=int, default=1000, help="10-s excerpts, each in every variant")
    ap.add_argument("--seed", type=int, default=8642)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from consentry.engines.music.engine import DEFAULT_MIN_SCORE_V2, false_match_rate
    from consentry.io.decode import decode_audio
    from machine import run_info

    songs = songs_under(args.songs)
    if not songs:
        sys.exit(f"check_fmr_tail: no audio files under {args.songs}")
    lengths = {s: decode_audio(str(s), sample_rate_hz=8000).duration_s for s in songs}
    songs = [s for s in songs if lengths[s] > 12.0]
    rng = np.random.default_rng(args.seed)
    w = np.array([lengths[s] - 11.0 for s in songs])
    w = w / w.sum()
    jobs = []
    for _ in range(args.excerpts):
        s = songs[int(rng.choice(len(songs), p=w))]
        start = float(rng.uniform(0, lengths[s] - 11.0))
        for v in cal.VARIANTS:
            jobs.append((str(s), start, v, int(rng.integers(1 << 30))))
    t0, c0 = time.perf_counter(), cal._cpu_s()
    with ProcessPoolExecutor(args.workers, initializer=cal._init, initargs=(args.registry, [str(s) for s in songs])) as pool:
        best = np.array(list(pool.map(cal._best_score, jobs, chunksize=16)))
    song_of = np.array([songs.index(Path(j[0])) for j in jobs])
    rows = []
    for s in range(7, 13):
        k = int((best >= s).sum())
        lo, hi = wilson(k, best.size)
        stated = false_match_rate(s, version="2")
        rows.append({"s": s, "count": k, "observed": k / best.size, "wilson95": [lo, hi], "stated": stated,
                     "not_optimistic": k / best.size <= stated})
    per_song = []
    for i, s in enumerate(songs):
        b = best[song_of == i]
        if b.size:
            k = int((b >= 7).sum())
            per_song.append({"song": str(s.relative_to(args.songs)), "queries": int(b.size), "at_least_7": k,
                             "observed_7": k / b.size, "above_stated_7": k / b.size > false_match_rate(7, version="2")})
    out = {**run_info(), "registry": args.registry, "songs": len(songs), "audio_h": round(sum(lengths[s] for s in songs) / 3600, 2),
           "queries": int(best.size), "variants": cal.VARIANTS, "seed": args.seed,
           "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(cal._cpu_s() - c0, 1),
           "max_best": float(best.max()), "false_matches_at_threshold": int((best >= DEFAULT_MIN_SCORE_V2).sum()),
           "tail": rows, "not_optimistic": all(r["not_optimistic"] for r in rows),
           "songs_above_stated_at_7": [p["song"] for p in per_song if p["above_stated_7"]], "per_song": per_song,
           "best_scores": best.tolist()}
    for r in rows:
        print(f"s >= {r['s']:2d}: {r['count']:5d} of {best.size} = {r['observed']:.5f} "
              f"({r['wilson95'][0]:.5f}-{r['wilson95'][1]:.5f}); stated {r['stated']:.5f}"
              f"{'' if r['not_optimistic'] else '  OPTIMISTIC'}", flush=True)
    print(f"{len(songs)} songs, {best.size} queries, best score max {best.max():.0f}, "
          f"{out['false_matches_at_threshold']} at the threshold {DEFAULT_MIN_SCORE_V2}; songs above the stated rate at 7: "
          f"{len(out['songs_above_stated_at_7'])}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
