"""Claims and disputes (docs/claims.md): the pure model here, the use cases in :mod:`consentry.claims.service`."""

from .model import (
    ACTIVE_STATES, DEFAULT_RULES, FINAL_STATES, KINDS, STATES, SYSTEM, TRANSITIONS, Actor, Claim, ClaimError,
    ClaimEvent, ClaimNotFoundError, ClaimRules, NotAPartyError,
)

__all__ = ["ACTIVE_STATES", "DEFAULT_RULES", "FINAL_STATES", "KINDS", "STATES", "SYSTEM", "TRANSITIONS", "Actor", "Claim",
           "ClaimError", "ClaimEvent", "ClaimNotFoundError", "ClaimRules", "NotAPartyError"]
