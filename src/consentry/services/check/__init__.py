"""Checks of AI outputs against the registry: copied recordings, reused melodies, cloned voices (issue 6).

See docs/check.md. :mod:`.service` holds the use cases; the CLI
(``consentry check``, ``voices``, ``evidence verify``) is a thin layer over it.
"""
