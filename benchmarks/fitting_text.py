"""The fit behind the text engine's deciding constants ``min_short_passage_words`` and ``miss_weight``.

``benchmarks/fit_text_rule.py`` gathers the candidate passages the engine
makes on passages of unrelated documents of the fitting half (never those
the false-match benchmark draws from), calls :func:`fit_rule` and prints the
result; with ``--record`` it writes the rows to
``benchmarks/fits/text_rule.json``, so that ``tests/engines/test_text_constants.py``
can run this function on the same rows and compare with the values the
engine ships.  Only the standard library here.
"""

from __future__ import annotations

import math

__all__ = ["counts", "fit_rule", "passes"]


def passes(row: dict, miss_weight: float, min_short_words: int, *, min_seeds: float, min_words: int,
           min_anchors: int = 0) -> bool:
    """Whether a candidate passage counts under the engine's rule (``match.Chain.counts`` and ``verify``).

    ``row`` holds ``weight`` (its seeds' summed ``1 / works_holding``),
    ``missed`` (anchors missed), ``matched_words``, ``short`` (its seeds
    lie within one window), ``exact`` (its seeds agree exactly on the
    offset: a short passage counts only so) and ``anchor_seeds`` (its seeds
    that are anchors of the query; the engine's ``min_anchor_seeds``, not
    fitted, is ``min_anchors``).
    """
    if row["matched_words"] < min_words:
        return False
    if row["short"] and (not row["exact"] or row["matched_words"] < min_short_words):
        return False
    if row["anchor_seeds"] < min_anchors:
        return False
    return row["weight"] - miss_weight * row["missed"] >= min_seeds - 1e-9


def counts(rows: list[dict], miss_weight: float, min_short_words: int, *, min_seeds: float, min_words: int,
           min_anchors: int = 0, shared_run_words: int = 12) -> dict:
    """Passages that count: ``false`` (the query and the work share no run of ``shared_run_words`` equal
    words) and ``shared`` (they do: text the two really share)."""
    ok = [r for r in rows if passes(r, miss_weight, min_short_words, min_seeds=min_seeds, min_words=min_words,
                                    min_anchors=min_anchors)]
    false = sum(1 for r in ok if r["shared_run"] < shared_run_words)
    return {"false": false, "shared": len(ok) - false}


def fit_rule(rows: list[dict], *, min_seeds: float, min_words: int, min_anchors: int = 0, step: float = 0.05,
             shared_run_words: int = 12) -> dict:
    """The least ``min_short_passage_words`` and ``miss_weight`` with which no false passage of the fitting
    half counts.

    ``min_short_passage_words``: one more than the most matched words of a
    false short passage (seeds within one window) that is exact (a short
    passage that is not never counts), and at least ``min_words``.  ``miss_weight``: a false longer passage with ``missed``
    anchors and seed ``weight`` stops counting once ``miss_weight > (weight -
    min_seeds) / missed``; the first multiple of ``step`` above the largest
    such bound.  False longer passages that miss no anchor cannot be stopped
    so: they are counted in ``unstoppable``.

    Parameters
    ----------
    rows : list of dict
        One per candidate passage whose seeds weigh ``min_seeds`` and that
        spans ``min_words`` (see :func:`passes`), with ``shared_run``: the
        longest run of equal words the query and the work share around it.
    min_anchors : int
        The engine's ``min_anchor_seeds`` (not fitted): rows holding fewer
        anchors never count, so they do not constrain the fit.
    """
    false = [r for r in rows if r["shared_run"] < shared_run_words and r["matched_words"] >= min_words
             and r["weight"] >= min_seeds - 1e-9 and r["anchor_seeds"] >= min_anchors]
    short = [r["matched_words"] for r in false if r["short"] and r["exact"]]
    words = max(min_words, max(short, default=0) + 1)
    longer = [r for r in false if not r["short"]]
    bounds = [(r["weight"] - min_seeds) / r["missed"] for r in longer if r["missed"] > 0]
    bound = max(bounds, default=0.0)
    weight = round((math.floor(bound / step + 1e-9) + 1) * step, 10) if bounds else 0.0
    kw = {"min_seeds": min_seeds, "min_words": min_words, "min_anchors": min_anchors,
          "shared_run_words": shared_run_words}
    return {"min_short_passage_words": words, "miss_weight": weight, "bound": round(bound, 6),
            "unstoppable": sum(1 for r in longer if r["missed"] == 0), "false_passages": len(false),
            "false_short": len(short), "rows": len(rows),
            "before": counts(rows, 0.0, min_words, **kw), "at_fit": counts(rows, weight, words, **kw),
            "at_twice": counts(rows, 2 * weight, words, **kw)}
