"""consentry.services.verify: RFC 9309 matching, every signal reader, verdicts, fetch limits and hostile inputs.

Fixture sites are written here by hand in the layout of docs/terms-model.md
and served from a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.robotparser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.domain.errors import InputError
from consentry.services.publish import load_crawlers as publish_crawlers
from consentry.formats.mapping import crawler_allowed, expected_aipref
from consentry.services.publish.plan import build_plan
from consentry.formats.robots import render_robots
from consentry.domain.usage import USES
from consentry.domain.signals import Signal, SignalProblem
from consentry.services.verify import FetchPolicy, VerifyReport, verify_target
from consentry.formats.aipref import SFError, parse_dictionary, preference_signals, usage_preferences
from consentry.formats.crawlers import crawlers_from, select_crawlers as load_crawlers
from consentry.services.verify.fetch import fetch_document
from consentry.formats.markup import parse_head, parse_link_header, robots_directive_signals, robots_directives
from consentry.formats.patterns import normalize_path, normalize_pattern, pattern_matches, regex_reference
from consentry.formats.robots import content_usage_for, match_crawler, parse_robots
from consentry.formats.rsl import UnsafeXml, parse_xml_safely, rsl_signals
from consentry.formats.tdmrep import match_tdmrep, parse_tdm_policy, parse_tdmrep_json, tdm_signals
from consentry.formats.terms_json import terms_json_signals

WORK_A = "87c2f239d72ac0e4"   # deny everything
WORK_B = "5d1e0c9a4b7f3e21"   # licensed at 40 EUR
WORK_C = "c0ffee00deadbeef"   # allowed (with contradictions planted)
FAST = FetchPolicy(timeout_s=3.0)


# --------------------------------------------------------------------------------------------
# RFC 9309: our matcher, and where urllib.robotparser / protego differ from it
# --------------------------------------------------------------------------------------------

# (name, robots.txt, product token, path, allowed per RFC 9309)
RFC9309_CASES = [
    ("longest-match", "User-agent: *\nDisallow: /works/\nAllow: /works/public/\n", "GPTBot", "/works/public/a.mp3", True),
    ("allow-wins-tie", "User-agent: *\nDisallow: /works/\nAllow: /works/\n", "GPTBot", "/works/a.mp3", True),
    ("merge-same-agent", "User-agent: GPTBot\nAllow: /\n\nUser-agent: CCBot\nDisallow: /\n\n"
                         "User-agent: GPTBot\nDisallow: /works/\n", "GPTBot", "/works/a.mp3", False),
    ("merge-star-groups", "User-agent: *\nAllow: /\n\nUser-agent: *\nDisallow: /works/\n", "GPTBot", "/works/a", False),
    ("exact-token-not-substring", "User-agent: bot\nDisallow: /\n", "GPTBot", "/works/a.mp3", True),
    ("exact-token-not-prefix", "User-agent: GPT\nDisallow: /\n", "GPTBot", "/works/a", True),
    ("no-glob-in-user-agent", "User-agent: GPT*\nDisallow: /\n", "GPTBot", "/works/a", True),
    ("case-insensitive-token", "User-agent: gptbot\nDisallow: /\n", "GPTBot", "/works/a", False),
    ("blank-line-keeps-group", "User-agent: GPTBot\n\nDisallow: /works/\n", "GPTBot", "/works/a.mp3", False),
    ("named-group-over-star", "User-agent: *\nDisallow: /\n\nUser-agent: GPTBot\nAllow: /works/\n", "GPTBot", "/works/a", True),
    ("ua-after-rule-new-group", "User-agent: GPTBot\nDisallow: /works/\nUser-agent: CCBot\nAllow: /\n", "GPTBot", "/works/a", False),
    ("dollar-anchor", "User-agent: *\nDisallow: /*.mp3$\n", "GPTBot", "/works/a.mp3", False),
    ("dollar-anchor-no-match", "User-agent: *\nDisallow: /*.mp3$\n", "GPTBot", "/works/a.mp3x", True),
    ("dollar-literal-inside", "User-agent: *\nDisallow: /a$b\n", "GPTBot", "/a$b", False),
    ("star-middle", "User-agent: *\nDisallow: /works/*/song\n", "GPTBot", "/works/x/song.mp3", False),
    ("longer-wildcard-allow", "User-agent: *\nAllow: /works/*.mp3\nDisallow: /works/x/\n", "GPTBot", "/works/x/a.mp3", True),
    ("star-vs-slash", "User-agent: *\nAllow: /\nDisallow: /*\n", "GPTBot", "/works/a", False),
    ("query-is-matched", "User-agent: *\nDisallow: /*?dl=1\n", "GPTBot", "/works/a.mp3?dl=1", False),
    ("non-ascii-encoded", "User-agent: *\nDisallow: /works/caf%C3%A9/\n", "GPTBot", "/works/café/a.mp3", False),
    ("non-ascii-in-rule", "User-agent: *\nDisallow: /works/café/\n", "GPTBot", "/works/caf%C3%A9/a.mp3", False),
    ("unreserved-decoded", "User-agent: *\nDisallow: /works/%7Eana/\n", "GPTBot", "/works/~ana/a.mp3", False),
    ("encoded-length", "User-agent: *\nDisallow: /works/\nAllow: /works/caf%C3%A9\n", "GPTBot", "/works/café", True),
    ("empty-disallow", "User-agent: GPTBot\nDisallow:\n\nUser-agent: *\nDisallow: /\n", "GPTBot", "/works/a", True),
    ("crlf-and-cr", "User-agent: GPTBot\rDisallow: /works/\r", "GPTBot", "/works/a", False),
    ("robots-txt-always-allowed", "User-agent: *\nDisallow: /\n", "GPTBot", "/robots.txt", True),
    ("no-group-applies", "User-agent: Googlebot\nDisallow: /\n", "GPTBot", "/works/a", True),
]


@pytest.mark.parametrize("name,robots,token,path,allowed", RFC9309_CASES, ids=[c[0] for c in RFC9309_CASES])
def test_rfc9309_matcher(name, robots, token, path, allowed):
    assert match_crawler(parse_robots(robots), token, path).allowed is allowed


def _robotparser(robots: str, token: str, path: str) -> bool:
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(robots.splitlines())
    return parser.can_fetch(token, "https://example.org" + path)


def _protego(robots: str, token: str, path: str) -> bool:
    protego = pytest.importorskip("protego")
    return protego.Protego.parse(robots).can_fetch("https://example.org" + path, token)


# Cases where a common tool disagrees with RFC 9309 (checked on this Python and protego 0.7).
ROBOTPARSER_WRONG = ["longest-match", "allow-wins-tie", "merge-same-agent", "merge-star-groups",
                     "exact-token-not-substring", "exact-token-not-prefix", "blank-line-keeps-group", "dollar-anchor", "star-middle",
                     "longer-wildcard-allow", "query-is-matched"]
PROTEGO_WRONG = ["exact-token-not-prefix", "no-glob-in-user-agent"]


@pytest.mark.parametrize("name", ROBOTPARSER_WRONG)
def test_robotparser_gets_rfc9309_wrong_where_we_are_right(name):
    _, robots, token, path, allowed = next(c for c in RFC9309_CASES if c[0] == name)
    if _robotparser(robots, token, path) is allowed:
        pytest.skip("this Python's urllib.robotparser follows RFC 9309 here (3.15+ does)")
    assert match_crawler(parse_robots(robots), token, path).allowed is allowed


@pytest.mark.parametrize("name", PROTEGO_WRONG)
def test_protego_gets_rfc9309_wrong_where_we_are_right(name):
    _, robots, token, path, allowed = next(c for c in RFC9309_CASES if c[0] == name)
    assert _protego(robots, token, path) is not allowed
    assert match_crawler(parse_robots(robots), token, path).allowed is allowed


def test_protego_agrees_with_rfc9309_elsewhere():
    """Honest account: outside the product-token cases protego agrees with RFC 9309 on every fixture."""
    for name, robots, token, path, allowed in RFC9309_CASES:
        if name in PROTEGO_WRONG or name == "robots-txt-always-allowed":
            continue
        assert _protego(robots, token, path) is allowed, name


def test_verdict_differs_from_robotparser_on_a_fixture_site(tmp_path):
    """The robots.txt of a site allowing GPTBot on /works/<id>/ (longest match): we say allow, robotparser deny."""
    site = tmp_path / "site"
    site.mkdir()
    robots = f"User-agent: GPTBot\nDisallow: /works/\nAllow: /works/{WORK_C}/\n"
    (site / "robots.txt").write_text(robots)
    report = verify_target(site, path=f"/works/{WORK_C}/song.mp3", user_agents=["GPTBot"])
    assert report.verdicts["ai_training"].decision == "allow"
    assert _robotparser(robots, "GPTBot", f"/works/{WORK_C}/song.mp3") is False


@settings(max_examples=300, deadline=None)
@given(pattern=st.text(alphabet="/ab*$%c.", max_size=12), path=st.text(alphabet="/ab*$c.", max_size=14))
def test_pattern_matcher_agrees_with_regex_reference(pattern, path):
    p, q = normalize_pattern(pattern), normalize_path(path)
    assert pattern_matches(p, q) == bool(regex_reference(p).match(q))


def test_percent_normalisation():
    assert normalize_path("/caf\u00e9") == "/caf%C3%A9"
    assert normalize_path("/%7e%41") == "/~A"
    assert normalize_path("/a%2fb") == "/a%2Fb"
    assert normalize_pattern("/x y") == "/x%20y"


# RFC 9309 §2.2.3 (the table after the special characters): a rule that means a literal "*" or "$"
# writes it percent-encoded; (robots.txt line, URL path, allowed).
RFC9309_ENCODED_SPECIALS = [
    ("Disallow: /path/file-with-a-%2A.html", "/path/file-with-a-*.html", False),
    ("Disallow: /path/foo-%24", "/path/foo-$", False),
    ("Disallow: /path/file-with-a-%2a.html", "/path/file-with-a-*.html", False),   # hex case does not matter
    ("Disallow: /path/file-with-a-%2A.html", "/path/file-with-a-b.html", True),    # %2A is no wildcard
    ("Disallow: /path/file-with-a-%2A.html", "/path/file-with-a-%2A.html", False),  # the URL's own encoding
    ("Disallow: /path/foo-%24", "/path/foo-", True),                                # %24 is no anchor
    ("Disallow: /path/foo-%24", "/path/foo-$/bar", False),
    ("Disallow: /path/*-%24", "/path/x-$", False),
    ("Disallow: /path/a$b", "/path/a$b", False),                                    # a $ before the end is literal
    ("Disallow: /path/foo$", "/path/foo$", True),                                   # a final $ still anchors
    ("Disallow: /path/foo$", "/path/foo", False),
]


@pytest.mark.parametrize("line,path,allowed", RFC9309_ENCODED_SPECIALS)
def test_encoded_asterisk_and_dollar_match_the_literal_characters(line, path, allowed):
    robots = parse_robots(f"User-agent: *\n{line}\n")
    assert match_crawler(robots, "GPTBot", path).allowed is allowed


def test_tdmrep_location_with_an_encoded_asterisk(tmp_path):
    """TDMRep locations use the robots.txt patterns: %2A is the character, not a wildcard."""
    rules, _ = parse_tdmrep_json(json.dumps([{"location": "/works/file-with-a-%2A.mp3", "tdm-reservation": 1},
                                             {"location": "/works/*", "tdm-reservation": 0}]))
    assert match_tdmrep(rules, "/works/file-with-a-*.mp3").reservation == 1
    assert match_tdmrep(rules, "/works/file-with-a-b.mp3").reservation == 0
    site = tmp_path / "site"
    (site / ".well-known").mkdir(parents=True)
    (site / ".well-known" / "tdmrep.json").write_text(
        json.dumps([{"location": "/works/foo-%24", "tdm-reservation": 1}]))
    report = verify_target(site, path="/works/foo-$", user_agents=["GPTBot"])
    assert report.verdicts["tdm"].decision == "deny"


def test_content_usage_rules_follow_the_draft_example():
    """The robots.txt example of draft-ietf-aipref-attach: longest path wins; disallowed paths get none."""
    robots = parse_robots("User-Agent: *\nAllow: /\nDisallow: /never/\nContent-Usage: / train-ai=n\n"
                          "Content-Usage: /ai-ok/ train-ai=y\n\nUser-Agent: ExampleBot\nAllow: /\n"
                          "Content-Usage: / train-ai=y\n")
    def prefs(token, path):
        return [r.preference for r in content_usage_for(match_crawler(robots, token, path), path)]
    assert prefs("Other", "/test") == ["train-ai=n"]
    assert prefs("Other", "/never/test") == []
    assert prefs("Other", "/ai-ok/test") == ["train-ai=y"]
    assert prefs("ExampleBot", "/never/test") == ["train-ai=y"]


_DECISIONS = {"allow": {"decision": "allow"}, "deny": {"decision": "deny"},
              "license": {"decision": "license", "price": 40.0, "currency": "EUR", "unit": "per-work",
                          "contact": "mailto:rights@example.org"}}


@settings(max_examples=40, deadline=None)
@given(works=st.lists(st.fixed_dictionaries({u: st.sampled_from(sorted(_DECISIONS)) for u in USES}), max_size=10))
def test_published_works_default_and_exceptions_read_back(works):
    """robots.txt as `consentry publish` writes it (a /works/ default, per-work exceptions) read by verify's reader."""
    export = {"generated_at": "2026-11-23T11:00:00+00:00", "creators": [],
              "works": [{"work_id": f"w{i}", "terms": {"uses": {u: _DECISIONS[d[u]] for u in USES}}}
                        for i, d in enumerate(works)]}
    plan = build_plan(export, base_url="https://music.example.org")
    robots = parse_robots(render_robots(plan, publish_crawlers()))
    agents = [(c.token, c.uses) for c in publish_crawlers() if c.robots_txt != "not-read"] + [
        ("SomeSearchEngine", ("search_indexing",))]
    for w in plan.works:
        path = f"/works/{w.work_id}/song.mp3"
        for token, uses in agents:
            decision = match_crawler(robots, token, path)
            assert decision.allowed is crawler_allowed(w.uses, uses), (token, w.work_id, decision.describe())
            rules = content_usage_for(decision, path)
            if not decision.allowed:
                assert rules == []  # the draft: no preferences for what may not be crawled
                continue
            assert len(rules) == 1, (token, w.work_id, rules)
            got = {k: str(v) for k, (v, _) in parse_dictionary(rules[0].preference).items()}
            assert got == expected_aipref(w.uses), (token, w.work_id, rules[0].raw)


