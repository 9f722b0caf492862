"""robots.txt (RFC 9309 + the Content-Usage rule of draft-ietf-aipref-attach) and Spawning ai.txt.

Writing: one group per distinct set of uses among the AI crawlers (each
group names all its crawlers with one ``User-agent`` line each, with a
comment saying who runs it, why and where that is documented), then the
``User-agent: *`` group. No blank line inside a group (some parsers end a
group there).

The file grows with the works that are *exceptions*, not with all works:
in every group the path ``/works/`` carries the decision most works share,
and only the works that differ get a line of their own.

- Access: when more works are refused to the group than it may fetch (by
  more than the one line it costs), ``Allow: /works/<id>/`` for each work it
  may fetch, then ``Disallow: /works/``; otherwise ``Disallow: /works/<id>/``
  for each refused work and nothing for ``/works/``. Then ``Allow: /terms/``
  and ``Allow: /`` (the terms pages stay open to everyone).
- Usage: ``Content-Usage: /works/<id>/ ...`` for each work whose preference
  differs from the most common one, then ``Content-Usage: /works/ ...`` with
  the most common one.

A per-work path is longer than ``/works/``, so longest-match parsers
(RFC 9309, Google, protego, draft-ietf-aipref-attach for Content-Usage) let
it win; it is also written first, so first-match parsers (Python's
:mod:`urllib.robotparser`) read the same thing. ai.txt (one ``User-Agent: *``
group) is written the same way.

Up to :data:`LIST_WORKS_UP_TO` works, the header comment lists every work
with its title and creator; above, it points to the terms index instead.

Reading (for :func:`consentry.publish.check_site`): :func:`parse_robots` is
a small RFC 9309 reader (groups, longest match, ``*`` and ``$``, allow wins a
tie, merged groups, ``*`` fallback) that also keeps Content-Usage rules.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .crawlers import Crawler
from .mapping import ai_txt_allowed, content_usage, crawler_allowed, search_allowed
from .plan import SitePlan, WorkPlan
from .text import comment_text

#: RFC 9309 section 2.5: crawlers must parse at least this much.
ROBOTS_LIMIT_BYTES = 500 * 1024

#: Up to this many works, robots.txt and ai.txt name each work (title and
#: creator) in comments; above, the comments point to the terms index, which
#: lists them all.
LIST_WORKS_UP_TO = 200

#: The path under which every work's media is served; each group's default.
WORKS_PATH = "/works/"


def _header_lines(plan: SitePlan, what: str) -> list[str]:
    tool = f"{plan.tool['name']} {plan.tool['version']}".strip()
    return [
        f"# {what} for {plan.base_url}",
        f"# Written by {tool} from its terms registry (export of {comment_text(plan.generated_at)}).",
        "# Do not edit by hand: publish again instead. The terms in words:",
        f"# {plan.url('/terms/index.html')}",
    ]


def _lists_works(plan: SitePlan) -> bool:
    return len(plan.works) <= LIST_WORKS_UP_TO


def _where_the_works_are(plan: SitePlan) -> list[str]:
    return [
        f"# {len(plan.works)} works, media under /works/<work_id>/: too many to list here. Every work,",
        "# with its title, creator and terms, is in the terms index:",
        f"# {plan.url('/terms/index.html')}",
        f"# {plan.url('/terms/index.json')}",
    ]


def _work_comment(w: WorkPlan) -> str:
    return f"# {comment_text(w.title)} / {comment_text(w.creator_name)}"


def _access_lines(works: Sequence[WorkPlan], may_fetch: Callable[[WorkPlan], bool], *,
                 titled: bool = False) -> list[str]:
    """The ``Allow``/``Disallow`` lines for ``/works/`` in one group: a default and the works that differ.

    ``may_fetch(work)`` says whether the group may fetch a work. When
    refusing ``/works/`` as a whole takes fewer lines (more works refused
    than fetchable, by more than the one ``Disallow: /works/`` line), the
    fetchable works get ``Allow: /works/<id>/`` and ``Disallow: /works/``
    comes last; otherwise each refused work gets ``Disallow: /works/<id>/``.
    Per-work lines keep the order of ``works``. ``titled`` puts a comment
    with the work's title and creator before each per-work line.
    """
    fetchable: list[WorkPlan] = []
    refused: list[WorkPlan] = []
    for w in works:
        (fetchable if may_fetch(w) else refused).append(w)
    deny_by_default = len(refused) > len(fetchable) + 1
    exceptions, verb = (fetchable, "Allow") if deny_by_default else (refused, "Disallow")
    lines: list[str] = []
    for w in exceptions:
        if titled:
            lines.append(_work_comment(w))
        lines.append(f"{verb}: {w.media_path}")
    if deny_by_default:
        lines.append(f"Disallow: {WORKS_PATH}")
    return lines


def _usage_lines(works: Sequence[WorkPlan]) -> list[str]:
    """The ``Content-Usage`` lines of a group: the works that differ from the most common value, then ``/works/``.

    The most common value is the one most works have (the first of them in
    the order of ``works`` on a tie); no lines at all without works.
    """
    values = [content_usage(w.uses) for w in works]
    if not values:
        return []
    default = Counter(values).most_common(1)[0][0]
    lines = [f"Content-Usage: {w.media_path} {v}" for w, v in zip(works, values) if v != default]
    lines.append(f"Content-Usage: {WORKS_PATH} {default}")
    return lines


def render_robots(plan: SitePlan, crawlers: tuple[Crawler, ...]) -> str:
    """The robots.txt text."""
    lines = _header_lines(plan, "robots.txt")
    lines += [
        "# Allow/Disallow say what each crawler may fetch (RFC 9309); Content-Usage says how",
        "# what it fetches may be used (draft-ietf-aipref-attach, vocabulary draft-ietf-aipref-vocab:",
        "# train-ai, ai-use, search; y = allowed, n = not allowed or only under licence).",
        "# In each group, /works/ has the rules most works share and each work that differs has",
        "# its own lines, written first: the longer path wins (RFC 9309 2.2.2, draft-ietf-aipref-attach).",
        "# Licences and prices: License (RSL 1.0) below, /.well-known/tdmrep.json and the terms pages.",
        f"License: {plan.url('/rsl.xml')}",
        "",
    ]
    if _lists_works(plan):
        lines.append("# Works (media under /works/<work_id>/):")
        lines += [f"# {w.media_path} {comment_text(w.title)} / {comment_text(w.creator_name)}" for w in plan.works]
    else:
        lines += _where_the_works_are(plan)
    usage = _usage_lines(plan.works)

    groups: dict[tuple[str, ...], list[Crawler]] = {}
    for c in crawlers:
        if c.robots_txt == "not-read":
            continue  # documented not to read robots.txt; its header (X-Robots-Tag) is in headers.json
        groups.setdefault(c.uses, []).append(c)
    for uses, members in groups.items():
        lines += ["", f"# Group for crawlers acting for: {', '.join(uses)} (fetch only where all are allowed)"]
        for c in members:
            lines.append(f"# {c.token}: {comment_text(c.operator)}, {c.purpose}; {c.source or 'no operator documentation found'}")
            if c.rfc9309_reads_as is not None:
                lines.append(f"# {c.token} is not an RFC 9309 product token: strict RFC 9309 parsers read the next line as "
                             f"'{c.rfc9309_reads_as}'. Written in full, as the crawler names itself; its own matching is not documented.")
            lines.append(f"User-agent: {c.token}")
        lines += _access_lines(plan.works, lambda w, uses=uses: crawler_allowed(w.uses, uses))
        lines += ["Allow: /terms/", "Allow: /"]
        lines += usage
    lines += ["", "# Everyone else, search engines included: follows each work's search_indexing terms."]
    lines.append("User-agent: *")
    lines += _access_lines(plan.works, lambda w: search_allowed(w.uses))
    lines += ["Allow: /terms/", "Allow: /"]
    lines += usage
    return "\n".join(lines) + "\n"


def render_ai_txt(plan: SitePlan) -> str:
    """Spawning ai.txt: robots.txt grammar, one ``User-Agent: *`` group, about AI training data sets."""
    lines = _header_lines(plan, "ai.txt (Spawning)")
    lines += [
        "# Works that AI training data sets may not take are disallowed; the rest may be used.",
        "# Licensed works are disallowed here too: licence them first (see the terms pages).",
        "# /works/ has the rule most works share; each work that differs has its own line, written first.",
    ]
    if not _lists_works(plan):
        lines += _where_the_works_are(plan)
    lines += ["", "User-Agent: *"]
    lines += _access_lines(plan.works, lambda w: ai_txt_allowed(w.uses), titled=_lists_works(plan))
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
    _selected: dict = field(default_factory=dict, repr=False, compare=False)

    def select(self, token: str) -> list[RobotsGroup]:
        """The groups that apply to ``token`` (RFC 9309 2.2.1): all naming it, else all ``*`` groups."""
        low = token.lower()
        # Kept per token: a parsed file is not changed afterwards, and a check asks once per work.
        if low not in self._selected:
            named = [g for g in self.groups if any(a.lower() == low for a in g.agents)]
            self._selected[low] = named or [g for g in self.groups if "*" in g.agents]
        return self._selected[low]

    def decide(self, token: str, path: str) -> tuple[bool, int | None]:
        """(may fetch, line number of the deciding rule or None) by longest match; allow wins ties."""
        return self.decisions(token, path)[0]

    def decide_first(self, token: str, path: str) -> tuple[bool, int | None]:
        """(may fetch, line number) as read by the first matching rule in file order, not the longest.

        What readers from before RFC 9309 do, Python's :mod:`urllib.robotparser`
        among them. A file is read the same by both only if every more specific
        rule comes before the general ones it overrides.
        """
        return self.decisions(token, path)[1]

    def decisions(self, token: str, path: str) -> tuple[tuple[bool, int | None], tuple[bool, int | None]]:
        """``(decide(token, path), decide_first(token, path))`` from one look-up of the matching rules."""
        matches = sorted((m for g in self.select(token) for m in g.matching_rules(path)), key=lambda m: m[2])
        if not matches:
            return (True, None), (True, None)
        best = matches[0]
        for m in matches[1:]:
            if m[0] > best[0] or (m[0] == best[0] and m[1] and not best[1]):
                best = m
        return (best[1], best[2]), (matches[0][1], matches[0][2])

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


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/*$\-._~!&'()+,;=:@]*")


def _norm(path: str) -> str:
    # Compare percent-encoded forms, keeping "*", "$" and "/" as they are. A path of only
    # characters that quote() keeps and without "%" (every path we write) is its own form.
    if _PLAIN_PATH.fullmatch(path):
        return path
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
