"""Moved to :mod:`consentry.formats.rsl` (RSL written and read in one place); kept so old imports work."""

from consentry.formats.rsl import RSL_NS, RslToken, licence_tokens, render_rsl  # noqa: F401
