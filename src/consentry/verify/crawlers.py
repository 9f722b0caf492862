"""AI crawlers by product token, and which of our uses each one's crawling stands for.

The list published sites are written for is ``consentry/publish/data/ai_crawlers.json``;
it is read when it exists (each call, so a list added later is picked up),
else :data:`FALLBACK_CRAWLERS` is used.  Purposes map to uses:

- ``training``: the crawler collects training data → ``ai_training`` and ``ai_generative``;
- ``search``: the crawler builds a search index → ``search_indexing``;
- ``ai-input``: the crawler fetches pages for an AI assistant's answer → ``ai_generative``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from ..registry.usage import USES

__all__ = ["Crawler", "FALLBACK_CRAWLERS", "PURPOSE_USES", "load_crawlers", "crawlers_from"]

PURPOSE_USES: dict[str, tuple[str, ...]] = {
    "training": ("ai_training", "ai_generative"),
    "search": ("search_indexing",),
    "ai-input": ("ai_generative",),
}


@dataclass(frozen=True)
class Crawler:
    """A crawler's product token, operator and the uses its crawling stands for.

    ``robots_txt`` says how it reads robots.txt (the ``robots_txt`` field of
    ai_crawlers.json): ``rfc9309`` (its token is an RFC 9309 product token),
    ``full-token`` (its token has a digit, so RFC 9309 matchers read a
    ``User-agent`` line naming it as another token; see
    :func:`~consentry.verify.robots.misread_user_agents`) or ``not-read``
    (it does not read robots.txt at all: no robots.txt signal is given for it).
    """

    token: str
    uses: tuple[str, ...]
    operator: str = ""
    purpose: str = ""
    robots_txt: str = "rfc9309"


#: Values of ai_crawlers.json's ``robots_txt`` field.
ROBOTS_TXT_READING = ("rfc9309", "full-token", "not-read")


def _c(token: str, operator: str, purpose: str, robots_txt: str = "rfc9309") -> Crawler:
    return Crawler(token, PURPOSE_USES[purpose], operator, purpose, robots_txt)


#: Used when publish/data/ai_crawlers.json is not there (common tokens as of 2026).
FALLBACK_CRAWLERS: tuple[Crawler, ...] = (
    _c("GPTBot", "OpenAI", "training"),
    _c("ClaudeBot", "Anthropic", "training"),
    _c("anthropic-ai", "Anthropic", "training"),
    _c("Google-Extended", "Google", "training"),
    _c("Applebot-Extended", "Apple", "training"),
    _c("CCBot", "Common Crawl", "training"),
    _c("Bytespider", "ByteDance", "training"),
    _c("meta-externalagent", "Meta", "training"),
    _c("FacebookBot", "Meta", "training"),
    _c("Amazonbot", "Amazon", "training"),
    _c("cohere-training-data-crawler", "Cohere", "training"),
    _c("Diffbot", "Diffbot", "training"),
    _c("AI2Bot", "Allen Institute for AI", "training", "full-token"),
    _c("Ai2Bot-Dolma", "Allen Institute for AI", "training", "full-token"),
    _c("PanguBot", "Huawei", "training"),
    _c("Timpibot", "Timpi", "training"),
    _c("ImagesiftBot", "ImageSift", "training"),
    _c("img2dataset", "img2dataset", "training", "not-read"),
    _c("omgili", "Webz.io", "training"),
    _c("OAI-SearchBot", "OpenAI", "search"),
    _c("Claude-SearchBot", "Anthropic", "search"),
    _c("PerplexityBot", "Perplexity", "search"),
    _c("Googlebot", "Google", "search"),
    _c("Bingbot", "Microsoft", "search"),
    _c("Applebot", "Apple", "search"),
    _c("DuckDuckBot", "DuckDuckGo", "search"),
    _c("ChatGPT-User", "OpenAI", "ai-input"),
    _c("Claude-User", "Anthropic", "ai-input"),
    _c("Perplexity-User", "Perplexity", "ai-input"),
    _c("MistralAI-User", "Mistral", "ai-input"),
)


def _crawler_list_path() -> Path:
    return Path(__file__).resolve().parent.parent / "publish" / "data" / "ai_crawlers.json"


def _uses_of(entry: Mapping) -> tuple[tuple[str, ...], str]:
    """Uses and purpose named by one crawler entry of ai_crawlers.json (tolerant of its exact shape)."""
    explicit = entry.get("uses")
    if isinstance(explicit, (list, tuple)) and all(isinstance(u, str) for u in explicit):
        uses = tuple(u for u in explicit if u in USES)
        if uses:
            return uses, "uses"
    purposes = []
    for key in ("purpose", "purposes", "category", "categories", "kind", "type"):
        value = entry.get(key)
        if isinstance(value, str):
            purposes.append(value)
        elif isinstance(value, (list, tuple)):
            purposes.extend(v for v in value if isinstance(v, str))
    found: list[str] = []
    label = ""
    for purpose in purposes:
        p = purpose.lower()
        if "train" in p:
            kind = "training"
        elif "search" in p or "index" in p:
            kind = "search"
        elif any(w in p for w in ("input", "assist", "user", "agent", "retriev", "answer", "rag")):
            kind = "ai-input"
        else:
            continue
        label = label or kind
        found.extend(u for u in PURPOSE_USES[kind] if u not in found)
    return (tuple(found) or PURPOSE_USES["training"]), (label or "training")


def crawlers_from(data) -> list[Crawler]:
    """Crawlers from the parsed ai_crawlers.json: a list (of tokens or objects), or an object holding one."""
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


def load_crawlers(user_agents: Iterable[str] | Mapping[str, str] | None = None) -> tuple[list[Crawler], str]:
    """The crawlers to evaluate and where the list came from.

    Parameters
    ----------
    user_agents : iterable of str, or mapping token -> purpose, optional
        Evaluate only these tokens.  A token of the known list keeps its
        purpose; an unknown one is taken as a ``training`` crawler unless the
        mapping names its purpose (``training``, ``search`` or ``ai-input``).
    """
    known: list[Crawler] = []
    origin = "built-in list"
    path = _crawler_list_path()
    try:
        if path.is_file() and path.stat().st_size < 4 * 1024 * 1024:
            known = crawlers_from(json.loads(path.read_text(encoding="utf-8")))
            origin = "consentry/publish/data/ai_crawlers.json"
    except (OSError, ValueError, RecursionError):
        known = []
    if not known:
        known, origin = list(FALLBACK_CRAWLERS), "built-in list"
    if user_agents is None:
        return known, origin
    by_token = {c.token.lower(): c for c in known}
    chosen: list[Crawler] = []
    items = user_agents.items() if isinstance(user_agents, Mapping) else ((u, None) for u in user_agents)
    for token, purpose in items:
        token = str(token).strip()
        if not token:
            continue
        if purpose in PURPOSE_USES:
            chosen.append(Crawler(token, PURPOSE_USES[purpose], "", purpose))
        elif token.lower() in by_token:
            chosen.append(by_token[token.lower()])
        else:
            chosen.append(Crawler(token, PURPOSE_USES["training"], "", "training"))
    return chosen, "user_agents argument"
