"""Read a built site back and list every contradiction, between outputs or with the export (pure).

Each output is parsed from its bytes with the readers ``consentry verify``
uses (:mod:`consentry.formats`), the way a client would read it, and
what it says about each work and use is compared with the export (through
the mapping of :mod:`consentry.formats.mapping`) and with the other outputs:
robots.txt per crawler (allow/deny, read by the longest match of RFC 9309
and by the first matching line as older readers do, and Content-Usage),
ai.txt, tdmrep.json and the TDM policies, the RSL document,
``Site.headers``, headers.json and the three server snippets, the HTML
pages (TDMRep meta tags against the headers, the per-use tables,
well-formedness, no scripts) and the JSON pages. A problem is one line
naming the file, the work and what disagrees. :func:`check_robots` runs the
robots.txt and ai.txt checks alone.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Mapping

from consentry.formats.aipref import preference_labels
from consentry.formats.crawlers import Crawler, load_crawlers
from consentry.formats.headers import parse_headers_json, read_apache, read_caddy, read_nginx, work_headers
from consentry.formats.mapping import (
    RSL_TOKENS, STRICTNESS, ai_txt_allowed, crawler_allowed, expected_aipref, rsl_terms, tdm_licensed, tdm_reservation,
)
from consentry.formats.markup import parse_head
from consentry.formats.robots import (
    ROBOTS_LIMIT_BYTES, RobotsFile, content_usage_rules, first_matching_rule, match_crawler, parse_robots,
)
from consentry.formats.rsl import licence_tokens, read_rsl
from consentry.formats.tdmrep import (
    CURRENCY_URN, TDM_PROFILE, parse_tdmrep_json, policy_path, tdm_policy, tdmrep_matcher,
)
from consentry.formats.terms_json import terms_json_signals
from consentry.formats.text import format_decimal, same_amount
from consentry.domain.usage import USES
from consentry.services.publish.plan import SitePlan, WorkPlan, build_plan
from consentry.services.publish.site import Site

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def check_site(site: Site, export: Mapping, *, crawlers: tuple[Crawler, ...] | None = None,
               today=None) -> list[str]:
    """Every contradiction in ``site`` (between its outputs, or with ``export``); ``[]`` when consistent."""
    plan = build_plan(export, base_url=site.base_url, today=today)
    crawlers = crawlers if crawlers is not None else load_crawlers()
    problems: list[str] = []
    _expected_files(site, plan, problems)
    _check_robots(site, plan, crawlers, problems)
    _check_ai_txt(site, plan, problems)
    _check_tdmrep(site, plan, problems)
    _check_rsl(site, plan, problems)
    _check_headers(site, plan, problems)
    _check_html(site, plan, problems)
    _check_json_pages(site, plan, problems)
    return problems


def site_warnings(site: Site) -> list[str]:
    """Risks that are not contradictions: today, a robots.txt larger than crawlers must read.

    RFC 9309 (2.5) asks crawlers to parse at least 500 KiB; rules past that
    may be ignored. The file is still right, and the other signals (HTTP
    headers, TDMRep, RSL, the terms pages) carry every work's terms, so
    publishing goes on with the warning rather than publishing nothing.
    """
    warnings = []
    for name in ("robots.txt", "ai.txt"):
        size = len(site.files.get(name, b""))
        if size > ROBOTS_LIMIT_BYTES:
            warnings.append(f"{name}: {size // 1024} KiB, over the 500 KiB that RFC 9309 crawlers must read; "
                            "rules past that point may be ignored (the HTTP headers, TDMRep and RSL still carry "
                            "every work's terms)")
    return warnings


def _text(site: Site, name: str, problems: list[str]) -> str | None:
    data = site.files.get(name)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{name}: not valid UTF-8 ({exc.reason} at byte {exc.start})")
        return None


def _json(site: Site, name: str, problems: list[str]):
    text = _text(site, name, problems)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        problems.append(f"{name}: not valid JSON ({exc})")
        return None


def _expected_files(site: Site, plan: SitePlan, problems: list[str]) -> None:
    expected = ["robots.txt", "ai.txt", ".well-known/tdmrep.json", "rsl.xml", "headers.json", "server/nginx.conf",
                "server/apache.htaccess", "server/Caddyfile", "terms/index.html", "terms/index.json"]
    for w in plan.works:
        expected += [f"terms/works/{w.work_id}.html", f"terms/works/{w.work_id}.json"]
        if tdm_licensed(w.uses):
            expected.append(policy_path(w.work_id).lstrip("/"))
    for c in plan.creators:
        expected += [f"terms/creators/{c.creator_id}.html", f"terms/creators/{c.creator_id}.json"]
    for name in expected:
        if name not in site.files:
            problems.append(f"{name}: missing from the site")
    for name in site.files:
        if name.startswith("tdm/policies/"):
            wid = name[len("tdm/policies/"):-len(".json")]
            w = plan.by_id.get(wid)
            if w is None:
                problems.append(f"{name}: a TDM policy for {wid}, which is not a registered work")
            elif not tdm_licensed(w.uses):
                problems.append(f"{name}: a TDM policy for work {wid}, whose tdm use is {w.uses['tdm']['decision']}, not license")
        elif name.startswith("terms/works/") and name.rsplit(".", 1)[0][len("terms/works/"):] not in plan.by_id:
            problems.append(f"{name}: a terms page for a work that is not in the export")


def _decision_word(allowed: bool) -> str:
    return "allows" if allowed else "disallows"


def check_robots(site: Site, export: Mapping, *, crawlers: tuple[Crawler, ...] | None = None,
                 today=None) -> list[str]:
    """The robots.txt and ai.txt part of :func:`check_site` alone, for every work and crawler.

    For a site holding only those two files (``[]`` when they agree with
    ``export``); :func:`check_site` runs the same checks among all the others.
    """
    plan = build_plan(export, base_url=site.base_url, today=today)
    problems: list[str] = []
    _check_robots(site, plan, crawlers if crawlers is not None else load_crawlers(), problems)
    _check_ai_txt(site, plan, problems)
    return problems


def _read_robots(text: str, name: str, problems: list[str]) -> RobotsFile:
    """``text`` read by verify's robots.txt reader, whole (its size is a warning of its own); unknown lines are problems."""
    robots = parse_robots(text, limit_chars=None)
    for key, value, lineno in robots.other:
        if key not in ("license", "sitemap"):
            problems.append(f"{name} line {lineno}: not a rule this site writes ({key or value!r})")
    return robots


