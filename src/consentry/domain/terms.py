"""The words of terms, declared once: decisions, uses and licence units (docs/terms-model.md).

Everything else (the domain models, the API's types, the web forms, the reports) imports them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

#: What a work's terms say AI may do with it.
Decision = Literal["deny", "allow", "license"]
DECISIONS: tuple[str, ...] = get_args(Decision)
#: Decisions from the least to the most restrictive (a dispute reports the strictest; publish checks against it).
STRICTNESS: tuple[str, ...] = ("allow", "license", "deny")

#: The uses terms are set for, one by one.
Use = Literal["ai_training", "ai_generative", "voice_likeness", "tdm", "search_indexing"]
USES: tuple[str, ...] = get_args(Use)
USE_LABELS: dict[str, str] = {
    "ai_training": "AI training",
    "ai_generative": "generative AI use (including imitation of style)",
    "voice_likeness": "voice or likeness cloning",
    "tdm": "text and data mining",
    "search_indexing": "search indexing",
}

#: What a licence price is for: a work, each dataset item (per-article: the same count, worded for texts) holding
#: it, each minute of audio or each 1,000 words of text of the dataset it covers, a training run.
Unit = Literal["per-work", "per-item", "per-minute", "per-training-run", "per-article", "per-1000-words"]
UNITS: tuple[str, ...] = get_args(Unit)
#: The units that measure one medium's content (minutes of audio, words of text).  A work of another medium
#: cannot be given them; on one that has them anyway (a creator's default terms reach every medium) a scan
#: counts the items it is in, as per-item does.
UNIT_MEDIUM: dict[str, str] = {"per-minute": "music", "per-1000-words": "text"}

#: What a dataset audit decides for an item, most serious first (docs/scan-format.md).
ItemDecision = Literal["refused", "licensable", "allowed", "unknown", "error"]
ITEM_DECISIONS: tuple[str, ...] = get_args(ItemDecision)

#: What a work's terms for AI training make of an item that contains it.
ITEM_DECISION_FOR_TERMS: dict[str, str] = {"deny": "refused", "license": "licensable", "allow": "allowed"}
