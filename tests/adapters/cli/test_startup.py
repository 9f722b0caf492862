"""Start-up stays light: heavy libraries load where a command first needs them (issue 16).

``consentry --help`` should take half a second; it does when loading the CLI
loads none of the libraries below.  Timing is not asserted (the machine may be
shared); what is loaded is, so a top-level import that drags one of them back
in fails here.  Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import notes, write_wav

#: Libraries that cost tens to hundreds of milliseconds to import, and that no part of start-up needs.
HEAVY = ("numpy", "scipy", "av", "soxr", "psycopg", "onnxruntime", "fastapi", "starlette", "uvicorn", "jinja2",
         "pyarrow", "PIL", "cryptography", "argon2", "mutagen", "c2pa", "iscc_core", "yaml", "httpx", "threadpoolctl",
         "pydantic")  # pydantic: typer 0.29 loads it for every command (pyproject.toml keeps typer below it)


def _loaded_after(code: str) -> list[str]:
    """The :data:`HEAVY` libraries in ``sys.modules`` after ``code`` ran in a fresh interpreter."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import consentry.adapters.cli.main") == []


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["works", "--help"], ["scan", "--help"]])
def test_help_and_version_load_no_heavy_library(args):
    code = ("import contextlib, io, sys\n"
            f"sys.argv = ['consentry', *{args!r}]\n"
            "from consentry.adapters.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            "        main()\n"
            "    except SystemExit as exc:\n"
            "        assert exc.code in (0, None), exc.code\n")
    assert _loaded_after(code) == []


def test_the_package_loads_nothing_heavy():
    assert _loaded_after("import consentry, consentry.domain.errors, consentry.store") == []


def test_an_sqlite_registry_never_loads_the_postgresql_driver(tmp_path):
    code = (f"from consentry.services.registry import Registry\n"
            f"Registry.open({str(tmp_path / 'r.db')!r}).close()\n")
    assert "psycopg" not in _loaded_after(code)


def test_identify_loads_only_the_audio_stack(tmp_path):
    """A one-shot identify needs NumPy (the fingerprint) and PyAV (decoding), and nothing else heavy.

    SciPy is not imported: the music engine loads SciPy's FFT extension alone (engines/music/arith.py).
    """
    from consentry.services.registry import Registry

    song = write_wav(tmp_path / "song.wav", notes(5, duration_s=12.0), sample_rate_hz=22050)
    registry = tmp_path / "r.db"
    with Registry.open(registry) as reg:
        reg.register([str(song)], melody=False)
    code = ("import contextlib, io, sys\n"
            f"sys.argv = ['consentry', '--registry', {str(registry)!r}, 'identify', {str(song)!r}, '--json']\n"
            "from consentry.adapters.cli.main import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    try:\n"
            "        main()\n"
            "    except SystemExit as exc:\n"
            "        assert exc.code in (0, None), exc.code\n"
            "assert '\"title\": \"song\"' in out.getvalue(), out.getvalue()\n")
    loaded = _loaded_after(code)
    assert set(loaded) <= {"numpy", "av"}, loaded
