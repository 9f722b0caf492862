"""Moved to :mod:`consentry.formats.robots` (robots.txt and ai.txt, written and read in one place).

Kept so old imports work. ``parse_aipref`` is
:func:`consentry.formats.aipref.preference_labels`.
"""

from consentry.formats.aipref import preference_labels as parse_aipref  # noqa: F401
from consentry.formats.robots import (
    LIST_WORKS_UP_TO, ROBOTS_LIMIT_BYTES, WORKS_PATH, first_matching_rule, match_crawler, parse_robots, render_ai_txt,
    render_robots,
)
