"""Pitch-set melodies on real music (issue 21, session 5): scores of every output-work pair, the null fit, the rates.

Used by ``benchmarks/run_melody_real.py`` (``--pitch-sets``, ``--fit-pitch-sets``); the data are its outputs
(``build``). Every output is compared with every registered work of its half, once per matcher:

- ``pitch_sets`` (consentry.engines.melody.pitchsets): the best path over onset groups as pitch sets;
- ``skyline`` (the check's shipped matcher): the best phrase of match_contours, asked for at any false-alarm
  probability (so that its rows say what every pair scored, not only the significant ones); ``"melody"`` in its
  setup passes options to melody_from_notes (session 7: ``{"line": "top_voice"}``).

A row is one pair: its score, lengths (groups or events), where the best phrase starts in the output and how
many notes it pairs. A positive output's own tune is *found* at a budget when the phrase is significant and
starts within 2 s of the copy; every other significant phrase (another work, or the own work elsewhere) is a
false match. Unrelated pairs (an output and a work that is not its tune) give the null fit and the false-match
rate per comparison.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from fitting import wilson

_STATE: dict = {}


def _share(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"k": int(k), "n": int(n), "rate": round(k / max(1, n), 4), "wilson95": [round(lo, 4), round(hi, 4)]}


def _outputs(data: dict) -> list[dict]:
    out = [{"kind": "pos", "tune": p["tune"], "copy_start_s": p["copy_start_s"], "errors": p["errors"],
            "other_instruments": p["other_instruments"], "notes": p["notes"]} for p in data["positives"]]
    out += [{"kind": "neg", "tune": n["tune"], "notes": n["notes"]} for n in data["negatives"]]
    return out


def _prepare(matcher: str, setup: dict, works: dict) -> None:
    from consentry.engines.melody import Note, contour_of, melody_from_notes
    from consentry.engines.melody.pitchsets import SetScoring, pitch_sets_from_notes

    def notes(rows):
        return [Note(r[0], r[1], int(r[2]), r[3]) for r in rows]

    if matcher == "pitch_sets":
        of = lambda rows: pitch_sets_from_notes(notes(rows), **setup.get("sets", {}))  # noqa: E731
        _STATE["scoring"] = SetScoring(**setup.get("scoring", {}))
        _STATE["length"] = len
    else:
        line = setup.get("melody", {})          # melody_from_notes options, e.g. {"line": "top_voice"}
        of = lambda rows: contour_of(melody_from_notes(notes(rows), **line))  # noqa: E731
        _STATE["length"] = lambda c: len(c.melody)   # the check's guard counts notes; the null counts events
    _STATE.update(matcher=matcher, of=of, refs={k: of(v) for k, v in works.items()})


def _rows_of(output: dict) -> list[dict]:
    from consentry.engines.melody import match_contours
    from consentry.engines.melody.pitchsets import align_pitch_sets

    q = _STATE["of"](output["notes"])
    if _STATE["length"](q) < 7:
        return []           # as the check: an output of fewer than 7 notes is not matched
    rows = []
    for work, ref in _STATE["refs"].items():
        if _STATE["matcher"] == "pitch_sets":
            best = align_pitch_sets(q, ref, _STATE["scoring"])
            score, pairs, m, n = best.score, best.n_pairs, len(q), len(ref)
            start = float(q.onsets_s[best.query_first]) if pairs else None
        else:
            phrases = match_contours(q, ref, max_false_alarm=1.0, max_phrases=1, min_notes=0)
            score = phrases[0].score if phrases else 0.0
            pairs = phrases[0].n_matched_notes if phrases else 0
            start = phrases[0].query_start_s if phrases else None
            m, n = len(q), len(ref)
        own = output["kind"] == "pos" and work == output["tune"]
        located = own and start is not None and abs(start - output["copy_start_s"]) < 2.0
        rows.append({"work": work, "own": own, "located": located, "score": round(float(score), 3),
                     "m": m, "n": n, "pairs": int(pairs)})
    return rows


def pair_rows(data: dict, *, matcher: str, setup: dict, cache: Path | None = None, workers: int = 2) -> list[dict]:
    """One row per (output, registered work) pair (see the module docstring), cached as JSON in ``cache``."""
    if cache is not None and cache.exists():
        return json.loads(cache.read_text())
    outputs = _outputs(data)
    _prepare(matcher, setup, data["works"])
    workers = max(1, min(workers, os.cpu_count() or 1, len(outputs)))
    if workers == 1:
        per_output = [_rows_of(o) for o in outputs]
    else:
        with ProcessPoolExecutor(workers, initializer=_prepare, initargs=(matcher, setup, data["works"])) as pool:
            per_output = list(pool.map(_rows_of, outputs, chunksize=8))
    rows = []
    for index, (o, pr) in enumerate(zip(outputs, per_output)):
        meta = {k: o[k] for k in ("kind", "tune", "errors", "other_instruments") if k in o}
        rows += [{"output": index, **meta, **r} for r in pr]
    if cache is not None:
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows))
        tmp.rename(cache)
    return rows


def fit_null(scores, m, n) -> tuple[dict, dict]:
    """lambda by maximum likelihood on the unrelated pairs' best scores ``scores`` (lengths ``m`` and ``n`` in
    groups), and K: the larger of its maximum-likelihood value and the value at which 1 % of the pairs have a
    false-alarm probability of 1 % or less (the decision lives in the tail).

    Returns ``({"lam", "k"}, details)``.
    """
    from consentry.engines.melody.align import fit_null as gumbel

    s, m, n = (np.asarray(x, float) for x in (scores, m, n))
    model = gumbel(s, m, n)
    e = m * n * np.exp(-model.lam * s)
    k_tail = float(-np.log1p(-0.01) / np.quantile(e, 0.01))
    lam = float(f"{model.lam:.4g}")
    k = float(f"{max(model.k, k_tail):.4g}")
    return {"lam": lam, "k": k}, {"unrelated_pairs": int(s.size), "k_mle": float(f"{model.k:.4g}"),
                                  "k_tail_1pct": float(f"{k_tail:.4g}")}


def evaluate(rows: list[dict], *, null: dict, budget: float, min_notes: int = 6) -> dict:
    """Found rate and false matches at a per-comparison ``budget`` under ``null`` (see the module docstring)."""
    from consentry.engines.melody.align import NullModel

    model = NullModel(**null)
    by_output: dict[int, list[dict]] = {}
    for r in rows:
        r = {**r, "p": float(model.false_alarm(r["score"], r["m"], r["n"]))}
        r["significant"] = r["p"] <= budget and r["pairs"] >= min_notes
        by_output.setdefault(r["output"], []).append(r)
    pos = [rs for rs in by_output.values() if rs[0]["kind"] == "pos"]
    neg = [rs for rs in by_output.values() if rs[0]["kind"] == "neg"]
    found = [any(r["own"] and r["located"] and r["significant"] for r in rs) for rs in pos]
    false_out = [any(r["significant"] and not (r["own"] and r["located"]) for r in rs) for rs in pos + neg]
    unrelated = [r for rs in by_output.values() for r in rs if not r["own"]]
    out = {"budget_per_comparison": budget, "found": _share(sum(found), len(found))}
    for flag, label in ((False, "same_instruments"), (True, "other_instruments")):
        sub = [f for f, rs in zip(found, pos) if rs[0]["other_instruments"] == flag]
        out[f"found_{label}"] = _share(sum(sub), len(sub))
    out["outputs_with_a_false_match"] = _share(sum(false_out), len(false_out))
    out["unrelated_pairs_matched"] = _share(sum(r["significant"] for r in unrelated), len(unrelated))
    out["outputs_matched_7_or_more_notes"] = {"positives": len(pos), "negatives": len(neg)}
    return out


def at_zero_false(rows: list[dict], *, null: dict, min_notes: int = 6) -> dict:
    """Found rate when the cut on the false-alarm probability lies just below every unrelated pair's (0 false
    matches among these pairs), so that two matchers are compared at the same false-match rate (0 of N)."""
    from consentry.engines.melody.align import NullModel

    model = NullModel(**null)
    p = lambda r: float(model.false_alarm(r["score"], r["m"], r["n"]))  # noqa: E731
    unrelated = [p(r) for r in rows if not r["own"] and r["pairs"] >= min_notes]
    cut = min(unrelated) if unrelated else 1.0
    pos = {}
    for r in rows:
        if r["kind"] == "pos":
            pos.setdefault(r["output"], False)
            if r["own"] and r["located"] and r["pairs"] >= min_notes and p(r) < cut:
                pos[r["output"]] = True
    return {"smallest_unrelated_false_alarm": float(f"{cut:.3g}"), "unrelated_pairs": len(unrelated),
            "found": _share(sum(pos.values()), len(pos))}


def combined(parts: list[tuple[list[dict], dict]], *, budget: float, min_notes: int = 6) -> dict:
    """Several matchers together, each at ``budget / len(parts)`` (so the per-output budget stays ``budget``
    times the works): an output's tune is found when any matcher finds it; a false match by any is counted."""
    from consentry.engines.melody.align import NullModel

    share = budget / len(parts)
    outputs: dict[int, dict] = {}
    for rows, null in parts:
        model = NullModel(**null)
        for r in rows:
            o = outputs.setdefault(r["output"], {"kind": r["kind"], "found": False, "false": False})
            if model.false_alarm(r["score"], r["m"], r["n"]) <= share and r["pairs"] >= min_notes:
                if r["own"] and r["located"]:
                    o["found"] = True
                else:
                    o["false"] = True
    pos = [o for o in outputs.values() if o["kind"] == "pos"]
    return {"budget_per_comparison_each": share, "found": _share(sum(o["found"] for o in pos), len(pos)),
            "outputs_with_a_false_match": _share(sum(o["false"] for o in outputs.values()), len(outputs))}


