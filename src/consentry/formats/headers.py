"""HTTP headers per work path, as headers.json and as nginx, Apache and Caddy configuration, written and read (pure).

For every work, on ``/works/<id>/*``:

- ``tdm-reservation`` (TDMRep) and, for licensed TDM, ``tdm-policy``;
- ``Content-Usage`` (draft-ietf-aipref-attach, an RFC 9651 dictionary);
- ``X-Robots-Tag`` with ``noai, noimageai`` when training is not allowed and
  ``noindex`` when search indexing is not allowed (omitted otherwise);
- ``Link`` with ``rel="license"`` (IANA link relation, RFC 4946) to the
  work's terms JSON and to the RSL document (typed ``application/rsl+xml``,
  the way RSL clients discover licences).

Header values are built only from our own vocabulary and from URLs made of
the checked origin and checked ids (see :mod:`consentry.services.publish.text`), so
they never contain a quote other than those we put in ``Link``, a backslash,
``$``, ``{``, ``;`` outside ``Link`` parameters, or a line break; the
snippets still escape ``"`` and ``\\`` in case.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from consentry.formats.mapping import content_usage, tdm_licensed, tdm_reservation, x_robots_tag
from consentry.formats.patterns import normalize_pattern
from consentry.formats.tdmrep import policy_path

if TYPE_CHECKING:
    from consentry.services.publish.plan import SitePlan, WorkPlan

HEADER_NAMES: tuple[str, ...] = ("tdm-reservation", "tdm-policy", "Content-Usage", "X-Robots-Tag", "Link")


def work_headers(plan: SitePlan, w: WorkPlan) -> dict[str, str]:
    """The headers to send with every file under ``/works/<id>/``."""
    h = {"tdm-reservation": str(tdm_reservation(w.uses))}
    if tdm_licensed(w.uses):
        h["tdm-policy"] = plan.url(policy_path(w.work_id))
    h["Content-Usage"] = content_usage(w.uses)
    xrt = x_robots_tag(w.uses)
    if xrt:
        h["X-Robots-Tag"] = xrt
    h["Link"] = (f'<{plan.url(f"/terms/works/{w.work_id}.json")}>; rel="license"; type="application/json", '
                 f'<{plan.url("/rsl.xml")}>; rel="license"; type="application/rsl+xml"')
    return h


def site_headers(plan: SitePlan) -> list[tuple[str, dict[str, str]]]:
    return [(w.pattern, work_headers(plan, w)) for w in plan.works]


def _q(value: str) -> str:
    """A double-quoted configuration string with ``\\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _prefix(pattern: str) -> str:
    if not pattern.endswith("*") or "*" in pattern[:-1] or "$" in pattern:
        raise ValueError(f"header path pattern {pattern!r} is not a prefix followed by '*'")
    return pattern[:-1]


def _safe_path(prefix: str) -> str:
    if not re.match(r"^/[A-Za-z0-9/_-]*$", prefix):
        raise ValueError(f"header path {prefix!r} has characters not allowed in server configuration")
    return prefix


def render_nginx(plan: SitePlan, headers: list[tuple[str, dict[str, str]]]) -> str:
    lines = [
        f"# nginx: the AI-use headers for {plan.base_url}, written by consentry publish.",
        "# Include inside the server { } block: include /path/to/nginx.conf;",
        "# add_header in a location replaces the server's add_header lines: if you already have",
        "# a location for these paths, move these lines into it instead.",
    ]
    for pattern, hdrs in headers:
        prefix = _safe_path(_prefix(pattern))
        lines.append("")
        lines.append(f"location ^~ {prefix} {{")
        for name, value in hdrs.items():
            lines.append(f"    add_header {name} {_q(value)} always;")
        lines.append("}")
    return "\n".join(lines) + "\n"


def render_apache(plan: SitePlan, headers: list[tuple[str, dict[str, str]]]) -> str:
    lines = [
        f"# Apache 2.4 (.htaccess or server config; needs mod_headers): the AI-use headers for {plan.base_url},",
        "# written by consentry publish. Place this .htaccess at the document root.",
        "<IfModule mod_headers.c>",
    ]
    for pattern, hdrs in headers:
        prefix = _safe_path(_prefix(pattern))
        lines.append(f'<If "%{{REQUEST_URI}} =~ m#^{prefix}#">')
        for name, value in hdrs.items():
            lines.append(f"    Header always set {name} {_q(value)}")
        lines.append("</If>")
    lines.append("</IfModule>")
    return "\n".join(lines) + "\n"


