"""Dataset-audit reports: one scan rendered as HTML, JSON and CSV.

Pure renderers over the plain dicts of docs/scan-format.md (a scan summary and
a stream of items); no registry access, no I/O beyond the file handle given.

- :func:`render_scan_html` -- one self-contained HTML file for people: inline
  CSS, charts as inline SVG, no scripts, no external fonts, images or links.
  Untrusted text (titles, creators, item names, error reasons) is escaped by
  Jinja2's autoescaping. The item table lists items with findings, then
  errors, and holds at most ``max_rows`` items in memory.
- :func:`write_scan_json` -- ``{"scan": ..., "items": [...]}`` for machines,
  written item by item (the items are never collected in a list).
- :func:`write_scan_csv` -- one row per (item, finding), for spreadsheets.

CSV cells that hold text and begin with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return are prefixed with a single quote (``'``) so a spreadsheet
shows them as text instead of running them as a formula ("CSV injection").
Numbers are written as numbers and never prefixed. Strip one leading ``'``
from such cells to get the original text back.
"""

from __future__ import annotations

import csv
import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, TextIO

from markupsafe import Markup

from consentry.domain.seqset import seq_label
from consentry.domain.terms import ITEM_DECISIONS
from consentry.reporting import charts
from consentry.reporting.format import (
    DASH, csv_safe, format_fixed as _fixed, format_fraction as _fraction, format_hms as _clock, format_money,
    format_media, format_money_map, format_number as _num, format_seconds as _seconds, format_signed as _signed, format_size as _size,
    text_or_dash as _text, to_cents,
)
from consentry.reporting.templating import STYLESHEET, template_environment  # noqa: F401  (importable from here)

__all__ = [
    "CSV_COLUMNS",
    "DECISIONS",
    "ItemSelection",
    "csv_safe",
    "format_money",
    "format_money_map",
    "render_scan_html",
    "select_item_rows",
    "template_environment",
    "to_cents",
    "write_scan_csv",
    "write_scan_json",
]

#: Item decisions, in the order reports show them.
DECISIONS: tuple[str, ...] = ITEM_DECISIONS

#: Decisions listed in the HTML item table, most important first.
LISTED_DECISIONS: tuple[str, ...] = ("refused", "licensable", "allowed", "error")

DECISION_LABELS: dict[str, str] = {
    "refused": "Refused",
    "licensable": "Licensable",
    "allowed": "Allowed",
    "unknown": "Unknown",
    "error": "Error",
}

#: Columns of :func:`write_scan_csv`, in order. Item columns first (repeated
#: on every row of the item), then the finding columns (empty for an item
#: without findings). ``terms`` is the work's terms for AI training at scan
#: time (deny | allow | license); ``price`` has two decimals, in ``currency``.
#: ``disputed`` is true when the work was under an ownership claim at scan
#: time: ``terms`` are then the strictest of the parties' (docs/claims.md).
CSV_COLUMNS: tuple[str, ...] = (
    "seq",
    "item_id",
    "name",
    "decision",
    "duration_s",
    "covered_s",
    "coverage",
    "sha256",
    "bytes",
    "error",
    "work_id",
    "title",
    "creator",
    "terms",
    "terms_version",
    "price",
    "currency",
    "score",
    "confidence",
    "query_start_s",
    "query_end_s",
    "work_start_s",
    "work_end_s",
    "speed",
    "pitch_shift_semitones",
    "disputed",
)

_ITEM_CSV_KEYS = CSV_COLUMNS[:10]
_FINDING_CSV_KEYS = (
    ("work_id", "work_id"),
    ("title", "title"),
    ("creator", "creator"),
    ("terms", "decision"),
    ("terms_version", "terms_version"),
    ("price", "price"),
    ("currency", "currency"),
    ("score", "score"),
    ("confidence", "confidence"),
    ("query_start_s", "query_start_s"),
    ("query_end_s", "query_end_s"),
    ("work_start_s", "work_start_s"),
    ("work_end_s", "work_end_s"),
    ("speed", "speed"),
    ("pitch_shift_semitones", "pitch_shift_semitones"),
    ("disputed", "disputed"),
)

_DASH = DASH

# ---------------------------------------------------------------- formatting


