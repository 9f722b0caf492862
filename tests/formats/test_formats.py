"""consentry.formats: each signal format read and written once, so publish and verify cannot drift apart.

The main test publishes a site and reads it back with verify's readers
(``verify_target`` on the written folder), use by use and crawler by crawler
for every crawler of the one list; a change to either side's reading of a
format that the other does not share fails it.
"""

from __future__ import annotations

from typing import Callable

import pytest

from consentry.formats import crawlers as fc
from consentry.formats.sniff import KINDS, sniff_bytes, sniff_media
from consentry.services.publish import build_site, check_site, write_site
from consentry.domain.usage import USES
from consentry.services.verify import verify_target

BASE = "https://music.example.org"
_TERMS = {"allow": {"decision": "allow"}, "deny": {"decision": "deny"},
          "license": {"decision": "license", "price": 40.0, "currency": "EUR", "unit": "per-work",
                      "contact": "mailto:rights@example.org"}}


_STRICT = ("allow", "license", "deny")
#: Uses the formats tie together: a crawler or a token acts for both training and generative use, a TDM
#: reservation covers training, RSL's ai-index covers generative use and search.
_COUPLED = (("ai_training", "ai_generative"), ("tdm", "ai_training"), ("ai_generative", "search_indexing"))


#: Per format, the uses whose terms must all be ``allow`` for the format to read as ``allow`` for a use (or a
#: function of the terms saying so): a table written from the formats' specifications, independent of both
#: publish's writer and verify's reader.
_ALLOWED_IFF: dict[str, dict[str, tuple[str, ...] | Callable[[dict], bool]]] = {
    # draft-ietf-aipref-vocab: train-ai covers all AI training (ours: training and generative), ai-use the
    # generative use of an answer, search the search index.
    "content-usage": {"ai_training": ("ai_training", "ai_generative"),
                      "ai_generative": ("ai_training", "ai_generative"),
                      "search_indexing": ("search_indexing",)},
    # Spawning ai.txt: one group for AI training data sets.
    "ai.txt": {"ai_training": ("ai_training", "ai_generative"), "ai_generative": ("ai_training", "ai_generative")},
    # RSL: ai-train covers training and generative use, ai-input generative use, ai-index generative use and
    # search, search search. A free licence permits generative use through ai-input; a token that is denied
    # (a use it covers is denied) is prohibited in that licence, which prohibits every use it covers.
    "rsl": {"ai_training": ("ai_training", "ai_generative"),
            "ai_generative": lambda t: (t["ai_generative"] == "allow" and t["ai_training"] != "deny"
                                        and t["search_indexing"] != "deny"),
            "search_indexing": ("search_indexing",)},
    # TDMRep: tdm-reservation 0 only where TDM is allowed; a reservation covers AI training too.
    "tdmrep": {"tdm": ("tdm",), "ai_training": ("tdm", "ai_training", "ai_generative"),
               "ai_generative": ("tdm", "ai_training", "ai_generative")},
    # The terms JSON pages say each use as registered.
    "terms-json": {u: (u,) for u in USES},
}


def _independent(terms: dict[str, str]) -> bool:
    """Whether no two uses the formats tie together have different decisions (then each is read exactly)."""
    return all(terms[a] == terms[b] for a, b in _COUPLED)


def _combos() -> list[dict[str, str]]:
    """Every use alone allowed, alone licensed, alone denied, against each background; and the uniform cases."""
    out = [{u: d for u in USES} for d in _TERMS]
    for u in USES:
        for alone in _TERMS:
            for rest in _TERMS:
                if alone != rest:
                    out.append({v: (alone if v == u else rest) for v in USES})
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    combos = _combos()
    export = {"generated_at": "2026-11-23T11:00:00+00:00", "creators": [],
              "works": [{"work_id": f"w{i:03d}", "terms": {"uses": {u: _TERMS[d] for u, d in c.items()}}}
                        for i, c in enumerate(combos)]}
    site = build_site(export, base_url=BASE)
    out = tmp_path_factory.mktemp("site")
    write_site(site, out)
    return export, site, out, combos


def test_publish_check_agrees_with_the_site_it_wrote(published):
    export, site, _, _ = published
    assert check_site(site, export) == []


