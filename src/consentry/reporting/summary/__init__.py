"""Draft of the EU AI Act public summary of training content (Art. 53(1)(d)).

Providers of general-purpose AI models must publish "a sufficiently detailed
summary about the content used for training", following the template of the
AI Office (European Commission, *Explanatory Notice and Template for the
Public Summary of Training Content for general-purpose AI models*, July 2025).
This package drafts that summary in the template's own sections:

1. General information (provider, model, modalities and training data size)
2. List of data sources (2.1 public datasets ... 2.6 other sources)
3. Data processing aspects (3.1 respect of TDM rights reservations,
   3.2 removal of illegal content, 3.3 other information)

Two inputs fill it:

- **scans** (``docs/scan-format.md``): every scanned dataset becomes a data
  source (name, kind, items, hours of audio, bytes, scan id, dataset
  fingerprint, date), and section 3.1 says what the check against the consent
  registry found (refused, licensable, allowed, unidentified items, errors),
  per dataset and in total;
- **a declaration** (YAML written by the provider, ``docs/summary.md``):
  everything a scan cannot know (provider, model, other modalities, crawlers,
  user and synthetic data, which datasets are public or licensed, ...).

Whatever neither gives is kept as a field with ``value: None`` and
``status: "to complete"``, rendered as a visible "TO COMPLETE" marker: nothing
is left out and nothing is guessed.  The whole document is marked as a draft
that the provider must review before publishing.

>>> decl = load_declaration("summary-declaration.yaml")                 # doctest: +SKIP
>>> summary = build_summary([scan], decl, generated_at="2026-11-23T11:00:00+00:00")  # doctest: +SKIP
>>> html = render_summary(summary, fmt="html")                           # doctest: +SKIP
"""

from __future__ import annotations

from consentry.reporting.summary.build import build_summary
from consentry.reporting.summary.declaration import load_declaration, validate_declaration
from consentry.reporting.summary.model import (
    CATEGORIES, DECLARED, FORMAT_NAME, FORMAT_VERSION, FORMATS, FROM_SCANS, LEGAL_BASIS, MODALITIES, NOT_APPLICABLE,
    OPTIONAL, SIZE_RANGES, TEMPLATE, TITLE, TO_COMPLETE,
)
from consentry.reporting.summary.render import render_summary

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FORMATS",
    "CATEGORIES",
    "SIZE_RANGES",
    "load_declaration",
    "validate_declaration",
    "build_summary",
    "render_summary",
]

# The package's modules, by concern: model (template, statuses, field and section builders), declaration
# (the provider's YAML), scans (the scan contract and totals), build (the sections), render (md, html, json).
