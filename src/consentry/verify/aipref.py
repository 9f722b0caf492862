"""Moved to :mod:`consentry.formats.aipref` (AI-preferences vocabulary read in one place); kept so old imports work."""

from ..formats.aipref import (SFError, Token, parse_dictionary, preference_labels, preference_signals,  # noqa: F401
                              usage_preferences)
