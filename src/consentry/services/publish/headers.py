"""Moved to :mod:`consentry.formats.headers` (headers and server snippets written and read in one place).

Kept so old imports work.
"""

from consentry.formats.headers import (
    HEADER_NAMES, read_apache, read_caddy, read_nginx, render_apache, render_caddy, render_nginx, site_headers,
    work_headers,
)
