"""Rendering a summary as Markdown, HTML (one self-contained page) or JSON."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from jinja2 import Environment

from consentry.domain.errors import InputError
from consentry.reporting.format import format_money_codes_first as _fmt_money
from consentry.reporting.templating import environment
from consentry.reporting.summary.model import (
    FORMATS, FROM_SCANS, NOT_APPLICABLE, OPTIONAL, TO_COMPLETE, _MODALITY_LABELS, _fmt_number,
)

# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def render_summary(summary: dict, *, fmt: str) -> str:
    """Render a summary from :func:`build_summary` as Markdown, HTML or JSON.

    Parameters
    ----------
    summary : dict
        As returned by :func:`build_summary`.
    fmt : {"md", "html", "json"}
        ``md``: Markdown, every value escaped (pipes in table cells too);
        ``html``: one self-contained, accessible page (inline CSS, no scripts,
        autoescaped); ``json``: the summary itself with sorted keys, so the same
        summary always gives the same bytes.

    Raises
    ------
    InputError
        ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt == "json":
        return json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "md":
        return _render_markdown(summary)
    if fmt == "html":
        return _html_environment().get_template("summary.html.j2").render(
            s=summary, datasets={d["scan_id"]: d for d in summary["datasets"]}
        )
    raise InputError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")


def _plain(value: Any) -> str:
    """A scalar value as text (booleans as the template's Yes/No)."""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, int):
        return _fmt_number(value)
    if isinstance(value, float):
        return _fmt_number(value, 2)
    return str(value)


def _fmt_bytes(n: int) -> str:
    size, unit = float(n), "B"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            break
        size /= 1000
    return f"{_fmt_number(n)} B" if unit == "B" else f"{size:,.1f} {unit}"


