"""The one template environment of the reports (scan reports, statements): Jinja2 with autoescaping, the
shared stylesheet, and the value filters of :mod:`consentry.reporting.format`."""

from __future__ import annotations

import functools
from typing import Any, Mapping

import jinja2
from markupsafe import Markup

from consentry import __version__
from consentry.reporting import format as fmt

# Shared by every HTML report: readable on a phone, printable, contrast of at
# least 4.5:1 for text. No web fonts, no url(), no @import.
STYLESHEET = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1a1a1a; background: #ffffff; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.75rem; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 0.5rem; padding-top: 0.5rem; border-top: 2px solid #d0d0d0; }
h3 { font-size: 1.1rem; margin: 1.25rem 0 0.5rem; }
a { color: #0b4f8a; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em;
  overflow-wrap: anywhere; }
.muted { color: #4d4d4d; }
.small { font-size: 0.875rem; }
.thumb { display: block; max-width: 128px; max-height: 128px; margin: 0.25rem 0; border: 1px solid #999999; }
dl.facts { display: grid; grid-template-columns: minmax(10rem, max-content) 1fr; gap: 0.25rem 1rem; margin: 0.5rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.banner { border: 3px solid #8a1c1c; background: #fdeaea; color: #5c0e0e; padding: 0.75rem 1rem; margin: 1rem 0;
  font-size: 1.05rem; }
.notice { border-left: 6px solid #8c510a; background: #fff6e5; color: #3d2604; padding: 0.5rem 1rem;
  margin: 0.75rem 0; }
.estimate-label { display: inline-block; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em;
  border: 2px solid #8c510a; color: #5a3406; background: #fff6e5; padding: 0.1rem 0.5rem; }
.table-wrap { overflow-x: auto; margin: 0.5rem 0 1rem; border: 1px solid #d0d0d0; }
.table-wrap:focus { outline: 3px solid #0b4f8a; outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9375rem; }
caption { text-align: left; font-weight: 600; padding: 0.5rem; caption-side: top; }
th, td { text-align: left; vertical-align: top; padding: 0.35rem 0.5rem; border-bottom: 1px solid #e0e0e0; }
thead th { background: #f0f0f0; border-bottom: 2px solid #9a9a9a; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
.badge { display: inline-block; padding: 0 0.4rem; border-radius: 0.25rem; color: #ffffff; font-weight: 600;
  font-size: 0.85rem; white-space: nowrap; }
.d-refused { background: #b2182b; } .d-licensable { background: #8c510a; } .d-allowed { background: #1b7837; }
.d-unknown { background: #595959; } .d-error { background: #5e3c99; }
ul.findings { margin: 0; padding-left: 1.1rem; }
ul.findings li { margin-bottom: 0.35rem; }
figure { margin: 1rem 0; }
figcaption { font-size: 0.875rem; color: #4d4d4d; }
svg.chart { max-width: 100%; height: auto; display: block; }
details { margin: 0.5rem 0; }
footer { margin: 2rem 0 1rem; font-size: 0.875rem; color: #4d4d4d; }
nav ol { columns: 2; padding-left: 1.25rem; }
@media (max-width: 40rem) {
  main { padding: 0.5rem; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: 0.5rem; }
  nav ol { columns: 1; }
}
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav, .no-print { display: none; }
  .table-wrap { overflow: visible; border: none; }
  table { font-size: 9pt; }
  thead { display: table-header-group; }
  tr, figure, .banner { break-inside: avoid; }
  h2 { break-after: avoid; }
  .badge { color: #000000; background: none; border: 1px solid #000000; }
  a { color: #000000; text-decoration: none; }
}
"""


class _ReportEnvironment(jinja2.Environment):
    """Jinja2 environment in which ``x.name`` on a dict means ``x["name"]`` only.

    Plain Jinja2 tries the attribute first, so ``totals.items`` would be the
    dict method, not the number; report contexts are dicts of data, so their
    methods are never what a template means.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def environment(*, filters: Mapping[str, Any], globals: Mapping[str, Any]) -> jinja2.Environment:
    """A Jinja2 environment over the report templates with these filters and globals: autoescaping on, strict
    about undefined values, ``x.name`` on a dict is ``x["name"]``.

    Templates are package data of ``consentry.reporting``, found the same way
    from a source tree, an editable install and a wheel.
    """
    env = _ReportEnvironment(
        loader=jinja2.PackageLoader("consentry.reporting", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml", "svg", "html.j2"), default_for_string=True, default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(filters)
    env.globals.update(globals)
    return env


@functools.cache
def template_environment() -> jinja2.Environment:
    """The environment of the scan reports and statements (:func:`environment` with their filters)."""
    return environment(filters=dict(
        money=fmt.format_money,
        money_map=fmt.format_money_map,
        num=fmt.format_number,
        seconds=fmt.format_seconds,
        clock=fmt.format_hms,
        size=fmt.format_size,
        fraction=fmt.format_fraction,
        text=fmt.text_or_dash,
    ), globals=dict(stylesheet=Markup(STYLESHEET), consentry_version=__version__))
