"""Moved to :mod:`consentry.formats.tdmrep` (TDMRep written and read in one place); kept so old imports work."""

from consentry.formats.tdmrep import (
    MAX_RULES, TdmPolicy, TdmRule, match_tdmrep, parse_tdm_policy, parse_tdmrep_json, reservation_value, tdm_signals,
    tdmrep_matcher, work_paths,
)
