"""Calibrate the match threshold and the confidence on data kept apart from the benchmark.

The benchmark's own queries (make_queries.py: SoX alterations, Fret's on Fire
negatives) are never used here.  Instead:

- negatives: 10-second excerpts of the ``singularity-music`` files, altered
  with Consentry's own alterations module, searched in an index of the
  ``wesnoth-1.16-music`` files only (so nothing they contain is registered);
- positives: the same excerpts searched in an index of the singularity files.

It prints the distribution of the best score of the negatives (the false
match rate at each threshold), the exponential tail of that distribution
that the engine's ``false_match_rate`` uses (``log P(best >= s) = a + b * s``,
least squares over s = 5..12: the engine's ``_FMR_LOG_A`` and ``_FMR_LOG_B``,
:func:`fitting.fit_fmr_tail`), and a logistic confidence
``1 / (1 + exp(-slope * (score - mid)))`` by maximum likelihood with equal
priors (printed for comparison; the engine does not use it).  The default
threshold (``DEFAULT_MIN_SCORE``) must lie above every negative's best score.
The constants are copied into the music engine by hand, with the run recorded
in benchmarks/RESULTS.md; ``--record`` writes the negatives and the fit, which
tests/engines/test_constants.py refits and compares with what the engine ships.

    python benchmarks/calibrate.py --corpus benchmarks/corpus --excerpts 320 \
        --record benchmarks/fits/fmr_tail.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from consentry import Registry  # noqa: E402
from consentry.testing import alterations as alt  # noqa: E402
from consentry.io.decode import decode_audio  # noqa: E402
from consentry.engines.music.params import ENGINE_NAME, params_for  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fitting import fit_fmr_tail  # noqa: E402
from machine import run_info, wav_bytes  # noqa: E402

VARIANTS = ["clean", "mp3_64k", "noise_10db", "speed_+3", "pitch_-2st", "tempo_+5", "phone", "reverb"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="benchmarks/corpus")
    ap.add_argument("--excerpts", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", default=None)
    ap.add_argument("--record", default=None, help="write the negatives' best scores and the tail fit here (JSON)")
    ap.add_argument("--engine-version", default="1",
                    help="music engine version (default 1, whose _FMR_LOG_A/_B these are; benchmarks/calibrate_v2.py "
                         "calibrates version 2 on other data)")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    wesnoth = sorted((corpus / "wesnoth-1.16-music").rglob("*.ogg"))
    singularity = sorted((corpus / "singularity-music").rglob("*.ogg"))
    rng = np.random.default_rng(args.seed)
    sr = 22050
    info = run_info()
    with tempfile.TemporaryDirectory() as tmp:
        params = params_for(args.engine_version)
        neg_reg = Registry.open(Path(tmp) / "neg.db", params=params)
        engine = f"{ENGINE_NAME}/{params.version}/{neg_reg.param_hash}"
        neg_reg.register(wesnoth, workers=2)
        pos_reg = Registry.open(Path(tmp) / "pos.db", params=params)
        pos_reg.register(singularity, workers=2)
        decoded = {f: decode_audio(f, sample_rate_hz=sr).samples for f in singularity}
        neg_scores, pos_scores = [], []
        for i in range(args.excerpts):
            f = singularity[int(rng.integers(len(singularity)))]
            x = decoded[f]
            start = float(rng.uniform(0, x.size / sr - 11))
            clip = alt.excerpt(x, start_s=start, duration_s=10.0, sample_rate_hz=sr)
            variant = VARIANTS[i % len(VARIANTS)]
            y, ysr = alt.apply_variant(variant, clip, sample_rate_hz=sr, seed=i)
            y8 = decode_audio(wav_bytes(y, sample_rate_hz=ysr), sample_rate_hz=params.sample_rate_hz, name="clip").samples
            neg = neg_reg.identify_samples(y8, min_score=3)
            neg_scores.append(max((m.score for m in neg), default=0.0))
            pos = [m.score for m in pos_reg.identify_samples(y8, min_score=3) if Path(m.source) == f.resolve()]
            pos_scores.append(max(pos, default=0.0))
        neg_reg.close()
        pos_reg.close()
    neg = np.array(neg_scores)
    pos = np.array(pos_scores)
    print(f"negatives: {neg.size} queries; best score max {neg.max():.0f}, p99 {np.percentile(neg, 99):.0f}, p90 {np.percentile(neg, 90):.0f}")
    print(f"positives: {pos.size} queries; score p1 {np.percentile(pos, 1):.0f}, p10 {np.percentile(pos, 10):.0f}, median {np.median(pos):.0f}")
    print("threshold  false-match rate  recall")
    for t in range(6, 21):
        print(f"{t:9d}  {np.mean(neg >= t):16.4f}  {np.mean(pos >= t):6.3f}")

    scores = np.r_[neg, pos]
    labels = np.r_[np.zeros(neg.size), np.ones(pos.size)]

    def nll(p):
        z = p[1] * (scores - p[0])
        return float(np.sum(np.logaddexp(0, -z) * labels + np.logaddexp(0, z) * (1 - labels)))

    fit = minimize(nll, x0=[10.0, 1.0], method="Nelder-Mead")
    mid, slope = fit.x
    print(f"logistic confidence: mid {mid:.2f}, slope {slope:.3f}")
    tail = fit_fmr_tail(neg)
    print(f"false-match tail: log P(best >= s) = {tail['a']:.3f} {tail['b']:+.3f} s "
          f"(least squares over {tail['points']} scores in 5..12; the engine's _FMR_LOG_A, _FMR_LOG_B)")
    if args.record:
        Path(args.record).write_text(json.dumps({
            "command": "benchmarks/calibrate.py --excerpts %d --seed %d" % (args.excerpts, args.seed),
            "engine": engine, "date_utc": info["date_utc"], "fit": {"a": tail["a"], "b": tail["b"]},
            "survival": tail["survival"], "max_negative": tail["max"], "negatives": [float(v) for v in neg]}, indent=0) + "\n")
    if args.out:
        Path(args.out).write_text(json.dumps({"neg": neg.tolist(), "pos": pos.tolist(), "mid": mid, "slope": slope}))


if __name__ == "__main__":
    main()