def test_robots_license_lines_and_notes():
    robots = parse_robots("Disallow: /x\nLicense: https://example.org/rsl.xml\nUser-agent *\nSitemap: /s.xml\n")
    assert robots.licenses == [("https://example.org/rsl.xml", 2)]
    assert any("before any User-agent" in n for n in robots.notes)


def test_crawler_list_is_tolerant_of_shape():
    crawlers = crawlers_from({"crawlers": [{"user_agent": "GPTBot", "purpose": "AI training"},
                                           {"token": "OAI-SearchBot", "purposes": ["search"]},
                                           {"name": "ChatGPT-User", "category": "user-triggered assistant"},
                                           "CCBot", 7]})
    assert [(c.token, c.uses) for c in crawlers] == [
        ("GPTBot", ("ai_training", "ai_generative")), ("OAI-SearchBot", ("search_indexing",)),
        ("ChatGPT-User", ("ai_generative",)), ("CCBot", ("ai_training", "ai_generative"))]
    chosen, origin = load_crawlers({"GPTBot": None, "MyBot": "search"})
    assert origin == "user_agents argument"
    assert [c.token for c in chosen] == ["GPTBot", "MyBot"] and chosen[1].uses == ("search_indexing",)


# --------------------------------------------------------------------------------------------
# AI preferences (Content-Usage)
# --------------------------------------------------------------------------------------------

