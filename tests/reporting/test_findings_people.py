"""consentry.reporting.findings: one finding per work with its segments, confidence in words, timelines, terms."""

from __future__ import annotations

import re

import pytest

from consentry.reporting.findings import (
    confidence_percent, confidence_text, confidence_words, covered_seconds, forbidden_uses, group_matches,
    segment_words, terms_lines, timeline_svg,
)


def match(work_id, q0, q1, w0, w1, *, confidence=0.99, score=20.0, **extra):
    return {"work_id": work_id, "title": f"T{work_id}", "creator": "C", "query_start_s": q0, "query_end_s": q1,
            "work_start_s": w0, "work_end_s": w1, "speed": 1.0, "pitch_shift_semitones": 0.0, "score": score,
            "confidence": confidence, **extra}


def test_matches_of_one_work_become_one_finding_with_its_segments_in_order():
    found = group_matches([match("a", 28.0, 35.8, 5.0, 12.8, confidence=0.9999, score=20),
                           match("b", 3.0, 9.0, 0.0, 6.0, confidence=0.95, score=30),
                           match("a", 0.0, 7.8, 5.0, 12.8, confidence=0.9996, score=18)])
    assert [f["work_id"] for f in found] == ["a", "b"]  # best confidence first
    a = found[0]
    assert a["n_segments"] == 2 and [s["query_start_s"] for s in a["segments"]] == [0.0, 28.0]
    assert a["confidence"] == 0.9999 and a["score"] == 20 and a["title"] == "Ta"
    assert "query_start_s" not in a  # segment fields live in the segments only
    assert a["query_covered_s"] == pytest.approx(7.8 + 7.8)
    assert group_matches([]) == []


def test_covered_seconds_counts_overlaps_once():
    assert covered_seconds([(0, 10), (5, 15), (20, 21)]) == pytest.approx(16.0)
    assert covered_seconds([]) == 0.0


@pytest.mark.parametrize("c, words", [(1.0, "certain"), (0.9995, "certain"), (0.995, "almost certain"),
                                      (0.93, "very likely"), (0.75, "likely"), (0.55, "possible"), (0.2, "unlikely")])
def test_confidence_in_words(c, words):
    assert confidence_words(c) == words


def test_confidence_as_a_number_never_rounds_up_to_certainty():
    assert confidence_percent(0.99999) == "99.99 %" and confidence_percent(1.0) == "100 %"
    assert confidence_text(0.9) == "very likely (90.00 %)" and confidence_text(None) == ""


def test_segment_words_name_both_places_and_any_alteration():
    s = match("a", 28.2, 35.8, 65.0, 72.8)
    assert segment_words(s) == "0:28–0:35 of the item is 1:05–1:12 of the work"
    assert segment_words(dict(s, speed=1.05, pitch_shift_semitones=-2.0), "the output").endswith(
        "of the work (105 % speed, pitch -2.0 semitones)")


def test_timeline_is_an_inline_picture_that_says_what_it_shows():
    svg = timeline_svg([(0.0, 10.0), (30.0, 40.0)], total_s=40.0, label="In the item", width_px=200)
    assert svg.startswith('<svg class="timeline" role="img" aria-label="In the item: 0:00 to 0:10, 0:30 to 0:40 of 0:40"')
    bars = re.findall(r'<rect x="([\d.]+)" y="0" width="([\d.]+)"', svg)
    assert [(float(x), float(w)) for x, w in bars] == [(0.0, 50.0), (150.0, 50.0)]
    assert "style=" not in svg and "<script" not in svg
    escaped = timeline_svg([(0, 1)], total_s=None, label='"<b>"')
    assert "<b>" not in escaped and "&quot;" in escaped


