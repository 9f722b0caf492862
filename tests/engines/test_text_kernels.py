"""The compiled loops (consentry.engines.text.kernels) give what the NumPy code gives."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from consentry.engines.text import kernels
from consentry.engines.text import winnowing as W
from consentry.engines.text.match import lookup
from consentry.engines.text import TextEngine

from textkit import prose, segment_of

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


@pytest.fixture(autouse=True)
def compiled():
    assert kernels.load() and kernels.ready()


def _texts() -> list[str]:
    rng = random.Random(12)
    alphabets = ["abcXY 09\n\t.,-'`_", "abcXY 09\n\t.,-'\u2019\u00e9\u0301\ufb01\u00df\u65e5\u00ad\u200b\U0001F600"
                 "\u00a0\uff21\u3042\u30ff\u309f\u2010\r"]
    out = ["", "-\nx", "a-\n b", "a\u00ad\nb", "\u30ff\u30ff", "x" * 5000]
    for i in range(400):
        a = alphabets[i % 2]
        out.append("".join(rng.choice(a) for _ in range(rng.randint(1, 200))))
    out.append(prose(5, 3000))
    return out


def test_a_process_loads_the_compiled_loops_only_after_reading_enough_text(monkeypatch):
    monkeypatch.setattr(kernels, "_built", False)
    monkeypatch.setattr(kernels, "_seen", 0)
    monkeypatch.setattr(kernels, "LOAD_AFTER_CHARS", 1000)
    assert not kernels.ready(400) and not kernels.ready(0) and not kernels._built
    assert kernels.ready(600) and kernels._built


def test_compiled_words_shingles_and_minima_equal_the_numpy_path(monkeypatch):
    texts = _texts()
    compiled = [W.words(t) for t in texts]
    sh_c = [W.shingles(w, shingle_words=5) for w in compiled]
    wm_c = [W.window_minima(s.hashes, window=16) for s in sh_c]
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    for t, w, s, m in zip(texts, compiled, sh_c, wm_c):
        ref = W.words(t)
        for f in ("hashes", "start_char", "end_char"):
            np.testing.assert_array_equal(getattr(w, f), getattr(ref, f), err_msg=repr(t))
        np.testing.assert_array_equal(s.hashes, W.shingles(ref, shingle_words=5).hashes)
        np.testing.assert_array_equal(m, W.window_minima(s.hashes, window=16))


def test_words_read_the_same_code_points_in_one_two_or_four_bytes_a_character(monkeypatch):
    texts = ["plain words", "caf\u00e9 na\u00efve \u00ff-\nend", "\u65e5\u672c\u8a9e caf\u00e9 \u3000\u3042",
             "lone \ud800 surrogate \u65e5", "\ud83d\ude00 two lone halves", "astral \U0001F600 \u00e9 \u65e5\u672c",
             "\u00e9" * 3000 + " x \u0301y"]
    widths = [W.narrow_code_points(t).dtype.itemsize for t in texts]
    assert widths == [1, 1, 2, 2, 2, 4, 2]
    for t in texts:
        assert W.narrow_code_points(t).tolist() == W.code_points(t).tolist()
    compiled = [W.words(t) for t in texts]
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    for t, w in zip(texts, compiled):
        ref = W.words(t)
        for f in ("hashes", "start_char", "end_char"):
            np.testing.assert_array_equal(getattr(w, f), getattr(ref, f), err_msg=repr(t))


def test_compiled_key_search_finds_the_runs_searchsorted_finds(monkeypatch):
    engine = TextEngine()
    works = {i: prose(60 + i, 800) for i in range(1, 4)}
    works[4] = works[1][:2000]  # keys held twice
    works[5] = works[1][:2000]  # the same text in another segment
    one = [segment_of(engine, {k: v for k, v in works.items() if k != 5})]
    two = one + [segment_of(engine, {5: works[5]})]
    queries = [works[2][1000:3000], prose(61, 300), works[4]]
    params = [engine.params, replace(engine.params, common_min_works=2), replace(engine.params, max_postings_per_key=1)]
    cases = [(q, index, p) for q in queries for index in (one, two) for p in params]
    compiled = [lookup(engine.query_print(engine.signal(q)), index, p) for q, index, p in cases]
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    for (q, index, p), got in zip(cases, compiled):
        want = lookup(engine.query_print(engine.signal(q)), index, p)
        rows = lambda s: sorted(zip(s.query_shingle.tolist(), s.fp_id.tolist(), s.work_start_char.tolist(),  # noqa: E731
                                    s.works_holding.tolist()))
        assert rows(got) == rows(want) and got.common_shingles == want.common_shingles
        assert got.common_at.tolist() == want.common_at.tolist()
    assert any(s.common_shingles for s in compiled)
    keys = np.array([3, 3, 9, 100, 100, 100, 4000], np.uint32)
    from consentry.store.segments import build_directory
    directory, shift = build_directory(keys, entries_per_bucket=2)
    q = np.array([0, 3, 4, 100, 3999, 4000, 4001, 2**32 - 1], np.uint32)
    lo, hi = np.empty(q.size, np.int64), np.empty(q.size, np.int64)
    from consentry.engines.text import _loops

    for bitmap, bit_shift in ((np.zeros(0, np.uint8), 0), kernels.presence(keys)):
        _loops.find_ranges_kernel(keys, directory, shift, q, lo, hi, bitmap, bit_shift)
        found = hi > lo
        assert lo[found].tolist() == np.searchsorted(keys, q[found], side="left").tolist()
        assert (hi - lo).tolist() == (np.searchsorted(keys, q, side="right") - np.searchsorted(keys, q)).tolist()
    bitmap, bit_shift = kernels.presence(keys)
    assert kernels.presence(keys)[0] is bitmap  # built once per keys array
    assert all((bitmap[(int(k) >> bit_shift) >> 3] >> ((int(k) >> bit_shift) & 7)) & 1 for k in keys.tolist())


def test_compiled_chains_are_the_passages_and_order_of_the_python_loop(monkeypatch):
    """match.chains with its grouping compiled: the same Chain objects (seeds, weight, missed anchors, flags) in
    the same order, on random seeds with several works, ties, long gaps and drifts at the limit."""
    from consentry.engines.text import match
    from consentry.engines.text.match import Seeds, TextQuery, chains

    params = TextEngine().params
    rng = np.random.default_rng(21)
    cases = []
    for _ in range(300):
        n_sh = int(rng.integers(1, 400))
        start = np.cumsum(rng.integers(1, 12, n_sh)).astype(np.int64)
        sh = W.Shingles(rng.integers(0, 2**63, n_sh, dtype=np.uint64), start, start + 20)
        query = TextQuery(sh, n_sh + 4, int(start[-1]) + 30)
        s = int(rng.integers(0, 60))
        qs = rng.integers(0, n_sh, s).astype(np.int64)
        base = int(rng.integers(0, 5000))
        # work offsets: the query's own spacing (a copy), bent by drifts around the allowed limit, or random
        drift = rng.choice([0, 1, params.drift_chars, params.drift_chars + 1, 300], s)
        wc = np.where(rng.random(s) < 0.7, base + start[qs] + drift, rng.integers(0, 9000, s)).astype(np.int64)
        fp = rng.integers(1, 4, s).astype(np.int64)
        held = rng.choice([1, 1, 1, 2, 3, 9], s).astype(np.int64)
        key = rng.integers(0, 2**32, s).astype(np.uint32)
        common = np.unique(rng.integers(0, n_sh, int(rng.integers(0, 5)))).astype(np.int64)
        cases.append((Seeds(qs, fp, wc, key, held, int(common.size), common), query))
    assert kernels.ready()
    compiled = [chains(seeds, q, params) for seeds, q in cases]
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    python = [chains(seeds, q, params) for seeds, q in cases]
    monkeypatch.setattr(match, "_SMALL", -1)   # the NumPy counting of works too
    numpy_counts = [chains(seeds, q, params) for seeds, q in cases]
    assert compiled == python == numpy_counts
    assert sum(len(c) for c in compiled) > 200 and sum(len(c) > 1 for c in compiled) > 20
    assert any(ch.weight != int(ch.weight) for c in compiled for ch in c)   # works_holding > 1 reached
