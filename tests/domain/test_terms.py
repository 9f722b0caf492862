"""Terms per use: validation, versions, creator defaults, resolution, the export, and licence units in scans."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import notes, write_wav

from consentry import Registry
from consentry.domain.errors import FieldError, InputError
from consentry.domain.works import Terms
from consentry.domain.usage import USES, TermsVersion, UseTerms, creator_slug, resolve_terms
from consentry.services.scan import scan_dataset
from consentry.services.scan_summary import licence_amount

SR = 22050


def test_terms_and_use_terms_agree_on_prices():
    # one rule for a licence price (a finite number >= 0) in both: Terms took an infinite price that UseTerms refused
    for price in (float("inf"), float("nan"), -1, True, "5"):
        for make in (Terms, UseTerms):
            with pytest.raises(FieldError) as info:
                make("license", price, "EUR")
            assert info.value.field == "price"
    assert Terms("license", 0, "eur").currency == UseTerms("license", 0, "eur").currency == "EUR"


@pytest.mark.parametrize("kwargs, field, message", [
    ({"decision": "maybe"}, "decision", "must be one of"),
    ({"decision": "license"}, "price", "needs price"),
    ({"decision": "license", "price": float("nan"), "currency": "EUR"}, "price", "needs price"),
    ({"decision": "license", "price": 1, "currency": "EURO"}, "currency", "ISO 4217"),
    ({"decision": "license", "price": 1, "currency": "EUR", "unit": "per-year"}, "unit", "^unit 'per-year'"),
    ({"decision": "deny", "price": 3}, "price", "only go with"),
    ({"decision": "allow", "contact": "javascript:alert(1)"}, "contact", "https:// or mailto:"),
    ({"decision": "allow", "licence_url": "https://x.org/a b"}, "licence_url", "https://"),
])
def test_use_terms_validation(kwargs, field, message):
    # the domain names the field (each adapter words it: tests/adapters/cli/test_error_wording.py)
    with pytest.raises(FieldError, match=message) as info:
        UseTerms(**kwargs)
    assert info.value.field == field and "--" not in str(info.value)


def test_terms_version_validation_and_round_trip():
    with pytest.raises(InputError, match="unknown use"):
        TermsVersion(uses={"ai_everything": UseTerms("deny")})
    with pytest.raises(InputError, match="before"):
        TermsVersion(valid_from="2026-05-01", valid_until="2026-01-01")
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        TermsVersion(valid_from="May 1st")
    tv = TermsVersion(uses={"tdm": UseTerms("license", 3, "usd", "per-item", "mailto:a@b.org")}, valid_from="2026-01-01",
                      jurisdiction="EU")
    assert TermsVersion.from_dict(json.loads(json.dumps(tv.as_dict()))) == tv
    assert tv.uses["tdm"].currency == "USD" and tv.uses["tdm"].describe() == "license 3 USD per-item"


def test_resolution_precedence_work_then_creator_then_default():
    work = TermsVersion(uses={"ai_training": UseTerms("license", 10, "EUR")})
    creator = TermsVersion(uses={"ai_training": UseTerms("allow"), "voice_likeness": UseTerms("allow"),
                                 "search_indexing": UseTerms("deny")}, jurisdiction="EU")
    eff, source = resolve_terms(work, creator, Terms("license", 10, "EUR"))
    assert set(eff.uses) == set(USES)
    assert (eff.uses["ai_training"].decision, source["ai_training"]) == ("license", "work")
    assert (eff.uses["voice_likeness"].decision, source["voice_likeness"]) == ("allow", "creator")
    assert (eff.uses["ai_generative"].describe(), source["ai_generative"]) == ("license 10 EUR per-work", "default")
    assert eff.jurisdiction == "EU"
    eff, source = resolve_terms(TermsVersion(uses={"ai_training": UseTerms("allow")}), None, Terms("allow"))
    assert eff.uses["voice_likeness"].decision == "deny" and eff.uses["search_indexing"].decision == "allow"


def test_creator_slugs_are_unique_and_safe():
    taken: set[str] = set()
    assert creator_slug("Ana Lima", taken) == "ana-lima"
    assert creator_slug("ANA  lima!", taken) == "ana-lima-2"
    assert creator_slug("<script>", taken) == "script"
    assert creator_slug(None, taken) == "unknown-creator"
    assert creator_slug("日本", taken) == "creator"


@pytest.fixture()
def registry(tmp_path):
    x = notes(21, duration_s=24.0, sr=SR)
    y = notes(22, duration_s=24.0, sr=SR)
    reg = Registry.open(tmp_path / "r.db")
    reg.register([write_wav(tmp_path / "x.wav", x, sample_rate_hz=SR)], creator="Ana Lima", terms="deny", workers=1)
    reg.register([write_wav(tmp_path / "y.wav", y, sample_rate_hz=SR)], creator="Bo Chen", terms="license", price=2,
                 currency="EUR", workers=1)
    yield reg, tmp_path, x, y
    reg.close()


def test_versions_append_and_export_resolves_every_use(registry):
    reg, tmp_path, _, _ = registry
    x_id = next(w.work_id for w in reg.works() if w.title == "x")
    reg.set_work_terms(x_id, {"tdm": UseTerms("allow")}, jurisdiction="EU")
    reg.set_creator_terms("Ana Lima", {"voice_likeness": UseTerms("license", 500, "EUR", contact="mailto:ana@example.org")})
    with pytest.raises(InputError, match="no registered work has this creator"):
        reg.set_creator_terms("Nobody", {"tdm": UseTerms("deny")})
    with pytest.raises(InputError, match="ai_training"):
        reg.store.set_work_terms(x_id, TermsVersion(uses={"tdm": UseTerms("deny")}))
    history = reg.terms_history(x_id)
    assert [v for v, _, _ in history] == [1, 2] and "tdm" not in history[0][1].uses
    export = reg.terms_export()
    assert export["uses"] == list(USES)
    w = next(w for w in export["works"] if w["work_id"] == x_id)
    assert set(w["terms"]["uses"]) == set(USES) and w["terms_version"] == 2
    assert w["terms"]["uses"]["tdm"] == {"decision": "allow"} and w["terms_source"]["tdm"] == "work"
    assert w["terms"]["uses"]["voice_likeness"]["price"] == 500 and w["terms_source"]["voice_likeness"] == "creator"
    assert w["terms"]["jurisdiction"] == "EU" and w["creator_id"] == "ana-lima" and w["file_name"] == "x.wav"
    ana = next(c for c in export["creators"] if c["name"] == "Ana Lima")
    assert ana["default_terms_version"] == 1 and ana["works"] == [x_id]
    json.dumps(export)


def test_licence_units_set_what_a_scan_owes(registry):
    reg, tmp_path, x, y = registry
    y_id = next(w.work_id for w in reg.works() if w.title == "y")
    data = tmp_path / "data"
    data.mkdir()
    for i, (a, b) in enumerate(((2, 14), (8, 20))):
        write_wav(data / f"{i}.wav", y[int(a * SR):int(b * SR)], sample_rate_hz=SR)
    per_work = scan_dataset(reg, data, workers=1)
    assert per_work["licence_cost"] == {"EUR": 2.0}
    reg.set_work_terms(y_id, {"ai_training": UseTerms("license", 2, "EUR", unit="per-item")})
    per_item = scan_dataset(reg, data, workers=1)
    w = per_item["works"][0]
    assert (w["unit"], w["items"], w["quantity"], w["amount"]) == ("per-item", 2, 2.0, 4.0)
    reg.set_work_terms(y_id, {"ai_training": UseTerms("license", 2, "EUR", unit="per-minute")})
    per_minute = scan_dataset(reg, data, workers=1)
    w = per_minute["works"][0]
    assert w["unit"] == "per-minute" and w["amount"] == round(2 * round(w["covered_s"] / 60, 2), 2)
    assert 0.25 < w["covered_s"] / 60 <= 0.4


def test_licence_amount_units():
    assert licence_amount(price=5, unit="per-work", items=7, covered_s=600) == (1.0, 5.0)
    assert licence_amount(price=5, unit="per-training-run", items=7, covered_s=600) == (1.0, 5.0)
    assert licence_amount(price=5, unit="per-item", items=7, covered_s=600) == (7.0, 35.0)
    assert licence_amount(price=0.5, unit="per-minute", items=7, covered_s=90) == (1.5, 0.75)


def test_licence_units_fit_the_work_s_medium(tmp_path):
    """per-minute measures audio and per-1000-words text: a work of another medium is refused them (naming the
    units that fit), and a scan that meets one anyway (a creator's default terms reach every medium) counts
    items, never 'minutes' of characters."""
    song = write_wav(tmp_path / "song.wav", notes(61, duration_s=12.0, sr=SR), sample_rate_hz=SR)
    words = "harbour lantern quietly archive measure ledger orchard weaving signal copper meadow distant".split()
    essay = tmp_path / "essay.txt"
    essay.write_text(" ".join(words[(i * 5) % len(words)] for i in range(500)))
    with Registry.open(tmp_path / "r.db") as reg:
        s = reg.register([song, essay], creator="Ana Lima", workers=1, melody=False)
        by_engine = {w.engine.split("-")[1]: w for w in s.registered}
        text, music = by_engine["text"], by_engine["music"]
        with pytest.raises(FieldError) as info:
            reg.set_work_terms(text.work_id, {"ai_training": UseTerms("license", 10.0, "EUR", unit="per-minute")})
        assert info.value.field == "unit" and "does not measure a text" in str(info.value)
        assert "per-1000-words" in str(info.value) and "per-minute" not in str(info.value).split("choose one of")[1]
        with pytest.raises(FieldError, match="does not measure a recording"):
            reg.set_work_terms(music.work_id, {"ai_training": UseTerms("license", 1.0, "EUR", unit="per-1000-words")})
        reg.set_work_terms(text.work_id, {"ai_training": UseTerms("license", 2.0, "EUR", unit="per-1000-words")})
        reg.set_work_terms(music.work_id, {"ai_training": UseTerms("license", 3.0, "EUR", unit="per-minute")})
    # the amounts: a unit of another medium counts the items
    assert licence_amount(price=5.0, unit="per-minute", items=2, covered_s=20_000.0, medium="text") == (2.0, 10.0)
    assert licence_amount(price=5.0, unit="per-minute", items=2, covered_s=120.0, medium="music") == (2.0, 10.0)
    assert licence_amount(price=5.0, unit="per-1000-words", items=3, covered_s=9.0, words=None,
                          medium="music") == (3.0, 15.0)
    assert licence_amount(price=5.0, unit="per-minute", items=1, covered_s=600.0, medium="image") == (1.0, 5.0)