def test_structured_field_dictionary():
    d = parse_dictionary('train-ai=n, search=y;x=1, ai-use=("a" b), k, n=-1.5, s="q\\"", t=?0, b=:aGk=:')
    assert d["train-ai"][0] == "n" and d["search"][1] == {"x": 1} and d["k"][0] is True
    assert d["n"][0] == -1.5 and d["s"][0] == 'q"' and d["t"][0] is False and d["b"][0] == b"hi"
    for bad in ("Train-AI=n", "train-ai=n,", "a=\"unterminated", "a=1.2345", "=y", "a=y b=n"):
        with pytest.raises(SFError):
            parse_dictionary(bad)


def test_usage_preferences_follow_the_vocabulary():
    assert usage_preferences("train-ai=n, search=y")[0] == {
        "ai_training": ("deny", ["train-ai"]), "ai_generative": ("deny", ["train-ai"]),
        "search_indexing": ("allow", ["search"])}
    # The draft's own example: duplicated keys with non-token values state nothing.
    assert usage_preferences('train-ai=y, train-ai, search=n, search="n"')[0] == {}
    # Parameters are ignored; the last value wins.
    assert usage_preferences("train-ai;allow=n, train-ai=y")[0]["ai_training"] == ("allow", ["train-ai"])
    # A parent category applies where the child says nothing (vocab-01..03 "bots").
    prefs = usage_preferences("bots=n, search=y")[0]
    assert prefs["tdm"] == ("deny", ["bots"]) and prefs["search_indexing"] == ("allow", ["search"])
    # ai_generative is denied when either generative training or use as input is denied.
    assert usage_preferences("train-ai=y, ai-use=n")[0]["ai_generative"][0] == "deny"
    signals, problems = preference_signals("Train-AI=n", fmt="content-usage", source="h", location="/x")
    assert signals == [] and "not a structured-field dictionary" in problems[0].message


# --------------------------------------------------------------------------------------------
# TDMRep, ODRL policies, RSL, markup, terms JSON
# --------------------------------------------------------------------------------------------