def _reading(robots: RobotsFile, token: str, path: str) -> tuple[tuple[bool, int | None], tuple[bool, int | None]]:
    """((may fetch, deciding line) by the longest match, the same by the first matching line) for ``path``."""
    decision = match_crawler(robots, token, path)
    first = first_matching_rule(robots, token, path)
    return ((decision.allowed, decision.rule.line if decision.rule else None),
            (first is None or first.kind == "allow", first.line if first else None))


def _check_robots(site: Site, plan: SitePlan, crawlers, problems: list[str]) -> None:
    text = _text(site, "robots.txt", problems)
    if text is None:
        return
    robots = _read_robots(text, "robots.txt", problems)
    if not any(v.strip() == plan.url("/rsl.xml") for v, _ in robots.licenses):
        problems.append(f"robots.txt: no 'License: {plan.url('/rsl.xml')}' line pointing to the RSL document")
    agents = [(c.token, c.uses, f"User-agent: {c.token}") for c in crawlers if c.robots_txt != "not-read"]
    agents.append(("*", ("search_indexing",), "User-agent: *"))
    paths = [w.media_path + "file" for w in plan.works]
    want_prefs = [_pref_text(expected_aipref(w.uses)) for w in plan.works]
    # Crawlers that obey the same groups read the same rules: what the file says for each work is
    # worked out once per set of groups, and compared with the export for every crawler.
    read: dict[tuple[int, ...], list] = {}
    wanted: dict[tuple[str, ...], list[bool]] = {}
    fits: dict[tuple[str, str], bool | None] = {}  # (value written, value meant) -> agree? None: unreadable
    for token, uses, label in agents:
        groups = robots.groups_for(token)
        if token != "*" and not any(a != "*" for g in groups for a, _, _ in g.agents):
            problems.append(f"robots.txt: no group for AI crawler {token}")
            continue
        if not match_crawler(robots, token, "/terms/index.html").allowed:
            problems.append(f"robots.txt ({label}): disallows the terms pages under /terms/; they must stay readable")
        key = tuple(id(g) for g in groups)
        if key not in read:
            read[key] = [(*_reading(robots, token, p), content_usage_rules(groups, p)) for p in paths]
        if uses not in wanted:
            wanted[uses] = [crawler_allowed(w.uses, uses) for w in plan.works]
        for w, want, ((got, lineno), first, found), want_pref in zip(plan.works, wanted[uses], read[key], want_prefs):
            if got != want:
                where = f" line {lineno}" if lineno else ""
                problems.append(
                    f"robots.txt{where} ({label}): {_decision_word(got)} {w.media_path}, but the export's terms for "
                    f"{', '.join(uses)} ({', '.join(w.uses[u]['decision'] for u in uses)}) mean it "
                    f"{'may' if want else 'may not'} fetch work {w.work_id}"
                )
            elif first[0] != want:
                problems.append(_first_match_problem("robots.txt", label, w, first))
            if not found:
                problems.append(f"robots.txt ({label}): no Content-Usage line for {w.media_path} (work {w.work_id})")
                continue
            for rule in found:
                pref, lineno = rule.preference, rule.line
                if (pref, want_pref) not in fits:
                    fits[pref, want_pref] = _says(pref, want_pref)
                fit = fits[pref, want_pref]
                if fit is None:
                    problems.append(f"robots.txt line {lineno}: Content-Usage {pref!r} is not a valid dictionary")
                elif not fit:
                    problems.append(f"robots.txt line {lineno} ({label}): Content-Usage for work {w.work_id} says "
                                    f"{pref!r}, the export means {want_pref!r}")


