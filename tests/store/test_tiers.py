"""Size-tiered merging of index segments after registration (consentry.store.tiers)."""

from __future__ import annotations

import numpy as np
import pytest

from consentry.store import tiers
from consentry.store.sqlite import SQLiteStore


def test_tier_boundaries_are_exact_powers():
    assert [tiers.tier(n) for n in (0, 1, 3, 4, 15, 16, 63, 64, 4 ** 10 - 1, 4 ** 10)] == [0, 0, 0, 1, 1, 2, 2, 3, 9, 10]
    assert tiers.tier(1000, factor=10) == 3 and tiers.tier(999, factor=10) == 2


def test_segments_to_merge_picks_the_lowest_full_tier_and_everything_below():
    assert tiers.segments_to_merge([]) == []
    assert tiers.segments_to_merge([100, 100, 100]) == []  # three of a tier: not yet
    assert tiers.segments_to_merge([100, 5000, 100, 100, 100]) == [0, 2, 3, 4]
    # Tier 3 (64..255) is full; the tier-1 segment below it goes with it, the big ones stay.
    assert tiers.segments_to_merge([70000, 5, 100, 100, 100, 100, 70000]) == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError):
        tiers.segments_to_merge([1, 2], factor=1)


def test_repeated_merging_keeps_few_segments_per_tier():
    """Simulated runs of equal batches: at most FACTOR - 1 segments per tier, every entry kept."""
    sizes: list[int] = []
    for _ in range(500):
        sizes.append(256)
        while chosen := tiers.segments_to_merge(sizes):
            merged = sum(sizes[i] for i in chosen)
            sizes = [n for i, n in enumerate(sizes) if i not in chosen] + [merged]
    assert sum(sizes) == 500 * 256
    per_tier: dict[int, int] = {}
    for n in sizes:
        per_tier[tiers.tier(n)] = per_tier.get(tiers.tier(n), 0) + 1
    assert max(per_tier.values()) <= tiers.FACTOR - 1
    assert len(sizes) <= 12


def _unpack(values: np.ndarray) -> np.ndarray:
    return (np.asarray(values, dtype=np.uint64) >> np.uint64(32)).astype(np.int64)


def test_store_merges_tiers_and_keeps_every_posting(tmp_path):
    """A real SQLite registry: small segments merged by tiers, every posting kept, other engines untouched."""
    store = SQLiteStore.open(tmp_path / "reg", create=True)
    key = dict(engine="e", engine_version="1", param_hash="p" * 16)
    rng = np.random.default_rng(7)
    every_keys, every_values = [], []
    for fp_id in range(1, 10):
        keys = rng.integers(0, 2 ** 32, size=40, dtype=np.uint64).astype(np.uint32)
        values = (np.uint64(fp_id) << np.uint64(32)) | np.arange(40, dtype=np.uint64)
        store.add_segment(keys, values, **key)
        every_keys.append(keys)
        every_values.append(values)
    other = store.add_segment(np.arange(50, dtype=np.uint32), np.arange(50, dtype=np.uint64), engine="f",
                              engine_version="1", param_hash="q" * 16)
    assert len(store.index_segment_stems(**key)) == 9
    merged = store.merge_tiers(**key, unpack_fp_id=_unpack)
    stems = store.index_segment_stems(**key)
    assert merged == 9 and len(stems) == 1  # nine of tier 2 (16..63 entries), merged at once
    assert [s for s, _ in store.index_segment_stems(engine="f", engine_version="1", param_hash="q" * 16)] == [other]
    (segment,) = store.index_segments(**key)
    keys = np.concatenate(every_keys)
    values = np.concatenate(every_values)
    got = sorted(zip(np.asarray(segment.keys).tolist(), np.asarray(segment.values).tolist()))
    assert got == sorted(zip(keys.tolist(), values.tolist()))
    assert store.merge_tiers(**key, unpack_fp_id=_unpack) == 0  # nothing left to merge
    # compact with stems no longer there merges nothing.
    assert store.compact(**key, unpack_fp_id=_unpack, stems=["gone-1", "gone-2"]) == 0
    store.close()
