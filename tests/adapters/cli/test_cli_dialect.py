"""The command line speaks one dialect (issue 22): --json prints, --json-out PATH writes, --fail-on WHAT, the old
forms kept as deprecated aliases; standard output holds only the data asked for; empty results explain themselves;
identify's table fits 80 columns with one row per work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import notes, write_wav
from test_cli import cli

from consentry.adapters.cli.main import legacy_json_path

SR = 22050


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("dialect")
    cat = root / "catalogue"
    cat.mkdir()
    song = notes(811, duration_s=25.0, sr=SR)
    write_wav(cat / "Harbour Lights.wav", song, sample_rate_hz=SR)
    reg = root / "r.db"
    r = cli("register", str(cat), "--creator", "Ana Lima", "--no-melody", registry=reg)
    assert r.returncode == 0, r.stderr
    # a query that holds the same 10 s of the work twice, with other music between
    other = notes(812, duration_s=6.0, sr=SR)
    q = write_wav(root / "twice.wav", np.concatenate([song[3 * SR:13 * SR], other, song[3 * SR:13 * SR]]),
                  sample_rate_hz=SR)
    data = root / "data"
    data.mkdir()
    write_wav(data / "clip.wav", song[3 * SR:13 * SR], sample_rate_hz=SR)
    (data / "checksums.md5sum").write_bytes(b"\x00\x01 not a medium")
    (data / "model.ckpt").write_bytes(b"\x80\x02 not a medium either")
    return root, reg, q, data


@pytest.mark.parametrize("argv, expected", [
    (["scan", "d", "--json", "out.json"], ["scan", "d", "--json-out", "out.json"]),
    (["--registry", "r.db", "check", "a.wav", "--json", "-"], ["--registry", "r.db", "check", "a.wav", "--json-out", "-"]),
    (["scans", "show", "s-1", "--json=x.json"], ["scans", "show", "s-1", "--json-out=x.json"]),
    (["scan", "d", "--json"], ["scan", "d", "--json"]),                      # the new flag
    (["scan", "d", "--json", "--csv", "x.csv"], ["scan", "d", "--json", "--csv", "x.csv"]),
    (["identify", "q.wav", "--json", "out.json"], ["identify", "q.wav", "--json", "out.json"]),  # never took a path
])
def test_the_old_json_path_form_is_read_as_json_out(argv, expected):
    assert legacy_json_path(argv) == expected


def test_an_existing_input_after_json_is_an_argument(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("{}\n")
    assert legacy_json_path(["scan", "--json", str(data)]) == ["scan", "--json-out", str(data)]  # a .jsonl suffix
    folder = tmp_path / "set"
    folder.mkdir()
    assert legacy_json_path(["scan", "--json", str(folder)]) == ["scan", "--json", str(folder)]


def test_identify_groups_segments_fits_80_columns_and_fails_on_match(setup, tmp_path):
    root, reg, q, _ = setup
    out = tmp_path / "q.jsonl"
    r = cli("identify", str(q), "--json", "--json-out", str(out), registry=reg)
    assert r.returncode == 0
    printed = [json.loads(line) for line in r.stdout.splitlines()]
    assert printed == [json.loads(line) for line in out.read_text().splitlines()]
    n = len(printed[0]["matches"])  # one per segment found
    assert n >= 1
    r = cli("identify", str(q), "--fail-on", "match", registry=reg, env_extra={"COLUMNS": "80"})
    assert r.returncode == 2, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, r.stdout
    assert sum("Harbour Lights" in line for line in lines) == 1  # one row for the work
    assert len([line for line in lines if " = 0:" in line]) == n, r.stdout  # a line per segment
    assert "certain" in r.stdout and "score" not in r.stdout
    # the old flag still works, and says what to write instead
    r = cli("identify", str(q), "--fail-on-match", registry=reg)
    assert r.returncode == 2 and "--fail-on-match is deprecated; write --fail-on match" in r.stderr
    r = cli("identify", str(q), "--fail-on", "refused", registry=reg)
    assert r.returncode == 1 and "--fail-on 'refused': choose match" in r.stderr


def test_identify_table_puts_repeated_sections_of_a_work_in_one_row(capsys):
    from types import SimpleNamespace

    from consentry.adapters.cli import main as cli_main

    def m(q0, w0, conf):
        d = {"work_id": "abcdef0123", "title": "Morning Tide", "creator": "Mara Quinn", "terms": "deny",
             "score": 20.0, "confidence": conf, "query_start_s": q0, "query_end_s": q0 + 7.8, "work_start_s": w0,
             "work_end_s": w0 + 7.8, "speed": 1.0, "pitch_shift_semitones": 0.0}
        return SimpleNamespace(as_dict=lambda: d)

    result = SimpleNamespace(query="mix.wav", error=None, medium="music",
                             matches=[m(28.0, 5.0, 0.9999), m(0.0, 5.0, 0.9996)])
    width = cli_main.console.width
    cli_main.console.width = 80
    try:
        cli_main._print_result(result)
    finally:
        cli_main.console.width = width
    out = capsys.readouterr().out
    assert out.count("Morning Tide") == 1 and "0:00.0-0:07.8 = 0:05.0-0:12.8" in out
    assert out.index("0:00.0-0:07.8") < out.index("0:28.0-0:35.8") and "certain" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_scan_stdout_holds_only_the_requested_data_and_counts_what_it_skipped(setup, tmp_path):
    root, reg, _, data = setup
    r = cli("scan", str(data), "--csv", "-", "--resume", registry=reg)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("seq,item_id,") and len(r.stdout.splitlines()) == 2, r.stdout
    assert "nothing to resume: no unfinished scan of" in r.stderr
    assert "skipped 2 files that are not media" in r.stderr and "(complete)" in r.stderr  # the table: stderr
    r = cli("scan", str(data), "--json", registry=reg)
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["scan"]["totals"]["items"] == 1
    assert sum(report["scan"]["skipped"].values()) == 2
    r = cli("scan", str(data), "--json", str(tmp_path / "old.json"), registry=reg)  # the deprecated form
    assert r.returncode == 0 and "deprecated; write --json-out PATH" in r.stderr
    assert json.loads((tmp_path / "old.json").read_text())["scan"]["totals"]["items"] == 1
    r = cli("scan", str(data), "--json", "--csv", "-", registry=reg)
    assert r.returncode == 1 and "only one report can go to standard output" in r.stderr


def test_register_of_a_folder_without_audio_says_so(tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "checksums.md5sum").write_bytes(b"\x00\x01")
    (folder / "model.ckpt").write_bytes(b"\x80\x02")
    r = cli("register", str(folder), "--no-melody", registry=tmp_path / "r.db")
    assert r.returncode == 1
    assert "nothing registered: no file to register in" in r.stderr
    assert "skipped 2 other files (checksums.md5sum, model.ckpt)" in r.stderr


def test_python_register_expands_the_home_folder(tmp_path, monkeypatch):
    from consentry import Registry

    home = tmp_path / "home"
    (home / "catalogue").mkdir(parents=True)
    write_wav(home / "catalogue" / "a.wav", notes(813, duration_s=12.0, sr=SR), sample_rate_hz=SR)
    monkeypatch.setenv("HOME", str(home))
    with Registry.open(tmp_path / "r.db") as reg:
        summary = reg.register(["~/catalogue"], creator="Ana Lima", terms="deny", workers=1, melody=False)
    assert len(summary.registered) == 1


def test_help_texts_say_what_the_commands_are(setup):
    assert "list, show, remove, set dates, store melodies" in cli("works", "--help").stdout
    assert "Enroll and list voices" in cli("voices", "--help").stdout
    assert "/app" in cli("serve", "--help").stdout
    out = cli("--help").stdout
    assert "--json-out" in out and "--fail-on" in out


def test_serve_says_where_the_web_app_is_and_how_to_make_the_first_admin(tmp_path, capsys):
    from consentry.adapters.api import ServerSettings
    from consentry.adapters.cli import main as cli_main
    from consentry.adapters.cli.server import _say_where

    cli_main.state.registry_path = str(tmp_path / "new.db")
    try:
        _say_where(ServerSettings(registry=str(tmp_path / "new.db"), data_dir=tmp_path / "data",
                                  public_url="http://127.0.0.1:8123"), host="127.0.0.1", port=8123)
    finally:
        cli_main.state.registry_path = "consentry.db"
    err = capsys.readouterr().err
    assert "Consentry web app: http://127.0.0.1:8123/app" in err
    assert "No admin account yet" in err and "accounts create --email" in err and "--role admin" in err


def test_register_names_what_it_registered_by_medium(tmp_path):
    """Texts are not counted as "0.00 h of audio": each medium is named with its own count."""
    write_wav(tmp_path / "song.wav", notes(813, duration_s=12.0, sr=SR), sample_rate_hz=SR)
    words = "harbour lantern quietly archive measure ledger orchard weaving signal copper meadow distant".split()
    (tmp_path / "essay.txt").write_text(" ".join(words[i * 7 % len(words)] for i in range(400)))
    r = cli("register", str(tmp_path / "song.wav"), str(tmp_path / "essay.txt"), "--creator", "Ana Lima",
            "--no-melody", registry=tmp_path / "r.db")
    assert r.returncode == 0, r.stderr
    chars = len((tmp_path / "essay.txt").read_text())
    assert f"registered 2 work(s) (1 recording, 0.00 h of audio; 1 text, {chars:,} characters)" in r.stdout \
        or f"registered 2 work(s) (1 text, {chars:,} characters; 1 recording, 0.00 h of audio)" in r.stdout, r.stdout
    scan = cli("scan", str(tmp_path), "--report", str(tmp_path / "report.html"), registry=tmp_path / "r.db")
    assert f"1 recording, 0.00 h of audio; 1 text, {chars:,} characters" in scan.stdout + scan.stderr
    assert f"(read: 1 recording, 0.00 h of audio; 1 text, {chars:,} characters)" in (tmp_path / "report.html").read_text()
    again = cli("register", str(tmp_path / "essay.txt"), "--creator", "Ana Lima", registry=tmp_path / "r.db")
    assert "registered 0 work(s) in" in again.stdout and "1 already registered" in again.stdout
    # stats and works list give each medium its own measure (a text is not 0.00 h of audio nor "57:12" long)
    stats = json.loads(cli("stats", "--json", registry=tmp_path / "r.db").stdout)
    assert stats["media"]["text"] == {"works": 1, "size": chars, "unit": "char"}
    assert stats["media"]["music"]["works"] == 1 and abs(stats["hours"] - 12.0 / 3600) < 1e-3
    assert stats["works_needing_reindex"] == 0   # a text work is not a music work on an old engine
    table = cli("stats", registry=tmp_path / "r.db").stdout
    assert f"1 ({chars:,} characters)" in table
    listing = cli("works", "list", registry=tmp_path / "r.db").stdout
    assert f"{chars:,} characters" in listing and "0:12" in listing