def found_at_false_outputs(rows: list[dict], *, null: dict, most_false: int = 12, min_notes: int = 6) -> list[dict]:
    """Found rate at each number ``F`` = 0..``most_false`` of outputs with a false match: the cut on the
    false-alarm probability is set just below the (F+1)-th smallest of the outputs' best false p (a significant
    phrase that is not the own tune where it was copied), so that two nulls (two rankings of the same pairs) are
    compared at the same false-match rate. Returns one ``{"false_outputs", "cut", "found"}`` per F."""
    from consentry.engines.melody.align import NullModel

    model = NullModel(**null)
    best_false: dict[int, float] = {}
    best_true: dict[int, float] = {}
    for r in rows:
        best_false.setdefault(r["output"], np.inf)
        if r["kind"] == "pos":
            best_true.setdefault(r["output"], np.inf)
        if r["pairs"] < min_notes:
            continue
        p = float(model.false_alarm(r["score"], r["m"], r["n"]))
        if r["own"] and r["located"]:
            best_true[r["output"]] = min(best_true[r["output"]], p)
        else:
            best_false[r["output"]] = min(best_false[r["output"]], p)
    false_sorted = np.sort(np.fromiter(best_false.values(), float))
    true_p = np.fromiter(best_true.values(), float)
    out = []
    for f in range(min(most_false, false_sorted.size - 1) + 1):
        cut = false_sorted[f]
        out.append({"false_outputs": _share(f, false_sorted.size), "cut": float(f"{cut:.3g}"),
                    "found": _share(int((true_p < cut).sum()), true_p.size)})
    return out
