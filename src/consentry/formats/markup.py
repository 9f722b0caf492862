"""Signals in HTTP response headers and HTML ``<head>`` markup (pure parsers).

- ``X-Robots-Tag`` and ``<meta name="robots">``: ``noai`` (no AI training
  on this resource) → ``ai_training`` and ``ai_generative`` deny;
  ``noimageai`` the same for an image (for another type it states nothing);
  ``noindex`` / ``none`` → ``search_indexing`` deny.  A directive scoped to a
  crawler (``GPTBot: noai``) counts when that crawler is one evaluated.
- ``Link`` headers and ``<link>`` elements with ``rel="license"``: an RSL
  document (``type="application/rsl+xml"``) or a terms JSON.
- ``<meta name="tdm-reservation">`` / ``<meta name="tdm-policy">`` (TDMRep).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from consentry.domain.signals import Signal

__all__ = ["parse_link_header", "robots_directives", "robots_directive_signals", "HeadMarkup", "parse_head"]

#: Characters of an HTML document scanned for its head.
MAX_HTML_CHARS = 512 * 1024
_VALUED = {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after", "indexifembedded"}
_AGENT_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)\s*:\s*(.*)$", re.DOTALL)


def parse_link_header(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """``Link`` header values (RFC 8288) as (URL, parameters with lower-case names); malformed parts skipped."""
    out = []
    for value in values:
        i, n = 0, len(value)
        while i < n:
            start = value.find("<", i)
            if start < 0:
                break
            end = value.find(">", start + 1)
            if end < 0:
                break
            url = value[start + 1:end].strip()
            i = end + 1
            params: dict[str, str] = {}
            while i < n:
                while i < n and value[i] in " \t":
                    i += 1
                if i >= n or value[i] != ";":
                    break
                i += 1
                m = re.compile(r'\s*([A-Za-z0-9!#$&+.^_`|~*-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?').match(value, i)
                if not m or not m.group(1):
                    break
                raw = m.group(2) or ""
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params.setdefault(m.group(1).lower(), raw)
                i = m.end()
            while i < n and value[i] not in ",":
                i += 1
            i += 1
            if url:
                out.append((url[:2000], params))
            if len(out) >= 200:
                return out
    return out


def robots_directives(values: list[str]) -> list[tuple[str | None, str]]:
    """(crawler or None, directive) pairs of ``X-Robots-Tag`` / meta robots values, lower-cased."""
    out: list[tuple[str | None, str]] = []
    for value in values:
        agent: str | None = None
        for part in value.split(",")[:200]:
            m = _AGENT_PREFIX.match(part)
            if m and m.group(1).lower() not in _VALUED:
                agent, part = m.group(1).lower(), m.group(2)
            directive = part.strip().lower()
            if directive:
                out.append((agent, directive.split(":", 1)[0].strip()))
    return out


def robots_directive_signals(values: list[str], *, fmt: str, source: str, location: str, is_image: bool,
                             crawler_tokens: set[str]) -> list[Signal]:
    """Signals of ``noai`` / ``noimageai`` / ``noindex`` / ``none`` directives."""
    signals: list[Signal] = []
    seen: set[tuple[str, str, str | None]] = set()
    for agent, directive in robots_directives(values):
        if agent is not None and agent not in crawler_tokens:
            continue
        detail = {"directive": directive}
        if agent:
            detail["user_agent"] = agent
        if directive == "noai" or (directive == "noimageai" and is_image):
            uses, decision = ("ai_training", "ai_generative"), "deny"
        elif directive == "noimageai":
            uses, decision = ("ai_training", "ai_generative"), "unspecified"
            detail["note"] = "noimageai applies to images only"
        elif directive in ("noindex", "none"):
            uses, decision = ("search_indexing",), "deny"
        else:
            continue
        for use in uses:
            key = (use, directive, agent)
            if key not in seen:
                seen.add(key)
                signals.append(Signal(use, decision, fmt, source, location, dict(detail)))
    return signals


class HeadMarkup(HTMLParser):
    """Collects ``<meta name content>`` and ``<link rel href type>`` until ``</head>`` or ``<body>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: list[tuple[str, str]] = []
        self.links: list[dict[str, str]] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if self.done:
            return
        a = {k.lower(): (v or "") for k, v in attrs if isinstance(k, str)}
        if tag == "meta" and "name" in a and len(self.meta) < 500:
            self.meta.append((a["name"].strip().lower(), a.get("content", "")[:2000]))
        elif tag == "link" and "href" in a and len(self.links) < 500:
            self.links.append({"rel": a.get("rel", "").lower(), "href": a["href"].strip()[:2000],
                               "type": a.get("type", "").strip().lower()})
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.done = True


def parse_head(text: str) -> HeadMarkup:
    """The meta and link elements of an HTML document's head (never raises)."""
    head = HeadMarkup()
    try:
        head.feed(text[:MAX_HTML_CHARS])
        head.close()
    except Exception:  # html.parser is lenient; anything left is kept as found so far
        pass
    return head
