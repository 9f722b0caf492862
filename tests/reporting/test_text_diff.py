"""Side-by-side view of an aligned text passage (consentry.reporting.text_diff)."""

from __future__ import annotations

import numpy as np

from consentry.engines.text import TextEngine
from consentry.reporting.text_diff import side_by_side, side_by_side_html
from consentry.store.segments import IndexSegment, build_directory

WORK = ("Chapter one. " + " ".join(f"word{i}" for i in range(30)) + " the river ran quietly past the old mill "
        "while the miller counted his copper coins by lantern light and dreamed of the sea " +
        " ".join(f"tail{i}" for i in range(30)) + " <end> & more.")


def _aligned(query: str):
    e = TextEngine()
    k, v = e.postings(e.fingerprint(e.signal(WORK)), fp_id=1)
    o = np.argsort(k, kind="stable")
    seg = IndexSegment(k[o], v[o], *build_directory(k[o]))
    (m,) = e.locate(e.signal(query), [seg])
    return e.align(query, WORK, m)


def test_differences_are_marked_on_both_sides_and_the_text_is_escaped():
    copied = WORK[WORK.index("word10"):WORK.index("tail5") + 5]
    query = "Model output <b>: " + copied.replace("copper", "silver").replace("quietly ", "") + " trailing & words"
    al = _aligned(query)
    view = side_by_side(query, WORK, al, context_chars=20)
    changed_q = [t for k, t in view["query"] if k == "changed"]
    changed_w = [t for k, t in view["work"] if k == "changed"]
    assert changed_q == ["silver"] and changed_w == ["copper"]
    assert [t for k, t in view["work"] if k == "only_here"] == ["quietly"]
    assert "".join(t for k, t in view["query"] if k != "context") == query[al.query_start_char:al.query_end_char]
    assert "".join(t for k, t in view["work"] if k != "context") == WORK[al.work_start_char:al.work_end_char]
    assert view["matched_words"] == al.matched_words and not view["truncated"]
    html = side_by_side_html(view)
    assert "<mark>silver</mark>" in html and "<mark>copper</mark>" in html and "<ins>quietly</ins>" in html
    assert "<b>" not in html and "&lt;b&gt;" in html


def test_a_long_view_is_cut():
    copied = WORK[WORK.index("word0"):]
    al = _aligned(copied)
    view = side_by_side(copied, WORK, al, max_chars=50)
    assert view["truncated"] and sum(len(t) for _, t in view["work"]) == 50
