"""Report renderers: scan reports (HTML, JSON, CSV), creator statements, SVG charts.

The scan and item dicts are built by hand after docs/scan-format.md, so these
tests pin the renderers to the documented contract, not to the scanner.
"""

from __future__ import annotations

import csv
import io
import json
import re
import weakref
import xml.etree.ElementTree as ET
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from consentry.reporting import charts
from consentry.reporting.scan_report import (
    CSV_COLUMNS, csv_safe, format_money, format_money_map, render_scan_html, template_environment, write_scan_csv,
    write_scan_json,
)
from consentry.reporting.statements import (
    STATEMENT_CSV_COLUMNS, render_statement_html, statement_totals, write_statement_csv,
)

SCRIPT = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(1)>'
FORMULAS = ("=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)")


# ---------------------------------------------------------------- builders


def finding(title="Song", creator="Ana Lima", *, decision="deny", price=None, currency=None, **kw) -> dict:
    f = {
        "work_id": f"w-{title}",
        "title": title,
        "creator": creator,
        "decision": decision,
        "terms_version": 1,
        "price": price,
        "currency": currency,
        "score": 41.0,
        "confidence": 0.99999,
        "query_start_s": 3.2,
        "query_end_s": 15.6,
        "work_start_s": 60.1,
        "work_end_s": 72.5,
        "speed": 1.0,
        "pitch_shift_semitones": 0.0,
    }
    f.update(kw)
    return f


def item(seq: int, decision: str, findings=(), *, name=None, error=None) -> dict:
    return {
        "seq": seq,
        "item_id": f"shards/train-000.tar#{seq:06d}",
        "name": name if name is not None else f"{seq:06d}.flac",
        "decision": decision,
        "duration_s": 30.0,
        "covered_s": 12.4 if findings else 0.0,
        "coverage": 0.413 if findings else 0.0,
        "sha256": f"{seq:064x}",
        "bytes": 480000,
        "error": error,
        "findings": list(findings),
    }


def sample_items() -> list[dict]:
    """Items of every decision, in dataset order; two currencies among the findings."""
    return [
        item(0, "unknown"),
        item(1, "licensable", [finding("Licensed", "Bo Chen", decision="license", price=120.0, currency="EUR",
                                       speed=1.05, pitch_shift_semitones=-1.0)]),
        item(2, "refused", [finding("Song", "Ana Lima"),
                            finding("Other", "Bo Chen", decision="license", price=35.5, currency="USD")]),
        item(3, "error", error="not audio (image/jpeg)"),
        item(4, "allowed", [finding("Free", "Cy Dee", decision="allow")]),
        item(5, "unknown"),
    ]


