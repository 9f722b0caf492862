"""The web app in a real browser: tests/e2e/web_flow.mjs (playwright-core driving Debian's chromium) against a
real server (uvicorn on 127.0.0.1, a fresh registry and data folder).  Screenshots go to tests/e2e/artifacts/.

Skipped with the reason when node, chromium or tests/e2e/node_modules are missing -- unless
CONSENTRY_REQUIRE_BROWSER=1 (CI), when that is a failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import write_wav
from serverkit import FAST_AUTH, LiveServer, server_settings

from consentry import Registry
from consentry.services.accounts import create_account
from consentry.testing.synth import synthesise_piece

E2E = Path(__file__).parents[2] / "e2e"
SR = 22050
CHROMIUM = os.environ.get("CONSENTRY_CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"chromium is not at {CHROMIUM} (apt-get install chromium)"
    if not (E2E / "node_modules" / "playwright-core").is_dir():
        return "tests/e2e/node_modules is missing (npm ci --prefix tests/e2e)"
    return None


@pytest.fixture(scope="module")
def browser_ready():
    why = _missing()
    if why:
        if os.environ.get("CONSENTRY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required (CONSENTRY_REQUIRE_BROWSER=1) but {why}")
        pytest.skip(why)


def test_creator_licensee_and_claim_in_a_browser(browser_ready, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    songs = []
    for seed, title in ((11, "Harbour Lights"), (12, "Paper Kites")):
        songs.append(write_wav(media / f"{title}.wav", synthesise_piece(seed, duration_s=20.0, sample_rate_hz=SR),
                               sample_rate_hz=SR))
    # the dataset: an excerpt of the first work and an unrelated piece
    excerpt = synthesise_piece(11, duration_s=20.0, sample_rate_hz=SR)[4 * SR: 16 * SR]
    other = synthesise_piece(99, duration_s=10.0, sample_rate_hz=SR)
    dataset = media / "training-set.zip"
    with zipfile.ZipFile(dataset, "w") as z:
        z.write(write_wav(media / "clip-0001.wav", excerpt, sample_rate_hz=SR), "audio/clip-0001.wav")
        z.write(write_wav(media / "clip-0002.wav", other, sample_rate_hz=SR), "audio/clip-0002.wav")

    # a file that passes the upload's sniffing and cannot be decoded: its job fails, and the summary counts it
    broken = media / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40)

    registry = tmp_path / "reg.db"
    with Registry.open(registry) as reg:
        create_account(reg.store, email="admin.e2e@example.org", password="admin password 123", role="admin",
                       auth=FAST_AUTH)
    artifacts = E2E / "artifacts"
    shutil.rmtree(artifacts / "screenshots", ignore_errors=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    scenario = {"works": [str(p) for p in songs], "broken_work": str(broken), "dataset": str(dataset),
                "work_a_title": "Harbour Lights",
                "creator_a": "Ana Lima", "creator_b": "Copy Cat", "admin_email": "admin.e2e@example.org",
                "admin_password": "admin password 123", "chromium": CHROMIUM}
    (artifacts / "scenario.json").write_text(json.dumps(scenario, indent=2))

    with LiveServer(server_settings(tmp_path, registry)) as server:
        proc = subprocess.run(["node", str(E2E / "web_flow.mjs"), server.url, str(artifacts)], capture_output=True,
                              text=True, timeout=600, cwd=E2E)
    out = proc.stdout + proc.stderr
    (artifacts / "web_flow.log").write_text(out)
    assert proc.returncode == 0, out[-4000:]
    assert "E2E OK" in proc.stdout, out[-4000:]
    assert "PROBLEM" not in proc.stdout
    shots = sorted((artifacts / "screenshots").glob("*.png"))
    assert len([s for s in shots if s.name.endswith("-phone.png")]) >= 10, [s.name for s in shots]
    assert all(s.stat().st_size > 5000 for s in shots)
    # what the browser did is in the registry: two works of Ana, the copy retired by the admin's decision
    with Registry.open(registry) as reg:
        works = reg.works(include_removed=True)
        assert sorted((w.creator, w.removed_at is None) for w in works) == [("Ana Lima", True), ("Ana Lima", True),
                                                                            ("Copy Cat", False)]
        claims = reg.store.list_claims()
        assert [(c.kind, c.state) for c in claims] == [("ownership", "resolved_a")]


def test_the_app_as_people_meet_it_in_a_browser(browser_ready, tmp_path):
    """tests/e2e/people_flow.mjs (issue 22): front door, 404, limits and refusals before sending, duplicates,
    refusals in the progress bar, local dates, field names on phones, a scan's findings with timelines."""
    media = tmp_path / "media"
    media.mkdir()
    works = [write_wav(media / f"{title}.wav", synthesise_piece(seed, duration_s=20.0, sample_rate_hz=SR),
                       sample_rate_hz=SR) for seed, title in ((31, "Morning Tide"), (32, "Paper Kites"))]
    big = media / "long take.wav"
    big.write_bytes(b"RIFF\xff\xff\xff\x00WAVEfmt " + b"\x00" * (3 * 1024 * 1024))
    not_audio = media / "lyrics.wav"
    not_audio.write_text("these are the words, not the sound\n" * 20)
    excerpt = synthesise_piece(31, duration_s=20.0, sample_rate_hz=SR)[3 * SR: 15 * SR]
    dataset = media / "training set.zip"
    with zipfile.ZipFile(dataset, "w") as z:
        z.write(write_wav(media / "clip.wav", excerpt, sample_rate_hz=SR), "audio/clip.wav")
    registry = tmp_path / "reg.db"
    artifacts = E2E / "artifacts"
    shutil.rmtree(artifacts / "people", ignore_errors=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "people.json").write_text(json.dumps({
        "works": [str(p) for p in works], "big": str(big), "not_audio": str(not_audio), "dataset": str(dataset),
        "chromium": CHROMIUM}, indent=2))
    with LiveServer(server_settings(tmp_path, registry, max_audio_bytes=2 * 1024 * 1024)) as server:
        proc = subprocess.run(["node", str(E2E / "people_flow.mjs"), server.url, str(artifacts)], capture_output=True,
                              text=True, timeout=600, cwd=E2E)
    out = proc.stdout + proc.stderr
    (artifacts / "people_flow.log").write_text(out)
    assert proc.returncode == 0 and "PEOPLE OK" in proc.stdout, out[-4000:]
    shots = sorted((artifacts / "people").glob("*.png"))
    assert {s.name.rsplit("-", 1)[1] for s in shots} == {"1280.png", "375.png"} and len(shots) >= 12
    with Registry.open(registry) as reg:  # the duplicate and the refused files changed nothing
        assert sorted(w.title for w in reg.works()) == ["Morning Tide", "Paper Kites"]
