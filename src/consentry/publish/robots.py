"""robots.txt (RFC 9309 + the Content-Usage rule of draft-ietf-aipref-attach) and Spawning ai.txt.

Writing: one group per distinct set of uses among the AI crawlers (each
group names all its crawlers with one ``User-agent`` line each, with a
comment saying who runs it, why and where that is documented), then the
``User-agent: *`` group. In every group: ``Disallow: /works/<id>/`` for each
work the group may not fetch, ``Allow: /terms/`` and ``Allow: /`` (the terms
pages stay open to everyone), and one ``Content-Usage`` line per work.
``Disallow`` lines come first so that first-match parsers (Python's
:mod:`urllib.robotparser`) and longest-match parsers (RFC 9309, Google,
protego) read the same thing. No blank line inside a group (some parsers end
a group there).

Reading (for :func:`consentry.publish.check_site`): :func:`parse_robots` is
a small RFC 9309 reader (groups, longest match, ``*`` and ``$``, allow wins a
tie, merged groups, ``*`` fallback) that also keeps Content-Usage rules.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from .crawlers import Crawler
from .mapping import ai_txt_allowed, content_usage, crawler_allowed, search_allowed
from .plan import SitePlan
from .text import comment_text

#: RFC 9309 section 2.5: crawlers must parse at least this much.
ROBOTS_LIMIT_BYTES = 500 * 1024


def _header_lines(plan: SitePlan, what: str) -> list[str]:
    tool = f"{plan.tool['name']} {plan.tool['version']}".strip()
    return [
        f"# {what} for {plan.base_url}",
        f"# Written by {tool} from its terms registry (export of {comment_text(plan.generated_at)}).",
        "# Do not edit by hand: publish again instead. The terms in words:",
        f"# {plan.url('/terms/index.html')}",
    ]


def render_robots(plan: SitePlan, crawlers: tuple[Crawler, ...]) -> str:
    """The robots.txt text."""
    lines = _header_lines(plan, "robots.txt")
    lines += [
        "# Allow/Disallow say what each crawler may fetch (RFC 9309); Content-Usage says how",
        "# what it fetches may be used (draft-ietf-aipref-attach, vocabulary draft-ietf-aipref-vocab:",
        "# train-ai, ai-use, search; y = allowed, n = not allowed or only under licence).",
        "# Licences and prices: License (RSL 1.0) below, /.well-known/tdmrep.json and the terms pages.",
        f"License: {plan.url('/rsl.xml')}",
        "",
        "# Works (media under /works/<work_id>/):",
    ]
    for w in plan.works:
        lines.append(f"# {w.media_path} {comment_text(w.title)} / {comment_text(w.creator_name)}")
    usage_lines = [f"Content-Usage: {w.media_path} {content_usage(w.uses)}" for w in plan.works]

    groups: dict[tuple[str, ...], list[Crawler]] = {}
    for c in crawlers:
        groups.setdefault(c.uses, []).append(c)
    for uses, members in groups.items():
        lines += ["", f"# Group for crawlers acting for: {', '.join(uses)} (fetch only where all are allowed)"]
        for c in members:
            lines.append(f"# {c.token}: {comment_text(c.operator)}, {c.purpose}; {c.source or 'no operator documentation found'}")
            lines.append(f"User-agent: {c.token}")
        lines += [f"Disallow: {w.media_path}" for w in plan.works if not crawler_allowed(w.uses, uses)]
        lines += ["Allow: /terms/", "Allow: /"]
        lines += usage_lines
    lines += ["", "# Everyone else, search engines included: follows each work's search_indexing terms."]
    lines.append("User-agent: *")
    lines += [f"Disallow: {w.media_path}" for w in plan.works if not search_allowed(w.uses)]
    lines += ["Allow: /terms/", "Allow: /"]
    lines += usage_lines
    return "\n".join(lines) + "\n"


def render_ai_txt(plan: SitePlan) -> str:
    """Spawning ai.txt: robots.txt grammar, one ``User-Agent: *`` group, about AI training data sets."""
    lines = _header_lines(plan, "ai.txt (Spawning)")
    lines += [
        "# Works that AI training data sets may not take are disallowed; the rest may be used.",
        "# Licensed works are disallowed here too: licence them first (see the terms pages).",
        "",
        "User-Agent: *",
    ]
    for w in plan.works:
        if not ai_txt_allowed(w.uses):
            lines.append(f"# {comment_text(w.title)} / {comment_text(w.creator_name)}")
            lines.append(f"Disallow: {w.media_path}")
    lines += ["Allow: /terms/", "Allow: /"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- reading


@dataclass
class RobotsGroup:
    agents: list[str] = field(default_factory=list)
    rules: list[tuple[bool, str, int]] = field(default_factory=list)  # (allow, path pattern, line number)
    usage: list[tuple[str, str, int]] = field(default_factory=list)  # (path pattern, preference, line number)
    _indexes: dict = field(default_factory=dict, repr=False, compare=False)

    def matching_rules(self, path: str) -> list[tuple[int, bool, int]]:
        """(match length, allow, line number) of every rule whose pattern matches ``path``."""
        return self._index("rules").matches(path)

    def matching_usage(self, path: str) -> list[tuple[int, str, int]]:
        """(match length, preference, line number) of every Content-Usage rule matching ``path``."""
        return self._index("usage").matches(path)

    def _index(self, kind: str) -> "_PatternIndex":
        # Built on first use; a parsed group is not changed afterwards.
        if kind not in self._indexes:
            entries = ([(pattern, allow, lineno) for allow, pattern, lineno in self.rules] if kind == "rules"
                       else list(self.usage))
            self._indexes[kind] = _PatternIndex(entries)
        return self._indexes[kind]


class _PatternIndex:
    """Path patterns indexed so that matching one path does not scan them all.

    A site with thousands of works has thousands of ``Disallow: /works/<id>/``
    lines per group; most have no wildcard, so the patterns matching a path
    are among its prefixes and are found by dictionary lookups. Patterns with
    ``*`` are matched one by one with a regular expression.
    """

    def __init__(self, entries: list[tuple[str, object, int]]):
        self.prefix: dict[str, list[tuple[int, object, int]]] = {}
        self.exact: dict[str, list[tuple[int, object, int]]] = {}
        self.wild: list[tuple[re.Pattern, int, object, int]] = []
        for pattern, payload, lineno in entries:
            if pattern == "":
                continue  # an empty pattern matches nothing (an empty Disallow allows everything)
            length = len(pattern.encode("utf-8"))
            anchored = pattern.endswith("$")
            body = _norm(pattern[:-1] if anchored else pattern)
            if "*" in body:
                regex = "".join(".*" if ch == "*" else re.escape(ch) for ch in body) + ("$" if anchored else "")
                self.wild.append((re.compile(regex, re.DOTALL), length, payload, lineno))
            else:
                (self.exact if anchored else self.prefix).setdefault(body, []).append((length, payload, lineno))
        self.prefix_lengths = sorted({len(k) for k in self.prefix})

    def matches(self, path: str) -> list:
        p = _norm(path)
        out = list(self.exact.get(p, ()))
        for n in self.prefix_lengths:
            if n > len(p):
                break
            out.extend(self.prefix.get(p[:n], ()))
        out.extend((length, payload, lineno) for rx, length, payload, lineno in self.wild if rx.match(p))
        return out


@dataclass
class RobotsFile:
    groups: list[RobotsGroup]
    other: list[tuple[str, str, int]]  # lines outside the grammar we know, e.g. ("license", url, line)

    def select(self, token: str) -> list[RobotsGroup]:
        """The groups that apply to ``token`` (RFC 9309 2.2.1): all naming it, else all ``*`` groups."""
        low = token.lower()
        named = [g for g in self.groups if any(a.lower() == low for a in g.agents)]
        return named or [g for g in self.groups if "*" in g.agents]

    def decide(self, token: str, path: str) -> tuple[bool, int | None]:
        """(may fetch, line number of the deciding rule or None) by longest match; allow wins ties."""
        best: tuple[int, bool, int] | None = None
        for g in self.select(token):
            for n, allow, lineno in sorted(g.matching_rules(path), key=lambda m: m[2]):
                if best is None or n > best[0] or (n == best[0] and allow and not best[1]):
                    best = (n, allow, lineno)
        return (True, None) if best is None else (best[1], best[2])

    def content_usage(self, token: str, path: str) -> list[tuple[str, int]]:
        """The Content-Usage preferences (and line numbers) that apply to ``path`` for ``token``."""
        best_len, found = -1, []
        for g in self.select(token):
            for n, pref, lineno in sorted(g.matching_usage(path), key=lambda m: m[2]):
                if n > best_len:
                    best_len, found = n, [(pref, lineno)]
                elif n == best_len:
                    found.append((pref, lineno))
        return found


def _match_length(pattern: str, path: str) -> int | None:
    """Length of ``pattern`` (in octets) if it matches the start of ``path`` (RFC 9309 2.2.3), else None."""
    matches = _PatternIndex([(pattern, None, 0)]).matches(path)
    return matches[0][0] if matches else None


def _norm(path: str) -> str:
    # Compare percent-encoded forms, keeping "*", "$" and "/" as they are.
    return urllib.parse.quote(urllib.parse.unquote(path), safe="/*$-._~!&'()+,;=:@")


_LINE_RE = re.compile(r"^\s*([A-Za-z_-]+)\s*:\s*(.*?)\s*$")


def parse_robots(text: str) -> RobotsFile:
    """Read robots.txt (or ai.txt) text into groups; unknown or broken lines go to ``other``."""
    groups: list[RobotsGroup] = []
    other: list[tuple[str, str, int]] = []
    current: RobotsGroup | None = None
    in_rules = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if not m:
            other.append(("", raw, lineno))
            continue
        key, value = m.group(1).lower(), m.group(2)
        if key == "user-agent":
            if current is None or in_rules:
                current = RobotsGroup()
                groups.append(current)
                in_rules = False
            current.agents.append(value.strip())
        elif key in ("allow", "disallow"):
            if current is None:
                other.append((key, value, lineno))
                continue
            in_rules = True
            current.rules.append((key == "allow", value.strip(), lineno))
        elif key == "content-usage":
            if current is None:
                other.append((key, value, lineno))
                continue
            in_rules = True
            parts = re.split(r"[ \t]+", value.strip(), maxsplit=1)
            if len(parts) == 2 and parts[0].startswith("/"):
                current.usage.append((parts[0], parts[1], lineno))
            else:
                other.append((key, value, lineno))
        else:
            other.append((key, value, lineno))
    return RobotsFile(groups=groups, other=other)


def parse_aipref(value: str) -> dict[str, str] | None:
    """A Content-Usage value as ``{label: "y" | "n" | other}``, or None if it is not a valid dictionary.

    A small reader for the RFC 9651 dictionaries we write: ``key=token`` items
    separated by commas, parameters ignored, the last value of a repeated key
    kept (RFC 9651 4.2.2). Anything else makes the whole value unreadable.
    """
    out: dict[str, str] = {}
    text = value.strip(" \t")
    if not text:
        return {}
    for item in text.split(","):
        item = item.strip(" \t")
        m = re.match(r"^([a-z*][a-z0-9_.*-]*)(?:=([A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]*|\?[01]|\"[^\"\\]*\"))?((?:;[^;,]*)*)$", item)
        if not m:
            return None
        out[m.group(1)] = m.group(2) if m.group(2) is not None else "?1"
    return out
