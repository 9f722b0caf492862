"""Two texts side by side with their differences marked: the text part of an evidence report.

Input is an :class:`consentry.engines.text.Alignment` (word-level operations
in character offsets of both texts); output is plain data (:func:`side_by_side`)
that a template or a JSON report shows, or a self-contained HTML fragment
(:func:`side_by_side_html`) with equal words plain, replaced words marked on
both sides, words only in the output struck through on its side and words
only in the work underlined on its side.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["side_by_side", "side_by_side_html"]

#: Characters of context shown before and after the aligned passage on each side.
CONTEXT_CHARS = 120


def side_by_side(query_text: str, work_text: str, alignment: Any, *, context_chars: int = CONTEXT_CHARS,
                 max_chars: int = 20_000) -> dict:
    """The aligned passage of both texts as runs of ``(kind, text)``.

    Parameters
    ----------
    query_text, work_text : str
        The two extracted texts (the output checked, the registered work).
    alignment : Alignment
        From :meth:`consentry.engines.text.TextEngine.align`.
    context_chars : int
        Characters shown before and after the passage (kind ``"context"``).
    max_chars : int
        At most this many characters of each side are shown; the rest is cut
        (``"truncated": true``).

    Returns
    -------
    dict
        ``{"query": [[kind, text], ...], "work": [...], "query_span": [start, end], "work_span": [...],
        "matched_words": n, "truncated": bool}``; ``kind`` is ``context``, ``equal``, ``changed`` (replaced
        on that side), ``only_here`` (in this text only) or ``gap`` (unaligned text between two operations).
    """
    sides: dict[str, list] = {"query": [], "work": []}
    texts = {"query": query_text, "work": work_text}
    spans = {"query": (alignment.query_start_char, alignment.query_end_char),
             "work": (alignment.work_start_char, alignment.work_end_char)}
    for side in sides:
        start = spans[side][0]
        if start > 0:
            sides[side].append(["context", texts[side][max(0, start - context_chars):start]])
    last = {"query": spans["query"][0], "work": spans["work"][0]}
    for op, q0, q1, w0, w1 in alignment.ops:
        for side, (a, b) in (("query", (q0, q1)), ("work", (w0, w1))):
            if a > last[side]:
                sides[side].append(["gap", texts[side][last[side]:a]])
            if b > a:
                kind = {"equal": "equal", "replace": "changed"}.get(op)
                if kind is None:
                    kind = "only_here"
                sides[side].append([kind, texts[side][a:b]])
            last[side] = max(last[side], b)
    truncated = False
    for side in sides:
        end = spans[side][1]
        if end < len(texts[side]):
            sides[side].append(["context", texts[side][end:end + context_chars]])
        shown, kept = 0, []
        for kind, text in sides[side]:
            if shown + len(text) > max_chars:
                kept.append([kind, text[:max(0, max_chars - shown)]])
                truncated = True
                break
            kept.append([kind, text])
            shown += len(text)
        sides[side] = [run for run in kept if run[1]]
    return {"query": sides["query"], "work": sides["work"], "query_span": list(spans["query"]),
            "work_span": list(spans["work"]), "matched_words": alignment.matched_words, "truncated": truncated}


_TAGS = {"context": ("<span class='ctx'>", "</span>"), "equal": ("", ""), "gap": ("", ""),
         "changed": ("<mark>", "</mark>"), "only_here": None}


def side_by_side_html(view: dict, *, query_label: str = "Output", work_label: str = "Registered work") -> str:
    """An HTML ``<table>`` of :func:`side_by_side`'s view: the output left, the work right (text escaped)."""
    def cell(runs: list, only_tag: tuple[str, str]) -> str:
        parts = []
        for kind, text in runs:
            tag = only_tag if kind == "only_here" else _TAGS[kind]
            parts.append(tag[0] + escape(text).replace("\n", "<br>") + tag[1])
        return "".join(parts)

    return ("<table class='text-diff'><thead><tr><th>" + escape(query_label) + "</th><th>" + escape(work_label)
            + "</th></tr></thead><tbody><tr><td>" + cell(view["query"], ("<del>", "</del>")) + "</td><td>"
            + cell(view["work"], ("<ins>", "</ins>")) + "</td></tr></tbody></table>")
