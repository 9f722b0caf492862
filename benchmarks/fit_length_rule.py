"""Fit the recording threshold's growth with length (the music engine's ``SCORE_PER_DOUBLING``).

    .venv/bin/python benchmarks/fit_length_rule.py --music-dir benchmarks/work/fa-outputs \\
        --record benchmarks/fits/score_per_doubling.json

Data: the 360 outputs of unregistered music that ``run_check.py false-alarms``
writes (24 Singularity and Frets on Fire tracks whole, and their 30-s
excerpts, clean and altered), searched in a registry of the 41
``wesnoth-1.16-music`` works only (built here from benchmarks/corpus unless
``--registry`` names one that holds exactly them), with the threshold lowered
to 5 so that every chance match is seen.  The best chance score of each
output, with its length, is all the fit needs.

Split: tracks by ``run_check.half_of`` (a hash of the track name); every
excerpt goes with its track.  Half A fits: the step is the smallest on a
0.1 grid for which no output of half A has a chance score at or above
``min_score_for(its length)``.  Half B is measured with it and does not
take part in the choice.  ``--record`` writes the rows (track, half,
length, best score) and the fit, which tests/engines/test_constants.py refits and
compares with the shipped constant.  ``--engine-version`` (default 1, whose
rule ``SCORE_PER_DOUBLING`` is; 2 for ``SCORE_PER_DOUBLING_V2``) chooses the
music engine the registry fingerprints with and the threshold at 10 s the
step grows from (``min_score_for(10, version=...)``, as shipped when the
command runs: fit version 2's base with calibrate_v2.py first); the record
names both.  ``--scores-from RECORD`` fits again on the scores an earlier
run recorded (after the 10-s threshold changed), without searching; the
record keeps the searching command as ``searched_by``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fitting import fit_score_per_doubling, wilson  # noqa: E402
from machine import run_info  # noqa: E402
from run_check import half_of  # noqa: E402

CHANCE_MIN_SCORE = 5
_REG = None


def output_rows(folder: Path) -> list[dict]:
    """(path, track, half, kind) of every output ``run_check.make_outputs`` wrote into ``folder``."""
    rows = []
    for path in sorted(folder.glob("*.wav")):
        if "__" not in path.stem:
            continue  # enrolment samples and the like, not outputs
        track = path.stem.split("@")[0].replace("__", "/")
        kind = "whole" if "@" not in path.stem else ("excerpt_altered" if "." in path.stem else "excerpt_clean")
        rows.append({"path": str(path), "track": track, "half": half_of(track), "kind": kind})
    return rows


def _best_chance(args: tuple[str, str, dict]) -> dict:
    reg_path, version, row = args
    global _REG
    from consentry.io.decode import decode_audio

    if _REG is None:
        from consentry.services.registry import Registry
        from consentry.runtime.threads import limit_worker_threads

        from consentry.engines.music.params import params_for

        limit_worker_threads()
        _REG = Registry.open(reg_path, create=False, params=params_for(version))
    rate = _REG.params.sample_rate_hz
    y = decode_audio(row["path"], sample_rate_hz=rate).samples
    found = _REG.identify_samples(y, min_score=CHANCE_MIN_SCORE)
    return {**{k: row[k] for k in ("track", "half", "kind")}, "output": Path(row["path"]).name,
            "duration_s": round(y.size / rate, 3), "best": max((float(m.score) for m in found), default=0.0)}


def search(a: argparse.Namespace, params) -> tuple[list[dict], list, str, float, float]:
    """Every output's best chance score in a registry of the Wesnoth works.

    Returns (rows, works, engine id, wall seconds, CPU seconds of this process and its workers).
    """
    from consentry.engines.music.params import ENGINE_NAME
    from consentry.services.registry import Registry

    rows = output_rows(Path(a.music_dir))
    if not rows:
        raise SystemExit(f"fit_length_rule: no outputs in {a.music_dir}; run run_check.py false-alarms first")
    with tempfile.TemporaryDirectory() as tmp:
        reg_path = Path(a.registry) if a.registry else Path(tmp) / "wesnoth.db"
        if not a.registry:
            files = sorted((Path(a.corpus) / "wesnoth-1.16-music").rglob("*.ogg"))
            if not files:
                raise SystemExit(f"fit_length_rule: no Wesnoth music in {a.corpus}; run bash benchmarks/fetch_corpus.sh")
            with Registry.open(reg_path, params=params) as reg:
                reg.register(files, workers=a.workers, melody=False)
        with Registry.open(reg_path, create=False, params=params) as reg:
            works = reg.works()
            engine = f"{ENGINE_NAME}/{params.version}/{reg.param_hash}"
        if any("wesnoth" not in (w.source or "") for w in works):
            raise SystemExit(f"{reg_path}: holds works other than Wesnoth's; the outputs' music must be unregistered")
        t0, c0 = time.perf_counter(), _cpu_s()
        with ProcessPoolExecutor(max_workers=a.workers) as pool:
            scored = list(pool.map(_best_chance, [(str(reg_path), params.version, r) for r in rows], chunksize=4))
        return scored, works, engine, time.perf_counter() - t0, _cpu_s() - c0


def _cpu_s() -> float:
    """User + system CPU seconds of this process and of its joined children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--music-dir", default=str(HERE / "work" / "fa-outputs"),
                    help="outputs written by run_check.py false-alarms")
    ap.add_argument("--corpus", default=str(HERE / "corpus"))
    ap.add_argument("--registry", help="a registry of the Wesnoth works only (default: built in a temporary folder)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--record", help="write the rows and the fit here (JSON)")
    ap.add_argument("--engine-version", default="1", help="music engine version to fingerprint with (default 1)")
    ap.add_argument("--scores-from", metavar="RECORD",
                    help="take the outputs' best chance scores from an earlier --record of this command (same "
                         "engine) instead of searching again, and fit with the threshold shipped now")
    a = ap.parse_args()

    from consentry.engines.music.params import ENGINE_NAME, params_for

    params = params_for(a.engine_version)
    info = run_info()
    seconds = cpu = None
    if a.scores_from:
        earlier = json.loads(Path(a.scores_from).read_text())
        engine = f"{ENGINE_NAME}/{params.version}/{params.param_hash()}"
        if earlier.get("engine") != engine:
            raise SystemExit(f"fit_length_rule: {a.scores_from} holds scores of {earlier.get('engine')}, not {engine}")
        scored, works = earlier["rows"], None
        searched_by = earlier.get("searched_by", earlier.get("command"))
    else:
        scored, works, engine, seconds, cpu = search(a, params)
        searched_by = info["command"]
    from consentry.engines.music import engine as music_engine

    base = music_engine.min_score_for(10.0, version=a.engine_version)
    fit = fit_score_per_doubling(scored, base=base)
    step = fit["step"]
    held = [r for r in scored if r["half"] == "B"]
    from fitting import min_score_with_step

    false_b = (sum(r["best"] >= min_score_with_step(r["duration_s"], step, base=base) for r in held)
               if step is not None else None)
    out = {"run": info, "engine": engine, "searched_by": searched_by,
           "registry_works": len(works) if works is not None else None, "outputs": len(scored),
           "seconds": round(seconds, 1) if seconds is not None else None,
           "cpu_s": round(cpu, 1) if cpu is not None else None, "base": base, "step": step,
           "held_out_B": {"outputs": len(held), "false": false_b,
                          "wilson95": [round(v, 4) for v in wilson(false_b or 0, len(held))]},
           "max_best": fit["max_best"],
           "table": [t for t in fit["table"] if round(t["step"] * 10) % 2 == 0 or t["step"] == step]}
    print(json.dumps(out, indent=1))
    if a.record:
        Path(a.record).write_text(json.dumps({"command": info.get("command", "benchmarks/fit_length_rule.py"),
                                              "engine": engine, "date_utc": info["date_utc"],
                                              "searched_by": searched_by,
                                              "fit": {"step": step, "base": base},
                                              "held_out_B": out["held_out_B"], "rows": scored}, indent=0) + "\n")


if __name__ == "__main__":
    main()
