"""Publish, serve, embed and verify end to end: the registry's terms go out in every form and come back
with the same verdicts — over real HTTP on 127.0.0.1 with the generated headers, from the folder, and
from signed files; and a scan reports what the files say next to what the registry says."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import notes, write_wav

from consentry import Registry
from consentry.domain.usage import UseTerms
from consentry.services.scan import scan_dataset, scan_items

pytest.importorskip("cryptography")
from test_embed import pki  # noqa: E402,F401  (the throw-away CA and signers)

SR = 22050


def run(*args: str, registry: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), *args],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    signals = {name: notes(seed, duration_s=24.0, sr=SR) for name, seed in (("denied", 11), ("licensed", 12), ("allowed", 14))}
    reg_path = root / "r.db"
    with Registry.open(reg_path) as reg:
        for name, terms, price in (("denied", "deny", None), ("licensed", "license", 30.0), ("allowed", "allow", None)):
            reg.register([write_wav(root / f"{name}.wav", signals[name], sample_rate_hz=SR)], creator="Ana Lima",
                         terms=terms, price=price, currency="EUR" if price else None, workers=1)
        ids = {w.title: w.work_id for w in reg.works()}
        # Per-use terms: the allowed work still refuses voice cloning; search stays open everywhere.
        reg.set_work_terms(ids["allowed"], {"voice_likeness": UseTerms("deny"), "tdm": UseTerms("allow")})
        expected = {wid: reg.effective_terms(wid)[0] for wid in ids.values()}
    return root, reg_path, signals, ids, expected


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a published folder with the headers of its headers.json, as nginx/Apache/Caddy would."""

    headers_map: list = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def end_headers(self) -> None:
        path = self.path.split("?", 1)[0]
        for rule in self.headers_map:
            if fnmatch.fnmatchcase(path, rule["path"]) or path.startswith(rule["path"].rstrip("*")):
                for k, v in rule["headers"].items():
                    self.send_header(k, v)
        super().end_headers()


@pytest.fixture(scope="module")
def published(catalogue):
    root, reg_path, _, ids, _ = catalogue
    site = root / "site"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), None)
    base = f"http://127.0.0.1:{server.server_port}"
    r = run("publish", "--out", str(site), "--base-url", base, registry=reg_path)
    assert r.returncode == 0, r.stderr
    for wid in ids.values():          # where the creator serves the media
        (site / "works" / wid).mkdir(parents=True, exist_ok=True)
        (site / "works" / wid / "song.mp3").write_bytes(b"ID3")
    handler = type("H", (_SiteHandler,), {"headers_map": json.loads((site / "headers.json").read_text())})
    server.RequestHandlerClass = lambda *a, **k: handler(*a, directory=str(site), **k)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, base
    server.shutdown()
    server.server_close()


def test_published_site_has_every_form(published, catalogue):
    site, base = published
    _, _, _, ids, _ = catalogue
    for name in ("robots.txt", "ai.txt", ".well-known/tdmrep.json", "rsl.xml", "headers.json", "terms/index.html",
                 "server/nginx.conf", "server/apache.htaccess", "server/Caddyfile"):
        assert (site / name).is_file(), name
    for wid in ids.values():
        assert (site / "terms" / "works" / f"{wid}.html").is_file() and (site / "terms" / "works" / f"{wid}.json").is_file()
    robots = (site / "robots.txt").read_text()
    assert "GPTBot" in robots and f"/works/{ids['denied']}/" in robots


@pytest.mark.parametrize("how", ["http", "folder"])
def test_verify_reads_back_the_registry_terms(published, catalogue, how):
    site, base = published
    _, reg_path, _, ids, expected = catalogue
    for title, wid in ids.items():
        target = f"{base}/works/{wid}/song.mp3" if how == "http" else str(site)
        extra = [] if how == "http" else ["--path", f"/works/{wid}/song.mp3"]
        r = run("verify", target, *extra, "--json", registry=reg_path)
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        got = {use: v["decision"] for use, v in report["verdicts"].items()}
        want = {use: t.decision for use, t in expected[wid].uses.items()}
        for use in ("ai_training", "tdm"):
            assert got[use] == want[use], (how, title, use, report["verdicts"][use])
        assert got["ai_generative"] in (want["ai_generative"], "unspecified"), (how, title)
        assert not report["contradictions"], (how, title, report["contradictions"])


def test_verify_reports_a_contradiction_planted_in_robots_txt(published, catalogue, tmp_path):
    site, _ = published
    _, reg_path, _, ids, _ = catalogue
    bad = tmp_path / "site"
    shutil.copytree(site, bad)
    # Someone opens the denied work to GPTBot by hand; TDMRep still reserves it.
    robots = (bad / "robots.txt").read_text().replace(f"Disallow: /works/{ids['denied']}/", f"Allow: /works/{ids['denied']}/")
    (bad / "robots.txt").write_text(robots)
    r = run("verify", str(bad), "--path", f"/works/{ids['denied']}/song.mp3", "--json", registry=reg_path)
    report = json.loads(r.stdout)
    assert report["verdicts"]["ai_training"]["decision"] == "deny"
    assert report["contradictions"], "the hand-made robots.txt change must show as a contradiction"
    r = run("verify", str(bad), "--path", f"/works/{ids['denied']}/song.mp3", "--fail-on-contradiction", registry=reg_path)
    assert r.returncode == 2