def _first_match_problem(name: str, label: str, w: WorkPlan, first: tuple[bool, int | None]) -> str:
    where = f" line {first[1]}" if first[1] else ""
    return (f"{name}{where} ({label}): {_decision_word(first[0])} {w.media_path} for readers that take the first "
            f"matching line (urllib.robotparser), unlike the longest match; the rule for work {w.work_id} must come "
            "before the rules for /works/ and /")


def _pref_text(pref: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pref.items())


def _says(written: str, meant: str) -> bool | None:
    """Whether the Content-Usage value ``written`` gives every label of ``meant`` its value; None if unreadable."""
    got = preference_labels(written)
    if got is None:
        return None
    want = preference_labels(meant) or {}
    return all(got.get(k) == v for k, v in want.items())


def _check_ai_txt(site: Site, plan: SitePlan, problems: list[str]) -> None:
    text = _text(site, "ai.txt", problems)
    if text is None:
        return
    aitxt = _read_robots(text, "ai.txt", problems)
    for w in plan.works:
        want = ai_txt_allowed(w.uses)
        (got, lineno), first = _reading(aitxt, "*", w.media_path + "file")
        if got != want:
            where = f" line {lineno}" if lineno else ""
            problems.append(f"ai.txt{where}: {_decision_word(got)} {w.media_path}, but the export's training terms "
                            f"({w.uses['ai_training']['decision']}, {w.uses['ai_generative']['decision']}) mean "
                            f"AI training data sets {'may' if want else 'may not'} take work {w.work_id}")
        elif first[0] != want:
            problems.append(_first_match_problem("ai.txt", "User-Agent: *", w, first))