def test_tdmrep_first_matching_rule_applies():
    rules, problems = parse_tdmrep_json(json.dumps([
        {"location": "/works/a/*", "tdm-reservation": 0},
        {"location": "/works/*", "tdm-reservation": 1, "tdm-policy": "https://e.org/p.json"},
        {"location": "/x", "tdm-reservation": 2}, {"nolocation": 1}]))
    assert match_tdmrep(rules, "/works/a/song.mp3").reservation == 0
    assert match_tdmrep(rules, "/works/b/song.mp3").policy == "https://e.org/p.json"
    assert match_tdmrep(rules, "/other") is None
    assert any("not 0 or 1" in p for p in problems) and any("without a string" in p for p in problems)
    assert parse_tdmrep_json(b"{not json")[0] == []
    assert parse_tdmrep_json(b"[" * 100_000)[1] == ["not JSON (nested too deeply)"]


def test_tdm_policy_price_makes_a_licence():
    policy, _ = parse_tdm_policy(json.dumps({
        "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
        "@type": "Offer", "profile": "http://www.w3.org/ns/tdmrep", "uid": "https://e.org/p/1",
        "assigner": {"vcard:hasEmail": "mailto:rights@e.org"},
        "permission": [{"action": "tdm:mine", "duty": [{"action": "compensate", "refinement": [
            {"leftOperand": "payAmount", "operator": "eq", "rightOperand": {"@value": "40.00"},
             "unit": "http://dbpedia.org/resource/Euro"}]}]}]}), url="https://e.org/p.json")
    assert policy.needs_licence and policy.price == 40.0 and policy.currency == "EUR"
    signals = tdm_signals(1, policy_url=policy.url, policy=policy, fmt="tdmrep", source="s", location="/w")
    assert {(s.use, s.decision) for s in signals} == {("tdm", "license"), ("ai_training", "license"),
                                                      ("ai_generative", "license")}
    assert all(s.detail["price"] == 40.0 for s in signals)
    assert [s.use for s in tdm_signals(0, policy_url=None, policy=None, fmt="tdmrep", source="s", location="/w")] == ["tdm"]


RSL_DOC = b"""<?xml version="1.0" encoding="UTF-8"?>
<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/">
    <license><permits type="usage">search</permits><payment type="free"/></license>
    <license><prohibits type="usage">ai-all</prohibits></license>
  </content>
  <content url="/works/5d1e0c9a4b7f3e21/*">
    <license>
      <permits type="usage">ai-train,ai-input</permits>
      <payment type="training"><amount currency="eur">40.00</amount></payment>
    </license>
    <license><permits type="usage">search</permits></license>
  </content>
</rsl>"""


def test_rsl_offers_per_use():
    sig, prob = rsl_signals(RSL_DOC, document_url="https://e.org/rsl.xml", path=f"/works/{WORK_B}/song.mp3",
                            location="x")
    by_use = {s.use: s for s in sig}
    assert prob == []
    assert by_use["ai_training"].decision == "license" and by_use["ai_training"].detail["price"] == 40.0
    assert by_use["ai_training"].detail["currency"] == "EUR"
    assert by_use["search_indexing"].decision == "allow"
    sig, _ = rsl_signals(RSL_DOC, document_url="https://e.org/rsl.xml", path="/other", location="x")
    # the second offer has no <permits>: every usage but the prohibited AI ones, so TDM too
    assert {(s.use, s.decision) for s in sig} == {("search_indexing", "allow"), ("ai_training", "deny"),
                                                  ("ai_generative", "deny"), ("tdm", "allow")}


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<rsl xmlns="https://rslstandard.org/rsl"><content url="/">&lol9;</content></rsl>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>&x;</license></content></rsl>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, BILLION_LAUGHS.decode().replace('"UTF-8"', '"UTF-16"')
                                  .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
                                  .encode("utf-16"),
                                  b"<rsl>&undefined;</rsl>", b"<rsl>" + b"<a>" * 30_000, b"", b"\xff\xfe\x00"],
                         ids=["billion-laughs", "xxe", "utf16-doctype", "undefined-entity", "too-many", "empty", "junk"])
def test_rsl_parser_refuses_hostile_xml(data):
    with pytest.raises(UnsafeXml):
        parse_xml_safely(data)
    signals, problems = rsl_signals(data, document_url="u", path="/", location="/")
    assert signals == [] and problems and problems[0].source.startswith("unreadable signal at u:")


def test_x_robots_tag_and_meta():
    assert robots_directives(["googlebot: noindex, nofollow", "noai, max-snippet: 20"]) == [
        ("googlebot", "noindex"), ("googlebot", "nofollow"), (None, "noai"), (None, "max-snippet")]
    image = robots_directive_signals(["noai, noimageai"], fmt="x-robots-tag", source="h", location="/a.jpg",
                                     is_image=True, crawler_tokens={"gptbot"})
    assert {(s.use, s.decision) for s in image} == {("ai_training", "deny"), ("ai_generative", "deny")}
    audio = robots_directive_signals(["noimageai", "GPTBot: noindex", "bingbot: noai"], fmt="x-robots-tag",
                                     source="h", location="/a.mp3", is_image=False, crawler_tokens={"gptbot"})
    assert {(s.use, s.decision) for s in audio} == {("ai_training", "unspecified"), ("ai_generative", "unspecified"),
                                                    ("search_indexing", "deny")}
    head = parse_head('<html><head><meta name="tdm-reservation" content="1"><META NAME="Robots" content="noai">'
                      '<link rel="license" type="application/rsl+xml" href="/rsl.xml"></head>'
                      '<body><meta name="tdm-reservation" content="0"></body></html>')
    assert head.meta == [("tdm-reservation", "1"), ("robots", "noai")] and head.links[0]["href"] == "/rsl.xml"
    links = parse_link_header(['</terms/works/a.json>; rel="license"; type="application/json", <https://x/rsl.xml>; '
                               'rel=license; type="application/rsl+xml"', "garbage, <unterminated"])
    assert [(u, p["type"]) for u, p in links] == [("/terms/works/a.json", "application/json"),
                                                  ("https://x/rsl.xml", "application/rsl+xml")]


