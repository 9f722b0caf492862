"""The AI crawler list of ``publish/data/ai_crawlers.json`` (see that file for its fields)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from ..registry.usage import USES

#: RFC 9309 product token: letters, "_" and "-" only.
PRODUCT_TOKEN_RE = re.compile(r"^[A-Za-z_-]+$")
#: A token the list may hold with ``robots_txt`` other than ``rfc9309`` (a digit is the case met so far).
LISTED_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+$")
#: How a crawler reads robots.txt (the ``robots_txt`` field; absent: ``rfc9309``).
ROBOTS_TXT_READING: tuple[str, ...] = ("rfc9309", "full-token", "not-read")
PURPOSES: tuple[str, ...] = ("training", "dataset", "search", "user-triggered", "legacy")


@dataclass(frozen=True)
class Crawler:
    """One AI crawler product token and the uses that decide what it may fetch.

    ``robots_txt``: ``rfc9309`` (an RFC 9309 product token, read the usual
    way), ``full-token`` (not a product token, e.g. ``AI2Bot``: RFC 9309
    matchers read ``User-agent: AI2Bot`` as ``AI``; the group is still written
    with the token the operator documents, with a comment saying so) or
    ``not-read`` (documented not to read robots.txt: no group is written).
    """

    token: str
    operator: str
    purpose: str
    uses: tuple[str, ...]
    source: str | None
    evidence: str
    note: str
    robots_txt: str = "rfc9309"

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
    text = resources.files("consentry.publish").joinpath("data/ai_crawlers.json").read_text(encoding="utf-8")
    return parse_crawlers(json.loads(text))
