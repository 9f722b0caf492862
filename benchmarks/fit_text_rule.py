"""Fit the text engine's ``min_short_passage_words`` and ``miss_weight`` (what decides a passage, beside its length).

    nice -n 10 .venv/bin/python benchmarks/fit_text_rule.py --record benchmarks/fits/text_rule.json

Data: the development corpus of ``benchmarks/run_text.py`` (same cache, same
registered/unrelated split, same index of the registered documents).  The
unrelated documents are split in two by a hash of their id
(``run_text.fit_half``): this command draws ``--passages`` 150-word passages
from the fitting half only, with its own seed (``--seed``, default 101:
never a seed of ``run_text.py``); ``run_text.py``'s false-match measurement
draws from the other half only.

Each passage is searched and every candidate passage whose seeds weigh
``min_seeds`` and that spans ``min_passage_words`` (the rule before these
two constants) is kept as a row: its seed weight, its matched words, its
missed anchors, whether it is short (its seeds within one window), and the
longest run of equal words the passage and the work share around it (the
alignment, as ``run_text.py`` measures false matches).
:func:`fitting_text.fit_rule` chooses the least ``min_short_passage_words``
and the least ``miss_weight`` on a 0.05 grid with which no false row
counts.  ``--record`` writes the rows and the fit for
``tests/engines/test_text_constants.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import fitting_text  # noqa: E402
import run_text  # noqa: E402
from consentry.engines.text import TextEngine  # noqa: E402
from consentry.engines.text.match import chains  # noqa: E402


def rows_of(engine: TextEngine, index, reg_texts: list[str], text: str, *, with_fp: int | None = None) -> list[dict]:
    """Candidate passages of ``text`` that count with ``miss_weight`` 0 and the default passage length."""
    sig = engine.signal(text)
    q = engine.query_print(sig)
    seeds = engine.candidates(q, index)
    out = []
    for c in chains(seeds, q, engine.params):  # every candidate whose seeds weigh min_seeds
        m = engine.passage(c, q, searched=sig.size)
        if m.extra.matched_words < engine.params.min_passage_words:
            continue
        if with_fp is not None and c.fp_id != with_fp:
            continue
        out.append({"fp": c.fp_id, "weight": round(c.weight, 6), "missed": c.missed, "short": c.short,
                    "seeds": len(c.seeds),
                    "anchor_seeds": c.anchors, "exact": c.exact, "matched_words": m.extra.matched_words,
                    "shared_run": run_text.longest_common_run(engine, text, reg_texts[c.fp_id - 1], m)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--passages", type=int, default=10_000)
    ap.add_argument("--positives", type=int, default=0,
                    help="also this many 40-word excerpts and 10%%-replaced passages of registered works, for "
                         "information (found at each weight); they take no part in the fit")
    ap.add_argument("--cache", type=Path, default=Path("benchmarks/work/text-corpus.jsonl"))
    ap.add_argument("--record", type=Path, default=None)
    args = ap.parse_args()
    from machine import run_info

    base = TextEngine()
    engine = TextEngine(replace(base.params, miss_weight=0.0, min_short_passage_words=0))
    t0 = time.time()
    docs, _ = run_text.drop_untranslated(run_text.build_corpus(args.cache, engine))
    reg_texts = [d["text"] for d in docs if run_text.is_registered(d)]
    fit_docs = [d["text"] for d in docs if not run_text.is_registered(d) and run_text.fit_half(d)]
    other = [d["text"] for d in docs if not run_text.is_registered(d) and not run_text.fit_half(d)]
    index, stats = run_text.make_index(engine, reg_texts)
    print(f"{len(reg_texts)} registered, {len(fit_docs)} unrelated documents in the fitting half "
          f"({len(other)} in the other)", flush=True)
    rng = random.Random(args.seed)
    rows, done = [], 0
    while done < args.passages:
        p = run_text.passage(rng, rng.choice(fit_docs), 150)
        if p is None:
            continue
        done += 1
        for r in rows_of(engine, index, reg_texts, p):
            r["passage"] = done
            rows.append(r)
    p = engine.params
    fit = fitting_text.fit_rule(rows, min_seeds=p.min_seeds, min_words=p.min_passage_words,
                                min_anchors=p.min_anchor_seeds)
    print(json.dumps(fit, indent=1), flush=True)
    positives = {}
    if args.positives:
        vocab = [w for w in run_text.unrelated_words(rng, fit_docs, 20000).split() if w.isalpha()]
        for form, size in (("excerpt_40", 40), ("replaced_10pct", 150)):
            got = []
            while len(got) < args.positives:
                fp = rng.randrange(len(reg_texts))
                q = run_text.passage(rng, reg_texts[fp], size)
                if q is None or len(run_text.norm_words(q)) < size * 0.6:
                    continue
                if form == "replaced_10pct":
                    q = run_text.replace_words(q, rng, vocab, 0.10)
                got.append(rows_of(engine, index, reg_texts, q, with_fp=fp + 1))
            positives[form] = {
                f"{w}/{a}": sum(any(fitting_text.passes(r, w, a, min_seeds=p.min_seeds, min_words=p.min_passage_words,
                                                        min_anchors=p.min_anchor_seeds)
                                    for r in rs) for rs in got) / len(got)
                for w, a in sorted({(0.0, p.min_passage_words), (fit["miss_weight"], fit["min_short_passage_words"]),
                                    (2 * fit["miss_weight"], fit["min_short_passage_words"]),
                                    (fit["miss_weight"], p.min_passage_words)})}
            print(form, positives[form], flush=True)
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps({
            "command": "benchmarks/fit_text_rule.py " + " ".join(sys.argv[1:]),
            "engine": str(engine.id), "machine": run_info(), "seed": args.seed, "passages": args.passages,
            "settings": {"min_seeds": p.min_seeds, "min_passage_words": p.min_passage_words,
                         "min_anchor_seeds": p.min_anchor_seeds,
                         "shingle_words": p.shingle_words, "winnow_window": p.winnow_window,
                         "common_min_works": p.common_min_works, "max_gap_words": p.max_gap_words,
                         "drift_chars": p.drift_chars, "drift_per_char": p.drift_per_char},
            "index": stats, "fit": fit, "positives_found": positives, "wall_s": round(time.time() - t0, 1),
            "rows": rows}, indent=None, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