def test_terms_json():
    doc = {"work_id": WORK_B, "terms_version": 3, "terms": {"uses": {
        "ai_training": {"decision": "license", "price": 40.0, "currency": "EUR", "unit": "per-work"},
        "voice_likeness": {"decision": "deny"}, "tdm": {"decision": "maybe"}, "dance": {"decision": "allow"}}}}
    signals, problems = terms_json_signals(json.dumps(doc).encode(), document_url="u", location="/w", work_id=WORK_B)
    assert {(s.use, s.decision) for s in signals} == {("ai_training", "license"), ("voice_likeness", "deny")}
    assert signals[0].detail["price"] == 40.0 and "terms version 3" in signals[0].source
    assert len(problems) == 2
    assert terms_json_signals(b"[]", document_url="u", location="/w")[1][0].message == "not a JSON object"


# --------------------------------------------------------------------------------------------
# A published folder, built by hand in the layout of docs/terms-model.md
# --------------------------------------------------------------------------------------------

def _policy(work_id: str, price: float) -> dict:
    return {"@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
            "@type": "Offer", "profile": "http://www.w3.org/ns/tdmrep", "uid": f"https://e.org/tdm/policies/{work_id}",
            "permission": [{"action": "tdm:mine", "target": f"https://e.org/works/{work_id}/", "duty": [
                {"action": "compensate", "refinement": [{"leftOperand": "payAmount", "operator": "eq",
                                                         "rightOperand": price, "unit": "EUR"}]}]}]}


def _terms(work_id: str, decisions: dict) -> dict:
    uses = {u: ({"decision": d} if d != "license" else {"decision": "license", "price": 40.0, "currency": "EUR",
                                                        "unit": "per-work"}) for u, d in decisions.items()}
    return {"work_id": work_id, "title": "t", "creator_id": "ana-lima", "terms_version": 1,
            "terms": {"uses": uses, "valid_from": None, "valid_until": None, "jurisdiction": "EU"}}


ALL_DENY = {"ai_training": "deny", "ai_generative": "deny", "voice_likeness": "deny", "tdm": "deny",
            "search_indexing": "allow"}
ALL_LICENSE = {"ai_training": "license", "ai_generative": "license", "voice_likeness": "deny", "tdm": "license",
               "search_indexing": "allow"}
ALL_ALLOW = {"ai_training": "allow", "ai_generative": "allow", "voice_likeness": "deny", "tdm": "allow",
             "search_indexing": "allow"}


def build_site(root: Path) -> dict[str, tuple[int, dict, bytes]]:
    """Write a published site by hand; return it also as path -> (status, headers, body) for the HTTP server."""
    files: dict[str, bytes] = {}
    files["/robots.txt"] = (
        "# Consentry\nLicense: /rsl.xml\n\n"
        "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /works/%s/\nDisallow: /works/%s/\nAllow: /works/%s/\n"
        "Content-Usage: /works/%s/ train-ai=y\n\n"
        "User-agent: *\nAllow: /\nContent-Usage: /works/%s/ train-ai=n, search=y\n"
        % (WORK_A, WORK_B, WORK_C, WORK_C, WORK_A)).encode()
    files["/ai.txt"] = f"User-Agent: *\nDisallow: /works/{WORK_A}/\nDisallow: /works/{WORK_B}/\nAllow: /\n".encode()
    files["/.well-known/tdmrep.json"] = json.dumps([
        {"location": f"/works/{WORK_A}/*", "tdm-reservation": 1},
        {"location": f"/works/{WORK_B}/*", "tdm-reservation": 1,
         "tdm-policy": f"https://e.org/tdm/policies/{WORK_B}.json"},
        {"location": f"/works/{WORK_C}/*", "tdm-reservation": 1}]).encode()   # contradicts the terms of C
    files[f"/tdm/policies/{WORK_B}.json"] = json.dumps(_policy(WORK_B, 40.0)).encode()
    files["/rsl.xml"] = RSL_DOC
    files[f"/terms/works/{WORK_A}.json"] = json.dumps(_terms(WORK_A, ALL_DENY)).encode()
    files[f"/terms/works/{WORK_B}.json"] = json.dumps(_terms(WORK_B, ALL_LICENSE)).encode()
    files[f"/terms/works/{WORK_C}.json"] = json.dumps(_terms(WORK_C, ALL_ALLOW)).encode()
    files[f"/terms/works/{WORK_A}.html"] = (
        b'<!doctype html><html><head><meta name="tdm-reservation" content="1">'
        b'<meta name="robots" content="noai, noimageai"><title>t</title></head><body>x</body></html>')
    headers = {
        f"/works/{WORK_A}/*": {"tdm-reservation": "1", "X-Robots-Tag": "noai, noimageai",
                               "Content-Usage": "train-ai=n", "Link": f'</terms/works/{WORK_A}.json>; rel="license"; '
                                                                     'type="application/json"'},
        f"/works/{WORK_B}/*": {"tdm-reservation": "1", "tdm-policy": f"https://e.org/tdm/policies/{WORK_B}.json",
                               "Content-Usage": "train-ai=n"},
        f"/works/{WORK_C}/*": {"Content-Usage": "train-ai=y", "X-Robots-Tag": "noai"},  # contradiction: noai vs y
    }
    files["/headers.json"] = json.dumps(headers).encode()
    for path, body in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    served = {p: (200, {"Content-Type": _type(p)}, b) for p, b in files.items() if p != "/headers.json"}
    for work, h in ((WORK_A, headers[f"/works/{WORK_A}/*"]), (WORK_B, headers[f"/works/{WORK_B}/*"]),
                    (WORK_C, headers[f"/works/{WORK_C}/*"])):
        served[f"/works/{work}/song.mp3"] = (200, dict(h, **{"Content-Type": "audio/mpeg"}), b"ID3" + b"\0" * 64)
    return served


def _type(path: str) -> str:
    if path.endswith(".html"):
        return "text/html; charset=utf-8"
    if path.endswith(".json"):
        return "application/json"
    if path.endswith(".xml"):
        return "application/rsl+xml"
    return "text/plain; charset=utf-8"


def _decisions(report: VerifyReport) -> dict[str, str]:
    return {u: v.decision for u, v in report.verdicts.items()}


