"""Moved to :mod:`consentry.formats.terms_json` (the terms JSON pages, read in one place); kept so old imports work."""

from consentry.formats.terms_json import terms_json_signals  # noqa: F401