def _terms(decision: Any, version: Any = None, price: Any = None, currency: Any = None) -> str:
    """``license 120.00 EUR (v2)``, ``deny (v1)``."""
    text = str(decision) if decision else "unknown"
    if decision == "license" and price is not None:
        text += " " + format_money(price, currency)
    if version is not None:
        text += f" (v{version})"
    return text


# ---------------------------------------------------------------- item table


@dataclass
class ItemSelection:
    """The rows of the HTML item table, chosen from a stream of items.

    ``rows`` are display-ready dicts (refused, licensable, allowed, then
    error items; each group in dataset order). ``seen`` counts every item of
    the stream by decision; ``omitted`` is how many listable items (findings
    or errors) did not fit in ``max_rows``.
    """

    rows: list[dict]
    seen: dict[str, int] = field(default_factory=dict)
    omitted: int = 0
    max_rows: int = 0

    @property
    def listable(self) -> int:
        return sum(self.seen.get(d, 0) for d in LISTED_DECISIONS)

    @property
    def total(self) -> int:
        return sum(self.seen.values())


def select_item_rows(items: Iterable[dict], *, max_rows: int, numbering: str | None = None) -> ItemSelection:
    """Choose the items of the HTML table in one pass, holding at most ``max_rows``.

    Keeps the first items in dataset order of each decision, by priority:
    refused, licensable, allowed, error. When the table is full, a new item
    evicts the latest kept item of a lower-priority decision, if any, and is
    otherwise left out. Items with decision ``unknown`` (no registered work
    found) are counted, not listed. Each kept item is reduced to the fields
    the table shows.
    """
    if max_rows < 0:
        raise ValueError(f"max_rows={max_rows}: give 0 or more rows")
    rank = {d: i for i, d in enumerate(LISTED_DECISIONS)}
    buckets: list[list[tuple[float, int, dict]]] = [[] for _ in LISTED_DECISIONS]
    seen: dict[str, int] = {d: 0 for d in DECISIONS}
    kept = omitted = 0
    for arrival, item in enumerate(items):
        decision = str(item.get("decision") or "unknown")
        seen[decision] = seen.get(decision, 0) + 1
        r = rank.get(decision)
        if r is None:
            continue
        if kept >= max_rows:
            victim = next((b for b in range(len(buckets) - 1, r, -1) if buckets[b]), None)
            if victim is None:
                omitted += 1
                continue
            buckets[victim].pop()
            omitted += 1
            kept -= 1
        seq = item.get("seq")
        order = float(seq) if isinstance(seq, (int, float)) else float(arrival)
        buckets[r].append((order, arrival, _item_row(item, numbering)))
        kept += 1
    rows = [row for bucket in buckets for _, _, row in sorted(bucket, key=lambda t: (t[0], t[1]))]
    return ItemSelection(rows=rows, seen=seen, omitted=omitted, max_rows=max_rows)


