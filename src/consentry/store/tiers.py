"""Which index segments to merge after a registration: a size-tiered policy.

Every committed registration batch writes one index segment per engine (32
recordings, or 256 texts, a batch), and every query searches every segment:
a catalogue registered in many small runs would be searched in thousands of
pieces.  Merging them all into one after every run (``consentry compact``)
would rewrite the whole index each time, so registration merges by tiers,
as log-structured stores do:

- a segment's tier is ``floor(log_F(entries))`` (``F`` = :data:`FACTOR`);
- when some tier holds ``F`` segments or more, the segments of the lowest
  such tier and of every tier below it are merged into one, which lands in a
  higher tier; this repeats until no tier holds ``F``.

So at most ``F - 1`` segments stay per tier, a few tens in all for any
index up to 2**32 entries, and each entry is rewritten about once per tier
it climbs (``log_F`` of the index size times in all), not once per run.
"""

from __future__ import annotations

import math
from typing import Sequence

#: Segments of one tier that trigger a merge; a tier spans a factor of this many entries.
FACTOR = 4


def tier(n_entries: int, factor: int = FACTOR) -> int:
    """The tier of a segment of ``n_entries`` index entries (0 for empty or one-entry segments)."""
    n = max(1, int(n_entries))
    t = int(math.log(n, factor))
    # Floating-point logs can land just below a whole power; put the boundary exactly.
    while factor ** (t + 1) <= n:
        t += 1
    while t > 0 and factor ** t > n:
        t -= 1
    return t


def segments_to_merge(sizes: Sequence[int], factor: int = FACTOR) -> list[int]:
    """Positions (in ``sizes``' order) of the segments to merge next, or ``[]`` when none need it.

    Parameters
    ----------
    sizes : sequence of int
        Index entries of each segment of one engine.
    factor : int
        :data:`FACTOR`.

    Returns
    -------
    list of int
        The segments of the lowest tier holding ``factor`` or more, with every
        segment of a lower tier; sorted.
    """
    if factor < 2:
        raise ValueError(f"factor must be at least 2, not {factor}")
    tiers = [tier(n, factor) for n in sizes]
    counts: dict[int, int] = {}
    for t in tiers:
        counts[t] = counts.get(t, 0) + 1
    full = [t for t, c in counts.items() if c >= factor]
    if not full:
        return []
    top = min(full)
    return [i for i, t in enumerate(tiers) if t <= top]