def _http_url(value: Any) -> str | None:
    """The value if it is an http(s) URL safe to link to, else None (no javascript: and the like)."""
    if isinstance(value, str) and re.fullmatch(r"https?://[^\s<>\"'`]+", value.strip(), flags=re.IGNORECASE):
        return value.strip()
    return None


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(?:(#{1,6}|[+\-])(?=\s|$)|(\d{1,9})([.)])(?=\s|$))")


def _md(value: Any) -> str:
    """Text safe inside a Markdown line or table cell: one line, markup and HTML escaped."""
    text = " ".join(_plain(value).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _md_start(value: Any) -> str:
    """Like :func:`_md`, for text that starts a line or a list item (no accidental heading or list)."""
    def escape(m: re.Match) -> str:
        return "\\" + m.group(1) if m.group(1) else f"{m.group(2)}\\{m.group(3)}"

    return _MD_LINE_START.sub(escape, _md(value))


def _md_code(text: str) -> str:
    return f"`{text}`" if "`" not in text and "\n" not in text else _md(text)


def _md_todo(field: dict) -> str:
    hint = f" (declare {_md_code(field['declare'])})" if field["declare"] else ""
    note = f" — {_md(field['note'])}" if field["note"] else ""
    return f"**TO COMPLETE — {_md(field['label'])}**{hint}{note}"


def _md_cell(field: dict) -> str:
    """A field inside a table cell."""
    if field["status"] == TO_COMPLETE:
        return f"**TO COMPLETE — {_md(field['label'])}**"
    if field["value"] is None:
        return "—"
    value = field["value"]
    text = "; ".join(_md(v) for v in value) if isinstance(value, list) else _md(value)
    text += " *(from Consentry scans)*" if field["status"] == FROM_SCANS else ""
    return text + (f" — *{_md(field['note'])}*" if field["note"] else "")


def _md_field(field: dict) -> list[str]:
    """A field as a Markdown list item (a list value as nested items)."""
    status = field["status"]
    if status == TO_COMPLETE:
        return [f"- {_md_todo(field)}"]
    label = _md(field["label"])
    label += "" if label.endswith(("?", ":")) else ":"
    note = f" *({_md(field['note'])})*" if field["note"] else ""
    if status == NOT_APPLICABLE:
        return [f"- **{label}** Not applicable.{note}"]
    if status == OPTIONAL:
        return [f"- **{label}** Optional: nothing declared.{note}"]
    tag = " *[from Consentry scans]*" if status == FROM_SCANS else ""
    value = field["value"]
    if isinstance(value, list):
        return [f"- **{label}**{tag}{note}"] + [f"  - {_md_start(v)}" for v in value]
    return [f"- **{label}** {_md(value)}{tag}{note}"]


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _md_datasets(ids: list[str], by_id: dict[str, dict]) -> list[str]:
    headers = ["Dataset", "Kind", "Specification", "Items", "Audio (hours)", "Size", "Modality", "Scan",
               "Dataset fingerprint (SHA-256)", "Date of scan"]
    rows = []
    for scan_id in ids:
        d = by_id[scan_id]
        rows.append([
            _md(d["name"]), _md(d["kind"] or "—"), _md(d["spec"] or "—"), _md(d["items"]),
            _md(_fmt_number(d["audio_hours"], 2)), _md(_fmt_bytes(d["bytes"])), _md(", ".join(_MODALITY_LABELS.get(m, m) for m in d["modalities"])),
            _md(f"{d['scan_id']} ({d['scan_status']})"), _md(d["dataset_fingerprint"] or "— (scan not complete)"),
            _md(d["scanned_at"]),
        ])
    return _md_table(headers, rows)


def _md_check_table(check: dict, by_id: dict[str, dict]) -> list[str]:
    headers = ["Dataset", "Scan", "Registered works checked", "Identification engine", "Items", "Refused (works)",
               "Licensable (works)", "Licence cost", "Allowed", "Unidentified", "Errors"]
    rows = []
    for scan_id in check["datasets"]:
        d = by_id[scan_id]
        rows.append([
            _md(d["name"]), _md(d["scan_id"]), _md(d["registry_works"]),
            _md(f"{d['engine']['name']} version {d['engine']['version']}"), _md(d["items"]),
            _md(f"{_fmt_number(d['refused'])} ({_fmt_number(d['refused_works'])})"),
            _md(f"{_fmt_number(d['licensable'])} ({_fmt_number(d['licensable_works'])})"),
            _md(_fmt_money(d["licence_cost"])), _md(d["allowed"]), _md(d["unknown"]), _md(d["error"]),
        ])
    t = check["totals"]
    works = t["registry_works"]
    rows.append([
        "**Total**", _md(f"{t['datasets']} scan{'s' if t['datasets'] != 1 else ''}"),
        _md(_fmt_number(works["min"]) if works["min"] == works["max"] else f"{works['min']:,}–{works['max']:,}"),
        _md("; ".join(t["engines"])), f"**{_md(t['items'])}**",
        f"**{_md(_fmt_number(t['refused']))}** ({_md(_fmt_number(t['refused_works']))} distinct)",
        f"**{_md(_fmt_number(t['licensable']))}** ({_md(_fmt_number(t['licensable_works']))} distinct)",
        f"**{_md(_fmt_money(t['licence_cost']))}**", f"**{_md(t['allowed'])}**", f"**{_md(t['unknown'])}**",
        f"**{_md(t['error'])}**",
    ])
    return _md_table(headers, rows)


def _render_markdown(summary: dict) -> str:
    by_id = {d["scan_id"]: d for d in summary["datasets"]}
    out: list[str] = [
        f"> **{_md(summary['draft_notice'])}**",
        "",
        f"# {_md(summary['title'])}",
        "",
        f"Required by {_md(summary['legal_basis'])}. Drafted in the structure of the "
        f"{_md(summary['template']['title'])}: {_md(summary['template']['reference'])}, {_md(summary['template']['url'])}",
        "",
    ]
    for field in summary["header"]:
        out += _md_field(field)
    out.append("")

    def section(sec: dict, level: int) -> None:
        dot = "." if sec["number"].count(".") < 2 else ""
        out.extend([f"{'#' * level} {sec['number']}{dot} {_md(sec['title'])}", ""])
        if sec.get("modalities"):
            rows = []
            for row in sec["modalities"]:
                checked = row["checked"]
                box = "☒" if checked["value"] is True else "☐" if checked["value"] is False else "?"
                first = f"{box} {_md(row['label'])}"
                if checked["status"] == TO_COMPLETE:
                    first += f" — **TO COMPLETE — {_md(checked['label'])}** (used or not?)"
                elif checked["status"] == FROM_SCANS:
                    first += " *(from Consentry scans)*"
                rows.append([first, _md_cell(row["training_data_size"]), _md_cell(row["types_of_content"])])
            out.extend(_md_table(["Modality", "Training data size", "Types of content"], rows))
            notes = []
            for row in sec["modalities"]:
                if row["checked"]["note"] and row["checked"]["note"] not in notes:
                    notes.append(row["checked"]["note"])
            out.extend(["", *(f"- {_md_start(n)}" for n in notes), ""] if notes else [""])
        if sec.get("unassigned_datasets"):
            out.extend(["Scanned datasets not yet assigned to a source category below:", ""])
            out.extend(_md_datasets(sec["unassigned_datasets"], by_id))
            out.append("")
        for field in sec["fields"]:
            out.extend(_md_field(field))
        if sec["fields"]:
            out.append("")
        if sec.get("scanned_datasets"):
            out.extend(["Datasets in this category checked by Consentry:", ""])
            out.extend(_md_datasets(sec["scanned_datasets"], by_id))
            out.append("")
        if sec.get("consent_registry_check"):
            out.extend(["Consent registry check, per scanned dataset (items; distinct works in brackets):", ""])
            out.extend(_md_check_table(sec["consent_registry_check"], by_id))
            out.append("")
        for sub in sec["subsections"]:
            section(sub, min(level + 1, 6))

    for sec in summary["sections"]:
        section(sec, 2)

    out.extend(["## Before publishing (remove this part)", ""])
    if summary["review_notes"]:
        out.extend(["Points to review:", ""])
        out.extend(f"- {_md_start(note)}" for note in summary["review_notes"])
        out.append("")
    if summary["to_complete"]:
        out.extend([f"Fields to complete ({len(summary['to_complete'])}):", ""])
        for item in summary["to_complete"]:
            where = f"{item['section']} " if item["section"] else ""
            hint = f" — declare {_md_code(item['declare'])}" if item["declare"] else ""
            out.append(f"- {_md_start(where + item['label'])}{hint}")
    else:
        out.append("No field is left to complete.")
    out.extend(["", f"*{_md(summary['draft_notice'])}*", ""])
    return "\n".join(out)


@functools.cache
def _html_environment() -> Environment:
    """The reports' one template environment with the summary's filters."""
    return environment(filters=dict(
        plain=_plain,
        number=_fmt_number,
        money=_fmt_money,
        nbytes=_fmt_bytes,
        http_url=_http_url,
        modality=lambda m: _MODALITY_LABELS.get(m, m),
    ), globals=dict(TO_COMPLETE=TO_COMPLETE, NOT_APPLICABLE=NOT_APPLICABLE, OPTIONAL=OPTIONAL, FROM_SCANS=FROM_SCANS))
