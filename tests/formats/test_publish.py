"""consentry.services.publish: every machine-readable form of the terms, read back by real clients."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import time
import urllib.request
import urllib.robotparser
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import http_sf
import pytest
from hypothesis import given, settings, strategies as st
from protego import Protego

from consentry.domain.errors import InputError
from consentry.services.publish import MANIFEST_NAME, Site, build_site, check_site, load_crawlers, write_site
from consentry.services.publish.check import check_robots, site_warnings
from consentry.formats.headers import read_apache, read_caddy, read_nginx
from consentry.formats.mapping import expected_aipref
from consentry.services.publish.plan import build_plan
from consentry.formats.robots import content_usage_rules, match_crawler
from consentry.formats.robots import LIST_WORKS_UP_TO, ROBOTS_LIMIT_BYTES, parse_robots, render_ai_txt, render_robots
from consentry.formats.aipref import preference_labels as parse_aipref
from consentry.services.publish.text import clean_text, format_decimal, normalize_base_url
from consentry.domain.usage import USES

BASE = "https://music.example.org"
RSL = "{https://rslstandard.org/rsl}"

W_LIC = "87c2f239d72ac0e4"  # training and TDM licensed, generative denied
W_OPEN = "0a1b2c3d4e5f6071"  # everything allowed but the voice
W_CLOSED = "f00dfacecafe0001"  # everything denied, search too; terms expired
W_GEN = "1234abcd5678ef90"  # training allowed, generative use licensed per item
W_HOSTILE = "deadbeefdeadbeef"  # hostile title, creator name and jurisdiction

HOSTILE_TITLE = ("<script>alert('x')</script>\r\nUser-agent: *\r\nDisallow: /\n# \u2028Allow: /\u0085"
                 "\ud800 \u202eevil\u202c \x00\x07 " + "Ж" * 5000)
HOSTILE_NAME = 'Ana "Quote" <b>&amp;</b>\nContent-Usage: / train-ai=y'

LICENCE = {"decision": "license", "price": 40.0, "currency": "EUR", "unit": "per-work",
           "contact": "mailto:rights@example.org", "licence_url": "https://example.org/licence"}


def _terms(valid_from="2026-01-01", valid_until=None, jurisdiction="EU", **uses):
    base = {u: {"decision": "deny"} for u in USES}
    base["search_indexing"] = {"decision": "allow"}
    base.update(uses)
    return {"uses": base, "valid_from": valid_from, "valid_until": valid_until, "jurisdiction": jurisdiction}


def _work(wid, title, creator, cid, terms, **extra):
    return {"work_id": wid, "title": title, "creator": creator, "creator_id": cid, "sha256": "ab" * 32,
            "duration_s": 50.0, "file_name": f"{wid}.wav", "registered_at": "2026-01-02T10:00:00+00:00",
            "terms_version": 3, "terms_recorded_at": "2026-02-01T10:00:00+00:00", "terms": terms,
            "terms_source": {u: "work" for u in USES}, **extra}


ALLOW = {"decision": "allow"}


def make_export() -> dict:
    return {
        "generated_at": "2026-11-23T11:00:00+00:00",
        "tool": {"name": "consentry", "version": "0.1.0"},
        "uses": list(USES),
        "creators": [
            {"creator_id": "ana-lima", "name": "Ana Lima", "default_terms": None, "default_terms_version": None,
             "works": [W_LIC, W_OPEN, W_HOSTILE]},
            {"creator_id": "bjork-like", "name": "Bj\u00f6rk-like \u202eevil", "default_terms_version": 2,
             "default_terms": {"uses": {"ai_training": ALLOW}, "valid_from": None, "valid_until": None,
                               "jurisdiction": "IS"},
             "works": [W_GEN]},
        ],
        "works": [
            _work(W_LIC, "Quiet Parade", "Ana Lima", "ana-lima", _terms(ai_training=LICENCE, tdm=LICENCE)),
            _work(W_OPEN, "Open Field", "Ana Lima", "ana-lima",
                  _terms(jurisdiction="worldwide", ai_training=ALLOW, ai_generative=ALLOW, tdm=ALLOW)),
            _work(W_CLOSED, "Closed Door", "Nobody Listed", "ghost",
                  _terms(valid_from="2025-01-01", valid_until="2025-12-31", search_indexing={"decision": "deny"})),
            _work(W_GEN, "Per Item", "Bj\u00f6rk-like", "bjork-like",
                  _terms(jurisdiction=None, ai_training=ALLOW, tdm=ALLOW,
                         ai_generative={"decision": "license", "price": 0.015, "currency": "usd", "unit": "per-item",
                                        "contact": "https://example.org/contact"})),
            _work(W_HOSTILE, HOSTILE_TITLE, HOSTILE_NAME, "ana-lima",
                  _terms(jurisdiction="EU\nUser-agent: x", ai_training=ALLOW)),
        ],
    }


def export_terms(export, wid):
    return next(w for w in export["works"] if w["work_id"] == wid)["terms"]["uses"]


def may_fetch(export, wid, uses) -> bool:
    """The intended rule, straight from the export: a crawler may fetch only if all its uses are allowed."""
    t = export_terms(export, wid)
    return all(t[u]["decision"] == "allow" for u in uses)


@pytest.fixture(scope="module")
def export():
    return make_export()


@pytest.fixture(scope="module")
def site(export):
    return build_site(export, base_url=BASE)


def text(site, name):
    return site.files[name].decode("utf-8")


def replace_in(site: Site, name: str, old: str, new: str, count: int = 1) -> Site:
    body = text(site, name)
    assert old in body, f"{old!r} not in {name}"
    files = dict(site.files)
    files[name] = body.replace(old, new, count).encode("utf-8")
    return dataclasses.replace(site, files=files)


def without(site: Site, name: str) -> Site:
    files = dict(site.files)
    del files[name]
    return dataclasses.replace(site, files=files)


# ---------------------------------------------------------------- the whole site


def test_fresh_site_has_no_contradictions(site, export):
    assert check_site(site, export) == []


def test_layout_of_docs_terms_model(site):
    expected = {"robots.txt", "ai.txt", ".well-known/tdmrep.json", "rsl.xml", "headers.json",
                "server/nginx.conf", "server/apache.htaccess", "server/Caddyfile",
                "terms/index.html", "terms/index.json",
                "terms/creators/ana-lima.html", "terms/creators/ana-lima.json",
                "terms/creators/bjork-like.html", "terms/creators/bjork-like.json",
                f"tdm/policies/{W_LIC}.json"}
    expected |= {f"terms/works/{w}.{ext}" for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE) for ext in ("html", "json")}
    assert set(site.files) == expected
    assert [p for p, _ in site.headers] == [f"/works/{w}/*" for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE)]


def test_build_is_pure_and_deterministic(export):
    before = copy.deepcopy(export)
    a = build_site(export, base_url=BASE)
    b = build_site(copy.deepcopy(export), base_url=BASE + "/")
    assert a == b
    assert export == before


# ---------------------------------------------------------------- robots.txt, ai.txt


def test_robots_txt_read_by_robotparser_and_protego(site, export):
    body = text(site, "robots.txt")
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(body.splitlines())
    pr = Protego.parse(body)
    agents = [(c.token, c.uses) for c in ROBOTS_READERS()] + [("Googlebot", ("search_indexing",)),
                                                             ("SomeNewBot", ("search_indexing",))]
    checked = 0
    for token, uses in agents:
        for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE):
            url = f"{BASE}/works/{w}/track.wav"
            want = may_fetch(export, w, uses)
            assert rp.can_fetch(token, url) is want, (token, w, "urllib.robotparser")
            assert pr.can_fetch(url, token) is want, (token, w, "protego")
            checked += 1
        for page in ("/terms/index.html", f"/terms/works/{W_CLOSED}.html", "/rsl.xml", "/.well-known/tdmrep.json"):
            assert rp.can_fetch(token, BASE + page) and pr.can_fetch(BASE + page, token), (token, page)
    assert checked == len(agents) * 5
    # Training crawlers are kept off works whose training is denied or only licensed.
    assert not rp.can_fetch("GPTBot", f"{BASE}/works/{W_LIC}/a") and rp.can_fetch("GPTBot", f"{BASE}/works/{W_OPEN}/a")
    assert rp.can_fetch("OAI-SearchBot", f"{BASE}/works/{W_LIC}/a")  # search crawlers follow search_indexing


def _usage_by_path(body: str) -> dict[str, list[dict]]:
    """Every Content-Usage line of a robots.txt, read with http-sf: path -> values (one per group)."""
    out: dict[str, list[dict]] = {}
    for ln in body.splitlines():
        if ln.startswith("Content-Usage:"):
            path, pref = ln[len("Content-Usage:"):].strip().split(" ", 1)
            parsed = http_sf.parse(pref.encode(), tltype="dictionary")
            out.setdefault(path, []).append({k: str(v[0]) for k, v in parsed.items()})
    return out


def test_robots_content_usage_lines_are_structured_fields(site, export):
    body = text(site, "robots.txt")
    groups = body.splitlines().count("User-agent: *") + len({c.uses for c in ROBOTS_READERS()})
    by_path = _usage_by_path(body)
    # One default for /works/ per group (the most common value), and a line per work that differs from it.
    assert by_path["/works/"] == [{"train-ai": "n", "ai-use": "n", "search": "y"}] * groups
    default = by_path["/works/"][0]
    assert set(by_path) == {"/works/", f"/works/{W_OPEN}/", f"/works/{W_CLOSED}/"}
    for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE):
        t = export_terms(export, w)
        train = "y" if t["ai_training"]["decision"] == t["ai_generative"]["decision"] == "allow" else "n"
        want = {"train-ai": train,
                "ai-use": "y" if t["ai_generative"]["decision"] == "allow" else "n",
                "search": "y" if t["search_indexing"]["decision"] == "allow" else "n"}
        assert by_path.get(f"/works/{w}/", [default] * groups) == [want] * groups, w


def group_rules(body: str, agent: str) -> list[str]:
    """The lines after the ``User-agent`` lines (and their comments) of the group naming ``agent``, to its end."""
    lines = body.splitlines()
    i = lines.index(f"User-agent: {agent}")
    while i < len(lines) and (lines[i].startswith("User-agent:") or lines[i].startswith("#")):
        i += 1
    end = lines.index("", i) if "" in lines[i:] else len(lines)
    return lines[i:end]


def test_robots_groups_write_a_works_default_and_its_exceptions(site):
    body = text(site, "robots.txt")
    lines = body.splitlines()
    gpt = group_rules(body, "GPTBot")
    # Four of the five works are refused to the training crawlers: /works/ is refused, the open work allowed,
    # and the more specific line comes first so that first-match readers agree with longest-match ones.
    assert gpt[:4] == [f"Allow: /works/{W_OPEN}/", "Disallow: /works/", "Allow: /terms/", "Allow: /"]
    # ImagesiftBot (ai_training, tdm) may fetch two works and not three: a tie in lines, so per-work refusals.
    assert group_rules(body, "ImagesiftBot")[:5] == [f"Disallow: /works/{W_LIC}/", f"Disallow: /works/{W_CLOSED}/",
                                                     f"Disallow: /works/{W_HOSTILE}/", "Allow: /terms/", "Allow: /"]
    star = group_rules(body, "*")
    assert star[:3] == [f"Disallow: /works/{W_CLOSED}/", "Allow: /terms/", "Allow: /"]
    # Content-Usage: the works that differ first, then the /works/ default.
    assert star[3:] == [f"Content-Usage: /works/{W_OPEN}/ train-ai=y, ai-use=y, search=y",
                        f"Content-Usage: /works/{W_CLOSED}/ train-ai=n, ai-use=n, search=n",
                        "Content-Usage: /works/ train-ai=n, ai-use=n, search=y"]
    # A small site still names every work in the header.
    assert f"# /works/{W_GEN}/ Per Item / Björk-like" in lines
    ai = text(site, "ai.txt").splitlines()
    assert ai[ai.index("User-Agent: *") + 1:] == ["# Open Field / Ana Lima", f"Allow: /works/{W_OPEN}/",
                                                   "Disallow: /works/", "Allow: /terms/", "Allow: /"]


def test_robots_and_ai_txt_cannot_be_injected_by_titles(site):
    for name in ("robots.txt", "ai.txt"):
        for ln in text(site, name).splitlines():
            if not ln or ln.startswith("#"):
                continue
            key, _, value = ln.partition(":")
            assert key in ("User-agent", "User-Agent", "Allow", "Disallow", "Content-Usage", "License"), ln
            assert "script" not in ln and "Ж" not in ln
            if key in ("Allow", "Disallow"):
                assert value.strip() in ("/", "/terms/") or value.strip().startswith("/works/"), ln
        comments = [ln for ln in text(site, name).splitlines() if ln.startswith("#")]
        assert all(len(c) < 250 for c in comments)
    assert "Disallow: /\n" not in text(site, "robots.txt")


def test_ai_txt_follows_training_terms(site, export):
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(text(site, "ai.txt").splitlines())
    for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE):
        assert rp.can_fetch("AnyDatasetBuilder", f"{BASE}/works/{w}/x.wav") is may_fetch(
            export, w, ("ai_training", "ai_generative"))


# ---------------------------------------------------------------- TDMRep


def test_tdmrep_json_one_rule_per_work(site, export):
    rules = json.loads(site.files[".well-known/tdmrep.json"])
    assert [r["location"] for r in rules] == [f"/works/{w}/*" for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE)]
    for r in rules:
        wid = r["location"].split("/")[2]
        decision = export_terms(export, wid)["tdm"]["decision"]
        assert r["tdm-reservation"] == (0 if decision == "allow" else 1)
        assert ("tdm-policy" in r) is (decision == "license")
    assert rules[0]["tdm-policy"] == f"{BASE}/tdm/policies/{W_LIC}.json"


def test_tdm_policy_carries_price_currency_contact_licence(site):
    p = json.loads(site.files[f"tdm/policies/{W_LIC}.json"])
    assert p["@context"][0] == "http://www.w3.org/ns/odrl.jsonld"
    assert p["@context"][1] == {"tdm": "http://www.w3.org/ns/tdmrep#"}
    assert p["@type"] == "Offer" and p["profile"] == "http://www.w3.org/ns/tdmrep"
    assert p["uid"] == f"{BASE}/tdm/policies/{W_LIC}.json"
    assert p["assigner"]["vcard:hasEmail"] == "mailto:rights@example.org"
    assert p["assigner"]["vcard:hasURL"] == "https://example.org/licence"
    perm = p["permission"][0]
    assert perm["action"] == "tdm:mine" and perm["target"] == f"{BASE}/works/{W_LIC}/"
    ref = perm["duty"][0]["action"][0]["refinement"][0]
    assert ref["leftOperand"] == "payAmount" and ref["rightOperand"] == {"@value": "40.00", "@type": "xsd:decimal"}
    assert ref["unit"] == "urn:iso:std:iso:4217:EUR"
    assert p["dct:coverage"] == "EU"


# ---------------------------------------------------------------- RSL


def test_rsl_document_read_with_elementtree(site):
    root = ET.fromstring(site.files["rsl.xml"])
    assert root.tag == RSL + "rsl"
    contents = {c.get("url"): c for c in root.findall(RSL + "content")}
    assert set(contents) == {f"{BASE}/works/{w}/" for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE)}

    def licences(wid):
        out = []
        for lic in contents[f"{BASE}/works/{wid}/"].findall(RSL + "license"):
            permits = lic.find(RSL + "permits")
            prohibits = lic.find(RSL + "prohibits")
            pay = lic.find(RSL + "payment")
            amount = pay.find(RSL + "amount") if pay is not None else None
            out.append({"permits": permits.text.split(",") if permits is not None and permits.text else [],
                        "prohibits": prohibits.text.split(",") if prohibits is not None else [],
                        "payment": pay.get("type") if pay is not None else None,
                        "amount": (amount.text, amount.get("currency")) if amount is not None else None})
        return out

    lic = licences(W_LIC)
    assert {"permits": ["search"], "prohibits": ["ai-train", "ai-input", "ai-index"], "payment": "free", "amount": None} in lic
    # Training is licensed, but ai_generative is denied, so the strictest (deny) wins for ai-train.
    assert all("ai-train" not in x["permits"] for x in lic)
    gen = licences(W_GEN)
    # Training is allowed but generative use is licensed: a token covering both takes the
    # stricter decision, so ai-train is licensed together with ai-input and ai-index.
    assert {"permits": ["ai-train", "ai-input", "ai-index"], "prohibits": [], "payment": "use",
            "amount": ("0.015", "USD")} in gen
    assert {"permits": ["search"], "prohibits": [], "payment": "free", "amount": None} in gen
    closed = licences(W_CLOSED)
    assert closed == [{"permits": [], "prohibits": ["ai-train", "ai-input", "ai-index", "search"], "payment": None,
                       "amount": None}]
    assert contents[f"{BASE}/works/{W_LIC}/"].find(RSL + "copyright").get("contactEmail") == "rights@example.org"


def test_rsl_licensed_training_price(export):
    e = copy.deepcopy(export)
    next(w for w in e["works"] if w["work_id"] == W_LIC)["terms"]["uses"]["ai_generative"] = {"decision": "allow"}
    s = build_site(e, base_url=BASE)
    root = ET.fromstring(s.files["rsl.xml"])
    content = next(c for c in root.findall(RSL + "content") if c.get("url") == f"{BASE}/works/{W_LIC}/")
    paid = [lic for lic in content.findall(RSL + "license") if lic.find(RSL + "payment").get("type") == "purchase"]
    assert len(paid) == 1
    assert paid[0].find(RSL + "permits").text == "ai-train"
    amount = paid[0].find(f"{RSL}payment/{RSL}amount")
    assert (amount.text, amount.get("currency")) == ("40.00", "EUR")
    assert paid[0].find(f"{RSL}payment/{RSL}standard").text == "https://example.org/licence"
    assert check_site(s, e) == []


# ---------------------------------------------------------------- headers and server snippets


def test_headers_per_work(site):
    h = dict(site.headers)
    lic = h[f"/works/{W_LIC}/*"]
    assert lic["tdm-reservation"] == "1"
    assert lic["tdm-policy"] == f"{BASE}/tdm/policies/{W_LIC}.json"
    assert lic["X-Robots-Tag"] == "noai, noimageai"
    assert lic["Link"].startswith(f'<{BASE}/terms/works/{W_LIC}.json>; rel="license"')
    assert "X-Robots-Tag" not in h[f"/works/{W_OPEN}/*"] and "tdm-policy" not in h[f"/works/{W_OPEN}/*"]
    assert h[f"/works/{W_CLOSED}/*"]["X-Robots-Tag"] == "noai, noimageai, noindex"
    for _, hdrs in site.headers:
        parsed = http_sf.parse(hdrs["Content-Usage"].encode(), tltype="dictionary")
        assert set(parsed) == {"train-ai", "ai-use", "search"}
        for value in hdrs.values():
            assert value.isascii() and "\n" not in value and "\r" not in value and "$" not in value
    listed = json.loads(site.files["headers.json"])
    assert [(e["path"], e["headers"]) for e in listed] == site.headers


def test_server_snippets_send_exactly_site_headers(site):
    assert read_nginx(text(site, "server/nginx.conf")) == site.headers
    assert read_apache(text(site, "server/apache.htaccess")) == site.headers
    assert read_caddy(text(site, "server/Caddyfile")) == site.headers
    for name in ("server/nginx.conf", "server/apache.htaccess", "server/Caddyfile"):
        body = text(site, name)
        assert "script" not in body and "Ж" not in body and "Quote" not in body  # no untrusted text at all


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed")
def test_nginx_really_sends_the_headers(site, tmp_path):
    root = write_site(site, tmp_path / "www")
    for w in (W_LIC, W_OPEN):
        (root / "works" / w).mkdir(parents=True)
        (root / "works" / w / "track.wav").write_bytes(b"RIFF")
    port = _free_port()
    conf = tmp_path / "nginx-test.conf"
    conf.write_text(
        ""
        # As root, nginx's workers would switch to "nobody", who cannot read pytest's 0700 tmp dirs.
        + ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        "events { worker_connections 16; }\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path};\n"
        f"fastcgi_temp_path {tmp_path}; uwsgi_temp_path {tmp_path}; scgi_temp_path {tmp_path};\n"
        f"server {{ listen 127.0.0.1:{port}; root {root};\ninclude {root}/server/nginx.conf;\n}} }}\n")
    check = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        for pattern, hdrs in site.headers[:2]:
            url = f"http://127.0.0.1:{port}{pattern[:-1]}track.wav"
            with urllib.request.urlopen(url, timeout=5) as resp:
                for name, value in hdrs.items():
                    assert resp.headers[name] == value, (name, url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy not installed")
def test_caddy_adapts_the_snippet_to_the_same_headers(site, tmp_path):
    root = write_site(site, tmp_path / "www")
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(f"import {root}/server/Caddyfile\n\nhttp://localhost:8080 {{\n\timport consentry_ai_headers\n"
                         f"\troot * {root}\n\tfile_server\n}}\n")
    out = subprocess.run(["caddy", "adapt", "--config", str(caddyfile), "--adapter", "caddyfile"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    config = json.loads(out.stdout)
    found = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("handler") == "headers" and "response" in node:
                found.setdefault("sets", []).append({k: v[0] for k, v in node["response"]["set"].items()})
            if "match" in node:
                for m in node["match"]:
                    if "path" in m:
                        found.setdefault("paths", []).append(m["path"][0])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    # Header names are case-insensitive (RFC 9110 5.1); Caddy canonicalises them.
    assert [{k.lower(): v for k, v in h.items()} for h in found["sets"]] == \
        [{k.lower(): v for k, v in h.items()} for _, h in site.headers]
    assert sorted(found["paths"]) == sorted(p for p, _ in site.headers)


@pytest.mark.skipif(shutil.which("apache2") is None, reason="apache2 not installed")
def test_apache_accepts_the_htaccess_as_config(site, tmp_path):
    root = write_site(site, tmp_path / "www")
    mods = Path("/usr/lib/apache2/modules")
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\nListen 127.0.0.1:{_free_port()}\nPidFile {tmp_path}/httpd.pid\n"
        f"ErrorLog {tmp_path}/error.log\nServerName localhost\n"
        + "".join(f"LoadModule {m}_module {mods}/mod_{m}.so\n" for m in ("mpm_event", "authz_core", "headers"))
        + f"DocumentRoot {root}\nInclude {root}/server/apache.htaccess\n")
    env = {**os.environ, "APACHE_RUN_DIR": str(tmp_path), "APACHE_LOCK_DIR": str(tmp_path),
           "APACHE_LOG_DIR": str(tmp_path)}
    out = subprocess.run(["apache2", "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 0, out.stderr + out.stdout


# ---------------------------------------------------------------- terms pages


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.meta, self.lang, self.th, self.rows, self.data = [], {}, None, [], {}, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "meta" and "name" in a:
            self.meta[a["name"]] = a.get("content")
        if tag == "th":
            self.th.append(a.get("scope"))
        if tag == "tr" and "data-use" in a:
            self.rows[a["data-use"]] = a

    def handle_data(self, data):
        self.data.append(data)


def parse_page(site, name) -> PageParser:
    p = PageParser()
    p.feed(text(site, name))
    p.close()
    return p


def test_work_page_meta_and_table(site, export):
    p = parse_page(site, f"terms/works/{W_LIC}.html")
    assert p.lang == "en" and "h1" in p.tags and "caption" in p.tags and "script" not in p.tags
    assert all(scope in ("col", "row") for scope in p.th)
    assert p.meta["tdm-reservation"] == "1"
    assert p.meta["tdm-policy"] == f"{BASE}/tdm/policies/{W_LIC}.json"
    assert set(p.rows) == set(USES)
    assert p.rows["ai_training"]["data-decision"] == "license"
    assert (p.rows["ai_training"]["data-price"], p.rows["ai_training"]["data-currency"]) == ("40.00", "EUR")
    assert "Jurisdiction" in "".join(p.data) and "EU" in "".join(p.data)
    p_open = parse_page(site, f"terms/works/{W_OPEN}.html")
    assert p_open.meta["tdm-reservation"] == "0" and "tdm-policy" not in p_open.meta
    assert "worldwide" in "".join(p_open.data)


def test_untrusted_text_is_escaped_in_pages_and_valid_everywhere(site):
    page = text(site, f"terms/works/{W_HOSTILE}.html")
    p = parse_page(site, f"terms/works/{W_HOSTILE}.html")
    assert "script" not in p.tags and "b" not in p.tags
    assert "<script>" not in page and "&lt;script&gt;" in page
    shown = "".join(p.data)
    assert "<script>alert('x')</script>" in shown  # shown as text, not run
    assert 'Ana "Quote" <b>&amp;</b> Content-Usage: / train-ai=y' in shown
    assert "\u202e" not in page and "\x00" not in page and "\ud800" not in page
    j = json.loads(site.files[f"terms/works/{W_HOSTILE}.json"])
    assert j["title"].startswith("<script>alert('x')</script> User-agent: * Disallow: / # Allow: /")
    assert len(j["title"]) <= 1000 and j["title"].endswith("…")
    assert j["jurisdiction"] == "EU User-agent: x"
    ET.fromstring(site.files["rsl.xml"])  # still well-formed XML
    for name, data in site.files.items():
        data.decode("utf-8")
        if name.endswith(".json"):
            json.loads(data)


def test_expired_terms_are_published_and_say_so(site, export):
    p = parse_page(site, f"terms/works/{W_CLOSED}.html")
    assert "These terms are not in force on 2026-11-23." in "".join(p.data)
    j = json.loads(site.files[f"terms/works/{W_CLOSED}.json"])
    assert j["in_force"] is False and j["checked_on"] == "2026-11-23" and j["valid_until"] == "2025-12-31"
    assert json.loads(site.files[f"terms/works/{W_LIC}.json"])["in_force"] is True
    earlier = build_site(export, base_url=BASE, today=dt.date(2025, 6, 1))
    assert json.loads(earlier.files[f"terms/works/{W_CLOSED}.json"])["in_force"] is True
    assert json.loads(earlier.files[f"terms/works/{W_LIC}.json"])["in_force"] is False
    assert check_site(earlier, export, today=dt.date(2025, 6, 1)) == []


def test_json_pages_carry_every_use(site, export):
    for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE):
        j = json.loads(site.files[f"terms/works/{w}.json"])
        assert list(j["uses"]) == list(USES)
        for u in USES:
            want = export_terms(export, w)[u]
            assert j["uses"][u]["decision"] == want["decision"]
        assert j["signals"]["headers"] == dict(site.headers)[f"/works/{w}/*"]
    gen = json.loads(site.files[f"terms/works/{W_GEN}.json"])["uses"]["ai_generative"]
    assert (gen["price"], gen["currency"], gen["unit"]) == (0.015, "USD", "per-item")
    index = json.loads(site.files["terms/index.json"])
    assert [w["work_id"] for w in index["works"]] == [W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE]
    creator = json.loads(site.files["terms/creators/bjork-like.json"])
    assert creator["default_terms"]["uses"]["ai_training"]["decision"] == "allow"
    assert creator["name"] == "Björk-like evil"


def test_creator_and_index_pages_link_every_work(site):
    p = parse_page(site, "terms/creators/ana-lima.html")
    assert p.lang == "en" and all(s in ("col", "row") for s in p.th)
    page = text(site, "terms/index.html")
    for w in (W_LIC, W_OPEN, W_CLOSED, W_GEN, W_HOSTILE):
        assert f'href="/terms/works/{w}.html"' in page
    assert 'href="/terms/creators/ghost.html"' not in page  # a creator with no entry gets no page link


# ---------------------------------------------------------------- check_site finds each contradiction


def _has(problems, *words):
    return any(all(w in p for w in words) for p in problems)


def test_check_finds_robots_allowing_a_training_crawler(site, export):
    bad = replace_in(site, "robots.txt", "Disallow: /works/\n", "")  # first group: GPTBot & co.
    problems = check_site(bad, export)
    assert _has(problems, "robots.txt", "User-agent: GPTBot", "allows", W_LIC)
    bad = replace_in(site, "robots.txt", f"Disallow: /works/{W_LIC}/\n", "")  # ImagesiftBot: per-work refusals
    assert _has(check_site(bad, export), "robots.txt", "User-agent: ImagesiftBot", "allows", W_LIC)
    bad = replace_in(site, "robots.txt", f"Allow: /works/{W_OPEN}/\n", f"Allow: /works/{W_LIC}/\n")
    problems = check_site(bad, export)
    assert _has(problems, "User-agent: GPTBot", "allows", W_LIC) and _has(problems, "User-agent: GPTBot", "disallows", W_OPEN)


def test_check_finds_rules_in_an_order_first_match_readers_misread(site, export):
    # The longest match still reads it right, urllib.robotparser (first match) does not.
    bad = replace_in(site, "robots.txt", f"Allow: /works/{W_OPEN}/\nDisallow: /works/\n",
                     f"Disallow: /works/\nAllow: /works/{W_OPEN}/\n")
    problems = check_site(bad, export)
    assert _has(problems, "robots.txt", "User-agent: GPTBot", "disallows", W_OPEN, "first matching line")
    assert not _has(problems, W_LIC)
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(text(bad, "robots.txt").splitlines())
    assert not rp.can_fetch("GPTBot", f"{BASE}/works/{W_OPEN}/a")  # what the check warns about
    bad = replace_in(site, "ai.txt", f"Allow: /works/{W_OPEN}/\nDisallow: /works/\n",
                     f"Disallow: /works/\nAllow: /works/{W_OPEN}/\n")
    assert _has(check_site(bad, export), "ai.txt", "disallows", W_OPEN, "first matching line")


def test_check_finds_tdmrep_reserving_an_allowed_work(site, export):
    rules = json.loads(site.files[".well-known/tdmrep.json"])
    rules[1]["tdm-reservation"] = 1
    files = dict(site.files, **{".well-known/tdmrep.json": json.dumps(rules).encode()})
    problems = check_site(dataclasses.replace(site, files=files), export)
    assert _has(problems, "tdmrep.json", "tdm-reservation 1", "allow")


def test_check_finds_an_rsl_price_that_differs(export):
    e = copy.deepcopy(export)
    next(w for w in e["works"] if w["work_id"] == W_LIC)["terms"]["uses"]["ai_generative"] = {"decision": "allow"}
    s = build_site(e, base_url=BASE)
    bad = replace_in(s, "rsl.xml", '<amount currency="EUR">40.00</amount>', '<amount currency="EUR">50.00</amount>')
    assert _has(check_site(bad, e), "rsl.xml", "price", "ai-train", "50.00", "40.00")
    bad = replace_in(s, "rsl.xml", '<amount currency="EUR">40.00</amount>', '<amount currency="USD">40.00</amount>')
    assert _has(check_site(bad, e), "rsl.xml", "USD")


def test_check_finds_header_and_meta_disagreeing(site, export):
    bad = replace_in(site, f"terms/works/{W_LIC}.html", '<meta name="tdm-reservation" content="1">',
                     '<meta name="tdm-reservation" content="0">')
    assert _has(check_site(bad, export), f"terms/works/{W_LIC}.html", "tdm-reservation", "header")
    headers = [(p, dict(h)) for p, h in site.headers]
    headers[1][1]["tdm-reservation"] = "1"
    problems = check_site(dataclasses.replace(site, headers=headers), export)
    assert _has(problems, f"terms/works/{W_OPEN}.html", "meta", "header")
    assert _has(problems, "headers.json", "differs")
    assert _has(problems, "server/nginx.conf", "tdm-reservation")
    assert _has(problems, "Site.headers", "tdm-reservation")


def test_check_finds_a_work_missing_from_an_output(site, export):
    assert _has(check_site(without(site, f"terms/works/{W_GEN}.html"), export), f"terms/works/{W_GEN}.html", "missing")
    rules = [r for r in json.loads(site.files[".well-known/tdmrep.json"]) if W_GEN not in r["location"]]
    files = dict(site.files, **{".well-known/tdmrep.json": json.dumps(rules).encode()})
    assert _has(check_site(dataclasses.replace(site, files=files), export), "tdmrep.json", "no rule", W_GEN)
    root = ET.fromstring(site.files["rsl.xml"])
    for c in root.findall(RSL + "content"):
        if W_GEN in c.get("url"):
            root.remove(c)
    files = dict(site.files, **{"rsl.xml": ET.tostring(root)})
    assert _has(check_site(dataclasses.replace(site, files=files), export), "rsl.xml", "no <content", W_GEN)
    headers = [(p, h) for p, h in site.headers if W_GEN not in p]
    assert _has(check_site(dataclasses.replace(site, headers=headers), export), "Site.headers", "no headers", W_GEN)
    bad = replace_in(site, "robots.txt", "Content-Usage: /works/ ", "# gone ", count=-1)  # W_GEN has the default
    assert _has(check_site(bad, export), "robots.txt", "no Content-Usage", W_GEN)
    assert _has(check_site(without(site, f"tdm/policies/{W_LIC}.json"), export), "tdm/policies", "missing")


def test_check_finds_corrupted_snippets_pages_and_policies(site, export):
    bad = replace_in(site, "server/Caddyfile", "noai, noimageai", "noai")
    assert _has(check_site(bad, export), "server/Caddyfile", "X-Robots-Tag")
    bad = replace_in(site, "server/apache.htaccess", f"m#^/works/{W_OPEN}/#", "m#^/works/other/#")
    assert _has(check_site(bad, export), "server/apache.htaccess")
    j = json.loads(site.files[f"terms/works/{W_CLOSED}.json"])
    j["uses"]["ai_training"]["decision"] = "allow"
    files = dict(site.files, **{f"terms/works/{W_CLOSED}.json": json.dumps(j).encode()})
    assert _has(check_site(dataclasses.replace(site, files=files), export), f"{W_CLOSED}.json", "ai_training", "deny")
    bad = replace_in(site, f"tdm/policies/{W_LIC}.json", '"40.00"', '"4.00"')
    assert _has(check_site(bad, export), f"tdm/policies/{W_LIC}.json", "price 4.00")
    files = dict(site.files, **{f"tdm/policies/{W_OPEN}.json": site.files[f"tdm/policies/{W_LIC}.json"]})
    assert _has(check_site(dataclasses.replace(site, files=files), export), W_OPEN, "not license")
    bad = replace_in(site, "ai.txt", "Disallow: /works/\n", "")
    assert _has(check_site(bad, export), "ai.txt", "allows", W_LIC)
    bad = replace_in(site, "robots.txt", "Content-Usage: /works/ train-ai=n", "Content-Usage: /works/ train-ai=y")
    assert _has(check_site(bad, export), "robots.txt", "User-agent: GPTBot", "Content-Usage", W_LIC)
    bad = replace_in(site, "robots.txt", f"Content-Usage: /works/{W_CLOSED}/ train-ai=n, ai-use=n, search=n",
                     f"Content-Usage: /works/{W_CLOSED}/ train-ai=n, ai-use=n, search=y")
    assert _has(check_site(bad, export), "robots.txt", "Content-Usage", W_CLOSED, "search=n")
    bad = replace_in(site, f"terms/works/{W_OPEN}.html", "<main>", "<main><script>alert(1)</script>")
    assert _has(check_site(bad, export), f"{W_OPEN}.html", "<script>")
    bad = replace_in(site, f"terms/works/{W_OPEN}.html", 'data-use="tdm" data-decision="allow"',
                     'data-use="tdm" data-decision="deny"')
    assert _has(check_site(bad, export), f"{W_OPEN}.html", "tdm")
    bad = replace_in(site, f"terms/works/{W_CLOSED}.html", 'data-in-force="false"', "")
    assert _has(check_site(bad, export), f"{W_CLOSED}.html", "not in force")
    bad = replace_in(site, "terms/index.html", f'data-work="{W_GEN}"', 'data-work="nothing"')
    assert _has(check_site(bad, export), "terms/index.html", W_GEN, "missing")
    bad = replace_in(site, "robots.txt", "\nUser-agent: *\n", "\nUser-agent: *\nDisallow: /terms/index\n")
    assert _has(check_site(bad, export), "robots.txt", "terms pages")


# ---------------------------------------------------------------- robots.txt for large catalogues


_DENY_ALL = {**{u: {"decision": "deny"} for u in USES}, "search_indexing": ALLOW}
_KINDS = {
    "deny": _DENY_ALL,
    "open": {**{u: ALLOW for u in USES}, "voice_likeness": {"decision": "deny"}},
    "licensed": {**_DENY_ALL, "ai_training": LICENCE, "tdm": LICENCE},
    "train-only": {**_DENY_ALL, "ai_training": ALLOW, "tdm": ALLOW},  # ImagesiftBot may fetch, GPTBot may not
    "unsearchable": {**_DENY_ALL, "search_indexing": {"decision": "deny"}},
}


def catalogue(n: int, kind) -> dict:
    """An export of ``n`` works with 16-hex-digit ids, built cheaply: work ``i`` has the terms ``_KINDS[kind(i)]``."""
    return {"generated_at": "2026-11-23T11:00:00+00:00", "tool": {"name": "consentry", "version": "0.1.0"},
            "creators": [],
            "works": [{"work_id": f"{i:016x}", "title": f"Work {i}", "creator": "Collecting Society",
                       "terms": {"uses": _KINDS[kind(i)], "valid_from": None, "valid_until": None,
                                 "jurisdiction": None}} for i in range(n)]}


def robots_site(export) -> Site:
    """Only robots.txt and ai.txt of the site ``build_site`` would make (the pages of 20,000 works take minutes)."""
    plan = build_plan(export, base_url=BASE)
    return Site(base_url=plan.base_url, files={"robots.txt": render_robots(plan, load_crawlers()).encode("utf-8"),
                                               "ai.txt": render_ai_txt(plan).encode("utf-8")})


def _collecting_society(i: int) -> str:
    if i % 400 == 7:
        return "unsearchable"  # 50 works
    return {1: "open", 2: "licensed", 3: "train-only"}.get(i % 40, "deny")  # 500 of each, the rest refused


@pytest.fixture(scope="module")
def big_export():
    return catalogue(20_000, _collecting_society)


def test_robots_for_20000_works_stays_under_the_rfc_limit_and_exact(big_export):
    e = big_export
    s = robots_site(e)
    body = text(s, "robots.txt")
    assert len(s.files["robots.txt"]) < ROBOTS_LIMIT_BYTES
    assert check_robots(s, e) == []  # every work, every crawler, longest and first match, Content-Usage
    assert "# /works/0000000000000000/" not in body and f"{BASE}/terms/index.json" in body
    rng = random.Random(9309)
    sample_ids = sorted({*range(0, 120), 407, 10_007, 19_999, *rng.sample(range(20_000), 60)})
    sample = {"works": [e["works"][i] for i in sample_ids]}
    assert {_collecting_society(i) for i in sample_ids} == set(_KINDS)
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(body.splitlines())
    pr = Protego.parse(body)
    agents = [(c.token, c.uses) for c in ROBOTS_READERS()] + [("Googlebot", ("search_indexing",))]
    for token, uses in agents:
        for i in sample_ids:
            wid = f"{i:016x}"
            url = f"{BASE}/works/{wid}/track.wav"
            want = may_fetch(sample, wid, uses)
            assert rp.can_fetch(token, url) is want, (token, wid, "urllib.robotparser")
            assert pr.can_fetch(url, token) is want, (token, wid, "protego")
        assert rp.can_fetch(token, f"{BASE}/terms/index.html") and pr.can_fetch(f"{BASE}/terms/index.html", token)
    ai = urllib.robotparser.RobotFileParser()
    ai.parse(text(s, "ai.txt").splitlines())
    for i in sample_ids:
        wid = f"{i:016x}"
        assert ai.can_fetch("AnyDatasetBuilder", f"{BASE}/works/{wid}/x.wav") is may_fetch(
            sample, wid, ("ai_training", "ai_generative"))


def test_robots_over_the_rfc_limit_is_a_warning(site, export):
    padding = ("# " + "x" * 97 + "\n") * 5200  # 520,000 bytes of comments, nothing else wrong
    bad = replace_in(site, "robots.txt", "License:", padding + "License:")
    # Too big to be read whole, but not a contradiction: a warning, and the site is otherwise consistent.
    assert check_site(bad, export) == []
    warnings = site_warnings(bad)
    assert len(warnings) == 1 and warnings[0].startswith("robots.txt: ") and "500 KiB" in warnings[0]
    assert site_warnings(site) == []
    # As many works allowed as refused: the exceptions are half the works, and 4,000 works are too many.
    e = catalogue(4_000, lambda i: "open" if i % 2 else "deny")
    s = robots_site(e)
    assert len(s.files["robots.txt"]) > ROBOTS_LIMIT_BYTES
    assert check_robots(s, e) == []
    assert any(w.startswith("robots.txt: ") for w in site_warnings(s))


def test_robots_lists_works_only_for_small_sites():
    def header(n):
        return text(robots_site(catalogue(n, _collecting_society)), "robots.txt").split("\nUser-agent:", 1)[0]
    small, large = header(LIST_WORKS_UP_TO), header(LIST_WORKS_UP_TO + 1)
    assert small.count("\n# /works/") == LIST_WORKS_UP_TO and "# /works/00000000000000c7/ Work 199 /" in small
    assert "# /works/0" not in large
    assert f"# {LIST_WORKS_UP_TO + 1} works" in large and f"# {BASE}/terms/index.html" in large
    ai = text(robots_site(catalogue(LIST_WORKS_UP_TO + 1, _collecting_society)), "ai.txt")
    assert "# Work " not in ai and f"# {BASE}/terms/index.json" in ai


def test_a_site_above_the_list_threshold_has_no_contradictions():
    e = catalogue(LIST_WORKS_UP_TO + 40, _collecting_society)
    s = build_site(e, base_url=BASE)
    assert check_site(s, e) == []
    assert s.files["robots.txt"] == robots_site(e).files["robots.txt"]


_DECISION_TERMS = {"allow": ALLOW, "deny": {"decision": "deny"}, "license": LICENCE}


@settings(max_examples=60, deadline=None)
@given(decisions=st.lists(st.fixed_dictionaries({u: st.sampled_from(sorted(_DECISION_TERMS)) for u in USES}),
                          max_size=12))
def test_every_reader_agrees_with_the_terms_of_random_catalogues(decisions):
    e = {"generated_at": "2026-11-23T11:00:00+00:00", "creators": [],
         "works": [{"work_id": f"work-{i}", "title": f"Work {i}",
                    "terms": {"uses": {u: _DECISION_TERMS[d[u]] for u in USES}}} for i, d in enumerate(decisions)]}
    s = robots_site(e)
    assert check_robots(s, e) == []
    body = text(s, "robots.txt")
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(body.splitlines())
    pr = Protego.parse(body)
    ours = parse_robots(body)
    ai = urllib.robotparser.RobotFileParser()
    ai.parse(text(s, "ai.txt").splitlines())
    agents = [(c.token, c.uses) for c in ROBOTS_READERS()] + [("*", ("search_indexing",))]
    for i in range(len(decisions)):
        wid = f"work-{i}"
        path = f"/works/{wid}/track.wav"
        for token, uses in agents:
            want = may_fetch(e, wid, uses)
            assert rp.can_fetch(token, BASE + path) is want, (token, wid, "urllib.robotparser")
            assert pr.can_fetch(BASE + path, token) is want, (token, wid, "protego")
            assert match_crawler(ours, token, path).allowed is want, (token, wid, "consentry")
            usage = content_usage_rules(ours.groups_for(token), path)
            assert len(usage) == 1 and parse_aipref(usage[0].preference) == expected_aipref(export_terms(e, wid)), (token, wid)
        assert ai.can_fetch("AnyDatasetBuilder", BASE + path) is may_fetch(e, wid, ("ai_training", "ai_generative"))


# ---------------------------------------------------------------- inputs


@pytest.mark.parametrize("url", [
    "", "   ", "ftp://music.example.org", "javascript:alert(1)", "https://music.example.org/?x=1",
    "https://music.example.org/#top", "https://user:pw@music.example.org", "https://music.example.org/sub",
    "https://", "https://exa mple.org", "https://music.example.org\nSet-Cookie: x", "https://bad_host!.org",
    "https://music.example.org:99999", "music.example.org", 'https://a.org/"', "https://a.org/$x",
])
def test_bad_base_url_is_one_line_input_error(export, url):
    with pytest.raises(InputError) as exc:
        build_site(export, base_url=url)
    assert "\n" not in str(exc.value) and "--base-url" in str(exc.value)


@pytest.mark.parametrize("url,want", [
    ("https://Music.Example.org/", "https://music.example.org"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("https://bücher.example", "https://xn--bcher-kva.example"),
    ("https://[::1]:8443", "https://[::1]:8443"),
])
def test_good_base_urls_are_normalised(url, want):
    assert normalize_base_url(url) == want


def test_damaged_export_is_one_line_input_error(export):
    cases = []
    e = copy.deepcopy(export)
    del e["works"][0]["terms"]["uses"]["tdm"]
    cases.append(e)
    e = copy.deepcopy(export)
    e["works"][0]["work_id"] = "../../etc"
    cases.append(e)
    e = copy.deepcopy(export)
    e["works"][1]["work_id"] = e["works"][0]["work_id"]
    cases.append(e)
    e = copy.deepcopy(export)
    e["works"][0]["terms"]["uses"]["ai_training"] = {"decision": "license", "price": -1, "currency": "EUR"}
    cases.append(e)
    e = copy.deepcopy(export)
    e["works"][0]["terms"]["uses"]["ai_training"] = {"decision": "maybe"}
    cases.append(e)
    e = copy.deepcopy(export)
    e["creators"][0]["creator_id"] = "a/b"
    cases.append(e)
    e = copy.deepcopy(export)
    e["works"][0]["terms"]["uses"]["ai_training"] = {"decision": "allow", "contact": "javascript:alert(1)"}
    cases.append(e)
    cases.append({"works": "nope"})
    for bad in cases:
        with pytest.raises(InputError) as exc:
            build_site(bad, base_url=BASE)
        assert "\n" not in str(exc.value)


def test_clean_text_and_decimals():
    assert clean_text("a\r\nb\u2028c\x00d\u202ee") == "a b c de"
    assert clean_text("\ud800x") == "\ufffdx"
    assert clean_text("x" * 20, max_chars=5) == "xxxx…"
    assert [format_decimal(v) for v in (40, 40.0, 0.015, 1e-07, 12.5, 1e30)] == [
        "40.00", "40.00", "0.015", "0.0000001", "12.50", "1000000000000000000000000000000.00"]


def ROBOTS_READERS():  # noqa: N802
    """The listed crawlers that read robots.txt (``not-read`` ones, img2dataset, get no group)."""
    return [c for c in load_crawlers() if c.robots_txt != "not-read"]


def test_crawler_data_file():
    crawlers = load_crawlers()
    tokens = {c.token for c in crawlers}
    for want in ("GPTBot", "OAI-SearchBot", "ChatGPT-User", "ClaudeBot", "anthropic-ai", "Claude-Web",
                 "Google-Extended", "Applebot-Extended", "CCBot", "Bytespider", "PerplexityBot",
                 "meta-externalagent", "Amazonbot", "cohere-ai", "Diffbot", "Omgilibot", "ImagesiftBot", "Timpibot"):
        assert want in tokens
    for c in crawlers:
        assert c.operator and c.evidence and set(c.uses) <= set(USES)
        assert c.source is None or c.source.startswith("https://")
        assert c.source or c.note  # an undocumented crawler says so
        if c.purpose == "training":
            assert "ai_training" in c.uses
        if c.purpose == "search":
            assert c.uses == ("search_indexing",)


# ---------------------------------------------------------------- writing


def test_write_site_writes_every_file(site, tmp_path):
    out = write_site(site, tmp_path / "public")
    for name, data in site.files.items():
        assert (out / name).read_bytes() == data
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert set(manifest["files"]) == set(site.files)
    assert [p.name for p in tmp_path.iterdir()] == ["public"]  # no staging folder left


def test_write_site_replaces_an_earlier_publish_only(site, tmp_path):
    out = tmp_path / "public"
    write_site(site, out)
    (out / "stale.txt").write_text("old")
    write_site(site, out)
    assert not (out / "stale.txt").exists()
    foreign = tmp_path / "webroot"
    foreign.mkdir()
    (foreign / "index.html").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        write_site(site, foreign)
    assert [p.name for p in foreign.iterdir()] == ["index.html"]
    empty = tmp_path / "empty"
    empty.mkdir()
    write_site(site, empty)
    assert (empty / "robots.txt").exists()


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "a/../../b", "a//b", "./x", "a\\b", "",
                                 MANIFEST_NAME])
def test_write_site_refuses_paths_outside(tmp_path, bad):
    with pytest.raises(InputError):
        write_site(Site(base_url=BASE, files={"ok.txt": b"1", bad: b"x"}), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_site(site, tmp_path):
    out = tmp_path / "public"
    write_site(site, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = Site(base_url=BASE, files={"a": b"file", "a/b": b"cannot be under a file"})
    with pytest.raises(OSError):
        write_site(broken, out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["public"]


# ---------------------------------------------------------------- robots matching


_PATH_PIECES = st.sampled_from(list("/ab*$%2Fé") + ["%41", "/works/"])


@settings(max_examples=300, deadline=None)
@given(patterns=st.lists(st.lists(_PATH_PIECES, max_size=6).map(lambda t: "/" + "".join(t)), max_size=8),
       path=st.lists(_PATH_PIECES, max_size=10).map(lambda t: "/" + "".join(t)))
def test_indexed_robots_matching_equals_one_regex_per_rule(patterns, path):
    """The indexed matcher of the one robots.txt reader (consentry.formats.robots) against one regex per rule."""
    from consentry.formats.patterns import normalize_path, normalize_pattern, regex_reference
    body = "User-agent: *\n" + "".join(f"{'Allow' if i % 2 == 0 else 'Disallow'}: {p}\n"
                                       for i, p in enumerate(patterns))
    (group,) = parse_robots(body).groups
    target = normalize_path(path)
    want = [i + 2 for i, p in enumerate(patterns) if regex_reference(normalize_pattern(p)).match(target)]
    assert [r.line for r in group.matching(target)] == want


def test_crawlers_whose_token_is_not_an_rfc9309_product_token():
    """AI2Bot and Ai2Bot-Dolma (a digit): written in full with a comment saying what RFC 9309 parsers read;
    img2dataset (does not read robots.txt): no group, and the noai header it honours is there."""
    from consentry.formats.crawlers import parse_crawlers

    crawlers = {c.token: c for c in load_crawlers()}
    assert crawlers["AI2Bot"].robots_txt == "full-token" and crawlers["AI2Bot"].rfc9309_reads_as == "AI"
    assert crawlers["Ai2Bot-Dolma"].rfc9309_reads_as == "Ai"
    assert crawlers["img2dataset"].robots_txt == "not-read" and "X-Robots-Tag" in crawlers["img2dataset"].note
    assert crawlers["GPTBot"].rfc9309_reads_as is None
    export = make_export()
    plan = build_plan(export, base_url=BASE)
    text = render_robots(plan, load_crawlers())
    lines = text.splitlines()
    assert "User-agent: AI2Bot" in lines and "User-agent: Ai2Bot-Dolma" in lines
    assert not any("img2dataset" in line for line in lines if not line.startswith("#"))
    i = lines.index("User-agent: AI2Bot")
    assert "strict RFC 9309 parsers read the next line as 'AI'" in lines[i - 1]
    site = build_site(export, base_url=BASE)
    headers = json.loads(site.files["headers.json"])
    assert any("noai" in str(rule) for rule in headers)
    assert check_site(site, export) == []
    with pytest.raises(ValueError, match="not an RFC 9309 product token"):
        parse_crawlers({"crawlers": [{"token": "AI2Bot", "operator": "x", "purpose": "training",
                                      "uses": ["ai_training"], "source": None}]})
