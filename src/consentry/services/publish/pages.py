"""Terms pages for people (HTML, Jinja2 with autoescaping) and the same content as JSON (pure).

Pages: ``/terms/index``, ``/terms/creators/<creator_id>``,
``/terms/works/<work_id>``, each ``.html`` and ``.json``. The HTML pages are
self-contained (inline CSS, no scripts, no external resources) and
accessible (``lang``, one ``h1``, headings in order, tables with a caption
and ``th scope``). A work page carries the TDMRep ``<meta name="tdm-reservation">``
(and ``tdm-policy`` when TDM is licensed) and links to its JSON and to the
RSL document with ``rel="license"``. Every table row about a use carries
``data-use`` / ``data-decision`` (and ``data-price`` / ``data-currency`` for
licences) so that :func:`consentry.services.publish.check_site` can read it back.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jinja2
from markupsafe import Markup

from consentry.domain.usage import USE_LABELS, USES
from consentry.formats.headers import work_headers
from consentry.formats.mapping import tdm_licensed, tdm_reservation
from consentry.services.publish.plan import CreatorPlan, SitePlan, WorkPlan
from consentry.formats.tdmrep import UNIT_WORDS, policy_path
from consentry.formats.text import format_decimal

DECISION_WORDS = {"deny": "Not allowed", "allow": "Allowed", "license": "Licence needed"}
SOURCE_WORDS = {"work": "this work's terms", "creator": "the creator's default terms",
                "default": "registry default", "unknown": "not recorded",
                "disputed": "disputed: the strictest of the parties' terms"}

STYLESHEET = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1a1a1a;background:#fff;margin:0}
main{max-width:72rem;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.8rem;margin:.5rem 0;overflow-wrap:anywhere}
h2{font-size:1.3rem;margin-top:2rem}
a{color:#0b57d0}
a:focus,a:hover{outline:2px solid #0b57d0;outline-offset:2px}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #767676;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
thead th{background:#f0f0f0}
.table-wrap{overflow-x:auto}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.notice{border:2px solid #b3261e;background:#fdecea;padding:.5rem .75rem}
.deny{color:#8c1d18;font-weight:600}
.license{color:#7a4f01;font-weight:600}
.allow{color:#146c2e;font-weight:600}
code{font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
footer{margin-top:3rem;font-size:.9rem;color:#444}
""".strip()


@functools.cache
def environment() -> jinja2.Environment:
    """Jinja2 environment of the terms pages (autoescaping always on)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("consentry.services.publish", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def describe(t: dict) -> str:
    """Plain words for one use's terms."""
    if t["decision"] == "license":
        return (f"{DECISION_WORDS['license']}: {format_decimal(t['price'])} {t['currency']} "
                f"{UNIT_WORDS.get(t.get('unit') or 'per-work', t.get('unit'))}")
    return DECISION_WORDS[t["decision"]]


def _use_rows(uses: dict[str, dict], sources: dict[str, str] | None) -> list[dict]:
    rows = []
    for u in USES:
        if u not in uses:
            continue
        t = uses[u]
        rows.append({
            "use": u, "label": USE_LABELS[u], "decision": t["decision"], "words": describe(t),
            "price": format_decimal(t["price"]) if t["decision"] == "license" else None,
            "currency": t.get("currency"), "unit": t.get("unit"),
            "contact": t.get("contact"), "licence_url": t.get("licence_url"),
            "source": SOURCE_WORDS.get((sources or {}).get(u, ""), None) if sources is not None else None,
        })
    return rows


def _validity(plan: SitePlan, valid_from: str | None, valid_until: str | None, in_force: bool | None) -> dict:
    return {"valid_from": valid_from, "valid_until": valid_until, "in_force": in_force,
            "checked_on": plan.today.isoformat() if plan.today else None}


def _common(plan: SitePlan, title: str) -> dict[str, Any]:
    return {"page_title": title, "stylesheet": Markup(STYLESHEET),  # our own constant CSS, not escaped
            "tool": plan.tool, "generated_at": plan.generated_at,
            "base_url": plan.base_url, "index_url": "/terms/index.html"}


def _uses_json(uses: dict[str, dict], sources: dict[str, str] | None) -> dict:
    out = {}
    for u in USES:
        if u in uses:
            entry = {"label": USE_LABELS[u], **uses[u]}
            if sources is not None:
                entry["set_by"] = sources.get(u, "unknown")
            out[u] = entry
    return out


