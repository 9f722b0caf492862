"""Ownership claims by content for texts (issue 18): documents and rows of a file of articles that copy another
creator's work open a claim, as audio does (docs/claims.md); extents are characters."""

from __future__ import annotations

import json

import pytest

from consentry import Registry
from textkit import passage, prose


def _articles(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_document_copying_another_creators_text_opens_an_ownership_claim(tmp_path, workers):
    original = prose(41, 1500)
    (tmp_path / "a.txt").write_text(original, encoding="utf-8")
    copy, _, _ = passage(original, 100, 1000)
    (tmp_path / "b.txt").write_text("A foreword of my own. " + copy + " And an ending.", encoding="utf-8")
    (tmp_path / "c.txt").write_text(prose(42, 800), encoding="utf-8")
    with Registry.open(tmp_path / "r.db") as reg:
        wa = reg.register([tmp_path / "a.txt"], creator="Ana", terms="deny", workers=1).registered[0]
        s = reg.register([tmp_path / "b.txt", tmp_path / "c.txt"], creator="Bo", terms="deny", workers=workers)
        assert len(s.registered) == 2 and len(s.claims) == 1
        claim = s.claims[0].as_dict()
        assert claim["party_a"]["work_id"] == wa.work_id and claim["party_b"]["name"] == "Bo"
        basis = claim["basis"]
        assert basis["match"] == "fingerprint" and basis["share_of_new"] >= 0.9
        assert 0.55 <= basis["share_of_registered"] <= 0.75  # 1,000 of 1,500 words
        seg = basis["segments"][0]
        assert seg["unit"] == "char" and seg["work_end_s"] - seg["work_start_s"] > 0.6 * len(copy)
        # The same creator copying herself (a part Bo did not copy) opens nothing; nor does anyone when detection
        # is off.
        (tmp_path / "d.txt").write_text(passage(original, 1150, 340)[0] + " Coda.", encoding="utf-8")
        assert reg.register([tmp_path / "d.txt"], creator="Ana", terms="deny", workers=1).claims == []
        (tmp_path / "e.txt").write_text("Another foreword. " + copy, encoding="utf-8")
        assert reg.register([tmp_path / "e.txt"], creator="Cy", terms="deny", workers=1,
                            detect_claims=False).claims == []


def test_a_row_of_a_file_of_articles_copying_another_creators_text_opens_an_ownership_claim(tmp_path):
    original = prose(51, 1200)
    (tmp_path / "a.txt").write_text(original, encoding="utf-8")
    copy, _, _ = passage(original, 50, 1000)
    rows = [{"title": f"Story {i}", "author": "Bo", "body": prose(600 + i, 300)} for i in range(4)]
    rows[2]["body"] = copy
    rows.append({"title": "Her own", "author": "Ana", "body": copy + " with a new ending of hers."})
    _articles(tmp_path / "news.jsonl", rows)
    with Registry.open(tmp_path / "r.db") as reg:
        wa = reg.register([tmp_path / "a.txt"], creator="Ana", terms="deny", workers=1).registered[0]
        s = reg.register([tmp_path / "news.jsonl"], terms="deny")
        assert len(s.registered) == 5 and not s.errors
        assert len(s.claims) == 1
        claim = s.claims[0].as_dict()
        row = next(w for w in s.registered if w.title == "Story 2")
        assert claim["party_a"]["work_id"] == wa.work_id
        assert claim["party_b"]["work_id"] == row.work_id and claim["party_b"]["name"] == "Bo"
        assert claim["basis"]["segments"][0]["unit"] == "char" and claim["basis"]["share_of_new"] >= 0.9
        assert [c.claim_id for c in reg.store.list_claims()] == [s.claims[0].claim_id]


def test_a_row_whose_text_is_another_creators_work_is_a_work_of_its_own_with_a_same_content_claim(tmp_path):
    original = prose(61, 600)
    (tmp_path / "a.txt").write_text(original, encoding="utf-8")
    rows = [{"title": "Taken", "author": "Bo", "body": original},            # Ana's text, byte for byte
            {"title": "Hers again", "author": "Ana", "body": original},      # Ana's own: a duplicate
            {"title": "Nobody's", "body": original},                         # no creator: a duplicate
            {"title": "Bo's own", "author": "Bo", "body": prose(62, 300)}]
    _articles(tmp_path / "news.jsonl", rows)
    with Registry.open(tmp_path / "r.db") as reg:
        wa = reg.register([tmp_path / "a.txt"], creator="Ana", terms="deny", workers=1).registered[0]
        s = reg.register([tmp_path / "news.jsonl"], terms="allow")
        assert sorted(w.title for w in s.registered) == ["Bo's own", "Taken"] and not s.errors
        taken = next(w for w in s.registered if w.title == "Taken")
        assert taken.sha256 == wa.sha256 and taken.work_id != wa.work_id
        assert [d[1] for d in s.duplicates] == [wa.work_id, wa.work_id]
        assert len(s.claims) == 1
        claim = s.claims[0].as_dict()
        assert claim["party_a"]["work_id"] == wa.work_id and claim["party_b"]["work_id"] == taken.work_id
        assert claim["basis"]["match"] == "sha256" and claim["basis"]["sha256"] == wa.sha256
        # The same file again: every row a duplicate, no second claim.
        again = reg.register([tmp_path / "news.jsonl"], terms="allow")
        assert again.registered == [] and again.claims == [] and len(again.duplicates) == 4
        assert len(reg.store.list_claims()) == 1
        # A document with that text by a third creator: a work and a claim against each earlier creator's work.
        (tmp_path / "c.txt").write_text(original, encoding="utf-8")
        third = reg.register([tmp_path / "c.txt"], creator="Cy", terms="deny", workers=1)
        assert len(third.registered) == 1
        assert sorted(c.as_dict()["party_a"]["work_id"] for c in third.claims) == sorted([wa.work_id, taken.work_id])


def test_a_row_copying_a_work_registered_by_another_creator_meanwhile_opens_a_claim_at_its_commit(tmp_path):
    """The registry held no creator's work when the file of articles started (no identify before the lock);
    another creator's work committed meanwhile is found in the rows at their batch's commit (a row has no
    file of its own to identify again: its text read at registration is)."""
    from consentry.domain.works import Terms
    from consentry.services.articles import register_articles
    from consentry.services.registry import RegisterSummary

    original = prose(71, 1000)
    (tmp_path / "a.txt").write_text(original, encoding="utf-8")
    rows = [{"title": f"Story {i}", "author": "Bo", "body": prose(700 + i, 300)} for i in range(3)]
    rows[1]["body"] = passage(original, 20, 900)[0]
    _articles(tmp_path / "news.jsonl", rows)
    with Registry.open(tmp_path / "r.db") as reg:
        meanwhile = []

        def progress(done: int, total: int, label: str) -> None:
            if done == 1:   # after the registration's snapshot, before its batch is committed
                meanwhile.extend(reg.register([tmp_path / "a.txt"], creator="Ana", terms="deny",
                                              workers=1).registered)

        summary = RegisterSummary()
        register_articles(reg, tmp_path / "news.jsonl", summary, terms=Terms(decision="allow"), progress=progress)
        assert len(meanwhile) == 1 and len(summary.registered) == 3
        assert len(summary.claims) == 1
        claim = summary.claims[0].as_dict()
        row = next(w for w in summary.registered if w.title == "Story 1")
        assert claim["party_a"]["work_id"] == meanwhile[0].work_id and claim["party_b"]["work_id"] == row.work_id
        assert claim["basis"]["match"] == "fingerprint" and claim["basis"]["segments"][0]["unit"] == "char"
