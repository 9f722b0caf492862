"""TextEngine.locate_many: the matches of locate on each text, read and looked up together."""

from __future__ import annotations

import random

import numpy as np
import pytest

from consentry.engines.text import TextEngine
from consentry.engines.text import winnowing as W
from consentry.engines.text.batch import batch_minima

from textkit import passage, prose, segment_of


@pytest.fixture(scope="module")
def engine() -> TextEngine:
    return TextEngine()


@pytest.fixture(scope="module")
def works() -> dict[int, str]:
    return {i: prose(800 + i, 1000) for i in range(1, 5)}


@pytest.fixture(scope="module")
def index(engine, works):
    return [segment_of(engine, works)]


def _rows(engine, works) -> list[str]:
    rng = random.Random(4)
    rows = ["", "   ", "one", "exam-", "ple and more", "a" * 50, "\u65e5\u672c\u8a9e " * 30, "\x00 nul \x00"]
    for i in range(60):
        kind = rng.randrange(5)
        if kind == 0:
            rows.append(prose(3000 + i, rng.randrange(1, 400)))
        else:
            fp = rng.choice(list(works))
            p, _, _ = passage(works[fp], rng.randrange(0, 800), rng.choice([25, 40, 90, 150]))
            if kind == 2:
                p = " ".join("QUARTZ" if rng.random() < 0.1 else x.upper() for x in p.split())
            rows.append(prose(4000 + i, rng.randrange(0, 200)) + "\n" + p + "\n" + prose(5000 + i, rng.randrange(0, 200)))
        if kind == 4 and rows[-1]:  # two copies in one row, one of them across the row boundary if joined badly
            rows[-1] = rows[-1] + " " + passage(works[1], 10, 60)[0]
    rows.append(passage(works[2], 100, 200)[0] + "-\n")
    rows.append("continued " + passage(works[2], 300, 30)[0])
    return rows


def test_locate_many_gives_what_locate_gives_on_each_text(engine, works, index):
    rows = _rows(engine, works)
    one_by_one = [engine.locate(engine.signal(t), index) for t in rows]
    assert sum(1 for r in one_by_one if r) > 30
    for size in (1, 7, len(rows)):
        batched = []
        for i in range(0, len(rows), size):
            batched += engine.locate_many([engine.signal(t) for t in rows[i:i + size]], index)
        assert batched == one_by_one
    assert engine.locate_many([engine.signal(t) for t in rows], index, min_score=60) == \
        [engine.locate(engine.signal(t), index, min_score=60) for t in rows]
    assert engine.locate_many([], index) == []


@pytest.mark.parametrize("compiled", [False, True])
def test_batch_window_minima_are_each_texts_own(compiled, monkeypatch):
    from consentry.engines.text import kernels

    if compiled and not kernels.load():
        pytest.skip("numba is not installed")
    if not compiled:
        monkeypatch.setattr(kernels, "AVAILABLE", False)
    rng = np.random.default_rng(2)
    counts = np.array([0, 1, 3, 16, 17, 40, 0, 5], np.int64)
    h = rng.integers(0, 6, int(counts.sum()), dtype=np.uint64)  # ties everywhere
    first = np.cumsum(counts) - counts
    for window in (1, 4, 16):
        got = batch_minima(h, first, counts, window)
        for j, c in enumerate(counts.tolist()):
            want = first[j] + W.window_minima(h[first[j]:first[j] + c], window=window)
            assert got[j].tolist() == want.tolist()
    h[3] = np.uint64(2**64 - 1)  # a hash equal to the padding
    got = batch_minima(h, first, counts, 4)
    assert all(got[j].tolist() == (first[j] + W.window_minima(h[first[j]:first[j] + c], window=4)).tolist()
               for j, c in enumerate(counts.tolist()))