def _check_tdmrep(site: Site, plan: SitePlan, problems: list[str]) -> None:
    rules = _json(site, ".well-known/tdmrep.json", problems)
    if rules is None:
        return
    if not isinstance(rules, list):
        problems.append(".well-known/tdmrep.json: not a JSON array of rules")
        return
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or "location" not in rule or rule.get("tdm-reservation") not in (0, 1):
            problems.append(f".well-known/tdmrep.json rule {i}: needs 'location' and 'tdm-reservation' 0 or 1")
    read, notes = parse_tdmrep_json(site.files[".well-known/tdmrep.json"])
    problems += [f".well-known/tdmrep.json: {note}" for note in notes]
    first_rule = tdmrep_matcher(read)
    for w in plan.works:
        rule = first_rule(w.media_path + "file")
        if rule is None:
            problems.append(f".well-known/tdmrep.json: no rule for {w.pattern} (work {w.work_id})")
            continue
        want = tdm_reservation(w.uses)
        if rule.reservation != want:
            problems.append(f".well-known/tdmrep.json: tdm-reservation {rule.reservation!r} for "
                            f"{rule.location}, but the export's tdm terms ({w.uses['tdm']['decision']}) mean {want}")
        want_policy = plan.url(policy_path(w.work_id)) if tdm_licensed(w.uses) else None
        if rule.policy != want_policy:
            problems.append(f".well-known/tdmrep.json: tdm-policy {rule.policy!r} for work {w.work_id}, "
                            f"expected {want_policy!r}")
        if tdm_licensed(w.uses):
            _check_policy(site, plan, w, problems)


def _check_policy(site: Site, plan: SitePlan, w: WorkPlan, problems: list[str]) -> None:
    name = policy_path(w.work_id).lstrip("/")
    policy = _json(site, name, problems)
    if policy is None:
        return
    t = w.uses["tdm"]
    try:
        if policy.get("@type") != "Offer" or policy.get("profile") != TDM_PROFILE:
            problems.append(f"{name}: not a TDMRep Offer (@type {policy.get('@type')!r}, profile {policy.get('profile')!r})")
        perm = policy["permission"][0]
        if perm.get("action") != "tdm:mine":
            problems.append(f"{name}: permission action {perm.get('action')!r}, not tdm:mine")
        if perm.get("target") != plan.url(w.media_path):
            problems.append(f"{name}: target {perm.get('target')!r}, not the work's media {plan.url(w.media_path)}")
        ref = perm["duty"][0]["action"][0]["refinement"][0]
        amount = ref["rightOperand"]["@value"]
        if not same_amount(amount, t["price"]):
            problems.append(f"{name}: price {amount} but the export's tdm price for work {w.work_id} is "
                            f"{format_decimal(t['price'])} {t['currency']}")
        if ref.get("unit") != CURRENCY_URN + t["currency"]:
            problems.append(f"{name}: currency {ref.get('unit')!r}, the export says {t['currency']}")
        expected = tdm_policy(plan, w)["assigner"]
        got = policy.get("assigner", {})
        for key in ("vcard:hasEmail", "vcard:hasURL", "vcard:fn"):
            if got.get(key) != expected.get(key):
                problems.append(f"{name}: assigner {key} {got.get(key)!r}, the export means {expected.get(key)!r}")
    except (KeyError, IndexError, TypeError, AttributeError):
        problems.append(f"{name}: no permission with a compensate duty and payAmount for work {w.work_id}")


def _check_rsl(site: Site, plan: SitePlan, problems: list[str]) -> None:
    data = site.files.get("rsl.xml")
    if data is None:
        return
    document, unreadable = read_rsl(data, document_url="rsl.xml")
    problems += [f"rsl.xml: {p.message}" for p in unreadable]
    if document is None:
        return
    doc = licence_tokens(document)
    for w in plan.works:
        url = plan.url(w.media_path)
        said = doc.get(url)
        if said is None:
            problems.append(f"rsl.xml: no <content url=\"{url}\"> for work {w.work_id}")
            continue
        # Use by use, as `consentry verify` reads it: never more permissive than the export.
        for sig in document.signals_for(w.media_path + "file", location=w.media_path, resource_url=url + "file"):
            meant = w.uses[sig.use]["decision"]
            if STRICTNESS.index(sig.decision) < STRICTNESS.index(meant):
                problems.append(f"rsl.xml: reads as {sig.decision} for {sig.use} of work {w.work_id} ({sig.source}), "
                                f"but the export's terms say {meant}")
        for tok, uses in RSL_TOKENS:
            want = rsl_terms(w.uses)[tok]
            got = said[tok]
            if got.decision != want.decision:
                problems.append(f"rsl.xml: {tok} for work {w.work_id} is {got.decision}, but the export's terms for "
                                f"{', '.join(uses)} mean {want.decision}")
            elif want.decision == "license":
                t = want.terms
                if not same_amount(got.amount, t["price"]) or got.currency != t["currency"]:
                    problems.append(f"rsl.xml: price for {tok} on work {w.work_id} is {got.amount} {got.currency}, "
                                    f"the export says {format_decimal(t['price'])} {t['currency']} ({want.use})")
                if (got.standard or None) != (t.get("licence_url") or None):
                    problems.append(f"rsl.xml: licence for {tok} on work {w.work_id} is {got.standard!r}, "
                                    f"the export says {t.get('licence_url')!r}")


