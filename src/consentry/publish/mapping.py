"""Moved to :mod:`consentry.formats.mapping` (terms -> each format's values); kept so old imports work."""

from ..formats.mapping import *  # noqa: F401,F403
from ..formats.mapping import (AIPREF_LABELS, RSL_PAYMENT_TYPE, RSL_TOKENS, STRICTNESS, TRAINING_USES,  # noqa: F401
                               Derived, derive, strictest)