def test_sorted_unique_equals_np_unique_for_arrays_in_order_or_not():
    from consentry.engines.text.match import sorted_unique

    rng = np.random.default_rng(3)
    cases = [np.zeros(0, np.int64), np.array([7]), np.array([5, 5, 5]), np.array([3, 1, 2, 3, 1])]
    for n in (2, 50, 5000):
        a = rng.integers(0, n // 2 + 2, n)
        cases += [a, np.sort(a), np.sort(a)[::-1], np.sort(a) + np.arange(n)]
    for a in cases:
        got = sorted_unique(a)
        assert got.dtype == np.int64 and np.array_equal(got, np.unique(a))
        if a.size:
            got[0] = -1
            assert a.min() >= 0   # a new array: the input is never changed


def test_passages_are_the_same_with_the_small_array_paths_of_match_off(engine, works, index, monkeypatch):
    """match.chains and missed_anchors count a passage's few seeds with Python sets; NumPy's path agrees."""
    from consentry.engines.text import match

    rows = _rows(engine, works) + [works[3][:3000] + " " + prose(77, 500) + " " + works[1]]  # many seeds
    with_sets = [engine.locate(engine.signal(t), index) for t in rows]
    monkeypatch.setattr(match, "_SMALL", -1)
    assert [engine.locate(engine.signal(t), index) for t in rows] == with_sets
    assert sum(1 for r in with_sets if r) > 30


def test_compiled_batch_layout_and_flat_minima_equal_the_numpy_path(engine, works, monkeypatch):
    from consentry.engines.text import kernels
    from consentry.engines.text.batch import _layout, batch_minima_flat

    if not kernels.load():
        pytest.skip("numba is not installed")
    rows = _rows(engine, works)
    rng = random.Random(9)
    batches = [rows, rows[:3], ["", ""], ["one two"], ["\x00"], [rows[8], "", rows[9], "a b c d e"]]
    batches += [rng.sample(rows, rng.randint(1, len(rows))) for _ in range(10)]

    def layouts() -> list:
        out = []
        for texts in batches:
            lengths = np.array([len(t) for t in texts], np.int64)
            text_start = np.cumsum(lengths + 1) - (lengths + 1)
            w = W.words("\x00".join(texts))
            sh = W.shingles(w, shingle_words=engine.params.shingle_words)
            parts = _layout(w, sh, text_start, engine.params.shingle_words)
            count = parts[-1]
            first = np.cumsum(count) - count
            out.append((parts, batch_minima_flat(parts[1], first, count, engine.params.winnow_window)))
        return out

    compiled = layouts()
    assert kernels.ready()
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    numpy_path = layouts()
    assert sum(int(c[0][5].sum()) for c in compiled) > 1000     # shingles kept: the batches hold text
    for (parts_c, (flat_c, ends_c)), (parts_n, (flat_n, ends_n)) in zip(compiled, numpy_path):
        for a, b in zip(parts_c, parts_n):
            assert a.tolist() == b.tolist()
        assert flat_c.tolist() == flat_n.tolist() and ends_c.tolist() == ends_n.tolist()


def test_locate_many_gives_the_same_passages_with_the_compiled_loops(engine, works, index, monkeypatch):
    from consentry.engines.text import kernels

    if not kernels.load():
        pytest.skip("numba is not installed")
    rows = _rows(engine, works)
    compiled = engine.locate_many([engine.signal(t) for t in rows], index)
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    assert not kernels.ready()
    numpy_path = engine.locate_many([engine.signal(t) for t in rows], index)
    assert sum(1 for r in compiled if r) > 30
    assert compiled == numpy_path


def test_texts_whose_seeds_cannot_make_a_passage_are_not_verified_and_nothing_changes(engine, monkeypatch):
    """Pairs of a text and a work with too little seed weight (text held by several works) or no seed at an
    anchor are left out before verifying: the passages are those of locate, with fewer texts verified."""
    from consentry.engines.text import batch

    shared = prose(61, 70)          # held by works 1-3: each seed weighs 1/3
    phrase = prose(62, 14)          # held by works 4 and 5: a few seeds of weight 1/2
    works = {1: prose(71, 300) + " " + shared, 2: shared + " " + prose(72, 300), 3: prose(73, 200) + " " + shared,
             4: prose(74, 200) + " " + phrase + " " + prose(75, 100), 5: phrase + " " + prose(76, 300),
             6: prose(77, 400)}
    index = [segment_of(engine, works)]
    rng = random.Random(6)
    rows = []
    for i in range(40):
        kind = i % 4
        if kind == 0:
            part = passage(shared, rng.randrange(0, 40), rng.choice([12, 20, 30]))[0]
        elif kind == 1:
            part = phrase
        elif kind == 2:
            part = passage(works[6], rng.randrange(0, 300), rng.choice([15, 40]))[0]
        else:
            part = passage(works[1], rng.randrange(0, 250), 30)[0] + " " + phrase
        rows.append(prose(900 + i, rng.randrange(0, 60)) + " " + part + " " + prose(950 + i, rng.randrange(0, 60)))
    verified = []
    real_verify = type(engine).verify

    def counting_verify(self, candidates, query, **kw):
        verified.append(int(candidates.fp_id.size))
        return real_verify(self, candidates, query, **kw)

    monkeypatch.setattr(type(engine), "verify", counting_verify)
    one_by_one = [engine.locate(engine.signal(t), index) for t in rows]
    verified.clear()
    batched = engine.locate_many([engine.signal(t) for t in rows], index)
    with_rule = list(verified)
    monkeypatch.setattr(batch, "_WEIGHT_SLACK", float("inf"))   # the weight rule off: only min_seeds and anchors
    verified.clear()
    without_weight = engine.locate_many([engine.signal(t) for t in rows], index)
    assert batched == one_by_one == without_weight
    assert sum(1 for r in batched if r) >= 10
    assert sum(with_rule) < sum(verified)        # seeds of pairs ruled out by their weight were not verified


def test_distinct_anchors_equal_sorted_unique_whether_in_order_or_not(monkeypatch):
    from consentry.engines.text import kernels
    from consentry.engines.text.batch import _distinct
    from consentry.engines.text.match import sorted_unique

    if not kernels.load():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(8)
    cases = [np.zeros(0, np.int64), np.array([4], np.int64), np.array([2, 2, 2], np.int64),
             np.array([1, 2, 2, 0], np.int64)]
    for n in (2, 30, 4000):
        a = rng.integers(0, n // 3 + 2, n).astype(np.int64)
        cases += [a, np.sort(a), np.sort(a)[::-1].copy()]
    for a in cases:
        assert _distinct(a).tolist() == sorted_unique(a).tolist() == np.unique(a).tolist()