def _check_headers(site: Site, plan: SitePlan, problems: list[str]) -> None:
    expected = [(w.pattern, work_headers(plan, w)) for w in plan.works]
    actual = [(p, dict(h)) for p, h in site.headers]
    by_path = dict(actual)
    for pattern, hdrs in expected:
        got = by_path.get(pattern)
        if got is None:
            problems.append(f"Site.headers: no headers for {pattern}")
            continue
        for name in sorted(set(hdrs) | set(got)):
            if hdrs.get(name) != got.get(name):
                problems.append(f"Site.headers {pattern}: {name} is {got.get(name)!r}, the export means {hdrs.get(name)!r}")
    for pattern, _ in actual:
        if pattern not in dict(expected):
            problems.append(f"Site.headers: {pattern} is not a registered work's path")
    listed = site.files.get("headers.json")
    if listed is not None:
        # Read as `consentry verify` reads a published folder's headers.json.
        rules, unreadable = parse_headers_json(listed)
        as_list = [(pattern, dict(pairs)) for pattern, _, pairs in rules]
        if unreadable is not None:
            problems.append(f"headers.json: {unreadable}")
        elif as_list != [(p, {k.lower(): v for k, v in h.items()}) for p, h in actual]:
            problems.append("headers.json: differs from the headers the site sends (Site.headers)")
    for name, reader in (("server/nginx.conf", read_nginx), ("server/apache.htaccess", read_apache),
                         ("server/Caddyfile", read_caddy)):
        text = _text(site, name, problems)
        if text is None:
            continue
        got_list = reader(text)
        if got_list != actual:
            diff = _first_difference(got_list, actual)
            problems.append(f"{name}: does not send exactly Site.headers ({diff})")


def _first_difference(got: list, want: list) -> str:
    gd, wd = dict(got), dict(want)
    for pattern, hdrs in want:
        if pattern not in gd:
            return f"no block for {pattern}"
        if gd[pattern] != hdrs:
            for k in sorted(set(hdrs) | set(gd[pattern])):
                if hdrs.get(k) != gd[pattern].get(k):
                    return f"{pattern}: {k} is {gd[pattern].get(k)!r}, expected {hdrs.get(k)!r}"
    extra = [p for p in gd if p not in wd]
    return f"extra block for {extra[0]}" if extra else "different order"


