"""Decisions of a dataset audit, coverage, and the exposure estimate (pure functions).

Shapes are documented in docs/scan-format.md.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable, Sequence

from consentry.domain.terms import ITEM_DECISION_FOR_TERMS, ITEM_DECISIONS  # noqa: F401  (declared once there)

#: ``--fail-on`` choices and the item decisions each one fails on.
FAIL_ON = {"refused": ("refused",), "licensable": ("licensable",), "any": ("refused", "licensable", "allowed")}


def decide_item(terms_decisions: Iterable[str]) -> str:
    """The decision for an item from the training terms (deny/allow/license) of the works found in it.

    Any denying work makes the item ``refused``; otherwise any licensed work
    makes it ``licensable``; otherwise any found work makes it ``allowed``;
    no work found is ``unknown``.
    """
    found = {ITEM_DECISION_FOR_TERMS[d] for d in terms_decisions}
    for decision in ("refused", "licensable", "allowed"):
        if decision in found:
            return decision
    return "unknown"


def covered_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Length (s) of the union of ``(start_s, end_s)`` intervals."""
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def coverage_histogram(coverages: Iterable[float], *, bins: int = 10) -> dict:
    """Counts of items by covered share, in ``bins`` equal bins over [0, 1] (1.0 falls in the last)."""
    counts = [0] * bins
    for c in coverages:
        counts[min(bins - 1, max(0, int(c * bins)))] += 1
    return {"edges": [round(i / bins, 6) for i in range(bins + 1)], "counts": counts}


# -- exposure ------------------------------------------------------------------
#: US statutory damages per work infringed, 17 U.S.C. 504(c)(1) and (2).
STATUTORY_MIN_USD = 750
STATUTORY_MAX_USD = 30_000
STATUTORY_WILFUL_MAX_USD = 150_000

EXPOSURE_NOTE = (
    "Estimate, not legal advice. US statutory damages range per work infringed (17 U.S.C. 504(c)): "
    "USD 750 to 30,000, up to 150,000 if wilful; a court decides within it, and may award actual damages "
    "instead. Under 17 U.S.C. 412 statutory damages are unavailable for a use that began before the work's "
    "registration, unless a published work was registered within three months of first publication. "
    "Other countries' laws differ; whether a use infringes at all (licences, exceptions, fair use) is not assessed."
)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(d)


def statutory_eligibility(*, registered_on: date | None, published_on: date | None, began_on: date) -> tuple[str, str]:
    """Whether statutory damages are available for a use that began on ``began_on`` (17 U.S.C. 412).

    Returns ``(eligibility, reason)`` with eligibility ``eligible``,
    ``ineligible`` or ``unknown`` (registration date not known).
    """
    if registered_on is None:
        return "unknown", "no copyright registration date recorded"
    if registered_on <= began_on:
        return "eligible", f"registered {registered_on.isoformat()}, before the use began ({began_on.isoformat()})"
    if published_on is not None and published_on <= began_on:
        grace_end = _add_months(published_on, 3)
        if registered_on <= grace_end:
            return "eligible", (
                f"registered {registered_on.isoformat()}, within three months of first publication "
                f"({published_on.isoformat()})"
            )
        return "ineligible", (
            f"published {published_on.isoformat()}, use began {began_on.isoformat()}, registered "
            f"{registered_on.isoformat()}: after the use began and more than three months after publication"
        )
    if published_on is None:
        return "ineligible", (
            f"registered {registered_on.isoformat()}, after the use began ({began_on.isoformat()}); "
            "no publication date recorded for the three-month grace period"
        )
    return "ineligible", (
        f"unpublished when the use began ({began_on.isoformat()}) and registered later ({registered_on.isoformat()})"
    )


def _range(n: int) -> dict:
    return {"min": n * STATUTORY_MIN_USD, "max": n * STATUTORY_MAX_USD, "wilful_max": n * STATUTORY_WILFUL_MAX_USD}


def estimate_exposure(refused_works: Sequence[dict], *, began_on: date) -> dict:
    """Statutory-damages exposure for distinct refused works found (see docs/scan-format.md).

    Parameters
    ----------
    refused_works : sequence of dict
        Distinct works whose terms deny the use, with ``work_id``, ``title``,
        ``creator`` and optional ISO dates ``copyright_registered_on`` and
        ``first_published_on``.
    began_on : date
        When the use began (the scan's date unless the user says otherwise).
    """
    rows, counts = [], {"eligible": 0, "ineligible": 0, "unknown": 0}
    for w in refused_works:
        reg = w.get("copyright_registered_on")
        pub = w.get("first_published_on")
        eligibility, reason = statutory_eligibility(
            registered_on=date.fromisoformat(reg) if reg else None,
            published_on=date.fromisoformat(pub) if pub else None,
            began_on=began_on,
        )
        counts[eligibility] += 1
        rows.append({"work_id": w["work_id"], "title": w.get("title"), "creator": w.get("creator"),
                     "eligibility": eligibility, "reason": reason})
    return {
        "note": EXPOSURE_NOTE,
        "statute": "17 U.S.C. 504(c); 17 U.S.C. 412",
        "infringement_began": began_on.isoformat(),
        "per_work_usd": _range(1),
        "works_refused": len(rows),
        "eligible": counts["eligible"],
        "ineligible": counts["ineligible"],
        "unknown_registration": counts["unknown"],
        "range_usd": _range(counts["eligible"]),
        "range_usd_if_unknown_eligible": _range(counts["eligible"] + counts["unknown"]),
        "works": rows,
    }