def _item_row(item: Mapping[str, Any], numbering: str | None = None) -> dict:
    decision = str(item.get("decision") or "unknown")
    from consentry.reporting.findings import confidence_text, group_matches
    from consentry.reporting.thumbnails import safe_data_uri

    unit = item.get("unit") or "s"  # another medium's items (text: characters) keep their own unit
    span = _span if unit == "s" else (lambda a, b: _unit_span(a, b, unit))
    findings = []
    # An image finding's boxes are in its detail (docs/images.md): brought up to be kept per segment.
    found = [{**(f.get("detail") or {}), **f} if unit == "px" else f for f in item.get("findings") or ()]
    for f in group_matches(found):  # one finding per work, its segments under it
        findings.append(
            {
                "title": _text(f.get("title")),
                "creator": _text(f.get("creator")),
                "work_id": _text(f.get("work_id")),
                "terms": _terms(f.get("decision"), f.get("terms_version"), f.get("price"), f.get("currency"))
                + (" \u2014 disputed" if f.get("disputed") else ""),
                "confidence_words": confidence_text(f.get("confidence")),
                # An image item's thumbnail with the matched region outlined (stored with the finding; checked again).
                "thumbnail": safe_data_uri(f.get("item_thumbnail")),
                "segments": [{
                    "in_item": _box(g.get("query_box")) if "query_box" in g
                    else span(g.get("query_start_s"), g.get("query_end_s")),
                    "in_work": _box(g.get("work_box")) if "work_box" in g
                    else span(g.get("work_start_s"), g.get("work_end_s")),
                    "speed": (_fixed(g.get("speed"), ".2f") + "\u00d7") if g.get("speed") is not None and unit == "s"
                    else _DASH,
                    "pitch": _signed(g.get("pitch_shift_semitones"), "semitones") if unit == "s" else _DASH,
                    "score": _fixed(g.get("score"), ".1f"),
                    "confidence": _fixed(g.get("confidence"), ".6g"),
                } for g in f["segments"]],
            }
        )
    return {
        "seq": _text(seq_label(item.get("seq"), numbering) or None),  # "shard:position" when numbered per shard
        "item_id": _text(item.get("item_id")),
        "name": _text(item.get("name") or item.get("item_id")),
        "decision": decision,
        "decision_label": DECISION_LABELS.get(decision, decision),
        "duration": _seconds(item.get("duration_s")) if unit == "s" else _amount(item.get("size"), unit),
        "covered": _seconds(item.get("covered_s")) if unit == "s" else _amount(item.get("covered_s"), unit),
        "coverage": _fraction(item.get("coverage")) if item.get("coverage") is not None else _DASH,
        "error": item.get("error"),
        "findings": findings,
    }


_UNIT_WORDS = {"char": "characters", "px": "px"}


def _unit_span(start: Any, end: Any, unit: str) -> str:
    """A stretch in another medium's unit: ``characters 120\u2013890``."""
    try:
        return f"{_UNIT_WORDS.get(unit, unit)} {int(float(start)):,}\u2013{int(float(end)):,}"
    except (TypeError, ValueError):
        return _DASH


def _box(box: Any) -> str:
    """An image region: ``px 0,10–700,500`` (x0,y0–x1,y1 in the image's pixels)."""
    try:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    except (TypeError, ValueError):
        return _DASH
    return f"px {x0},{y0}–{x1},{y1}"


def _amount(value: Any, unit: str) -> str:
    try:
        return f"{int(float(value)):,} {_UNIT_WORDS.get(unit, unit)}"
    except (TypeError, ValueError):
        return _DASH


def _span(start: Any, end: Any) -> str:
    try:
        return f"{float(start):.1f}\u2013{float(end):.1f} s"
    except (TypeError, ValueError):
        return _DASH


# ---------------------------------------------------------------- HTML


def render_scan_html(scan: dict, items: Iterable[dict], *, max_rows: int = 2000) -> str:
    """The audit report of one scan as one self-contained HTML page.

    Parameters
    ----------
    scan : dict
        Scan summary (docs/scan-format.md, "Scan summary").
    items : iterable of dict
        The scan's items in dataset order; read once. At most ``max_rows`` of
        them are kept in memory, as table rows.
    max_rows : int
        Most items listed in the item table; the page says how many were left
        out and that the JSON and CSV exports hold them all.

    Returns
    -------
    str
        HTML5 text (UTF-8 when written out), with inline CSS and SVG only.
    """
    selection = select_item_rows(items, max_rows=max_rows, numbering=(scan.get("options") or {}).get("numbering"))
    context = _scan_context(scan)
    context["table"] = selection
    return template_environment().get_template("scan_report.html.j2").render(**context)


