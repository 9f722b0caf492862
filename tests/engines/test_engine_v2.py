"""The music engine, version 2: reference agreement, golden vector, lookups rarest first, identification."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from consentry.engines.music import MusicEngine
from consentry.engines.music import extract as E
from consentry.engines.music.engine import DEFAULT_MIN_SCORE_V2, confidence, identify_segments, min_score_for
from consentry.engines.music.params import DEFAULT_PARAMS, ENGINE_NAME, V1_PARAMS, MusicEngineParams2, params_for
from consentry.engines.music.postings import lookup, pack_postings
from consentry.engines.music.reference import reference_keys, reference_mix, reference_query_keys
from consentry.store.segments import IndexSegment, build_directory
from test_engine import notes

P = DEFAULT_PARAMS
SR = P.sample_rate_hz
GOLDEN_FILE = Path(__file__).parents[1] / "data" / "golden" / "music_v2.npz"


def test_version_2_is_the_default_and_version_1_is_kept():
    assert P.version == "2" and isinstance(P, MusicEngineParams2)
    assert V1_PARAMS.version == "1" and V1_PARAMS.param_hash() == "a9373b04c01a0962"
    assert P.param_hash() != V1_PARAMS.param_hash()
    assert params_for("1") is V1_PARAMS and params_for("2", P.param_hash()) is P
    with pytest.raises(KeyError, match="not known"):
        params_for("2", "0" * 16)
    assert str(MusicEngine().id) == f"{ENGINE_NAME}/2/{P.param_hash()}"
    assert str(MusicEngine(V1_PARAMS).id) == f"{ENGINE_NAME}/1/{V1_PARAMS.param_hash()}"
    assert replace(P, semitone_step=1.0).param_hash() != P.param_hash()


def test_descriptors_fit_64_bits():
    assert int(np.prod([int(x) for x in E.component_sizes(P)], dtype=object)) < 2**63


@pytest.mark.parametrize("fanout", [P.index_fanout, P.query_fanout])
def test_fast_keys_match_reference(fanout):
    x = notes(2, duration_s=10.0)
    peaks = E.pick_peaks(E.log_spectrogram(x, P), P, peaks_per_s=P.index_peaks_per_s)
    quads = E.make_quads(peaks, P, fanout=fanout)
    keys = E.pack_key(E.quantise(quads.values, P), P)
    ref = reference_keys(list(zip(peaks.frame.tolist(), peaks.midi.tolist(), peaks.strength.tolist())), P, fanout=fanout)
    assert len(ref) > 30
    assert sorted(zip(keys.tolist(), quads.anchor_frame.tolist())) == sorted(ref)


def test_query_keys_are_every_combination_of_the_components_near_an_edge():
    x = notes(3, duration_s=4.0)
    peaks = E.pick_peaks(E.log_spectrogram(x, P), P, peaks_per_s=P.query_peaks_per_s)
    quads = E.make_quads(peaks, P, fanout=P.query_fanout)
    q = E.expand_query(quads, P)
    assert np.array_equal(q.key_lo, q.key_hi)  # point keys
    got: dict[int, set[int]] = {}
    for k, o in zip(q.key_lo.tolist(), q.owner.tolist()):
        got.setdefault(o, set()).add(k)
    assert len(got) == len(quads) > 50
    for i in range(len(quads)):
        assert got[i] == reference_query_keys(quads.values[:, i], P)


def test_query_keys_come_in_the_order_of_their_combinations():
    # Quad by quad, combination j takes the neighbour of the b-th component that has one when bit b
    # of j is set; combinations with a neighbour outside a component's range are left out. Written
    # the slow way (one combination at a time, packed by pack_key) against the vectorised expansion.
    x = notes(5, duration_s=6.0)
    peaks = E.pick_peaks(E.log_spectrogram(x, P), P, peaks_per_s=P.query_peaks_per_s)
    quads = E.make_quads(peaks, P, fanout=P.query_fanout)
    q = E.expand_query(quads, P)
    tol = [0.0] * E.N_COMPONENTS
    tol[E.BAND] = P.max_pitch_shift_semitones / P.anchor_band_semitones
    tol[E.SPAN] = min(0.49, (np.log1p(P.max_speed_change) + P.log_span_tolerance) / P.log_span_step)
    for c in (E.DF2, E.DF3, E.DF4):
        tol[c] = P.semitone_tolerance / E.semitone_step(P)
    tol[E.R2] = tol[E.R3] = P.ratio_tolerance_bins
    sizes = E.component_sizes(P)
    base = E.quantise(quads.values, P)
    want_keys, want_owner = [], []
    for i in range(len(quads)):
        own = [int(v) for v in base[:, i]]
        neighbours = []
        for c in range(E.N_COMPONENTS):
            f = quads.values[c, i] - np.floor(quads.values[c, i])
            alt = own[c] - 1 if f < tol[c] else own[c]
            alt = alt + 1 if f > 1.0 - tol[c] else alt
            if alt != own[c]:
                neighbours.append((c, alt))
        for j in range(1 << len(neighbours)):
            comp = list(own)
            for b, (c, alt) in enumerate(neighbours):
                if j >> b & 1:
                    comp[c] = alt
            if all(0 <= comp[c] < sizes[c] for c in range(E.N_COMPONENTS)):
                want_keys.append(int(E.pack_key(np.array(comp, dtype=np.int64)[:, None], P)[0]))
                want_owner.append(i)
    assert len(want_keys) > 2 * len(quads) > 100
    assert q.key_lo.tolist() == want_keys and q.owner.tolist() == want_owner


def test_verification_counts_distinct_values_as_np_unique_does():
    from consentry.engines.music.match import _distinct, _n_distinct, _runs

    rng = np.random.default_rng(3)
    for x in (np.zeros(0, np.int64), np.array([7]), rng.integers(-5, 5, 200), rng.integers(0, 2**40, 1000),
              np.array([0.0, -0.0, 1.5, 1.5, -2.0]), rng.integers(0, 50, 300).astype(np.float64) / 3):
        np.testing.assert_array_equal(_distinct(x), np.unique(x))
        assert _n_distinct(x) == np.unique(x).size
        values, counts = _runs(np.sort(x))
        want_values, want_counts = np.unique(x, return_counts=True)
        np.testing.assert_array_equal(values, want_values)
        np.testing.assert_array_equal(counts, want_counts)


def test_verification_medians_are_np_median():
    from consentry.engines.music.match import _median

    rng = np.random.default_rng(4)
    for n in (1, 2, 3, 4, 7, 10, 101, 1000):
        for x in (rng.normal(0, 3, n), rng.integers(-20, 20, n) * 0.25, np.full(n, 1.5), rng.normal(0, 1e-9, n) + 1e6):
            assert _median(x) == float(np.median(x))  # exactly, not approximately


def test_key_mix_is_the_reference_and_spreads_neighbouring_descriptors():
    d = np.arange(1000, 3000, dtype=np.uint64)
    keys = E.mix_key(d)
    assert keys.tolist() == [reference_mix(int(v)) for v in d]
    assert np.unique(keys).size == d.size
    # Neighbouring descriptors land all over the key space (buckets stay even).
    assert np.unique(keys >> 28).size == 16


def test_the_index_side_key_is_among_the_query_keys_of_the_same_quad():
    x = notes(4, duration_s=6.0)
    peaks = E.pick_peaks(E.log_spectrogram(x, P), P, peaks_per_s=P.index_peaks_per_s)
    quads = E.make_quads(peaks, P, fanout=P.index_fanout)
    index_keys = E.pack_key(E.quantise(quads.values, P), P)
    q = E.expand_query(quads, P)
    for i in range(len(quads)):
        assert index_keys[i] in set(q.key_lo[q.owner == i].tolist())


@pytest.fixture(scope="module")
def golden():
    return np.load(GOLDEN_FILE, allow_pickle=False)


def test_golden_vector(golden):
    assert str(golden["engine"]) == str(MusicEngine(P).id)
    keys, frames, midis = E.index_hashes(golden["samples"], P)
    np.testing.assert_array_equal(keys, golden["keys"])
    np.testing.assert_array_equal(frames, golden["anchor_frame"])
    np.testing.assert_array_equal(np.round(midis.astype(np.float64) * 64),
                                  np.round(golden["anchor_midi"].astype(np.float64) * 64))
    q = E.query_hashes(golden["samples"], P)
    h = hashlib.sha256()
    for a, dtype in ((q.key_lo, "<u4"), (q.key_hi, "<u4"), (q.owner, "<i8")):
        h.update(np.ascontiguousarray(a).astype(dtype).tobytes())
    assert h.hexdigest() == str(golden["query_sha256"])


def test_golden_match_of_a_faster_excerpt(golden):
    from scipy.signal import resample_poly

    work = golden["match_work"].astype(np.float32) / 32767.0
    query = resample_poly(work[2 * SR:9 * SR], 100, 103).astype(np.float32)
    found = identify_segments(query, _index([work]), P)
    got = np.array([[m.fp_id, m.inliers, m.candidates, m.query_start_frame, m.query_end_frame, m.work_start_frame,
                     m.work_end_frame, m.speed, m.pitch_shift_semitones] for m in found], dtype=np.float64)
    assert got.shape == golden["match"].shape == (1, 9)
    np.testing.assert_array_equal(got[:, :3], golden["match"][:, :3])
    np.testing.assert_allclose(got[:, 3:], golden["match"][:, 3:], rtol=1e-6, atol=0)
    assert abs(found[0].speed - 1.03) < 0.005


def test_lookup_takes_the_rarest_keys_first_within_the_budget():
    keys = np.array([1, 5, 5, 5, 9, 9, 12], dtype=np.uint32)
    values = pack_postings(3, np.arange(7), np.full(7, 60.0))
    seg = IndexSegment(keys, values, *build_directory(keys))
    ask = np.array([5, 9, 12], np.uint32)
    owner = np.array([0, 1, 2])
    everything = lookup([seg], ask, ask, owner, max_postings_per_range=10)
    assert len(everything) == 6
    for budget, owners in ((6, [0, 0, 0, 1, 1, 2]), (5, [1, 1, 2]), (3, [1, 1, 2]), (2, [2]), (0, [])):
        hits = lookup([seg], ask, ask, owner, max_postings_per_range=10, max_postings_total=budget)
        assert sorted(hits.owner.tolist()) == owners
    # Counted over all segments together: key 9 has 2 + 2 postings in two segments.
    hits = lookup([seg, seg], ask, ask, owner, max_postings_per_range=10, max_postings_total=6)
    assert sorted(hits.owner.tolist()) == [1, 1, 1, 1, 2, 2]


def _index(works, params=P):
    keys, values = [], []
    for i, w in enumerate(works, start=1):
        k, f, m = E.index_hashes(w, params)
        keys.append(k)
        values.append(pack_postings(i, f, m))
    k = np.concatenate(keys)
    v = np.concatenate(values)
    order = np.argsort(k, kind="stable")
    k = k[order]
    return [IndexSegment(k, v[order], *build_directory(k))]


def piece(seed: int, duration_s: float) -> np.ndarray:
    from consentry.testing.synth import synthesise_piece

    return synthesise_piece(seed, duration_s=duration_s, sample_rate_hz=SR).astype(np.float32)


@pytest.fixture(scope="module")
def small_index():
    works = [piece(100 + i, 40.0) for i in range(4)]
    return works, _index(works)


def test_identifies_an_excerpt_with_its_offsets(small_index):
    works, index = small_index
    found = identify_segments(works[2][12 * SR: 22 * SR], index, P)
    assert found and found[0].fp_id == 3
    assert abs(found[0].work_start_frame / P.frames_per_s - 12.0 - found[0].query_start_frame / P.frames_per_s) < 0.3
    assert found[0].inliers > DEFAULT_MIN_SCORE_V2


def test_finds_a_sped_up_copy_and_measures_its_speed(small_index):
    from scipy.signal import resample_poly

    works, index = small_index
    q = resample_poly(works[1][10 * SR: 21 * SR], 100, 104).astype(np.float32)  # 4% faster, pitch up too
    found = identify_segments(q, index, P)
    assert found and found[0].fp_id == 2
    assert abs(found[0].speed - 1.04) < 0.005
    assert abs(found[0].pitch_shift_semitones - 12 * np.log2(1.04)) < 0.2


def test_unrelated_music_is_not_identified(small_index):
    _, index = small_index
    assert identify_segments(piece(999, 10.0), index, P) == []


def test_a_small_budget_still_finds_a_clean_copy(small_index):
    works, index = small_index
    tight = replace(P, max_postings_per_query=300)
    found = identify_segments(works[0][5 * SR: 15 * SR], index, tight)
    assert found and found[0].fp_id == 1


def test_decision_rule_of_version_2():
    assert min_score_for(10.0, version="2") == DEFAULT_MIN_SCORE_V2
    # Version 2's own step per doubling (0 as fitted: tests/engines/test_constants_v2.py); never below the 10-s threshold.
    assert min_score_for(600.0, version="2") >= DEFAULT_MIN_SCORE_V2
    assert min_score_for(600.0, version="1") > min_score_for(10.0, version="1")
    assert min_score_for(10.0) == DEFAULT_MIN_SCORE_V2  # the current version's rule by default
    assert min_score_for(10.0, version="1") == 14
    assert 0.99 < confidence(DEFAULT_MIN_SCORE_V2, searched_s=10, version="2") < 1.0
    assert confidence(30, searched_s=10, version="2") > confidence(DEFAULT_MIN_SCORE_V2, searched_s=10, version="2")
