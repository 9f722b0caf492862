"""One formatting module (consentry.reporting.format), one clock, one declaration of the terms words (issue 16)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from consentry.domain import clock
from consentry.domain import terms as words
from consentry.reporting import format as fmt


@pytest.mark.parametrize("amount, text", [(2.675, "2.68"), (0.125, "0.13"), (1.005, "1.01"), (1234.5, "1,234.50"),
                                          (0, "0.00"), (Decimal("2.345"), "2.35")])
def test_money_is_rounded_half_up_everywhere_it_is_shown(amount, text):
    from consentry.reporting.summary.render import _fmt_money
    from consentry.adapters.web.render import _money

    assert fmt.format_money(amount, "EUR") == f"{text} EUR"
    assert _money(amount, "EUR") == f"{text} EUR"  # the web app's filter
    assert _fmt_money({"EUR": amount}) == f"EUR {text}"  # the summary's wording, same rounding
    assert fmt.format_money_map({"EUR": amount}) == f"{text} EUR"


def test_money_sums_are_decimal_and_half_up():
    assert fmt.sum_money([{"EUR": 0.1}, {"EUR": 0.2, "USD": 1.005}]) == {"EUR": 0.3, "USD": 1.01}
    assert fmt.add_money(0.1, 0.2) == 0.3 and fmt.add_money(1, 0.005) == 1.01
    with pytest.raises(ValueError):
        fmt.format_money(float("nan"), "EUR")


def test_ledger_statement_totals_use_the_same_rule():
    from consentry.services.accounting import _statements

    lines = [{"creator": "Ana", "currency": "EUR", "amount": 0.1}, {"creator": "Ana", "currency": "EUR", "amount": 0.2},
             {"creator": "Ana", "currency": "EUR", "amount": 0.005}]
    (statement,) = _statements(lines, basis={}, generated_at="2026-01-01T00:00:00+00:00")
    assert statement["totals"] == {"EUR": 0.31}


def test_times_and_cells():
    assert fmt.format_hms(3725.4) == "1:02:05" and fmt.format_hms(None) == fmt.DASH
    assert fmt.csv_safe("=1+2") == "'=1+2" and fmt.csv_safe(3) == 3 and fmt.csv_safe(None) == ""


def test_one_clock():
    from consentry.services import accounts
    from consentry.domain import claims
    from consentry.store import sqlbase

    text = clock.now_iso()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", text)
    assert abs(datetime.fromisoformat(text) - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert clock.iso(datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-02T01:04:05+00:00"
    assert sqlbase.utc_now is clock.now_iso and claims.iso is clock.iso
    assert accounts.iso is clock.iso and accounts.now_utc is clock.now


def test_terms_words_are_declared_once():
    from consentry.adapters.api import models as api_models
    from consentry.domain import audit, works as models, usage
    from consentry.reporting import scan_report
    from consentry.adapters.web import routes

    assert words.DECISIONS == ("deny", "allow", "license")
    assert models.DECISIONS is words.DECISIONS and usage.DECISIONS is words.DECISIONS
    assert routes.DECISIONS is words.DECISIONS and routes.UNITS is words.UNITS and usage.UNITS is words.UNITS
    assert usage.USES is words.USES and usage.USE_LABELS is words.USE_LABELS and set(words.USE_LABELS) == set(words.USES)
    assert api_models.Decision is words.Decision and api_models.Use is words.Use
    assert audit.ITEM_DECISIONS is words.ITEM_DECISIONS and scan_report.DECISIONS is words.ITEM_DECISIONS


def test_lengths_are_worded_in_each_medium_s_terms():
    from consentry.adapters.web.render import _item_length, _work_length
    from consentry.reporting.format import format_length

    assert format_length(205, "music") == "3:25" and format_length(3725, "music") == "1:02:05"
    assert format_length(20709, "text") == "20,709 characters" and format_length(1, "text") == "1 character"
    assert format_length(2073600, "image") == "2.1 megapixels" and format_length(64 * 48, "image") == "3,072 pixels"
    assert format_length(None, "text") == format_length("x") == format_length(float("nan")) == "\u2014"
    assert _work_length({"duration_s": 20709.0, "engine": "consentry-text-winnow"}) == "20,709 characters"
    assert _work_length({"duration_s": 65.0, "engine": "consentry-music-landmark"}) == "1:05"
    assert _item_length({"medium": "image", "size": 2073600.0, "duration_s": 0.0}) == "2.1 megapixels"
    assert _item_length({"medium": None, "duration_s": 10.0}) == "0:10"


def test_media_are_counted_in_words():
    from consentry.reporting.format import format_media

    assert format_media({"music": {"items": 2, "size": 7200.0}, "text": {"items": 1, "size": 20709.0},
                         "image": {"items": 3, "size": 6e6}}) == \
        "2 recordings, 2.00 h of audio; 1 text, 20,709 characters; 3 images"
    assert format_media({"music": {"works": 1, "size": 30.0}}) == "1 recording, 0.01 h of audio"
    assert format_media({}) == ""
    # a scan JSON read back may hold anything: what is not a count is left out, nothing raises
    assert format_media({"text": {"items": "many"}, "music": "x", "image": {"n": 1}}) == "1 image"
