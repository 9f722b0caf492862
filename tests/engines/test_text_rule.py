"""The text engine's decision: anchors, missed anchors, the anchors-first lookup (consentry.engines.text.match).

Texts are made here (tests/engines/test_text_engine.py's ``prose``): no corpus.
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from consentry.engines.text import TextEngine, TextEngineParams
from consentry.engines.text import reference as ref
from consentry.engines.text import winnowing as W
from consentry.engines.text.match import Chain, chains, find_seeds, lookup, missed_anchors

from textkit import passage, prose, segment_of


@pytest.fixture(scope="module")
def engine() -> TextEngine:
    return TextEngine()


@pytest.fixture(scope="module")
def works() -> dict[int, str]:
    return {i: prose(700 + i, 1200) for i in range(1, 5)}


@pytest.fixture(scope="module")
def index(engine, works):
    return [segment_of(engine, works)]


def test_window_minima_are_the_rightmost_minimum_of_every_window():
    rng = np.random.default_rng(11)
    for n in (0, 1, 5, 16, 17, 90):
        for window in (1, 2, 3, 5, 16, 20):
            for high in (4, 2**63):  # few distinct values: ties everywhere
                h = rng.integers(0, high, n, dtype=np.uint64)
                got = W.window_minima(h, window=window).tolist()
                hs = h.tolist()
                if n == 0:
                    assert got == []
                elif n <= window:
                    assert got == [max(i for i, x in enumerate(hs) if x == min(hs))]
                else:
                    assert got == [s + max(i for i, x in enumerate(hs[s:s + window]) if x == min(hs[s:s + window]))
                                   for s in range(n - window + 1)]
                assert W.winnow(h, window=window).tolist() == ref.winnow(hs, window)


def test_a_copy_holds_the_queries_anchors_so_a_verbatim_copy_misses_none(engine, works, index):
    p, _, _ = passage(works[2], 300, 150)
    query = prose(41, 200) + " " + p + " " + prose(42, 200)
    q = engine.query_print(engine.signal(query))
    found = [c for c in chains(engine.candidates(q, index), q, engine.params) if c.fp_id == 2]
    assert len(found) == 1 and found[0].missed == 0 and found[0].weight >= 10
    m = engine.locate(engine.signal(query), index)
    assert [x.fp_id for x in m] == [2] and m[0].extra.missed_anchors == 0


def test_an_edited_copy_misses_anchors_where_it_was_edited_and_still_counts(engine, works, index):
    rng = random.Random(5)
    p, _, _ = passage(works[3], 500, 150)
    edited = " ".join("quartz" if rng.random() < 0.1 else w for w in p.split())
    m = engine.locate(engine.signal(edited), index)
    assert m and m[0].fp_id == 3 and m[0].extra.missed_anchors > 0


def test_missed_anchors_count_the_windows_wholly_between_the_first_and_last_seed():
    window_min = np.array([3, 3, 3, 3, 7, 7, 7, 7, 11, 11], np.int64)  # windows of 4 over 13 shingles
    none = np.zeros(0, np.int64)
    assert missed_anchors([3, 11], window_min, 4, none) == 1  # 7 is missed
    assert missed_anchors([3, 7, 11], window_min, 4, none) == 0
    assert missed_anchors([3, 11], window_min, 4, np.array([7])) == 0  # common text is no evidence either way
    assert missed_anchors([2, 3], window_min, 4, none) == 0  # no window wholly between them: a short passage
    p = TextEngineParams(min_short_passage_words=16, miss_weight=0.5)
    assert Chain(1, [], 2.0, 0, 16, short=True, anchors=1, exact=True).counts(p)
    assert not Chain(1, [], 2.0, 0, 16, short=True, anchors=1, exact=False).counts(p)  # a short one: no edit
    assert not Chain(1, [], 2.0, 0, 15, short=True, anchors=1, exact=True).counts(p)
    assert not Chain(1, [], 1.5, 0, 19, short=True, anchors=1, exact=True).counts(p)
    assert Chain(1, [], 3.0, 2, 40, anchors=1).counts(p) and not Chain(1, [], 3.0, 3, 40, anchors=1).counts(p)
    assert Chain(1, [], 2.0, 0, 12, anchors=2).counts(p)  # a longer passage that misses nothing
    assert missed_anchors([4, 10], window_min, 4, none) == 1  # windows 4..7: anchor 7
    assert missed_anchors([0, 12], window_min, 4, none) == 3
    assert Chain(1, [], 2.0, 1).score(0.5) == 1.5


def _stock_pair(engine) -> tuple[dict[int, str], str]:
    """A registered work and an unrelated query that share two 12-word phrases, 60 words apart, in order,
    with other words between them: found with a miss weight of 0 (the old rule), on some seed."""
    for seed in range(200):
        one, two = prose(9000 + seed, 12).split(), prose(9500 + seed, 12).split()
        work = prose(seed, 300) + " " + " ".join(one) + " " + prose(seed + 1, 60) + " " + " ".join(two) + " " + \
            prose(seed + 2, 300)
        query = prose(seed + 3, 40) + " " + " ".join(one) + " " + prose(seed + 4, 60) + " " + " ".join(two) + " " + \
            prose(seed + 5, 40)
        old = TextEngine(replace(engine.params, miss_weight=0.0))
        index = [segment_of(old, {1: work})]
        if old.locate(old.signal(query), index):
            return {1: work}, query
    raise AssertionError("no stock pair made")


def test_two_stock_phrases_far_apart_miss_the_anchors_between_them(engine):
    works, query = _stock_pair(engine)
    index = [segment_of(engine, works)]
    q = engine.query_print(engine.signal(query))
    found = chains(engine.candidates(q, index), q, engine.params)
    assert found and all(c.missed >= 1 for c in found)
    strict = TextEngine(replace(engine.params, miss_weight=max(0.05, engine.params.miss_weight)))
    worst = max(c.weight - strict.params.min_seeds for c in found)
    if worst < strict.params.miss_weight:  # a pair of seeds weighing 2 and missing one anchor stops counting
        assert strict.locate(strict.signal(query), index) == []


def test_anchors_first_finds_the_seeds_of_a_copy_that_a_full_lookup_finds(engine, works, index):
    rng = random.Random(9)
    for trial in range(10):
        fp = rng.choice(list(works))
        p, _, _ = passage(works[fp], rng.randrange(0, 1000), rng.choice([40, 80, 150]))
        query = prose(100 + trial, rng.randrange(0, 300)) + " " + p + " " + prose(200 + trial, rng.randrange(0, 300))
        q = engine.query_print(engine.signal(query))
        full = lookup(q, index, engine.params)
        fast = find_seeds(q, index, engine.params)
        rows = lambda s: set(zip(s.query_shingle.tolist(), s.fp_id.tolist(), s.work_start_char.tolist()))  # noqa: E731
        assert rows(fast) <= rows(full)
        copied = {r for r in rows(full) if r[1] == fp}
        assert copied and copied <= rows(fast)


def test_nothing_is_looked_up_beyond_the_anchors_when_none_is_a_seed(engine, index, monkeypatch):
    from consentry.engines.text import match

    calls = []
    real = match.lookup
    monkeypatch.setattr(match, "lookup", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    q = engine.query_print(engine.signal(prose(31337, 2000)))
    seeds = find_seeds(q, index, engine.params)
    assert seeds.fp_id.size == 0 and len(calls) == 1
    assert calls[0].size == np.unique(q.window_min).size < len(q.shingles) / 4


def test_a_passage_counts_only_when_it_holds_an_anchor_of_the_query():
    p = TextEngineParams()
    assert p.min_anchor_seeds == 1
    assert not Chain(1, [], 5.0, 0, 40, anchors=0).counts(p) and Chain(1, [], 5.0, 0, 40, anchors=1).counts(p)
    assert Chain(1, [], 5.0, 0, 40, anchors=0).counts(replace(p, min_anchor_seeds=0))


def test_every_copy_of_a_window_of_words_holds_an_anchor(engine):
    """The winnowing guarantee the anchor rule rests on: a copy of shingle_words + winnow_window - 1 words, set
    among other words, always has a seed that is one of the query's window minima."""
    p = engine.params
    n = p.shingle_words + p.winnow_window - 1
    rng = random.Random(5)
    work = prose(4242, 3000)
    index = [segment_of(engine, {1: work})]
    for trial in range(40):
        copy, _, _ = passage(work, rng.randrange(0, 2900), n)
        query = prose(5000 + trial, rng.randrange(0, 60)) + " " + copy + " " + prose(6000 + trial, rng.randrange(0, 60))
        q = engine.query_print(engine.signal(query))
        seeds = engine.candidates(q, index)
        anchors = set(q.window_min.tolist())
        assert anchors & set(seeds.query_shingle[seeds.fp_id == 1].tolist()), trial