def test_terms_lines_say_what_each_use_allows():
    lines = terms_lines({"ai_training": {"decision": "license", "price": 40, "currency": "EUR", "unit": "per-work"},
                         "tdm": {"decision": "deny"}, "search_indexing": {"decision": "allow"}},
                        {"ai_training": "AI training", "tdm": "text and data mining"})
    assert [line["words"] for line in lines] == ["only with a licence: 40.00 EUR per work", "not allowed", "allowed"]
    assert forbidden_uses(lines) == ["text and data mining"]


def test_friendly_times_for_past_stamps_and_deadlines():
    from datetime import datetime, timezone

    from consentry.adapters.web.render import friendly_time

    now = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    assert str(friendly_time("2026-12-07T11:57:00+00:00", now)).endswith(">3 minutes ago · 7 Dec 2026, 11:57 UTC</time>")
    assert ">in 2 days · 9 Dec 2026, 12:00 UTC<" in str(friendly_time("2026-12-09T12:00:00+00:00", now))
    assert ">6 Jan 2027, 12:00 UTC<" in str(friendly_time("2027-01-06T12:00:00+00:00", now))  # far: the date alone
    assert str(friendly_time("not a date", now)) == "not a date" and str(friendly_time(None, now)) == ""
    assert "<script>" not in str(friendly_time("<script>", now))


def test_the_check_summary_report_gives_one_finding_per_work_with_its_segments():
    from types import SimpleNamespace

    from consentry.reporting.check_report import render_check_html

    result = SimpleNamespace(error=None, output="gen.wav", duration_s=40.0, has_findings=True, copied_share=0.4,
                             recording=[match("a", 20.0, 28.0, 5.0, 13.0, confidence=0.999),
                                        match("a", 0.0, 8.0, 5.0, 13.0, confidence=0.995)],
                             melody=[], voice_matches=[], voice_note=None, skipped={"melody": "no melody model"})
    html = render_check_html([result], checked_at="2026-12-07T15:00:00+00:00")
    assert html.count("Ta (a)") == 1 and "certain (99.90 %)" in html
    assert html.index("0.0-8.0 s (work 5.0-13.0 s") < html.index("20.0-28.0 s (work 5.0-13.0 s")
    assert "40.0 % of the output copied" in html and "skipped: no melody model" in html


def test_the_check_summary_report_covers_texts_images_and_errors_and_escapes_them():
    from types import SimpleNamespace

    from consentry.reporting.check_report import render_check_html

    text = SimpleNamespace(medium="text", error=None, output="answers.jsonl#2", has_findings=True, words=1200,
                           copied_share=0.25, passages=[{
                               "title": "The <Harbour> Essay", "work_id": "t1", "matched_words": 300,
                               "query_start_char": 10, "query_end_char": 1900, "work_start_char": 4000,
                               "work_end_char": 5890, "terms": "deny"}])
    image = SimpleNamespace(medium="image", error=None, output="gen.png", has_findings=True, width_px=640,
                            height_px=480, matches=[{"title": "Sunrise", "work_id": "i1", "confidence": 0.9999,
                                                     "query_box": [0, 0, 320, 240], "work_box": [100, 50, 740, 530],
                                                     "transform": {"scale": 0.5, "rotation_deg": 0.0, "mirrored": True},
                                                     "terms": "license"}])
    broken = SimpleNamespace(medium="text", error="<script>alert(1)</script>", output="bad.txt", has_findings=False)
    html = render_check_html([text, image, broken], checked_at="2026-12-07T15:00:00+00:00")
    assert "3 output(s) checked" in html and "2 with findings, 1 with errors" in html
    assert "The &lt;Harbour&gt; Essay (t1): 300 words, characters 10-1900 of the output = 4000-5890 of the work" in html
    assert "25.0 % of the output is registered text" in html and "1,200 words" in html
    assert "Sunrise (i1)" in html and "box [0, 0, 320, 240] of the output = [100, 50, 740, 530] of the work" in html
    assert "mirrored" in html and "640 x 480 px" in html
    assert "<script>" not in html and "error: &lt;script&gt;" in html
