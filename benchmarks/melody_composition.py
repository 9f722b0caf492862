"""The composition-adjusted melody null on real music (issue 21, session 8).

The shipped check's skyline pair scores (benchmarks/melody_pitchsets.py rows, cached by run_melody_real.py
``--pitch-sets '{"skyline": {"matcher": "skyline"}}'``) are judged twice on the same pairs: by the shipped
NULL_MODEL, and by a CompositionNull (consentry.engines.melody.composition) whose ``c`` and ``K`` are fitted on the
unrelated pairs of the ``--fit-on`` halves, each pair's score scaled by its own composition ``lambda``. Rows of a
half not yet cached are scored here (two processes). Prints one JSON object; ``--record`` writes the fit with the
unrelated pairs it was fitted on (a test refits it).

    nice -n 10 .venv/bin/python benchmarks/melody_composition.py --halves dev,chorales,freedoom,fiddle \\
        --fit-on dev,chorales,freedoom,fiddle --record benchmarks/fits/melody_composition_null.json
    # held-out, once, with the recorded fit:
    nice -n 10 .venv/bin/python benchmarks/melody_composition.py --halves ryan \\
        --null benchmarks/fits/melody_composition_null.json
    # the check's cautions (services/check) on every set, all development data since the held-out run:
    nice -n 10 .venv/bin/python benchmarks/melody_composition.py --halves dev,chorales,freedoom,fiddle,ryan \\
        --null benchmarks/fits/melody_composition_null.json --cautions
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consentry.runtime.threads import prefer_one_thread_env  # noqa: E402

prefer_one_thread_env()

import numpy as np  # noqa: E402

import melody_pitchsets as mp  # noqa: E402
import run_melody_real as rmr  # noqa: E402

SKYLINE = {"matcher": "skyline"}
SKYLINE_KEY = "b38afa6c0107"   # run_melody_real.py's cache key of SKYLINE (sha256 of ["skyline", {}, {}])


def pair_lambdas(data: dict, rows: list[dict], cache: Path | None = None) -> np.ndarray:
    """``composition_lambda`` of every row's (output, work) pair, in row order (cached as .npy in ``cache``)."""
    from consentry.engines.melody import Note, contour_of, melody_from_notes
    from consentry.engines.melody.composition import composition_lambda

    def contour(notes):
        return contour_of(melody_from_notes([Note(r[0], r[1], int(r[2]), r[3]) for r in notes]))

    if cache is not None and cache.exists():
        return np.load(cache)
    outputs = mp._outputs(data)
    works = {k: contour(v) for k, v in data["works"].items()}
    queries: dict[int, object] = {}
    out = np.empty(len(rows))
    for i, r in enumerate(rows):
        q = queries.get(r["output"])
        if q is None:
            q = queries[r["output"]] = contour(outputs[r["output"]]["notes"])
        out[i] = composition_lambda(q, works[r["work"]])
    if cache is not None:
        np.save(cache, out)
    return out


def judged(rows: list[dict], lam: np.ndarray) -> list[dict]:
    """The rows with each score replaced by ``lambda_pair * score`` (what a CompositionNull's Gumbel law reads)."""
    return [{**r, "score": float(x * r["score"])} for r, x in zip(rows, lam)]


def fit(s: np.ndarray, m: np.ndarray, n: np.ndarray, lam: np.ndarray, half: np.ndarray, *, tail_q: float) -> tuple[dict, dict]:
    """``c`` by maximum likelihood on all the unrelated pairs' scaled scores ``lam * s``; ``K`` the largest over the
    halves of the value at which a share ``tail_q`` of the half's pairs have a false-alarm probability of ``tail_q``
    or less (the budget holds on the worst half seen). Returns ``({"c", "k"}, details)``."""
    from consentry.engines.melody.composition import fit_composition_null

    ml = fit_composition_null(s, m, n, lam)
    c = float(f"{ml.c:.4g}")
    tails = {}
    for h in dict.fromkeys(half.tolist()):
        sel = half == h
        e = m[sel] * n[sel] * np.exp(-c * lam[sel] * s[sel])
        tails[h] = float(f"{-np.log1p(-tail_q) / np.quantile(e, tail_q):.4g}")
    return {"c": c, "k": max(tails.values())}, {"unrelated_pairs": int(s.size), "k_mle": float(f"{ml.k:.4g}"),
                                                "tail_q": tail_q, "k_tail_per_half": tails}


def cautions(data: dict, rows: list[dict], lam: np.ndarray, law: dict, budget: float) -> dict:
    """The check's two melody cautions on every pair the shipped check finds (its first phrase): the even/stepwise
    one (services/check ``_regularity``) and the predictability one (the phrase's probability under ``law`` above
    ``budget``). Counts ``{"true"|"false": {"findings", "even_stepwise", "predictable", "either"}}``."""
    from consentry.engines.melody import NULL_MODEL, Note, contour_of, match_contours, melody_from_notes
    from consentry.engines.melody.composition import CompositionNull
    from consentry.services.check.service import _regularity

    null = CompositionNull(c=law["lam"], k=law["k"])

    def melody(notes):
        return melody_from_notes([Note(r[0], r[1], int(r[2]), r[3]) for r in notes])

    outputs = mp._outputs(data)
    works = {k: contour_of(melody(v)) for k, v in data["works"].items()}
    out: dict[str, dict[str, int]] = {}
    for r, x in zip(rows, lam):
        if r["pairs"] < 6 or NULL_MODEL.false_alarm(r["score"], r["m"], r["n"]) > budget:
            continue
        mel = melody(outputs[r["output"]]["notes"])
        q = contour_of(mel)
        found = match_contours(q, works[r["work"]], max_false_alarm=budget, max_phrases=1)
        if not found:
            continue
        even = "caution" in _regularity(mel, [a for a, _ in found[0].pairs])
        predictable = null.false_alarm(found[0].score, len(q), len(works[r["work"]]), x) > budget
        c = out.setdefault("true" if r["own"] and r["located"] else "false",
                           {"findings": 0, "even_stepwise": 0, "predictable": 0, "either": 0})
        c["findings"] += 1
        c["even_stepwise"] += even
        c["predictable"] += predictable
        c["either"] += even or predictable
    return out