def test_seeds_that_are_none_of_the_querys_window_minima_make_no_finding(engine):
    """Template text (a dictionary's "of or pertaining to ... of which ... is the type"): shared phrases shorter
    than a window are seeds because the *work's* windows chose them; when none is also one of the query's own
    window minima, the candidate passage holds no anchor and does not count."""
    from consentry.engines.text.match import Seeds, TextQuery
    from consentry.engines.text.winnowing import Shingles

    p = engine.params
    n = 60
    hashes = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(1 << 40)   # increasing: every window's minimum is its
    q = TextQuery(Shingles(hashes, np.arange(n) * 6, np.arange(n) * 6 + 29), n + 4, 6 * n + 30,   # first shingle
                  W.window_minima(hashes, window=p.winnow_window))
    anchors = set(q.window_min.tolist())

    def seeds_at(rows):
        qs = np.array(rows, np.int64)
        return Seeds(qs, np.ones(qs.size, np.int64), 1000 + qs * 6, np.zeros(qs.size, np.uint32),
                     np.ones(qs.size, np.int64), 0)

    off = [45, 51, 58]                                                 # one short passage of 18 words
    assert not anchors & set(off) and off[-1] - off[0] + p.shingle_words >= p.min_short_passage_words
    (chain,) = chains(seeds_at(off), q, p)
    assert chain.anchors == 0 and chain.weight >= p.min_seeds and not chain.counts(p)
    assert engine.verify(seeds_at(off), q, min_score=12, searched=float(q.n_chars)) == []
    assert chain.counts(replace(p, min_anchor_seeds=0))
    held = [max(anchors)] + off[1:]
    (chain,) = chains(seeds_at(held), q, p)
    assert chain.anchors == 1 and chain.counts(p)


