"""The summary's vocabulary: the template, field statuses, modalities, size ranges and categories,
and the builders of one field and one section (pure)."""

from __future__ import annotations

from typing import Any


#: Name and version of the summary dict (bump the version when its shape changes).
FORMAT_NAME = "consentry-training-content-summary"
FORMAT_VERSION = 1

#: Output formats of :func:`render_summary`.
FORMATS = ("md", "html", "json")

TITLE = "Public Summary of Training Content for general-purpose AI models"
LEGAL_BASIS = "Article 53(1)(d) of Regulation (EU) 2024/1689 (AI Act)"
TEMPLATE = {
    "title": "Template for the Public Summary of Training Content for general-purpose AI models",
    "reference": (
        "European Commission (AI Office), Explanatory Notice and Template for the Public Summary of "
        "Training Content for general-purpose AI models required by Article 53(1)(d) of Regulation "
        "(EU) 2024/1689 (AI Act), published 24 July 2025"
    ),
    "url": (
        "https://digital-strategy.ec.europa.eu/en/library/"
        "explanatory-notice-and-template-public-summary-training-content-general-purpose-ai-models"
    ),
}

# Field statuses: where a value came from, or why there is none.
DECLARED = "declared"  # from the provider's declaration
FROM_SCANS = "from scans"  # computed by Consentry from the scans
TO_COMPLETE = "to complete"  # required by the template, given by neither
NOT_APPLICABLE = "not applicable"  # the template's condition for it is not met
OPTIONAL = "optional"  # optional in the template and not given

MODALITIES = ("text", "image", "audio", "video", "other")
_MODALITY_LABELS = {"text": "Text", "image": "Image", "audio": "Audio", "video": "Video", "other": "Other"}

#: The template's training-data size ranges per modality (section 1.3).
SIZE_RANGES = {
    "text": ("Less than 1 billion tokens", "1 billion to 10 trillion tokens", "More than 10 trillion tokens"),
    "image": ("Less than 1 million images", "1 million to 1 billion images", "More than 1 billion images"),
    "audio": ("Less than 10 000 hours", "10 000 to 1 million hours", "More than 1 million hours"),
    "video": ("Less than 10 000 hours", "10 000 to 1 million hours", "More than 1 million hours"),
}

#: Source categories a declaration can give a scanned dataset, and the template section of each.
CATEGORIES = {
    "public_datasets": "2.1",
    "licensed_datasets": "2.2.1",
    "other_private_datasets": "2.2.2",
    "crawled_data": "2.3",
    "user_data": "2.4",
    "synthetic_data": "2.5",
    "other_sources": "2.6",
}


def _field(
    key: str,
    label: str,
    value: Any = None,
    *,
    declare: str | None = None,
    source: str = DECLARED,
    optional: bool = False,
    applicable: bool = True,
    note: str | None = None,
    hint: str | None = None,
) -> dict:
    """One field of the template: its value, or why it has none.

    ``note`` is always shown; ``hint`` (how to fill the field) only while the
    field is to complete.
    """
    if value is not None and value != []:
        status = source
    else:
        value = None
        status = NOT_APPLICABLE if not applicable else OPTIONAL if optional else TO_COMPLETE
    if status == TO_COMPLETE and hint:
        note = f"{note} {hint}" if note else hint
    return {"key": key, "label": label, "value": value, "status": status, "declare": declare, "note": note}


def _section(number: str, title: str, *, fields: list | None = None, subsections: list | None = None, **blocks: Any) -> dict:
    """A template section; every section has the same keys, blocks that do not apply are empty."""
    section = {
        "number": number,
        "title": title,
        "fields": fields or [],
        "subsections": subsections or [],
        "modalities": [],  # 1.3: one row per modality
        "unassigned_datasets": [],  # 2: scan ids without a source category
        "scanned_datasets": [],  # 2.x: scan ids assigned to this category
        "consent_registry_check": None,  # 3.1: scan ids and totals of the registry check
    }
    unknown = set(blocks) - set(section)
    if unknown:
        raise TypeError(f"unknown section blocks: {sorted(unknown)}")
    section.update(blocks)
    return section


def _modality_names(modalities: list[str]) -> list[str]:
    return [
        "Other: " + m.split(":", 1)[1].strip() if m.startswith("other:") else _MODALITY_LABELS[m]
        for m in modalities
    ]


#: Characters per token assumed to place scanned text in the template's token ranges (English prose with
#: common subword tokenizers averages about four); the summary says it is an estimate.
CHARS_PER_TOKEN = 4.0


def _size_range(modality: str, amount: float) -> str:
    """The template's size range for ``amount``: hours of audio or video, tokens of text, number of images."""
    low, mid, high = SIZE_RANGES[modality]
    if modality in ("audio", "video"):
        return low if amount < 10_000 else mid if amount <= 1_000_000 else high
    if modality == "text":
        return low if amount < 1e9 else mid if amount <= 1e13 else high
    if modality == "image":
        return low if amount < 1e6 else mid if amount <= 1e9 else high
    raise ValueError(modality)


def _fmt_number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _plural(n: int, word: str) -> str:
    """``"1 work"``, ``"2 works"``, ``"1,000 items"``."""
    return f"{_fmt_number(n)} {word}{'' if n == 1 else 's'}"
