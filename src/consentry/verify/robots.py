"""robots.txt as RFC 9309 defines it, with the ``Content-Usage`` rule of draft-ietf-aipref-attach (pure).

:func:`parse_robots` reads the file into groups; :func:`match_crawler` says
whether one crawler (by product token) may crawl one path:

- a group starts with one or more ``User-agent`` lines; a ``User-agent`` line
  after a rule (``Allow``, ``Disallow``, ``Content-Usage``) starts a new
  group; empty lines and unknown lines do not end a group (§2.2);
- the crawler obeys every group whose ``User-agent`` equals its product token
  (case-insensitive, exact: ``GPT`` is not ``GPTBot``), merged into one;
  only when none names it, the ``*`` groups, merged (§2.2.1);
- the rule with the longest matching pattern (octets, after
  percent-normalisation) wins; between an ``Allow`` and a ``Disallow`` of the
  same length, ``Allow`` wins (§2.2.2); ``*`` and a final ``$`` are special
  (§2.2.3); ``/robots.txt`` is always allowed;
- only the first :data:`PARSE_LIMIT_BYTES` are parsed (§2.5 asks for at least
  500 KiB).

A ``User-agent`` value is matched by its leading product-token characters
(``GPTBot/1.1`` names ``GPTBot``), as Google's reference parser does.

Some crawlers' own tokens are not RFC 9309 product tokens (``AI2Bot``,
``Ai2Bot-Dolma``, ``img2dataset``: a digit), so an RFC 9309 matcher reads
``User-agent: AI2Bot`` as ``AI`` and never applies the group to them.  For
such a token, :meth:`RobotsFile.groups_for` takes the groups whose
``User-agent`` value begins with the whole token (what the site means), and
:func:`misread_user_agents` lists those lines and what RFC 9309 reads them as,
so that the verdict can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .patterns import normalize_path, normalize_pattern, pattern_length, pattern_matches

__all__ = ["RobotsRule", "RobotsGroup", "RobotsFile", "CrawlDecision", "parse_robots", "match_crawler",
           "content_usage_for", "misread_user_agents", "is_product_token", "PARSE_LIMIT_BYTES"]

#: Bytes of robots.txt parsed (RFC 9309 §2.5: at least 500 KiB).
PARSE_LIMIT_BYTES = 512 * 1024
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")
_TOKEN = re.compile(r"[A-Za-z_-]+")
_WHOLE_VALUE_TOKEN = re.compile(r"[^\s/;(]+")


def is_product_token(token: str) -> bool:
    """Whether ``token`` is an RFC 9309 product token (letters, ``_`` and ``-`` only)."""
    return bool(_TOKEN.fullmatch(token))


def _whole_token(written: str) -> str:
    """A ``User-agent`` value's token up to a space, ``/``, ``;`` or ``(`` (``AI2Bot/1.0`` -> ``AI2Bot``)."""
    m = _WHOLE_VALUE_TOKEN.match(written)
    return m.group(0).lower() if m else ""


@dataclass(frozen=True)
class RobotsRule:
    """One rule of a group: ``allow``, ``disallow`` or ``content-usage`` (with its ``preference``)."""

    kind: str
    pattern: str          # normalised
    raw: str              # as written
    line: int
    preference: str = ""  # content-usage only


@dataclass
class RobotsGroup:
    """A group: the product tokens it names (lower-case, or ``*``) and its rules."""

    agents: list[tuple[str, int, str]] = field(default_factory=list)   # (token, line, as written)
    rules: list[RobotsRule] = field(default_factory=list)
    has_rule: bool = False

    @property
    def line(self) -> int:
        return self.agents[0][1] if self.agents else 0


@dataclass
class RobotsFile:
    """A parsed robots.txt: its groups, ``License`` (RSL) and ``Sitemap`` lines, and notes on what was skipped."""

    groups: list[RobotsGroup] = field(default_factory=list)
    licenses: list[tuple[str, int]] = field(default_factory=list)
    sitemaps: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _by_token: dict = field(default_factory=dict, repr=False, compare=False)

    def groups_for(self, token: str) -> list[RobotsGroup]:
        """The groups a crawler with product ``token`` obeys (named ones, else the ``*`` ones).

        A ``token`` that is not an RFC 9309 product token (``AI2Bot``) is
        matched against the whole token of each ``User-agent`` value instead.
        """
        whole = not is_product_token(token) and token != "*"
        token = token.lower()
        if token not in self._by_token:
            if whole:
                named = [g for g in self.groups if any(a != "*" and _whole_token(w) == token for a, _, w in g.agents)]
            else:
                named = [g for g in self.groups if any(a == token for a, _, _ in g.agents)] if token != "*" else []
            self._by_token[token] = named or [g for g in self.groups if any(a == "*" for a, _, _ in g.agents)]
        return self._by_token[token]