def test_folder_site_every_work(tmp_path):
    build_site(tmp_path)
    report = verify_target(tmp_path, user_agents=["GPTBot", "CCBot", "OAI-SearchBot"])
    assert report.kind == "folder"
    assert [r.path for r in report.resources] == [f"/works/{w}/" for w in (WORK_A, WORK_B, WORK_C)]
    by_path = {r.path: {u: v.decision for u, v in r.verdicts.items()} for r in report.resources}
    assert by_path[f"/works/{WORK_A}/"] == {"ai_training": "deny", "ai_generative": "deny",
                                            "voice_likeness": "deny", "tdm": "deny", "search_indexing": "allow"}
    # robots.txt disallows GPTBot there and Content-Usage says train-ai=n: yes/no formats whose "no" agrees
    # with the licence offered by tdmrep.json's policy, rsl.xml and the terms JSON
    assert by_path[f"/works/{WORK_B}/"]["tdm"] == "license"
    assert by_path[f"/works/{WORK_B}/"]["ai_training"] == "license"
    licensed = report.resources[1].verdicts["ai_training"]
    assert licensed.contradictions == ()
    assert {s.detail.get("as_written") for s in licensed.signals if s.format == "robots.txt"} == {"deny"}
    assert report.problems == []
    assert json.dumps(report.as_dict())


def test_folder_site_one_path_sources_and_contradictions(tmp_path):
    build_site(tmp_path)
    report = verify_target(tmp_path, path=f"/works/{WORK_C}/song.mp3", user_agents=["GPTBot"])
    training = report.verdicts["ai_training"]
    assert training.decision == "deny"
    formats = {s.format for s in training.signals}
    assert {"robots.txt", "ai.txt", "tdmrep", "content-usage", "x-robots-tag", "terms-json"} <= formats
    pairs = {(a.format, b.format) for a, b in training.contradictions} | \
            {(b.format, a.format) for a, b in training.contradictions}
    # robots.txt allows GPTBot on /works/C/ while tdmrep.json reserves TDM there
    assert ("robots.txt", "tdmrep") in pairs
    # X-Robots-Tag noai vs Content-Usage train-ai=y
    assert ("x-robots-tag", "content-usage") in pairs
    lines = report.describe_contradictions()
    assert any("robots.txt line 8 (Allow: /works/%s/)" % WORK_C in line and "tdmrep.json rule 3" in line
               for line in lines)
    assert report.verdicts["tdm"].decision == "deny"


def test_folder_licensed_work_has_price(tmp_path):
    build_site(tmp_path)
    report = verify_target(tmp_path, path=f"/works/{WORK_B}/song.mp3", user_agents=["OAI-SearchBot"])
    tdm = report.verdicts["tdm"]
    assert tdm.decision == "license"
    assert {s.detail.get("price") for s in tdm.signals if s.decision == "license"} == {40.0}
    header = [s for s in tdm.signals if s.detail.get("tdmrep_rank") == "file"]
    assert header and header[0].detail.get("superseded_by") == "header"
    summary = report.as_dict()["verdicts"]["tdm"]
    assert (summary["decision"], summary["price"], summary["currency"]) == ("license", 40.0, "EUR")


def test_default_crawler_list(tmp_path):
    build_site(tmp_path)
    report = verify_target(tmp_path, path=f"/works/{WORK_A}/song.mp3")
    assert report.crawlers == "consentry/formats/data/ai_crawlers.json"
    robots = [s for s in report.signals if s.format == "robots.txt" and s.decision != "unspecified"]
    assert robots and all(s.detail["user_agents"] for s in robots)


def test_folder_hostile_files_are_findings(tmp_path):
    (tmp_path / "robots.txt").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" * 100)
    (tmp_path / ".well-known").mkdir()
    (tmp_path / ".well-known" / "tdmrep.json").write_bytes(b'[{"location": 5}, "x", {"location": "/", "tdm-reservation": "yes"}]')
    (tmp_path / "rsl.xml").write_bytes(BILLION_LAUGHS)
    (tmp_path / "ai.txt").write_bytes("User-agent: *\nDisallow: /caf\xe9\n".encode("latin-1"))
    (tmp_path / "headers.json").write_bytes(b"{{{")
    report = verify_target(tmp_path, path="/works/x/a.mp3")
    messages = " | ".join(p.source for p in report.problems)
    assert "robots.txt: binary data" in messages
    assert "rsl.xml: declares a document type" in messages
    assert "ai.txt: not valid UTF-8" in messages
    assert "headers.json: not JSON" in messages
    assert any("tdm-reservation" in p.message for p in report.problems)


