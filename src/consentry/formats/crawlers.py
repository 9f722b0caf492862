"""The AI crawler list: one data file, one set of purpose words, read by publish and verify alike.

The list is ``consentry/formats/data/ai_crawlers.json`` (see that file for its
fields). Each crawler names the consentry uses whose terms decide whether it
may fetch a work (it may only if every one of them is ``allow``). Where a list
gives only a purpose, the purpose stands for these uses (:data:`PURPOSE_USES`):

- ``training``, ``legacy``: the crawler collects training data → ``ai_training``, ``ai_generative``;
- ``dataset``: it builds a crawl others train on → ``ai_training``, ``ai_generative``, ``tdm``;
- ``search``: it builds a search index → ``search_indexing``;
- ``user-triggered`` (also written ``ai-input``): it fetches a page for an AI
  assistant's answer → ``ai_generative``.

:func:`load_crawlers` validates the packaged file strictly;
:func:`crawlers_from` reads a list given by a user, tolerant of its shape;
:func:`select_crawlers` picks the crawlers one verification evaluates.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Iterable, Mapping

from consentry.domain.usage import USES

__all__ = ["Crawler", "PURPOSES", "PURPOSE_USES", "ROBOTS_TXT_READING", "CRAWLER_LIST", "parse_crawlers",
           "load_crawlers", "crawlers_from", "select_crawlers"]

#: RFC 9309 product token: letters, "_" and "-" only.
PRODUCT_TOKEN_RE = re.compile(r"^[A-Za-z_-]+$")
#: A token the list may hold with ``robots_txt`` other than ``rfc9309`` (a digit is the case met so far).
LISTED_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+$")
#: How a crawler reads robots.txt (the ``robots_txt`` field; absent: ``rfc9309``).
ROBOTS_TXT_READING: tuple[str, ...] = ("rfc9309", "full-token", "not-read")
#: The purpose words of the list.
PURPOSES: tuple[str, ...] = ("training", "dataset", "search", "user-triggered", "legacy")
#: The uses a purpose stands for when a list names no uses.
PURPOSE_USES: dict[str, tuple[str, ...]] = {
    "training": ("ai_training", "ai_generative"),
    "dataset": ("ai_training", "ai_generative", "tdm"),
    "search": ("search_indexing",),
    "user-triggered": ("ai_generative",),
    "legacy": ("ai_training", "ai_generative"),
}
#: Other words for a purpose that a user's list or ``user_agents`` mapping may use.
PURPOSE_ALIASES: dict[str, str] = {"ai-input": "user-triggered"}
#: Where the list is, as reports name it.
CRAWLER_LIST = "consentry/formats/data/ai_crawlers.json"


@dataclass(frozen=True)
class Crawler:
    """One AI crawler product token and the uses that decide what it may fetch.

    ``robots_txt``: ``rfc9309`` (an RFC 9309 product token, read the usual
    way), ``full-token`` (not a product token, e.g. ``AI2Bot``: RFC 9309
    matchers read ``User-agent: AI2Bot`` as ``AI``; the group is still written
    with the token the operator documents, with a comment saying so, and
    verify matches the whole token) or ``not-read`` (documented not to read
    robots.txt: no group is written and no robots.txt signal is given).
    """

    token: str
    uses: tuple[str, ...]
    operator: str = ""
    purpose: str = ""
    robots_txt: str = "rfc9309"
    source: str | None = None
    evidence: str = ""
    note: str = ""

    @property
    def rfc9309_reads_as(self) -> str | None:
        """The product token an RFC 9309 matcher takes from ``User-agent: <token>`` when that is not the token."""
        if PRODUCT_TOKEN_RE.match(self.token):
            return None
        m = re.match(r"[A-Za-z_-]*", self.token)
        return m.group(0) if m else ""


def parse_crawlers(data: dict) -> tuple[Crawler, ...]:
    """Validate the data file's content; :class:`ValueError` names the bad entry."""
    out, seen = [], set()
    for i, c in enumerate(data.get("crawlers", [])):
        token = c.get("token")
        reading = c.get("robots_txt", "rfc9309")
        if reading not in ROBOTS_TXT_READING:
            raise ValueError(f"ai_crawlers.json crawlers[{i}]: robots_txt {reading!r} is not one of {ROBOTS_TXT_READING}")
        if not isinstance(token, str) or not (LISTED_TOKEN_RE if reading != "rfc9309" else PRODUCT_TOKEN_RE).match(token):
            raise ValueError(f"ai_crawlers.json crawlers[{i}]: token {token!r} is not an RFC 9309 product token"
                             + ("" if reading != "rfc9309" else " (say robots_txt: full-token or not-read)"))
        if token.lower() in seen:
            raise ValueError(f"ai_crawlers.json: token {token!r} listed twice")
        seen.add(token.lower())
        uses = tuple(c.get("uses") or ())
        if not uses or any(u not in USES for u in uses):
            raise ValueError(f"ai_crawlers.json {token}: uses {uses!r} must be a non-empty list of {USES}")
        if c.get("purpose") not in PURPOSES:
            raise ValueError(f"ai_crawlers.json {token}: purpose {c.get('purpose')!r} is not one of {PURPOSES}")
        source = c.get("source")
        if source is not None and not (isinstance(source, str) and source.startswith("https://")):
            raise ValueError(f"ai_crawlers.json {token}: source must be an https URL or null")
        out.append(Crawler(token=token, operator=str(c.get("operator") or ""), purpose=c["purpose"], uses=uses,
                           source=source, evidence=str(c.get("evidence") or ""), note=str(c.get("note") or ""),
                           robots_txt=reading))
    if not out:
        raise ValueError("ai_crawlers.json lists no crawlers")
    return tuple(out)


