"""The fits behind the constants that decide a finding, as pure functions.

Each benchmark command that produces a shipped constant (benchmarks/RESULTS.md,
"Where each constant comes from") gathers its data, calls one of these
functions and prints the result; it also writes the data the fit saw to
``benchmarks/fits/``, so that ``tests/engines/test_constants.py`` can run the same
function on the same data and compare with the value the engine ships.
Only NumPy and SciPy here: no decoding, no models.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "fit_fmr_tail",
    "fit_fmr_tail_envelope",
    "fit_score_per_doubling",
    "fit_speech_gate",
    "fit_window_threshold",
    "min_score_with_step",
    "wilson",
]


def wilson(k: int, n: int, *, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (95 % by default) of a proportion seen ``k`` times in ``n`` trials.

    Returns ``(low, high)`` in [0, 1]; ``(0.0, 1.0)`` when ``n`` is 0.
    """
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def fmt_share(k: int, n: int) -> str:
    """``"k of n = p% (95% CI lo-hi%)"``, the Wilson interval; for RESULTS.md tables."""
    lo, hi = wilson(k, n)
    return f"{k} of {n} = {100 * k / max(1, n):.1f}% ({100 * lo:.1f}-{100 * hi:.1f}%)"


# ---------------------------------------------------------------- music engine: threshold that grows with length
def min_score_with_step(searched_s: float, step: float, *, base: int = 14, reference_s: float = 10.0) -> int:
    """The engine's length rule with a given step per doubling (``engine.min_score_for`` when step is shipped)."""
    ratio = max(1.0, float(searched_s) / reference_s)
    return int(math.ceil(base + step * math.log2(ratio) - 0.1))


def fit_score_per_doubling(rows: list[dict], *, base: int = 14, grid_step: float = 0.1, max_step: float = 3.0) -> dict:
    """The smallest step per doubling (on a ``grid_step`` grid) with no false finding on the fitting half.

    Parameters
    ----------
    rows : list of dict
        One per output of unregistered music: ``half`` ("A" fits, "B" is
        held out), ``duration_s`` (s) and ``best`` (the best chance score of
        any registered work, from ``identify`` with a low threshold).
    Returns
    -------
    dict
        ``step``; per step of the grid, outputs with a false finding in each
        half (``table``); ``max_best`` per half.
    """
    steps = [round(i * grid_step, 10) for i in range(int(round(max_step / grid_step)) + 1)]
    table = []
    for step in steps:
        false = {h: sum(r["best"] >= min_score_with_step(r["duration_s"], step, base=base) for r in rows if r["half"] == h)
                 for h in ("A", "B")}
        table.append({"step": step, "false_A": false["A"], "false_B": false["B"]})
    chosen = next(t["step"] for t in table if t["false_A"] == 0) if any(t["false_A"] == 0 for t in table) else None
    return {"step": chosen, "table": table,
            "outputs": {h: sum(r["half"] == h for r in rows) for h in ("A", "B")},
            "max_best": {h: max((r["best"] for r in rows if r["half"] == h), default=None) for h in ("A", "B")}}


# ---------------------------------------------------------------- music engine: false-match tail of 10-s queries
def fit_fmr_tail(best_scores, *, lo: int = 5, hi: int = 12) -> dict:
    """Least-squares line through ``log P(best >= s)`` for integer s in [lo, hi] where P > 0.

    ``best_scores`` are the best chance scores of unrelated 10-s queries
    (benchmarks/calibrate.py's negatives).  The engine ships the intercept
    and slope as ``_FMR_LOG_A`` and ``_FMR_LOG_B`` (``false_match_rate``).
    """
    neg = np.asarray(best_scores, dtype=np.float64)
    s = np.arange(lo, hi + 1, dtype=np.float64)
    p = np.array([np.mean(neg >= v) for v in s])
    keep = p > 0
    slope, intercept = np.polyfit(s[keep], np.log(p[keep]), 1)
    return {"a": round(float(intercept), 3), "b": round(float(slope), 3), "points": int(keep.sum()),
            "survival": {int(v): round(float(q), 5) for v, q in zip(s, p)}, "n": int(neg.size),
            "max": float(neg.max()) if neg.size else None}


