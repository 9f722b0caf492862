"""robots.txt as RFC 9309 defines it, with the ``Content-Usage`` rule of draft-ietf-aipref-attach, and ai.txt (pure).

Reading: :func:`parse_robots` reads the file into groups; :func:`match_crawler` says
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

:func:`render_robots` and :func:`render_ai_txt` write the files of a published
site (Spawning ai.txt has the robots.txt grammar, one ``User-Agent: *`` group).

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
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from consentry.formats.crawlers import Crawler
from consentry.formats.mapping import ai_txt_allowed, content_usage, crawler_allowed, search_allowed
from consentry.formats.patterns import PatternIndex, normalize_path, normalize_pattern, pattern_length
from consentry.formats.text import comment_text

if TYPE_CHECKING:
    from consentry.services.publish.plan import SitePlan, WorkPlan

__all__ = ["RobotsRule", "RobotsGroup", "RobotsFile", "CrawlDecision", "parse_robots", "match_crawler",
           "content_usage_for", "content_usage_rules", "first_matching_rule", "misread_user_agents", "is_product_token",
           "PARSE_LIMIT_BYTES", "render_robots", "render_ai_txt", "ROBOTS_LIMIT_BYTES", "LIST_WORKS_UP_TO"]

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
    _indexes: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def line(self) -> int:
        return self.agents[0][1] if self.agents else 0

    def matching(self, path: str, *, usage: bool = False) -> list[RobotsRule]:
        """The access rules (``usage``: the Content-Usage rules) matching a normalised ``path``, in file order.

        Indexed on first use (a parsed group is not changed afterwards), so a
        group of thousands of per-work lines is not scanned for every path.
        """
        if usage not in self._indexes:
            rules = [r for r in self.rules if (r.kind == "content-usage") == usage]
            self._indexes[usage] = (rules, PatternIndex([r.pattern for r in rules]))
        rules, index = self._indexes[usage]
        return [rules[i] for i in index.matches(path)]


@dataclass
class RobotsFile:
    """A parsed robots.txt: its groups, ``License`` (RSL) and ``Sitemap`` lines, and notes on what was skipped."""

    groups: list[RobotsGroup] = field(default_factory=list)
    licenses: list[tuple[str, int]] = field(default_factory=list)
    sitemaps: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Lines that are no rule of RFC 9309, draft-ietf-aipref-attach or RSL: (key or "", value, line).
    other: list[tuple[str, str, int]] = field(default_factory=list)
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


def parse_robots(text: str, *, limit_chars: int | None = PARSE_LIMIT_BYTES) -> RobotsFile:
    """Parse robots.txt text (any input; never raises).

    Only the first ``limit_chars`` characters are read, as a crawler does
    (``None``: all of it, for checking a file one wrote whose size is
    reported on its own).
    """
    robots = RobotsFile()
    if limit_chars is not None and len(text) > limit_chars:
        text = text[:limit_chars]
        robots.notes.append(f"only the first {limit_chars // 1024} KiB were parsed (RFC 9309 §2.5)")
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
            robots.other.append(("", line[:300], number))
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
                    robots.other.append((key, value[:300], number))
        elif key in ("allow", "disallow", "content-usage"):
            if current is None:
                outside += 1
                robots.other.append((key, value[:300], number))
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
                robots.other.append((key, value[:300], number))
        elif key == "license":
            robots.licenses.append((value[:2000], number))
        elif key == "sitemap":
            robots.sitemaps.append((value[:2000], number))
        else:
            robots.other.append((key, value[:300], number))
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
        for rule in group.matching(target):
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
    return content_usage_rules(decision.groups, path)


def content_usage_rules(groups, path: str) -> list[RobotsRule]:
    """The Content-Usage rules of ``groups`` for ``path`` by longest match (ties all kept), crawlable or not.

    :func:`content_usage_for` is what a crawler reads; this is what the file
    says, for checking a file whose every path carries a preference.
    """
    target = normalize_path(path)
    found: list[RobotsRule] = []
    best = -1
    for group in groups:
        for rule in group.matching(target, usage=True):
            length = pattern_length(rule.pattern)
            if length > best:
                found, best = [rule], length
            elif length == best:
                found.append(rule)
    return found


def first_matching_rule(robots: RobotsFile, token: str, path: str) -> RobotsRule | None:
    """The ``Allow``/``Disallow`` rule a reader taking the *first* matching line in file order applies.

    What readers from before RFC 9309 do (Python's :mod:`urllib.robotparser`
    among them): a file reads the same to them and to :func:`match_crawler`
    only if every more specific rule comes before the general ones it
    overrides. ``None``: no rule matches (allowed).
    """
    target = normalize_path(path)
    if target == "/robots.txt":
        return None
    found = [r for g in robots.groups_for(token) for r in g.matching(target)]
    return min(found, key=lambda r: r.line) if found else None


# ---------------------------------------------------------------- writing

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
