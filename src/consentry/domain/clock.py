"""The one "now" of Consentry: aware UTC times, written as ISO 8601 to the second.

Every timestamp the registry stores or a report prints (``2026-11-23T10:49:00+00:00``) comes from here, so they
compare and sort as text.
"""

from __future__ import annotations

from datetime import date, datetime, timezone


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """``moment`` (timezone-aware) in UTC as ISO 8601 to the second (``2026-11-23T10:49:00+00:00``)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def now_iso() -> str:
    """The current time as :func:`iso` writes it."""
    return iso(now())


def today_iso() -> str:
    """Today's date (local calendar, as ``date.today()``) as ``YYYY-MM-DD``."""
    return date.today().isoformat()