def test_a_short_passage_counts_only_unedited(engine):
    """Seeds within one window can miss no anchor, so a short passage must be exact: an excerpt found verbatim
    is not found once a word between its seeds is replaced by a longer one (the offsets then disagree)."""
    work = prose(777, 4000)
    index = [segment_of(engine, {1: work})]
    rng = random.Random(3)
    made = 0
    for _ in range(600):
        copy, _, _ = passage(work, rng.randrange(0, 3950), 19)
        query = prose(rng.randrange(10**6), 40) + " " + copy + " " + prose(rng.randrange(10**6), 40)
        q = engine.query_print(engine.signal(query))
        found = [c for c in chains(engine.candidates(q, index), q, engine.params) if c.counts(engine.params)]
        if len(found) != 1 or not found[0].short or len(found[0].seeds) < 2:
            continue
        assert found[0].exact
        (a, _, _, _), (b, _, _, _) = found[0].seeds[0], found[0].seeds[-1]
        if b - a < 2:
            continue
        words = query.split()
        start = query[:q.shingles.start_char[a]].count(" ") + 1  # whitespace-separated words before seed a
        words[start + (b - a) // 2 + 2] = "extraordinarilyunusual"
        edited = " ".join(words)
        q2 = engine.query_print(engine.signal(edited))
        again = [c for c in chains(engine.candidates(q2, index), q2, engine.params) if c.fp_id == 1]
        if not again or any(len(c.seeds) < 2 for c in again):
            continue
        assert all(not c.exact for c in again if c.short)
        assert not any(c.counts(engine.params) for c in again if c.short)
        assert any(c.counts(replace(engine.params, min_short_passage_words=12)) for c in found)
        made += 1
        if made >= 3:
            return
    pytest.skip(f"only {made} short copies made")
