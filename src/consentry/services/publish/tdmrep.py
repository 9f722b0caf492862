"""Moved to :mod:`consentry.formats.tdmrep` (TDMRep written and read in one place); kept so old imports work."""

from consentry.formats.tdmrep import (
    CURRENCY_URN, ODRL_CONTEXT, TDM_NS, TDM_PROFILE, UNIT_WORDS, policy_path, tdm_policy, tdmrep_rules,
)
