"""A work's terms in each embedded vocabulary, and back (pure; docs/embed.md).

One work entry of the terms export (docs/terms-model.md) becomes:

- :func:`cawg_entries`: the ``cawg.training-mining`` entries (CAWG Training
  and Data Mining Assertion 1.1);
- :func:`plus_data_mining`: one PLUS ``DataMining`` vocabulary URI (IPTC
  Photo Metadata 2023.1 / PLUS LDF) for the combination of uses;
- :func:`tag_values`: the Consentry tag keys and values (ID3 TXXX, Vorbis
  comments, MP4 freeform atoms);
- :func:`consentry_payload`: the full effective terms, for the
  ``org.consentry.terms`` C2PA assertion and the ``CONSENTRY_TERMS`` tag.

The reverse maps (:data:`CAWG_TO_USE`, :data:`PLUS_TO_DECISIONS`) are used
when reading files back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

from consentry.domain.errors import InputError
from consentry.domain.usage import USES, UseTerms

__all__ = [
    "EmbedTerms", "embed_terms_from_work", "cawg_entries", "CAWG_TO_USE", "CAWG_USE_TO_DECISION",
    "plus_data_mining", "PLUS_VOCAB", "PLUS_TO_DECISIONS", "tag_values", "TAG_USE_KEYS",
    "consentry_payload", "summary_text", "terms_detail",
]

#: The label of Consentry's own C2PA assertion (an entity-specific label,
#: C2PA 2.x section "Labels").
CONSENTRY_LABEL = "org.consentry.terms"
#: Version of the payload shape of :func:`consentry_payload`.
PAYLOAD_VERSION = 1

#: Our use -> the CAWG entries that state it.  ``ai_generative`` covers
#: generative training *and* use of the work as input to a model (prompting
#: with it, imitating it), so it sets both ``cawg.ai_generative_training`` and
#: ``cawg.ai_inference``.  ``voice_likeness`` and ``search_indexing`` have no
#: CAWG entry.
USE_TO_CAWG: dict[str, tuple[str, ...]] = {
    "ai_training": ("cawg.ai_training",),
    "ai_generative": ("cawg.ai_generative_training", "cawg.ai_inference"),
    "tdm": ("cawg.data_mining",),
}
#: CAWG (and legacy C2PA 1.x ``c2pa.*``) entry -> our use, for reading.
CAWG_TO_USE: dict[str, str] = {
    "cawg.ai_training": "ai_training", "cawg.ai_generative_training": "ai_generative",
    "cawg.ai_inference": "ai_generative", "cawg.data_mining": "tdm",
    "c2pa.ai_training": "ai_training", "c2pa.ai_generative_training": "ai_generative",
    "c2pa.ai_inference": "ai_generative", "c2pa.data_mining": "tdm",
}
DECISION_TO_CAWG = {"deny": "notAllowed", "allow": "allowed", "license": "constrained"}
CAWG_USE_TO_DECISION = {v: k for k, v in DECISION_TO_CAWG.items()}

_PLUS = "http://ns.useplus.org/ldf/vocab/"
#: The PLUS Data Mining vocabulary (PLUS LDF 2.0.x, adopted by IPTC Photo
#: Metadata Standard 2023.1).
PLUS_VOCAB: tuple[str, ...] = tuple(_PLUS + v for v in (
    "DMI-UNSPECIFIED", "DMI-ALLOWED", "DMI-PROHIBITED-AIMLTRAINING", "DMI-PROHIBITED-GENAIMLTRAINING",
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", "DMI-PROHIBITED", "DMI-PROHIBITED-SEECONSTRAINT",
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR", "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
))
#: PLUS value -> the decisions it states, per use (what a reader can rely on).
#: The three "prohibited except as permitted by ..." values are read as
#: ``license``: permission exists, on conditions stated elsewhere.
PLUS_TO_DECISIONS: dict[str, dict[str, str]] = {
    _PLUS + "DMI-UNSPECIFIED": {},
    _PLUS + "DMI-ALLOWED": {"ai_training": "allow", "ai_generative": "allow", "tdm": "allow"},
    _PLUS + "DMI-PROHIBITED-AIMLTRAINING": {"ai_training": "deny", "ai_generative": "deny"},
    _PLUS + "DMI-PROHIBITED-GENAIMLTRAINING": {"ai_generative": "deny"},
    _PLUS + "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": {
        "ai_training": "deny", "ai_generative": "deny", "tdm": "deny", "search_indexing": "allow"},
    _PLUS + "DMI-PROHIBITED": {"ai_training": "deny", "ai_generative": "deny", "tdm": "deny",
                               "search_indexing": "deny"},
    **{_PLUS + v: {"ai_training": "license", "ai_generative": "license", "tdm": "license"}
       for v in ("DMI-PROHIBITED-SEECONSTRAINT", "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
                 "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR")},
}

#: Tag key of each use (ID3 TXXX description, Vorbis comment name, MP4
#: freeform name): Consentry's convention, documented in docs/embed.md.
TAG_USE_KEYS: dict[str, str] = {
    "ai_training": "AI_TRAINING", "ai_generative": "AI_GENERATIVE", "voice_likeness": "VOICE_LIKENESS",
    "tdm": "TDM", "search_indexing": "SEARCH_INDEXING",
}
TAG_TERMS_URL = "AI_TERMS_URL"
TAG_TDM_RESERVATION = "TDM_RESERVATION"
TAG_WORK_ID = "CONSENTRY_WORK_ID"
TAG_TERMS_VERSION = "CONSENTRY_TERMS_VERSION"
TAG_PAYLOAD = "CONSENTRY_TERMS"
TAG_ISCC = "ISCC"
#: Every key Consentry owns (replaced as a whole on each embed).
TAG_KEYS: tuple[str, ...] = (*TAG_USE_KEYS.values(), TAG_TERMS_URL, TAG_TDM_RESERVATION, TAG_WORK_ID,
                             TAG_TERMS_VERSION, TAG_PAYLOAD, TAG_ISCC)


@dataclass(frozen=True)
class EmbedTerms:
    """What gets embedded for one work: its id, terms version, URL and per-use terms."""

    work_id: str
    title: str | None
    creator: str | None
    terms_version: int | None
    terms_url: str
    uses: Mapping[str, UseTerms]
    valid_from: str | None = None
    valid_until: str | None = None
    jurisdiction: str | None = None


def embed_terms_from_work(work: Mapping, *, terms_url: str) -> EmbedTerms:
    """Check one ``export["works"]`` entry and take what embedding needs.

    Raises
    ------
    InputError
        If the entry has no ``work_id``, lacks one of the five uses, or a
        use's terms are invalid; or ``terms_url`` is not an http(s) URL.
    """
    if not isinstance(work, Mapping) or not isinstance(work.get("work_id"), str) or not work["work_id"]:
        raise InputError("the work entry has no work_id: pass one entry of the terms export's \"works\"")
    if not isinstance(terms_url, str) or not terms_url.startswith(("https://", "http://")) or any(
            c.isspace() for c in terms_url):
        raise InputError(f"terms_url {terms_url!r}: give the work's terms page as an https:// URL")
    terms = work.get("terms")
    uses_raw = terms.get("uses") if isinstance(terms, Mapping) else None
    if not isinstance(uses_raw, Mapping):
        raise InputError(f"work {work['work_id']}: no terms.uses in the export entry")
    missing = [u for u in USES if u not in uses_raw]
    if missing:
        raise InputError(f"work {work['work_id']}: the export entry lacks the effective terms of "
                         f"{', '.join(missing)} (export with every use resolved)")
    uses = {u: UseTerms.from_dict(uses_raw[u]) for u in USES}
    version = work.get("terms_version")
    return EmbedTerms(
        work_id=work["work_id"], title=work.get("title") or None, creator=work.get("creator") or None,
        terms_version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        terms_url=terms_url, uses=uses, valid_from=terms.get("valid_from"),
        valid_until=terms.get("valid_until"), jurisdiction=terms.get("jurisdiction"),
    )


def describe_use(t: UseTerms) -> str:
    """``"deny"``, ``"allow"`` or ``"license 40 EUR per-work"``."""
    return t.describe()


def constraint_info(t: UseTerms, terms_url: str) -> str:
    """The CAWG ``constraint_info`` text of a licensed use: licence URL (or terms URL) and price."""
    return f"{t.licence_url or terms_url} (licence: {t.price:g} {t.currency} {t.unit})"


def cawg_entries(terms: EmbedTerms) -> dict[str, dict]:
    """The ``entries`` map of the ``cawg.training-mining`` assertion."""
    entries: dict[str, dict] = {}
    for use, labels in USE_TO_CAWG.items():
        t = terms.uses[use]
        entry = {"use": DECISION_TO_CAWG[t.decision]}
        if t.decision == "license":
            entry["constraint_info"] = constraint_info(t, terms.terms_url)
        for label in labels:
            entries[label] = dict(entry)
    return entries


def plus_data_mining(terms: EmbedTerms) -> str:
    """The one PLUS ``DataMining`` URI that fits the combination of uses.

    ``T``, ``G``, ``M``, ``S`` = ai_training, ai_generative, tdm,
    search_indexing:

    ======================================  ==========================================
    terms                                   PLUS value
    ======================================  ==========================================
    T, G, M all allow                       DMI-ALLOWED
    T, G, M all deny, S allow               DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING
    T, G, M all deny, S deny or license     DMI-PROHIBITED
    T, G deny, M allow                      DMI-PROHIBITED-AIMLTRAINING
    G deny, T and M allow                   DMI-PROHIBITED-GENAIMLTRAINING
    anything else (any license, mixes)      DMI-PROHIBITED-SEECONSTRAINT
    ======================================  ==========================================

    With ``SEECONSTRAINT`` the per-use terms are spelled out in
    ``plus:OtherConstraints``.
    """
    d = {u: terms.uses[u].decision for u in USES}
    trio = (d["ai_training"], d["ai_generative"], d["tdm"])
    if trio == ("allow", "allow", "allow"):
        return _PLUS + "DMI-ALLOWED"
    if trio == ("deny", "deny", "deny"):
        if d["search_indexing"] == "allow":
            return _PLUS + "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING"
        return _PLUS + "DMI-PROHIBITED"
    if trio == ("deny", "deny", "allow"):
        return _PLUS + "DMI-PROHIBITED-AIMLTRAINING"
    if trio == ("allow", "deny", "allow"):
        return _PLUS + "DMI-PROHIBITED-GENAIMLTRAINING"
    return _PLUS + "DMI-PROHIBITED-SEECONSTRAINT"


def summary_text(terms: EmbedTerms) -> str:
    """One line for people: every use's terms and where the full terms are."""
    parts = [f"{u}: {describe_use(terms.uses[u])}" for u in USES]
    return f"AI use terms ({'; '.join(parts)}). Full terms: {terms.terms_url}"


