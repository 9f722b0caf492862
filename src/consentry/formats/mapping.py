"""How our five uses map onto each machine-readable vocabulary (pure).

Every format has its own, coarser vocabulary. A format term that covers
several of our uses takes the *strictest* of their decisions (``deny`` is
stricter than ``license``, which is stricter than ``allow``): a signal never
allows what any of the uses it stands for does not allow. Where a term comes
out as ``license``, its price, currency, unit, contact and licence URL are
those of the first use in the term's list whose decision is ``license``.

The table (also in docs/publish.md):

=====================  ==========================================
format term            our uses (in priority order)
=====================  ==========================================
IETF ``train-ai``      ai_training, ai_generative
IETF ``ai-use``        ai_generative
IETF ``search``        search_indexing
RSL ``ai-train``       ai_training, ai_generative
RSL ``ai-input``       ai_generative
RSL ``ai-index``       ai_generative, search_indexing
RSL ``search``         search_indexing
TDMRep                 tdm
X-Robots-Tag ``noai``  ai_training, ai_generative
X-Robots-Tag ``noindex``  search_indexing
Spawning ai.txt        ai_training, ai_generative
robots.txt per crawler the crawler's ``uses`` (formats/data/ai_crawlers.json)
robots.txt ``*``       search_indexing
=====================  ==========================================

``voice_likeness`` has no term in any of these vocabularies; it is published
in the terms pages (HTML and JSON) only, and every format links to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from consentry.domain.terms import STRICTNESS  # noqa: F401  (declared once there; publish.check imports it here)
from consentry.domain.usage import USES

TRAINING_USES: tuple[str, ...] = ("ai_training", "ai_generative")

#: IETF AI-preferences vocabulary labels (draft-ietf-aipref-vocab) and our uses.
AIPREF_LABELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("train-ai", TRAINING_USES),
    ("ai-use", ("ai_generative",)),
    ("search", ("search_indexing",)),
)

#: RSL 1.0 usage tokens (``<permits type="usage">``) and our uses.
RSL_TOKENS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ai-train", TRAINING_USES),
    ("ai-input", ("ai_generative",)),
    ("ai-index", ("ai_generative", "search_indexing")),
    ("search", ("search_indexing",)),
)

#: RSL ``<payment type>`` for a licence priced per our ``unit``.
RSL_PAYMENT_TYPE: dict[str, str] = {
    "per-work": "purchase",
    "per-training-run": "training",
    "per-item": "use",
    "per-article": "use",
    "per-1000-words": "use",
    "per-minute": "use",
}

TDM_USES: tuple[str, ...] = ("tdm",)
SEARCH_USES: tuple[str, ...] = ("search_indexing",)


@dataclass(frozen=True)
class Derived:
    """What a format term says: the strictest decision of its uses.

    ``terms`` are the use terms (a dict of docs/terms-model.md) of the first
    licensed use when ``decision`` is ``license``, else ``None``; ``use`` names
    that use.
    """

    decision: str
    terms: Mapping | None = None
    use: str | None = None


def strictest(decisions) -> str:
    """The most restrictive of ``decisions`` (``allow`` for none)."""
    worst = 0
    for d in decisions:
        worst = max(worst, STRICTNESS.index(d))
    return STRICTNESS[worst]


def derive(uses_terms: Mapping[str, Mapping], uses: tuple[str, ...]) -> Derived:
    """The decision a term covering ``uses`` takes, with the licence terms if any."""
    decision = strictest(uses_terms[u]["decision"] for u in uses)
    if decision == "license":
        for u in uses:
            if uses_terms[u]["decision"] == "license":
                return Derived("license", uses_terms[u], u)
    return Derived(decision)


def crawler_allowed(uses_terms: Mapping[str, Mapping], crawler_uses: tuple[str, ...]) -> bool:
    """May a crawler acting for ``crawler_uses`` fetch the work? Only if every one is ``allow``."""
    return derive(uses_terms, crawler_uses).decision == "allow"


def content_usage(uses_terms: Mapping[str, Mapping]) -> str:
    """The ``Content-Usage`` value (an RFC 9651 dictionary), all three labels explicit.

    The vocabulary is binary: ``license`` is ``n`` (not without a licence).
    """
    return ", ".join(
        f"{label}={'y' if derive(uses_terms, uses).decision == 'allow' else 'n'}" for label, uses in AIPREF_LABELS
    )


def expected_aipref(uses_terms: Mapping[str, Mapping]) -> dict[str, str]:
    """``{label: "y" | "n"}`` as :func:`content_usage` writes it."""
    return {label: ("y" if derive(uses_terms, uses).decision == "allow" else "n") for label, uses in AIPREF_LABELS}


def tdm_reservation(uses_terms: Mapping[str, Mapping]) -> int:
    """TDMRep ``tdm-reservation``: 0 when ``tdm`` is allowed, else 1."""
    return 0 if uses_terms["tdm"]["decision"] == "allow" else 1


def tdm_licensed(uses_terms: Mapping[str, Mapping]) -> bool:
    """Whether the work gets a TDM Policy (``tdm`` is ``license``)."""
    return uses_terms["tdm"]["decision"] == "license"


def x_robots_tag(uses_terms: Mapping[str, Mapping]) -> str | None:
    """``X-Robots-Tag`` directives, or ``None`` when nothing is restricted.

    ``noai, noimageai`` when training (either training use) is not allowed;
    ``noindex`` when search indexing is not allowed.
    """
    tokens = []
    if derive(uses_terms, TRAINING_USES).decision != "allow":
        tokens += ["noai", "noimageai"]
    if derive(uses_terms, SEARCH_USES).decision != "allow":
        tokens.append("noindex")
    return ", ".join(tokens) or None


def ai_txt_allowed(uses_terms: Mapping[str, Mapping]) -> bool:
    """Spawning ai.txt: may datasets for AI training take the work?"""
    return derive(uses_terms, TRAINING_USES).decision == "allow"


def search_allowed(uses_terms: Mapping[str, Mapping]) -> bool:
    """robots.txt ``User-agent: *`` (search engines and everyone else)."""
    return derive(uses_terms, SEARCH_USES).decision == "allow"


def rsl_terms(uses_terms: Mapping[str, Mapping]) -> dict[str, Derived]:
    """``{rsl_token: Derived}`` for the four RSL usage tokens we map to."""
    return {token: derive(uses_terms, uses) for token, uses in RSL_TOKENS}


def all_uses_present(uses_terms: Mapping[str, Mapping]) -> list[str]:
    """The uses missing from ``uses_terms`` (empty when all five are there)."""
    return [u for u in USES if u not in uses_terms]