def report(rows: list[dict], null: dict, budget: float, most_false: int) -> dict:
    return {**mp.evaluate(rows, null=null, budget=budget),
            "found_at_false_outputs": [{"F": x["false_outputs"]["k"], "found": x["found"]["k"],
                                        "of": x["found"]["n"]}
                                       for x in mp.found_at_false_outputs(rows, null=null, most_false=most_false)]}


def main() -> None:
    from consentry.engines.melody import NULL_MODEL
    from consentry.services.check.service import MELODY_FALSE_ALARM_PER_OUTPUT

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--halves", required=True, help="comma-separated run_melody_real.py halves to report")
    parser.add_argument("--fit-on", default="", help="halves whose unrelated pairs fit c and K")
    parser.add_argument("--null", type=Path, help="a recorded fit (--record of an earlier run) instead of --fit-on")
    parser.add_argument("--record", type=Path, help="with --fit-on: write the fit and its unrelated pairs here")
    parser.add_argument("--tail-q", type=float, default=0.001,
                        help="K: the largest over the --fit-on halves of the value at this tail share (see fit)")
    parser.add_argument("--cautions", action="store_true",
                        help="also count the check's two melody cautions on the pairs the shipped check finds")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/work/melody-real"))
    parser.add_argument("--most-false", type=int, default=400, help="found_at_false_outputs up to this F")
    args = parser.parse_args()
    halves = [h for h in args.halves.split(",") if h]
    fit_on = [h for h in args.fit_on.split(",") if h]
    if bool(fit_on) == bool(args.null):
        raise SystemExit("melody_composition: give exactly one of --fit-on and --null")
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load0 = os.getloadavg()[0]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    build_args = SimpleNamespace(seed=21, cap_s=240.0, phrases_per_tune=None, window_s=30.0, cached_only=False,
                                 work=args.work)
    data, rows, lam = {}, {}, {}
    for h in dict.fromkeys(halves + fit_on):
        data[h] = rmr.build(h, build_args, args.work)
        rows[h] = mp.pair_rows(data[h], matcher="skyline", setup=SKYLINE, workers=2,
                               cache=args.work / f"pairs-{h}-{SKYLINE_KEY}.json")
        lam[h] = pair_lambdas(data[h], rows[h], args.work / f"lam-{h}-{SKYLINE_KEY}.npy")
    if fit_on:
        un = [(r["score"], r["m"], r["n"], round(float(x), 6), h) for h in fit_on
              for r, x in zip(rows[h], lam[h]) if not r["own"]]
        s, m, n, x, half = (np.array(c) for c in zip(*un))
        law, details = fit(s, m.astype(float), n.astype(float), x, half, tail_q=args.tail_q)
        null = {"lam": law["c"], "k": law["k"]}
        if args.record:
            from consentry.engines.melody import Scoring

            args.record.write_text(json.dumps({
                "command": "benchmarks/melody_composition.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                "halves": fit_on, "seed": 21, "null": law, "fit": details, "scoring": Scoring().__dict__,
                "pairs_per_half": [int((half == h).sum()) for h in fit_on],   # the rows below, half by half
                "score": s.tolist(), "m": m.tolist(), "n": n.tolist(), "lam_pair": x.tolist()}))
        fit_details = details
    else:
        rec = json.loads(args.null.read_text())
        null, fit_details = {"lam": rec["null"]["c"], "k": rec["null"]["k"]}, {"recorded": str(args.null)}
    shipped = {"lam": NULL_MODEL.lam, "k": NULL_MODEL.k}
    out = {"halves": halves, "fit_on": fit_on, "started": started, "load_average_1min": round(load0, 2),
           "machine": platform.processor() or platform.machine(), "null": {"c": null["lam"], "k": null["k"]},
           "fit": fit_details, "per_half": {}}
    for h in halves:
        budget = MELODY_FALSE_ALARM_PER_OUTPUT / max(1, len(data[h]["works"]))
        un_lam = np.array([x for r, x in zip(rows[h], lam[h]) if not r["own"]])
        own_lam = np.array([x for r, x in zip(rows[h], lam[h]) if r["own"]])
        out["per_half"][h] = {
            "works": len(data[h]["works"]),
            "lam_pair_unrelated_quartiles": np.round(np.quantile(un_lam, [0.25, 0.5, 0.75]), 4).tolist(),
            "lam_pair_own_quartiles": np.round(np.quantile(own_lam, [0.25, 0.5, 0.75]), 4).tolist()
            if own_lam.size else [],
            "shipped": report(rows[h], shipped, budget, args.most_false),
            "composition": report(judged(rows[h], lam[h]), null, budget, args.most_false)}
        if args.cautions:
            out["per_half"][h]["cautions"] = cautions(data[h], rows[h], lam[h], null, budget)
    out["cpu_s"] = round(time.process_time() - cpu0, 1)
    out["wall_s"] = round(time.perf_counter() - wall0, 1)
    out["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
