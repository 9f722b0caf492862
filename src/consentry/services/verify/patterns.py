"""Moved to :mod:`consentry.formats.patterns`; kept so old imports work."""

from consentry.formats.patterns import (
    MAX_PATTERN_CHARS, PatternIndex, normalize_path, normalize_pattern, pattern_length, pattern_matches,
    regex_reference,
)

__all__ = ["normalize_path", "normalize_pattern", "pattern_matches", "pattern_length"]
