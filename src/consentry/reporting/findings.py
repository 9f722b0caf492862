"""Findings as people read them: one finding per work found in an item, with every segment where it was found.

The engines report a *match* per located segment (``query_start_s`` …
``work_end_s``), so a work whose chorus is repeated three times in an item
gives three matches.  People, and the reports, want one finding per work
and item with its segments listed under it: :func:`group_matches` does that
for the web app, ``identify``'s table and the reports, so they cannot
disagree.  :func:`confidence_words` words a calibrated confidence, and
:func:`timeline_svg` draws where the segments lie in a timeline (an inline
SVG: no script, no style attribute, so it passes a strict CSP).
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterable, Mapping

#: Fields of a match that belong to one segment (the rest describe the work and its terms).
SEGMENT_FIELDS = ("query_start_s", "query_end_s", "work_start_s", "work_end_s", "speed", "pitch_shift_semitones",
                  "score", "confidence",
                  # a text passage's own fields (docs/text.md); another medium's extents
                  "query_start_char", "query_end_char", "work_start_char", "work_end_char", "matched_words",
                  # an image match's own fields (docs/images.md)
                  "query_box", "work_box", "transform", "method", "inliers", "pdq_distance",
                  "matched_work_box", "work_share",
                  "query_extent", "work_extent")

#: Lower bounds of the words for a calibrated confidence (probability that the finding is right), highest first.
CONFIDENCE_WORDS = ((0.999, "certain"), (0.99, "almost certain"), (0.9, "very likely"), (0.7, "likely"),
                    (0.5, "possible"), (0.0, "unlikely"))


def confidence_words(confidence: Any) -> str:
    """``0.9997`` → ``"certain"``: the words for a calibrated confidence in [0, 1] (``""`` for None)."""
    if confidence is None:
        return ""
    c = float(confidence)
    for bound, words in CONFIDENCE_WORDS:
        if c >= bound:
            return words
    return CONFIDENCE_WORDS[-1][1]


def confidence_percent(confidence: Any) -> str:
    """``0.99966`` → ``"99.97 %"`` (two decimals; never rounds a value below 1 up to 100 %)."""
    if confidence is None:
        return ""
    c = max(0.0, min(1.0, float(confidence)))
    pct = int(c * 10000) / 100.0  # truncated: 0.99999 shows as 99.99 %, not 100 %
    return f"{pct:.2f} %" if pct < 100 else "100 %"


def confidence_text(confidence: Any) -> str:
    """``"almost certain (99.97 %)"``."""
    if confidence is None:
        return ""
    return f"{confidence_words(confidence)} ({confidence_percent(confidence)})"


def covered_seconds(spans: Iterable[tuple[float, float]]) -> float:
    """Length of the union of ``(start_s, end_s)`` spans, in seconds (overlaps counted once)."""
    total, end = 0.0, None
    for a, b in sorted((float(a), float(b)) for a, b in spans):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def group_matches(matches: Iterable[Mapping[str, Any]], *, key: str = "work_id") -> list[dict]:
    """One finding per work: the matches of ``matches`` grouped by ``key``, each with its ``segments``.

    Parameters
    ----------
    matches : iterable of mapping
        Located matches as the engines and scans give them (``work_id``,
        ``title``, …, and the :data:`SEGMENT_FIELDS` of one segment).
    key : str
        The field that names the work (``work_id``).

    Returns
    -------
    list of dict
        Per work, in the order of the best confidence (then the first
        segment in the item): the first match's work fields, ``segments``
        (dicts of :data:`SEGMENT_FIELDS`, by ``query_start_s``), ``confidence``
        and ``score`` (the best segment's), ``query_covered_s`` (seconds of
        the item covered, overlaps once) and ``n_segments``.
    """
    groups: dict[Any, dict] = {}
    for m in matches:
        k = m.get(key)
        g = groups.get(k)
        if g is None:
            g = {f: v for f, v in m.items() if f not in SEGMENT_FIELDS}
            g["segments"] = []
            groups[k] = g
        g["segments"].append({f: m[f] for f in SEGMENT_FIELDS if f in m})
    out = []
    for g in groups.values():
        segs = sorted(g["segments"], key=lambda s: (s.get("query_start_s") or s.get("query_start_char") or 0.0))
        g["segments"] = segs
        g["n_segments"] = len(segs)
        confidences = [s["confidence"] for s in segs if s.get("confidence") is not None]
        scores = [s["score"] for s in segs if s.get("score") is not None]
        g["confidence"] = max(confidences) if confidences else None
        g["score"] = max(scores) if scores else None
        g["query_covered_s"] = covered_seconds(
            (s["query_start_s"], s["query_end_s"]) for s in segs if s.get("query_start_s") is not None)
        out.append(g)
    out.sort(key=lambda g: (-(g["confidence"] or 0.0),
                            g["segments"][0].get("query_start_s") or g["segments"][0].get("query_start_char") or 0.0))
    return out


def _clock(seconds: float) -> str:
    s = max(0.0, float(seconds))
    return f"{int(s // 60)}:{int(s % 60):02d}"


def segment_words(segment: Mapping[str, Any], item: str = "the item") -> str:
    """``"0:28–0:35 of the item is 0:05–0:12 of the work"`` (plus speed and pitch when they differ); ``item`` names
    what was searched ("the item", "the output", "the clip")."""
    text = (f"{_clock(segment['query_start_s'])}–{_clock(segment['query_end_s'])} of {item} is "
            f"{_clock(segment['work_start_s'])}–{_clock(segment['work_end_s'])} of the work")
    extra = []
    speed = segment.get("speed")
    if speed is not None and abs(float(speed) - 1.0) >= 0.01:
        extra.append(f"{float(speed) * 100:.0f} % speed")
    pitch = segment.get("pitch_shift_semitones")
    if pitch is not None and abs(float(pitch)) >= 0.25:
        extra.append(f"pitch {float(pitch):+.1f} semitones")
    return text + (f" ({', '.join(extra)})" if extra else "")


def timeline_svg(spans: Iterable[tuple[float, float]], *, total_s: float | None, label: str,
                 width_px: int = 240, height_px: int = 14) -> str:
    """A small timeline: a bar for ``total_s`` seconds with ``spans`` (seconds) filled; inline SVG markup.

    The SVG has ``role="img"`` and an ``aria-label`` naming ``label`` and the
    spans in minutes:seconds, so a screen reader says what the picture shows.
    It uses presentation attributes only (no ``style``), which a strict
    Content-Security-Policy allows.  A ``total_s`` of None or 0 takes the end
    of the last span as the length.
    """
    spans = [(max(0.0, float(a)), max(0.0, float(b))) for a, b in spans]
    end = max([b for _, b in spans] + [float(total_s or 0.0), 1e-9])
    words = ", ".join(f"{_clock(a)} to {_clock(b)}" for a, b in spans) or "nothing"
    aria = f"{label}: {words} of {_clock(end)}"
    rects = [f'<rect x="0" y="3" width="{width_px}" height="{height_px - 6}" rx="2" fill="#e5e7eb"/>']
    for a, b in spans:
        x = width_px * a / end
        w = max(2.0, width_px * (b - a) / end)
        rects.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height_px}" rx="2" fill="#0b5394"/>')
    return (f'<svg class="timeline" role="img" aria-label="{escape(aria)}" width="{width_px}" height="{height_px}" '
            f'viewBox="0 0 {width_px} {height_px}" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{escape(aria)}</title>{"".join(rects)}</svg>')


def terms_lines(uses: Mapping[str, Mapping[str, Any] | None], labels: Mapping[str, str]) -> list[dict]:
    """The terms of a work in words, per use: ``[{"use", "label", "decision", "words"}]``.

    ``uses`` maps a use (``ai_training``, …) to its terms (``decision``,
    ``price``, ``currency``, ``unit``); ``labels`` gives each use's name for
    people.  ``words`` says what the terms allow: "not allowed", "allowed",
    or "only with a licence: 40.00 EUR per work".
    """
    from consentry.reporting.format import format_money

    out = []
    for use, t in uses.items():
        t = t or {}
        d = t.get("decision")
        if d == "deny":
            words = "not allowed"
        elif d == "allow":
            words = "allowed"
        elif d == "license":
            unit = (t.get("unit") or "per-work").replace("-", " ")
            price = t.get("price")
            words = ("only with a licence: " + (f"{format_money(price, t.get('currency'))} {unit}" if price is not None
                                                 else "price on request"))
        else:
            words = "no terms set"
        out.append({"use": use, "label": labels.get(use, use), "decision": d, "words": words})
    return out


def forbidden_uses(lines: Iterable[Mapping[str, Any]]) -> list[str]:
    """The labels of the uses :func:`terms_lines` words as not allowed."""
    return [line["label"] for line in lines if line.get("decision") == "deny"]
