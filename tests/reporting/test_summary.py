"""Draft of the EU AI Act public summary of training content (consentry.reporting.summary).

Scans are written by hand in the shape of docs/scan-format.md; nothing here
touches a registry or audio.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from consentry.domain.errors import InputError
from consentry.reporting.summary import FORMATS, build_summary, load_declaration, render_summary, validate_declaration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "summary-declaration.yaml"
GENERATED_AT = "2026-11-25T09:00:00+00:00"

#: Every section of the template, in order: (number, title).
TEMPLATE_SECTIONS = [
    ("1", "General information"),
    ("1.1", "Provider identification"),
    ("1.2", "Model identification"),
    ("1.3", "Modalities, overall training data size and other characteristics"),
    ("2", "List of data sources"),
    ("2.1", "Publicly available datasets"),
    ("2.2", "Private non-publicly available datasets obtained from third parties"),
    ("2.2.1", "Datasets commercially licensed by rightsholders or their representatives"),
    ("2.2.2", "Private datasets obtained from other third parties"),
    ("2.3", "Data crawled and scraped from online sources"),
    ("2.4", "User data"),
    ("2.5", "Synthetic data"),
    ("2.6", "Other sources of data"),
    ("3", "Data processing aspects"),
    ("3.1", "Respect of reservation of rights from text and data mining exception or limitation"),
    ("3.2", "Removal of illegal content"),
    ("3.3", "Other information (optional)"),
]


def make_scan(
    scan_id: str,
    *,
    name: str,
    created_at: str,
    totals: dict,
    works: list[dict],
    licence_cost: dict,
    fingerprint: str | None,
    status: str = "complete",
    registry_works: int = 120,
    kind: str = "webdataset",
    spec: str = "/data/shards/train-{000..127}.tar",
) -> dict:
    """A scan summary as documented in docs/scan-format.md."""
    return {
        "scan_id": scan_id,
        "status": status,
        "created_at": created_at,
        "finished_at": created_at.replace("T10:", "T11:") if status == "complete" else None,
        "tool": {"name": "consentry", "version": "0.1.0"},
        "source": {"spec": spec, "kind": kind, "name": name},
        "dataset_fingerprint": fingerprint,
        "registry": {"path": "/home/ana/consentry.db", "works": registry_works},
        "engine": {"name": "consentry-music-landmark", "version": "1", "param_hash": "a9373b04c01a0962"},
        "options": {"min_score": 14, "accept_licensed": False, "fetch_urls": False},
        "terms_snapshot_at": created_at,
        "totals": totals,
        "works": works,
        "creators": [],
        "licence_cost": licence_cost,
        "exposure": {"note": "Estimate, not legal advice.", "works_refused": 0},
        "coverage_histogram": {"edges": [0.0, 0.5, 1.0], "counts": [0, 0]},
        "errors": {"count": totals["error"], "by_reason": {}, "examples": []},
    }


def work(work_id: str, decision: str, price: float | None = None, currency: str | None = None, items: int = 1) -> dict:
    return {"work_id": work_id, "title": f"Song {work_id}", "creator": "Ana Lima", "decision": decision,
            "terms_version": 1, "price": price, "currency": currency, "items": items, "covered_s": 12.5}


@pytest.fixture
def scan_a() -> dict:
    """A licensed label catalogue: 1,000 items, one hour of audio."""
    return make_scan(
        "s-20261123-3f2a9c01",
        name="label-catalogue",
        created_at="2026-11-23T10:49:00+00:00",
        totals={"items": 1000, "audio_s": 3600.0, "bytes": 123_456_789,
                "refused": 3, "licensable": 5, "allowed": 2, "unknown": 980, "error": 10},
        works=[work("w-deny-1", "deny", items=3), work("w-lic-1", "license", 120.0, "EUR", 4),
               work("w-lic-2", "license", 80.0, "EUR", 1), work("w-allow-1", "allow", items=2)],
        licence_cost={"EUR": 200.0},
        fingerprint="9c1f" * 16,
    )


@pytest.fixture
def scan_b() -> dict:
    """A public archive: 500 items, half an hour; shares one licensable work with scan A."""
    return make_scan(
        "s-20261124-77aa0102",
        name="open-music-archive",
        kind="folder",
        spec="/data/oma",
        created_at="2026-11-24T10:00:00+00:00",
        totals={"items": 500, "audio_s": 1800.0, "bytes": 61_000_000,
                "refused": 2, "licensable": 1, "allowed": 0, "unknown": 490, "error": 7},
        works=[work("w-deny-2", "deny", items=1), work("w-deny-3", "deny", items=1),
               work("w-lic-1", "license", 120.0, "EUR", 1)],
        licence_cost={"EUR": 120.0},
        fingerprint="77aa" * 16,
        registry_works=125,
    )


@pytest.fixture
def declaration() -> dict:
    return {
        "summary_version": "1.2",
        "last_update": "2026-12-01",
        "provider": {"name": "Tidewater Audio Research B.V.", "contact": "ai@tidewater.example",
                     "authorised_representative": "Not applicable"},
        "model": {"versioned_names": ["Tidewater Muse 2.0"], "dependencies": "None",
                  "placed_on_union_market": "2026-12-15"},
        "training_data": {
            "modalities": {
                "audio": {"types_of_content": "Musical compositions"},
                "text": {"size_range": "less than 1 billion tokens", "types_of_content": "Song lyrics"},
            },
            "latest_data_collection": "10/2026",
            "linguistic_characteristics": "English and Dutch lyrics",
            "other_characteristics": "European labels, 1960-2025",
        },
        "dataset_categories": {
            "s-20261123-3f2a9c01": "licensed_datasets",
            "open-music-archive": {"category": "public_datasets", "link": "https://oma.example/v3"},
        },
        "public_datasets": {"modalities": ["text"], "large_datasets": ["Open Lyrics Corpus 2025"],
                            "other_datasets": "None"},
        "licensed_datasets": {"used": True},
        "other_private_datasets": {"used": False},
        "crawled_data": {"used": True, "crawler_names": ["TidewaterBot/1.4"], "purposes": "Lyrics",
                         "behaviour": "Honours robots.txt", "collection_period": "03/2025 to 10/2026",
                         "content_description": "Lyrics pages", "modalities": ["text"],
                         "top_domains": ["lyrics.example"]},
        "user_data": {"from_model_interactions": False, "from_other_services": False},
        "synthetic_data": {"used": False},
        "other_sources": {"used": False},
        "rights_reservations": {"code_of_practice_signatory": True, "measures": "robots.txt and TDMRep",
                                "refused_items_excluded": True, "licensable_items": "Licensed and paid"},
        "illegal_content": {"measures": "Keyword lists and classifiers"},
    }


def sections_by_number(summary: dict) -> dict[str, dict]:
    out = {}

    def walk(section: dict) -> None:
        out[section["number"]] = section
        for sub in section["subsections"]:
            walk(sub)

    for section in summary["sections"]:
        walk(section)
    return out


def field(summary: dict, number: str, key: str) -> dict:
    matches = [f for f in sections_by_number(summary)[number]["fields"] if f["key"] == key]
    assert len(matches) == 1, (number, key, [f["key"] for f in sections_by_number(summary)[number]["fields"]])
    return matches[0]


def all_fields(summary: dict) -> list[dict]:
    fields = list(summary["header"])
    for section in sections_by_number(summary).values():
        fields += section["fields"]
        for row in section["modalities"]:
            fields += [row["checked"], row["training_data_size"], row["types_of_content"]]
    return fields


def write(tmp_path: Path, text: str, name: str = "decl.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- structure ----------------------------------------------------------------


def test_json_sections_follow_the_template_in_order(scan_a, scan_b, declaration):
    summary = build_summary([scan_a, scan_b], declaration, generated_at=GENERATED_AT)
    assert [(n, s["title"]) for n, s in sections_by_number(summary).items()] == TEMPLATE_SECTIONS
    assert [f["label"] for f in summary["header"]] == ["Version of the Summary", "Last update"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_template_section_is_present_in_every_format(scan_a, scan_b, fmt):
    for declared in ({}, None):  # with nothing declared, every section must still be there
        decl = {} if declared is None else declared
        text = render_summary(build_summary([scan_a, scan_b], decl, generated_at=GENERATED_AT), fmt=fmt)
        for number, title in TEMPLATE_SECTIONS:
            if fmt == "json":
                assert f'"number": "{number}"' in text and f'"title": "{title}"' in text
            elif fmt == "md":
                assert re.search(rf"^#+ {re.escape(number)}\.? {re.escape(title)}$", text, flags=re.M), number
            else:
                assert re.search(rf"<h[2-6] id=\"title-{re.escape(number)}\">{re.escape(number)}\.? {re.escape(title)}</h",
                                 text), number
        for label in ("Version of the Summary", "Last update", "Provider name", "Versioned model name(s)",
                      "Date of placement of the model on the Union market", "Period of data collection",
                      "Summary of the most relevant domain names crawled", "General description of measures taken"):
            assert label in text, (fmt, label)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_document_is_marked_as_a_draft_to_review(scan_a, declaration, fmt):
    summary = build_summary([scan_a], declaration, generated_at=GENERATED_AT)
    assert summary["draft"] is True
    text = render_summary(summary, fmt=fmt)
    assert "DRAFT generated by Consentry" in text and GENERATED_AT in text
    assert "provider must review" in text
    if fmt == "md":
        assert text.startswith("> **DRAFT generated by Consentry")
    if fmt == "html":
        assert "<title>DRAFT" in text and 'class="draft" role="note"' in text


# --- what scans fill -------------------------------------------------------------


def test_each_scanned_dataset_is_a_data_source(scan_a, scan_b):
    summary = build_summary([scan_b, scan_a], {}, generated_at=GENERATED_AT)
    a, b = summary["datasets"]  # sorted by scan time, whatever the order given
    assert a["scan_id"] == scan_a["scan_id"] and b["scan_id"] == scan_b["scan_id"]
    assert a["name"] == "label-catalogue" and a["kind"] == "webdataset" and a["spec"] == scan_a["source"]["spec"]
    assert (a["items"], a["audio_hours"], a["bytes"], a["modality"]) == (1000, 1.0, 123_456_789, "audio")
    assert a["dataset_fingerprint"] == scan_a["dataset_fingerprint"]
    assert a["scanned_at"] == scan_a["finished_at"]
    assert (b["items"], b["audio_hours"], b["bytes"]) == (500, 0.5, 61_000_000)
    md = render_summary(summary, fmt="md")
    html = render_summary(summary, fmt="html")
    for text in (md, html):
        for value in ("label-catalogue", "open-music-archive", scan_a["scan_id"], scan_b["scan_id"],
                      scan_a["dataset_fingerprint"], "1,000", "123.5 MB", "Audio"):
            assert value in text


def test_numbers_add_up_across_scans(scan_a, scan_b, declaration):
    summary = build_summary([scan_a, scan_b], declaration, generated_at=GENERATED_AT)
    t = summary["totals"]
    for key in ("items", "bytes", "refused", "licensable", "allowed", "unknown", "error"):
        assert t[key] == scan_a["totals"][key] + scan_b["totals"][key], key
    assert t["datasets"] == 2
    assert t["audio_s"] == 5400.0 and t["audio_hours"] == 1.5
    assert t["items"] == sum(t[k] for k in ("refused", "licensable", "allowed", "unknown", "error"))
    # a work found in both datasets is one work, licensed once
    assert t["refused_works"] == 3
    assert t["licensable_works"] == 2
    assert t["licence_cost"] == {"EUR": 200.0}
    assert t["registry_works"] == {"min": 120, "max": 125}
    assert t["engines"] == ["consentry-music-landmark version 1"]
    # per dataset, as the scans said
    a, b = summary["datasets"]
    assert (a["refused"], a["refused_works"], a["licensable_works"], a["licence_cost"]) == (3, 1, 2, {"EUR": 200.0})
    assert (b["refused"], b["refused_works"], b["licence_cost"]) == (2, 2, {"EUR": 120.0})
    # the same totals in the section 3.1 table and its narrative
    s31 = sections_by_number(summary)["3.1"]
    assert s31["consent_registry_check"]["totals"] == t
    assert s31["consent_registry_check"]["datasets"] == [a["scan_id"], b["scan_id"]]
    narrative = field(summary, "3.1", "rights_reservations.consent_registry_check")
    assert narrative["status"] == "from scans"
    for phrase in ("2 datasets (1,500 items: 1.50 hours of audio)", "120 to 125 registered works",
                   "5 items contained a registered work whose rights holder refuses training (3 distinct works)",
                   "6 items contained works offered for training under licence (2 distinct works, licence cost EUR 200.00)",
                   "1,470 items matched no registered work", "17 items could not be read",
                   "consentry-music-landmark version 1"):
        assert phrase in narrative["value"], phrase
    for fmt in ("md", "html"):
        text = render_summary(summary, fmt=fmt)
        for total in ("1,500", "1,470", "EUR 200.00", "120–125"):
            assert total in text, (fmt, total)


def test_licence_cost_falls_back_to_the_scans_sums_when_their_work_lists_disagree(scan_a, scan_b):
    scan_b["licence_cost"] = {"EUR": 999.0}  # does not match its works list
    summary = build_summary([scan_a, scan_b], {}, generated_at=GENERATED_AT)
    assert summary["totals"]["licence_cost"] == {"EUR": 1199.0}
    assert "sum of the scans" in summary["totals"]["licence_cost_basis"]
    assert any("licence cost is the sum" in n for n in summary["review_notes"])


def test_audio_size_from_scans_uses_the_template_ranges(scan_a, scan_b):
    summary = build_summary([scan_a], {}, generated_at=GENERATED_AT)
    audio = next(r for r in sections_by_number(summary)["1.3"]["modalities"] if r["modality"] == "audio")
    assert audio["checked"]["value"] is True and audio["checked"]["status"] == "from scans"
    assert audio["training_data_size"]["status"] == "from scans"
    assert audio["training_data_size"]["value"].startswith("Less than 10 000 hours")
    scan_b["totals"]["audio_s"] = 20_000 * 3600.0
    summary = build_summary([scan_b], {}, generated_at=GENERATED_AT)
    audio = next(r for r in sections_by_number(summary)["1.3"]["modalities"] if r["modality"] == "audio")
    assert audio["training_data_size"]["value"].startswith("10 000 to 1 million hours")


def test_text_and_image_datasets_are_their_own_modalities(scan_a, scan_b):
    """A scan that read texts and images (totals.media) puts them in their template modalities with their sizes;
    its audio is no longer the only modality, and nothing is counted as hours of audio that was not audio."""
    scan_b["totals"]["media"] = {"music": {"items": 10, "size": 3600.0, "unit": "s"},
                                 "text": {"items": 500, "size": 8_000_000_000.0, "unit": "char"},
                                 "image": {"items": 1_200_000, "size": 2.4e12, "unit": "px"}}
    summary = build_summary([scan_b], {}, generated_at=GENERATED_AT)
    rows = {r["modality"]: r for r in sections_by_number(summary)["1.3"]["modalities"]}
    for m in ("audio", "text", "image"):
        assert rows[m]["checked"]["value"] is True and rows[m]["checked"]["status"] == "from scans", m
    assert rows["video"]["checked"]["value"] is None
    text = rows["text"]["training_data_size"]
    assert text["value"] == ("1 billion to 10 trillion tokens; approximately 8,000,000,000 characters of text "
                             "in the scanned datasets")
    assert "4 characters per token" in text["note"]   # an estimate, and said to be one
    assert rows["image"]["training_data_size"]["value"].startswith("1 million to 1 billion images; approximately "
                                                                    "1,200,000 images")
    assert rows["audio"]["training_data_size"]["value"].startswith("Less than 10 000 hours; approximately 1.00 hours")
    narrative = field(summary, "3.1", "rights_reservations.consent_registry_check")["value"]
    assert "8,000,000,000 characters of text, 1,200,000 images, 1.00 hours of audio" in narrative
    for fmt in FORMATS:  # every format renders the dataset's modalities
        assert "Image" in render_summary(summary, fmt=fmt)
    # a scan without totals.media (made before there were other media) is audio, as before
    legacy = build_summary([scan_a], {}, generated_at=GENERATED_AT)
    assert [r["modality"] for r in sections_by_number(legacy)["1.3"]["modalities"]
            if r["checked"]["value"] is True] == ["audio"]
    scan_b["totals"]["media"] = {"text": {"items": -1, "size": 3.0}}
    with pytest.raises(InputError, match="totals.media.text"):
        build_summary([scan_b], {}, generated_at=GENERATED_AT)


def test_an_incomplete_scan_is_flagged(scan_a, scan_b):
    scan_b["status"] = "interrupted"
    scan_b["dataset_fingerprint"] = None
    summary = build_summary([scan_a, scan_b], {}, generated_at=GENERATED_AT)
    assert summary["totals"]["incomplete_scans"] == [scan_b["scan_id"]]
    assert any("interrupted, not complete" in n for n in summary["review_notes"])
    narrative = field(summary, "3.1", "rights_reservations.consent_registry_check")["value"]
    assert "partial" in narrative and scan_b["scan_id"] in narrative
    assert "scan not complete" in render_summary(summary, fmt="html")


def test_without_scans_nothing_is_claimed_from_scans(declaration):
    del declaration["rights_reservations"]["refused_items_excluded"]
    summary = build_summary([], declaration, generated_at=GENERATED_AT)
    assert summary["datasets"] == [] and summary["totals"]["datasets"] == 0
    s31 = sections_by_number(summary)["3.1"]
    assert s31["consent_registry_check"] is None
    assert field(summary, "3.1", "rights_reservations.consent_registry_check")["value"] is None
    assert field(summary, "3.1", "rights_reservations.refused_items_excluded")["status"] == "not applicable"
    assert not [f for f in all_fields(summary) if f["status"] == "from scans"]
    assert any("No scan was given" in n for n in summary["review_notes"])
    for fmt in FORMATS:
        render_summary(summary, fmt=fmt)


# --- what the declaration fills ----------------------------------------------------


def test_declared_values_land_in_the_right_fields(scan_a, scan_b, declaration):
    summary = build_summary([scan_a, scan_b], declaration, generated_at=GENERATED_AT)
    assert summary["header"][0]["value"] == "1.2"
    assert field(summary, "1.1", "provider_name")["value"] == "Tidewater Audio Research B.V."
    assert field(summary, "1.1", "provider_name")["status"] == "declared"
    assert field(summary, "1.1", "provider_contact")["value"] == "ai@tidewater.example"
    assert field(summary, "1.2", "versioned_model_names")["value"] == ["Tidewater Muse 2.0"]
    assert field(summary, "1.2", "placed_on_union_market")["value"] == "2026-12-15"
    rows = {r["modality"]: r for r in sections_by_number(summary)["1.3"]["modalities"]}
    assert rows["text"]["training_data_size"]["value"] == "Less than 1 billion tokens"  # template wording
    assert rows["text"]["types_of_content"]["value"] == "Song lyrics"
    assert rows["audio"]["types_of_content"]["value"] == "Musical compositions"
    assert rows["audio"]["training_data_size"]["status"] == "from scans"  # not declared: from the scanned hours
    assert rows["image"]["checked"]["value"] is False  # modalities were listed, image was not among them
    assert rows["image"]["training_data_size"]["status"] == "not applicable"
    assert field(summary, "1.3", "latest_data_collection")["value"] == "10/2026"

    # dataset categories: by scan id and by dataset name
    by_number = sections_by_number(summary)
    assert by_number["2.1"]["scanned_datasets"] == [scan_b["scan_id"]]
    assert by_number["2.2.1"]["scanned_datasets"] == [scan_a["scan_id"]]
    assert by_number["2"]["unassigned_datasets"] == []
    assert field(summary, "2.1", "public_datasets.used")["value"] is True  # implied by the assigned dataset
    assert field(summary, "2.1", "public_datasets.modalities")["value"] == ["Text", "Audio"]
    assert field(summary, "2.1", "public_datasets.large_datasets")["value"] == [
        "open-music-archive — https://oma.example/v3", "Open Lyrics Corpus 2025"]
    assert field(summary, "2.2.1", "licensed_datasets.modalities")["value"] == ["Audio"]
    assert field(summary, "2.2.2", "other_private_datasets.used")["value"] is False
    assert field(summary, "2.2.2", "other_private_datasets.general_description")["status"] == "not applicable"
    assert field(summary, "2.3", "crawled_data.crawler_names")["value"] == ["TidewaterBot/1.4"]
    assert field(summary, "2.3", "crawled_data.collection_period")["value"] == "03/2025 to 10/2026"
    assert field(summary, "2.3", "crawled_data.top_domains")["value"] == ["lyrics.example"]
    assert field(summary, "2.4", "user_data.services_description")["status"] == "not applicable"
    assert field(summary, "2.5", "synthetic_data.generating_models")["status"] == "not applicable"
    assert field(summary, "3.1", "rights_reservations.code_of_practice_signatory")["value"] is True
    assert field(summary, "3.1", "rights_reservations.refused_items_excluded")["value"] is True
    assert field(summary, "3.2", "illegal_content.measures")["value"] == "Keyword lists and classifiers"
    assert summary["to_complete"] == []

    md = render_summary(summary, fmt="md")
    assert "- **Provider name:** Tidewater Audio Research B.V." in md
    assert "| ☒ Text | Less than 1 billion tokens | Song lyrics |" in md
    assert "- **Were crawlers used by the provider or on behalf of?** Yes" in md
    html = render_summary(summary, fmt="html")
    assert '<a href="https://oma.example/v3">open-music-archive</a>' in html


def test_missing_values_are_marked_to_complete_never_omitted(scan_a):
    summary = build_summary([scan_a], {}, generated_at=GENERATED_AT)
    provider = field(summary, "1.1", "provider_name")
    assert provider["value"] is None and provider["status"] == "to complete" and provider["declare"] == "provider.name"
    # every field has a value or says why not
    for f in all_fields(summary):
        assert (f["value"] is None) == (f["status"] in ("to complete", "not applicable", "optional")), f
    todo = summary["to_complete"]
    assert {"section": "1.1", "key": "provider_name", "label": "Provider name", "declare": "provider.name"} in todo
    assert any(t["declare"] == f"dataset_categories.{scan_a['scan_id']}" for t in todo)  # unassigned dataset
    assert any(t["declare"] == "rights_reservations.refused_items_excluded" for t in todo)  # 3 refused items found
    assert sections_by_number(summary)["2"]["unassigned_datasets"] == [scan_a["scan_id"]]
    assert f"({len(todo)} left)" in summary["draft_notice"]

    as_json = json.loads(render_summary(summary, fmt="json"))
    provider_json = as_json["sections"][0]["subsections"][0]["fields"][0]
    assert provider_json["value"] is None and provider_json["status"] == "to complete"
    md = render_summary(summary, fmt="md")
    html = render_summary(summary, fmt="html")
    for item in todo:
        assert f"TO COMPLETE — {item['label']}" in md, item
        assert f"TO COMPLETE — {item['label']}".replace("'", "&#39;") in html, item
    assert "**TO COMPLETE — Provider name** (declare `provider.name`)" in md


def test_optional_and_conditional_fields_are_shown_not_dropped(scan_a, declaration):
    summary = build_summary([scan_a], declaration, generated_at=GENERATED_AT)
    comments = field(summary, "3.3", "other_information")
    assert comments["status"] == "optional" and comments["value"] is None
    md = render_summary(summary, fmt="md")
    assert "- **Other relevant information about data processing (optional):** Optional: nothing declared." in md
    assert "- **If yes, modality of the synthetic data:** Not applicable." in md


def test_a_declaration_that_contradicts_its_dataset_categories_is_refused(scan_a, declaration):
    declaration["licensed_datasets"]["used"] = False
    with pytest.raises(InputError, match=r"licensed_datasets\.used is false, but dataset_categories puts 'label-catalogue'"):
        build_summary([scan_a], declaration, generated_at=GENERATED_AT)


def test_a_category_naming_no_scan_is_noted(scan_a):
    summary = build_summary([scan_a], {"dataset_categories": {"trian": "public_datasets"}}, generated_at=GENERATED_AT)
    assert any("'trian', which matches no scan id" in n for n in summary["review_notes"])


def test_the_example_declaration_fills_every_field(scan_a, scan_b):
    decl = load_declaration(EXAMPLE)
    assert decl["last_update"] == "2026-12-01"  # a YAML date, normalised to text
    assert decl["summary_version"] == "1.0"
    assert decl["training_data"]["continuously_trained"] == "No"
    summary = build_summary([scan_a, scan_b], decl, generated_at=GENERATED_AT)
    assert summary["to_complete"] == []
    assert sections_by_number(summary)["2.2.1"]["scanned_datasets"] == [scan_a["scan_id"]]
    assert sections_by_number(summary)["2.1"]["scanned_datasets"] == [scan_b["scan_id"]]
    for fmt in FORMATS:
        assert "TO COMPLETE —" not in render_summary(summary, fmt=fmt)


# --- declaration errors --------------------------------------------------------------


def one_line_error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_declaration(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def test_bad_yaml_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, "provider:\n  name: Tidewater\n  contact: [unclosed\nmodel: {}\n")
    message = one_line_error(path)
    assert "not valid YAML at line" in message


def test_a_duplicate_key_is_refused(tmp_path):
    message = one_line_error(write(tmp_path, "provider:\n  name: A\nprovider:\n  name: B\n"))
    assert "'provider' is given twice" in message and "line 3" in message


def test_a_wrong_type_names_the_file_and_the_key(tmp_path):
    message = one_line_error(write(tmp_path, "provider:\n  name: 42\n"))
    assert "provider.name must be text, not the number 42" in message
    message = one_line_error(write(tmp_path, "public_datasets:\n  used: maybe\n"))
    assert "public_datasets.used must be true or false" in message
    message = one_line_error(write(tmp_path, "model: Tidewater Muse\n"))
    assert "model must be a mapping" in message
    message = one_line_error(write(tmp_path, "model:\n  versioned_names: [ok, {a: 1}]\n"))
    assert "model.versioned_names[1] must be text" in message


def test_an_unknown_key_names_the_file_and_the_key(tmp_path):
    message = one_line_error(write(tmp_path, "provder:\n  name: Tidewater\n"))
    assert "unknown key 'provder' (did you mean 'provider'?)" in message and "at the top level" in message
    message = one_line_error(write(tmp_path, "crawled_data:\n  crawlers: [Bot]\n"))
    assert "unknown key 'crawled_data.crawlers'" in message


def test_bad_values_are_refused_with_the_allowed_ones(tmp_path):
    message = one_line_error(write(tmp_path, "training_data:\n  modalities:\n    audio:\n      size_range: lots\n"))
    assert "training_data.modalities.audio.size_range is 'lots'" in message and "Less than 10 000 hours" in message
    message = one_line_error(write(tmp_path, "dataset_categories:\n  train: public\n"))
    assert "dataset_categories.train.category is 'public'" in message and "public_datasets" in message
    message = one_line_error(write(tmp_path, "public_datasets:\n  modalities: [audio, smell]\n"))
    assert "public_datasets.modalities[1] is 'smell'" in message
    message = one_line_error(write(tmp_path, "training_data:\n  modalities:\n    other:\n      approximate_size: 3\n"))
    assert "other.approximate_size must be text" in message
    message = one_line_error(write(tmp_path, "- provider\n"))
    assert "must be a YAML mapping" in message


def test_unreadable_declarations(tmp_path):
    message = one_line_error(tmp_path / "missing.yaml")
    assert "no such file" in message
    path = tmp_path / "latin1.yaml"
    path.write_bytes("provider:\n  name: Caf\xe9\n".encode("latin-1"))
    assert "not UTF-8" in one_line_error(path)


def test_an_empty_declaration_is_valid(tmp_path):
    assert load_declaration(write(tmp_path, "# nothing yet\n")) == {}
    assert load_declaration(write(tmp_path, "provider:\n  name:\n  contact: ''\n")) == {}


def test_a_modality_listed_without_details_is_used_with_details_to_complete(scan_a):
    decl = validate_declaration({"training_data": {"modalities": {"audio": None, "text": None}}})
    assert decl["training_data"]["modalities"] == {"audio": {}, "text": {}}
    summary = build_summary([scan_a], decl, generated_at=GENERATED_AT)
    rows = {r["modality"]: r for r in sections_by_number(summary)["1.3"]["modalities"]}
    assert rows["text"]["checked"]["value"] is True
    assert rows["text"]["training_data_size"]["status"] == "to complete"
    assert rows["video"]["checked"]["value"] is False


def test_size_ranges_and_modalities_are_normalised():
    decl = validate_declaration({
        "training_data": {"modalities": {"audio": {"size_range": "10,000 to 1 million hours"}}},
        "crawled_data": {"modalities": ["Text", "other: MIDI", "text"]},
    })
    assert decl["training_data"]["modalities"]["audio"]["size_range"] == "10 000 to 1 million hours"
    assert decl["crawled_data"]["modalities"] == ["text", "other: MIDI"]
    assert validate_declaration(decl) == decl  # normalising twice changes nothing


# --- scans that break the contract ---------------------------------------------------------


def test_scans_that_break_the_contract_are_refused(scan_a, scan_b):
    broken = copy.deepcopy(scan_a)
    del broken["totals"]
    with pytest.raises(InputError, match=r"scan 1 \(s-20261123-3f2a9c01\): totals is missing"):
        build_summary([broken], {}, generated_at=GENERATED_AT)
    broken = copy.deepcopy(scan_a)
    broken["totals"]["audio_s"] = float("nan")
    with pytest.raises(InputError, match="totals.audio_s"):
        build_summary([broken], {}, generated_at=GENERATED_AT)
    with pytest.raises(InputError, match="same scan is given twice"):
        build_summary([scan_a, copy.deepcopy(scan_a)], {}, generated_at=GENERATED_AT)
    twin = copy.deepcopy(scan_b)
    twin["dataset_fingerprint"] = scan_a["dataset_fingerprint"]
    with pytest.raises(InputError, match="same dataset fingerprint"):
        build_summary([scan_a, twin], {}, generated_at=GENERATED_AT)


# --- escaping ---------------------------------------------------------------------------


HOSTILE = "<script>alert('x')</script> a|b *bold* [click](javascript:alert(1)) `code`"


def hostile_summary(scan_a, declaration) -> dict:
    scan_a["source"]["name"] = HOSTILE
    scan_a["source"]["spec"] = "/data/<img src=x onerror=alert(1)>|x"
    declaration["provider"]["name"] = '<img src=x onerror="alert(1)">'
    declaration["model"]["versioned_names"] = ["# Not a heading", "- not a list", "1. not ordered"]
    declaration["dataset_categories"] = {
        scan_a["scan_id"]: {"category": "public_datasets", "link": "javascript:alert(1)", "description": "</td>|"}}
    declaration["licensed_datasets"]["used"] = False
    return build_summary([scan_a], declaration, generated_at=GENERATED_AT)


def test_hostile_strings_are_escaped_in_html(scan_a, declaration):
    html = render_summary(hostile_summary(scan_a, declaration), fmt="html")
    assert "<script" not in html  # no script at all: none of ours, none of theirs
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert 'href="javascript:' not in html.lower()
    assert "</td>|" not in html


def test_html_is_self_contained_and_accessible(scan_a, scan_b, declaration):
    html = render_summary(build_summary([scan_a, scan_b], declaration, generated_at=GENERATED_AT), fmt="html")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html and '<meta charset="utf-8">' in html
    assert "<style>" in html
    for external in ("<link", "<script", "src=", "@import", "url("):
        assert external not in html, external
    assert html.count("<h1>") == 1 and "<h2" in html and "<h3" in html and "<h4" in html
    assert '<th scope="col">' in html and '<th scope="row">' in html and "<caption>" in html
    assert html.count("<table") == html.count("<caption>")


def test_hostile_strings_are_escaped_in_markdown(scan_a, declaration):
    md = render_summary(hostile_summary(scan_a, declaration), fmt="md")
    assert "<script" not in md and "<img" not in md
    assert "&lt;script&gt;" in md
    assert r"a\|b" in md and r"\*bold\*" in md and r"\[click\]" in md and r"\`code\`" in md
    assert "  - \\# Not a heading" in md and "  - \\- not a list" in md and "  - 1\\. not ordered" in md
    # every table row keeps its columns: unescaped pipes == columns + 1
    for block in re.findall(r"(?:^\|.*\|$\n?)+", md, flags=re.M):
        rows = block.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, rows


# --- JSON ------------------------------------------------------------------------------


def test_json_is_deterministic_and_round_trips(scan_a, scan_b, declaration):
    summary = build_summary([scan_a, scan_b], declaration, generated_at=GENERATED_AT)
    text = render_summary(summary, fmt="json")
    assert json.loads(text) == summary
    assert render_summary(summary, fmt="json") == text
    again = build_summary([copy.deepcopy(scan_b), copy.deepcopy(scan_a)], copy.deepcopy(declaration),
                          generated_at=GENERATED_AT)
    assert render_summary(again, fmt="json") == text  # the order scans are given in does not matter
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_build_is_pure(scan_a, scan_b, declaration):
    before = copy.deepcopy((scan_a, scan_b, declaration))
    build_summary([scan_a, scan_b], declaration, generated_at=GENERATED_AT)
    assert (scan_a, scan_b, declaration) == before


def test_unknown_format_and_bad_time_stamp_are_refused(scan_a):
    summary = build_summary([scan_a], {}, generated_at=GENERATED_AT)
    with pytest.raises(InputError, match="format 'pdf': choose one of md, html, json"):
        render_summary(summary, fmt="pdf")
    with pytest.raises(InputError, match="generated_at"):
        build_summary([scan_a], {}, generated_at="")
