"""Small charts as inline SVG strings, for self-contained HTML reports.

Pure functions: numbers and labels in, an ``<svg>`` element as text out. No
plotting library, no scripts, no external fonts or images. Every chart

- carries a ``<title>`` and a ``<desc>`` (referenced by ``aria-labelledby``)
  whose text lists the data, so a screen reader gets the numbers, not a
  picture;
- prints its numbers as text labels, so colour is never the only carrier of
  meaning and the chart survives black-and-white printing;
- escapes every label (labels may come from untrusted files) and is
  well-formed XML;
- handles empty data and zero totals (no division by zero).

The element is meant to be inlined in HTML5, where the ``svg`` namespace is
implied; pass ``standalone=True`` to add ``xmlns`` for use as an ``.svg`` file.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Mapping, Sequence

__all__ = [
    "DECISION_COLOURS",
    "bar_chart",
    "format_count",
    "format_share",
    "histogram",
    "stacked_bar",
]

#: Colours of the item decisions; each has a contrast ratio of at least
#: 4.5:1 against white, and labels always repeat the decision in words.
DECISION_COLOURS: dict[str, str] = {
    "refused": "#b2182b",
    "licensable": "#8c510a",
    "allowed": "#1b7837",
    "unknown": "#595959",
    "error": "#5e3c99",
}

_DEFAULT_COLOUR = "#2b5d8c"
_TEXT_COLOUR = "#1a1a1a"
_MUTED_COLOUR = "#595959"
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
_SVG_NS = "http://www.w3.org/2000/svg"
_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
# Characters XML 1.0 does not allow, even escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def format_share(part: float, whole: float) -> str:
    """``part`` as a percentage of ``whole``, one decimal: ``"41.3%"``.

    A zero ``whole`` gives ``"0.0%"``; a non-zero share too small to show at
    one decimal gives ``"<0.1%"`` rather than a misleading ``"0.0%"``.
    """
    part, whole = _count(part), _count(whole)
    if whole <= 0 or part <= 0:
        return "0.0%"
    share = 100.0 * part / whole
    if share < 0.05:
        return "<0.1%"
    return f"{share:.1f}%"


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    chart_id: str,
    desc: str | None = None,
    colours: Mapping[str, str] | None = None,
    value_label: Callable[[float], str] | None = None,
    width_px: int = 640,
    bar_height_px: int = 22,
    max_label_chars: int = 32,
    standalone: bool = False,
) -> str:
    """Horizontal bar chart: one labelled bar per ``(label, value)``.

    Parameters
    ----------
    bars : sequence of (str, float)
        Labels and values, drawn top to bottom in the order given. Negative
        and non-finite values are drawn as zero.
    title : str
        Accessible name of the chart (its ``<title>``).
    chart_id : str
        Prefix for the element ids; must be unique in the page.
    desc : str, optional
        Sentence put before the generated data summary in ``<desc>``.
    colours : mapping of label to CSS colour, optional
        Colour per label; others use a default blue.
    value_label : callable, optional
        Text printed after each bar; default: the value as a number with
        thousands separators and its share of the sum of values.
    width_px, bar_height_px : int
        Size of the drawing, in CSS pixels.
    max_label_chars : int
        Longer labels are shortened with an ellipsis (the full label stays in
        the bar's tooltip and in ``<desc>``).
    standalone : bool
        Add the SVG namespace, for use outside HTML.
    """
    _check_id(chart_id)
    values = [_count(v) for _, v in bars]
    total = sum(values)
    if value_label is None:
        def value_label(v: float) -> str:
            return f"{format_count(v)} ({format_share(v, total)})"
    summary = "; ".join(f"{label}: {value_label(v)}" for (label, _), v in zip(bars, values))
    colours = colours or {}

    label_w = min(260, max(80, 7 * min(max_label_chars, max((len(str(l)) for l, _ in bars), default=0)) + 12))
    value_w = 130
    plot_w = max(60, width_px - label_w - value_w)
    row_h = bar_height_px + 8
    height = max(row_h, row_h * len(bars)) + 8
    top = max(values, default=0.0)

    parts = [_open_svg(chart_id, width_px, height, title, desc, summary or "No data.", standalone)]
    if not bars:
        parts.append(_text(width_px / 2, height / 2 + 4, "No data", anchor="middle", fill=_MUTED_COLOUR))
    for i, ((label, _), value) in enumerate(zip(bars, values)):
        y = 4 + i * row_h
        w = (plot_w * value / top) if top > 0 else 0.0
        colour = colours.get(str(label), _DEFAULT_COLOUR)
        parts.append(f"<g><title>{_esc(label)}: {_esc(value_label(value))}</title>")
        parts.append(_text(label_w - 8, y + bar_height_px * 0.7, _shorten(str(label), max_label_chars), anchor="end"))
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{_px(w)}" height="{bar_height_px}" fill="{_esc(colour)}"/>'
        )
        parts.append(_text(label_w + w + 6, y + bar_height_px * 0.7, value_label(value)))
        parts.append("</g>")
    # Baseline of the bars.
    parts.append(
        f'<line x1="{label_w}" y1="0" x2="{label_w}" y2="{height - 4}" stroke="{_TEXT_COLOUR}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    edges: Sequence[float],
    counts: Sequence[float],
    *,
    title: str,
    chart_id: str,
    desc: str | None = None,
    x_label: str = "",
    y_label: str = "items",
    edge_label: Callable[[float], str] | None = None,
    colour: str = _DEFAULT_COLOUR,
    width_px: int = 640,
    height_px: int = 240,
    standalone: bool = False,
) -> str:
    """Vertical histogram: bin ``i`` spans ``edges[i]`` to ``edges[i + 1]``.

    Parameters
    ----------
    edges : sequence of float, length ``len(counts) + 1``
        Bin edges, ascending.
    counts : sequence of float
        Count per bin; negative and non-finite counts are drawn as zero.
    title, chart_id, desc, standalone
        As in :func:`bar_chart`.
    x_label, y_label : str
        Axis captions.
    edge_label : callable, optional
        Formats an edge for the axis (default: ``f"{edge:g}"``).
    width_px, height_px : int
        Size of the drawing, in CSS pixels.

    Raises
    ------
    ValueError
        If ``len(edges) != len(counts) + 1`` (with at least one bin).
    """
    _check_id(chart_id)
    if counts and len(edges) != len(counts) + 1:
        raise ValueError(
            f"histogram {chart_id!r}: {len(edges)} edges for {len(counts)} bins; give len(counts) + 1 edges"
        )
    fmt = edge_label or (lambda e: f"{e:g}")
    values = [_count(c) for c in counts]
    summary = "; ".join(f"{fmt(edges[i])} to {fmt(edges[i + 1])}: {format_count(v)}" for i, v in enumerate(values))
    if values:
        summary = f"Number of {y_label or 'values'} per bin of {x_label or 'the variable'}: {summary}."
    left, right, top_pad, bottom = 48, 24, 20, 44
    plot_w = max(40, width_px - left - right)
    plot_h = max(40, height_px - top_pad - bottom)
    base_y = top_pad + plot_h
    top = max(values, default=0.0)

    parts = [_open_svg(chart_id, width_px, height_px, title, desc, summary or "No data.", standalone)]
    if not values:
        parts.append(_text(width_px / 2, height_px / 2, "No data", anchor="middle", fill=_MUTED_COLOUR))
        parts.append("</svg>")
        return "".join(parts)
    if top <= 0:
        parts.append(
            _text(left + plot_w / 2, top_pad + plot_h / 2, f"No {y_label}", anchor="middle", fill=_MUTED_COLOUR)
        )
    bin_w = plot_w / len(values)
    show_counts = len(values) <= 24
    for i, v in enumerate(values):
        h = (plot_h * v / top) if top > 0 else 0.0
        x = left + i * bin_w
        parts.append(f"<g><title>{_esc(fmt(edges[i]))} to {_esc(fmt(edges[i + 1]))}: {format_count(v)}</title>")
        parts.append(
            f'<rect x="{_px(x + 1)}" y="{_px(base_y - h)}" width="{_px(max(1.0, bin_w - 2))}" '
            f'height="{_px(h)}" fill="{_esc(colour)}"/>'
        )
        if show_counts:
            parts.append(_text(x + bin_w / 2, base_y - h - 4, format_count(v), anchor="middle"))
        parts.append("</g>")
    # Axes, edge labels (every edge if they fit, else about ten), captions.
    parts.append(
        f'<line x1="{left}" y1="{base_y}" x2="{left + plot_w}" y2="{base_y}" stroke="{_TEXT_COLOUR}" stroke-width="1"/>'
    )
    parts.append(
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{base_y}" stroke="{_TEXT_COLOUR}" stroke-width="1"/>'
    )
    step = max(1, math.ceil(len(edges) / 11))
    for i in range(0, len(edges), step):
        parts.append(_text(left + i * bin_w, base_y + 14, fmt(edges[i]), anchor="middle", size=11))
    parts.append(_text(left - 6, base_y, "0", anchor="end", size=11))
    parts.append(_text(left - 6, top_pad + 4, format_count(top), anchor="end", size=11))
    if x_label:
        parts.append(_text(left + plot_w / 2, height_px - 6, x_label, anchor="middle"))
    if y_label:
        parts.append(_text(4, 12, y_label, size=11))
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar(
    segments: Sequence[tuple[str, float]],
    *,
    title: str,
    chart_id: str,
    desc: str | None = None,
    colours: Mapping[str, str] | None = None,
    width_px: int = 640,
    bar_height_px: int = 28,
    standalone: bool = False,
) -> str:
    """One horizontal bar split into segments by share, with a legend.

    The legend lists every segment with its colour, count and share, so the
    chart reads without colour. A zero total draws an empty outline.

    Parameters
    ----------
    segments : sequence of (str, float)
        Labels and counts, drawn left to right. Negative and non-finite counts
        are drawn as zero.
    title, chart_id, desc, colours, width_px, bar_height_px, standalone
        As in :func:`bar_chart`.
    """
    _check_id(chart_id)
    colours = colours or {}
    values = [_count(v) for _, v in segments]
    total = sum(values)
    summary = "; ".join(
        f"{label}: {format_count(v)} ({format_share(v, total)})" for (label, _), v in zip(segments, values)
    )
    summary = f"{summary}. Total: {format_count(total)}." if segments else "No data."
    legend_row_h = 20
    legend_cols = 2 if width_px >= 400 else 1
    legend_rows = math.ceil(len(segments) / legend_cols)
    height = bar_height_px + 16 + legend_rows * legend_row_h + 4
    pad = 2

    parts = [_open_svg(chart_id, width_px, height, title, desc, summary, standalone)]
    bar_w = width_px - 2 * pad
    x = float(pad)
    if total > 0:
        for (label, _), v in zip(segments, values):
            if v <= 0:
                continue
            w = bar_w * v / total
            parts.append(
                f'<rect x="{_px(x)}" y="{pad}" width="{_px(w)}" height="{bar_height_px}" '
                f'fill="{_esc(colours.get(str(label), _DEFAULT_COLOUR))}">'
                f"<title>{_esc(label)}: {format_count(v)} ({format_share(v, total)})</title></rect>"
            )
            x += w
    else:
        parts.append(
            _text(width_px / 2, pad + bar_height_px * 0.65, "No items", anchor="middle", fill=_MUTED_COLOUR)
        )
    parts.append(
        f'<rect x="{pad}" y="{pad}" width="{bar_w}" height="{bar_height_px}" fill="none" '
        f'stroke="{_TEXT_COLOUR}" stroke-width="1"/>'
    )
    col_w = width_px / legend_cols
    for i, ((label, _), v) in enumerate(zip(segments, values)):
        lx = (i % legend_cols) * col_w + pad
        ly = bar_height_px + 16 + (i // legend_cols) * legend_row_h
        parts.append(
            f'<rect x="{_px(lx)}" y="{ly - 11}" width="12" height="12" '
            f'fill="{_esc(colours.get(str(label), _DEFAULT_COLOUR))}" stroke="{_TEXT_COLOUR}" stroke-width="0.5"/>'
        )
        parts.append(_text(lx + 18, ly, f"{label}: {format_count(v)} ({format_share(v, total)})"))
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- helpers


def _open_svg(chart_id: str, width: float, height: float, title: str, desc: str | None, summary: str,
              standalone: bool) -> str:
    ns = f' xmlns="{_SVG_NS}"' if standalone else ""
    full_desc = f"{desc} {summary}" if desc else summary
    return (
        f'<svg{ns} id="{chart_id}" class="chart" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {_px(width)} {_px(height)}" width="{_px(width)}" height="{_px(height)}" '
        f'preserveAspectRatio="xMinYMin meet" {_FONT} font-size="13">'
        f'<title id="{chart_id}-title">{_esc(title)}</title>'
        f'<desc id="{chart_id}-desc">{_esc(full_desc)}</desc>'
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int | None = None,
          fill: str = _TEXT_COLOUR) -> str:
    size_attr = f' font-size="{size}"' if size else ""
    return (
        f'<text x="{_px(x)}" y="{_px(y)}" text-anchor="{anchor}" fill="{fill}"{size_attr}>{_esc(text)}</text>'
    )


def _esc(value: object) -> str:
    """Text safe in XML and HTML content and in double-quoted attributes."""
    s = _XML_INVALID.sub("\ufffd", str(value))
    return (
        s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;").replace("'", "&#39;")
    )


def _check_id(chart_id: str) -> None:
    if not _ID_PATTERN.match(chart_id or ""):
        raise ValueError(f"chart_id {chart_id!r}: use a letter followed by letters, digits, '-' or '_'")


def _count(value: object) -> float:
    """A drawable quantity: numbers as float; negatives, NaN, None and junk as 0."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) and v > 0 else 0.0


def format_count(value: float) -> str:
    """``1234`` -> ``"1,234"``; ``2.5`` -> ``"2.5"``."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _px(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max(1, max_chars - 1)] + "\u2026"