def render_caddy(plan: SitePlan, headers: list[tuple[str, dict[str, str]]]) -> str:
    lines = [
        f"# Caddy: the AI-use headers for {plan.base_url}, written by consentry publish.",
        "# A snippet: put `import consentry_ai_headers` inside the site block, after importing",
        "# this file (import /path/to/Caddyfile) at the top level.",
        "(consentry_ai_headers) {",
    ]
    for i, (pattern, hdrs) in enumerate(headers):
        prefix = _safe_path(_prefix(pattern))
        matcher = f"@consentry_{i}"
        lines.append(f"\t{matcher} path {prefix}*")
        lines.append(f"\theader {matcher} {{")
        for name, value in hdrs.items():
            lines.append(f"\t\t{name} {_q(value)}")
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- reading back

_QUOTED = r'"((?:[^"\\]|\\.)*)"'


def _unq(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def _read_blocks(text: str, *, opens: str, header: str, closes: str) -> list[tuple[str, dict[str, str]]]:
    """``(path pattern, {header: value})`` per block of a server's configuration snippet.

    ``opens`` matches a block's first line (group 1: the path prefix),
    ``header`` a header line inside it (group 1: the name; then the quoted
    value) and ``closes`` is the block's last line.
    """
    out: list[tuple[str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        s = line.strip()
        if m := re.match(opens, s):
            current = {}
            out.append((m.group(1) + "*", current))
        elif (m := re.match(header, s)) and current is not None:
            current[m.group(1)] = _unq(m.group(2))
        elif s == closes:
            current = None
    return out


def read_nginx(text: str) -> list[tuple[str, dict[str, str]]]:
    return _read_blocks(text, opens=r"^location \^~ (\S+) \{$", header=r"^add_header (\S+) " + _QUOTED + r" always;$",
                        closes="}")


def read_apache(text: str) -> list[tuple[str, dict[str, str]]]:
    return _read_blocks(text, opens=r'^<If "%\{REQUEST_URI\} =~ m#\^(\S+)#">$',
                        header=r"^Header always set (\S+) " + _QUOTED + r"$", closes="</If>")


def read_caddy(text: str) -> list[tuple[str, dict[str, str]]]:
    matchers: dict[str, str] = {}
    out: list[tuple[str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        s = line.strip()
        if m := re.match(r"^(@\S+) path (\S+)$", s):
            matchers[m.group(1)] = m.group(2)
        elif (m := re.match(r"^header (@\S+) \{$", s)) and m.group(1) in matchers:
            current = {}
            out.append((matchers[m.group(1)], current))
        elif (m := re.match(r"^(\S+) " + _QUOTED + r"$", s)) and current is not None:
            current[m.group(1)] = _unq(m.group(2))
        elif s == "}":
            current = None
    return out


def parse_headers_json(data: bytes) -> tuple[list[tuple[str, str, list[tuple[str, str]]]], str | None]:
    """headers.json as (pattern as written, normalised pattern, headers) rules, in file order, and why not.

    Tolerant of its shape (a list of ``{path, headers}``, as publish writes it,
    or an object of pattern -> headers); header names come out lower-case.
    Returns the rules and, when the document is not readable at all, why.
    """
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return [], "not JSON"
    if isinstance(parsed, dict):
        for key in ("rules", "paths", "headers", "locations"):
            if isinstance(parsed.get(key), (list, dict)) and len(parsed) <= 3:
                parsed = parsed[key]
                break
    entries: list[tuple[object, object]] = []
    if isinstance(parsed, dict):
        entries = list(parsed.items())
    elif isinstance(parsed, list):
        for item in parsed:
            if isinstance(item, dict):
                pattern = next((item[k] for k in ("pattern", "path", "location", "match", "source", "for")
                                if isinstance(item.get(k), str)), None)
                entries.append((pattern, item.get("headers")))
    else:
        return [], "not an object or array of path rules"
    rules = []
    for pattern, headers in entries[:10_000]:
        if not isinstance(pattern, str):
            continue
        pairs: list[tuple[str, str]] = []
        if isinstance(headers, dict):
            for name, value in headers.items():
                values = value if isinstance(value, list) else [value]
                pairs.extend((str(name).lower(), str(v)) for v in values if isinstance(v, (str, int, float)))
        elif isinstance(headers, list):
            for item in headers:
                if isinstance(item, str) and ":" in item:
                    name, _, value = item.partition(":")
                    pairs.append((name.strip().lower(), value.strip()))
                elif isinstance(item, (list, tuple)) and len(item) == 2:
                    pairs.append((str(item[0]).lower(), str(item[1])))
        rules.append((pattern, normalize_pattern(pattern if pattern.startswith(("/", "*")) else "/" + pattern), pairs))
    return rules, None
