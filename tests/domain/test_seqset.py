"""SeqSet: a scan's stored positions as ranges (issue 20: resuming a large scan in flat memory)."""

from __future__ import annotations

import random

import pytest

from consentry.domain.seqset import SeqSet


def test_seqset_answers_as_the_set_of_its_positions():
    rng = random.Random(5)
    positions = sorted({rng.randrange(0, 3000) for _ in range(1500)} | set(range(10**9, 10**9 + 700)))
    s = SeqSet.from_sorted(positions)
    reference = set(positions)
    assert len(s) == len(reference) and list(s) == positions
    for p in [-1, 0, 2999, 3000, 10**9 - 1, 10**9, 10**9 + 699, 10**9 + 700, *range(0, 3001, 7)]:
        assert (p in s) == (p in reference)
    assert "3" not in s and 3.0 not in s
    assert s == reference and s == SeqSet.from_sorted(positions) and s != reference - {positions[0]}


def test_runs_cost_ranges_not_positions():
    s = SeqSet.from_sorted([*range(0, 100_000), *range(10**9, 10**9 + 50_000), 2 * 10**9])
    assert len(s) == 150_001 and s.ranges() == 3
    assert SeqSet.from_sorted([1, 1, 2]).ranges() == 1 and len(SeqSet.from_sorted([1, 1, 2])) == 2
    assert len(SeqSet()) == 0 and 0 not in SeqSet() and not SeqSet()


def test_positions_out_of_order_are_refused():
    with pytest.raises(ValueError, match="increasing order"):
        SeqSet.from_sorted([5, 9, 3])


def test_seq_label_reads_a_per_shard_position_as_shard_and_position():
    from consentry.domain.seqset import SHARD_STRIDE, seq_label

    assert seq_label(2 * SHARD_STRIDE + 17, "shard") == "2:17"
    assert seq_label(17, "shard") == "0:17"
    assert seq_label(2 * SHARD_STRIDE + 17, "sequential") == str(2 * SHARD_STRIDE + 17)
    assert seq_label(2 * SHARD_STRIDE + 17, None) == str(2 * SHARD_STRIDE + 17)
    assert seq_label(None, "shard") == "" and seq_label("x", "shard") == "x" and seq_label(True, "shard") == "True"


def test_between_gives_the_positions_in_a_range_as_the_set_does():
    rng = random.Random(8)
    positions = sorted({rng.randrange(0, 400) for _ in range(150)} | set(range(10**9, 10**9 + 30)))
    s = SeqSet.from_sorted(positions)
    for low, high in [(-5, -1), (0, 0), (0, 399), (17, 230), (399, 10**9 + 3), (10**9 + 29, 2 * 10**9),
                      *((rng.randrange(-10, 420), rng.randrange(-10, 420)) for _ in range(200))]:
        assert list(s.between(low, high)) == [p for p in positions if low <= p <= high]
    assert list(SeqSet().between(0, 10)) == []