@functools.cache
def load_crawlers() -> tuple[Crawler, ...]:
    """The crawlers of the packaged data file."""
    text = resources.files("consentry.formats").joinpath("data/ai_crawlers.json").read_text(encoding="utf-8")
    return parse_crawlers(json.loads(text))


def purpose_of(word: str) -> str | None:
    """The purpose (one of :data:`PURPOSES`) a word of a user's list stands for, or ``None``."""
    p = word.strip().lower()
    if p in PURPOSE_USES:
        return p
    if p in PURPOSE_ALIASES:
        return PURPOSE_ALIASES[p]
    if "train" in p:
        return "training"
    if "dataset" in p:
        return "dataset"
    if "search" in p or "index" in p:
        return "search"
    if any(w in p for w in ("input", "assist", "user", "agent", "retriev", "answer", "rag")):
        return "user-triggered"
    return None


def _uses_of(entry: Mapping) -> tuple[tuple[str, ...], str]:
    """Uses and purpose named by one crawler entry of a user's list (tolerant of its exact shape)."""
    words: list[str] = []
    for key in ("purpose", "purposes", "category", "categories", "kind", "type"):
        value = entry.get(key)
        if isinstance(value, str):
            words.append(value)
        elif isinstance(value, (list, tuple)):
            words.extend(v for v in value if isinstance(v, str))
    purposes = [p for p in map(purpose_of, words) if p]
    label = purposes[0] if purposes else "training"
    explicit = entry.get("uses")
    if isinstance(explicit, (list, tuple)) and all(isinstance(u, str) for u in explicit):
        uses = tuple(u for u in explicit if u in USES)
        if uses:
            return uses, label
    found: list[str] = []
    for purpose in purposes:
        found.extend(u for u in PURPOSE_USES[purpose] if u not in found)
    return (tuple(found) or PURPOSE_USES["training"]), label


def crawlers_from(data) -> list[Crawler]:
    """Crawlers from a parsed crawler list: a list (of tokens or objects), or an object holding one."""
    if isinstance(data, Mapping):
        for key in ("crawlers", "user_agents", "agents", "bots"):
            if isinstance(data.get(key), (list, Mapping)):
                return crawlers_from(data[key])
        entries = [dict(v, token=k) if isinstance(v, Mapping) else {"token": k, "purpose": v}
                   for k, v in data.items() if isinstance(k, str)]
        return crawlers_from(entries)
    out: list[Crawler] = []
    if not isinstance(data, list):
        return out
    for entry in data:
        if isinstance(entry, str) and entry.strip():
            out.append(Crawler(entry.strip(), PURPOSE_USES["training"], "", "training"))
            continue
        if not isinstance(entry, Mapping):
            continue
        token = next((entry[k] for k in ("token", "user_agent", "user-agent", "product_token", "name", "ua")
                      if isinstance(entry.get(k), str) and entry[k].strip()), None)
        if token is None:
            continue
        uses, purpose = _uses_of(entry)
        operator = next((entry[k] for k in ("operator", "company", "owner", "vendor")
                         if isinstance(entry.get(k), str)), "")
        reading = entry.get("robots_txt")
        out.append(Crawler(token.strip(), uses, operator, purpose,
                           reading if reading in ROBOTS_TXT_READING else "rfc9309"))
    return out


def select_crawlers(user_agents: Iterable[str] | Mapping[str, str] | None = None) -> tuple[list[Crawler], str]:
    """The crawlers to evaluate and where the list came from.

    Parameters
    ----------
    user_agents : iterable of str, or mapping token -> purpose, optional
        Evaluate only these tokens.  A token of the known list keeps its
        purpose; an unknown one is taken as a ``training`` crawler unless the
        mapping names its purpose (one of :data:`PURPOSES`, or ``ai-input``).
        ``None``: every crawler of the packaged list.
    """
    known = list(load_crawlers())
    if user_agents is None:
        return known, CRAWLER_LIST
    by_token = {c.token.lower(): c for c in known}
    chosen: list[Crawler] = []
    items = user_agents.items() if isinstance(user_agents, Mapping) else ((u, None) for u in user_agents)
    for token, purpose in items:
        token = str(token).strip()
        if not token:
            continue
        purpose = PURPOSE_ALIASES.get(purpose, purpose) if isinstance(purpose, str) else None
        if purpose in PURPOSE_USES:
            chosen.append(Crawler(token, PURPOSE_USES[purpose], "", purpose))
        elif token.lower() in by_token:
            chosen.append(by_token[token.lower()])
        else:
            chosen.append(Crawler(token, PURPOSE_USES["training"], "", "training"))
    return chosen, "user_agents argument"