class _PageReader(HTMLParser):
    """Collects what check_site needs from a page and notes tags that do not nest."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.html_lang: str | None = None
        self.rows: list[dict[str, str]] = []
        self.scripts = 0
        self.h1 = 0
        self.th_without_scope = 0
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "script":
            self.scripts += 1
        elif tag == "h1":
            self.h1 += 1
        elif tag == "th" and "scope" not in a:
            self.th_without_scope += 1
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        if "data-use" in a:
            self.rows.append({**a, "_work": next((s for s in reversed(self.stack) if s.startswith("work:")), "")})
        if tag == "tr" and "data-work" in a:
            self.stack.append(f"work:{a['data-work']}")
            self.stack.append("tr")
            return
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "tr" and self.stack and self.stack[-1].startswith("work:"):
            self.stack.pop()


def _read_page(site: Site, name: str, problems: list[str]) -> _PageReader | None:
    text = _text(site, name, problems)
    if text is None:
        return None
    reader = _PageReader()
    reader.feed(text)
    reader.close()
    for err in reader.errors[:3]:
        problems.append(f"{name}: not well-formed HTML: {err}")
    if reader.stack:
        problems.append(f"{name}: not well-formed HTML: <{reader.stack[-1]}> is never closed")
    if not reader.html_lang:
        problems.append(f"{name}: <html> has no lang attribute")
    if reader.scripts:
        problems.append(f"{name}: contains {reader.scripts} <script> element(s); terms pages have none")
    if reader.h1 != 1:
        problems.append(f"{name}: has {reader.h1} <h1> headings, not one")
    if reader.th_without_scope:
        problems.append(f"{name}: {reader.th_without_scope} table header cell(s) without scope")
    return reader


def _check_html(site: Site, plan: SitePlan, problems: list[str]) -> None:
    headers = dict(site.headers)
    for w in plan.works:
        name = f"terms/works/{w.work_id}.html"
        page = _read_page(site, name, problems)
        if page is None:
            continue
        sent = headers.get(w.pattern, {})
        metas: dict[str, list[str]] = {}
        for key, content in parse_head(site.files[name].decode("utf-8", "replace")).meta:  # as verify reads it
            metas.setdefault(key, []).append(content)
        for meta, header in (("tdm-reservation", "tdm-reservation"), ("tdm-policy", "tdm-policy")):
            got = metas.get(meta, [])
            want = sent.get(header)
            if (got[-1] if got else None) != want:
                problems.append(f"{name}: <meta name=\"{meta}\"> is {got[-1] if got else None!r} but the header "
                                f"{header} for {w.pattern} is {want!r}")
        want_res = str(tdm_reservation(w.uses))
        if metas.get("tdm-reservation", [None])[-1] != want_res:
            problems.append(f"{name}: tdm-reservation meta does not say {want_res} as the export's tdm terms mean")
        rows = {r["data-use"]: r for r in page.rows}
        _compare_rows(name, w, rows, problems)
        if (w.in_force is False) != (b'data-in-force="false"' in site.files[name]):
            problems.append(f"{name}: {'does not say' if w.in_force is False else 'says'} the terms are not in force, "
                            f"but they are valid {w.valid_from or '..'} to {w.valid_until or '..'} "
                            f"on {plan.today.isoformat() if plan.today else 'an unknown day'}")
        if w.jurisdiction and w.jurisdiction.encode("utf-8") not in site.files[name].replace(b"&amp;", b"&"):
            problems.append(f"{name}: does not show the jurisdiction {w.jurisdiction!r}")
    for c in plan.creators:
        name = f"terms/creators/{c.creator_id}.html"
        page = _read_page(site, name, problems)
        if page is None:
            continue
        for wid in c.works:
            if f"/terms/works/{wid}.html" not in page.links:
                problems.append(f"{name}: no link to work {wid}")
        _compare_table(name, plan, c.works, page, problems)
    page = _read_page(site, "terms/index.html", problems)
    if page is not None:
        for w in plan.works:
            if f"/terms/works/{w.work_id}.html" not in page.links:
                problems.append(f"terms/index.html: no link to work {w.work_id}")
        _compare_table("terms/index.html", plan, [w.work_id for w in plan.works], page, problems)


def _compare_rows(name: str, w: WorkPlan, rows: dict, problems: list[str]) -> None:
    for u in USES:
        r = rows.get(u)
        t = w.uses[u]
        if r is None:
            problems.append(f"{name}: no row for use {u}")
            continue
        if r.get("data-decision") != t["decision"]:
            problems.append(f"{name}: {u} is {r.get('data-decision')!r}, the export says {t['decision']!r}")
        elif t["decision"] == "license" and (not same_amount(r.get("data-price"), t["price"])
                                             or r.get("data-currency") != t["currency"]):
            problems.append(f"{name}: {u} price {r.get('data-price')} {r.get('data-currency')}, the export says "
                            f"{format_decimal(t['price'])} {t['currency']}")


def _compare_table(name: str, plan: SitePlan, work_ids, page: _PageReader, problems: list[str]) -> None:
    for r in page.rows:
        wid = r["_work"][len("work:"):]
        w = plan.by_id.get(wid)
        if w is None:
            continue
        if r.get("data-decision") != w.uses[r["data-use"]]["decision"]:
            problems.append(f"{name}: work {wid} {r['data-use']} is {r.get('data-decision')!r}, "
                            f"the export says {w.uses[r['data-use']]['decision']!r}")
    shown = {r["_work"][len("work:"):] for r in page.rows}
    for wid in work_ids:
        if wid not in shown:
            problems.append(f"{name}: work {wid} missing from the table")


def _check_json_pages(site: Site, plan: SitePlan, problems: list[str]) -> None:
    headers = dict(site.headers)
    for w in plan.works:
        name = f"terms/works/{w.work_id}.json"
        page = _json(site, name, problems)
        if not isinstance(page, dict):
            continue
        if page.get("work_id") != w.work_id:
            problems.append(f"{name}: work_id {page.get('work_id')!r}")
        for u in USES:
            got = (page.get("uses") or {}).get(u)
            want = w.uses[u]
            if not isinstance(got, dict):
                problems.append(f"{name}: no terms for use {u}")
                continue
            for key in ("decision", "price", "currency", "unit", "contact", "licence_url"):
                if got.get(key) != want.get(key):
                    problems.append(f"{name}: {u} {key} is {got.get(key)!r}, the export says {want.get(key)!r}")
        for key, want in (("valid_from", w.valid_from), ("valid_until", w.valid_until),
                          ("jurisdiction", w.jurisdiction or None), ("in_force", w.in_force)):
            if page.get(key) != want:
                problems.append(f"{name}: {key} is {page.get(key)!r}, the export means {want!r}")
        read, unreadable = terms_json_signals(site.files[name], document_url=name, location=w.media_path,
                                              work_id=w.work_id)  # as verify reads it
        problems += [f"{name}: {p.message}" for p in unreadable]
        decisions = {s.use: s.decision for s in read}
        for u in USES:
            if decisions.get(u) != w.uses[u]["decision"]:
                problems.append(f"{name}: read as {decisions.get(u)!r} for {u} by consentry verify, "
                                f"the export says {w.uses[u]['decision']!r}")
        sig = page.get("signals") or {}
        if sig.get("headers") != headers.get(w.pattern):
            problems.append(f"{name}: signals.headers differ from the headers sent for {w.pattern}")
    index = _json(site, "terms/index.json", problems)
    if isinstance(index, dict):
        listed = {e.get("work_id"): e for e in index.get("works", []) if isinstance(e, dict)}
        for w in plan.works:
            e = listed.get(w.work_id)
            if e is None:
                problems.append(f"terms/index.json: work {w.work_id} missing")
            elif e.get("decisions") != {u: w.uses[u]["decision"] for u in USES}:
                problems.append(f"terms/index.json: decisions of work {w.work_id} differ from the export")
        cids = {e.get("creator_id") for e in index.get("creators", []) if isinstance(e, dict)}
        for c in plan.creators:
            if c.creator_id not in cids:
                problems.append(f"terms/index.json: creator {c.creator_id} missing")
    for c in plan.creators:
        name = f"terms/creators/{c.creator_id}.json"
        page = _json(site, name, problems)
        if isinstance(page, dict):
            got = [e.get("work_id") for e in page.get("works", []) if isinstance(e, dict)]
            if got != list(c.works):
                problems.append(f"{name}: lists works {got}, the export's are {list(c.works)}")
            for e in page.get("works", []):
                w = plan.by_id.get(e.get("work_id")) if isinstance(e, dict) else None
                if w is not None and e.get("decisions") != {u: w.uses[u]["decision"] for u in USES}:
                    problems.append(f"{name}: decisions of work {w.work_id} differ from the export")