def test_folder_path_cannot_escape(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    report = verify_target(tmp_path / "site", path="/../robots.txt")
    assert all(s.format != "robots.txt" for s in report.signals)


def test_target_errors(tmp_path):
    with pytest.raises(InputError):
        verify_target(tmp_path / "missing")
    with pytest.raises(InputError):
        verify_target("ftp://example.org/x")


def test_file_target_without_embed_module(tmp_path):
    media = tmp_path / "song.wav"
    media.write_bytes(b"RIFF....WAVE")
    report = verify_target(media)
    assert report.kind == "file"
    try:
        import consentry.formats.embed  # noqa: F401
    except ModuleNotFoundError:
        assert "cannot be read yet" in report.problems[0].message
    assert set(report.verdicts) == {"ai_training", "ai_generative", "voice_likeness", "tdm", "search_indexing"}


# --------------------------------------------------------------------------------------------
# A real HTTP server on 127.0.0.1: the same site, and misbehaving endpoints
# --------------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}
    hits: dict = {}

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = self.path
        type(self).hits[path] = type(self).hits.get(path, 0) + 1
        route = self.routes.get(path)
        try:
            if callable(route):
                route(self)
                return
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, headers, body = route
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass


def _slow(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    for _ in range(200):
        handler.wfile.write(b"User-agent: *\n")
        handler.wfile.flush()
        time.sleep(0.05)


def _endless(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    chunk = b"Disallow: /" + b"a" * 8000 + b"\n"
    for _ in range(10_000):   # far beyond the cap, no Content-Length
        handler.wfile.write(chunk)


def _loop(handler) -> None:
    handler.send_response(302)
    handler.send_header("Location", "/loop-b" if handler.path == "/loop-a" else "/loop-a")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def routes(tmp_path):
    _Handler.routes = build_site(tmp_path / "site")
    _Handler.hits = {}
    return _Handler.routes


def test_http_site_matches_folder(server, routes, tmp_path):
    url = f"{server}/works/{WORK_C}/song.mp3"
    report = verify_target(url, user_agents=["GPTBot"], policy=FAST)
    folder = verify_target(tmp_path / "site", path=f"/works/{WORK_C}/song.mp3", user_agents=["GPTBot"])
    assert report.kind == "url" and _decisions(report) == _decisions(folder)
    assert all(s.location == url for s in report.signals)
    assert report.problems == []
    assert {"robots.txt", "tdmrep", "content-usage", "x-robots-tag", "rsl", "terms-json", "ai.txt"} <= \
        {s.format for s in report.signals}


def test_http_cache_reads_site_documents_once(server, routes):
    cache: dict = {}
    policy = FetchPolicy(timeout_s=3.0, cache=cache)
    for work in (WORK_A, WORK_B, WORK_C):
        verify_target(f"{server}/works/{work}/song.mp3", user_agents=["GPTBot"], policy=policy)
    assert _Handler.hits["/robots.txt"] == 1 and _Handler.hits["/.well-known/tdmrep.json"] == 1
    assert _Handler.hits["/rsl.xml"] == 1


def test_http_meta_tags_of_a_page(server, routes):
    report = verify_target(f"{server}/terms/works/{WORK_A}.html", user_agents=["GPTBot"], policy=FAST)
    meta = [s for s in report.signals if s.format == "html-meta"]
    assert {(s.use, s.decision) for s in meta} >= {("tdm", "deny"), ("ai_training", "deny")}


@pytest.mark.parametrize("name,route,expect", [
    ("slow", _slow, "timed out"),
    ("endless", _endless, "only the first"),
    ("loop", _loop, "redirect loop"),
    ("error500", (500, {}, b"boom"), "HTTP 500"),
    ("binary", (200, {"Content-Type": "text/plain"}, bytes(range(256)) * 100), "binary data"),
    ("huge-declared", (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /\n" + b"#" * 3_000_000),
     "only the first"),
])
def test_http_hostile_robots(server, routes, name, route, expect):
    routes["/robots.txt"] = route
    if name == "loop":
        routes["/robots.txt"] = (301, {"Location": "/loop-a"}, b"")
        routes["/loop-a"] = _loop
        routes["/loop-b"] = _loop
    started = time.monotonic()
    report = verify_target(f"{server}/works/{WORK_A}/song.mp3", user_agents=["GPTBot"],
                           policy=FetchPolicy(timeout_s=1.5, max_bytes=512 * 1024))
    assert time.monotonic() - started < 20
    assert any(expect in p.source and "robots.txt" in p.source for p in report.problems), report.problems
    assert report.verdicts["tdm"].decision == "deny"   # the other signals are still read


def test_http_hostile_tdmrep_and_rsl(server, routes):
    routes["/.well-known/tdmrep.json"] = (200, {"Content-Type": "application/json"}, b"[" * 1_000_000)
    routes["/rsl.xml"] = (200, {"Content-Type": "application/rsl+xml"}, XXE)
    routes[f"/terms/works/{WORK_A}.json"] = (200, {"Content-Type": "application/json"}, b'{"uses": 5}')
    report = verify_target(f"{server}/works/{WORK_A}/song.mp3", user_agents=["GPTBot"], policy=FAST)
    sources = " | ".join(p.source for p in report.problems)
    assert "tdmrep.json: not JSON" in sources and "rsl.xml: declares a document type" in sources
    assert "no 'uses' object" in sources
    assert report.verdicts["ai_training"].decision == "deny"


def test_fetch_limits(server, routes):
    routes["/big"] = (200, {}, b"x" * 5000)
    doc = fetch_document(f"{server}/big", policy=FetchPolicy(max_bytes=1000))
    assert doc.truncated and len(doc.body) == 1000
    assert fetch_document("file:///etc/passwd", policy=FAST).error.startswith("only http and https")
    assert "connection refused" in fetch_document("http://127.0.0.1:9/", policy=FAST).error
    routes["/r0"] = (302, {"Location": "/r1"}, b"")
    routes["/r1"] = (302, {"Location": "/r2"}, b"")
    routes["/r2"] = (200, {}, b"ok")
    assert fetch_document(f"{server}/r0", policy=FetchPolicy(max_redirects=1)).error == "more than 1 redirects"
    assert fetch_document(f"{server}/r0", policy=FAST).body == b"ok"
    routes["/ftp"] = (302, {"Location": "ftp://example.org/x"}, b"")
    assert "not http or https" in fetch_document(f"{server}/ftp", policy=FAST).error


def test_unreachable_site_is_findings_not_a_crash():
    report = verify_target("http://127.0.0.1:9/works/x/a.mp3", policy=FAST)
    assert report.problems and all(p.source.startswith("unreadable signal at http://127.0.0.1:9/")
                                   for p in report.problems)
    assert all(v.decision == "unspecified" for v in report.verdicts.values())


# --------------------------------------------------------------------------------------------
# Fuzzing: every parser gives Signals and SignalProblems, never an exception
# --------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
robots_lines = st.lists(st.one_of(
    st.sampled_from(["User-agent: *", "User-agent: GPTBot", "Allow: /", "Disallow: /works/", "Disallow:",
                     "Content-Usage: / train-ai=n", "Content-Usage: train-ai=y", "License: /rsl.xml", "", "#c",
                     "Disallow: /*.mp3$", "Allow: /works/*/x"]),
    st.text(max_size=40)), max_size=30).map("\n".join)


def _only_signals(items) -> None:
    signals, problems = items
    assert all(isinstance(s, Signal) for s in signals) and all(isinstance(p, SignalProblem) for p in problems)


@FUZZ
@given(text=robots_lines, path=st.text(max_size=30), token=st.sampled_from(["GPTBot", "*", "x", "CCBot"]))
def test_fuzz_robots(text, path, token):
    robots = parse_robots(text)
    decision = match_crawler(robots, token, "/" + path)
    for rule in content_usage_for(decision, "/" + path):
        _only_signals(preference_signals(rule.preference, fmt="content-usage", source="s", location="/"))


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(
        st.sampled_from(["location", "tdm-reservation", "tdm-policy", "x"]), c, max_size=4)), max_leaves=15)
    .map(lambda v: json.dumps(v).encode())), path=st.text(max_size=20))