def fit_fmr_tail_envelope(best_scores, songs, *, lo: int = 7) -> dict:
    """A false-match tail ``log P(best >= s) = a + b * s`` that bounds the worst song's rate, not the average.

    Chance scores depend on the music by an order of magnitude (benchmarks/RESULTS.md, "Music engine v2":
    one song of seven gave 17 of half F's 19 scores of 7 or more), so a line through the pooled rate is
    a rate for an average of the songs measured.  Here:

    - the slope ``b`` is the least-squares slope of the pooled ``log P(best >= s)`` over the upper tail
      only, integer s from ``lo`` to the highest score (:func:`fit_fmr_tail` with that ``lo``);
    - the intercept ``a`` is the smallest (rounded up to 0.001) that puts the line at or above the upper
      95 % Wilson limit of ``k_j(s) / n_j`` for every song j and every integer s >= ``lo`` at which
      that song has ``k_j(s) >= 1`` queries scoring s or more.

    Parameters
    ----------
    best_scores : array_like of float, shape (n,)
        Best chance score of each unrelated 10-s query (0 when nothing reached the search threshold).
    songs : sequence of str, length n
        The song each query was cut from (queries of one song are not independent draws).
    lo : int
        Lowest score of the upper tail.

    Returns
    -------
    dict
        ``a``, ``b`` (the engine's ``_FMR_LOG_A_V2``, ``_FMR_LOG_B_V2``), ``lo``, ``n``, ``songs`` (per song:
        ``n`` and ``k``, the count at or above each s >= ``lo``) and ``binding`` (the song and score that
        set ``a``).  ``a`` and ``b`` are None when the pooled tail has fewer than two points.
    """
    neg = np.asarray(best_scores, dtype=np.float64)
    names = np.asarray(songs)
    if names.shape != neg.shape:
        raise ValueError(f"fit_fmr_tail_envelope: {neg.size} scores but {names.size} song names")
    top = int(neg.max()) if neg.size else lo
    per_song = {}
    for name in sorted(set(names.tolist())):
        mine = neg[names == name]
        per_song[name] = {"n": int(mine.size), "k": {s: int((mine >= s).sum()) for s in range(lo, top + 1)}}
    if int((neg >= lo).sum()) == 0 or np.unique(neg[neg >= lo]).size < 2:
        return {"a": None, "b": None, "lo": lo, "n": int(neg.size), "songs": per_song, "binding": None}
    b = fit_fmr_tail(neg, lo=lo, hi=top)["b"]
    a, binding = -math.inf, None
    for name, row in per_song.items():
        for s, k in row["k"].items():
            if k >= 1:
                need = math.log(wilson(k, row["n"])[1]) - b * s
                if need > a:
                    a, binding = need, {"song": name, "score": s, "k": k, "n": row["n"]}
    return {"a": math.ceil(round(a * 1000, 6)) / 1000, "b": b, "lo": lo, "n": int(neg.size), "songs": per_song,
            "binding": binding}


# ---------------------------------------------------------------- voice: speech gate and window threshold
def fit_speech_gate(x: np.ndarray, is_speech: np.ndarray, *, penalty: float = 0.1, speech_pass: float = 0.99) -> dict:
    """Logistic speech-vs-music model on window prints, classes weighted equally, L2 ``penalty`` on the weights.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Window prints (GE2E, d = 256) of the fitting half.
    is_speech : ndarray of bool, shape (n,)
    Returns
    -------
    dict
        ``weights`` (list of d floats, 6 decimals), ``bias``, ``threshold``
        (the score that lets ``speech_pass`` of the speech windows through).
    """
    from scipy.optimize import minimize

    xt = np.c_[np.asarray(x, dtype=np.float64), np.ones(len(x))]
    yt = np.asarray(is_speech, dtype=np.float64)
    weight = np.where(yt == 1, 0.5 / max(1, yt.sum()), 0.5 / max(1, (1 - yt).sum()))

    def loss(w):
        z = xt @ w
        p = 1 / (1 + np.exp(-z))
        return (float(np.sum(weight * (np.logaddexp(0, z) - yt * z)) + penalty * np.sum(w[:-1] ** 2)),
                xt.T @ (weight * (p - yt)) + 2 * penalty * np.r_[w[:-1], 0])

    w = minimize(loss, np.zeros(xt.shape[1]), jac=True, method="L-BFGS-B").x
    z = xt @ w
    threshold = float(np.quantile(z[yt == 1], 1 - speech_pass))
    return {"weights": [round(float(v), 6) for v in w[:-1]], "bias": round(float(w[-1]), 6),
            "threshold": round(threshold, 6)}


def fit_window_threshold(rows: list[dict], *, per_output_rate: float = 0.01) -> dict:
    """The voice check's window threshold and its companions, from the fitting half's outputs.

    Parameters
    ----------
    rows : list of dict
        One per output of the fitting half: ``target`` (the pasted speaker's
        best-window similarity) and ``nontargets`` (the best-window
        similarity of every other voice compared: enrolled, and not heard in
        the output).
    Returns
    -------
    dict
        ``threshold`` (1 % of outputs with a false match, rounded up to 4 decimals: the
        shipped ``WINDOW_THRESHOLD``), ``voices`` (median number of voices
        compared per output: ``WINDOW_THRESHOLD_VOICES``), ``tail_scale``
        (``WINDOW_THRESHOLD_TAIL``: mean excess over the 90th percentile of
        the positive non-target scores), ``calibration`` (slope, offset:
        ``WINDOW_CALIBRATION``), and ``per_comparison`` (1 % of comparisons).
    """
    from consentry.engines.voice.score import LogisticCalibration, threshold_at_false_accept

    nontargets = [v for r in rows for v in r["nontargets"]]
    per_output = threshold_at_false_accept([max(r["nontargets"], default=0.0) for r in rows],
                                           false_accept_rate=per_output_rate)
    per_comparison = threshold_at_false_accept(nontargets, false_accept_rate=0.01)
    calib = LogisticCalibration.fit([r["target"] for r in rows], nontargets)
    positive = np.array([v for v in nontargets if v > 0.0])
    above = float(np.quantile(positive, 0.9))
    scale = float(np.mean(positive[positive > above] - above))
    # Rounded up, so that the shipped value never lets through a score the exact one refuses.
    return {"threshold": math.ceil(float(per_output) * 1e4) / 1e4, "threshold_exact": float(per_output),
            "per_comparison": round(float(per_comparison), 4),
            "voices": int(np.median([len(r["nontargets"]) + 1 for r in rows])),
            "tail_above": round(above, 4), "tail_scale": round(scale, 4), "tail_nontargets": int(positive.size),
            "calibration": {"slope": round(calib.slope, 3), "offset": round(calib.offset, 3)},
            "outputs": len(rows), "nontarget_comparisons": len(nontargets)}