def sample_scan(**overrides) -> dict:
    scan = {
        "scan_id": "s-20261123-3f2a9c01",
        "status": "complete",
        "created_at": "2026-11-23T10:49:00+00:00",
        "finished_at": "2026-11-23T10:52:13+00:00",
        "tool": {"name": "consentry", "version": "0.1.0"},
        "source": {"spec": "/data/shards/train-{000..127}.tar", "kind": "webdataset", "name": "train"},
        "dataset_fingerprint": "9c1f" + "0" * 60,
        "registry": {"path": "/home/ana/consentry.db", "works": 120},
        "engine": {"name": "consentry-music-landmark", "version": "1", "param_hash": "a9373b04c01a0962"},
        "options": {"min_score": 14, "accept_licensed": False, "fetch_urls": False},
        "terms_snapshot_at": "2026-11-23T10:49:00+00:00",
        "totals": {"items": 1000, "audio_s": 3600.0, "bytes": 123456789,
                   "refused": 3, "licensable": 5, "allowed": 2, "unknown": 980, "error": 10},
        "works": [
            {"work_id": "w-Licensed", "title": "Licensed", "creator": "Bo Chen", "decision": "license",
             "terms_version": 2, "price": 120.0, "currency": "EUR", "items": 4, "covered_s": 61.5},
            {"work_id": "w-Song", "title": "Song", "creator": "Ana Lima", "decision": "deny",
             "terms_version": 1, "price": None, "currency": None, "items": 3, "covered_s": 40.0},
            {"work_id": "w-Other", "title": "Other", "creator": "Bo Chen", "decision": "license",
             "terms_version": 1, "price": 35.5, "currency": "USD", "items": 1, "covered_s": 12.4},
        ],
        "creators": [
            {"creator": "Bo Chen", "works": 2, "items": 5, "refused_works": 0, "licensable_works": 2,
             "amount": {"EUR": 120.0, "USD": 35.5}},
            {"creator": "Ana Lima", "works": 1, "items": 3, "refused_works": 1, "licensable_works": 0,
             "amount": {}},
        ],
        "licence_cost": {"USD": 35.5, "EUR": 120.0},
        "exposure": {
            "note": "Estimate, not legal advice. Statutory damages are decided by a court.",
            "statute": "17 U.S.C. 504(c); 17 U.S.C. 412",
            "infringement_began": "2026-11-23",
            "per_work_usd": {"min": 750, "max": 30000, "wilful_max": 150000},
            "works_refused": 3, "eligible": 1, "ineligible": 1, "unknown_registration": 1,
            "range_usd": {"min": 750, "max": 30000, "wilful_max": 150000},
            "range_usd_if_unknown_eligible": {"min": 1500, "max": 60000, "wilful_max": 300000},
            "works": [
                {"work_id": "w-Song", "title": "Song", "creator": "Ana Lima", "eligibility": "eligible",
                 "reason": "registered 2020-01-10, before the use began"},
                {"work_id": "w-B", "title": "Bee", "creator": "Ana Lima", "eligibility": "ineligible",
                 "reason": "registered 2027-01-01, after the use began"},
                {"work_id": "w-C", "title": "Sea", "creator": "Ana Lima", "eligibility": "unknown",
                 "reason": "registration date not known"},
            ],
        },
        "coverage_histogram": {"edges": [i / 10 for i in range(11)], "counts": [1, 0, 2, 0, 0, 1, 0, 0, 3, 3]},
        "errors": {"count": 10, "by_reason": {"not audio (image/jpeg)": 7, "truncated tar member": 3},
                   "examples": [{"item_id": "shard-000.tar#0007", "error": "not audio (image/jpeg)"}]},
    }
    scan.update(overrides)
    return scan


def empty_scan() -> dict:
    return sample_scan(
        status="complete",
        totals={"items": 0, "audio_s": 0.0, "bytes": 0,
                "refused": 0, "licensable": 0, "allowed": 0, "unknown": 0, "error": 0},
        works=[], creators=[], licence_cost={},
        exposure={"note": "Estimate, not legal advice.", "statute": "17 U.S.C. 504(c)",
                  "infringement_began": None,
                  "per_work_usd": {"min": 750, "max": 30000, "wilful_max": 150000},
                  "works_refused": 0, "eligible": 0, "ineligible": 0, "unknown_registration": 0,
                  "range_usd": {"min": 0, "max": 0, "wilful_max": 0},
                  "range_usd_if_unknown_eligible": {"min": 0, "max": 0, "wilful_max": 0}, "works": []},
        coverage_histogram={"edges": [i / 10 for i in range(11)], "counts": [0] * 10},
        errors={"count": 0, "by_reason": {}, "examples": []},
    )


def hostile_scan() -> dict:
    scan = sample_scan(scan_id=f"s-{ATTR}", source={"spec": SCRIPT, "kind": ATTR, "name": SCRIPT})
    scan["works"][0].update(title=SCRIPT, creator=ATTR)
    scan["creators"][0]["creator"] = ATTR
    scan["exposure"]["works"][0].update(title=ATTR, reason=SCRIPT)
    scan["errors"] = {"count": 2, "by_reason": {SCRIPT: 1, ATTR: 1},
                      "examples": [{"item_id": ATTR, "error": SCRIPT}]}
    return scan


def hostile_items() -> list[dict]:
    return [
        item(0, "refused", [finding(SCRIPT, ATTR)], name=ATTR),
        item(1, "error", name=SCRIPT, error=ATTR),
    ]


# ---------------------------------------------------------------- HTML checks