def test_verify_reads_every_published_use_for_every_crawler(published):
    """For each work, use and listed crawler: what verify reads from the site is what the terms say."""
    _, _, folder, combos = published
    crawlers = fc.load_crawlers()
    assert {c.purpose for c in crawlers} <= set(fc.PURPOSES)
    for i, terms in enumerate(combos):
        path = f"/works/w{i:03d}/song.mp3"
        report = verify_target(folder, path=path)
        assert report.crawlers == fc.CRAWLER_LIST
        verdicts = {u: v.decision for u, v in report.verdicts.items()}
        if _independent(terms):
            # Use by use, the merged verdict is the registered decision, and so is every format's reading.
            assert verdicts == terms, (path, report.as_dict()["verdicts"])
            for s in report.signals:
                assert s.decision in ("unspecified", terms[s.use]), (path, s)
        for u in USES:
            # Where the formats tie uses together, the site never reads as more permissive than the terms.
            assert _STRICT.index(verdicts[u]) >= _STRICT.index(terms[u]), (path, u, verdicts[u])
        for s in report.signals:
            needs = _ALLOWED_IFF.get(s.format, {}).get(s.use)
            if needs is not None:
                # Format by format and use by use, the site reads as allowed exactly where the terms allow.
                allowed = needs(terms) if callable(needs) else all(terms[u] == "allow" for u in needs)
                assert (s.decision == "allow") is allowed, (path, terms, s)
        robots = [s for s in report.signals if s.format == "robots.txt" and "user_agents" in s.detail]
        usage = [s for s in report.signals if s.format == "content-usage"]
        for c in crawlers:
            read = [s for s in robots if c.token in s.detail["user_agents"]]
            if c.robots_txt == "not-read":
                assert read == [], (c.token, path)
                continue
            may_fetch = all(terms[u] == "allow" for u in c.uses)
            for u in c.uses:
                got = [s for s in read if s.use == u]
                assert got, (c.token, u, path)
                assert all(s.detail["allowed"] is may_fetch for s in got), (c.token, u, path, got)
            if may_fetch:
                assert any(c.token in s.detail.get("user_agents", ()) for s in usage), (c.token, path)
        problems = [p for p in report.problems if "not an RFC 9309 product token" not in p.message]
        assert problems == [], (path, problems)


def test_one_crawler_list_for_publish_and_verify():
    from consentry.services.publish import load_crawlers as publish_list
    from consentry.formats.crawlers import select_crawlers as verify_list

    listed, origin = verify_list()
    assert tuple(listed) == publish_list() == fc.load_crawlers() and origin == fc.CRAWLER_LIST
    for c in fc.load_crawlers():
        assert c.purpose in fc.PURPOSES and set(c.uses) <= set(USES)


def test_purpose_words_are_one_set():
    assert set(fc.PURPOSE_USES) == set(fc.PURPOSES)
    chosen, _ = fc.select_crawlers({"A": "ai-input", "B": "user-triggered", "C": "dataset", "D": "legacy"})
    assert [(c.purpose, c.uses) for c in chosen] == [
        ("user-triggered", ("ai_generative",)), ("user-triggered", ("ai_generative",)),
        ("dataset", ("ai_training", "ai_generative", "tdm")), ("legacy", ("ai_training", "ai_generative"))]


@pytest.mark.parametrize("head,media,kind", [
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(52), "audio/wav", "wav"),
    (b"RF64\x24\x00\x00\x00WAVEfmt " + bytes(52), "audio/wav", None),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(52), "image/webp", "webp"),
    (b"fLaC" + bytes(60), "audio/flac", "flac"),
    (b"OggS" + bytes(60), "audio/ogg", "ogg"),
    (b"\x00\x00\x00\x20ftypM4A " + bytes(52), "audio/mp4", "mp4"),
    (b"\x00\x00\x00\x20ftypheic" + bytes(52), "image/heic", "mp4"),
    (b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(54), "audio/mpeg", "mp3"),
    (b"ID3\x03\x00\x00\x00\x00\x00\x00fLaC" + bytes(50), "audio/mpeg", "flac"),
    (b"\xff\xfb\x90\x00" + bytes(60), "audio/mpeg", "mp3"),
    (b"\xff\xd8\xff\xe0" + bytes(60), "image/jpeg", "jpeg"),
    (b"\x89PNG\r\n\x1a\n" + bytes(56), "image/png", "png"),
    (b"II*\x00" + bytes(60), "image/tiff", "tiff"),
    (b"FORM\x00\x00\x00\x00AIFF" + bytes(52), "audio/aiff", "aiff"),
    (b"%PDF-1.7" + bytes(56), "application/pdf", None),
    (b"RIFF", "application/octet-stream", None),
])
def test_one_sniffer_names_media_and_kind(head, media, kind):
    assert sniff_media(head) == media
    assert sniff_bytes(head) == kind
    assert kind is None or kind in KINDS


def test_publish_check_reads_rsl_as_verify_does(published):
    """A licence without <permits> permits every usage not prohibited (TDM too): the check says so, as verify reads it."""
    import dataclasses

    export, site, _, combos = published
    denied = combos.index({u: "deny" for u in USES})
    body = site.files["rsl.xml"].decode()
    head, _, tail = body.partition(f'/works/w{denied:03d}/"')
    tail = tail.replace('<permits type="usage" />', "", 1)
    bad = dataclasses.replace(site, files=dict(site.files, **{"rsl.xml": (head + f'/works/w{denied:03d}/"' + tail).encode()}))
    problems = check_site(bad, export)
    assert any("rsl.xml" in p and "reads as allow for tdm" in p and f"w{denied:03d}" in p for p in problems), problems