def work_json(plan: SitePlan, w: WorkPlan) -> dict:
    return {
        "format": "consentry-terms-work", "format_version": 1,
        "work_id": w.work_id, "title": w.title,
        "creator": {"name": w.creator_name, "creator_id": w.creator_id,
                    "terms_url": plan.url(f"/terms/creators/{w.creator_id}.json") if w.creator_id else None},
        "sha256": w.sha256 or None, "duration_s": w.duration_s, "registered_at": w.registered_at or None,
        "terms_version": w.terms_version, "terms_recorded_at": w.terms_recorded_at or None,
        **_validity(plan, w.valid_from, w.valid_until, w.in_force),
        "jurisdiction": w.jurisdiction or None,
        "disputed": w.dispute is not None,
        **({"dispute": w.dispute} if w.dispute is not None else {}),
        "uses": _uses_json(w.uses, w.sources),
        "signals": {
            "path": w.pattern,
            "headers": work_headers(plan, w),
            "tdm_reservation": tdm_reservation(w.uses),
            "tdm_policy": plan.url(policy_path(w.work_id)) if tdm_licensed(w.uses) else None,
            "tdmrep": plan.url("/.well-known/tdmrep.json"),
            "rsl": plan.url("/rsl.xml"), "robots_txt": plan.url("/robots.txt"), "ai_txt": plan.url("/ai.txt"),
        },
        "urls": {"html": plan.url(f"/terms/works/{w.work_id}.html"), "json": plan.url(f"/terms/works/{w.work_id}.json"),
                 "media": plan.url(w.media_path)},
        "generated_at": plan.generated_at or None, "tool": plan.tool,
    }


def _work_summary(plan: SitePlan, w: WorkPlan) -> dict:
    return {"work_id": w.work_id, "title": w.title, "creator": w.creator_name, "creator_id": w.creator_id,
            "in_force": w.in_force, "disputed": w.dispute is not None, "decisions": {u: w.uses[u]["decision"] for u in USES},
            "html": plan.url(f"/terms/works/{w.work_id}.html"), "json": plan.url(f"/terms/works/{w.work_id}.json")}


def creator_json(plan: SitePlan, c: CreatorPlan) -> dict:
    d = c.default_terms
    return {
        "format": "consentry-terms-creator", "format_version": 1,
        "creator_id": c.creator_id, "name": c.name,
        "default_terms_version": c.default_terms_version,
        "default_terms": None if d is None else {
            "uses": _uses_json(d["uses"], None), "valid_from": d["valid_from"], "valid_until": d["valid_until"],
            "jurisdiction": d["jurisdiction"]},
        "works": [_work_summary(plan, plan.by_id[wid]) for wid in c.works],
        "urls": {"html": plan.url(f"/terms/creators/{c.creator_id}.html"),
                 "json": plan.url(f"/terms/creators/{c.creator_id}.json")},
        "generated_at": plan.generated_at or None, "tool": plan.tool,
    }


def index_json(plan: SitePlan) -> dict:
    return {
        "format": "consentry-terms-index", "format_version": 1, "base_url": plan.base_url,
        "uses": {u: USE_LABELS[u] for u in USES},
        "creators": [{"creator_id": c.creator_id, "name": c.name, "works": list(c.works),
                      "html": plan.url(f"/terms/creators/{c.creator_id}.html"),
                      "json": plan.url(f"/terms/creators/{c.creator_id}.json")} for c in plan.creators],
        "works": [_work_summary(plan, w) for w in plan.works],
        "machine_readable": {"robots_txt": plan.url("/robots.txt"), "ai_txt": plan.url("/ai.txt"),
                             "tdmrep": plan.url("/.well-known/tdmrep.json"), "rsl": plan.url("/rsl.xml"),
                             "headers": plan.url("/headers.json")},
        "generated_at": plan.generated_at or None, "tool": plan.tool,
    }


def dump_json(data: Any) -> bytes:
    """Pretty, stable, valid UTF-8 JSON (ends with a newline)."""
    return (json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def render_work_html(plan: SitePlan, w: WorkPlan) -> bytes:
    ctx = _common(plan, f"AI-use terms: {w.title}")
    ctx.update({
        "w": w, "rows": _use_rows(w.uses, w.sources), "headers": work_headers(plan, w),
        "tdm_reservation": tdm_reservation(w.uses),
        "tdm_policy": plan.url(policy_path(w.work_id)) if tdm_licensed(w.uses) else None,
        "json_url": f"/terms/works/{w.work_id}.json",
        "creator_url": f"/terms/creators/{w.creator_id}.html" if w.creator_id else None,
        "validity": _validity(plan, w.valid_from, w.valid_until, w.in_force),
        "media_url": plan.url(w.media_path),
    })
    return environment().get_template("work.html.j2").render(ctx).encode("utf-8")


def render_creator_html(plan: SitePlan, c: CreatorPlan) -> bytes:
    ctx = _common(plan, f"AI-use terms of {c.name}")
    d = c.default_terms
    ctx.update({
        "c": c,
        "default_rows": _use_rows(d["uses"], None) if d else None,
        "default_validity": _validity(plan, d["valid_from"], d["valid_until"], None) if d else None,
        "default_jurisdiction": (d or {}).get("jurisdiction"),
        "works": [plan.by_id[wid] for wid in c.works], "uses": USES, "labels": USE_LABELS,
        "json_url": f"/terms/creators/{c.creator_id}.json",
    })
    return environment().get_template("creator.html.j2").render(ctx).encode("utf-8")


def render_index_html(plan: SitePlan) -> bytes:
    ctx = _common(plan, "AI-use terms of all works")
    ctx.update({"works": plan.works, "creators": plan.creators, "uses": USES, "labels": USE_LABELS,
                "words": DECISION_WORDS, "json_url": "/terms/index.json"})
    return environment().get_template("index.html.j2").render(ctx).encode("utf-8")
