"""Checking AI text outputs (consentry check on texts, issue 18): passages found, JSON, signed side-by-side evidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from consentry import Registry
from consentry.services.check.text import check_text_outputs, is_text_output, write_text_evidence
from textkit import passage, prose


def _setup(tmp_path: Path) -> tuple[Path, dict]:
    folder = tmp_path / "works"
    folder.mkdir()
    texts = {"river.txt": "The River\n\n" + prose(21, 2500), "ledger.md": "# The Ledger\n\n" + prose(22, 2500)}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    db = tmp_path / "r.db"
    with Registry.open(db) as reg:
        assert not reg.register([folder], creator="Ana Lima", terms="deny", workers=1).errors
    return db, texts


def test_a_text_output_reproducing_two_passages_is_checked_with_evidence(tmp_path):
    db, texts = _setup(tmp_path)
    p1, a1, b1 = passage(texts["river.txt"], 200, 120)
    p2, a2, b2 = passage(texts["ledger.md"], 900, 80)
    edited = p2.split()
    edited[40] = "SUBMARINE"
    output = tmp_path / "answer.txt"
    output.write_text("Sure! Here it is. " + p1 + "\n\nAnd another: " + " ".join(edited) + "\nHope this helps.")
    assert is_text_output(output)
    with Registry.open(db) as reg:
        [res] = check_text_outputs(reg, output)
        assert res.error is None and res.has_findings and len(res.passages) == 2
        by_title = {p["title"]: p for p in res.passages}
        river = by_title["The River"]
        assert (river["work_start_char"], river["work_end_char"]) == (a1, b1) and river["matched_words"] == 120
        assert output.read_text()[river["query_start_char"]:river["query_end_char"]] == p1
        ledger = by_title["The Ledger"]
        assert (ledger["work_start_char"], ledger["work_end_char"]) == (a2, b2) and ledger["matched_words"] == 79
        assert 0.5 < res.copied_share < 1.0
        json.dumps(res.as_dict())
        bundle = write_text_evidence(reg, res, tmp_path / "evidence")
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        assert {"facts.json", "facts.json.sig", "signer.pub", "report.html", "manifest.json", "manifest.json.sig"} <= names
        facts = json.loads(z.read("facts.json"))
        html = z.read("report.html").decode()
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        load_pem_public_key(z.read("signer.pub")).verify(z.read("facts.json.sig"), z.read("facts.json"))
    assert facts["medium"] == "text" and len(facts["passages"]) == 2
    # consentry evidence verify checks a text bundle too: signatures, the output and the works by SHA-256.
    from consentry.services.evidence import verify_bundle
    from consentry.services.evidence.keys import registry_key_fingerprint

    files = tmp_path / "files"
    files.mkdir()
    for f in [output, *(tmp_path / "works").iterdir()]:
        (files / f.name).write_bytes(f.read_bytes())
    with Registry.open(db) as reg:
        result = verify_bundle(bundle, registry_fingerprint=registry_key_fingerprint(reg.local_dir), files_dir=files)
    assert result.ok, result
    assert {r["name"] for r in facts["references"]} == {"river.txt", "ledger.md"}
    assert any(op[0] == "replace" for p in facts["passages"] for op in p["ops"])
    assert "<mark>SUBMARINE</mark>" in html and "The Ledger" in html
    seeds = facts["passages"][0]["evidence"]["matched_shingles"]
    assert seeds and {"hash", "query_start_char", "query_end_char", "work_start_char"} <= set(seeds[0])


def test_a_jsonl_of_outputs_is_checked_row_by_row_and_the_cli_words_it(tmp_path):
    db, texts = _setup(tmp_path)
    rows = [{"prompt": "q1", "completion": prose(31, 200)},
            {"prompt": "q2", "completion": "Quote: " + passage(texts["river.txt"], 1500, 90)[0]},
            {"prompt": "q3", "completion": None}]
    f = tmp_path / "outputs.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Registry.open(db) as reg:
        results = check_text_outputs(reg, f)
    assert [r.output for r in results] == [f"{f}#row:0", f"{f}#row:1", f"{f}#row:2"]
    assert not results[0].has_findings and results[1].passages[0]["title"] == "The River"
    assert results[2].error and "\n" not in results[2].error
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(db), "check", str(f),
                          "--json", "--no-melody", "--no-voice", "--evidence", str(tmp_path / "ev"),
                          "--report", str(tmp_path / "check.html")],
                         capture_output=True, text=True, env=env, timeout=300)
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert out.returncode == 1, out.stderr  # row 2 holds no text: an error, the others still checked
    assert [x["findings"] if "findings" in x else None for x in lines] == [0, 1, None]
    assert len(list((tmp_path / "ev").glob("*.evidence.zip"))) == 1
    # --report covers text outputs: each row, the passage found, the row that could not be checked
    report = (tmp_path / "check.html").read_text(encoding="utf-8")
    assert "3 output(s) checked" in report and "1 with findings, 1 with errors" in report
    assert "The River (" in report and "words, characters" in report and "#row:2" in report
