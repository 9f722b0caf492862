"""Evidence bundles (issue 6): write, verify, tamper, hostile zips, keys, rematch, untrusted text."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consentry.services.evidence import (
    EvidenceKeyError, canonical_json, format_verify_result, key_fingerprint, load_or_create_signing_key, verify_bundle,
    write_bundle,
)
from consentry.services.evidence.keys import public_key_pem
from consentry.services.evidence.pdf import find_chromium

SR = 16000
NOW = dt.datetime(2025, 3, 1, 12, 30, 0, tzinfo=dt.timezone.utc)


def _wav(path: Path, samples: np.ndarray) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    return path


def _melody(seed: int, duration_s: float) -> np.ndarray:
    """Harmonic notes of random pitch and length (float32 mono, peak 0.8)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(duration_s * SR))
    t = 0
    while t < out.size:
        n = int(rng.uniform(0.15, 0.5) * SR)
        f0 = 220 * 2 ** (rng.integers(-5, 12) / 12)
        tt = np.arange(n) / SR
        note = sum(np.sin(2 * np.pi * h * f0 * tt) / h for h in range(1, 5)) * np.exp(-3 * tt)
        out[t:t + n] += note[: out.size - t]
        t += n
    return (0.8 * out / np.abs(out).max()).astype(np.float32)


def _findings(title: str = "Night Bus", creator: str = "Ana Lima") -> dict:
    notes_q = [[0.5 + 0.4 * i, 0.8 + 0.4 * i, 60 + (i * 5) % 12] for i in range(12)]
    notes_r = [[10.0 + 0.5 * i, 10.4 + 0.5 * i, 62 + (i * 5) % 12] for i in range(14)]
    return {
        "engines": [
            {"name": "music", "version": "1", "params_hash": "a" * 16, "check": "recording"},
            {"name": "melody", "version": "1", "params_hash": "b" * 16, "check": "melody"},
            {"name": "voice", "version": "1", "params_hash": "c" * 16, "check": "voice"},
        ],
        "recording": [{
            "work_id": "w1", "title": title, "creator": creator, "score": 41.0, "confidence": 0.99,
            "query_start_s": 1.0, "query_end_s": 5.0, "work_start_s": 3.0, "work_end_s": 7.0,
            "speed": 1.0, "pitch_shift_semitones": 0.0,
            "matched_hashes": [{"hash": 123456 + k, "query_offset_s": 1.0 + 0.1 * k, "work_offset_s": 3.0 + 0.1 * k}
                               for k in range(20)],
        }],
        "melody": [{
            "work_id": "w2", "title": "Second Song", "creator": creator,
            "query_start_s": 0.5, "query_end_s": 4.9, "reference_start_s": 10.0, "reference_end_s": 15.5,
            "n_notes": 12, "n_matched_notes": 10, "score": 9.5, "false_alarm": 0.0004,
            "transposition_semitones": -2, "tempo_ratio": 1.25,
            "query_notes": notes_q, "reference_notes": notes_r, "pairs": [[i, i] for i in range(10)],
        }],
        "voice": [{
            "voice_id": "v1", "creator": creator, "score": 0.81, "threshold": 0.72, "probability": 0.97,
            "is_match": True, "unrelated_scores": list(np.random.default_rng(3).normal(0.3, 0.12, 400)),
        }],
        "terms": {"w1": {"policy": "deny"}, "w2": {"policy": "license", "price": 40, "currency": "EUR"}},
    }


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("evidence-media")
    fingerprint = key_fingerprint(load_or_create_signing_key(root))  # the key the bundles are signed with
    work = _melody(1, 9.0)
    output = np.concatenate([np.zeros(SR, np.float32), work[3 * SR:7 * SR], _melody(2, 2.0)])
    return {
        "root": root,
        "fingerprint": fingerprint,
        "output": _wav(root / "generated_song.wav", output),
        "work": _wav(root / "night_bus.wav", work),
        "voice": _wav(root / "ana_voice.wav", _melody(5, 2.0)),
        "references": [
            {"id": "w1", "path": root / "night_bus.wav", "kind": "work"},
            {"id": "w2", "path": root / "second_song_missing.wav", "kind": "work"},
            {"id": "v1", "path": root / "ana_voice.wav", "kind": "voice"},
        ],
    }