def test_embed_signed_then_verify_and_scan(catalogue, pki, tmp_path):  # noqa: F811
    root, reg_path, signals, ids, expected = catalogue
    data = tmp_path / "data"
    data.mkdir()
    write_wav(data / "denied_clip.wav", signals["denied"][8 * SR:16 * SR], sample_rate_hz=SR)
    write_wav(data / "mislabelled.wav", signals["denied"][8 * SR:16 * SR] * 0.9, sample_rate_hz=SR)
    signer = pki["ana"]
    r = run("embed", str(data / "denied_clip.wav"), "--base-url", "https://music.example.org", "--cert", str(signer.cert_chain_pem),
            "--key", str(signer.private_key_pem), "--json", registry=reg_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["work_id"] == ids["denied"] and "c2pa" in out["written"]
    # A file carrying the allowed work's terms although it holds the denied work (a mislabelled dataset item).
    r = run("embed", str(data / "mislabelled.wav"), "--work", ids["allowed"], "--base-url", "https://music.example.org",
            registry=reg_path)
    assert r.returncode == 0, r.stderr

    r = run("verify", str(data / "denied_clip.wav"), "--json", registry=reg_path)
    report = json.loads(r.stdout)
    assert report["verdicts"]["ai_training"]["decision"] == "deny"
    formats = {s["format"] for s in report["signals"]}
    assert "c2pa" in formats

    with Registry.open(reg_path) as reg:
        summary = scan_dataset(reg, data, workers=1)
        items = {it["item_id"]: it for it in scan_items(reg, summary["scan_id"])}
    assert items["denied_clip.wav"]["decision"] == "refused"
    assert items["denied_clip.wav"]["signals"]["verdicts"]["ai_training"] == "deny"
    assert items["mislabelled.wav"]["decision"] == "refused"
    assert items["mislabelled.wav"]["signals"]["verdicts"]["ai_training"] == "allow"
    assert summary["signals"]["items_with_embedded"] == 2
    assert summary["signals"]["disagreements"] == 1
    assert summary["signals"]["examples"][0]["item_id"] == "mislabelled.wav"


def test_scan_counts_items_declared_ai_generated(catalogue, pki, tmp_path):  # noqa: F811
    """A file an AI tool signed (C2PA c2pa.created, trainedAlgorithmicMedia) and one plain file: the scan
    summary counts one item declared AI-generated, and `consentry verify` says so for the file."""
    from test_embed import CREATED_BY_AI, sign_raw

    root, reg_path, signals, ids, expected = catalogue
    data = tmp_path / "data"
    data.mkdir()
    write_wav(data / "ai_song.wav", signals["allowed"][:8 * SR] * 0.8, sample_rate_hz=SR)
    write_wav(data / "plain.wav", signals["licensed"][:8 * SR] * 0.8, sample_rate_hz=SR)
    sign_raw(data / "ai_song.wav", pki["other"], [CREATED_BY_AI], mime="audio/wav")

    r = run("verify", str(data / "ai_song.wav"), "--json", registry=reg_path)
    report = json.loads(r.stdout)
    assert report["declared_ai_generated"] is True
    assert report["ai_generated"][0]["source_type"] == "trainedAlgorithmicMedia"

    with Registry.open(reg_path) as reg:
        summary = scan_dataset(reg, data, workers=1)
        items = {it["item_id"]: it for it in scan_items(reg, summary["scan_id"])}
    assert summary["signals"]["items_declared_ai_generated"] == 1
    assert summary["signals"]["ai_generated_examples"][0]["item_id"] == "ai_song.wav"
    assert items["ai_song.wav"]["signals"]["ai_generated"][0]["source_type"] == "trainedAlgorithmicMedia"
    assert not (items["plain.wav"].get("signals") or {}).get("ai_generated")
    r = run("scan", str(data), "--workers", "1", registry=reg_path)
    assert r.returncode == 0, r.stderr
    assert "declared AI-generated" in r.stdout and "1 item(s) declare themselves made by generative AI" in r.stdout


def test_publish_refuses_a_bad_base_url(catalogue, tmp_path):
    _, reg_path, _, _, _ = catalogue
    r = run("publish", "--out", str(tmp_path / "s"), "--base-url", "ftp://example.org", registry=reg_path)
    assert r.returncode == 1 and "base" in r.stderr.lower() and "Traceback" not in r.stderr
    assert not (tmp_path / "s").exists()
