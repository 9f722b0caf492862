#!/usr/bin/env python3
"""Session 6's one false match of the image engine, made again: is the stretch's floor what removes it?

    nice -n 10 .venv/bin/python benchmarks/image_seed5_false_match.py

Seed 5 (spent: held out in session 6) made, among its first 5,000 negative queries of part 0/2, ten of the
Debian handbook's da-DK ``startup-systemd.png`` (a boxes-and-arrows diagram); session 6's candidate matched one of
them to ``summer_1am`` at 7 inliers.  This re-makes those ten queries exactly as ``run_image.py --seed 5
--skip-positives --negatives 5000 --negative-part 0/2`` did (same random draws for every image before it) and
identifies them, each engine registering the development corpus as ``run_image.py`` does, with version 3,
session 6's candidate (the fenced stretch without a floor, guided near misses) and version 4 (floor 16).
Prints each query's best two matches at a score of 3 or more (benchmarks/RESULTS.md, "Images, session 7").
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
import numpy as np  # noqa: E402

import run_image as R  # noqa: E402
from consentry.engines.image import ImageEngine, ImageEngineParams  # noqa: E402

TARGET = "/usr/share/doc/debian-handbook/html/da-DK/images/startup-systemd.png"


def queries_of_target(seed: int = 5, negatives: int = 5000) -> list[bytes]:
    """The target's queries, re-made with the random draws of part 0/2 of ``run_image.py``'s negatives."""
    rng = np.random.default_rng(seed)
    negs = R.negative_corpus(R.NEG_DIRS)[1::2][0::2]
    per = max(1, -(-negatives // len(negs)))
    kept, n = [], 0
    for p in negs:
        if n >= negatives:
            break
        try:
            im = R.base_copy(p)
        except Exception:
            continue
        for _ in range(per):
            if n >= negatives:
                break
            q = R.negative_query(im, rng)
            n += 1
            if str(p) == TARGET:
                kept.append(q)
        if str(p) == TARGET:
            break
    return kept


def main() -> int:
    kept = queries_of_target()
    print("queries of the diagram:", len(kept), flush=True)
    v4 = ImageEngineParams()
    variants = {"version 3": replace(v4, contrast_fence_iqr=0.0, contrast_fence_min_span=0, guided_min_inliers=0,
                                     chance_inliers_per_e=0.11),
                "session 6 candidate (no floor)": replace(v4, contrast_fence_min_span=0, chance_inliers_per_e=0.11),
                "version 4": v4}
    for name, params in variants.items():
        e = ImageEngine(params)
        works, seg, _ = R.register(e, R.dev_corpus())
        for i, q in enumerate(kept):
            res = e.locate(e.decode(q), [seg], min_score=3)
            print(name, i, [("/".join(str(works[m.fp_id]).split("/")[-4:]), m.score) for m in res][:2], flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