@pytest.fixture(scope="module")
def bundle(media, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evidence-out")
    return write_bundle(out, output_path=media["output"], findings=_findings(), references=media["references"],
                        registry_dir=media["root"], tool_version="0.1.0", now=NOW)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _rezip(src: Path, dst: Path, *, replace: dict | None = None, drop: tuple = (), add: dict | None = None) -> Path:
    members = _members(src)
    members.update(replace or {})
    for name in drop:
        members.pop(name)
    members.update(add or {})
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return dst


# ---------------------------------------------------------------- round trip

def test_round_trip(bundle, media):
    assert bundle.name == "generated_song.evidence.zip"
    result = verify_bundle(bundle, registry_fingerprint=media["fingerprint"])
    assert result.ok, result.failures
    assert result.key_fingerprint == key_fingerprint(load_or_create_signing_key(media["root"]))
    assert "VERIFIED" in format_verify_result(result)

    members = _members(bundle)
    facts = json.loads(members["facts.json"])
    assert canonical_json(facts) == members["facts.json"]
    assert facts["output"]["sha256"] == hashlib.sha256(media["output"].read_bytes()).hexdigest()
    refs = {r["id"]: r for r in facts["references"]}
    assert refs["w1"]["sha256"] == hashlib.sha256(media["work"].read_bytes()).hexdigest()
    assert refs["v1"]["present"] and refs["v1"]["sha256"]
    assert refs["w2"] == {"id": "w2", "kind": "work", "name": "second_song_missing.wav", "present": False,
                          "sha256": None, "size_bytes": None}
    assert [e["params_hash"] for e in facts["engines"]] == ["a" * 16, "b" * 16, "c" * 16]
    assert len(facts["findings"]["recording"][0]["matched_hashes"]) == 20
    assert facts["terms_in_force"]["w2"]["policy"] == "license"
    assert facts["checked_at"] == "2025-03-01T12:30:00Z"
    assert facts["tool"]["version"] == "0.1.0" and facts["format_version"] == 1

    manifest = json.loads(members["manifest.json"])
    assert manifest["key_fingerprint"] == result.key_fingerprint
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256(members[name]).hexdigest()

    html = members["report.html"].decode()
    for section in ('id="summary"', 'id="recordings"', 'id="melodies"', 'id="voices"', 'id="terms"',
                    'id="engines"', 'id="verify"'):
        assert section in html
    assert html.count("data:image/png;base64,") == 2  # output and work spectrograms
    assert html.count("<svg") == 3  # matched hashes, melody alignment and voice distribution
    assert 'src="http' not in html and 'href="http' not in html and "url(http" not in html
    assert "Night Bus" in html and result.key_fingerprint in html

    if find_chromium() is None:
        pytest.skip("Chromium is not installed: the bundle has no PDF (recorded in manifest.json)")
    assert members["report.pdf"].startswith(b"%PDF")
    assert manifest["pdf"]["included"] is True


def test_no_chromium_still_writes_bundle(media, tmp_path):
    path = write_bundle(tmp_path, output_path=media["output"], findings=_findings(), references=media["references"],
                        registry_dir=media["root"], tool_version="0.1.0", now=NOW,
                        chromium=tmp_path / "no-such-chromium")
    members = _members(path)
    assert "report.pdf" not in members
    manifest = json.loads(members["manifest.json"])
    assert manifest["pdf"]["included"] is False and "not installed" in manifest["pdf"]["reason"]
    assert "No PDF in this bundle" in members["report.html"].decode()
    result = verify_bundle(path, registry_fingerprint=media["fingerprint"])
    assert result.ok, result.failures
    assert any(note.startswith("report.pdf: not in the bundle") for note in result.notes)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_as_documented(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as z:
        z.extractall(tmp_path)  # our own bundle, known member names
    for name in ("facts.json", "manifest.json"):
        done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signer.pub", "-rawin",
                               "-in", name, "-sigfile", name + ".sig"], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout, done.stderr
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", "signer.pub", "-outform", "DER"], cwd=tmp_path,
                         capture_output=True, check=True).stdout
    fingerprint = "sha256:" + hashlib.sha256(der).hexdigest()
    assert fingerprint == json.loads((tmp_path / "manifest.json").read_bytes())["key_fingerprint"]