def _scan_context(scan: Mapping[str, Any]) -> dict:
    """Everything the scan template shows, with defaults for missing fields."""
    tool = scan.get("tool") or {}
    source = scan.get("source") or {}
    registry = scan.get("registry") or {}
    engine = scan.get("engine") or {}
    totals = scan.get("totals") or {}
    status = str(scan.get("status") or "unknown")

    counts = {d: _int(totals.get(d)) for d in DECISIONS}
    decided = sum(counts.values())
    decisions = [
        {
            "key": d,
            "label": DECISION_LABELS[d],
            "count": counts[d],
            "share": charts.format_share(counts[d], decided),
        }
        for d in DECISIONS
    ]
    decision_chart = charts.stacked_bar(
        [(DECISION_LABELS[d], counts[d]) for d in DECISIONS],
        title="Items by decision",
        chart_id="chart-decisions",
        desc="Share of the dataset's items per decision.",
        colours={DECISION_LABELS[d]: c for d, c in charts.DECISION_COLOURS.items()},
    )

    works = [
        {
            "title": _text(w.get("title")),
            "creator": _text(w.get("creator")),
            "work_id": _text(w.get("work_id")),
            "terms": _terms(w.get("decision"), w.get("terms_version"), w.get("price"), w.get("currency"))
            + (" \u2014 disputed" if w.get("disputed") else ""),
            "decision": str(w.get("decision") or ""),
            "n_items": _num(w.get("items")),
            "covered": _seconds(w.get("covered_s")),
        }
        for w in scan.get("works") or ()
    ]
    top_works = [
        (f"{_text(w.get('title'))} \u2014 {_text(w.get('creator'))}", _int(w.get("items")))
        for w in (scan.get("works") or ())[:10]
    ]
    works_chart = (
        charts.bar_chart(
            top_works,
            title="Items per work found (up to ten works with the most items)",
            chart_id="chart-works",
            value_label=lambda v: f"{charts.format_count(v)} item{'' if v == 1 else 's'}",
        )
        if top_works
        else None
    )
    creators = [
        {
            "creator": _text(c.get("creator")),
            "n_works": _num(c.get("works")),
            "n_items": _num(c.get("items")),
            "refused_works": _num(c.get("refused_works")),
            "licensable_works": _num(c.get("licensable_works")),
            "amount": format_money_map(c.get("amount")),
        }
        for c in scan.get("creators") or ()
    ]

    hist = scan.get("coverage_histogram") or {}
    edges = list(hist.get("edges") or [])
    hist_counts = list(hist.get("counts") or [])
    coverage = None
    if hist_counts and len(edges) == len(hist_counts) + 1:
        coverage = {
            "chart": Markup(
                charts.histogram(
                    edges,
                    hist_counts,
                    title="Items with findings by share of the item covered",
                    chart_id="chart-coverage",
                    x_label="share of the item covered by registered works",
                    y_label="items",
                    edge_label=lambda e: f"{100 * e:.0f}%",
                )
            ),
            "bins": [
                {"range": f"{100 * edges[i]:.0f}\u2013{100 * edges[i + 1]:.0f}%", "count": _int(n)}
                for i, n in enumerate(hist_counts)
            ],
            "total": sum(_int(n) for n in hist_counts),
        }

    errors = scan.get("errors") or {}
    by_reason = sorted(((str(r), _int(n)) for r, n in (errors.get("by_reason") or {}).items()),
                       key=lambda t: (-t[1], t[0]))
    errors_chart = (
        charts.bar_chart(
            by_reason[:10],
            title="Items that could not be read, by reason (up to ten reasons)",
            chart_id="chart-errors",
            colours={r: charts.DECISION_COLOURS["error"] for r, _ in by_reason},
        )
        if by_reason
        else None
    )

    return {
        "page_title": f"Dataset audit report \u2014 {_text(scan.get('scan_id'))}",
        "scan": {
            "scan_id": _text(scan.get("scan_id")),
            "status": status,
            "complete": status == "complete",
            "created_at": _text(scan.get("created_at")),
            "finished_at": _text(scan.get("finished_at")),
            "tool": f"{_text(tool.get('name'))} {_text(tool.get('version'))}",
            "source_spec": _text(source.get("spec")),
            "source_kind": _text(source.get("kind")),
            "source_name": _text(source.get("name")),
            "dataset_fingerprint": _text(scan.get("dataset_fingerprint")),
            "registry_path": _text(registry.get("path")),
            "registry_works": _num(registry.get("works")),
            "engine_name": _text(engine.get("name")),
            "engine_version": _text(engine.get("version")),
            "engine_param_hash": _text(engine.get("param_hash")),
            "options": [(str(k), _option(v)) for k, v in (scan.get("options") or {}).items()],
            "terms_snapshot_at": _text(scan.get("terms_snapshot_at")),
        },
        "totals": {
            "n_items": _num(totals.get("items")),
            "media": format_media(totals.get("media") or {}) if isinstance(totals.get("media"), dict) else "",
            "audio_clock": _clock(totals.get("audio_s")),
            "audio_s": _seconds(totals.get("audio_s")),
            "size": _size(totals.get("bytes")),
            "bytes": _num(totals.get("bytes")),
            "decided": decided,
        },
        "decisions": decisions,
        "decision_chart": Markup(decision_chart),
        "licence_cost": [(c, format_money(a, c)) for c, a in sorted((scan.get("licence_cost") or {}).items())],
        "works": works,
        "works_chart": Markup(works_chart) if works_chart else None,
        "creators": creators,
        "coverage": coverage,
        "exposure": _exposure_context(scan.get("exposure")),
        "errors": {
            "count": _num(errors.get("count", sum(n for _, n in by_reason))),
            "reasons": by_reason,
            "chart": Markup(errors_chart) if errors_chart else None,
            "examples": [
                {"item_id": _text(e.get("item_id")), "error": _text(e.get("error"))}
                for e in errors.get("examples") or ()
            ],
        },
    }