@dataclass(frozen=True)
class CrawlDecision:
    """Whether one crawler may crawl one path, and why.

    ``groups`` are the groups obeyed (empty: no group applies, crawling is
    allowed); ``rule`` the deciding rule (``None``: no rule matched, allowed).
    """

    token: str
    allowed: bool
    groups: tuple[RobotsGroup, ...]
    rule: RobotsRule | None

    @property
    def group_key(self) -> tuple[int, ...]:
        return tuple(g.line for g in self.groups)

    def describe(self) -> str:
        agents = ", ".join(sorted({w for g in self.groups for _, _, w in g.agents})) or "none"
        if not self.groups:
            return "no group for this crawler and no '*' group: allowed"
        if self.rule is None:
            return f"no rule matches in the group at line {self.groups[0].line} (User-agent: {agents}): allowed"
        verb = "Allow" if self.rule.kind == "allow" else "Disallow"
        return f"line {self.rule.line} ({verb}: {self.rule.raw}) in the group for User-agent: {agents}"


def parse_robots(text: str) -> RobotsFile:
    """Parse robots.txt text (any input; never raises)."""
    robots = RobotsFile()
    if len(text) > PARSE_LIMIT_BYTES:
        text = text[:PARSE_LIMIT_BYTES]
        robots.notes.append(f"only the first {PARSE_LIMIT_BYTES // 1024} KiB were parsed (RFC 9309 §2.5)")
    if text.startswith("\ufeff"):
        text = text[1:]
    current: RobotsGroup | None = None
    outside = invalid = 0
    for number, line in enumerate(_LINE_SPLIT.split(text), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, colon, value = line.partition(":")
        if not colon:
            invalid += 1
            continue
        key = key.strip().lower()
        value = value.strip()
        if key == "user-agent":
            if current is None or current.has_rule:
                current = RobotsGroup()
                robots.groups.append(current)
            if value == "*":
                current.agents.append(("*", number, "*"))
            else:
                token = _TOKEN.match(value)
                if token:
                    current.agents.append((token.group(0).lower(), number, value[:200]))
                else:
                    invalid += 1
        elif key in ("allow", "disallow", "content-usage"):
            if current is None:
                outside += 1
                continue
            current.has_rule = True
            if key == "content-usage":
                path, _, preference = _split_usage(value)
                current.rules.append(RobotsRule("content-usage", normalize_pattern(path), path[:300], number,
                                                preference.strip()[:2000]))
            elif value and value[0] in "/*":
                current.rules.append(RobotsRule(key, normalize_pattern(value), value[:300], number))
            elif value:
                invalid += 1
        elif key == "license":
            robots.licenses.append((value[:2000], number))
        elif key == "sitemap":
            robots.sitemaps.append((value[:2000], number))
    if outside:
        robots.notes.append(f"{outside} rule(s) before any User-agent line ignored")
    if invalid:
        robots.notes.append(f"{invalid} line(s) not in robots.txt syntax ignored")
    return robots


def _split_usage(value: str) -> tuple[str, str, str]:
    """``/path pref`` of a Content-Usage rule; a value without a path applies to ``/``."""
    if value.startswith("/") or value.startswith("*"):
        parts = re.split(r"[ \t]+", value, maxsplit=1)
        return parts[0], " ", parts[1] if len(parts) > 1 else ""
    return "/", " ", value


def misread_user_agents(robots: RobotsFile, token: str) -> list[tuple[int, str, str]]:
    """``(line, as written, read as)`` of each ``User-agent`` line naming ``token`` that RFC 9309 reads otherwise.

    Empty for an RFC 9309 product token.  ``read as`` is the product token an
    RFC 9309 matcher (Google's robotstxt library among them) takes from the
    line: ``User-agent: AI2Bot`` is read as ``AI``.
    """
    if token == "*" or is_product_token(token):
        return []
    low = token.lower()
    return [(line, written, (_TOKEN.match(written).group(0) if _TOKEN.match(written) else ""))
            for g in robots.groups for a, line, written in g.agents if a != "*" and _whole_token(written) == low]


def match_crawler(robots: RobotsFile, token: str, path: str) -> CrawlDecision:
    """Whether the crawler with product ``token`` may crawl ``path`` (a URL path with its query)."""
    groups = tuple(robots.groups_for(token))
    target = normalize_path(path)
    if target == "/robots.txt":
        return CrawlDecision(token, True, groups, None)
    best: RobotsRule | None = None
    best_length = -1
    for group in groups:
        for rule in group.rules:
            if rule.kind == "content-usage" or not pattern_matches(rule.pattern, target):
                continue
            length = pattern_length(rule.pattern)
            if length > best_length or (length == best_length and rule.kind == "allow" and best.kind != "allow"):
                best, best_length = rule, length
    return CrawlDecision(token, best is None or best.kind == "allow", groups, best)


def content_usage_for(decision: CrawlDecision, path: str) -> list[RobotsRule]:
    """The Content-Usage rules that apply to ``path`` for a crawl decision (longest match; ties all kept).

    Disallowed paths have none (draft-ietf-aipref-attach: preferences apply
    only to resources that can be crawled).
    """
    if not decision.allowed:
        return []
    target = normalize_path(path)
    found: list[RobotsRule] = []
    best = -1
    for group in decision.groups:
        for rule in group.rules:
            if rule.kind != "content-usage" or not pattern_matches(rule.pattern, target):
                continue
            length = pattern_length(rule.pattern)
            if length > best:
                found, best = [rule], length
            elif length == best:
                found.append(rule)
    return found
