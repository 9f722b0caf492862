"""What an image query reads from the index: the keypoint lookup against its plain reference, and the budget of
postings per query (``max_postings_per_query``, off by default) that reads the rarest keys first.

Pictures are drawn by consentry.testing.pictures; the figures at 100,000 works are in benchmarks/RESULTS.md
("Images, session 8").
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_image_engine import _jpeg_signal, _segment

from consentry import engines
from consentry.engines.image import ImageEngine
from consentry.engines.image import features as F
from consentry.engines.image import reference
from consentry.engines.image.search import _gather, candidates
from consentry.testing.pictures import picture


@pytest.fixture(scope="module")
def engine() -> ImageEngine:
    return engines.get("image")


@pytest.fixture(scope="module")
def crowded(engine):
    """Three works, and 150 more that each hold 40 of work 3's keypoint postings (the same keys, other ids)."""
    works = {i: picture(100 + i, width_px=960, height_px=640) for i in (1, 2, 3)}
    parts = [engine.postings(engine.fingerprint(engine.signal(px)), fp_id=i) for i, px in works.items()]
    keys, values = parts[2]
    kp = np.flatnonzero((keys & F.TAG_MASK) == F.TAG_KEYPOINT)[:40]
    payload = values[kp] & np.uint64((1 << F.PAYLOAD_BITS) - 1)
    for fp_id in range(10, 160):
        parts.append((keys[kp], (np.uint64(fp_id) << np.uint64(F.PAYLOAD_BITS)) | payload))
    return works, [_segment(parts)], set(keys[kp].tolist())


def _hits(h) -> list[tuple[int, int, int]]:
    return sorted(zip(h.kp_side.tolist(), h.kp_index.tolist(), h.kp_values.tolist()))


def _crop(engine, works):
    return engine.query_print(_jpeg_signal(engine, np.ascontiguousarray(works[3][60:560, 120:860])))


@pytest.mark.parametrize("change", [{}, {"query_key_flips": 0}, {"max_check_distance": 0, "min_votes": 6},
                                    {"max_postings_per_query": 20_000}, {"max_postings_per_query": 3_000}])
def test_the_lookup_keeps_exactly_the_hits_of_the_plain_reference(engine, crowded, change):
    works, index, _ = crowded
    params = replace(engine.params, **change)
    q = _crop(engine, works)
    got = _hits(candidates(q, index, params))
    assert got == reference.keypoint_hits(q, index, params)
    assert len({v >> F.PAYLOAD_BITS for _, _, v in got}) >= 1 and len(got) >= params.min_votes


def test_a_budget_reads_the_rarest_keys_first_and_no_more_than_it():
    # Key 5 holds 1 posting, key 7 holds 4, key 9 holds 30; key 7 is asked for twice.
    keys = np.array([5] + [7] * 4 + [9] * 30, np.uint32)
    seg = _segment([(keys, np.arange(keys.size, dtype=np.uint64))])
    probes = np.array([9, 7, 5, 7, 11], np.uint32)
    for budget, read in ((0, {0: 30, 1: 4, 2: 1, 3: 4}), (100, {0: 30, 1: 4, 2: 1, 3: 4}),
                         (9, {1: 4, 2: 1, 3: 4}), (8, {2: 1}), (1, {2: 1})):
        qi, values = _gather([seg], probes, cap=1000, budget=budget)
        assert dict(zip(*np.unique(qi, return_counts=True))) == read, budget
        assert budget == 0 or qi.size <= budget
        assert all(int(keys[v]) == int(probes[i]) for i, v in zip(qi.tolist(), values.tolist()))


def test_a_work_is_still_found_when_the_budget_leaves_out_the_keys_other_works_share(engine, crowded):
    works, index, shared = crowded
    q = _crop(engine, works)
    whole = ImageEngine(engine.params).verify(candidates(q, index, engine.params), q, min_score=7, searched=1.0)
    probes = np.concatenate([s.keys for s in q.sides])
    probes = (probes[:, None] ^ np.r_[np.uint32(0), np.left_shift(np.uint32(1), np.arange(20, dtype=np.uint32))]).ravel()
    # Exactly the postings of every key that fewer than the 151 works holding a shared key hold.
    rare = _gather(index, probes, cap=150)[0].size
    assert rare < _gather(index, probes, cap=4000)[0].size
    tight = replace(engine.params, max_postings_per_query=rare)
    h = candidates(q, index, tight)
    found = ImageEngine(tight).verify(h, q, min_score=7, searched=1.0)
    assert whole and whole[0].fp_id == 3 and found and found[0].fp_id == 3
    assert not ({int(v) >> F.PAYLOAD_BITS for v in h.kp_values.tolist()} & set(range(10, 160)))
    assert any(k in shared for k in probes.tolist())  # the crowded keys were asked for, and not read


def test_no_budget_keeps_version_4s_identity(engine):
    assert engine.params.max_postings_per_query == 0
    assert engine.id.param_hash == "03ce6578a33296d1"
    assert replace(engine.params, max_postings_per_query=300_000).param_hash() != engine.id.param_hash


def test_the_guided_lookup_of_a_near_miss_keeps_to_the_budget_too():
    from test_image_near_misses import _two_bits_off

    from consentry.engines.image.search import guided_hits

    eng = ImageEngine(replace(engines.get("image").params, guided_min_inliers=4))
    work = picture(77, width_px=960, height_px=640)
    keys, values = eng.postings(eng.fingerprint(eng.signal(work)), fp_id=9)
    crowd = [(keys, (np.uint64(fp_id) << np.uint64(F.PAYLOAD_BITS)) | (values & np.uint64((1 << F.PAYLOAD_BITS) - 1)))
             for fp_id in range(10, 40)]  # 30 more works holding every key of work 9
    seg = _segment([(keys, values)] + crowd)
    side = _two_bits_off(eng.query_print(eng.signal(work)).sides[0], 1, eng.params)
    whole = guided_hits([seg], side, 9, 0.0, eng.params)
    masks = np.array([(1 << a) | (1 << b) for a in range(20) for b in range(a + 1, 20)], np.uint32)
    all_read = _gather([seg], (side.keys[:, None] ^ masks[None, :]).ravel(), cap=4000)[0].size
    assert whole is not None and all_read > 0
    for budget, equal in ((all_read, True), (all_read // 3, False)):
        got = guided_hits([seg], side, 9, 0.0, replace(eng.params, max_postings_per_query=budget))
        pairs = set(zip(got[0].tolist(), map(tuple, got[1].tolist()))) if got is not None else set()
        want = set(zip(whole[0].tolist(), map(tuple, whole[1].tolist())))
        assert pairs <= want and (pairs == want) == equal