# ---------------------------------------------------------------- tampering

def _flip_one_character(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize("change, expected", [
    (lambda m: {"replace": {"facts.json": _flip_one_character(m["facts.json"], b"deny", b"dena")}},
     ["facts.json: SHA-256 differs from manifest.json", "facts.json.sig: signature does not verify"]),
    (lambda m: {"replace": {"facts.json.sig": Ed25519PrivateKey.generate().sign(m["facts.json"])}},
     ["facts.json.sig: SHA-256 differs from manifest.json", "facts.json.sig: signature does not verify"]),
    (lambda m: {"replace": {"report.html": _flip_one_character(m["report.html"], b"Night Bus", b"Night Bux")}},
     ["report.html: SHA-256 differs from manifest.json"]),
    (lambda m: {"add": {"x.png": b"\x89PNG"}},
     ["x.png: unexpected member, not part of an evidence bundle"]),
    (lambda m: {"drop": ("report.html",)},
     ["manifest.json: lists report.html which is missing"]),
    (lambda m: {"drop": ("manifest.json",)},
     ["manifest.json: missing (every evidence bundle has it)"]),
    (lambda m: {"replace": {"signer.pub": public_key_pem(Ed25519PrivateKey.generate())}},
     ["signer.pub: SHA-256 differs from manifest.json", "facts.json.sig: signature does not verify",
      "manifest.json.sig: signature does not verify"]),
], ids=["facts-edited", "signature-replaced", "report-edited", "extra-member", "member-removed",
        "manifest-removed", "key-swapped"])
def test_tampering_names_the_reason(bundle, media, tmp_path, change, expected):
    tampered = _rezip(bundle, tmp_path / "tampered.evidence.zip", **change(_members(bundle)))
    result = verify_bundle(tampered, registry_fingerprint=media["fingerprint"])
    assert not result.ok
    for reason in expected:
        assert any(line.startswith(reason) for line in result.failures), (reason, result.failures)
    assert all("\n" not in line for line in result.failures)
    assert "FAILED" in format_verify_result(result)


def test_manifest_listing_a_missing_file(bundle, media, tmp_path):
    """A manifest re-signed to list an extra picture that is not in the zip."""
    key = Ed25519PrivateKey.generate()
    members = _members(bundle)
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["report.pdf"] = {"sha256": "0" * 64, "size_bytes": 1}
    members.pop("report.pdf", None)
    manifest["key_fingerprint"] = key_fingerprint(key)
    members["signer.pub"] = public_key_pem(key)
    manifest["files"]["signer.pub"]["sha256"] = hashlib.sha256(members["signer.pub"]).hexdigest()
    members["facts.json.sig"] = key.sign(members["facts.json"])
    manifest["files"]["facts.json.sig"]["sha256"] = hashlib.sha256(members["facts.json.sig"]).hexdigest()
    members["manifest.json"] = canonical_json(manifest)
    members["manifest.json.sig"] = key.sign(members["manifest.json"])
    path = tmp_path / "resigned.evidence.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    result = verify_bundle(path, accept_any_signer=True)
    assert result.failures == ["manifest.json: lists report.pdf which is missing"]
    # Re-signed by another key: consistent in itself, caught by the registry's own (or a published) fingerprint.
    original = verify_bundle(bundle, registry_fingerprint=media["fingerprint"]).key_fingerprint
    for kwargs in ({"registry_fingerprint": media["fingerprint"]}, {"expected_fingerprint": original}):
        result = verify_bundle(path, **kwargs)
        assert any(line.startswith("signer.pub: signed by unknown key") and key_fingerprint(key) in line
                   for line in result.failures), result.failures


# ---------------------------------------------------------------- hostile input

def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


@pytest.mark.parametrize("make, expected", [
    (lambda d, b: _zip_with(d / "a.zip", {"../evil": b"x"}), "../evil: unsafe member path"),
    (lambda d, b: _zip_with(d / "a.zip", {"/tmp/evil": b"x"}), "/tmp/evil: unsafe member path"),
    (lambda d, b: _zip_with(d / "a.zip", {"report.html": bytes(30 << 20)}), "report.html: compression ratio"),
    (lambda d, b: (d / "a.zip").write_text("not a zip at all\n") and d / "a.zip", "not a zip file"),
    (lambda d, b: (d / "a.zip").write_bytes(b"") or d / "a.zip", "empty file"),
    (lambda d, b: (d / "a.zip").write_bytes(b.read_bytes()[: b.stat().st_size // 2]) and d / "a.zip",
     "damaged or truncated zip"),
    (lambda d, b: d / "nothing-here.zip", "cannot be read"),
], ids=["parent-path", "absolute-path", "zip-bomb", "not-a-zip", "empty", "truncated", "missing"])
def test_hostile_input_is_one_line_and_writes_nothing(bundle, media, tmp_path, make, expected):
    work = tmp_path / "inner"
    work.mkdir()
    path = make(work, bundle)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cwd_before = sorted(os.listdir("."))
    result = verify_bundle(path, registry_fingerprint=media["fingerprint"], files_dir=work, rematch=lambda p, f: {})
    assert not result.ok
    assert any(expected in line for line in result.failures), result.failures
    assert all("\n" not in line for line in result.failures)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert sorted(os.listdir(".")) == cwd_before
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil").exists()
    format_verify_result(result)


# ---------------------------------------------------------------- keys

def test_key_created_once_private_and_reused(tmp_path):
    key = load_or_create_signing_key(tmp_path)
    path = tmp_path / "evidence-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    again = load_or_create_signing_key(tmp_path)
    assert key_fingerprint(again) == key_fingerprint(key)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["evidence-key.pem"]  # no temporary left


@pytest.mark.parametrize("content", [b"garbage\n", b"", public_key_pem(Ed25519PrivateKey.generate())],
                         ids=["garbage", "empty", "public-key-only"])
def test_corrupt_key_is_a_clear_error_and_kept(tmp_path, media, content):
    path = tmp_path / "evidence-key.pem"
    path.write_bytes(content)
    with pytest.raises(EvidenceKeyError) as caught:
        load_or_create_signing_key(tmp_path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    with pytest.raises(EvidenceKeyError):
        write_bundle(tmp_path / "out", output_path=media["output"], findings={}, references=[],
                     registry_dir=tmp_path, tool_version="0.1.0", pdf=False)
    assert path.read_bytes() == content
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- rematch

def test_rematch_reproduces(bundle, media):
    result = verify_bundle(bundle, registry_fingerprint=media["fingerprint"], files_dir=media["root"], rematch=lambda path, facts: facts["findings"])
    assert result.ok, result.failures
    assert result.reproduces is True
    assert any(line.startswith("rematch: reproduces (3 of 3 findings") for line in result.passed)
    assert any(line.startswith("output generated_song.wav: SHA-256 matches") for line in result.passed)
    assert any("second_song_missing.wav: not at hand when the bundle was made" in note for note in result.notes)


def test_rematch_with_different_offsets_names_the_finding(bundle, media):
    def rematch(path: Path, facts: dict) -> dict:
        assert path.read_bytes() == media["output"].read_bytes()
        found = copy.deepcopy(facts["findings"])
        found["recording"][0]["query_start_s"] += 5.0
        return found

    result = verify_bundle(bundle, registry_fingerprint=media["fingerprint"], files_dir=media["root"], rematch=rematch)
    assert result.reproduces is False
    assert len(result.failures) == 1
    line = result.failures[0]
    assert line.startswith("rematch: recording finding 1 (work w1, 'Night Bus'): offsets differ")
    assert "query_start_s 1.0 in the bundle, 6.0 now" in line and "tolerance 0.5 s" in line
    assert "do NOT reproduce" in format_verify_result(result)


def test_changed_file_in_files_dir_is_named(bundle, media, tmp_path):
    shutil.copy(media["output"], tmp_path / "generated_song.wav")
    with open(tmp_path / "generated_song.wav", "ab") as f:
        f.write(b"\0")
    result = verify_bundle(bundle, registry_fingerprint=media["fingerprint"], files_dir=tmp_path)
    assert any("generated_song.wav: SHA-256 differs from the output" in line for line in result.failures)


# ---------------------------------------------------------------- untrusted text

def test_untrusted_text_is_escaped(media, tmp_path):
    title = '<script>alert("x")</script>\u202eevil\u2066'
    findings = _findings(title=title, creator='"><img src=x onerror=alert(1)>')
    findings["terms"] = {"w1": {"policy": "<b>deny</b>"}}
    path = write_bundle(tmp_path, output_path=media["output"], findings=findings, references=[],
                        registry_dir=media["root"], tool_version="0.1.0", now=NOW, pdf=False)
    html = _members(path)["report.html"].decode()
    assert "<script" not in html and "<img src=x" not in html and "<b>deny" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\u202e" not in html and "\u2066" not in html and "[U+202E]" in html
    assert "default-src 'none'" in html
    # The facts keep the exact text; only the report neutralises it.
    assert json.loads(_members(path)["facts.json"])["findings"]["recording"][0]["title"] == title
    assert verify_bundle(path, registry_fingerprint=media["fingerprint"]).ok


def test_findings_that_json_cannot_carry_are_refused(media, tmp_path):
    from consentry.domain.errors import InputError

    findings = _findings()
    findings["voice"][0]["score"] = float("nan")
    with pytest.raises(InputError, match=r"findings\.voice\[0\]\.score"):
        write_bundle(tmp_path, output_path=media["output"], findings=findings, references=[],
                     registry_dir=media["root"], tool_version="0.1.0", pdf=False)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- matched hashes

def test_rematch_counts_the_matched_hashes_that_reproduce(bundle, media):
    result = verify_bundle(bundle, registry_fingerprint=media["fingerprint"], files_dir=media["root"], rematch=lambda path, facts: facts["findings"])
    assert "rematch: recording finding 1 (work w1, 'Night Bus'): 20 of 20 matched hashes reproduce" in result.passed

    def rematch(path: Path, facts: dict) -> dict:
        found = copy.deepcopy(facts["findings"])
        for h in found["recording"][0]["matched_hashes"][5:]:
            h["hash"] += 1  # other hashes at the same offsets
        return found

    result = verify_bundle(bundle, registry_fingerprint=media["fingerprint"], files_dir=media["root"], rematch=rematch)
    assert result.reproduces is False
    assert result.failures == ["rematch: recording finding 1 (work w1, 'Night Bus'): only 5 of its 20 matched hashes "
                               "reproduce (at least 50% needed)"]


def test_report_shows_matched_hashes_and_survives_hostile_rows(media, tmp_path):
    findings = _findings()
    rec = findings["recording"][0]
    rec["matched_hashes_total"] = 57
    good = tmp_path / "good"
    html = _members(write_bundle(good, output_path=media["output"], findings=findings, references=[],
                                 registry_dir=media["root"], tool_version="0.1.0", now=NOW, pdf=False))["report.html"].decode()
    assert "57 hash matches on the segment's line; the 20 strongest are listed" in html
    assert html.count("<circle") == 20 and "123456" in html
    rec["matched_hashes"] = [{"hash": "<script>x</script>", "query_offset_s": "1", "work_offset_s": None},
                             {"hash": 1, "query_offset_s": True, "work_offset_s": 2.0}, "not a dict", [1, 2, 3],
                             {"hash": 2, "query_offset_s": 1.5, "work_offset_s": 3.5}]
    rec["matched_hashes_total"] = "lots"
    path = write_bundle(tmp_path / "odd", output_path=media["output"], findings=findings, references=[],
                        registry_dir=media["root"], tool_version="0.1.0", now=NOW, pdf=False)
    html = _members(path)["report.html"].decode()
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert html.count("<circle") == 1  # only the well-formed row is drawn
    assert verify_bundle(path, registry_fingerprint=media["fingerprint"]).ok


def test_rematch_with_another_voice_model_says_it_cannot_rerun_the_voice(bundle, media):
    """A bundle made with one voice model, re-run by a Consentry comparing another: named, not 'not found'."""
    def rematch(path: Path, facts: dict) -> dict:
        found = copy.deepcopy(facts["findings"]) | {"engines": copy.deepcopy(facts["engines"])}
        for e in found["engines"]:
            if e["check"] == "voice":
                e.update(name="voice-campplus", params_hash="d" * 16)
        found["voice"] = []  # prints of the older model are not compared, so the re-run finds no voice
        return found

    result = verify_bundle(bundle, registry_fingerprint=media["fingerprint"], files_dir=media["root"], rematch=rematch)
    assert result.reproduces is False and len(result.failures) == 1
    line = result.failures[0]
    assert line.startswith("rematch: voice finding 1 (voice v1") and "made with the voice model voice/1/" in line
    assert f"compares voice-campplus/1/{'d' * 16}, so it cannot re-run it" in line


def test_voice_picture_names_the_statistic_it_draws():
    """A cohort finding's picture is drawn and labelled on the cohort scale, a best-window one as similarity."""
    from consentry.services.evidence.pictures import voice_distribution_svg

    raw = str(voice_distribution_svg(0.71, unrelated_scores=[0.1, 0.2, 0.35], threshold=0.59))
    assert "cosine similarity to the enrolled voice" in raw and "cohort" not in raw
    assert "output 0.710" in raw and "threshold 0.59" in raw
    cohort = str(voice_distribution_svg(5.2, unrelated_scores=[-1.1, 0.3, 1.4, 2.2], threshold=3.3334,
                                        statistic="cohort"))
    assert "cohort score (standard deviations above the mean" in cohort and "cosine" not in cohort
    assert 'aria-label="Cohort score of unrelated voices (4 scores) and of the output (5.200)"' in cohort
    # The axis spans the cohort scores in whole-number ticks, the output's 5.2 included.
    ticks = [float(t) for t in re.findall(r'text-anchor="middle">(-?\d+\.\d)</text>', cohort)]
    assert ticks == [float(t) for t in range(-2, 6)]


def test_voice_rerun_differences_say_when_the_cohort_changed():
    """A cohort score depends on the creators enrolled: a re-run's difference says so and gives the similarity."""
    from consentry.services.evidence.verify import compare_findings

    claim = {"voice_id": "v1", "creator": "A", "score": 4.1, "statistic": "cohort", "similarity": 0.62,
             "is_match": True, "creators_compared": 12}
    same = dict(claim, score=4.12)
    assert compare_findings({"voice": [claim]}, {"voice": [same]}) == (1, [])
    total, lines = compare_findings({"voice": [claim]}, {"voice": [dict(claim, score=3.5, creators_compared=30)]})
    assert total == 1 and len(lines) == 1
    assert "cohort score 4.1 in the bundle, 3.5 now (tolerance 0.05)" in lines[0]
    assert "depends on the other creators enrolled: 12 in the bundle, 30 now" in lines[0]
    assert "similarity: 0.62 in the bundle, 0.62 now" in lines[0]
    raw = dict(claim, statistic="best_window", score=0.62, is_match=False, creators_compared=4)
    _, lines = compare_findings({"voice": [claim]}, {"voice": [raw]})
    assert "decision differs (match in the bundle, no match now)" in lines[0]
    assert "as a cohort score against 12 creators in the bundle and as a similarity against 4 now" in lines[0]
    # The cohort statistic was withdrawn: the re-run says the check changed, not the registry.
    assert "the check no longer scores voices by cohort (withdrawn on 2026-12-07" in lines[0]
    assert "enrolled voices changed" not in lines[0]
    assert "similarity: 0.62 in the bundle, 0.62 now" in lines[0]
    # A best-window finding that moved says "similarity" and adds no cohort note.
    _, lines = compare_findings({"voice": [raw]}, {"voice": [dict(raw, score=0.5)]})
    assert lines == [lines[0]] and "similarity 0.62 in the bundle, 0.5 now (tolerance 0.05)" in lines[0]
    assert "creators" not in lines[0]
