"""Report renderers: scan reports (HTML, JSON, CSV), creator statements, training-content summaries.

Pure functions from plain dicts (the shapes documented in docs/scan-format.md)
to text; no registry access here.
"""
