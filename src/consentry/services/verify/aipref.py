"""Moved to :mod:`consentry.formats.aipref` (AI-preferences vocabulary read in one place); kept so old imports work."""

from consentry.formats.aipref import (
    SFError, Token, parse_dictionary, preference_labels, preference_signals, usage_preferences,
)
