"""A set of item positions (a scan's ``seq`` values) kept as ranges, for resuming a large scan.

A scan resumed after a crash skips the items already stored.  Holding their
positions as Python ints would cost about 60 bytes per item (600 MB for ten
million items); stored items are mostly runs of consecutive positions (a
local scan stores in order, a cluster stores whole parts), so the set is kept
as sorted, disjoint ``[start, end)`` ranges: memory grows with the gaps, not
with the items.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Iterable, Iterator

__all__ = ["SHARD_STRIDE", "SeqSet", "seq_label"]

#: Positions per shard when a scan numbers its items per shard (``seq = shard × SHARD_STRIDE + position``,
#: the scan's ``options.numbering`` is then ``"shard"``; docs/scan-format.md).
SHARD_STRIDE = 10 ** 9


def seq_label(seq: object, numbering: str | None) -> str:
    """An item's position as people read it: ``"3:17"`` (shard 3, item 17) when numbered per shard, else the number."""
    if numbering == "shard" and isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
        return f"{seq // SHARD_STRIDE}:{seq % SHARD_STRIDE}"
    return "" if seq is None else str(seq)


class SeqSet:
    """Sorted, disjoint ranges of ints; ``in``, ``len`` and iteration as a ``set`` of those ints gives them.

    Built from positions in increasing order (:meth:`from_sorted`); positions
    out of order raise ``ValueError``, as a store that did not sort them is a
    bug.
    """

    def __init__(self) -> None:
        self._starts = array("q")
        self._ends = array("q")
        self._count = 0

    @classmethod
    def from_sorted(cls, positions: Iterable[int]) -> "SeqSet":
        out = cls()
        starts, ends = out._starts, out._ends
        for p in positions:
            if ends and p < ends[-1]:
                if p >= starts[-1]:
                    continue  # a repeat
                raise ValueError(f"positions not in increasing order ({p} after {ends[-1] - 1})")
            if ends and p == ends[-1]:
                ends[-1] = p + 1
            else:
                starts.append(p)
                ends.append(p + 1)
            out._count += 1
        return out

    def __contains__(self, position: object) -> bool:
        if not isinstance(position, int):
            return False
        i = bisect_right(self._starts, position) - 1
        return i >= 0 and position < self._ends[i]

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        for start, end in zip(self._starts, self._ends):
            yield from range(start, end)

    def between(self, low: int, high: int) -> Iterator[int]:
        """The positions ``low <= p <= high``, in order (a part's stored items; found by bisection)."""
        i = max(bisect_right(self._starts, low) - 1, 0)
        for start, end in zip(self._starts[i:], self._ends[i:]):
            if start > high:
                return
            yield from range(max(start, low), min(end, high + 1))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SeqSet):
            return self._starts == other._starts and self._ends == other._ends
        if isinstance(other, (set, frozenset)):
            return len(other) == self._count and all(p in self for p in other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment] - equal to a set, so not hashable

    def ranges(self) -> int:
        """How many ranges hold the positions (what the memory grows with)."""
        return len(self._starts)

    def __repr__(self) -> str:
        return f"<SeqSet {self._count} positions in {len(self._starts)} ranges>"