def consentry_payload(terms: EmbedTerms, *, iscc: Mapping | None = None) -> dict:
    """The full effective terms, as stored in ``org.consentry.terms`` and ``CONSENTRY_TERMS``."""
    payload = {
        "version": PAYLOAD_VERSION,
        "work_id": terms.work_id,
        "terms_version": terms.terms_version,
        "terms_url": terms.terms_url,
        "uses": {u: terms.uses[u].as_dict() for u in USES},
        "valid_from": terms.valid_from,
        "valid_until": terms.valid_until,
        "jurisdiction": terms.jurisdiction,
    }
    if iscc:
        payload["iscc"] = dict(iscc)
    return payload


def payload_json(payload: Mapping) -> str:
    """The payload as compact JSON with sorted keys (stable bytes for tags)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def tag_values(terms: EmbedTerms, *, iscc: Mapping | None = None) -> dict[str, str]:
    """Consentry's tag keys and their values (every key of :data:`TAG_KEYS` but maybe ``ISCC``)."""
    values = {TAG_USE_KEYS[u]: terms.uses[u].decision for u in USES}
    values[TAG_TERMS_URL] = terms.terms_url
    values[TAG_TDM_RESERVATION] = "0" if terms.uses["tdm"].decision == "allow" else "1"
    values[TAG_WORK_ID] = terms.work_id
    if terms.terms_version is not None:
        values[TAG_TERMS_VERSION] = str(terms.terms_version)
    values[TAG_PAYLOAD] = payload_json(consentry_payload(terms, iscc=iscc))
    if iscc and iscc.get("iscc"):
        values[TAG_ISCC] = str(iscc["iscc"])
    return values


def terms_detail(raw: object) -> dict:
    """The ``detail`` of a signal from one use's terms dict found in a file (only known, sane keys)."""
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for key in ("price", "currency", "unit", "contact", "licence_url"):
        value = raw.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "price":
            out[key] = value
        elif isinstance(value, str) and key != "price" and len(value) <= 2048:
            out[key] = value
    return out
