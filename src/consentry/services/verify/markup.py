"""Moved to :mod:`consentry.formats.markup` (Link, X-Robots-Tag and HTML meta signals); kept so old imports work."""

from consentry.formats.markup import (
    HeadMarkup, parse_head, parse_link_header, robots_directive_signals, robots_directives,
)
