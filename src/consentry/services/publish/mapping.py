"""Moved to :mod:`consentry.formats.mapping` (terms -> each format's values); kept so old imports work."""

from consentry.formats.mapping import *  # noqa: F401,F403
from consentry.formats.mapping import (
    AIPREF_LABELS, RSL_PAYMENT_TYPE, RSL_TOKENS, STRICTNESS, TRAINING_USES, Derived, derive, strictest,
)
