"""Melody matching: false alarms on unrelated melodies, detection of altered copies, transcription speed.

Prints one JSON object. Run from the repository root:

    .venv/bin/python benchmarks/run_melody.py                      # measure with the shipped NULL_MODEL
    .venv/bin/python benchmarks/run_melody.py --calibrate          # also fit lambda and K (on other seeds)
    .venv/bin/python benchmarks/run_melody.py --calibrate --merge -1.5 --use-fitted   # another scoring, its own null

--merge sets ``Scoring.merge`` (merge steps for dropped and added notes; "off"
for none); the default is the shipped scoring. --use-fitted measures with the
null model fitted in the same run (with --calibrate) instead of NULL_MODEL.

All melodies are made up (consentry.engines.melody.synthetic); nothing is downloaded.
Unrelated pairs mix the two generators (random walk / motif-based tonal),
lengths drawn log-uniformly in [--min-events, --max-events]. --calibrate fits
lambda by maximum likelihood and K on the 1% tail of the worst family of
pairs, with seed 1001; the
false alarms are measured with seed 2002 and the detections with seed 3003,
always with the NULL_MODEL shipped in consentry.engines.melody.align (paste the
fitted values there to use them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

from consentry.runtime.threads import prefer_one_thread_env

prefer_one_thread_env()

import numpy as np  # noqa: E402

from consentry.engines.melody import NULL_MODEL, Melody, NullModel, Scoring, contour_of, match_contours  # noqa: E402
from consentry.engines.melody.align import best_local_score, fit_null  # noqa: E402
from consentry.engines.melody.synthetic import alter_melody, random_walk_melody, render_notes, tonal_melody  # noqa: E402

_GENERATORS = {"walk": random_walk_melody, "tonal": tonal_melody}


def _length(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def null_scores(seed: int, trials: int, lo: int, hi: int, *, kinds: tuple[str, str] | None = None,
                scoring: Scoring = Scoring()) -> dict[str, np.ndarray]:
    """Best local scores of ``trials`` unrelated pairs, with lengths and generator kinds.

    ``kinds`` fixes the generators of both sides (default: each drawn at random).
    """
    rng = np.random.default_rng(seed)
    out = {"score": [], "m": [], "n": [], "kind": []}
    for _ in range(trials):
        ka, kb = kinds or (rng.choice(list(_GENERATORS)), rng.choice(list(_GENERATORS)))
        a = contour_of(_GENERATORS[ka](rng, n_notes=_length(rng, lo, hi)))
        b = contour_of(_GENERATORS[kb](rng, n_notes=_length(rng, lo, hi)))
        out["score"].append(best_local_score(a, b, scoring))
        out["m"].append(len(a))
        out["n"].append(len(b))
        out["kind"].append("-".join(sorted((ka, kb))))
    return {k: np.asarray(v) for k, v in out.items()}


def fit_null_model(null: dict[str, np.ndarray]) -> tuple[NullModel, dict]:
    """The shipped null from unrelated pairs' scores (``null_scores``): lambda by maximum likelihood,
    then K raised so that in each family of pairs at most 1% of them reach p <= 1%.

    Returns the model rounded as shipped (lambda to 4 decimals, K to 4 significant digits) and the
    details (K by maximum likelihood, K from each family's tail).
    """
    mle = fit_null(null["score"], null["m"], null["n"])
    per_family = {}
    for kind in sorted(set(null["kind"])):
        sel = null["kind"] == kind
        e = null["m"][sel] * null["n"][sel] * np.exp(-mle.lam * null["score"][sel])
        per_family[kind] = float(-np.log1p(-0.01) / np.quantile(e, 0.01))  # 1% of pairs have K*e <= e(1%)
    k = max(mle.k, *per_family.values())
    model = NullModel(lam=round(mle.lam, 4), k=float(f"{k:.4g}"))
    return model, {"lam": model.lam, "k_mle": float(f"{mle.k:.4g}"),
                   "k_tail_per_family": {kk: float(f"{v:.4g}") for kk, v in per_family.items()}, "k": model.k}


def false_alarms(seed: int, trials: int, lo: int, hi: int, *, scoring: Scoring = Scoring(),
                 model: NullModel = NULL_MODEL) -> dict:
    """Share of unrelated pairs with a significant phrase (the full decision, min_notes included)."""
    rng = np.random.default_rng(seed)
    hits = {"all": [0, 0]}
    t0 = time.perf_counter()
    for _ in range(trials):
        ka, kb = rng.choice(list(_GENERATORS)), rng.choice(list(_GENERATORS))
        a = contour_of(_GENERATORS[ka](rng, n_notes=_length(rng, lo, hi)))
        b = contour_of(_GENERATORS[kb](rng, n_notes=_length(rng, lo, hi)))
        hit = bool(match_contours(a, b, max_phrases=1, scoring=scoring, null_model=model))
        for key in ("all", "-".join(sorted((ka, kb)))):
            hits.setdefault(key, [0, 0])
            hits[key][0] += hit
            hits[key][1] += 1
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        **{k: {"false_alarms": h, "trials": n, "rate": round(h / n, 4)} for k, (h, n) in hits.items()},
    }


def detections(seed: int, trials: int, *, scoring: Scoring = Scoring(), model: NullModel = NULL_MODEL) -> dict:
    """Altered copies of an 8-16-note phrase of a registered melody, inside an unrelated query."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(trials):
        kind = str(rng.choice(list(_GENERATORS)))
        ref = _GENERATORS[kind](rng, n_notes=int(rng.integers(40, 200)))
        length = int(rng.integers(8, 17))
        k0 = int(rng.integers(0, len(ref) - length))
        phrase = Melody(ref.onsets_s[k0:k0 + length], ref.pitches[k0:k0 + length])
        errors = str(rng.choice(["none", "drop", "insert", "semitone", "drop+insert"]))
        transpose = int(rng.choice([-1, 1])) * int(rng.integers(1, 7))
        tempo = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
        before = random_walk_melody(rng, n_notes=int(rng.integers(5, 60)))
        start = float(before.onsets_s[-1]) + 0.6
        copy = alter_melody(rng, phrase, transpose_semitones=transpose, tempo_ratio=tempo, start_s=start,
                            n_drop=int("drop" in errors), n_insert=int("insert" in errors),
                            n_semitone_errors=int(errors == "semitone"))
        after = random_walk_melody(rng, n_notes=int(rng.integers(5, 60)), start_s=float(copy.onsets_s[-1]) + 0.6)
        query = Melody(np.concatenate([before.onsets_s, copy.onsets_s, after.onsets_s]),
                       np.concatenate([before.pitches, copy.pitches, after.pitches]))
        found = match_contours(contour_of(query), contour_of(ref), max_phrases=1, scoring=scoring, null_model=model)
        ok = bool(found) and abs(found[0].query_start_s - start) < 2.0 and abs(
            found[0].reference_start_s - phrase.onsets_s[0]) < 2.0 * 1.25
        rows.append({
            "length": length, "errors": errors, "detected": ok,
            "transposition_ok": ok and found[0].transposition_semitones == transpose,
            "tempo_ok": ok and abs(found[0].tempo_ratio / tempo - 1) < 0.05,
        })
    out = {"trials": len(rows), "detection_rate": round(np.mean([r["detected"] for r in rows]), 4)}
    det = [r for r in rows if r["detected"]]
    out["transposition_correct_of_detected"] = round(np.mean([r["transposition_ok"] for r in det]), 4) if det else None
    out["tempo_within_5pct_of_detected"] = round(np.mean([r["tempo_ok"] for r in det]), 4) if det else None
    for key in ("none", "drop", "insert", "semitone", "drop+insert"):
        sub = [r["detected"] for r in rows if r["errors"] == key]
        out[f"rate_errors_{key}"] = {"rate": round(float(np.mean(sub)), 4), "trials": len(sub)} if sub else None
    for lo, hi in ((8, 10), (11, 13), (14, 16)):
        sub = [r["detected"] for r in rows if lo <= r["length"] <= hi]
        out[f"rate_phrase_{lo}-{hi}_notes"] = {"rate": round(float(np.mean(sub)), 4), "trials": len(sub)} if sub else None
    return out


def speed(seconds_of_audio: float) -> dict:
    """Transcription time relative to audio duration, and one 300 x 300 alignment."""
    from consentry.engines.melody.transcribe import ModelUnavailable, transcribe

    rng = np.random.default_rng(7)
    mel = tonal_melody(rng, n_notes=int(seconds_of_audio * 3))
    mel = Melody(mel.onsets_s[mel.onsets_s < seconds_of_audio - 1], mel.pitches[mel.onsets_s < seconds_of_audio - 1])
    ends = np.append(mel.onsets_s[1:], seconds_of_audio - 0.5)
    audio = render_notes(list(zip(mel.onsets_s, ends * 0.999, mel.pitches)), duration_s=seconds_of_audio)
    out: dict = {"audio_s": seconds_of_audio}
    try:
        transcribe(audio[:22050], sample_rate_hz=22050)  # load the model outside the timing
        t0 = time.perf_counter()
        notes = transcribe(audio, sample_rate_hz=22050)
        dt = time.perf_counter() - t0
        out.update(transcribe_s=round(dt, 3), ratio_transcribe_to_audio=round(dt / seconds_of_audio, 4),
                   notes=len(notes), notes_synthesised=len(mel))
    except ModelUnavailable as exc:
        out["transcribe_skipped"] = str(exc)
    a = contour_of(tonal_melody(rng, n_notes=301))
    b = contour_of(tonal_melody(rng, n_notes=301))
    t0 = time.perf_counter()
    match_contours(a, b)
    out["align_300x300_s"] = round(time.perf_counter() - t0, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true", help="fit lambda and K on --calibration-trials pairs")
    parser.add_argument("--calibration-trials", type=int, default=3000)
    parser.add_argument("--null-trials", type=int, default=3000)
    parser.add_argument("--detection-trials", type=int, default=1000)
    parser.add_argument("--min-events", type=int, default=16)
    parser.add_argument("--max-events", type=int, default=400)
    parser.add_argument("--audio-s", type=float, default=60.0)
    parser.add_argument("--merge", default=None,
                        help='Scoring.merge for this run: a number, or "off" (default: the shipped Scoring)')
    parser.add_argument("--use-fitted", action="store_true", help="measure with the null fitted here (needs --calibrate)")
    parser.add_argument("--no-speed", action="store_true", help="skip transcription and alignment timing")
    parser.add_argument("--record", type=Path,
                        help="with --calibrate: write the calibration pairs and the fit here (benchmarks/fits/melody_null.json)")
    parser.add_argument("--detection-seed", type=int, default=3003,
                        help="seed of the detection trials (3003 reported; another one to choose a scoring)")
    args = parser.parse_args()
    scoring = Scoring()
    if args.merge is not None:
        scoring = dataclasses.replace(scoring, merge=None if args.merge == "off" else float(args.merge))

    result: dict = {"machine": platform.processor() or platform.machine(), "python": sys.version.split()[0]}
    model = NULL_MODEL
    if args.calibrate:
        # lambda (the slope of the tail) by maximum likelihood on all pairs; K then raised so that
        # in each family of pairs (walk-walk, tonal-walk, tonal-tonal) at most 1% of the calibration
        # pairs reach p <= 1%: the Gumbel fit follows the bulk, the decision lives in the tail.
        null = null_scores(1001, args.calibration_trials, args.min_events, args.max_events, scoring=scoring)
        model, fitted = fit_null_model(null)
        result["calibration"] = {"seed": 1001, "trials": args.calibration_trials, **fitted}
        if args.record:
            args.record.write_text(json.dumps({
                "command": "benchmarks/run_melody.py --calibrate" + (f" --merge={args.merge}" if args.merge else ""),
                "seed": 1001, "min_events": args.min_events, "max_events": args.max_events,
                "scoring": dataclasses.asdict(scoring), "fitted": fitted,
                "score": null["score"].tolist(), "m": null["m"].tolist(), "n": null["n"].tolist(),
                "kind": null["kind"].tolist()}) + "\n")
    if args.use_fitted and not args.calibrate:
        parser.error("--use-fitted needs --calibrate")
    used = model if args.use_fitted else NULL_MODEL
    result["scoring"] = dataclasses.asdict(scoring)
    result["null_model_used"] = {"lam": used.lam, "k": used.k}
    result["false_alarms"] = false_alarms(2002, args.null_trials, args.min_events, args.max_events,
                                          scoring=scoring, model=used)
    result["detection"] = detections(args.detection_seed, args.detection_trials, scoring=scoring, model=used)
    result["detection"]["seed"] = args.detection_seed
    if not args.no_speed:
        result["speed"] = speed(args.audio_s)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