class PageChecker(HTMLParser):
    """Parses a page; records tags, attributes, headings and unbalanced tags."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.starts: list[tuple[str, dict]] = []
        self.headings: list[int] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.starts.append((tag, dict(attrs)))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def tags(self, name: str) -> list[dict]:
        return [attrs for tag, attrs in self.starts if tag == name]


def check_page(html: str) -> PageChecker:
    """Parse and assert what every report page must satisfy."""
    page = PageChecker()
    page.feed(html)
    page.close()
    assert html.startswith("<!DOCTYPE html>")
    assert "method" not in html and "Undefined" not in html  # no dict method or undefined leaked
    assert not page.problems, page.problems[:5]
    assert not page.stack, f"unclosed: {page.stack}"
    assert page.tags("html") == [{"lang": "en"}]
    assert len(page.tags("title")) >= 1
    assert any(a.get("name") == "viewport" for a in page.tags("meta"))
    # Headings in order: one h1 first, never skipping a level going down.
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    for before, after in zip(page.headings, page.headings[1:]):
        assert after <= before + 1, page.headings
    # Every table has a caption, every header cell a scope.
    assert len(page.tags("caption")) == len(page.tags("table"))
    assert all(a.get("scope") in {"col", "row"} for a in page.tags("th"))
    assert_self_contained(page, html)
    return page


def assert_self_contained(page: PageChecker, html: str) -> None:
    """No resource or link outside the page; no scripts, no web fonts."""
    for tag, attrs in page.starts:
        for name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data", "formaction"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith("#"), f"<{tag} {name}={value!r}> leaves the page"
    assert not page.tags("script") and not page.tags("link") and not page.tags("iframe")
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    for css in styles:
        assert "url(" not in css and "@import" not in css and "@font-face" not in css


def section_text(html: str, section_id: str) -> str:
    m = re.search(rf'<section id="{section_id}"(.*?)</section>', html, flags=re.S)
    assert m, f"section {section_id} missing"
    return m.group(1)


# ---------------------------------------------------------------- scan HTML


def test_scan_html_has_every_section_with_the_right_numbers():
    html = render_scan_html(sample_scan(), sample_items())
    page = check_page(html)
    for section in ("totals", "licence-cost", "works", "creators", "coverage", "exposure", "errors", "items"):
        assert f'<section id="{section}"' in html
    # Header.
    for fact in ("s-20261123-3f2a9c01", "/data/shards/train-{000..127}.tar", "9c1f" + "0" * 60,
                 "consentry-music-landmark", "a9373b04c01a0962", "/home/ana/consentry.db",
                 "2026-11-23T10:49:00+00:00"):
        assert fact in html
    assert "status-warning" not in html
    # Totals and decision breakdown, with shares of the 1,000 items.
    totals = section_text(html, "totals")
    assert "<dt>Items</dt><dd>1,000</dd>" in totals
    assert "1:00:00" in totals and "123.5 MB" in totals
    for label, count, share in (("Refused", "3", "0.3%"), ("Licensable", "5", "0.5%"), ("Allowed", "2", "0.2%"),
                                ("Unknown", "980", "98.0%"), ("Error", "10", "1.0%")):
        assert re.search(rf">{label}</span></th><td class=\"num\">{count}</td><td class=\"num\">{re.escape(share)}<",
                         totals), label
    assert '<svg id="chart-decisions"' in totals
    # Licence cost per currency, never added together.
    cost = section_text(html, "licence-cost")
    assert "120.00 EUR" in cost and "35.50 USD" in cost and "155.50" not in html
    assert cost.index("EUR") < cost.index("USD")
    # Works and creators.
    works = section_text(html, "works")
    assert "Licensed" in works and "license 120.00 EUR (v2)" in works and "61.5 s" in works
    assert "deny (v1)" in works
    creators = section_text(html, "creators")
    assert "120.00 EUR; 35.50 USD" in creators
    # Coverage histogram: ten bins.
    coverage = section_text(html, "coverage")
    assert '<svg id="chart-coverage"' in coverage and "80\u201390%" in coverage
    # Exposure estimate, labelled.
    exposure = section_text(html, "exposure")
    assert "Estimate, not legal advice" in exposure
    assert "17 U.S.C. 504(c); 17 U.S.C. 412" in exposure
    assert "750.00 USD to 30,000.00 USD" in exposure and "150,000.00 USD" in exposure
    assert "1,500.00 USD to 60,000.00 USD" in exposure
    assert "registered 2020-01-10, before the use began" in exposure
    assert "registration date not known" in exposure
    # Errors: by reason (most first) and examples.
    errors = section_text(html, "errors")
    assert "<strong>10</strong>" in errors
    assert errors.index("not audio (image/jpeg)") < errors.index("truncated tar member")
    assert "shard-000.tar#0007" in errors
    # SVG ids are unique in the page.
    ids = [a["id"] for _, a in page.starts if "id" in a]
    assert len(ids) == len(set(ids))


def test_scan_html_item_table_orders_and_details_findings():
    html = render_scan_html(sample_scan(), sample_items())
    table = section_text(html, "items")
    rows = re.findall(r'<tr class="item">(.*?)</tr>', table, flags=re.S)
    # refused, licensable, allowed, then error; unknown items are not listed.
    seqs = [re.match(r'<td class="num">(\d+)</td>', r).group(1) for r in rows]
    assert seqs == ["2", "1", "4", "3"]
    assert "The 2 items in which no registered work was found are not listed." in table
    assert "left out" not in table
    refused = rows[0]
    assert "Song" in refused and "Other" in refused and "terms: license 35.50 USD (v1)" in refused
    assert "in item 3.2\u201315.6 s" in refused and "in work 60.1\u201372.5 s" in refused
    assert "score 41.0" in refused and "confidence 0.99999" in refused
    assert "speed 1.00\u00d7" in refused and "pitch +0.0 semitones" in refused
    assert "speed 1.05\u00d7" in rows[1] and "pitch -1.0 semitones" in rows[1]
    assert "Error: not audio (image/jpeg)" in rows[3]


def test_scan_html_shows_a_per_shard_position_as_shard_and_position():
    """A scan that numbers items per shard (options.numbering "shard") lists them as "shard:position"."""
    scan = sample_scan()
    scan["options"] = {**(scan.get("options") or {}), "numbering": "shard"}
    html = render_scan_html(scan, [item(3 * 10**9 + 7, "refused"), item(12, "error", error="damaged")])
    rows = re.findall(r'<tr class="item">(.*?)</tr>', section_text(html, "items"), flags=re.S)
    assert [re.match(r'<td class="num">([^<]+)</td>', r).group(1) for r in rows] == ["3:7", "0:12"]


def test_scan_html_escapes_hostile_strings():
    html = render_scan_html(hostile_scan(), hostile_items())
    page = check_page(html)
    assert SCRIPT not in html and ATTR not in html
    assert not page.tags("img") and not page.tags("script")
    assert not any(name.startswith("on") for _, attrs in page.starts for name in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The text survives intact for the reader.
    text = "".join(page.text)
    assert SCRIPT in text and ATTR in text


def test_templates_autoescape():
    env = template_environment()
    for name in ("scan_report.html.j2", "statement.html.j2"):
        assert env.autoescape(name) if callable(env.autoescape) else env.autoescape
        env.get_template(name)  # found as package data


def test_incomplete_scan_is_flagged_prominently():
    scan = sample_scan(status="interrupted", finished_at=None, dataset_fingerprint=None)
    html = render_scan_html(scan, sample_items())
    check_page(html)
    banner = re.search(r'<div class="banner" role="note" id="status-warning">(.*?)</div>', html, flags=re.S)
    assert banner and "interrupted" in banner.group(1)
    assert html.index("status-warning") < html.index('<section id="totals"')


def test_scan_html_with_zero_items():
    html = render_scan_html(empty_scan(), iter(()))
    check_page(html)
    assert "No item has findings or errors." in html
    assert "No licensable works were found" in html
    assert "No registered work was found" in html
    assert "Estimate, not legal advice" in html
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        ET.fromstring(svg)


def test_scan_html_with_missing_optional_blocks():
    scan = {"scan_id": "s-min", "status": "running", "totals": {"items": 1, "unknown": 1}}
    html = render_scan_html(scan, [item(0, "unknown")])
    check_page(html)
    assert "This scan has no exposure estimate." in html
    assert "Estimate, not legal advice" in html
    assert "status-warning" in html


def test_scan_html_caps_the_item_table_and_says_so():
    decisions = ["unknown", "allowed", "error", "licensable", "refused"]
    lic = finding("L", decision="license", price=1.0, currency="EUR")

    def items():
        for seq in range(5000):
            d = decisions[seq % 5]
            fs = {"refused": [finding()], "licensable": [lic], "allowed": [finding("A", decision="allow")]}.get(d, [])
            yield item(seq, d, fs, error="truncated" if d == "error" else None)

    html = render_scan_html(sample_scan(), items(), max_rows=100)
    check_page(html)
    table = section_text(html, "items")
    rows = re.findall(r'<tr class="item">(.*?)</tr>', table, flags=re.S)
    assert len(rows) == 100
    # 4,000 listable items (refused, licensable, allowed, error): the first 100 refused are kept.
    assert "3,900 of 4,000 items with findings or errors were left out" in table
    assert "The JSON and CSV exports of this scan hold all items." in table
    seqs = [int(re.match(r'<td class="num">(\d+)</td>', r).group(1)) for r in rows]
    assert seqs == [4 + 5 * i for i in range(100)]
    assert all("Refused" in r for r in rows)


def test_item_table_priority_when_capped():
    # Low-priority items first fill the table; later refused ones push them out.
    stream = [item(i, "error", error="bad") for i in range(3)]
    stream += [item(3, "allowed", [finding(decision="allow")]), item(4, "refused", [finding()]),
               item(5, "licensable", [finding(decision="license", price=2, currency="EUR")])]
    html = render_scan_html(sample_scan(), stream, max_rows=3)
    rows = re.findall(r'<tr class="item"><td class="num">(\d+)</td>', html)
    assert rows == ["4", "5", "3"]
    assert "3 of 6 items with findings or errors were left out" in html


def test_item_table_holds_at_most_max_rows_items():
    class Item(dict):
        """A dict that can be weakly referenced, to count live items."""

    alive = peak = 0

    def gone() -> None:
        nonlocal alive
        alive -= 1

    def items():
        nonlocal alive, peak
        for seq in range(2000):
            it = Item(item(seq, "refused", [finding()]))
            weakref.finalize(it, gone)
            alive += 1
            peak = max(peak, alive)
            yield it
            del it

    html = render_scan_html(sample_scan(), items(), max_rows=50)
    assert len(re.findall(r'<tr class="item">', html)) == 50
    assert peak <= 50 + 1
    # The check itself works: a list of the items would hold them all.
    peak = 0
    held = list(items())
    assert peak == len(held) == 2000


def test_max_rows_must_not_be_negative():
    with pytest.raises(ValueError, match="max_rows"):
        render_scan_html(sample_scan(), [], max_rows=-1)


def test_max_rows_zero_lists_nothing():
    html = render_scan_html(sample_scan(), sample_items(), max_rows=0)
    check_page(html)
    assert "4 of 4 items with findings or errors were left out" in html


# ---------------------------------------------------------------- JSON


def test_json_has_scan_and_every_item():
    scan = sample_scan()
    items = [item(i, "unknown") for i in range(5000)] + sample_items()
    fh = io.StringIO()
    write_scan_json(scan, iter(items), fh)
    doc = json.loads(fh.getvalue())
    assert set(doc) == {"scan", "items"}
    assert doc["scan"] == scan
    assert doc["items"] == items


def test_json_is_streamed_item_by_item():
    fh = io.StringIO()

    def items():
        for seq in range(5):
            # Everything yielded so far is already written when the next item is asked for.
            if seq:
                assert f'"seq": {seq - 1},' in fh.getvalue()
            yield item(seq, "unknown", name=SCRIPT)

    write_scan_json(sample_scan(), items(), fh)
    doc = json.loads(fh.getvalue())
    assert [i["seq"] for i in doc["items"]] == list(range(5))
    assert doc["items"][0]["name"] == SCRIPT


def test_json_with_zero_items_and_refuses_nan():
    fh = io.StringIO()
    write_scan_json(empty_scan(), [], fh)
    assert json.loads(fh.getvalue())["items"] == []
    with pytest.raises(ValueError):
        write_scan_json({"scan_id": "x", "totals": {"audio_s": float("nan")}}, [], io.StringIO())


# ---------------------------------------------------------------- CSV


def read_csv(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def test_csv_one_row_per_finding():
    fh = io.StringIO(newline="")
    write_scan_csv(sample_items(), fh)
    columns, rows = read_csv(fh.getvalue())
    assert tuple(columns) == CSV_COLUMNS
    # 6 items: unknown, 1 finding, 2 findings, error, 1 finding, unknown.
    assert [r["seq"] for r in rows] == ["0", "1", "2", "2", "3", "4", "5"]
    unknown = rows[0]
    assert unknown["decision"] == "unknown"
    assert all(unknown[c] == "" for c in CSV_COLUMNS[CSV_COLUMNS.index("work_id"):])
    error = rows[4]
    assert error["decision"] == "error" and error["error"] == "not audio (image/jpeg)" and error["work_id"] == ""
    licensed = rows[1]
    assert licensed["title"] == "Licensed" and licensed["terms"] == "license"
    assert licensed["price"] == "120.00" and licensed["currency"] == "EUR"
    assert licensed["speed"] == "1.05" and licensed["pitch_shift_semitones"] == "-1.0"
    assert float(licensed["query_start_s"]) == 3.2 and float(licensed["work_end_s"]) == 72.5
    assert {r["title"] for r in rows if r["seq"] == "2"} == {"Song", "Other"}
    assert rows[3]["price"] == "35.50" and rows[3]["currency"] == "USD"


def test_csv_with_zero_items_has_header_only():
    fh = io.StringIO(newline="")
    write_scan_csv([], fh)
    columns, rows = read_csv(fh.getvalue())
    assert tuple(columns) == CSV_COLUMNS and rows == []


def test_csv_keeps_hostile_strings_but_defuses_formulas():
    items = hostile_items()
    items[0]["findings"][0].update(creator=FORMULAS[0], work_id=FORMULAS[3], pitch_shift_semitones=-2.0)
    items[1]["error"] = FORMULAS[2]
    items.append(item(2, "unknown", name=FORMULAS[1]))
    fh = io.StringIO(newline="")
    write_scan_csv(items, fh)
    _, rows = read_csv(fh.getvalue())
    assert rows[0]["name"] == ATTR and rows[0]["title"] == SCRIPT
    assert rows[1]["name"] == SCRIPT
    assert rows[0]["creator"] == "'" + FORMULAS[0]
    assert rows[0]["work_id"] == "'" + FORMULAS[3]
    assert rows[1]["error"] == "'" + FORMULAS[2]
    assert rows[2]["name"] == "'" + FORMULAS[1]
    # Numbers are never prefixed.
    assert rows[0]["pitch_shift_semitones"] == "-2.0"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@")), value


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        ("plain", "plain"),
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        (-1.5, -1.5),
        (3, 3),
        (Decimal("-1.50"), "-1.50"),
    ],
)
def test_csv_safe(value, cell):
    assert csv_safe(value) == cell


def test_csv_is_streamed():
    fh = io.StringIO(newline="")

    def items():
        for seq in range(3):
            if seq:
                assert fh.getvalue().count("\n") == seq + 1  # header + earlier items
            yield item(seq, "unknown")

    write_scan_csv(items(), fh)


# ---------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (120, "EUR", "120.00 EUR"),
        (1234.5, "USD", "1,234.50 USD"),
        (0.125, "EUR", "0.13 EUR"),
        (0.1 + 0.2, "EUR", "0.30 EUR"),
        (0, "JPY", "0.00 JPY"),
        (None, "EUR", "\u2014"),
    ],
)
def test_format_money(amount, currency, text):
    assert format_money(amount, currency) == text


def test_format_money_refuses_non_numbers():
    with pytest.raises(ValueError):
        format_money(float("nan"), "EUR")
    with pytest.raises(ValueError):
        format_money("lots", "EUR")


def test_format_money_map_keeps_currencies_apart():
    assert format_money_map({"USD": 10, "EUR": 240}) == "240.00 EUR; 10.00 USD"
    assert format_money_map({}) == "\u2014"


# ---------------------------------------------------------------- statements


def sample_statement(**overrides) -> dict:
    statement = {
        "creator": "Bo Chen",
        "generated_at": "2026-11-23T11:00:00+00:00",
        "basis": {"kind": "ledger", "scan_id": None, "run": "model-v3 pretraining"},
        "totals": {"EUR": 180.5, "USD": 10.3},
        "lines": [
            {"work_id": "w-1", "title": "Licensed", "terms_version": 2, "price": 120.0, "currency": "EUR",
             "uses": 1, "amount": 120.0, "items": 4, "entry_ids": ["L-000012"],
             "recorded_at": "2026-11-23T11:00:00+00:00", "run": "model-v3 pretraining", "scan_id": "s-1"},
            {"work_id": "w-2", "title": "Other", "terms_version": 1, "price": 10.1, "currency": "USD",
             "uses": 1, "amount": 10.1, "items": 1, "entry_ids": ["L-000013"],
             "recorded_at": "2026-11-23T11:00:00+00:00", "run": "model-v3 pretraining", "scan_id": "s-1"},
            {"work_id": "w-3", "title": "Third", "terms_version": 1, "price": 30.25, "currency": "EUR",
             "uses": 2, "amount": 60.5, "items": 2, "entry_ids": ["L-000014", "L-000015"],
             "recorded_at": "2026-11-24T09:00:00+00:00", "run": "model-v3 pretraining", "scan_id": "s-2"},
            {"work_id": "w-4", "title": "Tiny", "terms_version": 1, "price": 0.1, "currency": "USD",
             "uses": 2, "amount": 0.2, "items": 2, "entry_ids": [],
             "recorded_at": "2026-11-24T09:00:00+00:00", "run": "model-v3 pretraining", "scan_id": "s-2"},
        ],
    }
    statement.update(overrides)
    return statement


def test_statement_totals_per_currency_are_exact_and_separate():
    totals = statement_totals(sample_statement())
    assert totals == {"EUR": Decimal("180.50"), "USD": Decimal("10.30")}
    assert list(totals) == ["EUR", "USD"]


def test_statement_totals_must_match_the_lines():
    with pytest.raises(ValueError, match="does not match its lines"):
        statement_totals(sample_statement(totals={"EUR": 190.8}))
    with pytest.raises(ValueError, match="does not match its lines"):
        statement_totals(sample_statement(totals={"EUR": 180.5, "USD": 10.3, "GBP": 5}))
    bad = sample_statement(totals={})
    bad["lines"][0]["currency"] = None
    with pytest.raises(ValueError, match="no currency"):
        statement_totals(bad)


def test_statement_csv_has_lines_then_one_total_per_currency():
    statement = sample_statement()
    statement["lines"][1]["title"] = FORMULAS[0]
    statement["lines"][2]["title"] = SCRIPT
    fh = io.StringIO(newline="")
    write_statement_csv(statement, fh)
    columns, rows = read_csv(fh.getvalue())
    assert tuple(columns) == STATEMENT_CSV_COLUMNS
    assert [r["row"] for r in rows] == ["line"] * 4 + ["TOTAL", "TOTAL"]
    assert all(r["creator"] == "Bo Chen" and r["basis_kind"] == "ledger" for r in rows)
    assert all(r["basis_run"] == "model-v3 pretraining" for r in rows)
    lines, totals = rows[:4], rows[4:]
    assert [r["amount"] for r in lines] == ["120.00", "10.10", "60.50", "0.20"]
    assert lines[2]["entry_ids"] == "L-000014 L-000015"
    assert lines[1]["title"] == "'" + FORMULAS[0] and lines[2]["title"] == SCRIPT
    assert [(r["currency"], r["amount"]) for r in totals] == [("EUR", "180.50"), ("USD", "10.30")]
    for currency in ("EUR", "USD"):
        summed = sum(Decimal(r["amount"]) for r in lines if r["currency"] == currency)
        assert Decimal(next(r["amount"] for r in totals if r["currency"] == currency)) == summed


def test_statement_html():
    statement = sample_statement(creator=SCRIPT)
    statement["lines"][0]["title"] = ATTR
    html = render_statement_html(statement)
    page = check_page(html)
    assert SCRIPT not in html and ATTR not in html and not page.tags("img")
    assert "&lt;script&gt;" in html
    totals = section_text(html, "totals")
    assert "180.50 EUR" in totals and "10.30 USD" in totals
    assert "190.80" not in html  # EUR and USD never added together
    lines = section_text(html, "lines")
    assert "30.25 EUR" in lines and "60.50 EUR" in lines and "L-000014, L-000015" in lines
    assert "ledger entries" in html and "model-v3 pretraining" in html


def test_statement_with_no_lines():
    statement = sample_statement(totals={}, lines=[], basis={"kind": "scan", "scan_id": "s-1", "run": None})
    html = render_statement_html(statement)
    check_page(html)
    assert "Nothing is owed" in html and "dataset scan" in html
    fh = io.StringIO(newline="")
    write_statement_csv(statement, fh)
    assert read_csv(fh.getvalue())[1] == []


# ---------------------------------------------------------------- charts


def parse_svg(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag.rsplit("}", 1)[-1] == "svg"
    assert root.get("role") == "img"
    title, desc = root.find("title"), root.find("desc")
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("text")]


def test_bar_chart():
    root = parse_svg(charts.bar_chart([("refused", 3), ("allowed", 1)], title="Decisions", chart_id="c1",
                                      colours=charts.DECISION_COLOURS))
    labels = texts(root)
    assert "refused" in labels and "3 (75.0%)" in labels and "1 (25.0%)" in labels
    assert "refused: 3 (75.0%)" in root.find("desc").text


@pytest.mark.parametrize("bars", [[], [("a", 0), ("b", 0)], [("a", -3), ("b", float("nan"))]])
def test_bar_chart_with_nothing_to_draw(bars):
    root = parse_svg(charts.bar_chart(bars, title="Nothing", chart_id="c2"))
    assert all(float(r.get("width")) == 0 for r in root.iter("rect"))


def test_histogram():
    edges = [i / 10 for i in range(11)]
    counts = [1, 0, 2, 0, 0, 1, 0, 0, 3, 3]
    root = parse_svg(charts.histogram(edges, counts, title="Coverage", chart_id="h1",
                                      edge_label=lambda e: f"{100 * e:.0f}%"))
    rects = list(root.iter("rect"))
    assert len(rects) == 10
    assert float(rects[8].get("height")) > float(rects[0].get("height")) > 0 == float(rects[1].get("height"))
    assert "80% to 90%: 3;" in root.find("desc").text


@pytest.mark.parametrize(("edges", "counts"), [([0, 0.5, 1], [0, 0]), ([], [])])
def test_histogram_with_zero_counts(edges, counts):
    root = parse_svg(charts.histogram(edges, counts, title="Empty", chart_id="h2"))
    assert all(float(r.get("height")) == 0 for r in root.iter("rect"))


def test_histogram_needs_one_more_edge_than_bins():
    with pytest.raises(ValueError, match="edges"):
        charts.histogram([0, 1], [1, 2], title="Bad", chart_id="h3")


def test_stacked_bar():
    root = parse_svg(charts.stacked_bar([("Refused", 1), ("Unknown", 3), ("Error", 0)], title="Items",
                                        chart_id="s1"))
    assert {"Refused: 1 (25.0%)", "Unknown: 3 (75.0%)", "Error: 0 (0.0%)"} <= set(texts(root))
    segments = [r for r in root.iter("rect") if r.find("title") is not None]
    assert [float(r.get("width")) for r in segments] == [159.0, 477.0]


def test_stacked_bar_with_zero_total():
    root = parse_svg(charts.stacked_bar([("Refused", 0), ("Unknown", 0)], title="Items", chart_id="s2"))
    assert "No items" in texts(root)
    assert "Refused: 0 (0.0%)" in texts(root)
    parse_svg(charts.stacked_bar([], title="Items", chart_id="s3"))


def test_charts_escape_labels():
    for svg in (
        charts.bar_chart([(SCRIPT, 1), (ATTR, 2)], title=ATTR, chart_id="e1"),
        charts.histogram([0, 1], [1], title=SCRIPT, chart_id="e2", x_label=ATTR, y_label=SCRIPT),
        charts.stacked_bar([(SCRIPT, 1), (ATTR + "\x00", 1)], title=SCRIPT, desc=ATTR, chart_id="e3"),
    ):
        assert SCRIPT not in svg and ATTR not in svg
        root = parse_svg(svg)
        assert root.find("script") is None and root.find(".//img") is None
        assert any(SCRIPT in t or ATTR in t for t in texts(root) + [root.find("title").text])


def test_chart_id_must_be_a_plain_identifier():
    with pytest.raises(ValueError, match="chart_id"):
        charts.bar_chart([("a", 1)], title="x", chart_id='x" onload="alert(1)')


def test_standalone_svg_has_namespace():
    svg = charts.stacked_bar([("a", 1)], title="x", chart_id="n1", standalone=True)
    assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
    assert "xmlns" not in charts.stacked_bar([("a", 1)], title="x", chart_id="n2")


@pytest.mark.parametrize(("part", "whole", "text"),
                         [(0, 0, "0.0%"), (5, 0, "0.0%"), (1, 3, "33.3%"), (1, 100000, "<0.1%"), (3, 3, "100.0%")])
def test_format_share(part, whole, text):
    assert charts.format_share(part, whole) == text