def test_fuzz_tdmrep_and_policy_and_terms(data, path):
    rules, notes = parse_tdmrep_json(data)
    match_tdmrep(rules, "/" + path)
    assert all(isinstance(n, str) for n in notes)
    parse_tdm_policy(data, url="u")
    _only_signals(terms_json_signals(data, document_url="u", location="/"))


@FUZZ
@given(data=st.one_of(st.binary(max_size=400), st.text(alphabet="<>/=\" &;!-?rslcontentlicensepermits", max_size=200)
                      .map(str.encode), st.builds(lambda a, b: RSL_DOC[:a] + b + RSL_DOC[a:],
                                                  st.integers(0, len(RSL_DOC)), st.binary(max_size=20))))
def test_fuzz_rsl(data):
    _only_signals(rsl_signals(data, document_url="u", path="/works/x", location="/"))


@FUZZ
@given(text=st.one_of(st.text(max_size=60), st.text(alphabet="abn=y,;*?\"() -:19", max_size=60)))
def test_fuzz_content_usage(text):
    _only_signals(preference_signals(text, fmt="content-usage", source="s", location="/"))


@FUZZ
@given(values=st.lists(st.one_of(st.text(max_size=40), st.text(alphabet="noaimgex,: GPTBt", max_size=40)), max_size=4),
       image=st.booleans())
def test_fuzz_x_robots_tag_and_link(values, image):
    for s in robots_directive_signals(values, fmt="x-robots-tag", source="s", location="/", is_image=image,
                                      crawler_tokens={"gptbot"}):
        assert isinstance(s, Signal)
    parse_link_header(values)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.text(alphabet='<>meta name="tdm-reservation" content=1/head', max_size=200)))
def test_fuzz_meta(text):
    head = parse_head(text)
    assert all(isinstance(n, str) and isinstance(c, str) for n, c in head.meta)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(robots=st.binary(max_size=200), tdmrep=st.binary(max_size=200), rsl=st.binary(max_size=200),
       headers=st.one_of(st.binary(max_size=200), st.dictionaries(st.text(max_size=12), st.dictionaries(
           st.sampled_from(["tdm-reservation", "Content-Usage", "X-Robots-Tag", "Link", "tdm-policy"]),
           st.text(max_size=30), max_size=3), max_size=3).map(lambda d: json.dumps(d).encode())),
       path=st.text(max_size=20))
def test_fuzz_whole_folder(robots, tdmrep, rsl, headers, path):
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".well-known").mkdir()
        (root / "robots.txt").write_bytes(robots)
        (root / "ai.txt").write_bytes(robots[::-1])
        (root / ".well-known" / "tdmrep.json").write_bytes(tdmrep)
        (root / "rsl.xml").write_bytes(rsl)
        (root / "headers.json").write_bytes(headers)
        report = verify_target(root, path="/" + path, user_agents=["GPTBot"])
        assert all(isinstance(p, SignalProblem) for p in report.problems)
        assert set(report.verdicts) == {"ai_training", "ai_generative", "voice_likeness", "tdm", "search_indexing"}
        json.dumps(report.as_dict())


def test_xml_with_an_unknown_encoding_is_a_finding_not_a_crash():
    # Found by test_fuzz_rsl: expat raises LookupError, not ExpatError, for encoding="U-TF-8".
    doc = b'<?xml version="1.0" encoding="U-TF-8"?><rsl xmlns="https://rslstandard.org/rsl"/>'
    with pytest.raises(UnsafeXml, match="unreadable XML declaration"):
        parse_xml_safely(doc)
    from consentry.formats.rsl import read_rsl
    parsed, problems = read_rsl(doc, document_url="https://example.org/rsl.xml")
    assert parsed is None and "unreadable signal at https://example.org/rsl.xml" in problems[0].source


def test_a_group_for_a_crawler_whose_token_has_a_digit_is_applied_and_reported(tmp_path):
    """`User-agent: AI2Bot` is read as `AI` by RFC 9309 matchers: the verdict applies it to AI2Bot (what the
    site means) and says, naming the crawler and what the line was read as; img2dataset reads no robots.txt."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "robots.txt").write_text("User-agent: AI2Bot\nUser-agent: img2dataset\nDisallow: /works/\n\n"
                                     "User-agent: *\nAllow: /\n")
    report = verify_target(site, path=f"/works/{WORK_A}/song.mp3", user_agents=["AI2Bot", "img2dataset", "GPTBot"])
    ai2 = [s for s in report.signals if s.format == "robots.txt" and "AI2Bot" in s.detail["user_agents"]]
    assert {s.decision for s in ai2} == {"deny"}
    assert not any("img2dataset" in s.detail.get("user_agents", []) for s in report.signals)
    assert report.verdicts["ai_training"].decision == "deny"
    lines = [f"{p.source}: {p.message}" for p in report.problems]
    ai2_line = next(t for t in lines if "crawler AI2Bot" in t)
    assert "line 1 (User-agent: AI2Bot)" in ai2_line and "reads this line as 'User-agent: AI'" in ai2_line
    img_line = next(t for t in lines if "crawler img2dataset" in t)
    assert "'User-agent: img'" in img_line and "does not read robots.txt" in img_line
    assert not any("crawler GPTBot" in t for t in lines)
    # The RFC 9309 reading itself is unchanged for a crawler whose token is "AI".
    robots = parse_robots("User-agent: AI2Bot\nDisallow: /\n")
    assert match_crawler(robots, "AI", "/x").allowed is False
    assert match_crawler(robots, "AI2Bot", "/x").allowed is False
    assert match_crawler(robots, "AI2Bot-Other", "/x").allowed is True