def _exposure_context(exposure: Mapping[str, Any] | None) -> dict | None:
    if not exposure:
        return None

    def usd_range(r: Mapping[str, Any] | None) -> dict:
        r = r or {}
        return {
            "min": format_money(r.get("min"), "USD"),
            "max": format_money(r.get("max"), "USD"),
            "wilful_max": format_money(r.get("wilful_max"), "USD"),
        }

    return {
        "note": _text(exposure.get("note")),
        "statute": _text(exposure.get("statute")),
        "infringement_began": _text(exposure.get("infringement_began")),
        "per_work": usd_range(exposure.get("per_work_usd")),
        "works_refused": _num(exposure.get("works_refused")),
        "eligible": _num(exposure.get("eligible")),
        "ineligible": _num(exposure.get("ineligible")),
        "unknown_registration": _num(exposure.get("unknown_registration")),
        "range": usd_range(exposure.get("range_usd")),
        "range_if_unknown_eligible": usd_range(exposure.get("range_usd_if_unknown_eligible")),
        "works": [
            {
                "title": _text(w.get("title")),
                "creator": _text(w.get("creator")),
                "work_id": _text(w.get("work_id")),
                "eligibility": _text(w.get("eligibility")),
                "reason": _text(w.get("reason")),
            }
            for w in exposure.get("works") or ()
        ],
    }


def _option(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _text(value)


def _int(value: Any) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0
    return int(v) if math.isfinite(v) else 0


# ---------------------------------------------------------------- JSON, CSV


def write_scan_json(scan: dict, items: Iterable[dict], fh: TextIO) -> None:
    """Write ``{"scan": scan, "items": [item, ...]}`` to the text file ``fh``.

    Items are written one per line as they come, so any number of items
    takes constant memory. Non-ASCII text is written as JSON escapes, so any
    file encoding works. NaN and infinities are refused with
    :class:`ValueError` (they are not JSON).
    """
    dumps = functools.partial(json.dumps, ensure_ascii=True, allow_nan=False)
    fh.write('{"scan": ')
    fh.write(dumps(scan))
    fh.write(',\n"items": [')
    sep = "\n"
    for item in items:
        fh.write(sep)
        fh.write(dumps(item))
        sep = ",\n"
    fh.write("\n]}\n")


def write_scan_csv(items: Iterable[dict], fh: TextIO) -> None:
    """Write the items as CSV with the header :data:`CSV_COLUMNS`.

    One row per (item, finding); an item without findings (unknown, error)
    gets one row with empty finding columns. Open ``fh`` with ``newline=""``.
    Text cells that a spreadsheet would run as a formula are prefixed with
    ``'`` (see the module docstring).
    """
    writer = csv.writer(fh)
    writer.writerow(CSV_COLUMNS)
    empty_finding = [""] * len(_FINDING_CSV_KEYS)
    for item in items:
        head = [csv_safe(item.get(k)) for k in _ITEM_CSV_KEYS]
        findings = item.get("findings") or ()
        if not findings:
            writer.writerow(head + empty_finding)
            continue
        for f in findings:
            cells = []
            for column, key in _FINDING_CSV_KEYS:
                value = f.get(key)
                if column == "price" and value is not None:
                    value = to_cents(value)
                cells.append(csv_safe(value))
            writer.writerow(head + cells)
